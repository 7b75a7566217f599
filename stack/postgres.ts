/**
 * A private PostgreSQL cluster in `<dataDir>/postgres` (the FerretDB backend): initdb on first use, listens
 * only on 127.0.0.1, unix socket inside the cluster folder, trust authentication on loopback.
 * initdb refuses to run as root, so as root every PostgreSQL program runs as the `postgres` user through
 * `runuser -u postgres --` on a folder that user owns.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pgBinDir } from './paths';
import { commandLine, isAlive, onKillAllSync, run, tailFile, waitUntil } from './process';

export interface StartPostgresOptions {
  /** Stack data folder; the cluster lives in `<dataDir>/postgres`. */
  dataDir: string;
  port: number;
  /** Server log (default `<dataDir>/logs/postgres.log`). */
  logFile?: string;
  /** Database created if missing (default `ferretdb`). */
  database?: string;
  /** false: fsync/synchronous_commit/full_page_writes off (throw-away test clusters). Default true. */
  durable?: boolean;
  /** Progress messages (default: none). */
  log?: (message: string) => void;
}

export interface PostgresHandle {
  /** `postgres://postgres@127.0.0.1:PORT/ferretdb` */
  url: string;
  port: number;
  /** The cluster folder (`<dataDir>/postgres`). */
  pgdata: string;
  /** Postmaster pid. */
  pid: number;
  logFile: string;
  /** True while the postmaster runs. */
  isRunning(): boolean;
  /** `pg_ctl stop -m fast`. Idempotent. */
  stop(): Promise<void>;
  /** `pg_ctl stop -m immediate`, synchronously (for 'exit' handlers). */
  stopSync(): void;
}

const PG_USER = 'postgres';
/** util-linux runuser (in /usr/sbin, which a non-login PATH may lack). */
const RUNUSER = ['/usr/sbin/runuser', '/sbin/runuser'].find((p) => fs.existsSync(p)) ?? 'runuser';

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function userIds(name: string): { uid: number; gid: number } {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`running as root but there is no '${name}' user: install Debian's postgresql package (it creates it)`);
  const parts = line.split(':');
  return { uid: Number(parts[2]), gid: Number(parts[3]) };
}

/** [command, args] to run a PostgreSQL program as the cluster's owner. */
function asOwner(bin: string, program: string, args: string[]): [string, string[]] {
  const exe = path.join(bin, program);
  return isRoot() ? [RUNUSER, ['-u', PG_USER, '--', exe, ...args]] : [exe, args];
}

function quoteConf(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function readPostmasterPid(pgdata: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function chownTree(p: string, uid: number, gid: number): void {
  fs.chownSync(p, uid, gid);
  if (fs.statSync(p).isDirectory()) for (const e of fs.readdirSync(p)) chownTree(path.join(p, e), uid, gid);
}

/** A server log line's process id and level (PostgreSQL's default prefix: `%m [%p] `); no match for a continuation line. */
const LOG_LINE = /^\d{4}-\d{2}-\d{2} [\d:.]+ \S+ \[(\d+)\] ([A-Z]+):/;
const DUPLICATE_KEY = /\] ERROR: {2}duplicate key value violates unique constraint /;
const ALREADY_EXISTS = /\] DETAIL: {2}Key .* already exists\.$/;
/** The lines PostgreSQL writes after an ERROR about it. */
const DETAIL_LEVELS = new Set(['DETAIL', 'HINT', 'CONTEXT', 'QUERY', 'STATEMENT']);

/**
 * The last `lines` lines of PostgreSQL's log, without the duplicate-key errors that insert-once writes cause by
 * design (a download slot, an idempotency record, a claim taken by another request first: FerretDB passes each
 * refusal on as an ERROR with its DETAIL and STATEMENT, and concurrent connections interleave theirs), which would
 * otherwise fill the excerpt shown when the server dies and hide why. Says how many it left out.
 */
