/**
 * Support requests: problem types, impacts, the ticket's states and the table of every action with who may
 * take it, ticket numbers, and the refund rules. One set of rules, used by the API's checks, the ticket
 * workflow's update validators and the tests.
 */
import { SUPPORT_REQUEST_PROBLEM_TYPE } from './cancellation';
import { IMPACTS, type Impact } from './sla';
import { fromUsdMinor, type CancellationMode } from './catalog';
import { minorDigits } from './markets';
import { formatMinor } from './money';
import { utcHourKey } from './time';

export { IMPACTS, type Impact };

export const GENERAL_PROBLEM_TYPE = 'General question or problem';
export const PROBLEM_TYPES = [SUPPORT_REQUEST_PROBLEM_TYPE, GENERAL_PROBLEM_TYPE] as const;
export type ProblemType = (typeof PROBLEM_TYPES)[number];
export const isRefundType = (t: string) => t === SUPPORT_REQUEST_PROBLEM_TYPE;

/** A request like one the same user filed for the same customer this many minutes before is asked about first (the pages). */
export const REPEAT_FILING_CHECK_MINUTES = 10;

/** How many support requests one user may file in a UTC hour, unless SUPPORT_FILINGS_PER_HOUR says otherwise. */
export const DEFAULT_FILINGS_PER_HOUR = 30;

/**
 * The UTC hour a filing at `now` counts in: its key (`2026-11-27T19`, the slots' prefix after the user's id), when
 * it starts and ends, and the seconds until then (at least 1: the `Retry-After` of a refused filing).
 */
export function filingHour(now: Date): { key: string; startsAt: Date; endsAt: Date; secondsLeft: number } {
  const start = Math.floor(now.getTime() / 3_600_000) * 3_600_000;
  const endsAt = new Date(start + 3_600_000);
  return { key: utcHourKey(new Date(start)), startsAt: new Date(start), endsAt, secondsLeft: Math.max(1, Math.ceil((endsAt.getTime() - now.getTime()) / 1000)) };
}

/** What a filing over the hour's limit is told: the limit, and when (as the reader reads times) the next hour begins. */
export function filingLimitMessage(limit: number, nextHour: string): string {
  return `you have filed ${limit} support request${limit === 1 ? '' : 's'} this hour, the most one user may; file again from ${nextHour}, or ask a colleague to file it`;
}

/**
 * new: filed, nobody assigned; open: an agent works it; pending: waiting on the partner;
 * approved / rejected: the refund decided; resolved: done, the partner may still reply (reopens);
 * closed: final.
 */
export const TICKET_STATUSES = ['new', 'open', 'pending', 'approved', 'rejected', 'resolved', 'closed'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];
/** States in which the ticket is being worked (its clocks may run). */
export const ACTIVE_STATUSES: readonly TicketStatus[] = ['new', 'open', 'pending'];
/** States of a decided ticket that a partner reply within the reopen period brings back. */
export const DONE_STATUSES: readonly TicketStatus[] = ['approved', 'rejected', 'resolved'];

export const TICKET_ACTIONS = [
  'assign',
  'unassign',
  'reply',
  'note',
  'request-information',
  'partner-reply',
  'approve',
  'reject',
  'escalate',
  'resolve',
  'close',
  'withdraw',
  'attach',
] as const;
export type TicketAction = (typeof TICKET_ACTIONS)[number];

/** Who acts: a partner's user, a support agent, a support lead, or the system (timers). */
export type ActorKind = 'partner' | 'agent' | 'lead' | 'system';
export interface TicketActor {
  kind: ActorKind;
  userId: string;
  name: string;
  email: string;
  role: string;
}
export const actorKindOf = (role: string): ActorKind => (role === 'support-lead' ? 'lead' : role === 'support-agent' ? 'agent' : 'partner');
export const isSupport = (a: Pick<TicketActor, 'kind'>) => a.kind === 'agent' || a.kind === 'lead';

export const MAX_ESCALATION_LEVEL = 3;

