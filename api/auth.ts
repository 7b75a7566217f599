/** Bearer API tokens (services/users.ts: hashes only in the database, a short in-process cache, revocation, expiry). */
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { authenticateToken } from '../services/users';
import type { AuthContext } from '../services/context';

export type { AuthContext };

export async function authenticate(header: string | undefined, log?: Logger): Promise<AuthContext> {
  const m = header?.match(/^Bearer\s+(\S+)$/i);
  if (!m) throw new AppError(401, 'unauthorized', 'send an API token as "Authorization: Bearer <token>"');
  const { user, tokenId, expiresAt } = await authenticateToken(m[1], (err) => log?.warn({ err }, 'could not record when a token was last used'));
  return { user, role: user.role, partnerId: user.partnerId, tokenId, tokenExpiresAt: expiresAt };
}
