/**
 * Activities: every side effect of the workflows, each idempotent. A retry or a worker crash never
 * records a second order, key, ledger line or invoice (their `_id`s are natural keys), and never
 * sends a second email (an email record per business key; a resend after a crash between SMTP
 * acceptance and the record carries the same Message-ID, so mail clients fold it).
 */
import crypto from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '../lib/logger';
import type { Mailer, Renderer } from '../lib/mailer';
import { isDuplicateKey } from '../lib/errors';
import { ActivationKey, DownloadLink, EmailRecord, Invoice, LedgerLine, Order, OrderEvent, Partner } from '../models';
import type { LedgerLineDoc, OrderDoc } from '../models';
import type { OrderActor, OrderTerms } from '../domain/orders';
import type { CancellationCredit } from '../domain/cancellation';
import { termEnd, windowEnd } from '../domain/cancellation';
import { monthKey, nextMonthKey } from '../domain/time';
import { summarizeInvoice } from '../domain/invoice';
import type { OrderEmailKind } from '../contracts/orders';

export interface ActivityDeps {
  mailer: Mailer;
  renderer: Renderer;
  log: Logger;
  publicBaseUrl: string;
}

const KEY_ALPHABET = 'BCDFGHJKMPQRTVWXY2346789';
/** A product key in the familiar 5x5 format. */
export function generateActivationKey(): string {
  const bytes = crypto.randomBytes(25);
  const chars = [...bytes].map((b) => KEY_ALPHABET[b % KEY_ALPHABET.length]);
  return [0, 5, 10, 15, 20].map((i) => chars.slice(i, i + 5).join('')).join('-');
}

async function insertOnce<T>(create: () => Promise<T>): Promise<boolean> {
  try {
    await create();
    return true;
  } catch (e) {
    if (isDuplicateKey(e)) return false;
    throw e;
  }
}

async function addEvent(order: Pick<OrderDoc, '_id' | 'partnerId'>, key: string, type: string, at: Date, data: Record<string, unknown> = {}) {
  await insertOnce(() => OrderEvent.create({ _id: `${order._id}:${key}`, orderId: order._id, partnerId: order.partnerId, type, at, data }));
}

/** The first month from `month` on whose invoice is still open for the partner. */
async function openMonthFrom(partnerId: string, month: string): Promise<string> {
  while (await Invoice.exists({ _id: `${partnerId}:${month}` })) month = nextMonthKey(month);
  return month;
}

/** The ledger line ids a closed invoice billed (null for an invoice closed before snapshots were kept). */
function billedIds(invoice: { lines?: unknown }): Set<string> | null {
  return Array.isArray(invoice.lines) ? new Set((invoice.lines as { _id: string }[]).map((l) => l._id)) : null;
}

/**
 * A line written while its month was being closed may have missed the close's snapshot. Both sides check
 * after writing (the line's writer here, the closer in closeInvoice), so whatever the interleaving one of
 * them sees it, and both move it to the same place: the next open month.
 */
async function settleLine(lineId: string): Promise<void> {
  const line = await LedgerLine.findById(lineId).lean();
  if (!line) return;
  const closed = await Invoice.findById(`${line.partnerId}:${line.invoiceMonth}`).lean();
  const billed = closed ? billedIds(closed) : null;
  if (!closed || !billed || billed.has(lineId)) return;
  const month = await openMonthFrom(line.partnerId, nextMonthKey(line.invoiceMonth));
  await LedgerLine.updateOne({ _id: lineId, invoiceMonth: line.invoiceMonth }, { $set: { invoiceMonth: month } });
}

async function loadOrder(orderId: string): Promise<OrderDoc> {
  const order = await Order.findById(orderId).lean<OrderDoc>();
  if (!order) throw ApplicationFailure.nonRetryable(`order ${orderId} is not recorded`, 'order_missing');
  return order;
}

