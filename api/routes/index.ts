/** Every route of the API, one file per domain. Handlers are thin: they call a service and shape the reply. */
import type { RouteDef } from '../http';
import type { RouteDeps } from './deps';
import { systemRoutes } from './system';
import { catalogRoutes } from './catalog';
import { customerRoutes } from './customers';
import { orderRoutes } from './orders';
import { licensingRoutes } from './licensing';
import { invoiceRoutes } from './invoices';
import { supportRoutes } from './support';
import { activityLogRoutes } from './activity-log';
import { identityRoutes } from './identity';
import { supportMetricsRoutes } from './support-metrics';
import { supportAttachmentRoutes } from './support-attachments';

export type { RouteDeps } from './deps';

export function routes(deps: RouteDeps): RouteDef[] {
  return [
    ...systemRoutes(deps),
    ...catalogRoutes(deps),
    ...customerRoutes(deps),
    ...orderRoutes(deps),
    ...licensingRoutes(deps),
    ...invoiceRoutes(deps),
    ...identityRoutes(deps),
    // before the ticket routes: `/support-requests/metrics` is not a ticket number
    ...supportMetricsRoutes(deps),
    ...supportAttachmentRoutes(deps),
    ...supportRoutes(deps),
    ...activityLogRoutes(deps),
  ];
}
