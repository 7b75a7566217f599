export { orderWorkflow } from './order';
export { closeInvoicesWorkflow, closePartnerInvoiceWorkflow } from './invoices';
