/**
 * The HTTP mechanism every route goes through. A route is a declaration: method, path, the permission
 * it needs, JSON schemas for its params/query/headers/body and responses, and a handler. From the
 * declarations come the Express router (authentication, role check, ajv validation, one error shape)
 * and the OpenAPI 3.1 document. Handlers never see unvalidated input.
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import contentType from 'content-type';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Logger } from '../lib/logger';
import { AppError } from '../lib/errors';
import { PreparedJson } from '../lib/json-body';
import { isDatabaseUnavailable } from '../lib/db';
import { isTemporalUnavailable } from '../lib/temporal';
import { runInRequestContext, type RequestContext } from '../lib/request-context';
import { PERMISSIONS, isPartnerRole, type Permission } from '../domain/roles';
import { hasLoneSurrogate, headerText, MESSAGE_PATTERN, NAME_PATTERN, serverPattern, SINGLE_LINE_PATTERN, TEXT_PATTERN, TEXT_RULES } from '../domain/text';
import { authenticate, type AuthContext } from './auth';
import type { RequestOrigin } from '../services/context';
import { CURSOR_PATTERN, errorSchema } from './schemas';

export type JsonSchema = Record<string, unknown>;

export interface Ctx<P = Record<string, string>, Q = Record<string, unknown>, B = unknown, H = Record<string, string>> {
  params: P;
  query: Q;
  body: B;
  headers: H;
  /** null only on public routes */
  auth: AuthContext;
  requestId: string;
  log: Logger;
  /** where the request came from (address, user agent), for the activity log */
  origin: RequestOrigin;
  /** GET or HEAD for a GET route */
  method: string;
  /** the raw request, for `multipart` routes that stream their body */
  request: Request;
}

/** What `res.json` sends as Content-Type. */
const JSON_UTF8 = 'application/json; charset=utf-8';

/** What a 415 for a JSON route's body asks for. */
const SEND_JSON = 'send JSON in UTF-8 (Content-Type: application/json)';

export interface Reply {
  status: number;
  /**
   * JSON (a value, or one serialized once: lib/json-body.ts PreparedJson), a string, a stream (piped, never
   * validated), or undefined for no body (HEAD)
   */
  body: unknown;
  headers?: Record<string, string>;
}

export interface RouteDef {
  method: 'get' | 'post' | 'put' | 'delete';
  /** OpenAPI-style path, e.g. `/orders/{id}` */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  /** null: public route (no token) */
  permission: Permission | null;
  params?: JsonSchema;
  query?: JsonSchema;
  headers?: JsonSchema;
  body?: JsonSchema;
  /**
   * A `multipart/form-data` request: the schema of its parts, for the OpenAPI document only. The router skips
   * the JSON body check; the handler streams the parts from `ctx.request` and enforces its own limits.
   */
  multipart?: JsonSchema;
  /** descriptions of error statuses that differ from the common ones (e.g. this route's own 413) */
  errorDescriptions?: Record<number, string>;
  /** `alsoAs`: further media types of the same answer (content negotiation), for the OpenAPI document */
  responses: Record<number, { description: string; schema?: JsonSchema; contentType?: string; headers?: Record<string, string>; alsoAs?: Record<string, JsonSchema> }>;
  /** error statuses the route can answer beyond the common ones */
  errors?: number[];
  /**
   * The `code`s of the route's own refusals, by status (the OpenAPI document lists them with each error response,
   * beside the codes every route shares: COMMON_CODES); a status named here is one the route can answer.
   */
  errorCodes?: Partial<Record<number, readonly string[]>>;
  /**
   * The handler makes no call to Temporal: it reads (or writes) the database only. It runs outside the Temporal
   * guard (`RouterOptions.around`: a deadline, an abort signal and a probe timer per request, about a tenth of the
   * API's own CPU for a read of an order in the benchmark); the API's database timeouts fail it on their own (503
   * `database_unavailable`). test/api.faults.test.ts calls every such route with Temporal unreachable.
   */
  databaseOnly?: true;
  /**
   * The answer holds a secret (a key, a token): `Cache-Control: no-store` and no ETag, so that no cache keeps it
   * and no 304 stands for having seen it. Other GET answers carry an ETag and answer a matching If-None-Match with 304.
   */
  secret?: true;
  /**
   * A link people open in a browser (a download link sent to a customer): its errors answer a client that prefers
   * HTML (`Accept`) with a short page saying what happened and what to do next (for a link that is gone, 410, this
   * sentence, or the one for its code); other clients get the JSON error as everywhere.
   */
  forBrowsers?: { nextStep: string; byCode?: Record<string, string> };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  handler(ctx: Ctx<any, any, any, any>): Promise<Reply>;
}

export const defineRoute = (r: RouteDef): RouteDef => r;

/**
 * ajv's regular expressions: a pattern of the document as the server checks it (domain/text.ts serverPattern: the
 * names' and messages' visible character is also missing in default-ignorable code points beyond the BMP, which the
 * document's portable patterns cannot write). The API's validators and the pages' forms use it.
 */
export const serverRegExp = Object.assign((pattern: string, flags: string) => new RegExp(serverPattern(pattern), flags), { code: 'serverRegExp' });

