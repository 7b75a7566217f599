/** Schemas of the product catalog. */
import { int, nullable, obj, str, type S } from './common';

export const policySchema: S = {
  type: 'object',
  required: ['mode'],
  properties: { mode: str({ enum: ['standard-window', 'support-request-only', 'never'] }), windowDays: int() },
  additionalProperties: false,
};
export const billingSchema: S = {
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

