/**
 * Throw-away servers on free ports in a fresh temporary data folder (used by the test suite and the benchmark):
 *   - PostgreSQL + FerretDB, unless MONGODB_URI is set (then that server is used);
 *   - the Temporal dev server (headless, SQLite), unless TEMPORAL_ADDRESS is set;
 *   - the mail catcher, always.
 * They start in parallel. stop() may be called at any time, even during the start: it waits for the start to
 * settle (so that nothing is still writing into the folder), stops everything and deletes the folder.
 * At process exit, children still running are killed and the folder deleted, whatever the exit path.
 * A process that is SIGKILLed runs no exit hook, and `pg_ctl start` detaches PostgreSQL from us: so each folder
 * holds a marker naming its owner process, and every start first sweeps `<tmpdir>/csp-desk-*` folders whose
 * owner is dead (see sweepOrphans). Folders without the marker (e.g. `npm start`'s data/) are never touched.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFerretDB, type FerretDBHandle } from './ferretdb';
import { startMailCatcher, type MailCatcherHandle } from './mailcatcher';
import { freePort } from './ports';
import { startPostgres, type PostgresHandle } from './postgres';
import { isAlive, killAllSync, waitUntil } from './process';
import { startTemporalDev, type TemporalHandle } from './temporal';
import { redactCredentials } from '../lib/config';

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

/** Adds a database name to a mongodb:// URI that has none. */
export function withDatabase(uri: string, db: string): string {
  const u = new URL(uri);
  if (u.pathname === '' || u.pathname === '/') u.pathname = `/${db}`;
  return u.toString();
}

/** File in each ephemeral data folder naming its owner: `{ pid, started, kept }` (JSON). */
const OWNER_MARKER = '.csp-desk-owner.json';
const SWEEP_PREFIX = 'csp-desk-';

interface OwnerMarker {
  pid: number;
  /** Start time of `pid` (field 22 of /proc/PID/stat): tells the owner from a later process reusing its pid. */
  started: string;
  /** The folder is kept on purpose (logs): a sweep stops its leftover servers but does not delete it. */
  kept?: boolean;
}

