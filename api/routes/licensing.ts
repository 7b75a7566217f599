/** Licensing routes: a customer's software with its keys, "Get keys and downloads", and the download links themselves. */
import { create as contentDisposition } from 'content-disposition';
import { defineRoute, type Reply, type RouteDef } from '../http';
import * as S from '../schemas';
import type { RouteDeps } from './deps';

const fileHeaders = {
  'Content-Length': 'bytes in this answer',
  'Content-Disposition': 'attachment, with the file name',
  'Accept-Ranges': 'bytes: a broken download resumes with Range',
  'Content-Range': '206 only: the bytes sent, of the whole',
  ETag: 'the file, for If-Range',
  'Repr-Digest': 'SHA-256 of the whole file (RFC 9530), `sha-256=:<base64>:`',
  Digest: 'the same, in the older form (RFC 3230) `sha-256=<base64>`',
  'X-Download-Number': 'the download slot (1 to 50) this request took; absent on a resumed range, which is not counted',
};

export function licensingRoutes(deps: RouteDeps): RouteDef[] {
  const { licensing } = deps;
  return [
    defineRoute({
      method: 'get',
      path: '/customers/{customer}/software',
      operationId: 'listSoftware',
      summary: "List a customer's software with activation keys",
      description: 'Cancelled and expired items stay listed, without their key. Every key shown is recorded in the activity log.',
      tag: 'software',
      permission: 'readSoftware',
      params: S.customerParam,
      errors: [404],
      responses: { 200: { description: 'software purchased for the customer', schema: { type: 'array', items: S.softwareItemSchema } } },
      // keys: never stored by a cache; a HEAD shows no key, so logs none
      secret: true,
      handler: async ({ auth, params, method }) => ({
        status: 200,
        body: (await licensing.listSoftware(auth, params.customer, { log: method !== 'HEAD' })).map(({ keyAvailable: _available, ...item }) => item),
      }),
    }),
    defineRoute({
      method: 'post',
      path: '/orders/{id}/key',
      operationId: 'getKey',
      summary: 'Get keys: the activation key alone',
      description:
        "The order's activation key, for a product that has one, with or without downloads (Windows 7 ESU has only its key). 409 `order_not_active` once the order is cancelled or expired; 422 `no_key` for a product without a key. Recorded in the activity log, once per Idempotency-Key when one is sent.",
      tag: 'software',
      permission: 'getKeysAndDownloads',
      params: S.idParam('id', S.ORDER_REF),
      headers: S.idempotencyKeyHeader("optional: the same user's same key again (a retry) shows the key again without a second entry in the activity log", false),
      // nothing to say: no body, or an empty JSON object
      body: { type: 'object', additionalProperties: false, properties: {} },
      errorCodes: { 409: ['order_not_active', 'key_not_ready'], 422: ['no_key'] },
      errors: [404, 409, 422],
      responses: { 200: { description: 'the key', schema: S.keySchema } },
      secret: true,
      handler: async ({ auth, params, headers }) => ({ status: 200, body: await licensing.getKey(auth, params.id, headers['idempotency-key']) }),
    }),
    defineRoute({
      method: 'post',
      path: '/orders/{id}/downloads',
      operationId: 'getKeysAndDownloads',
      summary: 'Get keys and downloads',
      description:
        'The order\'s activation key and a new download link for one of the product\'s options (`GET /products/{id}`). The link lasts two weeks or 50 downloads, whichever comes first, and a subscription\'s link no longer than its term (`download.expiresAt` says which); asking again gives a fresh link, and earlier links keep their own limits. With an `Idempotency-Key` (a key belongs to its user), the same request again (a retry after a timeout) gives the same link, with the limits it had from the start, and logs nothing new; the same key with another order or option is a 422 `idempotency_key_reused`, and once the two weeks of that link are over a 409 `idempotency_key_expired` (send a new key for a new link). Use random keys (a UUID): the server keeps the token of the link sealed under the key. A value not offered is a 400 naming the field, with the allowed values in `details.allowed`. 409 `order_not_active` once the order is cancelled or expired (a replay too). Recorded in the activity log.',
      tag: 'software',
      permission: 'getKeysAndDownloads',
      params: S.idParam('id', S.ORDER_REF),
      headers: S.idempotencyKeyHeader('optional: the same request with the same key gives the same link instead of another one', false),
      body: S.downloadRequestSchema,
      errorCodes: { 409: ['order_not_active', 'key_not_ready', 'idempotency_key_expired'], 422: ['no_downloads', 'no_key', 'idempotency_key_reused'] },
      errors: [404, 409, 422],
      responses: {
        201: {
          description: 'the key and the link',
          schema: S.keysAndDownloadSchema,
          headers: { Location: 'the download link', 'Idempotent-Replayed': '"true" when this Idempotency-Key had made the link already; only with an Idempotency-Key' },
        },
      },
      secret: true,
      handler: async ({ auth, params, body, headers }) => {
        const key = headers['idempotency-key'];
        const { replayed, ...result } = await licensing.getKeysAndDownloads(auth, params.id, body, key);
        return { status: 201, body: result, headers: { Location: result.download.url, ...(key === undefined ? {} : { 'Idempotent-Replayed': String(replayed) }) } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/downloads/{token}',
      operationId: 'download',
      summary: 'Download the software behind a link',
      description:
        'No sign-in: the link is meant to be sent to the customer. A request from byte 0 counts as one of the link\'s 50 downloads; a `Range` from further on resumes without counting when the same client (address and user agent) made a counted download of the link in the last 24 hours, and otherwise counts as a download too. 410 with `code` link_expired, link_exhausted or link_revoked; 404 for anything else. HEAD answers the headers and counts nothing, and so does an `If-None-Match` naming the file (304) or a range outside it (416); a link refused (revoked, expired, or its 50 downloads taken) is refused to those first. Recorded in the activity log.',
      tag: 'software',
      permission: null,
      params: obj1('token'),
      // the link travels by email: a mail client or a tracker may add parameters (utm_source=…); they are ignored
      query: { type: 'object', additionalProperties: true, description: 'ignored: parameters a mail client or a tracker added to the link' },
      headers: {
        type: 'object',
        properties: {
          range: { type: 'string', maxLength: 200, description: 'e.g. `bytes=1048576-` to resume' },
          'if-range': { type: 'string', maxLength: 200, description: 'the ETag: the range holds only for the same file' },
          'if-none-match': { type: 'string', maxLength: 1000, description: 'ETags you hold: when one is this file, the answer is 304 and no download is counted' },
        },
      },
      errorCodes: { 410: ['link_expired', 'link_exhausted', 'link_revoked'], 416: ['range_not_satisfiable'], 503: ['database_unavailable'] },
      errors: [404, 410],
      errorDescriptions: {
        404: 'No such link. A browser (an `Accept` that prefers `text/html`) gets a short page saying so instead of the JSON error.',
        410: 'The link no longer works; `code` says why (link_expired, link_exhausted, link_revoked). A browser (an `Accept` that prefers `text/html`) gets a short page saying so and what to do next instead of the JSON error.',
      },
      // the link goes to the customer, who opens it in a browser
      forBrowsers: {
        nextStep: 'If you still need this software, ask the partner who sent you the link for a new one.',
        // a revoked link's order is over: no new link can be made for it
        byCode: { link_revoked: 'No new link can be made for this order. If you still need this software, ask the partner who sent you the link.' },
      },
      responses: {
        200: { description: "the whole file, as its own type (an ISO image is `application/x-iso9660-image`, a CAB `application/vnd.ms-cab-compressed`, …)", contentType: '*/*', schema: { type: 'string', format: 'binary' }, headers: fileHeaders },
        206: { description: "the bytes asked for, as the file's own type", contentType: '*/*', schema: { type: 'string', format: 'binary' }, headers: fileHeaders },
        304: { description: 'If-None-Match names this file: you have it already; nothing counted or logged (a refused link is a 410 instead)', headers: { ETag: 'the file' } },
        416: { description: 'the range asked for is outside the file', schema: S.errorSchema, headers: { 'Content-Range': '`bytes */<size>`' } },
        // (no sign-in, so not given the signed-in routes' 503: the link is read from the database all the same, QA; it
        // calls no workflow, so never temporal_unavailable)
        503: { description: 'the database is unavailable; retry after `Retry-After` seconds (nothing was counted)', schema: S.errorSchema, headers: { 'Retry-After': 'seconds to wait before retrying' } },
      },
      handler: async ({ params, headers, origin, method, requestId, log }): Promise<Reply> => {
        const a = await licensing.openDownload({ token: params.token, method, range: headers.range, ifRange: headers['if-range'], ifNoneMatch: headers['if-none-match'], origin, log });
        if (a.kind === 'not_modified') return { status: 304, body: undefined, headers: { ETag: licensing.etagOf(a.file), 'Cache-Control': 'private, no-store' } };
        if (a.kind === 'unsatisfiable') {
          return { status: 416, body: { error: { status: 416, code: 'range_not_satisfiable', message: `the file has ${a.file.size} bytes`, requestId } }, headers: { 'Content-Range': `bytes */${a.file.size}` } };
        }
        const digest = Buffer.from(a.file.sha256, 'hex').toString('base64');
        const h: Record<string, string> = {
          'Content-Type': a.option.contentType,
          'Content-Length': String(a.end - a.start + 1),
          'Content-Disposition': contentDisposition(a.option.fileName),
          'Accept-Ranges': 'bytes',
          ETag: licensing.etagOf(a.file),
          'Repr-Digest': `sha-256=:${digest}:`,
          Digest: `sha-256=${digest}`,
          'Cache-Control': 'private, no-store',
          'Referrer-Policy': 'no-referrer',
          'X-Content-Type-Options': 'nosniff',
        };
        if (a.status === 206) h['Content-Range'] = `bytes ${a.start}-${a.end}/${a.file.size}`;
        if (a.download !== null) h['X-Download-Number'] = String(a.download);
        return { status: a.status, body: a.body, headers: h };
      },
    }),
  ];
}

function obj1(name: string) {
  return { type: 'object', additionalProperties: false, required: [name], properties: { [name]: { type: 'string', minLength: 1, maxLength: 200 } } };
}
