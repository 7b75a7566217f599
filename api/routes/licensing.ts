/** Licensing routes: a customer's software with its activation keys. */
import { defineRoute, type RouteDef } from '../http';
import * as S from '../schemas';
import { resolveCustomer } from '../../services/customers';
import { listSoftware } from '../../services/software';
import type { RouteDeps } from './deps';

export function licensingRoutes(_deps: RouteDeps): RouteDef[] {
  return [
    defineRoute({
      method: 'get',
      path: '/customers/{customer}/software',
      operationId: 'listSoftware',
      summary: "List a customer's software with activation keys",
      description: 'Cancelled items stay listed, without their key.',
      tag: 'software',
      permission: 'readSoftware',
      params: S.customerParam,
      errors: [404],
      responses: { 200: { description: 'software purchased for the customer', schema: { type: 'array', items: S.softwareItemSchema } } },
      handler: async ({ auth, params }) => {
        const customer = await resolveCustomer(auth.partnerId!, params.customer);
        return { status: 200, body: await listSoftware(auth.partnerId!, customer._id) };
      },
    }),
  ];
}
