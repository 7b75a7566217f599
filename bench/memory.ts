/**
 * The worker's memory per open workflow held in its cache: N orders waiting on their cancellation windows
 * (placed through the API, confirmed, then idle) beside N skeleton workflows waiting on a timer after one
 * noop activity. Each kind runs in a fresh worker process of its own (bench/memory-worker.ts) on a task queue
 * of its own, with a cache big enough for all of them: its RSS and V8 heap after a full GC, once a warm-up of
 * the same kind has run (code loaded, connections open), then again once the N are open; the growth over N is
 * the figure. The memory worker runs its workflows in its main thread (`debugMode`, with the same reusable V8
 * context as a production worker's workflow thread), so that the GC before each sample reaches their heap: in
 * a workflow thread, uncollected garbage would count as memory held. RSS (the figure) also counts what the
 * SDK's core holds per workflow outside V8: it is the memory a machine must have for them.
 */
import { fork, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { createApi, createAppServer } from '../composition/root';
import type { Logger } from '../lib/logger';
import type { Mailer } from '../lib/mailer';
import { EmailRecord } from '../models';
import { httpClient } from './http';
import { runLoad } from './load';
import type { MemorySample, MemoryWorkerMessage } from './memory-worker';
import type { BenchServers } from './servers';
import type { idleSkeletonWorkflow } from './workflows';

export interface MemoryContext {
  servers: BenchServers;
  client: Client;
  mailer: Mailer;
  log: Logger;
  token: string;
  customers: string[];
  productId: string;
  concurrency: number;
  progress: (msg: string) => void;
  aborted: () => boolean;
}

export interface MemoryFigure {
  kind: 'order' | 'skeleton' | 'ticket';
  open: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  heapGrowthBytes: number;
  /** RSS growth per open workflow */
  bytesPerWorkflow: number;
  /** V8 heap growth per open workflow (part of the RSS growth) */
  heapBytesPerWorkflow: number;
  /** open workflows per GiB of that growth */
  perGiB: number;
  /** workflow ids, to end them on an external Temporal */
  workflowIds: string[];
}

export interface MemoryResult {
  order: MemoryFigure;
  skeleton: MemoryFigure;
  /** order bytes / skeleton bytes */
  ratio: number;
}

const WARMUP = 20;

/** A fresh memory worker on its own task queue. */
export async function startMemoryWorker(ctx: MemoryContext, kind: string, cache: number): Promise<{ taskQueue: string; child: ChildProcess; measure(): Promise<MemorySample>; stop(): Promise<void> }> {
  const taskQueue = `csp-desk-bench-mem-${kind}-${crypto.randomBytes(3).toString('hex')}`;
  const child = fork(require.resolve('./memory-worker'), [], {
    execArgv: ['--expose-gc'],
    env: {
      ...process.env,
      MONGODB_URI: ctx.servers.mongoUri,
      TEMPORAL_ADDRESS: ctx.servers.temporalAddress,
      SMTP_URL: ctx.servers.smtpUrl,
      BENCH_MEM_TASK_QUEUE: taskQueue,
      BENCH_MEM_CACHE: String(cache),
      BENCH_MEM_LOG: path.join(ctx.servers.logsDir, `memory-worker-${kind}.log`),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const killAtExit = () => child.kill('SIGKILL');
  process.once('exit', killAtExit);
  child.once('exit', () => process.off('exit', killAtExit));
  const next = (type: MemoryWorkerMessage['type']) =>
    new Promise<MemoryWorkerMessage>((resolve, reject) => {
      const onMessage = (m: MemoryWorkerMessage) => {
        if (m.type === 'failed') return done(() => reject(new Error(`memory worker: ${m.error}`)));
        if (m.type === type) done(() => resolve(m));
      };
      const onExit = (code: number | null) => done(() => reject(new Error(`memory worker exited (${code})`)));
      const done = (fn: () => void) => {
        child.off('message', onMessage);
        child.off('exit', onExit);
        fn();
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  await next('ready');
  return {
    taskQueue,
    child,
    async measure() {
      const reply = next('sample');
      child.send({ type: 'measure' });
      return ((await reply) as Extract<MemoryWorkerMessage, { type: 'sample' }>).sample;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function until(what: string, check: () => Promise<boolean>, ctx: MemoryContext, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (ctx.aborted()) throw new Error('aborted');
    if (Date.now() > deadline) throw new Error(`memory measure: ${what} not reached in ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export const figure = (kind: MemoryFigure['kind'], open: number, before: MemorySample, after: MemorySample, workflowIds: string[]): MemoryFigure => {
  const bytesPerWorkflow = Math.max(1, (after.rss - before.rss) / open);
  return {
    kind,
    open,
    rssBeforeBytes: before.rss,
    rssAfterBytes: after.rss,
    heapGrowthBytes: after.heapUsed - before.heapUsed,
    bytesPerWorkflow: Math.round(bytesPerWorkflow),
    heapBytesPerWorkflow: Math.round((after.heapUsed - before.heapUsed) / open),
    perGiB: Math.floor(2 ** 30 / bytesPerWorkflow),
    workflowIds,
  };
};

/** N skeletons waiting on a timer, in a fresh worker. */
async function skeletons(ctx: MemoryContext, n: number): Promise<MemoryFigure> {
  const w = await startMemoryWorker(ctx, 'skeleton', n + WARMUP + 100);
  try {
    const tag = crypto.randomBytes(3).toString('hex');
    const ids: string[] = [];
    const start = (phase: string) => async (i: number) => {
      const workflowId = `bench-idle-${tag}-${phase}-${i}`;
      ids.push(workflowId);
      await ctx.client.workflow.start<typeof idleSkeletonWorkflow>('idleSkeletonWorkflow', { taskQueue: w.taskQueue, workflowId });
    };
    await runLoad({ label: 'memory: warm-up skeletons', concurrency: ctx.concurrency, count: WARMUP, progress: ctx.progress, progressEveryMs: 0 }, start('warm'));
    await until('the warm-up skeletons idle', async () => (await w.measure()).noops >= WARMUP, ctx);
    const before = await w.measure();
    ctx.progress(`memory: ${n} skeleton workflows waiting on a timer (worker RSS ${mib(before.rss)} MiB before)`);
    await runLoad({ label: 'memory: skeletons', concurrency: ctx.concurrency, count: n, progress: ctx.progress, aborted: ctx.aborted }, start('open'));
    await until(`${n} skeletons idle`, async () => (await w.measure()).noops >= WARMUP + n, ctx);
    await new Promise((r) => setTimeout(r, 2000));
    return figure('skeleton', n, before, await w.measure(), ids);
  } finally {
    await w.stop();
  }
}

/** N orders placed through an API on the memory worker's queue, confirmed, waiting on their windows. */
async function orders(ctx: MemoryContext, n: number): Promise<MemoryFigure> {
  const w = await startMemoryWorker(ctx, 'order', n + WARMUP + 100);
  const app = createApi({ client: ctx.client, mailer: ctx.mailer, log: ctx.log.child({ component: 'memory-api' }), taskQueue: w.taskQueue, reminderDaysBeforeClose: 7 });
  const server = createAppServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const api = httpClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, ctx.token, ctx.concurrency);
  try {
    const tag = crypto.randomBytes(3).toString('hex');
    // a POST that fails (on a loaded machine, a 503 when Temporal answers slowly) is sent again with its
    // Idempotency-Key, as a client would: the order is made once
    const place = (phase: string, ids: string[]) => async (i: number) => {
      for (let attempt = 1; ; attempt++) {
        try {
          const order = await api.json<{ id: string }>('POST', `/customers/${ctx.customers[i % ctx.customers.length]}/orders`, 201, {
            headers: { 'idempotency-key': `bench-mem-${tag}-${phase}-${i}` },
            body: { productId: ctx.productId, quantity: 1 },
          });
          ids.push(order.id);
          return;
        } catch (e) {
          if (attempt >= 5 || ctx.aborted()) throw e;
          await new Promise((r) => setTimeout(r, 1000 * attempt));
        }
      }
    };
    const confirmed = async (ids: string[]) => (await EmailRecord.countDocuments({ _id: { $in: ids.map((id) => `order:${id}:confirmation`) }, status: 'sent' })) >= ids.length;
    const warm: string[] = [];
    await runLoad({ label: 'memory: warm-up orders', concurrency: ctx.concurrency, count: WARMUP, progress: ctx.progress, progressEveryMs: 0 }, place('warm', warm));
    await until('the warm-up orders confirmed', () => confirmed(warm), ctx);
    const before = await w.measure();
    ctx.progress(`memory: ${n} orders placed, confirmed, waiting on their windows (worker RSS ${mib(before.rss)} MiB before)`);
    const ids: string[] = [];
    await runLoad({ label: 'memory: orders', concurrency: ctx.concurrency, count: n, progress: ctx.progress, aborted: ctx.aborted }, place('open', ids));
    if (ids.length === 0) throw new Error(`memory measure: none of ${n} orders was placed`);
    if (ids.length < n) ctx.progress(`memory: only ${ids.length} of ${n} orders were placed: the figure is over those`);
    await until(`${ids.length} orders confirmed`, () => confirmed(ids), ctx);
    await new Promise((r) => setTimeout(r, 2000));
    return figure('order', ids.length, before, await w.measure(), [...warm, ...ids].map((id) => `order:${id}`));
  } finally {
    await api.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await w.stop();
  }
}

export const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
export const kib = (bytes: number) => (bytes / 2 ** 10).toFixed(1);

/** Both figures, skeletons first. */
export async function measureOpenWorkflowMemory(ctx: MemoryContext, n: number): Promise<MemoryResult> {
  const skeleton = await skeletons(ctx, n);
  ctx.progress(`memory: skeleton ${kib(skeleton.bytesPerWorkflow)} KiB per open workflow`);
  const order = await orders(ctx, n);
  ctx.progress(`memory: order ${kib(order.bytesPerWorkflow)} KiB per open workflow`);
  return { order, skeleton, ratio: Math.round((order.bytesPerWorkflow / skeleton.bytesPerWorkflow) * 100) / 100 };
}

/** The report's lines for the memory section. */
export function memoryLines(m: MemoryResult, n: number): string[] {
  const r = (name: string, f: MemoryFigure) =>
    `  ${name.padEnd(44)}${kib(f.bytesPerWorkflow).padStart(10)}${String(f.perGiB).padStart(10)}${kib(f.heapBytesPerWorkflow).padStart(10)}${mib(f.rssBeforeBytes).padStart(12)}${mib(f.rssAfterBytes).padStart(12)}`;
  return [
    `3. Worker memory per open workflow in its cache: ${n} of each, each kind in a fresh worker process (growth after GC)`,
    `  ${''.padEnd(44)}${'KiB RSS'.padStart(10)}${'per GiB'.padStart(10)}${'KiB heap'.padStart(10)}${'MiB before'.padStart(12)}${'MiB after'.padStart(12)}`,
    r('order, confirmed, waiting on its window', m.order),
    r('skeleton, waiting on a timer (1 noop)', m.skeleton),
    `  ${'ratio order/skeleton (RSS)'.padEnd(44)}${m.ratio.toFixed(2).padStart(10)}   (goal: at most 1.5, and at least 3,000 orders per GiB)`,
    `  ${'ratio order/skeleton (heap)'.padEnd(44)}${(m.order.heapBytesPerWorkflow / Math.max(1, m.skeleton.heapBytesPerWorkflow)).toFixed(2).padStart(10)}`,
  ];
}
