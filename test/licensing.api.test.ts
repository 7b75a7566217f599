/**
 * Keys, download links, downloads and the activity log, end to end against the real servers (Temporal dev
 * server, FerretDB, SMTP): the 50-download limit under 200 concurrent requests, resumed ranges, the two-week
 * expiry on a controlled clock, revocation on cancellation, role and tenant refusals, and the log (JSON and CSV).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { parse as parseCsv } from 'csv-parse/sync';
import { parse as parseDisposition } from 'content-disposition';
import { createApi, createAppServer } from '../composition/root';
import { ActivationKey, ActivityEntry, appendActivity, DownloadClaim, DownloadLink, DownloadLinkRequest, Order, User } from '../models';
import { createLicensingService, linkRequestRecord } from '../services/licensing';
import { createStandInFiles, type FileStore } from '../lib/files';
import { AppError } from '../lib/errors';
import { revokeOrderAccess } from '../activities/licensing';
import { LOST_LOG_AFTER_MS } from '../domain/licensing';
import { DAY_MS } from '../domain/time';
import { ensureUser, issueToken } from '../services/users';
import { CSV_COLUMNS, csvRow } from '../services/activity-log';
import { CURSOR_PATTERN } from '../api/schemas';
import { getTestApp, placeOrder, uniq, waitFor, type TestApp, TEST_SUPPORT_SETTINGS } from './support/app';

const PRODUCT = 'windows-server-standard-perpetual';
const CHOICE = { version: 'Windows Server 2019', language: 'en-us', fileType: 'ISO (64-bit)' };
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest();
const today = () => new Date().toISOString().slice(0, 10);

describe('licensing: keys, download links and the activity log (real servers)', function () {
  this.timeout(180_000);
  let app: TestApp;
  before(async () => {
    app = await getTestApp();
  });

  /** A fresh customer with one active order of `productId`. */
  async function activeOrder(productId = PRODUCT) {
    const customer = await app.newCustomer('US');
    const order = await placeOrder(app, customer.id, productId);
    // the key is made, then the order is active, right after the order is recorded
    await waitFor(async () => (await ActivationKey.exists({ orderId: order.id, status: 'active' })) !== null && (await Order.exists({ _id: order.id, status: 'active' })) !== null);
    return { customer, order };
  }

  const getLink = (orderId: string, body: unknown = CHOICE, token?: string) => app.api('POST', `/orders/${orderId}/downloads`, { body, token });
  const pathOf = (url: string) => new URL(url, 'http://x').pathname;
  async function download(url: string, headers: Record<string, string> = {}, base = app.baseUrl) {
    const res = await fetch(`${base}${pathOf(url)}`, { headers });
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, body };
  }

  describe('catalog and the software list', () => {
    it('when a product is read, then it shows its download options with Partner Center names; an unknown one is a 404', async () => {
      const res = await app.api('GET', `/products/${PRODUCT}`, { token: app.tokens['sales-agent'] });
      expect(res.status).to.equal(200);
      expect(res.body.downloads).to.have.length(20);
      expect(res.body.downloads[0]).to.have.all.keys('optionKey', 'optionTitle', 'languageCode', 'languageName', 'fileType', 'fileName', 'contentType', 'sizeBytes');
      expect((await app.api('GET', '/products/no-such-product')).status).to.equal(404);
    });

    it('when the software list is read, then an active item shows its key and download options', async () => {
      const { customer, order } = await activeOrder();
      const res = await app.api('GET', `/customers/${customer.id}/software`);
      const item = res.body.find((s: { orderId: string }) => s.orderId === order.id);
      expect(item.activationKey).to.match(/^[A-Z0-9]{5}(-[A-Z0-9]{5}){4}$/);
      expect(item.downloads.map((o: { optionKey: string }) => o.optionKey)).to.include('windows-server-2019.en-us.iso-x64');
      // a secret in the answer: never stored, no ETag (no 304 that stands for having seen it)
      expect(res.headers.get('cache-control')).to.equal('no-store');
      expect(res.headers.get('etag')).to.equal(null);
      const logged = () => ActivityEntry.countDocuments({ orderId: order.id, operationType: 'get_software_keys' });
      const before = await logged();
      // a HEAD sends no key: nothing logged
      const head = await fetch(`${app.baseUrl}/customers/${customer.id}/software`, { method: 'HEAD', headers: { authorization: `Bearer ${app.tokens['admin-agent']}` } });
      expect(head.status).to.equal(200);
      expect(await logged()).to.equal(before);
      await app.api('GET', `/customers/${customer.id}/software`);
      expect(await logged()).to.equal(before + 1);
    });
  });

  describe('getting keys and downloads', () => {
    it("when keys and a link are given, then their log entries carry the request's id (X-Request-Id, from the request context)", async () => {
      const { order } = await activeOrder();
      const requestId = uniq('req-licensing');
      const res = await app.api('POST', `/orders/${order.id}/downloads`, { body: CHOICE, headers: { 'x-request-id': requestId } });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      const entries = await ActivityEntry.find({ orderId: order.id, operationType: { $in: ['get_software_keys', 'create_software_download_link'] } }).lean();
      expect(entries).to.have.length(2);
      expect(entries.map((e) => e.requestId)).to.deep.equal([requestId, requestId]);
    });

    it('when an option is not offered, then 400 names the field and lists the allowed values, and nothing is written', async () => {
      const { order } = await activeOrder();
      const cases: [Record<string, string>, string, string][] = [
        [{ ...CHOICE, version: 'Windows Server 2022' }, 'body.version', 'Windows Server 2016'],
        [{ ...CHOICE, language: 'klingon' }, 'body.language', 'pt-br'],
        [{ ...CHOICE, fileType: 'CAB (64-bit)' }, 'body.fileType', 'VHD (64-bit)'],
      ];
      for (const [body, field, allowed] of cases) {
        const res = await getLink(order.id, body);
        expect(res.status, field).to.equal(400);
        expect(res.body.error.field).to.equal(field);
        expect(res.body.error.message).to.contain(allowed);
        expect(res.body.error.details.allowed).to.include(allowed);
      }
      expect((await getLink(order.id, { version: 'x', language: 'y' })).body.error.field).to.equal('body.fileType');
      expect(await DownloadLink.countDocuments({ orderId: order.id })).to.equal(0);
      expect(await ActivityEntry.countDocuments({ orderId: order.id, operationType: { $ne: 'create_order' } })).to.equal(0);
    });

    it('when another role asks, then 403; another partner asks, then 404; nothing is written', async () => {
      const { order } = await activeOrder();
      for (const role of ['sales-agent', 'global-admin', 'account-admin', 'support-agent'] as const) {
        expect((await getLink(order.id, CHOICE, app.tokens[role])).status, role).to.equal(403);
      }
      const other = await getLink(order.id, CHOICE, app.otherTokens['admin-agent']);
      expect(other.status).to.equal(404);
      expect(JSON.stringify(other.body)).to.not.contain(order.customer.name);
      expect(await DownloadLink.countDocuments({ orderId: order.id })).to.equal(0);
    });

    it('when an admin agent asks, then the answer has the key and a link for two weeks or 50 downloads, whose token is stored only as its hash; asking again gives a fresh link', async () => {
      const { order } = await activeOrder();
      const key = (await ActivationKey.findOne({ orderId: order.id }).lean())!;
      const a = await getLink(order.id);
      expect(a.status).to.equal(201);
      expect(a.body.activationKey.key).to.equal(key.key);
      const d = a.body.download;
      expect(d.token).to.match(/^dl_[A-Za-z0-9_-]{43}$/); // 256 random bits
      expect(Buffer.from(d.token.slice(3), 'base64url')).to.have.length(32);
      expect(new Date(d.expiresAt).getTime() - new Date(d.createdAt).getTime()).to.equal(14 * DAY_MS);
      expect(d.maxDownloads).to.equal(50);
      expect(d.option).to.include({ optionTitle: 'Windows Server 2019', languageCode: 'en-us', fileType: 'ISO (64-bit)' });
      const stored = (await DownloadLink.findById(crypto.createHash('sha256').update(d.token).digest('hex')).lean())!;
      expect(stored).to.not.equal(null);
      expect(JSON.stringify(stored)).to.not.contain(d.token);
      const b = await getLink(order.id, { ...CHOICE, language: 'Japanese' });
      expect(b.status).to.equal(201);
      expect(b.body.download.token).to.not.equal(d.token);
      expect(b.body.download.option.languageCode).to.equal('ja-jp');
      expect(await DownloadLink.countDocuments({ orderId: order.id })).to.equal(2);
    });

    it("when the same request comes again with its Idempotency-Key (a retry, at once or later, even racing), then it gives the same link and logs nothing new; the key with another option is a 422; another user's same key is their own request, logged as theirs; once the order is no longer active a replay is refused", async () => {
      const { order } = await activeOrder();
      const key = uniq('key-link');
      const entries = () => ActivityEntry.countDocuments({ orderId: order.id, operationStatus: 'succeeded' });
      const before = await entries();
      // five at once with the same key: one link, one pair of entries; every answer has its token
      const racing = await Promise.all(Array.from({ length: 5 }, () => app.api('POST', `/orders/${order.id}/downloads`, { body: CHOICE, headers: { 'idempotency-key': key } })));
      expect(racing.map((r) => r.status)).to.deep.equal([201, 201, 201, 201, 201]);
      const token = racing[0].body.download.token;
      expect(new Set(racing.map((r) => r.body.download.token))).to.deep.equal(new Set([token]));
      expect(racing.map((r) => r.headers.get('idempotent-replayed')).sort()).to.deep.equal(['false', 'true', 'true', 'true', 'true']);
      expect(await DownloadLink.countDocuments({ orderId: order.id })).to.equal(1);
      expect((await entries()) - before).to.equal(2); // the key revealed and the link made, once
      // later, the same again: the same link with the limits it had from the start
      const again = await app.api('POST', `/orders/${order.id}/downloads`, { body: CHOICE, headers: { 'idempotency-key': key } });
      expect([again.status, again.headers.get('idempotent-replayed'), again.body.download.token, again.body.download.expiresAt]).to.deep.equal([201, 'true', token, racing[0].body.download.expiresAt]);
      expect((await download(again.body.download.url)).status).to.equal(200);
      expect((await entries()) - before).to.equal(3); // the download, nothing for the replay
      // a replay after a download says how many the link has left
      expect([racing[0].body.download.downloadsLeft, again.body.download.downloadsLeft]).to.deep.equal([50, 50]);
      expect((await app.api('POST', `/orders/${order.id}/downloads`, { body: CHOICE, headers: { 'idempotency-key': key } })).body.download.downloadsLeft).to.equal(49);
      // counted against the limit the link was made with (a link made before the limit changed keeps its own)
      await DownloadLink.collection.updateOne({ _id: crypto.createHash('sha256').update(token).digest('hex') as never }, { $set: { maxDownloads: 10 } });
      expect((await app.api('POST', `/orders/${order.id}/downloads`, { body: CHOICE, headers: { 'idempotency-key': key } })).body.download).to.include({ maxDownloads: 10, downloadsLeft: 9 });
      // the record keeps neither the key nor the token in clear
      const record = (await DownloadLinkRequest.findOne({ orderId: order.id }).lean())!;
      expect(JSON.stringify(record)).to.not.contain(token).and.not.contain(key);
      // another option under the same key: refused, nothing made
      const other = await app.api('POST', `/orders/${order.id}/downloads`, { body: { ...CHOICE, language: 'Japanese' }, headers: { 'idempotency-key': key } });
      expect([other.status, other.body.error.code, other.body.error.field]).to.deep.equal([422, 'idempotency_key_reused', 'header.idempotency-key']);
      expect(await DownloadLink.countDocuments({ orderId: order.id })).to.equal(1);
      // another partner's user with the same key: this order is not theirs to see
      expect((await app.api('POST', `/orders/${order.id}/downloads`, { body: CHOICE, token: app.otherTokens['admin-agent'], headers: { 'idempotency-key': key } })).status).to.equal(404);
      // a colleague with the same key: a request of their own, a link of their own, logged under their name
      const colleague = await ensureUser({ name: 'Second admin agent', email: `admin-agent-2@${app.partnerId}.example`, role: 'admin-agent', partnerId: app.partnerId });
      const theirs = await app.api('POST', `/orders/${order.id}/downloads`, { body: CHOICE, token: await issueToken(colleague._id), headers: { 'idempotency-key': key } });
      expect([theirs.status, theirs.headers.get('idempotent-replayed')]).to.deep.equal([201, 'false']);
      expect(theirs.body.download.token).to.not.equal(token);
      const theirLink = `link:${crypto.createHash('sha256').update(theirs.body.download.token).digest('hex')}`;
      expect((await ActivityEntry.findById(theirLink).lean())!.actor.userId).to.equal(colleague._id);
      // "Get keys" with a key: shown again, logged once per user
      const shown = async (t?: string) => app.api('POST', `/orders/${order.id}/key`, { token: t, headers: { 'idempotency-key': key } });
      for (const r of [await shown(), await shown(), await shown(await issueToken(colleague._id))]) expect(r.status).to.equal(200);
      const reveals = await ActivityEntry.find({ orderId: order.id, detail: 'activation key shown (Get keys)' }).lean();
      expect(reveals.map((e) => e.actor.userId).sort()).to.have.length(2).and.include(colleague._id);
      // once the order is no longer active, a replay gives nothing, and the refusal is logged
      await Order.updateOne({ _id: order.id }, { $set: { status: 'expired' } });
      const late = await app.api('POST', `/orders/${order.id}/downloads`, { body: CHOICE, headers: { 'idempotency-key': key } });
      expect([late.status, late.body.error.code]).to.deep.equal([409, 'order_not_active']);
      expect(await ActivityEntry.countDocuments({ orderId: order.id, operationType: 'create_software_download_link', operationStatus: 'failed', reason: 'order_not_active' })).to.equal(1);
    });

    it('when the request that recorded an Idempotency-Key died before writing its link, then the replay writes the link (its two weeks from the first request) and its entries, once; past those two weeks the key is refused', async () => {
      const { order } = await activeOrder();
      const key = uniq('key-link');
      const user = await ensureUser({ name: 'Third admin agent', email: `admin-agent-3@${app.partnerId}.example`, role: 'admin-agent', partnerId: app.partnerId });
      const userToken = await issueToken(user._id);
      // as if a request had stopped right after recording its key, a minute ago
      const token = `dl_${crypto.randomBytes(32).toString('base64url')}`;
      const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
      const option = ((await app.api('GET', `/products/${PRODUCT}`)).body.downloads as { optionKey: string; optionTitle: string; languageCode: string; fileType: string }[]).find(
        (o) => o.optionTitle === CHOICE.version && o.languageCode === CHOICE.language && o.fileType === CHOICE.fileType,
      )!;
      await DownloadLinkRequest.create(linkRequestRecord({ partnerId: app.partnerId, userId: user._id }, key, order.id, option.optionKey, token, at));
      const linkId = crypto.createHash('sha256').update(token).digest('hex');
      const sent = Date.now();
      const replay = await app.api('POST', `/orders/${order.id}/downloads`, { body: CHOICE, token: userToken, headers: { 'idempotency-key': key } });
      expect([replay.status, replay.headers.get('idempotent-replayed'), replay.body.download.token, replay.body.download.createdAt]).to.deep.equal([201, 'true', token, at.toISOString()]);
      const link = (await DownloadLink.findById(linkId).lean())!;
      expect([link.createdAt.toISOString(), link.expiresAt.getTime() - link.createdAt.getTime()]).to.deep.equal([at.toISOString(), 14 * DAY_MS]);
      // logged when written, not back in the first request's past
      expect((await ActivityEntry.findById(`link:${linkId}`).lean())!.operationDate.getTime()).to.be.at.least(sent - 1000);
      expect((await download(replay.body.download.url)).status).to.equal(200);
      expect(await ActivityEntry.countDocuments({ _id: { $in: [`key:${linkId}`, `link:${linkId}`] } })).to.equal(2);
      // a key whose first request was made 14 days ago and more: its link is over, and no replay gives it (nor writes it)
      const oldKey = uniq('key-link');
      const oldToken = `dl_${crypto.randomBytes(32).toString('base64url')}`;
      await DownloadLinkRequest.create(linkRequestRecord({ partnerId: app.partnerId, userId: user._id }, oldKey, order.id, option.optionKey, oldToken, new Date(Date.now() - 14 * DAY_MS - 1000)));
      const over = await app.api('POST', `/orders/${order.id}/downloads`, { body: CHOICE, token: userToken, headers: { 'idempotency-key': oldKey } });
      expect([over.status, over.body.error.code, over.body.error.field]).to.deep.equal([409, 'idempotency_key_expired', 'header.idempotency-key']);
      const oldLinkId = crypto.createHash('sha256').update(oldToken).digest('hex');
      expect(await ActivityEntry.countDocuments({ _id: { $in: [`key:${oldLinkId}`, `link:${oldLinkId}`] } })).to.equal(0);
      expect(await DownloadLink.exists({ _id: crypto.createHash('sha256').update(oldToken).digest('hex') })).to.equal(null);
    });
  });

  describe('downloading', () => {
    it('when a link is fetched, then the whole file streams with its length, digest and name; a resumed range is the same bytes and is not counted', async () => {
      const { order } = await activeOrder();
      const link = (await getLink(order.id)).body.download;
      const whole = await download(link.url);
      expect(whole.status).to.equal(200);
      expect(whole.body.length).to.equal(link.sizeBytes);
      expect(whole.headers.get('content-length')).to.equal(String(link.sizeBytes));
      const disposition = parseDisposition(whole.headers.get('content-disposition')!);
      expect([disposition.type, disposition.parameters.filename]).to.deep.equal(['attachment', link.option.fileName]);
      expect(whole.headers.get('accept-ranges')).to.equal('bytes');
      const digest = sha256(whole.body).toString('base64');
      expect(whole.headers.get('repr-digest')).to.equal(`sha-256=:${digest}:`);
      expect(sha256(whole.body).toString('hex')).to.equal(link.sha256);
      expect(whole.headers.get('x-download-number')).to.equal('1');

      // a broken download resumes from where it stopped, uncounted
      const from = 100_001;
      const rest = await download(link.url, { range: `bytes=${from}-`, 'if-range': whole.headers.get('etag')! });
      expect(rest.status).to.equal(206);
      expect(rest.headers.get('content-range')).to.equal(`bytes ${from}-${link.sizeBytes - 1}/${link.sizeBytes}`);
      expect(rest.body.equals(whole.body.subarray(from))).to.equal(true);
      expect(rest.headers.get('repr-digest')).to.equal(`sha-256=:${digest}:`);
      const mid = await download(link.url, { range: 'bytes=10-19' });
      expect(mid.body.equals(whole.body.subarray(10, 20))).to.equal(true);
      const linkId = crypto.createHash('sha256').update(link.token).digest('hex');
      expect(await DownloadClaim.countDocuments({ linkId })).to.equal(1);
      // a range from another client (another user agent here) continues nobody's download: it counts
      const elsewhere = await download(link.url, { range: `bytes=${from}-`, 'user-agent': 'another-client/1.0' });
      expect([elsewhere.status, elsewhere.headers.get('x-download-number')]).to.deep.equal([206, '2']);
      expect(await DownloadClaim.countDocuments({ linkId })).to.equal(2);
      // a range from byte 0 is a download
      const head = await download(link.url, { range: 'bytes=0-99' });
      expect([head.status, head.body.length, head.headers.get('x-download-number')]).to.deep.equal([206, 100, '3']);
      expect(await DownloadClaim.countDocuments({ linkId })).to.equal(3);
      // HEAD answers the headers and counts nothing
      const head0 = await fetch(`${app.baseUrl}${pathOf(link.url)}`, { method: 'HEAD' });
      expect([head0.status, head0.headers.get('content-length'), (await head0.arrayBuffer()).byteLength]).to.deep.equal([200, String(link.sizeBytes), 0]);
      expect(await DownloadClaim.countDocuments({ linkId })).to.equal(3);
      // a client holding the file (its ETag in If-None-Match) gets 304, no bytes, nothing counted or logged;
      // an ETag of another file gets the file
      const logged = () => ActivityEntry.countDocuments({ resourceId: linkId.slice(0, 16) });
      const entries = await logged();
      const held = await download(link.url, { 'if-none-match': `W/"x", ${whole.headers.get('etag')!}` });
      expect([held.status, held.body.length, held.headers.get('etag'), held.headers.get('x-download-number')]).to.deep.equal([304, 0, whole.headers.get('etag'), null]);
      expect(await DownloadClaim.countDocuments({ linkId })).to.equal(3);
      expect(await logged()).to.equal(entries);
      const other = await download(link.url, { 'if-none-match': '"sha256-0"', range: 'bytes=0-9' });
      expect([other.status, other.headers.get('x-download-number')]).to.deep.equal([206, '4']);
      expect(await DownloadClaim.countDocuments({ linkId })).to.equal(4);
      // a download may be resumed ten times without counting; the eleventh range counts as a download
      for (let i = 1; i <= 10; i++) {
        const again = await download(link.url, { range: 'bytes=1-' });
        expect([again.status, again.headers.get('x-download-number')], `resume ${i}`).to.deep.equal([206, null]);
      }
      const eleventh = await download(link.url, { range: 'bytes=1-' });
      expect([eleventh.status, eleventh.headers.get('x-download-number')]).to.deep.equal([206, '5']);
      expect(await DownloadClaim.countDocuments({ linkId })).to.equal(5);
      // the token is a secret: no log line carries it, however the path is written (routing ignores case)
      const upper = await fetch(`${app.baseUrl}${pathOf(link.url).replace('/downloads/', '/DOWNLOADS/')}`, { method: 'HEAD' });
      expect(upper.status).to.equal(200);
      expect((await fetch(`${app.baseUrl}${pathOf(link.url).replace('/downloads/', '/%64ownloads/')}/x`, { method: 'HEAD' })).status).to.equal(404);
      expect(JSON.stringify(app.logLines)).to.not.contain(link.token.slice(3));
      const beyond = await download(link.url, { range: `bytes=${link.sizeBytes}-` });
      expect(beyond.status).to.equal(416);
      expect(beyond.headers.get('content-range')).to.equal(`bytes */${link.sizeBytes}`);
      // a suffix longer than the file is the whole file (RFC 9110 §14.1.3), not a 416
      const suffix = await download(link.url, { range: `bytes=-${link.sizeBytes + 1000}` });
      expect([suffix.status, suffix.headers.get('content-range')]).to.deep.equal([206, `bytes 0-${link.sizeBytes - 1}/${link.sizeBytes}`]);
      expect(suffix.body.equals(whole.body)).to.equal(true);
    });

    it('when a download took its slot but its request failed before logging it, then the next download of the link writes that entry, late, failed (interrupted) and saying so, once', async () => {
      const { order } = await activeOrder();
      const link = (await getLink(order.id)).body.download;
      expect((await download(link.url)).headers.get('x-download-number')).to.equal('1');
      // a request that took slot 2 and died (the database gone, the process killed) before its log entry
      const linkId = crypto.createHash('sha256').update(link.token).digest('hex');
      const diedAt = new Date(Date.now() - LOST_LOG_AFTER_MS - 60_000);
      await DownloadClaim.create({ _id: `${linkId}:2`, linkId, n: 2, at: diedAt, client: 'a client', entry: { detail: `download slot 2 of 50 of ${link.option.fileName}`, requestId: 'req-that-died' } });
      // one taken a moment ago may still be on its way to its entry: left to its own request
      await DownloadClaim.create({ _id: `${linkId}:3`, linkId, n: 3, at: new Date(), client: 'another client', entry: { detail: `download slot 3 of 50 of ${link.option.fileName}`, requestId: 'req-on-its-way' } });
      const downloads = async () => (await ActivityEntry.find({ orderId: order.id, operationType: 'download_software' }).sort({ _id: 1 }).lean()).map((e) => ({ slot: e._id.split(':').pop(), at: e.operationDate.getTime(), ip: e.ipAddress, requestId: e.requestId, late: /logged late/.test(e.detail ?? ''), status: e.operationStatus, reason: e.reason }));
      expect((await downloads()).map((e) => e.slot)).to.deep.equal(['1']);
      expect((await download(link.url)).headers.get('x-download-number')).to.equal('4');
      const after = await downloads();
      expect(after.map((e) => [e.slot, e.late])).to.deep.equal([['1', false], ['2', true], ['4', false]]);
      // at the slot's own time and request, without an address it did not keep; a failed download (its request
      // answered nothing), though the slot counts, while the others succeeded
      expect(after[1]).to.deep.include({ at: diedAt.getTime(), ip: null, requestId: 'req-that-died', status: 'failed', reason: 'interrupted' });
      expect([after[0], after[2]].map((e) => [e.status, e.reason])).to.deep.equal([['succeeded', null], ['succeeded', null]]);
      // the partner's log shows it with the others (one entry per slot: the next download writes nothing again)
      expect((await download(link.url)).headers.get('x-download-number')).to.equal('5');
      expect((await downloads()).map((e) => e.slot)).to.deep.equal(['1', '2', '4', '5']);
    });

    it('when a download finds its slot logged as interrupted already (its request held up over a minute), then it serves nothing: 503, and the slot stays counted', async () => {
      const { order } = await activeOrder();
      const link = (await getLink(order.id)).body.download;
      expect((await download(link.url)).headers.get('x-download-number')).to.equal('1');
      // what a later download (or the nightly housekeeping) wrote of slot 2 while its request was held up
      const linkId = crypto.createHash('sha256').update(link.token).digest('hex');
      const first = (await ActivityEntry.findById(`download:${linkId}:1`).lean())!;
      await appendActivity({ ...first, _id: `download:${linkId}:2`, operationStatus: 'failed', reason: 'interrupted', detail: 'download slot 2 of 50; not served' });
      const held = await download(link.url);
      expect([held.status, JSON.parse(held.body.toString()).error.code]).to.deep.equal([503, 'database_unavailable']);
      expect(held.headers.get('retry-after')).to.not.equal(null);
      expect(await DownloadClaim.exists({ _id: `${linkId}:2` })).to.not.equal(null);
      // the log still says slot 2 served nothing; the next download takes slot 3
      expect((await ActivityEntry.findById(`download:${linkId}:2`).lean())?.operationStatus).to.equal('failed');
      expect((await download(link.url)).headers.get('x-download-number')).to.equal('3');
    });

    it('when a token is unknown, then 404 telling nothing', async () => {
      for (const t of [`dl_${crypto.randomBytes(32).toString('base64url')}`, 'nonsense']) {
        const res = await download(`/downloads/${t}`);
        expect(res.status).to.equal(404);
        expect(JSON.parse(res.body.toString()).error).to.include({ code: 'not_found', message: 'there is no download here' });
      }
    });

    it('when 200 requests hit a fresh link at once, then exactly 50 get the file and 150 get 410 exhausted; a resume still works', async () => {
      const { order } = await activeOrder();
      const link = (await getLink(order.id)).body.download;
      const CROWD = 'crowd/1.0';
      const agent = new http.Agent({ keepAlive: true, maxSockets: 200 });
      const one = () =>
        new Promise<{ status: number; bytes: number; code?: string }>((resolve, reject) => {
          const req = http.get(`${app.baseUrl}${pathOf(link.url)}`, { agent, headers: { 'user-agent': CROWD } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const body = Buffer.concat(chunks);
              resolve({ status: res.statusCode!, bytes: body.length, code: res.statusCode === 410 ? JSON.parse(body.toString()).error.code : undefined });
            });
            res.on('error', reject);
          });
          req.on('error', reject);
        });
      const results = await Promise.all(Array.from({ length: 200 }, one));
      agent.destroy();
      const ok = results.filter((r) => r.status === 200);
      const gone = results.filter((r) => r.status === 410);
      expect(ok).to.have.length(50);
      expect(ok.every((r) => r.bytes === link.sizeBytes)).to.equal(true);
      expect(gone).to.have.length(150);
      expect(new Set(gone.map((r) => r.code))).to.deep.equal(new Set(['link_exhausted']));
      const linkId = crypto.createHash('sha256').update(link.token).digest('hex');
      const claims = (await DownloadClaim.find({ linkId }).lean()).map((c) => c.n).sort((a, b) => a - b);
      expect(claims).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
      // the 51st from byte 0 is refused; a resume of one of the 50 (the same client) is served, and a range from
      // another client is a 51st download, refused: ranges do not go round the limit
      expect((await download(link.url, { 'user-agent': CROWD })).status).to.equal(410);
      expect((await download(link.url, { range: 'bytes=1000-', 'user-agent': CROWD })).status).to.equal(206);
      for (const range of ['bytes=1-', 'bytes=1000-']) {
        const other = await download(link.url, { range, 'user-agent': 'someone-else/2.0' });
        expect([other.status, JSON.parse(other.body.toString()).error.code], range).to.deep.equal([410, 'link_exhausted']);
      }
      // a HEAD is told what a GET would be (gone; a resume of one's own download served), and counts and logs nothing
      const head = (headers: Record<string, string>) => fetch(`${app.baseUrl}${pathOf(link.url)}`, { method: 'HEAD', headers }).then((r) => r.status);
      expect(await head({ 'user-agent': 'someone-else/2.0' })).to.equal(410);
      expect(await head({ 'user-agent': CROWD, range: 'bytes=1000-' })).to.equal(206);
      // the log has the 50 downloads, and the refusals once a day per link and reason (the link needs no sign-in:
      // whoever holds it, with any user agent, must not be able to fill the partner's log): the day's first of the 153
      expect(await ActivityEntry.countDocuments({ orderId: order.id, operationType: 'download_software', operationStatus: 'succeeded' })).to.equal(50);
      const refusedEntries = () => ActivityEntry.find({ orderId: order.id, operationType: 'download_software', operationStatus: 'failed' }).lean();
      const refused = await refusedEntries();
      expect(refused.length, 'one a day (the race may run over midnight UTC)').to.be.within(1, 2).and.equal(new Set(refused.map((e) => e.day)).size);
      expect(refused.every((e) => e.reason === 'exhausted')).to.equal(true);
      expect(refused[0].detail).to.match(/refused: this download link has been used for its 50 downloads \(the day's first refusal of this link\)$/);
      for (let i = 0; i < 5; i++) expect((await download(link.url, { 'user-agent': `someone-else/${i}.0` })).status).to.equal(410);
      expect((await refusedEntries()).length).to.equal(new Set((await refusedEntries()).map((e) => e.day)).size);
      // the customer's browser is told why and, once, what to do next
      const page = (await download(link.url, { accept: 'text/html', 'user-agent': 'someone-else/2.0' })).body.toString();
      expect(page).to.include('This download link has been used for its 50 downloads.');
      expect(page.match(/ask the partner/g)).to.have.length(1);
      expect(page).to.include('ask the partner who sent you the link for a new one');
      // once that download's resumes are used up, a resume is a 51st download, refused: to a HEAD as to a GET
      let resumes = 0;
      while ((await download(link.url, { range: 'bytes=1000-', 'user-agent': CROWD })).status === 206) expect(++resumes).to.be.below(11);
      expect(await head({ 'user-agent': CROWD, range: 'bytes=1000-' })).to.equal(410);
      // a fresh link has its own 50
      const fresh = (await getLink(order.id)).body.download;
      const served = await download(fresh.url);
      expect(served.status).to.equal(200);
      // the used-up link is refused before any answer that claims nothing: not a 304 for the file's ETag, not a 416
      const etag = served.headers.get('etag')!;
      expect((await download(fresh.url, { 'if-none-match': etag })).status).to.equal(304);
      for (const headers of [{ 'if-none-match': etag }, { range: `bytes=${link.sizeBytes + 10}-` }] as Record<string, string>[]) {
        const used = await download(link.url, { ...headers, 'user-agent': 'someone-else/2.0' });
        expect([used.status, JSON.parse(used.body.toString()).error.code], JSON.stringify(headers)).to.deep.equal([410, 'link_exhausted']);
      }
    });

    it('when a link is on day 14 it serves, and from day 15 it answers 410 expired (controlled clock); a fresh link serves again', async () => {
      let now = new Date();
      const api = createApi({ client: app.client, mailer: app.mailer, log: app.log, taskQueue: app.taskQueue, reminderDaysBeforeClose: 7, support: TEST_SUPPORT_SETTINGS, validateResponses: true, now: () => now });
      const server = createAppServer(api);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        const { order } = await activeOrder();
        const t0 = now;
        const res = await fetch(`${base}/orders/${order.id}/downloads`, { method: 'POST', headers: { authorization: `Bearer ${app.tokens['admin-agent']}`, 'content-type': 'application/json' }, body: JSON.stringify(CHOICE) });
        const link = ((await res.json()) as { download: { url: string } }).download;
        now = new Date(t0.getTime() + 13 * DAY_MS + 3_600_000); // day 14
        expect((await download(link.url, {}, base)).status).to.equal(200);
        now = new Date(t0.getTime() + 14 * DAY_MS - 1000); // the last second of day 14
        expect((await download(link.url, { range: 'bytes=5-' }, base)).status).to.equal(206);
        now = new Date(t0.getTime() + 14 * DAY_MS); // day 15
        const gone = await download(link.url, {}, base);
        expect(gone.status).to.equal(410);
        expect(JSON.parse(gone.body.toString()).error.code).to.equal('link_expired');
        expect((await download(link.url, { range: 'bytes=5-' }, base)).status).to.equal(410);
        // refused once a day per link and reason in the log: the two refusals of day 15 are one entry, day 16 adds one
        const refusedDays = async () => (await ActivityEntry.find({ orderId: order.id, operationType: 'download_software', operationStatus: 'failed', reason: 'expired' }).lean()).map((e) => e.operationDate.toISOString()).sort();
        expect(await refusedDays()).to.deep.equal([now.toISOString()]);
        const day15 = now;
        now = new Date(t0.getTime() + 15 * DAY_MS + 60_000); // day 16
        expect((await download(link.url, {}, base)).status).to.equal(410);
        expect(await refusedDays()).to.deep.equal([day15.toISOString(), now.toISOString()]);
        const again = await fetch(`${base}/orders/${order.id}/downloads`, { method: 'POST', headers: { authorization: `Bearer ${app.tokens['admin-agent']}`, 'content-type': 'application/json' }, body: JSON.stringify(CHOICE) });
        const fresh = ((await again.json()) as { download: { url: string } }).download;
        expect((await download(fresh.url, {}, base)).status).to.equal(200);
        // parameters a mail client or a tracker added to the link are ignored
        expect((await fetch(`${base}${pathOf(fresh.url)}?utm_source=newsletter&utm_source=again&x=%E2%80%AE`)).status).to.equal(200);
      } finally {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      }
    });
  });

  describe("a subscription's term end", () => {
    it("when a link is made in a subscription's last two weeks, then it says it serves until the term end, not two weeks on", async () => {
      // QA: a link made minutes before the term ended said "until" two weeks on, in its answer, its log entry and its page
      const { order } = await activeOrder('windows-server-standard-sub');
      const termEndsAt = new Date(Math.floor((Date.now() + 3 * DAY_MS) / 1000) * 1000);
      await Order.updateOne({ _id: order.id }, { $set: { termEndsAt } });
      const made = await getLink(order.id);
      expect(made.status, JSON.stringify(made.body)).to.equal(201);
      expect(made.body.download.expiresAt).to.equal(termEndsAt.toISOString());
      const entry = await ActivityEntry.findOne({ orderId: order.id, operationType: 'create_software_download_link' }).lean();
      expect(entry!.detail).to.include(`until ${termEndsAt.toISOString().slice(0, 19).replace('T', ' ')} UTC or 50 downloads`);
      expect((await download(made.body.download.url)).status).to.equal(200);
      // one made with more than two weeks of term left keeps its two weeks
      await Order.updateOne({ _id: order.id }, { $set: { termEndsAt: new Date(Date.now() + 30 * DAY_MS) } });
      const later = (await getLink(order.id)).body.download;
      expect(Date.parse(later.expiresAt) - Date.parse(later.createdAt)).to.equal(14 * DAY_MS);
    });

    it("when a subscription's term has ended and its workflow has not recorded it yet (a worker away or behind), then its links, key and software list serve nothing from the term's end, to the second", async () => {
      // QA: with the worker stopped across the term's end, the link still downloaded, a new link was made and the
      // key was shown; the order said active until the worker came back
      const { customer, order } = await activeOrder('windows-server-standard-sub');
      const link = (await getLink(order.id)).body.download;
      expect((await download(link.url)).status).to.equal(200);
      // the term's end as the order records it, a second ago; the order's own workflow has not reached it (its timer is
      // a year away), as a worker away would leave it
      await Order.updateOne({ _id: order.id }, { $set: { termEndsAt: new Date(Date.now() - 1000) } });
      expect((await Order.findById(order.id).lean())!.status).to.equal('active');
      const gone = await download(link.url);
      expect(gone.status).to.equal(410);
      expect(JSON.parse(gone.body.toString()).error.code).to.equal('link_revoked');
      const key = await app.api('POST', `/orders/${order.id}/key`, { headers: { 'idempotency-key': uniq('key-term') } });
      expect([key.status, key.body.error.code]).to.deep.equal([409, 'order_not_active']);
      expect(key.body.error.message).to.match(/is past its term, which ended \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC:/);
      expect((await getLink(order.id)).status).to.equal(409);
      const item = (await app.api('GET', `/customers/${customer.id}/software`)).body.find((s: { orderId: string }) => s.orderId === order.id);
      expect([item.activationKey, item.downloads]).to.deep.equal([null, null]);
    });
  });

  describe('revocation on cancellation', () => {
    it('when keys and links are asked for while a cancellation is under way (its keys revoked, the order not yet marked cancelled), then the answer is order_not_active, not "try again in a moment" (QA)', async () => {
      const { order } = await activeOrder();
      const doc = (await Order.findById(order.id).lean())!;
      // the cancellation's first step, as the order's workflow takes it (activities/orders.ts recordCancellation)
      await revokeOrderAccess(doc, new Date());
      expect((await Order.findById(order.id).lean())!.status).to.equal('active');
      for (const res of [await getLink(order.id), await app.api('POST', `/orders/${order.id}/key`)]) {
        expect(res.status).to.equal(409);
        expect(res.body.error.code).to.equal('order_not_active');
        expect(res.body.error.message).to.contain('is being cancelled or its term is ending');
      }
      const refusals = await ActivityEntry.find({ orderId: order.id, operationStatus: 'failed' }).lean();
      expect(refusals.map((e) => e.reason)).to.deep.equal(['order_not_active', 'order_not_active']);
    });

    it('when the order is cancelled (one order or several), then every key and link is revoked at once and the item stays listed without its key', async () => {
      let page410Headers: Headers | undefined;
      for (const path of ['single', 'bulk'] as const) {
        const { customer, order } = await activeOrder();
        const l1 = (await getLink(order.id)).body.download;
        const l2 = (await getLink(order.id, { ...CHOICE, fileType: 'VHD (64-bit)' })).body.download;
        expect((await download(l1.url)).status).to.equal(200);
        const res =
          path === 'single'
            ? await app.api('POST', `/orders/${order.id}/cancel`, { body: { customer: customer.name, productName: order.product.name, acknowledged: true } })
            : await app.api('POST', `/customers/${customer.id}/orders/cancel`, { body: { orderIds: [order.id], acknowledged: true } });
        expect(res.status, path).to.equal(200);
        // revoked before the cancellation answered
        for (const l of [l1, l2]) {
          const r = await download(l.url);
          expect(r.status, path).to.equal(410);
          expect(JSON.parse(r.body.toString()).error.code).to.equal('link_revoked');
          expect((await download(l.url, { range: 'bytes=10-' })).status).to.equal(410);
          // the customer's browser gets a page that says so and what to do next, not JSON
          const page = await download(l.url, { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' });
          expect(page.status, path).to.equal(410);
          expect(page.headers.get('content-type')).to.match(/^text\/html/);
          expect(page.headers.get('vary')).to.match(/Accept/i);
          page410Headers = page.headers;
          expect(page.body.toString()).to.include('This download link was revoked: the order was cancelled or its term ended.').and.include('No new link can be made for this order').and.not.include('for a new one');
          expect(JSON.parse((await download(l.url, { accept: 'application/json' })).body.toString()).error.code).to.equal('link_revoked');
          // a HEAD is refused alike, and logs nothing: the link needs no sign-in
          const logged = await ActivityEntry.countDocuments({ orderId: order.id, operationStatus: 'failed' });
          expect((await fetch(`${app.baseUrl}${pathOf(l.url)}`, { method: 'HEAD' })).status).to.equal(410);
          expect(await ActivityEntry.countDocuments({ orderId: order.id, operationStatus: 'failed' })).to.equal(logged);
        }
        const unknown = await download('/downloads/dl_no-such-link', { accept: 'text/html' });
        expect([unknown.status, unknown.headers.get('content-type')?.split(';')[0]]).to.deep.equal([404, 'text/html']);
        expect(unknown.body.toString()).to.include('There is nothing here');
        // a page on the pages' origin: framed by none, sniffed by none, no script, and no Referer (its address holds a token)
        for (const shown of [page410Headers!, unknown.headers]) {
          expect(shown.get('content-security-policy')).to.match(/default-src 'none'/).and.match(/frame-ancestors 'none'/);
          expect([shown.get('x-content-type-options'), shown.get('referrer-policy'), shown.get('cache-control')]).to.deep.equal(['nosniff', 'no-referrer', 'no-store']);
        }
        expect(await DownloadLink.countDocuments({ orderId: order.id, status: 'active' })).to.equal(0);
        expect(await ActivationKey.countDocuments({ orderId: order.id, status: 'active' })).to.equal(0);
        const list = await app.api('GET', `/customers/${customer.id}/software`);
        const item = list.body.find((s: { orderId: string }) => s.orderId === order.id);
        expect(item).to.include({ status: 'cancelled', activationKey: null, downloads: null });
        const again = await getLink(order.id);
        expect(again.status).to.equal(409);
        expect(again.body.error.code).to.equal('order_not_active');
      }
    });
  });

  it('when a link is revoked while a download is on its way from its check of the link to its place (a slot, or a resume of its own download), then it serves nothing: 410 revoked, and no download is logged as succeeded after the revocation (QA)', async () => {
    const origin = { ip: '203.0.113.44', userAgent: 'race-client' };
    // the file store the download reads between the two: the cancellation's revocation lands there
    const revokingOn = (orderId: string): FileStore => {
      const files = createStandInFiles();
      return {
        ...files,
        describe: async (o) => {
          await revokeOrderAccess((await Order.findById(orderId).lean())!, new Date());
          return files.describe(o);
        },
      };
    };
    const refusalOf = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as AppError);
    const entries = async (orderId: string) => (await ActivityEntry.find({ orderId, operationType: { $in: ['download_software', 'resume_software_download'] } }).sort({ _id: 1 }).lean()).map((e) => [e.operationType, e.operationStatus, e.reason]);

    // a new download: its slot is counted, its entry says it was refused
    const fresh = await activeOrder();
    const link = (await getLink(fresh.order.id)).body.download;
    const refused = await refusalOf(createLicensingService({ files: revokingOn(fresh.order.id) }).openDownload({ token: link.token, method: 'GET', origin }));
    expect([refused?.status, refused?.code]).to.deep.equal([410, 'link_revoked']);
    expect(await entries(fresh.order.id)).to.deep.equal([['download_software', 'failed', 'revoked']]);

    // a resume of this client's own download: refused as well
    const resumed = await activeOrder();
    const other = (await getLink(resumed.order.id)).body.download;
    await createLicensingService({ files: createStandInFiles() }).openDownload({ token: other.token, method: 'GET', origin });
    const again = await refusalOf(createLicensingService({ files: revokingOn(resumed.order.id) }).openDownload({ token: other.token, method: 'GET', range: 'bytes=10-', origin }));
    expect([again?.status, again?.code]).to.deep.equal([410, 'link_revoked']);
    expect(await entries(resumed.order.id)).to.have.deep.members([['download_software', 'succeeded', null], ['download_software', 'failed', 'revoked']]);
  });

  describe('the activity log', () => {
    const log = (query: string, token = app.tokens['global-admin'], headers: Record<string, string> = {}) => app.api('GET', `/activity-log?${query}`, { token, headers });

    it('when a role other than global, account, referral or marketing-content admin asks, then 403; those four may', async () => {
      for (const role of ['admin-agent', 'sales-agent', 'support-agent', 'support-lead'] as const) expect((await log('', app.tokens[role])).status, role).to.equal(403);
      for (const role of ['global-admin', 'account-admin', 'referral-admin', 'marketing-content-admin'] as const) expect((await log('', app.tokens[role])).status, role).to.equal(200);
    });

    it("when the days are asked for in a time zone, then an entry is on its day there (JSON and CSV), and a zone that is not one is a 400 naming it", async () => {
      const customer = await app.newCustomer('AU');
      // 20:00 UTC on 26 November 2026 is 07:00 on the 27th in Sydney
      const at = new Date('2026-11-26T20:00:00Z');
      const id = uniq('zone-entry');
      const entry = { _id: id, partnerId: app.partnerId, operationDate: at, operationType: 'get_software_keys' as const, resourceType: 'software_key' as const, operationStatus: 'succeeded' as const, userPrincipalName: 'someone@example.com', actor: { kind: 'user' as const, userId: 'u', name: 'Someone', role: 'admin-agent' }, customerId: customer.id, customerName: customer.name, orderId: 'o', productId: 'p', productName: 'P', resourceId: null, ipAddress: null, userAgent: null, detail: 'shown at 07:00 in Sydney', reason: null, requestId: null };
      await appendActivity(entry);
      const ids = async (q: string) => {
        const res = await log(`customer=${customer.id}&${q}`);
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        return { from: res.body.from, to: res.body.to, timeZone: res.body.timeZone, ids: (res.body.items as { id: string }[]).map((e) => e.id) };
      };
      expect(await ids('from=2026-11-26&to=2026-11-26')).to.deep.equal({ from: '2026-11-26', to: '2026-11-26', timeZone: 'UTC', ids: [id] });
      // the range's end cut in Sydney (UTC+11): the entry is on the 27th there
      expect((await ids('from=2026-11-26&to=2026-11-26&timeZone=Australia/Sydney')).ids).to.deep.equal([]);
      expect(await ids('from=2026-11-27&to=2026-11-27&timeZone=australia/sydney')).to.deep.equal({ from: '2026-11-27', to: '2026-11-27', timeZone: 'Australia/Sydney', ids: [id] });
      expect((await ids('from=2026-11-27&to=2026-11-27')).ids).to.deep.equal([]);
      // the range's start cut in New York (UTC-5): 03:00 UTC on the 26th is still the 25th there
      const early = uniq('zone-entry');
      await appendActivity({ ...entry, _id: early, operationDate: new Date('2026-11-26T03:00:00Z'), detail: 'shown at 22:00 in New York' });
      expect((await ids('from=2026-11-26&to=2026-11-27&timeZone=America/New_York')).ids).to.deep.equal([id]);
      expect((await ids('from=2026-11-25&to=2026-11-25&timeZone=America/New_York')).ids).to.deep.equal([early]);
      expect((await ids('from=2026-11-26&to=2026-11-26')).ids).to.deep.equal([id, early]);
      const csv = await log(`customer=${customer.id}&from=2026-11-27&to=2026-11-27&timeZone=Australia/Sydney`, app.tokens['global-admin'], { accept: 'text/csv' });
      expect(csv.headers.get('content-disposition')).to.include('activity-log_2026-11-27_2026-11-27_Australia-Sydney.csv');
      expect(String(csv.body)).to.include('shown at 07:00 in Sydney').and.not.include('shown at 22:00 in New York');
      // the current IANA name of a zone this ICU lists under an older one
      expect((await ids('from=2026-11-27&to=2026-11-27&timeZone=Asia/Kolkata')).timeZone).to.equal('Asia/Calcutta');
      const bad = await log('timeZone=Mars/Olympus');
      expect([bad.status, bad.body.error.field]).to.deep.equal([400, 'query.timeZone']);
      expect(bad.body.error.message).to.include('is not a time zone');
    });

    it('when an order bought months ago is imported today, then the log shows the import today, naming its purchase date', async () => {
      const customer = await app.newCustomer('US');
      const originalId = uniq('imported-log');
      const purchasedAt = new Date(Date.now() - 120 * 86_400_000);
      const imp = await app.api('POST', `/customers/${customer.id}/orders/import`, { token: app.tokens['global-admin'], body: { orders: [{ orderId: originalId, productId: 'windows-server-standard-perpetual', quantity: 1, purchasedAt: purchasedAt.toISOString() }] } });
      expect(imp.body.results?.[0]?.outcome, JSON.stringify(imp.body)).to.equal('imported');
      const orderId = imp.body.results[0].id as string;
      let entries: { operationType: string; orderId: string | null; detail: string }[] = [];
      await waitFor(async () => {
        entries = (await log(`customer=${customer.id}`)).body.items ?? [];
        return entries.some((e) => e.operationType === 'create_order');
      });
      const created = entries.find((e) => e.operationType === 'create_order')!;
      expect(created.orderId).to.equal(orderId);
      expect(created.detail).to.contain('imported').and.contain(`purchased ${purchasedAt.toISOString().slice(0, 10)} as order ${originalId}`);
    });

    it("when a subscription whose term ended before csp-desk is imported, then its term's revocation is logged at the import, not in a past day's log", async () => {
      // QA: dated at the term's end, the entry (and its day) appeared in a log of a year ago, for a revocation csp-desk
      // made only now
      const customer = await app.newCustomer('US');
      const imp = await app.api('POST', `/customers/${customer.id}/orders/import`, {
        token: app.tokens['global-admin'],
        body: { orders: [{ orderId: uniq('ended-sub'), productId: 'windows-server-standard-sub', quantity: 1, purchasedAt: new Date(Date.now() - 400 * DAY_MS).toISOString() }] },
      });
      expect(imp.body.results?.[0]?.outcome, JSON.stringify(imp.body)).to.equal('imported');
      const orderId = imp.body.results[0].id as string;
      let entries: { operationType: string; operationDate: string }[] = [];
      await waitFor(async () => {
        entries = (await log(`customer=${customer.id}`)).body.items ?? [];
        return entries.some((e) => e.operationType === 'revoke_software_keys_and_links');
      });
      const created = entries.find((e) => e.operationType === 'create_order')!;
      const revoked = entries.find((e) => e.operationType === 'revoke_software_keys_and_links')!;
      // not before the import's own entry (the same instant: the order's arrival)
      expect(Date.parse(revoked.operationDate)).to.equal(Date.parse(created.operationDate));
      expect(entries.map((e) => e.operationType).slice(0, 2), 'newest first').to.deep.equal(['revoke_software_keys_and_links', 'create_order']);
      const termEnded = (await Order.findById(orderId).lean())!.termEndsAt!.toISOString().slice(0, 10);
      const thatDay = await log(`customer=${customer.id}&from=${termEnded}&to=${termEnded}`);
      expect([thatDay.status, thatDay.body.items]).to.deep.equal([200, []]);
    });

    it('when the dates are malformed, reversed or more than 90 days apart, then 400 naming the field', async () => {
      const cases: [string, string][] = [
        ['from=2026-02-30&to=2026-03-01', 'query.from'],
        ['from=2026-03-01&to=2026-3-2', 'query.to'],
        ['from=2026-03-02&to=2026-03-01', 'query.from'],
        ['from=2026-01-01&to=2026-04-01', 'query.to'],
        // an end before 2000 with no start given: the end's fault (not the default start's, which the caller never sent)
        ['to=1999-12-31', 'query.to'],
        ['operation=delete_everything', 'query.operation'],
        ['cursor=bm9wZQ', 'query.cursor'],
      ];
      for (const [q, field] of cases) {
        const res = await log(q);
        expect(res.status, q).to.equal(400);
        expect(res.body.error.field, q).to.equal(field);
      }
      expect((await log('from=2026-01-01&to=2026-03-31')).status).to.equal(200);
    });

    it('when a customer\'s software is accessed, then the log shows exactly those accesses, newest first, page by page, and nothing of another partner', async () => {
      const { customer, order } = await activeOrder();
      await app.api('GET', `/customers/${customer.id}/software`);
      const link = (await getLink(order.id)).body.download;
      expect((await download(link.url, { 'user-agent': '=HYPERLINK("http://evil.example")' })).status).to.equal(200);
      expect((await download(link.url, { range: 'bytes=7-', 'user-agent': '=HYPERLINK("http://evil.example")' })).status).to.equal(206);
      expect((await app.api('POST', `/orders/${order.id}/cancel`, { body: { customer: customer.name, productName: order.product.name, acknowledged: true } })).status).to.equal(200);
      // a user agent in UTF-8 with a control character in it (QA: kept as Latin-1 mojibake, the C1 byte raw)
      expect((await download(link.url, { 'user-agent': Buffer.from('Fünf-Browser/1.0 (Ω)\u0085', 'utf8').toString('latin1') })).status).to.equal(410);

      const res = await log(`customer=${customer.id}&from=${today()}&to=${today()}`);
      expect(res.status).to.equal(200);
      const items = res.body.items as { operationType: string; operationStatus: string; operationDate: string; id: string; userPrincipalName: string | null; ipAddress: string | null; userAgent: string | null; actor: { kind: string; name: string }; customerName: string; orderId: string }[];
      const seen = items.map((e) => `${e.operationType}:${e.operationStatus}`).sort();
      expect(seen).to.deep.equal(
        [
          'create_order:succeeded',
          'get_software_keys:succeeded', // the software list
          'get_software_keys:succeeded', // with the link
          'create_software_download_link:succeeded',
          'download_software:succeeded',
          'resume_software_download:succeeded',
          'revoke_software_keys_and_links:succeeded',
          'cancel_order:succeeded',
          'download_software:failed',
        ].sort(),
      );
      // the credit as the pages show money, not in minor units
      expect((res.body.items as { operationType: string; detail: string }[]).find((e) => e.operationType === 'cancel_order')?.detail).to.match(/; credit \$[0-9,]+\.[0-9]{2}$/);
      for (const e of items) {
        expect(e.customerName).to.equal(customer.name);
        expect(e.orderId).to.equal(order.id);
      }
      const byUser = items.filter((e) => e.actor.kind === 'user');
      expect(byUser.every((e) => e.userPrincipalName === `admin-agent@${app.partnerId}.example`)).to.equal(true);
      const holder = items.filter((e) => e.actor.kind === 'link-holder');
      expect(holder).to.have.length(3);
      // a download names the user whose link it went through, the actor being whoever holds it
      expect(holder.every((e) => e.userPrincipalName === `admin-agent@${app.partnerId}.example` && e.ipAddress !== null)).to.equal(true);
      expect(holder.map((e) => e.actor.name)).to.include(`holder of ${(await User.findOne({ email: `admin-agent@${app.partnerId}.example` }).lean())!.name}'s download link`);
      expect(holder.map((e) => e.userAgent)).to.include('=HYPERLINK("http://evil.example")').and.include('Fünf-Browser/1.0 (Ω)\ufffd');
      const keyOf = (e: { operationDate: string; id: string }) => `${e.operationDate}|${e.id}`;
      expect(items.map(keyOf)).to.deep.equal([...items.map(keyOf)].sort().reverse());
      // a link's id (the hash of its token) shows only as its reference, in the ids as in resourceId
      const ref = link.linkId.slice(0, 16);
      expect(items.filter((e) => /[0-9a-f]{64}/.test(e.id)).map((e) => e.id)).to.deep.equal([]);
      expect(items.map((e) => e.id)).to.include.members([`link:${ref}`, `key:${ref}`, `download:${ref}:1`]);

      // page by page: the same entries in the same order
      const paged: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof log>> = await log(`customer=${customer.id}&from=${today()}&to=${today()}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.body.items.length).to.be.at.most(2);
        paged.push(...page.body.items.map((e: { id: string }) => e.id));
        cursor = page.body.nextCursor;
        if (cursor) expect(cursor).to.match(new RegExp(CURSOR_PATTERN));
      } while (cursor);
      expect(paged).to.deep.equal(items.map((e) => e.id));
      // a cursor is its query's: sent with another filter or range, a 400 naming it, not a point in another list (review)
      const firstPage = await log(`customer=${customer.id}&from=${today()}&to=${today()}&limit=1`);
      for (const other of [`from=${today()}&to=${today()}`, `customer=${customer.id}&operation=download_software&from=${today()}&to=${today()}`, `customer=${customer.id}`]) {
        const res = await log(`${other}&limit=1&cursor=${firstPage.body.nextCursor}`);
        expect([res.status, res.body.error?.field], other).to.deep.equal([400, 'query.cursor']);
      }

      // filtered by operation
      const downloads = await log(`customer=${customer.id}&operation=download_software`);
      expect(downloads.body.items).to.have.length(2);

      // the other partner sees none of it, and cannot name the customer
      const other = await app.api('GET', `/activity-log?from=${today()}&to=${today()}&limit=500`, { token: app.otherTokens['global-admin'] });
      expect(other.status).to.equal(200);
      expect(other.body.items.filter((e: { orderId: string; customerId: string }) => e.orderId === order.id || e.customerId === customer.id)).to.have.length(0);
      expect((await app.api('GET', `/activity-log?customer=${customer.id}`, { token: app.otherTokens['global-admin'] })).status).to.equal(404);
    });

    it("when a cursor of another partner's log is sent with the same query, then 400 naming query.cursor, not a page of the caller's log (QA)", async () => {
      // two entries today in each partner's log, so that each has a next page at one entry a page
      const write = async (partnerId: string) => {
        for (const n of [1, 2])
          await appendActivity({ _id: uniq('partner-cursor'), partnerId, operationDate: new Date(Date.now() - n * 1000), operationType: 'get_software_keys', resourceType: 'software_key', operationStatus: 'succeeded', userPrincipalName: null, actor: { kind: 'system', userId: null, name: 'csp-desk', role: null }, customerId: uniq('c'), customerName: 'C', orderId: 'o', productId: 'p', productName: 'P', resourceId: null, ipAddress: null, userAgent: null, detail: `entry ${n}`, reason: null, requestId: null });
      };
      await write(app.partnerId);
      await write(app.otherPartnerId);
      const theirs = await log('limit=1', app.otherTokens['global-admin']);
      expect(theirs.body.nextCursor, JSON.stringify(theirs.body)).to.be.a('string');
      const res = await log(`limit=2&cursor=${theirs.body.nextCursor}`);
      expect([res.status, res.body.error?.field], JSON.stringify(res.body)).to.deep.equal([400, 'query.cursor']);
      // the caller's own cursor of the same query still pages
      const ours = await log('limit=1');
      expect((await log(`limit=2&cursor=${ours.body.nextCursor}`)).status).to.equal(200);
    });

    it('when the log is asked for as CSV, then it is RFC 4180 with a header, parsing back to the same rows, formulas neutralised', async () => {
      const { customer, order } = await activeOrder();
      const link = (await getLink(order.id)).body.download;
      await download(link.url, { 'user-agent': '@SUM(1+1), "quoted"' });
      await download(link.url, { 'user-agent': '-2+3' });
      const q = `customer=${customer.id}&from=${today()}&to=${today()}`;
      const json = await log(q);
      const res = await fetch(`${app.baseUrl}/activity-log?${q}`, { headers: { authorization: `Bearer ${app.tokens['account-admin']}`, accept: 'text/csv' } });
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/csv/);
      // the type follows Accept, and says so to caches; a parameter sent twice is said so
      expect([res.headers.get('vary'), json.headers.get('vary')]).to.deep.equal(['Accept', 'Accept']);
      const twice = await log(`${q}&limit=1&limit=2`);
      expect([twice.status, twice.body.error.field, twice.body.error.message]).to.deep.equal([400, 'query.limit', 'query.limit is given more than once; give it once']);
      const text = await res.text();
      expect(text.endsWith('\r\n')).to.equal(true);
      const rows = parseCsv(text, { relax_column_count: false }) as string[][];
      expect(rows[0]).to.deep.equal([...CSV_COLUMNS]);
      expect(rows.slice(1)).to.deep.equal(json.body.items.map(csvRow));
      const agents = rows.slice(1).map((r) => r[CSV_COLUMNS.indexOf('userAgent')]);
      expect(agents).to.include(`'@SUM(1+1), "quoted"`);
      expect(agents).to.include("'-2+3");
      expect(rows.length - 1).to.equal(json.body.items.length);
      expect(json.body.items.length).to.be.greaterThan(3);
    });
  });

  it('when a product has a key but no downloads (Windows 7 ESU), then "Get keys" gives the key, logged, while it is active; a product without a key has neither', async () => {
    const customer = await app.newCustomer('US');
    const esu = await placeOrder(app, customer.id, 'windows-7-esu-2020');
    await waitFor(async () => (await ActivationKey.countDocuments({ orderId: esu.id, status: 'active' })) === 1);
    const links = await getLink(esu.id);
    expect([links.status, links.body.error.code]).to.deep.equal([422, 'no_downloads']);
    expect(links.body.error.message).to.include(`POST /orders/${esu.id}/key`);
    const key = await app.api('POST', `/orders/${esu.id}/key`);
    expect(key.status, JSON.stringify(key.body)).to.equal(200);
    expect(key.body.activationKey.key).to.equal((await ActivationKey.findOne({ orderId: esu.id }).lean())!.key);
    expect(key.headers.get('cache-control')).to.equal('no-store');
    expect(await ActivityEntry.countDocuments({ orderId: esu.id, operationType: 'get_software_keys', operationStatus: 'succeeded', detail: 'activation key shown (Get keys)' })).to.equal(1);
    // roles and partners as for keys and downloads
    expect((await app.api('POST', `/orders/${esu.id}/key`, { token: app.tokens['sales-agent'] })).status).to.equal(403);
    expect((await app.api('POST', `/orders/${esu.id}/key`, { token: app.otherTokens['admin-agent'] })).status).to.equal(404);
    // an Azure reservation has no key
    const ri = await placeOrder(app, customer.id, 'azure-ri-vm-1y');
    for (const res of [await getLink(ri.id), await app.api('POST', `/orders/${ri.id}/key`)]) expect([res.status, res.body.error.code]).to.deep.equal([422, 'no_key']);
    // once the order is no longer active (as its workflow records it at the end of its term): refused, and the refusal logged
    await Order.updateOne({ _id: esu.id }, { $set: { status: 'expired' } });
    const gone = await app.api('POST', `/orders/${esu.id}/key`);
    expect([gone.status, gone.body.error.code]).to.deep.equal([409, 'order_not_active']);
    expect(await ActivityEntry.countDocuments({ orderId: esu.id, operationType: 'get_software_keys', operationStatus: 'failed', reason: 'order_not_active' })).to.equal(1);
  });
});
