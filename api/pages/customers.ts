/**
 * Customer pages: search (name, domain, tenant GUID), add one, a customer's page with its orders and
 * software (and cancelling several orders at once), and buying a product for a customer with its price, the
 * market's tax treatment and the refusal of a market without Azure reservations shown before submitting.
 */
import { AppError } from '../../lib/errors';
import * as S from '../schemas';
import { COUNTRIES } from '../../domain/countries';
import { currencyForMarket, taxTreatmentFor } from '../../domain/markets';
import { checkMarket, priceOrder } from '../../domain/pricing';
import { assessCancellation, CANCELLATION_REFUSALS } from '../../domain/cancellation';
import type { orderView } from '../../services/orders';
import { createCustomer, customerView, resolveCustomer, searchCustomers } from '../../services/customers';
import { listProducts, productView } from '../../services/catalog';
import type { ProductDoc } from '../../models';
import { isTemporalUnavailable } from '../../lib/temporal';
import { agoInWords, definePage, errorsFromAppError, may, unavailable, validateForm, validatePostedForm, type FieldErrors, type PageContext, type PageDef } from './kit';
import { NAME_PATTERN } from '../../domain/text';
import { ORDER_ID_PATTERN } from '../../domain/orders';

const ORDER_ID = new RegExp(ORDER_ID_PATTERN);
import type { PagesContext } from './index';

const customerForm = {
  ...S.customerInputSchema,
  properties: {
    // the API's rule for a name (domain/text.ts): one line with a visible character, no direction overrides
    name: { type: 'string', minLength: 1, maxLength: 200, pattern: NAME_PATTERN, description: 'a name of 1 to 200 characters on one line, without invisible or text-direction characters' },
    tenantId: { type: 'string', pattern: S.GUID_PATTERN, description: 'a tenant GUID such as 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' },
    domain: { type: 'string', pattern: S.DOMAIN_PATTERN, description: 'a domain name such as contoso.onmicrosoft.com' },
    market: { type: 'string', pattern: '^[A-Z]{2}$', description: 'a market from the list' },
  },
};
const CUSTOMER_FIELDS = ['name', 'tenantId', 'domain', 'market'];

export const buySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['productId', 'quantity', 'idempotencyKey'],
  properties: {
    productId: { type: 'string', minLength: 1, maxLength: 100, description: 'a product from the list' },
    quantity: { type: 'integer', minimum: 1, maximum: 10000 },
    idempotencyKey: { type: 'string', pattern: '^[\\x21-\\x7e]{8,200}$' },
    again: { type: 'string', enum: ['yes'] },
  },
};
const previewSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    productId: { type: 'string', minLength: 1, maxLength: 100 },
    quantity: { type: 'integer', minimum: 1, maximum: 10000 },
    idempotencyKey: { type: 'string', maxLength: 200 },
    again: { type: 'string', enum: ['yes'] },
  },
};
const bulkCancelSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['orderIds', 'acknowledged'],
  properties: {
    orderIds: { type: 'array', minItems: 1, maxItems: 50, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 200 } },
    acknowledged: { const: 'yes' },
  },
};

const markets = Object.entries(COUNTRIES)
  .map(([code, name]) => ({ code, name }))
  .sort((a, b) => a.name.localeCompare(b.name));

/** The customer search's page: a partner with thousands of customers sees them this many at a time. */
export const CUSTOMERS_PER_PAGE = 100;

/** What buying `product` for a customer in `market` would cost, or why it cannot be sold there. */
export function buyPreview(product: ProductDoc | undefined, market: string, quantity: number) {
  if (!product) return null;
  const refusal = checkMarket(product, market);
  const tax = taxTreatmentFor(market);
  const pricing = refusal ? null : priceOrder(product, market, quantity);
  return {
    product: productView(product),
    quantity,
    refusal,
    pricing,
    taxInclusive: tax.inclusive,
    taxRatePercent: tax.rateBps === null ? null : tax.rateBps / 100,
    cancellation: product.cancellation,
  };
}

