/** Schemas of the caller's own API tokens. */
import { TOKEN_ID_PATTERN, MAX_TOKEN_DAYS } from '../../services/users';
import { dateTime, int, nullable, obj, str } from './common';

export const tokenSchema = obj({
  id: str({ pattern: TOKEN_ID_PATTERN, description: 'the public id of the token (not the secret)' }),
  label: str(),
  createdAt: dateTime,
  expiresAt: nullable({ ...dateTime, description: 'null: does not expire' }),
  lastUsedAt: nullable({ ...dateTime, description: 'when it last authenticated a request, to about a minute' }),
  revokedAt: nullable(dateTime),
  status: str({ enum: ['active', 'expired', 'revoked'] }),
});

export const newTokenInputSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    label: str({ minLength: 1, maxLength: 100, description: 'what the token is for, e.g. "billing export"' }),
    expiresInDays: int({ minimum: 1, maximum: MAX_TOKEN_DAYS, description: 'the token stops working this many days from now; absent: it does not expire' }),
  },
};

export const newTokenSchema = obj({
  ...(tokenSchema.properties as Record<string, Record<string, unknown>>),
  token: str({ description: 'the secret: shown here once, never again (only its hash is stored)' }),
});

export const tokenIdParam = obj({ id: str({ pattern: TOKEN_ID_PATTERN, description: 'token id (tok_...)' }) });
