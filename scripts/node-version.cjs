// The Node version check of `npm start` (scripts/prestart-check.cjs), kept apart so that a test can try versions
// other than the one it runs on.

/**
 * What is wrong with running on Node `version` (process.versions.node, e.g. "20.20.2") when package.json asks for
 * `engines` (">=MAJOR.MINOR", the one form the project uses): null when it is recent enough, else the line to print.
 */
function nodeVersionProblem(version, engines) {
  const wanted = /^>=(\d+)\.(\d+)$/.exec(engines);
  if (!wanted) throw new Error(`package.json engines.node must read ">=MAJOR.MINOR" (got ${JSON.stringify(engines)})`);
  const [major, minor] = version.split('.').map(Number);
  const [wantMajor, wantMinor] = [Number(wanted[1]), Number(wanted[2])];
  if (major > wantMajor || (major === wantMajor && minor >= wantMinor)) return null;
  return (
    `csp-desk runs on Node.js ${wantMajor}.${wantMinor} or later (${wantMajor} LTS); this is Node v${version}. ` +
    `Run \`npm install\` with its optional dependencies and install scripts (it brings Node ${wantMajor} for the npm scripts where npm has a build for this platform), or install Node ${wantMajor}, then \`npm start\` again.`
  );
}

module.exports = { nodeVersionProblem };