/** What the rules need to know of a ticket. */
export interface TicketFacts {
  status: TicketStatus;
  problemType: string;
  assigneeId: string | null;
  escalationLevel: number;
  /** when the ticket was resolved/approved/rejected (ISO), for the reopen period */
  doneAt: string | null;
  /** a refund was carried out for this ticket */
  refunded: boolean;
  /** an approval is being carried out */
  approving: boolean;
  requestedAmount: number | null;
  /** the currency of the refund asked for (null for a general question) */
  requestedCurrency?: string | null;
  /** what people (not the system) added to the timeline after its filing, oldest first: for `seenSeq` (changedSince) */
  entries?: readonly TimelineEntryFact[];
}

/** An entry a person added to a ticket's timeline, as the stale-page rule needs it (changedSince). */
export interface TimelineEntryFact {
  seq: number;
  type: SupportEventType;
  userId: string;
  name: string;
  /** shown to the partner */
  public: boolean;
}

export interface TicketRules {
  /** approvals above this amount (minor units, the order's currency) need a support lead */
  approvalLimit: number;
  /** days after resolution during which a partner reply reopens the ticket */
  reopenDays: number;
  /**
   * seconds an approval's refund may wait on the order before the ticket says so in an internal note (absent:
   * APPROVAL_WAIT_NOTE_SECONDS; a test sets a few)
   */
  approvalWaitNoteSeconds?: number;
}

export const DEFAULT_TICKET_RULES: TicketRules = { approvalLimit: 50_000, reopenDays: 7 };

/**
 * An approval's refund is carried out within seconds while the order answers; one still waiting after this long is
 * said on the ticket (an internal note), since the ticket takes no other decision meanwhile.
 */
export const APPROVAL_WAIT_NOTE_SECONDS = 120;
export const approvalWaitNoteSeconds = (rules: Pick<TicketRules, 'approvalWaitNoteSeconds'>): number => rules.approvalWaitNoteSeconds ?? APPROVAL_WAIT_NOTE_SECONDS;

export const TICKET_REFUSALS = {
  not_allowed_for_role: 'Your role may not do this on a support request.',
  invalid_state: 'This support request is {status}: it cannot be {action} now.',
  already_assigned: 'This support request is assigned to someone else: only a support lead may reassign it.',
  already_assignee: 'This support request is already assigned to that person: nothing changed. To tell them something, add an internal note.',
  assignee_not_agent: 'A support request can only be assigned to a support agent or lead.',
  not_assigned: 'Nobody has this support request: there is nothing to put back in the queue.',
  not_your_request: "This support request is someone else's: only they or a support lead may put it back in the queue.",
  not_a_refund: 'Only a refund request ("CSP Purchase/Refund on behalf of customers") can be approved or rejected; resolve this one instead.',
  amount_above_requested: 'The approved amount cannot exceed the amount requested.',
  amount_above_limit: 'Approving more than the approval limit needs a support lead.',
  approval_in_progress: 'An approval of this support request is already being carried out.',
  already_refunded: 'The refund of this support request has already been carried out.',
  reopen_period_passed: 'This support request was resolved more than {reopenDays} days ago; file a new one.',
  max_escalation: 'This support request is already at the highest escalation level.',
  reason_required: 'A reason is required.',
  ticket_changed: 'This support request changed since you opened it{change}. Read what changed, then act again if it still fits.',
} as const;
export type TicketRefusalCode = keyof typeof TICKET_REFUSALS;
export interface TicketRefusal {
  code: TicketRefusalCode;
  message: string;
}

const PAST: Record<TicketAction, string> = {
  assign: 'assigned',
  unassign: 'put back in the queue',
  reply: 'answered',
  note: 'annotated',
  'request-information': 'put on hold for information',
  'partner-reply': 'replied to',
  approve: 'approved',
  reject: 'rejected',
  escalate: 'escalated',
  resolve: 'resolved',
  close: 'closed',
  withdraw: 'withdrawn',
  attach: 'given a file',
};

