/**
 * Closes a month: for every partner with invoice lines in it, one child workflow (id
 * `invoice:<partner>:<month>`, never reused) records the closed invoice and emails it. The fixed child id
 * makes the partner's month one writer, however many close runs overlap (the Schedule, a manual run).
 * Started by the monthly Schedule (month = the one before the run's start) or by hand with a month (and,
 * optionally, the partners to close).
 */
import { executeChild, proxyActivities } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities';
import { invoiceCloseWorkflowId } from '../contracts/invoices';
import { monthKey, previousMonthKey } from '../domain/time';

const acts = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function closePartnerInvoiceWorkflow(partnerId: string, month: string): Promise<{ emailed: boolean }> {
  return acts.closeInvoice(partnerId, month, new Date(Date.now()).toISOString());
}

export async function closeInvoicesWorkflow(input: { month?: string; partnerIds?: string[] } = {}): Promise<{ month: string; partners: number; closedHere: number }> {
  const month = input.month ?? previousMonthKey(monthKey(new Date(Date.now())));
  const withLines = await acts.partnersWithLines(month);
  // a manual run may close only some partners' months
  const partners = input.partnerIds ? withLines.filter((p) => input.partnerIds!.includes(p)) : withLines;
  let closedHere = 0;
  for (const partnerId of partners) {
    try {
      await executeChild(closePartnerInvoiceWorkflow, {
        workflowId: invoiceCloseWorkflowId(partnerId, month),
        args: [partnerId, month],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      closedHere++;
    } catch (e) {
      // closed (or being closed) by another run: that run is its one writer
      if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
    }
  }
  return { month, partners: partners.length, closedHere };
}
