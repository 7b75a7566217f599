/** System routes: health. */
import { defineRoute, type RouteDef } from '../http';
import * as S from '../schemas';
import { checkHealth } from '../../services/health';
import type { RouteDeps } from './deps';

export function systemRoutes(deps: RouteDeps): RouteDef[] {
  return [
    defineRoute({
      method: 'get',
      path: '/health',
      operationId: 'getHealth',
      summary: 'Reachability of Temporal, the database and SMTP',
      tag: 'system',
      permission: null,
      responses: { 200: { description: 'all reachable', schema: S.healthSchema }, 503: { description: 'something is unreachable', schema: S.healthSchema } },
      handler: async ({ log }) => {
        const { causes, ...health } = await checkHealth(deps);
        if (Object.keys(causes).length) log.warn({ causes }, 'health: a server is unreachable');
        return { status: health.status === 'ok' ? 200 : 503, body: health };
      },
    }),
  ];
}
