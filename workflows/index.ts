export { orderWorkflow, orderRefundWorkflow } from './order';
export { supportTicketWorkflow } from './support';
export { closeInvoicesWorkflow, closePartnerInvoiceWorkflow } from './invoices';
export { sessionHousekeepingWorkflow } from './sessions';
