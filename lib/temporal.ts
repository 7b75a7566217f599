/** Temporal connections and the SDK's logging, shared by the processes, the tests and the benchmark. */
import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApplicationFailure,
  Client,
  Connection,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
  defaultGrpcRetryOptions,
  isGrpcServiceError,
  makeGrpcRetryInterceptor,
  type UpdateDefinition,
  type Workflow,
  type WorkflowStartOptions,
} from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from './logger';

/**
 * How long one API request may wait on its workflows at most (every Temporal call the request makes shares this
 * deadline; see `guardTemporal`): long enough for a second worker to take over from one that died mid-order.
 */
export const API_TEMPORAL_DEADLINE_MS = 60_000;
/** While a request waits, Temporal itself is probed this often; two probes in a row without an answer end the wait. */
export const API_TEMPORAL_PROBE_EVERY_MS = 1_500;
/** Attempts of one call to an unreachable server before it fails (about 1 s of backoff instead of about 20 s). */
export const API_TEMPORAL_ATTEMPTS = 5;

/**
 * The workflow task timeout of the workflows whose writes are local activities (an order, a support ticket;
 * workflows/local-writes.ts), set when they start. A local activity runs inside a workflow task, so an attempt
 * lost with its worker is taken up by another worker when the task times out; an Update that arrives while one
 * runs is delivered at the task's next heartbeat (every 4 s, at 80% of the timeout) and answered once the writes
 * are done, so it may wait up to about 8 s. A workflow task of these workflows takes milliseconds.
 */
export const WORKFLOW_TASK_TIMEOUT = '5 seconds';

/**
 * How many times an Update the server refused as unprocessed is sent again (after 0.1, 0.2, 0.4 and 0.8 s, each
 * ±50%) before the request is answered 503 `temporal_unavailable`.
 */
export const UNPROCESSED_UPDATE_RETRIES = 4;

/**
 * The server's refusal of an Update that reached a worker but was not processed by it (`UnprocessedUpdate`). Seen
 * under bursts of Updates on one workflow (a dozen actions on one support request at once): the SDK's core drops
 * the workflow task that carried some of them ("Trying to send a new WFT for a run which already has one!"). The
 * Update was not accepted then; the server may still take it up if a later task accepts it, so it is sent again
 * under the same Update id (one outcome, whichever gets there). It is never the workflow's own refusal, so it must
 * not be answered as one (a 422 with Temporal's code).
 */
export function isUnprocessedUpdate(e: unknown): boolean {
  return e instanceof WorkflowUpdateFailedError && e.cause instanceof ApplicationFailure && e.cause.type === 'UnprocessedUpdate';
}

/**
 * Sends an Update (`send` makes the call with the Update id it is given: `updateId`, or one made here, the same for
 * every try) and sends it again while the server refuses it as unprocessed, UNPROCESSED_UPDATE_RETRIES times at
 * most; the last refusal is thrown, which `isTemporalUnavailable` counts as Temporal busy (503 with `Retry-After`).
 */
export async function sendUpdate<T>(send: (updateId: string) => Promise<T>, updateId: string = crypto.randomUUID(), retries = UNPROCESSED_UPDATE_RETRIES): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send(updateId);
    } catch (e) {
      if (!isUnprocessedUpdate(e) || attempt > retries) throw e;
      await sleep(50 * 2 ** attempt * (0.5 + Math.random()));
    }
  }
}

/**
 * Starts an entity's workflow, or joins the one running under its id, and waits on an Update of it: one call
 * (update-with-start), so that a retried request (the same id) neither starts a second workflow nor fails. A
 * workflow that already ran to its end (REJECT_DUPLICATE) did what the Update waits for, so that is no error.
 * Used where the API hands an entity to its workflow (an order, a support ticket).
 */
export async function startOrJoin<W extends Workflow, Args extends unknown[]>(
  client: Client,
  workflowType: string,
  start: WorkflowStartOptions<W>,
  update: UpdateDefinition<unknown, Args>,
  updateArgs: Args,
): Promise<void> {
  // (the caller's options are checked against the workflow's signature; TypeScript cannot follow the spread of them)
  // one operation per try: the SDK runs an operation once (USE_EXISTING makes a second start of it a join)
  const startWorkflowOperation = () =>
    new WithStartWorkflowOperation<Workflow>(workflowType, {
      ...(start as WorkflowStartOptions<Workflow>),
      workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
      workflowIdConflictPolicy: 'USE_EXISTING' as const,
      workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
    });
  try {
    await sendUpdate((updateId) => client.workflow.executeUpdateWithStart(update, { args: updateArgs, updateId, startWorkflowOperation: startWorkflowOperation() }));
  } catch (e) {
    if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
  }
}

