/**
 * The nightly housekeeping, run by its Schedule on the real Temporal server and database: what can no longer do
 * anything goes (sign-in records a week past mattering, attachment files no attachment points to and chunks with
 * no file record, a day after their upload began; a download link's records 30 days after it expired), everything else stays, the last two days' download slots whose requests died are logged, and a second run does nothing more.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import mongoose from 'mongoose';
import { ensureHousekeepingSchedule } from '../composition/root';
import { HOUSEKEEPING_CRON } from '../contracts/system';
import { SESSION_ABSOLUTE_HOURS } from '../domain/sessions';
import { ATTACHMENTS_BUCKET, Attachment } from '../models/attachments';
import { ActivityEntry, DownloadClaim, DownloadLink, DownloadLinkRequest, DownloadResume, Session, SessionEnd, SignInClaim, SignInLink, SignInSend, SupportIdempotency } from '../models';
import { ensureUser } from '../services/users';
import type { HousekeepingResult } from '../workflows/system';
import { getTestApp, uniq, waitFor, workflowBundle, type TestApp } from './support/app';

describe('nightly housekeeping (its Schedule, real servers)', function () {
  this.timeout(120_000);
  let app: TestApp;

  before(async () => {
    app = await getTestApp();
  });

  it('when the Schedule runs, then sign-in records a week past mattering, orphan attachment files and chunks a day old, support action keys a month old and download records a month past their link are gone, the rest stays, a recent download slot whose request died is logged, and a second run does none of it again', async () => {
    const now = Date.now();
    const ago = (days: number, hours = 0) => new Date(now - days * 86_400_000 - hours * 3_600_000);

    // ---- sign-in records of one user, either side of each cutoff
    const user = await ensureUser({ name: 'Housekeeping tester', email: `${uniq('hk')}@${app.partnerId}.example`.toLowerCase(), role: 'sales-agent', partnerId: app.partnerId });
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
    const signIn = async () => ({
      links: (await SignInLink.find({ userId: user._id }).lean()).map((d) => d._id),
      claims: (await SignInClaim.find({ userId: user._id }).lean()).map((d) => d._id),
      sends: (await SignInSend.find({ userId: user._id }).lean()).map((d) => d._id),
      sessions: (await Session.find({ userId: user._id }).sort({ _id: 1 }).lean()).map((d) => d._id),
      sessionEnds: (await SessionEnd.find({ userId: user._id }).lean()).map((d) => d._id),
    });

    // ---- attachment files: an orphan two days old, an orphan of an hour ago, an attached file two days old
    const db = mongoose.connection.db!;
    const bucket = new mongoose.mongo.GridFSBucket(db, { bucketName: ATTACHMENTS_BUCKET });
    const ticketId = uniq('SR-HOUSEKEEPING');
    const store = async (name: string, uploadDate: Date) => {
      const up = bucket.openUploadStream(name, { metadata: { ticketId } });
      await new Promise<void>((resolve, reject) => up.on('finish', () => resolve()).on('error', reject).end(Buffer.from(`${name} bytes`)));
      await db.collection(`${ATTACHMENTS_BUCKET}.files`).updateOne({ _id: up.id }, { $set: { uploadDate } });
      return up.id;
    };
    const oldOrphan = await store('old-orphan.txt', ago(2));
    const newOrphan = await store('new-orphan.txt', ago(0, 1));
    const attached = await store('attached.txt', ago(2));
    await Attachment.create({
      _id: `${ticketId}:1`,
      ticketId,
      partnerId: app.partnerId,
      slot: 1,
      fileId: attached,
      name: 'attached.txt',
      downloadName: 'attached.txt',
      contentType: 'text/plain',
      declaredType: null,
      size: 14,
      sha256: 'x'.repeat(64),
      uploadedBy: { userId: user._id, name: user.name, role: 'sales-agent' },
      uploadedAt: ago(2),
      requestId: 'housekeeping-test',
    });
    // chunks whose file never got its record (an upload cut off before GridFS writes it, at the end): one begun two days ago, one an hour ago
    const begun = (at: Date) => mongoose.mongo.ObjectId.createFromTime(Math.floor(at.getTime() / 1000));
    const [cutOffOld, cutOffNew] = [begun(ago(2)), begun(ago(0, 1))];
    await db.collection(`${ATTACHMENTS_BUCKET}.chunks`).insertMany([
      { files_id: cutOffOld, n: 0, data: new mongoose.mongo.Binary(Buffer.from('partial')) },
      { files_id: cutOffOld, n: 1, data: new mongoose.mongo.Binary(Buffer.from('partial')) },
      { files_id: cutOffNew, n: 0, data: new mongoose.mongo.Binary(Buffer.from('in flight')) },
    ]);
    const files = async () => (await db.collection(`${ATTACHMENTS_BUCKET}.files`).find({ 'metadata.ticketId': ticketId }).toArray()).map((f) => String(f._id)).sort();
    const chunksOf = async (fileId: unknown) => db.collection(`${ATTACHMENTS_BUCKET}.chunks`).countDocuments({ files_id: fileId });
    expect(await chunksOf(oldOrphan)).to.equal(1);

    // ---- support actions' Idempotency-Keys: one 31 days old, one 29; a filing's key of 31 days stays (it names its ticket)
    const keyTicket = uniq('SR-KEYS');
    await SupportIdempotency.insertMany([
      { _id: `action:${keyTicket}:u:old`, requestHash: 'h', ticketId: keyTicket, createdAt: ago(31) },
      { _id: `action:${keyTicket}:u:new`, requestHash: 'h', ticketId: keyTicket, createdAt: ago(29) },
      { _id: `${app.partnerId}:filing-${keyTicket}`, requestHash: 'h', ticketId: keyTicket, createdAt: ago(31) },
    ]);
    const keys = async () => (await SupportIdempotency.find({ ticketId: keyTicket }).lean()).map((k) => k._id).sort();

    // ---- a download link's records: its Idempotency-Key, counted downloads and resumes, either side of 30 days past
    // its expiry (14 + 30 days after they were made, less or more an hour)
    const linkId = uniq('hk-link');
    const linkRequest = (what: string, createdAt: Date) => ({ _id: `${linkId}:${what}`, partnerId: app.partnerId, orderId: linkId, requestHash: 'h', linkId, sealedToken: 'x', createdAt });
    await DownloadLinkRequest.insertMany([linkRequest('old', ago(44, 1)), linkRequest('new', ago(43, 23))]);
    await DownloadClaim.insertMany([
      { _id: `${linkId}:1`, linkId, n: 1, at: ago(44, 1), client: null, entry: null },
      { _id: `${linkId}:2`, linkId, n: 2, at: ago(43, 23), client: null, entry: null },
    ]);
    await DownloadResume.insertMany([
      { _id: `${linkId}:1:r1`, linkId, claimId: `${linkId}:1`, k: 1, at: ago(44, 1) },
      { _id: `${linkId}:2:r1`, linkId, claimId: `${linkId}:2`, k: 1, at: ago(43, 23) },
    ]);
    const linkRecords = async () => ({
      requests: (await DownloadLinkRequest.find({ linkId }).lean()).map((d) => d._id),
      claims: (await DownloadClaim.find({ linkId }).lean()).map((d) => d._id),
      resumes: (await DownloadResume.find({ linkId }).lean()).map((d) => d._id),
    });

    // ---- download slots whose requests died before their log entries, of a link no one downloads again: one an
    // hour old (logged by the run), one three days old (before the run's two days) and one taken after the run
    // began (its request may still be on its way; ten minutes on, so that no run of this test reaches it): neither
    // of those two is logged
    const deadLink = uniq('hk-dead-link');
    await DownloadLink.create({
      _id: deadLink,
      orderId: uniq('hk-order'),
      partnerId: app.partnerId,
      customerId: 'hk-customer',
      productId: 'windows-server-standard-perpetual',
      option: { optionKey: 'o', fileName: 'ws.iso' },
      sha256: 'x'.repeat(64),
      createdBy: { userId: user._id, name: user.name, email: user.email, role: user.role },
      status: 'active',
      createdAt: ago(3, 1),
      expiresAt: new Date(ago(3, 1).getTime() + 14 * 86_400_000),
      maxDownloads: 50,
    });
    const slot = (n: number, at: Date) => ({ _id: `${deadLink}:${n}`, linkId: deadLink, n, at, client: 'c', entry: { detail: `download slot ${n} of 50 of ws.iso`, requestId: `req-${n}` } });
    await DownloadClaim.insertMany([slot(1, ago(3)), slot(2, ago(0, 1)), slot(3, new Date(now + 600_000))]);
    const deadLog = async () => (await ActivityEntry.find({ _id: { $regex: `^download:${deadLink}:` } }).lean()).map((e) => ({ id: e._id, status: e.operationStatus, reason: e.reason, at: e.operationDate.getTime(), requestId: e.requestId, ip: e.ipAddress, by: e.userPrincipalName, nightly: /by the nightly housekeeping/.test(e.detail) }));

    // ---- the Schedule, created once, run twice
    const scheduleId = uniq('housekeeping-test');
    await ensureHousekeepingSchedule(app.client, app.taskQueue, app.log, scheduleId);
    const handle = app.client.schedule.getHandle(scheduleId);
    const created = await handle.describe();
    expect(created.state.note).to.equal(`cron ${HOUSEKEEPING_CRON}`);
    expect(created.action).to.deep.include({ type: 'startWorkflow', workflowType: 'housekeepingWorkflow', workflowExecutionTimeout: 6 * 3_600_000 });
    // a worker that starts again finds it as it should be and leaves it alone
    await ensureHousekeepingSchedule(app.client, app.taskQueue, app.log, scheduleId);
    expect((await handle.describe()).info.lastUpdatedAt).to.equal(created.info.lastUpdatedAt);
    const runs: HousekeepingResult[] = [];
    const runOnce = async () => {
      await handle.trigger();
      await waitFor(async () => {
        const run = (await handle.describe()).info.recentActions[runs.length]?.action;
        if (!run) return false;
        runs.push(await app.client.workflow.getHandle(run.workflow.workflowId, run.workflow.firstExecutionRunId).result());
        return true;
      });
    };
    try {
      await runOnce();
      expect(await signIn()).to.deep.equal({
        links: [id('new-link')],
        claims: [id('new-link')],
        sends: [id('new-send')],
        sessions: [id('live'), id('new')],
        sessionEnds: [id('new')],
      });
      for (const k of ['links', 'claims', 'sends', 'sessions', 'sessionEnds'] as const) expect(runs[0].signIn[k], k).to.be.at.least(1);
      expect(await files()).to.deep.equal([String(newOrphan), String(attached)].sort());
      expect(await chunksOf(oldOrphan)).to.equal(0);
      expect(await chunksOf(attached)).to.equal(1);
      expect(await chunksOf(cutOffOld)).to.equal(0);
      expect(await chunksOf(cutOffNew)).to.equal(1);
      expect(runs[0].orphanAttachmentFiles).to.be.at.least(2);
      expect(await keys()).to.deep.equal([`${app.partnerId}:filing-${keyTicket}`, `action:${keyTicket}:u:new`].sort());
      expect(runs[0].supportActionKeys).to.be.at.least(1);
      expect(await linkRecords()).to.deep.equal({ requests: [`${linkId}:new`], claims: [`${linkId}:2`], resumes: [`${linkId}:2:r1`] });
      for (const k of ['linkRequests', 'claims', 'resumes'] as const) expect(runs[0].downloadRecords?.[k], k).to.be.at.least(1);
      expect(await deadLog()).to.deep.equal([{ id: `download:${deadLink}:2`, status: 'failed', reason: 'interrupted', at: ago(0, 1).getTime(), requestId: 'req-2', ip: null, by: user.email, nightly: true }]);
      expect(runs[0].interruptedDownloads).to.be.at.least(1);

      await runOnce();
      expect((await signIn()).sessions).to.deep.equal([id('live'), id('new')]);
      expect(await files()).to.deep.equal([String(newOrphan), String(attached)].sort());
      expect(await chunksOf(cutOffNew)).to.equal(1);
      expect(runs[1].signIn).to.deep.include({ links: 0, claims: 0, sends: 0, sessions: 0 });
      expect(runs[1].orphanAttachmentFiles).to.equal(0);
      expect(runs[1].supportActionKeys).to.equal(0);
      expect(runs[1].downloadRecords).to.deep.equal({ linkRequests: 0, claims: 0, resumes: 0 });
      expect(runs[1].interruptedDownloads).to.equal(0);
      expect((await deadLog()).map((e) => e.id)).to.deep.equal([`download:${deadLink}:2`]);
      expect((await linkRecords()).requests).to.deep.equal([`${linkId}:new`]);
    } finally {
      await handle.delete();
    }
  });

  it('when a run recorded before the download parts (three parts) is replayed by this code, then it replays as it ran', async () => {
    // recorded on the code before the patch housekeeping-download-parts (test/fixtures); without the patch this throws a
    // DeterminismViolationError (the code would schedule five activities where the history has three)
    const json = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'test', 'fixtures', 'housekeeping-history-before-download-parts.json'), 'utf8'));
    const history = temporal.api.history.v1.History.fromObject(json);
    const scheduled = history.events.filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
    expect(scheduled.sort()).to.deep.equal(['pruneOrphanAttachmentFiles', 'pruneSignInRecords', 'pruneSupportActionKeys']);
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, 'housekeeping:replayed');
  });
});
