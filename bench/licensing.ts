/**
 * The licensing part of `npm run bench`, on the same servers and in the same process as the rest:
 *   1. 200 concurrent downloads from byte 0 on one fresh link: time until all have answered, and exactly 50
 *      files (the rest 410), per round;
 *   2. download throughput (MB/s) through a link against a plain static file of the same size, sent by
 *      `res.sendFile` from the same process and server, in alternating rounds;
 *   3. the activity log's first page (GET /activity-log, 100 entries) with BENCH_LOG_ENTRIES entries in the
 *      partner's log: p50/p95, with and without a customer filter.
 * Settings: BENCH_FILE_MB (64), BENCH_LOG_ENTRIES (100000), BENCH_LOG_SECONDS (6).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import express from 'express';
import type { Client } from '@temporalio/client';
import { createApi, createAppServer } from '../composition/root';
import { createStandInFiles } from '../lib/files';
import type { Logger } from '../lib/logger';
import type { Mailer } from '../lib/mailer';
import { ActivationKey, ActivityEntry, Order, recordActivityDay, type ActivityEntryDoc } from '../models';
import { ACTIVITY_OPERATIONS, ACTIVITY_RESOURCES } from '../domain/licensing';
import { findCatalogProduct } from '../domain/catalog';
import { DAY_MS } from '../domain/time';
import { ensureUser, issueToken } from '../services/users';
import type { HttpClient } from './http';
import { latencyOf, runLoad, type Latency } from './load';

export interface LicensingBenchContext {
  api: HttpClient;
  baseUrl: string;
  partnerId: string;
  customers: string[];
  client: Client;
  mailer: Mailer;
  log: Logger;
  taskQueue: string;
  dataDir: string;
  rounds: number;
  progress: (msg: string) => void;
  aborted: () => boolean;
}

export interface LicensingBenchResult {
  claims: { requests: number; rounds: { settleMs: number; files: number; gone: number; other: number }[] };
  throughput: { fileBytes: number; downloadsPerRound: number; concurrency: number; linkMBps: number; staticMBps: number; ratio: number; roundsMBps: { link: number[]; static: number[] } };
  log: { entries: number; insertSeconds: number; firstPage: Latency & { perSec: number }; firstPageByCustomer: Latency & { perSec: number } };
}

const PRODUCT = 'windows-server-standard-perpetual';
const CHOICE = { version: 'Windows Server 2019', language: 'en-us', fileType: 'ISO (64-bit)' };
const num = (name: string, fallback: number) => (process.env[name] ? Math.max(1, Number(process.env[name])) : fallback);

/** GET a URL, discarding the body: status and bytes. */
function get(agent: http.Agent, url: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function activeOrder(ctx: LicensingBenchContext, tag: string): Promise<string> {
  const order = await ctx.api.json<{ id: string }>('POST', `/customers/${ctx.customers[0]}/orders`, 201, { headers: { 'idempotency-key': `bench-lic-${tag}` }, body: { productId: PRODUCT, quantity: 1 } });
  const deadline = Date.now() + 60_000;
  while (!(await ActivationKey.exists({ orderId: order.id, status: 'active' })) || !(await Order.exists({ _id: order.id, status: 'active' }))) {
    if (Date.now() > deadline) throw new Error(`order ${order.id} got no key within 60 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return order.id;
}

const newLink = (ctx: LicensingBenchContext, orderId: string) => ctx.api.json<{ download: { url: string; sizeBytes: number } }>('POST', `/orders/${orderId}/downloads`, 201, { body: CHOICE }).then((r) => r.download);

export async function runLicensingBench(ctx: LicensingBenchContext): Promise<LicensingBenchResult> {
  const tag = crypto.randomBytes(3).toString('hex');
  const orderId = await activeOrder(ctx, tag);
  const pathOf = (url: string) => new URL(url, 'http://x').pathname;

  // ---- 1. 200 concurrent claims on one link
  const requests = 200;
  const claimRounds: LicensingBenchResult['claims']['rounds'] = [];
  for (let r = 0; r < ctx.rounds && !ctx.aborted(); r++) {
    const link = await newLink(ctx, orderId);
    const agent = new http.Agent({ keepAlive: true, maxSockets: requests });
    const t0 = performance.now();
    const answers = await Promise.all(Array.from({ length: requests }, () => get(agent, `${ctx.baseUrl}${pathOf(link.url)}`)));
    const settleMs = Math.round(performance.now() - t0);
    agent.destroy();
    const files = answers.filter((a) => a.status === 200 && a.bytes === link.sizeBytes).length;
    const gone = answers.filter((a) => a.status === 410).length;
    claimRounds.push({ settleMs, files, gone, other: requests - files - gone });
    ctx.progress(`licensing: ${requests} concurrent downloads on one link settled in ${settleMs} ms: ${files} files, ${gone} x 410`);
  }

  // ---- 2. throughput: a link vs a static file of the same size, same process, each app on its own server
  const fileBytes = num('BENCH_FILE_MB', 64) * 1024 * 1024;
  const bigFiles = createStandInFiles({ sizeOf: () => fileBytes });
  const option = findCatalogProduct(PRODUCT)!.downloads!.find((o) => o.optionTitle === CHOICE.version && o.languageCode === CHOICE.language && o.fileType === CHOICE.fileType)!;
  const staticPath = path.join(ctx.dataDir, 'bench-static.iso');
  await pipeline(bigFiles.stream(option, 0, fileBytes - 1), fs.createWriteStream(staticPath));
  await bigFiles.describe(option); // the digest is computed once per process; not part of the measure
  const bigApi = createApi({ client: ctx.client, mailer: ctx.mailer, log: ctx.log, taskQueue: ctx.taskQueue, reminderDaysBeforeClose: 7, files: bigFiles });
  const staticApp = express();
  staticApp.get('/static/bench.iso', (_req, res) => res.sendFile(staticPath));
  const servers = [createAppServer(bigApi), createAppServer(staticApp)];
  for (const server of servers) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const [linkBase, staticBase] = servers.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const perRound = 8;
  const concurrency = 2;
  const linkMBps: number[] = [];
  const staticMBps: number[] = [];
  try {
    const measure = async (label: string, base: string, url: () => Promise<string>) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
      const target = await url();
      let bytes = 0;
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < perRound) {
            next++;
            const a = await get(agent, `${base}${target}`);
            if (a.status !== 200 || a.bytes !== fileBytes) throw new Error(`${label}: ${a.status}, ${a.bytes} bytes`);
            bytes += a.bytes;
          }
        }),
      );
      agent.destroy();
      const mbps = Math.round((bytes / 1e6 / ((performance.now() - t0) / 1000)) * 10) / 10;
      ctx.progress(`licensing: ${label} ${perRound} x ${fileBytes / 1048576} MiB at concurrency ${concurrency}: ${mbps} MB/s`);
      return mbps;
    };
    const viaLink = async () => linkMBps.push(await measure('download link', linkBase, async () => pathOf((await newLink(ctx, orderId)).url)));
    const viaStatic = async () => staticMBps.push(await measure('static file', staticBase, async () => '/static/bench.iso'));
    for (let r = 0; r < ctx.rounds && !ctx.aborted(); r++) for (const fn of r % 2 === 0 ? [viaLink, viaStatic] : [viaStatic, viaLink]) await fn();
  } finally {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    fs.rmSync(staticPath, { force: true });
  }
  const mean = (xs: number[]) => Math.round((xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length)) * 10) / 10;

  // ---- 3. the activity log's first page at BENCH_LOG_ENTRIES entries
  const entries = num('BENCH_LOG_ENTRIES', 100_000);
  const already = await ActivityEntry.countDocuments({ partnerId: ctx.partnerId });
  const t0 = performance.now();
  const now = Date.now();
  const batch = 2_000;
  const days = new Set<string>();
  for (let i = already; i < entries && !ctx.aborted(); i += batch) {
    const docs: ActivityEntryDoc[] = [];
    for (let j = i; j < Math.min(entries, i + batch); j++) {
      const customerId = ctx.customers[j % ctx.customers.length];
      const operationDate = new Date(now - Math.floor((((j * 7919) % entries) / entries) * 80 * DAY_MS));
      days.add(operationDate.toISOString().slice(0, 10));
      docs.push({
        _id: `bench:${tag}:${j}`,
        partnerId: ctx.partnerId,
        operationDate,
        day: operationDate.toISOString().slice(0, 10),
        operationType: ACTIVITY_OPERATIONS[j % ACTIVITY_OPERATIONS.length],
        resourceType: ACTIVITY_RESOURCES[j % ACTIVITY_RESOURCES.length],
        operationStatus: j % 17 === 0 ? 'failed' : 'succeeded',
        userPrincipalName: j % 3 === 0 ? null : `admin-agent@${ctx.partnerId}.example`,
        actor: j % 3 === 0 ? { kind: 'link-holder', userId: null, name: 'holder of a download link', role: null } : { kind: 'user', userId: 'bench', name: 'Bench admin agent', role: 'admin-agent' },
        customerId,
        customerName: `Bench customer ${customerId}`,
        orderId: `bench-order-${j % 500}`,
        productId: PRODUCT,
        productName: 'Windows Server 2019 Standard (perpetual licence)',
        resourceId: crypto.randomBytes(8).toString('hex'),
        ipAddress: `198.51.100.${j % 250}`,
        userAgent: 'bench/1.0',
        detail: 'generated by the benchmark',
        reason: null,
        requestId: null,
      });
    }
    await ActivityEntry.collection.insertMany(docs as never[], { ordered: false });
    if ((i / batch) % 10 === 9) ctx.progress(`licensing: activity log ${Math.min(entries, i + batch)} / ${entries} entries`);
  }
  // what appendActivity records before a day's first entry (the bench inserts in bulk, bypassing it)
  for (const day of days) await recordActivityDay(ctx.partnerId, day);
  const insertSeconds = Math.round((performance.now() - t0) / 100) / 10;
  const admin = await ensureUser({ name: 'Bench global admin', email: `global-admin@${ctx.partnerId}.example`, role: 'global-admin', partnerId: ctx.partnerId });
  const adminToken = await issueToken(admin._id, 'bench');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const range = `from=${day(now - 89 * DAY_MS)}&to=${day(now)}`;
  const readPage = (query: string) => async () => {
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.get(`${ctx.baseUrl}/activity-log?${query}`, { agent, headers: { authorization: `Bearer ${adminToken}` } }, (r) => {
        let text = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (text += c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, text }));
      });
      req.on('error', reject);
    });
    if (res.status !== 200) throw new Error(`GET /activity-log: ${res.status} ${res.text.slice(0, 200)}`);
    if ((JSON.parse(res.text) as { items: unknown[] }).items.length !== 100) throw new Error('GET /activity-log: not a full page');
  };
  const seconds = num('BENCH_LOG_SECONDS', 6);
  const pageLoad = async (label: string, query: string) => {
    await runLoad({ label: `warm-up ${label}`, concurrency: 1, count: 5, progress: ctx.progress, progressEveryMs: 0 }, readPage(query));
    const r = await runLoad({ label, concurrency: 1, durationMs: seconds * 1000, progress: ctx.progress, progressEveryMs: 0, aborted: ctx.aborted }, readPage(query));
    if (r.errors) throw new Error(`${label}: ${r.errorSamples.join(' | ')}`);
    ctx.progress(`licensing: ${label}: p50 ${r.latency.p50} ms, p95 ${r.latency.p95} ms (${r.ok} requests)`);
    return { ...latencyOf(r.samples), perSec: r.perSec };
  };
  const firstPage = await pageLoad('activity log first page', range);
  const firstPageByCustomer = await pageLoad('activity log first page, one customer', `${range}&customer=${ctx.customers[1]}`);
  agent.destroy();

  return {
    claims: { requests, rounds: claimRounds },
    throughput: { fileBytes, downloadsPerRound: perRound, concurrency, linkMBps: mean(linkMBps), staticMBps: mean(staticMBps), ratio: Math.round((mean(linkMBps) / mean(staticMBps)) * 100) / 100, roundsMBps: { link: linkMBps, static: staticMBps } },
    log: { entries, insertSeconds, firstPage, firstPageByCustomer },
  };
}

/** The summary lines of the licensing part. */
export function licensingLines(r: LicensingBenchResult): string[] {
  const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
  return [
    `4. Licensing`,
    `  ${r.claims.requests} concurrent downloads from byte 0 on one fresh link, per round: ${r.claims.rounds.map((x) => `${x.settleMs} ms (${x.files} files, ${x.gone} x 410${x.other ? `, ${x.other} other` : ''})`).join('; ')}`,
    `  download throughput, ${r.throughput.downloadsPerRound} x ${r.throughput.fileBytes / 1048576} MiB per round at concurrency ${r.throughput.concurrency}:`,
    `    through a download link (stand-in image generated on the fly) ${f1(r.throughput.linkMBps).padStart(8)} MB/s   rounds ${r.throughput.roundsMBps.link.map(f1).join(' / ')}`,
    `    static file, res.sendFile, same process                      ${f1(r.throughput.staticMBps).padStart(8)} MB/s   rounds ${r.throughput.roundsMBps.static.map(f1).join(' / ')}`,
    `    ratio link / static                                          ${r.throughput.ratio.toFixed(2).padStart(8)}`,
    `  activity log at ${r.log.entries} entries (inserted in ${r.log.insertSeconds} s), first page of 100, one client:`,
    `    90-day range            p50 ${f1(r.log.firstPage.p50)} ms  p95 ${f1(r.log.firstPage.p95)} ms  (${f1(r.log.firstPage.perSec)}/s)`,
    `    90-day range, customer  p50 ${f1(r.log.firstPageByCustomer.p50)} ms  p95 ${f1(r.log.firstPageByCustomer.p95)} ms  (${f1(r.log.firstPageByCustomer.perSec)}/s)`,
    '',
  ];
}
