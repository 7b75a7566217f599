/** Pure rules of support requests: business-hours arithmetic, clocks, the action table, numbers, refunds. */
import { expect } from 'chai';
import Ajv from 'ajv';
import {
  addWorkingSeconds,
  checkSlaPolicy,
  dueAt,
  elapsedSeconds,
  instantAtShare,
  nextMilestone,
  pauseClock,
  resumeClock,
  startClock,
  stopClock,
  clockView,
  urgentClock,
  slaWords,
  workingSecondsBetween,
  DEFAULT_SLA_POLICY,
  SLA_POLICY_SCHEMA,
  type BusinessCalendar,
  type SlaPolicy,
} from '../domain/sla';
import { instantOf, localTime } from '../domain/time';
import { approvalLimitIn, changedSince, checkAction, checkRefundRequest, nextStatus, normaliseTicketNumber, recordedReopenWindow, ticketNumber, ticketRefusalMessage, TICKET_NUMBER_PATTERN, type TicketFacts, type TimelineEntryFact } from '../domain/support';
import { assessSupportRefund, supportRefundCredit, SUPPORT_REQUEST_PROBLEM_TYPE } from '../domain/cancellation';
import { findCatalogProduct } from '../domain/catalog';

const HOUR = 3600;
const weekdays = (timeZone: string, holidays: string[] = []): BusinessCalendar => ({ timeZone, workingDays: [1, 2, 3, 4, 5], start: '09:00', end: '17:00', holidays });
const local = (tz: string, y: number, m: number, d: number, h: number, min = 0) => new Date(instantOf(y, m, d, h * 60 + min, tz));
const wall = (at: Date, tz: string) => {
  const l = localTime(at.getTime(), tz);
  return `${l.year}-${String(l.month).padStart(2, '0')}-${String(l.day).padStart(2, '0')} ${String(l.hour).padStart(2, '0')}:${String(l.minute).padStart(2, '0')}`;
};

