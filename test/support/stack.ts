/**
 * The real servers for the test suite, on free ports in a fresh temporary data folder (deleted afterwards):
 *   - PostgreSQL + FerretDB, unless MONGODB_URI is set (then that server is used);
 *   - the Temporal dev server (headless), unless TEMPORAL_ADDRESS is set;
 *   - the mail catcher, always (tests read mail through `mailbox`).
 * startTestStack() returns the same instance however often it is called; stopTestStack() stops it.
 * Children are killed on process exit, even if mocha crashes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFerretDB, type FerretDBHandle } from '../../stack/ferretdb';
import { mailbox as mailboxClient, startMailCatcher, type MailCatcherHandle, type Mailbox } from '../../stack/mailcatcher';
import { freePort } from '../../stack/ports';
import { startPostgres, type PostgresHandle } from '../../stack/postgres';
import { killAllSync } from '../../stack/process';
import { startTemporalDev, temporalCliPath, temporalTestServerPath, type TemporalHandle } from '../../stack/temporal';

export interface TestStack {
  /** MongoDB URI with a database name (`.../csp-desk-test` on the embedded FerretDB). */
  mongoUri: string;
  /** host:port of the Temporal frontend. */
  temporalAddress: string;
  /** `smtp://127.0.0.1:PORT` of the mail catcher. */
  smtpUrl: string;
  /** `http://127.0.0.1:PORT` of the mail catcher's web UI / API. */
  mailWebUrl: string;
  /** Client of the mail catcher. */
  mailbox: Mailbox;
  /** Temporal's time-skipping test server executable. */
  testServerPath: string;
  /** Temporal CLI executable (for TestWorkflowEnvironment.createLocal). */
  temporalCliPath: string;
  /** The temporary data folder (logs are in `<dataDir>/logs`). */
  dataDir: string;
  /** Which servers were started here (false = taken from the environment). */
  embedded: { mongo: boolean; temporal: boolean };
}

const DEFAULT_DB = 'csp-desk-test';

let starting: Promise<TestStack> | undefined;
let handles: { pg?: PostgresHandle; ferret?: FerretDBHandle; temporal?: TemporalHandle; mail?: MailCatcherHandle; dataDir?: string } = {};
let exitHooked = false;
let refs = 0;
let keepData = !!process.env.KEEP_TEST_DATA;

function progress(msg: string): void {
  process.stderr.write(`[test-stack] ${msg}\n`);
}

