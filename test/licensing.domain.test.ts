/** Licensing rules, pure: options, link limits and validity, slots, the log's date range, CSV cells; the stand-in files. */
import crypto from 'node:crypto';
import { expect } from 'chai';
import { CATALOG, findCatalogProduct } from '../domain/catalog';
import { DAY_MS } from '../domain/time';
import { LINK_MAX_DOWNLOADS, LINK_RECORDS_KEPT_DAYS, RESUME_WINDOW_SECONDS, countsAsDownload, resumableClaim, linkExpiresAt, linkServesUntil, linkRecordsBefore, linkRefusal, servesSoftware, logRange, matchDownloadOption, parseDay, pickSlot, shownEntryId } from '../domain/licensing';
import { createStandInFiles } from '../lib/files';
import { neutraliseCell } from '../services/activity-log';

const T0 = new Date('2026-03-01T10:00:00.000Z');
const at = (days: number, seconds = 0) => new Date(T0.getTime() + days * DAY_MS + seconds * 1000);
const ws = findCatalogProduct('windows-server-standard-perpetual')!.downloads!;

async function bytesOf(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('licensing rules', () => {
  it('when a product sells activation keys, then it lists download options with Partner Center names, each a distinct option key', () => {
    for (const p of CATALOG) {
      if (p.deliverable !== 'activation-key' || p.kind === 'extended-security-update') continue;
      expect(p.downloads?.length ?? 0, p.id).to.be.greaterThan(0);
      const keys = p.downloads!.map((o) => o.optionKey);
      expect(new Set(keys).size).to.equal(keys.length);
      for (const o of p.downloads!) expect(o).to.have.all.keys('optionKey', 'optionTitle', 'languageCode', 'languageName', 'fileType', 'fileName', 'contentType', 'sizeBytes');
    }
    expect(findCatalogProduct('azure-ri-vm-1y')!.downloads).to.equal(null);
  });

  it('when a choice names an option, then it is matched by version, language code or name and file type, each in any case', () => {
    const m = matchDownloadOption(ws, { version: 'Windows Server 2016', language: 'DE-de', fileType: 'VHD (64-bit)' });
    expect('option' in m && m.option).to.include({ optionTitle: 'Windows Server 2016', languageCode: 'de-de', fileType: 'VHD (64-bit)' });
    const byName = matchDownloadOption(ws, { version: 'Windows Server 2016', language: 'german', fileType: 'VHD (64-bit)' });
    expect('option' in byName && byName.option.optionKey).to.equal('option' in m && m.option.optionKey);
    const lower = matchDownloadOption(ws, { version: 'windows server 2016', language: 'de-de', fileType: 'vhd (64-BIT)' });
    expect('option' in lower && lower.option.optionKey).to.equal('option' in m && m.option.optionKey);
  });

  it('when a choice is not offered, then the first field at fault is named with the allowed values', () => {
    expect(matchDownloadOption(ws, { version: 'Windows Server 2022', language: 'en-us', fileType: 'ISO (64-bit)' })).to.deep.include({ field: 'version', allowed: ['Windows Server 2019', 'Windows Server 2016'] });
    const lang = matchDownloadOption(ws, { version: 'Windows Server 2019', language: 'xx', fileType: 'ISO (64-bit)' });
    expect(lang).to.deep.include({ field: 'language', allowed: ['en-us', 'de-de', 'fr-fr', 'ja-jp', 'pt-br'] });
    expect((lang as { message: string }).message).to.contain('en-us (English)');
    expect(matchDownloadOption(ws, { version: 'Windows Server 2019', language: 'en-us', fileType: 'CAB (64-bit)' })).to.deep.include({ field: 'fileType', allowed: ['ISO (64-bit)', 'VHD (64-bit)'] });
  });

  it('when a link is on day 14, then it serves; from day 15 (14 x 24 hours after creation) it is expired', () => {
    const link = { expiresAt: linkExpiresAt(T0), revoked: false, orderStatus: 'active' as const };
    expect(linkRefusal(link, at(13, 1))).to.equal(null); // day 14 begins
    expect(linkRefusal(link, at(14, -1))).to.equal(null); // day 14's last second
    expect(linkRefusal(link, at(14))).to.equal('expired'); // day 15 begins
    expect(linkRefusal(link, at(15, 1))).to.equal('expired');
  });

  it("when a subscription's term ends, then its links and keys serve until that instant and not from it, whether or not its workflow has recorded it", () => {
    const termEndsAt = at(5);
    expect(servesSoftware({ status: 'active', termEndsAt }, at(5, -1))).to.equal(true);
    expect(servesSoftware({ status: 'active', termEndsAt }, at(5))).to.equal(false);
    expect(servesSoftware({ status: 'active', termEndsAt: null }, at(500))).to.equal(true);
    expect(servesSoftware({ status: 'cancelled', termEndsAt: null }, at(1))).to.equal(false);
    const link = { expiresAt: linkExpiresAt(T0), revoked: false, orderStatus: 'active' as const, orderTermEndsAt: termEndsAt };
    expect(linkRefusal(link, at(5, -1))).to.equal(null);
    expect(linkRefusal(link, at(5))).to.equal('revoked');
    // a link made then says it serves until the term end (not two weeks on); one made with more term left keeps its 14 days
    expect(linkServesUntil(T0, termEndsAt).toISOString()).to.equal(termEndsAt.toISOString());
    expect(linkServesUntil(T0, at(30)).toISOString()).to.equal(linkExpiresAt(T0).toISOString());
    expect(linkServesUntil(T0, null).toISOString()).to.equal(linkExpiresAt(T0).toISOString());
    expect(linkServesUntil(T0, at(14)).toISOString()).to.equal(linkExpiresAt(T0).toISOString());
  });

  it('when the housekeeping runs, then it keeps the records of a link until 30 days after it expired, to the second', () => {
    expect(LINK_RECORDS_KEPT_DAYS).to.equal(30);
    const now = at(44);
    // a link made at T0 expired at day 14; the run 30 days after that, to the second, may delete what was made at T0
    expect(linkRecordsBefore(now).getTime()).to.equal(T0.getTime());
    expect(linkExpiresAt(linkRecordsBefore(now)).getTime() + LINK_RECORDS_KEPT_DAYS * DAY_MS).to.equal(now.getTime());
    // a record made at T0 is deleted from the run after 44 days (`createdAt < cutoff`), not a second earlier
    expect(T0.getTime() < linkRecordsBefore(at(44, 1)).getTime()).to.equal(true);
    expect(T0.getTime() < linkRecordsBefore(at(44)).getTime()).to.equal(false);
  });

  it('when the link or its order is revoked, cancelled or expired, then it is revoked, before any expiry', () => {
    const base = { expiresAt: linkExpiresAt(T0), revoked: false, orderStatus: 'active' as const };
    expect(linkRefusal({ ...base, revoked: true }, at(1))).to.equal('revoked');
    for (const orderStatus of ['cancelled', 'expired', 'pending', null] as const) expect(linkRefusal({ ...base, orderStatus }, at(1)), String(orderStatus)).to.equal('revoked');
    expect(linkRefusal({ ...base, revoked: true }, at(20))).to.equal('revoked');
  });

  it('when a request starts at byte 0, then it counts as a download; further on it does not', () => {
    expect(countsAsDownload(0)).to.equal(true);
    expect(countsAsDownload(1)).to.equal(false);
  });

  it('when a range starts further on, then it continues the same client\'s latest counted download of the last day (to the second)', () => {
    const t0 = new Date('2026-11-26T10:00:00Z');
    const after = (s: number) => new Date(t0.getTime() + s * 1000);
    const first = { id: 1, client: 'a', at: t0 };
    const later = { id: 2, client: 'a', at: after(600) };
    const claims = [first, later, { id: 3, client: null, at: t0 }, { id: 4, client: 'b', at: after(700) }];
    expect(resumableClaim(1000, claims, 'a', after(900))?.id).to.equal(2);
    expect(resumableClaim(1000, [first], 'a', after(RESUME_WINDOW_SECONDS))?.id).to.equal(1);
    expect(resumableClaim(1000, [first], 'a', after(RESUME_WINDOW_SECONDS + 1))).to.equal(null);
    expect(resumableClaim(1000, claims, 'c', after(60)), 'another client').to.equal(null);
    expect(resumableClaim(0, claims, 'a', after(60)), 'from byte 0').to.equal(null);
    expect(resumableClaim(1000, [], 'a', after(60)), 'nothing counted yet').to.equal(null);
  });

  it('when slots are taken, then a free one is picked, and none once all 50 are', () => {
    const taken = Array.from({ length: 49 }, (_, i) => i + 1);
    expect(pickSlot(taken, () => 0.99)).to.equal(50);
    expect(pickSlot([...taken, 50], () => 0)).to.equal(null);
    expect(pickSlot([], () => 0)).to.equal(1);
    expect(pickSlot([], () => 0.999999)).to.equal(LINK_MAX_DOWNLOADS);
    const picks = new Set(Array.from({ length: 200 }, () => pickSlot([2, 4], Math.random)));
    expect(picks.has(2) || picks.has(4)).to.equal(false);
  });

  it('when a log range is malformed, reversed or longer than 90 days, then the field at fault is named', () => {
    const today = new Date('2026-11-25T12:00:00Z');
    expect(logRange(undefined, undefined, today)).to.deep.include({ days: 30 });
    expect(logRange('2026-01-01', '2026-03-31', today)).to.deep.include({ days: 90 });
    expect(logRange('2026-01-01', '2026-04-01', today)).to.deep.include({ field: 'to' });
    // `from` alone: the range's end is today's default, so the date the caller sent is the one named
    expect(logRange('2026-01-01', undefined, new Date('2026-04-01T12:00:00Z'))).to.deep.include({ field: 'from' });
    expect(logRange('2026-01-01', undefined, new Date('2026-03-31T12:00:00Z'))).to.deep.include({ days: 90 });
    expect(logRange('2026-02-30', '2026-03-01', today)).to.deep.include({ field: 'from' });
    expect(logRange('2026-03-01', '26-03-02', today)).to.deep.include({ field: 'to' });
    expect(logRange('2026-03-02', '2026-03-01', today)).to.deep.include({ field: 'from' });
    const r = logRange('2026-03-01', '2026-03-01', today) as { from: Date; until: Date };
    expect([r.from.toISOString(), r.until.toISOString()]).to.deep.equal(['2026-03-01T00:00:00.000Z', '2026-03-02T00:00:00.000Z']);
    expect(parseDay('2024-02-29')).to.not.equal(null);
    expect(parseDay('2025-02-29')).to.equal(null);
    // years 0 to 99 are those years, not 1900 to 1999
    expect(parseDay('0050-01-05')!.getUTCFullYear()).to.equal(50);
    // the log has nothing before 2000 (nor does Intl reckon years before 1 as the calendar does)
    expect(logRange('0000-01-01', '0000-01-01', today)).to.deep.include({ field: 'from' });
    expect(logRange('1999-12-31', '2000-01-01', today)).to.deep.include({ field: 'from' });
    // a default start near then starts with 2000
    expect(logRange(undefined, '2000-01-10', today)).to.deep.include({ fromDay: '2000-01-01', days: 10 });
    // a link's id shows as its reference in its entries' ids; other keys whole (an order id of 64 hex digits, say)
    const h = 'ab'.repeat(32);
    expect([`link:${h}`, `key:${h}`, `download:${h}:7`, `download-refused:${h}:2026-11-27:expired`, `order:${h}:placed`, `key-shown:${h}`].map(shownEntryId)).to.deep.equal([
      `link:${h.slice(0, 16)}`,
      `key:${h.slice(0, 16)}`,
      `download:${h.slice(0, 16)}:7`,
      `download-refused:${h.slice(0, 16)}:2026-11-27:expired`,
      `order:${h}:placed`,
      `key-shown:${h}`,
    ]);
    // an end before the first year is the end's fault, when no start was given (the default start is the first day)
    expect(logRange(undefined, '1999-12-31', today)).to.deep.include({ field: 'to', message: '1999-12-31 is before 2000, when the log has nothing' });
  });

  it("when a log range is asked for in a time zone, then its days are that zone's, from local midnight to local midnight, daylight-saving days included", () => {
    const iso = (r: ReturnType<typeof logRange>) => ('field' in r ? r : { from: r.from.toISOString(), until: r.until.toISOString(), days: r.days, fromDay: r.fromDay, toDay: r.toDay, timeZone: r.timeZone });
    // Sydney in summer is UTC+11: its 27 November starts at 13:00 UTC on the 26th
    expect(iso(logRange('2026-11-27', '2026-11-27', new Date('2026-11-27T00:00:00Z'), 'Australia/Sydney'))).to.deep.equal({
      from: '2026-11-26T13:00:00.000Z',
      until: '2026-11-27T13:00:00.000Z',
      days: 1,
      fromDay: '2026-11-27',
      toDay: '2026-11-27',
      timeZone: 'Australia/Sydney',
    });
    // the default end is today there: 20:00 UTC on the 26th is already the 27th in Sydney, still the 26th in New York
    const at = new Date('2026-11-26T20:00:00Z');
    expect(iso(logRange(undefined, undefined, at, 'Australia/Sydney'))).to.deep.include({ toDay: '2026-11-27', fromDay: '2026-10-29', days: 30 });
    expect(iso(logRange(undefined, undefined, at, 'America/New_York'))).to.deep.include({ toDay: '2026-11-26', until: '2026-11-27T05:00:00.000Z' });
    // Sydney's first day of daylight saving (4 October 2026) has 23 hours; Berlin's last (25 October 2026) has 25
    const sydney = logRange('2026-10-04', '2026-10-04', at, 'Australia/Sydney') as { from: Date; until: Date };
    expect([sydney.from.toISOString(), (sydney.until.getTime() - sydney.from.getTime()) / 3_600_000]).to.deep.equal(['2026-10-03T14:00:00.000Z', 23]);
    const berlin = logRange('2026-10-25', '2026-10-25', at, 'Europe/Berlin') as { from: Date; until: Date };
    expect([berlin.from.toISOString(), (berlin.until.getTime() - berlin.from.getTime()) / 3_600_000]).to.deep.equal(['2026-10-24T22:00:00.000Z', 25]);
    // any name Intl knows, in any case, by the name it goes by here; anything else names the field
    expect(logRange('2026-03-01', '2026-03-01', at, 'asia/kolkata')).to.deep.include({ timeZone: 'Asia/Calcutta' });
    expect(logRange('2026-03-01', '2026-03-01', at, 'Europe/Kyiv')).to.deep.include({ timeZone: 'Europe/Kiev' });
    expect(logRange('2026-03-01', '2026-03-01', at, 'australia/SYDNEY')).to.deep.include({ timeZone: 'Australia/Sydney' });
    expect(logRange('2026-03-01', '2026-03-01', at, 'Mars/Olympus')).to.deep.include({ field: 'timeZone' });
    // an offset is not a zone's name (Intl on Node 24 takes "+05:30"; "-00:00" would be a second name for UTC)
    for (const offset of ['+05:30', '-00:00', '+14', '-1200']) expect(logRange('2026-03-01', '2026-03-01', at, offset), offset).to.deep.include({ field: 'timeZone' });
  });

  it('when a CSV cell starts with =, +, - or @, then it gets a leading apostrophe; other cells stay as they are', () => {
    for (const v of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx', ' =1+1', '  @SUM(A1)', '\u00a0-2+3']) expect(neutraliseCell(v)).to.equal(`'${v}`);
    for (const v of ['a=1', '1-2', '', 'Mozilla/5.0', ' a=1']) expect(neutraliseCell(v)).to.equal(v);
  });
});

describe('stand-in files', () => {
  const files = createStandInFiles();
  const option = ws[3];

  it('when a file is generated twice, then the bytes, the size and the digest are the same', async () => {
    const a = await bytesOf(files.stream(option, 0, option.sizeBytes - 1));
    const b = await bytesOf(createStandInFiles().stream(option, 0, option.sizeBytes - 1));
    expect(a.length).to.equal(option.sizeBytes);
    expect(a.equals(b)).to.equal(true);
    expect(a.subarray(0, 23).toString()).to.equal('CSP-DESK STAND-IN IMAGE');
    const info = await files.describe(option);
    expect(info).to.deep.equal({ size: option.sizeBytes, sha256: crypto.createHash('sha256').update(a).digest('hex') });
    const other = await bytesOf(files.stream(ws[4], 0, 4095));
    expect(other.equals(a.subarray(0, 4096))).to.equal(false);
  });

  it('when any range is read, then it equals the same slice of the whole file', async () => {
    const whole = await bytesOf(files.stream(option, 0, option.sizeBytes - 1));
    const cuts: [number, number][] = [[0, 0], [5, 300], [150, 151], [199, 70_000], [65_537, 131_100], [option.sizeBytes - 17, option.sizeBytes - 1]];
    for (const [s, e] of cuts) {
      const part = await bytesOf(files.stream(option, s, e));
      expect(part.equals(whole.subarray(s, e + 1)), `${s}-${e}`).to.equal(true);
    }
  });

  it('when a bigger size is asked for, then the file has it', async () => {
    const big = createStandInFiles({ sizeOf: () => 3_000_001 });
    expect((await big.describe(option)).size).to.equal(3_000_001);
    expect((await bytesOf(big.stream(option, 2_999_990, 3_000_000))).length).to.equal(11);
  });
});
