/**
 * The whole service for end-to-end tests, on the real servers of the test stack: the worker (real
 * activities, real SMTP), the Express API on a free port, and two seeded partners with a token per role.
 * Built once per mocha run; `stopTestApp()` runs from the root hook.
 */
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import mongoose from 'mongoose';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { bundleWorkflows, createApi, createAppServer, createWorker, serveApp } from '../../composition/root';
import { connectDatabase, disconnectDatabase } from '../../lib/db';
import { createLogger, type Logger } from '../../lib/logger';
import { createMailer, type Mailer } from '../../lib/mailer';
import { connectClient, installRuntimeLogger, NativeConnection } from '../../lib/temporal';
import { ROLES, isPartnerRole, type Role } from '../../domain/roles';
import { seedCatalog } from '../../services/catalog';
import { DEFAULT_SUPPORT_SETTINGS, type SupportSettings } from '../../services/support-settings';
import { ensurePartner, ensureUser, issueToken } from '../../services/users';
import { startTestStack, type TestStack } from './stack';

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface TestApp {
  stack: TestStack;
  baseUrl: string;
  /** the web pages: `${baseUrl}/app` */
  pagesUrl: string;
  client: Client;
  taskQueue: string;
  log: Logger;
  mailer: Mailer;
  workflowBundle: { code: string };
  /** the JSON log lines of the API and the worker's activities (the latest 10,000 or more) */
  logLines: Record<string, unknown>[];
  partnerId: string;
  otherPartnerId: string;
  /** a token per role of the main partner, plus the support roles */
  tokens: Record<Role, string>;
  /** tokens of a second partner */
  otherTokens: Record<'admin-agent' | 'sales-agent' | 'global-admin', string>;
  api<T = any>(method: string, path: string, opts?: { token?: string | null; body?: unknown; headers?: Record<string, string>; raw?: string }): Promise<ApiResponse<T>>;
  /** a new customer of the main partner (or `partnerToken`'s partner) in a market */
  newCustomer(market: string, token?: string): Promise<{ id: string; name: string; tenantId: string; domain: string; market: string }>;
}

let building: Promise<TestApp> | undefined;
let teardown: (() => Promise<void>) | undefined;

/**
 * The support settings of the test suite's APIs: the defaults, but for the hour's filing limit, which the suite, filing
 * many requests as one user, would reach (its own test gives an API a small one: test/support.api.test.ts).
 */
export const TEST_SUPPORT_SETTINGS: SupportSettings = { ...DEFAULT_SUPPORT_SETTINGS, filingsPerHour: 100_000 };

export const uniq = (prefix = 'x') => `${prefix}-${crypto.randomBytes(4).toString('hex')}`;

let bundle: Promise<{ code: string }> | undefined;
/** The workflow bundle, built once per run and shared by every worker the tests create. */
export function workflowBundle(): Promise<{ code: string }> {
  bundle ??= bundleWorkflows();
  return bundle;
}

let runtimeInstalled = false;
/** SDK and core logs through pino, quiet unless TEST_LOG_LEVEL says otherwise (call before any worker). */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  installRuntimeLogger(createLogger('sdk', process.env.TEST_LOG_LEVEL ?? 'error'), 'WARN', 'ERROR');
}

