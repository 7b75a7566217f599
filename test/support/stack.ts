/**
 * The real servers for the test suite, on free ports in a fresh temporary data folder (deleted afterwards):
 *   - PostgreSQL + FerretDB, unless MONGODB_URI is set (then that server is used);
 *   - the Temporal dev server (headless), unless TEMPORAL_ADDRESS is set;
 *   - the mail catcher, always (tests read mail through `mailbox`).
 * startTestStack() returns the same instance however often it is called; stopTestStack() stops it.
 * Children are killed on process exit, even if mocha crashes. The servers themselves: stack/ephemeral.ts.
 */
import { startEphemeralStack, type EphemeralStart } from '../../stack/ephemeral';
import { mailbox as mailboxClient, type Mailbox } from '../../stack/mailcatcher';
import { killAllSync } from '../../stack/process';
import { temporalCliPath, temporalTestServerPath } from '../../stack/temporal';

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
  /** The embedded FerretDB's PostgreSQL (absent when MONGODB_URI is set): fault tests start FerretDBs of their own on it. */
  postgresUrl?: string;
}

const DEFAULT_DB = 'csp-desk-test';

let current: EphemeralStart | undefined;
let starting: Promise<TestStack> | undefined;
let exitHooked = false;
let refs = 0;
const keepData = !!process.env.KEEP_TEST_DATA;

function progress(msg: string): void {
  process.stderr.write(`[test-stack] ${msg}\n`);
}

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  let interrupted = false;
  process.on('exit', () => {
    killAllSync();
    if (interrupted) process.exitCode = 130; // also when mocha exits first, its tests failing as the servers stop
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      interrupted = true;
      progress(`${sig}: stopping the test servers`);
      // a second signal, or a stop that hangs, exits at once (the exit hooks still kill the children)
      process.once(sig, () => process.exit(130));
      setTimeout(() => process.exit(130), 30_000).unref();
      // waits for a start in progress to settle first, so that nothing writes into the folder once it is gone
      void stopTestStack({ force: true }).finally(() => process.exit(130));
    });
  }
}

async function start(): Promise<TestStack> {
  hookExit();
  const s = startEphemeralStack({ prefix: 'csp-desk-test-', database: DEFAULT_DB, progress, keepData });
  current = s;
  const st = await s.ready;
  return {
    mongoUri: st.mongoUri,
    temporalAddress: st.temporalAddress,
    smtpUrl: st.smtpUrl,
    mailWebUrl: st.mailWebUrl,
    mailbox: mailboxClient(st.mailWebUrl),
    testServerPath: temporalTestServerPath,
    temporalCliPath,
    dataDir: st.dataDir,
    embedded: st.embedded,
    postgresUrl: st.servers.postgres?.url,
  };
}

/**
 * Starts the test servers once; every later call returns the same instance. Calls are counted: the servers
 * stop when stopTestStack() has been called as often as startTestStack() (or at process exit).
 */
export function startTestStack(): Promise<TestStack> {
  refs++;
  if (!starting) {
    const p = start();
    starting = p;
    p.catch(() => {
      if (starting !== p) return; // already released (and maybe started again)
      starting = undefined;
      current = undefined;
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
  const c = current;
  starting = undefined;
  current = undefined;
  if (!s || !c) return;
  try {
    await s;
  } catch {
    /* start failed: whatever started was already stopped */
    return;
  }
  progress('stopping');
  await c.stop();
}
