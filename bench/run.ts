/**
 * `npm run bench`: the whole service on real servers (PostgreSQL + FerretDB, the Temporal dev server and the
 * mail catcher, started here unless MONGODB_URI / TEMPORAL_ADDRESS are set), the worker and the API in this
 * process, and two comparisons, each against a yardstick on the same servers at the same concurrency:
 *
 *   1. purchases (POST /customers/{c}/orders, then the waitForStage('confirmed') update on the order's
 *      workflow: recorded, paid, provisioned, confirmation email sent) per second, against skeleton
 *      workflows (as many activities as an order's placement, each a noop) per second;
 *   2. GET /orders/{id} requests per second (auth lookup, order + timeline reads, response validation off as
 *      in production), against raw `Order.findById(id).lean()` per second, and against the same read behind a
 *      bare Express route on the same HTTP server (bench/bare-express.ts: what HTTP and Express cost alone).
 *
 * The purchases go through the real API, as users place orders; the skeletons are started with the client.
 * Progress goes to stderr; the summary to stdout as aligned text, then one JSON line `{"bench":"csp-desk",...}`.
 * Settings (flag or environment variable):
 *   --n=N / BENCH_N                        workflows of each kind measured (default 150)
 *   --concurrency=C / BENCH_CONCURRENCY    in flight at once, in both parts (default 20)
 *   --warmup=W / BENCH_WARMUP              workflows of each kind run before measuring (default 10)
 *   --read-seconds=S / BENCH_READ_SECONDS  measured seconds of each read load (default 10)
 *   --rounds=R / BENCH_ROUNDS              each comparison runs in R alternating rounds (default 3), so that a
 *                                          change of pace on the machine weighs on both sides alike
 *   --read-rounds=Q / BENCH_READ_ROUNDS    ... but the reads of section 2 in Q rounds (default 5: 2 s each)
 *   --memory-n=M / BENCH_MEMORY_N          3. the worker's memory per open workflow: M orders waiting on their
 *                                          windows vs M skeletons waiting on a timer (default 500; 0 skips it)
 *   BENCH_LOG_LEVEL                        level of the service's logs, written to <data>/logs/app.log (default info)
 *   BENCH_DURABLE=1                        PostgreSQL with fsync on (default off, as in the test stack)
 *   KEEP_BENCH_DATA=1                      keep the temporary data folder (logs) afterwards
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import pino from 'pino';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { bundleWorkflows, createApi, createAppServer, createWorker } from '../composition/root';
import { orderWorkflowId, waitForStageUpdate } from '../contracts/orders';
import { connectDatabase, disconnectDatabase } from '../lib/db';
import { createLogger, type Logger } from '../lib/logger';
import { createMailer, type Mailer } from '../lib/mailer';
import { connectClient, installRuntimeLogger, NativeConnection } from '../lib/temporal';
import { Order } from '../models';
import { seedCatalog } from '../services/catalog';
import { createCustomer } from '../services/customers';
import { ensurePartner, ensureUser, issueToken } from '../services/users';
import { PLACEMENT_ACTIVITIES, type skeletonWorkflow } from './workflows';
import { httpClient, type HttpClient } from './http';
import { mergeResults, runLoad, type LoadResult } from './load';
import { ROOT } from '../stack/paths';
import { startBenchServers, type BenchServers } from './servers';
import { redactCredentials } from '../lib/config';
import { measureOpenWorkflowMemory, memoryLines, type MemoryResult } from './memory';
import { licensingLines, runLicensingBench, type LicensingBenchResult } from './licensing';
import { BENCH_SUPPORT_SETTINGS, runSupportBench } from './support';
import { startBareExpress } from './bare-express';

const T0 = Date.now();
const LOAD_AT_START = Math.round(os.loadavg()[0] * 100) / 100;
const secs = (ms: number) => (ms / 1000).toFixed(1);
function progress(msg: string): void {
  process.stderr.write(`[bench ${secs(Date.now() - T0).padStart(5)} s] ${msg}\n`);
}

// ---------------------------------------------------------------- settings

class SettingError extends Error {}

function setting(flag: string, env: string, fallback: number, min: number): number {
  const prefix = `--${flag}=`;
  const args = process.argv.slice(2);
  let raw: string | undefined = args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
  const at = args.indexOf(`--${flag}`);
  if (raw === undefined && at >= 0) raw = args[at + 1];
  raw ??= process.env[env];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new SettingError(`--${flag} / ${env} must be an integer >= ${min} (got ${JSON.stringify(raw)})`);
  return v;
}

const PRODUCT_ID = 'windows-server-standard-sub';
const MARKET = 'US';
const CUSTOMERS = 10;
/** One purchase or skeleton that has not finished after this long counts as an error. */
const TASK_TIMEOUT_MS = 60_000;

// ---------------------------------------------------------------- shutdown

const closers: { name: string; fn: () => Promise<void> | void }[] = [];
let aborted = false;
let stopping: Promise<void> | undefined;