export interface ClientOptions {
  /** the API's settings: few retries of an unreachable server, so that requests fail fast (503) */
  failFast?: boolean;
}

/** TEMPORAL_NAMESPACE names no namespace of the Temporal server: a setting to fix, not a server to wait for. */
export class NamespaceMissingError extends Error {
  constructor(readonly namespace: string, address: string) {
    super(`configuration: TEMPORAL_NAMESPACE=${JSON.stringify(namespace)} is not a namespace of the Temporal server at ${address}: create it (temporal operator namespace create --namespace ${namespace}) or set TEMPORAL_NAMESPACE to one it has`);
    this.name = 'NamespaceMissingError';
  }
}

/**
 * Connects, and checks that the namespace exists: without it every workflow call fails (NamespaceNotFound), which the
 * API would otherwise answer as a 500 on every write while /health said all was well (QA).
 */
export async function connectClient(address: string, namespace: string, opts: ClientOptions = {}): Promise<Client> {
  const connection = await Connection.connect({
    address,
    connectTimeout: opts.failFast ? '3s' : '10s',
    ...(opts.failFast ? { interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: API_TEMPORAL_ATTEMPTS }))] } : {}),
  });
  // asked a few times: a namespace just registered reaches every frontend within seconds
  for (let attempt = 1; ; attempt++) {
    try {
      const { namespaceInfo } = await connection.withDeadline(Date.now() + NAMESPACE_CHECK_MS, () => connection.workflowService.describeNamespace({ namespace }));
      if (namespaceInfo?.state !== NAMESPACE_STATE_DELETED) break;
      throw Object.assign(new Error(`namespace ${namespace} is deleted`), { code: GRPC_NOT_FOUND });
    } catch (e) {
      const missing = (e as { code?: number }).code === GRPC_NOT_FOUND;
      if (missing && attempt < NAMESPACE_CHECK_ATTEMPTS) {
        await new Promise((r) => setTimeout(r, NAMESPACE_CHECK_PAUSE_MS));
        continue;
      }
      await connection.close();
      if (missing) throw new NamespaceMissingError(namespace, address);
      throw e;
    }
  }
  return new Client({ connection, namespace });
}

/** gRPC's status code NOT_FOUND, as a missing namespace is answered. */
const GRPC_NOT_FOUND = 5;
/** temporal.api.enums.v1.NamespaceState.NAMESPACE_STATE_DELETED: a namespace being deleted serves nothing either. */
export const NAMESPACE_STATE_DELETED = 3;
/** How long one namespace check at start waits (a frozen server fails the start, to be tried again, not hang it). */
const NAMESPACE_CHECK_MS = 10_000;
/** A namespace not found is asked for this many times, this far apart, before the start is refused. */
const NAMESPACE_CHECK_ATTEMPTS = 4;
const NAMESPACE_CHECK_PAUSE_MS = 2_000;

/** A client that connects on its first call (e.g. to start while Temporal is down), with the API's fail-fast retries. */
export function lazyClient(address: string, namespace: string): Client {
  const connection = Connection.lazy({
    address,
    connectTimeout: '3s',
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: API_TEMPORAL_ATTEMPTS }))],
  });
  return new Client({ connection, namespace });
}

/** Another server a request's workflow needs while the request waits on it (the database its activities write to). */
export interface GuardedDependency {
  /** resolves when the server answers; probed with the same period and deadline as Temporal */
  probe: () => Promise<unknown>;
  /** what the request fails with when the server missed two probes in a row */
  unavailable: () => Error;
}

/**
 * Runs the Temporal calls of one request. A request waits on a slow workflow (a worker taking over from one that
 * died) up to API_TEMPORAL_DEADLINE_MS, but only while Temporal itself answers: a cheap probe
 * (`getSystemInfo`, with its own short deadline) runs every API_TEMPORAL_PROBE_EVERY_MS, and two failures in a
 * row abort the request's calls, which the error handler answers as 503 `temporal_unavailable`. So a frozen
 * Temporal is a 503 within about 4.5 s, an unreachable one within about 2 s (the connection fails at once), and a
 * dead worker only delays the answer. The `dependencies` are probed alike: the workflow's activities write to the
 * database, so a database that stops answering while the request waits (its reads done) would hold the request
 * until the deadline; two missed probes abort it with that dependency's error instead (503 `database_unavailable`).
 */
