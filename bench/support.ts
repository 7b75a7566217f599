/**
 * The benchmark's support section (called from bench/run.ts once its own parts are done):
 *
 *   3. support requests filed per second through the API (POST /support-requests, answered once the
 *      ticket's workflow has recorded it), and the worker's memory per open ticket workflow, measured with
 *      bench/memory.ts's harness (a fresh worker process, workflows waiting on their SLA timers, after GC);
 *   4. the support queue's first page (GET /support-requests as a support agent, earliest SLA due first) at
 *      10,000 open tickets, against the raw sorted database read of the same page, and the API's own banded
 *      reads called in-process (no HTTP). The 10,000 tickets are INSERTED
 *      DIRECTLY into the database (no workflow behind them; labelled `bench-queue` in their title) so the read
 *      benchmark does not take an hour of filing; the filed ones of part 3 are among the page's candidates.
 *
 * Settings: BENCH_SUPPORT_N (tickets filed, default 200), BENCH_SUPPORT_MEMORY_N (tickets for the memory measure,
 * default 300; 0 skips it), BENCH_SUPPORT_QUEUE (tickets in the queue, default
 * 10000), BENCH_SUPPORT_QUEUE_CONCURRENCY (queue reads in flight, default 4: on FerretDB 1.24 the raw sorted
 * read of a first page at 10,000 tickets takes seconds, since neither the sort nor the limit is pushed down to
 * PostgreSQL; the API reads the queue's bands instead, services/support-queue.ts).
 * Prints its block of the summary and one JSON line `{"bench":"csp-desk-support",...}`.
 */
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { createApi, createAppServer } from '../composition/root';
import { queueKeyOf } from '../domain/support-queue';
import { insertQueueEntries } from '../activities/support';
import { readQueuePage } from '../services/support-queue';
import { supportWorkflowId } from '../contracts/support';
import { CROCKFORD, GENERAL_PROBLEM_TYPE, IMPACTS, searchTextOf } from '../domain/support';
import { EmailRecord, SupportTicket, type SupportTicketDoc } from '../models';
import { ensureUser, issueToken } from '../services/users';
import { DEFAULT_SUPPORT_SETTINGS, type SupportSettings } from '../services/support-settings';
import { httpClient, type HttpClient } from './http';
import { mergeResults, runLoad, type LoadResult } from './load';
import { figure, kib, mib, startMemoryWorker, until, type MemoryContext, type MemoryFigure } from './memory';

/** The benchmark's APIs' support settings: the defaults, but no hour's filing limit in the way of a load filed by one user. */
export const BENCH_SUPPORT_SETTINGS: SupportSettings = { ...DEFAULT_SUPPORT_SETTINGS, filingsPerHour: 1_000_000 };

export interface SupportBenchContext {
  /** for the memory measure (bench/memory.ts's harness: a fresh worker process of its own) */
  memory: Omit<MemoryContext, 'productId'>;
  baseUrl: string;
  /** the bench partner's admin-agent (files the tickets) */
  api: HttpClient;
  partnerId: string;
  customers: string[];
  benchClient: Client;
  concurrency: number;
  readSeconds: number;
  rounds: number;
  /** the Temporal server is external: the ticket workflows are terminated at the end */
  externalTemporal: boolean;
  progress(msg: string): void;
  aborted(): boolean;
  checkWorker(): void;
}

