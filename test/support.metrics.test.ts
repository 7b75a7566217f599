/**
 * Support metrics: the pure computation on hand-made event lists, then `GET /support-requests/metrics` on
 * the real stack (tickets filed and worked through the API, the figures read back).
 */
import { expect } from 'chai';
import { GENERAL_PROBLEM_TYPE } from '../domain/support';
import { ensureUser, issueToken } from '../services/users';
import { getTestApp, uniq, type TestApp } from './support/app';
import { checkPeriod, computeSupportMetrics, median, periodBounds, ticketOutcome, type MetricsEvent, type MetricsTicket } from '../domain/support-metrics';
import type { Impact } from '../domain/sla';

const partner = { kind: 'partner', userId: 'u-partner', name: 'Pat Partner' };
const ann = { kind: 'agent', userId: 'u-ann', name: 'Ann Agent' };
const bob = { kind: 'agent', userId: 'u-bob', name: 'Bob Agent' };
const lead = { kind: 'lead', userId: 'u-lea', name: 'Lea Lead' };
const system = { kind: 'system', userId: 'system', name: 'csp-desk' };

/** A ticket from events given as [minutes after filing, type, actor, public?, data?]. */
function ticket(id: string, impact: Impact, filedAt: string, steps: [number, string, MetricsEvent['actor'], boolean?, Record<string, unknown>?][]): MetricsTicket {
  const t0 = new Date(filedAt).getTime();
  const events: MetricsEvent[] = [{ seq: 1, type: 'filed', at: new Date(t0), actor: partner, public: true, data: {} }];
  steps.forEach(([min, type, actor, pub, data], i) => events.push({ seq: i + 2, type, at: new Date(t0 + min * 60_000), actor, public: pub ?? true, data: data ?? {} }));
  return { id, impact, events };
}
const assign = (who: typeof ann) => ({ assignee: { userId: who.userId, name: who.name } });

