/**
 * Users and API tokens.
 *   npm run users -- partner --id ID --name NAME --email EMAIL
 *   npm run users -- create --name NAME --email EMAIL --role ROLE [--partner ID]   (prints a new token)
 *   npm run users -- token --email EMAIL                                            (prints a new token)
 *   npm run users -- list
 */
import { loadConfigOrExit } from '../lib/config';
import { connectDatabase, disconnectDatabase } from '../lib/db';
import { ROLES, type Role } from '../domain/roles';
import { ensurePartner, ensureUser, issueToken } from '../services/users';
import { User } from '../models';

function args(argv: string[]): { command: string; flags: Record<string, string> } {
  const [command = 'help', ...rest] = argv;
  const flags: Record<string, string> = {};
  for (let i = 0; i < rest.length; i += 2) {
    if (!rest[i].startsWith('--') || rest[i + 1] === undefined) throw new Error(`expected --flag value pairs, got ${rest.slice(i).join(' ')}`);
    flags[rest[i].slice(2)] = rest[i + 1];
  }
  return { command, flags };
}

function need(flags: Record<string, string>, name: string): string {
  if (!flags[name]) throw new Error(`--${name} is required`);
  return flags[name];
}

async function main() {
  const { command, flags } = args(process.argv.slice(2));
  if (command === 'help') {
    process.stdout.write(`usage: users partner|create|token|list [--flags]\nroles: ${ROLES.join(', ')}\n`);
    return;
  }
  const config = loadConfigOrExit();
  await connectDatabase(config.MONGODB_URI);
  try {
    if (command === 'partner') {
      const p = await ensurePartner({ id: need(flags, 'id'), name: need(flags, 'name'), email: need(flags, 'email') });
      process.stdout.write(`${JSON.stringify(p)}\n`);
    } else if (command === 'create') {
      const user = await ensureUser({ name: need(flags, 'name'), email: need(flags, 'email'), role: need(flags, 'role') as Role, partnerId: flags.partner ?? null });
      const token = await issueToken(user._id, flags.label ?? 'cli');
      process.stdout.write(`${JSON.stringify({ userId: user._id, role: user.role, partnerId: user.partnerId, token })}\n`);
    } else if (command === 'token') {
      const user = await User.findOne({ email: need(flags, 'email').toLowerCase() }).lean();
      if (!user) throw new Error(`no user with email ${flags.email}`);
      process.stdout.write(`${JSON.stringify({ userId: user._id, token: await issueToken(user._id, flags.label ?? 'cli') })}\n`);
    } else if (command === 'list') {
      for (const u of await User.find().sort({ partnerId: 1, email: 1 }).lean()) process.stdout.write(`${JSON.stringify({ id: u._id, email: u.email, role: u.role, partnerId: u.partnerId })}\n`);
    } else {
      throw new Error(`unknown command ${command}: use partner, create, token or list`);
    }
  } finally {
    await disconnectDatabase();
  }
}

main().catch((e) => {
  process.stderr.write(`users: ${(e as Error).message}\n`);
  process.exit(1);
});
