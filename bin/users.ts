/**
 * Users and API tokens.
 *   npm run users -- partner --id ID --name NAME --email EMAIL
 *   npm run users -- create --name NAME --email EMAIL --role ROLE [--partner ID] [--label L] [--expires-in-days N]
 *       a new user and their first token (printed once); refuses an email that exists
 *   npm run users -- token --email EMAIL [--label L] [--expires-in-days N]     a new token for a user (printed once)
 *   npm run users -- tokens --email EMAIL                                      a user's tokens (never the secrets)
 *   npm run users -- revoke --id TOKEN_ID                                      revokes a token (tok_...)
 *   npm run users -- disable --email EMAIL      no API token, page session or sign-in link works for the user
 *   npm run users -- enable --email EMAIL       undoes disable
 *   npm run users -- role --email EMAIL --role ROLE   another role on the same side (partner or support)
 *   npm run users -- list
 * Reads `.env` as `npm start` does (a real environment variable wins).
 * Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 bad configuration.
 */
import path from 'node:path';
import { loadConfigOrExit, redactCredentials } from '../lib/config';
import { applyDefaults, pointAtEmbeddedServers, readDotEnv } from '../stack/env';
import { ROOT } from '../stack/paths';
import { connectDatabase, disconnectDatabase } from '../lib/db';
import { ROLES, type Role } from '../domain/roles';
import { AUTH_CACHE_TTL_MS, MAX_TOKEN_DAYS, createToken, createUser, ensurePartner, isDisabled, listTokens, revokeTokenById, setUserDisabled, setUserRole } from '../services/users';
import { User } from '../models';
import { isName } from '../domain/text';

/** The flags each command takes: another is a mistake, said as such (not silently ignored). */
const FLAGS: Record<string, string[]> = {
  partner: ['id', 'name', 'email'],
  create: ['name', 'email', 'role', 'partner', 'label', 'expires-in-days'],
  token: ['email', 'label', 'expires-in-days'],
  tokens: ['email'],
  revoke: ['id'],
  disable: ['email'],
  enable: ['email'],
  role: ['email', 'role'],
  list: [],
};
const USAGE = `usage: npm run users -- partner|create|token|tokens|revoke|disable|enable|role|list [--flag value ...]\nroles: ${ROLES.join(', ')}\n`;

function args(argv: string[]): { command: string; flags: Record<string, string> } {
  const [command = '', ...rest] = argv;
  const flags: Record<string, string> = {};
  for (let i = 0; i < rest.length; i += 2) {
    if (!rest[i].startsWith('--') || rest[i + 1] === undefined) throw new Error(`expected --flag value pairs, got ${rest.slice(i).join(' ')}`);
    const name = rest[i].slice(2);
    if (FLAGS[command] && !FLAGS[command].includes(name)) throw new Error(`${command} takes ${FLAGS[command].map((f) => `--${f}`).join(', ') || 'no flags'}, not --${name}`);
    // given twice, one of the two is a mistake, and the last one could act on the wrong user (QA)
    if (Object.hasOwn(flags, name)) throw new Error(`--${name} is given twice (${JSON.stringify(flags[name])} and ${JSON.stringify(rest[i + 1])}); give it once`);
    // an empty value is none (`--partner ""` stored an empty partner id for a support role: QA)
    if (rest[i + 1].trim() === '') throw new Error(`--${name} is empty; leave it out or give a value`);
    flags[name] = rest[i + 1];
  }
  return { command, flags };
}

function need(flags: Record<string, string>, name: string): string {
  if (!flags[name]) throw new Error(`--${name} is required`);
  const value = flags[name];
  // the API's rules: an email address, and names on one line with something visible
  if (name === 'email' && !/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(value)) throw new Error(`--email ${JSON.stringify(value)} is not an email address`);
  if (name === 'name' && !isName(value)) throw new Error(`--name must be one line with something visible in it (no line breaks, tabs or control characters)`);
  return value;
}

function expiry(flags: Record<string, string>): number | null {
  const raw = flags['expires-in-days'];
  if (raw === undefined) return null;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_TOKEN_DAYS) throw new Error(`--expires-in-days must be a whole number of days from 1 to ${MAX_TOKEN_DAYS}`);
  return n;
}

async function userByEmail(email: string) {
  const user = await User.findOne({ email: email.toLowerCase() }).lean();
  if (!user) throw new Error(`no user with email ${email}`);
  return user;
}

const print = (x: unknown) => process.stdout.write(`${JSON.stringify(x)}\n`);