describe('support rules: business hours (domain/sla)', () => {
  it('when a ticket is filed Friday 17:30 with a 4-business-hour target (09:00-17:00 Mon-Fri), then it is due Monday 13:00 local, and Friday 16:30 is due Monday 12:30', () => {
    const cal = weekdays('Europe/Berlin');
    // Friday 2026-11-20
    expect(wall(addWorkingSeconds(cal, local('Europe/Berlin', 2026, 11, 20, 17, 30), 4 * HOUR), 'Europe/Berlin')).to.equal('2026-11-23 13:00');
    expect(wall(addWorkingSeconds(cal, local('Europe/Berlin', 2026, 11, 20, 16, 30), 4 * HOUR), 'Europe/Berlin')).to.equal('2026-11-23 12:30');
    const ny = weekdays('America/New_York');
    expect(wall(addWorkingSeconds(ny, local('America/New_York', 2026, 11, 20, 16, 30), 4 * HOUR), 'America/New_York')).to.equal('2026-11-23 12:30');
  });

  it('when a holiday falls on the next working day, then it is skipped', () => {
    const cal = weekdays('Europe/Berlin', ['2026-11-23']);
    expect(wall(addWorkingSeconds(cal, local('Europe/Berlin', 2026, 11, 20, 16, 30), 4 * HOUR), 'Europe/Berlin')).to.equal('2026-11-24 12:30');
    expect(workingSecondsBetween(cal, local('Europe/Berlin', 2026, 11, 20, 16, 30), local('Europe/Berlin', 2026, 11, 24, 12, 30))).to.equal(4 * HOUR);
  });

  it('when the clocks change in Berlin (last Sunday of March and October), then business hours keep their local times and UTC instants shift', () => {
    const cal = weekdays('Europe/Berlin');
    // Friday 2026-03-27 16:00 CET (15:00Z) + 4h -> Monday 2026-03-30 12:00 CEST (10:00Z)
    const spring = addWorkingSeconds(cal, local('Europe/Berlin', 2026, 3, 27, 16), 4 * HOUR);
    expect(spring.toISOString()).to.equal('2026-03-30T10:00:00.000Z');
    // Friday 2026-10-23 16:00 CEST (14:00Z) + 4h -> Monday 2026-10-26 12:00 CET (11:00Z)
    const autumn = addWorkingSeconds(cal, local('Europe/Berlin', 2026, 10, 23, 16), 4 * HOUR);
    expect(autumn.toISOString()).to.equal('2026-10-26T11:00:00.000Z');
  });

  it('when a round-the-clock calendar spans the spring-forward night, then 24 working hours end an hour later on the wall clock', () => {
    const allDay: BusinessCalendar = { timeZone: 'Europe/Berlin', workingDays: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '24:00', holidays: [] };
    const sat = local('Europe/Berlin', 2026, 3, 28, 12);
    const due = addWorkingSeconds(allDay, sat, 24 * HOUR);
    expect(wall(due, 'Europe/Berlin')).to.equal('2026-03-29 13:00');
    expect(due.getTime() - sat.getTime()).to.equal(24 * HOUR * 1000);
    // the autumn night has 25 hours
    const nyAllDay = { ...allDay, timeZone: 'America/New_York' };
    const fri = local('America/New_York', 2026, 10, 31, 12);
    expect(workingSecondsBetween(nyAllDay, fri, local('America/New_York', 2026, 11, 1, 12))).to.equal(25 * HOUR);
    expect(wall(addWorkingSeconds(nyAllDay, fri, 24 * HOUR), 'America/New_York')).to.equal('2026-11-01 11:00');
  });

  it('when a local time falls in a spring-forward gap or a repeated autumn hour, then it maps after the gap and to the first occurrence', () => {
    expect(new Date(instantOf(2026, 3, 29, 150, 'Europe/Berlin')).toISOString()).to.equal('2026-03-29T01:30:00.000Z');
    expect(new Date(instantOf(2026, 10, 25, 150, 'Europe/Berlin')).toISOString()).to.equal('2026-10-25T00:30:00.000Z');
    expect(new Date(instantOf(2026, 3, 8, 150, 'America/New_York')).toISOString()).to.equal('2026-03-08T07:30:00.000Z');
    // zones 12 hours or more ahead (review): Auckland's spring-forward gap (02:00 -> 03:00 on 27 September 2026, +12
    // to +13) and its repeated hour (03:00 -> 02:00 on 5 April 2026), Chatham's (+12:45 / +13:45) likewise
    expect(new Date(instantOf(2026, 9, 27, 150, 'Pacific/Auckland')).toISOString()).to.equal('2026-09-26T14:30:00.000Z'); // 03:30 NZDT
    expect(new Date(instantOf(2026, 4, 5, 150, 'Pacific/Auckland')).toISOString()).to.equal('2026-04-04T13:30:00.000Z'); // the first 02:30, NZDT
    expect(new Date(instantOf(2026, 4, 5, 165, 'Pacific/Chatham')).toISOString()).to.equal('2026-04-04T13:00:00.000Z'); // the first 02:45, +13:45
    for (const tz of ['Pacific/Auckland', 'Pacific/Kiritimati', 'Pacific/Pago_Pago', 'Etc/GMT+12', 'Etc/GMT-14']) {
      // an ordinary wall time reads back as itself
      const t = instantOf(2026, 6, 15, 9 * 60, tz);
      expect(localTime(t, tz), tz).to.deep.include({ year: 2026, month: 6, day: 15, hour: 9, minute: 0 });
    }
  });

  it('when a clock is stopped a fraction of a second past its target, then it reads missed with more seconds than its target; one within it, met, within it (QA: "120 of 120 s, missed")', () => {
    const at = new Date('2026-11-25T10:00:00.000Z');
    const c = { ...startClock(DEFAULT_SLA_POLICY, 'critical', 'firstResponse', at), targetSeconds: 120, calendar: null };
    const late = clockView(stopClock(c, new Date(at.getTime() + 120_062)), new Date());
    expect([late.state, late.elapsedSeconds, late.targetSeconds]).to.deep.equal(['missed', 121, 120]);
    const onTime = clockView(stopClock(c, new Date(at.getTime() + 119_900)), new Date());
    expect([onTime.state, onTime.elapsedSeconds]).to.deep.equal(['met', 119]);
  });

  it('when a share of a target is not exact in floating point (3600 s × 1.1), then its instant is not a second late (review)', () => {
    const at = new Date('2026-11-25T10:00:00.000Z');
    const c = { ...startClock(DEFAULT_SLA_POLICY, 'critical', 'firstResponse', at), targetSeconds: 3600, calendar: null };
    expect(instantAtShare(c, 1.1)!.toISOString()).to.equal('2026-11-25T11:06:00.000Z');
    expect(instantAtShare(c, 0.8)!.toISOString()).to.equal('2026-11-25T10:48:00.000Z');
    // a share of a second that is not whole still waits for the whole second
    expect(instantAtShare({ ...c, targetSeconds: 7 }, 0.5)!.toISOString()).to.equal('2026-11-25T10:00:04.000Z');
  });

  it('when counting to the second, then partial working time and a null calendar count exactly', () => {
    const cal = weekdays('UTC');
    const from = new Date('2026-11-25T16:59:59Z');
    expect(addWorkingSeconds(cal, from, 2).toISOString()).to.equal('2026-11-26T09:00:01.000Z');
    expect(workingSecondsBetween(cal, from, new Date('2026-11-26T09:00:01Z'))).to.equal(2);
    expect(addWorkingSeconds(null, from, 61).toISOString()).to.equal('2026-11-25T17:01:00.000Z');
  });
});

