/**
 * The benchmark's support section (called from bench/run.ts once its own parts are done):
 *
 *   3. support requests filed per second through the API (POST /support-requests, answered once the
 *      ticket's workflow has recorded it), and the worker process's memory growth per open ticket workflow
 *      (every filed ticket stays open, its workflow waiting on its SLA timers);
 *   4. the support queue's first page (GET /support-requests as a support agent, earliest SLA due first) at
 *      10,000 open tickets, against raw database reads of the same page. The 10,000 tickets are INSERTED
 *      DIRECTLY into the database (no workflow behind them; labelled `bench-queue` in their title) so the read
 *      benchmark does not take an hour of filing; the filed ones of part 3 are among the page's candidates.
 *
 * Settings: BENCH_SUPPORT_N (tickets filed, default 200), BENCH_SUPPORT_QUEUE (tickets in the queue, default
 * 10000), BENCH_SUPPORT_QUEUE_CONCURRENCY (queue reads in flight, default 4: on FerretDB 1.24 a first page
 * at 10,000 tickets takes seconds, since neither the sort nor the limit is pushed down to PostgreSQL).
 * Prints its block of the summary and one JSON line `{"bench":"csp-desk-support",...}`.
 */
import crypto from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Client } from '@temporalio/client';
import { queueKeyOf } from '../activities/support';
import { supportWorkflowId } from '../contracts/support';
import { CROCKFORD, GENERAL_PROBLEM_TYPE, IMPACTS, searchTextOf } from '../domain/support';
import { SupportTicket, type SupportTicketDoc } from '../models';
import { ensureUser, issueToken } from '../services/users';
import { httpClient, type HttpClient } from './http';
import { mergeResults, runLoad, type LoadResult } from './load';

export interface SupportBenchContext {
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

/** A full collection in the main isolate (the worker's workflow threads collect on their own). */
function collect(): void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
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
  let inserted = 0;
  for (let start = 0; start < count; start += 500) {
    const docs: SupportTicketDoc[] = [];
    for (let i = start; i < Math.min(count, start + 500); i++) {
      const number = `SR-991231-${Array.from(crypto.randomBytes(6), (b) => CROCKFORD[b % 32]).join('')}`;
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
    inserted += docs.length;
    if (inserted % 2500 === 0 || inserted === count) progress(`queue tickets inserted directly: ${inserted}/${count}`);
  }
  return inserted;
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
  collect();
  await new Promise((r) => setTimeout(r, 1000));
  const before = process.memoryUsage();
  const openBefore = numbers.length;
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
  // let the workflows reach their timers, then measure
  await new Promise((r) => setTimeout(r, 3000));
  collect();
  await new Promise((r) => setTimeout(r, 1000));
  const after = process.memoryUsage();
  const opened = numbers.length - openBefore;
  const memory = {
    openTicketWorkflows: numbers.length,
    measuredOver: opened,
    rssGrowthMiB: mb(after.rss - before.rss),
    rssPerWorkflowKiB: opened > 0 ? Math.round((after.rss - before.rss) / opened / 102.4) / 10 : NaN,
    mainHeapGrowthMiB: mb(after.heapUsed - before.heapUsed),
    rssNowMiB: mb(after.rss),
  };

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
    await load('warm-up queue API', { durationMs: 2000, quiet: true, concurrency: queueConcurrency }, apiRead);
    await load('warm-up queue raw', { durationMs: 2000, quiet: true, concurrency: queueConcurrency }, rawRead);
    const apiParts: LoadResult[] = [];
    const rawParts: LoadResult[] = [];
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
      for (const fn of r % 2 === 0 ? [runApi, runRaw] : [runRaw, runApi]) await fn();
      ctx.checkWorker();
    }
    const apiR = mergeResults('queue API', apiParts);
    const rawR = mergeResults('queue raw', rawParts);
    const ratio = rawR.perSec > 0 ? Math.round((apiR.perSec / rawR.perSec) * 1000) / 1000 : NaN;

    const lines = [
      `3. Support requests: ${n} filed through the API, ${concurrency} in flight, in ${rounds} rounds (each answered once its workflow recorded it)`,
      `  ${''.padEnd(52)}${'per s'.padStart(10)}${'p50 ms'.padStart(10)}${'p95 ms'.padStart(10)}${'p99 ms'.padStart(10)}${'errors'.padStart(8)}${'ok'.padStart(8)}`,
      row('POST /support-requests -> 201', filing),
      `  worker memory: ${memory.openTicketWorkflows} open ticket workflows; RSS grew ${memory.rssGrowthMiB} MiB over the ${memory.measuredOver} filed,`,
      `    about ${memory.rssPerWorkflowKiB} KiB per open ticket workflow (worker + API + load in one process; main-isolate heap ${memory.mainHeapGrowthMiB} MiB of it)`,
      '',
      `4. Support queue: first page (${pageLength} of ${openTickets} open tickets; ${queueInserted} of them INSERTED DIRECTLY, without workflows), ${queueConcurrency} in flight, ${ctx.readSeconds} s each`,
      `  ${''.padEnd(52)}${'per s'.padStart(10)}${'p50 ms'.padStart(10)}${'p95 ms'.padStart(10)}${'p99 ms'.padStart(10)}${'errors'.padStart(8)}${'ok'.padStart(8)}`,
      row('API GET /support-requests (support agent)', apiR),
      row(`raw find().sort({queueKey:1}).limit(${pageSize + 1}).lean()`, rawR),
      `  ${'ratio API/raw'.padEnd(52)}${f2(ratio).padStart(10)}`,
      '',
    ];
    const json = {
      bench: 'csp-desk-support',
      at: new Date().toISOString(),
      settings: { n, queueSize, concurrency, queueConcurrency, rounds, readSeconds: ctx.readSeconds },
      filing: slim(filing),
      memory,
      queue: { openTickets, insertedDirectly: queueInserted, pageSize, api: slim(apiR), raw: slim(rawR), ratio },
    };
    return { lines, json };
  } finally {
    agentApi.close();
    if (ctx.externalTemporal) {
      progress(`terminating the ${numbers.length} ticket workflows on the external Temporal`);
      for (const number of numbers) {
        await ctx.benchClient.workflow
          .getHandle(supportWorkflowId(number))
          .terminate('benchmark finished')
          .catch(() => undefined);
      }
    }
  }
}