const ajv = new Ajv({ allErrors: false, coerceTypes: false, useDefaults: true, strict: true, strictRequired: false, verbose: true, code: { regExp: serverRegExp } });
addFormats(ajv);
/** Query strings and headers arrive as strings: those validators coerce. */
const ajvCoercing = new Ajv({ allErrors: false, coerceTypes: true, useDefaults: true, strict: true, strictRequired: false, verbose: true, code: { regExp: serverRegExp } });
addFormats(ajvCoercing);

function describe(part: string, e: ErrorObject): { field: string; message: string } {
  const base = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : `${acc}.${s}`), part);
  if (e.keyword === 'required') {
    const f = `${base}.${(e.params as { missingProperty: string }).missingProperty}`;
    return { field: f, message: `${f} is required` };
  }
  if (e.keyword === 'additionalProperties') {
    const f = `${base}.${(e.params as { additionalProperty: string }).additionalProperty}`;
    return { field: f, message: `${f} is not allowed here` };
  }
  if (e.keyword === 'enum') {
    const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
    // (verbose: the error carries the value given) a value in the wrong case gets the right one named
    const cased = typeof e.data === 'string' ? allowed.find((v) => typeof v === 'string' && v.toLowerCase() === (e.data as string).toLowerCase()) : undefined;
    const hint = cased !== undefined ? `; did you mean ${JSON.stringify(cased)}?` : '';
    if (allowed.length > 12) return { field: base, message: `${base} must be one of the ${allowed.length} values the OpenAPI document lists (GET /openapi.json)${hint}` };
    return { field: base, message: `${base} must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}${hint}` };
  }
  if (e.keyword === 'pattern') {
    const rule = PATTERN_RULES[(e.params as { pattern: string }).pattern];
    if (rule) return { field: base, message: `${base} must be ${rule}` };
  }
  if (e.keyword === 'const') {
    return { field: base, message: `${base} must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}` };
  }
  return { field: base, message: `${base} ${e.message ?? 'is invalid'}` };
}

function validator(schema: JsonSchema | undefined, coerce: boolean): ValidateFunction | null {
  return schema ? (coerce ? ajvCoercing : ajv).compile(schema) : null;
}

const PATTERN_RULES: Record<string, string> = {
  [TEXT_PATTERN]: `text with ${TEXT_RULES.text}`,
  [MESSAGE_PATTERN]: TEXT_RULES.message,
  [SINGLE_LINE_PATTERN]: TEXT_RULES.singleLine,
  [NAME_PATTERN]: TEXT_RULES.name,
  [CURSOR_PATTERN]: 'a cursor this API gave out (base64url: letters, digits, - and _)',
};

/**
 * Deepest nesting of arrays and objects the API reads (no route's schema comes close); deeper input is a 400
 * before anything else looks at it.
 */
export const MAX_INPUT_DEPTH = 32;

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
const badText = (s: string) => CONTROL.test(s) || hasLoneSurrogate(s);

/**
 * Walks the input (iteratively: no input shape can overflow the stack) and refuses nesting deeper than
 * MAX_INPUT_DEPTH, and any string or key holding a control character other than tab/line breaks (NUL and
 * friends, which databases refuse) or a lone surrogate. The schemas state the same rules as patterns (all but the
 * lone surrogates, see domain/text.ts); this walk also covers keys and whatever a schema leaves open.
 */
function checkInput(data: unknown, part: string): void {
  const stack: [unknown, string, number][] = [[data, part, 0]];
  const bad = (at: string) => new AppError(400, 'validation_failed', `${at} must not contain control characters or lone surrogates`, at);
  while (stack.length) {
    const [value, at, depth] = stack.pop()!;
    if (typeof value === 'string') {
      if (badText(value)) throw bad(at);
    } else if (value !== null && typeof value === 'object') {
      if (depth >= MAX_INPUT_DEPTH) throw new AppError(400, 'validation_failed', `${part} is nested deeper than ${MAX_INPUT_DEPTH} levels`, part);
      if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], `${at}[${i}]`, depth + 1]);
      } else {
        for (const k of Object.keys(value)) {
          if (badText(k)) throw bad(`${at}.${k.replace(/[^\x20-\x7e]/g, '?')}`);
          stack.push([(value as Record<string, unknown>)[k], `${at}.${k}`, depth + 1]);
        }
      }
    }
  }
}

/**
 * The first field that the schema says is a whole number but that is not written in digits ("1.0", " 1", "1e0",
 * "0x10": the coercing validators would read each as a number), if any. The API's path and query, and the pages'
 * forms, refuse it. A minus sign before the digits is a whole number written in digits: "-2" is then refused by the
 * schema's minimum, as 0 is ("at least 1"), not told to be written in digits (QA).
 */
export function notWrittenInDigits(schema: JsonSchema | undefined, data: Record<string, unknown>): string | undefined {
  const properties = (schema?.properties ?? {}) as Record<string, { type?: unknown }>;
  return Object.keys(data).find((k) => properties[k]?.type === 'integer' && typeof data[k] === 'string' && !/^-?[0-9]+$/.test(data[k] as string));
}

function wholeNumbersInDigits(schema: JsonSchema | undefined, part: string, data: Record<string, unknown>): void {
  const k = notWrittenInDigits(schema, data);
  if (k !== undefined) throw new AppError(400, 'validation_failed', `${part}.${k} must be a whole number written in digits`, `${part}.${k}`);
}

