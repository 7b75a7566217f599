/**
 * The request context: what a request's code needs to know about the request without it being passed down
 * as a parameter (its id, who is calling), held in an AsyncLocalStorage for the duration of the handler.
 * The logger adds it to every line logged inside a request (lib/logger.ts); services read the request id
 * from here to hand it on to the workflows they start (services/context.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface RequestContext {
  requestId: string;
  userId?: string;
  partnerId?: string | null;
  /** the order the request acted on, when its path named it by another id (services/orders.ts byOrderNamed) */
  orderId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` (and everything it awaits) inside the request context `ctx`. */
export function runInRequestContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

/** The current request's context, or undefined outside a request (the worker, scripts). */
export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}

/** Fields every log line inside a request carries. */
export function requestLogFields(): Record<string, unknown> {
  const c = storage.getStore();
  if (!c) return {};
  const fields: Record<string, unknown> = c.userId ? { requestId: c.requestId, userId: c.userId, partnerId: c.partnerId } : { requestId: c.requestId };
  if (c.orderId !== undefined) fields.orderId = c.orderId;
  return fields;
}