/** The states each action may start from, and who may take it. */
export const ACTION_TABLE: Record<TicketAction, { from: readonly TicketStatus[]; by: readonly ActorKind[] }> = {
  assign: { from: ['new', 'open', 'pending'], by: ['agent', 'lead'] },
  // back in the queue, for someone else to take: by the one who has it, or a lead
  unassign: { from: ['new', 'open', 'pending'], by: ['agent', 'lead'] },
  reply: { from: ['new', 'open', 'pending', 'approved', 'rejected', 'resolved'], by: ['agent', 'lead'] },
  // a closed request's workflow has ended: nothing more is written on it, notes included
  note: { from: ['new', 'open', 'pending', 'approved', 'rejected', 'resolved'], by: ['agent', 'lead'] },
  'request-information': { from: ['new', 'open'], by: ['agent', 'lead'] },
  'partner-reply': { from: ['new', 'open', 'pending', 'approved', 'rejected', 'resolved'], by: ['partner'] },
  approve: { from: ['new', 'open', 'pending'], by: ['agent', 'lead'] },
  reject: { from: ['new', 'open', 'pending'], by: ['agent', 'lead'] },
  escalate: { from: ['new', 'open', 'pending'], by: ['agent', 'lead', 'system'] },
  resolve: { from: ['new', 'open', 'pending'], by: ['agent', 'lead'] },
  close: { from: ['new', 'open', 'pending', 'approved', 'rejected', 'resolved'], by: ['agent', 'lead', 'system'] },
  withdraw: { from: ['new', 'open', 'pending'], by: ['partner'] },
  // a file on the timeline: anyone who may see the ticket, until it is closed; it changes no state or clock
  attach: { from: ['new', 'open', 'pending', 'approved', 'rejected', 'resolved'], by: ['partner', 'agent', 'lead'] },
};

export interface ActionInput {
  action: TicketAction;
  actor: Pick<TicketActor, 'kind' | 'userId'>;
  /**
   * The last timeline entry the actor saw (the highest `seq` of the timeline they read): the action is refused
   * (`ticket_changed`) when someone else added an entry they would see after it (changedSince). Unset: not checked.
   */
  seenSeq?: number;
  /** assign: the new assignee's kind */
  assigneeKind?: ActorKind;
  assigneeId?: string;
  /** approve */
  amount?: number;
  /** reject */
  reason?: string;
}

/**
 * The approval limit in a request's currency: `SUPPORT_APPROVAL_LIMIT` is in US cents, and another currency takes the
 * price list's rate (so $500.00 is ¥75,000, not ¥50,000); a currency the price list does not have keeps the number.
 */
export function approvalLimitIn(rules: Pick<TicketRules, 'approvalLimit'>, currency: string | null | undefined): number {
  return (currency ? fromUsdMinor(rules.approvalLimit, currency) : null) ?? rules.approvalLimit;
}

/** Approving this amount (minor units of `currency`) is a support lead's. */
export function approvalNeedsLead(amount: number, currency: string | null | undefined, rules: Pick<TicketRules, 'approvalLimit'>, kind: ActorKind): boolean {
  return amount > approvalLimitIn(rules, currency) && kind !== 'lead';
}

const refuse = (code: TicketRefusalCode, vars: Record<string, string | number> = {}): TicketRefusal => ({
  code,
  // (a function, so that a `$` in a name is not read as a replacement pattern)
  message: Object.entries(vars).reduce<string>((m, [k, v]) => m.replace(`{${k}}`, () => String(v)), TICKET_REFUSALS[code]),
});

/**
 * A refusal's message by its code, for a ticket in `status` and the action refused (the ticket page says it after
 * redirecting back from the form), or null for a code that is not a ticket rule's.
 */
export function ticketRefusalMessage(code: string, status: TicketStatus, action: TicketAction, rules: TicketRules): string | null {
  if (!Object.hasOwn(TICKET_REFUSALS, code)) return null;
  return refuse(code as TicketRefusalCode, { status, action: PAST[action], reopenDays: rules.reopenDays, change: '' }).message;
}

/**
 * Whether `input` is allowed on a ticket with `facts` at `now`: null when allowed, else the refusal.
 * `rejectRefundsOnly: false` is the rule before rejecting became a refund's decision only (a ticket workflow
 * replaying a rejection it accepted then: workflows/support.ts); `refundStands: false` the rule before a partner
 * could no longer withdraw a request whose refund was carried out; `limitInCurrency: false` the approval limit
 * before it followed the request's currency; `notesWhenClosed: true` the rule before a closed request stopped taking
 * internal notes (its workflow, still sending its last emails, took them); `sameAssigneeRefused: false` the rule before a
request could not be given to the one who has it (a second `assigned` event and email).
 */
