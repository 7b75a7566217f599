/** API tokens (own tokens through the API, revocation, expiry, lastUsedAt), the users command and the seed's secrets. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { ApiToken, ApiTokenRevocation, Partner, SignInLink, User } from '../models';
import { createRenderer } from '../lib/mailer';
import { createSessionService } from '../services/sessions';
import { AUTH_CACHE_TTL_MS, LAST_USED_EVERY_MS, ensureUser, hashToken, issueToken, listTokens, setUserDisabled, setUserRole } from '../services/users';
import { getTestApp, uniq, waitFor, type TestApp } from './support/app';
import { freePort } from '../stack/ports';

const run = promisify(execFile);
const DIST = path.resolve(__dirname, '..');

/** Runs one of the built commands against the test stack; resolves with its exit code and output. */
async function command(app: TestApp, script: string, args: string[], env: Record<string, string> = {}) {
  try {
    const r = await run(process.execPath, [path.join(DIST, 'bin', `${script}.js`), ...args], {
      env: { PATH: process.env.PATH, MONGODB_URI: app.stack.mongoUri, TEMPORAL_ADDRESS: app.stack.temporalAddress, SMTP_URL: app.stack.smtpUrl, LOG_LEVEL: 'warn', ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

describe('API tokens: own tokens, revocation, expiry, last use; the users command; the seed', function () {
  this.timeout(120_000);
  let app: TestApp;
  before(async () => {
    app = await getTestApp();
  });

  /** A fresh user of the main partner with a token (so tests do not revoke each other's). */
  async function newUser(role: 'admin-agent' | 'sales-agent' | 'support-agent' = 'sales-agent') {
    const partner = role !== 'support-agent';
    const user = await ensureUser({ name: uniq('User'), email: `${uniq('u')}@${partner ? app.partnerId : 'support'}.example`, role, partnerId: partner ? app.partnerId : null });
    return { user, token: await issueToken(user._id, 'test') };
  }

  describe('through the API', () => {
    it('when a user creates a token, then its secret is shown once and the list shows it without any secret or hash', async () => {
      const { token } = await newUser();
      const created = await app.api('POST', '/tokens', { token, body: { label: 'billing export', expiresInDays: 30 } });
      expect(created.status).to.equal(201);
      expect(created.body.id).to.match(/^tok_[0-9a-f]{24}$/);
      expect(created.body.token).to.match(/^cspd_/);
      expect(created.body).to.include({ label: 'billing export', status: 'active', revokedAt: null });
      expect(new Date(created.body.expiresAt).getTime() - Date.now()).to.be.within(29 * 86_400_000, 30 * 86_400_000 + 60_000);
      expect(created.headers.get('location')).to.equal(`/tokens/${created.body.id}`);
      // the address it names answers the token, without its secret; to another user it is not there
      const named = await app.api('GET', created.headers.get('location')!, { token });
      expect(named.status).to.equal(200);
      expect(named.body).to.have.all.keys('id', 'label', 'createdAt', 'expiresAt', 'lastUsedAt', 'revokedAt', 'status');
      expect(named.body).to.include({ id: created.body.id, label: 'billing export', status: 'active' });
      expect((await app.api('GET', created.headers.get('location')!, { token: (await newUser()).token })).status).to.equal(404);
      expect(created.body.id).to.not.contain(hashToken(created.body.token).slice(0, 24));

      const mine = await app.api('GET', '/tokens', { token: created.body.token });
      expect(mine.status).to.equal(200);
      expect(mine.body.map((t: { id: string }) => t.id)).to.include(created.body.id);
      const text = JSON.stringify(mine.body);
      for (const secret of [token, created.body.token]) {
        expect(text).to.not.contain(secret);
        expect(text).to.not.contain(hashToken(secret));
      }
      for (const t of mine.body) expect(t).to.have.all.keys('id', 'label', 'createdAt', 'expiresAt', 'lastUsedAt', 'revokedAt', 'status');
    });

    it('when a user lists tokens, then only their own appear', async () => {
      const a = await newUser();
      const b = await newUser();
      const listA = (await app.api('GET', '/tokens', { token: a.token })).body.map((t: { id: string }) => t.id);
      const listB = (await app.api('GET', '/tokens', { token: b.token })).body.map((t: { id: string }) => t.id);
      expect(listA).to.have.length(1);
      expect(listB).to.have.length(1);
      expect(listA[0]).to.not.equal(listB[0]);
    });

    it('when a token is revoked through the API, then it is refused at once (401) and listed as revoked', async () => {
      const { token } = await newUser();
      const second = (await app.api('POST', '/tokens', { token, body: {} })).body;
      expect((await app.api('GET', '/tokens', { token: second.token })).status).to.equal(200); // now cached
      const revoked = await app.api('DELETE', `/tokens/${second.id}`, { token });
      expect(revoked.status).to.equal(200);
      expect(revoked.body).to.include({ id: second.id, status: 'revoked' });
      const refused = await app.api('GET', '/tokens', { token: second.token });
      expect(refused.status).to.equal(401);
      expect(refused.body.error.code).to.equal('unauthorized');
      const list = (await app.api('GET', '/tokens', { token })).body;
      expect(list.find((t: { id: string }) => t.id === second.id)).to.include({ status: 'revoked' });
      // revoking again changes nothing
      expect((await app.api('DELETE', `/tokens/${second.id}`, { token })).status).to.equal(200);
      expect(await ApiTokenRevocation.countDocuments({ _id: hashToken(second.token) })).to.equal(1);
    });

    it('a user may revoke the token they are using (logging out)', async () => {
      const { token } = await newUser();
      const id = (await app.api('GET', '/tokens', { token })).body[0].id;
      expect((await app.api('DELETE', `/tokens/${id}`, { token })).status).to.equal(200);
      expect((await app.api('GET', '/tokens', { token })).status).to.equal(401);
    });

    it("when a user revokes another user's token, then 404 and that token still works", async () => {
      const a = await newUser();
      const b = await newUser();
      const idB = (await app.api('GET', '/tokens', { token: b.token })).body[0].id;
      const res = await app.api('DELETE', `/tokens/${idB}`, { token: a.token });
      expect(res.status).to.equal(404);
      expect((await app.api('GET', '/tokens', { token: b.token })).status).to.equal(200);
      expect(await ApiTokenRevocation.countDocuments({ userId: b.user._id })).to.equal(0);
      const other = await app.api('DELETE', `/tokens/${idB}`, { token: app.otherTokens['admin-agent'] });
      expect(other.status).to.equal(404);
    });

    it('every role manages its own tokens, support roles included', async () => {
      const { token } = await newUser('support-agent');
      expect((await app.api('GET', '/tokens', { token })).status).to.equal(200);
      expect((await app.api('POST', '/tokens', { token, body: { label: 'support laptop' } })).status).to.equal(201);
      for (const role of ['referral-admin', 'marketing-content-admin', 'support-lead'] as const) {
        expect((await app.api('GET', '/tokens', { token: app.tokens[role] })).status, role).to.equal(200);
      }
    });

    it('when a token that expires creates a token, then the new one may not outlive it (422 naming body.expiresInDays), and nothing is made', async () => {
      // a review found the escalation: a one-day (or stolen) token minted one that never expires
      const { user } = await newUser();
      const short = await issueToken(user._id, 'short', 3);
      const count = () => ApiToken.countDocuments({ userId: user._id });
      const before = await count();
      for (const body of [{ label: 'forever' }, { label: 'longer', expiresInDays: 4 }]) {
        const res = await app.api('POST', '/tokens', { token: short, body });
        expect([res.status, res.body.error.code, res.body.error.field], JSON.stringify(body)).to.deep.equal([422, 'token_outlives_caller', 'body.expiresInDays']);
        expect(res.body.error.message).to.contain('ask for expiresInDays of at most 2');
      }
      expect(await count()).to.equal(before);
      const within = await app.api('POST', '/tokens', { token: short, body: { label: 'shorter', expiresInDays: 2 } });
      expect(within.status).to.equal(201);
      // a token that does not expire may create any
      const { token: lasting } = await newUser();
      expect((await app.api('POST', '/tokens', { token: lasting, body: { label: 'also lasting' } })).status).to.equal(201);
    });

    it('when a token has expired, then 401 says so, and the list shows it expired', async () => {
      const { user, token: current } = await newUser();
      // a token made two days ago with a one-day expiry
      const secret = `cspd_${uniq('expired')}`;
      await ApiToken.create({ _id: hashToken(secret), userId: user._id, label: 'short', createdAt: new Date(Date.now() - 2 * 86_400_000), expiresAt: new Date(Date.now() - 86_400_000), lastUsedAt: null });
      const res = await app.api('GET', '/tokens', { token: secret });
      expect(res.status).to.equal(401);
      expect(res.body.error.message).to.contain('expired');
      const list = (await app.api('GET', '/tokens', { token: current })).body;
      expect(list.find((t: { label: string }) => t.label === 'short')).to.include({ status: 'expired' });
    });

    it('when a user is disabled, then a token of theirs not yet in the cache is refused (401), saying the user is disabled', async () => {
      const { user } = await newUser();
      const secret = await issueToken(user._id, 'before-disable');
      // disabled by whoever manages users (a field of the user document); nothing has used this token yet
      await User.collection.updateOne({ _id: user._id as never }, { $set: { disabled: true } });
      const res = await app.api('GET', '/tokens', { token: secret });
      expect(res.status).to.equal(401);
      expect(res.body.error.message).to.equal(`the API token's user ${user.email} is disabled; an administrator can enable them again (npm run users -- enable --email ${user.email})`);
      // an unknown token still says only that
      expect((await app.api('GET', '/tokens', { token: 'cspd_unknown' })).body.error.message).to.equal('the API token is not valid (unknown or revoked)');
    });

    it('when a token is used, then lastUsedAt is recorded, and not rewritten on every request', async () => {
      const { token } = await newUser();
      const hash = hashToken(token);
      expect((await ApiToken.findById(hash).lean())!.lastUsedAt).to.equal(null);
      expect((await app.api('GET', '/tokens', { token })).status).to.equal(200);
      await waitFor(async () => !!(await ApiToken.findById(hash).lean())!.lastUsedAt);
      const first = (await ApiToken.findById(hash).lean())!.lastUsedAt!.getTime();
      for (let i = 0; i < 5; i++) await app.api('GET', '/tokens', { token });
      expect((await ApiToken.findById(hash).lean())!.lastUsedAt!.getTime()).to.equal(first);
      expect(LAST_USED_EVERY_MS).to.be.at.most(60_000);
      const shown = (await app.api('GET', '/tokens', { token })).body[0];
      expect(new Date(shown.lastUsedAt).getTime()).to.equal(first);
    });

    it('when the body is bad, then 400 names the field', async () => {
      const { token } = await newUser();
      for (const [body, field] of [
        [{ expiresInDays: 0 }, 'body.expiresInDays'],
        [{ expiresInDays: 1.5 }, 'body.expiresInDays'],
        [{ label: '' }, 'body.label'],
        [{ scope: 'admin' }, 'body.scope'],
      ] as const) {
        const res = await app.api('POST', '/tokens', { token, body });
        expect(res.status, JSON.stringify(body)).to.equal(400);
        expect(res.body.error.field).to.equal(field);
      }
      expect((await app.api('DELETE', '/tokens/not-an-id', { token })).status).to.equal(400);
    });
  });

  describe('the users command', () => {
    it('when create names an email that exists, then it refuses with a clear message, a non-zero exit, and no token', async () => {
      const email = `${uniq('dup')}@${app.partnerId}.example`;
      const first = await command(app, 'users', ['create', '--name', 'First', '--email', email, '--role', 'admin-agent', '--partner', app.partnerId]);
      expect(first.code, first.stderr).to.equal(0);
      const made = JSON.parse(first.stdout);
      expect(made).to.include({ role: 'admin-agent', partnerId: app.partnerId });
      expect(made.token).to.match(/^cspd_/);
      const user = (await User.findOne({ email }).lean())!;
      expect(await ApiToken.countDocuments({ userId: user._id })).to.equal(1);

      for (const args of [
        ['--role', 'account-admin', '--partner', app.partnerId],
        ['--role', 'admin-agent', '--partner', app.otherPartnerId],
        ['--role', 'admin-agent', '--partner', app.partnerId],
      ]) {
        const again = await command(app, 'users', ['create', '--name', 'Second', '--email', email.toUpperCase(), ...args]);
        expect(again.code, args.join(' ')).to.equal(1);
        expect(again.stdout).to.equal('');
        expect(again.stderr).to.contain('already exists').and.contain(email).and.contain('admin-agent');
      }
      expect(await ApiToken.countDocuments({ userId: user._id })).to.equal(1);
      expect((await User.findById(user._id).lean())!.role).to.equal('admin-agent');
    });

    it('when the input is wrong (no command, an unknown flag, a bad email, a name on two lines, a partner id taken with other details), then it says what and exits non-zero, writing nothing', async () => {
      const none = await command(app, 'users', []);
      expect([none.code, none.stderr]).to.satisfy(([code, err]: [number, string]) => code === 2 && err.includes('no command given') && err.includes('usage:'));
      const cases: [string[], RegExp][] = [
        [['list', '--bogus', '1'], /list takes no flags, not --bogus/],
        [['create', '--name', 'X', '--email', 'not-an-email', '--role', 'sales-agent', '--partner', app.partnerId], /--email "not-an-email" is not an email address/],
        [['create', '--name', 'Bad\nName', '--email', `${uniq('nl')}@x.example`, '--role', 'sales-agent', '--partner', app.partnerId], /--name must be one line/],
        [['partner', '--id', app.partnerId, '--name', 'Totally Other Name', '--email', 'other@x.example'], /exists as "Test Partner"/],
        // a flag given twice, one of them a mistake, could act on the wrong user; an empty one is none (QA)
        [['token', '--email', 'qa1@example.com', '--email', `admin-agent@${app.partnerId}.example`], /--email is given twice \("qa1@example.com" and ".+"\); give it once/],
        [['create', '--name', 'Lead', '--email', `${uniq('lead')}@x.example`, '--role', 'support-lead', '--partner', ''], /--partner is empty; leave it out or give a value/],
      ];
      for (const [args, message] of cases) {
        const r = await command(app, 'users', args);
        expect(r.code, args.join(' ')).to.equal(1);
        expect(r.stderr, args.join(' ')).to.match(message);
      }
      expect((await Partner.findById(app.partnerId).lean())!.name).to.equal('Test Partner');
      // disabling twice keeps the first date
      const email = `${uniq('twice')}@${app.partnerId}.example`;
      expect((await command(app, 'users', ['create', '--name', 'Twice', '--email', email, '--role', 'sales-agent', '--partner', app.partnerId])).code).to.equal(0);
      const first = JSON.parse((await command(app, 'users', ['disable', '--email', email])).stdout).disabledAt;
      const second = JSON.parse((await command(app, 'users', ['disable', '--email', email])).stdout).disabledAt;
      expect(second).to.equal(first);
    });

    it('issues a token with an expiry, lists tokens without secrets, and revokes one (refused here within the cache lifetime)', async () => {
      const email = `${uniq('cli')}@${app.partnerId}.example`;
      const made = JSON.parse((await command(app, 'users', ['create', '--name', 'Cli', '--email', email, '--role', 'sales-agent', '--partner', app.partnerId, '--expires-in-days', '7'])).stdout);
      expect(new Date(made.expiresAt).getTime()).to.be.greaterThan(Date.now() + 6 * 86_400_000);
      expect((await command(app, 'users', ['token', '--email', email, '--expires-in-days', '0'])).code).to.equal(1);
      const listed = await command(app, 'users', ['tokens', '--email', email]);
      expect(listed.code).to.equal(0);
      expect(listed.stdout).to.contain(made.tokenId).and.not.contain(made.token).and.not.contain(hashToken(made.token));

      expect((await app.api('GET', '/tokens', { token: made.token })).status).to.equal(200); // cached in this process
      const revoked = await command(app, 'users', ['revoke', '--id', made.tokenId]);
      expect(revoked.code, revoked.stderr).to.equal(0);
      expect(JSON.parse(revoked.stdout)).to.include({ id: made.tokenId, status: 'revoked' });
      // another process revoked it: this API refuses it once its cache entry lapses
      await waitFor(async () => (await app.api('GET', '/tokens', { token: made.token })).status === 401, AUTH_CACHE_TTL_MS + 5000);
      expect((await command(app, 'users', ['revoke', '--id', 'tok_000000000000000000000000'])).code).to.equal(1);
    });

    it('when disable names a user, then their tokens and sign-in links stop working, list says disabled, and enable gives them back', async () => {
      const email = `${uniq('leaver')}@${app.partnerId}.example`;
      const made = JSON.parse((await command(app, 'users', ['create', '--name', 'Leaver', '--email', email, '--role', 'admin-agent', '--partner', app.partnerId])).stdout);
      const off = await command(app, 'users', ['disable', '--email', email.toUpperCase()]);
      expect(off.code, off.stderr).to.equal(0);
      expect(JSON.parse(off.stdout)).to.include({ userId: made.userId, disabled: true });
      expect(off.stderr).to.contain('disabled');
      // a token not yet in this API's cache is refused at once
      expect((await app.api('GET', '/tokens', { token: made.token })).status).to.equal(401);
      const listed = (await command(app, 'users', ['list'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
      expect(listed.find((u: { id: string }) => u.id === made.userId)).to.include({ disabled: true });
      // read by a command that stops after the first line (`| head -1`): it stops quietly, exit 0, no EPIPE stack (QA)
      const { spawn } = await import('node:child_process');
      const cut = spawn(process.execPath, [path.join(DIST, 'bin', 'users.js'), 'list'], { env: { PATH: process.env.PATH, MONGODB_URI: app.stack.mongoUri, TEMPORAL_ADDRESS: app.stack.temporalAddress, SMTP_URL: app.stack.smtpUrl, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let cutErr = '';
      cut.stderr!.on('data', (c: Buffer) => (cutErr += c.toString()));
      // (closed before its first line: what `head -1` does to the lines after the first)
      cut.stdout!.destroy();
      const cutCode = await new Promise<number | null>((resolve) => cut.once('exit', (code) => resolve(code)));
      expect([cutCode, cutErr]).to.deep.equal([0, '']);
      // no sign-in link either (the page answers the same, nothing is written)
      const sessions = createSessionService({ mailer: app.mailer, renderer: createRenderer(), publicBaseUrl: app.baseUrl, log: app.log });
      await sessions.requestLink(email, null);
      expect(await SignInLink.countDocuments({ userId: made.userId })).to.equal(0);

      const on = await command(app, 'users', ['enable', '--email', email]);
      expect(on.code, on.stderr).to.equal(0);
      expect(JSON.parse(on.stdout)).to.include({ disabled: false, disabledAt: null });
      expect((await app.api('GET', '/tokens', { token: made.token })).status).to.equal(200);
      await sessions.requestLink(email, null);
      expect(await SignInLink.countDocuments({ userId: made.userId })).to.equal(1);

      const unknown = await command(app, 'users', ['disable', '--email', `nobody-${uniq('x')}@example.com`]);
      expect(unknown.code).to.equal(1);
      expect(unknown.stderr).to.contain('no user with email');
    });

    it('when a user is disabled, then no token is made for them and their tokens are listed as not working (QA: a token was made, exit 0, then refused)', async () => {
      const email = `${uniq('off')}@${app.partnerId}.example`;
      const made = JSON.parse((await command(app, 'users', ['create', '--name', 'Off', '--email', email, '--role', 'sales-agent', '--partner', app.partnerId])).stdout);
      expect((await command(app, 'users', ['disable', '--email', email])).code).to.equal(0);
      const refused = await command(app, 'users', ['token', '--email', email]);
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.equal(`users: ${email.toLowerCase()} is disabled: no token of theirs works; enable them first (npm run users -- enable --email ${email.toLowerCase()})\n`);
      expect(await ApiToken.countDocuments({ userId: made.userId })).to.equal(1);
      const listed = await command(app, 'users', ['tokens', '--email', email]);
      expect(JSON.parse(listed.stdout)).to.include({ id: made.tokenId, status: 'active', userDisabled: true });
      expect(listed.stderr).to.contain('is disabled: none of these tokens works until they are enabled');
    });

    it('when role names a user and a role on the same side, then the user has it (the API answers by it); a role of the other side or an unknown one is refused, nothing written', async () => {
      const email = `${uniq('mover')}@${app.partnerId}.example`;
      const made = JSON.parse((await command(app, 'users', ['create', '--name', 'Mover', '--email', email, '--role', 'sales-agent', '--partner', app.partnerId])).stdout);
      // a sales agent may not read the activity log; a global admin may (the token unused so far: not in this API
      // process's cache, which honours a change within its lifetime)
      const moved = await command(app, 'users', ['role', '--email', email, '--role', 'global-admin']);
      expect(moved.code, moved.stderr).to.equal(0);
      expect(JSON.parse(moved.stdout)).to.include({ userId: made.userId, role: 'global-admin', previousRole: 'sales-agent', partnerId: app.partnerId });
      expect(moved.stderr).to.contain('is now global-admin (was sales-agent)');
      expect((await app.api('GET', '/activity-log', { token: made.token })).status).to.equal(200);
      for (const [role, said] of [
        ['support-agent', `${email.toLowerCase()} is global-admin, a role of partner ${app.partnerId}; support-agent is a support role: that needs a user of its own (npm run users -- create)`],
        ['owner', 'unknown role owner; one of: '],
      ] as const) {
        const no = await command(app, 'users', ['role', '--email', email, '--role', role]);
        expect(no.code).to.equal(1);
        expect(no.stderr).to.contain(said);
      }
      expect((await User.findById(made.userId).lean())!.role).to.equal('global-admin');
    });

    it('when two operators change one user at the same moment (a disable and a role change), then both changes hold, every time', async () => {
      // two writers of one document: FerretDB can lose one of two concurrent updates, so each change is read back and
      // written again until it holds (services/users.ts untilHeld)
      for (let round = 0; round < 10; round++) {
        const email = `${uniq('raced')}@${app.partnerId}.example`.toLowerCase();
        await ensureUser({ name: 'Raced', email, role: 'sales-agent', partnerId: app.partnerId });
        const [disabled, moved] = await Promise.all([setUserDisabled(email, true), setUserRole(email, 'global-admin')]);
        expect(disabled.disabledAt, `round ${round}`).to.be.instanceOf(Date);
        expect(moved.user.role, `round ${round}`).to.equal('global-admin');
        const stored = (await User.findOne({ email }).lean())!;
        expect([stored.role, stored.disabledAt instanceof Date], `round ${round}`).to.deep.equal(['global-admin', true]);
      }
    });

    it('when enable follows a hand-set `disabled: true`, then the user is enabled again', async () => {
      const { user } = await newUser();
      await User.collection.updateOne({ _id: user._id as never }, { $set: { disabled: true } });
      const on = await command(app, 'users', ['enable', '--email', user.email]);
      expect(on.code, on.stderr).to.equal(0);
      expect(JSON.parse(on.stdout)).to.include({ disabled: false });
      expect(await User.collection.countDocuments({ _id: user._id as never, disabled: { $exists: true } })).to.equal(0);
    });
  });

  describe('the entry points', () => {
    it('when the database is away as the API or the worker starts by hand, then each says so in one line with what to check, no stack trace', async () => {
      // QA: `node dist/bin/api.js` printed a MongooseServerSelectionError's whole stack
      const closed = `mongodb://127.0.0.1:${await freePort()}/csp-desk`;
      for (const script of ['api', 'worker']) {
        const r = await command(app, script, [], { MONGODB_URI: closed, PORT: String(await freePort()) });
        expect(r.code, `${script}: ${r.stderr}`).to.equal(1);
        const lines = r.stderr.trim().split('\n');
        expect(lines[0], script).to.match(new RegExp(`^${script}: \\w+Error: .*ECONNREFUSED`));
        expect(lines[1], script).to.match(/^Check that Temporal \(TEMPORAL_ADDRESS\)/);
        expect(r.stderr, script).to.not.match(/^\s+at /m);
      }
    });
  });

  describe('the seed', () => {
    it('when the seed runs without a terminal (as npm start runs it), then no secret reaches its output; the tokens file is 0600', async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'csp-desk-seedtest-'));
      try {
        const r = await command(app, 'seed', [], { DATA_DIR: dataDir });
        expect(r.code, r.stderr).to.equal(0);
        const file = path.join(dataDir, 'demo-tokens.json');
        expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
        const tokens = JSON.parse(fs.readFileSync(file, 'utf8')) as { email: string; token: string }[];
        expect(tokens.length).to.be.greaterThan(5);
        const output = r.stdout + r.stderr;
        for (const t of tokens) expect(output).to.not.contain(t.token);
        expect(output).to.not.match(/cspd_/);
        expect(output).to.contain('demo-tokens.json');
        // a second run keeps the tokens that still work, and still prints none
        const again = await command(app, 'seed', [], { DATA_DIR: dataDir });
        expect(again.stdout + again.stderr).to.not.match(/cspd_/);
        expect(JSON.parse(fs.readFileSync(file, 'utf8'))).to.deep.equal(tokens);
        // on request (a person at a terminal, `docker compose run`), it prints them
        const shown = await command(app, 'seed', ['--print-tokens'], { DATA_DIR: dataDir });
        expect(shown.stdout).to.contain(tokens[0].token);

        // what an admin did stays done (QA: each start issued a new token over a revocation, and one more per start
        // for a disabled user): a revoked demo token is not replaced, a disabled user gets none; each says why
        const [revoked, disabled] = [tokens.find((t) => t.email.startsWith('sales-agent@'))!, tokens.find((t) => t.email.startsWith('referral-admin@'))!];
        const revokedUser = (await User.findOne({ email: revoked.email }).lean())!;
        const disabledUser = (await User.findOne({ email: disabled.email }).lean())!;
        const [revokedBefore, disabledBefore] = [await ApiToken.countDocuments({ userId: revokedUser._id }), await ApiToken.countDocuments({ userId: disabledUser._id })];
        expect((await command(app, 'users', ['revoke', '--id', (await listTokens(revokedUser._id)).find((t) => t.label === 'demo' && t.status === 'active')!.id])).code).to.equal(0);
        expect((await command(app, 'users', ['disable', '--email', disabled.email])).code).to.equal(0);
        try {
          for (let run = 0; run < 2; run++) {
            const r2 = await command(app, 'seed', ['--print-tokens'], { DATA_DIR: dataDir });
            expect(r2.code, r2.stderr).to.equal(0);
            const after = JSON.parse(fs.readFileSync(file, 'utf8')) as { email: string; token: string | null; note?: string }[];
            expect(after.find((t) => t.email === revoked.email)).to.deep.include({ token: null, note: `its demo token is revoked: npm run users -- token --email ${revoked.email}` });
            expect(after.find((t) => t.email === disabled.email)).to.deep.include({ token: null, note: `disabled by an admin (npm run users -- enable --email ${disabled.email})` });
            expect(await ApiToken.countDocuments({ userId: revokedUser._id })).to.equal(revokedBefore);
            expect(await ApiToken.countDocuments({ userId: disabledUser._id })).to.equal(disabledBefore);
          }
        } finally {
          await command(app, 'users', ['enable', '--email', disabled.email]);
        }
      } finally {
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
});
