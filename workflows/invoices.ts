/**
 * Closes a month: for every partner with invoice lines in it, records the closed invoice and emails it.
 * Started by the monthly Schedule (month = the one before the run's start) or by hand with a month.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { monthKey, previousMonthKey } from '../domain/time';

const acts = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function closeInvoicesWorkflow(input: { month?: string } = {}): Promise<{ month: string; partners: number }> {
  const month = input.month ?? previousMonthKey(monthKey(new Date(Date.now())));
  const partners = await acts.partnersWithLines(month);
  const closedAt = new Date(Date.now()).toISOString();
  for (const partnerId of partners) await acts.closeInvoice(partnerId, month, closedAt);
  return { month, partners: partners.length };
}
