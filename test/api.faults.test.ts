/**
 * A dependency down, for real: an API process of its own (dist/bin/api.js, production settings) on a FerretDB of
 * its own (on the test stack's PostgreSQL) that the test kills, restarts, freezes (SIGSTOP) and thaws; and an API
 * whose Temporal client points at a port where nothing listens. Requests must answer fast (a few seconds) with
 * 503, a stable code, Retry-After and the one error shape, and write nothing.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { startFerretDB, type FerretDBHandle } from '../stack/ferretdb';
import { freePort } from '../stack/ports';
import { spawnManaged, waitUntil, type ManagedProcess } from '../stack/process';
import { createApi, createAppServer } from '../composition/root';
import express from 'express';
import { checkHealth } from '../services/health';
import { connectClient, isTemporalUnavailable, isUnprocessedUpdate, lazyClient, sendUpdate, startOrJoin, UNPROCESSED_UPDATE_RETRIES } from '../lib/temporal';
import { supportRecordedUpdate } from '../contracts/support';
import { Client } from '@temporalio/client';
import { errorHandler, RETRY_AFTER_SECONDS } from '../api/http';
import { routesOf } from '../api/app';
import { startTemporalDev } from '../stack/temporal';
import { Order } from '../models';
import { SUPPORT_REQUEST_PROBLEM_TYPE } from '../domain/cancellation';
import { getTestApp, placeOrder, uniq, type TestApp, TEST_SUPPORT_SETTINGS } from './support/app';
import { startApiProcess, startWorkerProcess } from './support/processes';

const run = promisify(execFile);
const DIST = path.resolve(__dirname, '..');
/** The requirement: a request answers within a few seconds when a dependency is down (generous here: a loaded machine). */
const FAST_MS = 8000;

interface Timed {
  status: number;
  body: any;
  headers: Headers;
  ms: number;
}

