/**
 * The mechanism every page goes through, as api/http.ts is for the API: a page declares its method, path and
 * the permission of the API route behind it (domain/roles.ts PERMISSIONS, checked exactly as the API checks
 * it); the kit signs the visitor in from the session cookie, checks the CSRF token of every POST, renders
 * handlebars templates from templates/pages/ inside the layout, validates form input with ajv (errors next to
 * the field they name), and turns service errors into the same statuses the API answers (another partner's
 * resource 404, a role without the right 403).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import Handlebars from 'handlebars';
import busboy from 'busboy';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { AppError } from '../../lib/errors';
import { isDatabaseUnavailable } from '../../lib/db';
import { isTemporalUnavailable } from '../../lib/temporal';
import { runInRequestContext, type RequestContext } from '../../lib/request-context';
import { RETRY_AFTER_SECONDS, notWrittenInDigits, requestOrigin, serverRegExp, unreadableQuery, withTextRules, type JsonSchema } from '../http';
import { MESSAGE_PATTERN, NAME_PATTERN, SINGLE_LINE_PATTERN, TEXT_PATTERN, textProblem } from '../../domain/text';
import type { Logger } from '../../lib/logger';
import { formatMoney, parseAmount } from '../../domain/money';
import { PERMISSIONS, isPartnerRole, isSupportRole, type Permission } from '../../domain/roles';
import type { ActiveSession, SessionService } from '../../services/sessions';
import type { AuthContext } from '../../services/context';
import type { CancellationMode } from '../../domain/catalog';
import { slaWords, type SlaTargetKind } from '../../domain/sla';
import { monthWords, timeZoneName } from '../../domain/time';

export const TEMPLATES_DIR = path.resolve(__dirname, '..', '..', '..', 'templates', 'pages');
export const SESSION_COOKIE = 'cspd_session';
export const PRE_SESSION_COOKIE = 'cspd_pre';
export const TZ_COOKIE = 'cspd_tz';

// ------------------------------------------------------------------------------------------- rendering

export interface PageRenderer {
  render(template: string, data: Record<string, unknown>): string;
}

function asDate(value: unknown): Date | null {
  const d = value instanceof Date ? value : typeof value === 'string' || typeof value === 'number' ? new Date(value) : null;
  return d && !Number.isNaN(d.getTime()) ? d : null;
}

/** A number with its noun, "1 day", "2 days" (regular plurals; a last word pluralised: "1 more day", "3 more days"). */
export function formatCount(n: unknown, noun: string): string {
  return `${String(n)} ${n === 1 ? noun : `${noun}s`}`;
}

/** A time span as people read it: "45 s", "12 min", "3 h 20 min", "2 d 4 h". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/**
 * An amount of business hours: in hours and minutes, never in days ("80 h", "3 h 20 min"), as a day of a calendar's
 * hours is not 24 hours (QA: 80 business hours, ten working days, read "3 d 8 h left").
 */
