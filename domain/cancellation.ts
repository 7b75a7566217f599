/**
 * Whether an order can be cancelled, and what a cancellation gives back. One function, used by the
 * API's preview, the order workflow's update validator and the tests.
 *
 * Counting: day 1 is the first 24 hours after the purchase instant; the standard window covers days
 * 1..60 and closes exactly 60 x 24 hours after purchase. Day 60 is inside, day 61 is not.
 */
import type { Money } from './money';
import { mulDiv, taxPortionOfInclusive } from './money';
import type { OrderPricing, OrderProductSnapshot, OrderStatus } from './orders';
import { addDays, addMonthsUtc, dayNumber, daysUntil, DAY_MS } from './time';

export const CANCELLATION_REFUSALS = {
  already_cancelled: 'This order is already cancelled; nothing was changed.',
  window_passed: 'The cancellation window has passed: after {windowDays} days a purchase can no longer be cancelled.',
  support_request_required: 'This product can only be cancelled through a customer support request ("CSP Purchase/Refund on behalf of customers").',
  imported_support_request: 'This purchase was imported: it was charged before csp-desk, so it is cancelled and credited through a customer support request ("CSP Purchase/Refund on behalf of customers"), where support checks the original charge.',
  never_cancellable: 'This product can be neither cancelled nor exchanged.',
} as const;
export type CancellationRefusalCode = keyof typeof CANCELLATION_REFUSALS;

export const SUPPORT_REQUEST_PROBLEM_TYPE = 'CSP Purchase/Refund on behalf of customers';

export interface CancellationCredit extends Money {
  /** 'full' for perpetual software, 'prorated' for subscriptions, 'support-refund' the amount support approved */
  basis: 'full' | 'prorated' | 'support-refund';
  usedDays: number | null;
  termDays: number | null;
  /**
   * tax the credit takes back where prices include tax: the charge's tax less the tax contained in the part kept
   * (creditTax), so that what stays on the invoice is rounded once; null where prices exclude tax
   */
  taxAmount: number | null;
}

/**
 * The tax a credit of `creditAmount` takes back from an order's charge where prices include tax: the charge's tax
 * less the tax contained in what the customer keeps (`total - creditAmount`), so that the tax left on the invoice
 * (charge tax - credit tax) is exactly the tax contained in the amount kept, rounded once. Rounding the credit's
 * tax on its own could leave it a minor unit off (BR: R$4,380.00 charged, R$12.00 kept, R$1.49 of tax left where
 * R$12.00 contains R$1.50). A full credit takes back exactly the charge's tax. Null where prices exclude tax.
 */
export function creditTax(pricing: Pick<OrderPricing, 'total' | 'tax'>, creditAmount: number): number | null {
  const { tax, total } = pricing;
  if (tax.treatment !== 'inclusive' || tax.rateBps === null) return null;
  // the charge's tax as its invoice line carries it (the order's pricing), computed where an old order lacks it
  const chargeTax = tax.amount ?? taxPortionOfInclusive(total, tax.rateBps);
  return chargeTax - taxPortionOfInclusive(total - creditAmount, tax.rateBps);
}

export interface CancellationAssessment {
  cancellable: boolean;
  reason: { code: CancellationRefusalCode; message: string } | null;
  dayOfOrder: number;
  windowDays: number | null;
  windowEndsAt: string | null;
  daysRemaining: number | null;
  earlyTerminationFee: Money | null;
  credit: CancellationCredit | null;
  supportRequest: { typeOfProblem: string; route: string } | null;
}

export interface CancellableOrder {
  status: OrderStatus;
  purchasedAt: string | Date;
  /**
   * Imported: bought before csp-desk, so no charge of csp-desk's stands behind a credit. Inside its window it is
   * cancelled through support (a person checks the original charge), never by the partner's own assertion.
   */
  imported?: boolean;
  product: Pick<OrderProductSnapshot, 'billing' | 'cancellation'>;
  pricing: OrderPricing;
}