export function checkAction(facts: TicketFacts, input: ActionInput, rules: TicketRules, now: Date, { rejectRefundsOnly = true, refundStands = true, limitInCurrency = true, notesWhenClosed = false, sameAssigneeRefused = true, seenChecked = true } = {}): TicketRefusal | null {
  const row = ACTION_TABLE[input.action];
  if (!row.by.includes(input.actor.kind)) return refuse('not_allowed_for_role');
  if (facts.approving && input.action !== 'note' && input.action !== 'attach') return refuse('approval_in_progress');
  // acting on what one saw: said before the rules of the action, since what changed is the likelier reason (an
  // approval being carried out is said first: what it writes lands only once it is done)
  const changes = seenChecked && input.seenSeq !== undefined ? changedSince(facts.entries ?? [], input.actor, input.seenSeq) : [];
  if (changes.length) {
    const last = changes[changes.length - 1];
    const more = changes.length > 1 ? ` (and ${changes.length - 1} more ${changes.length === 2 ? 'entry' : 'entries'} since)` : '';
    return refuse('ticket_changed', { change: `: ${last.name} ${CHANGE_WORDS[last.type]} (entry ${last.seq})${more}` });
  }
  const noteOnClosed = notesWhenClosed && input.action === 'note' && facts.status === 'closed';
  if (!row.from.includes(facts.status) && !noteOnClosed) return refuse('invalid_state', { status: facts.status, action: PAST[input.action] });
  switch (input.action) {
    case 'assign': {
      if (input.assigneeKind !== 'agent' && input.assigneeKind !== 'lead') return refuse('assignee_not_agent');
      if (sameAssigneeRefused && facts.assigneeId && facts.assigneeId === input.assigneeId) return refuse('already_assignee');
      if (facts.assigneeId && facts.assigneeId !== input.assigneeId && input.actor.kind !== 'lead' && facts.assigneeId !== input.actor.userId) return refuse('already_assigned');
      return null;
    }
    case 'unassign':
      if (!facts.assigneeId) return refuse('not_assigned');
      return facts.assigneeId !== input.actor.userId && input.actor.kind !== 'lead' ? refuse('not_your_request') : null;
    case 'partner-reply': {
      if (DONE_STATUSES.includes(facts.status) && facts.doneAt) {
        const limit = new Date(facts.doneAt).getTime() + rules.reopenDays * 86_400_000;
        if (now.getTime() > limit) return refuse('reopen_period_passed', { reopenDays: rules.reopenDays });
      }
      return null;
    }
    case 'approve': {
      if (!isRefundType(facts.problemType)) return refuse('not_a_refund');
      if (facts.refunded) return refuse('already_refunded');
      const amount = input.amount ?? facts.requestedAmount ?? 0;
      if (facts.requestedAmount !== null && amount > facts.requestedAmount) return refuse('amount_above_requested');
      const currency = limitInCurrency ? facts.requestedCurrency : null;
      if (approvalNeedsLead(amount, currency, rules, input.actor.kind)) {
        // the ticket's own limit (its rules travel with it from filing), said as an amount
        const limit = approvalLimitIn(rules, currency);
        return { code: 'amount_above_limit', message: `Approving more than ${currency ? `${formatMinor(limit, minorDigits(currency))} ${currency}` : limit} needs a support lead.` };
      }
      return null;
    }
    case 'reject':
      // a decision on a refund: a general question is resolved instead, and a refund carried out stays carried out
      if (rejectRefundsOnly && !isRefundType(facts.problemType)) return refuse('not_a_refund');
      if (rejectRefundsOnly && facts.refunded) return refuse('already_refunded');
      return input.reason && input.reason.trim() ? null : refuse('reason_required');
    case 'withdraw':
      // a refund carried out stays carried out: the request is not withdrawn from under it
      return refundStands && facts.refunded ? refuse('already_refunded') : null;
    case 'escalate':
      return facts.escalationLevel >= MAX_ESCALATION_LEVEL ? refuse('max_escalation') : null;
    default:
      return null;
  }
}

/** The status an allowed action leads to. */
export function nextStatus(facts: Pick<TicketFacts, 'status' | 'assigneeId'>, action: TicketAction): TicketStatus {
  switch (action) {
    case 'assign':
      return facts.status === 'new' ? 'open' : facts.status;
    case 'unassign':
      // nobody works it any more: new again (a request waiting on the partner keeps waiting)
      return facts.status === 'open' ? 'new' : facts.status;
    case 'request-information':
      return 'pending';
    case 'partner-reply':
      return facts.status === 'pending' || DONE_STATUSES.includes(facts.status) ? (facts.assigneeId ? 'open' : 'new') : facts.status;
    case 'reply':
      return facts.status === 'new' && facts.assigneeId ? 'open' : facts.status;
    case 'approve':
      return 'approved';
    case 'reject':
      return 'rejected';
    case 'resolve':
      return 'resolved';
    case 'close':
    case 'withdraw':
      return 'closed';
    default:
      return facts.status;
  }
}