function check(v: ValidateFunction | null, part: string, data: unknown): void {
  checkInput(data, part);
  if (v && !v(data)) {
    const { field, message } = describe(part, v.errors![0]);
    throw new AppError(400, 'validation_failed', message, field);
  }
}

/**
 * The text rule on every string the API reads: a string schema without a pattern, an enum, a const or a
 * format gets the single-line pattern (the name pattern, "something visible", when it may not be empty).
 * Applied to the input schemas of every route, for the validators and the OpenAPI document alike, so the
 * document states what the server enforces. Multi-line fields say so with `pattern: TEXT_PATTERN`.
 */
export function withTextRules(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = { ...schema };
  const types = ([] as unknown[]).concat(schema.type ?? []);
  if (types.includes('string') && !('pattern' in schema) && !('enum' in schema) && !('const' in schema) && !('format' in schema)) {
    out.pattern = typeof schema.minLength === 'number' && schema.minLength >= 1 ? NAME_PATTERN : SINGLE_LINE_PATTERN;
  }
  const sub = (x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? withTextRules(x as JsonSchema) : x);
  if (schema.properties) out.properties = Object.fromEntries(Object.entries(schema.properties as Record<string, JsonSchema>).map(([k, v]) => [k, sub(v)]));
  if (schema.items) out.items = sub(schema.items);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') out.additionalProperties = sub(schema.additionalProperties);
  for (const k of ['anyOf', 'oneOf', 'allOf'] as const) if (Array.isArray(schema[k])) out[k] = (schema[k] as unknown[]).map(sub);
  return out;
}

/** The route with the text rule on each of its input schemas. */
/** A GET answer other than a secret carries an ETag; the client sends it back in this header (validated, documented). */
const IF_NONE_MATCH: JsonSchema = { type: 'string', maxLength: 1000, description: 'the ETag of an answer you hold: 304 while it is still current' };
const isConditional = (r: RouteDef) => r.method === 'get' && !r.secret;

function hardened(r: RouteDef): RouteDef {
  const w = (s?: JsonSchema) => (s ? withTextRules(s) : s);
  const declared = (r.headers?.properties ?? {}) as Record<string, JsonSchema>;
  const headers = isConditional(r) && !Object.hasOwn(declared, 'if-none-match') ? { type: 'object', ...(r.headers ?? {}), properties: { ...declared, 'if-none-match': IF_NONE_MATCH } } : r.headers;
  return { ...r, params: w(r.params), query: w(r.query), headers: w(headers), body: w(r.body) };
}

/** Where a request came from, as the activity log and the order records keep it (API and pages alike). */
export function requestOrigin(req: Request): RequestOrigin {
  return { ip: req.ip ?? null, userAgent: headerText(req.header('user-agent'), 512) };
}

export interface RouterOptions {
  log: Logger;
  /** check every response body against its schema (tests turn it on) */
  validateResponses?: boolean;
  /** runs each handler (e.g. inside a deadline for the Temporal calls it makes) */
  around?: <T>(fn: () => Promise<T>) => Promise<T>;
}

const toExpressPath = (p: string) => p.replace(/\{(\w+)\}/g, ':$1');

const NOT_AN_OBJECT = 'body must be a JSON object (Content-Type: application/json)';

/** Whether a body the JSON parser refused is JSON all the same (a scalar or `null`, which its strict mode refuses). */
function isJson(body: unknown): boolean {
  if (typeof body !== 'string') return false;
  try {
    JSON.parse(body);
    return true;
  } catch {
    return false;
  }
}

/** A JSON body none of whose fields is required may be left out (it reads as `{}`). */
const bodyOptional = (schema: JsonSchema): boolean => !Array.isArray(schema.required) || schema.required.length === 0;
/** Whether the request carries a body at all (chunked, or a Content-Length above 0), read or not. */
const hasBody = (req: Request): boolean => req.header('transfer-encoding') !== undefined || Number(req.header('content-length') ?? 0) > 0;
const isEmptyObject = (x: unknown): boolean => x !== null && typeof x === 'object' && !Array.isArray(x) && Object.keys(x).length === 0;

