/**
 * The HTTP mechanism every route goes through. A route is a declaration: method, path, the permission
 * it needs, JSON schemas for its params/query/headers/body and responses, and a handler. From the
 * declarations come the Express router (authentication, role check, ajv validation, one error shape)
 * and the OpenAPI 3.1 document. Handlers never see unvalidated input.
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import express, { type NextFunction, type Request, type Response } from 'express';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Logger } from '../lib/logger';
import { AppError } from '../lib/errors';
import { PERMISSIONS, isPartnerRole, type Permission } from '../domain/roles';
import { authenticate, type AuthContext } from './auth';
import { errorSchema } from './schemas';

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
  /** the raw request, for `multipart` routes that stream their body */
  request: Request;
}

export interface Reply {
  status: number;
  /** JSON, a string, or a Readable streamed as it is (e.g. a download; its response schema is not checked) */
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
  responses: Record<number, { description: string; schema?: JsonSchema; contentType?: string; headers?: Record<string, string> }>;
  /** error statuses the route can answer beyond the common ones */
  errors?: number[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  handler(ctx: Ctx<any, any, any, any>): Promise<Reply>;
}

export const defineRoute = (r: RouteDef): RouteDef => r;

const ajv = new Ajv({ allErrors: false, coerceTypes: false, useDefaults: true, strict: true, strictRequired: false });
addFormats(ajv);
/** Query strings and headers arrive as strings: those validators coerce. */
const ajvCoercing = new Ajv({ allErrors: false, coerceTypes: true, useDefaults: true, strict: true, strictRequired: false });
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
    return { field: base, message: `${base} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}` };
  }
  if (e.keyword === 'const') {
    return { field: base, message: `${base} must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}` };
  }
  return { field: base, message: `${base} ${e.message ?? 'is invalid'}` };
}

function validator(schema: JsonSchema | undefined, coerce: boolean): ValidateFunction | null {
  return schema ? (coerce ? ajvCoercing : ajv).compile(schema) : null;
}

/** The first string (or key) holding a control character other than tab/newline, e.g. NUL, which databases refuse. */
function controlCharacterAt(value: unknown, at: string): string | null {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  if (typeof value === 'string') return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/.test(value) ? at : null;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const hit = controlCharacterAt(v, `${at}[${i}]`);
      if (hit) return hit;
    }
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const hit = controlCharacterAt(k, `${at}.${k}`) ?? controlCharacterAt(v, `${at}.${k}`);
      if (hit) return hit;
    }
  }
  return null;
}

function check(v: ValidateFunction | null, part: string, data: unknown): void {
  const bad = controlCharacterAt(data, part);
  if (bad) throw new AppError(400, 'validation_failed', `${bad} must not contain control characters`, bad);
  if (v && !v(data)) {
    const { field, message } = describe(part, v.errors![0]);
    throw new AppError(400, 'validation_failed', message, field);
  }
}

export interface RouterOptions {
  log: Logger;
  /** check every response body against its schema (tests turn it on) */
  validateResponses?: boolean;
}

const toExpressPath = (p: string) => p.replace(/\{(\w+)\}/g, ':$1');

export function buildRouter(routes: RouteDef[], opts: RouterOptions): express.Router {
  const router = express.Router();
  for (const route of routes) {
    const v = {
      params: validator(route.params, true),
      query: validator(route.query, true),
      headers: validator(route.headers, true),
      body: validator(route.body, false),
      responses: new Map(Object.entries(route.responses).map(([s, r]) => [Number(s), r.schema ? ajv.compile(r.schema) : null])),
    };
    router[route.method](toExpressPath(route.path), async (req: Request, res: Response) => {
      const log = res.locals.log as Logger;
      const requestId = res.locals.requestId as string;
      let auth: AuthContext | null = null;
      if (route.permission) {
        auth = await authenticate(req.header('authorization'));
        const allowed = PERMISSIONS[route.permission] as readonly string[];
        if (!allowed.includes(auth.role)) {
          throw new AppError(403, 'forbidden', `the role ${auth.role} may not ${route.summary.toLowerCase()} (allowed: ${allowed.join(', ')})`);
        }
        if (allowed.every(isPartnerRole) && !auth.partnerId) {
          throw new AppError(403, 'forbidden', 'this route is for partner users');
        }
        res.locals.log = log.child({ userId: auth.user._id, partnerId: auth.partnerId });
      }
      const params = { ...req.params };
      const query = { ...(req.query as Record<string, unknown>) };
      const headers: Record<string, unknown> = {};
      for (const name of Object.keys((route.headers?.properties as object) ?? {})) {
        const value = req.header(name);
        if (value !== undefined) headers[name] = value;
      }
      check(v.params, 'path', params);
      check(v.query, 'query', query);
      check(v.headers, 'header', headers);
      if (route.body) {
        if (req.body === undefined || req.body === null || typeof req.body !== 'object') {
          throw new AppError(400, 'validation_failed', 'body must be a JSON object (Content-Type: application/json)', 'body');
        }
        check(v.body, 'body', req.body);
      }
      const reply = await route.handler({ params, query, body: route.multipart ? undefined : req.body, headers, auth: auth as AuthContext, requestId, log: res.locals.log as Logger, request: req });
      if (reply.body instanceof Readable) {
        const stream = reply.body;
        if (opts.validateResponses && !v.responses.has(reply.status)) throw new Error(`${route.operationId} answered ${reply.status}, which it does not declare`);
        for (const [k, val] of Object.entries(reply.headers ?? {})) res.setHeader(k, val);
        res.status(reply.status);
        try {
          // a failure or a client gone mid-way destroys both ends: the client sees a cut body, never a short file
          await pipeline(stream, res);
        } catch (e) {
          if (!res.headersSent) throw e;
          (res.locals.log as Logger).warn({ err: e }, 'streamed response cut short');
        }
        return;
      }
      if (opts.validateResponses) {
        const rv = v.responses.get(reply.status);
        if (rv === undefined) throw new Error(`${route.operationId} answered ${reply.status}, which it does not declare`);
        if (rv && !rv(reply.body)) throw new Error(`${route.operationId} ${reply.status} response breaks its schema: ${ajv.errorsText(rv.errors)}`);
      }
      for (const [k, val] of Object.entries(reply.headers ?? {})) res.setHeader(k, val);
      if (typeof reply.body === 'string') res.status(reply.status).type(route.responses[reply.status]?.contentType ?? 'text/plain').send(reply.body);
      else res.status(reply.status).json(reply.body);
    });
  }
  return router;
}