describe('support metrics: the computation', () => {
  it('when an agent replies publicly before any breach, then the first response is within target and timed from filing', () => {
    const o = ticketOutcome(ticket('T1', 'moderate', '2026-11-02T09:00:00Z', [[5, 'assigned', ann, false, assign(ann)], [30, 'replied', ann]]));
    expect(o.firstResponse).to.deep.equal({ outcome: 'met', seconds: 1800, by: 'u-ann' });
    expect(o.assignee).to.deep.equal({ userId: 'u-ann', name: 'Ann Agent' });
  });

  it('when an agent\'s reply took a new ticket nobody had (data.took), then it counts for them; a later assignment moves it; other replies take nothing', () => {
    const took = ticketOutcome(ticket('T1b', 'moderate', '2026-11-02T09:00:00Z', [[3, 'partner-replied', partner], [30, 'replied', bob, true, { took: true }]]));
    expect(took.assignee).to.deep.equal({ userId: 'u-bob', name: 'Bob Agent' });
    const moved = ticketOutcome(ticket('T1c', 'moderate', '2026-11-02T09:00:00Z', [[30, 'replied', bob, true, { took: true }], [40, 'assigned', lead, false, assign(ann)], [50, 'replied', lead]]));
    expect(moved.assignee).to.deep.equal({ userId: 'u-ann', name: 'Ann Agent' });
    // put back in the queue: nobody's, until someone takes it again
    const back = (events: Parameters<typeof ticket>[3]) => ticketOutcome(ticket('T1h', 'moderate', '2026-11-02T09:00:00Z', events)).assignee;
    expect(back([[5, 'assigned', ann, false, assign(ann)], [20, 'unassigned', ann, false]])).to.equal(null);
    expect(back([[5, 'assigned', ann, false, assign(ann)], [20, 'unassigned', lead, false], [30, 'assigned', bob, false, assign(bob)]])).to.deep.equal({ userId: 'u-bob', name: 'Bob Agent' });
    // a reply to a pending request nobody has takes nothing, as on the ticket
    expect(ticketOutcome(ticket('T1d', 'moderate', '2026-11-02T09:00:00Z', [[3, 'information-requested', bob], [9, 'replied', bob]])).assignee).to.equal(null);
    // asking for information, or deciding, on a request nobody had took it as well (their events say so)
    expect(ticketOutcome(ticket('T1e', 'moderate', '2026-11-02T09:00:00Z', [[3, 'information-requested', bob, true, { took: true }]])).assignee).to.deep.equal({ userId: 'u-bob', name: 'Bob Agent' });
    for (const decision of ['approved', 'rejected', 'resolved']) {
      expect(ticketOutcome(ticket(`T1f-${decision}`, 'moderate', '2026-11-02T09:00:00Z', [[3, decision, ann, true, { took: true }]])).assignee, decision).to.deep.equal({ userId: 'u-ann', name: 'Ann Agent' });
      expect(ticketOutcome(ticket(`T1g-${decision}`, 'moderate', '2026-11-02T09:00:00Z', [[3, decision, ann]])).assignee, decision).to.equal(null);
    }
  });

  it('when only an internal note comes before the breach, then the first response is missed, and the later reply is still timed', () => {
    const o = ticketOutcome(
      ticket('T2', 'critical', '2026-11-02T09:00:00Z', [
        [10, 'note', ann, false],
        [60, 'sla-breached', system, false, { clock: 'firstResponse', level: 1 }],
        [60, 'escalated', system, false, { level: 1 }],
        [90, 'replied', ann],
      ]),
    );
    expect(o.firstResponse).to.deep.equal({ outcome: 'missed', seconds: 5400, by: 'u-ann' });
    expect(o.escalations).to.equal(1);
  });

  it('when a partner reply or an agent note is the only message, then the first response is pending, not met', () => {
    const o = ticketOutcome(ticket('T3', 'minimal', '2026-11-02T09:00:00Z', [[1, 'partner-replied', partner], [2, 'note', ann, false]]));
    expect(o.firstResponse.outcome).to.equal('pending');
    expect(o.resolution.outcome).to.equal('pending');
  });

  it('when a request for information is the first public message, then it counts as the first response', () => {
    const o = ticketOutcome(ticket('T4', 'moderate', '2026-11-02T09:00:00Z', [[20, 'information-requested', bob]]));
    expect(o.firstResponse).to.deep.equal({ outcome: 'met', seconds: 1200, by: 'u-bob' });
  });

  it('when a decision the partner is told of comes first (approved, rejected, resolved), then it is the first response, as the ticket\'s clock counts it', () => {
    for (const type of ['approved', 'rejected', 'resolved']) {
      const o = ticketOutcome(ticket(`T4-${type}`, 'moderate', '2026-11-02T09:00:00Z', [[30, type, bob]]));
      expect(o.firstResponse, type).to.deep.equal({ outcome: 'met', seconds: 1800, by: 'u-bob' });
    }
  });

  it('when a next-response breach follows a timely first response, then only the next target is missed: first response and resolution stand', () => {
    const o = ticketOutcome(
      ticket('T5', 'moderate', '2026-11-02T09:00:00Z', [
        [10, 'replied', ann],
        [600, 'sla-breached', system, false, { clock: 'nextResponse' }],
        [700, 'resolved', ann],
      ]),
    );
    expect(o.firstResponse.outcome).to.equal('met');
    expect(o.resolution).to.deep.equal({ outcome: 'met', seconds: 42_000 });
  });

  it('when a resolved ticket is reopened and resolved again, then the resolution time runs to the last resolution', () => {
    const o = ticketOutcome(ticket('T6', 'moderate', '2026-11-02T09:00:00Z', [[10, 'replied', ann], [60, 'resolved', ann], [120, 'reopened', partner], [240, 'resolved', ann]]));
    expect(o.resolution).to.deep.equal({ outcome: 'met', seconds: 240 * 60 });
  });

  it('when a reopened ticket is still open, then its resolution is pending again', () => {
    const o = ticketOutcome(ticket('T7', 'moderate', '2026-11-02T09:00:00Z', [[10, 'replied', ann], [60, 'resolved', ann], [120, 'reopened', partner]]));
    expect(o.resolution).to.deep.equal({ outcome: 'pending', seconds: null });
  });

  it('when a resolution breach was recorded, then the resolution is missed even if resolved later; approvals and rejections resolve', () => {
    const missed = ticketOutcome(ticket('T8', 'critical', '2026-11-02T09:00:00Z', [[10, 'replied', ann], [1440, 'sla-breached', system, false, { clock: 'resolution' }], [1500, 'approved', lead]]));
    expect(missed.resolution).to.deep.equal({ outcome: 'missed', seconds: 90_000 });
    const rejected = ticketOutcome(ticket('T9', 'critical', '2026-11-02T09:00:00Z', [[10, 'replied', ann], [30, 'rejected', ann]]));
    expect(rejected.resolution).to.deep.equal({ outcome: 'met', seconds: 1800 });
  });

  it('when the partner withdraws, then the ticket is in no resolution share', () => {
    const o = ticketOutcome(ticket('T10', 'minimal', '2026-11-02T09:00:00Z', [[30, 'withdrawn', partner], [30, 'closed', partner]]));
    expect(o.resolution.outcome).to.equal('withdrawn');
  });

  it('when the partner withdraws before any answer, then the first response is withdrawn (in no share), unless its target had passed or it was answered', () => {
    const early = ticketOutcome(ticket('T12', 'minimal', '2026-11-02T09:00:00Z', [[30, 'withdrawn', partner], [30, 'closed', partner]]));
    expect(early.firstResponse).to.deep.equal({ outcome: 'withdrawn', seconds: null, by: null });
    const late = ticketOutcome(ticket('T13', 'critical', '2026-11-02T09:00:00Z', [[60, 'sla-breached', system, false, { clock: 'firstResponse' }], [90, 'withdrawn', partner]]));
    expect(late.firstResponse.outcome).to.equal('missed');
    const answered = ticketOutcome(ticket('T14', 'minimal', '2026-11-02T09:00:00Z', [[10, 'replied', ann], [30, 'withdrawn', partner]]));
    expect(answered.firstResponse.outcome).to.equal('met');
    const m = computeSupportMetrics([ticket('T12', 'minimal', '2026-11-02T09:00:00Z', [[30, 'withdrawn', partner]])], '2026-11-02', '2026-11-02');
    expect(m.total.firstResponse).to.deep.include({ met: 0, missed: 0, pending: 0, withdrawn: 1, withinTargetShare: null });
  });

  it('when events arrive out of order, then they are read in sequence order', () => {
    const t = ticket('T11', 'moderate', '2026-11-02T09:00:00Z', [[60, 'sla-breached', system, false, { clock: 'firstResponse' }], [90, 'replied', ann]]);
    t.events.reverse();
    expect(ticketOutcome(t).firstResponse.outcome).to.equal('missed');
  });

  it('when the median is taken, then an even count averages the two middle values', () => {
    expect(median([])).to.equal(null);
    expect(median([30, 10, 20])).to.equal(20);
    expect(median([40, 10, 20, 30])).to.equal(25);
  });

  it('when a period is reported, then tickets filed in it are grouped per impact and per final assignee, with shares and medians', () => {
    const tickets = [
      ticket('A', 'critical', '2026-11-02T09:00:00Z', [[1, 'assigned', ann, false, assign(ann)], [10, 'replied', ann], [100, 'resolved', ann]]),
      ticket('B', 'critical', '2026-11-03T09:00:00Z', [
        [1, 'assigned', ann, false, assign(ann)],
        [60, 'sla-breached', system, false, { clock: 'firstResponse' }],
        [60, 'escalated', system, false, { level: 1 }],
        [90, 'escalated', system, false, { level: 2 }],
        [120, 'replied', ann],
        [130, 'assigned', lead, false, assign(bob)],
      ]),
      ticket('C', 'moderate', '2026-11-04T23:59:59Z', [[30, 'replied', ann, true, { took: true }], [40, 'resolved', ann]]), // Ann's reply took it
      ticket('F', 'moderate', '2026-11-04T10:00:00Z', [[30, 'note', ann, false]]), // a note takes nothing: nobody's
      ticket('D', 'minimal', '2026-11-05T00:00:00Z', [[5, 'replied', ann]]), // after the period
      ticket('E', 'minimal', '2026-11-01T23:59:59Z', [[5, 'replied', ann]]), // before it
    ];
    const m = computeSupportMetrics(tickets, '2026-11-02', '2026-11-04');
    expect(m.total.tickets).to.equal(4);
    expect(m.byImpact.critical).to.deep.equal({
      tickets: 2,
      firstResponse: { met: 1, missed: 1, pending: 0, withinTargetShare: 0.5, medianSeconds: Math.round((600 + 7200) / 2), withdrawn: 0 },
      resolution: { met: 1, missed: 0, pending: 1, withinTargetShare: 1, medianSeconds: 6000, withdrawn: 0 },
      escalations: 2,
      escalatedTickets: 1,
    });
    expect(m.byImpact.moderate.tickets).to.equal(2);
    expect(m.byImpact.minimal).to.deep.include({ tickets: 0, escalations: 0 });
    expect(m.byImpact.minimal.firstResponse).to.deep.equal({ met: 0, missed: 0, pending: 0, withinTargetShare: null, medianSeconds: null, withdrawn: 0 });
    // A stays Ann's, B went to Bob (reassigned by the lead), C became Ann's by her reply, F is nobody's
    expect(m.byAgent.map((a) => [a.agent?.name ?? null, a.tickets])).to.deep.equal([
      ['Ann Agent', 2],
      ['Bob Agent', 1],
      [null, 1],
    ]);
    expect(m.byAgent[1].escalations).to.equal(2);
  });

  it('when a period is malformed, reversed or too long, then it is refused naming the field', () => {
    expect(checkPeriod('2026-11-01', '2026-11-30')).to.equal(null);
    expect(checkPeriod('2026-02-30', '2026-03-01')?.field).to.equal('query.from');
    expect(checkPeriod('2026-11-02', '2026-11-01')?.field).to.equal('query.to');
    expect(checkPeriod('2025-01-01', '2026-11-01')?.message).to.match(/at most 366 days/);
    expect(checkPeriod('2026-11-01', '2026-11-01')).to.equal(null);
    expect(checkPeriod('2026-11-01', '2026-11-30', 'Mars/Olympus_Mons')).to.deep.include({ field: 'query.timeZone' });
    expect(checkPeriod('0000-01-01', '0000-01-02')).to.deep.include({ field: 'query.from', message: 'query.from must be 2000-01-01 or later: no request was filed before' });
    expect(checkPeriod('1999-12-31', '2000-01-01')?.field).to.equal('query.from');
    expect(checkPeriod('2000-01-01', '2000-01-01')).to.equal(null);
    expect(checkPeriod('2026-11-01', '2026-11-30', 'australia/sydney')).to.equal(null);
    // 366 calendar days, in any zone (a year with a DST change has a day of 23 and one of 25 hours)
    expect(checkPeriod('2025-11-01', '2026-11-01', 'Australia/Sydney')).to.equal(null);
    expect(checkPeriod('2025-10-31', '2026-11-01', 'Australia/Sydney')?.message).to.match(/at most 366 days/);
  });

  it("when a period is read in a time zone, then its days run from that zone's midnight to midnight, 23 or 25 hours where the clocks change", () => {
    const bounds = (from: string, to: string, zone?: string) => {
      const b = periodBounds(from, to, zone);
      return [b.start.toISOString(), b.end.toISOString()];
    };
    expect(bounds('2026-11-27', '2026-11-27')).to.deep.equal(['2026-11-27T00:00:00.000Z', '2026-11-28T00:00:00.000Z']);
    // Sydney in summer is UTC+11
    expect(bounds('2026-11-27', '2026-11-27', 'Australia/Sydney')).to.deep.equal(['2026-11-26T13:00:00.000Z', '2026-11-27T13:00:00.000Z']);
    // Sydney's clocks went forward at 02:00 on 4 October 2026: a day of 23 hours
    expect(bounds('2026-10-04', '2026-10-04', 'Australia/Sydney')).to.deep.equal(['2026-10-03T14:00:00.000Z', '2026-10-04T13:00:00.000Z']);
    // New York's went back on 1 November 2026: 25 hours
    expect(bounds('2026-11-01', '2026-11-01', 'America/New_York')).to.deep.equal(['2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z']);
    // a ticket filed at 20:00 UTC on 26 November is of the 27th in Sydney, of the 26th in UTC
    const late = [ticket('T20', 'moderate', '2026-11-26T20:00:00Z', [])];
    expect(computeSupportMetrics(late, '2026-11-27', '2026-11-27', 'Australia/Sydney')).to.deep.include({ timeZone: 'Australia/Sydney' });
    expect(computeSupportMetrics(late, '2026-11-27', '2026-11-27', 'Australia/Sydney').total.tickets).to.equal(1);
    expect(computeSupportMetrics(late, '2026-11-27', '2026-11-27').total.tickets).to.equal(0);
    expect(computeSupportMetrics(late, '2026-11-26', '2026-11-26')).to.deep.include({ timeZone: 'UTC' });
    expect(computeSupportMetrics(late, '2026-11-26', '2026-11-26').total.tickets).to.equal(1);
  });
});