export function buildRouter(declared: RouteDef[], opts: RouterOptions): express.Router {
  const router = express.Router();
  const around = opts.around ?? (<T>(fn: () => Promise<T>) => fn());
  for (const route of declared.map(hardened)) {
    const v = {
      params: validator(route.params, true),
      query: validator(route.query, true),
      headers: validator(route.headers, true),
      body: validator(route.body, false),
      responses: new Map(Object.entries(route.responses).map(([s, r]) => [Number(s), r.schema ? ajv.compile(r.schema) : null])),
      errors: documentedErrors(route),
    };
    router[route.method](toExpressPath(route.path), async (req: Request, res: Response) => {
      try {
        await answer(req, res);
      } catch (err) {
        // tests: a refusal the route's OpenAPI operation does not list (status or code) fails the request loudly
        if (opts.validateResponses && err instanceof AppError && !v.errors.get(err.status)?.includes(err.code)) {
          throw new Error(`${route.operationId} answered ${err.status} ${err.code}, which its OpenAPI operation does not list (${JSON.stringify(Object.fromEntries(v.errors))}): ${err.message}`);
        }
        throw err;
      }
    });
    const answer = async (req: Request, res: Response) => {
      const log = res.locals.log as Logger;
      const context = res.locals.context as RequestContext;
      if (route.forBrowsers) {
        res.locals.browserNextStep = route.forBrowsers;
        res.vary('Accept');
      }
      await runInRequestContext(context, async () => {
        let auth: AuthContext | null = null;
        // read now: once the client has gone, its address can no longer be (a write it started still records it)
        const origin = requestOrigin(req);
        if (route.permission) {
          auth = { ...(await authenticate(req.header('authorization'), log)), origin };
          context.userId = auth.user._id;
          context.partnerId = auth.partnerId;
          const allowed = PERMISSIONS[route.permission] as readonly string[];
          if (!allowed.includes(auth.role)) {
            throw new AppError(403, 'forbidden', `the role ${auth.role} may not use ${route.method.toUpperCase()} ${route.path} (${route.summary}); allowed: ${allowed.join(', ')}`);
          }
          if (allowed.every(isPartnerRole) && !auth.partnerId) {
            throw new AppError(403, 'forbidden', 'this route is for partner users');
          }
        }
        if (unreadableQuery(req.url)) throw new AppError(400, 'invalid_query', 'the query string is not UTF-8: a %-escape in it spells no character', 'query');
        const params = { ...req.params };
        const query = { ...(req.query as Record<string, unknown>) };
        const headers: Record<string, unknown> = {};
        for (const name of Object.keys((route.headers?.properties as object) ?? {})) {
          const value = req.header(name);
          if (value !== undefined) headers[name] = value;
        }
        // a route that reads no query says so for any parameter sent (as those that read one do for unknown ones)
        const stray = route.query ? undefined : Object.keys(query)[0];
        if (stray !== undefined) throw new AppError(400, 'validation_failed', `query.${stray.replace(/[^\x20-\x7e]/g, '?')} is not allowed here: this route takes no query parameters`, `query.${stray.replace(/[^\x20-\x7e]/g, '?')}`);
        // a parameter sent twice (`?limit=1&limit=2`) where the route takes one value: said so, not as a wrong type
        const props = (route.query?.properties ?? {}) as Record<string, { type?: unknown }>;
        const twice = Object.keys(query).find((k) => Array.isArray(query[k]) && Object.hasOwn(props, k) && props[k].type !== 'array');
        if (twice !== undefined) throw new AppError(400, 'validation_failed', `query.${twice} is given more than once; give it once`, `query.${twice}`);
        wholeNumbersInDigits(route.params, 'path', params);
        wholeNumbersInDigits(route.query, 'query', query);
        check(v.params, 'path', params);
        check(v.query, 'query', query);
        check(v.headers, 'header', headers);
        // a body sent as something other than JSON (a form, text, no Content-Type: curl's `-d` alone sends a form) is
        // not read: 415 naming the header, as for JSON in another charset, never an action taken without it (QA: it
        // was a 400 saying the body must be an object)
        if (route.body && hasBody(req) && req.body === undefined) {
          const sent = req.header('content-type');
          throw new AppError(415, 'unsupported_media_type', `${sent === undefined ? 'no Content-Type' : `Content-Type ${JSON.stringify(sent.slice(0, 80))}`}: ${SEND_JSON}`, 'header.content-type');
        }
        // an action whose body has no required field may be sent without one (`curl -X POST …/withdraw`)
        if (route.body && bodyOptional(route.body) && !hasBody(req) && (req.body === undefined || isEmptyObject(req.body))) req.body = {};
        if (route.body) {
          if (req.body === undefined || req.body === null || typeof req.body !== 'object' || Array.isArray(req.body)) {
            throw new AppError(400, 'validation_failed', NOT_AN_OBJECT, 'body');
          }
          check(v.body, 'body', req.body);
        }
        if (route.multipart && !/^multipart\/form-data\s*;/i.test(req.header('content-type') ?? '')) {
          throw new AppError(400, 'validation_failed', 'body must be multipart/form-data (Content-Type: multipart/form-data; boundary=...)', 'body');
        }
        // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as RouteDef.handler takes it
        const ctx: Ctx<any, any, any, any> = {
          params,
          query,
          body: route.multipart ? undefined : req.body,
          headers,
          auth: auth as AuthContext,
          requestId: context.requestId,
          log,
          origin,
          method: req.method,
          request: req,
        };
        const reply = route.databaseOnly ? await route.handler(ctx) : await around(() => route.handler(ctx));
        // a conditional GET is a validation by this origin server: a matching If-None-Match is a 304 even when the
        // request says `Cache-Control: no-cache` (which fetch and browsers add to it), which asks that no cache answer
        // without the origin's validation (RFC 9111 5.2.1.4); Express's freshness check would send the whole answer
        if (req.headers['if-none-match'] !== undefined && /\bno-cache\b/i.test(req.header('cache-control') ?? '')) delete req.headers['cache-control'];
        if (reply.body instanceof Readable) {
          for (const [k, val] of Object.entries(reply.headers ?? {})) res.setHeader(k, val);
          res.status(reply.status);
          // a file the client holds already (If-None-Match names its ETag): 304, and the file is not read; a HEAD
          // reads none of it either
          if (reply.status === 200 && reply.headers?.ETag && req.fresh) {
            reply.body.destroy();
            res.status(304).end();
            return;
          }
          if (req.method === 'HEAD') {
            reply.body.destroy();
            res.end();
            return;
          }
          try {
            await pipeline(reply.body, res);
          } catch (e) {
            // the client went away mid-stream (or the source failed): the status line is long gone
            if (!res.headersSent) throw e;
            log.info({ err: (e as Error).message }, 'stream ended early');
            res.destroy();
          }
          return;
        }
        if (opts.validateResponses && reply.body !== undefined) {
          const rv = v.responses.get(reply.status);
          const value: unknown = reply.body instanceof PreparedJson ? JSON.parse(reply.body.bytes.toString('utf8')) : reply.body;
          if (rv === undefined) throw new Error(`${route.operationId} answered ${reply.status}, which it does not declare`);
          if (rv && !rv(value)) throw new Error(`${route.operationId} ${reply.status} response breaks its schema: ${ajv.errorsText(rv.errors)}`);
        }
        for (const [k, val] of Object.entries(reply.headers ?? {})) res.setHeader(k, val);
        if (reply.body === undefined) res.status(reply.status).end();
        else if (route.secret) {
          // never stored, so it gets no ETag either: no 304 stands for having seen it
          const text = reply.body instanceof PreparedJson ? reply.body.bytes : JSON.stringify(reply.body);
          res.status(reply.status).type('application/json').setHeader('Cache-Control', 'no-store').setHeader('Content-Length', Buffer.byteLength(text));
          res.end(text);
        }
        // serialized once (lib/json-body.ts): the headers `res.json` gives, and its ETag, which Express then does not
        // compute again; its freshness check (304) and HEAD are as for any answer
        else if (reply.body instanceof PreparedJson) res.status(reply.status).set({ 'Content-Type': JSON_UTF8, ETag: reply.body.etag }).send(reply.body.bytes);
        else if (typeof reply.body === 'string') res.status(reply.status).type(route.responses[reply.status]?.contentType ?? 'text/plain').send(reply.body);
        else res.status(reply.status).json(reply.body);
      });
    };
  }
  return router;
}

