/**
 * Seeds the demonstration partner (idempotent): the product catalog, a partner, one user per role with
 * an API token, and customers in several markets. Tokens are written to <DATA_DIR>/demo-tokens.json (0600;
 * the database keeps only their hashes). Secrets never go into logs: the tokens are printed only to a
 * terminal, or with --print-tokens (e.g. `docker compose run --rm seed`, which has a terminal);
 * `npm start`, whose seed output goes to data/logs/seed.log, prints them from the file instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfigOrExit } from '../lib/config';
import { connectDatabase, disconnectDatabase } from '../lib/db';
import { AppError } from '../lib/errors';
import { ROLES, isPartnerRole } from '../domain/roles';
import { seedCatalog } from '../services/catalog';
import { createCustomer } from '../services/customers';
import { ensurePartner, ensureUser, issueToken, listTokens, tokenIsUsable } from '../services/users';
import { isDisabled } from '../models';

export const DEMO_PARTNER = { id: 'demo-partner', name: 'Contoso Cloud Partners', email: 'billing@contoso-partners.example' };

export const DEMO_CUSTOMERS = [
  { name: 'Fabrikam Inc', tenantId: '3f1c2a9e-7d4b-4c1e-9a2f-5b6c7d8e9f01', domain: 'fabrikam.onmicrosoft.com', market: 'US' },
  { name: 'Wingtip Toys Australia', tenantId: '8a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c02', domain: 'wingtiptoys.onmicrosoft.com', market: 'AU' },
  { name: 'Tailspin Brasil', tenantId: 'b1c2d3e4-f5a6-4b7c-9d8e-0f1a2b3c4d03', domain: 'tailspinbr.onmicrosoft.com', market: 'BR' },
  { name: 'Northwind Traders GmbH', tenantId: 'c9d8e7f6-a5b4-4c3d-8e2f-1a0b9c8d7e04', domain: 'northwindde.onmicrosoft.com', market: 'DE' },
  { name: 'Bonaire Dive Shop', tenantId: 'd4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f05', domain: 'bonairedive.onmicrosoft.com', market: 'BQ' },
];

export interface DemoToken {
  name: string;
  email: string;
  role: string;
  /** null: none to give (the user was disabled, or its demo token revoked, by an admin): `note` says why */
  token: string | null;
  note?: string;
}

/**
 * What the seed gives a demo user: its saved token while it works; none, saying why, when an admin disabled the user
 * or revoked (or let expire) its demo token, since seeding again changes nothing an admin did (QA: every start issued
 * a new token over a revocation, and one more per start for a disabled user); a new one only to a user never given one.
 */
export function demoTokenChoice(saved: { usable: boolean } | undefined, user: { email: string; disabled: boolean; demoTokens: { status: string }[] }): 'keep' | 'issue' | { note: string } {
  if (saved?.usable) return 'keep';
  if (user.disabled) return { note: `disabled by an admin (npm run users -- enable --email ${user.email})` };
  const last = user.demoTokens[0];
  if (last) return { note: `its demo token is ${last.status === 'active' ? 'not in this data folder' : last.status}: npm run users -- token --email ${user.email}` };
  return 'issue';
}

export async function seedDemo(tokensFile: string): Promise<DemoToken[]> {
  await seedCatalog();
  await ensurePartner(DEMO_PARTNER);
  for (const c of DEMO_CUSTOMERS) {
    try {
      await createCustomer(DEMO_PARTNER.id, c);
    } catch (e) {
      if (!(e instanceof AppError && e.status === 409)) throw e;
    }
  }
  const saved: DemoToken[] = fs.existsSync(tokensFile) ? JSON.parse(fs.readFileSync(tokensFile, 'utf8')) : [];
  const tokens: DemoToken[] = [];
  for (const role of ROLES) {
    const partner = isPartnerRole(role);
    const email = `${role}@${partner ? 'contoso-partners' : 'csp-desk-support'}.example`;
    const user = await ensureUser({ name: `Demo ${role}`, email, role, partnerId: partner ? DEMO_PARTNER.id : null });
    const known = saved.find((t) => t.email === email);
    const usable = !!known?.token && (await tokenIsUsable(known.token));
    const choice = demoTokenChoice(known ? { usable } : undefined, { email, disabled: isDisabled(user), demoTokens: usable ? [] : (await listTokens(user._id)).filter((t) => t.label === 'demo') });
    if (choice === 'keep') tokens.push({ name: user.name, email, role, token: known!.token });
    else if (choice === 'issue') tokens.push({ name: user.name, email, role, token: await issueToken(user._id, 'demo') });
    else tokens.push({ name: user.name, email, role, token: null, note: choice.note });
  }
  try {
    fs.mkdirSync(path.dirname(tokensFile), { recursive: true });
    fs.writeFileSync(tokensFile, `${JSON.stringify(tokens, null, 2)}\n`, { mode: 0o600 });
  } catch (e) {
    // e.g. a read-only container: the tokens are printed by main() all the same
    process.stderr.write(`seed: could not write ${tokensFile} (${(e as Error).message}); the tokens are printed below\n`);
  }
  return tokens;
}

async function main() {
  const config = loadConfigOrExit();
  const dataDir = path.resolve(process.env.DATA_DIR ?? path.join(__dirname, '..', '..', 'data'));
  await connectDatabase(config.MONGODB_URI);
  const tokens = await seedDemo(path.join(dataDir, 'demo-tokens.json'));
  await disconnectDatabase();
  process.stdout.write(`${JSON.stringify({ partner: DEMO_PARTNER.id, customers: DEMO_CUSTOMERS.length, tokensFile: path.join(dataDir, 'demo-tokens.json') })}\n`);
  // tokens exist only here and in the file: print them to a person, never into a log file
  if (process.stdout.isTTY || process.argv.includes('--print-tokens')) {
    for (const t of tokens) process.stdout.write(`${JSON.stringify({ role: t.role, email: t.email, token: t.token, ...(t.note ? { note: t.note } : {}) })}\n`);
  } else {
    process.stdout.write(`${JSON.stringify({ tokens: `not printed (output is not a terminal); read ${path.join(dataDir, 'demo-tokens.json')} or run with --print-tokens` })}\n`);
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`seed: ${(e as Error).message}\nCheck that the database (MONGODB_URI) is reachable.\n`);
    process.exit(1);
  });
}