function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min} (got ${JSON.stringify(raw)})`);
  return v;
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
function row(name: string, r: LoadResult): string {
  const l = r.latency;
  return `  ${name.padEnd(52)}${f2(r.perSec).padStart(10)}${f1(l.p50).padStart(10)}${f1(l.p95).padStart(10)}${f1(l.p99).padStart(10)}${String(r.errors).padStart(8)}${String(r.ok).padStart(8)}`;
}
const slim = (r: LoadResult) => ({ perSec: r.perSec, ok: r.ok, errors: r.errors, elapsedMs: r.elapsedMs, latencyMs: r.latency, ...(r.errorSamples.length ? { errorSamples: r.errorSamples } : {}) });

/** 10,000 open tickets written straight into the collection, in batches (for the read benchmark only). */
async function insertQueueTickets(count: number, partnerId: string, tag: string, progress: (m: string) => void): Promise<number> {
  const now = Date.now();
  const statuses = ['new', 'open', 'pending'] as const;
  // consecutive numbers from a random start: unique within the run (six random characters each would collide about
  // once in twenty runs of 10,000: the birthday bound of 32^6), and unlikely to meet an earlier run's in a kept database
  const base = crypto.randomInt(0, 32 ** 6 - count);
  const numberOf = (i: number) => `SR-991231-${Array.from({ length: 6 }, (_, d) => CROCKFORD[Math.floor((base + i) / 32 ** (5 - d)) % 32]).join('')}`;
  let inserted = 0;
  for (let start = 0; start < count; start += 500) {
    const docs: SupportTicketDoc[] = [];
    for (let i = start; i < Math.min(count, start + 500); i++) {
      const number = numberOf(i);
      const status = statuses[i % 3];
      // pending tickets' clocks are paused: no due time, last in the queue
      const nextDueAt = status === 'pending' ? null : new Date(now + ((i * 7919) % (7 * 86_400)) * 1000);
      const title = `bench-queue ${tag} ticket ${i}`;
      const customer = { id: 'bench-customer', name: 'Bench Customer', tenantId: crypto.randomUUID(), domain: 'bench.onmicrosoft.com' };
      const contact = { name: 'Bench Contact', email: 'contact@bench.example', phone: null };
      const filer = { userId: 'bench', name: 'Bench', email: 'bench@bench.example', role: 'admin-agent' };
      docs.push({
        _id: number,
        partnerId,
        problemType: GENERAL_PROBLEM_TYPE,
        impact: IMPACTS[i % IMPACTS.length],
        title,
        description: '',
        customer,
        orderId: null,
        subscriptionId: null,
        refund: null,
        contact,
        filedBy: filer,
        status,
        assignee: null,
        assigneeId: null,
        escalationLevel: 0,
        escalated: false,
        atRisk: false,
        breached: false,
        nextDueAt,
        queueKey: queueKeyOf(nextDueAt, number),
        clocks: [],
        approval: null,
        rejectionReason: null,
        withdrawn: false,
        searchText: searchTextOf({ number, title, description: '', customerName: customer.name, customerDomain: customer.domain, orderId: null, contactName: contact.name, contactEmail: contact.email }),
        seq: 1,
        createdAt: new Date(now),
        updatedAt: new Date(now),
        resolvedAt: null,
        closedAt: null,
        requestId: 'bench',
      });
    }
    await SupportTicket.insertMany(docs, { ordered: false });
    // and their queue entries, placed as the tickets' workflows place them
    await insertQueueEntries(docs);
    inserted += docs.length;
    if (inserted % 2500 === 0 || inserted === count) progress(`queue tickets inserted directly: ${inserted}/${count}`);
  }
  return inserted;
}

/**
 * The worker's memory per open ticket workflow, with bench/memory.ts's harness: a fresh worker process on a task
 * queue of its own (workflows in its main thread, a full GC before each sample), an API on that queue, N tickets
 * filed through it and acknowledged (their "received" email sent), each then waiting on its SLA timers.
 */
async function ticketMemory(ctx: SupportBenchContext, n: number): Promise<MemoryFigure> {
  const mctx: MemoryContext = { ...ctx.memory, productId: '' };
  const WARMUP = 20;
  const w = await startMemoryWorker(mctx, 'ticket', n + WARMUP + 100);
  const app = createApi({ client: mctx.client, mailer: mctx.mailer, log: mctx.log.child({ component: 'memory-api' }), taskQueue: w.taskQueue, reminderDaysBeforeClose: 7, support: BENCH_SUPPORT_SETTINGS });
  const server = createAppServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const api = httpClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, mctx.token, mctx.concurrency);
  try {
    const tag = crypto.randomBytes(3).toString('hex');
    const file = (phase: string, numbers: string[]) => async (i: number) => {
      const t = await api.json<{ number: string }>('POST', '/support-requests', 201, {
        headers: { 'idempotency-key': `bench-mem-ticket-${tag}-${phase}-${i}` },
        body: { problemType: GENERAL_PROBLEM_TYPE, impact: IMPACTS[i % IMPACTS.length], title: `Memory ${i}`, customer: mctx.customers[i % mctx.customers.length], contact: { name: 'Bench Contact', email: 'contact@bench.example' } },
      });
      numbers.push(t.number);
    };
    const acknowledged = async (numbers: string[]) => (await EmailRecord.countDocuments({ _id: { $in: numbers.map((x) => `support:${x}:1:received`) }, status: 'sent' })) >= numbers.length;
    const warm: string[] = [];
    await runLoad({ label: 'memory: warm-up tickets', concurrency: mctx.concurrency, count: WARMUP, progress: mctx.progress, progressEveryMs: 0 }, file('warm', warm));
    await until('the warm-up tickets acknowledged', () => acknowledged(warm), mctx);
    const before = await w.measure();
    mctx.progress(`memory: ${n} support tickets filed, acknowledged, waiting on their SLA timers (worker RSS ${mib(before.rss)} MiB before)`);
    const numbers: string[] = [];
    const load = await runLoad({ label: 'memory: tickets', concurrency: mctx.concurrency, count: n, progress: mctx.progress, aborted: mctx.aborted }, file('open', numbers));
    // a filing refused under load (e.g. a 503 past the API's deadline) opens no workflow: count what was filed
    if (numbers.length < n * 0.9) throw new Error(`memory measure: only ${numbers.length} of ${n} tickets were filed: ${load.errorSamples.join(' | ')}`);
    if (numbers.length < n) mctx.progress(`memory: ${n - numbers.length} of ${n} filings failed (${load.errorSamples[0]}); measuring over the ${numbers.length} filed`);
    await until(`${numbers.length} tickets acknowledged`, () => acknowledged(numbers), mctx);
    await new Promise((r) => setTimeout(r, 2000));
    return figure('ticket', numbers.length, before, await w.measure(), [...warm, ...numbers].map(supportWorkflowId));
  } finally {
    await api.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await w.stop();
  }
}

export async function runSupportBench(ctx: SupportBenchContext): Promise<{ lines: string[]; json: Record<string, unknown> }> {
  const n = envInt('BENCH_SUPPORT_N', 200, 1);
  const queueSize = envInt('BENCH_SUPPORT_QUEUE', 10_000, 0);
  const queueConcurrency = envInt('BENCH_SUPPORT_QUEUE_CONCURRENCY', Math.min(4, ctx.concurrency), 1);
  const { concurrency, rounds, progress } = ctx;
  const tag = crypto.randomBytes(3).toString('hex');
  const load = (label: string, o: { count?: number; durationMs?: number; quiet?: boolean; concurrency?: number }, task: Parameters<typeof runLoad>[1]) =>
    runLoad({ label, concurrency: o.concurrency ?? concurrency, count: o.count, durationMs: o.durationMs, progress, progressEveryMs: o.quiet ? 0 : 2000, aborted: ctx.aborted }, task);

  // ---- 3. filing, and the memory the open ticket workflows hold
  const numbers: string[] = [];
  const file =
    (phase: string) =>
    async (i: number): Promise<void> => {
      const t = await ctx.api.json<{ number: string }>('POST', '/support-requests', 201, {
        headers: { 'idempotency-key': `bench-support-${tag}-${phase}-${i}` },
        body: {
          problemType: GENERAL_PROBLEM_TYPE,
          impact: IMPACTS[i % IMPACTS.length],
          title: `Bench request ${i}`,
          customer: ctx.customers[i % ctx.customers.length],
          contact: { name: 'Bench Contact', email: 'contact@bench.example' },
          description: 'Filed by npm run bench.',
        },
      });
      numbers.push(t.number);
    };
  progress(`support: warm-up, 10 requests filed`);
  await load('warm-up filing', { count: 10, quiet: true }, file('warm'));
  ctx.checkWorker();
  const parts: LoadResult[] = [];
  for (let r = 0; r < rounds; r++) {
    const count = Math.floor(n / rounds) + (r < n % rounds ? 1 : 0);
    if (count === 0) continue;
    progress(`support round ${r + 1}/${rounds}: filing ${count} requests through the API at concurrency ${concurrency}`);
    const x = await load(`filing ${r + 1}/${rounds}`, { count }, file(`r${r}`));
    parts.push(x);
    ctx.checkWorker();
    progress(`support round ${r + 1}/${rounds}: ${x.perSec}/s, p50 ${x.latency.p50} ms, ${x.errors} errors`);
  }
  const filing = mergeResults('filing', parts);
  const memoryN = envInt('BENCH_SUPPORT_MEMORY_N', 300, 0);
  const memory = memoryN > 0 ? await ticketMemory(ctx, memoryN) : null;
  if (memory) progress(`memory: support ticket ${kib(memory.bytesPerWorkflow)} KiB per open workflow`);

  // ---- 4. the queue's first page at 10,000 open tickets
  const queueInserted = await (async () => {
    progress(`support: inserting ${queueSize} open tickets DIRECTLY into the database for the queue read benchmark (no workflows)`);
    const t0 = Date.now();
    const c = await insertQueueTickets(queueSize, ctx.partnerId, tag, progress);
    progress(`support: ${c} tickets inserted in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return c;
  })();
  const openTickets = await SupportTicket.countDocuments({ status: { $in: ['new', 'open', 'pending'] } });
  const agentUser = await ensureUser({ name: 'Bench support agent', email: `support-agent-${tag}@bench.example`, role: 'support-agent', partnerId: null });
  const agentApi = httpClient(ctx.baseUrl, await issueToken(agentUser._id, 'bench'), queueConcurrency);
  const pageSize = 25;
  let pageLength = 0;
  try {
    const sample = await agentApi.json<{ items: { number: string }[]; nextCursor: string | null }>('GET', '/support-requests', 200);
    const raw = await SupportTicket.find({}).sort({ queueKey: 1 }).limit(pageSize + 1).lean();
    pageLength = sample.items.length;
    if (sample.items[0]?.number !== raw[0]?._id) throw new Error(`the API's first page starts with ${sample.items[0]?.number}, the raw read with ${raw[0]?._id}`);
    const apiRead = async () => {
      const r = await agentApi.request('GET', '/support-requests');
      if (r.status !== 200) throw new Error(`GET /support-requests: ${r.status} ${r.text.slice(0, 200)}`);
    };
    const rawRead = async () => {
      const rows = await SupportTicket.find({}).sort({ queueKey: 1 }).limit(pageSize + 1).lean();
      if (rows.length === 0) throw new Error('the raw read found nothing');
    };
    const bandedRead = async () => {
      const { rows } = await readQueuePage({}, null, pageSize, new Date());
      if (rows.length === 0) throw new Error('the banded read found nothing');
    };
    await load('warm-up queue API', { durationMs: 2000, quiet: true, concurrency: queueConcurrency }, apiRead);
    await load('warm-up queue raw', { durationMs: 2000, quiet: true, concurrency: queueConcurrency }, rawRead);
    await load('warm-up queue banded', { durationMs: 2000, quiet: true, concurrency: queueConcurrency }, bandedRead);
    const apiParts: LoadResult[] = [];
    const rawParts: LoadResult[] = [];
    const bandedParts: LoadResult[] = [];
    const readMs = Math.max(1000, Math.round((ctx.readSeconds * 1000) / rounds));
    for (let r = 0; r < rounds; r++) {
      const runApi = async () => {
        progress(`support round ${r + 1}/${rounds}: GET /support-requests (first page) for ${(readMs / 1000).toFixed(1)} s`);
        apiParts.push(await load(`queue API ${r + 1}/${rounds}`, { durationMs: readMs, concurrency: queueConcurrency }, apiRead));
      };
      const runRaw = async () => {
        progress(`support round ${r + 1}/${rounds}: raw SupportTicket.find().sort({queueKey:1}).limit(${pageSize + 1}) for ${(readMs / 1000).toFixed(1)} s`);
        rawParts.push(await load(`queue raw ${r + 1}/${rounds}`, { durationMs: readMs, concurrency: queueConcurrency }, rawRead));
      };
      const runBanded = async () => {
        progress(`support round ${r + 1}/${rounds}: in-process readQueuePage (the API's reads without HTTP) for ${(readMs / 1000).toFixed(1)} s`);
        bandedParts.push(await load(`queue banded ${r + 1}/${rounds}`, { durationMs: readMs, concurrency: queueConcurrency }, bandedRead));
      };
      for (const fn of r % 2 === 0 ? [runApi, runRaw, runBanded] : [runBanded, runRaw, runApi]) await fn();
      ctx.checkWorker();
    }
    const apiR = mergeResults('queue API', apiParts);
    const rawR = mergeResults('queue raw', rawParts);
    const bandedR = mergeResults('queue banded', bandedParts);
    const ratio = rawR.perSec > 0 ? Math.round((apiR.perSec / rawR.perSec) * 1000) / 1000 : NaN;

    const lines = [
      `5. Support requests: ${n} filed through the API, ${concurrency} in flight, in ${rounds} rounds (each answered once its workflow recorded it)`,
      `  ${''.padEnd(52)}${'per s'.padStart(10)}${'p50 ms'.padStart(10)}${'p95 ms'.padStart(10)}${'p99 ms'.padStart(10)}${'errors'.padStart(8)}${'ok'.padStart(8)}`,
      row('POST /support-requests -> 201', filing),
      ...(memory
        ? [
            `  worker memory per open ticket workflow (${memory.open} filed and acknowledged, waiting on their SLA timers, in a fresh worker process, growth after GC):`,
            `    ${kib(memory.bytesPerWorkflow)} KiB RSS (${memory.perGiB} per GiB), of which ${kib(memory.heapBytesPerWorkflow)} KiB V8 heap; worker RSS ${mib(memory.rssBeforeBytes)} -> ${mib(memory.rssAfterBytes)} MiB`,
          ]
        : []),
      '',
      `6. Support queue: first page (${pageLength} of ${openTickets} open tickets; ${queueInserted} of them INSERTED DIRECTLY, without workflows), ${queueConcurrency} in flight, ${ctx.readSeconds} s each`,
      `  ${''.padEnd(52)}${'per s'.padStart(10)}${'p50 ms'.padStart(10)}${'p95 ms'.padStart(10)}${'p99 ms'.padStart(10)}${'errors'.padStart(8)}${'ok'.padStart(8)}`,
      row('API GET /support-requests (support agent)', apiR),
      row(`raw find().sort({queueKey:1}).limit(${pageSize + 1}).lean()`, rawR),
      row('in-process readQueuePage (its banded reads, no HTTP)', bandedR),
      `  ${'ratio API/raw sorted read'.padEnd(52)}${f2(ratio).padStart(10)}`,
      '',
    ];
    const json = {
      bench: 'csp-desk-support',
      at: new Date().toISOString(),
      settings: { n, queueSize, concurrency, queueConcurrency, rounds, readSeconds: ctx.readSeconds },
      filing: slim(filing),
      memory: memory ? (({ workflowIds: _ids, ...rest }) => rest)(memory) : null,
      queue: { openTickets, insertedDirectly: queueInserted, pageSize, api: slim(apiR), raw: slim(rawR), banded: slim(bandedR), ratio },
    };
    return { lines, json };
  } finally {
    await agentApi.close();
    if (ctx.externalTemporal) {
      const ids = [...numbers.map(supportWorkflowId), ...(memory?.workflowIds ?? [])];
      progress(`terminating the ${ids.length} ticket workflows on the external Temporal`);
      for (const id of ids) {
        await ctx.benchClient.workflow
          .getHandle(id)
          .terminate('benchmark finished')
          .catch(() => undefined);
      }
    }
  }
}
