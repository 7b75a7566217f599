/** What the route declarations need: the Temporal client and the services built for them. */
import type { Client } from '@temporalio/client';
import type { HealthDeps } from '../../services/health';
import type { OrderService } from '../../services/orders';
import type { SupportService } from '../../services/support';
import type { LicensingService } from '../../services/licensing';
import type { ActivityLogService } from '../../services/activity-log';
import type { AttachmentServiceDeps } from '../../services/attachments';

export interface RouteDeps extends HealthDeps {
  client: Client;
  orders: OrderService;
  support: SupportService;
  licensing: LicensingService;
  activityLog: ActivityLogService;
  /** the attachments' limits and ticket lookup (services/attachments.ts) */
  attachments: AttachmentServiceDeps;
}