describe('support metrics: GET /support-requests/metrics on the real stack', () => {
  let app: TestApp;
  let agent: { id: string; name: string; token: string };
  let customer: string;

  before(async function () {
    this.timeout(300_000);
    app = await getTestApp();
    customer = (await app.newCustomer('US')).domain;
    const name = uniq('Metrics Agent');
    const user = await ensureUser({ name, email: `${name.toLowerCase().replace(/\s+/g, '-')}@support.example`, role: 'support-agent', partnerId: null });
    agent = { id: user._id, name, token: await issueToken(user._id, 'test') };
  });

  async function file(impact: string): Promise<string> {
    const res = await app.api('POST', '/support-requests', {
      headers: { 'idempotency-key': uniq('key-metrics') },
      body: { problemType: GENERAL_PROBLEM_TYPE, impact, title: `Metrics ${impact}`, customer, contact: { name: 'Pat Partner', email: 'pat@partner.example' } },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.number;
  }
  async function act(ticket: string, action: string, body: Record<string, unknown> = {}, token = agent.token) {
    const res = await app.api('POST', `/support-requests/${ticket}/${action}`, { token, body });
    expect(res.status, `${action}: ${JSON.stringify(res.body)}`).to.equal(200);
  }

  it('when an agent works tickets, then the figures of the period follow their events: per impact and for the agent', async () => {
    const from = new Date().toISOString().slice(0, 10);
    const [critical, moderate, minimal] = [await file('critical'), await file('moderate'), await file('minimal')];
    for (const t of [critical, moderate, minimal]) await act(t, 'assign');
    await act(critical, 'replies', { body: 'We are on it.' });
    await act(critical, 'resolve', { body: 'Done.' });
    await act(moderate, 'replies', { body: 'internal only', internal: true });
    await act(moderate, 'escalate', { reason: 'customer is waiting' });
    await act(minimal, 'request-information', { body: 'Which invoice?' });
    await act(minimal, 'withdraw', {}, app.tokens['admin-agent']);

    const to = new Date().toISOString().slice(0, 10);
    const res = await app.api('GET', `/support-requests/metrics?from=${from}&to=${to}`, { token: app.tokens['support-lead'] });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    const m = res.body;
    const mine = m.byAgent.find((a: any) => a.agent?.userId === agent.id);
    expect(mine, 'the agent has a row').to.not.equal(undefined);
    expect(mine.agent.name).to.equal(agent.name);
    expect(mine.tickets).to.equal(3);
    // a public reply and a request for information are responses; the internal note is not
    expect(mine.firstResponse).to.include({ met: 2, missed: 0, pending: 1, withinTargetShare: 1 });
    expect(mine.firstResponse.medianSeconds).to.be.a('number');
    expect(mine.resolution).to.include({ met: 1, missed: 0, pending: 1, withdrawn: 1, withinTargetShare: 1 });
    expect(mine).to.include({ escalations: 1, escalatedTickets: 1 });
    // the groups add up
    const impacts = Object.values(m.byImpact) as any[];
    expect(impacts.reduce((n, g) => n + g.tickets, 0)).to.equal(m.total.tickets);
    expect(m.byAgent.reduce((n: number, g: any) => n + g.tickets, 0)).to.equal(m.total.tickets);
    expect(m.total.tickets).to.be.at.least(3);

    // a period before today has none of them
    const before = await app.api('GET', '/support-requests/metrics?from=2020-01-01&to=2020-01-31', { token: agent.token });
    expect(before.status).to.equal(200);
    expect(before.body.total.tickets).to.equal(0);
    expect(before.body.byImpact.critical.firstResponse.withinTargetShare).to.equal(null);
  });

  it("when a time zone is named, then the period's days are that zone's: a request counts on the day it was filed there", async () => {
    const name = uniq('Zone Agent');
    const user = await ensureUser({ name, email: `${name.toLowerCase().replace(/\s+/g, '-')}@support.example`, role: 'support-agent', partnerId: null });
    const zoneAgent = { id: user._id, token: await issueToken(user._id, 'test') };
    const number = await file('moderate');
    await act(number, 'assign', {}, zoneAgent.token);
    const filedAt = Date.parse((await app.api('GET', `/support-requests/${number}`, { token: zoneAgent.token })).body.createdAt);
    // the day it was filed at UTC+14 is a day after (or two after) the day it was filed at UTC-12
    const dayIn = (offsetHours: number) => new Date(filedAt + offsetHours * 3_600_000).toISOString().slice(0, 10);
    const east = dayIn(14);
    const rowsFor = async (day: string, zone?: string) => {
      const res = await app.api('GET', `/support-requests/metrics?from=${day}&to=${day}${zone ? `&timeZone=${encodeURIComponent(zone)}` : ''}`, { token: zoneAgent.token });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      return { timeZone: res.body.timeZone as string, tickets: (res.body.byAgent as any[]).find((a) => a.agent?.userId === zoneAgent.id)?.tickets ?? 0 };
    };
    expect(await rowsFor(east, 'Pacific/Kiritimati')).to.deep.equal({ timeZone: 'Pacific/Kiritimati', tickets: 1 });
    expect(await rowsFor(east, 'Etc/GMT+12')).to.deep.equal({ timeZone: 'Etc/GMT+12', tickets: 0 });
    expect(await rowsFor(dayIn(-12), 'Etc/GMT+12')).to.deep.equal({ timeZone: 'Etc/GMT+12', tickets: 1 });
    // UTC unless named; a name in any letter case, answered under the name the server knows it by
    expect(await rowsFor(dayIn(0))).to.deep.equal({ timeZone: 'UTC', tickets: 1 });
    expect((await rowsFor(dayIn(0), 'etc/utc')).tickets).to.equal(1);
    const bad = await app.api('GET', `/support-requests/metrics?from=${east}&to=${east}&timeZone=Mars%2FOlympus_Mons`, { token: zoneAgent.token });
    expect(bad.status).to.equal(400);
    expect(bad.body.error.field).to.equal('query.timeZone');
    expect(bad.body.error.message).to.include('Australia/Sydney');
  });

  it('when a partner asks, or the period is wrong, then 403 or 400 naming the field; "metrics" is never taken for a ticket number', async () => {
    const partner = await app.api('GET', '/support-requests/metrics?from=2026-01-01&to=2026-01-31');
    expect(partner.status).to.equal(403);
    const reversed = await app.api('GET', '/support-requests/metrics?from=2026-02-01&to=2026-01-31', { token: agent.token });
    expect(reversed.status).to.equal(400);
    expect(reversed.body.error.field).to.equal('query.to');
    const missing = await app.api('GET', '/support-requests/metrics?from=2026-02-01', { token: agent.token });
    expect(missing.status).to.equal(400);
    expect(missing.body.error.field).to.equal('query.to');
    const badDate = await app.api('GET', '/support-requests/metrics?from=2026-02-30&to=2026-03-01', { token: agent.token });
    expect(badDate.status).to.equal(400);
    expect(badDate.body.error.field).to.equal('query.from');
  });
});
