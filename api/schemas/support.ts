/** Schemas of support requests: filing, actions, the ticket with its timeline and SLA clocks, the queue. */
import { IMPACTS, PROBLEM_TYPES, TICKET_STATUSES, TICKET_ACTIONS } from '../../domain/support';
import { SLA_TARGETS } from '../../domain/sla';
import { MESSAGE_PATTERN, NAME_PATTERN, TEXT_PATTERN, TEXT_RULES } from '../../domain/text';
import { cursorQuery, dateTime, idempotencyKeyHeader, int, nullable, obj, str } from './common';

/** A message, a reason: several lines allowed, at least one visible character (domain/text.ts). */
const text = (max: number, extra: Record<string, unknown> = {}) => str({ minLength: 1, maxLength: max, pattern: MESSAGE_PATTERN, description: TEXT_RULES.message, ...extra });
/** A title, a name: one line with at least one visible character. */
const line = (max: number) => str({ minLength: 1, maxLength: max, pattern: NAME_PATTERN, description: TEXT_RULES.name });
const emailSchema = str({ format: 'email', maxLength: 254 });

export const supportNumberParam = obj({ id: str({ minLength: 1, maxLength: 40, description: 'the ticket number, e.g. SR-261125-7KQ2ZD' }) });

export const fileSupportRequestBody = obj(
  {
    problemType: str({ enum: [...PROBLEM_TYPES] }),
    impact: str({ enum: [...IMPACTS], description: 'as Partner Center names severities' }),
    title: line(200),
    customer: str({ minLength: 1, maxLength: 253, description: "the customer's tenant GUID or domain name (or id or name)" }),
    orderId: str({ minLength: 1, maxLength: 200, description: "the order: its csp-desk id, or an imported purchase's original id (`originalOrderId`)" }),
    subscriptionId: str({ minLength: 1, maxLength: 200, description: 'the subscription (its order id) when no order id is given' }),
    refund: obj({
      reason: text(2000),
      amount: int({ minimum: 1, maximum: 1_000_000_000_000, description: 'requested, minor units' }),
      currency: str({ pattern: '^[A-Z]{3}$', description: "the order's currency" }),
    }),
    contact: obj({ name: line(200), email: emailSchema, phone: str({ minLength: 3, maxLength: 40, pattern: '^[+0-9 ()./-]+$', description: 'required for a refund request (400 naming body.contact.phone without it)' }) }, ['name', 'email']),
    description: str({ maxLength: 20_000, pattern: TEXT_PATTERN, description: `the problem in your words: ${TEXT_RULES.text}` }),
  },
  ['problemType', 'impact', 'title', 'customer', 'contact'],
);

/**
 * Every action may say what its sender had read: then someone else's entry since (one the sender would see) makes it
 * a 409 `ticket_changed`, the action not taken, so that nobody decides from a page that is out of date.
 */
const seenSeq = int({ minimum: 0, description: "optional: the highest timeline `seq` you have read; if someone else has added an entry you would see since, the action is refused (409 `ticket_changed`) so that you read it first. Left out: not checked; past the request's last entry: 400. Checked on every action that carries it, an internal note too; the pages send none with a note." });
export const replyBody = obj({ body: text(20_000), internal: { type: 'boolean', default: false, description: 'support roles only: an internal note, never shown to the partner' }, seenSeq }, ['body']);
export const optionalMessageBody = obj({ body: text(20_000), seenSeq }, []);
export const assignBody = obj({ assigneeId: str({ minLength: 1, maxLength: 200, description: 'a support user id; default: yourself' }), body: text(20_000), seenSeq }, []);
export const requestInformationBody = obj({ body: text(20_000), seenSeq }, ['body']);
export const approveBody = obj({ amount: int({ minimum: 1, description: 'minor units; default: the amount requested' }), body: text(20_000), seenSeq }, []);
export const rejectBody = obj({ reason: text(2000), body: text(20_000), seenSeq }, ['reason']);
export const escalateBody = obj({ reason: text(2000), body: text(20_000), seenSeq }, []);

export const commandHeaders = idempotencyKeyHeader('optional: a repeated request with the same key is carried out once', false);

