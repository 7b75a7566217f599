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
      description:
        "503 when the API cannot serve: Temporal or the database unreachable. SMTP unreachable is a 200 with `status: degraded` and `smtp.ok: false`: emails wait and go out once it is back (each is retried until sent), answers do not wait for it, so a load balancer or an orchestrator's health check keeps the API in service.",
      responses: { 200: { description: 'serving: Temporal and the database reachable (`status` ok, or degraded with SMTP unreachable)', schema: S.healthSchema }, 503: { description: 'Temporal or the database is unreachable', schema: S.healthSchema } },
      handler: async ({ log }) => {
        const { causes, serving, ...health } = await checkHealth(deps);
        if (Object.keys(causes).length) log.warn({ causes }, 'health: a server is unreachable');
        return { status: serving ? 200 : 503, body: health };
      },
    }),
  ];
}