export function formatHours(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 3600) return formatDuration(s);
  const m = Math.round(s / 60);
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m / 60} h`;
}

/** A file size as people read it: "4.7 GB", "360 KB" (powers of 1,024, as file managers show them), "512 bytes". */
export function formatBytes(n: number): string {
  const units = ['KB', 'MB', 'GB', 'TB'];
  if (n < 1024) return `${n} bytes`;
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

export function formatDate(value: unknown, timeZone: string, withTime = true, locale = 'en-GB'): string {
  const d = asDate(value);
  if (!d) return '';
  const opts: Intl.DateTimeFormatOptions = withTime ? { dateStyle: 'medium', timeStyle: 'short', timeZone } : { dateStyle: 'medium', timeZone };
  return new Intl.DateTimeFormat(locale, opts).format(d) + (withTime ? ` ${timeZoneLabel(d, timeZone)}` : '');
}

/**
 * A text written once for every reader (an activity-log entry's detail, a refusal's message) names its instants in
 * UTC (`utcSecond`: "2026-12-12 10:00:00 UTC"); a page shows each in its reader's time zone, as its other dates.
 */
export function zonedText(text: string, timeZone: string): string {
  return text.replace(/\b(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) UTC\b/g, (whole, day: string, time: string) => {
    const d = new Date(`${day}T${time}Z`);
    return Number.isNaN(d.getTime()) ? whole : formatDate(d, timeZone, true);
  });
}

function timeZoneLabel(d: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? timeZone;
}

/** How the pages name the API's enum values (`{{nameOf x}}`; typed by the enums, so a new value cannot be forgotten). */
const CANCELLATION_MODE_NAMES: Record<CancellationMode, string> = {
  'standard-window': 'within 60 days of purchase',
  'support-request-only': 'only through a support request',
  never: 'none (this product can be neither cancelled nor refunded)',
};
const SLA_TARGET_NAMES: Record<SlaTargetKind, string> = { firstResponse: 'First response', nextResponse: 'Next response', resolution: 'Resolution' };
const VALUE_NAMES: Record<string, string> = { ...CANCELLATION_MODE_NAMES, ...SLA_TARGET_NAMES };

/** The handlebars instance of the pages (separate from the emails'): templates/pages/**.hbs, partials, helpers. */
export function createPageRenderer(dir: string = TEMPLATES_DIR): PageRenderer {
  const hb = Handlebars.create();
  const root = (o: Handlebars.HelperOptions) => (o.data?.root ?? {}) as { timeZone?: string; can?: Record<string, boolean> };
  hb.registerHelper('money', (amount: unknown, currency: unknown) => (typeof amount === 'number' && typeof currency === 'string' ? formatMoney(amount, currency) : ''));
  hb.registerHelper('date', function (value: unknown, o: Handlebars.HelperOptions) {
    return formatDate(value, root(o).timeZone ?? 'UTC', true);
  });
  hb.registerHelper('day', function (value: unknown, o: Handlebars.HelperOptions) {
    return formatDate(value, root(o).timeZone ?? 'UTC', false);
  });
  hb.registerHelper('zoned', function (value: unknown, o: Handlebars.HelperOptions) {
    return typeof value === 'string' ? zonedText(value, root(o).timeZone ?? 'UTC') : value;
  });
  // an SLA target as people name it, also inside a reason ("firstResponse target breached")
  hb.registerHelper('slaWords', (value: unknown) => (typeof value === 'string' ? slaWords(value) : value));
  hb.registerHelper('encode', (value: unknown) => (typeof value === 'string' ? encodeURIComponent(value) : ''));
  hb.registerHelper('iso', (value: unknown) => asDate(value)?.toISOString() ?? '');
  hb.registerHelper('count', (n: unknown, noun: unknown) => formatCount(n, String(noun)));
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hb.registerHelper('ne', (a: unknown, b: unknown) => a !== b);
  hb.registerHelper('not', (a: unknown) => !a);
  hb.registerHelper('and', (...args: unknown[]) => args.slice(0, -1).every(Boolean));
  hb.registerHelper('or', (...args: unknown[]) => args.slice(0, -1).some(Boolean));
  hb.registerHelper('gt', (a: unknown, b: unknown) => typeof a === 'number' && typeof b === 'number' && a > b);
  hb.registerHelper('includes', (list: unknown, v: unknown) => Array.isArray(list) && list.includes(v));
  hb.registerHelper('can', function (perm: string, o: Handlebars.HelperOptions) {
    return Boolean(root(o).can?.[perm]);
  });
  hb.registerHelper('abs', (n: unknown) => (typeof n === 'number' ? Math.abs(n) : n));
  hb.registerHelper('duration', (s: unknown) => (typeof s === 'number' ? formatDuration(s) : '—'));
  // a month key as people name it ("2026-11" -> "November 2026")
  hb.registerHelper('monthWords', monthWords);
  hb.registerHelper('hours', (s: unknown) => (typeof s === 'number' ? formatHours(s) : '—'));
  hb.registerHelper('bytes', (n: unknown) => (typeof n === 'number' ? formatBytes(n) : ''));
  hb.registerHelper('nameOf', (value: unknown) => (typeof value === 'string' ? (VALUE_NAMES[value] ?? value) : value));
  /** `{{#field "name"}}` data for a form control: its error, its described-by id */
  hb.registerHelper('errorOf', function (name: string, o: Handlebars.HelperOptions) {
    return (o.data?.root as { errors?: Record<string, string> })?.errors?.[name] ?? '';
  });
  const walk = (d: string, prefix = ''): string[] =>
    fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (e.name === 'assets' ? [] : walk(path.join(d, e.name), `${prefix}${e.name}/`)) : e.name.endsWith('.hbs') ? [`${prefix}${e.name.slice(0, -4)}`] : []));
  const compiled = new Map<string, HandlebarsTemplateDelegate>();
  for (const name of walk(dir)) {
    const src = fs.readFileSync(path.join(dir, `${name}.hbs`), 'utf8');
    if (name.startsWith('partials/')) hb.registerPartial(name.slice('partials/'.length), src);
    else {
      compiled.set(name, hb.compile(src, { strict: false }));
      // fragments (`_name`) are also partials of the pages that include them
      if (path.basename(name).startsWith('_')) hb.registerPartial(name, src);
    }
  }
  return {
    render(template, data) {
      const t = compiled.get(template);
      if (!t) throw new Error(`no page template ${template}`);
      return t(data);
    },
  };
}

// ------------------------------------------------------------------------------------------- forms

const ajv = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, strict: true, strictRequired: false, verbose: true, code: { regExp: serverRegExp } });
addFormats(ajv);
const compiledForms = new WeakMap<object, ValidateFunction>();

export type FieldErrors = Record<string, string>;

/** What a field breaking a text rule is told (domain/text.ts textProblem). */
const TEXT_PROBLEMS: Record<NonNullable<ReturnType<typeof textProblem>>, string> = {
  control: 'This field contains characters that are not allowed (control characters).',
  surrogate: 'This field contains characters that are not allowed (broken text).',
  break: 'Keep this on one line: it holds a line break or a tab.',
  bidi: 'This field holds a text-direction character (U+202A to U+202E, U+2066 to U+2069), which can make it read as something else. Remove it.',
  invisible: 'Enter something visible: this holds only spaces or invisible characters.',
};

function friendly(e: ErrorObject): { field: string; message: string } {
  const field = e.instancePath.split('/').filter(Boolean)[0] ?? (e.params as { missingProperty?: string }).missingProperty ?? '';
  const schema = (e.parentSchema ?? {}) as { description?: string; minLength?: number };
  switch (e.keyword) {
    case 'required':
      return { field: (e.params as { missingProperty: string }).missingProperty, message: 'This field is required.' };
    case 'minLength':
      return { field, message: schema.minLength === 1 ? 'This field is required.' : `Enter at least ${schema.minLength} characters.` };
    case 'pattern': {
      // a text rule broken by one character says which (not "enter a title on one line" for a one-line title)
      const pattern = (e.params as { pattern: string }).pattern;
      const problem = typeof e.data === 'string' ? textProblem(e.data, { singleLine: pattern === SINGLE_LINE_PATTERN || pattern === NAME_PATTERN, visible: pattern === NAME_PATTERN || pattern === MESSAGE_PATTERN }) : null;
      if (problem) return { field, message: TEXT_PROBLEMS[problem] };
      return { field, message: schema.description ? `Enter ${schema.description}.` : 'This value is not in the expected format.' };
    }
    case 'format':
      return { field, message: schema.description ? `Enter ${schema.description}.` : 'This value is not in the expected format.' };
    case 'enum':
      return { field, message: `Choose one of: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}.` };
    case 'minimum':
      return { field, message: `Enter a number of at least ${(e.params as { limit: number }).limit}.` };
    case 'maximum':
      return { field, message: `Enter a number of at most ${(e.params as { limit: number }).limit}.` };
    case 'maxLength':
      return { field, message: `Use at most ${(e.params as { limit: number }).limit} characters.` };
    case 'const':
      return { field, message: 'Tick this box to confirm.' };
    case 'additionalProperties':
      return { field: (e.params as { additionalProperty: string }).additionalProperty, message: 'This field is not expected here.' };
    case 'type':
      // a field sent twice (`?from=…&from=…`) comes as a list (QA: "This value must be string.")
      return { field, message: Array.isArray(e.data) ? 'This field came more than once: give it once.' : 'This value is not in the expected format.' };
    default:
      return { field, message: `This value ${e.message ?? 'is invalid'}.` };
  }
}

