/** Schemas of licensing: the software list, keys and download links, the activity log. */
import { ORDER_STATUSES } from '../../domain/orders';
import { ACTIVITY_OPERATIONS, ACTIVITY_RESOURCES, LINK_MAX_DOWNLOADS, LOG_FIRST_YEAR, LOG_MAX_RANGE_DAYS } from '../../domain/licensing';
import { cursorQuery, dateTime, int, nullable, obj, str, timeZoneQuery, type S } from './common';
import { downloadOptionSchema } from './catalog';

export const softwareItemSchema = obj({
  orderId: str(),
  originalOrderId: nullable(str({ description: "an imported order's id before csp-desk; null for one placed here" })),
  productId: str(),
  productName: str(),
  status: str({ enum: [...ORDER_STATUSES] }),
  purchasedAt: dateTime,
  quantity: int(),
  activationKey: nullable(str({ description: 'null unless the order is active (none once cancelled or expired) and for products without keys' })),
  downloads: nullable({ type: 'array', items: downloadOptionSchema, description: 'what `POST /orders/{id}/downloads` offers; null unless the order is active' }),
});

const choiceText = (what: string) => str({ minLength: 1, maxLength: 100, description: what });
export const downloadRequestSchema = obj({
  version: choiceText('an `optionTitle` of the product, e.g. "Windows Server 2019"'),
  language: choiceText('a `languageCode` (e.g. "en-us") or `languageName` of the product'),
  fileType: choiceText('a file type / OS of the product, e.g. "ISO (64-bit)"'),
});

const keyFields = {
  orderId: str(),
  customer: obj({ id: str(), name: str() }),
  product: obj({ id: str(), name: str() }),
  activationKey: obj({ key: str(), activations: int() }),
};

export const keySchema = obj(keyFields);

export const keysAndDownloadSchema = obj({
  ...keyFields,
  download: obj({
    url: str({ description: 'the link to send to the customer; anyone holding it can download, no sign-in' }),
    token: str({ description: 'the secret part of the link (256 random bits); only its SHA-256 is stored' }),
    linkId: str({ description: 'how the activity log names this link' }),
    option: downloadOptionSchema,
    sizeBytes: int(),
    sha256: str({ description: 'hex SHA-256 of the file' }),
    createdAt: dateTime,
    expiresAt: { ...dateTime, description: "two weeks after creation, or a subscription's term end when that comes first" },
    maxDownloads: int({ description: `${LINK_MAX_DOWNLOADS}: downloads counted from byte 0; resumed ranges are not counted` }),
    downloadsLeft: int({ description: `downloads the link still serves: ${LINK_MAX_DOWNLOADS} for a new link; fewer, or 0, when the same request is sent again (its Idempotency-Key) after the link was used` }),
  }),
});

export const activityEntrySchema = obj({
  id: str({ description: 'the natural key of the fact' }),
  operationDate: dateTime,
  operationType: str({ enum: [...ACTIVITY_OPERATIONS] }),
  resourceType: str({ enum: [...ACTIVITY_RESOURCES] }),
  operationStatus: str({ enum: ['succeeded', 'failed'] }),
  userPrincipalName: nullable(str({ description: "the user's sign-in name; for a download through a link, that of the user who got the link (`actor.kind` link-holder); null for csp-desk itself and for support staff" })),
  actor: obj({ kind: str({ enum: ['user', 'link-holder', 'system'] }), userId: nullable(str()), name: str(), role: nullable(str()) }),
  customerId: str(),
  customerName: str(),
  orderId: str(),
  productId: str(),
  productName: str(),
  resourceId: nullable(str()),
  ipAddress: nullable(str()),
  userAgent: nullable(str()),
  detail: str(),
  reason: nullable(str()),
  requestId: nullable(str()),
});

export const activityPageSchema = obj({
  from: str({ format: 'date' }),
  to: str({ format: 'date' }),
  timeZone: str({ description: 'the zone whose days these are, as named here (Asia/Kolkata is Asia/Calcutta)' }),
  items: { type: 'array', items: activityEntrySchema },
  nextCursor: nullable(str({ description: 'pass as `cursor` for the next page; null: this was the last' })),
});

export const activityQuerySchema: S = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: str({ format: 'date', description: `first day, YYYY-MM-DD (a day of \`timeZone\`), ${LOG_FIRST_YEAR}-01-01 or later (the log has nothing before); default: 29 days before \`to\`` }),
    to: str({ format: 'date', description: `last day, YYYY-MM-DD (a day of \`timeZone\`), included, ${LOG_FIRST_YEAR}-01-01 or later; default: today there. At most ${LOG_MAX_RANGE_DAYS} days from \`from\`` }),
    timeZone: timeZoneQuery('`from` and `to`', '; entries keep their UTC `operationDate`; send the same query with `cursor` for the next page'),
    customer: str({ minLength: 1, maxLength: 253, description: "only this customer (id, name, tenant GUID or domain)" }),
    operation: str({ enum: [...ACTIVITY_OPERATIONS], description: 'only this operationType' }),
    limit: int({ minimum: 1, maximum: 500, default: 100, description: 'entries per page (JSON only)' }),
    cursor: cursorQuery(1000, 'from `nextCursor` (JSON only)'),
  },
};
