/**
 * Orders: placing (one workflow per order, answered once the order is recorded), importing, reading,
 * and cancelling through the order's workflow. The API never writes an order itself: the workflow's
 * activities do, one after another.
 */
import crypto from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { mongo } from 'mongoose';
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { isSupportRole } from '../domain/roles';
import { AppError, isDuplicateKey, notFound } from '../lib/errors';
import { PreparedJson } from '../lib/json-body';
import { after, decodeInstantCursor, encodeInstantCursor, readPage, type ListPage } from '../lib/cursor';
import { isUnprocessedUpdate, sendUpdate, startOrJoin } from '../lib/temporal';
import { IdempotencyRecord, Order, OrderEvent, Partner, Product, type CustomerDoc, type OrderDoc, type ProductDoc } from '../models';
import { checkMarket, priceImported, priceOrder } from '../domain/pricing';
import { assessCancellation, type CancellationAssessment, type CancellationRefusalCode } from '../domain/cancellation';
import { REPEAT_ORDER_CHECK_MINUTES, timelineCompleteUntil, timelineOrder, type OrderActor, type OrderPricing, type OrderTerms } from '../domain/orders';
import { importedOrderId, importedPurchaseProblem, importFound, importOutcome, originalOrderIdOf, type ImportItem } from '../domain/order-imports';
import { cancelOrderUpdate, orderWorkflowId, waitForStageUpdate, type CancelOrderResult, type OrderStage } from '../contracts/orders';
import type { orderWorkflow } from '../workflows/order';
import { currentRequestId, noteRequestOrder, type AuthContext } from './context';
import { namesCustomer, resolveCustomer } from './customers';
import { nameKey } from '../domain/text';
import type { Logger } from '../lib/logger';

export interface OrderServiceDeps {
  client: Client;
  taskQueue: string;
  reminderDaysBeforeClose: number;
  /** the clock of the API's read-side checks (the workflow's validator has the final word) */
  now?: () => Date;
}

export interface PlaceOrderInput {
  productId: string;
  quantity: number;
}