/** Validates a form (strings, coerced to the schema's types); on failure, one message per field. */
export function validateForm<T>(schema: object, input: Record<string, unknown>): { ok: true; value: T } | { ok: false; errors: FieldErrors } {
  let v = compiledForms.get(schema);
  if (!v) {
    // the API's text rule on every string field without a rule of its own (one line, nothing invisible-only)
    v = ajv.compile(withTextRules(schema as JsonSchema));
    compiledForms.set(schema, v);
  }
  const data: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(input)) {
    if (k === '_csrf' || k === '_action' || k === '_key' || k === '_seen') continue;
    // a blank optional field is an absent one
    if (val === '') continue;
    data[k] = typeof val === 'string' ? val.trim() : val;
  }
  // every field at fault is said at once, not one per submit: control characters and lone surrogates (refused as
  // the API refuses them: the patterns leave surrogates out, and a multipart field in UTF-16 can carry one), a whole
  // number written otherwise than in digits (ajv's coercion would read "0x10" as 16 and "1e3" as 1000), then the schema
  const errors: FieldErrors = {};
  for (const [k, val] of Object.entries(data)) {
    const problem = typeof val === 'string' ? textProblem(val, { singleLine: false, visible: false }) : null;
    if (problem === 'control' || problem === 'surrogate') errors[k] = TEXT_PROBLEMS[problem];
  }
  const notDigits = notWrittenInDigits(schema as JsonSchema, data);
  if (notDigits !== undefined) errors[notDigits] ??= 'Enter a whole number in digits, such as 2.';
  if (!Object.keys(errors).length && v(data)) return { ok: true, value: data as T };
  if (Object.keys(errors).length) v(data);
  for (const e of v.errors ?? []) {
    const { field, message } = friendly(e);
    if (!errors[field]) errors[field] = message;
  }
  return { ok: false, errors };
}

/** What a posted form with a field it does not have is told, above it. */
export const UNKNOWN_FIELD_MESSAGE = 'The form came with a field it does not have, so nothing was saved. Send it again from this page.';

/**
 * validateForm for a form a page posts: a field the form does not have (sent by hand, or by a browser extension) has no
 * place on the page for its message, so it is said above the form instead, without repeating its name, which is
 * anyone's to write (QA: a 400 that said nothing). The pages' filters (GET) keep validateForm's errors by field,
 * which they leave out one by one.
 */
export function validatePostedForm<T>(schema: object, input: Record<string, unknown>): { ok: true; value: T } | { ok: false; errors: FieldErrors } {
  const form = validateForm<T>(schema, input);
  if (form.ok) return form;
  const known = new Set(Object.keys((schema as { properties?: object }).properties ?? {}));
  const errors: FieldErrors = {};
  for (const [field, message] of Object.entries(form.errors)) {
    if (field === '_form' || known.has(field)) errors[field] = message;
    else errors._form ??= UNKNOWN_FIELD_MESSAGE;
  }
  return { ok: false, errors };
}

/**
 * A service's refusal as a page says it: the API's form "<field path> <what is wrong>" loses the field path (the
 * page shows the message next to its field), amounts given as "(<minor units> <currency>)" or "(<decimal> <currency>, <n>
 * in minor units)" read as money, and it
 * is a sentence. "body.amount exceeds the amount requested (12200 USD)" -> "Exceeds the amount requested ($122.00)."
 */
export function pageMessage(e: AppError): string {
  // a paging link's cursor is the page's own, not something typed: say what to do (QA: "Is not a cursor this API gave out.")
  if (e.field === 'query.cursor') return 'This link to a further page is not one these pages gave out (changed, or cut off). Start again from the first page.';
  let m = e.message.replace(/^(body|query|path|header)(\.[\w-]+|\[\d+\])+:?\s+/, '');
  m = m.replace(/\((-?\d+(?:\.\d+)?) ([A-Z]{3})(?:, -?\d+ in minor units)?\)/g, (whole, amount: string, currency: string) => {
    try {
      // "12200 USD" (minor units) or "122.00 USD" (as the API also writes amounts)
      const minor = amount.includes('.') ? parseAmount(amount.replace(/^-/, ''), currency) : Number(amount);
      if (minor === null) return whole;
      return `(${formatMoney(amount.startsWith('-') && amount.includes('.') ? -minor : minor, currency)})`;
    } catch {
      return whole;
    }
  });
  m = m.charAt(0).toUpperCase() + m.slice(1);
  return /[.!?]$/.test(m) ? m : `${m}.`;
}

/** A service's refusal as a form error: on the field it names when the form has it, else for the whole form. */
export function errorsFromAppError(e: AppError, formFields: readonly string[]): FieldErrors {
  const field = e.field?.replace(/^(body|query|path|header)\./, '').replace(/\[\d+\].*$/, '');
  return field && formFields.includes(field) ? { [field]: pageMessage(e) } : { _form: pageMessage(e) };
}

