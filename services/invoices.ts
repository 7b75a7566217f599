/** A partner's invoice for a month: charges and credits from the ledger, totals per currency. */
import { Invoice, LedgerLine } from '../models';
import { summarizeInvoice } from '../domain/invoice';

export async function getInvoice(partnerId: string, month: string) {
  const [lines, closed] = await Promise.all([
    LedgerLine.find({ partnerId, invoiceMonth: month }).sort({ at: 1, _id: 1 }).lean(),
    Invoice.findById(`${partnerId}:${month}`).lean(),
  ]);
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
