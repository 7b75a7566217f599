/**
 * Support metrics: the pure computation on hand-made event lists, then `GET /support-requests/metrics` on
 * the real stack (tickets filed and worked through the API, the figures read back).
 */
import { expect } from 'chai';
import { checkPeriod, computeSupportMetrics, median, ticketOutcome, type MetricsEvent, type MetricsTicket } from '../domain/support-metrics';
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

  it('when only an internal note comes before the breach, then the first response is missed, and the later reply is still timed', () => {
    const o = ticketOutcome(
      ticket('T2', 'critical', '2026-11-02T09:00:00Z', [
        [10, 'note', ann, false],
        [60, 'sla-breached', system, false, { target: 'firstResponse', level: 1 }],
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

  it('when a next-response breach follows a timely first response, then only the next target is missed: first response and resolution stand', () => {
    const o = ticketOutcome(
      ticket('T5', 'moderate', '2026-11-02T09:00:00Z', [
        [10, 'replied', ann],
        [600, 'sla-breached', system, false, { target: 'nextResponse' }],
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
    const missed = ticketOutcome(ticket('T8', 'critical', '2026-11-02T09:00:00Z', [[10, 'replied', ann], [1440, 'sla-breached', system, false, { target: 'resolution' }], [1500, 'approved', lead]]));
    expect(missed.resolution).to.deep.equal({ outcome: 'missed', seconds: 90_000 });
    const rejected = ticketOutcome(ticket('T9', 'critical', '2026-11-02T09:00:00Z', [[10, 'replied', ann], [30, 'rejected', ann]]));
    expect(rejected.resolution).to.deep.equal({ outcome: 'met', seconds: 1800 });
  });

  it('when the partner withdraws, then the ticket is in no resolution share', () => {
    const o = ticketOutcome(ticket('T10', 'minimal', '2026-11-02T09:00:00Z', [[30, 'withdrawn', partner], [30, 'closed', partner]]));
    expect(o.resolution.outcome).to.equal('withdrawn');
  });

  it('when events arrive out of order, then they are read in sequence order', () => {
    const t = ticket('T11', 'moderate', '2026-11-02T09:00:00Z', [[60, 'sla-breached', system, false, { target: 'firstResponse' }], [90, 'replied', ann]]);
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
        [60, 'sla-breached', system, false, { target: 'firstResponse' }],
        [60, 'escalated', system, false, { level: 1 }],
        [90, 'escalated', system, false, { level: 2 }],
        [120, 'replied', ann],
        [130, 'assigned', lead, false, assign(bob)],
      ]),
      ticket('C', 'moderate', '2026-11-04T23:59:59Z', [[30, 'replied', ann], [40, 'resolved', ann]]),
      ticket('D', 'minimal', '2026-11-05T00:00:00Z', [[5, 'replied', ann]]), // after the period
      ticket('E', 'minimal', '2026-11-01T23:59:59Z', [[5, 'replied', ann]]), // before it
    ];
    const m = computeSupportMetrics(tickets, '2026-11-02', '2026-11-04');
    expect(m.total.tickets).to.equal(3);
    expect(m.byImpact.critical).to.deep.equal({
      tickets: 2,
      firstResponse: { met: 1, missed: 1, pending: 0, withinTargetShare: 0.5, medianSeconds: Math.round((600 + 7200) / 2) },
      resolution: { met: 1, missed: 0, pending: 1, withinTargetShare: 1, medianSeconds: 6000, withdrawn: 0 },
      escalations: 2,
      escalatedTickets: 1,
    });
    expect(m.byImpact.moderate.tickets).to.equal(1);
    expect(m.byImpact.minimal).to.deep.include({ tickets: 0, escalations: 0 });
    expect(m.byImpact.minimal.firstResponse).to.deep.equal({ met: 0, missed: 0, pending: 0, withinTargetShare: null, medianSeconds: null });
    // A stays Ann's, B went to Bob (reassigned by the lead), C was never assigned
    expect(m.byAgent.map((a) => [a.agent?.name ?? null, a.tickets])).to.deep.equal([
      ['Ann Agent', 1],
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
  });
});