// ------------------------------------------------------------------------------------------- requests

export interface PageContext {
  req: Request;
  res: Response;
  auth: AuthContext;
  active: ActiveSession;
  requestId: string;
  log: Logger;
  timeZone: string;
  /** renders a page inside the layout */
  view(template: string, data: Record<string, unknown>, status?: number): void;
  /** renders a fragment only (for htmx requests) */
  fragment(template: string, data: Record<string, unknown>, status?: number): void;
  /** See Other: the next GET after a POST */
  redirect(to: string): void;
  isHtmx: boolean;
}

export interface KitDeps {
  sessions: SessionService;
  renderer: PageRenderer;
  log: Logger;
  secureCookies: boolean;
  around?: <T>(fn: () => Promise<T>) => Promise<T>;
}

export interface PageDef {
  method: 'get' | 'post';
  path: string;
  /** the permission of the API route behind the page; null: any signed-in user */
  permission: Permission | null;
  /**
   * A page whose multipart body the handler reads (a file upload): its CSRF token is a part of that body, which the
   * handler checks (`csrfOk`) before it stores anything; any other body the kit checks as usual. Never in the
   * address: a proxy's access log would keep it.
   */
  multipartCsrf?: boolean;
  /**
   * The page a form is on, when it is not the nearest page above its address (the filing form, at `/support/new`,
   * posts to `/support`): where a refused form's page links back to, and where signing in again comes back to.
   */
  home?: string;
  handler(ctx: PageContext): Promise<void>;
}

export const definePage = (p: PageDef): PageDef => p;

const NAV: { href: string; label: string; permission: Permission | null; support?: boolean }[] = [
  { href: '/app/customers', label: 'Customers', permission: 'readCustomers' },
  { href: '/app/invoices', label: 'Invoices', permission: 'readInvoices' },
  { href: '/app/settings', label: 'Settings', permission: null },
];

export function may(role: string, partnerId: string | null, permission: Permission): boolean {
  const allowed = PERMISSIONS[permission] as readonly string[];
  if (!allowed.includes(role)) return false;
  if (allowed.every(isPartnerRole) && !partnerId) return false;
  return true;
}

/** Every permission as a boolean for the templates (`{{#if (can "cancelOrders")}}`). */
export function capabilities(auth: AuthContext): Record<string, boolean> {
  return Object.fromEntries((Object.keys(PERMISSIONS) as Permission[]).map((p) => [p, may(auth.role, auth.partnerId, p)]));
}

export { isSupportRole };

/** The session's CSRF token against the one a form sent, in constant time; any other input is simply false. */
export function csrfOk(expected: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  // compared as bytes: a string of the same length in characters may differ in bytes (timingSafeEqual would throw)
  const [a, b] = [Buffer.from(given), Buffer.from(expected)];
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

export const isMultipart = (req: Request) => /^multipart\/form-data\s*;/i.test(req.header('content-type') ?? '');

/** A multipart form read whole: its fields, and its one file, if one was chosen (kept in memory, up to `maxFileBytes` + 1 bytes). */
export interface MultipartForm {
  fields: Record<string, string>;
  file: { data: Buffer; filename: string; mimeType: string } | null;
  /**
   * Fields whose bytes are not text in UTF-8: the page refuses them by name, as a URL-encoded form that is not UTF-8
   * is refused, rather than store U+FFFD in their place. (A U+FFFD typed or pasted on purpose is text, and kept.)
   */
  notUtf8: string[];
}

/** What a multipart field that is not UTF-8 is told (MultipartForm.notUtf8). */
export const NOT_UTF8_FIELD = 'This field holds bytes that are not text in UTF-8. Type it again.';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
/**
 * A field's text. busboy reads a part without a charset of its own (every browser's) as Latin-1 (`defCharset`), which
 * keeps its bytes one for one: they are read here as UTF-8, strictly; null when they are not UTF-8. A part that names
 * its own charset (UTF-16, say) was decoded by it, which a character above U+00FF shows; one that does not show it
 * (UTF-16 of Latin-1 letters only) would be misread here as bytes, a client's own doing (browsers name none).
 */
function fieldText(raw: string): string | null {
  if (/[\u0100-\uffff]/.test(raw)) return raw;
  try {
    return strictUtf8.decode(Buffer.from(raw, 'latin1'));
  } catch {
    return null;
  }
}

/** Whether a multipart body says it is longer than a file of `maxFileBytes` and its form can be. */
export function declaredTooLarge(req: Request, maxFileBytes: number): boolean {
  const declared = Number(req.header('content-length'));
  return Number.isFinite(declared) && declared > maxFileBytes + 256 * 1024;
}
export const fileTooLarge = (maxFileBytes: number) => new AppError(413, 'attachment_too_large', `The file is larger than ${formatBytes(maxFileBytes)}, the limit per file.`, 'file');

/**
 * Reads a page's multipart form (busboy). A file part with no name and no bytes is "no file chosen". More bytes
 * than `maxFileBytes` are cut at one byte more, so that the attachment's own check says "too large". Too many
 * fields or files, a field too long, or a body that is not multipart is refused (400 or 413). `beforeFile` checks
 * the fields read so far when a file part begins (the CSRF token, which the form sends first), so that no byte of
 * a file is kept for a form that did not come from csp-desk.
 */
export function readMultipartForm(req: Request, maxFileBytes: number, beforeFile: (fields: Record<string, string>) => AppError | null): Promise<MultipartForm> {
  return new Promise((resolve, reject) => {
    // a body that cannot fit the file allowed and its form: refused before a byte is read
    if (declaredTooLarge(req, maxFileBytes)) {
      req.resume();
      reject(fileTooLarge(maxFileBytes));
      return;
    }
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, defCharset: 'latin1', defParamCharset: 'utf8', limits: { files: 1, fileSize: maxFileBytes + 1, fields: 50, fieldSize: 64 * 1024, headerPairs: 20 } });
    } catch (e) {
      reject(new AppError(400, 'invalid_multipart', `The form could not be read: ${(e as Error).message}`));
      return;
    }
    const fields: Record<string, string> = {};
    const notUtf8: string[] = [];
    let file: MultipartForm['file'] = null;
    let settled = false;
    const fail = (e: AppError) => {
      if (settled) return;
      settled = true;
      req.unpipe(bb);
      req.resume();
      bb.destroy();
      reject(e);
    };
    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) fail(new AppError(413, 'payload_too_large', `The ${name} field is too long.`));
      else {
        const text = fieldText(value);
        if (text === null) notUtf8.push(name);
        // (kept as the replacement characters a lenient reading gives, to be shown back in the form)
        fields[name] = text ?? Buffer.from(value, 'latin1').toString('utf8');
      }
    });
    bb.on('file', (_name, stream, info) => {
      // a body cut off inside the file errors the file's stream: it must be listened to, or the process stops
      stream.on('error', () => undefined);
      const refused = beforeFile(fields);
      if (refused) {
        stream.resume();
        fail(refused);
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const data = Buffer.concat(chunks);
        if (info.filename || data.length) file = { data, filename: info.filename ?? '', mimeType: info.mimeType };
      });
    });
    bb.on('fieldsLimit', () => fail(new AppError(413, 'payload_too_large', 'The form has too many fields.')));
    bb.on('filesLimit', () => fail(new AppError(400, 'validation_failed', 'Choose one file at a time.', 'file')));
    bb.on('error', (e: Error) => fail(new AppError(400, 'invalid_multipart', `The form could not be read: ${e.message}`)));
    bb.on('close', () => {
      if (settled) return;
      settled = true;
      resolve({ fields, file, notUtf8 });
    });
    req.on('aborted', () => fail(new AppError(400, 'request_aborted', 'The form was interrupted.')));
    req.pipe(bb);
  });
}

