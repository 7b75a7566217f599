/**
 * Support pages. Partners (admin-agent, global-admin): file a request (prefilled from an order's "Request
 * support" link), attach files, follow it, reply, withdraw. Agents (support-agent, support-lead): the queue
 * ordered by SLA due with its badges, filters and search, refreshed by htmx polling; a ticket with the
 * partner's request, the order it concerns, the timeline with internal notes set apart and the actions its
 * state allows; the SLA dashboard with server-side SVG charts; links to the Temporal Web UI.
 */
import { AppError } from '../../lib/errors';
import { isTemporalUnavailable } from '../../lib/temporal';
import { minorDigits } from '../../domain/markets';
import { amountExample, formatMinor, formatMoney, parseAmount, type Money } from '../../domain/money';
import { ACTIVE_STATUSES, DONE_STATUSES, IMPACTS, MAX_ESCALATION_LEVEL, PROBLEM_TYPES, TICKET_STATUSES, ACTION_TABLE, TICKET_ACTIONS, actorKindOf, filingLimitMessage, isRefundType, recordedReopenWindow, reopenUntilAt, ticketRefusalMessage, type SupportEventType, type TicketAction, type TicketStatus } from '../../domain/support';
import { orderWorkflowId } from '../../contracts/orders';
import { SUPPORT_REFUND_REFUSALS, SUPPORT_REQUEST_PROBLEM_TYPE, cancellationCreditToday } from '../../domain/cancellation';
import { supportWorkflowId, type SupportAttachmentFact } from '../../contracts/support';
import { Readable } from 'node:stream';
import { Order, SupportTicket, User, isDisabled } from '../../models';
import { parseDay } from '../../domain/licensing';
import { DAY_MS, localDate } from '../../domain/time';
import { ACCEPTED_TYPES, attachmentHeaders, createAttachmentService, type AttachmentLimits } from '../../services/attachments';
import { supportMetrics } from '../../services/support-metrics';
import { METRICS_FIRST_DAY } from '../../domain/support-metrics';
import { listSupportPeople } from '../../services/users';
import { agoInWords, pageFormKey, csrfFailed, csrfOk, declaredTooLarge, definePage, fileTooLarge, isMultipart, NOT_UTF8_FIELD, readMultipartForm, readMultipartText, type MultipartForm, errorsFromAppError, formatBytes, formatDate, formSeenSeq, formUpdateId, may, pageMessage, temporalWorkflowLink, unavailable, validateForm, validatePostedForm, type FieldErrors, type PageContext, type PageDef } from './kit';
import { MESSAGE_PATTERN, NAME_PATTERN, TEXT_PATTERN, textProblem } from '../../domain/text';
import type { PagesContext } from './index';

// the API's text rules (domain/text.ts): a message has a visible character; a name or title is one line of them
const text = (max: number, description: string) => ({ type: 'string', minLength: 1, maxLength: max, pattern: MESSAGE_PATTERN, description });
const line = (max: number, description: string) => ({ type: 'string', minLength: 1, maxLength: max, pattern: NAME_PATTERN, description: `${description} on one line` });
// digits, optionally grouped by commas as the pages show amounts ("1,944.00"); parseAmount reads it
const MONEY = '^([0-9]{1,12}|[0-9]{1,3}(,[0-9]{3}){1,3})([.][0-9]{1,3})?$';

const fileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['problemType', 'impact', 'title', 'customer', 'contactName', 'contactEmail', 'idempotencyKey'],
  properties: {
    problemType: { type: 'string', enum: [...PROBLEM_TYPES] },
    impact: { type: 'string', enum: [...IMPACTS] },
    title: line(200, 'a title of up to 200 characters'),
    customer: { type: 'string', minLength: 1, maxLength: 253, description: "the customer's tenant GUID or domain name" },
    orderId: { type: 'string', minLength: 1, maxLength: 200 },
    refundReason: text(2000, 'the reason for the refund'),
    refundAmount: { type: 'string', pattern: MONEY, description: 'an amount such as 61.00' },
    currency: { type: 'string', pattern: '^[A-Z]{3}$', description: 'a currency code such as USD' },
    contactName: line(200, 'a contact name'),
    contactEmail: { type: 'string', format: 'email', maxLength: 254, description: 'an email address' },
    contactPhone: { type: 'string', minLength: 3, maxLength: 40, pattern: '^[+0-9 ()./-]+$', description: 'a phone number (digits, spaces, + ( ) . / -)' },
    description: { type: 'string', maxLength: 20000, pattern: TEXT_PATTERN, description: 'a description without control characters' },
    idempotencyKey: { type: 'string', pattern: '^[\\x21-\\x7e]{8,200}$' },
    again: { type: 'string', enum: ['yes'] },
  },
};
const FILE_FIELDS = Object.keys(fileSchema.properties);
/** The amount field's fault, in the currency's own example (JPY has no decimals). */
const amountInWords = (currency: string) => `Enter an amount in ${currency}, such as ${amountExample(currency)}.`;

/**
 * The filing form's rules beyond its schema, on what was typed: a refund names its order, reason, amount, currency
 * and a phone; a refund's reason under another problem type would be dropped without a word (the API refuses it
 * too), while the amount and currency a page prefills from the order are not the user's words and are left out
 * quietly. `amount`: the amount in minor units once it reads as one.
 */
function refundRuleErrors(v: Partial<Record<string, string>>): { errors: FieldErrors; amount: number | null } {
  const refund = isRefundType(v.problemType ?? '');
  const errors: FieldErrors = {};
  if (refund && !v.orderId) errors.orderId = 'A refund request names the order.';
  if (refund && !v.refundReason) errors.refundReason = 'Give the reason for the refund.';
  if (refund && !v.refundAmount) errors.refundAmount = 'Enter the amount requested.';
  if (refund && !v.currency) errors.currency = 'Enter the currency of the order.';
  if (!refund && v.refundReason?.trim()) errors.refundReason = `A refund goes with the problem type "${SUPPORT_REQUEST_PROBLEM_TYPE}". Choose that type, or clear the reason for a refund.`;
  if (refund && !v.contactPhone) errors.contactPhone = 'Enter a phone number: a refund request needs one, so that support can call about it.';
  const amount = refund && v.refundAmount && v.currency ? parseAmount(v.refundAmount, v.currency) : null;
  if (refund && v.refundAmount && v.currency && (amount === null || amount < 1)) errors.refundAmount = amountInWords(v.currency);
  return { errors, amount };
}

/** The API's field names (services/support.ts) to the form's. */
const FIELD_OF: Record<string, string> = {
  'body.refund.amount': 'refundAmount',
  'body.refund.currency': 'currency',
  'body.refund.reason': 'refundReason',
  'body.refund': 'refundReason',
  'body.contact.email': 'contactEmail',
  'body.contact.name': 'contactName',
  'body.contact.phone': 'contactPhone',
  'body.subscriptionId': 'orderId',
};

const messageSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['body'],
  properties: { body: text(20000, 'a message with something visible in it'), kind: { type: 'string', enum: ['reply', 'note'] }, again: { type: 'string', enum: ['yes'] } },
};
const assignSchema = { type: 'object', additionalProperties: false, properties: { assigneeId: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_.:-]+$' } } };
const optionalMessage = { type: 'object', additionalProperties: false, properties: { body: text(20000, 'a message with something visible in it'), reason: text(2000, 'a reason with something visible in it'), amount: { type: 'string', pattern: MONEY, description: 'an amount such as 61.00' }, askedAmount: { type: 'string', pattern: MONEY }, again: { const: 'yes' } } };

/**
 * Why a file was not attached, as the ticket's page says it after the upload's redirect (`?refused=<code>`): fixed
 * texts, so that nothing a link carries is shown as it is.
 */
const ATTACH_REFUSALS: Record<string, (limits: AttachmentLimits) => string> = {
  unsupported_attachment_type: () => `This kind of file cannot be attached. Accepted: ${ACCEPTED_TYPES.map((t) => t.label).join(', ')}.`,
  attachment_too_large: (l) => `The file is larger than ${formatBytes(l.maxBytes)}, the limit per file.`,
  too_many_attachments: (l) => `This request has its ${l.maxPerTicket} attachments already (the limit per request).`,
  empty_file: () => 'The file is empty.',
  validation_failed: () => 'Choose a file first.',
  ticket_closed: () => 'This request is closed and takes no more attachments.',
  request_aborted: () => 'The upload was interrupted. Try again.',
  invalid_multipart: () => 'The upload could not be read. Try again.',
  other: () => 'The file was not attached. Try again.',
};
const attachRefusal = (code: string, limits: AttachmentLimits): string => (Object.hasOwn(ATTACH_REFUSALS, code) ? ATTACH_REFUSALS[code] : ATTACH_REFUSALS.other)(limits);

/** Requests per page of a partner's list. */
const PARTNER_LIST_PAGE = 50;
/** the most requests the "Waiting for your answer" table shows at the top of a partner's list */
const WAITING_SHOWN = 100;

/** The ticket page's forms and the action each sends. */
const FORM_ACTIONS: Record<string, TicketAction> = { ...Object.fromEntries(TICKET_ACTIONS.map((a) => [a, a])), 'assign-other': 'assign' };

/**
 * Refusals other than the ticket's rules (domain/support.ts TICKET_REFUSALS), as the page says them: the refund's
 * (domain/cancellation.ts, from the order's workflow) and the service's own.
 */
const SERVICE_REFUSALS: Record<string, string> = {
  ...SUPPORT_REFUND_REFUSALS,
  order_missing: 'The order of this request is not recorded; the approval was not carried out.',
  refund_unavailable: 'The refund could not be carried out or confirmed now. Approve again later: a refund is never carried out twice.',
  amount_above_requested: 'The amount is more than the partner asked for.',
  assignee_disabled: 'That person is disabled and cannot be given requests.',
  unknown_user: 'That person is not a user any more. Reload the page and choose again.',
};

/** The kinds of file a request takes, as the attach form lists them ("PDF, PNG image, …, Excel workbook"). */
const ACCEPTED_KINDS = ACCEPTED_TYPES.map((t) => t.label).join(', ');

/** The text fields of a ticket form as they were sent, to show the form again as typed. */
/**
 * What the form that was sent had seen (`_seen`), for a page that asks before acting or says "did not answer": the
 * question answered, or the button pressed again, still acts from the page the form was on, and is checked as such
 * (otherwise the question's own page, drawn with what is there now, would stand for having read it).
 */
function seenBy(ctx: PageContext): { seenSeq?: number } {
  const seen = formSeenSeq(ctx.req.body);
  return seen === undefined ? {} : { seenSeq: seen };
}

function typedIn(ctx: PageContext): Record<string, string> {
  const body = (ctx.req.body ?? {}) as Record<string, unknown>;
  return Object.fromEntries(['body', 'reason', 'amount'].filter((k) => typeof body[k] === 'string').map((k) => [k, body[k] as string]));
}

/** Refusals of an approval that are about its amount (the page marks the amount field at fault). */
const AMOUNT_REFUSALS: ReadonlySet<string> = new Set(['amount_above_limit', 'amount_above_requested', 'amount_too_high']);

/** What the ticket page says next to a form whose command Temporal did not answer in time (the form is kept as typed). */
const NOT_ANSWERED = 'The service did not answer in time. Press the button again in a few seconds: it is carried out once.';
/** ... and when the form, changed after that, is sent again: the first press may have been carried out. */
const CHANGED_AFTER_NO_ANSWER =
  'An earlier press of this form, with other text, may have been carried out while the service did not answer: check the request above. Press again to send this as a new one.';

/** What the page says after an action was carried out (`?done=<action>` of the redirect after the form). */
const DONE_MESSAGES: Record<TicketAction | 'attached' | 'already-attached', string> = {
  assign: 'Assigned.',
  unassign: 'Put back in the queue: anyone may take it now.',
  reply: 'Reply sent.',
  note: 'Internal note added (support only).',
  'request-information': 'Information requested from the partner; the clocks wait for their answer.',
  'partner-reply': 'Reply sent.',
  approve: 'Approved.',
  reject: 'Rejected; the partner is told why.',
  escalate: 'Escalated.',
  resolve: 'Resolved.',
  close: 'Closed.',
  withdraw: 'Withdrawn.',
  attach: 'File attached.',
  attached: 'File attached.',
  'already-attached': 'This file was attached already (the same content): it is listed once.',
};

/** How each timeline event reads on the page (typed by the event types, so a new type cannot be forgotten). */
/** The fields of the ticket page's forms as a box of text typed in them is named when it is shown back to copy. */
const TYPED_FIELD_NAMES: Record<string, string> = { body: 'the message', amount: 'the amount', reason: 'the reason' };

/** What an entry's label leaves out (QA: "Assigned · Alex" read as if Alex took it; three "Escalated" lines alike). */
function eventDetail(type: string, data: Record<string, unknown>): string | null {
  const name = (x: unknown) => (x && typeof x === 'object' && typeof (x as { name?: unknown }).name === 'string' ? (x as { name: string }).name : null);
  if (type === 'assigned') return name(data.assignee) ? `to ${name(data.assignee)}${name(data.previous) ? ` (was ${name(data.previous)})` : ''}` : null;
  if (type === 'unassigned') return name(data.previous) ? `(was ${name(data.previous)})` : null;
  if (type === 'escalated' && typeof data.level === 'number') return `to level ${data.level}${data.manual === false ? ', by its SLA' : ''}`;
  return null;
}

const EVENT_LABELS: Record<SupportEventType, string> = {
  filed: 'Filed',
  assigned: 'Assigned',
  unassigned: 'Back in the queue',
  replied: 'Reply from support',
  note: 'Internal note',
  'information-requested': 'More information requested',
  'partner-replied': 'Reply from the partner',
  approved: 'Approved',
  rejected: 'Rejected',
  escalated: 'Escalated',
  resolved: 'Resolved',
  closed: 'Closed',
  withdrawn: 'Withdrawn',
  reopened: 'Reopened',
  attached: 'File attached',
  'sla-warning': 'SLA at risk',
  'sla-breached': 'SLA breached',
  'auto-closed': 'Closed automatically',
};

const QUEUE_STATUS_CHOICES = [
  { value: 'active', label: 'Being worked (new, open, pending)' },
  ...TICKET_STATUSES.map((s) => ({ value: s, label: s })),
  { value: 'all', label: 'All' },
];

const queueSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: QUEUE_STATUS_CHOICES.map((c) => c.value) },
    impact: { type: 'string', enum: [...IMPACTS] },
    assignee: { type: 'string', maxLength: 200, pattern: '^(me|none|[A-Za-z0-9_.:-]+)$', description: 'me, none, or a support person from the list' },
    escalated: { type: 'string', enum: ['yes'] },
    atRisk: { type: 'string', enum: ['yes'] },
    text: { type: 'string', maxLength: 200 },
    cursor: { type: 'string', maxLength: 400 },
  },
};
/** The queue's filters by the names the page shows them under. */
const QUEUE_FILTER_LABELS: Record<keyof typeof queueSchema.properties, string> = {
  status: 'Status',
  impact: 'Impact',
  assignee: 'Assignee',
  escalated: 'Escalated',
  atRisk: 'At risk',
  text: 'Search',
  cursor: 'Page',
};

/** The partner a ticket belongs to (read only once the service has let the caller see the ticket). */
async function ticketPartner(number: string): Promise<string> {
  const t = await SupportTicket.findById(number, { partnerId: 1 }).lean();
  if (!t) throw new AppError(404, 'not_found', `support request ${number} was not found`);
  return t.partnerId;
}

/** The cancellation rules' credit today for a ticket's order (cancellationCreditToday), or null for no order. */
function policyToday(order: Parameters<typeof cancellationCreditToday>[0] | null, now: Date) {
  return order ? cancellationCreditToday(order, now) : null;
}

/**
 * What cancelling the order ends, as the approve question and note say it: an Azure reservation has no keys or
 * downloads, its discount stops (QA); software has its keys and links revoked.
 */
export function cancellingEnds(deliverable: string | null): string {
  return deliverable === 'azure-reservation' ? 'the reservation ends' : 'its keys and download links revoked';
}

/**
 * What Approve asks first: approving is final (the whole order cancelled, its keys and links revoked, the amount
 * credited), and an amount above what the cancellation rules credit today is a decision to make knowingly (QA: the
 * form comes with the amount requested, the full price, and one press, or Enter in the amount, credited it above the
 * prorated credit of a subscription still in its window). `amount` null: the amount entered, as the browser asks
 * before the form is sent.
 */
