/** A month's invoice from its ledger lines: totals per currency, never floating point. */
import type { TaxLine } from './orders';
import { sum } from './money';
import { MONTH_KEY_PATTERN } from './time';

export const LEDGER_LINE_KINDS = ['charge', 'credit'] as const;
export type LedgerLineKind = (typeof LEDGER_LINE_KINDS)[number];

export interface InvoiceLineInput {
  kind: LedgerLineKind;
  amount: number;
  currency: string;
  tax: TaxLine;
}

export interface InvoiceTotals {
  currency: string;
  charges: number;
  credits: number;
  net: number;
  /** tax contained in lines whose prices include tax (Australia, Brazil) */
  taxIncluded: number;
  /** net of lines whose prices exclude tax: tax is added by the tax authority's rules, not here */
  taxExcludedNet: number;
  /** whether any line's price includes tax (Australia, Brazil): then `taxIncluded` is the tax in the month, 0 included */
  taxInclusive: boolean;
}

/**
 * A line's tax as invoices show it, with the line's amount's sign: a charge's is the tax its amount contains; a
 * credit's is the tax it takes back from its charge (creditTax in domain/cancellation.ts: the charge's tax less the
 * tax contained in the part kept, which can differ from the tax its own amount contains by a minor unit). A credit's
 * ledger line stores it positive, as the cancellation computed it; every view of an invoice line (API, page, email)
 * and its totals go through here.
 */
export function lineTax(line: Pick<InvoiceLineInput, 'amount' | 'tax'>): TaxLine {
  const contained = line.tax.amount;
  if (contained === null || contained === undefined) return { ...line.tax, amount: null };
  return { ...line.tax, amount: line.amount < 0 ? -Math.abs(contained) || 0 : Math.abs(contained) };
}

export function summarizeInvoice(lines: readonly InvoiceLineInput[]): InvoiceTotals[] {
  const byCurrency = new Map<string, InvoiceLineInput[]>();
  for (const line of lines) {
    const list = byCurrency.get(line.currency) ?? [];
    list.push(line);
    byCurrency.set(line.currency, list);
  }
  return [...byCurrency.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, ls]) => {
      const charges = sum(ls.filter((l) => l.kind === 'charge').map((l) => l.amount));
      const credits = sum(ls.filter((l) => l.kind === 'credit').map((l) => l.amount));
      // a credit's tax (negative, see lineTax) reduces the tax contained in the month
      const taxIncluded = sum(ls.map((l) => lineTax(l).amount ?? 0));
      const taxExcludedNet = sum(ls.filter((l) => l.tax.treatment === 'exclusive').map((l) => l.amount));
      const taxInclusive = ls.some((l) => l.tax.treatment === 'inclusive');
      return { currency, charges, credits, net: charges + credits, taxIncluded, taxExcludedNet, taxInclusive };
    });
}

/**
 * Why a partner has no invoice for a month, or null when it has one: a month closed or with lines always has one;
 * otherwise the months from the partner's first (`YYYY-MM`) to the open one are open invoices, and a month outside
 * them has none (it has not begun, or came before the partner). The open month is the current one, or a later one
 * once the current one was closed early (`openMonth`).
 */
export function noInvoiceReason(month: string, at: { currentMonth: string; openMonth?: string; firstMonth: string; closed: boolean; lines: number }): string | null {
  if (at.closed || at.lines > 0) return null;
  const open = at.openMonth ?? at.currentMonth;
  if (month > open) return `the month has not begun (this month is ${at.currentMonth}${open !== at.currentMonth ? `; closed early, the open invoice is ${open}` : ''})`;
  if (month < at.firstMonth) return `it is before the partner's first month, ${at.firstMonth}`;
  return null;
}

/**
 * Why a run may not close `month` in `current` (both `YYYY-MM`), or null: a month not written as one; one that has
 * not begun (a typo for this month, say: its invoice would be closed and emailed before it had a line, and the next
 * month opened early, none of which can be undone); one that has not ended, unless closed early on purpose.
 */
export function invoiceCloseRefusal(month: string, current: string, early: boolean): { code: string; message: string } | null {
  if (!new RegExp(MONTH_KEY_PATTERN).test(month)) return { code: 'invalid_month', message: `month ${JSON.stringify(month)} is not a month: write it as YYYY-MM, such as ${current}` };
  if (month > current) return { code: 'month_not_begun', message: `month ${month} has not begun (this month is ${current}): a month is closed once it ends, or early from within it` };
  if (month === current && !early) return { code: 'month_not_ended', message: `month ${month} has not ended (this month is ${current}): close it after it ends, or pass "early": true to close it now` };
  return null;
}