/**
 * A page form whose CSRF token is missing or wrong: nothing is done. Sent from one of this site's own pages
 * (`Sec-Fetch-Site: same-origin`), it is a page opened in an earlier session (the user signed in again since, in
 * another tab): its free text is shown to copy, and the error page links to the page the form is on, to send it
 * again from there (a reload would only send the same stale form again). From anywhere else (a forgery, or a client
 * that does not say), it is refused without showing what it carried. `fields`: the form's fields, when it is one
 * the page read itself (multipart); else the urlencoded body.
 */
export function csrfFailed(ctx?: { req: Request; res: Response }, fields?: Record<string, unknown>): AppError {
  const sameOrigin = ctx?.req.header('sec-fetch-site') === 'same-origin';
  if (ctx && sameOrigin) ctx.res.locals.unsentText = unsentText(fields ?? ctx.req.body);
  return new AppError(
    403,
    'csrf_failed',
    sameOrigin
      ? 'This form came from a page opened before you last signed in, so nothing was done.'
      : 'This form has expired or did not come from csp-desk, so nothing was done.',
  );
}

export interface Chrome {
  navExtra: { href: string; label: string; permission: Permission | null }[];
}

const navExtra: Chrome['navExtra'] = [];

/** The main navigation: only the pages the role may open. */
export function navFor(auth: AuthContext, currentPath: string) {
  return [...NAV.slice(0, -1), ...navExtra, ...NAV.slice(-1)]
    .filter((n) => !n.permission || may(auth.role, auth.partnerId, n.permission))
    .map((n) => ({ ...n, current: currentPath.startsWith(n.href) }));
}

const SINGLE_LINE = new RegExp(SINGLE_LINE_PATTERN, 'u');
const ANY_TEXT = new RegExp(TEXT_PATTERN, 'u');
/** An id in a path: one line, no controls. A query value: text (a search pasted with a tab is the form's to judge). */
const unreadable = (re: RegExp) => (v: unknown): boolean => (typeof v === 'string' ? !re.test(v) : Array.isArray(v) ? v.some(unreadable(re)) : false);

/**
 * An address no page of this site links to: an id with a control character (`%00`), a line break or a bidi
 * override, a query value with a control character, or %-escapes that spell no UTF-8. Said in words, before any of
 * it reaches a service (the database refuses a NUL), as the API's schemas refuse the same in its paths and queries.
 */
function refuseUnreadableAddress(req: Request): void {
  const bad = unreadableQuery(req.url) || Object.values(req.params).some(unreadable(SINGLE_LINE)) || Object.values(req.query as Record<string, unknown>).some(unreadable(ANY_TEXT));
  if (bad) throw new AppError(400, 'invalid_path', 'This address cannot be read: it holds a character no link of this site has (a control character, a line break in an id, or a broken %-escape). Check the link you followed.');
}

