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

/** A download option, with Partner Center's names (`optionKey`, `optionTitle`, `languageCode`, `languageName`). */
export const downloadOptionSchema = obj({
  optionKey: str(),
  optionTitle: str({ description: 'the version' }),
  languageCode: str(),
  languageName: str(),
  fileType: str({ description: 'file type / OS' }),
  fileName: str(),
  contentType: str(),
  sizeBytes: int(),
});

export const productSchema = obj({
  id: str(),
  name: str(),
  kind: str({ enum: [...PRODUCT_KINDS] }),
  billing: billingSchema,
  cancellation: policySchema,
  deliverable: str({ enum: [...DELIVERABLES] }),
  prices: { type: 'object', additionalProperties: int(), description: 'unit list price per currency, minor units' },
  downloads: nullable({ type: 'array', items: downloadOptionSchema, description: 'the files the software can be downloaded as (Partner Center: version, language, file type / OS); null for products without downloads' }),
});

