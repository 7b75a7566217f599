/** Reachability of the servers the service needs, each with its latency. */
import type { Client } from '@temporalio/client';
import type { Mailer } from '../lib/mailer';
import { pingDatabase } from '../lib/db';
import { NAMESPACE_STATE_DELETED } from '../lib/temporal';

export interface HealthDeps {
  client: Client;
  mailer: Mailer;
}

interface Check {
  ok: boolean;
  latencyMs: number | null;
  error?: string;
  /** the underlying message, for the log only */
  cause?: string;
}

async function timed(fn: () => Promise<unknown>, timeoutMs = 3000): Promise<Check> {
  const started = process.hrtime.bigint();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([fn(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)))]);
    return { ok: true, latencyMs: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100 };
  } catch (e) {
    // the public answer says what kind of failure; the details (addresses, driver messages) go to the log
    const message = (e as Error).message;
    return { ok: false, latencyMs: null, error: message.startsWith('no answer within') ? message : 'unreachable', cause: message };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * How long an SMTP check's answer is reused. `/health` needs no sign-in, and an SMTP check opens a connection to
 * the mail server (a login, with a relay that requires one): callers share one check at a time and its answer
 * for this long, so that polling `/health` cannot make the API hammer the mail server.
 */
export const SMTP_CHECK_REUSE_MS = 10_000;
const smtpChecks = new WeakMap<Mailer, { at: number; check: Promise<Check> }>();

function checkSmtp(mailer: Mailer): Promise<Check> {
  const last = smtpChecks.get(mailer);
  if (last && Date.now() - last.at < SMTP_CHECK_REUSE_MS) return last.check;
  const check = timed(() => mailer.verify());
  smtpChecks.set(mailer, { at: Date.now(), check });
  return check;
}

/**
 * The namespace the service works in, not only the server: a namespace gone fails every workflow call. Temporal reads
 * it from its store (getSystemInfo, asked every time, is answered from memory), so its answer is shared and reused
 * like the SMTP check's: polling the public `/health` cannot load Temporal's database.
 */
const namespaceChecks = new WeakMap<Client, { at: number; check: Promise<Check> }>();

function checkNamespace(client: Client): Promise<Check> {
  const last = namespaceChecks.get(client);
  if (last && Date.now() - last.at < SMTP_CHECK_REUSE_MS) return last.check;
  const check = timed(async () => {
    const { namespaceInfo } = await client.workflowService.describeNamespace({ namespace: client.options.namespace });
    if (namespaceInfo?.state === NAMESPACE_STATE_DELETED) throw new Error(`namespace ${client.options.namespace} is deleted`);
  });
  namespaceChecks.set(client, { at: Date.now(), check });
  return check;
}

export async function checkHealth(deps: HealthDeps) {
  const [server, namespace, database, smtp] = await Promise.all([timed(() => deps.client.workflowService.getSystemInfo({})), checkNamespace(deps.client), timed(() => pingDatabase()), checkSmtp(deps.mailer)]);
  // the server's fresh answer (its latency), unless the namespace is what fails
  const temporal = server.ok && !namespace.ok ? namespace : server;
  const causes = Object.fromEntries(Object.entries({ temporal, database, smtp }).filter(([, c]) => c.cause).map(([k, c]) => [k, c.cause]));
  const bare = ({ cause: _cause, ...c }: Check) => c;
  // SMTP down delays emails (each is an activity retried until it is sent), never an answer: the API still serves
  // (degraded); Temporal or the database down, it cannot (unavailable: a monitor reading the body tells them apart)
  const serving = temporal.ok && database.ok;
  const status = !serving ? ('unavailable' as const) : smtp.ok ? ('ok' as const) : ('degraded' as const);
  return { status, serving, temporal: bare(temporal), database: bare(database), smtp: bare(smtp), causes };
}
