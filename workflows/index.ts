export { orderWorkflow, orderRefundWorkflow } from './order';
export { supportTicketWorkflow } from './support';
export { closeInvoicesWorkflow, closePartnerInvoiceWorkflow } from './invoices';
export { housekeepingWorkflow } from './system';
