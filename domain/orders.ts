/** The facts of an order that never change once it is placed, and its life's states. */
import type { Product } from './catalog';
import { isPartnerRole } from './roles';
import { DAY_MS } from './time';

export const ORDER_STATUSES = ['pending', 'active', 'cancelled', 'expired'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * An order's id: a UUID (a placed order's random one, an imported purchase's from domain/order-imports.ts
 * importedOrderId), or the original id an order imported before that kept as its own (letters, digits, `-` and `_`).
 */
export const ORDER_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{2,99}$';

export const TAX_TREATMENTS = ['inclusive', 'exclusive'] as const;

export interface TaxLine {
  /** prices include tax (Australia, Brazil) or exclude it (everywhere else) */
  treatment: (typeof TAX_TREATMENTS)[number];
  /** the rate in basis points where tax is included */
  rateBps: number | null;
  /** the tax portion of the amount, where tax is included; null where it is excluded */
  amount: number | null;
}

export interface OrderPricing {
  currency: string;
  unitPrice: number;
  quantity: number;
  total: number;
  tax: TaxLine;
}

/** The product as it was when ordered: its policy travels with the order. */
export type OrderProductSnapshot = Pick<Product, 'id' | 'name' | 'kind' | 'billing' | 'cancellation' | 'deliverable'>;

export interface OrderCustomerSnapshot {
  id: string;
  name: string;
  tenantId: string;
  domain: string;
  market: string;
}

export interface OrderActor {
  userId: string;
  name: string;
  email: string;
  role: string;
}

/** Input of the order workflow: everything it needs, decided once by the API. */
export interface OrderTerms {
  orderId: string;
  partnerId: string;
  customer: OrderCustomerSnapshot;
  product: OrderProductSnapshot;
  pricing: OrderPricing;
  /** ISO instant; for imported orders the original purchase date */
  purchasedAt: string;
  imported: boolean;
  /** an imported order's id before csp-desk (its orderId is importedOrderId's) */
  originalOrderId?: string;
  /**
   * the import call whose terms these are (a random key of its own, not the request id a client may send): the recorded
   * order keeps it, and so tells which of several concurrent imports of one purchase started its workflow (importFound)
   */
  importKey?: string;
  placedBy: OrderActor;
  /** where the partner's notices go (confirmation, reminder, cancellation) */
  notify: string[];
  reminderDaysBeforeClose: number;
  requestId: string;
  /** where the placing request came from, for the activity log */
  origin?: RequestOrigin | null;
}

/** The address and user agent of a request, for the activity log. */
export interface RequestOrigin {
  ip: string | null;
  userAgent: string | null;
}

/**
 * Where each kind of order event falls in an order's life, for events recorded at the same instant (an order's
 * placement writes its record, payment and provisioning in one workflow step, a cancellation its revocation, credit
 * and cancellation): the timeline reads in the order things happened. Unknown kinds come last.
 */
const EVENT_STAGE: readonly string[] = [
  'placed',
  'imported',
  'payment-recorded',
  'payment-imported',
  'provisioned',
  'cancellation-window-closed',
  'keys-and-links-revoked',
  'credit-recorded',
  'cancelled',
  'term-ended',
  'email-sent',
  'email-refused',
];

/**
 * The key of each timeline entry an order's workflow writes: the entry's id is `<orderId>:<key>`, inserted once
 * (activities/orders.ts), so a retried activity never writes a second one.
 */
export const ORDER_TIMELINE_KEY = {
  placed: 'placed',
  paid: 'paid',
  provisioned: 'provisioned',
  windowClosed: 'window-closed',
  revoked: 'revoked',
  credit: 'credit',
  cancelled: 'cancelled',
  termRevoked: 'term-revoked',
  termEnded: 'term-ended',
} as const;

/**
 * When an order was provisioned, as its document (`provisionedAt`) and its timeline's entry both say: an imported
 * purchase when it was bought (before csp-desk: QA saw the document say the import's instant while its timeline said
 * the purchase date), any other when its workflow provisioned it (`at`). An import's key, if any, is still made at
 * the import.
 */
export function provisionedInstant(order: { imported: boolean; purchasedAt: Date | string }, at: Date): Date {
  return order.imported ? new Date(order.purchasedAt) : at;
}

/** The key of an order email's timeline entry (sent or refused for good). */
export const orderEmailTimelineKey = (kind: 'confirmation' | 'reminder' | 'cancellation'): string => `email-${kind}`;

/** What of an order the timeline's completeness depends on. */
export interface OrderTimelineState {
  imported: boolean;
  paidAt: Date | string | null;
  provisionedAt: Date | string | null;
  windowEndsAt: Date | string | null;
  windowClosedAt: Date | string | null;
  expiredAt: Date | string | null;
  cancellation: unknown;
}

