/**
 * JSON schemas shared by every domain's routes: builders, the error shape, money, tax and path parameters.
 * Money is always `{ amount: integer minor units, currency }`.
 */
import { TAX_TREATMENTS } from '../../domain/orders';

export type S = Record<string, unknown>;
export const str = (extra: S = {}): S => ({ type: 'string', ...extra });
export const int = (extra: S = {}): S => ({ type: 'integer', ...extra });
export const dateTime: S = { type: 'string', format: 'date-time' };
export const nullable = (s: S): S => ({ ...s, type: [s.type as string, 'null'] });
export const obj = (properties: Record<string, S>, required: string[] = Object.keys(properties)): S => ({
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
  treatment: str({ enum: [...TAX_TREATMENTS], description: 'prices include tax in Australia and Brazil, exclude it elsewhere' }),
  rateBps: nullable(int()),
  amount: nullable(int({ description: 'where prices include tax: the tax contained in the amount, with the amount\'s sign; on a credit line (negative) the tax it takes back from its charge, the charge\'s tax less the tax contained in the part kept' })),
});

/**
 * The `Idempotency-Key` header: a client-chosen key (printable ASCII, 8 to 200 characters) that makes a repeated
 * request a replay of the first. `required` where the route always needs one (buying, filing a support request).
 */
export const idempotencyKeyHeader = (description: string, required: boolean): S => ({
  type: 'object',
  properties: { 'idempotency-key': str({ minLength: 8, maxLength: 200, pattern: '^[\\x21-\\x7e]+$', description }) },
  ...(required ? { required: ['idempotency-key'] } : {}),
});

/**
 * A `timeZone` query parameter: the zone whose days a query's dates are. Its name is checked by the service
 * (domain/time.ts timeZoneName: any zone Intl knows, in any letter case), so a wrong one is a 400 naming the field.
 */
export const timeZoneQuery = (whose: string, more = ''): S =>
  str({
    minLength: 1,
    maxLength: 64,
    default: 'UTC',
    description: `the time zone whose days ${whose} are: an IANA name (any the server knows, in any letter case, e.g. Australia/Sydney, Asia/Kolkata; UTC)${more}. Another is a 400 naming \`query.timeZone\``,
  });

/** How an order is named in a path: either of its ids (services/orders.ts byOrderNamed). */
export const ORDER_REF = "the order's csp-desk id, or the original id of a purchase the partner imported (the csp-desk id is tried first)";
export const idParam = (name: string, description: string): S => obj({ [name]: str({ minLength: 1, maxLength: 200, description }) });
export const customerParam: S = obj({ customer: str({ minLength: 1, maxLength: 253, description: "the customer's id, name, tenant GUID or domain name" }) });

/**
 * A page cursor as the API gives them out: opaque base64url. The schema states the alphabet; a cursor in it that
 * the API did not give out is refused by its list all the same (400 naming `query.cursor`).
 */
export const CURSOR_PATTERN = '^[A-Za-z0-9_-]+$';
export const cursorQuery = (maxLength: number, description: string): S => str({ minLength: 1, maxLength, pattern: CURSOR_PATTERN, description: `${description}; opaque, base64url` });

/** Paging of a list answered as a JSON array: `limit` and `cursor` in, a `Link: <…>; rel="next"` header out. */
export const LIST_PAGE_MAX = 500;
export const listPageQuery = (what: string): S =>
  obj(
    {
      limit: int({ minimum: 1, maximum: LIST_PAGE_MAX, default: LIST_PAGE_MAX, description: `${what} per page; the \`Link\` header's \`rel="next"\` gives the next page` }),
      // (a customers cursor holds the last name's key: 200 characters of up to 4 bytes each, base64url: review)
      cursor: cursorQuery(4096, 'from the `Link` header of the page before'),
    },
    [],
  );
export const listPageHeaders = { Link: '`<path?limit=…&cursor=…>; rel="next"` while there is a next page (RFC 8288)' };
