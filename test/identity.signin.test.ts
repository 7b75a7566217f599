/**
 * Signing in to the pages: how many sign-in emails one address can be sent (real database and SMTP server), and
 * the nightly housekeeping that deletes old sign-in records (real Temporal).
 */
import { expect } from 'chai';
import { createMailer, createRenderer } from '../lib/mailer';
import { freePort } from '../stack/ports';
import { Session, SessionEnd, SignInClaim, SignInLink, SignInSend } from '../models';
import { ensureSessionHousekeepingSchedule } from '../composition/root';
import { SESSION_HOUSEKEEPING_CRON } from '../contracts/sessions';
import { SESSION_ABSOLUTE_HOURS } from '../domain/sessions';
import type { SignInPruneResult } from '../activities/sessions';
import { createSessionService, SIGN_IN_LINKS_PER_HOUR } from '../services/sessions';
import { ensureUser } from '../services/users';
import { getTestApp, uniq, waitFor, type TestApp } from './support/app';

describe('sign-in links: at most SIGN_IN_LINKS_PER_HOUR emails an hour to one address', function () {
  this.timeout(120_000);
  let app: TestApp;
  let clock = new Date('2026-11-26T10:15:00.000Z');

  before(async () => {
    app = await getTestApp();
  });

  const service = () => createSessionService({ mailer: app.mailer, renderer: createRenderer(), publicBaseUrl: app.baseUrl, log: app.log, now: () => clock });
  const newUser = async () => {
    const email = `${uniq('signin')}@${app.partnerId}.example`.toLowerCase();
    const user = await ensureUser({ name: 'Sign-in tester', email, role: 'sales-agent', partnerId: app.partnerId });
    return { id: user._id, email };
  };
  const emailsTo = async (email: string) => (await app.stack.mailbox.list()).filter((m) => m.to.includes(email) && m.subject.includes('sign-in link')).length;

  it('when one address asks for more links in an hour than the limit, at once and from two services, then exactly the limit is sent, each with its own link', async () => {
    const { id, email } = await newUser();
    const [a, b] = [service(), service()];
    // twice the limit plus two, split over two "API processes", all at once
    const asks = Array.from({ length: SIGN_IN_LINKS_PER_HOUR * 2 + 2 }, (_, i) => (i % 2 ? a : b).requestLink(email, null));
    await Promise.all(asks);
    expect(await SignInLink.countDocuments({ userId: id })).to.equal(SIGN_IN_LINKS_PER_HOUR);
    expect(await SignInSend.countDocuments({ userId: id })).to.equal(SIGN_IN_LINKS_PER_HOUR);
    await waitFor(async () => (await emailsTo(email)) >= SIGN_IN_LINKS_PER_HOUR);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await emailsTo(email)).to.equal(SIGN_IN_LINKS_PER_HOUR);

    // another address is not held back by this one
    const other = await newUser();
    await a.requestLink(other.email.toUpperCase(), null);
    await waitFor(async () => (await emailsTo(other.email)) === 1);

    // the next UTC hour gives the address its links again
    clock = new Date('2026-11-26T11:00:00.000Z');
    await a.requestLink(email, null);
    expect(await SignInLink.countDocuments({ userId: id })).to.equal(SIGN_IN_LINKS_PER_HOUR + 1);
    await waitFor(async () => (await emailsTo(email)) === SIGN_IN_LINKS_PER_HOUR + 1);
  });

  it('when the email cannot be sent (SMTP refuses), then the page answers as for any address, and neither the link nor the hour\'s slot is kept', async () => {
    const { id, email } = await newUser();
    const closed = await freePort(); // nothing listens there: the connection is refused
    const down = createMailer(`smtp://127.0.0.1:${closed}`, 'csp-desk test <no-reply@csp-desk.test>');
    try {
      const sessions = createSessionService({ mailer: down, renderer: createRenderer(), publicBaseUrl: app.baseUrl, log: app.log, now: () => clock });
      await sessions.requestLink(email, null); // resolves: no 500, nothing that tells the address has an account
    } finally {
      down.close();
    }
    expect(await SignInLink.countDocuments({ userId: id })).to.equal(0);
    expect(await SignInSend.countDocuments({ userId: id })).to.equal(0);
    // once SMTP answers, the address gets its link
    await service().requestLink(email, null);
    await waitFor(async () => (await emailsTo(email)) === 1);
  });
});