/** While stopping, calls still in flight fail as their clients close: that is expected, not a crash. */
function ignoreLateErrors(): void {
  const ignore = () => undefined;
  process.on('uncaughtException', ignore);
  process.on('unhandledRejection', ignore);
}

function closeAll(): Promise<void> {
  stopping ??= (async () => {
    for (const c of closers.reverse()) {
      try {
        await c.fn();
      } catch (e) {
        progress(`could not stop ${c.name} cleanly: ${(e as Error).message}`);
      }
    }
  })();
  return stopping;
}

function onSignal(sig: NodeJS.Signals): void {
  if (aborted) {
    progress(`${sig} again: exiting now`);
    process.exit(130);
  }
  aborted = true;
  progress(`${sig}: stopping`);
  ignoreLateErrors();
  const hard = setTimeout(() => process.exit(130), 30_000);
  hard.unref();
  void closeAll().finally(() => process.exit(130));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------- the service, in-process

interface Service {
  servers: BenchServers;
  log: Logger;
  logFile: string;
  apiClient: Client;
  benchClient: Client;
  taskQueue: string;
  baseUrl: string;
  api: HttpClient;
  partnerId: string;
  customers: string[];
  token: string;
  mailer: Mailer;
  workerError: () => unknown;
}

async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const r = await fn();
  progress(`${what} ok (${secs(Date.now() - t0)} s)`);
  return r;
}