describe('support rules: SLA clocks and policy', () => {
  const policy: SlaPolicy = {
    ...DEFAULT_SLA_POLICY,
    calendars: { berlin: weekdays('Europe/Berlin') },
    impacts: { ...DEFAULT_SLA_POLICY.impacts, moderate: { firstResponse: { seconds: 4 * HOUR, calendar: 'berlin' }, nextResponse: { seconds: 8 * HOUR, calendar: 'berlin' }, resolution: { seconds: 40 * HOUR, calendar: 'berlin' } } },
  };

  it('when a clock pauses while waiting on the partner, then the paused time does not count and its due time moves', () => {
    const filed = local('Europe/Berlin', 2026, 11, 23, 9);
    let c = startClock(policy, 'moderate', 'firstResponse', filed);
    expect(dueAt(c)!.toISOString()).to.equal(local('Europe/Berlin', 2026, 11, 23, 13).toISOString());
    c = pauseClock(c, local('Europe/Berlin', 2026, 11, 23, 10));
    expect(dueAt(c)).to.equal(null);
    expect(elapsedSeconds(c, local('Europe/Berlin', 2026, 11, 24, 10))).to.equal(HOUR);
    // what is left of its target while paused: the page's "3 h left"
    expect(clockView(c, local('Europe/Berlin', 2026, 11, 24, 10)).remainingSeconds).to.equal(3 * HOUR);
    c = resumeClock(c, local('Europe/Berlin', 2026, 11, 24, 10));
    expect(dueAt(c)!.toISOString()).to.equal(local('Europe/Berlin', 2026, 11, 24, 13).toISOString());
    const stopped = stopClock(c, local('Europe/Berlin', 2026, 11, 24, 12));
    expect(stopped.met).to.equal(true);
    expect(clockView(stopped, new Date()).state).to.equal('met');
    expect(clockView(stopped, new Date()).remainingSeconds).to.equal(null);
    // stopped by the partner's withdrawal: neither met nor missed; one met before the withdrawal stays met
    expect(clockView(stopped, new Date(), stopped.stoppedAt).state).to.equal('withdrawn');
    expect(clockView(stopped, new Date(), local('Europe/Berlin', 2026, 11, 25, 9).toISOString()).state).to.equal('met');
    expect(slaWords('firstResponse target exceeded by 50%; nextResponse too')).to.equal('first response target exceeded by 50%; next response too');
    // one past its target when the withdrawal stopped it was missed all the same
    const late = stopClock(c, local('Europe/Berlin', 2026, 11, 25, 12));
    expect(late.met).to.equal(false);
    expect(clockView(late, new Date(), late.stoppedAt).state).to.equal('missed');
  });

  it('when a request is given to someone, then the clock that most needs them is a breached one, else one at risk, the earliest due first; calm, paused or stopped clocks none', () => {
    const t0 = new Date('2026-11-25T10:00:00.000Z');
    const first = startClock(DEFAULT_SLA_POLICY, 'moderate', 'firstResponse', t0);
    const resolution = startClock(DEFAULT_SLA_POLICY, 'moderate', 'resolution', t0);
    expect(urgentClock([first, resolution])).to.equal(null);
    expect(urgentClock([{ ...first, warned: true }, { ...resolution, warned: true }])).to.deep.equal({ clock: 'firstResponse', dueAt: dueAt(first), breached: false });
    expect(urgentClock([{ ...first, warned: true }, { ...resolution, warned: true, breachLevel: 1 }])).to.deep.equal({ clock: 'resolution', dueAt: dueAt(resolution), breached: true });
    expect(urgentClock([pauseClock({ ...first, warned: true }, new Date('2026-11-25T10:30:00Z')), stopClock({ ...resolution, warned: true }, new Date('2026-11-25T10:30:00Z'))])).to.equal(null);
  });

  it('when a clock pauses and resumes at instants with milliseconds, then nothing is dropped: its due instant stays exact to the millisecond', () => {
    const t0 = new Date('2026-11-25T10:00:00.000Z');
    let c = startClock(DEFAULT_SLA_POLICY, 'critical', 'firstResponse', t0);
    const target = c.targetSeconds;
    // three runs of 10.9 s, each paused for a minute (before, each pause dropped the 0.9 s: the due instant drifted 2.7 s later)
    let at = t0.getTime();
    for (let i = 0; i < 3; i++) {
      at += 10_900;
      c = pauseClock(c, new Date(at));
      at += 60_000;
      c = resumeClock(c, new Date(at));
    }
    expect(c.consumedSeconds).to.equal(32.7);
    expect(elapsedSeconds(c, new Date(at))).to.equal(32);
    expect(dueAt(c)!.getTime()).to.equal(at + target * 1000 - 32_700);
    // stopped 1 ms after its target: missed; at its target: met
    expect(stopClock(c, new Date(at + target * 1000 - 32_700)).met).to.equal(true);
    expect(stopClock(c, new Date(at + target * 1000 - 32_699)).met).to.equal(false);
  });

  it('when a clock runs, then its milestones are the warning share, the breach and the second escalation point', () => {
    const c = startClock(DEFAULT_SLA_POLICY, 'critical', 'firstResponse', new Date('2026-11-25T10:00:00Z'));
    expect(nextMilestone(c, DEFAULT_SLA_POLICY)).to.deep.equal({ milestone: 'warning', at: new Date('2026-11-25T10:48:00Z') });
    expect(nextMilestone({ ...c, warned: true }, DEFAULT_SLA_POLICY)!.at.toISOString()).to.equal('2026-11-25T11:00:00.000Z');
    expect(nextMilestone({ ...c, warned: true, breachLevel: 1 }, DEFAULT_SLA_POLICY)!.at.toISOString()).to.equal('2026-11-25T11:30:00.000Z');
    expect(nextMilestone({ ...c, warned: true, breachLevel: 2 }, DEFAULT_SLA_POLICY)).to.equal(null);
  });

  it('when a policy file is validated, then the built-in policy passes and bad zones, hours or calendars are named', () => {
    const validate = new Ajv({ strict: true }).compile(SLA_POLICY_SCHEMA);
    expect(validate(DEFAULT_SLA_POLICY), JSON.stringify(validate.errors)).to.equal(true);
    expect(checkSlaPolicy(DEFAULT_SLA_POLICY)).to.deep.equal([]);
    expect(validate({ ...DEFAULT_SLA_POLICY, warnAtShare: 1.2 })).to.equal(false);
    const bad = { ...DEFAULT_SLA_POLICY, calendars: { x: { ...weekdays('Mars/Olympus'), start: '18:00' } } };
    const problems = checkSlaPolicy(bad);
    expect(problems.join('\n')).to.match(/Mars\/Olympus/).and.match(/end 17:00 must be after start 18:00/).and.match(/"business" is not one of the calendars/);
  });
});

