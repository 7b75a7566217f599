/**
 * Licensing pages: "Get keys and downloads" for an order (version, language, file type; the key and a link to
 * copy), and the activity log of key access and downloads by date range, with its CSV download.
 */
import crypto from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../../lib/errors';
import { ACTIVITY_OPERATIONS } from '../../domain/licensing';
import { listProducts } from '../../services/catalog';
import { definePage, errorsFromAppError, pageFormKey, pageMessage, validateForm, validatePostedForm, type FieldErrors, type PageContext, type PageDef } from './kit';
import type { PagesContext } from './index';

const choiceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'language', 'fileType'],
  properties: {
    version: { type: 'string', minLength: 1, maxLength: 200 },
    language: { type: 'string', minLength: 1, maxLength: 100 },
    fileType: { type: 'string', minLength: 1, maxLength: 100 },
  },
};
const logSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'a date such as 2026-11-01' },
    to: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'a date such as 2026-11-30' },
    customer: { type: 'string', maxLength: 253 },
    operation: { type: 'string', enum: [...ACTIVITY_OPERATIONS] },
    cursor: { type: 'string', maxLength: 400 },
  },
};

const distinct = <T>(xs: T[]) => [...new Set(xs)];

/** The Idempotency-Key a keys page's form sends: its one-time key with the choice made (another choice, another link). */
export const pageLinkKey = (pageKey: string, choice: { version: string; language: string; fileType: string }): string =>
  `${pageKey}:${crypto.createHash('sha256').update(JSON.stringify([choice.version, choice.language, choice.fileType])).digest('base64url')}`;

/** An operation as the log page names it: `create_order` reads "create order" (the filter's list and the table alike). */
const operationLabel = (operation: string): string => operation.replace(/_/g, ' ');

