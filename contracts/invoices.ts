/** The invoice domain's contract: schedule and workflow ids. */
export const INVOICE_CLOSE_SCHEDULE_ID = 'invoice-monthly-close';
export const invoiceCloseWorkflowId = (month: string): string => `invoice-close:${month}`;
