/** Invoice lines (one per charge or credit) and closed months. */
import { Schema, model } from 'mongoose';
import type { TaxLine } from '../domain/orders';
import type { LedgerLineKind } from '../domain/invoice';
import { nextMonthKey } from '../domain/time';

const mixed = Schema.Types.Mixed;

/** Invoice lines: `_id` = `${orderId}:charge` or `${orderId}:credit`, so each lands once. */
export interface LedgerLineDoc {
  _id: string;
  partnerId: string;
  orderId: string;
  customerId: string;
  customerName: string;
  productName: string;
  kind: LedgerLineKind;
  /** signed minor units: charges positive, credits negative */
  amount: number;
  currency: string;
  tax: TaxLine;
  invoiceMonth: string;
  at: Date;
  description: string;
}
const ledgerSchema = new Schema<LedgerLineDoc>(
  {
    _id: String,
    partnerId: { type: String, required: true },
    orderId: { type: String, required: true },
    customerId: { type: String, required: true },
    customerName: { type: String, required: true },
    productName: { type: String, required: true },
    kind: { type: String, required: true },
    amount: { type: Number, required: true },
    currency: { type: String, required: true },
    tax: { type: mixed, required: true },
    invoiceMonth: { type: String, required: true },
    at: { type: Date, required: true },
    description: { type: String, required: true },
  },
  { versionKey: false, minimize: false },
);
ledgerSchema.index({ partnerId: 1, invoiceMonth: 1, at: 1 });
export const LedgerLine = model<LedgerLineDoc>('LedgerLine', ledgerSchema, 'ledgerlines');

/** A closed month: written once by the invoice-close workflow. */
export interface InvoiceDoc {
  /** `${partnerId}:${month}` */
  _id: string;
  partnerId: string;
  month: string;
  closedAt: Date;
  totals: unknown;
  /** the ledger lines this invoice billed, as they were at the close */
  lines: unknown[];
}
export const Invoice = model<InvoiceDoc>(
  'Invoice',
  new Schema<InvoiceDoc>({ _id: String, partnerId: { type: String, required: true }, month: { type: String, required: true }, closedAt: { type: Date, required: true }, totals: { type: mixed, required: true }, lines: { type: [mixed], default: [] } }, { versionKey: false, minimize: false }),
  'invoices',
);

/**
 * A month's close under way: written once by the close (closeInvoice) before it reads the lines its invoice bills.
 * A line's writer that finds it after writing, and no invoice yet, cannot know whether the close's read saw its
 * line: it waits for the invoice (settleLine). One without it was written before the close began, and is billed.
 */
export interface InvoiceCloseDoc {
  /** `${partnerId}:${month}`, as the invoice's */
  _id: string;
  partnerId: string;
  month: string;
  startedAt: Date;
}
export const InvoiceClose = model<InvoiceCloseDoc>(
  'InvoiceClose',
  new Schema<InvoiceCloseDoc>({ _id: String, partnerId: { type: String, required: true }, month: { type: String, required: true }, startedAt: { type: Date, required: true } }, { versionKey: false }),
  'invoicecloses',
);

/**
 * The first month from `month` on whose invoice is still open for the partner, its close not begun either: where a
 * line written now goes (a line written into a month whose close has begun would wait for that close: settleLine).
 */
export async function openMonthFrom(partnerId: string, month: string): Promise<string> {
  for (;;) {
    const id = `${partnerId}:${month}`;
    const [closed, closing] = await Promise.all([Invoice.exists({ _id: id }), InvoiceClose.exists({ _id: id })]);
    if (!closed && !closing) return month;
    month = nextMonthKey(month);
  }
}
