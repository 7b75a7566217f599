/** Invoice routes: the partner's monthly invoice. */
import { defineRoute, type RouteDef } from '../http';
import * as S from '../schemas';
import { MONTH_KEY_PATTERN } from '../../domain/time';
import { getInvoice } from '../../services/invoices';
import type { RouteDeps } from './deps';

export function invoiceRoutes(_deps: RouteDeps): RouteDef[] {
  return [
    defineRoute({
      method: 'get',
      path: '/invoices/{month}',
      operationId: 'getInvoice',
      summary: "Read the partner's invoice for a month (404 for a month that has not begun or came before the partner; the month after one closed early is open)",
      tag: 'invoices',
      permission: 'readInvoices',
      params: { type: 'object', additionalProperties: false, required: ['month'], properties: { month: { type: 'string', pattern: MONTH_KEY_PATTERN, description: 'YYYY-MM' } } },
      responses: { 200: { description: 'charges, credits and totals', schema: S.invoiceSchema } },
      errors: [404],
      databaseOnly: true,
      handler: async ({ auth, params }) => ({ status: 200, body: await getInvoice(auth.partnerId!, params.month) }),
    }),
  ];
}