/** What the results page says of one order of a bulk cancellation, from its outcome and the order as it is now. */
type OrderView = ReturnType<typeof orderView>;

interface BulkOutcomeShown {
  /** the badge: the outcome where the order bears it out, else `unknown` */
  outcome: string;
  outcomeLabel: string;
  credit?: { amount: number; currency: string };
  message?: string;
}

function bulkOutcomeDetail(outcome: string, code: string, order: OrderView | undefined, now: Date): BulkOutcomeShown {
  // what the order is now, not what an address claims: each outcome is said (badge and words) only where the order
  // bears it out
  const seeTheOrder = { outcome: 'unknown', outcomeLabel: 'see the order', message: 'Open the order to see its state.' };
  const said = (o: string) => ({ outcome: o, outcomeLabel: o.replace(/_/g, ' ') });
  if (outcome === 'cancelled') return order?.cancellation ? { ...said('cancelled'), credit: order.cancellation.credit } : { outcome: 'unknown', outcomeLabel: 'not cancelled', message: 'This order is not cancelled: open it to see its state.' };
  if (outcome === 'not_found') return order ? seeTheOrder : { ...said('not_found'), message: 'No such order for this customer.' };
  if (outcome === 'failed') return { outcome: 'failed', outcomeLabel: 'unknown', message: 'The outcome is unknown (a server did not answer): open the order to see whether it is cancelled, and cancel it again if not.' };
  if (order && Object.hasOwn(CANCELLATION_REFUSALS, code)) {
    const reason = assessCancellation(order, now).reason;
    return reason?.code === code ? { ...said('refused'), message: reason.message } : seeTheOrder;
  }
  // a refusal the page cannot check: not beside an order that is cancelled
  if (order?.cancellation) return seeTheOrder;
  return { ...said('refused'), message: `Refused (${code.replace(/_/g, ' ')}): open the order to see why.` };
}

/** The buy form's preview fields: a field at fault is said and left out, the others still show (the product stays chosen). */
function previewInput(input: Record<string, unknown>): { values: Record<string, unknown>; errors: FieldErrors } {
  const form = validateForm<Record<string, unknown>>(previewSchema, input);
  if (form.ok) return { values: form.value, errors: {} };
  const rest = { ...input };
  for (const k of Object.keys(form.errors)) delete rest[k];
  const again = validateForm<Record<string, unknown>>(previewSchema, rest);
  return { values: again.ok ? again.value : {}, errors: form.errors };
}

function formOf(req: PageContext['req']): Record<string, unknown> {
  return (req.body ?? {}) as Record<string, unknown>;
}

