/**
 * Throw-away servers on free ports in a fresh temporary data folder (used by the test suite and the benchmark):
 *   - PostgreSQL + FerretDB, unless MONGODB_URI is set (then that server is used);
 *   - the Temporal dev server (headless, SQLite), unless TEMPORAL_ADDRESS is set;
 *   - the mail catcher, always.
 * They start in parallel. stop() may be called at any time, even during the start: it waits for the start to
 * settle (so that nothing is still writing into the folder), stops everything and deletes the folder.
 * At process exit, children still running are killed and the folder deleted, whatever the exit path.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFerretDB, type FerretDBHandle } from './ferretdb';
import { startMailCatcher, type MailCatcherHandle } from './mailcatcher';
import { freePort } from './ports';
import { startPostgres, type PostgresHandle } from './postgres';
import { killAllSync } from './process';
import { startTemporalDev, type TemporalHandle } from './temporal';

export interface EphemeralStackOptions {
  /** Prefix of the temporary folder's name, e.g. `csp-desk-test-`. */
  prefix: string;
  /** Database name in `mongoUri` (added to MONGODB_URI when it names none). */
  database: string;
  /** Progress messages, one line each, without newline. */
  progress: (message: string) => void;
  /** PostgreSQL with fsync on (default false: fsync, synchronous_commit and full_page_writes off). */
  durable?: boolean;
  /** Keep the data folder (logs) when stopped or at exit. It is also kept when the start or the stop fails. */
  keepData?: boolean;
  /** Where MONGODB_URI and TEMPORAL_ADDRESS are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Wording of the progress lines of the mail catcher and PostgreSQL (each followed by ` ok (N s)`). */
  labels?: {
    mail?: (smtpPort: number, httpPort: number) => string;
    postgres?: (port: number, durable: boolean) => string;
  };
}

export interface EphemeralStack {
  /** MongoDB URI with the database name. */
  mongoUri: string;
  /** host:port of the Temporal frontend. */
  temporalAddress: string;
  /** `smtp://127.0.0.1:PORT` of the mail catcher. */
  smtpUrl: string;
  /** `http://127.0.0.1:PORT` of the mail catcher's web UI / API. */
  mailWebUrl: string;
  /** The temporary data folder. */
  dataDir: string;
  /** `<dataDir>/logs`. */
  logsDir: string;
  /** Which servers were started here (false = taken from the environment). */
  embedded: { mongo: boolean; temporal: boolean };
  durable: boolean;
  /** The servers started here. */
  servers: { postgres?: PostgresHandle; ferretdb?: FerretDBHandle; temporal?: TemporalHandle; mail: MailCatcherHandle };
  /** See EphemeralStart.stop. */
  stop(): Promise<void>;
}

export interface EphemeralStart {
  dataDir: string;
  logsDir: string;
  /** Resolves once every server answers. On failure, what started is stopped and the folder kept (logs). */
  ready: Promise<EphemeralStack>;
  /**
   * Waits for the start to settle, stops every server started and deletes the data folder (unless kept).
   * Idempotent; never rejects (failures are reported through `progress`, and then the folder is kept).
   */
  stop(): Promise<void>;
}

/** A mongodb:// URI without its credentials, for printing. */
export const redactUri = (uri: string): string => uri.replace(/\/\/[^@/]*@/, '//***@');

/** Adds a database name to a mongodb:// URI that has none. */
export function withDatabase(uri: string, db: string): string {
  const u = new URL(uri);
  if (u.pathname === '' || u.pathname === '/') u.pathname = `/${db}`;
  return u.toString();
}