export interface CancelInput {
  customer: string;
  productName: string;
  acknowledged: true;
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** HTTP status of a refusal: "already cancelled" is a state conflict, the others are business rules. */
export const refusalStatus = (code: CancellationRefusalCode) => (code === 'already_cancelled' ? 409 : 422);

function refusalError(a: CancellationAssessment): AppError {
  const r = a.reason!;
  return new AppError(refusalStatus(r.code), r.code, r.message, undefined, a);
}

/** A timeline entry as the API shows it. */
export interface TimelineEntry {
  type: string;
  at: string;
  data: Record<string, unknown>;
}

const timelineEntry = (e: { type: string; at: Date; data?: Record<string, unknown> }): TimelineEntry => ({ type: e.type, at: e.at.toISOString(), data: e.data ?? {} });

/**
 * The ids under which the partner's order a user names may be stored, in the order they are tried: its csp-desk id,
 * then the id of the purchase the partner imported under that original id (domain/order-imports.ts
 * importedOrderId). The csp-desk id comes first.
 */
const idsNamed = (partnerId: string, ref: string): string[] => {
  const imported = importedOrderId(partnerId, ref);
  return imported === ref ? [ref] : [ref, imported];
};

/** The partner's order a user names (idsNamed). Another partner's order is never found. */
export async function findPartnerOrder(partnerId: string, ref: string): Promise<OrderDoc | null> {
  for (const id of idsNamed(partnerId, ref)) {
    const order = await Order.findOne({ _id: id, partnerId }).lean<OrderDoc>();
    if (order) return order;
  }
  return null;
}

/** The 404 of the order stored under `id` itself (notFound('order', id)), not of anything else a read looked up. */
const isOrderNotFound = (e: unknown, id: string) => e instanceof AppError && e.status === 404 && e.message === notFound('order', id).message;

/**
 * What `read` answers for the partner's order a user names (idsNamed): tried under its csp-desk id, then, only when
 * that is not found, under its imported id, so that a read by csp-desk id costs nothing more. A ref that names
 * neither is the first read's 404, naming the ref as sent.
 */
export async function byOrderNamed<T>(partnerId: string, ref: string, read: (orderId: string) => Promise<T>): Promise<T> {
  const [first, ...others] = idsNamed(partnerId, ref);
  try {
    return await read(first);
  } catch (e) {
    if (!isOrderNotFound(e, first)) throw e;
    for (const id of others) {
      try {
        const found = await read(id);
        // the request's log line names the order it acted on, not only the path's id, which may be another order's (QA)
        noteRequestOrder(id);
        return found;
      } catch (again) {
        if (!isOrderNotFound(again, id)) throw again;
      }
    }
    throw e;
  }
}

/** The csp-desk id of the partner's order `ref` names (findPartnerOrder), or `ref` as it is when it names none. */
export const orderIdNamed = async (partnerId: string, ref: string): Promise<string> => (await findPartnerOrder(partnerId, ref))?._id ?? ref;

/** An import's result for one purchase: its csp-desk id (the order its original id names, this partner's) and outcome. */
const importResult = (o: OrderDoc, item: ImportItem, customerId: string, found: 'exists' | 'imported') => ({
  orderId: item.orderId,
  id: o._id,
  ...importOutcome({ customerId: o.customerId, customerName: o.customer.name, productId: o.product.id, quantity: o.pricing.quantity, purchasedAt: o.purchasedAt, unitPrice: o.pricing.unitPrice, currency: o.pricing.currency }, item, customerId, found),
});

export function orderView(o: OrderDoc, timeline: TimelineEntry[] | null) {
  const view = {
    id: o._id,
    status: o.status,
    customer: { id: o.customer.id, name: o.customer.name, tenantId: o.customer.tenantId, domain: o.customer.domain, market: o.customer.market },
    product: { id: o.product.id, name: o.product.name, kind: o.product.kind, billing: o.product.billing, cancellation: o.product.cancellation, deliverable: o.product.deliverable },
    quantity: o.pricing.quantity,
    pricing: o.pricing,
    imported: o.imported,
    originalOrderId: originalOrderIdOf(o),
    placedBy: o.placedBy,
    purchasedAt: iso(o.purchasedAt)!,
    paidAt: iso(o.paidAt),
    provisionedAt: iso(o.provisionedAt),
    cancellationWindow: { endsAt: iso(o.windowEndsAt), closedAt: iso(o.windowClosedAt) },
    termEndsAt: iso(o.termEndsAt),
    expiredAt: iso(o.expiredAt),
    // cancelled through support: the agent's name and role, never their address (partners read orders)
    // (and through which support request, so that the partner finds the conversation: QA)
    cancellation: o.cancellation ? { at: iso(o.cancellation.at)!, by: isSupportRole(o.cancellation.by.role) ? { ...o.cancellation.by, email: null } : o.cancellation.by, credit: o.cancellation.credit, supportRequest: o.cancellation.supportTicket ?? null } : null,
  };
  return timeline ? { ...view, timeline } : view;
}

type TimelineEvent = { type: string; at: Date; data: Record<string, unknown> };

/**
 * How long a timeline read is reused for an order whose state has not changed (see view): while the timeline still
 * waits for an entry its state implies (the confirmation email on its way), TIMELINE_CACHE_TTL_MS; once it is
 * complete (domain/orders.ts timelineCompleteUntil), SETTLED_TIMELINE_CACHE_TTL_MS, or less when the reminder is
 * due sooner.
 */
export const TIMELINE_CACHE_TTL_MS = 2000;
export const SETTLED_TIMELINE_CACHE_TTL_MS = 60_000;

/**
 * An order's timeline as kept for its state, with the document (stored bytes) it was last seen with in that state,
 * and the API's answer (GET /orders/{id}) last rendered with this timeline, for the bytes it shows.
 */
interface KeptTimeline {
  state: string;
  /** the order's stored document, of `state` */
  bytes: Buffer;
  timeline: TimelineEntry[];
  answer?: { bytes: Buffer; json: PreparedJson };
}

/**
 * A copy of an order's stored bytes to keep: the driver's buffer is a view of its whole reply's (64 KiB), and a small
 * `Buffer.from` copy a slice of Node's shared 8 KiB pool, which a kept one would pin whole.
 */
const keptCopy = (bytes: Buffer): Buffer => {
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(copy);
  return copy;
};

/** An order as the driver decodes a document (`.lean()`'s shape; the connection's BSON options are the defaults). */
const decodeOrder = (bytes: Buffer): OrderDoc => mongo.BSON.deserialize(bytes) as OrderDoc;

/** What of an order's document its timeline follows: when this changes, the cached timeline is stale. */
const stateOf = (o: OrderDoc): string => `${o.status}|${o.paidAt?.getTime()}|${o.provisionedAt?.getTime()}|${o.windowClosedAt?.getTime()}|${o.expiredAt?.getTime()}|${o.cancellation?.at.getTime()}`;

export function createOrderService(deps: OrderServiceDeps) {
  // the timeline as shown (entries rendered once) and the API's answer last rendered with it, by order id
  const timelines = new LRUCache<string, KeptTimeline>({ max: 10_000, ttl: TIMELINE_CACHE_TTL_MS });
  const { client, taskQueue } = deps;
  const clock = deps.now ?? (() => new Date());

  /** The orders collection as the driver reads it: documents of the Order model's shape (`_id` a string). */
  const orderDocs = Order.collection as unknown as mongo.Collection<OrderDoc>;

  /**
   * The order's stored document as the driver receives it (BSON, not decoded), read on every call. The API's hottest
   * read (GET /orders/{id}, an order's pages) goes through the driver, without mongoose's query building and casting,
   * which two strings need none of: about 28 µs of CPU and 3% more reads per second here (README, *Benchmark*, "Kept:
   * the order read through the driver"); undecoded, so that an order read again unchanged is neither decoded nor
   * rendered again (viewJson). The database's timeouts and buffering are the connection's, as for every query
   * (lib/db.ts).
   */
  async function loadOrderBytes(partnerId: string, orderId: string): Promise<Buffer> {
    const bytes = (await orderDocs.findOne({ _id: orderId, partnerId }, { raw: true })) as unknown as Buffer | null;
    if (!bytes) throw notFound('order', orderId);
    return bytes;
  }

  async function loadOrder(partnerId: string, orderId: string): Promise<OrderDoc> {
    return decodeOrder(await loadOrderBytes(partnerId, orderId));
  }

  const loadNamedOrder = (partnerId: string, ref: string): Promise<OrderDoc> => byOrderNamed(partnerId, ref, (id) => loadOrder(partnerId, id));

  async function loadProduct(productId: string, field: string): Promise<ProductDoc> {
    const product = await Product.findById(productId).lean();
    if (!product) throw new AppError(422, 'unknown_product', `${field} ${JSON.stringify(productId)} is not in the catalog (GET /products)`, field);
    return product;
  }

  function actorOf(auth: AuthContext): OrderActor {
    return { userId: auth.user._id, name: auth.user.name, email: auth.user.email, role: auth.role };
  }

  async function termsFor(auth: AuthContext, orderId: string, customer: CustomerDoc, product: ProductDoc, quantity: number, purchasedAt: Date, originalOrderId: string | null, importKey?: string, pricing = priceOrder(product, customer.market, quantity)): Promise<OrderTerms> {
    const partner = await Partner.findById(auth.partnerId).lean();
    const notify = [...new Set([partner?.email, auth.user.email].filter((x): x is string => Boolean(x)))];
    return {
      orderId,
      partnerId: auth.partnerId!,
      customer: { id: customer._id, name: customer.name, tenantId: customer.tenantId, domain: customer.domain, market: customer.market },
      product: { id: product._id, name: product.name, kind: product.kind, billing: product.billing, cancellation: product.cancellation, deliverable: product.deliverable },
      pricing,
      purchasedAt: purchasedAt.toISOString(),
      imported: originalOrderId !== null,
      ...(originalOrderId === null ? {} : { originalOrderId }),
      ...(importKey === undefined ? {} : { importKey }),
      placedBy: actorOf(auth),
      notify,
      reminderDaysBeforeClose: deps.reminderDaysBeforeClose,
      // the request that placed it: the workflow's activities log it (from the request context)
      requestId: currentRequestId(),
      origin: auth.origin ?? null,
    };
  }

  /** Starts the order's workflow (or joins the running one) and answers once the order is recorded. */
  async function startOrder(terms: OrderTerms): Promise<void> {
    await startOrJoin<typeof orderWorkflow, [OrderStage]>(
      client,
      'orderWorkflow',
      { workflowId: orderWorkflowId(terms.orderId), taskQueue, args: [terms], memo: { requestId: terms.requestId, partnerId: terms.partnerId } },
      waitForStageUpdate,
      ['recorded'],
    );
  }


  type EventRow = TimelineEvent & { _id: string };
  const readEvents = (orderId: string, partnerId: string): Promise<EventRow[]> => OrderEvent.find({ orderId, partnerId }).lean<EventRow[]>().exec();

  /**
   * Keeps an order's timeline (sorted in the order things happened) for the order's state: briefly while it still
   * lacks an entry that state implies, longer once it is complete, but never past the moment an entry is due with
   * no change of state (the reminder; domain/orders.ts timelineCompleteUntil).
   */
  function remember(order: OrderDoc, bytes: Buffer, rows: EventRow[]): KeptTimeline {
    const prefix = `${order._id}:`;
    const now = clock();
    const until = timelineCompleteUntil(order, rows.map((e) => e._id.slice(prefix.length)), now, deps.reminderDaysBeforeClose);
    const ttl = until === null ? TIMELINE_CACHE_TTL_MS : Math.max(1, Math.min(SETTLED_TIMELINE_CACHE_TTL_MS, until - now.getTime()));
    // shared by the answers that follow: frozen, so that no caller changes what the next one is shown
    const timeline = Object.freeze(rows.sort(timelineOrder).map((e) => Object.freeze(timelineEntry(e)))) as TimelineEntry[];
    const kept: KeptTimeline = { state: stateOf(order), bytes: keptCopy(bytes), timeline };
    timelines.set(order._id, kept, { ttl });
    return kept;
  }

  /**
   * The order, read from the database on every call, with its timeline, which comes from an in-process cache while
   * the order's state is the one it was read with, so that a read costs one query instead of two. What changes the
   * order's state (payment, provisioning, the window, a cancellation, the term's end) shows in the timeline at once,
   * with the entries written just before it (the keys revoked before the cancellation is recorded). A timeline still
   * missing an entry its state implies (the confirmation email on its way, the entries a cancellation writes just
   * after its state, the reminder email once it is due) is read again after TIMELINE_CACHE_TTL_MS; a complete one
   * is kept SETTLED_TIMELINE_CACHE_TTL_MS, or until the reminder is due. The order comes undecoded (`bytes`), decoded
   * by `order()`: a document byte for byte the one its kept timeline was read with needs no decoding to be known.
   */
  async function current(partnerId: string, orderId: string): Promise<{ bytes: Buffer; order: () => OrderDoc; kept: KeptTimeline }> {
    const cached = timelines.get(orderId);
    if (cached) {
      const bytes = await loadOrderBytes(partnerId, orderId);
      if (cached.bytes.equals(bytes)) return { bytes, order: () => decodeOrder(bytes), kept: cached };
      const order = decodeOrder(bytes);
      if (cached.state !== stateOf(order)) return { bytes, order: () => order, kept: remember(order, bytes, await readEvents(orderId, partnerId)) };
      // changed where its timeline does not look: kept for the new bytes (of the same state), no longer than before
      cached.bytes = keptCopy(bytes);
      return { bytes, order: () => order, kept: cached };
    }
    // one round trip: the events of another partner's order are read for nothing, never shown
    const [bytes, rows] = await Promise.all([loadOrderBytes(partnerId, orderId), readEvents(orderId, partnerId)]);
    const order = decodeOrder(bytes);
    return { bytes, order: () => order, kept: remember(order, bytes, rows) };
  }

  /** The order with its timeline (`current`), for the pages; by either of its ids (byOrderNamed). */
  async function view(partnerId: string, ref: string) {
    const { order, kept } = await byOrderNamed(partnerId, ref, (id) => current(partnerId, id));
    return orderView(order(), kept.timeline);
  }

  /**
   * The API's answer for the order (`view`, serialized; by either of its ids): rendered again only when the order's
   * stored bytes or its timeline differ from those of the answer last rendered, which is otherwise sent as it is (no
   * decoding, no `JSON.stringify`, no ETag to compute). The order is read from the database every time, so that no
   * answer is older than its request: only the rendering is kept, for the very bytes it shows.
   */
  async function viewJson(partnerId: string, ref: string): Promise<PreparedJson> {
    const { bytes, order, kept } = await byOrderNamed(partnerId, ref, (id) => current(partnerId, id));
    const last = kept.answer;
    if (last?.bytes.equals(bytes)) return last.json;
    const json = PreparedJson.of(orderView(order(), kept.timeline));
    kept.answer = { bytes: kept.bytes.equals(bytes) ? kept.bytes : keptCopy(bytes), json };
    return json;
  }

  /**
   * The cancellation rule has one authority: the order workflow's cancel Update validator
   * (workflows/order.ts), which calls domain/cancellation.ts assessCancellation on the workflow's own state.
   * The API calls the same function on the stored order only to refuse early (no Temporal round trip for an
   * obvious refusal) and for the preview; whatever the API thinks, the validator decides, and its refusal
   * (WorkflowUpdateFailedError) is what the caller gets.
   */
  async function cancelOne(auth: AuthContext, order: OrderDoc, requestedAt: Date): Promise<CancelOrderResult> {
    // `requestedAt`: when the request came in, the instant it is judged at, here and by the workflow (which may take
    // it up later: cancellationInstant); one instant for every order of a bulk cancel
    const pre = assessCancellation(order, requestedAt);
    if (!pre.cancellable) throw refusalError(pre);
    try {
      const handle = client.workflow.getHandle(orderWorkflowId(order._id));
      return await sendUpdate((updateId) => handle.executeUpdate(cancelOrderUpdate, { args: [{ actor: actorOf(auth), requestId: currentRequestId(), origin: auth.origin ?? null, requestedAt: requestedAt.toISOString() }], updateId }));
    } catch (e) {
      // Temporal's own refusal (the Update not processed, retried already): a 503, not the order's refusal
      if (e instanceof WorkflowUpdateFailedError && e.cause instanceof ApplicationFailure && e.cause.type && !isUnprocessedUpdate(e)) {
        const details = e.cause.details?.[0] as CancellationAssessment | undefined;
        const code = e.cause.type as CancellationRefusalCode;
        throw new AppError(refusalStatus(code), code, e.cause.message, undefined, details);
      }
      if (e instanceof WorkflowNotFoundError) {
        // the order's workflow has ended, which happens only after its window closed
        const fresh = (await Order.findById(order._id).lean<OrderDoc>())!;
        const again = assessCancellation(fresh, clock());
        if (!again.cancellable) throw refusalError(again);
        throw new AppError(409, 'order_closed', `order ${order._id} has reached the end of its life and can no longer be cancelled`);
      }
      throw e;
    }
  }

  return {
    async place(auth: AuthContext, customerRef: string, input: PlaceOrderInput, idempotencyKey: string) {
      const customer = await resolveCustomer(auth.partnerId!, customerRef);
      const product = await loadProduct(input.productId, 'body.productId');
      const refusal = checkMarket(product, customer.market);
      // the input at fault is the product chosen (not sold in the customer's market), as the import says it too
      if (refusal) throw new AppError(422, refusal.code, refusal.message, 'body.productId', { market: customer.market });
      const requestHash = crypto.createHash('sha256').update(JSON.stringify([customer._id, product._id, input.quantity])).digest('hex');
      let orderId: string = crypto.randomUUID();
      let replayed = false;
      try {
        await IdempotencyRecord.create({ _id: `${auth.partnerId}:${idempotencyKey}`, partnerId: auth.partnerId!, requestHash, orderId, createdAt: new Date() });
      } catch (e) {
        if (!isDuplicateKey(e)) throw e;
        const first = await IdempotencyRecord.findById(`${auth.partnerId}:${idempotencyKey}`).lean();
        if (!first) throw e;
        if (first.requestHash !== requestHash) {
          throw new AppError(422, 'idempotency_key_reused', 'this Idempotency-Key was used for a different order; use a new key for a new order', 'header.idempotency-key');
        }
        orderId = first.orderId;
        replayed = true;
      }
      // a replay of a recorded order returns it as it is; if the first request died before its workflow
      // recorded the order, the replay starts (or joins) that workflow
      if (!replayed || !(await Order.exists({ _id: orderId }))) {
        await startOrder(await termsFor(auth, orderId, customer, product, input.quantity, clock(), null));
      }
      return { order: await view(auth.partnerId!, orderId), replayed };
    },

    async importOrders(auth: AuthContext, customerRef: string, items: ImportItem[], log: Logger) {
      const customer = await resolveCustomer(auth.partnerId!, customerRef);
      const now = clock();
      const results = [];
      for (const [i, item] of items.entries()) {
        const field = `body.orders[${i}]`;
        const problem = importedPurchaseProblem(new Date(item.purchasedAt), now);
        if (problem) throw new AppError(400, 'validation_failed', `${field}.purchasedAt ${problem}`, `${field}.purchasedAt`);
        const product = await loadProduct(item.productId, `${field}.productId`);
        const refusal = checkMarket(product, customer.market);
        if (refusal) throw new AppError(422, refusal.code, refusal.message, `${field}.productId`, { market: customer.market });
        const priced = priceImported(product, customer.market, item.quantity, item.unitPrice);
        if ('currencyExpected' in priced) {
          throw new AppError(422, 'currency_mismatch', `${field}.unitPrice.currency ${item.unitPrice!.currency} is not the currency ${customer.name}'s market (${customer.market}) is priced in: give the unit price in ${priced.currencyExpected}`, `${field}.unitPrice.currency`);
        }
      }
      /**
       * An import's result, saying so when its original id is also the csp-desk id of another of the partner's orders:
       * that order is the one /orders/{id} names by it (the csp-desk id comes first), so this one is named by its own
       * (QA: an integration working by original ids would act on the other order without being told).
       */
      const notingShadow = async (r: ReturnType<typeof importResult>) =>
        r.outcome !== 'conflict' && r.id !== r.orderId && (await Order.exists({ _id: r.orderId, partnerId: auth.partnerId }))
          ? { ...r, message: `${r.message}; ${r.orderId} is also the csp-desk id of another of your orders, which is the one /orders/${r.orderId} names: name this one by its csp-desk id ${r.id}` }
          : r;
      for (const item of items) {
        const id = importedOrderId(auth.partnerId!, item.orderId);
        // this partner's order under the id it gets now, or, imported before ids were the partner's own, under the
        // original id itself (looked up among this partner's orders only: another partner's ids are never read)
        const existing =
          (await Order.findOne({ _id: id, partnerId: auth.partnerId }).lean<OrderDoc>()) ??
          (await Order.findOne({ _id: item.orderId, partnerId: auth.partnerId, imported: true, originalOrderId: { $exists: false } }).lean<OrderDoc>());
        if (existing) {
          results.push(await notingShadow(importResult(existing, item, customer._id, 'exists')));
          continue;
        }
        // its csp-desk id held by another partner's order: only an id chosen for an import before ids were each
        // partner's own can be (it would have to be this UUID); nothing of that order is said, nor its workflow joined
        if (await Order.exists({ _id: id })) {
          log.warn({ orderId: id, partnerId: auth.partnerId }, "an imported order's csp-desk id is held by another partner's order");
          results.push({ orderId: item.orderId, id, outcome: 'conflict' as const, message: 'this order id cannot be imported: report it to csp-desk support' });
          continue;
        }
        const product = (await Product.findById(item.productId).lean())!;
        // this call's own key: the order records the key of the call whose terms started its workflow
        const importKey = crypto.randomUUID();
        const { pricing } = priceImported(product, customer.market, item.quantity, item.unitPrice) as { pricing: OrderPricing };
        await startOrder(await termsFor(auth, id, customer, product, item.quantity, new Date(item.purchasedAt), item.orderId, importKey, pricing));
        // the same original id imported at once: the first recorded stands, and only its call imported it (importFound)
        const recorded = await Order.findOne({ _id: id, partnerId: auth.partnerId }).lean<OrderDoc>();
        if (!recorded) throw new Error(`order ${id} (imported as ${item.orderId}) was not found once its workflow had recorded it`);
        results.push(await notingShadow(importResult(recorded, item, customer._id, importFound(recorded, importKey))));
      }
      return { results };
    },

    view,
    viewJson,

    /**
     * The same order placed by the same user for this customer within REPEAT_ORDER_CHECK_MINUTES before `now`,
     * unless `idempotencyKey` is already recorded (then a Buy pressed again replays its own order): what the buy
     * page asks about before placing it again.
     */
    async recentRepeat(auth: AuthContext, customerRef: string, productId: string, quantity: number, idempotencyKey: string, now: Date) {
      if (await IdempotencyRecord.exists({ _id: `${auth.partnerId}:${idempotencyKey}` })) return null;
      const customer = await resolveCustomer(auth.partnerId!, customerRef);
      const since = new Date(now.getTime() - REPEAT_ORDER_CHECK_MINUTES * 60_000);
      const same = await Order.find({ partnerId: auth.partnerId, customerId: customer._id, 'product.id': productId, 'pricing.quantity': quantity, 'placedBy.userId': auth.user._id, purchasedAt: { $gte: since } }).lean<OrderDoc[]>();
      // (a cancelled one is no reason to ask: buying it again is what a cancellation by mistake calls for; QA)
      const latest = same.filter((o) => o.status !== 'cancelled').sort((a, b) => b.purchasedAt.getTime() - a.purchasedAt.getTime())[0];
      return latest ? orderView(latest, null) : null;
    },

    /** A customer's orders, newest first (then by id), a page at a time; without a page, all of them. */
    async list(auth: AuthContext, customerRef: string, page?: ListPage) {
      const customer = await resolveCustomer(auth.partnerId!, customerRef);
      const list = `orders:${customer._id}`;
      const from = page?.cursor !== undefined ? decodeInstantCursor(list, page.cursor) : null;
      const filter = { partnerId: auth.partnerId, customerId: customer._id, ...(from ? after('purchasedAt', -1, from.at, from.id) : {}) };
      const { items, nextCursor } = await readPage(
        page,
        (limit) => {
          const q = Order.find(filter).sort({ purchasedAt: -1, _id: 1 });
          return (limit === undefined ? q : q.limit(limit)).lean<OrderDoc[]>();
        },
        (o) => encodeInstantCursor(list, o.purchasedAt, o._id),
      );
      return { items: items.map((o) => orderView(o, null)), nextCursor };
    },

    /** The preview: the same domain function as the workflow's Update validator (see cancelOne). */
    async cancellation(auth: AuthContext, ref: string) {
      const order = await loadNamedOrder(auth.partnerId!, ref);
      return { orderId: order._id, ...assessCancellation(order, clock()) };
    },

    /** By either of its ids (byOrderNamed): an imported purchase named by its original id gets its own refusal. */
    async cancel(auth: AuthContext, orderId: string, input: CancelInput): Promise<CancelOrderResult> {
      const requestedAt = clock();
      const order = await loadNamedOrder(auth.partnerId!, orderId);
      if (!namesCustomer(order.customer, input.customer)) {
        throw new AppError(422, 'customer_mismatch', `body.customer ${JSON.stringify(input.customer)} is not the customer of order ${order._id}`, 'body.customer');
      }
      const named = nameKey(input.productName);
      if (named !== nameKey(order.product.name) && named !== order.product.id) {
        throw new AppError(422, 'product_mismatch', `body.productName ${JSON.stringify(input.productName)} is not the product of order ${order._id} (${order.product.name})`, 'body.productName');
      }
      return cancelOne(auth, order, requestedAt);
    },

    async cancelMany(auth: AuthContext, customerRef: string, orderIds: string[], log: Logger) {
      const requestedAt = clock();
      const customer = await resolveCustomer(auth.partnerId!, customerRef);
      const results = await Promise.all(
        orderIds.map(async (orderId) => {
          // (by either of its ids, as every /orders/{id} path: QA found an imported one named by its original id not found)
          // its csp-desk id, once found
          let found: { id: string } | Record<string, never> = {};
          try {
            // the order /orders/{id} names by it, then of this customer (another's is not found here, as before)
            const named = await findPartnerOrder(auth.partnerId!, orderId);
            const order = named?.customerId === customer._id ? named : null;
            if (!order) return { orderId, outcome: 'not_found' as const, status: 404, code: 'not_found', message: `order ${orderId} of customer ${customer.name} was not found` };
            found = { id: order._id };
            const r = await cancelOne(auth, order, requestedAt);
            return { orderId, ...found, outcome: 'cancelled' as const, status: 200, cancelledAt: r.cancelledAt, credit: r.credit };
          } catch (e) {
            if (e instanceof AppError) return { orderId, ...found, outcome: 'refused' as const, status: e.status, code: e.code, message: e.message };
            // the others' results stand; this one may or may not have gone through
            log.error({ err: e, orderId, ...found }, 'bulk cancel: one order failed');
            return { orderId, ...found, outcome: 'failed' as const, status: 503, code: 'unavailable', message: 'the outcome is unknown (a server did not answer): check the order with GET /orders/{id}, then retry if it is not cancelled' };
          }
        }),
      );
      return { results };
    },
  };
}

export type OrderService = ReturnType<typeof createOrderService>;
