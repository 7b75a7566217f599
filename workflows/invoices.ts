/**
 * Closes a month: for every partner with invoice lines in it, one child workflow (id
 * `invoice:<partner>:<month>`) records the closed invoice and emails it. The fixed child id makes the
 * partner's month one writer, however many close runs overlap (the Schedule, a manual run); it can be used
 * again only if an earlier close failed, and a child outlives a parent that is terminated. Partners close
 * in parallel, so one partner's trouble (say its mail server) does not hold up the others.
 * Started by the monthly Schedule (month = the one before the run's start) or by hand with a month (and,
 * optionally, the partners to close).
 */
import { executeChild, patched, proxyActivities } from '@temporalio/workflow';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities';
import { invoiceCloseWorkflowId } from '../contracts/invoices';
import { invoiceCloseRefusal } from '../domain/invoice';
import { monthKey, previousMonthKey } from '../domain/time';
import { DATABASE_ACTIVITY, INVOICE_CLOSE_ACTIVITY } from './activity-options';

const acts = proxyActivities<Activities>(DATABASE_ACTIVITY);
const closing = proxyActivities<Activities>(INVOICE_CLOSE_ACTIVITY);

/** Patch id: a month not written as one, or one that has not begun, is refused even early (runs before replay as they ran). */
const MONTH_CHECKED = 'invoice-close-month-checked';

export async function closePartnerInvoiceWorkflow(partnerId: string, month: string): Promise<{ emailed: boolean }> {
  return closing.closeInvoice(partnerId, month, new Date(Date.now()).toISOString());
}

export async function closeInvoicesWorkflow(input: { month?: string; partnerIds?: string[]; early?: boolean } = {}): Promise<{ month: string; partners: number; closedHere: number }> {
  const current = monthKey(new Date(Date.now()));
  const month = input.month ?? previousMonthKey(current);
  // a month that has not ended is closed only when asked for in so many words (its later lines go to the next month);
  // one that has not begun, or is not a month, never (QA: "2026-12" typed for "2026-11" closed and emailed December)
  if (patched(MONTH_CHECKED)) {
    const refusal = invoiceCloseRefusal(month, current, input.early === true);
    if (refusal) throw ApplicationFailure.nonRetryable(refusal.message, refusal.code);
  } else if (patched('invoice-close-ended-months') && month >= current && !input.early) {
    throw ApplicationFailure.nonRetryable(`month ${month} has not ended (this month is ${current}): close it after it ends, or pass "early": true to close it now`, 'month_not_ended');
  }
  const withLines = await acts.partnersWithLines(month);
  // a manual run may close only some partners' months
  const partners = input.partnerIds ? withLines.filter((p) => input.partnerIds!.includes(p)) : withLines;
  const closed = await Promise.all(
    partners.map(async (partnerId): Promise<number> => {
      try {
        await executeChild(closePartnerInvoiceWorkflow, {
          workflowId: invoiceCloseWorkflowId(partnerId, month),
          args: [partnerId, month],
          workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
          parentClosePolicy: 'ABANDON',
        });
        return 1;
      } catch (e) {
        // closed (or being closed) by another run: that run is its one writer
        if (e instanceof WorkflowExecutionAlreadyStartedError) return 0;
        throw e;
      }
    }),
  );
  return { month, partners: partners.length, closedHere: closed.reduce((n, c) => n + c, 0) };
}
