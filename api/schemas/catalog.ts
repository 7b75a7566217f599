/** Schemas of the product catalog. */
import { BILLING_TYPES, CANCELLATION_MODES, DELIVERABLES, PRODUCT_KINDS } from '../../domain/catalog';
import { int, nullable, obj, str, type S } from './common';

export const policySchema: S = {
  type: 'object',
  required: ['mode'],
  properties: { mode: str({ enum: [...CANCELLATION_MODES] }), windowDays: int() },
  additionalProperties: false,
};
export const billingSchema: S = {
  type: 'object',
  required: ['type'],
  properties: { type: str({ enum: [...BILLING_TYPES] }), termMonths: int() },
  additionalProperties: false,
};

export const productSchema = obj({
  id: str(),
  name: str(),
  kind: str({ enum: [...PRODUCT_KINDS] }),
  billing: billingSchema,
  cancellation: policySchema,
  deliverable: str({ enum: [...DELIVERABLES] }),
  prices: { type: 'object', additionalProperties: int(), description: 'unit list price per currency, minor units' },
  downloads: nullable({ type: 'object', properties: { versions: { type: 'array', items: str() }, languages: { type: 'array', items: str() }, fileTypes: { type: 'array', items: str() } }, required: ['versions', 'languages', 'fileTypes'], additionalProperties: false }),
});

