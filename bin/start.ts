/**
 * `npm start`: the whole stack on embedded defaults, until Ctrl-C.
 *
 *   1. Reads `.env` (never overriding the real environment), notes which of TEMPORAL_ADDRESS, MONGODB_URI and
 *      SMTP_URL are set there (those servers are external and not started), then fills in `.env.example`.
 *   2. Takes `<DATA_DIR>/stack.lock`, checks every port it will use, then starts the mail catcher, PostgreSQL,
 *      FerretDB and the Temporal dev server (logs in `<DATA_DIR>/logs/`).
 *   3. Runs dist/bin/seed.js, prints `<DATA_DIR>/demo-tokens.json`, starts dist/bin/worker.js and dist/bin/api.js,
 *      waits for GET /health, files the demo support requests (dist/bin/seed-tickets.js, through the workflows)
 *      and prints a summary.
 *   4. A worker, API, FerretDB or mail catcher that dies is started again after a backoff (1 s, 2 s, 4 s ... 30 s;
 *      stack/supervisor.ts), with a log line; one that keeps failing (5 crashes within 2 minutes) stops everything
 *      (exit status 1, naming the log to read), and so does PostgreSQL or Temporal dying (they hold the data).
 *   5. Ctrl-C / SIGTERM stops everything in reverse order.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { applyDefaults, dotEnvBadLines, embeddedServerUrls, readDotEnv } from '../stack/env';
import { spawnFerretDB, startFerretDB } from '../stack/ferretdb';
import { acquireLock, assertCheckoutIdle, CheckoutInUseError, StackRunningError, type LockEntry, type StackLock } from '../stack/lock';
import { spawnMailCatcher, startMailCatcher } from '../stack/mailcatcher';
import { defaultDataDir, ROOT } from '../stack/paths';
import { assertPortFree, canConnect, PortInUseError } from '../stack/ports';
import { postgresLogTail, startPostgres, stopStalePostgres, type PostgresHandle } from '../stack/postgres';
import { killAllSync, spawnManaged, tailFile, waitUntil, type ManagedProcess } from '../stack/process';
import { supervise, type Supervised } from '../stack/supervisor';
import { ConfigError, configSchema, loadConfig, redactCredentials } from '../lib/config';
import { loadSupportSettings } from '../services/support-settings';
import { startTemporalDev } from '../stack/temporal';
import { startLogRotation } from '../stack/logrotate';

/** How often the log files' sizes are checked, and how many rotated copies of each are kept. */
const LOG_CHECK_MS = 60_000;
const LOG_COPIES_KEPT = 2;

/** Used when .env.example is missing; the same values as lib/config.ts and .env.example. */
const FALLBACK_DEFAULTS: Record<string, string> = {
  HOST: '127.0.0.1',
  PORT: '3000',
  TEMPORAL_ADDRESS: '127.0.0.1:7233',
  MONGODB_URI: 'mongodb://127.0.0.1:27018/csp-desk',
  SMTP_URL: 'smtp://127.0.0.1:1025',
  DATA_DIR: './data',
  TEMPORAL_PORT: '7233',
  FERRETDB_PORT: '27018',
  SMTP_PORT: '1025',
  POSTGRES_PORT: '54329',
  TEMPORAL_UI_PORT: '8233',
  MAIL_UI_PORT: '8025',
  LOG_MAX_MB: '100',
};

const T0 = Date.now();
let lineOpen = false;