async function startService(concurrency: number): Promise<Service> {
  const servers = await startBenchServers(progress, (stop) => closers.push({ name: 'the servers', fn: stop }));
  if (aborted) throw new Error('aborted');

  // The service's logs (API requests, activities, SDK warnings) in a file: createLogger's JSON lines (the request
  // context's id on each line, as in production), written synchronously as pino writes to stdout.
  const logFile = path.join(servers.logsDir, 'app.log');
  const log: Logger = createLogger('bench', process.env.BENCH_LOG_LEVEL ?? 'info', pino.destination({ dest: logFile, sync: true }));
  installRuntimeLogger(log.child({ component: 'sdk' }), 'WARN', 'WARN');

  await step('database connected, indexes, catalog', async () => {
    await connectDatabase(servers.mongoUri);
    closers.push({ name: 'the database connection', fn: disconnectDatabase });
    await seedCatalog();
  });

  const taskQueue = `csp-desk-bench-${crypto.randomBytes(4).toString('hex')}`;
  const apiClient = await connectClient(servers.temporalAddress, 'default');
  closers.push({ name: 'the API Temporal client', fn: () => apiClient.connection.close() });
  // the benchmark's own calls (updates, skeleton starts) go through a connection of their own
  const benchClient = await connectClient(servers.temporalAddress, 'default');
  closers.push({ name: 'the bench Temporal client', fn: () => benchClient.connection.close() });
  const mailer: Mailer = createMailer(servers.smtpUrl, 'csp-desk bench <no-reply@csp-desk.bench>');
  closers.push({ name: 'the mailer', fn: () => mailer.close() });

  const workflowBundle = await step('workflow bundle', () =>
    bundleWorkflows(require.resolve('./workflows')),
  );
  const connection = await NativeConnection.connect({ address: servers.temporalAddress });
  closers.push({ name: 'the worker connection', fn: () => connection.close() });
  const worker: Worker = await createWorker({ connection, namespace: 'default', taskQueue, mailer, log: log.child({ component: 'activities' }), publicBaseUrl: 'http://csp-desk.bench', workflowBundle, extraActivities: { noop: async () => undefined } });
  let workerFailure: unknown;
  const running = worker.run().catch((e: unknown) => {
    workerFailure = e;
    progress(`the worker stopped: ${(e as Error).message}`);
  });
  closers.push({
    name: 'the worker',
    fn: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await withTimeout(running, 20_000, 'worker shutdown');
    },
  });

  const app = createApi({ client: apiClient, mailer, log: log.child({ component: 'api' }), taskQueue, reminderDaysBeforeClose: 7, support: BENCH_SUPPORT_SETTINGS });
  const server = createAppServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push({
    name: 'the API',
    fn: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  progress(`worker on task queue ${taskQueue}, API on ${baseUrl}`);

  const runTag = crypto.randomBytes(4).toString('hex');
  const partnerId = `bench-${runTag}`;
  const { customers, token } = await step('partner, admin-agent token, customers', async () => {
    await ensurePartner({ id: partnerId, name: 'Bench Partner', email: `billing@${partnerId}.example` });
    const user = await ensureUser({ name: 'Bench admin agent', email: `admin-agent@${partnerId}.example`, role: 'admin-agent', partnerId });
    const token = await issueToken(user._id, 'bench');
    const customers: string[] = [];
    for (let i = 0; i < CUSTOMERS; i++) {
      const c = await createCustomer(partnerId, { name: `Bench Customer ${runTag} ${i}`, tenantId: crypto.randomUUID(), domain: `b${runTag}c${i}.onmicrosoft.com`, market: MARKET });
      customers.push(c._id);
    }
    return { customers, token };
  });
  const api = httpClient(baseUrl, token, concurrency);
  closers.push({ name: 'the HTTP client', fn: () => api.close() });

  return { servers, log, logFile, apiClient, benchClient, taskQueue, baseUrl, api, partnerId, customers, token, mailer, workerError: () => workerFailure };
}

// ---------------------------------------------------------------- facts

interface Facts {
  cores: number;
  cpu: string;
  memGiB: number;
  node: string;
  platform: string;
  /** 1-minute load average when the run started (other work on the machine skews the figures) */
  loadAvgAtStart: number;
  database: { backend: string; embedded: boolean; version: string; postgres: string | null; fsync: boolean | null; uri: string | null };
  temporal: { server: string; embedded: boolean; version: string; persistence: string | null; address: string | null };
}

/** The FerretDB version scripts/ferretdb/go.mod requires (what `npm run setup` builds). */
function pinnedFerretDB(): string | undefined {
  try {
    return /github\.com\/FerretDB\/FerretDB (v\S+)/.exec(fs.readFileSync(path.join(ROOT, 'scripts', 'ferretdb', 'go.mod'), 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

async function facts(s: Service): Promise<Facts> {
  const cpus = os.cpus();
  let dbVersion = 'unknown';
  let ferret: string | undefined;
  try {
    const info = (await mongoose.connection.db!.admin().command({ buildInfo: 1 })) as Record<string, unknown>;
    dbVersion = String(info.version ?? 'unknown');
    if ('ferretdbVersion' in info) ferret = String(info.ferretdbVersion);
    // the embedded-library build carries no version of its own: take the one scripts/ferretdb pins
    if (ferret === 'unknown' || ferret === '') ferret = pinnedFerretDB() ?? 'unknown';
  } catch {
    /* keep unknown */
  }
  let temporalVersion = 'unknown';
  try {
    const info = await s.benchClient.connection.workflowService.getSystemInfo({});
    temporalVersion = info.serverVersion ?? 'unknown';
  } catch {
    /* keep unknown */
  }
  const embeddedDb = s.servers.embedded.mongo;
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAvgAtStart: LOAD_AT_START,
    database: {
      backend: embeddedDb ? 'FerretDB/PostgreSQL' : ferret ? 'external FerretDB (MONGODB_URI)' : 'external MongoDB (MONGODB_URI)',
      embedded: embeddedDb,
      version: ferret ? `FerretDB ${ferret} (wire ${dbVersion})` : `MongoDB ${dbVersion}`,
      postgres: embeddedDb ? (s.servers.versions.postgres ?? 'unknown') : null,
      fsync: embeddedDb ? s.servers.durable : null,
      uri: embeddedDb ? null : redactCredentials(s.servers.mongoUri),
    },
    temporal: {
      server: s.servers.embedded.temporal ? 'Temporal dev server (temporal server start-dev)' : 'external Temporal (TEMPORAL_ADDRESS)',
      embedded: s.servers.embedded.temporal,
      version: s.servers.versions.temporalCli ?? `server ${temporalVersion}`,
      persistence: s.servers.embedded.temporal ? 'SQLite file' : null,
      address: s.servers.embedded.temporal ? null : s.servers.temporalAddress,
    },
  };
}

interface LogFindings {
  warn: number;
  error: number;
  http5xx: number;
  messages: { level: string; msg: string; count: number }[];
}

/** The size of a file (0 when absent): where its findings start. */
function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** Warnings and errors in a JSON-lines log (pino, Temporal or FerretDB) written since byte `since`, by message. */
function logFindings(file: string, since: number): LogFindings {
  const out: LogFindings = { warn: 0, error: 0, http5xx: 0, messages: [] };
  let text = '';
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const len = Math.max(0, fs.fstatSync(fd).size - since);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, since);
      text = buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return out;
  }
  const byMsg = new Map<string, { level: string; msg: string; count: number }>();
  for (const line of text.split('\n')) {
    if (!/"level":"(warn|error|fatal)"/i.test(line) && !/"status":5\d\d/.test(line)) continue;
    let entry: { level?: string; msg?: string; status?: number; err?: { message?: string }; error?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    if (typeof entry.status === 'number' && entry.status >= 500) out.http5xx++;
    const level = String(entry.level ?? '?').toLowerCase();
    if (level === 'warn') out.warn++;
    else if (level === 'error' || level === 'fatal') out.error++;
    else continue;
    let msg = String(entry.msg ?? '');
    if (msg.startsWith('Response header')) continue; // FerretDB: the message line that follows says what failed
    const errmsg = /"errmsg": "((?:[^"\\]|\\.)*)"/.exec(msg);
    if (errmsg) msg = `error reply: ${errmsg[1]}`;
    const detail = entry.err?.message ?? entry.error;
    msg = `${msg}${detail ? `: ${detail}` : ''}`.replace(/\s+/g, ' ').slice(0, 200);
    const key = `${level} ${msg}`;
    const m = byMsg.get(key) ?? { level, msg, count: 0 };
    m.count++;
    byMsg.set(key, m);
  }
  out.messages = [...byMsg.values()].sort((a, b) => b.count - a.count).slice(0, 6);
  return out;
}