/** The `Link` header of a paged list's answer: its next page, when there is one (RFC 8288). */
export function nextPageLink(path: string, limit: number, nextCursor: string | null): Record<string, string> {
  return nextCursor ? { Link: `<${path}?${new URLSearchParams({ limit: String(limit), cursor: nextCursor }).toString()}>; rel="next"` } : {};
}

/**
 * A download link's token is a secret: request logs name the route, not the token, however the path is written
 * (routing ignores case, and a client may percent-encode any of it).
 */
export function redactPath(p: string): string {
  let decoded = p;
  try {
    decoded = decodeURIComponent(p);
  } catch {
    /* not decodable: the path as sent */
  }
  const redacted = decoded.replace(/\/downloads\/[^/]+/gi, '/downloads/{token}').replace(/dl_[A-Za-z0-9_-]+/g, 'dl_{token}');
  return redacted === decoded ? p : redacted;
}

/**
 * 405 with `Allow` for a path that exists with other methods (HEAD is allowed wherever GET is, as Express
 * answers it); other paths fall through to the 404.
 */
/** The methods a path has (`Allow`), or null for a path the API does not have. */
function allowedMethods(declared: { method: string; path: string }[]): (path: string) => string | null {
  const byPath = new Map<string, Set<string>>();
  for (const r of declared) {
    const set = byPath.get(r.path) ?? new Set<string>();
    set.add(r.method.toUpperCase());
    if (r.method === 'get') set.add('HEAD');
    byPath.set(r.path, set);
  }
  const matchers = [...byPath].map(([p, methods]) => ({
    re: new RegExp(`^${p.split(/\{\w+\}/).map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]+')}/?$`, 'i'),
    allow: [...methods].sort().join(', '),
  }));
  return (path) => matchers.find((x) => x.re.test(path))?.allow ?? null;
}

export function methodNotAllowed(declared: { method: string; path: string }[]) {
  const allowOn = allowedMethods(declared);
  return (req: Request, res: Response, next: NextFunction) => {
    const allow = allowOn(req.path);
    if (!allow) return next();
    res.setHeader('Allow', allow);
    next(new AppError(405, 'method_not_allowed', `${req.method} is not allowed on ${req.path}; allowed: ${allow}`));
  };
}

/**
 * OPTIONS on a path of the API: 204 with `Allow` (its methods and OPTIONS), no body; on a path it does not have, the
 * 404 of any unknown path (rather than Express's own plain-text answer).
 */
export function answerOptions(declared: { method: string; path: string }[]) {
  const allowOn = allowedMethods(declared);
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'OPTIONS') return next();
    const allow = allowOn(req.path);
    if (!allow) return next(new AppError(404, 'route_not_found', `no route ${req.method} ${req.path}; see GET /openapi.json`));
    res.setHeader('Allow', `${allow}, OPTIONS`);
    res.status(204).end();
  };
}

/**
 * Whether the query string's %-escapes spell something other than UTF-8 (`%ED%A0%80`, `%C0%AF`): the query parser
 * would read each as U+FFFD and the request would go on with other words than those sent.
 */
export function unreadableQuery(url: string): boolean {
  const q = url.indexOf('?');
  if (q < 0 || url.indexOf('%', q) < 0) return false;
  const raw = url.slice(q + 1).replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  return !isUtf8(Buffer.from(raw, 'latin1'));
}

/**
 * JSON bodies in UTF-8 only (RFC 8259 §8.1): body-parser decodes any `utf-*` charset it is told (UTF-7, UTF-16),
 * which bytes valid as UTF-8 can carry, so a client would be read otherwise than it meant. Any other charset named
 * for a JSON body is a 415; none named is UTF-8.
 */