/** Builds the page router for a list of page definitions (one domain's file each). */
/** Mounts the pages; returns each method and address it answers (`{id}` for `:id`), for 405 and OPTIONS. */
export function mountPages(router: express.Router, pages: PageDef[], deps: KitDeps, chrome: Chrome): { method: string; path: string }[] {
  for (const n of chrome.navExtra) if (!navExtra.some((x) => x.href === n.href)) navExtra.push(n);
  const getPaths = new Set(pages.filter((p) => p.method === 'get').map((p) => p.path));
  const mounted: { method: string; path: string }[] = [];
  const declare = (method: string, path: string) => mounted.push({ method, path: path.replace(/:(\w+)/g, '{$1}') });
  for (const p of pages) {
    // where a form's page is: its own address, or the nearest page above it (`/support/:id` for `/support/:id/approve`)
    const home = p.method === 'post' ? (p.home ?? formHome(p.path, getPaths)) : null;
    const homeOf = (req: Request) => (home === null ? null : `${req.baseUrl}${home.replace(/:(\w+)/g, (_, k: string) => encodeURIComponent(String(req.params[k] ?? '')))}`);
    if (home !== null && home !== p.path && !getPaths.has(p.path)) {
      // a form's address opened as a page (left in the address bar after a refusal, a bookmark, a restored tab):
      // the page the form is on, not a 404
      router.get(p.path, (req: Request, res: Response) => res.redirect(303, homeOf(req)!));
      declare('get', p.path);
    }
    declare(p.method, p.path);
    router[p.method](p.path, async (req: Request, res: Response) => {
      refuseUnreadableAddress(req);
      const active = res.locals.session as ActiveSession | undefined;
      // (a form refused, for its session or its CSRF token, links back to the page it is on)
      if (req.method === 'POST') res.locals.formHome = homeOf(req);
      if (!active) {
        // HEAD as GET (Express routes HEAD to the GET page): sent to sign in, not a bare 401
        if (req.method === 'GET' || req.method === 'HEAD') {
          const next = encodeURIComponent(req.originalUrl);
          if (req.header('hx-request')) {
            res.setHeader('HX-Redirect', `/app/sign-in?next=${next}`);
            res.status(401).end();
            return;
          }
          res.redirect(303, `/app/sign-in?next=${next}`);
          return;
        }
        // signed in again, the user is back on the page the form was on; what was typed is shown on the 401 page to
        // copy first (a long reply written past the session's idle limit is not lost)
        res.locals.signInNext = homeOf(req);
        // htmx's own request (the buy page's live price) has no page to show its 401 in: the browser goes to sign in,
        // and back to the form's page, as the customer search and the queue do
        if (req.header('hx-request')) {
          res.setHeader('HX-Redirect', `/app/sign-in?next=${encodeURIComponent(homeOf(req) ?? '/app')}`);
          res.status(401).end();
          return;
        }
        // only for a form of this site's own pages: a cross-site POST (sent without the session cookie) must not put
        // someone else's words on this site's page
        if (req.header('sec-fetch-site') === 'same-origin') {
          // the filing form is multipart: its text fields are read (the file is not kept); one that cannot be read
          // is said to be lost, rather than nothing said of it
          if (isMultipart(req)) {
            const fields = await readMultipartText(req);
            if (fields) res.locals.unsentText = unsentText(fields);
            else res.locals.unsentLost = true;
          } else res.locals.unsentText = unsentText(req.body);
        }
        throw new AppError(401, 'unauthorized', 'Your session has ended. Sign in again; what you sent was not carried out.');
      }
      // the request's address and user agent go with every action, as through the API (the activity log keeps them)
      const auth: AuthContext = { ...active.auth, origin: requestOrigin(req) };
      if (p.permission && !may(auth.role, auth.partnerId, p.permission)) {
        const allowed = PERMISSIONS[p.permission] as readonly string[];
        // a page of support staff's own: no partner role has it, so no partner admin can give it (pageErrorHandler)
        res.locals.supportStaffOnly = allowed.every(isSupportRole);
        throw new AppError(403, 'forbidden', `Your role (${auth.role}) may not ${req.method === 'GET' ? 'open this page' : 'do this'}. It is for: ${allowed.join(', ')}.`);
      }
      if (req.method === 'POST') {
        const given = (req.body as Record<string, unknown> | undefined)?._csrf ?? req.header('x-csrf-token');
        if (!(p.multipartCsrf && isMultipart(req)) && !csrfOk(active.session.csrfToken, given)) {
          // htmx's own request from a page opened before signing in again (its token is the old session's): the page
          // is opened again, with the current token, rather than left showing what it showed
          if (req.header('hx-request') && home !== null) {
            res.setHeader('HX-Redirect', homeOf(req)!);
            res.status(403).end();
            return;
          }
          throw csrfFailed({ req, res });
        }
      }
      const timeZone = (res.locals.timeZone as string) ?? 'UTC';
      const can = capabilities(auth);
      const common = {
        user: { name: auth.user.name, email: auth.user.email, role: auth.role },
        can,
        csrf: active.session.csrfToken,
        timeZone,
        nav: navFor(auth, req.originalUrl),
        isSupport: isSupportRole(auth.role),
      };
      const ctx: PageContext = {
        req,
        res,
        auth,
        active,
        requestId: res.locals.requestId as string,
        log: res.locals.log as Logger,
        timeZone,
        isHtmx: Boolean(req.header('hx-request')),
        view(template, data, status = 200) {
          // a form drawn again because a server did not answer says when to try again, as the error page does
          if (status === 503) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
          const merged = { ...common, ...data, ...formRefusalMarks(data, status) };
          const body = deps.renderer.render(template, merged);
          res.status(status).type('html').send(deps.renderer.render('layout', { ...merged, body }));
        },
        fragment(template, data, status = 200) {
          res.status(status).type('html').send(deps.renderer.render(template, { ...common, ...data }));
        },
        redirect(to) {
          if (req.header('hx-request')) {
            res.setHeader('HX-Redirect', to);
            res.status(204).end();
          } else res.redirect(303, to);
        },
      };
      // the request context (request id, user) that services and log lines read, as the API's routes have it
      const context = (res.locals.context as RequestContext | undefined) ?? { requestId: ctx.requestId };
      context.userId = auth.user._id;
      context.partnerId = auth.partnerId;
      await runInRequestContext(context, () => (deps.around ? deps.around(() => p.handler(ctx)) : p.handler(ctx)));
    });
  }
  return mounted;
}

