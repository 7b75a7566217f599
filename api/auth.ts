/** Bearer API tokens: looked up by their SHA-256, which is all the database keeps. */
import { AppError } from '../lib/errors';
import { hashToken } from '../services/users';
import { ApiToken, User } from '../models';
import type { AuthContext } from '../services/context';

export type { AuthContext };

export async function authenticate(header: string | undefined): Promise<AuthContext> {
  const m = header?.match(/^Bearer\s+(\S+)$/i);
  if (!m) throw new AppError(401, 'unauthorized', 'send an API token as "Authorization: Bearer <token>"');
  const token = await ApiToken.findById(hashToken(m[1])).lean();
  const user = token ? await User.findById(token.userId).lean() : null;
  if (!user) throw new AppError(401, 'unauthorized', 'the API token is not valid');
  return { user, role: user.role, partnerId: user.partnerId };
}