async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const result = await fn();
  progress(`${what} ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return result;
}

function removeDataDirSync(): void {
  if (handles.dataDir && !keepData) fs.rmSync(handles.dataDir, { recursive: true, force: true });
}

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    killAllSync();
    try {
      removeDataDirSync();
    } catch {
      /* best effort */
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      progress(`${sig}: stopping the test servers`);
      process.exit(130);
    });
  }
}

/** Adds a database name to a mongodb:// URI that has none. */
function withDatabase(uri: string, db: string): string {
  const u = new URL(uri);
  if (u.pathname === '' || u.pathname === '/') u.pathname = `/${db}`;
  return u.toString();
}

async function start(): Promise<TestStack> {
  hookExit();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-desk-test-'));
  fs.chmodSync(dataDir, 0o755); // the postgres user must reach <dataDir>/postgres
  handles.dataDir = dataDir;
  const logs = path.join(dataDir, 'logs');
  progress(`data and logs in ${dataDir}`);

  const envMongo = process.env.MONGODB_URI;
  const envTemporal = process.env.TEMPORAL_ADDRESS;

  const mailP = (async () => {
    const [smtpPort, httpPort] = [await freePort(), await freePort()];
    handles.mail = await step(`mail catcher on smtp ${smtpPort}, http ${httpPort}`, () =>
      startMailCatcher({ smtpPort, httpPort, dir: path.join(dataDir, 'mail') }),
    );
    return handles.mail;
  })();

  const mongoP = (async () => {
    if (envMongo) {
      progress(`MongoDB from MONGODB_URI (${envMongo.replace(/\/\/[^@/]*@/, '//***@')})`);
      return withDatabase(envMongo, DEFAULT_DB);
    }
    const [pgPort, ferretPort] = [await freePort(), await freePort()];
    handles.pg = await step(`PostgreSQL on 127.0.0.1:${pgPort}`, () =>
      startPostgres({ dataDir, port: pgPort, durable: false, logFile: path.join(logs, 'postgres.log') }),
    );
    handles.ferret = await step(`FerretDB on 127.0.0.1:${ferretPort}`, () =>
      startFerretDB({ postgresUrl: handles.pg!.url, port: ferretPort, logFile: path.join(logs, 'ferretdb.log') }),
    );
    return `${handles.ferret.uri}${DEFAULT_DB}`;
  })();

  const temporalP = (async () => {
    if (envTemporal) {
      progress(`Temporal from TEMPORAL_ADDRESS (${envTemporal})`);
      return envTemporal;
    }
    const port = await freePort();
    handles.temporal = await step(`Temporal dev server on 127.0.0.1:${port}`, () =>
      startTemporalDev({ dbFile: path.join(dataDir, 'temporal.db'), port, uiPort: null, logFile: path.join(logs, 'temporal.log') }),
    );
    return handles.temporal.address;
  })();

  const results = await Promise.allSettled([mailP, mongoP, temporalP]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    keepData = true;
    await stopHandles(false);
    progress(`start failed; logs kept in ${logs}`);
    throw failed.reason;
  }
  const [mail, mongoUri, temporalAddress] = [
    (results[0] as PromiseFulfilledResult<MailCatcherHandle>).value,
    (results[1] as PromiseFulfilledResult<string>).value,
    (results[2] as PromiseFulfilledResult<string>).value,
  ];
  return {
    mongoUri,
    temporalAddress,
    smtpUrl: mail.smtpUrl,
    mailWebUrl: mail.webUrl,
    mailbox: mailboxClient(mail.webUrl),
    testServerPath: temporalTestServerPath,
    temporalCliPath,
    dataDir,
    embedded: { mongo: !envMongo, temporal: !envTemporal },
  };
}

async function stopHandles(removeData = true): Promise<void> {
  const h = handles;
  handles = { dataDir: h.dataDir };
  const errors: unknown[] = [];
  const attempt = async (fn?: () => Promise<void>) => {
    if (!fn) return;
    try {
      await fn();
    } catch (e) {
      errors.push(e);
    }
  };
  await Promise.all([attempt(h.temporal?.stop), attempt(h.ferret?.stop)]);
  await attempt(h.pg?.stop);
  await attempt(h.mail?.stop);
  if (removeData) {
    removeDataDirSync();
    handles = {};
  }
  if (errors.length) progress(`stop: ${errors.map((e) => (e as Error).message).join('; ')}`);
}

/**
 * Starts the test servers once; every later call returns the same instance. Calls are counted: the servers
 * stop when stopTestStack() has been called as often as startTestStack() (or at process exit).
 */
export function startTestStack(): Promise<TestStack> {
  refs++;
  if (!starting) {
    starting = start();
    starting.catch(() => {
      starting = undefined;
      refs = 0;
    });
  }
  return starting;
}

/**
 * Releases one startTestStack(); the last release (or `{ force: true }`) stops the servers and deletes the
 * temporary data folder. Safe to call more often than startTestStack().
 */
export async function stopTestStack({ force = false }: { force?: boolean } = {}): Promise<void> {
  if (refs > 0) refs--;
  if (refs > 0 && !force) return;
  refs = 0;
  const s = starting;
  starting = undefined;
  if (!s) return;
  try {
    await s;
  } catch {
    /* start failed: whatever started was already stopped */
    return;
  }
  progress('stopping');
  await stopHandles(true);
}