function out(line: string): void {
  if (lineOpen) {
    process.stdout.write('\n');
    lineOpen = false;
  }
  process.stdout.write(`${line}\n`);
}
const say = (m: string) => out(`[stack] ${m}`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
/** A path relative to the current folder when it is inside it, else absolute. */
const show = (p: string) => {
  const rel = path.relative(process.cwd(), p);
  return rel === '' ? '.' : rel.startsWith('..') ? p : rel;
};

/**
 * Prints `[stack] what ...  ok (1.2 s)`; with `ownLine` (children print meanwhile) the ok goes on a line of its own,
 * as it does, naming the step, when a child's line came in between.
 */
async function step<T>(what: string, fn: () => Promise<T>, ownLine = false): Promise<T> {
  if (lineOpen) process.stdout.write('\n');
  process.stdout.write(`[stack] ${what} ...${ownLine ? '\n' : ''}`);
  lineOpen = !ownLine;
  const t0 = Date.now();
  try {
    const r = await fn();
    if (lineOpen) process.stdout.write(`  ok (${secs(Date.now() - t0)})\n`);
    else process.stdout.write(`[stack]   ${ownLine ? what.replace(/^starting /, '') : what} ... ok (${secs(Date.now() - t0)})\n`);
    lineOpen = false;
    return r;
  } catch (e) {
    process.stdout.write(lineOpen ? '  FAILED\n' : `[stack]   ${ownLine ? what.replace(/^starting /, '') : what} ... FAILED\n`);
    lineOpen = false;
    throw e;
  }
}

class StartError extends Error {}

interface Service {
  name: string;
  stop: () => Promise<void>;
}

const services: Service[] = [];
const lockEntries: LockEntry[] = [];
let lock: StackLock | undefined;
let shuttingDown: Promise<never> | undefined;

function register(service: Service, entry?: LockEntry): void {
  services.push(service);
  if (entry) {
    lockEntries.push(entry);
    lock?.update(lockEntries);
  }
  if (shuttingDown) void service.stop();
}

function shutdown(code: number, reason: string): Promise<never> {
  if (shuttingDown) return shuttingDown;
  shuttingDown = (async () => {
    if (services.length) say(`${reason}: stopping ${services.map((s) => s.name).reverse().join(', ')}`);
    for (const s of [...services].reverse()) {
      const t0 = Date.now();
      try {
        await s.stop();
        say(`stopped ${s.name} (${secs(Date.now() - t0)})`);
      } catch (e) {
        say(`could not stop ${s.name} cleanly: ${(e as Error).message}`);
      }
    }
    killAllSync();
    lock?.release();
    process.exit(code);
  })();
  return shuttingDown;
}

/** Ends the launcher because `name` died unexpectedly. */
function childDied(name: string, how: string, logFile: string, tail = tailFile(logFile, 12)): void {
  if (shuttingDown) return;
  const rel = show(logFile);
  say(`${name} exited unexpectedly (${how}); last lines of ${rel}:`);
  if (tail) out(tail.replace(/^/gm, '    '));
  say(`${name} died: read ${rel}`);
  void shutdown(1, `${name} died`);
}

function watch(proc: ManagedProcess): void {
  void proc.exited.then((info) => {
    if (!proc.stopping) childDied(proc.name, info.signal ? `signal ${info.signal}` : `exit code ${info.code}`, proc.logFile ?? '', proc.tail(12));
  });
}

/**
 * Keeps a process of the stack running (stack/supervisor.ts): the worker and the API, and the embedded FerretDB and
 * mail catcher, which keep no state of their own (PostgreSQL holds FerretDB's data, the mail folder MailDev's). A
 * crashed one is started again (backoff 1 s, 2 s, 4 s ... 30 s); given up, stopping everything, only when it keeps
 * failing (5 crashes within 2 minutes) or exits with a code a restart cannot mend. `first` is the process already
 * started (and waited for) by the caller, if any.
 */
function keepAlive(opts: { name: string; label: string; entry: LockEntry; start: () => ManagedProcess; first?: ManagedProcess; logFile: string; stopTimeoutMs: number; fatalExitCodes?: number[] }): Supervised {
  let first = opts.first;
  const supervised = supervise({
    name: opts.label,
    start: () => {
      const proc = first ?? opts.start();
      first = undefined;
      return proc;
    },
    log: say,
    onStart: (proc) => {
      opts.entry.pid = proc.pid;
      lock?.update(lockEntries);
    },
    // one that dies while everything stops (its turn to be stopped not yet come) stays down
    shouldRestart: () => !shuttingDown,
    fatalExitCodes: opts.fatalExitCodes,
    onGiveUp: (reason, tail, fatal) => {
      if (shuttingDown) return;
      const rel = show(opts.logFile);
      if (tail) out(`[stack] last lines of ${rel}:\n${tail.replace(/^/gm, '    ')}`);
      if (fatal) {
        say(`${opts.label} refused its configuration (${reason}): stopping the stack; fix the variable named above, in the environment or .env`);
        void shutdown(2, `${opts.label} refused its configuration`);
        return;
      }
      say(`${opts.label} keeps failing (${reason}): stopping the stack; read ${rel}`);
      void shutdown(1, `${opts.label} keeps failing`);
    },
  });
  register({ name: opts.label, stop: () => supervised.stop(opts.stopTimeoutMs) }, opts.entry);
  return supervised;
}

function intVar(env: NodeJS.ProcessEnv, key: string): number {
  // digits only: " 3105" would pass Number() and then spoil the URLs made from it (QA: PUBLIC_BASE_URL was blamed)
  const v = /^[0-9]+$/.test(env[key] ?? '') ? Number(env[key]) : NaN;
  if (!Number.isInteger(v) || v < 1 || v > 65535) throw new ConfigError(key, `configuration: ${key}=${JSON.stringify(env[key])} is invalid: expected a port number (1-65535)`);
  return v;
}

/** LOG_MAX_MB: the size past which a log file is rotated, in MiB (0: never). */
function logMaxMb(env: NodeJS.ProcessEnv): number {
  const v = /^[0-9]{1,7}$/.test(env.LOG_MAX_MB ?? '') ? Number(env.LOG_MAX_MB) : NaN;
  if (!Number.isInteger(v)) throw new ConfigError('LOG_MAX_MB', `configuration: LOG_MAX_MB=${JSON.stringify(env.LOG_MAX_MB)} is invalid: expected the size in MiB past which a log file is rotated (a whole number; 0: never)`);
  return v;
}

/** Why DATA_DIR cannot hold the stack's data (its nearest existing folder is not one this user writes), or null. */
function dataDirProblem(dir: string): string | null {
  if (/^\/(proc|sys)(\/|$)/.test(dir) || (/^\/dev(\/|$)/.test(dir) && !/^\/dev\/shm\//.test(dir))) return 'it is inside a system folder';
  let at = dir;
  while (!fs.existsSync(at)) at = path.dirname(at);
  if (!fs.statSync(at).isDirectory()) return `${at} is a file, not a folder`;
  try {
    fs.accessSync(at, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    return `${at} is not writable by this user`;
  }
  return null;
}

function urlPort(env: NodeJS.ProcessEnv, key: string, defaultPort: number): { host: string; port: number } {
  const raw = env[key] ?? '';
  try {
    const u = new URL(key === 'TEMPORAL_ADDRESS' ? `tcp://${raw}` : raw);
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : defaultPort };
  } catch {
    throw new ConfigError(key, `configuration: ${key}=${JSON.stringify(redactCredentials(raw))} is not a valid address`);
  }
}

/** The app's compiled entry points: beside this file (dist/bin/), or in STACK_APP_BIN_DIR (for trying the launcher with stand-ins). */
function entryPoint(name: string): string {
  const file = path.join(process.env.STACK_APP_BIN_DIR ? path.resolve(process.env.STACK_APP_BIN_DIR) : __dirname, `${name}.js`);
  if (!fs.existsSync(file)) throw new StartError(`${path.relative(ROOT, file)} is missing: run \`npm run build\` (npm start does it first)`);
  return file;
}

/** Why nothing can listen on `host` (a free port of it, at once released), or null when something can. */
function cannotListenOn(host: string): Promise<string | null> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    probe.listen(0, host, () => probe.close(() => resolve(null)));
  });
}