export async function guardTemporal<T>(client: Client, fn: () => Promise<T>, dependencies: GuardedDependency[] = []): Promise<T> {
  const controller = new AbortController();
  let failedDependency: Error | undefined;
  // made at the first probe only: most requests end before it, and this runs on every request
  let checks: { probe: () => Promise<unknown>; fail: () => void; failures: number; probing: boolean }[] | undefined;
  const timer = setInterval(() => {
    checks ??= [
      {
        probe: () => client.withDeadline(Date.now() + API_TEMPORAL_PROBE_EVERY_MS, () => client.workflowService.getSystemInfo({})),
        fail: () => controller.abort(new Error('Temporal did not answer two health probes in a row')),
      },
      ...dependencies.map((d) => ({
        probe: () => withinProbePeriod(d.probe()),
        fail: () => {
          failedDependency = d.unavailable();
          controller.abort(failedDependency);
        },
      })),
    ].map((c) => ({ ...c, failures: 0, probing: false }));
    for (const c of checks) {
      if (c.probing || controller.signal.aborted) continue;
      c.probing = true;
      c.probe()
        .then(
          () => {
            c.failures = 0;
          },
          () => {
            if (++c.failures >= 2 && !controller.signal.aborted) c.fail();
          },
        )
        .finally(() => {
          c.probing = false;
        });
    }
  }, API_TEMPORAL_PROBE_EVERY_MS);
  timer.unref();
  try {
    return await client.withAbortSignal(controller.signal, () => client.withDeadline(Date.now() + API_TEMPORAL_DEADLINE_MS, fn));
  } catch (e) {
    // the calls were cancelled because a dependency stopped answering: that is what the caller is told
    if (failedDependency) throw failedDependency;
    throw e;
  } finally {
    clearInterval(timer);
  }
}

/** A probe that has not answered within one probing period counts as missed (it may still answer later). */
function withinProbePeriod(p: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('no answer within the probing period')), API_TEMPORAL_PROBE_EVERY_MS);
  });
  p.catch(() => undefined); // a late failure of a probe already counted as missed
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * gRPC codes that mean "not now": unreachable, too slow, or busy. RESOURCE_EXHAUSTED is Temporal refusing more work
 * for now (a workflow's in-flight Updates at their limit, 10 by default, as when many replays of one Idempotency-Key
 * join an order not yet recorded; a namespace's rate limit): the same request sent again later is taken.
 */
const UNAVAILABLE_GRPC = new Set([4 /* DEADLINE_EXCEEDED */, 14 /* UNAVAILABLE */, 1 /* CANCELLED (our deadline) */, 8 /* RESOURCE_EXHAUSTED */]);

/** True when `e` (or an error it wraps) says Temporal could not be reached, did not answer in time, or is busy. */
export function isTemporalUnavailable(e: unknown): boolean {
  for (let x = e, depth = 0; x && typeof x === 'object' && depth < 8; x = (x as { cause?: unknown }).cause, depth++) {
    const err = x as { name?: string; message?: string; code?: unknown };
    if (isGrpcServiceError(x) && UNAVAILABLE_GRPC.has(x.code)) return true;
    if (err.name === 'WorkflowUpdateRPCTimeoutOrCancelledError') return true;
    // an Update the worker did not process, still so after sendUpdate's retries: not accepted; sent again later
    if (isUnprocessedUpdate(x)) return true;
    // the workflow task that was to take the Update failed or timed out (its local writes waiting on a database
    // that stopped answering, for example): the server refuses that Update (FAILED_PRECONDITION) while the
    // workflow goes on and retries the task, so the same request sent again finds the outcome
    if (isGrpcServiceError(x) && x.code === 9 && /unexpected workflow task failure/i.test(`${err.message ?? ''} ${x.details ?? ''}`)) return true;
    if (err.name === 'ServiceError' && /deadline|unavailable|failed to connect|connect(ion)? (refused|timed out)/i.test(err.message ?? '')) return true;
    if (err.name === 'TransportError') return true;
  }
  return false;
}

/** Sends the SDK's own logs (workflow `log`, worker lifecycle) through pino as JSON lines. */
export function installRuntimeLogger(log: Logger, level: LogLevel = 'INFO', coreLevel: LogLevel = 'WARN'): void {
  Runtime.install({
    // the SDK core's own (Rust) logs are forwarded too, at `coreLevel` and above
    telemetryOptions: { logging: { filter: { core: coreLevel, other: 'ERROR' }, forward: {} } },
    logger: new DefaultLogger(level, (entry) => {
      const fields = { ...(entry.meta ?? {}), sdk: true };
      const msg = entry.message;
      if (entry.level === 'ERROR') log.error(fields, msg);
      else if (entry.level === 'WARN') log.warn(fields, msg);
      else if (entry.level === 'DEBUG' || entry.level === 'TRACE') log.debug(fields, msg);
      else log.info(fields, msg);
    }),
  });
}

export { NativeConnection };
