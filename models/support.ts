/**
 * Support requests: the ticket (one writer, its workflow), its events (one document per action, `_id` =
 * `<ticket>:<seq>`), and the claim that keeps one open refund ticket per order (`_id` = order id).
 */
import { Schema, model } from 'mongoose';
import type { Impact, SupportEventType, TicketActor, TicketStatus } from '../domain/support';
import type { SlaClock } from '../domain/sla';

export type { SupportEventType };

const mixed = Schema.Types.Mixed;

export interface TicketPerson {
  userId: string;
  name: string;
  email: string;
  role: string;
}

export interface TicketRefund {
  reason: string;
  /** requested, minor units of the order's currency */
  amount: number;
  currency: string;
}

export interface TicketApproval {
  amount: number;
  currency: string;
  at: Date;
  by: TicketPerson;
  invoiceMonth: string;
}

/** Written only by the ticket's own workflow (activities/support.ts). */
export interface SupportTicketDoc {
  /** the ticket number people quote, `SR-YYMMDD-XXXXXX` */
  _id: string;
  partnerId: string;
  problemType: string;
  impact: Impact;
  title: string;
  description: string;
  customer: { id: string; name: string; tenantId: string; domain: string };
  orderId: string | null;
  /** an imported order's id before csp-desk (absent on tickets filed before it was kept) */
  originalOrderId?: string | null;
  subscriptionId: string | null;
  refund: TicketRefund | null;
  contact: { name: string; email: string; phone: string | null };
  filedBy: TicketPerson;
  status: TicketStatus;
  assignee: TicketPerson | null;
  /** assignee's user id, for the queue's filter */
  assigneeId: string | null;
  escalationLevel: number;
  escalated: boolean;
  atRisk: boolean;
  breached: boolean;
  /** the earliest due instant of the running SLA clocks; null when none runs */
  nextDueAt: Date | null;
  /** the queue's sort and cursor key: `<nextDueAt ISO or "~">|<_id>` (unique, so pages never overlap) */
  queueKey: string;
  clocks: SlaClock[];
  approval: TicketApproval | null;
  rejectionReason: string | null;
  /** SUPPORT_APPROVAL_LIMIT (US cents) in force when it was filed (its rules travel with it); absent on older tickets */
  approvalLimit?: number | null;
  withdrawn: boolean;
  searchText: string;
  /** the workflow's state version this document reflects (event sequence number) */
  seq: number;
  createdAt: Date;
  updatedAt: Date;
  resolvedAt: Date | null;
  closedAt: Date | null;
  requestId: string;
}