/**
 * When the order's workflow sends its reminder email (workflows/order.ts): `reminderDaysBeforeClose` days before its
 * window closes, or at once for an order imported inside that period. Null when no reminder is to come: no window,
 * no reminder configured, not provisioned yet, the window closed or the order cancelled.
 */
export function reminderDueAt(order: OrderTimelineState, reminderDaysBeforeClose: number): Date | null {
  if (reminderDaysBeforeClose <= 0 || !order.windowEndsAt || !order.provisionedAt || order.windowClosedAt || order.cancellation) return null;
  return new Date(new Date(order.windowEndsAt).getTime() - reminderDaysBeforeClose * DAY_MS);
}

/**
 * The timeline keys an order in this state has, at `now`, once its workflow is done with that state: each state
 * change comes with its entries and its email (a charged order's confirmation, a cancellation's email), written
 * just before or after the order's document changes; and once the reminder is due (reminderDueAt), the reminder.
 */
export function impliedTimelineKeys(order: OrderTimelineState, now: Date, reminderDaysBeforeClose: number): string[] {
  const K = ORDER_TIMELINE_KEY;
  const keys: string[] = [K.placed];
  if (order.paidAt) keys.push(K.paid);
  if (order.provisionedAt) keys.push(K.provisioned);
  if (order.provisionedAt && !order.imported) keys.push(orderEmailTimelineKey('confirmation'));
  const reminder = reminderDueAt(order, reminderDaysBeforeClose);
  if (reminder && reminder.getTime() <= now.getTime()) keys.push(orderEmailTimelineKey('reminder'));
  if (order.windowClosedAt) keys.push(K.windowClosed);
  if (order.cancellation) keys.push(K.revoked, K.credit, K.cancelled, orderEmailTimelineKey('cancellation'));
  if (order.expiredAt) keys.push(K.termRevoked, K.termEnded);
  return keys;
}

/**
 * Until when a timeline read at `now` is complete for the order's state: null when it lacks an entry the state
 * implies (the confirmation email on its way); else the instant the next entry is due with no change of state
 * (the reminder), or Infinity. Until then only a change of the order's state can add to it, so the API keeps such
 * a timeline longer (services/orders.ts).
 */
export function timelineCompleteUntil(order: OrderTimelineState, keys: Iterable<string>, now: Date, reminderDaysBeforeClose: number): number | null {
  const have = new Set(keys);
  if (!impliedTimelineKeys(order, now, reminderDaysBeforeClose).every((k) => have.has(k))) return null;
  const reminder = reminderDueAt(order, reminderDaysBeforeClose);
  return reminder && reminder.getTime() > now.getTime() && !have.has(orderEmailTimelineKey('reminder')) ? reminder.getTime() : Number.POSITIVE_INFINITY;
}

/** Timeline order: by time, then by stage in the order's life, then by id (stable). */
export function timelineOrder(a: { at: Date; type: string; _id?: string }, b: { at: Date; type: string; _id?: string }): number {
  const t = a.at.getTime() - b.at.getTime();
  if (t !== 0) return t;
  const stage = (x: string) => (EVENT_STAGE.includes(x) ? EVENT_STAGE.indexOf(x) : EVENT_STAGE.length);
  const s = stage(a.type) - stage(b.type);
  if (s !== 0) return s;
  return (a._id ?? '') < (b._id ?? '') ? -1 : (a._id ?? '') > (b._id ?? '') ? 1 : 0;
}

/**
 * The buy page asks before a second identical order (same customer, product and quantity, by the same user)
 * within this many minutes of the first: the Back button brings the form back with a fresh idempotency key, so a
 * second Buy would otherwise quietly place a second order. (The API's clients say what they mean with their
 * Idempotency-Key.)
 */
export const REPEAT_ORDER_CHECK_MINUTES = 10;

/**
 * Who gets an order's email: the order's notice list (the partner's billing address and whoever placed it), or the
 * partner's address for older orders without one; a cancellation also goes to the partner user who cancelled it
 * (a support agent's refund is told to the partner by the ticket's own emails).
 */
export function orderEmailRecipients(
  kind: string,
  order: { notify?: string[] | null; placedBy: { email: string }; cancellation?: { by: { email: string; role: string } } | null },
  partnerEmail: string | null,
): string[] {
  const to = order.notify?.length ? [...order.notify] : [partnerEmail ?? order.placedBy.email];
  const by = order.cancellation?.by;
  if (kind === 'cancellation' && by && isPartnerRole(by.role)) to.push(by.email);
  // one copy per address, whatever its case
  return to.filter((a, i) => to.findIndex((b) => b.toLowerCase() === a.toLowerCase()) === i);
}
