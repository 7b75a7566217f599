/** System routes: health. */
import { defineRoute, RETRY_AFTER_SECONDS, type RouteDef } from '../http';
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
        "503 when the API cannot serve: Temporal or the database unreachable, or Temporal without the service's namespace. SMTP unreachable is a 200 with `status: degraded` and `smtp.ok: false`: emails wait and go out once it is back (each is retried until sent), answers do not wait for it, so a load balancer or an orchestrator's health check keeps the API in service.",
      responses: {
        200: { description: 'serving: Temporal and the database reachable (`status` ok, or degraded with SMTP unreachable)', schema: S.healthSchema },
        503: { description: 'not serving (`status` unavailable): Temporal or the database is unreachable; `Retry-After` says when to ask again', schema: S.healthSchema, headers: { 'Retry-After': 'seconds to wait before asking again' } },
      },
      handler: async ({ log }) => {
        const { causes, serving, ...health } = await checkHealth(deps);
        if (Object.keys(causes).length) log.warn({ causes }, 'health: a server is unreachable');
        return serving ? { status: 200, body: health } : { status: 503, body: health, headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } };
      },
    }),
  ];
}