describe('sign-in housekeeping: records a week past mattering are deleted by the nightly Schedule', function () {
  this.timeout(120_000);
  let app: TestApp;

  before(async () => {
    app = await getTestApp();
  });

  it('when the Schedule runs, then links, claims, email slots, sessions and session ends a week past mattering are gone and the others stay, and a second run deletes nothing of them', async () => {
    const user = await ensureUser({ name: 'Housekeeping tester', email: `${uniq('hk')}@${app.partnerId}.example`.toLowerCase(), role: 'sales-agent', partnerId: app.partnerId });
    const now = Date.now();
    const ago = (days: number, hours = 0) => new Date(now - days * 86_400_000 - hours * 3_600_000);
    const id = (what: string) => `${user._id}:${what}`;
    const session = (what: string, expiresAt: Date) => ({ _id: id(what), publicId: id(`pub-${what}`), userId: user._id, csrfToken: 'x', createdAt: new Date(expiresAt.getTime() - SESSION_ABSOLUTE_HOURS * 3_600_000), expiresAt, lastSeenAt: expiresAt, userAgent: null });
    await SignInLink.insertMany([
      { _id: id('old-link'), userId: user._id, email: user.email, createdAt: ago(8), expiresAt: ago(8) },
      { _id: id('new-link'), userId: user._id, email: user.email, createdAt: ago(6), expiresAt: ago(6) },
    ]);
    await SignInClaim.insertMany([
      { _id: id('old-link'), userId: user._id, sessionId: id('old'), claimedAt: ago(8) },
      { _id: id('new-link'), userId: user._id, sessionId: id('new'), claimedAt: ago(6) },
    ]);
    await SignInSend.insertMany([
      { _id: id('old-send'), userId: user._id, at: ago(8) },
      { _id: id('new-send'), userId: user._id, at: ago(6) },
    ]);
    await Session.insertMany([session('old', ago(7, 1)), session('new', ago(6, 23)), session('live', new Date(now + 3_600_000))]);
    await SessionEnd.insertMany([
      // ended 7 days 13 hours ago: its session ended by 7 days 1 hour ago at the latest
      { _id: id('old'), userId: user._id, at: ago(7, 13), reason: 'signed-out' },
      // ended 7 days 11 hours ago: its session may have run until 6 days 23 hours ago, so it stays
      { _id: id('new'), userId: user._id, at: ago(7, 11), reason: 'signed-out' },
    ]);
    const mine = async () => ({
      links: (await SignInLink.find({ userId: user._id }).lean()).map((d) => d._id),
      claims: (await SignInClaim.find({ userId: user._id }).lean()).map((d) => d._id),
      sends: (await SignInSend.find({ userId: user._id }).lean()).map((d) => d._id),
      sessions: (await Session.find({ userId: user._id }).sort({ _id: 1 }).lean()).map((d) => d._id),
      sessionEnds: (await SessionEnd.find({ userId: user._id }).lean()).map((d) => d._id),
    });

    const scheduleId = uniq('sign-in-housekeeping-test');
    await ensureSessionHousekeepingSchedule(app.client, app.taskQueue, app.log, scheduleId);
    const handle = app.client.schedule.getHandle(scheduleId);
    const created = await handle.describe();
    expect(created.state.note).to.equal(`cron ${SESSION_HOUSEKEEPING_CRON}`);
    expect(created.action).to.deep.include({ type: 'startWorkflow', workflowType: 'sessionHousekeepingWorkflow' });
    // a worker that starts again finds it as it should be and leaves it alone
    await ensureSessionHousekeepingSchedule(app.client, app.taskQueue, app.log, scheduleId);
    expect((await handle.describe()).info.lastUpdatedAt).to.equal(created.info.lastUpdatedAt);
    const runs: SignInPruneResult[] = [];
    const runOnce = async () => {
      await handle.trigger();
      await waitFor(async () => {
        const d = await handle.describe();
        const run = d.info.recentActions[runs.length]?.action;
        if (!run) return false;
        runs.push(await app.client.workflow.getHandle(run.workflow.workflowId, run.workflow.firstExecutionRunId).result());
        return true;
      });
    };
    await runOnce();
    expect(await mine()).to.deep.equal({
      links: [id('new-link')],
      claims: [id('new-link')],
      sends: [id('new-send')],
      sessions: [id('live'), id('new')],
      sessionEnds: [id('new')],
    });
    for (const k of ['links', 'claims', 'sends', 'sessions', 'sessionEnds'] as const) expect(runs[0][k], k).to.be.at.least(1);
    await runOnce();
    expect((await mine()).sessions).to.deep.equal([id('live'), id('new')]);
    expect(runs[1]).to.deep.include({ links: 0, claims: 0, sends: 0, sessions: 0 });
    await handle.delete();
  });
});