const refundSchema = nullable(obj({ reason: str(), amount: int(), currency: str() }));
const customerSchema = obj({ id: str(), name: str(), tenantId: str(), domain: str() });

const summaryProps = {
  number: str(),
  partner: obj({ id: str(), name: str({ description: 'the partner that filed it' }) }),
  status: str({ enum: [...TICKET_STATUSES] }),
  problemType: str(),
  impact: str({ enum: [...IMPACTS] }),
  title: str(),
  customer: customerSchema,
  orderId: nullable(str()),
  refund: refundSchema,
  assignee: nullable(obj({ userId: str(), name: str() })),
  escalationLevel: int(),
  atRisk: { type: 'boolean' },
  breached: { type: 'boolean' },
  nextDueAt: nullable(dateTime),
  createdAt: dateTime,
  updatedAt: dateTime,
};
export const supportSummarySchema = obj(summaryProps);

export const slaClockSchema = obj({
  kind: str({ enum: [...SLA_TARGETS] }),
  targetSeconds: int(),
  businessHours: { type: 'boolean' },
  state: str({ enum: ['running', 'paused', 'met', 'missed', 'withdrawn'], description: "withdrawn: stopped by the partner's withdrawal within its target (neither met nor missed); one past its target by then is missed" }),
  startedAt: dateTime,
  dueAt: nullable(dateTime),
  elapsedSeconds: int(),
  remainingSeconds: { ...nullable(int()), description: 'working seconds left of the target while the clock runs or is paused (0 once past it); null once stopped' },
  stoppedAt: nullable(dateTime),
  breachLevel: int(),
  warned: { type: 'boolean' },
});

export const supportTicketSchema = obj({
  ...summaryProps,
  assignee: nullable(obj({ userId: str(), name: str(), email: { ...nullable(str()), description: "the agent's email, for support roles; null for partners (support's staff addresses stay inside)" } })),
  description: str(),
  originalOrderId: { ...nullable(str()), description: "the order's id before csp-desk when it was imported (the one the partner knows it by); null otherwise" },
  subscriptionId: nullable(str()),
  contact: obj({ name: str(), email: str(), phone: nullable(str()) }),
  filedBy: obj({ name: str(), role: str() }),
  approval: nullable(obj({ amount: int(), currency: str(), invoiceMonth: str(), at: dateTime, by: str() })),
  rejectionReason: nullable(str()),
  approvalLimit: nullable(int({ description: "support roles, refund requests: above this amount (minor units of the request's currency) a support lead approves" })),
  withdrawn: { type: 'boolean' },
  resolvedAt: nullable(dateTime),
  closedAt: nullable(dateTime),
  sla: { type: 'array', items: slaClockSchema },
  timeline: {
    type: 'array',
    items: obj({
      seq: int(),
      type: str(),
      at: dateTime,
      by: obj({ name: str(), role: str(), kind: str() }),
      public: { type: 'boolean', description: 'false: an internal entry, shown to support roles only' },
      body: nullable(str()),
      data: { type: 'object' },
    }),
  },
});

export const supportQueueQuery = obj(
  {
    status: str({ pattern: `^(${TICKET_STATUSES.join('|')})(,(${TICKET_STATUSES.join('|')}))*$`, description: 'one status or several, comma-separated' }),
    impact: str({ enum: [...IMPACTS] }),
    assignee: str({ minLength: 1, maxLength: 200, description: 'a user id, `me` or `none`' }),
    escalated: { type: 'boolean' },
    atRisk: { type: 'boolean' },
    text: str({ minLength: 1, maxLength: 200, description: "words, every one found (ignoring case) in the number, title, description, customer, order or contact, or in the name of the ticket's partner or assignee" }),
    cursor: cursorQuery(400, 'nextCursor of the previous page'),
    limit: int({ minimum: 1, maximum: 100, default: 25 }),
  },
  [],
);

export const supportQueueSchema = obj({ items: { type: 'array', items: supportSummarySchema }, nextCursor: nullable(str()) });

export const SUPPORT_ACTION_NAMES = TICKET_ACTIONS;