const ticketDefinition = {
    _id: String,
    partnerId: { type: String, required: true },
    problemType: { type: String, required: true },
    impact: { type: String, required: true },
    title: { type: String, required: true },
    description: { type: String, default: '' },
    customer: { type: mixed, required: true },
    orderId: { type: String, default: null },
    originalOrderId: { type: String, default: null },
    subscriptionId: { type: String, default: null },
    refund: { type: mixed, default: null },
    contact: { type: mixed, required: true },
    filedBy: { type: mixed, required: true },
    status: { type: String, required: true },
    assignee: { type: mixed, default: null },
    assigneeId: { type: String, default: null },
    escalationLevel: { type: Number, required: true },
    escalated: { type: Boolean, required: true },
    atRisk: { type: Boolean, required: true },
    breached: { type: Boolean, required: true },
    nextDueAt: { type: Date, default: null },
    queueKey: { type: String, required: true },
    clocks: { type: mixed, default: [] },
    approval: { type: mixed, default: null },
    rejectionReason: { type: String, default: null },
    approvalLimit: { type: Number, default: null },
    withdrawn: { type: Boolean, default: false },
    searchText: { type: String, required: true },
    seq: { type: Number, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
    resolvedAt: { type: Date, default: null },
    closedAt: { type: Date, default: null },
    requestId: { type: String, required: true },
};
const ticketSchema = new Schema<SupportTicketDoc>(ticketDefinition, { versionKey: false, minimize: false });
// the queue: each filter an equality prefix, then the due order (queueKey) that also pages
ticketSchema.index({ queueKey: 1 });
ticketSchema.index({ status: 1, queueKey: 1 });
ticketSchema.index({ assigneeId: 1, queueKey: 1 });
ticketSchema.index({ impact: 1, queueKey: 1 });
ticketSchema.index({ escalated: 1, queueKey: 1 });
ticketSchema.index({ atRisk: 1, queueKey: 1 });
ticketSchema.index({ partnerId: 1, queueKey: 1 });
ticketSchema.index({ orderId: 1 });
export const SupportTicket = model<SupportTicketDoc>('SupportTicket', ticketSchema, 'supporttickets');

/**
 * A ticket's place in the support queue (domain/support-queue.ts): the fields the queue filters on and shows,
 * and its band. Written only by the ticket's own workflow, beside the ticket (same `seq` guard); inserted when
 * the ticket is filed, removed when it closes, so the queue's reads scan the open and recently decided tickets
 * only, in small documents.
 */
export const QUEUE_ENTRY_FIELDS = [
  '_id',
  'partnerId',
  'problemType',
  'impact',
  'title',
  'customer',
  'orderId',
  'refund',
  'status',
  'assignee',
  'assigneeId',
  'escalationLevel',
  'escalated',
  'atRisk',
  'breached',
  'nextDueAt',
  'queueKey',
  'searchText',
  'seq',
  'createdAt',
  'updatedAt',
] as const;
export type QueueEntryField = (typeof QUEUE_ENTRY_FIELDS)[number];
/** What the queue reads and shows of a ticket (an entry's ticket fields; a ticket has them all). */
export type QueueRow = Pick<SupportTicketDoc, QueueEntryField>;
export interface SupportQueueEntryDoc extends QueueRow {
  /** `overdue`, `h:<UTC hour>`, `~` (no due) or `done` */
  band: string;
  /** the UTC day of an hour band, else null */
  day: string | null;
}
// the ticket's own definitions of those fields, and the band
const queueEntrySchema = new Schema<SupportQueueEntryDoc>(
  {
    ...Object.fromEntries(QUEUE_ENTRY_FIELDS.map((k) => [k, ticketDefinition[k]])),
    band: { type: String, required: true },
    day: { type: String, default: null },
  },
  { versionKey: false, minimize: false },
);
// MongoDB uses these; FerretDB 1.24 filters by equality in PostgreSQL without them (hence the small documents)
queueEntrySchema.index({ band: 1, queueKey: 1 });
queueEntrySchema.index({ day: 1 });
export const SupportQueueEntry = model<SupportQueueEntryDoc>('SupportQueueEntry', queueEntrySchema, 'supportqueue');

/** The UTC days that have held an hour band of the queue (`_id` = `YYYY-MM-DD`), each inserted once. */
export interface SupportQueueDayDoc {
  _id: string;
  createdAt: Date;
}
export const SupportQueueDay = model<SupportQueueDayDoc>(
  'SupportQueueDay',
  new Schema<SupportQueueDayDoc>({ _id: String, createdAt: { type: Date, required: true } }, { versionKey: false }),
  'supportqueuedays',
);

/** One per action or clock milestone: `_id` = `<ticket>:<seq>` (seq kept in the workflow's state). */
export interface SupportEventDoc {
  _id: string;
  ticketId: string;
  partnerId: string;
  seq: number;
  type: SupportEventType;
  at: Date;
  actor: TicketActor;
  /** false: internal (support roles only) */
  public: boolean;
  /** the message of a reply or note */
  body: string | null;
  data: Record<string, unknown>;
  /**
   * the ticket document's changing fields as this event left them (absent on events written before it was kept):
   * what a late write of an earlier event, landing over this one's on FerretDB, is undone with (writeSnapshot)
   */
  state?: Record<string, unknown>;
}
const eventSchema = new Schema<SupportEventDoc>(
  {
    _id: String,
    ticketId: { type: String, required: true },
    partnerId: { type: String, required: true },
    seq: { type: Number, required: true },
    type: { type: String, required: true },
    at: { type: Date, required: true },
    actor: { type: mixed, required: true },
    public: { type: Boolean, required: true },
    body: { type: String, default: null },
    data: { type: mixed, default: {} },
    state: { type: mixed, default: undefined },
  },
  { versionKey: false, minimize: false },
);
eventSchema.index({ ticketId: 1, seq: 1 });
eventSchema.index({ type: 1, at: 1 });
export const SupportEvent = model<SupportEventDoc>('SupportEvent', eventSchema, 'supportevents');

/** One open refund ticket per order: inserted when filing, removed by the ticket's workflow when it ends. */
export interface SupportOrderClaimDoc {
  /** the order id */
  _id: string;
  ticketId: string;
  partnerId: string;
  createdAt: Date;
}
export const SupportOrderClaim = model<SupportOrderClaimDoc>(
  'SupportOrderClaim',
  new Schema<SupportOrderClaimDoc>({ _id: String, ticketId: { type: String, required: true }, partnerId: { type: String, required: true }, createdAt: { type: Date, required: true } }, { versionKey: false }),
  'supportorderclaims',
);

/** One per (partner, Idempotency-Key) of a filing, and per (ticket, user, key) of an action (`action:…`). */
export interface SupportIdempotencyDoc {
  /** `${partnerId}:${key}` */
  _id: string;
  requestHash: string;
  ticketId: string;
  /** an action's: the Update id it is sent as (absent on records written before it was kept: `<user>:<key>`) */
  updateId?: string;
  /**
   * an action's, on records written before its answer was a document of its own (`<record id> answered`, inserted
   * once by the first of the key's requests to be answered): set once its Update was answered
   */
  done?: boolean;
  createdAt: Date;
}
export const SupportIdempotency = model<SupportIdempotencyDoc>(
  'SupportIdempotency',
  new Schema<SupportIdempotencyDoc>(
    { _id: String, requestHash: { type: String, required: true }, ticketId: { type: String, required: true }, updateId: { type: String }, done: { type: Boolean }, createdAt: { type: Date, required: true } },
    { versionKey: false },
  ),
  'supportidempotency',
);

/** Ticket numbers drawn so far: the unique `_id` makes a drawn number the filing's own. */
export interface SupportTicketNumberDoc {
  /** `SR-YYMMDD-XXXXXX` */
  _id: string;
  partnerId: string;
  createdAt: Date;
}
export const SupportTicketNumber = model<SupportTicketNumberDoc>(
  'SupportTicketNumber',
  new Schema<SupportTicketNumberDoc>({ _id: String, partnerId: { type: String, required: true }, createdAt: { type: Date, required: true } }, { versionKey: false }),
  'supportticketnumbers',
);

/**
 * One of a user's filing slots of a UTC hour (`<user>:<YYYY-MM-DDTHH>:<slot>`, SUPPORT_FILINGS_PER_HOUR of them):
 * a filing takes one, inserted once, so that no counter is shared; deleted by the nightly housekeeping.
 */
export interface SupportFilingSlotDoc {
  _id: string;
  userId: string;
  partnerId: string;
  /** the filing's Idempotency-Key record (`<partner>:<key>`): a retry of the key uses this slot again */
  key: string;
  at: Date;
}
const supportFilingSlotSchema = new Schema<SupportFilingSlotDoc>({ _id: String, userId: { type: String, required: true }, partnerId: { type: String, required: true }, key: { type: String, required: true }, at: { type: Date, required: true } }, { versionKey: false });
// one slot per filing: the sends of one Idempotency-Key, at once or later, share the slot its first send took
supportFilingSlotSchema.index({ key: 1 }, { unique: true });
export const SupportFilingSlot = model<SupportFilingSlotDoc>('SupportFilingSlot', supportFilingSlotSchema, 'supportfilingslots');
