/**
 * Partners, users and their API tokens (used by the users command, the seeder, the token routes and the tests).
 *
 * A token is `cspd_<32 random bytes, base64url>`; the database keeps only its SHA-256 (the token document's
 * `_id`). Its public id (`tok_...`, shown in lists and used to revoke it) is derived from that hash, so it
 * names the token without revealing anything that authenticates. A token may expire (`expiresAt`, fixed at
 * creation) and be revoked (a revocation document of its own); `lastUsedAt` is refreshed at most about once a
 * minute per token.
 *
 * Authentication is cached in the process: token hash -> user, at most AUTH_CACHE_MAX entries for
 * AUTH_CACHE_TTL_MS (30 s). A revocation through this process takes effect at once; through another process
 * (another API instance, the users command) within AUTH_CACHE_TTL_MS. Expiry is checked on every request.
 */
import crypto from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { ApiToken, ApiTokenRevocation, Partner, User, UserWriteLock, isDisabled, type ApiTokenDoc, type PartnerDoc, type UserDoc } from '../models';
import { ROLES, SUPPORT_ROLES, isPartnerRole, roleChangeRefusal, type Role } from '../domain/roles';
import { AppError, insertOnce, isDuplicateKey, notFound } from '../lib/errors';

export const hashToken = (token: string): string => crypto.hash('sha256', token, 'hex');

export function newToken(): string {
  return `cspd_${crypto.randomBytes(32).toString('base64url')}`;
}

/** The public id of a token, from its hash: `tok_` and 24 hex digits. */
export const tokenId = (hash: string): string => `tok_${crypto.createHash('sha256').update(`csp-desk/token-id:${hash}`).digest('hex').slice(0, 24)}`;
export const TOKEN_ID_PATTERN = '^tok_[0-9a-f]{24}$';

/** How long an authenticated token is trusted without asking the database again (revocations elsewhere land within it). */
export const AUTH_CACHE_TTL_MS = 30_000;
/** Most tokens kept in the authentication cache. */
export const AUTH_CACHE_MAX = 10_000;
/** A token's lastUsedAt is written at most this often by one process. */
export const LAST_USED_EVERY_MS = 60_000;
/** Longest expiry a token may be given. */
export const MAX_TOKEN_DAYS = 3650;

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

/** A user with that email exists already (createUser refuses to touch it). */
export class UserExistsError extends Error {
  constructor(readonly existing: UserDoc) {
    super(
      `a user with email ${existing.email} already exists (role ${existing.role}${existing.partnerId ? `, partner ${existing.partnerId}` : ''}); ` +
        `nothing was changed. For a new token of that user: users token --email ${existing.email}`,
    );
    this.name = 'UserExistsError';
  }
}

async function checkNewUser(u: NewUser): Promise<string | null> {
  if (!(ROLES as readonly string[]).includes(u.role)) throw new Error(`unknown role ${u.role}; one of: ${ROLES.join(', ')}`);
  const partnerId = u.partnerId ?? null;
  if (isPartnerRole(u.role) && !partnerId) throw new Error(`role ${u.role} belongs to a partner: give --partner`);
  if (!isPartnerRole(u.role) && partnerId) throw new Error(`role ${u.role} belongs to the support organisation: no partner`);
  if (partnerId && !(await Partner.exists({ _id: partnerId }))) throw new Error(`partner ${partnerId} does not exist`);
  return partnerId;
}

/** Creates a new user; throws UserExistsError when the email is taken (whatever its role and partner). */
export async function createUser(u: NewUser): Promise<UserDoc> {
  const partnerId = await checkNewUser(u);
  const email = u.email.toLowerCase();
  const _id = crypto.randomUUID();
  try {
    await User.create({ _id, partnerId, name: u.name, email, role: u.role, createdAt: new Date() });
  } catch (e) {
    if (!isDuplicateKey(e)) throw e;
    throw new UserExistsError((await User.findOne({ email }).lean())!);
  }
  return (await User.findById(_id).lean())!;
}

/**
 * Idempotent set-up (the seeder, the tests): the user with that email, created if missing. An existing user
 * is returned only if it has the asked role and partner; otherwise UserExistsError.
 */
export async function ensureUser(u: NewUser): Promise<UserDoc> {
  try {
    return await createUser(u);
  } catch (e) {
    if (!(e instanceof UserExistsError)) throw e;
    const x = e.existing;
    if (x.role !== u.role || (x.partnerId ?? null) !== (u.partnerId ?? null)) throw e;
    return x;
  }
}

export interface TokenView {
  id: string;
  label: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  status: 'active' | 'expired' | 'revoked';
}

