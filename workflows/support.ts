/**
 * One workflow per support ticket (id `support:<number>`): its state machine, its SLA clocks on durable
 * timers, and its single writer. Agent and partner actions arrive as one Update whose validator applies the
 * domain's action table, so a refused action never enters the history. Every action and clock milestone is
 * an event inserted once under `<ticket>:<seq>` (seq kept here), followed by its emails, each sent once.
 * Writes go through one queue, in order: the ticket document, its events and its queue entry have one writer;
 * the emails go out after their event's write, outside that queue, so SMTP never holds a write back.
 * The record made at filing is a local activity (workflows/local-writes.ts), so a filing is answered without a round
 * trip through the server's activity queue; each later event is a regular activity, written only once the workflow
 * task that decided it is committed (see COMMITTED_EVENT_WRITES: actions arrive as Updates, which a lost task loses).
 */
import { ActivityFailure, ApplicationFailure, allHandlersFinished, condition, log, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { DATABASE_ACTIVITY, EMAIL_ACTIVITY } from './activity-options';
import { databaseWrites, type Write } from './local-writes';
import {
  supportCommandUpdate,
  supportRecordedUpdate,
  supportStateQuery,
  SUPPORT_STAFF_EMAILS,
  type SupportCommand,
  type SupportEmailKind,
  type SupportEventInput,
  type SupportTicketSnapshot,
  type SupportTicketInput,
  type SupportTicketState,
} from '../contracts/support';
import {
  approvalWaitNoteSeconds,
  checkAction,
  isPublicAction,
  nextStatus,
  reopenUntilAt,
  DONE_STATUSES,
  MAX_ESCALATION_LEVEL,
  type SupportEventType,
  type TicketActor,
  type TicketFacts,
  type TicketStatus,
  type TimelineEntryFact,
} from '../domain/support';
import {
  dueAt,
  nextMilestone,
  pauseClock,
  restartClock,
  resumeClock,
  startClock,
  stopClock,
  type ClockMilestone,
  type SlaClock,
} from '../domain/sla';
import { DAY_MS } from '../domain/time';
import { SUPPORT_REFUND_FINAL_CODES } from '../domain/cancellation';

// each activity the timeout its work needs, so an attempt lost with its worker is retried within seconds
const acts = proxyActivities<Activities>(DATABASE_ACTIVITY);
const mail = proxyActivities<Activities>(EMAIL_ACTIVITY);
/**
 * The refund runs an Update on the order's workflow (or its refund workflow): allow it time, and heartbeat while it
 * waits (lib/keepalive.ts), so that an attempt lost with its worker (kill -9) is retried within seconds, not after
 * the 5 minutes (QA: the ticket had stayed "approving" that long, its order already cancelled).
 *
 * Retried without end, as every other activity is, until the order answers: an approval is then carried out or
 * refused for a reason of the order's, never left with its outcome unknown. (With a limit of 20 attempts, a long
 * enough outage gave up on a refund the order might still carry out, and the ticket could then be rejected,
 * withdrawn or closed while its order ended up cancelled and credited under it.) While it is carried out, the ticket
 * takes no other decision (`approval_in_progress`). An attempt scheduled with the limit keeps it (its history says
 * so); the `refund_unavailable` path below stays for those.
 */
const refundActs = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  // (longer than the emails' 4 s: the SDK sends a heartbeat at most every 0.8 of this, and a spurious timeout of a
  // busy worker costs an attempt's restart)
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: [...SUPPORT_REFUND_FINAL_CODES] },
});

const SYSTEM: TicketActor = { kind: 'system', userId: 'system', name: 'csp-desk', email: '', role: 'system' };

export interface SupportTicketOutcome {
  number: string;
  status: TicketStatus;
}

const now = () => new Date(Date.now());

/** Patch id: emails go out after their event's write, outside the write queue (tickets filed before replay as they ran). */
const EMAILS_APART = 'support-emails-outside-write-queue';
/** Rejections from here on are a refund's decision only (domain/support.ts checkAction); older ones replay as accepted. */
const REJECT_REFUNDS_ONLY = 'support-reject-refunds-only';
/** Patch id: the assignee is emailed the partner's reply (older histories replay without the email). */
const PARTNER_REPLY_EMAIL = 'support-partner-reply-email';
/** Patch id: a closed request takes no internal note (older histories replay a note taken while their last emails went). */
const NO_NOTES_WHEN_CLOSED = 'support-no-notes-when-closed';
/** Patch id: the approval limit follows the request's currency (older histories replay approvals as they were judged). */
const LIMIT_IN_CURRENCY = 'support-limit-in-currency';
/** Patch id: a partner may not withdraw a request whose refund was carried out (older histories replay the withdrawal). */
const REFUND_STANDS = 'support-withdraw-keeps-refund';
/** Tickets assigned from here on tell the one given the ticket by another (older histories replay without it). */
const ASSIGNED_EMAIL = 'support-assigned-email';
/** Patch id: the ticket's writes are local activities (tickets filed before keep regular ones, as they ran). */
const LOCAL_WRITES = 'support-writes-local-activities';
/**
 * Patch id: the ticket's events (and the document as each leaves it) are written by regular activities, scheduled
 * only once the workflow task that decided them is committed. As local activities they ran inside the task: a task
 * that was then lost with its Updates (a worker gone, or the SDK's core dropping it under a burst of Updates) left
 * its writes, and the same Updates taken again in another order wrote under the same numbers, so that one action's
 * event stood in another's place (one reply recorded twice, the other lost). A ticket filed before takes it up at its
 next event (its history replays the local writes before that as they ran).
 */
