export { orderWorkflow } from './order';
export { closeInvoicesWorkflow, closePartnerInvoiceWorkflow } from './invoices';
export { skeletonWorkflow } from './bench';