export function postgresLogTail(logFile: string, lines = 12): string {
  const kept: string[] = [];
  // connections whose last ERROR was a duplicate key: their DETAIL and STATEMENT lines go with it
  const refusing = new Set<string>();
  // connections with a line of their own in the excerpt: a DETAIL or STATEMENT of another one follows a line cut off
  const seen = new Set<string>();
  let droppedLast = true; // a continuation line at the excerpt's start belongs to a line before it
  let left = 0;
  // (the log's last 64 KiB at most: tailFile's bound)
  for (const line of tailFile(logFile, 2000).split('\n')) {
    const m = LOG_LINE.exec(line);
    if (!m) {
      if (!droppedLast) kept.push(line);
      continue;
    }
    const [, pid, level] = m;
    let drop = false;
    if (!DETAIL_LEVELS.has(level)) seen.add(pid);
    if (DUPLICATE_KEY.test(line)) {
      refusing.add(pid);
      left++;
      drop = true;
    } else if (DETAIL_LEVELS.has(level)) {
      drop = refusing.has(pid) || !seen.has(pid) || ALREADY_EXISTS.test(line);
    } else {
      refusing.delete(pid);
    }
    droppedLast = drop;
    if (!drop) kept.push(line);
  }
  const tail = kept.slice(-lines).join('\n');
  return left === 0 ? tail : `${tail}${tail ? '\n' : ''}(${left} duplicate-key errors of insert-once writes left out: each is a request that lost a race it is meant to lose)`;
}

/** Starts (and on first use creates) the cluster; resolves once it accepts connections and the database exists. */
export async function startPostgres(opts: StartPostgresOptions): Promise<PostgresHandle> {
  const bin = pgBinDir();
  const log = opts.log ?? (() => undefined);
  const dataDir = path.resolve(opts.dataDir);
  const pgdata = path.join(dataDir, 'postgres');
  const logFile = path.resolve(opts.logFile ?? path.join(dataDir, 'logs', 'postgres.log'));
  const database = opts.database ?? 'ferretdb';
  const port = opts.port;

  fs.mkdirSync(dataDir, { recursive: true });
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const owner = isRoot() ? userIds(PG_USER) : undefined;
  if (!fs.existsSync(pgdata)) fs.mkdirSync(pgdata, { mode: 0o700 });
  // its owner's only, as every log of the stack (stack/process.ts)
  if (!fs.existsSync(logFile)) fs.writeFileSync(logFile, '', { mode: 0o600 });
  fs.chmodSync(logFile, 0o600);
  if (owner) {
    // The postgres user must own the cluster and its log, and be able to reach them.
    if (fs.statSync(pgdata).uid !== owner.uid) chownTree(pgdata, owner.uid, owner.gid);
    fs.chownSync(logFile, owner.uid, owner.gid);
    const probe = spawnSync(RUNUSER, ['-u', PG_USER, '--', 'test', '-w', pgdata, '-a', '-w', logFile]);
    if (probe.status !== 0) {
      throw new Error(
        `the '${PG_USER}' user cannot reach ${pgdata} or ${logFile}: make their parent folders traversable (chmod o+x) or set DATA_DIR to a folder under a traversable path`,
      );
    }
  }
  fs.chmodSync(pgdata, 0o700);

  // First use: initdb.
  if (!fs.existsSync(path.join(pgdata, 'PG_VERSION'))) {
    if (fs.readdirSync(pgdata).length > 0) {
      throw new Error(`${pgdata} is not empty but holds no PostgreSQL cluster (no PG_VERSION): move it away or delete it, then start again`);
    }
    log(`creating PostgreSQL cluster in ${pgdata}`);
    const [cmd, args] = asOwner(bin, 'initdb', ['-D', pgdata, '-U', PG_USER, '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-instructions']);
    const out = await run(cmd, args, { timeoutMs: 120_000 });
    fs.appendFileSync(logFile, out);
  }

  // Our settings, rewritten on every start (the port may change).
  const confFile = path.join(pgdata, 'csp-desk.conf');
  const settings = [
    '# written by csp-desk stack/postgres.ts on every start',
    `listen_addresses = '127.0.0.1'`,
    `port = ${port}`,
    `unix_socket_directories = ${quoteConf(pgdata)}`,
    `max_connections = 200`,
    `logging_collector = off`,
  ];
  if (opts.durable === false) settings.push('fsync = off', 'synchronous_commit = off', 'full_page_writes = off');
  fs.writeFileSync(confFile, settings.join('\n') + '\n');
  const mainConf = path.join(pgdata, 'postgresql.conf');
  const include = `include_if_exists = 'csp-desk.conf'`;
  if (!fs.readFileSync(mainConf, 'utf8').includes(include)) fs.appendFileSync(mainConf, `\n${include}\n`);
  if (owner) {
    fs.chownSync(confFile, owner.uid, owner.gid);
    fs.chownSync(mainConf, owner.uid, owner.gid);
  }

  const pgCtl = (args: string[], timeoutMs = 90_000) => {
    const [cmd, full] = asOwner(bin, 'pg_ctl', ['-D', pgdata, ...args]);
    return run(cmd, full, { timeoutMs });
  };

  await stopStalePostgres(dataDir, log);

  try {
    await pgCtl(['start', '-l', logFile, '-w', '-t', '60', '-s']);
  } catch (e) {
    throw new Error(`PostgreSQL did not start on 127.0.0.1:${port}: ${(e as Error).message}\n--- ${logFile} ---\n${postgresLogTail(logFile, 15)}`);
  }
  const pid = readPostmasterPid(pgdata) ?? -1;
  const stopSync = () => {
    if (!isAlive(pid)) return;
    const [cmd, args] = asOwner(bin, 'pg_ctl', ['-D', pgdata, 'stop', '-m', 'immediate', '-w', '-t', '10']);
    spawnSync(cmd, args, { stdio: 'ignore', timeout: 15_000 });
  };
  const unregister = onKillAllSync(stopSync);

  const psql = path.join(bin, 'psql');
  const conn = ['-h', '127.0.0.1', '-p', String(port), '-U', PG_USER];
  try {
    await waitUntil(`PostgreSQL on 127.0.0.1:${port}`, async () => {
      await run(psql, [...conn, '-d', 'postgres', '-tAc', 'SELECT 1'], { timeoutMs: 5000 });
      return true;
    }, { timeoutMs: 30_000 });
    const exists = await run(psql, [...conn, '-d', 'postgres', '-tAc', `SELECT 1 FROM pg_database WHERE datname = '${database.replace(/'/g, "''")}'`]);
    if (exists.trim() !== '1') {
      log(`creating database ${database}`);
      await run(path.join(bin, 'createdb'), [...conn, database]);
    }
  } catch (e) {
    // Started but unusable: do not leave it running (nobody gets a handle to stop it).
    unregister();
    await pgCtl(['stop', '-m', 'immediate', '-w', '-t', '10'], 15_000).catch(() => {
      try {
        if (pid > 0) process.kill(pid, 'SIGQUIT');
      } catch {
        /* gone */
      }
    });
    await waitUntil('PostgreSQL to exit', async () => !isAlive(pid), { timeoutMs: 10_000 }).catch(() => undefined);
    throw e;
  }

  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://${PG_USER}@127.0.0.1:${port}/${database}`,
    port,
    pgdata,
    pid,
    logFile,
    isRunning: () => isAlive(pid),
    stop() {
      if (!stopped) {
        stopped = (async () => {
          unregister();
          if (!isAlive(pid)) return;
          try {
            await pgCtl(['stop', '-m', 'fast', '-w', '-t', '30'], 40_000);
          } catch {
            try {
              process.kill(pid, 'SIGQUIT');
            } catch {
              /* gone */
            }
          }
          await waitUntil('PostgreSQL to exit', async () => !isAlive(pid), { timeoutMs: 10_000 }).catch(() => undefined);
        })();
      }
      return stopped;
    },
    stopSync() {
      unregister();
      stopSync();
    },
  };
}