const COMMITTED_EVENT_WRITES = 'support-event-writes-after-commit';
/** Patch id: an approval whose refund timed out is noted and refused (refund_unavailable); older histories rejected it bare. */
const APPROVE_TIMEOUT_NOTE = 'support-approve-timeout-note';
/** Patch id: an agent asking for information on a request nobody has takes it (older histories replay it unassigned). */
const INFO_REQUEST_TAKES = 'support-information-request-takes';
/** Patch id: SLA clocks keep milliseconds across pauses (older histories replay with whole seconds, as their timers ran). */
const SLA_MILLISECONDS = 'support-sla-milliseconds';
/** Patch id: a partner's reply reopening a decided request nobody has is told to the leads (older histories: to nobody). */
const REOPEN_TELLS_LEADS = 'support-reopen-tells-leads';
/** Patch id: a request is not given to the one who has it (older histories replay the second `assigned` event and email). */
const SAME_ASSIGNEE_REFUSED = 'support-same-assignee-refused';
/** Patch id: an agent deciding a request nobody has (approve, reject, resolve) takes it (older histories replay it unassigned). */
const DECISION_TAKES = 'support-decision-takes';
/** Patch id: a command saying what its actor saw (`seenSeq`) is refused when others added to the ticket since (older histories replay it taken). */
const SEEN_CHECKED = 'support-seen-checked';
/**
 * Patch id: a command's `seenSeq` counts every entry others added, also one whose write has not landed yet (older
 * histories replay counting landed entries only, which let two actions sent at once both pass: QA, an approval went
 * through after a partner's "do not refund" reply it had not seen).
 */
const SEEN_UNWRITTEN = 'support-seen-unwritten';
/** Patch id: a ticket's emails go out one after another, in the order of their events (older histories: side by side). */
const EMAILS_IN_ORDER = 'support-emails-in-order';
/** Patch id: a request at risk put back in the queue warns the leads (older histories: nobody but the one who had it is told). */
const UNASSIGN_WARNS_LEADS = 'support-unassign-warns-leads';
/**
 * Patch id: the events one step makes together (a partner's reply and the reopening it causes; a breach and the
 * escalation it causes) take consecutive numbers, recorded before the step waits on their writes. Recorded one after
 * the other, an action arriving in between took the number between them (QA: a ticket resolved at once with the
 * reopening reply ended its timeline on `reopened`, which the figures read as not resolved; a breach's `escalated`
 * level 1 came after two manual escalations to level 3). Older histories replay as they ran.
 */
const EVENTS_TOGETHER = 'support-events-of-a-step-together';
/**
 * Patch id: an action taken after a clock's milestone (a warning, a breach, the close) whose timer has not fired yet
 * has the milestone recorded first, at its own instant, as the timer would have. A reply 12 ms past the due instant,
 * before the breach timer fired, stopped the clock as missed while no breach was recorded, so the leads were never
 * told and the figures counted it met (QA). Older histories replay as they ran.
 */
const MILESTONES_FIRST = 'support-milestones-before-actions';
/** Patch id: a breach that raises no escalation level (escalated before, by hand) emails the leads (histories before it did not). */
const BREACH_TELLS_LEADS = 'support-breach-tells-leads';
/**
 * Patch id: an approval's refund waits beside the ticket's write queue, not in it. In the queue, a refund the order
 * did not answer (retried without end: its workflow broken by a deploy, say) held back every write behind it: the
 * SLA warning, breach and escalation were neither recorded nor told, a note hung, and all of it landed back-dated
 * once the order answered (review). Older histories replay with the refund in the queue, as they ran.
 */
const REFUND_BESIDE_QUEUE = 'support-refund-beside-write-queue';
/** Patch id: an approval whose order has not answered after a while is said on the ticket (an internal note); older histories: nothing. */
const APPROVAL_WAIT_NOTE = 'support-approval-wait-note';
/**
 * How long an email waits for the one before it in its line (see `mailAfter`) before it goes all the same: an SMTP
 * outage shorter than this keeps the line's order. The staff's emails are about time (an at-risk warning), so one
 * stuck there holds the others back briefly; the partner's are a conversation, whose order matters more.
 */