/** Kinds of event on a ticket's timeline. */
export type SupportEventType =
  | 'filed'
  | 'assigned'
  | 'unassigned'
  | 'replied'
  | 'note'
  | 'information-requested'
  | 'partner-replied'
  | 'approved'
  | 'rejected'
  | 'escalated'
  | 'resolved'
  | 'closed'
  | 'withdrawn'
  | 'reopened'
  | 'sla-warning'
  | 'sla-breached'
  | 'auto-closed'
  | 'attached';

/** What someone did, as a stale-page refusal says it ("Lee Lead assigned it"). */
const CHANGE_WORDS: Record<SupportEventType, string> = {
  filed: 'filed it',
  assigned: 'assigned it',
  unassigned: 'put it back in the queue',
  replied: 'replied',
  note: 'added an internal note',
  'information-requested': 'asked the partner for more information',
  'partner-replied': 'replied',
  approved: 'approved it',
  rejected: 'rejected it',
  escalated: 'escalated it',
  resolved: 'resolved it',
  closed: 'closed it',
  withdrawn: 'withdrew it',
  reopened: 'reopened it',
  'sla-warning': 'marked it at risk',
  'sla-breached': 'marked it breached',
  'auto-closed': 'closed it',
  attached: 'attached a file',
};

/**
 * What others added to a ticket's timeline after entry `seenSeq` that `actor` sees (a partner: public entries only),
 * oldest first: what someone acting from a page opened before would act without having read. The actor's own entries
 * and the system's (SLA milestones, which `entries` does not hold) are not news to act on.
 */
export function changedSince(entries: readonly TimelineEntryFact[], actor: Pick<TicketActor, 'kind' | 'userId'>, seenSeq: number): TimelineEntryFact[] {
  return entries.filter((e) => e.seq > seenSeq && e.userId !== actor.userId && (e.public || isSupport(actor)));
}

/** Whether an action's event is shown to the partner. */
export const isPublicAction = (action: TicketAction) => action !== 'note' && action !== 'assign' && action !== 'unassign';

// ---------------------------------------------------------------------------------------------------------
// Ticket numbers: `SR-YYMMDD-XXXXXX`, six random Crockford base32 characters (about 1 in a billion per day
// to collide); inserted under the unique `_id`, a collision is retried with new characters.

export const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const TICKET_NUMBER_PATTERN = '^SR-[0-9]{6}-[0-9A-HJKMNP-TV-Z]{6}$';

