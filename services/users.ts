/** Partners, users and their API tokens (used by the users command, the seeder and the tests). */
import crypto from 'node:crypto';
import { ApiToken, Partner, User, type PartnerDoc, type UserDoc } from '../models';
import { ROLES, isPartnerRole, type Role } from '../domain/roles';
import { isDuplicateKey } from '../lib/errors';

export const hashToken = (token: string): string => crypto.createHash('sha256').update(token).digest('hex');

export function newToken(): string {
  return `cspd_${crypto.randomBytes(24).toString('base64url')}`;
}

export async function ensurePartner(p: { id: string; name: string; email: string }): Promise<PartnerDoc> {
  // ids become parts of natural keys (`<partner>:<key>`): no separators in them
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$/.test(p.id)) throw new Error(`partner id ${JSON.stringify(p.id)} must be 2-64 letters, digits, '-' or '_'`);
  try {
    await Partner.create({ _id: p.id, name: p.name, email: p.email, createdAt: new Date() });
  } catch (e) {
    if (!isDuplicateKey(e)) throw e;
  }
  return (await Partner.findById(p.id).lean())!;
}

export interface NewUser {
  name: string;
  email: string;
  role: Role;
  /** required for partner roles, absent for support roles */
  partnerId?: string | null;
}

/** Creates the user (or returns the existing one with that email) with the role's organisation rule enforced. */
export async function ensureUser(u: NewUser): Promise<UserDoc> {
  if (!(ROLES as readonly string[]).includes(u.role)) throw new Error(`unknown role ${u.role}; one of: ${ROLES.join(', ')}`);
  const partnerId = u.partnerId ?? null;
  if (isPartnerRole(u.role) && !partnerId) throw new Error(`role ${u.role} belongs to a partner: give --partner`);
  if (!isPartnerRole(u.role) && partnerId) throw new Error(`role ${u.role} belongs to the support organisation: no partner`);
  if (partnerId && !(await Partner.exists({ _id: partnerId }))) throw new Error(`partner ${partnerId} does not exist`);
  const email = u.email.toLowerCase();
  const existing = await User.findOne({ email }).lean();
  if (existing) return existing;
  try {
    await User.create({ _id: crypto.randomUUID(), partnerId, name: u.name, email, role: u.role, createdAt: new Date() });
  } catch (e) {
    if (!isDuplicateKey(e)) throw e;
  }
  return (await User.findOne({ email }).lean())!;
}

/** A new token for the user; the plain token is returned once and only its hash is stored. */
export async function issueToken(userId: string, label = 'cli'): Promise<string> {
  const token = newToken();
  await ApiToken.create({ _id: hashToken(token), userId, label, createdAt: new Date() });
  return token;
}