// ---------------------------------------------------------------- report

const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');

function row(name: string, r: LoadResult): string {
  const l = r.latency;
  const parts = r.partsPerSec.length > 1 ? `  ${r.partsPerSec.map(f1).join(' / ')}` : '';
  return `  ${name.padEnd(44)}${f2(r.perSec).padStart(10)}${f1(l.p50).padStart(10)}${f1(l.p95).padStart(10)}${f1(l.p99).padStart(10)}${String(r.errors).padStart(8)}${String(r.ok).padStart(8)}${parts}`;
}

function sub(name: string, lat: LoadResult['latency']): string {
  return `  ${name.padEnd(44)}${''.padStart(10)}${f1(lat.p50).padStart(10)}${f1(lat.p95).padStart(10)}${f1(lat.p99).padStart(10)}`;
}

const slim = (r: LoadResult) => ({
  perSec: r.perSec,
  roundsPerSec: r.partsPerSec,
  ok: r.ok,
  errors: r.errors,
  elapsedMs: r.elapsedMs,
  latencyMs: r.latency,
  ...(Object.keys(r.marks).length ? { marksMs: r.marks } : {}),
  ...(r.errorSamples.length ? { errorSamples: r.errorSamples } : {}),
});

let clockTicks: number | undefined;
/**
 * The whole machine's busy CPU time so far, µs: every process on every core (this one, FerretDB, PostgreSQL, the
 * Temporal server, the mail catcher, anything else), from /proc/stat's first line (user, nice, system, irq, softirq,
 * steal), in clock ticks (`getconf CLK_TCK`, 100 on Linux). NaN where there is no /proc/stat.
 */