/** A ticket number for `at` (UTC date) from six random values 0..31. */
export function ticketNumber(at: Date, random: readonly number[]): string {
  if (random.length !== 6 || random.some((r) => !Number.isInteger(r) || r < 0 || r > 31)) throw new RangeError('six random values 0..31 expected');
  const yy = String(at.getUTCFullYear() % 100).padStart(2, '0');
  const mm = String(at.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(at.getUTCDate()).padStart(2, '0');
  return `SR-${yy}${mm}${dd}-${random.map((r) => CROCKFORD[r]).join('')}`;
}

/** Normalises a number as people type it (lower case, I/L for 1, O for 0). */
export function normaliseTicketNumber(input: string): string {
  return input.trim().toUpperCase().replace(/[IL]/g, '1').replace(/O/g, '0').replace(/^SR-(\d{6})-/, 'SR-$1-');
}

// ---------------------------------------------------------------------------------------------------------
// Refund rules

export interface RefundableOrder {
  total: number;
  currency: string;
  /** credits already given for this order, positive minor units */
  creditedAmount: number;
  /** the product's cancellation mode: 'never' (SUSE and Red Hat plans) can be neither cancelled nor refunded */
  cancellationMode: CancellationMode;
}

export interface FieldRefusal {
  field: string;
  code: string;
  message: string;
}

/** A refund request against its order: currency is the order's, 0 < amount <= total less credits given. */
export function checkRefundRequest(order: RefundableOrder, amount: number, currency: string, orderField = 'body.orderId'): FieldRefusal | null {
  if (order.cancellationMode === 'never') {
    return { field: orderField, code: 'never_cancellable', message: `${orderField}: this product can be neither cancelled nor refunded (SUSE and Red Hat plans are non-cancellable); for anything else about it, file a general question or problem` };
  }
  if (currency !== order.currency) {
    return { field: 'body.refund.currency', code: 'currency_mismatch', message: `body.refund.currency must be the order's currency ${order.currency}` };
  }
  if (!Number.isSafeInteger(amount) || amount <= 0) return { field: 'body.refund.amount', code: 'amount_invalid', message: 'body.refund.amount must be a positive whole number of minor units' };
  const refundable = order.total - order.creditedAmount;
  if (amount > refundable) {
    return { field: 'body.refund.amount', code: 'amount_too_high', message: `body.refund.amount exceeds what the order cost less credits already given (${formatMinor(refundable, minorDigits(order.currency))} ${order.currency}, ${refundable} in minor units)` };
  }
  return null;
}

/** Until when a partner's reply reopens a ticket decided `at`, under a reopen period of `reopenDays` (0: never). */
export const reopenUntilAt = (at: Date, reopenDays: number): string | null => (reopenDays > 0 ? new Date(at.getTime() + reopenDays * 86_400_000).toISOString() : null);

/**
 * Until when a partner's reply reopens a decided ticket, as its latest decision recorded it: the `approved`,
 * `rejected` or `resolved` event's `data.reopenUntil` (null: its rules allowed no reopening), worked out by the
 * ticket's workflow from the rules the ticket was filed under, which travel with it. `days` is that period
 * (`reopenDays`). Undefined when no decision recorded it (not decided, or decided before decisions carried it): the
 * caller falls back on today's setting.
 */
export function recordedReopenWindow(timeline: readonly { type: string; at: string; data: Record<string, unknown> }[]): { until: string | null; days: number } | undefined {
  for (let i = timeline.length - 1; i >= 0; i--) {
    const e = timeline[i];
    if (!(DONE_STATUSES as readonly string[]).includes(e.type)) continue;
    if (!('reopenUntil' in e.data)) return undefined;
    const until = e.data.reopenUntil;
    if (until === null) return { until: null, days: 0 };
    if (typeof until !== 'string' || Number.isNaN(Date.parse(until))) return undefined;
    return { until, days: Math.round((Date.parse(until) - Date.parse(e.at)) / 86_400_000) };
  }
  return undefined;
}

/** Lower-cased text the queue's text filter searches. */
export function searchTextOf(t: { number: string; title: string; description: string; customerName: string; customerDomain: string; customerTenantId?: string; orderId: string | null; originalOrderId?: string | null; subscriptionId?: string | null; refundReason?: string | null; contactName: string; contactEmail: string }): string {
  // the customer as the partner's form names it (tenant GUID or domain), the order or subscription, and a refund's
  // reason (QA: "wrong customer" found no request whose reason said so)
  return [t.number, t.title, t.description, t.customerName, t.customerDomain, t.customerTenantId ?? '', t.orderId ?? '', t.originalOrderId ?? '', t.subscriptionId ?? '', t.refundReason ?? '', t.contactName, t.contactEmail].join(' \n ').toLowerCase();
}

/**
 * An attachment's bytes are stored (GridFS) before its upload claims a slot; a crash between the two leaves a file
 * no attachment points to. An upload finishes within minutes, so a file this old that no attachment names is such
 * a leftover, and the nightly housekeeping deletes it.
 */
export const ORPHAN_ATTACHMENT_FILE_HOURS = 24;
export const orphanAttachmentFilesBefore = (now: Date): Date => new Date(now.getTime() - ORPHAN_ATTACHMENT_FILE_HOURS * 3_600_000);

/**
 * Days an action's Idempotency-Key is remembered (`supportidempotency`, `action:<ticket>:<user>:<key>`): a request
 * sent again within them is the same action; the nightly housekeeping forgets older keys. (A filing's key stays:
 * it names the ticket.)
 */
export const ACTION_KEYS_KEPT_DAYS = 30;
export const actionKeysBefore = (now: Date): Date => new Date(now.getTime() - ACTION_KEYS_KEPT_DAYS * 86_400_000);
