/**
 * Order activities: everything the order workflow does to the world, each idempotent. Only the order's own
 * workflow calls them, one after another, so the order, its keys and links have one writer.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ActivationKey, LedgerLine, Order, OrderEvent, Partner, openMonthFrom } from '../models';
import type { OrderDoc } from '../models';
import { ORDER_TIMELINE_KEY as K, orderEmailRecipients, orderEmailTimelineKey, provisionedInstant, type OrderActor, type OrderTerms, type RequestOrigin } from '../domain/orders';
import type { CancellationCredit } from '../domain/cancellation';
import { termEnd, windowEnd } from '../domain/cancellation';
import { monthKey, notBefore } from '../domain/time';
import type { OrderEmailKind } from '../contracts/orders';
import { insertOnce, type ActivityDeps, type SendOnce } from './shared';
import { settleLine } from './invoices';
import { generateActivationKey, logOrderCancelled, logOrderPlaced, logRevocation, revokeOrderAccess } from './licensing';
import { pageLinks } from '../contracts/links';

export async function addOrderEvent(order: Pick<OrderDoc, '_id' | 'partnerId'>, key: string, type: string, at: Date, data: Record<string, unknown> = {}) {
  await insertOnce(() => OrderEvent.create({ _id: `${order._id}:${key}`, orderId: order._id, partnerId: order.partnerId, type, at, data }));
}
const addEvent = addOrderEvent;

export async function loadOrder(orderId: string): Promise<OrderDoc> {
  const order = await Order.findById(orderId).lean<OrderDoc>();
  if (!order) throw ApplicationFailure.nonRetryable(`order ${orderId} is not recorded`, 'order_missing');
  return order;
}

export function createOrderActivities(deps: ActivityDeps, sendOnce: SendOnce) {
  const { publicBaseUrl } = deps;

  /** Log lines of an order's activities carry the request id that placed it (and its order id). */
  const orderLog = (order: Pick<OrderDoc, '_id' | 'requestId'>) => deps.log.child({ orderId: order._id, requestId: order.requestId });

  return {
    /** The order document, its first timeline entry. */
    async recordOrder(terms: OrderTerms): Promise<void> {
      const purchasedAt = new Date(terms.purchasedAt);
      const snapshot = { purchasedAt: terms.purchasedAt, product: terms.product };
      const createdAt = new Date();
      // the order and its first timeline entry are independent facts: written in parallel (one round trip)
      const [inserted] = await Promise.all([
        insertOnce(() =>
          Order.create({
            _id: terms.orderId,
            partnerId: terms.partnerId,
            customerId: terms.customer.id,
            customer: terms.customer,
            product: terms.product,
            pricing: terms.pricing,
            status: 'pending',
            imported: terms.imported,
            ...(terms.originalOrderId === undefined ? {} : { originalOrderId: terms.originalOrderId }),
            ...(terms.importKey === undefined ? {} : { importKey: terms.importKey }),
            placedBy: terms.placedBy,
            notify: terms.notify,
            purchasedAt,
            windowEndsAt: windowEnd(snapshot),
            termEndsAt: termEnd(snapshot),
            paidAt: null,
            provisionedAt: null,
            windowClosedAt: null,
            expiredAt: null,
            cancellation: null,
            requestId: terms.requestId,
            createdAt,
          }),
        ),
        addEvent({ _id: terms.orderId, partnerId: terms.partnerId }, K.placed, terms.imported ? 'imported' : 'placed', purchasedAt, {
          by: terms.placedBy.name,
          role: terms.placedBy.role,
          productId: terms.product.id,
          quantity: terms.pricing.quantity,
          ...(terms.originalOrderId === undefined ? {} : { originalOrderId: terms.originalOrderId }),
        }),
      ]);
      // an import is logged when the order came in (its stored instant, also on a retry: what csp-desk does for the
      // order afterwards, such as revoking an ended term at once, is never dated before it); the entry is inserted once
      const cameIn = async () => (inserted ? createdAt : ((await Order.findById(terms.orderId, { createdAt: 1 }).lean())?.createdAt ?? createdAt));
      await logOrderPlaced({ _id: terms.orderId, partnerId: terms.partnerId, customerId: terms.customer.id, customer: terms.customer, product: terms.product }, terms.imported ? await cameIn() : purchasedAt, {
        by: terms.placedBy,
        imported: terms.imported,
        originalOrderId: terms.originalOrderId,
        purchasedAt,
        quantity: terms.pricing.quantity,
        unitPrice: { amount: terms.pricing.unitPrice, currency: terms.pricing.currency },
        requestId: terms.requestId,
        origin: terms.origin ?? null,
      });
      orderLog({ _id: terms.orderId, requestId: terms.requestId }).info({ inserted }, 'order recorded');
    },

    /** The charge on the month's invoice (imported orders were charged before csp-desk). */
    async recordPayment(orderId: string, at: string): Promise<void> {
      const order = await loadOrder(orderId);
      const when = new Date(at);
      // the charge (and its month), the order's paidAt and the timeline entry are independent writes: in parallel
      const charge = async () => {
        if (!order.imported && !(await LedgerLine.exists({ _id: `${orderId}:charge` }))) {
          const invoiceMonth = await openMonthFrom(order.partnerId, monthKey(when));
          await insertOnce(() =>
            LedgerLine.create({
              _id: `${orderId}:charge`,
              partnerId: order.partnerId,
              orderId,
              customerId: order.customerId,
              customerName: order.customer.name,
              productName: order.product.name,
              kind: 'charge',
              amount: order.pricing.total,
              currency: order.pricing.currency,
              tax: order.pricing.tax,
              invoiceMonth,
              at: when,
              description: `${order.product.name} x ${order.pricing.quantity} for ${order.customer.name}`,
            }),
          );
        }
        if (!order.imported) await settleLine(`${orderId}:charge`, orderLog(order));
      };
      await Promise.all([
        charge(),
        order.paidAt ? undefined : Order.updateOne({ _id: orderId }, { $set: { paidAt: when } }),
        addEvent(order, K.paid, order.imported ? 'payment-imported' : 'payment-recorded', when, { amount: order.pricing.total, currency: order.pricing.currency }),
      ]);
      orderLog(order).info({ amount: order.pricing.total, currency: order.pricing.currency, imported: order.imported }, 'payment recorded');
    },

    /** Activation keys generated and stored; the order becomes active. */
    async provisionOrder(orderId: string, at: string): Promise<{ keys: number }> {
      const order = await loadOrder(orderId);
      const when = new Date(at);
      let keys = 0;
      // an imported subscription whose term has already ended gets no key
      const termOver = order.termEndsAt !== null && new Date(order.termEndsAt).getTime() <= when.getTime();
      const writes: Promise<unknown>[] = [];
      if (order.product.deliverable === 'activation-key' && !termOver) {
        writes.push(
          insertOnce(() =>
            ActivationKey.create({
              _id: `${orderId}:1`,
              orderId,
              partnerId: order.partnerId,
              customerId: order.customerId,
              productId: order.product.id,
              key: generateActivationKey(),
              activations: order.pricing.quantity,
              status: 'active',
              createdAt: when,
              revokedAt: null,
            }),
          ),
        );
        keys = 1;
      }
      // an imported purchase was provisioned when it was bought (before csp-desk): its document and its timeline say so
      // there, before its window's close and its term's end, which may be past too (the key, if any, is made now)
      const provisionedAt = provisionedInstant(order, when);
      // the key, the order's status and the timeline entry are independent writes: in parallel
      // the state it moves from is in the filter too: an attempt that outlived its timeout (read before the order was
      // cancelled, written after) changes nothing (review: the order had gone back to active)
      if (order.status === 'pending') writes.push(Order.updateOne({ _id: orderId, status: 'pending' }, { $set: { status: 'active', provisionedAt } }));
      writes.push(addEvent(order, K.provisioned, 'provisioned', provisionedAt, { deliverable: order.product.deliverable, keys }));
      await Promise.all(writes);
      orderLog(order).info({ keys }, 'order provisioned');
      return { keys };
    },

    async sendOrderEmail(orderId: string, kind: OrderEmailKind): Promise<{ messageId: string; sent: boolean }> {
      const order = await Order.findById(orderId).lean<OrderDoc>();
      if (!order) throw ApplicationFailure.nonRetryable(`order ${orderId} is not recorded`, 'order_missing');
      const partner = await Partner.findById(order.partnerId).lean();
      const to = orderEmailRecipients(kind, order, partner?.email ?? null);
      // the month whose invoice carries the credit, as the support approval's email names it (recordCancellation has
      // settled the line in it: a month whose close had begun passes it on to the next)
      const creditMonth = kind === 'cancellation' ? ((await LedgerLine.findById(`${orderId}:credit`).lean())?.invoiceMonth ?? null) : null;
      const result = await sendOnce(`order:${orderId}:${kind}`, `order-${kind}`, to, {
        order,
        creditMonth,
        partner: partner ?? { name: order.partnerId },
        orderUrl: pageLinks(publicBaseUrl).order(orderId),
        cancellationUrl: pageLinks(publicBaseUrl).orderCancellation(orderId),
      }, orderLog(order));
      // refused for good by the SMTP server (a mistyped address): the timeline says so, not that it was sent
      await addEvent(order, orderEmailTimelineKey(kind), result.refused ? 'email-refused' : 'email-sent', new Date(), { kind, messageId: result.messageId });
      return result;
    },

    async recordWindowClosed(orderId: string, at: string): Promise<void> {
      const order = await loadOrder(orderId);
      const when = new Date(at);
      if (!order.windowClosedAt) await Order.updateOne({ _id: orderId, windowClosedAt: null }, { $set: { windowClosedAt: when } });
      await addEvent(order, K.windowClosed, 'cancellation-window-closed', when);
      orderLog(order).info({ at }, 'cancellation window closed');
    },

    /** Keys and links revoked, the credit on the next invoice, the order cancelled. */
    async recordCancellation(input: { orderId: string; at: string; revokedAt?: string; by: OrderActor; credit: CancellationCredit; requestId: string; supportTicket?: string; origin?: RequestOrigin | null }): Promise<{ invoiceMonth: string }> {
      const order = await loadOrder(input.orderId);
      // `at`: when the cancellation was asked for (its credit, its month, cancelledAt); `revokedAt`: when its workflow
      // carries it out, the instant the keys and links stop (a download before it was not stopped by it)
      const when = new Date(input.at);
      const revokedAt = new Date(input.revokedAt ?? input.at);
      // one writer: only this order's workflow touches its keys, links and document
      const revoked = await revokeOrderAccess(order, revokedAt);
      // its timeline entry and log entry dated once the revocation is written, so that no download the log shows after
      // it began after it (QA: downloads logged 7 to 23 ms after the revocation's entry, dated before its write);
      // each is inserted once, so a retry keeps the first attempt's
      const written = new Date(Math.max(revokedAt.getTime(), Date.now()));
      await addEvent(order, K.revoked, 'keys-and-links-revoked', written, revoked);
      await logRevocation(order, written, revoked, { reason: 'cancelled', by: input.by, requestId: input.requestId, origin: input.origin ?? null });
      const c = input.credit;
      const existingCredit = await LedgerLine.findById(`${order._id}:credit`).lean();
      const invoiceMonth = existingCredit?.invoiceMonth ?? (await openMonthFrom(order.partnerId, monthKey(when)));
      await insertOnce(() =>
        LedgerLine.create({
          _id: `${order._id}:credit`,
          partnerId: order.partnerId,
          orderId: order._id,
          customerId: order.customerId,
          customerName: order.customer.name,
          productName: order.product.name,
          kind: 'credit',
          amount: -c.amount,
          currency: c.currency,
          tax: { treatment: order.pricing.tax.treatment, rateBps: order.pricing.tax.rateBps, amount: c.taxAmount },
          invoiceMonth,
          at: when,
          description:
            c.basis === 'support-refund'
              ? `Refund of cancelled order ${order._id}${order.originalOrderId ? ` (imported as ${order.originalOrderId})` : ''} approved in support request ${input.supportTicket ?? ''}`.trim()
              : `Credit for cancelled order ${order._id} (${c.basis === 'full' ? '100%' : `${c.termDays! - c.usedDays!} of ${c.termDays} days unused`})`,
        }),
      );
      // the month it is billed in, for good (the close of the month first chosen may have moved it)
      const billedIn = (await settleLine(`${order._id}:credit`, orderLog(order))) ?? invoiceMonth;
      await addEvent(order, K.credit, 'credit-recorded', when, { amount: c.amount, currency: c.currency, basis: c.basis, invoiceMonth: billedIn });
      if (order.status !== 'cancelled') {
        await Order.updateOne({ _id: order._id, status: { $ne: 'cancelled' } }, { $set: { status: 'cancelled', cancellation: { at: when, by: input.by, credit: c, supportTicket: input.supportTicket ?? null } } });
      }
      await addEvent(order, K.cancelled, 'cancelled', when, { by: input.by.name, requestId: input.requestId, supportTicket: input.supportTicket ?? null });
      await logOrderCancelled(order, when, { by: input.by, requestId: input.requestId, origin: input.origin ?? null, credit: c });
      // the cancellation's own request id, beside the one that placed the order
      orderLog(order).info({ cancelRequestId: input.requestId, credit: c.amount, currency: c.currency, basis: c.basis, invoiceMonth: billedIn, supportTicket: input.supportTicket }, 'order cancelled');
      return { invoiceMonth: billedIn };
    },

    /** What a support refund workflow needs to decide (the order's main workflow has ended). */
    async loadOrderForRefund(orderId: string): Promise<{ status: OrderDoc['status']; product: OrderDoc['product']; pricing: OrderDoc['pricing']; refundedBy: string | null; cancelledAt: string | null }> {
      const order = await loadOrder(orderId);
      return {
        // a recorded cancellation is the order's end, whatever a stale write left in its status
        status: order.cancellation ? 'cancelled' : order.status,
        product: order.product,
        pricing: order.pricing,
        refundedBy: order.cancellation?.supportTicket ?? null,
        cancelledAt: order.cancellation ? new Date(order.cancellation.at).toISOString() : null,
      };
    },

    async recordTermEnded(orderId: string, at: string): Promise<void> {
      const order = await loadOrder(orderId);
      const when = new Date(at);
      if (order.status === 'active') await Order.updateOne({ _id: orderId, status: 'active' }, { $set: { status: 'expired', expiredAt: when } });
      // an expired subscription's keys and links no longer work
      const revoked = await revokeOrderAccess(order, when);
      await addEvent(order, K.termRevoked, 'keys-and-links-revoked', when, revoked);
      // the activity log records what csp-desk did when it did it: an imported subscription whose term had ended
      // before its import is revoked at its import (QA: dated at the term's end, it wrote into a past day's log)
      await logRevocation(order, notBefore(when, order.createdAt), revoked, { reason: 'term-ended', by: null, requestId: null, origin: null });
      await addEvent(order, K.termEnded, 'term-ended', when);
      orderLog(order).info({ at }, 'term ended');
    },
  };
}
