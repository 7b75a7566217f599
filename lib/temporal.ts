/** Temporal connections and the SDK's logging, shared by the processes, the tests and the benchmark. */
import { Client, Connection, defaultGrpcRetryOptions, isGrpcServiceError, makeGrpcRetryInterceptor } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from './logger';

/**
 * How long the API lets one request wait for Temporal (every client call the request makes shares this
 * deadline; see api/app.ts). An unreachable server fails much sooner (API_TEMPORAL_ATTEMPTS); this bounds a
 * server that accepts connections but does not answer, while leaving a command room to wait for its workflow,
 * e.g. for a second worker to take over an activity lost with the first (seconds, test/faults.worker.test.ts).
 */
export const API_TEMPORAL_DEADLINE_MS = 60_000;
/** Attempts of one call to an unreachable server before it fails (about 1 s of backoff instead of about 20 s). */
export const API_TEMPORAL_ATTEMPTS = 5;

export interface ClientOptions {
  /** the API's settings: few retries of an unreachable server, so that requests fail fast (503) */
  failFast?: boolean;
}

export async function connectClient(address: string, namespace: string, opts: ClientOptions = {}): Promise<Client> {
  const connection = await Connection.connect({
    address,
    connectTimeout: opts.failFast ? '3s' : '10s',
    ...(opts.failFast ? { interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: API_TEMPORAL_ATTEMPTS }))] } : {}),
  });
  return new Client({ connection, namespace });
}

/** A client that connects on its first call (e.g. to start while Temporal is down), with the API's fail-fast retries. */
export function lazyClient(address: string, namespace: string): Client {
  const connection = Connection.lazy({
    address,
    connectTimeout: '3s',
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: API_TEMPORAL_ATTEMPTS }))],
  });
  return new Client({ connection, namespace });
}

const UNAVAILABLE_GRPC = new Set([4 /* DEADLINE_EXCEEDED */, 14 /* UNAVAILABLE */, 1 /* CANCELLED (our deadline) */]);

/** True when `e` (or an error it wraps) says Temporal could not be reached or did not answer in time. */
export function isTemporalUnavailable(e: unknown): boolean {
  for (let x = e, depth = 0; x && typeof x === 'object' && depth < 8; x = (x as { cause?: unknown }).cause, depth++) {
    const err = x as { name?: string; message?: string; code?: unknown };
    if (isGrpcServiceError(x) && UNAVAILABLE_GRPC.has(x.code)) return true;
    if (err.name === 'WorkflowUpdateRPCTimeoutOrCancelledError') return true;
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
