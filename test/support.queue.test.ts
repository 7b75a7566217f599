/**
 * The support queue's banded reader (services/support-queue.ts) on the real database: every page, for every
 * filter, is exactly the slice of the whole queue sorted by due (the naive read), whatever bands it crosses:
 * overdue tickets, a day too full for one query (read hour by hour), sparse days, tickets waiting on the
 * partner, decided and closed tickets in the tail, and a ticket whose breach its workflow has not written yet.
 * Pure band rules are tested beside it.
 */
import { expect } from 'chai';
import { backfillQueueEntries, insertQueueEntries, syncQueueEntry } from '../activities/support';
import { ACTIVE_STATUSES, type TicketStatus } from '../domain/support';
import { DONE_BAND, NO_DUE_BAND, OVERDUE_BAND, QUEUE_GRACE_SECONDS, dueOfKey, hourBand, hourBandsOf, queueBandOf, queueKeyOf, walkStart } from '../domain/support-queue';
import { SupportEvent, SupportQueueEntry, SupportTicket, type SupportTicketDoc } from '../models';
import { DAY_PROBE, readQueuePage, type QueueFilter, type QueueRow } from '../services/support-queue';
import { getTestApp, uniq } from './support/app';
import { buildActivities } from '../composition/root';
import type { SupportTicketSnapshot } from '../contracts/support';
import { storedTicket } from './support/tickets';

const HOUR = 3600_000;

describe('support queue bands (pure rules)', () => {
  const now = new Date('2026-11-25T10:20:00Z');
  it('when a ticket is placed, then decided ones are done, no due is "~", a passed due is overdue, else its UTC hour and day', () => {
    expect(queueBandOf(false, new Date('2026-11-26T08:00:00Z'), now)).to.deep.equal({ band: DONE_BAND, day: null });
    expect(queueBandOf(true, null, now)).to.deep.equal({ band: NO_DUE_BAND, day: null });
    expect(queueBandOf(true, now, now)).to.deep.equal({ band: OVERDUE_BAND, day: null });
    expect(queueBandOf(true, new Date('2026-11-25T23:59:59.999Z'), now)).to.deep.equal({ band: 'h:2026-11-25T23', day: '2026-11-25' });
    expect(hourBandsOf('2026-11-25', 22)).to.deep.equal(['h:2026-11-25T22', 'h:2026-11-25T23']);
  });
  it('when a walk starts, then it is the grace period before now, or the cursor when later; a tail cursor has no due', () => {
    expect(walkStart(now, null).toISOString()).to.equal(new Date(now.getTime() - QUEUE_GRACE_SECONDS * 1000).toISOString());
    expect(walkStart(now, queueKeyOf('2026-11-27T03:00:00.000Z', 'SR-261125-AAAAAA')).toISOString()).to.equal('2026-11-27T03:00:00.000Z');
    expect(walkStart(now, queueKeyOf('2026-11-01T03:00:00.000Z', 'SR-261125-AAAAAA')).getTime()).to.equal(now.getTime() - QUEUE_GRACE_SECONDS * 1000);
    expect(dueOfKey(queueKeyOf(null, 'SR-261125-AAAAAA'))).to.equal(null);
  });
});