async function build(): Promise<TestApp> {
  quietRuntime();
  const stack = await startTestStack();
  // the service's JSON log lines, kept for tests to read (and echoed when TEST_LOG_LEVEL is set)
  const logLines: Record<string, unknown>[] = [];
  const log = createLogger('test', 'info', {
    write(line: string) {
      if (logLines.length >= 20_000) logLines.splice(0, 10_000);
      logLines.push(JSON.parse(line));
      if (process.env.TEST_LOG_LEVEL) process.stdout.write(line);
    },
  });
  await connectDatabase(stack.mongoUri, { syncIndexes: false });
  await mongoose.connection.dropDatabase();
  await connectDatabase(stack.mongoUri);
  await seedCatalog();

  const taskQueue = uniq('csp-desk-test');
  const client = await connectClient(stack.temporalAddress, 'default');
  const mailer = createMailer(stack.smtpUrl, 'csp-desk test <no-reply@csp-desk.test>');
  const connection = await NativeConnection.connect({ address: stack.temporalAddress });
  const code = await workflowBundle();
  // listen first, so that the app and the worker know its address (the emails' links point to its pages)
  const server = createAppServer(undefined, { log });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const worker: Worker = await createWorker({ connection, namespace: 'default', taskQueue, mailer, log, publicBaseUrl: baseUrl, workflowBundle: code });
  const running = worker.run();
  const app = createApi({ client, mailer, log, taskQueue, reminderDaysBeforeClose: 7, validateResponses: true, support: TEST_SUPPORT_SETTINGS, publicBaseUrl: baseUrl, temporalUiUrl: 'http://temporal-ui.test', temporalNamespace: 'default' });
  serveApp(server, app);

  const partnerId = uniq('partner');
  const otherPartnerId = uniq('other');
  await ensurePartner({ id: partnerId, name: 'Test Partner', email: `billing@${partnerId}.example` });
  await ensurePartner({ id: otherPartnerId, name: 'Other Partner', email: `billing@${otherPartnerId}.example` });
  const tokens = {} as Record<Role, string>;
  for (const role of ROLES) {
    const partner = isPartnerRole(role);
    const user = await ensureUser({ name: `Test ${role}`, email: `${role}@${partner ? partnerId : 'support'}.example`, role, partnerId: partner ? partnerId : null });
    tokens[role] = await issueToken(user._id, 'test');
  }
  const otherTokens = {} as TestApp['otherTokens'];
  for (const role of ['admin-agent', 'sales-agent', 'global-admin'] as const) {
    const user = await ensureUser({ name: `Other ${role}`, email: `${role}@${otherPartnerId}.example`, role, partnerId: otherPartnerId });
    otherTokens[role] = await issueToken(user._id, 'test');
  }

  const api: TestApp['api'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const token = opts.token === undefined ? tokens['admin-agent'] : opts.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined = opts.raw;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    } else if (opts.raw !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed as never, headers: res.headers };
  };

  const newCustomer: TestApp['newCustomer'] = async (market, token = tokens['admin-agent']) => {
    const name = uniq(`Customer ${market}`);
    const tag = crypto.randomBytes(4).toString('hex');
    const input = { name, tenantId: crypto.randomUUID(), domain: `c${tag}.onmicrosoft.com`, market };
    const res = await api('POST', '/customers', { token, body: input });
    if (res.status !== 201) throw new Error(`could not create a customer: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };

  teardown = async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    worker.shutdown();
    await running;
    await connection.close();
    await client.connection.close();
    mailer.close();
    await disconnectDatabase();
  };

  return { stack, baseUrl, pagesUrl: `${baseUrl}/app`, client, taskQueue, log, mailer, workflowBundle: code, logLines, partnerId, otherPartnerId, tokens, otherTokens, api, newCustomer };
}

export function getTestApp(): Promise<TestApp> {
  building ??= build();
  return building;
}

export async function stopTestApp(): Promise<void> {
  if (!building) return;
  await building.catch(() => undefined);
  building = undefined;
  await teardown?.();
  teardown = undefined;
}

/** Places an order and asserts it was created. */
export async function placeOrder(app: TestApp, customer: string, productId: string, opts: { quantity?: number; token?: string; key?: string } = {}) {
  const res = await app.api('POST', `/customers/${encodeURIComponent(customer)}/orders`, {
    token: opts.token,
    headers: { 'idempotency-key': opts.key ?? uniq('key-order') },
    body: { productId, quantity: opts.quantity ?? 1 },
  });
  if (res.status !== 201) throw new Error(`order not placed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Polls `check` until it holds (for effects a workflow makes after the API answered). */
export async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
