/**
 * The servers of the benchmark, started like the test stack does, in a fresh temporary data folder that is
 * deleted afterwards:
 *   - PostgreSQL + FerretDB, unless MONGODB_URI is set (then that server is used);
 *   - the Temporal dev server (headless, SQLite), unless TEMPORAL_ADDRESS is set;
 *   - the mail catcher, always (the worker's activities send real SMTP).
 * Children are also killed (and the folder removed) at process exit, whatever the exit path.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFerretDB, type FerretDBHandle } from '../stack/ferretdb';
import { startMailCatcher, type MailCatcherHandle } from '../stack/mailcatcher';
import { pgBinDir } from '../stack/paths';
import { freePort } from '../stack/ports';
import { startPostgres, type PostgresHandle } from '../stack/postgres';
import { killAllSync, run } from '../stack/process';
import { startTemporalDev, temporalCliPath, type TemporalHandle } from '../stack/temporal';

export interface BenchServers {
  /** MongoDB URI with a database name. */
  mongoUri: string;
  /** host:port of the Temporal frontend. */
  temporalAddress: string;
  /** `smtp://127.0.0.1:PORT` of the mail catcher. */
  smtpUrl: string;
  /** The temporary data folder (logs in `<dataDir>/logs`). */
  dataDir: string;
  logsDir: string;
  /** Which servers were started here (false = taken from the environment). */
  embedded: { mongo: boolean; temporal: boolean };
  /** PostgreSQL runs with fsync off (as in the test stack) unless BENCH_DURABLE=1. */
  durable: boolean;
  /** Versions of what was started, for the report. */
  versions: { postgres?: string; temporalCli?: string };
  /** Stops what was started and deletes the data folder. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_DB = 'csp-desk-bench';

/** Adds a database name to a mongodb:// URI that has none. */
function withDatabase(uri: string, db: string): string {
  const u = new URL(uri);
  if (u.pathname === '' || u.pathname === '/') u.pathname = `/${db}`;
  return u.toString();
}

/** A mongodb:// URI without its credentials, for printing. */
export const redactUri = (uri: string): string => uri.replace(/\/\/[^@/]*@/, '//***@');

async function firstLine(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    return (await run(cmd, args, { timeoutMs: 10_000 })).trim().split('\n')[0];
  } catch {
    return undefined;
  }
}

export async function startBenchServers(progress: (msg: string) => void): Promise<BenchServers> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-desk-bench-'));
  fs.chmodSync(dataDir, 0o755); // the postgres user must reach <dataDir>/postgres
  const logsDir = path.join(dataDir, 'logs');
  fs.mkdirSync(logsDir, { recursive: true });
  let keepData = !!process.env.KEEP_BENCH_DATA;
  const removeData = () => {
    if (!keepData) fs.rmSync(dataDir, { recursive: true, force: true });
  };
  process.on('exit', () => {
    killAllSync();
    try {
      removeData();
    } catch {
      /* best effort */
    }
  });
  progress(`data and logs in ${dataDir}`);

  const handles: { pg?: PostgresHandle; ferret?: FerretDBHandle; temporal?: TemporalHandle; mail?: MailCatcherHandle } = {};
  const envMongo = process.env.MONGODB_URI;
  const envTemporal = process.env.TEMPORAL_ADDRESS;
  const durable = process.env.BENCH_DURABLE === '1';
  const versions: BenchServers['versions'] = {};

  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const r = await fn();
    progress(`${what} ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return r;
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const errors: string[] = [];
      const attempt = async (what: string, fn?: () => Promise<void>) => {
        if (!fn) return;
        try {
          await fn();
        } catch (e) {
          errors.push(`${what}: ${(e as Error).message}`);
        }
      };
      await Promise.all([attempt('temporal', handles.temporal?.stop), attempt('ferretdb', handles.ferret?.stop)]);
      await attempt('postgres', handles.pg?.stop);
      await attempt('mail catcher', handles.mail?.stop);
      if (errors.length) {
        keepData = true;
        progress(`stop: ${errors.join('; ')} (logs kept in ${logsDir})`);
      }
      removeData();
    })();
    return stopping;
  };

  const mailP = (async () => {
    const [smtpPort, httpPort] = [await freePort(), await freePort()];
    handles.mail = await step(`mail catcher on smtp ${smtpPort}`, () => startMailCatcher({ smtpPort, httpPort, dir: path.join(dataDir, 'mail') }));
    return handles.mail;
  })();

  const mongoP = (async () => {
    if (envMongo) {
      progress(`MongoDB from MONGODB_URI (${redactUri(envMongo)})`);
      return withDatabase(envMongo, DEFAULT_DB);
    }
    const [pgPort, ferretPort] = [await freePort(), await freePort()];
    handles.pg = await step(`PostgreSQL on 127.0.0.1:${pgPort}${durable ? '' : ' (fsync off)'}`, () =>
      startPostgres({ dataDir, port: pgPort, durable, logFile: path.join(logsDir, 'postgres.log') }),
    );
    versions.postgres = await firstLine(path.join(pgBinDir(), 'postgres'), ['--version']);
    handles.ferret = await step(`FerretDB on 127.0.0.1:${ferretPort}`, () =>
      startFerretDB({ postgresUrl: handles.pg!.url, port: ferretPort, logFile: path.join(logsDir, 'ferretdb.log') }),
    );
    return `${handles.ferret.uri}${DEFAULT_DB}`;
  })();

  const temporalP = (async () => {
    if (envTemporal) {
      progress(`Temporal from TEMPORAL_ADDRESS (${envTemporal})`);
      return envTemporal;
    }
    const port = await freePort();
    versions.temporalCli = await firstLine(temporalCliPath, ['--version']);
    handles.temporal = await step(`Temporal dev server on 127.0.0.1:${port}`, () =>
      startTemporalDev({ dbFile: path.join(dataDir, 'temporal.db'), port, uiPort: null, logFile: path.join(logsDir, 'temporal.log') }),
    );
    return handles.temporal.address;
  })();

  const results = await Promise.allSettled([mailP, mongoP, temporalP]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    keepData = true;
    await stop();
    progress(`start failed; logs kept in ${logsDir}`);
    throw failed.reason;
  }
  const mail = (results[0] as PromiseFulfilledResult<MailCatcherHandle>).value;
  return {
    mongoUri: (results[1] as PromiseFulfilledResult<string>).value,
    temporalAddress: (results[2] as PromiseFulfilledResult<string>).value,
    smtpUrl: mail.smtpUrl,
    dataDir,
    logsDir,
    embedded: { mongo: !envMongo, temporal: !envTemporal },
    durable,
    versions,
    stop,
  };
}