function tokenView(t: ApiTokenDoc, revokedAt: Date | null, now = Date.now()): TokenView {
  const expired = !!t.expiresAt && t.expiresAt.getTime() <= now;
  return {
    id: tokenId(t._id),
    label: t.label,
    createdAt: t.createdAt.toISOString(),
    expiresAt: t.expiresAt ? t.expiresAt.toISOString() : null,
    lastUsedAt: t.lastUsedAt ? t.lastUsedAt.toISOString() : null,
    revokedAt: revokedAt ? revokedAt.toISOString() : null,
    status: revokedAt ? 'revoked' : expired ? 'expired' : 'active',
  };
}

export interface NewTokenOptions {
  label?: string;
  /** whole days from now; absent: the token does not expire */
  expiresInDays?: number | null;
  /**
   * The new token may not outlive this instant (the expiry of the token that asks for it): a short-lived or stolen
   * token cannot mint one that lasts longer. Absent: no bound (the settings page, the users command).
   */
  notAfter?: Date | null;
}

/** A new token for the user: the secret is returned here once; only its hash is stored. */
export async function createToken(userId: string, opts: NewTokenOptions = {}): Promise<{ token: string; view: TokenView }> {
  const days = opts.expiresInDays ?? null;
  if (days !== null && (!Number.isInteger(days) || days < 1 || days > MAX_TOKEN_DAYS)) throw new Error(`expiry must be 1 to ${MAX_TOKEN_DAYS} whole days`);
  const token = newToken();
  const createdAt = new Date();
  const expiresAt = days === null ? null : new Date(createdAt.getTime() + days * 86_400_000);
  if (opts.notAfter && (expiresAt === null || expiresAt > opts.notAfter)) {
    const most = Math.floor((opts.notAfter.getTime() - createdAt.getTime()) / 86_400_000);
    throw new AppError(
      422,
      'token_outlives_caller',
      `the token you are using expires at ${opts.notAfter.toISOString()}, and a token it creates may not outlive it: ${most >= 1 ? `ask for expiresInDays of at most ${most}` : 'it has less than a day left'}, or create the token from the settings page`,
      'body.expiresInDays',
    );
  }
  const doc: ApiTokenDoc = {
    _id: hashToken(token),
    userId,
    label: opts.label ?? 'cli',
    createdAt,
    expiresAt,
    lastUsedAt: null,
  };
  await ApiToken.create(doc);
  return { token, view: tokenView(doc, null) };
}

/** A new token for the user (the secret, returned once). */
export async function issueToken(userId: string, label = 'cli', expiresInDays: number | null = null): Promise<string> {
  return (await createToken(userId, { label, expiresInDays })).token;
}

/** The support organisation's enabled people (agents and leads), by name: whom a ticket can be assigned to. */
export async function listSupportPeople({ includeDisabled = false } = {}): Promise<{ id: string; name: string; email: string; role: string; disabled: boolean }[]> {
  const people = await User.find({ role: { $in: [...SUPPORT_ROLES] } }).lean();
  return people
    .filter((u) => includeDisabled || !isDisabled(u))
    .map((u) => ({ id: u._id, name: u.name, email: u.email, role: u.role, disabled: isDisabled(u) }))
    .sort((a, b) => a.name.localeCompare(b.name) || a.email.localeCompare(b.email));
}

/** The user's tokens, newest first, never their secrets. */
export async function listTokens(userId: string): Promise<TokenView[]> {
  const [tokens, revocations] = await Promise.all([ApiToken.find({ userId }).sort({ createdAt: -1, _id: 1 }).lean(), ApiTokenRevocation.find({ userId }).lean()]);
  const revoked = new Map(revocations.map((r) => [r._id, r.revokedAt]));
  const now = Date.now();
  return tokens.map((t) => tokenView(t, revoked.get(t._id) ?? null, now));
}

/** Revokes the token (idempotent): a revocation document, and out of this process's cache at once. */
async function revoke(t: ApiTokenDoc, by: string): Promise<TokenView> {
  try {
    await ApiTokenRevocation.create({ _id: t._id, userId: t.userId, revokedAt: new Date(), revokedBy: by });
  } catch (e) {
    if (!isDuplicateKey(e)) throw e;
  }
  authCache.delete(t._id);
  const r = await ApiTokenRevocation.findById(t._id).lean();
  return tokenView(t, r?.revokedAt ?? new Date());
}

