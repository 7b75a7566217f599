/** Who is calling: the authenticated user, their role and partner, as every service receives it. */
import type { UserDoc } from '../models';

export interface AuthContext {
  user: UserDoc;
  role: string;
  /** the caller's partner; null for the support organisation */
  partnerId: string | null;
}
