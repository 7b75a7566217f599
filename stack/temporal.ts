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

/** Starts `temporal server start-dev` on 127.0.0.1 and resolves once the frontend answers. */
export async function startTemporalDev(opts: StartTemporalOptions): Promise<TemporalHandle> {
  assertInstalled(TEMPORAL_CLI, 'the Temporal CLI');
  const dbFile = path.resolve(opts.dbFile);
  fs.mkdirSync(path.dirname(dbFile), { recursive: true });
  const args = ['server', 'start-dev', '--db-filename', dbFile, '--ip', '127.0.0.1', '--port', String(opts.port)];
  if (opts.uiPort === null) args.push('--headless');
  else args.push('--ui-port', String(opts.uiPort));
  args.push('--log-format', 'json', '--log-level', 'warn');
  const proc = spawnManaged({ name: 'temporal', command: TEMPORAL_CLI, args, logFile: path.resolve(opts.logFile) });
  const address = `127.0.0.1:${opts.port}`;
  try {
    await waitUntil(`Temporal on ${address}`, () => pingTemporal(address, opts.namespace ?? 'default', 1500), {
      timeoutMs: opts.readyTimeoutMs ?? 90_000,
      intervalMs: 250,
      abort: () => {
        if (!proc.running) throw new Error(`the Temporal dev server exited at start; see ${opts.logFile}:\n${proc.tail(15)}`);
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
