/**
 * A partner's invoice for a month: charges and credits, totals per currency. An open month is read live
 * from the ledger; a closed one is what was billed at the close.
 */
import { Invoice, LedgerLine, type LedgerLineDoc } from '../models';
import { summarizeInvoice } from '../domain/invoice';

export async function getInvoice(partnerId: string, month: string) {
  const closed = await Invoice.findById(`${partnerId}:${month}`).lean();
  // an invoice closed before snapshots were kept has none: its lines are read live
  const lines = Array.isArray(closed?.lines)
    ? (closed.lines as LedgerLineDoc[]).map((l) => ({ ...l, at: new Date(l.at) }))
    : await LedgerLine.find({ partnerId, invoiceMonth: month }).sort({ at: 1, _id: 1 }).lean();
  return {
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
      tax: l.tax,
    })),
    totals: summarizeInvoice(lines),
  };
}
