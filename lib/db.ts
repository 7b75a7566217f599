/** One mongoose connection per process, with the indexes every model declares. */
import mongoose from 'mongoose';
import { models } from '../models';

export async function connectDatabase(uri: string, opts: { syncIndexes?: boolean } = {}): Promise<typeof mongoose> {
  mongoose.set('strictQuery', true);
  await mongoose.connect(uri, { serverSelectionTimeoutMS: 10_000, autoIndex: false });
  if (opts.syncIndexes !== false) await ensureIndexes();
  return mongoose;
}

/** createIndexes (never dropping) for every model: safe for several processes at once. */
export async function ensureIndexes(): Promise<void> {
  for (const model of Object.values(models)) {
    await model.createCollection().catch((e: unknown) => {
      if (!/already exists/i.test(String((e as Error).message))) throw e;
    });
    await model.createIndexes();
  }
}

export async function pingDatabase(): Promise<number> {
  const started = process.hrtime.bigint();
  await mongoose.connection.db!.admin().command({ ping: 1 });
  return Number(process.hrtime.bigint() - started) / 1e6;
}

export async function disconnectDatabase(): Promise<void> {
  await mongoose.disconnect();
}
