/**
 * Invoice activities: the monthly close of a partner's month, and the rule that puts a ledger line on the
 * first month whose invoice is still open (used by the order activities when they write a charge or credit).
 */
import { Invoice, InvoiceClose, LedgerLine, Partner, openMonthFrom } from '../models';
import type { LedgerLineDoc } from '../models';
import { monthName, nextMonthKey } from '../domain/time';
import { lineTax, summarizeInvoice } from '../domain/invoice';
import { insertOnce, type ActivityDeps, type SendOnce } from './shared';
import { pageLinks } from '../contracts/links';
import { Context } from '@temporalio/activity';
import type { Logger } from '../lib/logger';


/** The ledger line ids a closed invoice billed (null for an invoice closed before snapshots were kept). */
function billedIds(invoice: { lines?: unknown }): Set<string> | null {
  return Array.isArray(invoice.lines) ? new Set((invoice.lines as { _id: string }[]).map((l) => l._id)) : null;
}

/** The attempt at which a line still waiting on a close under way is said in the worker's log, then every so many. */
const CLOSE_WAIT_WARN_AT = 10;
const CLOSE_WAIT_WARN_EVERY = 50;

/**
 * A line written while its month was being closed may have missed the close's snapshot. Both sides check
 * after writing (the line's writer here, the closer in closeInvoice), so whatever the interleaving one of
 * them sees it, and both move it to the same place: the next open month.
 *
 * Answers the month the line is billed in, for good: its writer names it (the order's timeline, a support
 * approval and its email). A close that has begun (its InvoiceClose) without its invoice yet may or may not have
 * read the line: this waits for that invoice (an error, tried again), rather than name a month the closer may
 * still move the line from (review: the month answered was read before the close moved the line). A line moved
 * on is checked again in the month it lands in, which may be closing too (a catch-up close of several months).
 * A wait that lasts is said in the log: a close that died after it began (its workflow terminated) holds its
 * month's late lines until the month is closed again.
 */
export async function settleLine(lineId: string, log?: Logger): Promise<string | null> {
  // each round moves the line a month on at most; a partner's closed months ahead of now are few
  for (let round = 0; round < 24; round++) {
    const line = await LedgerLine.findById(lineId).lean();
    if (!line) return null;
    const id = `${line.partnerId}:${line.invoiceMonth}`;
    const [closed, closing] = await Promise.all([Invoice.findById(id).lean(), InvoiceClose.exists({ _id: id })]);
    if (!closed) {
      // none begun: whenever it does, it reads this line (written before this check) and bills it
      if (!closing) return line.invoiceMonth;
      const attempt = activityAttempt();
      if (attempt === CLOSE_WAIT_WARN_AT || (attempt > CLOSE_WAIT_WARN_AT && attempt % CLOSE_WAIT_WARN_EVERY === 0)) {
        log?.warn({ lineId, partnerId: line.partnerId, month: line.invoiceMonth, attempt }, "a ledger line still waits on its month's invoice close, begun and not finished: if that close's workflow has ended, close the month again (README, Invoices)");
      }
      throw new Error(`the invoice of ${line.invoiceMonth} is being closed: whether it bills line ${lineId} is known once the close has written it; tried again`);
    }
    const billed = billedIds(closed);
    if (!billed || billed.has(lineId)) return line.invoiceMonth;
    const month = await openMonthFrom(line.partnerId, nextMonthKey(line.invoiceMonth));
    // (the closer may have moved it first, to the same place: the next round reads where it is)
    await LedgerLine.updateOne({ _id: lineId, invoiceMonth: line.invoiceMonth }, { $set: { invoiceMonth: month } });
  }
  throw new Error(`ledger line ${lineId} was moved on from month to month 24 times: its partner's months ahead are all closed or closing`);
}

/** This activity's attempt (1 outside an activity). */
function activityAttempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

export function createInvoiceActivities(deps: ActivityDeps, sendOnce: SendOnce) {
  const { publicBaseUrl } = deps;
  return {
    /** Partners with at least one ledger line in the month. */
    async partnersWithLines(month: string): Promise<string[]> {
      const ids = await LedgerLine.distinct('partnerId', { invoiceMonth: month });
      return (ids as string[]).sort();
    },

    /**
     * Records the closed month with the lines it bills (once) and emails that invoice (once). Lines
     * written later go to the next open month (openMonthFrom, settleLine). Runs only in the partner-month's
     * own child workflow, so the invoice has one writer.
     */
    async closeInvoice(partnerId: string, month: string, at: string): Promise<{ emailed: boolean }> {
      let closed = await Invoice.findById(`${partnerId}:${month}`).lean();
      if (!closed) {
        // said before the lines are read: a line's writer that finds neither this nor the invoice knows it is billed
        await insertOnce(() => InvoiceClose.create({ _id: `${partnerId}:${month}`, partnerId, month, startedAt: new Date(at) }));
        const billed = await LedgerLine.find({ partnerId, invoiceMonth: month }).sort({ at: 1, _id: 1 }).lean();
        await insertOnce(() => Invoice.create({ _id: `${partnerId}:${month}`, partnerId, month, closedAt: new Date(at), totals: summarizeInvoice(billed), lines: billed }));
        closed = (await Invoice.findById(`${partnerId}:${month}`).lean())!;
      }
      // lines written while this close was under way that missed its snapshot go to the next open month
      const billed = billedIds(closed);
      if (billed) {
        const strays = await LedgerLine.find({ partnerId, invoiceMonth: month, _id: { $nin: [...billed] } }).lean();
        for (const stray of strays) {
          const next = await openMonthFrom(partnerId, nextMonthKey(month));
          await LedgerLine.updateOne({ _id: stray._id, invoiceMonth: month }, { $set: { invoiceMonth: next } });
        }
      }
      const lines = billed ? (closed.lines as LedgerLineDoc[]) : await LedgerLine.find({ partnerId, invoiceMonth: month }).sort({ at: 1, _id: 1 }).lean();
      const totals = billed ? closed.totals : summarizeInvoice(lines);
      const partner = await Partner.findById(partnerId).lean();
      if (!partner) return { emailed: false };
      const customers = new Set(lines.map((l) => l.customerId));
      const result = await sendOnce(`invoice:${partnerId}:${month}`, 'invoice', [partner.email], {
        partner,
        month,
        monthName: monthName(month),
        // closed before the month ended (an early close): what happens later is on the next month's invoice
        closedEarly: closed.closedAt.getTime() < Date.parse(`${nextMonthKey(month)}-01T00:00:00Z`) ? { at: closed.closedAt, nextMonthName: monthName(nextMonthKey(month)) } : null,
        lines: lines.map((l) => ({ ...l, tax: lineTax(l) })),
        totals,
        customers: customers.size,
        invoiceUrl: pageLinks(publicBaseUrl).invoice(month),
        // invoice months are UTC months and its lines UTC dates: its one time (an early close) is in UTC too
        timeZone: 'UTC',
      });
      deps.log.info({ partnerId, month, lines: lines.length, emailed: result.sent }, 'invoice closed');
      return { emailed: result.sent };
    },
  };
}
