/** Schemas of orders and their cancellation. */
import { ORDER_STATUSES } from '../../domain/orders';
import { CANCELLATION_REFUSALS } from '../../domain/cancellation';
import { dateTime, int, nullable, obj, str } from './common';
import { moneySchema, taxSchema } from './common';
import { billingSchema, policySchema } from './catalog';
import { customerRefSchema } from './customers';

export const creditSchema = obj({
  amount: int(),
  currency: str(),
  basis: str({ enum: ['full', 'prorated', 'support-refund'] }),
  usedDays: nullable(int()),
  termDays: nullable(int()),
  taxAmount: nullable(int()),
});

export const orderSchema = obj({
  id: str(),
  status: str({ enum: [...ORDER_STATUSES] }),
  customer: customerRefSchema,
  product: obj({ id: str(), name: str(), kind: str(), billing: billingSchema, cancellation: policySchema, deliverable: str() }),
  quantity: int(),
  pricing: obj({ currency: str(), unitPrice: int(), quantity: int(), total: int(), tax: taxSchema }),
  imported: { type: 'boolean' },
  originalOrderId: nullable({ ...str(), description: "an imported order's id before csp-desk; null for an order placed here" }),
  placedBy: obj({ userId: str(), name: str(), email: str(), role: str() }),
  purchasedAt: dateTime,
  paidAt: nullable(dateTime),
  provisionedAt: nullable(dateTime),
  cancellationWindow: obj({ endsAt: nullable(dateTime), closedAt: nullable(dateTime) }),
  termEndsAt: nullable(dateTime),
  expiredAt: nullable(dateTime),
  cancellation: nullable({ type: 'object', properties: { at: dateTime, by: obj({ userId: str(), name: str(), email: nullable({ ...str(), description: 'null when support staff cancelled it (their address is not shown to partners)' }), role: str() }), credit: creditSchema, supportRequest: { ...nullable(str()), description: 'the support request whose approved refund cancelled the order (GET /support-requests/{number}); null for a cancellation of its own' } }, required: ['at', 'by', 'credit', 'supportRequest'], additionalProperties: false }),
  timeline: { type: 'array', items: obj({ type: str(), at: dateTime, data: { type: 'object' } }) },
});

export const cancellationSchema = obj({
  orderId: str(),
  cancellable: { type: 'boolean' },
  reason: nullable({ ...obj({ code: str({ enum: Object.keys(CANCELLATION_REFUSALS) }), message: str() }), type: 'object' }),
  dayOfOrder: int(),
  windowDays: nullable(int()),
  windowEndsAt: nullable(dateTime),
  daysRemaining: nullable(int()),
  earlyTerminationFee: nullable(moneySchema),
  credit: nullable(creditSchema),
  supportRequest: nullable({ ...obj({ typeOfProblem: str(), route: str() }), type: 'object' }),
});

export const cancelResultSchema = obj({ orderId: str(), status: str({ enum: ['cancelled'] }), cancelledAt: dateTime, credit: creditSchema });

export const bulkCancelResultSchema = obj({
  results: {
    type: 'array',
    items: obj(
      {
        orderId: str({ description: 'the order as named in the request' }),
        id: str({ description: "its csp-desk id, when it was found (an imported purchase may be named by its original id)" }),
        outcome: str({ enum: ['cancelled', 'refused', 'not_found', 'failed'], description: 'failed: outcome unknown (a server did not answer): check the order, retry if it is not cancelled' }),
        status: int({ description: 'the HTTP status this order alone would have had' }),
        code: str(),
        message: str(),
        cancelledAt: dateTime,
        credit: creditSchema,
      },
      ['orderId', 'outcome', 'status'],
    ),
  },
});

