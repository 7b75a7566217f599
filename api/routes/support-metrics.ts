/** Support metrics (SLA reports) computed from the tickets' events. */
import { defineRoute, type RouteDef } from '../http';
import * as S from '../schemas/support-attachments';
import { timeZoneQuery } from '../schemas/common';
import { supportMetrics } from '../../services/support-metrics';
import { METRICS_FIRST_DAY } from '../../domain/support-metrics';
import type { RouteDeps } from './deps';

export function supportMetricsRoutes(_deps: RouteDeps): RouteDef[] {
  return [
    defineRoute({
      method: 'get',
      path: '/support-requests/metrics',
      operationId: 'supportMetrics',
      summary: 'Read support metrics for a period',
      description:
        'For the support requests filed from `from` to `to` (days of `timeZone`, UTC by default, both included, at most 366 days), per impact and per agent (the assignee at the latest event): tickets, ' +
        'the share of first responses and of resolutions within target, median times from filing (calendar seconds), escalations. ' +
        "Computed from the requests' events, so each breach counted is one the SLA clocks recorded.",
      tag: 'support',
      permission: 'workSupportRequests',
      query: {
        type: 'object',
        additionalProperties: false,
        properties: {
          from: { type: 'string', format: 'date', description: `first day, YYYY-MM-DD (a day of \`timeZone\`), ${METRICS_FIRST_DAY} or later` },
          to: { type: 'string', format: 'date', description: 'last day, YYYY-MM-DD (a day of `timeZone`), included' },
          timeZone: timeZoneQuery('`from` and `to`', '; a request counts on the day it was filed there'),
        },
        required: ['from', 'to'],
      },
      responses: { 200: { description: 'the figures', schema: S.supportMetricsSchema } },
      handler: async ({ query }) => ({ status: 200, body: await supportMetrics(query.from, query.to, query.timeZone) }),
    }),
  ];
}
