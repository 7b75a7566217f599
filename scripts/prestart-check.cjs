// `npm start`'s first step, before the build: refuses a Node older than the one the project runs on (package.json
// "engines"; `npm install` brings it first on the npm scripts' PATH, from the optional `node` dependency), and a second
// start while a stack runs from this folder (with this DATA_DIR or another), since the build replaces dist/, the code
// the running stack restarts its processes from. It uses the previous build's own lock code (dist/stack); with no
// build yet there is no running stack to protect.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const tooOld = require('./node-version.cjs').nodeVersionProblem(process.versions.node, require(path.join(root, 'package.json')).engines.node);
if (tooOld) {
  console.error(`[stack] ${tooOld}`);
  process.exit(1);
}
const dist = path.join(root, 'dist', 'stack');
if (fs.existsSync(path.join(dist, 'lock.js')) && fs.existsSync(path.join(dist, 'paths.js')) && fs.existsSync(path.join(dist, 'env.js'))) {
  const { assertNotRunning, assertCheckoutIdle } = require(path.join(dist, 'lock.js'));
  const { defaultDataDir } = require(path.join(dist, 'paths.js'));
  const { applyDefaults, readDotEnv } = require(path.join(dist, 'env.js'));
  if (typeof assertNotRunning === 'function') {
    const env = { ...process.env };
    applyDefaults(env, readDotEnv(path.join(root, '.env')));
    try {
      const lockFile = path.join(defaultDataDir(env), 'stack.lock');
      assertNotRunning(lockFile);
      // (a build from before this check had none)
      if (typeof assertCheckoutIdle === 'function') assertCheckoutIdle(path.join(root, '.local', 'stacks'), lockFile);
    } catch (e) {
      console.error(`[stack] ${e.message}`);
      process.exit(1);
    }
  }
}
// the build that follows prints nothing while it runs
console.error('[stack] building the TypeScript (npm run build, about 30 s), then checking the servers (npm run setup)...');