/** The user's own token by its public id (404 for another user's, as for none). */
async function ownToken(userId: string, id: string): Promise<ApiTokenDoc> {
  const t = (await ApiToken.find({ userId }).lean<ApiTokenDoc[]>()).find((x) => tokenId(x._id) === id);
  if (!t) throw notFound('token', id);
  return t;
}

/** One of the user's own tokens by its public id, never its secret; another user's token is not found. */
export async function getOwnToken(userId: string, id: string): Promise<TokenView> {
  const t = await ownToken(userId, id);
  const r = await ApiTokenRevocation.findById(t._id).lean();
  return tokenView(t, r?.revokedAt ?? null, Date.now());
}

/** Revokes one of the user's own tokens by its public id; another user's token is not found. */
export async function revokeOwnToken(userId: string, id: string): Promise<TokenView> {
  return revoke(await ownToken(userId, id), userId);
}

/** Revokes any token by its public id (the users command). */
export async function revokeTokenById(id: string, by = 'cli'): Promise<TokenView & { userId: string }> {
  const t = (await ApiToken.find().lean()).find((x) => tokenId(x._id) === id);
  if (!t) throw new Error(`no token with id ${id}`);
  return { ...(await revoke(t, by)), userId: t.userId };
}

/**
 * Disables a user (the users command): their API tokens stop working within AUTH_CACHE_TTL_MS in every API
 * process (at once where not cached), their page sessions end at their next request, and they get no sign-in
 * link. Enabling undoes it (also clearing the older hand-set `disabled` / `status` markers isDisabled reads).
 */
export async function setUserDisabled(email: string, disabled: boolean, at = new Date()): Promise<UserDoc> {
  const key = email.trim().toLowerCase();
  return untilHeld(
    async () => {
      // disabling a disabled user keeps the first date (the filter matches only one not disabled yet)
      const user = await User.findOneAndUpdate(
        disabled ? { email: key, disabledAt: null } : { email: key },
        disabled ? { $set: { disabledAt: at } } : { $set: { disabledAt: null }, $unset: { disabled: '', status: '' } },
        // strict: false lets the $unset name the older markers, which the schema does not declare
        { returnDocument: 'after', strict: false },
      ).lean<UserDoc>();
      if (!user && !disabled) throw new Error(`no user with email ${email}`);
    },
    () => User.findOne({ email: key }).lean<UserDoc>(),
    (u) => isDisabled(u) === disabled,
    email,
  );
}

/**
 * A change to a user's document, written by one writer at a time: two operators' commands on one user at once (a
 * disable and a role change) are two writers of one document, and FerretDB can lose one of two concurrent updates (a
 * disable reported done while the user stayed enabled: the race test in test/identity.tokens.test.ts). So each takes
 * the user's write lock (UserWriteLock, a document of its own under the user's id) and writes, then reads its change
 * back before letting go.
 */
async function untilHeld(write: () => Promise<void>, read: () => Promise<UserDoc | null>, holds: (u: UserDoc) => boolean, email: string): Promise<UserDoc> {
  const before = await read();
  if (!before) throw new Error(`no user with email ${email}`);
  const lock = await takeUserLock(before._id);
  try {
    for (let attempt = 1; ; attempt++) {
      await write();
      const user = await read();
      if (!user) throw new Error(`no user with email ${email}`);
      if (holds(user)) return user;
      if (attempt === USER_WRITE_ATTEMPTS) throw new Error(`the change to ${user.email} did not hold after ${attempt} writes: run the command again`);
    }
  } finally {
    await UserWriteLock.deleteOne({ _id: before._id, at: lock });
  }
}
const USER_WRITE_ATTEMPTS = 5;
/** A user's write lock older than this was lost with its holder (a command killed): taken over. */
const USER_LOCK_STALE_MS = 30_000;

/** Waits for the user's write lock and takes it; the instant it was taken at (its holder's mark). */
async function takeUserLock(userId: string): Promise<Date> {
  const deadline = Date.now() + 2 * USER_LOCK_STALE_MS;
  for (;;) {
    const at = new Date();
    if (await insertOnce(() => UserWriteLock.create({ _id: userId, at }))) return at;
    await UserWriteLock.deleteOne({ _id: userId, at: { $lt: new Date(Date.now() - USER_LOCK_STALE_MS) } });
    if (Date.now() > deadline) throw new Error(`another change to this user is under way: run the command again`);
    await new Promise((r) => setTimeout(r, 50 + Math.floor(Math.random() * 100)));
  }
}

/**
 * Gives a user another role on the same side: a partner's user another role of that partner, a support user another
 * support role. A role of the other side is another person's job (another partner, or none): a user of its own. Every
 * API process honours the change within the authentication cache's lifetime; a page session at its next request.
 */