async function timed(baseUrl: string, method: string, p: string, token: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<Timed> {
  const t0 = Date.now();
  const res = await fetch(`${baseUrl}${p}`, {
    method,
    headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers, ms: Date.now() - t0 };
}

function expectUnavailable(r: Timed, code: string, what: string): void {
  expect(r.status, `${what}: ${JSON.stringify(r.body)}`).to.equal(503);
  expect(r.body.error, what).to.include({ status: 503, code });
  expect(r.body.error.requestId, what).to.be.a('string');
  expect(r.headers.get('retry-after'), what).to.match(/^\d+$/);
  expect(r.ms, `${what} answered in ${r.ms} ms`).to.be.below(FAST_MS);
}

describe('API with a dependency down (real servers: FerretDB killed or frozen, Temporal unreachable)', function () {
  this.timeout(240_000);
  let app: TestApp;

  describe('the database', () => {
    let ferret: FerretDBHandle | undefined;
    let ferretPort: number;
    let api: ManagedProcess | undefined;
    let baseUrl: string;
    let env: NodeJS.ProcessEnv;
    let token: string;
    let unusedToken: string;
    let logsDir: string;

    const users = async (args: string[]) => JSON.parse((await run(process.execPath, [path.join(DIST, 'bin', 'users.js'), ...args], { env, timeout: 60_000 })).stdout);
    const startFerret = async () => {
      ferret = await startFerretDB({ postgresUrl: app.stack.postgresUrl!, port: ferretPort, logFile: path.join(logsDir, 'ferretdb-faults.log') });
    };

    before(async function () {
      app = await getTestApp();
      if (!app.stack.postgresUrl) this.skip(); // MONGODB_URI points at a server of its own: nothing here to stop
      logsDir = path.join(app.stack.dataDir, 'logs');
      ferretPort = await freePort();
      await startFerret();
      const apiPort = await freePort();
      env = {
        PATH: process.env.PATH,
        MONGODB_URI: `${ferret!.uri}csp-desk-faults`,
        TEMPORAL_ADDRESS: app.stack.temporalAddress,
        SMTP_URL: app.stack.smtpUrl,
        TEMPORAL_TASK_QUEUE: app.taskQueue,
        HOST: '127.0.0.1',
        PORT: String(apiPort),
        LOG_LEVEL: 'warn',
      };
      const partner = uniq('faults');
      await users(['partner', '--id', partner, '--name', 'Faults Partner', '--email', `billing@${partner}.example`]);
      token = (await users(['create', '--name', 'Faults Admin', '--email', `admin@${partner}.example`, '--role', 'admin-agent', '--partner', partner])).token;
      unusedToken = (await users(['create', '--name', 'Faults Sales', '--email', `sales@${partner}.example`, '--role', 'sales-agent', '--partner', partner])).token;
      api = spawnManaged({ name: 'api-faults', command: process.execPath, args: [path.join(DIST, 'bin', 'api.js')], env, logFile: path.join(logsDir, 'api-faults.log') });
      baseUrl = `http://127.0.0.1:${apiPort}`;
      await waitUntil('the faults API', async () => (await timed(baseUrl, 'GET', '/health', null)).status === 200, { timeoutMs: 60_000, abort: () => {
        if (!api!.running) throw new Error(`the API exited:\n${api!.tail(20)}`);
      } });
      expect((await timed(baseUrl, 'GET', '/customers', token)).status).to.equal(200);
    });

    after(async () => {
      if (ferret?.process.running) process.kill(ferret.process.pid, 'SIGCONT');
      await api?.stop(5000);
      await ferret?.stop();
    });

    const newCustomer = () => ({ name: uniq('Down'), tenantId: crypto.randomUUID(), domain: `d${crypto.randomBytes(4).toString('hex')}.onmicrosoft.com`, market: 'US' });

    it('when FerretDB is killed, then requests answer 503 database_unavailable with Retry-After within seconds, and nothing is written', async () => {
      process.kill(ferret!.process.pid, 'SIGKILL');
      await ferret!.process.exited;
      const input = newCustomer();
      const results = [
        ['GET /customers (token cached)', await timed(baseUrl, 'GET', '/customers', token)],
        ['POST /customers', await timed(baseUrl, 'POST', '/customers', token, input)],
        ['GET /customers (token not cached)', await timed(baseUrl, 'GET', '/customers', unusedToken)],
        ['GET /products', await timed(baseUrl, 'GET', '/products', token)],
        // the order read goes through the driver, not a mongoose query: the same timeouts and the same 503 (the
        // cancellation preview reads the order alone; the order's own read also reads its timeline)
        ['GET /orders/{id}', await timed(baseUrl, 'GET', `/orders/${crypto.randomUUID()}`, token)],
        ['GET /orders/{id}/cancellation', await timed(baseUrl, 'GET', `/orders/${crypto.randomUUID()}/cancellation`, token)],
        // a download link (no sign-in) reads the database too: a 503 its OpenAPI operation lists (QA: it did not)
        ['GET /downloads/{token}', await timed(baseUrl, 'GET', `/downloads/dl_${crypto.randomBytes(32).toString('base64url')}`, null)],
      ] as const;
      try {
        for (const [what, r] of results) expectUnavailable(r, 'database_unavailable', what);
      } catch (e) {
        (e as Error).message += `\nthe API's log:\n${api!.tail(40)}`;
        throw e;
      }
      const doc = (await timed(baseUrl, 'GET', '/openapi.json', null)).body;
      expect(doc.paths['/downloads/{token}'].get.responses['503']['x-error-codes']).to.deep.equal(['database_unavailable']);
      // a customer's browser is told to open the link again in a few seconds (it said "retry in 5 s" and "in a few minutes")
      const page = await fetch(`${baseUrl}/downloads/dl_${crypto.randomBytes(32).toString('base64url')}`, { headers: { accept: 'text/html' } });
      const html = await page.text();
      expect([page.status, page.headers.get('retry-after')]).to.deep.equal([503, '5']);
      expect(html).to.include('Open the link again in a few seconds.').and.not.include('a few minutes');
      const health = await timed(baseUrl, 'GET', '/health', null);
      expect(health.status).to.equal(503);
      expect(health.body.database.ok).to.equal(false);
      // "unavailable", not the "degraded" of SMTP alone down (QA: a monitor reading the body could not tell them apart)
      expect([health.body.status, health.headers.get('retry-after')]).to.deep.equal(['unavailable', '5']);

      await startFerret(); // the same port and data: the driver reconnects by itself
      await waitUntil('the API to reach the database again', async () => (await timed(baseUrl, 'GET', '/customers', token)).status === 200, { timeoutMs: 60_000 });
      const list = (await timed(baseUrl, 'GET', '/customers', token)).body as { name: string }[];
      expect(list.map((c) => c.name)).to.not.include(input.name);
      expect((await timed(baseUrl, 'GET', '/customers', unusedToken)).status).to.equal(200);
    });

    it('when FerretDB is frozen (SIGSTOP), then requests answer 503 within seconds instead of hanging, and recover once it thaws', async () => {
      const input = newCustomer();
      if (!ferret!.process.running) await startFerret(); // the test before failed half-way
      process.kill(ferret!.process.pid, 'SIGSTOP');
      try {
        const [get, post, products, order] = await Promise.all([
          timed(baseUrl, 'GET', '/customers', token),
          timed(baseUrl, 'POST', '/customers', token, input),
          timed(baseUrl, 'GET', '/products', token),
          timed(baseUrl, 'GET', `/orders/${crypto.randomUUID()}/cancellation`, token),
        ]);
        expectUnavailable(get, 'database_unavailable', 'GET /customers');
        expectUnavailable(post, 'database_unavailable', 'POST /customers');
        expectUnavailable(products, 'database_unavailable', 'GET /products');
        expectUnavailable(order, 'database_unavailable', 'GET /orders/{id}/cancellation (the order read alone)');
      } finally {
        process.kill(ferret!.process.pid, 'SIGCONT');
      }
      await waitUntil('the API to recover', async () => (await timed(baseUrl, 'GET', '/customers', token)).status === 200, { timeoutMs: 60_000 });
      // a write sent to the frozen server may land when it thaws: retrying it is safe (unique keys), 409 at worst
      const retry = await timed(baseUrl, 'POST', '/customers', token, input);
      expect([201, 409]).to.include(retry.status);
    });
    it('when the database stops answering while a request waits on its workflow, then the request answers 503 database_unavailable within seconds (not at the 60 s deadline as temporal_unavailable), and the retry with the same key gets the one order', async () => {
      if (!ferret!.process.running) await startFerret();
      await waitUntil('the API to reach the database', async () => (await timed(baseUrl, 'GET', '/customers', token)).status === 200, { timeoutMs: 60_000 });
      // a worker and an API of their own on this FerretDB, so that the order's workflow writes to the server frozen here
      const taskQueue = uniq('faults-db-wait');
      const worker = await startWorkerProcess(app.stack, 'worker-db-wait', { taskQueue, mongoUri: env.MONGODB_URI });
      const api2 = await startApiProcess(app.stack, 'api-db-wait', { taskQueue, mongoUri: env.MONGODB_URI });
      // this database's catalog (the test stack seeds its own database only)
      const seed = `const db = require(${JSON.stringify(path.join(DIST, 'lib', 'db'))}); const c = require(${JSON.stringify(path.join(DIST, 'services', 'catalog'))});
        db.connectDatabase(process.env.MONGODB_URI).then(() => c.seedCatalog()).then(() => db.disconnectDatabase()).catch((e) => { console.error(e); process.exit(1); });`;
      await run(process.execPath, ['-e', seed], { env, timeout: 60_000 });
      const customer = await timed(api2.url!, 'POST', '/customers', token, newCustomer());
      expect(customer.status, JSON.stringify(customer.body)).to.equal(201);
      const key = uniq('k-db-wait');
      const place = () => timed(api2.url!, 'POST', `/customers/${customer.body.id}/orders`, token, { productId: 'sql-server-standard-sub', quantity: 1 }, { 'idempotency-key': key });
      try {
        // the worker holds still, so the request has done its reads and waits on the workflow's first write ...
        process.kill(worker.proc.pid, 'SIGSTOP');
        const pending = place();
        await new Promise((r) => setTimeout(r, 1500));
        // ... which then meets a frozen database
        process.kill(ferret!.process.pid, 'SIGSTOP');
        const frozenAt = Date.now();
        process.kill(worker.proc.pid, 'SIGCONT');
        const r = await pending;
        const waited = Date.now() - frozenAt;
        expect(r.status, JSON.stringify(r.body)).to.equal(503);
        expect(r.body.error.code).to.equal('database_unavailable');
        expect(r.headers.get('retry-after')).to.match(/^\d+$/);
        expect(waited, `ms from the freeze to the answer`).to.be.below(FAST_MS);
      } finally {
        process.kill(worker.proc.pid, 'SIGCONT');
        process.kill(ferret!.process.pid, 'SIGCONT');
      }
      try {
        // the workflow goes on once the database is back: the same key answers with the one order it made
        let again: Timed | undefined;
        await waitUntil('the order with the same key', async () => {
          again = await place();
          return again.status === 201;
        }, { timeoutMs: 60_000, intervalMs: 500 });
        const list = await timed(api2.url!, 'GET', `/customers/${customer.body.id}/orders`, token);
        const items = (Array.isArray(list.body) ? list.body : list.body.items) as { id: string }[];
        expect(items.map((o) => o.id)).to.deep.equal([again!.body.id]);
      } finally {
        await api2.stop();
        await worker.stop();
      }
    });
  });

  describe('Temporal frozen', () => {
    it('when Temporal is frozen (SIGSTOP), then placing an order answers 503 within seconds instead of waiting out its deadline, and the API recovers once it thaws', async () => {
      app = await getTestApp();
      const port = await freePort();
      const dir = path.join(app.stack.dataDir, `temporal-frozen-${crypto.randomBytes(3).toString('hex')}`);
      const temporal = await startTemporalDev({ dbFile: path.join(dir, 'temporal.db'), port, uiPort: null, logFile: path.join(dir, 'temporal.log') });
      const client = await connectClient(temporal.address, 'default', { failFast: true });
      const api = createApi({ client, mailer: app.mailer, log: app.log, taskQueue: uniq('frozen'), reminderDaysBeforeClose: 7, support: TEST_SUPPORT_SETTINGS, validateResponses: true });
      const server = createAppServer(api);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const frozen = -temporal.process.pid; // its process group
      try {
        const customer = await app.newCustomer('US');
        process.kill(frozen, 'SIGSTOP');
        const order = await timed(baseUrl, 'POST', `/customers/${customer.id}/orders`, app.tokens['admin-agent'], { productId: 'sql-server-standard-sub', quantity: 1 }, { 'idempotency-key': uniq('k-frozen') });
        expectUnavailable(order, 'temporal_unavailable', 'POST order, Temporal frozen');
        expect(await Order.countDocuments({ customerId: customer.id })).to.equal(0);
        process.kill(frozen, 'SIGCONT');
        await waitUntil('health after the thaw', async () => (await timed(baseUrl, 'GET', '/health', null)).body?.temporal?.ok === true, { timeoutMs: 30_000, intervalMs: 250 });
      } finally {
        try {
          process.kill(frozen, 'SIGCONT');
        } catch {
          /* gone already */
        }
        await new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await client.connection.close();
        await temporal.stop();
      }
    });
  });

  describe('a Temporal namespace that does not exist', () => {
    it('when TEMPORAL_NAMESPACE names no namespace of the server, then the API and the worker refuse to start, naming the setting (exit 2), and /health checks the namespace', async () => {
      app = await getTestApp();
      const env = { PATH: process.env.PATH, MONGODB_URI: app.stack.mongoUri, TEMPORAL_ADDRESS: app.stack.temporalAddress, SMTP_URL: app.stack.smtpUrl, TEMPORAL_NAMESPACE: 'no-such-namespace', PORT: String(await freePort()), LOG_LEVEL: 'warn' };
      // QA: the API started, /health said ok, and every write answered 500
      for (const bin of ['api.js', 'worker.js']) {
        const failed = await run(process.execPath, [path.join(DIST, 'bin', bin)], { env, timeout: 60_000 }).then(
          () => null,
          (e: { code?: number; stderr?: string }) => e,
        );
        expect(failed, bin).to.not.equal(null);
        expect(failed!.code, `${bin}: ${failed!.stderr}`).to.equal(2);
        expect(failed!.stderr).to.equal(`configuration: TEMPORAL_NAMESPACE="no-such-namespace" is not a namespace of the Temporal server at ${app.stack.temporalAddress}: create it (temporal operator namespace create --namespace no-such-namespace) or set TEMPORAL_NAMESPACE to one it has\n`);
      }
      // a namespace gone after the start: /health says Temporal cannot serve
      const client = await connectClient(app.stack.temporalAddress, 'default');
      try {
        const elsewhere = new Client({ connection: client.connection, namespace: 'no-such-namespace' });
        const health = await checkHealth({ client: elsewhere, mailer: app.mailer });
        expect([health.serving, health.status, health.temporal.ok]).to.deep.equal([false, 'unavailable', false]);
      } finally {
        await client.connection.close();
      }
    });
  });

  describe('Temporal', () => {
    let server: http.Server;
    let baseUrl: string;
    let api: express.Express;

    before(async () => {
      app = await getTestApp();
      const closed = await freePort(); // nothing listens there
      const client = lazyClient(`127.0.0.1:${closed}`, 'default');
      api = createApi({ client, mailer: app.mailer, log: app.log, taskQueue: app.taskQueue, reminderDaysBeforeClose: 7, support: TEST_SUPPORT_SETTINGS, validateResponses: true });
      server = createAppServer(api);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    after(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    });

    it('when Temporal is unreachable, then placing or cancelling answers 503 temporal_unavailable within seconds, and nothing is written', async () => {
      const customer = await app.newCustomer('US');
      const placed = await placeOrder(app, customer.id, 'windows-server-standard-sub');
      const token = app.tokens['admin-agent'];
      const order = await timed(baseUrl, 'POST', `/customers/${customer.id}/orders`, token, { productId: 'sql-server-standard-sub', quantity: 1 }, { 'idempotency-key': uniq('k-down') });
      expectUnavailable(order, 'temporal_unavailable', 'POST order');
      const cancel = await timed(baseUrl, 'POST', `/orders/${placed.id}/cancel`, token, { customer: customer.name, productName: placed.product.name, acknowledged: true });
      expectUnavailable(cancel, 'temporal_unavailable', 'POST cancel');
      expect(await Order.countDocuments({ customerId: customer.id })).to.equal(1);
      expect((await Order.findById(placed.id).lean())!.status).to.not.equal('cancelled');
      // reads need only the database
      expect((await timed(baseUrl, 'GET', `/orders/${placed.id}`, token)).status).to.equal(200);
      const health = await timed(baseUrl, 'GET', '/health', null);
      expect(health.status).to.equal(503);
      expect(health.body.temporal.ok).to.equal(false);
      // the public answer names no internal address or driver message (they go to the log)
      expect(health.body.temporal.error).to.be.oneOf(['unreachable', 'no answer within 3000 ms']);
      expect(JSON.stringify(health.body)).to.not.include('127.0.0.1');
    });

    it('when Temporal is unreachable, then every route declared databaseOnly (run outside the Temporal guard) still answers 200: none of them calls Temporal', async () => {
      const customer = await app.newCustomer('US');
      const placed = await placeOrder(app, customer.id, 'windows-server-standard-sub');
      const token = app.tokens['admin-agent'];
      const own = await timed(baseUrl, 'GET', '/tokens', token);
      expect(own.status).to.equal(200);
      const tokenId = (own.body as { id: string }[])[0].id;
      const urls: Record<string, string> = {
        '/orders/{id}': `/orders/${placed.id}`,
        '/orders/{id}/cancellation': `/orders/${placed.id}/cancellation`,
        '/customers/{customer}/orders': `/customers/${customer.id}/orders`,
        '/customers': '/customers',
        '/customers/{customer}': `/customers/${customer.id}`,
        '/products': '/products',
        '/products/{id}': '/products/windows-server-standard-sub',
        '/tokens': '/tokens',
        '/tokens/{id}': `/tokens/${tokenId}`,
        '/invoices/{month}': `/invoices/${placed.purchasedAt.slice(0, 7)}`,
      };
      // a route newly declared databaseOnly needs its line above
      expect(routesOf(api).filter((r) => r.databaseOnly).map((r) => r.path)).to.have.members(Object.keys(urls));
      for (const url of Object.values(urls)) {
        const r = await timed(baseUrl, 'GET', url, token);
        expect(r.status, `GET ${url}: ${JSON.stringify(r.body)}`).to.equal(200);
      }
    });

    it('when filing a refund request failed because Temporal was unreachable, then the order says a request is being filed (not "reply to it"), and the same key sent again files it as no replay; only the next send is', async () => {
      const customer = await app.newCustomer('US');
      const order = await placeOrder(app, customer.id, 'windows-7-esu-2020');
      const body = {
        problemType: SUPPORT_REQUEST_PROBLEM_TYPE,
        impact: 'moderate',
        title: 'Refund while Temporal is down',
        customer: customer.id,
        orderId: order.id,
        refund: { reason: 'Bought by mistake', amount: 100, currency: order.pricing.currency },
        contact: { name: 'Q', email: 'q@example.com', phone: '+1 555 0100' },
      };
      const key = uniq('k-file-down');
      expectUnavailable(await timed(baseUrl, 'POST', '/support-requests', app.tokens['admin-agent'], body, { 'idempotency-key': key }), 'temporal_unavailable', 'POST /support-requests');
      // another request for the order meanwhile: refused, saying what holds the order and what to do
      const other = await app.api('POST', '/support-requests', { body, headers: { 'idempotency-key': uniq('k-file-other') } });
      expect(other.status, JSON.stringify(other.body)).to.equal(409);
      expect(other.body.error.code).to.equal('open_refund_ticket');
      expect(other.body.error.message).to.include('being filed').and.include('send that request again with its Idempotency-Key').and.not.include('reply to it');
      // Temporal answers again (the test app's API): the key's first send that gets through files it, then it is a replay
      const filed = await app.api('POST', '/support-requests', { body, headers: { 'idempotency-key': key } });
      expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
      expect(filed.headers.get('idempotent-replayed')).to.equal('false');
      const again = await app.api('POST', '/support-requests', { body, headers: { 'idempotency-key': key } });
      expect([again.status, again.body.number, again.headers.get('idempotent-replayed')]).to.deep.equal([201, filed.body.number, 'true']);
    });

    it('when a keyed support action failed because Temporal was unreachable, then sending it again carries it out once and says it is no replay; only the third send is', async () => {
      const customer = await app.newCustomer('US');
      const filed = await app.api('POST', '/support-requests', {
        headers: { 'idempotency-key': uniq('k-file') },
        body: { problemType: 'General question or problem', impact: 'minimal', title: 'Keyed while down', customer: customer.id, contact: { name: 'Q', email: 'q@example.com' } },
      });
      expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
      const key = uniq('k-reply');
      const reply = { body: 'We are looking at it.' };
      const agent = app.tokens['support-agent'];
      expectUnavailable(await timed(baseUrl, 'POST', `/support-requests/${filed.body.number}/replies`, agent, reply, { 'idempotency-key': key }), 'temporal_unavailable', 'POST reply');
      // Temporal answers again (the test app's API): the first time the reply is carried out, then it is a replay
      const first = await app.api('POST', `/support-requests/${filed.body.number}/replies`, { token: agent, body: reply, headers: { 'idempotency-key': key } });
      expect(first.status, JSON.stringify(first.body)).to.equal(200);
      expect(first.headers.get('idempotent-replayed')).to.equal('false');
      const again = await app.api('POST', `/support-requests/${filed.body.number}/replies`, { token: agent, body: reply, headers: { 'idempotency-key': key } });
      expect(again.headers.get('idempotent-replayed')).to.equal('true');
      expect(again.body.timeline.filter((e: { type: string }) => e.type === 'replied')).to.have.length(1);
    });
  });
});

/** What the API's error handler answers a client for `err` thrown by a route. */
async function answeredAs(err: unknown): Promise<{ status: number; retryAfter: string | null; error: { code: string; message: string } }> {
  const probe = express();
  probe.get('/probe', () => {
    throw err;
  });
  probe.use(errorHandler());
  const server = http.createServer(probe).listen(0, '127.0.0.1');
  try {
    await new Promise((r) => server.once('listening', r));
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/probe`);
    return { status: res.status, retryAfter: res.headers.get('retry-after'), error: ((await res.json()) as { error: { code: string; message: string } }).error };
  } finally {
    server.close();
  }
}

describe('Temporal busy: more Updates waiting on one workflow than it takes at once (real Temporal server)', function () {
  this.timeout(60_000);

  it('when Temporal refuses an Update with RESOURCE_EXHAUSTED (its in-flight Updates per workflow are at the limit), then the API counts it as a moment\'s unavailability (503 temporal_unavailable with Retry-After), not a 500', async () => {
    const app = await getTestApp();
    // the API's own client: a call refused this way is tried a few times, then fails
    const client = await connectClient(app.stack.temporalAddress, 'default', { failFast: true });
    // a workflow on a task queue no worker polls: its Updates are admitted and wait, so they pile up (as 100 replays
    // of one Idempotency-Key joined an order not yet recorded, in the scale-out test, and one answered 500)
    const handle = await client.workflow.start('orderWorkflow', { workflowId: uniq('busy-order'), taskQueue: uniq('nobody-polls'), args: [{}] });
    const outcomes = Array.from({ length: 14 }, () => handle.executeUpdate('waitForStage', { args: ['recorded'] }).then(() => null, (e: unknown) => e));
    try {
      const refused = await Promise.race(outcomes.map((o) => o.then((e) => e ?? new Promise<never>(() => undefined))));
      expect(`${(refused as Error).message} ${String((refused as { cause?: Error }).cause?.message)}`, 'the first Update to end is refused for the limit').to.match(/limit on number of concurrent in-flight updates/);
      expect(isTemporalUnavailable(refused)).to.equal(true);
      // the same error thrown by a route reaches the client as the API's 503
      const answer = await answeredAs(refused);
      expect([answer.status, answer.retryAfter]).to.deep.equal([503, String(RETRY_AFTER_SECONDS)]);
      expect(answer.error).to.include({ code: 'temporal_unavailable' }).and.have.property('message').that.includes('busy');
    } finally {
      await handle.terminate('test over');
      await Promise.all(outcomes);
      await client.connection.close();
    }
  });
});

describe('Temporal refuses an Update its worker did not process (real Temporal server, a hand-made worker)', function () {
  this.timeout(60_000);

  /**
   * A worker made by hand on the gRPC API: it takes each workflow task of its task queue and completes it with no
   * command and no protocol message, so an Update carried by a task is neither accepted nor rejected by the workflow.
   * The server then refuses it as `UnprocessedUpdate`, as it does when the SDK's core drops the task of a burst of
   * Updates. Counts the tasks that carried an Update.
   */
  function handMadeWorker(client: Client, taskQueue: string) {
    let stopped = false;
    const updateIds: string[] = [];
    const loop = (async () => {
      while (!stopped) {
        // a long poll: empty after its deadline when no task came (the server needs one)
        const task = await client
          .withDeadline(Date.now() + 5_000, () => client.workflowService.pollWorkflowTaskQueue({ namespace: 'default', taskQueue: { name: taskQueue, kind: 1 }, identity: 'hand-made worker' }))
          .catch(async () => {
            await new Promise((r) => setTimeout(r, 200));
            return null;
          });
        if (!task?.taskToken?.length) continue;
        for (const m of task.messages ?? []) updateIds.push(m.protocolInstanceId ?? '');
        await client.workflowService.respondWorkflowTaskCompleted({ namespace: 'default', taskToken: task.taskToken, identity: 'hand-made worker', commands: [], messages: [] }).catch(() => undefined);
      }
    })();
    return {
      /** the id of each Update a task carried, in order */
      updateIds: () => [...updateIds],
      stop: async () => {
        stopped = true;
        await client.connection.close();
        await loop;
      },
    };
  }

  it('when an Update is refused as unprocessed, then it is sent again a few times, and after that the API answers 503 temporal_unavailable with Retry-After, never a 422 with Temporal\'s code', async () => {
    const app = await getTestApp();
    const client = await connectClient(app.stack.temporalAddress, 'default', { failFast: true });
    const taskQueue = uniq('hand-made');
    const worker = handMadeWorker(await connectClient(app.stack.temporalAddress, 'default'), taskQueue);
    const handle = await client.workflow.start('supportTicketWorkflow', { workflowId: uniq('unprocessed'), taskQueue, args: [{}] });
    const filingId = uniq('unprocessed-filing');
    try {
      const refused = await sendUpdate((updateId) => handle.executeUpdate('supportCommand', { args: [{ action: 'reply' }], updateId }), 'the-action-key', 2).then(
        () => null,
        (e: unknown) => e,
      );
      expect(refused, 'the server refused the Update').to.be.instanceOf(Error);
      expect(`${(refused as Error).message} ${String((refused as { cause?: Error }).cause?.message)}`).to.match(/wasn't processed by worker/);
      expect(isUnprocessedUpdate(refused)).to.equal(true);
      // the first try and two more, each taken by the worker and left unprocessed, all under the one Update id (should
      // the server take up a refused try after all, it is the same Update as the next)
      expect(worker.updateIds()).to.deep.equal(['the-action-key', 'the-action-key', 'the-action-key']);
      expect(isTemporalUnavailable(refused)).to.equal(true);
      const answer = await answeredAs(refused);
      expect([answer.status, answer.retryAfter, answer.error.code]).to.deep.equal([503, String(RETRY_AFTER_SECONDS), 'temporal_unavailable']);
      // a filing's (or an order's) update-with-start is sent again alike, under one id, a new start operation each
      // time (the SDK runs one once): refused to the end, it is the same refusal, not the SDK's "already executed"
      const before = worker.updateIds().length;
      const filing = await startOrJoin(client, 'supportTicketWorkflow', { workflowId: filingId, taskQueue, args: [{}] }, supportRecordedUpdate, []).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isUnprocessedUpdate(filing), String(filing)).to.equal(true);
      const ids = worker.updateIds().slice(before);
      expect(ids).to.have.length(1 + UNPROCESSED_UPDATE_RETRIES);
      expect(new Set(ids).size).to.equal(1);
    } finally {
      await handle.terminate('test over').catch(() => undefined);
      await client.workflow.getHandle(filingId).terminate('test over').catch(() => undefined);
      await worker.stop();
      await client.connection.close();
    }
  });
});