async function main() {
  const { command, flags } = args(process.argv.slice(2));
  if (command === 'help' || command === '--help') {
    process.stdout.write(USAGE);
    return;
  }
  if (!FLAGS[command]) {
    process.stderr.write(`users: ${command ? `unknown command ${command}` : 'no command given'}\n${USAGE}`);
    process.exit(2);
  }
  // the same settings as `npm start`: `.env` where the environment does not say (MONGODB_URI above all)
  applyDefaults(process.env, readDotEnv(path.join(ROOT, '.env')));
  pointAtEmbeddedServers(process.env, readDotEnv(path.join(ROOT, '.env.example')));
  const config = loadConfigOrExit();
  try {
    await connectDatabase(config.MONGODB_URI);
  } catch (e) {
    throw new Error(`cannot reach the database at ${redactCredentials(config.MONGODB_URI)} (${(e as Error).message}): start the stack (npm start) or set MONGODB_URI`);
  }
  try {
    if (command === 'partner') {
      const wanted = { id: need(flags, 'id'), name: need(flags, 'name'), email: need(flags, 'email') };
      const p = await ensurePartner(wanted);
      // an id that exists with other details is refused, as an email that exists is for create
      if (p.name !== wanted.name || p.email !== wanted.email) throw new Error(`partner ${p._id} exists as ${JSON.stringify(p.name)} <${p.email}>: nothing changed`);
      print(p);
    } else if (command === 'create') {
      const days = expiry(flags);
      const user = await createUser({ name: need(flags, 'name'), email: need(flags, 'email'), role: need(flags, 'role') as Role, partnerId: flags.partner ?? null });
      const { token, view } = await createToken(user._id, { label: flags.label ?? 'cli', expiresInDays: days });
      print({ userId: user._id, role: user.role, partnerId: user.partnerId, tokenId: view.id, expiresAt: view.expiresAt, token });
    } else if (command === 'token') {
      const days = expiry(flags);
      const user = await userByEmail(need(flags, 'email'));
      // a token that cannot work is not made (QA: one was, exit 0, and then refused with 401)
      if (isDisabled(user)) throw new Error(`${user.email} is disabled: no token of theirs works; enable them first (npm run users -- enable --email ${user.email})`);
      const { token, view } = await createToken(user._id, { label: flags.label ?? 'cli', expiresInDays: days });
      print({ userId: user._id, role: user.role, partnerId: user.partnerId, tokenId: view.id, expiresAt: view.expiresAt, token });
    } else if (command === 'tokens') {
      const user = await userByEmail(need(flags, 'email'));
      // a disabled user's tokens keep their own status, and say that none works while the user is disabled (QA)
      const disabled = isDisabled(user);
      for (const t of await listTokens(user._id)) print(disabled ? { ...t, userDisabled: true } : t);
      if (disabled) process.stderr.write(`users: ${user.email} is disabled: none of these tokens works until they are enabled\n`);
    } else if (command === 'revoke') {
      const t = await revokeTokenById(need(flags, 'id'));
      print(t);
      process.stderr.write(`users: token ${t.id} revoked; API processes that used it in the last ${AUTH_CACHE_TTL_MS / 1000} s refuse it within ${AUTH_CACHE_TTL_MS / 1000} s\n`);
    } else if (command === 'disable' || command === 'enable') {
      const u = await setUserDisabled(need(flags, 'email'), command === 'disable');
      print({ userId: u._id, email: u.email, role: u.role, partnerId: u.partnerId, disabled: isDisabled(u), disabledAt: u.disabledAt ?? null });
      if (command === 'disable') {
        process.stderr.write(`users: ${u.email} disabled; their API tokens are refused within ${AUTH_CACHE_TTL_MS / 1000} s by every API process, their page sessions end at their next request\n`);
      }
    } else if (command === 'role') {
      const { user, previous } = await setUserRole(need(flags, 'email'), need(flags, 'role'));
      print({ userId: user._id, email: user.email, role: user.role, previousRole: previous, partnerId: user.partnerId });
      process.stderr.write(`users: ${user.email} is now ${user.role} (was ${previous}); every API process honours it within ${AUTH_CACHE_TTL_MS / 1000} s, their page sessions at their next request\n`);
    } else if (command === 'list') {
      for (const u of await User.find().sort({ partnerId: 1, email: 1 }).lean()) print({ id: u._id, email: u.email, role: u.role, partnerId: u.partnerId, disabled: isDisabled(u) });
    }
  } finally {
    await disconnectDatabase();
  }
}

// its output read by a command that stops early (`users list | head -1`): the rest is not wanted, so it stops quietly
// rather than with an unhandled EPIPE and its stack (QA)
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

main().catch((e) => {
  process.stderr.write(`users: ${(e as Error).message}\n`);
  process.exit(1);
});