export function windowEnd(order: Pick<CancellableOrder, 'purchasedAt' | 'product'>): Date | null {
  const policy = order.product.cancellation;
  if (policy.mode !== 'standard-window') return null;
  return addDays(new Date(order.purchasedAt), policy.windowDays);
}

export function termEnd(order: Pick<CancellableOrder, 'purchasedAt' | 'product'>): Date | null {
  const billing = order.product.billing;
  return billing.type === 'subscription' ? addMonthsUtc(new Date(order.purchasedAt), billing.termMonths) : null;
}

/**
 * How long before the order's workflow takes up a cancellation the request may have come in and still be judged at
 * that instant: twice the longest an API request waits on Temporal (60 s, lib/temporal.ts), so that a request the
 * API is still waiting on is always covered, and no request can be dated earlier than that.
 */
export const CANCEL_REQUEST_GRACE_MS = 120_000;

/**
 * The instant a cancellation is judged and dated at (its window, its credit, `cancelledAt`): when the API received
 * it (`requestedAt`), not when the order's workflow got to it, which a restarted or busy worker may delay past the
 * window's end (QA: a cancellation sent 2 s before the end was refused once the worker came back). Bounded by the
 * workflow's own clock: never later than now, never more than CANCEL_REQUEST_GRACE_MS before it. A request that
 * carries no instant (an API on older code) is judged now.
 */
export function cancellationInstant(requestedAt: string | undefined, now: Date): Date {
  const asked = requestedAt === undefined ? NaN : Date.parse(requestedAt);
  if (!Number.isFinite(asked)) return now;
  return new Date(Math.min(now.getTime(), Math.max(asked, now.getTime() - CANCEL_REQUEST_GRACE_MS)));
}

/** Credit for cancelling at `at`: 100% for perpetual software, the unused days' share for subscriptions. */
export function cancellationCredit(order: CancellableOrder, at: Date): CancellationCredit {
  const { total, currency } = order.pricing;
  const withTax = (amount: number) => creditTax(order.pricing, amount);
  const end = termEnd(order);
  if (!end) return { amount: total, currency, basis: 'full', usedDays: null, termDays: null, taxAmount: withTax(total) };
  const start = new Date(order.purchasedAt);
  const termDays = Math.round((end.getTime() - start.getTime()) / DAY_MS);
  const usedDays = Math.min(termDays, Math.max(1, dayNumber(start, at)));
  const amount = mulDiv(total, termDays - usedDays, termDays);
  return { amount, currency, basis: 'prorated', usedDays, termDays, taxAmount: withTax(amount) };
}

/**
 * What the cancellation rules credit for the order today, as support weighs a refund against them: the credit, and
 * whether the window has passed, when the rules credit nothing (`credit.amount` 0, as the cancellation preview says);
 * `forDaysUsed` is then what they would have credited within it, a yardstick for an exception. Null for an order
 * cancelled, or one the rules never cancel.
 */
export function cancellationCreditToday(order: CancellableOrder, now: Date): { credit: CancellationCredit; windowPassed: boolean; forDaysUsed: CancellationCredit | null } | null {
  if (order.status === 'cancelled' || order.product.cancellation.mode === 'never') return null;
  const credit = cancellationCredit(order, now);
  const windowPassed = assessCancellation(order, now).reason?.code === 'window_passed';
  return windowPassed ? { credit: { ...credit, amount: 0, taxAmount: credit.taxAmount === null ? null : 0 }, windowPassed, forDaysUsed: credit } : { credit, windowPassed, forDaysUsed: null };
}

/** A refusal of a cancellation with its message ("after 60 days a purchase can no longer be cancelled"). */
function cancellationRefusal(code: CancellationRefusalCode, windowDays: number | null) {
  return { code, message: CANCELLATION_REFUSALS[code].replace('{windowDays}', String(windowDays ?? '')) };
}

