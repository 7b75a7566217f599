/** Who is calling: the authenticated user, their role and partner, as every service receives it. */
import type { UserDoc } from '../models';
import type { RequestOrigin } from '../domain/orders';

export interface AuthContext {
  user: UserDoc;
  role: string;
  /** the caller's partner; null for the support organisation */
  partnerId: string | null;
  /** where the request came from (the router sets it) */
  origin?: RequestOrigin;
}

export type { RequestOrigin } from '../domain/orders';
