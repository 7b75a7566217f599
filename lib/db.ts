/** One mongoose connection per process, with the indexes every model declares. */
import mongoose from 'mongoose';
import { models } from '../models';

/**
 * How long the database may keep a caller waiting. The API fails fast (a request answers 503 within a few
 * seconds when the database is down or frozen); the worker and the scripts wait longer (an activity that
 * fails is retried by Temporal anyway).
 */
export const DB_TIMEOUTS = {
  api: { serverSelectionTimeoutMS: 2500, connectTimeoutMS: 2500, socketTimeoutMS: 3000, bufferTimeoutMS: 2500, retry: false },
  default: { serverSelectionTimeoutMS: 10_000, connectTimeoutMS: 10_000, socketTimeoutMS: 60_000, bufferTimeoutMS: 10_000, retry: true },
} as const;

export async function connectDatabase(uri: string, opts: { syncIndexes?: boolean; timeouts?: keyof typeof DB_TIMEOUTS } = {}): Promise<typeof mongoose> {
  const t = DB_TIMEOUTS[opts.timeouts ?? 'default'];
  mongoose.set('strictQuery', true);
  // commands issued while disconnected wait this long for the connection, then fail (503 in the API)
  mongoose.set('bufferTimeoutMS', t.bufferTimeoutMS);
  await mongoose.connect(uri, {
    autoIndex: false,
    // collections are made by ensureIndexes, only those missing (mongoose's own would ask for every one, in every
    // process: FerretDB logs each "already exists" as a warning)
    autoCreate: false,
    serverSelectionTimeoutMS: t.serverSelectionTimeoutMS,
    connectTimeoutMS: t.connectTimeoutMS,
    // a socket silent this long (a frozen server) fails the operation instead of hanging it
    socketTimeoutMS: t.socketTimeoutMS,
    // the API does not retry an operation that failed on the network (a retry would double the wait): it
    // answers 503 with Retry-After and the client retries; every write it makes is idempotent (unique keys)
    retryReads: t.retry,
    retryWrites: t.retry,
  });
  if (opts.syncIndexes !== false) await ensureIndexes();
  return mongoose;
}

/**
 * createIndexes (never dropping) for every model: safe for several processes at once. Only the collections not
 * there yet are created (FerretDB logs each "already exists" as a warning with the whole message: every process
 * start would fill its log); one created meanwhile by another process is fine.
 */
export async function ensureIndexes(): Promise<void> {
  const existing = new Set((await mongoose.connection.db!.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  for (const model of Object.values(models)) {
    if (!existing.has(model.collection.collectionName)) {
      await model.createCollection().catch((e: unknown) => {
        if (!/already exists/i.test(String((e as Error).message))) throw e;
      });
    }
    await model.createIndexes();
  }
}

/** One `ping` of the database over the connection pool; its time in ms (fails when there is no connection). */
export async function pingDatabase(): Promise<number> {
  const db = mongoose.connection.db;
  if (!db) throw new DatabaseUnavailableError('not connected to the database');
  const started = process.hrtime.bigint();
  await db.admin().command({ ping: 1 });
  return Number(process.hrtime.bigint() - started) / 1e6;
}

export async function disconnectDatabase(): Promise<void> {
  await mongoose.disconnect();
}

/** The database did not answer (a health probe missed, for example): answered as 503 `database_unavailable`. */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
}

const UNAVAILABLE_NAMES = new Set([
  'DatabaseUnavailableError',
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoTopologyClosedError',
  'MongoNotConnectedError',
  'MongoPoolClearedError',
  'PoolClearedOnNetworkError',
  'MongoPoolClosedError',
  'MongoWaitQueueTimeoutError',
  'MongoOperationTimeoutError',
]);

const NETWORK_CODES = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_STREAM_WRITE_AFTER_END', 'ERR_STREAM_DESTROYED']);

/** True when `e` (or an error it wraps) says the database could not be reached or did not answer in time. */
export function isDatabaseUnavailable(e: unknown): boolean {
  for (let x = e, depth = 0; x && typeof x === 'object' && depth < 8; x = (x as { cause?: unknown }).cause, depth++) {
    const err = x as { name?: string; message?: string; code?: unknown };
    if (err.name && UNAVAILABLE_NAMES.has(err.name)) return true;
    if (err.name === 'MongooseError' && /buffering timed out|before initial connection/i.test(err.message ?? '')) return true;
    if (err.name === 'MongoServerError' && err.code === 50) return true; // MaxTimeMSExpired
    // the driver lets a raw socket error through when it writes to a connection the server just closed
    // ("This socket has been ended by the other party", EPIPE): a network error of the driver's
    if (typeof err.code === 'string' && NETWORK_CODES.has(err.code) && /[\\/]mongodb[\\/]/.test((x as { stack?: string }).stack ?? '')) return true;
  }
  return false;
}