/** The free text of a form, by the names the pages give it, and how the 401 page labels it. */
// (the ticket forms' message and reason; the filing form's title, description and refund reason)
const FREE_TEXT_FIELDS: Record<string, string> = { body: 'Message', reason: 'Reason', title: 'Title', description: 'Description', refundReason: 'Reason for the refund' };

/** What a form sent after the session ended carried as free text (each at most 20,000 characters): shown to copy. */
export function unsentText(body: unknown): { label: string; value: string }[] {
  if (!body || typeof body !== 'object') return [];
  return Object.entries(FREE_TEXT_FIELDS).flatMap(([name, label]) => {
    const value = (body as Record<string, unknown>)[name];
    return typeof value === 'string' && value.trim() !== '' ? [{ label, value: value.slice(0, 20_000) }] : [];
  });
}

/**
 * The text fields of a multipart form sent without a session (the filing form, past the session's end), to show them
 * to copy: read up to its file part, whose bytes are never read or kept (the form's text fields come before it); null
 * when the body cannot be read as a form, or a field is longer than any the form takes.
 */
export function readMultipartText(req: Request): Promise<Record<string, string> | null> {
  return new Promise((resolve) => {
    let bb: busboy.Busboy;
    try {
      // (a field as long as the form takes: 20,000 characters of up to 4 bytes each, such as emoji)
      bb = busboy({ headers: req.headers, defCharset: 'latin1', defParamCharset: 'utf8', limits: { files: 1, fields: 50, fieldSize: 96 * 1024, headerPairs: 20 } });
    } catch {
      resolve(null);
      return;
    }
    const fields: Record<string, string> = {};
    let settled = false;
    // read without a session: at most this long and this much before the file part, never to a slow body's end (review)
    let bytes = 0;
    const slow = setTimeout(() => done(null), UNSENT_READ_MS);
    const counting = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > UNSENT_READ_BYTES) done(null);
    };
    const done = (result: Record<string, string> | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(slow);
      req.off('data', counting);
      // the rest of the body (a file) is left unread: Node discards it once the answer is sent
      req.unpipe(bb);
      bb.removeAllListeners();
      bb.on('error', () => undefined);
      resolve(result);
    };
    bb.on('field', (name, value, info) => {
      if (info.valueTruncated) return done(null);
      // as the page reads it: UTF-8, and, when it is not, shown as a lenient reading gives it
      fields[name] = fieldText(value) ?? Buffer.from(value, 'latin1').toString('utf8');
    });
    bb.on('file', (_name, stream) => {
      stream.on('error', () => undefined);
      stream.resume();
      done(fields);
    });
    bb.on('error', () => done(null));
    bb.on('close', () => done(fields));
    req.on('aborted', () => done(null));
    req.on('data', counting);
    req.pipe(bb);
  });
}
/** How long, and how many bytes, a form sent without a session is read for its text (readMultipartText). */
const UNSENT_READ_MS = 10_000;
const UNSENT_READ_BYTES = 4 * 1024 * 1024;

/** The page a form's address belongs to: the address itself when it is a page, else the nearest page above it. */
export function formHome(path: string, getPaths: ReadonlySet<string>): string | null {
  for (let at = path; at.length > 0; at = at.replace(/\/[^/]*$/, '')) if (getPaths.has(at)) return at;
  return null;
}

/** Opens the session from its cookie (if any) and picks the time zone the page shows dates in. */
export function sessionMiddleware(deps: KitDeps) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const cookie = (req.cookies as Record<string, string> | undefined)?.[SESSION_COOKIE];
    const active = await deps.sessions.authenticate(cookie);
    if (active) res.locals.session = active;
    else if (cookie) res.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: deps.secureCookies });
    const chosen = active ? await deps.sessions.timeZoneOf(active.user._id) : null;
    const browser = (req.cookies as Record<string, string> | undefined)?.[TZ_COOKIE];
    // (a zone by the name it goes by here: a browser's Asia/Kolkata is ICU's Asia/Calcutta)
    const [byChoice, byBrowser] = [timeZoneName(chosen), timeZoneName(browser)];
    res.locals.timeZone = byChoice ?? byBrowser ?? 'UTC';
    res.locals.timeZoneSource = byChoice ? 'setting' : byBrowser ? 'browser' : 'default';
    next();
  };
}

/** Database or Temporal unavailable (or too slow): a 503, as the API answers. */
export function unavailable(err: unknown): AppError {
  return isDatabaseUnavailable(err)
    ? new AppError(503, 'database_unavailable', 'The database is unavailable. Try again in a few seconds.')
    : new AppError(503, 'temporal_unavailable', 'The service did not answer in time. Try again in a few seconds: nothing is done twice.');
}