describe('support queue: banded pages on the real database equal the naive sorted read', function () {
  this.timeout(300_000);
  const now = new Date();
  const partners = [uniq('queue-partner-a'), uniq('queue-partner-b')];
  const tickets: SupportTicketDoc[] = [];

  const ticket = (i: number, status: TicketStatus, nextDueAt: Date | null, updatedAt: Date, extra: Partial<SupportTicketDoc> = {}) =>
    storedTicket({ i, partnerId: partners[i % 2], status, nextDueAt, updatedAt, now, extra });

  before(async () => {
    await getTestApp();
    let i = 0;
    const working = (k: number): TicketStatus => (k % 2 ? 'open' : 'new');
    // overdue: dues up to three days ago, recorded as breached
    for (let k = 0; k < 12; k++, i++) {
      const due = new Date(now.getTime() - (k + 1) * 5 * HOUR);
      tickets.push(ticket(i, working(k), due, due, { breached: true }));
    }
    // due a few minutes ago, its breach not yet written (the grace period)
    for (let k = 0; k < 3; k++, i++) tickets.push(ticket(i, working(k), new Date(now.getTime() - (k + 1) * 60_000), new Date(now.getTime() - HOUR)));
    // due 3, 12 and 23 hours ago (on the UTC day before, unless the test runs late in the UTC day), their breach
    // not written: no worker ran since (they still belong in the due part, among the overdue by due)
    for (let k = 0; k < 3; k++, i++) tickets.push(ticket(i, working(k), new Date(now.getTime() - (3 + 10 * k) * HOUR + 60_000), new Date(now.getTime() - 23.5 * HOUR)));
    // a full day (more than DAY_PROBE entries) two days ahead, read hour by hour
    const fullDay = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 2));
    for (let k = 0; k < 2 * DAY_PROBE + 40; k++, i++) tickets.push(ticket(i, working(k), new Date(fullDay.getTime() + ((k * 7919) % (24 * 3600)) * 1000), now));
    // sparse days over the next three weeks, and some later today
    for (let k = 0; k < 40; k++, i++) tickets.push(ticket(i, working(k), new Date(now.getTime() + (k * 13 + 1) * HOUR + k * 1000), now));
    // waiting on the partner (no clock runs), decided, closed
    for (let k = 0; k < 25; k++, i++) tickets.push(ticket(i, 'pending', null, now));
    for (let k = 0; k < 15; k++, i++) tickets.push(ticket(i, (['approved', 'rejected', 'resolved'] as const)[k % 3], null, now));
    for (let k = 0; k < 15; k++, i++) tickets.push(ticket(i, 'closed', null, now));
    await SupportTicket.insertMany(tickets, { ordered: false });
    await insertQueueEntries(tickets);
    const entries = await SupportQueueEntry.find({ partnerId: { $in: partners } }).lean();
    expect(entries).to.have.length(tickets.length - 15);
    expect(entries.filter((e) => e.band === OVERDUE_BAND)).to.have.length(12);
    expect(entries.filter((e) => e.band === hourBand(new Date(now.getTime() - 60_000)) || e.band === hourBand(new Date(now.getTime() - 3 * 60_000)))).to.have.length.at.least(1);
  });

  function matches(t: SupportTicketDoc, f: QueueFilter): boolean {
    if (f.partnerId !== undefined && t.partnerId !== f.partnerId) return false;
    if (f.statuses && !f.statuses.includes(t.status)) return false;
    if (f.impact !== undefined && t.impact !== f.impact) return false;
    if (f.assigneeId !== undefined && t.assigneeId !== f.assigneeId) return false;
    if (f.escalated !== undefined && t.escalated !== f.escalated) return false;
    if (f.atRisk !== undefined && t.atRisk !== f.atRisk) return false;
    if (f.text && !f.text.toLowerCase().split(/\s+/).filter(Boolean).every((w) => t.searchText.includes(w))) return false;
    return true;
  }

  async function allPages(f: QueueFilter, limit: number): Promise<{ keys: string[]; pages: number }> {
    const keys: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const { rows, more }: { rows: QueueRow[]; more: boolean } = await readQueuePage(f, after, limit, now);
      pages += 1;
      expect(rows.length).to.be.at.most(limit);
      keys.push(...rows.map((r) => r.queueKey));
      if (!more) break;
      expect(rows).to.have.length(limit);
      after = rows[rows.length - 1].queueKey;
      if (pages > 500) throw new Error('the queue does not end');
    }
    return { keys, pages };
  }

  const cases: Array<[string, (p: string[]) => QueueFilter, number]> = [
    ['one partner, every status', (p) => ({ partnerId: p[0] }), 25],
    ['the other partner, small pages', (p) => ({ partnerId: p[1] }), 7],
    ['working states only (the agents\' default)', (p) => ({ partnerId: p[0], statuses: [...ACTIVE_STATUSES] }), 25],
    ['open only', (p) => ({ partnerId: p[1], statuses: ['open'] }), 10],
    ['two working states, one named twice', (p) => ({ partnerId: p[0], statuses: ['new', 'new', 'open'] }), 25],
    ['open and closed', (p) => ({ partnerId: p[0], statuses: ['open', 'closed'] }), 25],
    ['closed only (the tail alone)', (p) => ({ partnerId: p[1], statuses: ['closed'] }), 4],
    ['an impact', (p) => ({ partnerId: p[0], impact: 'critical' }), 5],
    ['unassigned', (p) => ({ partnerId: p[1], assigneeId: null }), 25],
    ['an assignee, escalated', (p) => ({ partnerId: p[0], assigneeId: 'agent-q', escalated: true }), 3],
    ['at risk', (p) => ({ partnerId: p[1], atRisk: true }), 25],
    ['text', (p) => ({ partnerId: p[0], text: 'NEEDLE' }), 2],
    // words anywhere, in any order: "needle ticket 17" matches "TICKET needle" and "needle 7" is the 7s among them
    ['text, two words out of order', (p) => ({ partnerId: p[0], text: 'TICKET  needle' }), 3],
    ['text, words apart', (p) => ({ partnerId: p[0], text: 'needle 7' }), 2],
  ];
  for (const [name, filterOf, limit] of cases) {
    it(`when the queue is paged (${name}, ${limit} a page), then the pages are the naive sorted read, in order, without gaps or repeats`, async () => {
      const f = filterOf(partners);
      const expected = tickets
        .filter((t) => matches(t, { ...f, text: f.text?.toLowerCase() }))
        .map((t) => t.queueKey)
        .sort();
      expect(expected.length, 'the case selects tickets').to.be.greaterThan(0);
      const { keys } = await allPages(f, limit);
      expect(keys).to.deep.equal(expected);
    });
  }

  it('when an entry lags its ticket (a late earlier write, a lost replacement, a close), then a sync brings it to the ticket\'s latest state or removes it', async () => {
    const [open, closing] = [ticket(900, 'open', new Date(now.getTime() + 30 * HOUR), now, { seq: 7 }), ticket(901, 'open', new Date(now.getTime() + 3 * HOUR), now, { seq: 4 })];
    await SupportTicket.insertMany([open, closing]);
    // the entries as an older state left them (seq 5; seq 3, and the ticket closed since at seq 4)
    await insertQueueEntries([{ ...open, seq: 5, status: 'pending', nextDueAt: null, queueKey: queueKeyOf(null, open._id) }, { ...closing, seq: 3 }]);
    await SupportTicket.updateOne({ _id: closing._id }, { $set: { status: 'closed', nextDueAt: null, queueKey: queueKeyOf(null, closing._id) } });
    await syncQueueEntry(open._id);
    await syncQueueEntry(closing._id);
    const entry = await SupportQueueEntry.findById(open._id).lean();
    expect(entry).to.deep.include({ seq: 7, status: 'open', band: hourBand(open.nextDueAt!), queueKey: open.queueKey });
    expect(await SupportQueueEntry.exists({ _id: closing._id })).to.equal(null);
  });

  it('when tickets have no entry (filed before the queue had entries), then the backfill places them once; an entry a closed ticket left behind goes', async () => {
    const [lost, closed] = [ticket(902, 'new', new Date(now.getTime() + 5 * HOUR), now), ticket(903, 'closed', null, now)];
    await SupportTicket.insertMany([lost, closed]);
    // an entry a closed ticket left behind (its last sync lost with its worker)
    await insertQueueEntries([{ ...closed, status: 'open', seq: 1 }]);
    expect(await backfillQueueEntries()).to.be.at.least(1);
    expect((await SupportQueueEntry.findById(lost._id).lean())?.band).to.equal(hourBand(lost.nextDueAt!));
    expect(await SupportQueueEntry.exists({ _id: closed._id })).to.equal(null);
    expect(await backfillQueueEntries()).to.equal(0);
    expect(await SupportQueueEntry.exists({ _id: lost._id })).to.not.equal(null);
  });

  it('when the first page is read, then the overdue tickets come first and the ones due within the grace period among them by due', async () => {
    const { rows } = await readQueuePage({ partnerId: partners[0], statuses: [...ACTIVE_STATUSES] }, null, 25, now);
    const firstDues = rows.map((r) => r.nextDueAt!.getTime());
    expect(firstDues.every((d, k) => k === 0 || d >= firstDues[k - 1])).to.equal(true);
    expect(rows[0].nextDueAt!.getTime()).to.be.lessThan(now.getTime() - 24 * HOUR);
  });
});

