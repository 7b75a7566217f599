/**
 * A partner's invoice for a month: charges and credits, totals per currency. An open month is read live
 * from the ledger; a closed one is what was billed at the close.
 */
import { Invoice, LedgerLine, Partner, openMonthFrom, type LedgerLineDoc } from '../models';
import { lineTax, noInvoiceReason, summarizeInvoice } from '../domain/invoice';
import { monthKey } from '../domain/time';
import { AppError } from '../lib/errors';

/** The invoice, or a 404 for a month that has none (not begun, or before the partner: `noInvoiceReason`). */
export async function getInvoice(partnerId: string, month: string, now: Date = new Date()) {
  const found = await findInvoice(partnerId, month, now);
  if ('none' in found) throw new AppError(404, 'not_found', `there is no invoice for ${month}: ${found.none}`);
  return found.invoice;
}

/** The partner's first month (of its creation): no invoice comes before it. */
export async function firstInvoiceMonth(partnerId: string, now: Date): Promise<string> {
  const partner = await Partner.findById(partnerId, { createdAt: 1 }).lean();
  return monthKey(partner?.createdAt ?? now);
}

/**
 * The month whose invoice takes what happens now: this month, or once it was closed early, the first open one after
 * it (its lines are dated before it begins).
 */
export async function openInvoiceMonth(partnerId: string, now: Date): Promise<string> {
  return openMonthFrom(partnerId, monthKey(now));
}

/** The invoice, or why the month has none. */
export async function findInvoice(partnerId: string, month: string, now: Date) {
  const closed = await Invoice.findById(`${partnerId}:${month}`).lean();
  // an invoice closed before snapshots were kept has none: its lines are read live
  const lines = Array.isArray(closed?.lines)
    ? (closed.lines as LedgerLineDoc[]).map((l) => ({ ...l, at: new Date(l.at) }))
    : await LedgerLine.find({ partnerId, invoiceMonth: month }).sort({ at: 1, _id: 1 }).lean();
  if (!closed && lines.length === 0) {
    // a month after this one has begun for the partner when this one was closed early (it is the open month)
    const currentMonth = monthKey(now);
    const openMonth = month > currentMonth ? await openInvoiceMonth(partnerId, now) : currentMonth;
    const reason = noInvoiceReason(month, { currentMonth, openMonth, firstMonth: await firstInvoiceMonth(partnerId, now), closed: false, lines: 0 });
    if (reason) return { none: reason };
  }
  const invoice = {
    partnerId,
    month,
    status: closed ? ('closed' as const) : ('open' as const),
    closedAt: closed ? closed.closedAt.toISOString() : null,
    lines: lines.map((l) => ({
      id: l._id,
      kind: l.kind,
      orderId: l.orderId,
      customerId: l.customerId,
      customerName: l.customerName,
      productName: l.productName,
      description: l.description,
      at: l.at.toISOString(),
      amount: l.amount,
      currency: l.currency,
      tax: lineTax(l),
    })),
    totals: summarizeInvoice(lines),
  };
  return { invoice };
}

/** Who an invoice is billed to, as its page heads it. */
export async function billedPartnerName(partnerId: string): Promise<string | null> {
  return (await Partner.findById(partnerId, { name: 1 }).lean())?.name ?? null;
}
