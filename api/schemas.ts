/**
 * JSON schemas of the API's bodies, shared by the validators and the OpenAPI document.
 * Money is always `{ amount: integer minor units, currency }`.
 */
import { ORDER_STATUSES } from '../domain/orders';
import { CANCELLATION_REFUSALS } from '../domain/cancellation';
import { MONTH_KEY_PATTERN } from '../domain/time';

type S = Record<string, unknown>;
const str = (extra: S = {}): S => ({ type: 'string', ...extra });
const int = (extra: S = {}): S => ({ type: 'integer', ...extra });
const dateTime: S = { type: 'string', format: 'date-time' };
const nullable = (s: S): S => ({ ...s, type: [s.type as string, 'null'] });
const obj = (properties: Record<string, S>, required: string[] = Object.keys(properties)): S => ({
  type: 'object',
  additionalProperties: false,
  properties,
  required,
});

export const GUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
export const DOMAIN_PATTERN = '^(?=.{3,253}$)([a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\\.)+[a-zA-Z]{2,63}$';

export const errorSchema = obj(
  {
    error: obj(
      {
        status: int(),
        code: str({ description: 'stable, machine-readable' }),
        message: str({ description: 'for a person; names the field where one is at fault' }),
        field: str({ description: 'the input at fault, e.g. body.quantity' }),
        requestId: str(),
        details: {},
      },
      ['status', 'code', 'message', 'requestId'],
    ),
  },
  ['error'],
);

export const moneySchema = obj({ amount: int({ description: 'integer minor units (cents)' }), currency: str({ pattern: '^[A-Z]{3}$' }) });

export const taxSchema = obj({
  treatment: str({ enum: ['inclusive', 'exclusive'], description: 'prices include tax in Australia and Brazil, exclude it elsewhere' }),
  rateBps: nullable(int()),
  amount: nullable(int({ description: 'tax contained in the amount, where it is included' })),
});

const policySchema: S = {
  type: 'object',
  required: ['mode'],
  properties: { mode: str({ enum: ['standard-window', 'support-request-only', 'never'] }), windowDays: int() },
  additionalProperties: false,
};
const billingSchema: S = {
  type: 'object',
  required: ['type'],
  properties: { type: str({ enum: ['subscription', 'perpetual'] }), termMonths: int() },
  additionalProperties: false,
};

export const productSchema = obj({
  id: str(),
  name: str(),
  kind: str({ enum: ['azure-reservation', 'server-subscription', 'perpetual-software', 'extended-security-update', 'linux-software-plan'] }),
  billing: billingSchema,
  cancellation: policySchema,
  deliverable: str({ enum: ['activation-key', 'azure-reservation', 'software-plan'] }),
  prices: { type: 'object', additionalProperties: int(), description: 'unit list price per currency, minor units' },
  downloads: nullable({ type: 'object', properties: { versions: { type: 'array', items: str() }, languages: { type: 'array', items: str() }, fileTypes: { type: 'array', items: str() } }, required: ['versions', 'languages', 'fileTypes'], additionalProperties: false }),
});

export const customerInputSchema = obj({
  name: str({ minLength: 1, maxLength: 200, pattern: '\\S', description: 'not blank' }),
  tenantId: str({ pattern: GUID_PATTERN, description: 'the customer tenant GUID' }),
  domain: str({ pattern: DOMAIN_PATTERN, description: 'e.g. contoso.onmicrosoft.com' }),
  market: str({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2' }),
});
export const customerSchema = obj({ id: str(), name: str(), tenantId: str(), domain: str(), market: str(), marketName: str(), currency: str(), createdAt: dateTime });

const customerRefSchema = obj({ id: str(), name: str(), tenantId: str(), domain: str(), market: str() });

export const creditSchema = obj({
  amount: int(),
  currency: str(),
  basis: str({ enum: ['full', 'prorated'] }),
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
  placedBy: obj({ userId: str(), name: str(), email: str(), role: str() }),
  purchasedAt: dateTime,
  paidAt: nullable(dateTime),
  provisionedAt: nullable(dateTime),
  cancellationWindow: obj({ endsAt: nullable(dateTime), closedAt: nullable(dateTime) }),
  termEndsAt: nullable(dateTime),
  expiredAt: nullable(dateTime),
  cancellation: nullable({ type: 'object', properties: { at: dateTime, by: obj({ userId: str(), name: str(), email: str(), role: str() }), credit: creditSchema }, required: ['at', 'by', 'credit'], additionalProperties: false }),
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
        orderId: str(),
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

export const invoiceSchema = obj({
  partnerId: str(),
  month: str({ pattern: MONTH_KEY_PATTERN }),
  status: str({ enum: ['open', 'closed'], description: 'closed once the monthly schedule closed it' }),
  closedAt: nullable(dateTime),
  lines: {
    type: 'array',
    items: obj({ id: str(), kind: str({ enum: ['charge', 'credit'] }), orderId: str(), customerId: str(), customerName: str(), productName: str(), description: str(), at: dateTime, amount: int(), currency: str(), tax: taxSchema }),
  },
  totals: {
    type: 'array',
    items: obj({ currency: str(), charges: int(), credits: int(), net: int(), taxIncluded: int(), taxExcludedNet: int() }),
  },
});

export const softwareItemSchema = obj({
  orderId: str(),
  productId: str(),
  productName: str(),
  status: str({ enum: [...ORDER_STATUSES] }),
  purchasedAt: dateTime,
  quantity: int(),
  activationKey: nullable(str({ description: 'null unless the order is active (none once cancelled or expired) and for products without keys' })),
  downloads: productSchema.properties ? (productSchema.properties as Record<string, S>).downloads : {},
});

const check = obj({ ok: { type: 'boolean' }, latencyMs: nullable({ type: 'number' }), error: str() }, ['ok', 'latencyMs']);
export const healthSchema = obj({ status: str({ enum: ['ok', 'degraded'] }), temporal: check, database: check, smtp: check });

export const idParam = (name: string, description: string): S => obj({ [name]: str({ minLength: 1, maxLength: 200, description }) });
export const customerParam: S = obj({ customer: str({ minLength: 1, maxLength: 253, description: "the customer's id, name, tenant GUID or domain name" }) });