/** Creates the data folder, starts the servers in it and returns at once; await `ready` for the servers. */
export function startEphemeralStack(opts: EphemeralStackOptions): EphemeralStart {
  const { progress } = opts;
  const env = opts.env ?? process.env;
  const durable = opts.durable ?? false;
  const mailLabel = opts.labels?.mail ?? ((smtp, http) => `mail catcher on smtp ${smtp}, http ${http}`);
  const pgLabel = opts.labels?.postgres ?? ((port) => `PostgreSQL on 127.0.0.1:${port}`);

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), opts.prefix));
  fs.chmodSync(dataDir, 0o755); // the postgres user must reach <dataDir>/postgres
  const logsDir = path.join(dataDir, 'logs');
  fs.mkdirSync(logsDir, { recursive: true });
  let keepData = !!opts.keepData;
  const removeData = () => {
    if (!keepData) fs.rmSync(dataDir, { recursive: true, force: true });
  };
  const onExit = () => {
    killAllSync();
    try {
      removeData();
    } catch {
      /* best effort */
    }
  };
  process.on('exit', onExit);
  progress(`data and logs in ${dataDir}`);

  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const r = await fn();
    progress(`${what} ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return r;
  };

  const servers: Partial<EphemeralStack['servers']> = {};
  const envMongo = env.MONGODB_URI;
  const envTemporal = env.TEMPORAL_ADDRESS;

  const mailP = (async () => {
    const [smtpPort, httpPort] = [await freePort(), await freePort()];
    servers.mail = await step(mailLabel(smtpPort, httpPort), () => startMailCatcher({ smtpPort, httpPort, dir: path.join(dataDir, 'mail') }));
    return servers.mail;
  })();

  const mongoP = (async () => {
    if (envMongo) {
      progress(`MongoDB from MONGODB_URI (${redactUri(envMongo)})`);
      return withDatabase(envMongo, opts.database);
    }
    const [pgPort, ferretPort] = [await freePort(), await freePort()];
    const pg = (servers.postgres = await step(pgLabel(pgPort, durable), () =>
      startPostgres({ dataDir, port: pgPort, durable, logFile: path.join(logsDir, 'postgres.log') }),
    ));
    servers.ferretdb = await step(`FerretDB on 127.0.0.1:${ferretPort}`, () =>
      startFerretDB({ postgresUrl: pg.url, port: ferretPort, logFile: path.join(logsDir, 'ferretdb.log') }),
    );
    return `${servers.ferretdb.uri}${opts.database}`;
  })();

  const temporalP = (async () => {
    if (envTemporal) {
      progress(`Temporal from TEMPORAL_ADDRESS (${envTemporal})`);
      return envTemporal;
    }
    const port = await freePort();
    servers.temporal = await step(`Temporal dev server on 127.0.0.1:${port}`, () =>
      startTemporalDev({ dbFile: path.join(dataDir, 'temporal.db'), port, uiPort: null, logFile: path.join(logsDir, 'temporal.log') }),
    );
    return servers.temporal.address;
  })();

  const settled = Promise.allSettled([mailP, mongoP, temporalP]);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await settled; // servers still starting would write into the folder after it is gone
      const errors: string[] = [];
      const attempt = async (what: string, fn?: () => Promise<void>) => {
        if (!fn) return;
        try {
          await fn();
        } catch (e) {
          errors.push(`${what}: ${(e as Error).message}`);
        }
      };
      await Promise.all([attempt('temporal', servers.temporal?.stop), attempt('ferretdb', servers.ferretdb?.stop)]);
      await attempt('postgres', servers.postgres?.stop);
      await attempt('mail catcher', servers.mail?.stop);
      if (errors.length) {
        keepData = true;
        progress(`stop: ${errors.join('; ')} (logs kept in ${logsDir})`);
        return; // the exit hook still kills what may be left
      }
      try {
        removeData();
      } catch (e) {
        progress(`could not delete ${dataDir}: ${(e as Error).message}`);
      }
      process.off('exit', onExit);
    })();
    return stopping;
  };

  const ready = (async (): Promise<EphemeralStack> => {
    const results = await settled;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      keepData = true;
      await stop();
      progress(`start failed; logs kept in ${logsDir}`);
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
      dataDir,
      logsDir,
      embedded: { mongo: !envMongo, temporal: !envTemporal },
      durable,
      servers: { ...servers, mail },
      stop,
    };
  })();

  return { dataDir, logsDir, ready, stop };
}