export function approveQuestion(number: string, amount: Money | null, rules: { credit: Money; windowPassed: boolean } | null, deliverable: string | null = null): string {
  const what = amount ? `a refund of ${formatMoney(amount.amount, amount.currency)}` : 'a refund of the amount entered';
  let question = `Approve ${what} for ${number}? The whole order is cancelled and ${cancellingEnds(deliverable)}; this cannot be undone.`;
  const rulesCredit = rules?.credit ?? null;
  if (rules?.windowPassed) {
    question += ' The cancellation rules credit nothing today: its window has passed, so all of it is an exception to the rule.';
  } else if (rulesCredit && (amount === null || (amount.currency === rulesCredit.currency && amount.amount > rulesCredit.amount))) {
    const credit = formatMoney(rulesCredit.amount, rulesCredit.currency);
    question += amount ? ` That is ${formatMoney(amount.amount - rulesCredit.amount, amount.currency)} more than the cancellation rules credit today (${credit}).` : ` The cancellation rules credit ${credit} today.`;
  }
  return question;
}

export function supportPages(deps: PagesContext): PageDef[] {
  const support = deps.support!;
  const attachments = createAttachmentService(deps.attachments!);
  const temporalLink = (workflowId: string) => temporalWorkflowLink(deps.temporalUiUrl, deps.temporalNamespace, workflowId);

  // ------------------------------------------------------------------ filing
  /** `repeatOf`: the request this one repeats (asked about, with a box); `openRefund`: the order's open refund request. */
  const filePage = async (ctx: PageContext, values: Record<string, unknown>, errors: FieldErrors = {}, status = 200, repeatOf: string | null = null, openRefund: string | null = null) => {
    ctx.view(
      'support/new',
      {
        title: 'New support request',
        problemTypes: PROBLEM_TYPES.map((p) => ({ value: p, selected: p === values.problemType })),
        impacts: IMPACTS.map((i) => ({ value: i, selected: i === (values.impact ?? 'moderate') })),
        values: { ...values, idempotencyKey: values.idempotencyKey || deps.newKey() },
        errors,
        repeatOf,
        openRefund,
        maxFileMb: Math.round(attachments.limits.maxBytes / 1024 / 1024),
        acceptedKinds: ACCEPTED_KINDS,
      },
      status,
    );
  };

  // ------------------------------------------------------------------ a ticket
  /** The field a refusal of the request's rules is about: the approval's amount for the amount's refusals. */
  const faultOfRefusal = (form: string, code: string): Record<string, string> => (form === 'approve' && AMOUNT_REFUSALS.has(code) ? { approve: 'amount' } : {});
  /** The ticket's own reopen period and its end (recordedReopenWindow), or today's setting's for a decision that did not record it. */
  const reopenUntilOf = (ticket: { status: TicketStatus; resolvedAt: string | null; timeline: Parameters<typeof recordedReopenWindow>[0] }): string | null => {
    if (!DONE_STATUSES.includes(ticket.status) || !ticket.resolvedAt) return null;
    const recorded = recordedReopenWindow(ticket.timeline);
    if (recorded) return recorded.until;
    return reopenUntilAt(new Date(ticket.resolvedAt), support.settings.rules.reopenDays);
  };
  /** A refusal's code in the page's words, for the ticket as it is now. */
  const refusalMessage = (form: string, code: string, ticket: { status: TicketStatus; approvalLimit: number | null; refund: { currency: string } | null; timeline: Parameters<typeof recordedReopenWindow>[0] }): string =>
    // the limit an approval went over, in the request's currency (as the note above the form gives it)
    (code === 'amount_above_limit' && ticket.approvalLimit !== null && ticket.refund ? `Approving more than ${formatMoney(ticket.approvalLimit, ticket.refund.currency)} needs a support lead.` : null) ??
    // the reopen period the ticket's decision recorded, not today's setting
    ticketRefusalMessage(code, ticket.status, FORM_ACTIONS[form], { ...support.settings.rules, reopenDays: recordedReopenWindow(ticket.timeline)?.days ?? support.settings.rules.reopenDays }) ??
    (Object.hasOwn(SERVICE_REFUSALS, code) ? SERVICE_REFUSALS[code] : 'This could not be done. Reload the page and try again.');
  /** The refusal a form's redirect names (`?form=<form>&refused=<code>`; the upload's `?refused=<code>`), on its form. */
  const refusedForm = (ctx: PageContext, ticket: Parameters<typeof refusalMessage>[2]): { formErrors?: Record<string, string>; fault?: Record<string, string> } => {
    const { form, refused } = ctx.req.query;
    if (typeof refused !== 'string') return {};
    // (sent with the filing: the request is filed all the same, which the refusal, where the focus goes, says first: QA)
    if (form === undefined) return { formErrors: { attach: `${ctx.req.query.filed === '1' ? 'Your request is filed, without its file. ' : ''}${attachRefusal(refused, attachments.limits)}` } };
    if (typeof form !== 'string' || !Object.hasOwn(FORM_ACTIONS, form)) return {};
    return { formErrors: { [form]: refusalMessage(form, refused, ticket) }, fault: faultOfRefusal(form, refused) };
  };
  /**
   * Whether the page draws the form, as show.hbs decides it: a reply form serves replies, notes and the partner's
   * replies; the upload form is there while the request is not closed; "Assign to" needs someone to choose.
   */
  const drawn = (form: string, allowed: Set<TicketAction>, ticketStatus: TicketStatus, assignees: number): boolean => {
    if (form === 'reply') return allowed.has('reply') || allowed.has('note') || allowed.has('partner-reply');
    if (form === 'attach') return ticketStatus !== 'closed';
    if (form === 'assign-other') return allowed.has('assign') && assignees > 0;
    return Object.hasOwn(FORM_ACTIONS, form) && allowed.has(FORM_ACTIONS[form]);
  };

  const ticketPage = async (ctx: PageContext, id: string, extra: Record<string, unknown> = {}, status = 200) => {
    const ticket = await support.view(ctx.auth, id);
    // a refusal of the ticket's rules shown in place (command below), worded for the ticket's state now
    const { refusal, formErrors: given, typed: typedGiven, fault: faultGiven, ...rest } = extra as { refusal?: { form: string; code: string; said?: string }; formErrors?: Record<string, string>; typed?: Record<string, Record<string, string>>; fault?: Record<string, string> };
    // (what changed, as the ticket's workflow said it: who did what, and which entry; the page shows that entry)
    const refused = (r: { form: string; code: string; said?: string }) => (r.code === 'ticket_changed' && r.said ? r.said : refusalMessage(r.form, r.code, ticket));
    const redirected = refusedForm(ctx, ticket);
    const formErrors = { ...(redirected.formErrors ?? {}), ...(given ?? {}), ...(refusal ? { [refusal.form]: refused(refusal) } : {}) };
    // the field each refusal is about (marked invalid, described by the refusal, focused): a field the form check
    // named, or the amount of an approval its rules refused; none for a refusal of the request's state
    const fault: Record<string, string> = { ...(redirected.fault ?? {}), ...(refusal ? faultOfRefusal(refusal.form, refusal.code) : {}), ...(faultGiven ?? {}) };
    const typed = typedGiven ?? {};
    const agent = may(ctx.auth.role, ctx.auth.partnerId, 'workSupportRequests');
    const kind = actorKindOf(ctx.auth.role);
    const allowed = new Set<TicketAction>(TICKET_ACTIONS.filter((a) => ACTION_TABLE[a].from.includes(ticket.status) && ACTION_TABLE[a].by.includes(kind)));
    if (!isRefundType(ticket.problemType)) {
      allowed.delete('approve');
      allowed.delete('reject');
    }
    // a refund carried out stands: neither rejected nor withdrawn after it, nor carried out again
    if (ticket.approval) {
      allowed.delete('reject');
      allowed.delete('withdraw');
      allowed.delete('approve');
    }
    if (!may(ctx.auth.role, ctx.auth.partnerId, 'withdrawSupportRequests')) allowed.delete('withdraw');
    if (ticket.escalationLevel >= MAX_ESCALATION_LEVEL) allowed.delete('escalate');
    // back in the queue: a request someone has, by that one or a lead (no button that can only be refused)
    if (!ticket.assignee || (ticket.assignee.userId !== ctx.auth.user._id && kind !== 'lead')) allowed.delete('unassign');
    // the order it concerns, as its partner sees it (support.view above has already checked the caller may see the ticket)
    const order = ticket.orderId ? await deps.orders.view(await ticketPartner(ticket.number), ticket.orderId).catch(() => null) : null;
    // an order cancelled meanwhile by another (the partner, within its window) has nothing left to refund: no Approve
    // that can only fail. Cancelled by this request's own refund, whose answer was lost (refund_unavailable), Approve
    // stays: pressing it again confirms the refund
    if (order?.status === 'cancelled' && !ticket.approval) {
      const byThisRequest = (await Order.findById(ticket.orderId, { 'cancellation.supportTicket': 1 }).lean())?.cancellation?.supportTicket === ticket.number;
      if (!byThisRequest) allowed.delete('approve');
    }
    const policy = agent ? policyToday(order, deps.now?.() ?? new Date()) : null;
    const files = await attachments.list(ctx.auth, id);
    // whom the ticket can be given to (the workflow decides who may: reassigning someone else's ticket is a lead's)
    // (an agent may give an unassigned ticket or their own; someone else's is a lead's to give: no list that can only fail)
    const mayGiveAway = ctx.auth.role === 'support-lead' || !ticket.assignee || ticket.assignee.userId === ctx.auth.user._id;
    const others = allowed.has('assign') && mayGiveAway ? (await listSupportPeople()).filter((p) => p.id !== ctx.auth.user._id && p.id !== ticket.assignee?.userId) : [];
    // a file is named on the timeline as it downloads (its type's extension), as in the list of attachments (QA)
    const downloadNames = new Map(files.map((f) => [f.id, f.downloadName]));
    const timeline = ticket.timeline.map((e: (typeof ticket.timeline)[number]) => {
      const file = e.type === 'attached' ? (e.data.attachment as SupportAttachmentFact | null) : null;
      return {
        ...e,
        label: EVENT_LABELS[e.type] ?? e.type.replace(/-/g, ' '),
        detail: eventDetail(e.type, e.data),
        internal: !e.public,
        file: file ? { name: downloadNames.get(file.id) ?? file.name, href: `/app/support/${encodeURIComponent(ticket.number)}/attachments/${file.id}` } : null,
      };
    });
    ctx.view(
      'support/show',
      {
        title: `${ticket.number}: ${ticket.title}`,
        ticket,
        formKey: deps.newKey(),
        // what the forms say was seen: an action sent from this page after someone else added to the request is refused
        seenSeq: Math.max(0, ...ticket.timeline.map((e: { seq: number }) => e.seq)),
        agent,
        order,
        publicTimeline: timeline.filter((e: { internal: boolean }) => !e.internal),
        internalNotes: timeline.filter((e: { internal: boolean }) => e.internal),
        timeline,
        files: files.map((f) => ({ ...f, href: `/app/support/${encodeURIComponent(ticket.number)}/attachments/${f.id}` })),
        acceptsFiles: ticket.status !== 'closed',
        maxFileMb: Math.round(attachments.limits.maxBytes / 1024 / 1024),
        acceptedKinds: ACCEPTED_KINDS,
        actions: Object.fromEntries([...allowed].map((a) => [a, true])),
        assignees: others.map((p) => ({ ...p, label: `${p.name} (${p.role === 'support-lead' ? 'lead' : 'agent'})` })),
        // "Assign to me" only where it can be done: an unassigned ticket, or a lead taking someone else's
        mayTakeIt: ticket.assignee?.userId !== ctx.auth.user._id && (!ticket.assignee || kind === 'lead'),
        // (a file is attached in its own section, above)
        anyAction: [...allowed].some((a) => a !== 'attach'),
        mayFile: may(ctx.auth.role, ctx.auth.partnerId, 'fileSupportRequests'),
        requested: ticket.refund ? formatMinor(ticket.refund.amount, minorDigits(ticket.refund.currency)) : null,
        // the most the server approves from this user (the amount requested; a non-lead's limit below it): above it the
        // browser does not ask first, as the approval is refused anyway (app.js)
        approveMax: ticket.refund ? Math.min(ticket.refund.amount, ticket.approvalLimit !== null && kind !== 'lead' ? ticket.approvalLimit : Infinity) : null,
        minorDigits: ticket.refund ? minorDigits(ticket.refund.currency) : null,
        // an agent is told the limit before trying: above it, a lead approves
        approvalLimit: ticket.refund && ticket.approvalLimit !== null && ticket.refund.amount > ticket.approvalLimit && kind !== 'lead' ? formatMoney(ticket.approvalLimit, ticket.refund.currency) : null,
        workflowLink: agent ? temporalLink(supportWorkflowId(ticket.number)) : null,
        orderWorkflowLink: agent && ticket.orderId ? temporalLink(orderWorkflowId(ticket.orderId)) : null,
        // for the agent deciding a refund: what the partner's own cancellation would credit today, and whether the
        // window for it has passed (an approval is then an exception to the 60-day rule, the agent's to make)
        policy,
        approveQuestion: allowed.has('approve') && ticket.refund ? approveQuestion(ticket.number, null, policy && policy.credit.amount < ticket.refund.amount ? policy : null, order?.product.deliverable ?? null) : null,
        // the approve note says what cancelling ends: an Azure reservation has no keys or downloads
        orderIsReservation: order?.product.deliverable === 'azure-reservation',
        // a partner's reply to a decided request reopens it, until then: as its decision recorded it (the ticket's own
        // rules, SUPPORT_REOPEN_DAYS when it was filed); for a decision that did not record it, today's setting
        reopenUntil: reopenUntilOf(ticket),
        filed: ctx.req.query.filed === '1',
        // (shown to the filer, just redirected here) who gets the acknowledgement too, when the contact is someone else
        ackAlsoToFiler: ticket.contact.email.toLowerCase() !== ctx.auth.user.email.toLowerCase(),
        decided: !ACTIVE_STATUSES.includes(ticket.status),
        // support staff are told when the one who has the request can no longer act on it (a disabled user)
        assigneeDisabled: agent && ticket.assignee ? await User.findById(ticket.assignee.userId).lean().then((u) => Boolean(u && isDisabled(u))) : false,
        done: typeof ctx.req.query.done === 'string' && Object.hasOwn(DONE_MESSAGES, ctx.req.query.done) ? DONE_MESSAGES[ctx.req.query.done as keyof typeof DONE_MESSAGES] : null,
        ...rest,
        ...refusalShown(formErrors, typed, (f) => drawn(f, allowed, ticket.status, others.length)),
        fault,
      },
      status,
    );
  };
  /**
   * A refusal is said next to its form, with what was typed in it; a form the request's state no longer draws (a
   * reply to a request closed meanwhile) has its refusal, and what was typed, said above the actions to copy.
   */
  const refusalShown = (formErrors: Record<string, string>, typed: Record<string, Record<string, string>>, isDrawn: (form: string) => boolean) => {
    const gone = Object.keys(formErrors).filter((f) => !isDrawn(f));
    // each box named with its field (QA: an approval's amount and message were both "What you typed")
    const text = (f: string) =>
      Object.entries(typed[f] ?? {})
        .filter(([, v]) => v.trim() !== '')
        .map(([k, v]) => ({ label: TYPED_FIELD_NAMES[k] ?? k, value: v }));
    return {
      formErrors: Object.fromEntries(Object.entries(formErrors).filter(([f]) => !gone.includes(f))),
      typed,
      // (each under its form's `<form>-form-error` id: the address a refusal's redirect ends in, where the focus goes)
      unsent: gone.map((f) => ({ form: f, message: formErrors[f], text: text(f) })),
    };
  };

  /**
   * Runs a ticket command. Done, the browser goes back to the ticket's own address (a reload then re-posts nothing).
   * Refused by the request's rules with something typed in the form, the page is shown in place with the refusal next
   * to the form and what was typed (a reload asks the browser to send the form again, which is tried again as it is; one
   * refused as `ticket_changed` is refused again so, as it still says what it had seen: the page's own button sends it);
   * with nothing typed, back to the ticket's address with the refusal by its code (fixed texts: nothing a link
   * carries is shown as it is). Not answered in time (Temporal down or slow), the page is shown in place (503)
   * with the form as typed and its key: the Update may have been taken, so pressing again (or reloading) sends
   * the same Update, carried out once, and nothing typed is lost.
   */
  const command = async (ctx: PageContext, id: string, form: string, run: () => Promise<unknown>, done: string) => {
    const back = `/app/support/${encodeURIComponent(id)}`;
    try {
      await run();
    } catch (e) {
      if (isTemporalUnavailable(e)) {
        const key = pageFormKey(ctx.req.body);
        // (and what the form had seen: pressed again, it is the same action from the same page, checked as such)
        return ticketPage(ctx, id, { formErrors: { [form]: NOT_ANSWERED }, typed: { [form]: typedIn(ctx) }, ...(key ? { formKey: key } : {}), ...seenBy(ctx) }, 503);
      }
      // the form's key went with other text (changed after "did not answer"): shown as typed, with a new key, to decide
      if (e instanceof AppError && e.code === 'idempotency_key_reused') return ticketPage(ctx, id, { formErrors: { [form]: CHANGED_AFTER_NO_ANSWER }, typed: { [form]: typedIn(ctx) } }, 409);
      // (a refund that could not be carried out or confirmed is said next to its form too, in the page's words)
      const code = e instanceof AppError && e.status !== 404 && (e.status < 500 || e.code === 'refund_unavailable') ? e.code : null;
      if (code === null) throw e;
      // what was typed is not lost: the page is shown in place with it (the request's state may have changed since
      // the page was opened); with nothing typed, back to the ticket's address, saying why by code
      const typed = typedIn(ctx);
      if (Object.values(typed).some((v) => v.trim() !== '')) return ticketPage(ctx, id, { refusal: { form, code, said: (e as AppError).message }, typed: { [form]: typed } }, (e as AppError).status);
      return ctx.redirect(`${back}?form=${encodeURIComponent(form)}&refused=${encodeURIComponent(code)}#${form}-form-error`);
    }
    ctx.redirect(`${back}?done=${done}`);
  };

  const actionPage = (action: 'unassign' | 'request-information' | 'approve' | 'reject' | 'escalate' | 'resolve' | 'close' | 'withdraw', permission: 'workSupportRequests' | 'withdrawSupportRequests') =>
    definePage({
      method: 'post',
      path: `/support/:id/${action}`,
      permission,
      handler: async (ctx) => {
        const id = String(ctx.req.params.id);
        const form = validatePostedForm<{ body?: string; reason?: string; amount?: string; askedAmount?: string; again?: 'yes' }>(optionalMessage, (ctx.req.body ?? {}) as Record<string, unknown>);
        // a form refused here comes back as typed, with the reason next to it
        const again = (message: string, field: string | undefined) => ticketPage(ctx, id, { formErrors: { [action]: message }, typed: { [action]: typedIn(ctx) }, ...(field ? { fault: { [action]: field } } : {}) }, 400);
        // the text an action needs, left blank (or only spaces): said in the action's words
        const needed = action === 'request-information' ? { field: 'body', message: 'Write what information you need.' } : action === 'reject' ? { field: 'reason', message: 'Give the reason for the rejection.' } : null;
        if (needed && (typedIn(ctx)[needed.field] ?? '').trim() === '') return again(needed.message, needed.field);
        if (!form.ok) {
          const [field, message] = Object.entries(form.errors)[0];
          // an amount not written as one: in the request's own currency's example (QA: "such as 61.00" for yen)
          if (field === 'amount' && action === 'approve') {
            const t = await support.view(ctx.auth, id);
            if (t.refund) return again(amountInWords(t.refund.currency), field);
          }
          return again(message, field);
        }
        const v = form.value;
        let amount: number | undefined;
        if (action === 'approve') {
          const t = await support.view(ctx.auth, id);
          const typed = v.amount?.trim() ?? '';
          // the form comes with the requested amount in it: a field emptied is no decision to credit all of it (the
          // API's `amount` left out is); approving is final, so the page asks for the amount instead
          if (t.refund && typed === '') return again(`Enter the amount to refund, in ${t.refund.currency} (the request asks for ${formatMoney(t.refund.amount, t.refund.currency)}).`, 'amount');
          if (typed !== '') {
            const m = t.refund ? parseAmount(typed, t.refund.currency) : null;
            if (m === null || m < 1) return again(t.refund ? amountInWords(t.refund.currency) : `Enter an amount in the request's currency, such as ${amountExample('USD')}.`, 'amount');
            amount = m;
          }
          // approving cannot be undone either: asked first, as closing is (below), naming the cancellation rules'
          // credit when the amount is above it; asked again when the box comes ticked with another amount than the one
          // asked about. Not asked when the approval is refused anyway (the approval limit, an amount above the one
          // requested, an order cancelled meanwhile, a refund carried out): its refusal says why
          const askedAbout = v.askedAmount !== undefined && t.refund ? parseAmount(v.askedAmount, t.refund.currency) : undefined;
          if (t.refund && amount !== undefined && (v.again !== 'yes' || (askedAbout !== undefined && askedAbout !== amount))) {
            const order = t.orderId ? await deps.orders.view(await ticketPartner(id), t.orderId).catch(() => null) : null;
            const fits = ACTION_TABLE.approve.from.includes(t.status) && !t.approval && order?.status !== 'cancelled';
            const aboveLimit = t.approvalLimit !== null && amount > t.approvalLimit && actorKindOf(ctx.auth.role) !== 'lead';
            // (QA: $500 against $305 requested was asked about, then refused once the box was ticked)
            const aboveRequested = amount > t.refund.amount;
            if (fits && !aboveLimit && !aboveRequested) {
              const credited = { amount, currency: t.refund.currency };
              const key = pageFormKey(ctx.req.body);
              return ticketPage(
                ctx,
                id,
                {
                  formErrors: { approve: `${approveQuestion(id, credited, policyToday(order, deps.now?.() ?? new Date()), order?.product.deliverable ?? null)} To go on, tick the box and press again.` },
                  typed: { approve: typedIn(ctx) },
                  askAgainApprove: true,
                  askedAmount: formatMinor(amount, minorDigits(t.refund.currency)),
                  ...(key ? { formKey: key } : {}),
                  ...seenBy(ctx),
                },
                409,
              );
            }
          }
        }
        // closing or withdrawing cannot be undone: asked first. With script the browser asks (and the form then says
        // `again=yes`); without, the page comes back with the question and a box to tick, under the form's own key
        // (nothing went out with it: pressed after "did not answer", it stays the same Update). A request the action
        // no longer fits (closed meanwhile, a refund carried out) is not asked about: the action's refusal says why.
        if ((action === 'close' || action === 'withdraw') && v.again !== 'yes') {
          const t = await support.view(ctx.auth, id);
          const fits = ACTION_TABLE[action].from.includes(t.status) && !(action === 'withdraw' && t.approval);
          if (fits) {
            const question = action === 'close' ? `Close ${id}? A closed request takes nothing more.` : `Withdraw ${id}? It is closed, and takes nothing more.`;
            const key = pageFormKey(ctx.req.body);
            return ticketPage(
              ctx,
              id,
              { formErrors: { [action]: `${question} To go on, tick the box and press again.` }, [action === 'close' ? 'askAgainClose' : 'askAgainWithdraw']: true, ...(key ? { formKey: key } : {}), ...seenBy(ctx) },
              409,
            );
          }
        }
        const updateId = formUpdateId(ctx.req.body, action);
        // escalating again a moment after one's own escalation (Back brings the form back with a new key): ask first;
        // each escalation raises the level and writes to the leads
        // (at the highest level there is nothing to ask: the escalation is refused as it is)
        if (action === 'escalate' && v.again !== 'yes' && (await support.view(ctx.auth, id)).escalationLevel < MAX_ESCALATION_LEVEL) {
          const now = deps.now?.() ?? new Date();
          const repeat = await support.recentOwnEvent(ctx.auth, id, 'escalated', updateId, now);
          if (repeat) {
            return ticketPage(ctx, id, { formErrors: { escalate: `You escalated this request ${agoInWords(repeat.at, now)} (see above). To escalate it again, one level higher, tick the box and press again.` }, typed: { escalate: typedIn(ctx) }, askAgainEscalate: true, ...seenBy(ctx) }, 409);
          }
        }
        return command(ctx, id, action, () => support.act(ctx.auth, id, action, { body: v.body, reason: v.reason, amount, seenSeq: formSeenSeq(ctx.req.body) }, updateId), action);
      },
    });

  return [
    definePage({
      method: 'get',
      path: '/support',
      permission: 'readSupportRequests',
      handler: async (ctx) => {
        if (may(ctx.auth.role, ctx.auth.partnerId, 'workSupportRequests')) return ctx.redirect('/app/queue');
        // first what waits on the partner (its clocks are paused, so it sorts after every running one), then every
        // request by SLA due, a page at a time
        const cursor = typeof ctx.req.query.cursor === 'string' && ctx.req.query.cursor.length <= 400 ? ctx.req.query.cursor : undefined;
        const waitingPage = cursor ? null : await support.list(ctx.auth, { status: 'pending', limit: WAITING_SHOWN });
        let page;
        let cursorError: string | null = null;
        try {
          page = await support.list(ctx.auth, { limit: PARTNER_LIST_PAGE, cursor });
        } catch (e) {
          if (!(e instanceof AppError && e.field === 'query.cursor')) throw e;
          cursorError = 'This page link is not valid any more; here is the first page.';
          page = await support.list(ctx.auth, { limit: PARTNER_LIST_PAGE });
        }
        ctx.view('support/list', {
          title: 'Support requests',
          waiting: waitingPage?.items ?? [],
          // more wait than the table shows: they are all in the full list too, after the running ones
          waitingMore: waitingPage?.nextCursor ? WAITING_SHOWN : null,
          tickets: page.items,
          cursorError,
          nextUrl: page.nextCursor ? `/app/support?cursor=${encodeURIComponent(page.nextCursor)}` : null,
          firstUrl: cursor && !cursorError ? '/app/support' : null,
        });
      },
    }),
    definePage({
      method: 'get',
      path: '/support/new',
      permission: 'fileSupportRequests',
      handler: async (ctx) => {
        const orderId = typeof ctx.req.query.orderId === 'string' ? ctx.req.query.orderId.slice(0, 200) : '';
        const values: Record<string, unknown> = { contactName: ctx.auth.user.name, contactEmail: ctx.auth.user.email, problemType: PROBLEM_TYPES[1] };
        if (orderId) {
          // prefilled from the order, named by either of its ids: another partner's order is a 404, as reading it is
          const order = await deps.orders.view(ctx.auth.partnerId!, orderId);
          const about = { customer: order.customer.tenantId, customerName: order.customer.name, orderId: order.id };
          // a SUSE or Red Hat plan can be neither cancelled nor refunded: a question about it, not a refund
          Object.assign(
            values,
            order.product.cancellation.mode === 'never'
              ? { ...about, problemType: PROBLEM_TYPES[1], title: `Question: ${order.product.name} for ${order.customer.name}` }
              : {
                  ...about,
                  problemType: PROBLEM_TYPES[0],
                  title: `Refund: ${order.product.name} for ${order.customer.name}`,
                  refundAmount: formatMinor(order.pricing.total, minorDigits(order.pricing.currency)),
                  currency: order.pricing.currency,
                },
          );
        }
        await filePage(ctx, values);
      },
    }),
    definePage({
      method: 'post',
      path: '/support',
      permission: 'fileSupportRequests',
      // the page's form is multipart, since a file may go with it ("Add files", the document's optional step): its
      // CSRF token is checked here, before a byte of the file is kept or anything filed (other bodies: by the kit)
      multipartCsrf: true,
      // (the form is on the filing page, not on the list at its address)
      home: '/support/new',
      handler: async (ctx) => {
        let input = (ctx.req.body ?? {}) as Record<string, unknown>;
        let file: MultipartForm['file'] = null;
        let notUtf8: string[] = [];
        if (isMultipart(ctx.req)) {
          const csrf = (fields: Record<string, string>) => (csrfOk(ctx.active.session.csrfToken, fields._csrf) ? null : csrfFailed(ctx, fields));
          // a file too large for the form: the form comes back as typed (its text read, the file never), with the
          // limit next to the file and nothing filed (QA: a bare 413 page, which said neither)
          if (declaredTooLarge(ctx.req, attachments.limits.maxBytes)) {
            const typed = await readMultipartText(ctx.req);
            const refused = typed && csrf(typed);
            if (refused) throw refused;
            const tooLarge = `${fileTooLarge(attachments.limits.maxBytes).message} Nothing was filed: choose a smaller file, or file the request without it and attach files on its page.`;
            return filePage(ctx, typed ?? {}, { file: tooLarge, ...(typed ? {} : { _form: 'What you typed could not be kept: fill the form in again.' }) }, 413);
          }
          const read = await readMultipartForm(ctx.req, attachments.limits.maxBytes, csrf);
          const refused = csrf(read.fields);
          if (refused) throw refused;
          input = read.fields;
          file = read.file;
          notUtf8 = read.notUtf8;
        }
        // a form sent back keeps what was typed, not the file (a browser cannot be given one back)
        const again = (errors: FieldErrors): FieldErrors => (file && !errors.file ? { ...errors, file: `Choose the file again (${file.filename || 'your file'}): a form sent back does not keep it.` } : errors);
        const back = (errors: FieldErrors, status: number, repeatOf: string | null = null, openRefund: string | null = null) => filePage(ctx, input, again(errors), status, repeatOf, openRefund);
        const form = validatePostedForm<Record<string, string>>(fileSchema, input);
        // bytes that are not UTF-8 are refused by name, before anything else is said about the field
        // (one the form does not show, its hidden key or a name of no field, is said above the form)
        const shown = (name: string) => Object.hasOwn(fileSchema.properties, name) && name !== 'idempotencyKey';
        const unreadable: FieldErrors = Object.fromEntries(notUtf8.map((name) => (shown(name) ? [name, NOT_UTF8_FIELD] : ['_form', 'The form came with bytes that are not text in UTF-8. Reload the page and fill it in again.'])));
        if (!form.ok || notUtf8.length) {
          // every fault at once (QA: a refund's missing reason and phone had been said only once the amount was
          // mended): the refund's own rules on what was typed, then the schema's faults over them
          const typed = Object.fromEntries(Object.entries(input).map(([k, x]) => [k, typeof x === 'string' ? x.trim() : '']));
          const schemaErrors: FieldErrors = form.ok ? {} : { ...form.errors };
          const currency = /^[A-Z]{3}$/.test(typed.currency ?? '') ? typed.currency : '';
          if (schemaErrors.refundAmount && currency) schemaErrors.refundAmount = amountInWords(currency);
          // (a problem type at fault says nothing of a refund's fields; a currency at fault reads no amount)
          const rules = schemaErrors.problemType ? {} : refundRuleErrors({ ...typed, currency }).errors;
          if (!currency && typed.currency) delete rules.currency;
          return back({ ...rules, ...schemaErrors, ...unreadable }, 400);
        }
        const v = form.value;
        const refund = isRefundType(v.problemType);
        const { errors, amount } = refundRuleErrors(v);
        if (Object.keys(errors).length) return back(errors, 400);
        // the same request a moment ago (Back and Submit): ask first
        if (v.again !== 'yes') {
          const now = deps.now?.() ?? new Date();
          const repeat = await support.recentRepeatFiling(ctx.auth, v.customer, v.title, v.orderId || null, v.idempotencyKey, now);
          if (repeat) {
            const when = agoInWords(repeat.createdAt, now);
            // a refund request still open holds its order: filing another would only be refused once the box is ticked (QA)
            const open = refund && repeat.orderId ? await support.refundRequestOf(ctx.auth, repeat.orderId) : null;
            if (open && open.number === repeat.number && open.status !== 'closed') {
              return back({ orderId: `You filed ${repeat.number} for this order ${when}, and it is ${open.status}: an order has one refund request at a time. Follow it, or reply to it, on its page.` }, 409, null, repeat.number);
            }
            return back({ again: `You filed ${repeat.number} with this title for this customer ${when}. To file another, tick the box and submit again.` }, 409, repeat.number);
          }
        }
        let filed: string;
        try {
          const { ticket } = await support.file(
            ctx.auth,
            {
              problemType: v.problemType,
              impact: v.impact as (typeof IMPACTS)[number],
              title: v.title,
              customer: v.customer,
              ...(v.orderId ? { orderId: v.orderId } : {}),
              ...(refund ? { refund: { reason: v.refundReason, amount: amount!, currency: v.currency } } : {}),
              contact: { name: v.contactName, email: v.contactEmail, ...(v.contactPhone ? { phone: v.contactPhone } : {}) },
              ...(v.description ? { description: v.description } : {}),
            },
            v.idempotencyKey,
          );
          filed = ticket.number;
        } catch (e) {
          if (isTemporalUnavailable(e)) return back({ _form: unavailable(e).message }, 503);
          if (e instanceof AppError && e.status < 500 && e.status !== 404) {
            // the hour's filing limit: when it lifts, as the API says it, and in the page's time zone
            const limited = e.code === 'filing_rate_limited' ? (e.details as { limit: number; resetsAt: string; retryAfterSeconds: number }) : null;
            if (limited) {
              ctx.res.setHeader('Retry-After', String(limited.retryAfterSeconds));
              return back({ _form: pageMessage(new AppError(429, e.code, filingLimitMessage(limited.limit, formatDate(limited.resetsAt, ctx.timeZone)))) }, 429);
            }
            const mapped = e.field && FIELD_OF[e.field] ? { [FIELD_OF[e.field]]: pageMessage(e) } : errorsFromAppError(e, FILE_FIELDS);
            return back(mapped, e.status);
          }
          throw e;
        }
        const at = `/app/support/${encodeURIComponent(filed)}?filed=1`;
        if (!file) return ctx.redirect(at);
        // the request is filed: a file its rules refuse (type, size) is said on the request's page, next to the
        // form that takes another (the same bytes sent again, by Back and Submit, attach once)
        try {
          await attachments.attach(ctx.auth, filed, { stream: Readable.from([file.data]), filename: file.filename, mimeType: file.mimeType });
        } catch (e) {
          // whatever kept the file out (its rules, or a server away), the request is filed: its page says so, and
          // its upload form takes the file again
          if (!(e instanceof AppError) || e.status >= 500) ctx.log.warn({ err: e, ticket: filed }, 'the file sent with a new request was not attached');
          const code = e instanceof AppError && Object.hasOwn(ATTACH_REFUSALS, e.code) ? e.code : 'other';
          return ctx.redirect(`${at}&refused=${encodeURIComponent(code)}#attach-form-error`);
        }
        ctx.redirect(at);
      },
    }),
    definePage({ method: 'get', path: '/support/:id', permission: 'readSupportRequests', handler: (ctx) => ticketPage(ctx, String(ctx.req.params.id)) }),
    definePage({
      method: 'post',
      path: '/support/:id/replies',
      permission: 'readSupportRequests',
      handler: async (ctx) => {
        const id = String(ctx.req.params.id);
        const form = validatePostedForm<{ body: string; kind?: 'reply' | 'note'; again?: 'yes' }>(messageSchema, (ctx.req.body ?? {}) as Record<string, unknown>);
        if (!form.ok) {
          // nothing (visible) written, or what is wrong with what was (too long, a control character)
          const written = typedIn(ctx).body ?? '';
          const blank = textProblem(written, { singleLine: false, visible: true }) === 'invisible';
          return ticketPage(ctx, id, { formErrors: { reply: blank ? 'Write a message first.' : (form.errors.body ?? Object.values(form.errors)[0]) }, typed: { reply: typedIn(ctx) }, fault: { reply: 'body' } }, 400);
        }
        const internal = form.value.kind === 'note';
        const updateId = formUpdateId(ctx.req.body, internal ? 'note' : 'reply');
        // the same text a moment ago (Back, and the browser's kept text, sent again): ask first
        if (form.value.again !== 'yes') {
          const now = deps.now?.() ?? new Date();
          const repeat = await support.recentRepeatMessage(ctx.auth, id, form.value.body, internal, updateId, now);
          if (repeat) {
            const what = internal ? 'this internal note' : 'this reply';
            // (the kind asked about is the one the page offers to send: QA's note, sent again, went out as a reply)
            return ticketPage(ctx, id, { formErrors: { reply: `You sent ${what} ${agoInWords(repeat.at, now)} (see above). To send it again, tick the box and press again.` }, typed: { reply: typedIn(ctx) }, askAgain: internal ? 'note' : 'reply', ...seenBy(ctx) }, 409);
          }
        }
        return command(ctx, id, 'reply', () => support.reply(ctx.auth, id, form.value.body, internal, updateId, internal ? undefined : formSeenSeq(ctx.req.body)), internal ? 'note' : 'reply');
      },
    }),
    definePage({
      method: 'post',
      path: '/support/:id/assign',
      permission: 'workSupportRequests',
      handler: async (ctx) => {
        const id = String(ctx.req.params.id);
        const body = (ctx.req.body ?? {}) as Record<string, unknown>;
        // the "Assign to" form names itself: without a choice it is refused, never taken for "Assign to me"
        const formName = body._action === 'assign-other' ? 'assign-other' : 'assign';
        const form = validatePostedForm<{ assigneeId?: string }>(assignSchema, body);
        if (!form.ok || (formName === 'assign-other' && !form.value.assigneeId)) return ticketPage(ctx, id, { formErrors: { 'assign-other': 'Choose someone from the list.' }, fault: { 'assign-other': 'assigneeId' } }, 400);
        const to = form.value.assigneeId;
        return command(ctx, id, formName, () => support.assign(ctx.auth, id, to, undefined, formUpdateId(ctx.req.body, to ? `assign:${to}` : 'assign'), formSeenSeq(ctx.req.body)), 'assign');
      },
    }),
    actionPage('unassign', 'workSupportRequests'),
    actionPage('request-information', 'workSupportRequests'),
    actionPage('approve', 'workSupportRequests'),
    actionPage('reject', 'workSupportRequests'),
    actionPage('escalate', 'workSupportRequests'),
    actionPage('resolve', 'workSupportRequests'),
    actionPage('close', 'workSupportRequests'),
    actionPage('withdraw', 'withdrawSupportRequests'),
    definePage({
      method: 'post',
      path: '/support/:id/attachments',
      permission: 'readSupportRequests',
      multipartCsrf: true,
      handler: async (ctx) => {
        const id = String(ctx.req.params.id);
        let replayed = false;
        try {
          ({ replayed } = await attachments.upload(ctx.auth, id, ctx.req, {
            leadingField: {
              name: '_csrf',
              accept: (value) => csrfOk(ctx.active.session.csrfToken, value),
              refusal: () => csrfFailed(ctx),
            },
          }));
        } catch (e) {
          if (e instanceof AppError && e.status !== 404 && e.status !== 403 && e.status < 500) {
            ctx.req.resume();
            // back to the ticket's own address, saying why by code only (nothing a link carries is shown as it is)
            return ctx.redirect(`/app/support/${encodeURIComponent(id)}?refused=${encodeURIComponent(Object.hasOwn(ATTACH_REFUSALS, e.code) ? e.code : 'other')}#attach-form-error`);
          }
          throw e;
        }
        // the same file again (Back and upload, or the same bytes chosen twice): said, not attached twice
        ctx.redirect(`/app/support/${encodeURIComponent(id)}?done=${replayed ? 'already-attached' : 'attached'}`);
      },
    }),
    definePage({
      method: 'get',
      path: '/support/:id/attachments/:n',
      permission: 'readSupportRequests',
      handler: async (ctx) => {
        // written in digits, as the API reads it (not "0x1", "1.0" or " 1")
        const raw = String(ctx.req.params.n);
        const n = /^[0-9]{1,4}$/.test(raw) ? Number(raw) : NaN;
        if (!Number.isInteger(n) || n < 1 || n > 1000) throw new AppError(404, 'not_found', 'no such attachment');
        const { attachment, stream } = await attachments.open(ctx.auth, String(ctx.req.params.id), n);
        // as the API serves it (a page's own policy would let a file rendered anyway run this site's scripts); set one
        // by one, as they are (Express's res.set would add a charset to the type decided at upload)
        for (const [name, value] of Object.entries(attachmentHeaders(attachment))) ctx.res.setHeader(name, value);
        await new Promise<void>((resolve, reject) => {
          stream.on('error', reject);
          ctx.res.on('finish', resolve);
          ctx.res.on('close', resolve);
          stream.pipe(ctx.res);
        });
      },
    }),

    // ---------------------------------------------------------------- the agents' queue
    definePage({
      method: 'get',
      path: '/queue',
      permission: 'workSupportRequests',
      handler: async (ctx) => {
        // a filter that is not valid is left out (and said), the others still apply
        const query = { ...(ctx.req.query as Record<string, unknown>) };
        const errors: FieldErrors = {};
        let form = validateForm<Record<string, string>>(queueSchema, query);
        for (let i = 0; !form.ok && i < 10; i++) {
          Object.assign(errors, form.errors);
          for (const k of Object.keys(form.errors)) delete query[k];
          form = validateForm<Record<string, string>>(queueSchema, query);
        }
        const f = form.ok ? form.value : {};
        const status = f.status ?? 'active';
        const people = await listSupportPeople({ includeDisabled: true });
        // someone the list does not have (a partner's user, a mistyped id) would filter to nothing, silently
        if (f.assignee && f.assignee !== 'me' && f.assignee !== 'none' && !people.some((p) => p.id === f.assignee)) {
          errors.assignee = 'Not a support person: choose someone from the list.';
          delete f.assignee;
        }
        const list = (cursor: string | undefined) => support.list(ctx.auth, {
          status: status === 'all' ? undefined : status === 'active' ? 'new,open,pending' : status,
          impact: f.impact,
          assignee: f.assignee,
          escalated: f.escalated === 'yes' ? true : undefined,
          atRisk: f.atRisk === 'yes' ? true : undefined,
          text: f.text,
          cursor,
          limit: 25,
        });
        let page;
        try {
          page = await list(f.cursor);
        } catch (e) {
          // a cursor the service does not take: the first page, saying so
          if (!(e instanceof AppError && e.field === 'query.cursor')) throw e;
          errors.cursor = 'This page link is not valid any more; here is the first page.';
          delete f.cursor;
          page = await list(undefined);
        }
        const { items, nextCursor } = page;
        const disabled = new Set(people.filter((p) => p.disabled).map((p) => p.id));
        const params = new URLSearchParams(Object.entries(f).filter(([k, v]) => k !== 'cursor' && v) as [string, string][]);
        const data = {
          title: 'Support queue',
          // a disabled assignee is marked: their requests wait for someone to give them to another
          tickets: items.map((t) => ({ ...t, assigneeDisabled: Boolean(t.assignee && disabled.has(t.assignee.userId)) })),
          filters: { ...f, status },
          statuses: QUEUE_STATUS_CHOICES.map((c) => ({ ...c, selected: c.value === status })),
          impacts: IMPACTS.map((i) => ({ value: i, selected: i === f.impact })),
          // one agent's work (a lead's view of someone's load, a disabled agent's requests to give to others)
          people: people.map((p) => ({ value: p.id, label: `${p.name}${p.disabled ? ' (disabled)' : ''}`, selected: p.id === f.assignee })),
          pollUrl: `/app/queue?${params.toString()}${f.cursor ? `&cursor=${encodeURIComponent(f.cursor)}` : ''}`,
          nextUrl: nextCursor ? `/app/queue?${params.toString()}&cursor=${encodeURIComponent(nextCursor)}` : null,
          firstUrl: f.cursor ? `/app/queue?${params.toString()}` : null,
          refreshedAt: new Date(),
          errors,
          // the filters by name; parameters the page does not know are not echoed (a link could carry any text)
          leftOut: [
            ...Object.entries(errors)
              .filter(([field]) => Object.hasOwn(queueSchema.properties, field))
              .map(([field, message]) => ({ field: QUEUE_FILTER_LABELS[field as keyof typeof QUEUE_FILTER_LABELS], message: message.replace(/\.$/, '') })),
            ...(Object.keys(errors).some((field) => !Object.hasOwn(queueSchema.properties, field)) ? [{ field: 'Other', message: 'parameters this page does not know' }] : []),
          ],
        };
        if (ctx.isHtmx && ctx.req.header('hx-target') === 'queue-results') ctx.fragment('support/_queue', data);
        else ctx.view('support/queue', data, Object.keys(errors).length ? 400 : 200);
      },
    }),
    definePage({
      method: 'get',
      path: '/sla',
      permission: 'workSupportRequests',
      handler: async (ctx) => {
        const now = deps.now?.() ?? new Date();
        // calendar dates, carried as the UTC midnights that start them; the days are the user's (ctx.timeZone)
        const day = (d: Date) => d.toISOString().slice(0, 10);
        const asked = ctx.req.query.to;
        const weeks = 8;
        // the eight weeks end on `to`, and start no earlier than the metrics do
        const firstTo = day(new Date(Date.parse(`${METRICS_FIRST_DAY}T00:00:00Z`) + (weeks * 7 - 1) * DAY_MS));
        if (asked !== undefined && (typeof asked !== 'string' || !parseDay(asked) || asked < firstTo)) throw new AppError(400, 'validation_failed', `to must be a day that exists, from ${firstTo} on (the dashboard's ${weeks} weeks start on ${METRICS_FIRST_DAY} at the earliest), written YYYY-MM-DD (the last day the dashboard covers).`, 'to');
        const to = asked ?? day(localDate(now.getTime(), ctx.timeZone));
        const end = new Date(`${to}T00:00:00Z`);
        const from = day(new Date(end.getTime() - (weeks * 7 - 1) * DAY_MS));
        const total = await supportMetrics(from, to, ctx.timeZone);
        const series = [];
        for (let w = weeks - 1; w >= 0; w--) {
          const wEnd = new Date(end.getTime() - w * 7 * DAY_MS);
          const wStart = new Date(wEnd.getTime() - 6 * DAY_MS);
          const m = await supportMetrics(day(wStart), day(wEnd), ctx.timeZone);
          // the chart's ticks are short (MM-DD); the table gives the whole date, year included
          series.push({ week: day(wStart), label: day(wStart).slice(5), first: m.total.firstResponse.withinTargetShare, resolution: m.total.resolution.withinTargetShare, firstText: pct(m.total.firstResponse.withinTargetShare), resolutionText: pct(m.total.resolution.withinTargetShare), tickets: m.total.tickets });
        }
        ctx.view('support/sla', {
          title: 'SLA dashboard',
          from,
          to,
          timeZone: total.timeZone,
          metrics: total,
          firstShare: pct(total.total.firstResponse.withinTargetShare),
          resolutionShare: pct(total.total.resolution.withinTargetShare),
          impactChart: barChart(
            IMPACTS.map((i) => ({ label: i, a: total.byImpact[i].firstResponse.withinTargetShare, b: total.byImpact[i].resolution.withinTargetShare })),
          ),
          agentChart: barChart(total.byAgent.map((g) => ({ label: g.agent?.name ?? 'unassigned', a: g.firstResponse.withinTargetShare, b: g.resolution.withinTargetShare }))),
          trendChart: lineChart(series),
          byImpact: IMPACTS.map((i) => ({ impact: i, ...total.byImpact[i] })),
          byAgent: total.byAgent,
          series,
        });
      },
    }),
  ];
}