/** Start time of a process in clock ticks since boot ('' when unknown: not Linux, or no such process). */
function processStart(pid: number): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function writeMarker(dataDir: string, kept: boolean): void {
  const marker: OwnerMarker = { pid: process.pid, started: processStart(process.pid), kept };
  const tmp = path.join(dataDir, `${OWNER_MARKER}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(marker) + '\n');
  fs.renameSync(tmp, path.join(dataDir, OWNER_MARKER)); // atomic: a concurrent sweep never reads half a marker
}

function ownerAlive(m: OwnerMarker): boolean {
  if (!isAlive(m.pid)) return false;
  const now = processStart(m.pid);
  return !m.started || !now || now === m.started;
}

/** Pids (other than ours) whose command line, working directory or an open file is inside `dir`. Linux only. */
function processesUsing(dir: string): number[] {
  const inside = (p: string) => p === dir || p.startsWith(`${dir}/`);
  const pids: number[] = [];
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return pids;
  }
  for (const e of entries) {
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      let uses = args.some((a) => inside(a) || a.includes(`${dir}/`));
      if (!uses) uses = inside(fs.readlinkSync(`/proc/${pid}/cwd`));
      if (!uses) uses = fs.readdirSync(`/proc/${pid}/fd`).some((fd) => inside(fs.readlinkSync(`/proc/${pid}/fd/${fd}`)));
      if (uses) pids.push(pid);
    } catch {
      /* gone, or not ours to inspect */
    }
  }
  return pids;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

/**
 * Cleans up after runs that died without their exit hook (SIGKILL, OOM): for each `<tmpdir>/csp-desk-*` folder
 * holding our marker whose owner process is dead, stops its PostgreSQL (SIGQUIT = immediate shutdown, to the
 * postmaster of postmaster.pid if it runs on that folder), SIGKILLs any other process still using the folder,
 * then deletes the folder (a folder kept on purpose only loses its marker). Never throws.
 */
export async function sweepOrphans(progress: (message: string) => void, tmpDir = os.tmpdir()): Promise<void> {
  let names: string[] = [];
  try {
    names = fs.readdirSync(tmpDir).filter((n) => n.startsWith(SWEEP_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = path.join(tmpDir, name);
    let marker: OwnerMarker;
    try {
      marker = JSON.parse(fs.readFileSync(path.join(dir, OWNER_MARKER), 'utf8')) as OwnerMarker;
      if (!Number.isInteger(marker.pid) || ownerAlive(marker)) continue;
    } catch {
      continue; // no marker (not ours, or still being created): leave it alone
    }
    try {
      const stopped: string[] = [];
      const pgdata = path.join(dir, 'postgres');
      let pgPid = NaN;
      try {
        pgPid = Number(fs.readFileSync(path.join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
      } catch {
        /* no PostgreSQL there */
      }
      const cmd = isAlive(pgPid) ? fs.readFileSync(`/proc/${pgPid}/cmdline`, 'utf8').split('\0') : [];
      if (/postgres|postmaster/.test(path.basename(cmd[0] ?? '')) && cmd.includes(pgdata)) {
        signal(pgPid, 'SIGQUIT');
        await waitUntil('PostgreSQL to exit', async () => !isAlive(pgPid), { timeoutMs: 5000, intervalMs: 100 }).catch(() => undefined);
        stopped.push(`PostgreSQL (pid ${pgPid})`);
      }
      const others = processesUsing(dir);
      if (others.length) {
        for (const pid of others) signal(pid, 'SIGKILL');
        await waitUntil('processes to exit', async () => others.every((p) => !isAlive(p)), { timeoutMs: 5000, intervalMs: 100 }).catch(
          () => undefined,
        );
        stopped.push(`process${others.length > 1 ? 'es' : ''} ${others.join(', ')}`);
      }
      const what = stopped.length ? `stopped ${stopped.join(' and ')}, ` : '';
      if (marker.kept) {
        fs.rmSync(path.join(dir, OWNER_MARKER), { force: true });
        if (what) progress(`orphan of dead pid ${marker.pid}: ${what}kept ${dir}`);
      } else {
        fs.rmSync(dir, { recursive: true, force: true });
        progress(`orphan of dead pid ${marker.pid}: ${what}deleted ${dir}`);
      }
    } catch (e) {
      progress(`could not clean up ${dir} (owner pid ${marker.pid} is dead): ${(e as Error).message}`);
    }
  }
}

/** Creates the data folder, starts the servers in it and returns at once; await `ready` for the servers. */
export function startEphemeralStack(opts: EphemeralStackOptions): EphemeralStart {
  const { progress } = opts;
  const env = opts.env ?? process.env;
  const durable = opts.durable ?? false;
  const mailLabel = opts.labels?.mail ?? ((smtp, http) => `mail catcher on smtp ${smtp}, http ${http}`);
  const pgLabel = opts.labels?.postgres ?? ((port) => `PostgreSQL on 127.0.0.1:${port}`);

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), opts.prefix));
  let keepData = !!opts.keepData;
  writeMarker(dataDir, keepData); // first thing: a sweep must never take this folder for an orphan
  const keep = () => {
    keepData = true;
    try {
      writeMarker(dataDir, true);
    } catch {
      /* best effort */
    }
  };
  fs.chmodSync(dataDir, 0o755); // the postgres user must reach <dataDir>/postgres
  const logsDir = path.join(dataDir, 'logs');
  fs.mkdirSync(logsDir, { recursive: true });
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
  // Servers start once earlier runs' orphans are gone (they may hold ports, memory, disk).
  const swept = sweepOrphans(progress);

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
    await swept;
    const [smtpPort, httpPort] = [await freePort(), await freePort()];
    servers.mail = await step(mailLabel(smtpPort, httpPort), () => startMailCatcher({ smtpPort, httpPort, dir: path.join(dataDir, 'mail') }));
    return servers.mail;
  })();

  const mongoP = (async () => {
    await swept;
    if (envMongo) {
      progress(`MongoDB from MONGODB_URI (${redactCredentials(envMongo)})`);
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
    await swept;
    if (envTemporal) {
      progress(`Temporal from TEMPORAL_ADDRESS (${envTemporal})`);
      return envTemporal;
    }
    const port = await freePort();
    servers.temporal = await step(`Temporal dev server on 127.0.0.1:${port}`, () =>
      startTemporalDev({ dbFile: path.join(dataDir, 'temporal.db'), port, uiPort: null, logFile: path.join(logsDir, 'temporal.log'), onRetry: progress, anotherPort: () => freePort() }),
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
        keep();
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
      keep();
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
