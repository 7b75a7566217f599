/** The rules of importing purchases made before csp-desk: their date, their csp-desk id, what an import comes to. */
import { v5 as uuidv5 } from 'uuid';
import { FIRST_DAY } from './time';
import { formatMoney } from './money';

/**
 * An imported purchase's date: not in the future, and not before FIRST_DAY, 2000-01-01 UTC (a year such as 0408 or 1026 is a
 * typing error, and would date the order's timeline, window and term centuries back). One before it is refused with
 * the limit and the instant both in UTC, so that an offset that takes "2000-01-01T00:30:00+01:00" into 1999 shows
 * (QA: "check the year" told one who had typed 2000 nothing).
 */
export const EARLIEST_IMPORTED_PURCHASE = `${FIRST_DAY}T00:00:00.000Z`;
export function importedPurchaseProblem(purchasedAt: Date, now: Date): string | null {
  if (Number.isNaN(purchasedAt.getTime())) return 'is not a representable instant';
  if (purchasedAt.getTime() > now.getTime()) return 'is in the future';
  if (purchasedAt.getTime() < Date.parse(EARLIEST_IMPORTED_PURCHASE)) {
    const utc = (d: Date) => d.toISOString().replace('.000Z', 'Z');
    return `is before ${utc(new Date(EARLIEST_IMPORTED_PURCHASE))} (UTC): it is ${utc(purchasedAt)}`;
  }
  return null;
}

/** The namespace of importedOrderId's name-based UUIDs (RFC 9562 version 5); fixed: changing it would re-import every order. */
const IMPORTED_ORDER_NAMESPACE = 'f3b7c1de-5a0e-4c3b-9a41-6f2d8e9b0c17';

/**
 * The csp-desk order id of a purchase a partner imports under its original id: a name-based UUID of the partner and
 * that id. Each partner's original ids are its own: two partners importing the same id get two orders, neither can
 * learn whether the other holds it, nor take it first; the same partner importing it again finds the same order.
 */
export function importedOrderId(partnerId: string, originalOrderId: string): string {
  return uuidv5(`${partnerId}\u0000${originalOrderId}`, IMPORTED_ORDER_NAMESPACE);
}

/** One purchase to import, as the partner gives it. */
export interface ImportItem {
  orderId: string;
  productId: string;
  quantity: number;
  purchasedAt: string;
  /** the unit price it was bought at (minor units, the currency of the customer's market); absent: today's list price */
  unitPrice?: { amount: number; currency: string };
}

export type ImportOutcome = 'imported' | 'exists' | 'conflict';

/**
 * What importing `item` for `customerId` came to, beside the order its original id already names (`order`, this
 * partner's): `found` says whether that order was there before (then the same purchase is `exists`) or was just
 * recorded (`imported`). Other contents under the same original id are a conflict, never silently dropped nor changed.
 */
export function importOutcome(
  order: { customerId: string; customerName: string; productId: string; quantity: number; purchasedAt: Date; unitPrice: number; currency: string },
  item: ImportItem,
  customerId: string,
  found: 'exists' | 'imported',
): { outcome: ImportOutcome; message: string } {
  if (order.customerId !== customerId) {
    return { outcome: 'conflict', message: `this order id is already imported for another of your customers (${order.customerName}): nothing changed` };
  }
  // (a unit price given again must be the one recorded; none given asks nothing of it)
  const samePrice = !item.unitPrice || (item.unitPrice.amount === order.unitPrice && item.unitPrice.currency === order.currency);
  const same = order.productId === item.productId && order.quantity === item.quantity && order.purchasedAt.getTime() === new Date(item.purchasedAt).getTime() && samePrice;
  if (!same) {
    return { outcome: 'conflict', message: `already imported with other contents (${order.productId} × ${order.quantity} at ${formatMoney(order.unitPrice, order.currency)} each, bought ${order.purchasedAt.toISOString()}): nothing changed` };
  }
  return found === 'exists' ? { outcome: 'exists', message: 'already imported' } : { outcome: 'imported', message: 'imported' };
}

/**
 * Whether this import call imported the purchase or found it already there, from the order as recorded: the call whose
 * key (OrderTerms.importKey) the order carries is the one whose terms started its workflow, which starts once under
 * the order's id (concurrent imports of one purchase join it). So exactly one call answers `imported`, whatever the
 * timing; every other finds the order (`exists`, or a conflict by importOutcome). Never from a read before the start:
 * six identical imports at once all read nothing and all answered `imported` (QA).
 */
export function importFound(recorded: { importKey?: string | null }, importKey: string): 'imported' | 'exists' {
  return recorded.importKey === importKey ? 'imported' : 'exists';
}

/**
 * An imported order's id before csp-desk, null for a placed one: kept as `originalOrderId`, or, for an order imported
 * before it was kept, its own id (which then is that id).
 */
export const originalOrderIdOf = (o: { _id: string; imported: boolean; originalOrderId?: string | null }): string | null => (o.imported ? (o.originalOrderId ?? o._id) : null);