export function jsonInUtf8Only() {
  return (req: Request, _res: Response, next: NextFunction) => {
    const header = req.headers['content-type'];
    if (header && /charset/i.test(header)) {
      let parsed: contentType.ParsedMediaType | undefined;
      try {
        parsed = contentType.parse(header);
      } catch {
        parsed = undefined; // not a media type: the JSON parser leaves the body alone, the route says what is missing
      }
      const charset = parsed?.parameters.charset;
      if (parsed?.type === 'application/json' && charset !== undefined && !/^utf-8$/i.test(charset)) {
        next(new AppError(415, 'unsupported_media_type', `charset ${JSON.stringify(charset.slice(0, 40))}: ${SEND_JSON}`, 'header.content-type'));
        return;
      }
    }
    next();
  };
}

/** For express.json: a body that is not valid UTF-8 is refused before decoding would turn it into U+FFFD. */
export function verifyUtf8(_req: IncomingMessage, _res: unknown, buf: Buffer): void {
  if (!isUtf8(buf)) throw Object.assign(new Error('the body is not valid UTF-8'), { type: 'invalid_utf8' });
}

/**
 * verifyUtf8 for a urlencoded form, whose text is in its %-escapes: each name and value must decode to UTF-8 too.
 * The parser keeps an escape it cannot decode as it stands (QA: `name=Bad%FFName` made a customer named
 * "Bad%FFName"), which no browser sends: refused as the raw byte is.
 */
export function verifyFormUtf8(req: IncomingMessage, res: unknown, buf: Buffer): void {
  verifyUtf8(req, res, buf);
  const body = buf.toString('utf8');
  if (!body.includes('%')) return;
  for (const part of body.split(/[&=]/)) {
    if (!part.includes('%')) continue;
    try {
      decodeURIComponent(part);
    } catch {
      throw Object.assign(new Error('a %-escape of the form is not UTF-8'), { type: 'invalid_utf8' });
    }
  }
}

/**
 * Request id (from X-Request-Id when sane, else new), the request context (lib/request-context.ts: log lines
 * inside the request carry its id) and one log line per request.
 */
export function requestContext(log: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const incoming = req.header('x-request-id');
    const requestId = incoming && /^[\w.:-]{1,100}$/.test(incoming) ? incoming : crypto.randomUUID();
    const started = process.hrtime.bigint();
    const context: RequestContext = { requestId };
    res.locals.requestId = requestId;
    res.locals.context = context;
    res.locals.log = log;
    res.setHeader('X-Request-Id', requestId);
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      runInRequestContext(context, () => log.info({ method: req.method, path: redactPath(req.originalUrl.split('?')[0]), status: res.statusCode, ms }, 'request'));
    });
    next();
  };
}

/** Seconds a client should wait before retrying when a server the API depends on is unavailable. */
export const RETRY_AFTER_SECONDS = 5;