describe('support rules: actions, numbers and refunds (domain/support)', () => {
  it('until when a reply reopens a decided ticket is what its latest decision recorded (its own rules), whatever the setting is now', () => {
    const at = '2026-11-27T10:00:00.000Z';
    const filed = { type: 'filed', at: '2026-11-20T09:00:00.000Z', data: {} };
    expect(recordedReopenWindow([filed])).to.equal(undefined);
    expect(recordedReopenWindow([filed, { type: 'resolved', at, data: { reopenUntil: '2026-12-04T10:00:00.000Z' } }])).to.deep.equal({ until: '2026-12-04T10:00:00.000Z', days: 7 });
    // decided again after a reopening: the latest decision counts; none allowed: null
    const reopened = [filed, { type: 'resolved', at, data: { reopenUntil: '2026-12-04T10:00:00.000Z' } }, { type: 'reopened', at, data: {} }];
    expect(recordedReopenWindow([...reopened, { type: 'rejected', at: '2026-11-28T10:00:00.000Z', data: { reopenUntil: '2026-11-30T10:00:00.000Z' } }])).to.deep.equal({ until: '2026-11-30T10:00:00.000Z', days: 2 });
    expect(recordedReopenWindow([filed, { type: 'approved', at, data: { reopenUntil: null } }])).to.deep.equal({ until: null, days: 0 });
    // a decision recorded before decisions carried it: unknown (the caller takes today's setting)
    expect(recordedReopenWindow([filed, { type: 'resolved', at, data: {} }])).to.equal(undefined);
  });

  const facts = (over: Partial<TicketFacts> = {}): TicketFacts => ({
    status: 'new',
    problemType: SUPPORT_REQUEST_PROBLEM_TYPE,
    assigneeId: null,
    escalationLevel: 0,
    doneAt: null,
    refunded: false,
    approving: false,
    requestedAmount: 10_000,
    ...over,
  });
  const rules = { approvalLimit: 5_000, reopenDays: 7 };
  const now = new Date('2026-11-25T12:00:00Z');
  const agent = { kind: 'agent' as const, userId: 'a1' };
  const lead = { kind: 'lead' as const, userId: 'l1' };
  const partner = { kind: 'partner' as const, userId: 'p1' };

  it('when roles act, then each action is allowed only to whom the table says', () => {
    expect(checkAction(facts(), { action: 'approve', actor: partner }, rules, now)?.code).to.equal('not_allowed_for_role');
    expect(checkAction(facts(), { action: 'withdraw', actor: agent }, rules, now)?.code).to.equal('not_allowed_for_role');
    expect(checkAction(facts(), { action: 'withdraw', actor: partner }, rules, now)).to.equal(null);
    expect(checkAction(facts(), { action: 'note', actor: partner }, rules, now)?.code).to.equal('not_allowed_for_role');
    // a closed request takes nothing more, not even an internal note (its workflow has ended)
    expect(checkAction(facts({ status: 'closed' }), { action: 'note', actor: agent }, rules, now)?.code).to.equal('invalid_state');
    expect(checkAction(facts({ status: 'closed' }), { action: 'note', actor: agent }, rules, now, { notesWhenClosed: true }), 'as histories from before replay').to.equal(null);
  });

  it('when a request is put back in the queue, then only one someone has, by that one or a lead; an open one is new again, one waiting on the partner keeps waiting', () => {
    const mine = facts({ status: 'open', assigneeId: 'a1' });
    expect(checkAction(mine, { action: 'unassign', actor: agent }, rules, now)).to.equal(null);
    expect(checkAction(mine, { action: 'unassign', actor: lead }, rules, now)).to.equal(null);
    expect(checkAction(mine, { action: 'unassign', actor: { kind: 'agent', userId: 'a2' } }, rules, now)?.code).to.equal('not_your_request');
    expect(checkAction(mine, { action: 'unassign', actor: partner }, rules, now)?.code).to.equal('not_allowed_for_role');
    expect(checkAction(facts(), { action: 'unassign', actor: lead }, rules, now)?.code).to.equal('not_assigned');
    expect(checkAction(facts({ status: 'resolved', assigneeId: 'a1' }), { action: 'unassign', actor: agent }, rules, now)?.message).to.equal('This support request is resolved: it cannot be put back in the queue now.');
    expect(nextStatus({ status: 'open', assigneeId: null }, 'unassign')).to.equal('new');
    expect(nextStatus({ status: 'pending', assigneeId: null }, 'unassign')).to.equal('pending');
    // someone else putting it back is news to the one acting from a page opened before
    const entries = [{ seq: 4, type: 'unassigned' as const, userId: 'l1', name: 'Lee Lead', public: false }];
    expect(checkAction(facts({ status: 'new', assigneeId: null, entries }), { action: 'reply', actor: agent, seenSeq: 3 }, rules, now)?.message).to.include('Lee Lead put it back in the queue (entry 4)');
  });

  it('when approving, then the amount is at most the requested one and above the limit needs a lead', () => {
    expect(checkAction(facts(), { action: 'approve', actor: agent, amount: 12_000 }, rules, now)?.code).to.equal('amount_above_requested');
    expect(checkAction(facts(), { action: 'approve', actor: agent, amount: 6_000 }, rules, now)?.code).to.equal('amount_above_limit');
    expect(checkAction(facts(), { action: 'approve', actor: lead, amount: 6_000 }, rules, now)).to.equal(null);
    expect(checkAction(facts(), { action: 'approve', actor: agent, amount: 5_000 }, rules, now)).to.equal(null);
    expect(checkAction(facts({ status: 'closed' }), { action: 'approve', actor: lead }, rules, now)?.code).to.equal('invalid_state');
    expect(checkAction(facts({ problemType: 'General question or problem' }), { action: 'approve', actor: lead }, rules, now)?.code).to.equal('not_a_refund');
    expect(checkAction(facts({ approving: true }), { action: 'approve', actor: lead }, rules, now)?.code).to.equal('approval_in_progress');
  });

  it('when the refund was carried out (the request reopened since), then it is neither rejected nor withdrawn; histories from before replay their withdrawal', () => {
    const reopened = facts({ status: 'open', assigneeId: 'a1', refunded: true });
    expect(checkAction(reopened, { action: 'reject', actor: agent, reason: 'no' }, rules, now)?.code).to.equal('already_refunded');
    expect(checkAction(reopened, { action: 'withdraw', actor: partner }, rules, now)?.code).to.equal('already_refunded');
    expect(checkAction(reopened, { action: 'withdraw', actor: partner }, rules, now, { refundStands: false })).to.equal(null);
    expect(checkAction(facts({ status: 'open', assigneeId: 'a1' }), { action: 'withdraw', actor: partner }, rules, now)).to.equal(null);
  });

  it('when someone acts saying what they saw (seenSeq), then what others added since that they can see refuses it (ticket_changed), before any rule of the state', () => {
    const entries: TimelineEntryFact[] = [
      { seq: 2, type: 'assigned', userId: 'a1', name: 'Ada Agent', public: false },
      { seq: 3, type: 'note', userId: 'l1', name: 'Lee Lead', public: false },
      { seq: 5, type: 'replied', userId: 'a1', name: 'Ada Agent', public: true },
    ];
    const f = facts({ status: 'open', assigneeId: 'a1', entries });
    expect(changedSince(entries, agent, 2).map((e) => e.seq), "the lead's note; the agent's own reply is not news to them").to.deep.equal([3]);
    expect(changedSince(entries, partner, 1).map((e) => e.seq), 'a partner sees public entries only').to.deep.equal([5]);
    expect(changedSince(entries, partner, 5)).to.deep.equal([]);
    expect(checkAction(f, { action: 'resolve', actor: agent, seenSeq: 2 }, rules, now)).to.deep.equal({ code: 'ticket_changed', message: 'This support request changed since you opened it: Lee Lead added an internal note (entry 3). Read what changed, then act again if it still fits.' });
    expect(checkAction(f, { action: 'resolve', actor: agent, seenSeq: 3 }, rules, now)).to.equal(null);
    expect(checkAction(f, { action: 'resolve', actor: agent }, rules, now), 'not said: not checked').to.equal(null);
    expect(checkAction(f, { action: 'resolve', actor: lead, seenSeq: 1 }, rules, now)?.message).to.contain('Ada Agent replied (entry 5) (and 1 more entry since)');
    expect(checkAction(f, { action: 'resolve', actor: agent, seenSeq: 2 }, rules, now, { seenChecked: false }), 'as histories from before replay').to.equal(null);
    // a stale page is the likelier reason than the state it led to: said first (a closed request too)
    expect(checkAction({ ...f, status: 'closed' }, { action: 'resolve', actor: agent, seenSeq: 2 }, rules, now)?.code).to.equal('ticket_changed');
    // a `$` in a name is a name, not a replacement pattern
    const dollar = facts({ status: 'open', entries: [{ seq: 4, type: 'replied', userId: 'x', name: "Jo $' $& Smith", public: true }] });
    expect(checkAction(dollar, { action: 'resolve', actor: agent, seenSeq: 3 }, rules, now)?.message).to.contain("it: Jo $' $& Smith replied (entry 4). Read");
    // an approval being carried out is said first: what it holds back is not written yet, so no page could show it
    expect(checkAction({ ...f, approving: true }, { action: 'resolve', actor: agent, seenSeq: 2 }, rules, now)?.code).to.equal('approval_in_progress');
    // the role still comes first: nothing about the request is told to whom may not act on it
    expect(checkAction(f, { action: 'approve', actor: partner, seenSeq: 1 }, rules, now)?.code).to.equal('not_allowed_for_role');
    // the pages say it by its code after a redirect: no placeholder left in the sentence
    expect(ticketRefusalMessage('ticket_changed', 'open', 'resolve', rules)).to.equal('This support request changed since you opened it. Read what changed, then act again if it still fits.');
  });

  it('when the request is in another currency, then the approval limit (in US cents) is taken at the price list\'s rate', () => {
    const yen = facts({ requestedAmount: 20_000, requestedCurrency: 'JPY' });
    expect(approvalLimitIn(rules, 'JPY')).to.equal(7_500); // $50.00 at 150 yen
    expect(approvalLimitIn(rules, 'USD')).to.equal(5_000);
    expect(approvalLimitIn(rules, 'XTS'), 'not on the price list: the number as it is').to.equal(5_000);
    expect(checkAction(yen, { action: 'approve', actor: agent, amount: 7_500 }, rules, now)).to.equal(null);
    expect(checkAction(yen, { action: 'approve', actor: agent, amount: 7_501 }, rules, now)?.code).to.equal('amount_above_limit');
    expect(checkAction(yen, { action: 'approve', actor: lead, amount: 20_000 }, rules, now)).to.equal(null);
    // a history judged before the limit followed the currency replays as it was judged
    expect(checkAction(yen, { action: 'approve', actor: agent, amount: 7_500 }, rules, now, { limitInCurrency: false })?.code).to.equal('amount_above_limit');
  });

  it('when a ticket is assigned, then only a lead (or the assignee) reassigns it', () => {
    const assigned = facts({ status: 'open', assigneeId: 'a1' });
    expect(checkAction(assigned, { action: 'assign', actor: { kind: 'agent', userId: 'a2' }, assigneeKind: 'agent', assigneeId: 'a2' }, rules, now)?.code).to.equal('already_assigned');
    expect(checkAction(assigned, { action: 'assign', actor: lead, assigneeKind: 'agent', assigneeId: 'a2' }, rules, now)).to.equal(null);
    expect(checkAction(assigned, { action: 'assign', actor: lead, assigneeKind: 'partner', assigneeId: 'p1' }, rules, now)?.code).to.equal('assignee_not_agent');
  });

  it('when a ticket is given to the one who has it, then it is refused (nothing to change), unless a history recorded before that rule replays', () => {
    const assigned = facts({ status: 'open', assigneeId: 'a1' });
    expect(checkAction(assigned, { action: 'assign', actor: lead, assigneeKind: 'agent', assigneeId: 'a1' }, rules, now)?.code).to.equal('already_assignee');
    expect(checkAction(assigned, { action: 'assign', actor: { kind: 'agent', userId: 'a1' }, assigneeKind: 'agent', assigneeId: 'a1' }, rules, now)?.code).to.equal('already_assignee');
    expect(checkAction(assigned, { action: 'assign', actor: lead, assigneeKind: 'agent', assigneeId: 'a1' }, rules, now, { sameAssigneeRefused: false })).to.equal(null);
    expect(checkAction(facts({ status: 'new', assigneeId: null }), { action: 'assign', actor: lead, assigneeKind: 'agent', assigneeId: 'a1' }, rules, now)).to.equal(null);
  });

  it('when a partner replies after resolution, then within the reopen period it reopens, after it is refused', () => {
    const resolved = facts({ status: 'resolved', assigneeId: 'a1', doneAt: '2026-11-20T12:00:00Z' });
    expect(checkAction(resolved, { action: 'partner-reply', actor: partner }, rules, now)).to.equal(null);
    expect(nextStatus(resolved, 'partner-reply')).to.equal('open');
    expect(checkAction({ ...resolved, doneAt: '2026-11-10T12:00:00Z' }, { action: 'partner-reply', actor: partner }, rules, now)?.code).to.equal('reopen_period_passed');
    expect(nextStatus(facts({ status: 'pending' }), 'partner-reply')).to.equal('new');
    expect(nextStatus(facts({ status: 'open', assigneeId: 'a1' }), 'request-information')).to.equal('pending');
  });

  it('when numbers are drawn, then they are readable, match the pattern and normalise as typed', () => {
    const n = ticketNumber(new Date('2026-11-25T23:59:59Z'), [0, 1, 10, 17, 31, 30]);
    expect(n).to.equal('SR-261125-01AHZY');
    expect(n).to.match(new RegExp(TICKET_NUMBER_PATTERN));
    expect(normaliseTicketNumber(' sr-261125-oiahzy ')).to.equal('SR-261125-01AHZY');
    expect(() => ticketNumber(new Date(), [1, 2, 3])).to.throw(RangeError);
  });

  it('when a refund is requested, then its currency is the order\'s, its amount at most the total less credits, and never for a SUSE or Red Hat plan', () => {
    const order = { total: 10_000, currency: 'EUR', creditedAmount: 2_500, cancellationMode: 'standard-window' as const };
    expect(checkRefundRequest({ ...order, cancellationMode: 'never' }, 100, 'EUR', 'body.subscriptionId')).to.include({ field: 'body.subscriptionId', code: 'never_cancellable' });
    expect(checkRefundRequest(order, 7_500, 'EUR')).to.equal(null);
    expect(checkRefundRequest(order, 7_501, 'EUR')).to.include({ field: 'body.refund.amount', code: 'amount_too_high' });
    // the limit as money, and in the minor units the request is written in
    expect(checkRefundRequest(order, 7_501, 'EUR')?.message).to.equal('body.refund.amount exceeds what the order cost less credits already given (75.00 EUR, 7500 in minor units)');
    expect(checkRefundRequest({ ...order, currency: 'JPY' }, 7_501, 'JPY')?.message).to.include('(7500 JPY, 7500 in minor units)');
    expect(checkRefundRequest(order, 100, 'USD')).to.include({ field: 'body.refund.currency', code: 'currency_mismatch' });
    expect(checkRefundRequest(order, 0, 'EUR')?.code).to.equal('amount_invalid');
  });

  it('when support assesses a refund, then ESU and past-window orders pass, SUSE/Red Hat and cancelled orders are refused saying why', () => {
    const snap = (id: string) => {
      const p = findCatalogProduct(id)!;
      return { id: p.id, name: p.name, kind: p.kind, billing: p.billing, cancellation: p.cancellation, deliverable: p.deliverable };
    };
    const pricing = { currency: 'USD', unitPrice: 6_100, quantity: 1, total: 6_100, tax: { treatment: 'exclusive' as const, rateBps: null, amount: null } };
    const usd = (amount: number) => ({ amount, currency: 'USD' });
    expect(assessSupportRefund({ status: 'active', product: snap('windows-7-esu-2020'), pricing }, usd(6_100)).allowed).to.equal(true);
    expect(assessSupportRefund({ status: 'active', product: snap('windows-7-esu-2020'), pricing }, usd(6_101)).reason?.code).to.equal('amount_too_high');
    expect(assessSupportRefund({ status: 'cancelled', product: snap('windows-7-esu-2020'), pricing }, usd(100)).reason?.code).to.equal('already_cancelled');
    expect(assessSupportRefund({ status: 'cancelled', product: snap('windows-7-esu-2020'), pricing }, usd(100), { number: 'SR-1', refundedBy: 'SR-1' }).allowed).to.equal(true);
    for (const id of ['suse-linux-enterprise-server-plan', 'red-hat-enterprise-linux-plan']) {
      const r = assessSupportRefund({ status: 'active', product: snap(id), pricing }, usd(100));
      expect(r.reason?.code, id).to.equal('never_cancellable');
      expect(r.reason?.message).to.match(/SUSE and Red Hat/);
    }
    expect(supportRefundCredit({ pricing }, 1_000)).to.include({ amount: 1_000, basis: 'support-refund', currency: 'USD' });
  });
});