async function main(): Promise<void> {
  // ---- configuration
  const env: NodeJS.ProcessEnv = { ...process.env };
  const urlKeys = ['TEMPORAL_ADDRESS', 'MONGODB_URI', 'SMTP_URL'] as const;
  for (const k of urlKeys) if (env[k] === '') delete env[k];
  const dotenvFile = path.join(ROOT, '.env');
  const badLine = fs.existsSync(dotenvFile) ? dotEnvBadLines(fs.readFileSync(dotenvFile, 'utf8'))[0] : undefined;
  if (badLine) {
    say(`configuration: .env line ${badLine.line} is not KEY=value (${JSON.stringify(redactCredentials(badLine.text).slice(0, 80))}): write it as KEY=value, or make it a comment with #`);
    process.exit(2);
  }
  const fromDotenv = new Set(applyDefaults(env, readDotEnv(dotenvFile)));
  for (const k of urlKeys) if (env[k] === '') delete env[k];
  const external: Record<(typeof urlKeys)[number], string | null> = {
    TEMPORAL_ADDRESS: env.TEMPORAL_ADDRESS ? (fromDotenv.has('TEMPORAL_ADDRESS') ? '.env' : 'environment') : null,
    MONGODB_URI: env.MONGODB_URI ? (fromDotenv.has('MONGODB_URI') ? '.env' : 'environment') : null,
    SMTP_URL: env.SMTP_URL ? (fromDotenv.has('SMTP_URL') ? '.env' : 'environment') : null,
  };
  // the configuration the API, the worker and the seeder will read, checked before any server starts, with the
  // embedded stack's own (its ports and DATA_DIR): a bad value is one line naming it, exit status 2
  try {
    // the embedded servers listen where their *_PORT says; their URLs follow (a URL set above means a server of your own)
    const embeddedPorts = { ...FALLBACK_DEFAULTS, ...readDotEnv(path.join(ROOT, '.env.example')), ...env };
    const embedded = embeddedServerUrls({ temporal: intVar(embeddedPorts, 'TEMPORAL_PORT'), ferretdb: intVar(embeddedPorts, 'FERRETDB_PORT'), smtp: intVar(embeddedPorts, 'SMTP_PORT') });
    for (const k of urlKeys) if (!external[k]) env[k] = embedded[k];
    // the links in emails (sign-in links among them) go to this stack's own API unless set otherwise: with PORT
    // changed, .env.example's http://localhost:3000 would be another stack's
    if (!env.PUBLIC_BASE_URL && env.PORT) env.PUBLIC_BASE_URL = `http://localhost:${intVar(env, 'PORT')}`;
    applyDefaults(env, { ...FALLBACK_DEFAULTS, ...readDotEnv(path.join(ROOT, '.env.example')) });
    for (const k of ['PORT', 'POSTGRES_PORT', 'TEMPORAL_UI_PORT', 'MAIL_UI_PORT']) intVar(env, k);
    logMaxMb(env);
    const dataDirWrong = dataDirProblem(defaultDataDir(env));
    if (dataDirWrong) throw new ConfigError('DATA_DIR', `configuration: DATA_DIR=${JSON.stringify(env.DATA_DIR ?? './data')} cannot hold the data: ${dataDirWrong}; expected a folder this user can write (it is made if missing)`);
    const config = loadConfig(env);
    // a URL the schema takes that no URL parser reads (a password holding '/'): said here, with its credentials hidden
    for (const k of urlKeys) urlPort(env, k, 0);
    // the SLA policy file, read as the API and the worker will read it
    try {
      loadSupportSettings(config);
    } catch (e) {
      throw new ConfigError('SUPPORT_POLICY_FILE', `configuration: ${(e as Error).message}`);
    }
    // an address the API cannot listen on (no such name, or not this machine's) would fail it on every restart
    const refused = await cannotListenOn(config.HOST);
    if (refused) throw new ConfigError('HOST', `configuration: HOST=${JSON.stringify(config.HOST)} is not an address of this machine (${refused}); expected ${configSchema.properties.HOST.description}, such as 127.0.0.1 or 0.0.0.0`);
  } catch (e) {
    if (e instanceof ConfigError) {
      say(`${e.message} (in the environment or .env)`);
      process.exit(2);
    }
    throw e;
  }
  const dataDir = defaultDataDir(env);
  env.DATA_DIR = dataDir;
  const logs = path.join(dataDir, 'logs');
  // nobody else lists it or reads a file in it (the lines name users by email address; each file is 0600), but
  // PostgreSQL's own user, which runs the cluster when we are root, passes through to its log: 0711. A folder from
  // an older start is narrowed too. (DATA_DIR itself first, with the usual mode: a mode given to a recursive mkdir
  // applies to every folder it makes)
  fs.mkdirSync(dataDir, { recursive: true });
  fs.mkdirSync(logs, { recursive: true, mode: 0o711 });
  fs.chmodSync(logs, 0o711);

  const apiPort = intVar(env, 'PORT');
  const apiHost = env.HOST || '127.0.0.1';
  const clientHost = apiHost === '0.0.0.0' || apiHost === '::' ? '127.0.0.1' : apiHost;
  const temporal = urlPort(env, 'TEMPORAL_ADDRESS', 7233);
  const mongo = urlPort(env, 'MONGODB_URI', 27017);
  const smtp = urlPort(env, 'SMTP_URL', 25);
  const pgPort = intVar(env, 'POSTGRES_PORT');
  const temporalUiPort = intVar(env, 'TEMPORAL_UI_PORT');
  const mailUiPort = intVar(env, 'MAIL_UI_PORT');
  const seedJs = entryPoint('seed');
  const workerJs = entryPoint('worker');
  const apiJs = entryPoint('api');

  say(`csp-desk stack, data in ${show(dataDir)}, logs in ${show(logs)}`);
  for (const k of urlKeys) {
    if (external[k]) say(`${k}=${redactCredentials(env[k]!)} is set in the ${external[k]}: using that server, not starting the embedded one`);
  }

  // ---- lock (a second start is refused; a stale lock is cleaned up)
  try {
    lock = await acquireLock(path.join(dataDir, 'stack.lock'), say, path.join(ROOT, '.local', 'stacks'));
    // another start with another DATA_DIR that passed its prestart check at the same time (both then built dist/)
    assertCheckoutIdle(path.join(ROOT, '.local', 'stacks'), lock.file);
  } catch (e) {
    if (e instanceof StackRunningError || e instanceof CheckoutInUseError) {
      if (e instanceof CheckoutInUseError) lock?.release();
      throw new StartError(e.message);
    }
    throw e;
  }
  if (!external.MONGODB_URI) await stopStalePostgres(dataDir, say);
  // bounded: a file past LOG_MAX_MB is copied to <name>.1 (two copies kept) and emptied in place (stack/logrotate.ts);
  // once this start holds the lock, so that a second start, refused, never rotates the running stack's files
  const maxMb = logMaxMb(env);
  if (maxMb > 0) startLogRotation(logs, { maxBytes: maxMb * 1024 * 1024, keep: LOG_COPIES_KEPT }, LOG_CHECK_MS, (names) => say(`log rotated (past LOG_MAX_MB=${maxMb}): ${names.join(', ')}`));

  // ---- ports
  const checks: { port: number; what: string; envVar: string; host?: string }[] = [{ port: apiPort, what: 'API', envVar: 'PORT', host: apiHost }];
  if (!external.TEMPORAL_ADDRESS) {
    checks.push({ port: temporal.port, what: 'Temporal', envVar: 'TEMPORAL_PORT' });
    checks.push({ port: temporalUiPort, what: 'Temporal Web UI', envVar: 'TEMPORAL_UI_PORT' });
  }
  if (!external.MONGODB_URI) {
    checks.push({ port: pgPort, what: 'PostgreSQL', envVar: 'POSTGRES_PORT' });
    checks.push({ port: mongo.port, what: 'FerretDB, MongoDB protocol', envVar: 'FERRETDB_PORT' });
  }
  if (!external.SMTP_URL) {
    checks.push({ port: smtp.port, what: 'mail catcher SMTP', envVar: 'SMTP_PORT' });
    checks.push({ port: mailUiPort, what: 'mail catcher web UI', envVar: 'MAIL_UI_PORT' });
  }
  const seen = new Map<number, string>();
  const problems: string[] = [];
  for (const c of checks) {
    if (seen.has(c.port)) {
      problems.push(`port ${c.port} is wanted by both ${seen.get(c.port)} and ${c.what}: change ${c.envVar}`);
      continue;
    }
    seen.set(c.port, c.what);
    try {
      await assertPortFree(c.port, c.what, c.envVar, c.host);
    } catch (e) {
      if (e instanceof PortInUseError) problems.push(e.message);
      else await assertPortFree(c.port, c.what, c.envVar).catch((e2: Error) => problems.push(e2.message));
    }
  }
  if (problems.length) throw new StartError(problems.join('\n[stack] '));

  // ---- external servers must answer
  for (const [k, hp] of [['TEMPORAL_ADDRESS', temporal], ['MONGODB_URI', mongo], ['SMTP_URL', smtp]] as const) {
    if (!external[k] || (k === 'MONGODB_URI' && env.MONGODB_URI!.startsWith('mongodb+srv:'))) continue;
    let ok = false;
    for (let i = 0; i < 10 && !ok; i++) {
      ok = await canConnect(hp.port, hp.host, 1000);
      if (!ok) await new Promise((r) => setTimeout(r, 500));
    }
    if (!ok) {
      throw new StartError(
        `${k} is set in the ${external[k]}, so npm start does not start that server, but nothing accepts connections on ${hp.host}:${hp.port}: start it, or remove ${k} from the ${external[k]} to use the embedded one`,
      );
    }
  }

  // ---- servers: mail catcher, PostgreSQL, FerretDB, Temporal
  let mailWebUrl: string | null = null;
  if (!external.SMTP_URL) {
    const mailOpts = { smtpPort: smtp.port, httpPort: mailUiPort, dir: path.join(dataDir, 'mail') };
    const mail = await step(`starting mail catcher on 127.0.0.1:${smtp.port} (web UI on ${mailUiPort})`, () => startMailCatcher(mailOpts));
    keepAlive({ name: 'mailcatcher', label: 'mail catcher', entry: { name: 'mailcatcher', pid: mail.pid, match: 'maildev', group: true }, first: mail.process, start: () => spawnMailCatcher(mailOpts), logFile: mail.process.logFile!, stopTimeoutMs: 5000 });
    mailWebUrl = mail.webUrl;
  }
  if (shuttingDown) return;

  if (!external.MONGODB_URI) {
    const pg: PostgresHandle = await step(`starting PostgreSQL on 127.0.0.1:${pgPort}`, () =>
      startPostgres({ dataDir, port: pgPort, logFile: path.join(logs, 'postgres.log'), log: (m) => say(`  ${m}`) }),
    );
    register({ name: 'PostgreSQL', stop: pg.stop }, { name: 'postgres', pid: pg.pid, match: 'postgres', signal: 'SIGINT' });
    const pgWatch = setInterval(() => {
      if (!pg.isRunning()) {
        clearInterval(pgWatch);
        childDied('PostgreSQL', `postmaster pid ${pg.pid} is gone`, pg.logFile, postgresLogTail(pg.logFile));
      }
    }, 2000);
    services[services.length - 1].stop = async () => {
      clearInterval(pgWatch);
      await pg.stop();
    };
    if (shuttingDown) return;
    const ferretOpts = { postgresUrl: pg.url, port: mongo.port, logFile: path.join(logs, 'ferretdb.log') };
    const ferret = await step(`starting FerretDB on 127.0.0.1:${mongo.port}`, () => startFerretDB(ferretOpts));
    keepAlive({ name: 'ferretdb', label: 'FerretDB', entry: { name: 'ferretdb', pid: ferret.process.pid, match: 'ferretdb', group: true }, first: ferret.process, start: () => spawnFerretDB(ferretOpts), logFile: ferretOpts.logFile, stopTimeoutMs: 10_000 });
  }
  if (shuttingDown) return;

  let temporalUiUrl: string | null = null;
  if (!external.TEMPORAL_ADDRESS) {
    const t = await step(`starting Temporal dev server on 127.0.0.1:${temporal.port} (Web UI on ${temporalUiPort})`, () =>
      startTemporalDev({
        dbFile: path.join(dataDir, 'temporal.db'),
        port: temporal.port,
        uiPort: temporalUiPort,
        logFile: path.join(logs, 'temporal.log'),
        namespace: env.TEMPORAL_NAMESPACE || 'default',
        onRetry: (m) => say(m.replace(/\n/g, '\n[stack]   ')),
        retryWhile: () => !shuttingDown,
      }),
    );
    register({ name: 'Temporal', stop: t.stop }, { name: 'temporal', pid: t.process.pid, match: 'temporal', group: true });
    watch(t.process);
    temporalUiUrl = t.uiUrl;
    // the pages link an order or a ticket to its workflow in this UI, unless another one is configured
    if (!env.TEMPORAL_UI_URL && t.uiUrl) env.TEMPORAL_UI_URL = t.uiUrl;
  }
  if (shuttingDown) return;

  // ---- seed, worker, API
  const tokensFile = path.join(dataDir, 'demo-tokens.json');
  await step('seeding the demo data (dist/bin/seed.js)', async () => {
    const seed = spawnManaged({ name: 'seed', command: process.execPath, args: [seedJs], env, cwd: ROOT, logFile: path.join(logs, 'seed.log') });
    const info = await seed.exited;
    if (info.code !== 0) {
      throw new StartError(`the seed failed (${info.signal ?? `exit code ${info.code}`}); read ${show(seed.logFile!)}:\n${seed.tail(15)}`);
    }
  });
  if (shuttingDown) return;

  const keepRunning = (name: 'worker' | 'api', label: string, js: string): Supervised =>
    keepAlive({
      name,
      label,
      entry: { name, pid: 0, match: `${name}.js`, group: true },
      start: () => spawnManaged({ name, command: process.execPath, args: [js], env, cwd: ROOT, logFile: path.join(logs, `${name}.log`), console: out, jsonLog: true }),
      logFile: path.join(logs, `${name}.log`),
      stopTimeoutMs: name === 'worker' ? 15_000 : 10_000,
      // exit status 2 is the entry points' configuration error: restarting cannot mend it
      fatalExitCodes: [2],
    });
  say('starting the worker (dist/bin/worker.js)');
  const worker = keepRunning('worker', 'worker', workerJs);
  const api = keepRunning('api', 'API', apiJs);
  const apiUrl = `http://${clientHost.includes(':') ? `[${clientHost}]` : clientHost}:${apiPort}`;
  await step(`starting the API (dist/bin/api.js), waiting for ${apiUrl}/health`, () =>
    waitUntil(
      `${apiUrl}/health`,
      async () => {
        const res = await fetch(`${apiUrl}/health`, { signal: AbortSignal.timeout(3000) });
        return res.status === 200;
      },
      {
        timeoutMs: 90_000,
        intervalMs: 300,
        abort: () => {
          if (api.gaveUp || worker.gaveUp || shuttingDown) throw new StartError('a process kept failing while starting');
        },
      },
    ),
    true,
  );
  if (shuttingDown) return;

  // ---- demo support requests: filed through the tickets' workflows, so once the worker and the API are up;
  // idempotent (fixed Idempotency-Keys and Update ids). A failure is reported, and the stack runs on.
  const seedTicketsJs = path.join(path.dirname(workerJs), 'seed-tickets.js');
  if (fs.existsSync(seedTicketsJs)) {
    const logFile = path.join(logs, 'seed-tickets.log');
    try {
      await step('filing the demo support requests (dist/bin/seed-tickets.js)', async () => {
        const seedTickets = spawnManaged({ name: 'seed-tickets', command: process.execPath, args: [seedTicketsJs], env, cwd: ROOT, logFile });
        const info = await seedTickets.exited;
        if (info.code !== 0) throw new StartError(`exit ${info.signal ?? `code ${info.code}`}: ${seedTickets.tail(1)}`);
      });
    } catch (e) {
      if (shuttingDown) return;
      say(`note: the demo support requests were not filed (${(e as Error).message.split('\n')[0]}); read ${show(logFile)}. Everything else runs.`);
    }
  }
  if (shuttingDown) return;

  // ---- summary
  let tokens: { name: string; role: string; token: string | null; note?: string }[] = [];
  try {
    tokens = JSON.parse(fs.readFileSync(tokensFile, 'utf8')) as typeof tokens;
  } catch {
    say(`note: ${show(tokensFile)} was not written by the seed`);
  }
  const showTokens = process.stdout.isTTY === true;
  const wn = Math.max(4, ...tokens.map((t) => String(t.name).length));
  const wr = Math.max(4, ...tokens.map((t) => String(t.role).length));
  const lines = [
    '',
    `  csp-desk is running (ready in ${secs(Date.now() - T0)}). Ctrl-C stops everything.`,
    '',
    `  API           ${apiUrl}`,
    `  OpenAPI       ${apiUrl}/openapi.json`,
    // the sign-in links in emails go to PUBLIC_BASE_URL, whose host the session cookie is then for
    `  Pages         ${String(env.PUBLIC_BASE_URL).replace(/\/+$/, '')}/app  (sign in with a demo user's email; the link arrives in the mail UI)`,
    `  Temporal UI   ${temporalUiUrl ?? (env.TEMPORAL_UI_URL || `(external Temporal at ${env.TEMPORAL_ADDRESS}; set TEMPORAL_UI_URL to link its Web UI)`)}`,
    `  Mail (UI)     ${mailWebUrl ?? `(external SMTP server ${redactCredentials(env.SMTP_URL!)})`}`,
    `  MongoDB       ${redactCredentials(env.MONGODB_URI!)}${external.MONGODB_URI ? ' (external)' : ' (FerretDB on PostgreSQL)'}`,
    `  Logs          ${show(logs)}/`,
    '',
    // secrets go to a person, never into a log: printed to a terminal only, as the seed does (QA: under nohup or a
    // process manager the banner put every token into the log file)
    ...(!tokens.length
      ? ['  Demo API tokens: none (see the seed log)']
      : showTokens
        ? ['  Demo API tokens:', ...tokens.map((t) => `    ${String(t.name).padEnd(wn)}  ${String(t.role).padEnd(wr)}  ${t.token ?? `none: ${t.note ?? 'see the seed log'}`}`)]
        : [`  Demo API tokens: in ${show(tokensFile)} (0600), not printed here: this output is not a terminal`]),
    '',
    '  Try:',
    `    curl -s ${apiUrl}/health`,
    `    curl -s -H "Authorization: Bearer ${(showTokens && tokens.find((t) => t.token)?.token) || '<token>'}" ${apiUrl}/products`,
    '',
  ];
  out(lines.join('\n'));
}