export function licensingPages(deps: PagesContext): PageDef[] {
  const licensing = deps.licensing;
  const activityLog = deps.activityLog!;

  const linkEndsWithTerm = (result: unknown, termEndsAt: string | null) => {
    const expiresAt = (result as { download?: { expiresAt?: string } } | null)?.download?.expiresAt;
    return expiresAt !== undefined && termEndsAt !== null && Date.parse(expiresAt) === Date.parse(termEndsAt);
  };
  const choicePage = async (ctx: PageContext, orderId: string, values: Record<string, unknown>, errors: FieldErrors = {}, status = 200, result: unknown = null) => {
    const order = await deps.orders.view(ctx.auth.partnerId!, orderId);
    const product = (await listProducts()).find((p) => p._id === order.product.id);
    const options = (product?.downloads ?? []) as { optionTitle: string; languageCode: string; languageName: string; fileType: string }[];
    const sel = (list: { value: string; label: string }[], v: unknown) => list.map((o) => ({ ...o, selected: o.value === v }));
    ctx.view(
      'licensing/downloads',
      {
        title: `Keys and downloads: ${order.product.name}`,
        order,
        active: order.status === 'active',
        hasOptions: options.length > 0,
        versions: sel(distinct(options.map((o) => o.optionTitle)).map((v) => ({ value: v, label: v })), values.version),
        languages: sel(
          distinct(options.map((o) => `${o.languageCode}|${o.languageName}`)).map((s) => {
            const [code, name] = s.split('|');
            return { value: code, label: `${name} (${code})` };
          }),
          values.language,
        ),
        fileTypes: sel(distinct(options.map((o) => o.fileType)).map((v) => ({ value: v, label: v })), values.fileType),
        errors,
        result,
        // a link that stops at the subscription's term end, before its two weeks: said so, and no "come back for another"
        linkEndsWithTerm: linkEndsWithTerm(result, order.termEndsAt),
        // a result page sent again (a reload) after its link served all its downloads: said, without the dead link (QA)
        linkUsedUp: (result as { download?: { downloadsLeft?: number } } | null)?.download?.downloadsLeft === 0,
        // each form drawn gets a key of its own: the same form sent again (the result page reloaded, a double click)
        // gives the same key or link and logs nothing new; pressing again on a new page makes a new link
        formKey: deps.newKey(),
      },
      status,
    );
  };

  return [
    definePage({
      method: 'get',
      path: '/orders/:id/downloads',
      permission: 'getKeysAndDownloads',
      handler: (ctx) => choicePage(ctx, String(ctx.req.params.id), {}),
    }),
    definePage({
      method: 'post',
      path: '/orders/:id/downloads',
      permission: 'getKeysAndDownloads',
      handler: async (ctx) => {
        const id = String(ctx.req.params.id);
        const input = (ctx.req.body ?? {}) as Record<string, unknown>;
        const form = validatePostedForm<{ version: string; language: string; fileType: string }>(choiceSchema, input);
        if (!form.ok) return choicePage(ctx, id, input, form.errors, 400);
        try {
          // the form's key with what was chosen: the same form sent again is the same link, while a form of an earlier
          // page (Back) sent with another choice is another request, for another link
          const pageKey = pageFormKey(input);
          const key = pageKey && pageLinkKey(pageKey, form.value);
          const result = await licensing.getKeysAndDownloads(ctx.auth, id, form.value, key);
          return choicePage(ctx, id, input, {}, 201, result);
        } catch (e) {
          // a result page sent again weeks later (a restored tab): its link is over
          if (e instanceof AppError && e.code === 'idempotency_key_expired') {
            return choicePage(ctx, id, input, { _form: 'This result is more than two weeks old and its link has expired. Press Get keys and downloads for a new link.' }, 409);
          }
          if (e instanceof AppError && e.status !== 404 && e.status < 500) return choicePage(ctx, id, input, errorsFromAppError(e, ['version', 'language', 'fileType']), e.status);
          throw e;
        }
      },
    }),
    definePage({
      method: 'post',
      path: '/orders/:id/key',
      permission: 'getKeysAndDownloads',
      handler: async (ctx) => {
        const id = String(ctx.req.params.id);
        try {
          return choicePage(ctx, id, {}, {}, 200, await licensing.getKey(ctx.auth, id, pageFormKey(ctx.req.body)));
        } catch (e) {
          if (e instanceof AppError && e.status !== 404 && e.status < 500) return choicePage(ctx, id, {}, { _form: pageMessage(e) }, e.status);
          throw e;
        }
      },
    }),
    definePage({
      method: 'get',
      path: '/activity',
      permission: 'readActivityLog',
      handler: async (ctx) => {
        const form = validateForm<{ from?: string; to?: string; customer?: string; operation?: (typeof ACTIVITY_OPERATIONS)[number]; cursor?: string }>(logSchema, ctx.req.query as Record<string, unknown>);
        const q = form.ok ? form.value : {};
        const base = {
          title: 'Activity log',
          values: ctx.req.query,
          operations: ACTIVITY_OPERATIONS.map((o) => ({ value: o, label: operationLabel(o), selected: o === q.operation })),
        };
        if (!form.ok) {
          // an address edited by hand: what is wrong with a filter is said next to it; anything else above the table
          const onFilters = Object.entries(form.errors).filter(([f]) => ['from', 'to', 'customer', 'operation'].includes(f));
          const other = Object.keys(form.errors).find((f) => !['from', 'to', 'customer', 'operation'].includes(f));
          const _form = other === undefined ? undefined : other === 'cursor' ? 'The link to the next page is not valid. Press Show to start from the first page.' : `The address has "${other}", which this page does not take. Choose with the filters above and press Show.`;
          return ctx.view('licensing/activity', { ...base, errors: { ...Object.fromEntries(onFilters), ...(_form ? { _form } : {}) }, entries: [] }, 400);
        }
        try {
          const page = await activityLog.list(ctx.auth.partnerId!, { ...q, timeZone: ctx.timeZone, limit: 50 });
          const params = new URLSearchParams(Object.entries(q).filter(([k, v]) => k !== 'cursor' && v) as [string, string][]);
          ctx.view('licensing/activity', {
            ...base,
            entries: page.items.map((entry) => ({ ...entry, operationLabel: operationLabel(entry.operationType) })),
            range: { from: page.from, to: page.to },
            csvUrl: `/app/activity.csv?${params.toString()}`,
            nextUrl: page.nextCursor ? `/app/activity?${new URLSearchParams([...params, ['cursor', page.nextCursor]]).toString()}` : null,
            // a later page leads back to the first, the same filters (QA: Back was the only way)
            firstUrl: q.cursor ? `/app/activity${params.size ? `?${params.toString()}` : ''}` : null,
          });
        } catch (e) {
          if (e instanceof AppError && e.status === 400) return ctx.view('licensing/activity', { ...base, errors: errorsFromAppError(e, ['from', 'to', 'customer', 'operation']), entries: [] }, 400);
          // the one lookup the log makes: the customer filter names no customer of the partner
          if (e instanceof AppError && e.status === 404 && q.customer) {
            return ctx.view('licensing/activity', { ...base, errors: { customer: `No customer of yours is ${JSON.stringify(q.customer)}. Give its full name, domain name, tenant GUID or id.` }, entries: [] }, 400);
          }
          throw e;
        }
      },
    }),
    definePage({
      method: 'get',
      path: '/activity.csv',
      permission: 'readActivityLog',
      handler: async (ctx) => {
        const form = validateForm<{ from?: string; to?: string; customer?: string; operation?: (typeof ACTIVITY_OPERATIONS)[number] }>(logSchema, ctx.req.query as Record<string, unknown>);
        if (!form.ok) throw new AppError(400, 'validation_failed', Object.values(form.errors)[0]);
        const { fileName, body } = await activityLog.csv(ctx.auth.partnerId!, { ...form.value, timeZone: ctx.timeZone });
        ctx.res.setHeader('Content-Type', 'text/csv; charset=utf-8; header=present');
        ctx.res.setHeader('Content-Disposition', `attachment; filename="${fileName}"`);
        await pipeline(body, ctx.res);
      },
    }),
  ];
}
