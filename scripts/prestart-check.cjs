// `npm start`'s first step, before the build: refuses a second start while a stack runs from this folder's DATA_DIR,
// since the build replaces dist/, the code the running stack restarts its processes from. It uses the previous
// build's own lock code (dist/stack); with no build yet there is no running stack to protect.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist', 'stack');
if (fs.existsSync(path.join(dist, 'lock.js')) && fs.existsSync(path.join(dist, 'paths.js')) && fs.existsSync(path.join(dist, 'env.js'))) {
  const { assertNotRunning } = require(path.join(dist, 'lock.js'));
  const { defaultDataDir } = require(path.join(dist, 'paths.js'));
  const { applyDefaults, readDotEnv } = require(path.join(dist, 'env.js'));
  if (typeof assertNotRunning === 'function') {
    const env = { ...process.env };
    applyDefaults(env, readDotEnv(path.join(root, '.env')));
    try {
      assertNotRunning(path.join(defaultDataDir(env), 'stack.lock'));
    } catch (e) {
      console.error(`[stack] ${e.message}`);
      process.exit(1);
    }
  }
}