/**
 * Cleans up after a crashed run: if `<dataDir>/postgres/postmaster.pid` names a live PostgreSQL, stops it
 * (`pg_ctl stop -m fast`); a postmaster.pid naming no live PostgreSQL is removed. Returns true if a server was stopped.
 */
export async function stopStalePostgres(dataDir: string, log: (message: string) => void = () => undefined): Promise<boolean> {
  const pgdata = path.join(path.resolve(dataDir), 'postgres');
  const pidFile = path.join(pgdata, 'postmaster.pid');
  const oldPid = readPostmasterPid(pgdata);
  if (oldPid === undefined) return false;
  let stopped = false;
  const isPostgres = () => isAlive(oldPid) && /postgres|postmaster/.test(commandLine(oldPid));
  if (isPostgres()) {
    log(`stopping PostgreSQL left running by an earlier run (pid ${oldPid})`);
    const [cmd, args] = asOwner(pgBinDir(), 'pg_ctl', ['-D', pgdata, 'stop', '-m', 'fast', '-w', '-t', '30']);
    await run(cmd, args, { timeoutMs: 40_000 }).catch(() => {
      try {
        process.kill(oldPid, 'SIGQUIT');
      } catch {
        /* gone */
      }
    });
    await waitUntil('the old PostgreSQL to exit', async () => !isAlive(oldPid), { timeoutMs: 15_000 }).catch(() => undefined);
    stopped = true;
  }
  if (fs.existsSync(pidFile) && !isPostgres()) {
    log(`removing stale ${pidFile} (pid ${oldPid} is not a running PostgreSQL)`);
    fs.rmSync(pidFile, { force: true });
  }
  return stopped;
}