describe("support ticket document: two event writes at once (FerretDB's lost updates)", function () {
  this.timeout(300_000);

  it('when the writes of two events of one ticket land at the same moment, then the document ends at the later event every time, ten rounds (review)', async () => {
    const app = await getTestApp();
    const acts = buildActivities({ mailer: app.mailer, log: app.log, publicBaseUrl: 'http://csp-desk.test' });
    const now = new Date();
    const t = storedTicket({ i: 1, partnerId: uniq('race-partner'), status: 'new', nextDueAt: null, updatedAt: now, now, extra: { seq: 1 } });
    await SupportTicket.create(t);
    const actor = { kind: 'agent' as const, userId: 'agent-r', name: 'Rae Agent', email: 'rae@support.example', role: 'support-agent' };
    const snapshot = (seq: number): SupportTicketSnapshot => ({
      status: seq % 2 ? 'open' : 'pending',
      assignee: null,
      escalationLevel: 0,
      atRisk: false,
      breached: false,
      nextDueAt: null,
      clocks: [],
      approval: null,
      rejectionReason: null,
      withdrawn: false,
      seq,
      updatedAt: new Date(now.getTime() + seq * 1000).toISOString(),
      resolvedAt: null,
      closedAt: null,
    });
    const event = (seq: number) => ({ seq, type: 'note' as const, at: new Date(now.getTime() + seq * 1000).toISOString(), actor, public: false, body: `note ${seq}`, data: {} });
    for (let round = 1; round <= 10; round++) {
      const [a, b] = [2 * round, 2 * round + 1];
      await Promise.all([acts.recordSupportEvent(t._id, t.partnerId, event(a), snapshot(a)), acts.recordSupportEvent(t._id, t.partnerId, event(b), snapshot(b))]);
      const doc = (await SupportTicket.findById(t._id).lean())!;
      expect([round, doc.seq, doc.status], `round ${round}`).to.deep.equal([round, b, 'open']);
      expect((await SupportQueueEntry.findById(t._id).lean())?.seq, `round ${round}: its queue entry`).to.equal(b);
    }
    // a late attempt of event 21's write lands after event 22's has been read back (as FerretDB may let it, past the
    // seq guard): here landed by hand, then that attempt goes on to its check, which finds event 22 and writes its
    // state back; the document and its queue entry end at event 22 (review: they stayed at 21 for good)
    await acts.recordSupportEvent(t._id, t.partnerId, event(22), { ...snapshot(22), status: 'resolved' });
    const late = (await SupportEvent.findById(`${t._id}:21`).lean())!.state!;
    await SupportTicket.updateOne({ _id: t._id }, { $set: late });
    expect((await SupportTicket.findById(t._id).lean())!.seq).to.equal(21);
    await acts.recordSupportEvent(t._id, t.partnerId, event(21), snapshot(21));
    expect((await SupportTicket.findById(t._id).lean())!).to.include({ seq: 22, status: 'resolved' });
    expect((await SupportQueueEntry.findById(t._id).lean())?.seq).to.equal(22);
  });
});