/** The one error shape: `{ error: { status, code, message, field?, requestId } }`. */
export function errorHandler() {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const requestId = res.locals.requestId as string;
    const log = (res.locals.log as Logger | undefined) ?? undefined;
    let e: AppError;
    const anyErr = err as { type?: string; status?: number; message?: string; code?: unknown };
    if (err instanceof AppError) e = err;
    else if (isDatabaseUnavailable(err)) {
      log?.warn({ err }, 'database unavailable');
      e = new AppError(503, 'database_unavailable', `the database is unavailable; retry in ${RETRY_AFTER_SECONDS} s`);
    } else if (isTemporalUnavailable(err)) {
      log?.warn({ err }, 'temporal unavailable');
      e = new AppError(503, 'temporal_unavailable', `the workflow service (Temporal) is unavailable, busy, or did not answer in time; retry in ${RETRY_AFTER_SECONDS} s (with the same Idempotency-Key, where there is one)`);
    } else if (anyErr?.type === 'invalid_utf8') e = new AppError(400, 'invalid_encoding', 'the body is not valid UTF-8', 'body');
    // the parser takes only an object or an array: other JSON (`null`, `1`, `"x"`) is said to be no object, as `[]` is
    else if (anyErr?.type === 'entity.parse.failed') e = isJson((err as { body?: unknown }).body) ? new AppError(400, 'validation_failed', NOT_AN_OBJECT, 'body') : new AppError(400, 'invalid_json', 'the body is not valid JSON', 'body');
    // Express: a path segment that is not valid percent-encoding
    else if (anyErr?.status === 400 && /^Failed to decode param/.test(anyErr.message ?? '')) e = new AppError(400, 'invalid_path', `the path ${JSON.stringify(req.path.slice(0, 200))} is not valid percent-encoding`, 'path');
    // zlib, through body-parser: a body that its Content-Encoding does not decode (gzip, deflate, br, zstd: QA's corrupt
    // zstd body was a `bad_request` no operation lists, naming no field)
    else if (anyErr?.status === 400 && typeof anyErr.code === 'string' && /^(Z_|ERR_BROTLI|ERR__ERROR|ZSTD_)/.test(anyErr.code)) {
      e = new AppError(400, 'invalid_encoding', `the body is not valid ${req.header('content-encoding') ?? 'compressed data'} (${anyErr.message ?? 'cannot be decoded'})`, 'header.content-encoding');
    }
    else if (anyErr?.type === 'entity.too.large') e = new AppError(413, 'payload_too_large', 'the body is too large', 'body');
    else if (anyErr?.type === 'charset.unsupported' || anyErr?.type === 'encoding.unsupported') {
      // body-parser: a charset other than UTF-8, or a Content-Encoding it cannot undo (named as the header at fault)
      const field = anyErr.type === 'encoding.unsupported' ? 'header.content-encoding' : 'header.content-type';
      e = new AppError(415, 'unsupported_media_type', `${anyErr.message ?? 'unsupported body encoding'}: ${SEND_JSON}, uncompressed or gzip, deflate, br or zstd`, field);
    } else if (typeof anyErr?.status === 'number' && anyErr.status >= 400 && anyErr.status < 500) e = new AppError(anyErr.status, 'bad_request', anyErr.message ?? 'bad request');
    else {
      log?.error({ err }, 'unhandled error');
      e = new AppError(500, 'internal', `something went wrong; quote request id ${requestId} when reporting it`);
    }
    if (e.status >= 500 && err instanceof AppError) log?.error({ err }, 'server error');
    const body: Record<string, unknown> = { status: e.status, code: e.code, message: e.message, requestId };
    if (e.field) body.field = e.field;
    if (e.details !== undefined) body.details = e.details;
    if (res.headersSent) return; // the answer is on its way: nothing more can be said
    if (e.status === 503) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    // a limit's refusal says when it lifts (services/support.ts takeFilingSlot)
    const retryAfter = (e.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    if (e.status === 429 && typeof retryAfter === 'number') res.setHeader('Retry-After', String(retryAfter));
    if (e.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    const forBrowsers = res.locals.browserNextStep as RouteDef['forBrowsers'];
    if (forBrowsers !== undefined && req.accepts(['application/json', 'text/html']) === 'text/html') {
      // a page on the pages' origin, outside their router: the same protections as theirs (helmet, api/pages/index.ts),
      // tighter where it can be (no script, no form), and no Referer: its address holds a link's token
      res.set({
        'Content-Security-Policy': "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        'X-Content-Type-Options': 'nosniff',
        'X-Frame-Options': 'DENY',
        'Referrer-Policy': 'no-referrer',
        'Cache-Control': 'no-store',
      });
      res.status(e.status).type('html').send(browserErrorPage(e, forBrowsers.byCode?.[e.code] ?? forBrowsers.nextStep, requestId));
      return;
    }
    res.status(e.status).json({ error: body });
  };
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page a browser gets for an error of a `forBrowsers` route: the message as a sentence, and the next step. */
export function browserErrorPage(e: AppError, nextStep: string, requestId: string): string {
  const sentence = `${e.message.charAt(0).toUpperCase()}${e.message.slice(1)}${/[.!?]$/.test(e.message) ? '' : '.'}`;
  // only a link that is gone takes the route's next step; the rest say what fits them
  const [heading, next] =
    e.status === 410
      ? ['This link no longer works', nextStep]
      : e.status === 404
        ? ['There is nothing here', 'Check that the whole link was copied; if it was, ask whoever sent it to you.']
        : e.status === 503
          ? ['This did not work just now', 'Open the link again in a few seconds.']
          : e.status >= 500
            ? ['This did not work just now', 'Try again in a few minutes.']
          : ['This link could not be opened', 'Open the link exactly as you received it; if that fails too, ask whoever sent it to you.'];
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(heading)} · csp-desk</title><link rel="stylesheet" href="/app/assets/app.css"></head>
<body><main id="main"><h1>${escapeHtml(heading)}</h1><p>${escapeHtml(sentence)}</p><p>${escapeHtml(next)}</p><p class="muted">Reference: ${escapeHtml(requestId)} (${e.status} ${escapeHtml(e.code)})</p></main></body>
</html>
`;
}

export function notFoundHandler() {
  return (req: Request) => {
    throw new AppError(404, 'route_not_found', `no route ${req.method} ${req.path}; see GET /openapi.json`);
  };
}

const COMMON_ERRORS: Record<number, string> = {
  400: 'The request is invalid; `field` names what is wrong.',
  401: 'No valid bearer token.',
  403: "The caller's role may not do this.",
  404: 'Not found, or it belongs to another partner.',
  405: 'The path exists but not with this method; `Allow` lists the methods it has.',
  409: 'Conflicts with the current state.',
  410: 'Gone for good; `code` says why.',
  413: 'The body is larger than 1 MB.',
  415: 'The content type is not accepted.',
  416: 'The range asked for is outside the file.',
  422: 'Refused by a business rule; `code` says which.',
  429: 'Over a limit; `Retry-After` gives the seconds until it lifts, `details` the limit and when it resets. Nothing was changed.',
  500: 'An unexpected error; quote the request id when reporting it.',
  503: 'A server the API depends on is unavailable (`code`: database_unavailable or temporal_unavailable); retry after `Retry-After` seconds. Nothing was changed unless `message` says the outcome is unknown.',
};

/** The `code`s any route may answer with at a status (validation, authentication, the servers it depends on). */
const COMMON_CODES: Record<number, readonly string[]> = {
  400: ['validation_failed', 'invalid_json', 'invalid_encoding', 'invalid_path', 'invalid_query'],
  401: ['unauthorized'],
  403: ['forbidden'],
  404: ['not_found'],
  405: ['method_not_allowed'],
  413: ['payload_too_large'],
  415: ['unsupported_media_type'],
  500: ['internal'],
  503: ['database_unavailable', 'temporal_unavailable'],
};

const REQUEST_ID_HEADER = 'the request id: the X-Request-Id sent (letters, digits, . _ : -, up to 100) or a new one; it follows the request into the workflows it starts and every log line';

function parametersFrom(schema: JsonSchema | undefined, where: 'path' | 'query' | 'header') {
  if (!schema) return [];
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = (schema.required ?? []) as string[];
  return Object.entries(props).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' ? true : required.includes(name),
    description: s.description,
    schema: s,
  }));
}

/**
 * The error answers a route can give, each status with the codes a client can branch on (the route's own, then
 * those every route shares at that status): what its OpenAPI operation lists, and what the tests hold the
 * answers to (`validateResponses`: an error whose status or code is not listed here fails the request).
 */
export function documentedErrors(r: RouteDef): Map<number, string[]> {
  // 405 for the path with a method it lacks (Allow lists them); 415 for a body that is not JSON, or JSON in another
  // charset or encoding
  const errs = new Set<number>([...(r.errors ?? []), ...Object.keys(r.errorCodes ?? {}).map(Number), 405, 500]);
  if (r.params || r.query || r.headers || r.body || r.multipart) errs.add(400);
  if (r.body || r.multipart) errs.add(413);
  if (r.body) errs.add(415);
  if (r.permission) [401, 403, 503].forEach((s) => errs.add(s));
  // an error answer the route describes itself (/health's 503 with its own body, a download's 416) has the codes it
  // declares only; the others also those every route shares
  const own = new Set(Object.keys(r.responses).map(Number).filter((s) => s >= 400));
  for (const s of own) errs.add(s);
  return new Map([...errs].sort().map((s) => [s, [...new Set([...(r.errorCodes?.[s] ?? []), ...(own.has(s) ? [] : (COMMON_CODES[s] ?? []))])]]));
}

export function openApiDocument(routes: RouteDef[], info: { title: string; version: string; description: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes.map(hardened)) {
    const responses: Record<string, unknown> = {};
    const headersOf = (extra: Record<string, string> = {}) =>
      Object.fromEntries(Object.entries({ 'X-Request-Id': REQUEST_ID_HEADER, ...extra }).map(([name, description]) => [name, { description, schema: { type: 'string' } }]));
    // conditional GETs: every JSON GET answer but a secret has an ETag, and a matching If-None-Match gets 304
    const conditional = isConditional(r);
    for (const [status, resp] of Object.entries(r.responses)) {
      responses[status] = {
        description: resp.description,
        headers: headersOf(conditional && status === '200' ? { ETag: 'a validator of this answer (JSON answers): send it back in If-None-Match', ...resp.headers } : resp.headers),
        ...(resp.schema ? { content: { [resp.contentType ?? 'application/json']: { schema: resp.schema }, ...Object.fromEntries(Object.entries(resp.alsoAs ?? {}).map(([ct, schema]) => [ct, { schema }])) } } : {}),
      };
    }
    if (conditional && !responses['304']) responses['304'] = { description: 'Not modified: If-None-Match names the current ETag; no body', headers: headersOf({ ETag: 'the current ETag' }) };
    for (const [s, codes] of documentedErrors(r)) {
      const own = responses[String(s)] as { description: string } | undefined;
      const codeLine = (description: string) => (codes.length ? `${description}\n\n\`code\`: ${codes.map((c) => `\`${c}\``).join(', ')}.` : description);
      if (own) {
        // the route's own error answer (a download's 416), with the codes it declares
        if (codes.length) responses[String(s)] = { ...own, description: codeLine(own.description), 'x-error-codes': codes };
        continue;
      }
      const headers =
        s === 503 || s === 429 ? headersOf({ 'Retry-After': 'seconds to wait before retrying' }) : s === 405 ? headersOf({ Allow: "the path's methods" }) : s === 401 ? headersOf({ 'WWW-Authenticate': 'Bearer' }) : headersOf();
      const content = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } }, ...(r.forBrowsers ? { 'text/html': { schema: { type: 'string' } } } : {}) };
      const description = r.errorDescriptions?.[s] ?? COMMON_ERRORS[s] ?? 'Error';
      responses[String(s)] = { description: codeLine(description), headers, content, ...(codes.length ? { 'x-error-codes': codes } : {}) };
    }
    const op: Record<string, unknown> = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      parameters: [...parametersFrom(r.params, 'path'), ...parametersFrom(r.query, 'query'), ...parametersFrom(r.headers, 'header')],
      responses,
      security: r.permission ? [{ bearerAuth: [] }] : [],
    };
    if (r.description || r.permission) {
      const roles = r.permission ? `Roles: ${(PERMISSIONS[r.permission] as readonly string[]).join(', ')}.` : '';
      op.description = [r.description, roles].filter(Boolean).join('\n\n');
    }
    if (r.body) op.requestBody = { required: !bodyOptional(r.body), content: { 'application/json': { schema: r.body } } };
    if (r.multipart) op.requestBody = { required: true, content: { 'multipart/form-data': { schema: r.multipart } } };
    paths[r.path] = { ...(paths[r.path] ?? {}), [r.method]: op };
  }
  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API token from `npm run users -- create ...`.' } },
      schemas: { Error: errorSchema },
    },
  };
}