function hostBusyMicros(): number {
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f;
    return ((user + nice + system + irq + softirq + steal) * 1e6) / clockTicks;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  const n = setting('n', 'BENCH_N', 150, 1);
  const concurrency = setting('concurrency', 'BENCH_CONCURRENCY', 20, 1);
  const warmup = setting('warmup', 'BENCH_WARMUP', 10, 0);
  const readSeconds = setting('read-seconds', 'BENCH_READ_SECONDS', 10, 1);
  const rounds = setting('rounds', 'BENCH_ROUNDS', 3, 1);
  const readRounds = setting('read-rounds', 'BENCH_READ_ROUNDS', 5, 1);
  const memoryN = setting('memory-n', 'BENCH_MEMORY_N', 500, 0);
  const readWarmupSeconds = 2;
  progress(`N=${n} each, concurrency ${concurrency}, warm-up ${warmup} each, reads ${readSeconds} s each, in ${rounds} alternating rounds (reads in ${readRounds})`);

  const s = await startService(concurrency);
  const machine = await facts(s);
  // warnings and errors the servers log from here on are reported (start-up noise is not)
  const logs: Record<string, { file: string; since: number }> = { service: { file: s.logFile, since: 0 } };
  if (s.servers.embedded.temporal) logs.temporal = { file: path.join(s.servers.logsDir, 'temporal.log'), since: 0 };
  if (s.servers.embedded.mongo) logs.ferretdb = { file: path.join(s.servers.logsDir, 'ferretdb.log'), since: 0 };
  for (const l of Object.values(logs)) l.since = sizeOf(l.file);
  const checkWorker = () => {
    if (s.workerError()) throw new Error(`the worker stopped: ${(s.workerError() as Error).message}`);
    if (aborted) throw new Error('aborted');
  };
  const load = (label: string, o: { count?: number; durationMs?: number; quiet?: boolean }, task: Parameters<typeof runLoad>[1]) =>
    runLoad({ label, concurrency, count: o.count, durationMs: o.durationMs, progress, progressEveryMs: o.quiet ? 0 : 2000, aborted: () => aborted || !!s.workerError() }, task);

  // ---- 1. purchases vs skeletons
  const runTag = crypto.randomBytes(3).toString('hex');
  const orderIds: string[] = [];
  const purchase =
    (phase: string) =>
    async (i: number, mark: (name: string) => void): Promise<void> => {
      const customer = s.customers[i % s.customers.length];
      const order = await withTimeout(
        s.api.json<{ id: string }>('POST', `/customers/${customer}/orders`, 201, {
          headers: { 'idempotency-key': `bench-${runTag}-${phase}-${i}` },
          body: { productId: PRODUCT_ID, quantity: 1 },
        }),
        TASK_TIMEOUT_MS,
        'POST /customers/{c}/orders',
      );
      mark('post');
      orderIds.push(order.id);
      const state = await withTimeout(
        s.benchClient.workflow.getHandle(orderWorkflowId(order.id)).executeUpdate(waitForStageUpdate, { args: ['confirmed'] }),
        TASK_TIMEOUT_MS,
        `waitForStage('confirmed') of order ${order.id}`,
      );
      if (state.stage !== 'confirmed') throw new Error(`order ${order.id} stopped at stage ${state.stage} (status ${state.status})`);
    };
  const skeleton =
    (phase: string) =>
    async (i: number, mark: (name: string) => void): Promise<void> => {
      const handle = await s.benchClient.workflow.start<typeof skeletonWorkflow>('skeletonWorkflow', {
        taskQueue: s.taskQueue,
        workflowId: `bench-skeleton-${runTag}-${phase}-${i}`,
      });
      mark('start');
      await withTimeout(handle.result(), TASK_TIMEOUT_MS, `skeleton ${handle.workflowId}`);
    };

  if (warmup > 0) {
    progress(`warm-up: ${warmup} skeletons, ${warmup} purchases`);
    const ws = await load('warm-up skeletons', { count: warmup, quiet: true }, skeleton('warm'));
    const wp = await load('warm-up purchases', { count: warmup, quiet: true }, purchase('warm'));
    for (const w of [ws, wp]) if (w.errors) progress(`${w.label}: ${w.errors} errors, e.g. ${w.errorSamples[0]}`);
    checkWorker();
    if (wp.ok === 0) throw new Error(`no purchase succeeded in the warm-up: ${wp.errorSamples.join(' | ')}`);
  }
  // In alternating rounds (skeletons first, then purchases first, ...) so that a change of pace on the
  // machine (other work, the servers' own housekeeping) weighs on both sides alike.
  const skelParts: LoadResult[] = [];
  const purchParts: LoadResult[] = [];
  for (let r = 0; r < rounds; r++) {
    const count = Math.floor(n / rounds) + (r < n % rounds ? 1 : 0);
    if (count === 0) continue;
    const tag = `${r + 1}/${rounds}`;
    const runSkeletons = async () => {
      progress(`round ${tag}: ${count} skeleton workflows at concurrency ${concurrency}`);
      const x = await load(`skeletons ${tag}`, { count }, skeleton(`r${r}`));
      skelParts.push(x);
      checkWorker();
      progress(`round ${tag}: skeletons ${x.perSec}/s, p50 ${x.latency.p50} ms, ${x.errors} errors`);
    };
    const runPurchases = async () => {
      progress(`round ${tag}: ${count} purchases (API) at concurrency ${concurrency}`);
      const x = await load(`purchases ${tag}`, { count }, purchase(`r${r}`));
      purchParts.push(x);
      checkWorker();
      progress(`round ${tag}: purchases ${x.perSec}/s, p50 ${x.latency.p50} ms, ${x.errors} errors`);
    };
    for (const fn of r % 2 === 0 ? [runSkeletons, runPurchases] : [runPurchases, runSkeletons]) await fn();
  }
  const skel = mergeResults('skeletons', skelParts);
  const purch = mergeResults('purchases', purchParts);

  // ---- 2. GET /orders/{id} vs raw findById
  if (orderIds.length === 0) throw new Error('no order was placed: nothing to read');
  const pick = () => orderIds[Math.floor(Math.random() * orderIds.length)];
  const sample = await s.api.json<{ id: string; timeline?: unknown[]; status: string }>('GET', `/orders/${orderIds[0]}`, 200);
  if (sample.id !== orderIds[0] || !Array.isArray(sample.timeline)) throw new Error(`GET /orders/{id} answered an unexpected body: ${JSON.stringify(sample).slice(0, 300)}`);
  const timelineLength = sample.timeline.length;
  const apiRead = async () => {
    const r = await s.api.request('GET', `/orders/${pick()}`);
    if (r.status !== 200) throw new Error(`GET /orders/{id}: ${r.status} ${r.text.slice(0, 200)}`);
  };
  const rawRead = async () => {
    const o = await Order.findById(pick()).lean();
    if (!o) throw new Error('Order.findById found nothing');
  };
  // the second yardstick: the same read behind a bare Express route on the API's HTTP server (bench/bare-express.ts)
  const bare = await startBareExpress(s.token, s.partnerId);
  closers.push({ name: 'the bare Express yardstick', fn: () => bare.close() });
  const bareClient = httpClient(bare.baseUrl, s.token, concurrency);
  closers.push({ name: 'its HTTP client', fn: () => bareClient.close() });
  const bareRead = async () => {
    const r = await bareClient.request('GET', `/orders/${pick()}`);
    if (r.status !== 200) throw new Error(`bare Express GET /orders/{id}: ${r.status} ${r.text.slice(0, 200)}`);
  };
  progress(`reads over ${orderIds.length} orders: warm-up ${readWarmupSeconds} s each`);
  await load('warm-up API reads', { durationMs: readWarmupSeconds * 1000, quiet: true }, apiRead);
  await load('warm-up bare Express reads', { durationMs: readWarmupSeconds * 1000, quiet: true }, bareRead);
  await load('warm-up raw reads', { durationMs: readWarmupSeconds * 1000, quiet: true }, rawRead);
  const apiParts: LoadResult[] = [];
  const bareParts: LoadResult[] = [];
  const rawParts: LoadResult[] = [];
  // shorter rounds than the workflows': a change of the host's pace (it moves within a run) weighs on the three kinds
  // more evenly
  const readMs = Math.max(1000, Math.round((readSeconds * 1000) / readRounds));
  // this process's CPU (user + system) over each kind's rounds: the API, its client and the driver for an API read,
  // the driver alone for a raw one, and for each whatever the idle worker in this process spends meanwhile (its
  // polls: more per read for the slower kinds); the servers' CPU (FerretDB, PostgreSQL) is not in it. Steadier than a
  // rate on a host whose speed moves, it says where a read's time goes. And the machine's CPU over the same rounds
  // (every process: FerretDB's and PostgreSQL's work per read too): on two busy cores a kind's rate is about the
  // machine's capacity divided by this
  const readCpu = { api: 0, bare: 0, raw: 0 };
  const hostCpu = { api: 0, bare: 0, raw: 0 };
  const cpuOf = async (kind: keyof typeof readCpu, fn: () => Promise<LoadResult>): Promise<LoadResult> => {
    const h0 = hostBusyMicros();
    const c0 = process.cpuUsage();
    const x = await fn();
    const c = process.cpuUsage(c0);
    readCpu[kind] += c.user + c.system;
    hostCpu[kind] += hostBusyMicros() - h0;
    return x;
  };
  for (let r = 0; r < readRounds; r++) {
    const tag = `${r + 1}/${readRounds}`;
    const runApi = async () => {
      progress(`round ${tag}: GET /orders/{id} for ${secs(readMs)} s at concurrency ${concurrency}`);
      const x = await cpuOf('api', () => load(`API GET /orders/{id} ${tag}`, { durationMs: readMs }, apiRead));
      apiParts.push(x);
      checkWorker();
      progress(`round ${tag}: API reads ${x.perSec}/s, p50 ${x.latency.p50} ms, ${x.errors} errors`);
    };
    const runRaw = async () => {
      progress(`round ${tag}: raw Order.findById(id).lean() for ${secs(readMs)} s at concurrency ${concurrency}`);
      const x = await cpuOf('raw', () => load(`raw findById ${tag}`, { durationMs: readMs }, rawRead));
      rawParts.push(x);
      checkWorker();
      progress(`round ${tag}: raw reads ${x.perSec}/s, p50 ${x.latency.p50} ms, ${x.errors} errors`);
    };
    const runBare = async () => {
      progress(`round ${tag}: bare Express GET /orders/:id for ${secs(readMs)} s at concurrency ${concurrency}`);
      const x = await cpuOf('bare', () => load(`bare Express ${tag}`, { durationMs: readMs }, bareRead));
      bareParts.push(x);
      checkWorker();
      progress(`round ${tag}: bare Express reads ${x.perSec}/s, p50 ${x.latency.p50} ms, ${x.errors} errors`);
    };
    // each in every position in turn
    const order = [runApi, runBare, runRaw];
    for (let k = 0; k < order.length; k++) await order[(r + k) % order.length]();
  }
  const apiR = mergeResults('API GET /orders/{id}', apiParts);
  const bareR = mergeResults('bare Express', bareParts);
  const rawR = mergeResults('raw findById', rawParts);

  // ---- 3. licensing: the download-slot race, download throughput, the activity log's first page
  const licensing = await licensingSection(s);
  checkWorker();

  // ---- checks: emails received, warnings in the logs
  const mailDir = path.join(s.servers.dataDir, 'mail');
  const emails = fs.existsSync(mailDir) ? fs.readdirSync(mailDir).filter((f) => f.endsWith('.eml')).length : 0;

  // ---- 3. the worker's memory per open workflow (its orders' emails are not counted above)
  const memory = await openWorkflowMemory(s, memoryN, concurrency, () => aborted);
  const findings = Object.fromEntries(Object.entries(logs).map(([k, l]) => [k, logFindings(l.file, l.since)]));
  const ordersPlaced = orderIds.length;

  const ratioOf = (a: LoadResult, b: LoadResult) => (b.perSec > 0 ? Math.round((a.perSec / b.perSec) * 1000) / 1000 : NaN);
  const ratioWf = ratioOf(purch, skel);
  const ratioRead = ratioOf(apiR, rawR);
  const ratioBare = ratioOf(bareR, rawR);
  const ratioApiBare = ratioOf(apiR, bareR);
  const cpuPerRead = (kind: keyof typeof readCpu, r: LoadResult) => (r.ok > 0 ? Math.round(readCpu[kind] / r.ok) : null);
  const readCpuUs = { api: cpuPerRead('api', apiR), bareExpress: cpuPerRead('bare', bareR), raw: cpuPerRead('raw', rawR) };
  const hostPerRead = (kind: keyof typeof readCpu, r: LoadResult) => (r.ok > 0 && Number.isFinite(hostCpu[kind]) ? Math.round(hostCpu[kind] / r.ok) : null);
  const hostCpuUs = { api: hostPerRead('api', apiR), bareExpress: hostPerRead('bare', bareR), raw: hostPerRead('raw', rawR) };
  const totalS = Math.round((Date.now() - T0) / 100) / 10;

  // ---- summary (stdout)
  const db = machine.database;
  const tp = machine.temporal;
  const lines = [
    '',
    `csp-desk benchmark, ${new Date().toISOString()} (${totalS} s so far)`,
    `  machine    ${machine.cores} cores (${machine.cpu}), ${machine.memGiB} GiB, ${machine.platform}, node ${machine.node}, load average ${machine.loadAvgAtStart} at start`,
    `  database   ${db.backend}: ${db.version}${db.postgres ? `, ${db.postgres}` : ''}${db.fsync === false ? ', fsync off' : db.fsync ? ', fsync on' : ''}${db.uri ? `, ${db.uri}` : ''}`,
    `  temporal   ${tp.server}: ${tp.version}${tp.persistence ? `, ${tp.persistence}` : ''}${tp.address ? `, ${tp.address}` : ''}`,
    `  process    worker + API + load generator in one node process, the mail catcher (MailDev) in its own; service logs at ${process.env.BENCH_LOG_LEVEL ?? 'info'} to a file`,
    '',
    `1. Workflows: ${n} of each, ${concurrency} in flight, after ${warmup} warm-up of each, in ${rounds} alternating rounds`,
    `  ${''.padEnd(44)}${'per s'.padStart(10)}${'p50 ms'.padStart(10)}${'p95 ms'.padStart(10)}${'p99 ms'.padStart(10)}${'errors'.padStart(8)}${'ok'.padStart(8)}  per round`,
    row('purchase, via the API (POST + update)', purch),
    ...(purch.marks.post ? [sub('  of which POST /customers/{c}/orders -> 201', purch.marks.post)] : []),
    row(`skeleton, via the client (${PLACEMENT_ACTIVITIES} noop activities)`, skel),
    `  ${'ratio purchase/skeleton'.padEnd(44)}${f2(ratioWf).padStart(10)}`,
    `  (purchase = POST /customers/{c}/orders with a new Idempotency-Key, answered once recorded, then`,
    `   executeUpdate(waitForStage, 'confirmed') on the order's workflow: recorded, paid, provisioned, email sent)`,
    '',
    `2. Reads: GET /orders/{id} vs a bare Express route and Order.findById(id).lean(), ${concurrency} in flight, ${readSeconds} s of each in ${readRounds} rounds, ${ordersPlaced} orders (timeline of ${timelineLength})`,
    `  ${''.padEnd(44)}${'per s'.padStart(10)}${'p50 ms'.padStart(10)}${'p95 ms'.padStart(10)}${'p99 ms'.padStart(10)}${'errors'.padStart(8)}${'ok'.padStart(8)}  per round`,
    row('API GET /orders/{id} (keep-alive HTTP)', apiR),
    row('bare Express route, the same read', bareR),
    row('raw Order.findById(id).lean()', rawR),
    `  ${'ratio API/raw'.padEnd(44)}${f2(ratioRead).padStart(10)}`,
    `  ${'ratio bare Express/raw'.padEnd(44)}${f2(ratioBare).padStart(10)}`,
    `  ${'ratio API/bare Express'.padEnd(44)}${f2(ratioApiBare).padStart(10)}`,
    `  ${'this process\'s CPU per read, µs'.padEnd(44)}API ${readCpuUs.api}, bare Express ${readCpuUs.bareExpress}, raw ${readCpuUs.raw} (the whole process: the HTTP client and the idle worker too; not the servers')`,
    `  ${"the machine's CPU per read, µs".padEnd(44)}API ${hostCpuUs.api}, bare Express ${hostCpuUs.bareExpress}, raw ${hostCpuUs.raw} (every process: FerretDB's, PostgreSQL's, the idle Temporal server's too)`,
    `  (bare Express: one route, the token compared as a string, findOne({ _id, partnerId }).lean(), res.json,`,
    `   on the API's HTTP server: what any Express route here costs beyond the raw read)`,
    '',
    ...(memory ? [...memoryLines(memory, memoryN), ''] : []),
    ...(licensing ? licensingLines(licensing) : []),
    `Checks: ${ordersPlaced} orders placed, ${emails} emails caught (one confirmation each expected)`,
    ...Object.entries(findings).flatMap(([name, f]) => [
      `  ${name} log: ${f.warn} warnings, ${f.error} errors${name === 'service' ? `, ${f.http5xx} HTTP 5xx` : ''}`,
      ...f.messages.map((m) => `    ${String(m.count).padStart(5)} x ${m.level} ${m.msg}`),
    ]),
    ...[skel, purch, apiR, bareR, rawR].flatMap((r) => r.errorSamples.map((e) => `  ${r.label} error: ${e}`)),
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');

  const json = {
    bench: 'csp-desk',
    at: new Date().toISOString(),
    totalSeconds: totalS,
    machine,
    settings: { n, concurrency, warmup, readSeconds, rounds, readRounds, product: PRODUCT_ID, market: MARKET, customers: CUSTOMERS, logLevel: process.env.BENCH_LOG_LEVEL ?? 'info' },
    workflows: {
      purchase: { via: 'api', how: "POST /customers/{c}/orders then executeUpdate(waitForStage, 'confirmed')", ...slim(purch) },
      skeleton: { via: 'client', activities: PLACEMENT_ACTIVITIES, ...slim(skel) },
      ratio: ratioWf,
    },
    getOrder: { orders: ordersPlaced, timelineLength, api: slim(apiR), bareExpress: slim(bareR), raw: slim(rawR), ratio: ratioRead, bareExpressRatio: ratioBare, apiToBareExpress: ratioApiBare, processCpuMicrosPerRead: readCpuUs, machineCpuMicrosPerRead: hostCpuUs },
    ...(memory ? { memory: memoryJson(memory) } : {}),
    licensing,
    checks: { ordersPlaced, emails, logs: findings },
  };
  process.stdout.write(JSON.stringify(json) + '\n');

  // ---- 3, 4. support requests: filing, worker memory per open ticket, the queue at 10,000 (bench/support.ts)
  const supportPart = await runSupportBench({
    memory: { servers: s.servers, client: s.benchClient, mailer: s.mailer, log: s.log, token: s.token, customers: s.customers, concurrency, progress, aborted: () => aborted || !!s.workerError() },
    baseUrl: s.baseUrl,
    api: s.api,
    partnerId: s.partnerId,
    customers: s.customers,
    benchClient: s.benchClient,
    concurrency,
    readSeconds,
    rounds,
    externalTemporal: !s.servers.embedded.temporal,
    progress,
    aborted: () => aborted || !!s.workerError(),
    checkWorker,
  });
  process.stdout.write(supportPart.lines.join('\n') + '\n');
  process.stdout.write(JSON.stringify(supportPart.json) + '\n');
  if (!s.servers.embedded.temporal) await terminateOrders(s.benchClient, orderIds);
  if (!s.servers.embedded.temporal && memory) await terminateWorkflows(s.benchClient, [...memory.order.workflowIds, ...memory.skeleton.workflowIds]);
}

/** Section 3 (skipped when memoryN is 0): see bench/memory.ts. */
async function openWorkflowMemory(s: Service, memoryN: number, concurrency: number, isAborted: () => boolean): Promise<MemoryResult | undefined> {
  if (memoryN === 0) return undefined;
  return measureOpenWorkflowMemory(
    { servers: s.servers, client: s.benchClient, mailer: s.mailer, log: s.log, token: s.token, customers: s.customers, productId: PRODUCT_ID, concurrency, progress, aborted: isAborted },
    memoryN,
  );
}

const memoryJson = (m: MemoryResult) => {
  const f = ({ workflowIds: _ids, ...rest }: MemoryResult['order']) => rest;
  return { order: f(m.order), skeleton: f(m.skeleton), ratio: m.ratio, goal: { maxRatio: 1.5, minOrdersPerGiB: 3000 } };
};

/** Ends workflows left open on an external Temporal (the memory measure's). */
async function terminateWorkflows(client: Client, workflowIds: string[]): Promise<void> {
  progress(`terminating the ${workflowIds.length} workflows of the memory measure on the external Temporal`);
  let next = 0;
  const loop = async () => {
    while (next < workflowIds.length) {
      await client.workflow
        .getHandle(workflowIds[next++])
        .terminate('benchmark finished')
        .catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: 10 }, loop));
}

