/** The invoice domain's contract: schedule and workflow ids. */
export const INVOICE_CLOSE_SCHEDULE_ID = 'invoice-monthly-close';
/** One close per partner and month, ever: the id is never reused. */
export const invoiceCloseWorkflowId = (partnerId: string, month: string): string => `invoice:${partnerId}:${month}`;
