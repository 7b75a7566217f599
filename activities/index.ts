/** Every activity the workers run, composed from one factory per domain with explicit dependencies. */
import { createSendOnce, type ActivityDeps } from './shared';
import { createOrderActivities } from './orders';
import { createInvoiceActivities } from './invoices';
import { createSupportActivities } from './support';
import { createSessionActivities } from './sessions';
import { createAttachmentActivities } from './attachments';
import { createLicensingActivities } from './licensing';

export type { ActivityDeps } from './shared';

export function createActivities(deps: ActivityDeps) {
  const sendOnce = createSendOnce(deps);
  return {
    ...createOrderActivities(deps, sendOnce),
    ...createInvoiceActivities(deps, sendOnce),
    ...createSupportActivities(deps, sendOnce),
    ...createSessionActivities(deps),
    ...createAttachmentActivities(deps),
    ...createLicensingActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