/** Errors as pages, with the statuses the API gives (404 for another partner's resource, 403 for a role). */
export function pageErrorHandler(deps: KitDeps) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const requestId = res.locals.requestId as string;
    const log = res.locals.log as Logger | undefined;
    let e: AppError;
    const anyErr = err as { type?: string; status?: number; message?: string };
    if (err instanceof AppError) e = err;
    else if (isDatabaseUnavailable(err) || isTemporalUnavailable(err)) {
      log?.warn({ err }, 'a server the pages depend on is unavailable');
      e = unavailable(err);
    } else if (anyErr?.type === 'entity.too.large') e = new AppError(413, 'payload_too_large', 'What you sent is too large.');
    else if (anyErr?.type === 'invalid_utf8') e = new AppError(400, 'invalid_encoding', 'What you sent is not text in UTF-8. Send the form again from the page.');
    // as the API says it (api/http.ts): a "%" in the address not followed by two hex digits
    else if (anyErr?.status === 400 && /^Failed to decode param/.test(anyErr.message ?? '')) e = new AppError(400, 'invalid_path', 'This address cannot be read: a "%" in it is not followed by two hexadecimal digits. Check the link you followed.');
    else if (typeof anyErr?.status === 'number' && anyErr.status >= 400 && anyErr.status < 500) e = new AppError(anyErr.status, 'bad_request', anyErr.message ?? 'bad request');
    else {
      log?.error({ err }, 'unhandled error on a page');
      e = new AppError(500, 'internal', `Something went wrong. Quote request id ${requestId} when reporting it.`);
    }
    if (e.status === 503) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    const titles: Record<number, string> = { 400: 'Not valid', 401: 'Please sign in', 403: 'Not allowed', 404: 'Not found', 405: 'Not done here', 409: 'Conflict', 410: 'Gone', 413: 'Too large', 422: 'Refused', 500: 'Something went wrong', 503: 'Try again in a moment' };
    const active = res.locals.session as ActiveSession | undefined;
    const unsent = (res.locals.unsentText as { label: string; value: string }[] | undefined) ?? [];
    // a form refused for its CSRF token: the page it is on, to send it again from there (a reload would only send the
    // same stale form again)
    const formHome = e.code === 'csrf_failed' && active && typeof res.locals.formHome === 'string' ? (res.locals.formHome as string) : null;
    const data = {
      title: e.code === 'csrf_failed' ? 'Not sent' : (titles[e.status] ?? 'Error'),
      status: e.status,
      code: e.code,
      message: e.status === 404 ? 'This page does not exist, or it belongs to another partner.' : pageMessage(e),
      requestId,
      // a role that may not open the page: who can change that
      nextStep: formHome
        ? `Open the page again and send it from there${unsent.length ? '; your text is below to copy' : ''}.`
        : e.status === 403 && e.code === 'forbidden' && active
          ? res.locals.supportStaffOnly === true && !isSupportRole(active.auth.role)
            ? "This is for csp-desk's support staff. To reach them, file a support request."
            : isSupportRole(active.auth.role)
            ? 'If your work needs this page, a support lead can ask for your role to be changed.'
            : // roles are given by whoever runs csp-desk (`npm run users`), not on these pages
              'If your work needs this page, ask whoever runs csp-desk for your partner for a role that has it.'
          : null,
      signedIn: Boolean(active),
      signInNext: typeof res.locals.signInNext === 'string' ? (res.locals.signInNext as string) : null,
      formHome,
      unsent,
      unsentLost: res.locals.unsentLost === true,
      user: active ? { name: active.user.name, email: active.user.email, role: active.auth.role } : null,
      csrf: active?.session.csrfToken,
      nav: active ? navFor(active.auth, req.originalUrl) : [],
      timeZone: (res.locals.timeZone as string) ?? 'UTC',
    };
    if (res.headersSent) return;
    const body = deps.renderer.render('error', data);
    res.status(e.status).type('html').send(deps.renderer.render('layout', { ...data, body }));
  };
}

/**
 * A form sent back with errors says so in the page's title, and the page moves the keyboard focus to the first
 * error (app.js, on `data-form-refused`): the fields to merge into a page's data. A refusal said away from its form
 * (`unsent`: the form is no longer drawn, as for a reply to a request closed meanwhile) counts as well.
 */
export function formRefusalMarks(data: Record<string, unknown>, status: number): { title?: string; formRefused?: true } {
  const errors = { ...((data.errors as Record<string, unknown> | undefined) ?? {}), ...((data.formErrors as Record<string, unknown> | undefined) ?? {}) };
  const refused = Object.values(errors).some(Boolean) || (Array.isArray(data.unsent) && data.unsent.length > 0);
  return status >= 400 && refused ? { title: `Error: ${String(data.title ?? '')}`, formRefused: true } : {};
}

/** A workflow's page in the Temporal Web UI, or null when no UI is configured (TEMPORAL_UI_URL). */
export function temporalWorkflowLink(uiUrl: string | undefined, namespace: string | undefined, workflowId: string): string | null {
  return uiUrl ? `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace ?? 'default')}/workflows/${encodeURIComponent(workflowId)}` : null;
}

/** How long ago, as the repeat checks say it: "less than a minute ago", "a minute ago", "7 minutes ago". */
export function agoInWords(then: Date, now: Date): string {
  const minutes = Math.floor((now.getTime() - then.getTime()) / 60_000);
  return minutes < 1 ? 'less than a minute ago' : minutes === 1 ? 'a minute ago' : `${minutes} minutes ago`;
}

/** A page form's one-time key, as the pages make it (index.ts newKey). */
export const PAGE_KEY = /^page-[0-9a-f-]{36}$/;

/**
 * The one-time key a page put in its forms (`_key`), made an Update id with the form's action: a form sent twice
 * (a double click, the Back button, a retry after a 503 page) is carried out once. None when absent or malformed.
 */
export function formUpdateId(body: unknown, action: string): string | undefined {
  const key = pageFormKey(body);
  return key ? `${key}:${action}` : undefined;
}

/**
 * The last timeline entry the page showed when its form was drawn (`_seen`): the action is refused if someone else
 * has added to the request since (domain/support.ts changedSince). Undefined when the form did not say.
 */
export function formSeenSeq(body: unknown): number | undefined {
  const seen = (body as { _seen?: unknown } | undefined)?._seen;
  return typeof seen === 'string' && /^[0-9]{1,9}$/.test(seen) ? Number(seen) : undefined;
}

/** The one-time key a form came with (`_key`), when it is one a page made; else undefined. */
export function pageFormKey(body: unknown): string | undefined {
  const key = (body as { _key?: unknown } | undefined)?._key;
  return typeof key === 'string' && PAGE_KEY.test(key) ? key : undefined;
}