export function assessCancellation(order: CancellableOrder, now: Date, supportRoute = '/support-requests'): CancellationAssessment {
  const policy = order.product.cancellation;
  const end = windowEnd(order);
  const windowDays = policy.mode === 'standard-window' ? policy.windowDays : null;
  const base = {
    dayOfOrder: dayNumber(new Date(order.purchasedAt), now),
    windowDays,
    windowEndsAt: end ? end.toISOString() : null,
    daysRemaining: end ? daysUntil(now, end) : null,
    supportRequest: null,
  };
  const refuse = (code: CancellationRefusalCode): CancellationAssessment => ({
    ...base,
    cancellable: false,
    reason: cancellationRefusal(code, windowDays),
    earlyTerminationFee: null,
    credit: null,
    supportRequest: code === 'support_request_required' || code === 'imported_support_request' ? { typeOfProblem: SUPPORT_REQUEST_PROBLEM_TYPE, route: supportRoute } : null,
  });
  if (order.status === 'cancelled') return refuse('already_cancelled');
  if (policy.mode === 'never') return refuse('never_cancellable');
  if (policy.mode === 'support-request-only') return refuse('support_request_required');
  if (!end || now.getTime() >= end.getTime()) return refuse('window_passed');
  if (order.imported) return refuse('imported_support_request');
  return {
    ...base,
    cancellable: true,
    reason: null,
    earlyTerminationFee: { amount: 0, currency: order.pricing.currency },
    credit: cancellationCredit(order, now),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Refunds support approves (the support path beside the partner's cancellation)

export const SUPPORT_REFUND_REFUSALS = {
  already_cancelled: 'This order is already cancelled; the refund cannot be carried out.',
  never_cancellable: 'This product can be neither cancelled nor refunded (SUSE and Red Hat plans are non-cancellable); the approval was not carried out.',
  amount_too_high: 'The approved amount exceeds what the order cost.',
  currency_mismatch: "The approved amount must be in the order's currency.",
} as const;
export type SupportRefundRefusalCode = keyof typeof SUPPORT_REFUND_REFUSALS;
/**
 * The refusals that end a support refund's attempts (the order's refusals, and an order not recorded): one list for
 * the activity that carries the refund out and the ticket's retry policy, so that a refusal added to the rules is
 * never retried without end by one of them.
 */
export const SUPPORT_REFUND_FINAL_CODES: readonly string[] = [...Object.keys(SUPPORT_REFUND_REFUSALS), 'order_missing'];

export interface SupportRefundAssessment {
  allowed: boolean;
  reason: { code: SupportRefundRefusalCode; message: string } | null;
}

/**
 * Whether support may cancel an order and refund `amount`: Windows 7 ESU (support-request-only) and orders
 * past their 60-day window are allowed; never-cancellable products (SUSE, Red Hat) and cancelled orders are not.
 * `refundedBy`: the ticket that already carried out a refund of this order (the same ticket asking again is
 * a repeat, answered with what was done).
 */
export function assessSupportRefund(
  order: Pick<CancellableOrder, 'status' | 'product' | 'pricing'>,
  amount: Money,
  ticket?: { number: string; refundedBy: string | null },
): SupportRefundAssessment {
  const refuse = (code: SupportRefundRefusalCode): SupportRefundAssessment => ({ allowed: false, reason: { code, message: SUPPORT_REFUND_REFUSALS[code] } });
  if (order.status === 'cancelled') return ticket && ticket.refundedBy === ticket.number ? { allowed: true, reason: null } : refuse('already_cancelled');
  if (order.product.cancellation.mode === 'never') return refuse('never_cancellable');
  if (amount.currency !== order.pricing.currency) return refuse('currency_mismatch');
  if (amount.amount > order.pricing.total) return refuse('amount_too_high');
  return { allowed: true, reason: null };
}

/** The credit of a support refund: the approved amount, and the tax it takes back where prices include tax (creditTax). */
export function supportRefundCredit(order: Pick<CancellableOrder, 'pricing'>, amount: number): CancellationCredit {
  return { amount, currency: order.pricing.currency, basis: 'support-refund', usedDays: null, termDays: null, taxAmount: creditTax(order.pricing, amount) };
}
