/** Who is calling (`AuthContext`, as every service receives it) and the current request (its id travels here, not as a parameter). */
import crypto from 'node:crypto';
import type { UserDoc } from '../models';
import type { RequestOrigin } from '../domain/orders';
import { currentRequest } from '../lib/request-context';

export interface AuthContext {
  user: UserDoc;
  role: string;
  /** the caller's partner; null for the support organisation */
  partnerId: string | null;
  /** where the request came from (the router sets it) */
  origin?: RequestOrigin;
  /** the public id of the API token the caller authenticated with */
  tokenId: string;
  /** when that API token expires (null: never; absent: a page session) */
  tokenExpiresAt?: Date | null;
}

/**
 * The id of the request being served, to hand on to the workflows it starts. Outside a request (a script, the
 * demo seeding) a new id `background-<uuid>`, unless the caller runs inside `runInRequestContext` with its own.
 */
export function currentRequestId(): string {
  return currentRequest()?.requestId ?? `background-${crypto.randomUUID()}`;
}

/** Notes, for the current request's log lines, the order it acts on (named in its path by another id). */
export function noteRequestOrder(orderId: string): void {
  const c = currentRequest();
  if (c) c.orderId = orderId;
}

export type { RequestOrigin } from '../domain/orders';