process.on('exit', () => {
  killAllSync();
  lock?.release();
});
// One Ctrl-C in a terminal arrives twice (the terminal signals the whole process group, and npm passes its own on):
// a second within a second is that same one. A Ctrl-C pressed again later kills everything at once.
const SAME_CTRL_C_MS = 1_000;
let firstCtrlC = 0;
process.on('SIGINT', () => {
  if (shuttingDown && Date.now() - firstCtrlC < SAME_CTRL_C_MS) return;
  if (shuttingDown && !firstCtrlC) {
    // stopping already (SIGTERM, a failure): this Ctrl-C is the first; pressed again, it kills
    firstCtrlC = Date.now();
    say('stopping already: Ctrl-C again kills everything now');
    return;
  }
  if (shuttingDown) {
    say('second Ctrl-C: killing everything now');
    killAllSync();
    lock?.release();
    process.exit(130);
  }
  firstCtrlC = Date.now();
  void shutdown(0, 'Ctrl-C');
});
process.on('SIGTERM', () => void shutdown(0, 'SIGTERM'));
process.on('SIGHUP', () => void shutdown(0, 'SIGHUP'));

main().catch((e: unknown) => {
  if (shuttingDown) return;
  const msg = e instanceof StartError ? e.message : (e as Error).stack ?? String(e);
  say(msg);
  void shutdown(1, 'start failed');
});
