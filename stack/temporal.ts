/** Temporal dev server (`temporal server start-dev`, SQLite persistence) and the time-skipping test server path. */
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { assertInstalled, TEMPORAL_CLI, TEMPORAL_TEST_SERVER } from './paths';
import { spawnManaged, type ManagedProcess, waitUntil } from './process';

/** Path of Temporal's time-skipping test server (for `TestWorkflowEnvironment.createTimeSkipping`). */
export const temporalTestServerPath: string = TEMPORAL_TEST_SERVER;
/** Path of the Temporal CLI (for `TestWorkflowEnvironment.createLocal`). */
export const temporalCliPath: string = TEMPORAL_CLI;

export interface StartTemporalOptions {
  /** SQLite file; its folder is created. */
  dbFile: string;
  port: number;
  /** Web UI port; null = headless. */
  uiPort: number | null;
  logFile: string;
  /** Namespace that must answer before we call it ready (default `default`). */
  namespace?: string;
  /** Default 90 s. */
  readyTimeoutMs?: number;
  /**
   * Told, with the first start's own words, when the server exited at start and is started once more. The CLI
   * picks its internal ports itself (metrics, history, matching, membership), and on a busy machine one of them
   * can be taken before it binds it: it then panics at start (temporalio/cli#543, #564). A second start picks
   * other ports.
   */
  onRetry?: (message: string) => void;
  /** Whether to start it once more at all (default yes): `npm start` does not while it is shutting down. */
  retryWhile?: () => boolean;
  /** The port of the second start (an ephemeral stack's own port may have been taken meanwhile); none: `port` again. */
  anotherPort?: () => Promise<number>;
  /** The CLI to run (default the installed one); the retry's test gives a wrapper that fails its first start. */
  command?: string;
}

export interface TemporalHandle {
  /** `127.0.0.1:PORT` */
  address: string;
  /** `http://127.0.0.1:UIPORT` or null when headless. */
  uiUrl: string | null;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** True when the Temporal frontend at `address` answers getSystemInfo and describes `namespace`. */
export async function pingTemporal(address: string, namespace = 'default', timeoutMs = 2000): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: timeoutMs });
  try {
    const deadline = () => new Date(Date.now() + timeoutMs);
    await connection.withDeadline(deadline(), () => connection.workflowService.getSystemInfo({}));
    await connection.withDeadline(deadline(), () => connection.workflowService.describeNamespace({ namespace }));
    return true;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** The dev server exited before it answered: its first and last lines are in the message (a Go panic says why first). */
export class TemporalExitedAtStart extends Error {
  constructor(logFile: string, output: string) {
    super(`the Temporal dev server exited at start; see ${logFile}:\n${output}`);
    this.name = 'TemporalExitedAtStart';
  }
}

/** What a start that exited wrote: all of it when short, else its first 5 lines and its last 10. */
function exitOutput(proc: ManagedProcess): string {
  const first = proc.head(16);
  return first.split('\n').length < 16 ? first : `${proc.head(5)}\n...\n${proc.tail(10)}`;
}

/**
 * Starts `temporal server start-dev` on 127.0.0.1 and resolves once the frontend answers. A server that exits at
 * start is started once more (see onRetry); a second exit, or no answer in time, is thrown.
 */
export async function startTemporalDev(opts: StartTemporalOptions): Promise<TemporalHandle> {
  try {
    return await startTemporalDevOnce(opts);
  } catch (e) {
    if (!(e instanceof TemporalExitedAtStart) || opts.retryWhile?.() === false) throw e;
    opts.onRetry?.(`${e.message}\nstarting it once more`);
    await new Promise((r) => setTimeout(r, 1000));
    return startTemporalDevOnce({ ...opts, port: opts.anotherPort ? await opts.anotherPort() : opts.port });
  }
}

async function startTemporalDevOnce(opts: StartTemporalOptions): Promise<TemporalHandle> {
  const command = opts.command ?? TEMPORAL_CLI;
  assertInstalled(command, 'the Temporal CLI');
  const dbFile = path.resolve(opts.dbFile);
  fs.mkdirSync(path.dirname(dbFile), { recursive: true });
  // this user's only: the histories hold what the workflows were given (a ticket's contact, its text, customers'
  // names). The server makes its files under umask 077 (it takes a file that exists for a database with its tables
  // made, so the file cannot be made for it); files from an older start (0644) are narrowed (QA)
  for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`, `${dbFile}-journal`]) if (fs.existsSync(f)) fs.chmodSync(f, 0o600);
  const args = ['server', 'start-dev', '--db-filename', dbFile, '--ip', '127.0.0.1', '--port', String(opts.port)];
  if (opts.uiPort === null) args.push('--headless');
  else args.push('--ui-port', String(opts.uiPort));
  args.push('--log-format', 'json', '--log-level', 'warn');
  const proc = spawnManaged({ name: 'temporal', command, args, logFile: path.resolve(opts.logFile), umask: 0o077 });
  const address = `127.0.0.1:${opts.port}`;
  try {
    await waitUntil(`Temporal on ${address}`, () => pingTemporal(address, opts.namespace ?? 'default', 1500), {
      timeoutMs: opts.readyTimeoutMs ?? 90_000,
      intervalMs: 250,
      abort: () => {
        if (!proc.running) throw new TemporalExitedAtStart(opts.logFile, exitOutput(proc));
      },
    });
  } catch (e) {
    await proc.stop(3000);
    throw e;
  }
  return {
    address,
    uiUrl: opts.uiPort === null ? null : `http://127.0.0.1:${opts.uiPort}`,
    process: proc,
    stop: async () => {
      await proc.stop(15_000);
    },
  };
}