export function createActivities(deps: ActivityDeps) {
  const { mailer, renderer, publicBaseUrl } = deps;

  /** Log lines of an order's activities carry the request id that placed it (and its order id). */
  const orderLog = (order: Pick<OrderDoc, '_id' | 'requestId'>) => deps.log.child({ orderId: order._id, requestId: order.requestId });

  /** Sends `template` once per `key`. */
  async function sendOnce(key: string, template: string, to: string[], data: Record<string, unknown>, log = deps.log): Promise<{ messageId: string; sent: boolean }> {
    const existing = await EmailRecord.findById(key).lean();
    if (existing?.status === 'sent') return { messageId: existing.messageId, sent: false };
    const rendered = renderer.render(template, data);
    const messageId = existing?.messageId ?? `<${crypto.createHash('sha256').update(key).digest('hex').slice(0, 32)}@csp-desk>`;
    if (!existing) {
      await insertOnce(() => EmailRecord.create({ _id: key, messageId, template, to, subject: rendered.subject, status: 'sending', createdAt: new Date(), sentAt: null }));
    }
    await mailer.send({ ...rendered, to, messageId });
    await EmailRecord.updateOne({ _id: key }, { $set: { status: 'sent', sentAt: new Date() } });
    log.info({ emailKey: key, template, to, messageId }, 'email sent');
    return { messageId, sent: true };
  }

  return {
    /** The order document, its first timeline entry. */
    async recordOrder(terms: OrderTerms): Promise<void> {
      const purchasedAt = new Date(terms.purchasedAt);
      const snapshot = { purchasedAt: terms.purchasedAt, product: terms.product };
      const inserted = await insertOnce(() =>
        Order.create({
          _id: terms.orderId,
          partnerId: terms.partnerId,
          customerId: terms.customer.id,
          customer: terms.customer,
          product: terms.product,
          pricing: terms.pricing,
          status: 'pending',
          imported: terms.imported,
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
          createdAt: new Date(),
        }),
      );
      await addEvent({ _id: terms.orderId, partnerId: terms.partnerId }, 'placed', terms.imported ? 'imported' : 'placed', purchasedAt, {
        by: terms.placedBy.name,
        role: terms.placedBy.role,
        productId: terms.product.id,
        quantity: terms.pricing.quantity,
      });
      orderLog({ _id: terms.orderId, requestId: terms.requestId }).info({ inserted }, 'order recorded');
    },

    /** The charge on the month's invoice (imported orders were charged before csp-desk). */
    async recordPayment(orderId: string, at: string): Promise<void> {
      const order = await loadOrder(orderId);
      const when = new Date(at);
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
      if (!order.imported) await settleLine(`${orderId}:charge`);
      if (!order.paidAt) await Order.updateOne({ _id: orderId }, { $set: { paidAt: when } });
      await addEvent(order, 'paid', order.imported ? 'payment-imported' : 'payment-recorded', when, { amount: order.pricing.total, currency: order.pricing.currency });
      orderLog(order).info({ amount: order.pricing.total, currency: order.pricing.currency, imported: order.imported }, 'payment recorded');
    },

    /** Activation keys generated and stored; the order becomes active. */
    async provisionOrder(orderId: string, at: string): Promise<{ keys: number }> {
      const order = await loadOrder(orderId);
      const when = new Date(at);
      let keys = 0;
      // an imported subscription whose term has already ended gets no key
      const termOver = order.termEndsAt !== null && new Date(order.termEndsAt).getTime() <= when.getTime();
      if (order.product.deliverable === 'activation-key' && !termOver) {
        await insertOnce(() =>
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
        );
        keys = 1;
      }
      if (order.status === 'pending') await Order.updateOne({ _id: orderId }, { $set: { status: 'active', provisionedAt: when } });
      await addEvent(order, 'provisioned', 'provisioned', when, { deliverable: order.product.deliverable, keys });
      orderLog(order).info({ keys }, 'order provisioned');
      return { keys };
    },

    async sendOrderEmail(orderId: string, kind: OrderEmailKind): Promise<{ messageId: string; sent: boolean }> {
      const order = await Order.findById(orderId).lean<OrderDoc>();
      if (!order) throw ApplicationFailure.nonRetryable(`order ${orderId} is not recorded`, 'order_missing');
      const partner = await Partner.findById(order.partnerId).lean();
      const to = order.notify?.length ? order.notify : [partner?.email ?? order.placedBy.email];
      const result = await sendOnce(`order:${orderId}:${kind}`, `order-${kind}`, to, {
        order,
        partner: partner ?? { name: order.partnerId },
        orderUrl: `${publicBaseUrl}/orders/${orderId}`,
        cancellationUrl: `${publicBaseUrl}/orders/${orderId}/cancellation`,
      }, orderLog(order));
      await addEvent(order, `email-${kind}`, 'email-sent', new Date(), { kind, messageId: result.messageId });
      return result;
    },

    async recordWindowClosed(orderId: string, at: string): Promise<void> {
      const order = await loadOrder(orderId);
      const when = new Date(at);
      if (!order.windowClosedAt) await Order.updateOne({ _id: orderId }, { $set: { windowClosedAt: when } });
      await addEvent(order, 'window-closed', 'cancellation-window-closed', when);
      orderLog(order).info({ at }, 'cancellation window closed');
    },

    /** Keys and links revoked, the credit on the next invoice, the order cancelled. */
    async recordCancellation(input: { orderId: string; at: string; by: OrderActor; credit: CancellationCredit; requestId: string }): Promise<void> {
      const order = await loadOrder(input.orderId);
      const when = new Date(input.at);
      // one writer: only this order's workflow touches its keys, links and document
      const keys = await ActivationKey.updateMany({ orderId: order._id, status: 'active' }, { $set: { status: 'revoked', revokedAt: when } });
      const links = await DownloadLink.updateMany({ orderId: order._id, status: 'active' }, { $set: { status: 'revoked', revokedAt: when } });
      await addEvent(order, 'revoked', 'keys-and-links-revoked', when, { keys: keys.modifiedCount, links: links.modifiedCount });
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
          description: `Credit for cancelled order ${order._id} (${c.basis === 'full' ? '100%' : `${c.termDays! - c.usedDays!} of ${c.termDays} days unused`})`,
        }),
      );
      await settleLine(`${order._id}:credit`);
      await addEvent(order, 'credit', 'credit-recorded', when, { amount: c.amount, currency: c.currency, basis: c.basis, invoiceMonth });
      if (order.status !== 'cancelled') {
        await Order.updateOne({ _id: order._id }, { $set: { status: 'cancelled', cancellation: { at: when, by: input.by, credit: c } } });
      }
      await addEvent(order, 'cancelled', 'cancelled', when, { by: input.by.name, requestId: input.requestId });
      // the cancellation's own request id, beside the one that placed the order
      orderLog(order).info({ cancelRequestId: input.requestId, credit: c.amount, currency: c.currency, basis: c.basis, invoiceMonth }, 'order cancelled');
    },

    async recordTermEnded(orderId: string, at: string): Promise<void> {
      const order = await loadOrder(orderId);
      const when = new Date(at);
      if (order.status === 'active') await Order.updateOne({ _id: orderId }, { $set: { status: 'expired', expiredAt: when } });
      await addEvent(order, 'term-ended', 'term-ended', when);
      orderLog(order).info({ at }, 'term ended');
    },

    /** Partners with at least one ledger line in the month. */
    async partnersWithLines(month: string): Promise<string[]> {
      const ids = await LedgerLine.distinct('partnerId', { invoiceMonth: month });
      return (ids as string[]).sort();
    },

    /**
     * Records the closed month with the lines it bills (once) and emails that invoice (once). Lines
     * written later go to the next open month (openMonthFrom, settleLine). Runs only in the partner-month's
     * own child workflow, so the invoice has one writer.
     */
    async closeInvoice(partnerId: string, month: string, at: string): Promise<{ emailed: boolean }> {
      let closed = await Invoice.findById(`${partnerId}:${month}`).lean();
      if (!closed) {
        const billed = await LedgerLine.find({ partnerId, invoiceMonth: month }).sort({ at: 1, _id: 1 }).lean();
        await insertOnce(() => Invoice.create({ _id: `${partnerId}:${month}`, partnerId, month, closedAt: new Date(at), totals: summarizeInvoice(billed), lines: billed }));
        closed = (await Invoice.findById(`${partnerId}:${month}`).lean())!;
      }
      // lines written while this close was under way that missed its snapshot go to the next open month
      const billed = billedIds(closed);
      if (billed) {
        const strays = await LedgerLine.find({ partnerId, invoiceMonth: month, _id: { $nin: [...billed] } }).lean();
        for (const stray of strays) {
          const next = await openMonthFrom(partnerId, nextMonthKey(month));
          await LedgerLine.updateOne({ _id: stray._id, invoiceMonth: month }, { $set: { invoiceMonth: next } });
        }
      }
      const lines = billed ? (closed.lines as LedgerLineDoc[]) : await LedgerLine.find({ partnerId, invoiceMonth: month }).sort({ at: 1, _id: 1 }).lean();
      const totals = billed ? closed.totals : summarizeInvoice(lines);
      const partner = await Partner.findById(partnerId).lean();
      if (!partner) return { emailed: false };
      const customers = new Set(lines.map((l) => l.customerId));
      const result = await sendOnce(`invoice:${partnerId}:${month}`, 'invoice', [partner.email], {
        partner,
        month,
        lines,
        totals,
        customers: customers.size,
        invoiceUrl: `${publicBaseUrl}/invoices/${month}`,
      });
      deps.log.info({ partnerId, month, lines: lines.length, emailed: result.sent }, 'invoice closed');
      return { emailed: result.sent };
    },

    /** Does nothing: the benchmark's skeleton workflow runs it in place of real work. */
    async noop(): Promise<void> {},
  };
}

export type Activities = ReturnType<typeof createActivities>;

