/** Customer routes: a partner's customers, named by id, name, tenant GUID or domain name. */
import { defineRoute, nextPageLink, type RouteDef } from '../http';
import * as S from '../schemas';
import { createCustomer, customerView, listCustomers, resolveCustomer } from '../../services/customers';
import type { RouteDeps } from './deps';

export function customerRoutes(_deps: RouteDeps): RouteDef[] {
  return [
    defineRoute({
      method: 'post',
      path: '/customers',
      operationId: 'createCustomer',
      summary: 'Add a customer',
      tag: 'customers',
      permission: 'manageCustomers',
      body: S.customerInputSchema,
      errorCodes: { 409: ['customer_exists', 'customer_name_ambiguous'] },
      errors: [409],
      responses: { 201: { description: 'created', schema: S.customerSchema, headers: { Location: 'the customer: /customers/{id}' } } },
      handler: async ({ auth, body }) => {
        const customer = customerView(await createCustomer(auth.partnerId!, body));
        return { status: 201, body: customer, headers: { Location: `/customers/${customer.id}` } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/customers',
      operationId: 'listCustomers',
      summary: "List the partner's customers",
      tag: 'customers',
      permission: 'readCustomers',
      query: S.listPageQuery('customers'),
      responses: { 200: { description: 'customers by name, a page at a time', schema: { type: 'array', items: S.customerSchema }, headers: S.listPageHeaders } },
      databaseOnly: true,
      handler: async ({ auth, query }) => {
        const { items, nextCursor } = await listCustomers(auth.partnerId!, { limit: query.limit, cursor: query.cursor });
        return { status: 200, body: items.map(customerView), headers: nextPageLink('/customers', query.limit, nextCursor) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/customers/{customer}',
      operationId: 'getCustomer',
      summary: 'Get a customer by id, name, tenant GUID or domain name',
      tag: 'customers',
      permission: 'readCustomers',
      params: S.customerParam,
      errors: [404],
      responses: { 200: { description: 'the customer', schema: S.customerSchema } },
      databaseOnly: true,
      handler: async ({ auth, params }) => ({ status: 200, body: customerView(await resolveCustomer(auth.partnerId!, params.customer)) }),
    }),
  ];
}