export async function setUserRole(email: string, role: string): Promise<{ user: UserDoc; previous: string }> {
  const key = email.trim().toLowerCase();
  const before = await User.findOne({ email: key }).lean<UserDoc>();
  if (!before) throw new Error(`no user with email ${email}`);
  const refusal = roleChangeRefusal(before.role, role, before.partnerId);
  if (refusal) throw new Error(refusal.startsWith('unknown role') ? refusal : `${before.email} ${refusal}`);
  const user = await untilHeld(
    async () => {
      await User.updateOne({ _id: before._id }, { $set: { role } });
    },
    () => User.findById(before._id).lean<UserDoc>(),
    (u) => u.role === role,
    email,
  );
  return { user, previous: before.role };
}

// ---- authentication

export interface TokenAuth {
  user: UserDoc;
  tokenId: string;
  /** when the token expires (null: never) */
  expiresAt: Date | null;
}

interface CachedAuth {
  user: UserDoc;
  hash: string;
  tokenId: string;
  expiresAt: number | null;
  /** when lastUsedAt was last known written (ms), by anyone */
  lastUsedAt: number;
}

export { isDisabled };

async function loadAuth(hash: string): Promise<CachedAuth | undefined> {
  const [token, revoked] = await Promise.all([ApiToken.findById(hash).lean(), ApiTokenRevocation.exists({ _id: hash })]);
  if (!token || revoked) return undefined;
  const user = await User.findById(token.userId).lean();
  // a disabled user's tokens stop working with the cache's lifetime, like a revocation made elsewhere
  if (!user || isDisabled(user)) return undefined;
  return { user, hash, tokenId: tokenId(hash), expiresAt: token.expiresAt ? token.expiresAt.getTime() : null, lastUsedAt: token.lastUsedAt ? token.lastUsedAt.getTime() : 0 };
}

/** token hash -> who it authenticates; concurrent misses of one hash share one database read. */
const authCache = new LRUCache<string, CachedAuth>({
  max: AUTH_CACHE_MAX,
  ttl: AUTH_CACHE_TTL_MS,
  fetchMethod: (hash) => loadAuth(hash),
});

/** True when the secret is a token that would authenticate now (not unknown, revoked or expired). */
export async function tokenIsUsable(secret: string): Promise<boolean> {
  const a = await loadAuth(hashToken(secret));
  return !!a && (a.expiresAt === null || Date.now() < a.expiresAt);
}

/** Empties this process's authentication cache (tests). */
export function clearAuthCache(): void {
  authCache.clear();
}

const unauthorized = (message: string) => new AppError(401, 'unauthorized', message);

/**
 * Why a token that authenticates nobody is refused: its user disabled (said, with what undoes it), or unknown or
 * revoked. Refusals are not cached (an `enable` works at once), so this costs the refused request two reads.
 */
async function refusalOf(hash: string): Promise<string> {
  const token = await ApiToken.findById(hash, { userId: 1 }).lean();
  const user = token && !(await ApiTokenRevocation.exists({ _id: hash })) ? await User.findById(token.userId).lean() : null;
  return user && isDisabled(user)
    ? `the API token's user ${user.email} is disabled; an administrator can enable them again (npm run users -- enable --email ${user.email})`
    : 'the API token is not valid (unknown or revoked)';
}

/**
 * Who the bearer token authenticates: 401 for an unknown, revoked or expired token. `onLastUsedError` hears
 * of a failed lastUsedAt write (which never fails the request).
 */
export async function authenticateToken(secret: string, onLastUsedError?: (e: unknown) => void): Promise<TokenAuth> {
  const hash = hashToken(secret);
  const a = await authCache.fetch(hash);
  if (!a) throw unauthorized(await refusalOf(hash));
  const now = Date.now();
  if (a.expiresAt !== null && now >= a.expiresAt) throw unauthorized(`the API token expired at ${new Date(a.expiresAt).toISOString()}`);
  if (now - a.lastUsedAt >= LAST_USED_EVERY_MS) {
    const before = a.lastUsedAt;
    a.lastUsedAt = now;
    // a plain $set of a timestamp, not awaited: the request does not wait for it, and a lost write costs nothing
    ApiToken.updateOne({ _id: hash }, { $set: { lastUsedAt: new Date(now) } })
      .exec()
      .catch((e: unknown) => {
        a.lastUsedAt = before;
        onLastUsedError?.(e);
      });
  }
  return { user: a.user, tokenId: a.tokenId, expiresAt: a.expiresAt === null ? null : new Date(a.expiresAt) };
}