const pct = (share: number | null) => (share === null ? 'n/a' : `${Math.round(share * 1000) / 10}%`);

/** Paired horizontal bars (first response, resolution), as numbers an SVG template draws. */
export function barChart(rows: { label: string; a: number | null; b: number | null }[]) {
  const width = 360;
  const rowHeight = 44;
  return {
    // room for the labels (150) and for "100%" after a full bar
    width: width + 200,
    height: Math.max(1, rows.length) * rowHeight + 30,
    rows: rows.map((r, i) => ({
      label: r.label,
      y: i * rowHeight + 24,
      labelY: i * rowHeight + 38,
      a: { w: Math.round((r.a ?? 0) * width), pct: pct(r.a), textX: 150 + Math.round((r.a ?? 0) * width) + 6, y: i * rowHeight + 24, textY: i * rowHeight + 35 },
      b: { w: Math.round((r.b ?? 0) * width), pct: pct(r.b), textX: 150 + Math.round((r.b ?? 0) * width) + 6, y: i * rowHeight + 40, textY: i * rowHeight + 51 },
    })),
  };
}

/** Two lines (share within target per week) as SVG polyline points. */
export function lineChart(series: { label: string; first: number | null; resolution: number | null }[]) {
  const width = 480;
  const height = 200;
  const left = 40;
  const step = series.length > 1 ? (width - left - 20) / (series.length - 1) : 0;
  const pt = (v: number | null, i: number) => (v === null ? null : `${Math.round(left + i * step)},${Math.round(height - 30 - v * (height - 60))}`);
  const line = (key: 'first' | 'resolution') => series.map((s, i) => pt(s[key], i)).filter(Boolean).join(' ');
  return {
    width,
    height,
    first: line('first'),
    resolution: line('resolution'),
    // each week's point as a dot too, so that a single week shows
    dots: series.flatMap((s, i) => [
      ...(s.first === null ? [] : [{ xy: pt(s.first, i)!.split(','), kind: 'first' }]),
      ...(s.resolution === null ? [] : [{ xy: pt(s.resolution, i)!.split(','), kind: 'resolution' }]),
    ]),
    ticks: series.map((s, i) => ({ x: Math.round(left + i * step), label: s.label })),
    grid: [0, 0.5, 1].map((v) => ({ y: Math.round(height - 30 - v * (height - 60)), label: `${v * 100}%` })),
    baseY: height - 30,
  };
}
