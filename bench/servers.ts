/**
 * The servers of the benchmark, started like the test stack does (stack/ephemeral.ts), in a fresh temporary
 * data folder that is deleted afterwards:
 *   - PostgreSQL + FerretDB, unless MONGODB_URI is set (then that server is used);
 *   - the Temporal dev server (headless, SQLite), unless TEMPORAL_ADDRESS is set;
 *   - the mail catcher, always (the worker's activities send real SMTP).
 * Children are also killed (and the folder removed) at process exit, whatever the exit path.
 */
import path from 'node:path';
import { startEphemeralStack } from '../stack/ephemeral';
import { pgBinDir } from '../stack/paths';
import { run } from '../stack/process';
import { temporalCliPath } from '../stack/temporal';


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

async function firstLine(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    return (await run(cmd, args, { timeoutMs: 10_000 })).trim().split('\n')[0];
  } catch {
    return undefined;
  }
}

/**
 * Starts the servers. `registerStop` receives the stop function before anything starts, so that a Ctrl-C during
 * the start stops (once they are up) the servers already starting and deletes the folder.
 */
export async function startBenchServers(progress: (msg: string) => void, registerStop: (stop: () => Promise<void>) => void): Promise<BenchServers> {
  const durable = process.env.BENCH_DURABLE === '1';
  const s = startEphemeralStack({
    prefix: 'csp-desk-bench-',
    database: DEFAULT_DB,
    progress,
    durable,
    keepData: !!process.env.KEEP_BENCH_DATA,
    labels: {
      mail: (smtpPort) => `mail catcher on smtp ${smtpPort}`,
      postgres: (port) => `PostgreSQL on 127.0.0.1:${port}${durable ? '' : ' (fsync off)'}`,
    },
  });
  registerStop(s.stop);
  const st = await s.ready;

  const versions: BenchServers['versions'] = {};
  const [postgres, temporalCli] = await Promise.all([
    st.embedded.mongo ? firstLine(path.join(pgBinDir(), 'postgres'), ['--version']) : undefined,
    st.embedded.temporal ? firstLine(temporalCliPath, ['--version']) : undefined,
  ]);
  if (postgres !== undefined) versions.postgres = postgres;
  if (temporalCli !== undefined) versions.temporalCli = temporalCli;

  return {
    mongoUri: st.mongoUri,
    temporalAddress: st.temporalAddress,
    smtpUrl: st.smtpUrl,
    dataDir: st.dataDir,
    logsDir: st.logsDir,
    embedded: st.embedded,
    durable,
    versions,
    stop: st.stop,
  };
}