export function customerPages(deps: PagesContext): PageDef[] {
  const { orders } = deps;

  const customerPage = async (ctx: PageContext, ref: string, extra: Record<string, unknown> = {}, status = 200) => {
    const c = await resolveCustomer(ctx.auth.partnerId!, ref);
    const now = deps.now?.() ?? new Date();
    const list = await Promise.all(
      (await orders.list(ctx.auth, c._id)).items.map(async (o) => {
        const assessment = assessCancellation(o, now);
        // cancelled only through support (Windows 7 ESU): a refund request already filed is linked, not a second one
        const refundRequest = assessment.supportRequest && deps.support ? await deps.support.refundRequestOf(ctx.auth, o.id) : null;
        return { ...o, assessment, refundRequest };
      }),
    );
    // keys stay hidden (and unlogged) until asked for on the order's keys page
    const software = may(ctx.auth.role, ctx.auth.partnerId, 'readSoftware') ? await deps.licensing.listSoftware(ctx.auth, c._id, { reveal: false }) : null;
    const cancellable = list.filter((o) => o.assessment.cancellable);
    // the notice says what cancelling ends for the orders that can be chosen: keys and downloads, a reservation (QA)
    const cancelsReservation = cancellable.some((o) => o.product.deliverable === 'azure-reservation');
    const cancelsSoftware = cancellable.some((o) => o.product.deliverable !== 'azure-reservation');
    ctx.view('customers/show', { title: c.name, customer: customerView(c), orders: list, anyCancellable: cancellable.length > 0, cancelsSoftware, cancelsReservation, software, ...extra }, status);
  };

  const buyPage = async (ctx: PageContext, ref: string, values: Record<string, unknown>, errors: FieldErrors = {}, status = 200, repeatOf: string | null = null) => {
    const c = await resolveCustomer(ctx.auth.partnerId!, ref);
    const products = await listProducts();
    const productId = typeof values.productId === 'string' ? values.productId : '';
    const typed = values.quantity;
    // a quantity at fault stays as typed, next to its error: never another number (10000 for 20000, 1 for 2.5), which
    // Buy pressed again would buy (QA); none typed yet (the first visit) is 1. Whether it is at fault is the form
    // schema's to say (every caller passes its errors)
    const shownQuantity = typed === undefined ? (errors.quantity ? '' : 1) : typeof typed === 'string' || typeof typed === 'number' ? String(typed).slice(0, 32) : '';
    // no price for a quantity that is not one (it would be the price of another quantity)
    const preview = errors.quantity ? null : buyPreview(products.find((p) => p._id === productId), c.market, typed === undefined ? 1 : Number(typed));
    const data = {
      title: `Buy for ${c.name}`,
      customer: customerView(c),
      currency: currencyForMarket(c.market),
      taxInclusive: taxTreatmentFor(c.market).inclusive,
      products: products.map((p) => {
        const refusal = checkMarket(p, c.market);
        return { id: p._id, name: p.name, selected: p._id === productId, unavailable: Boolean(refusal) };
      }),
      values: { quantity: shownQuantity, idempotencyKey: typeof values.idempotencyKey === 'string' && values.idempotencyKey ? values.idempotencyKey : deps.newKey(), productId },
      preview,
      errors,
      repeatOf,
    };
    // the live preview says a quantity at fault itself (the page says it next to the field)
    if (ctx.isHtmx && ctx.req.header('hx-target') === 'preview') ctx.fragment('customers/_preview', { ...data, quantityProblem: errors.quantity ?? null });
    else ctx.view('customers/buy', data, status);
  };

  return [
    definePage({
      method: 'get',
      path: '/customers',
      permission: 'readCustomers',
      handler: async (ctx) => {
        // the search as typed, without control or invisible characters (a bidi override echoed in the caption, a
        // NUL refused as a bad page: QA), and none at all when nothing else is left (spaces alone searched nothing)
        const typed = typeof ctx.req.query.q === 'string' ? ctx.req.query.q.slice(0, 200).replace(/[\p{Cc}\p{Cf}]/gu, '') : '';
        const q = typed.trim() ? typed : '';
        // (as long as the API's: a cursor holds the last name of its page, up to 200 characters of up to 4 bytes)
        const cursor = typeof ctx.req.query.cursor === 'string' ? ctx.req.query.cursor.slice(0, 4096) : undefined;
        let data: Record<string, unknown>;
        try {
          const page = await searchCustomers(ctx.auth.partnerId!, q, { limit: CUSTOMERS_PER_PAGE, cursor });
          const withQ = (more: [string, string][]) => `/app/customers${q || more.length ? `?${new URLSearchParams([...(q ? [['q', q] as [string, string]] : []), ...more]).toString()}` : ''}`;
          data = {
            title: 'Customers',
            q,
            customers: page.items.map(customerView),
            matching: page.matching,
            total: page.total,
            // a long list goes a page at a time, in name order; a later page leads back to the first
            nextUrl: page.nextCursor ? withQ([['cursor', page.nextCursor]]) : null,
            firstUrl: cursor ? withQ([]) : null,
          };
        } catch (e) {
          if (!(e instanceof AppError && e.status === 400)) throw e;
          data = { title: 'Customers', q, customers: [], matching: 0, total: 0, badCursor: true, firstUrl: '/app/customers' };
        }
        // (a next-page link edited by hand is a 400, as the other pages answer an address they cannot read)
        const status = data.badCursor ? 400 : 200;
        if (ctx.isHtmx && ctx.req.header('hx-target') === 'customer-results') ctx.fragment('customers/_results', data, status);
        else ctx.view('customers/list', data, status);
      },
    }),
    definePage({
      method: 'get',
      path: '/customers/new',
      permission: 'manageCustomers',
      handler: async (ctx) => ctx.view('customers/new', { title: 'Add a customer', markets, values: {} }),
    }),
    definePage({
      method: 'post',
      path: '/customers',
      permission: 'manageCustomers',
      handler: async (ctx) => {
        const input = formOf(ctx.req);
        const again = (errors: FieldErrors, status: number) =>
          ctx.view('customers/new', { title: 'Add a customer', markets: markets.map((m) => ({ ...m, selected: m.code === input.market })), values: input, errors }, status);
        const form = validatePostedForm<{ name: string; tenantId: string; domain: string; market: string }>(customerForm, input);
        if (!form.ok) return again(form.errors, 400);
        try {
          const c = await createCustomer(ctx.auth.partnerId!, form.value);
          ctx.redirect(`/app/customers/${encodeURIComponent(c._id)}?added=1`);
        } catch (e) {
          if (e instanceof AppError && e.status < 500) return again(errorsFromAppError(e, CUSTOMER_FIELDS), e.status);
          throw e;
        }
      },
    }),
    definePage({
      method: 'get',
      path: '/customers/:customer',
      permission: 'readCustomers',
      handler: async (ctx) => {
        await customerPage(ctx, String(ctx.req.params.customer), { added: ctx.req.query.added === '1' });
      },
    }),
    definePage({
      method: 'get',
      path: '/customers/:customer/buy',
      permission: 'placeOrders',
      handler: (ctx) => {
        const input = ctx.req.query as Record<string, unknown>;
        const { values, errors } = previewInput(input);
        return buyPage(ctx, String(ctx.req.params.customer), { ...values, quantity: input.quantity }, errors);
      },
    }),
    // "Show the price" and the live preview post the form (so its CSRF token never goes into an address); nothing is
    // written. A field at fault is said in the preview, and the others still show (the product chosen stays chosen).
    definePage({
      method: 'post',
      path: '/customers/:customer/buy',
      permission: 'placeOrders',
      handler: (ctx) => {
        const input = formOf(ctx.req);
        const { values, errors } = previewInput(input);
        // while typing, a quantity cleared is none (not the first visit's 1)
        if (ctx.isHtmx && String(input.quantity ?? '').trim() === '') errors.quantity ??= 'Enter a quantity, such as 1.';
        return buyPage(ctx, String(ctx.req.params.customer), { ...values, quantity: input.quantity }, errors);
      },
    }),
    definePage({
      method: 'post',
      path: '/customers/:customer/orders',
      permission: 'placeOrders',
      handler: async (ctx) => {
        const ref = String(ctx.req.params.customer);
        const input = formOf(ctx.req);
        const form = validatePostedForm<{ productId: string; quantity: number; idempotencyKey: string; again?: 'yes' }>(buySchema, input);
        if (!form.ok) return buyPage(ctx, ref, input, form.errors, 400);
        try {
          // the same order a moment ago (the Back button brings the form back with a new key): ask first
          if (form.value.again !== 'yes') {
            const now = deps.now?.() ?? new Date();
            const repeat = await orders.recentRepeat(ctx.auth, ref, form.value.productId, form.value.quantity, form.value.idempotencyKey, now);
            if (repeat) {
              const when = agoInWords(new Date(repeat.purchasedAt), now);
              return buyPage(ctx, ref, input, { again: `You bought ${repeat.product.name} × ${repeat.quantity} for this customer ${when}. To buy it again, tick the box and press Buy.` }, 409, repeat.id);
            }
          }
          const { order } = await orders.place(ctx.auth, ref, { productId: form.value.productId, quantity: form.value.quantity }, form.value.idempotencyKey);
          ctx.redirect(`/app/orders/${encodeURIComponent(order.id)}?placed=1`);
        } catch (e) {
          // the same form with the same key: pressing Buy again cannot buy twice
          if (isTemporalUnavailable(e)) return buyPage(ctx, ref, input, { _form: unavailable(e).message }, 503);
          if (e instanceof AppError && e.status < 500 && e.status !== 404) {
            const errors = errorsFromAppError(e, ['productId', 'quantity']);
            return buyPage(ctx, ref, input, e.code === 'market_unavailable' ? { productId: e.message } : errors, e.status);
          }
          throw e;
        }
      },
    }),
    definePage({
      method: 'get',
      path: '/customers/:customer/cancellations',
      permission: 'readCustomers',
      handler: async (ctx) => {
        const c = await resolveCustomer(ctx.auth.partnerId!, String(ctx.req.params.customer));
        const raw = ctx.req.query.r;
        const entries = (Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : []).filter((v): v is string => typeof v === 'string').slice(0, 50);
        const byId = new Map((await orders.list(ctx.auth, c._id)).items.map((o) => [o.id, o]));
        const results = entries.flatMap((entry) => {
          const m = /^(cancelled|refused|not_found|failed):([a-z_]*):(.+)$/.exec(entry);
          if (!m) return [];
          const [, outcome, code, orderId] = m;
          const order = byId.get(orderId);
          // an order of another customer, or none: named, not linked; and only an id, never other words (the address
          // is anyone's to write)
          if (!order && (outcome !== 'not_found' || !ORDER_ID.test(orderId))) return [];
          // (with its product and purchase date, so that each row says which it is: QA)
          return [{ orderId, linked: Boolean(order), productName: order?.product.name ?? null, purchasedAt: order?.purchasedAt ?? null, ...bulkOutcomeDetail(outcome, code, order, deps.now?.() ?? new Date()) }];
        });
        ctx.view('customers/cancelled', { title: `Cancellations for ${c.name}`, customer: customerView(c), results });
      },
    }),
    definePage({
      method: 'post',
      path: '/customers/:customer/cancel',
      permission: 'cancelOrders',
      handler: async (ctx) => {
        const ref = String(ctx.req.params.customer);
        const input = { ...formOf(ctx.req) };
        if (typeof input.orderIds === 'string') input.orderIds = [input.orderIds];
        const form = validatePostedForm<{ orderIds: string[] }>(bulkCancelSchema, input);
        if (!form.ok) {
          const errors = { ...form.errors };
          if (errors.acknowledged) errors.acknowledged = 'Tick the box to confirm you have read the notice.';
          if (errors.orderIds) errors.orderIds = 'Choose at least one order to cancel.';
            return customerPage(ctx, ref, { errors, checked: Array.isArray(input.orderIds) ? input.orderIds : [] }, 400);
        }
        const c = await resolveCustomer(ctx.auth.partnerId!, ref);
        const { results } = await orders.cancelMany(ctx.auth, c._id, form.value.orderIds, ctx.log);
        // the outcomes go in the address of the results page (post, then redirect): a reload shows them again
        // rather than sending the form a second time, which would call each order just cancelled "already cancelled"
        const q = new URLSearchParams();
        // (a refusal by a server that did not answer, a 5xx, is an unknown outcome: said as such)
        for (const r of results) {
          const outcome = r.outcome === 'refused' && r.status >= 500 ? 'failed' : r.outcome;
          q.append('r', `${outcome}:${outcome === 'refused' && 'code' in r ? r.code : ''}:${r.orderId}`);
        }
        ctx.redirect(`/app/customers/${encodeURIComponent(c._id)}/cancellations?${q}`);
      },
    }),
  ];
}