const EMAIL_ORDER_WAIT = { staff: '15 minutes', partner: '6 hours' } as const;

export async function supportTicketWorkflow(input: SupportTicketInput): Promise<SupportTicketOutcome> {
  const { number, policy, rules } = input;
  const filedAt = new Date(input.filedAt);
  let status = 'new' as TicketStatus;
  let assignee: SupportTicketSnapshot['assignee'] = null;
  let escalationLevel = 0;
  let clocks: SlaClock[] = [startClock(policy, input.impact, 'firstResponse', filedAt), startClock(policy, input.impact, 'resolution', filedAt)];
  let seq = 0;
  let refunded = false;
  let approving = false;
  let approval: SupportTicketSnapshot['approval'] = null;
  let rejectionReason: string | null = null;
  let withdrawn = false;
  /** put back in the queue while waiting on the partner: their answer, while nobody has it, goes to the leads (only an `unassign` sets it) */
  let putBack = false;
  let doneAt: string | null = null;
  let resolvedAt: string | null = null;
  let closedAt: string | null = null;
  let recorded = false;
  /** bumped on every change, so the timer loop re-plans */
  let version = 0;
  /** what people added to the timeline after the filing (for a command's `seenSeq`) */
  const entries: TimelineEntryFact[] = [];
  /** the last event whose write has landed: only those count for `seenSeq`, since no page can show the others yet */
  let writtenSeq = 1;
  const landed = (eventSeq: number) => {
    if (eventSeq > writtenSeq) writtenSeq = eventSeq;
  };

  // ---- one writer: every write of this ticket goes through this queue, in order
  // (decided once, first thing: a ticket keeps the kind of activity it was filed with for its whole life)
  const write = databaseWrites(patched(LOCAL_WRITES), { ticket: number });
  // the record made at filing follows from the workflow's input alone, and stays local; events follow Updates, and
  // are written once their task is committed: decided at each event, so that a ticket filed before this code takes
  // it up from its next event on (its history keeps the local writes before that, as they ran)
  const committedWrite = databaseWrites(false, { ticket: number });
  const eventWriter = (): Write => (patched(COMMITTED_EVENT_WRITES) ? committedWrite : write);
  let queue: Promise<unknown> = Promise.resolve();
  function serially<T>(fn: () => Promise<T>): Promise<T> {
    const p = queue.then(fn);
    queue = p.catch(() => undefined);
    return p;
  }

  const running = () => clocks.filter((c) => c.runningSince && !c.stoppedAt);
  const nextDue = (): string | null => {
    const dues = running().map((c) => dueAt(c)!.getTime());
    return dues.length ? new Date(Math.min(...dues)).toISOString() : null;
  };
  const atRisk = () => running().some((c) => c.warned && c.breachLevel === 0);
  const breached = () => clocks.some((c) => c.breachLevel > 0);
  const state = (): SupportTicketState => ({
    number,
    status,
    assignee,
    escalationLevel,
    atRisk: atRisk(),
    breached: breached(),
    clocks,
    nextDueAt: nextDue(),
    seq,
    refunded,
    approval: approval ? { amount: approval.amount, currency: approval.currency, invoiceMonth: approval.invoiceMonth, at: approval.at } : null,
    doneAt,
  });
  const snapshot = (at: Date): SupportTicketSnapshot => ({
    status,
    assignee,
    escalationLevel,
    atRisk: atRisk(),
    breached: breached(),
    nextDueAt: nextDue(),
    clocks,
    approval,
    rejectionReason,
    withdrawn,
    seq,
    updatedAt: at.toISOString(),
    resolvedAt,
    closedAt,
  });
  const facts = (countUnwritten = true): TicketFacts => ({
    status,
    problemType: input.problemType,
    assigneeId: assignee?.userId ?? null,
    escalationLevel,
    doneAt,
    refunded,
    approving,
    requestedAmount: input.refund?.amount ?? null,
    requestedCurrency: input.refund?.currency ?? null,
    // every entry others added, written or still on its way: an entry not yet on any page is still one its sender
    // has not read (counting only those written let two actions sent at once both pass the check)
    entries: countUnwritten ? entries : entries.filter((e) => e.seq <= writtenSeq),
  });

  // emails in flight: each goes out once its event is written, outside the write queue, so that a slow or
  // unreachable SMTP server never holds back the ticket's next write (a breach must reach the queue at its
  // instant); the workflow ends only once every one has gone
  const sending = new Set<Promise<void>>();
  // emails in line, one line per audience (support staff, the partner): each waits for the one before it in its line,
  // so that after an SMTP outage they still arrive in the order their events happened (an at-risk warning before the
  // escalation, the acknowledgement before the first reply); one that keeps failing holds back the others of its line
  // for the line's EMAIL_ORDER_WAIT at most, and the other line not at all
  const lastInLine: Record<'staff' | 'partner', { done: boolean }> = { staff: { done: true }, partner: { done: true } };

  /**
   * Records an event (and the document as it now is) in the write queue, and resolves once it is written; its
   * emails follow. The state was changed synchronously before: the snapshot is taken now, so the queue writes
   * them in order.
   */
  function record(at: Date, type: SupportEventType, actor: TicketActor, isPublic: boolean, body: string | null, data: Record<string, unknown>, emails: SupportEmailKind[] = []): Promise<void> {
    seq += 1;
    version += 1;
    const event: SupportEventInput = { seq, type, at: at.toISOString(), actor, public: isPublic, body, data };
    if (actor.kind !== 'system') entries.push({ seq, type, userId: actor.userId, name: actor.name, public: isPublic });
    const snap = snapshot(at);
    if (!patched(EMAILS_APART)) {
      // a ticket filed before emails left the write queue replays as it ran
      return serially(async () => {
        await acts.recordSupportEvent(number, input.partnerId, event, snap);
        landed(event.seq);
        for (const kind of emails) await mail.sendSupportEmail(number, event.seq, kind);
      });
    }
    const writeEvent = eventWriter();
    const written = serially(() => writeEvent((a) => a.recordSupportEvent(number, input.partnerId, event, snap)));
    // (a branch of its own, so that what waits on `written` runs when it did before; its handler runs first)
    void written.then(() => landed(event.seq), () => undefined);
    mailAfter(written, event.seq, emails);
    return written;
  }

  /**
   * Sends the emails of event `eventSeq` in the background (see `sending`), once `written` has resolved and, in each
   * audience's line, the emails of the events before it have gone (or EMAIL_ORDER_WAIT has passed).
   */
  function mailAfter(written: Promise<void>, eventSeq: number, emails: SupportEmailKind[]): void {
    if (!emails.length) return;
    if (!patched(EMAILS_IN_ORDER)) {
      sendAfter(written, eventSeq, emails);
      return;
    }
    for (const line of ['partner', 'staff'] as const) {
      const kinds = emails.filter((k) => SUPPORT_STAFF_EMAILS.has(k) === (line === 'staff'));
      if (!kinds.length) continue;
      const before = lastInLine[line];
      const mine = { done: false };
      lastInLine[line] = mine;
      const ready = (async () => {
        if (!before.done && !(await condition(() => before.done, EMAIL_ORDER_WAIT[line]))) {
          log.warn('support email sent ahead of an earlier one still not sent', { ticket: number, seq: eventSeq, emails: kinds });
        }
        await written;
      })();
      sendAfter(ready, eventSeq, kinds, () => (mine.done = true));
    }
  }

  /** Sends `emails` of event `eventSeq`, one after another, once `ready` resolves; `settled` runs when they have gone or failed. */
  function sendAfter(ready: Promise<void>, eventSeq: number, emails: SupportEmailKind[], settled: () => void = () => undefined): void {
    const mailed: Promise<void> = ready
      .then(async () => {
        for (const kind of emails) await mail.sendSupportEmail(number, eventSeq, kind);
      })
      .catch((e: unknown) => log.warn('support email not sent', { ticket: number, seq: eventSeq, emails, error: e instanceof Error ? e.message : String(e) }))
      .finally(() => {
        settled();
        sending.delete(mailed);
      });
    sending.add(mailed);
  }

  // ---- clocks
  const isResponse = (c: SlaClock) => c.kind !== 'resolution';
  const mapRunning = (f: (c: SlaClock) => SlaClock, which: (c: SlaClock) => boolean = () => true) => {
    clocks = clocks.map((c) => (!c.stoppedAt && which(c) ? f(c) : c));
  };
  const stopResponseClocks = (at: Date) => mapRunning((c) => stopClock(c, at, patched(SLA_MILLISECONDS)), isResponse);
  const stopAll = (at: Date) => mapRunning((c) => stopClock(c, at, patched(SLA_MILLISECONDS)));
  const startNextResponse = (at: Date) => {
    if (!clocks.some((c) => isResponse(c) && !c.stoppedAt)) clocks = [...clocks, startClock(policy, input.impact, 'nextResponse', at)];
  };

  /** Until when a partner's reply reopens a request decided at `at` (its email says it); null: it closes at once. */
  const reopenUntil = (at: Date): string | null => reopenUntilAt(at, rules.reopenDays);

  // ---- the clocks' milestones and the auto-close, on durable timers (the loop at the end), or before an action
  // taken after one whose timer has not fired yet (afterMilestonesDueBefore)
  type Due = { at: number; fire: (at: Date) => Promise<void> };
  const milestoneEvents = (c: SlaClock, m: ClockMilestone): Due => {
    const next = nextMilestone(c, policy)!;
    return {
      at: next.at.getTime(),
      // the milestone's own instant (not when the timer was served), so SLA reports are exact
      fire: async (at: Date) => {
        const index = clocks.indexOf(c);
        if (index < 0) return;
        if (m === 'warning') {
          clocks = clocks.map((x, i) => (i === index ? { ...x, warned: true } : x));
          await record(at, 'sla-warning', SYSTEM, false, null, { clock: c.kind, dueAt: dueAt(c)!.toISOString() }, ['at-risk']);
          return;
        }
        const level = m === 'breach' ? 1 : 2;
        clocks = clocks.map((x, i) => (i === index ? { ...x, warned: true, breachLevel: level } : x));
        const rises = escalationLevel < level;
        if (rises) escalationLevel = level;
        // a breach that raises no level (the request was escalated before, by hand) tells the leads all the same: the
        // escalation's email is otherwise their only notice (QA)
        const tell = !rises && m === 'breach' && patched(BREACH_TELLS_LEADS) ? (['breached'] as const) : [];
        const breachEvent = record(at, 'sla-breached', SYSTEM, false, null, { clock: c.kind, dueAt: dueAt(c)!.toISOString(), breachLevel: level, targetSeconds: c.targetSeconds }, [...tell]);
        const escalate = () => record(at, 'escalated', SYSTEM, false, null, { level, reason: `${c.kind} target ${level === 1 ? 'breached' : `exceeded by ${Math.round((policy.secondEscalationAtShare - 1) * 100)}%`}`, manual: false }, ['escalated']);
        if (rises && patched(EVENTS_TOGETHER)) {
          await Promise.all([breachEvent, escalate()]);
          return;
        }
        await breachEvent;
        if (rises) await escalate();
      },
    };
  };
  const nextDueEvent = (): Due | null => {
    let best: Due | null = null;
    for (const c of running()) {
      const m = nextMilestone(c, policy);
      if (!m) continue;
      const d = milestoneEvents(c, m.milestone);
      if (!best || d.at < best.at) best = d;
    }
    if (DONE_STATUSES.includes(status) && doneAt) {
      const closeAt = new Date(doneAt).getTime() + rules.reopenDays * DAY_MS;
      if (!best || closeAt < best.at) {
        best = {
          at: closeAt,
          fire: async (at: Date) => {
            const from = status;
            status = 'closed';
            closedAt = at.toISOString();
            await record(at, 'auto-closed', SYSTEM, true, null, { from, afterDays: rules.reopenDays }, ['closed']);
          },
        };
      }
    }
    return best;
  };

  /**
   * Fires, in order and at their own instants, the milestones due before `at` whose timers have not fired yet (the
   * timer's delay, longer on a loaded machine, lets an action arrive first): the action that follows is then judged
   * and recorded after them, as it happened. Each fire records its events before its first wait, so nothing comes
   * between them. Whether any fired.
   */
  function afterMilestonesDueBefore(at: Date): boolean {
    const fired: Promise<void>[] = [];
    for (let due = nextDueEvent(); due && due.at < at.getTime(); due = nextDueEvent()) {
      if (!fired.length && !patched(MILESTONES_FIRST)) break;
      fired.push(due.fire(new Date(due.at)));
    }
    // their writes go first in the write queue, which retries them without end; a failure would be the database's
    void Promise.all(fired).catch((e: unknown) => log.warn('support milestone not recorded', { ticket: number, error: e instanceof Error ? e.message : String(e) }));
    return fired.length > 0;
  }

  function refuse(code: string, message: string): ApplicationFailure {
    return ApplicationFailure.create({ type: code, message, nonRetryable: true });
  }
  /** The Update's validator (new Updates only) and the first step of applying one (also when replaying). */
  function validate(cmd: SupportCommand, rulesAsOf: { rejectRefundsOnly?: boolean; refundStands?: boolean; limitInCurrency?: boolean; notesWhenClosed?: boolean; sameAssigneeRefused?: boolean; seenChecked?: boolean; seenUnwritten?: boolean } = {}): void {
    if (!recorded) throw refuse('not_ready', 'This support request is still being recorded; try again.');
    const refusal = checkAction(facts(rulesAsOf.seenUnwritten ?? true), { action: cmd.action, actor: cmd.actor, assigneeKind: cmd.assignee?.kind, assigneeId: cmd.assignee?.userId, amount: cmd.amount, reason: cmd.reason, seenSeq: cmd.seenSeq }, rules, now(), rulesAsOf);
    if (refusal) throw refuse(refusal.code, refusal.message);
    if (cmd.action === 'attach' && !cmd.attachment) throw refuse('attachment_required', 'An attach command carries the stored attachment.');
  }

  /**
   * An agent deciding a request nobody has takes it, as a reply to a new one does: the ticket and the support
   * figures then name who decided it, not "nobody". The decision's event says so (`data.took`).
   */
  function decisionTakes(cmd: SupportCommand): { took?: true } {
    if (assignee || (cmd.actor.kind !== 'agent' && cmd.actor.kind !== 'lead') || !patched(DECISION_TAKES)) return {};
    assignee = { userId: cmd.actor.userId, name: cmd.actor.name, email: cmd.actor.email, role: cmd.actor.role };
    return { took: true };
  }

  /**
   * A refund still not answered by the order after a while is said on the ticket, to support staff: the request shows
   * why it takes no other decision (before, only the worker's log said so).
   */
  async function noteApprovalWaiting(refunding: Promise<unknown>, by: string): Promise<void> {
    let answered = false;
    refunding.then(
      () => (answered = true),
      () => (answered = true),
    );
    if (await condition(() => answered, approvalWaitNoteSeconds(rules) * 1000)) return;
    await record(now(), 'note', SYSTEM, false, `The approval by ${by} is being carried out, but the order has not answered yet. It completes by itself once the order answers (its workflow or the database may need mending: see the worker's log); until then this request takes no other decision.`, { approvalWaiting: true });
  }

  async function approve(cmd: SupportCommand): Promise<void> {
    const refund = input.refund!;
    const amount = cmd.amount ?? refund.amount;
    approving = true;
    version += 1;
    try {
      const carryOut = () =>
        refundActs.carryOutSupportRefund({
          orderId: input.orderId!,
          ticket: number,
          amount: { amount, currency: refund.currency },
          actor: { userId: cmd.actor.userId, name: cmd.actor.name, email: cmd.actor.email, role: cmd.actor.role },
          requestId: cmd.requestId ?? input.requestId,
        });
      // the refund writes the order, not the ticket: it waits beside the ticket's write queue, not in it
      // (REFUND_BESIDE_QUEUE), so the ticket's milestones and notes are still written while the order does not answer
      const refunding = patched(REFUND_BESIDE_QUEUE) ? carryOut() : serially(carryOut);
      if (patched(APPROVAL_WAIT_NOTE)) void noteApprovalWaiting(refunding, cmd.actor.name);
      const r = await refunding;
      const at = now();
      // a milestone that fell due while the refund was carried out comes first, as for any action (its timer may
      // reach the worker with the refund's answer)
      void afterMilestonesDueBefore(at);
      refunded = true;
      // what was credited, which is what this ticket asked for the first time, should an approval be sent again with
      // another amount after one whose answer was lost (the order answers a repeat with the first outcome)
      // (a history recorded with an activity's answer that carried no credit replays with the amount asked)
      const credited = r.credit?.amount ?? amount;
      const currency = r.credit?.currency ?? refund.currency;
      approval = { amount: credited, currency, invoiceMonth: r.invoiceMonth, at: at.toISOString(), by: { userId: cmd.actor.userId, name: cmd.actor.name, email: cmd.actor.email, role: cmd.actor.role } };
      const took = decisionTakes(cmd);
      status = 'approved';
      doneAt = at.toISOString();
      resolvedAt = doneAt;
      stopAll(at);
      approving = false;
      await record(at, 'approved', cmd.actor, true, cmd.body ?? null, { amount: credited, currency, invoiceMonth: r.invoiceMonth, orderId: input.orderId, cancelledAt: r.cancelledAt, reopenUntil: reopenUntil(at), ...took }, ['approved']);
    } catch (e) {
      approving = false;
      version += 1;
      if (!(e instanceof ActivityFailure)) throw e;
      // the refusal is a fact of the ticket too (internal), then the approval fails with its reason
      // a refusal (order cancelled meanwhile, never cancellable) keeps its code; retries that ran out (an attempt
      // scheduled with the former limit of 20: refundActs) are 'refund_unavailable': the refund may or may not have
      // been recorded, and approving again finds out (it is carried out at most once, and a repeat answers the first
      // outcome)
      const cause = e.cause instanceof ApplicationFailure ? e.cause : null;
      // (an approval that timed out before this rule was rejected with its bare failure, nothing noted)
      if (!cause && !patched(APPROVE_TIMEOUT_NOTE)) throw e;
      const code = cause?.nonRetryable && cause.type ? cause.type : 'refund_unavailable';
      const why = cause?.message ?? e.cause?.message ?? e.message;
      if (code !== 'refund_unavailable') {
        await record(now(), 'note', SYSTEM, false, `Approval by ${cmd.actor.name} was not carried out: ${why}`, { approvalRefused: code, amount });
        throw refuse(code, why);
      }
      await record(now(), 'note', SYSTEM, false, `Approval by ${cmd.actor.name} could not be confirmed: ${why}. Approve again to carry it out or confirm it; it is never carried out twice.`, { approvalRefused: code, amount });
      throw refuse(code, `The refund could not be carried out or confirmed now (${why}). Approve again later: a refund is never carried out twice.`);
    }
  }

  async function apply(cmd: SupportCommand): Promise<SupportTicketState> {
    // a rejection accepted before rejecting became refund-only replays under the rule it was accepted by
    // the rules a history recorded before them replays without
    const rulesAsOf = () => ({
      rejectRefundsOnly: cmd.action !== 'reject' || patched(REJECT_REFUNDS_ONLY),
      refundStands: cmd.action !== 'withdraw' || patched(REFUND_STANDS),
      limitInCurrency: cmd.action !== 'approve' || patched(LIMIT_IN_CURRENCY),
      notesWhenClosed: cmd.action === 'note' && status === 'closed' && !patched(NO_NOTES_WHEN_CLOSED),
      sameAssigneeRefused: cmd.action !== 'assign' || patched(SAME_ASSIGNEE_REFUSED),
      seenChecked: cmd.seenSeq === undefined || patched(SEEN_CHECKED),
      seenUnwritten: cmd.seenSeq === undefined || patched(SEEN_UNWRITTEN),
    });
    validate(cmd, rulesAsOf());
    const at = now();
    // the milestones that came before it, first; then the action is judged again on what they changed (a request
    // closed by itself meanwhile takes nothing more)
    if (afterMilestonesDueBefore(at)) {
      try {
        validate(cmd, rulesAsOf());
      } catch (e) {
        log.info('support action refused after the milestones due before it', { ticket: number, action: cmd.action, status });
        throw e;
      }
    }
    const before = status;
    const body = cmd.body?.trim() ? cmd.body : null;
    switch (cmd.action) {
      case 'assign': {
        const a = cmd.assignee!;
        const previous = assignee;
        assignee = { userId: a.userId, name: a.name, email: a.email, role: a.role };
        putBack = false;
        status = nextStatus({ status, assigneeId: assignee.userId }, 'assign');
        // someone given the ticket by another (a lead, an agent passing it on) is told by email
        const tell = a.userId !== cmd.actor.userId && patched(ASSIGNED_EMAIL) ? (['assigned'] as const) : [];
        await record(at, 'assigned', cmd.actor, false, body, { assignee: assignee, previous }, [...tell]);
        break;
      }
      case 'unassign': {
        // back in the queue for anyone to take (an action only Updates of this code send: older histories never have it)
        const previous = assignee;
        assignee = null;
        // (the partner's answer to a question asked before must reach someone)
        putBack = status === 'pending';
        status = nextStatus({ status, assigneeId: null }, 'unassign');
        // the one who had it hears of it when someone else (a lead) put it back
        const tell = previous && previous.userId !== cmd.actor.userId ? (['unassigned'] as const) : [];
        // at risk (past a clock's warning point, not yet breached), and nobody has it now: the leads get the warning,
        // which went to the one who had it (its email reads the clock and its due from this event)
        const risky = running().find((c) => c.warned && c.breachLevel === 0);
        const warn = risky && patched(UNASSIGN_WARNS_LEADS) ? { clock: risky.kind, dueAt: dueAt(risky)!.toISOString() } : null;
        await record(at, 'unassigned', cmd.actor, false, body, { previous, ...(warn ?? {}) }, [...tell, ...(warn ? (['at-risk'] as const) : [])]);
        break;
      }
      case 'reply': {
        stopResponseClocks(at);
        // an agent answering a new request nobody has takes it (the reply says so, for the metrics)
        const takes = status === 'new' && !assignee && cmd.actor.kind !== 'system';
        if (takes) assignee = { userId: cmd.actor.userId, name: cmd.actor.name, email: cmd.actor.email, role: cmd.actor.role };
        status = nextStatus({ status, assigneeId: assignee?.userId ?? null }, 'reply');
        await record(at, 'replied', cmd.actor, true, body, takes ? { took: true } : {}, ['reply']);
        break;
      }
      case 'note':
        // internal: shown to support roles only, and no response (the clocks run on)
        await record(at, 'note', cmd.actor, false, body, {});
        break;
      case 'request-information': {
        stopResponseClocks(at);
        mapRunning((c) => pauseClock(c, at, patched(SLA_MILLISECONDS)));
        // asking the partner is answering them: an agent doing it on a request nobody has takes it, as a reply does,
        // so that the partner's answer reaches someone (requests asked about before this rule replay as they ran)
        const takes = status === 'new' && !assignee && cmd.actor.kind !== 'system' && patched(INFO_REQUEST_TAKES);
        if (takes) assignee = { userId: cmd.actor.userId, name: cmd.actor.name, email: cmd.actor.email, role: cmd.actor.role };
        status = 'pending';
        await record(at, 'information-requested', cmd.actor, true, body, takes ? { took: true } : {}, ['information-needed']);
        break;
      }
      case 'partner-reply': {
        const reopening = DONE_STATUSES.includes(status);
        status = nextStatus({ status, assigneeId: assignee?.userId ?? null }, 'partner-reply');
        if (reopening) {
          clocks = clocks.map((c) => (c.kind === 'resolution' ? restartClock(c, at) : c));
          doneAt = null;
          resolvedAt = null;
          // reopened: the decision no longer stands (the timeline keeps the rejection and its reason)
          rejectionReason = null;
        } else if (before === 'pending') {
          mapRunning((c) => resumeClock(c, at));
        }
        startNextResponse(at);
        // the one who has it hears of the reply; a reply that reopens a decision nobody has goes to the leads (the
        // rejection invites it: someone must hear of it), who give it to someone
        // (nor is the answer to a question lost when its asker put the request back in the queue: the leads hear of it)
        const tell = assignee ? patched(PARTNER_REPLY_EMAIL) : (reopening && patched(REOPEN_TELLS_LEADS)) || putBack;
        const replied = record(at, 'partner-replied', cmd.actor, true, body, {}, tell ? ['partner-replied'] : []);
        if (reopening && patched(EVENTS_TOGETHER)) {
          await Promise.all([replied, record(at, 'reopened', cmd.actor, true, null, { from: before })]);
          break;
        }
        await replied;
        if (reopening) await record(at, 'reopened', cmd.actor, true, null, { from: before });
        break;
      }
      case 'approve':
        await approve(cmd);
        break;
      case 'reject': {
        const took = decisionTakes(cmd);
        status = 'rejected';
        rejectionReason = cmd.reason!.trim();
        doneAt = at.toISOString();
        resolvedAt = doneAt;
        stopAll(at);
        await record(at, 'rejected', cmd.actor, true, body, { reason: rejectionReason, reopenUntil: reopenUntil(at), ...took }, ['rejected']);
        break;
      }
      case 'escalate':
        escalationLevel = Math.min(MAX_ESCALATION_LEVEL, escalationLevel + 1);
        await record(at, 'escalated', cmd.actor, false, body, { level: escalationLevel, reason: cmd.reason ?? null, manual: true }, ['escalated']);
        break;
      case 'resolve': {
        const took = decisionTakes(cmd);
        status = 'resolved';
        doneAt = at.toISOString();
        resolvedAt = doneAt;
        stopAll(at);
        await record(at, 'resolved', cmd.actor, true, body, { reopenUntil: reopenUntil(at), ...took }, ['resolved']);
        break;
      }
      case 'attach':
        // a fact on the timeline, seen by whoever may see the ticket; no state or clock changes
        await record(at, 'attached', cmd.actor, true, body, { attachment: cmd.attachment ?? null });
        break;
      case 'close':
      case 'withdraw':
        status = 'closed';
        closedAt = at.toISOString();
        withdrawn = cmd.action === 'withdraw';
        stopAll(at);
        await record(at, cmd.action === 'withdraw' ? 'withdrawn' : 'closed', cmd.actor, true, body, { from: before }, ['closed']);
        break;
    }
    log.info('support action', { ticket: number, action: cmd.action, by: cmd.actor.userId, status, public: isPublicAction(cmd.action) });
    return state();
  }

  setHandler(supportStateQuery, state);
  setHandler(supportRecordedUpdate, async () => {
    await condition(() => recorded);
    return state();
  });
  setHandler(supportCommandUpdate, apply, { validator: (cmd) => validate(cmd) });

  // ---- filing: the document, its first event, the acknowledgement
  seq = 1;
  await write((a) => a.recordSupportTicket(input, snapshot(filedAt)));
  if (patched(EMAILS_APART)) {
    // the filing is answered once recorded; the acknowledgement follows
    recorded = true;
    mailAfter(Promise.resolve(), 1, ['received']);
  } else {
    await mail.sendSupportEmail(number, 1, 'received');
    recorded = true;
  }

  while (status !== 'closed') {
    const seen = version;
    const due = nextDueEvent();
    if (due) {
      const wait = due.at - Date.now();
      if (wait > 0 && (await condition(() => version !== seen || status === 'closed', wait))) continue;
      if (version !== seen) continue;
      await due.fire(new Date(Math.min(due.at, Date.now())));
    } else {
      await condition(() => version !== seen || status === 'closed');
    }
  }

  await queue;
  await condition(allHandlersFinished);
  if (input.orderId && input.refund) await acts.releaseSupportOrderClaim(input.orderId, number);
  // the emails still going out (SMTP may be down a while); a note sent meanwhile is refused (closed), except in
  // histories recorded before that rule
  await condition(() => allHandlersFinished() && sending.size === 0);
  return { number, status };
}