/** Request id (from X-Request-Id when sane, else new) and a request-scoped logger. */
export function requestContext(log: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const incoming = req.header('x-request-id');
    const requestId = incoming && /^[\w.:-]{1,100}$/.test(incoming) ? incoming : crypto.randomUUID();
    const started = process.hrtime.bigint();
    res.locals.requestId = requestId;
    res.locals.log = log.child({ requestId });
    res.setHeader('X-Request-Id', requestId);
    res.on('finish', () => {
      (res.locals.log as Logger).info(
        { method: req.method, path: req.originalUrl.split('?')[0], status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 },
        'request',
      );
    });
    next();
  };
}

/** The one error shape: `{ error: { status, code, message, field?, requestId } }`. */
export function errorHandler() {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const requestId = res.locals.requestId as string;
    const log = (res.locals.log as Logger | undefined) ?? undefined;
    let e: AppError;
    const anyErr = err as { type?: string; status?: number; message?: string };
    if (err instanceof AppError) e = err;
    else if (anyErr?.type === 'entity.parse.failed') e = new AppError(400, 'invalid_json', 'the body is not valid JSON', 'body');
    else if (anyErr?.type === 'entity.too.large') e = new AppError(413, 'payload_too_large', 'the body is too large', 'body');
    else if (typeof anyErr?.status === 'number' && anyErr.status >= 400 && anyErr.status < 500) e = new AppError(anyErr.status, 'bad_request', anyErr.message ?? 'bad request');
    else {
      log?.error({ err }, 'unhandled error');
      e = new AppError(500, 'internal', `something went wrong; quote request id ${requestId} when reporting it`);
    }
    if (e.status >= 500 && err instanceof AppError) log?.error({ err }, 'server error');
    const body: Record<string, unknown> = { status: e.status, code: e.code, message: e.message, requestId };
    if (e.field) body.field = e.field;
    if (e.details !== undefined) body.details = e.details;
    res.status(e.status).json({ error: body });
  };
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
  409: 'Conflicts with the current state.',
  413: 'The body is larger than 1 MB.',
  415: 'The content type is not accepted.',
  422: 'Refused by a business rule; `code` says which.',
  500: 'An unexpected error; quote the request id when reporting it.',
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

export function openApiDocument(routes: RouteDef[], info: { title: string; version: string; description: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const responses: Record<string, unknown> = {};
    const headersOf = (extra: Record<string, string> = {}) =>
      Object.fromEntries(Object.entries({ 'X-Request-Id': REQUEST_ID_HEADER, ...extra }).map(([name, description]) => [name, { description, schema: { type: 'string' } }]));
    for (const [status, resp] of Object.entries(r.responses)) {
      responses[status] = {
        description: resp.description,
        headers: headersOf(resp.headers),
        ...(resp.schema ? { content: { [resp.contentType ?? 'application/json']: { schema: resp.schema } } } : {}),
      };
    }
    const errs = new Set<number>([...(r.errors ?? []), 500]);
    if (r.params || r.query || r.headers || r.body) errs.add(400);
    if (r.body || r.multipart) errs.add(413);
    if (r.permission) [401, 403].forEach((s) => errs.add(s));
    for (const s of [...errs].sort()) {
      responses[String(s)] = { description: r.errorDescriptions?.[s] ?? COMMON_ERRORS[s] ?? 'Error', headers: headersOf(), content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
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
    if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: r.body } } };
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
