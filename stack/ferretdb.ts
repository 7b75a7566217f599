/** FerretDB (MongoDB wire protocol) on the PostgreSQL backend: .local/bin/ferretdb built by `npm run setup`. */
import path from 'node:path';
import mongoose from 'mongoose';
import { assertInstalled, FERRETDB_BIN } from './paths';
import { assertPortFree } from './ports';
import { spawnManaged, type ManagedProcess, waitUntil } from './process';

export interface StartFerretDBOptions {
  /** e.g. `postgres://postgres@127.0.0.1:54329/ferretdb` */
  postgresUrl: string;
  port: number;
  logFile: string;
  /** Default 60 s. */
  readyTimeoutMs?: number;
}

export interface FerretDBHandle {
  /** `mongodb://127.0.0.1:PORT/` (add a database name for the app). */
  uri: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Sends a MongoDB `ping` to `uri`; resolves true on success. */
export async function pingMongo(uri: string, timeoutMs = 2000): Promise<boolean> {
  const client = new mongoose.mongo.MongoClient(uri, {
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
    directConnection: true,
  });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
    return true;
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Starts the FerretDB process (not waiting for it to answer): a restart after a crash. */
export function spawnFerretDB(opts: Pick<StartFerretDBOptions, 'postgresUrl' | 'port' | 'logFile'>): ManagedProcess {
  assertInstalled(FERRETDB_BIN, 'FerretDB');
  return spawnManaged({
    name: 'ferretdb',
    command: FERRETDB_BIN,
    args: ['--listen-addr', `127.0.0.1:${opts.port}`, '--postgresql-url', opts.postgresUrl],
    logFile: path.resolve(opts.logFile),
  });
}

/** Starts FerretDB on 127.0.0.1:port and resolves once it answers a ping. */
export async function startFerretDB(opts: StartFerretDBOptions): Promise<FerretDBHandle> {
  const uri = `mongodb://127.0.0.1:${opts.port}/`;
  // another server on the port would answer the readiness ping while this one fails to bind and exits: the service
  // (or a test) would then talk to that server's data (seen with two test runs at once, one taking the port of the
  // other's FerretDB while it was restarted)
  await assertPortFree(opts.port, 'FerretDB', 'FERRETDB_PORT');
  const proc = spawnFerretDB(opts);
  try {
    await waitUntil(`FerretDB on 127.0.0.1:${opts.port}`, () => pingMongo(uri, 1000), {
      timeoutMs: opts.readyTimeoutMs ?? 60_000,
      intervalMs: 200,
      abort: () => {
        if (!proc.running) throw new Error(`FerretDB exited at start; see ${opts.logFile}:\n${proc.tail(15)}`);
      },
    });
  } catch (e) {
    await proc.stop(3000);
    throw e;
  }
  return {
    uri,
    port: opts.port,
    process: proc,
    stop: async () => {
      await proc.stop(10_000);
    },
  };
}