/**
 * The licensing part (bench/licensing.ts): BENCH_LICENSING=0 skips it; BENCH_LICENSING_ROUNDS (default 3)
 * rounds of the link race and of the throughput comparison.
 */
async function licensingSection(s: Service): Promise<LicensingBenchResult | null> {
  if (process.env.BENCH_LICENSING === '0') return null;
  const rounds = setting('licensing-rounds', 'BENCH_LICENSING_ROUNDS', 3, 1);
  progress(`licensing: ${rounds} rounds`);
  return runLicensingBench({
    api: s.api,
    baseUrl: s.baseUrl,
    partnerId: s.partnerId,
    customers: s.customers,
    client: s.apiClient,
    mailer: s.mailer,
    log: s.log.child({ component: 'api-licensing' }),
    taskQueue: s.taskQueue,
    dataDir: s.servers.dataDir,
    rounds,
    progress,
    aborted: () => aborted || !!s.workerError(),
  });
}

/** On an external Temporal, the orders' workflows would wait out their 60-day windows with no worker: end them. */
async function terminateOrders(client: Client, orderIds: string[]): Promise<void> {
  progress(`terminating the ${orderIds.length} order workflows on the external Temporal`);
  let next = 0;
  const loop = async () => {
    while (next < orderIds.length) {
      const id = orderIds[next++];
      await client.workflow
        .getHandle(orderWorkflowId(id))
        .terminate('benchmark finished')
        .catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: 10 }, loop));
}

main().then(
  async () => {
    progress('stopping');
    await closeAll();
    progress(`done in ${secs(Date.now() - T0)} s`);
    process.exit(0);
  },
  async (e: unknown) => {
    if (e instanceof SettingError) progress(e.message);
    else if (!aborted) progress(`failed: ${(e as Error)?.stack ?? e}`);
    ignoreLateErrors();
    await closeAll();
    process.exit(aborted ? 130 : 1);
  },
);
