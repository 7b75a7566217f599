/** The caller's own API tokens: list (never the secrets), create (the secret shown once), revoke. Any role. */
import { defineRoute, type RouteDef } from '../http';
import * as S from '../schemas';
import { AUTH_CACHE_TTL_MS, createToken, getOwnToken, listTokens, revokeOwnToken } from '../../services/users';
import type { RouteDeps } from './deps';

export function identityRoutes(_deps: RouteDeps): RouteDef[] {
  return [
    defineRoute({
      method: 'get',
      path: '/tokens',
      operationId: 'listTokens',
      summary: 'List your own API tokens',
      description: 'Your tokens, newest first, with when each was created, expires, was last used (to about a minute) and was revoked. Never the secrets.',
      tag: 'tokens',
      permission: 'manageOwnTokens',
      responses: { 200: { description: 'your tokens', schema: { type: 'array', items: S.tokenSchema } } },
      databaseOnly: true,
      handler: async ({ auth }) => ({ status: 200, body: await listTokens(auth.user._id) }),
    }),
    defineRoute({
      method: 'post',
      path: '/tokens',
      operationId: 'createToken',
      summary: 'Create an API token for yourself',
      description:
        'The new token has your role and partner. Its secret is in this answer only: store it now. A token that expires cannot create one that outlives it (422 `token_outlives_caller`, naming `body.expiresInDays`): a short-lived or stolen token cannot mint a lasting one; the settings page can.',
      tag: 'tokens',
      permission: 'manageOwnTokens',
      body: S.newTokenInputSchema,
      errorCodes: { 422: ['token_outlives_caller'] },
      errors: [422],
      responses: { 201: { description: 'the token, with its secret (shown once)', schema: S.newTokenSchema, headers: { Location: 'the token: /tokens/{id}' } } },
      secret: true,
      handler: async ({ auth, body }) => {
        const { token, view } = await createToken(auth.user._id, { label: body.label ?? 'api', expiresInDays: body.expiresInDays ?? null, notAfter: auth.tokenExpiresAt ?? null });
        return { status: 201, body: { ...view, token }, headers: { Location: `/tokens/${view.id}` } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/tokens/{id}',
      operationId: 'getToken',
      summary: 'One of your API tokens',
      description: 'The token `POST /tokens` answered in `Location`: when it was created, expires, was last used and was revoked. Never the secret. Another user\'s token is a 404.',
      tag: 'tokens',
      permission: 'manageOwnTokens',
      params: S.tokenIdParam,
      errors: [404],
      responses: { 200: { description: 'the token', schema: S.tokenSchema } },
      databaseOnly: true,
      handler: async ({ auth, params }) => ({ status: 200, body: await getOwnToken(auth.user._id, params.id) }),
    }),
    defineRoute({
      method: 'delete',
      path: '/tokens/{id}',
      operationId: 'revokeToken',
      summary: 'Revoke one of your API tokens',
      description: `It stops working at once on the API instance that answers, and on every other instance within ${AUTH_CACHE_TTL_MS / 1000} s. Revoking a revoked token changes nothing. Another user's token is a 404.`,
      tag: 'tokens',
      permission: 'manageOwnTokens',
      params: S.tokenIdParam,
      errors: [404],
      responses: { 200: { description: 'the token, revoked', schema: S.tokenSchema } },
      handler: async ({ auth, params }) => ({ status: 200, body: await revokeOwnToken(auth.user._id, params.id) }),
    }),
  ];
}
