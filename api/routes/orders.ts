/** Order routes: buying for a customer, importing, reading and cancelling orders. */
import { defineRoute, nextPageLink, type RouteDef } from '../http';
import * as S from '../schemas';
import { ORDER_ID_PATTERN } from '../../domain/orders';
import { EARLIEST_IMPORTED_PURCHASE } from '../../domain/order-imports';
import type { RouteDeps } from './deps';

const orderSummarySchema = (() => {
  const props = { ...(S.orderSchema.properties as Record<string, unknown>) };
  delete props.timeline;
  return { ...S.orderSchema, properties: props, required: Object.keys(props) };
})();

const idempotencyHeader = S.idempotencyKeyHeader('a client-chosen unique key: a repeated request returns the same order, as it is now', true);


export function orderRoutes(deps: RouteDeps): RouteDef[] {
  const { orders } = deps;
  return [
    defineRoute({
      method: 'post',
      path: '/customers/{customer}/orders',
      operationId: 'placeOrder',
      summary: 'Buy a product on behalf of a customer',
      description: 'Starts the order\'s workflow and answers once the order is recorded. A repeated request with the same Idempotency-Key returns the same order, as it is now (header `Idempotent-Replayed: true`): a replay after a cancellation shows it cancelled.',
      tag: 'orders',
      permission: 'placeOrders',
      params: S.customerParam,
      headers: idempotencyHeader,
      body: { type: 'object', additionalProperties: false, properties: { productId: { type: 'string', minLength: 1, maxLength: 100 }, quantity: { type: 'integer', minimum: 1, maximum: 10000 } }, required: ['productId', 'quantity'] },
      errorCodes: { 422: ['unknown_product', 'market_unavailable', 'idempotency_key_reused'] },
      errors: [404, 422],
      responses: {
        201: {
          description: 'the order, recorded',
          schema: S.orderSchema,
          headers: { Location: 'the order: /orders/{id}', 'Idempotent-Replayed': '"true" when this Idempotency-Key had made the order already' },
        },
      },
      handler: async ({ auth, params, body, headers }) => {
        const { order, replayed } = await orders.place(auth, params.customer, body, headers['idempotency-key']);
        return { status: 201, body: order, headers: { Location: `/orders/${order.id}`, 'Idempotent-Replayed': String(replayed) } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/customers/{customer}/orders',
      operationId: 'listOrders',
      summary: "Read a customer's order history",
      tag: 'orders',
      permission: 'readCustomers',
      params: S.customerParam,
      errors: [404],
      query: S.listPageQuery('orders'),
      responses: { 200: { description: 'orders, newest first, a page at a time', schema: { type: 'array', items: orderSummarySchema }, headers: S.listPageHeaders } },
      databaseOnly: true,
      handler: async ({ auth, params, query }) => {
        const { items, nextCursor } = await orders.list(auth, params.customer, { limit: query.limit, cursor: query.cursor });
        return { status: 200, body: items, headers: nextPageLink(`/customers/${encodeURIComponent(params.customer)}/orders`, query.limit, nextCursor) };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/customers/{customer}/orders/import',
      operationId: 'importOrders',
      summary: 'Import existing purchases',
      description:
        "Brings in purchases made before csp-desk with their original order id and purchase date; their cancellation window and term run from that date. " +
        "Each gets a csp-desk order id (`id` in its result, a UUID made from your partner and the original id) and keeps the original as `originalOrderId`. " +
        'Original ids are your own: another partner importing the same id gets an order of its own, and neither can tell. Importing the same order id again changes nothing (`exists`, the same `id`); ' +
        'the same id with other contents, or for another of your customers, is a `conflict` and changes nothing.',
      tag: 'orders',
      permission: 'importOrders',
      params: S.customerParam,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['orders'],
        properties: {
          orders: {
            type: 'array',
            minItems: 1,
            maxItems: 100,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['orderId', 'productId', 'quantity', 'purchasedAt'],
              properties: {
                orderId: { type: 'string', pattern: ORDER_ID_PATTERN },
                productId: { type: 'string', minLength: 1, maxLength: 100 },
                quantity: { type: 'integer', minimum: 1, maximum: 10000 },
                purchasedAt: { type: 'string', format: 'date-time', description: `when it was bought, with its offset; not in the future and not before ${EARLIEST_IMPORTED_PURCHASE} (either is a 400), and not a leap second (:60, which RFC 3339 allows and no clock here keeps: a 400)` },
                unitPrice: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['amount', 'currency'],
                  description:
                    "the unit price it was bought at: integer minor units, in the currency the customer's market is priced in (another is a 422 `currency_mismatch` naming it), tax included where prices include tax (AU, BR), as list prices are. " +
                    "The order's total (what a support refund may credit at most) is this times the quantity; without it, today's list price. Importing the same order again with another unit price is a `conflict`.",
                  properties: { amount: { type: 'integer', minimum: 1, maximum: 100_000_000, description: 'at least 1 (an imported purchase is cancelled through a refund request, which credits at least one minor unit) and at most 100,000,000 minor units (1 million in a currency of cents), so that the most a refund request may ask, 1,000,000,000,000, covers any quantity of it (QA: a valid import could exceed it)' }, currency: { type: 'string', pattern: '^[A-Z]{3}$' } },
                },
              },
            },
          },
        },
      },
      errorCodes: { 422: ['unknown_product', 'market_unavailable', 'currency_mismatch'] },
      errors: [404, 422],
      responses: {
        200: {
          description: 'one result per order',
          schema: { type: 'object', additionalProperties: false, required: ['results'], properties: { results: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['orderId', 'id', 'outcome', 'message'], properties: { orderId: { type: 'string', description: 'the original order id, as sent' }, id: { type: 'string', description: "the csp-desk order's id (GET /orders/{id}): the one imported, or the one this original id already names" }, outcome: { type: 'string', enum: ['imported', 'exists', 'conflict'] }, message: { type: 'string' } } } } } },
        },
      },
      handler: async ({ auth, params, body, log }) => ({ status: 200, body: await orders.importOrders(auth, params.customer, body.orders, log) }),
    }),
    defineRoute({
      method: 'post',
      path: '/customers/{customer}/orders/cancel',
      operationId: 'cancelOrders',
      summary: 'Cancel several orders of one customer',
      description: 'One result per order id; each is carried out as `POST /orders/{id}/cancel` would be.',
      tag: 'orders',
      permission: 'cancelOrders',
      params: S.customerParam,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['orderIds', 'acknowledged'],
        properties: {
          orderIds: { type: 'array', minItems: 1, maxItems: 50, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 200 } },
          acknowledged: { const: true, description: 'you have read the important notice: keys and download links are revoked, the item stays listed without its key, a credit lands on the next invoice' },
        },
      },
      errors: [404],
      responses: { 200: { description: 'one result per order', schema: S.bulkCancelResultSchema } },
      handler: async ({ auth, params, body, log }) => ({ status: 200, body: await orders.cancelMany(auth, params.customer, body.orderIds, log) }),
    }),
    defineRoute({
      method: 'get',
      path: '/orders/{id}',
      operationId: 'getOrder',
      summary: 'Read an order with its timeline',
      tag: 'orders',
      permission: 'readCustomers',
      params: S.idParam('id', S.ORDER_REF),
      errors: [404],
      responses: { 200: { description: 'the order', schema: S.orderSchema } },
      databaseOnly: true,
      handler: async ({ auth, params }) => ({ status: 200, body: await orders.viewJson(auth.partnerId!, params.id) }),
    }),
    defineRoute({
      method: 'get',
      path: '/orders/{id}/cancellation',
      operationId: 'getCancellation',
      summary: 'See whether an order can be cancelled',
      description: 'Whether it can be cancelled and, if not, why (a stable `reason.code` and a sentence); days remaining, when the window ends, the early-termination fee and the credit a cancellation would give now.',
      tag: 'orders',
      permission: 'previewCancellation',
      params: S.idParam('id', S.ORDER_REF),
      errors: [404],
      responses: { 200: { description: 'the assessment', schema: S.cancellationSchema } },
      databaseOnly: true,
      handler: async ({ auth, params }) => ({ status: 200, body: await orders.cancellation(auth, params.id) }),
    }),
    defineRoute({
      method: 'post',
      path: '/orders/{id}/cancel',
      operationId: 'cancelOrder',
      summary: 'Cancel an order',
      description: "Name the order's customer (name, tenant GUID or domain) and product, and acknowledge the important notice. Refusals: 409 already_cancelled; 422 window_passed, support_request_required, imported_support_request (an imported purchase: charged before csp-desk, it is cancelled and credited through a support request), never_cancellable, customer_mismatch, product_mismatch.",
      tag: 'orders',
      permission: 'cancelOrders',
      params: S.idParam('id', S.ORDER_REF),
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['customer', 'productName', 'acknowledged'],
        properties: {
          customer: { type: 'string', minLength: 1, maxLength: 253, description: "the customer's name, tenant GUID or domain name" },
          productName: { type: 'string', minLength: 1, maxLength: 200 },
          acknowledged: { const: true, description: 'you have read the important notice about what a cancellation does' },
        },
      },
      errorCodes: { 409: ['already_cancelled', 'order_closed'], 422: ['window_passed', 'support_request_required', 'imported_support_request', 'never_cancellable', 'customer_mismatch', 'product_mismatch'] },
      errors: [404, 409, 422],
      responses: { 200: { description: 'cancelled', schema: S.cancelResultSchema } },
      handler: async ({ auth, params, body }) => ({ status: 200, body: await orders.cancel(auth, params.id, body) }),
    }),
  ];
}
