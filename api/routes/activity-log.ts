/** The activity log of key access and software downloads, as JSON pages or CSV. */
import Negotiator from 'negotiator';
import { defineRoute, type Reply, type RouteDef } from '../http';
import * as S from '../schemas';
import type { RouteDeps } from './deps';

export function activityLogRoutes(deps: RouteDeps): RouteDef[] {
  const { activityLog } = deps;
  return [
    defineRoute({
      method: 'get',
      path: '/activity-log',
      operationId: 'getActivityLog',
      summary: 'Read the activity log',
      description:
        "Who accessed software keys, made download links and downloaded software (refusals included), and the orders placed and cancelled, for the caller's partner: the days `from` to `to` (both included, at most 90) of `timeZone` (default UTC), newest first, a page at a time (`nextCursor`). With `Accept: text/csv`, every entry of the range as RFC 4180 CSV (header row, CRLF), streamed; cells starting with =, +, - or @ get a leading apostrophe.",
      tag: 'activity-log',
      permission: 'readActivityLog',
      query: S.activityQuerySchema,
      headers: { type: 'object', properties: { accept: { type: 'string', maxLength: 1000 } } },
      errors: [404],
      responses: {
        200: {
          description: 'a page of entries (or, with Accept: text/csv, all of them as CSV)',
          schema: S.activityPageSchema,
          alsoAs: { 'text/csv': { type: 'string' } },
        },
      },
      handler: async ({ auth, query, headers }): Promise<Reply> => {
        const csv = new Negotiator({ headers: { accept: headers.accept ?? '*/*' } }).mediaType(['application/json', 'text/csv']) === 'text/csv';
        // the answer's type follows Accept: a cache keeps them apart
        if (!csv) return { status: 200, body: await activityLog.list(auth.partnerId!, query), headers: { Vary: 'Accept' } };
        const { fileName, body } = await activityLog.csv(auth.partnerId!, { from: query.from, to: query.to, timeZone: query.timeZone, customer: query.customer, operation: query.operation });
        return {
          status: 200,
          body,
          headers: { Vary: 'Accept', 'Content-Type': 'text/csv; charset=utf-8; header=present', 'Content-Disposition': `attachment; filename="${fileName}"` },
        };
      },
    }),
  ];
}
