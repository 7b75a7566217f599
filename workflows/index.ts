export { orderWorkflow } from './order';
export { closeInvoicesWorkflow } from './invoices';
export { skeletonWorkflow } from './bench';
