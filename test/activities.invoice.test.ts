/**
 * The invoice close racing a ledger line, played out step by step on the real database: whichever side
 * writes last finds the line that missed the closed invoice and moves it to the next open month.
 */
import crypto from 'node:crypto';
import { expect } from 'chai';
import { buildActivities } from '../composition/root';
import { ActivityEntry, Invoice, InvoiceClose, LedgerLine, OrderEvent } from '../models';
import { ensurePartner } from '../services/users';
import { monthKey, nextMonthKey } from '../domain/time';
import { findCatalogProduct } from '../domain/catalog';
import { priceOrder } from '../domain/pricing';
import { cancellationCredit } from '../domain/cancellation';
import { getTestApp, uniq, type TestApp } from './support/app';

describe('invoice close vs a late ledger line (activities, real database)', function () {
  this.timeout(60_000);
  let app: TestApp;
  let acts: ReturnType<typeof buildActivities>;
  let partnerId: string;
  const month = monthKey(new Date());

  before(async () => {
    app = await getTestApp();
    acts = buildActivities({ mailer: app.mailer, log: app.log, publicBaseUrl: 'http://csp-desk.test' });
    partnerId = uniq('race');
    await ensurePartner({ id: partnerId, name: 'Race Partner', email: `billing@${partnerId}.example` });
  });

  const line = (orderId: string, invoiceMonth: string) => ({
    _id: `${orderId}:charge`,
    partnerId,
    orderId,
    customerId: 'c-race',
    customerName: 'Race Customer',
    productName: 'Windows Server Standard (1-year subscription)',
    kind: 'charge' as const,
    amount: 36_500,
    currency: 'USD',
    tax: { treatment: 'exclusive' as const, rateBps: null, amount: null },
    invoiceMonth,
    at: new Date(),
    description: 'race',
  });

  it('when the close wrote its snapshot before a line of its month landed, then closing (again) moves that line to the next open month', async () => {
    const billed = line(uniq('billed'), month);
    await LedgerLine.create(billed);
    await acts.closeInvoice(partnerId, month, new Date().toISOString());
    const stray = line(uniq('stray'), month); // written "during" the close, after its snapshot
    await LedgerLine.create(stray);
    await acts.closeInvoice(partnerId, month, new Date().toISOString()); // the close's retry or its after-check
    expect((await LedgerLine.findById(stray._id).lean())!.invoiceMonth).to.equal(nextMonthKey(month));
    expect((await LedgerLine.findById(billed._id).lean())!.invoiceMonth).to.equal(month);
    const invoice = (await Invoice.findById(`${partnerId}:${month}`).lean())!;
    expect((invoice.lines as { _id: string }[]).map((l) => l._id)).to.deep.equal([billed._id]);
  });

  it("when a line landed in a month closed without it, then its writer's check (on retry too) moves it", async () => {
    const product = findCatalogProduct('windows-server-standard-sub')!;
    const orderId = crypto.randomUUID();
    await acts.recordOrder({
      orderId,
      partnerId,
      customer: { id: 'c-race', name: 'Race Customer', tenantId: crypto.randomUUID(), domain: 'race.example.com', market: 'US' },
      product: { id: product.id, name: product.name, kind: product.kind, billing: product.billing, cancellation: product.cancellation, deliverable: product.deliverable },
      pricing: priceOrder(product, 'US', 1),
      purchasedAt: new Date().toISOString(),
      imported: false,
      placedBy: { userId: 'u', name: 'U', email: 'u@example.com', role: 'admin-agent' },
      notify: ['u@example.com'],
      reminderDaysBeforeClose: 7,
      requestId: uniq('req'),
    });
    // the line was inserted into the month just before that month's close took its snapshot without it
    await LedgerLine.create({ ...line(orderId, month), amount: 36_500 });
    expect(await Invoice.exists({ _id: `${partnerId}:${month}` })).to.not.equal(null);
    await acts.recordPayment(orderId, new Date().toISOString());
    expect((await LedgerLine.findById(`${orderId}:charge`).lean())!.invoiceMonth).to.equal(nextMonthKey(month));
    expect(await LedgerLine.countDocuments({ orderId })).to.equal(1);
  });

  /** An order of a partner of its own (no month of it closed yet), placed and paid now: its charge is in `month`. */
  async function paidOrder(): Promise<{ partner: string; orderId: string; writeCredit: () => Promise<unknown>; cancel: (revokedAt?: string) => Promise<{ invoiceMonth: string }> }> {
    const partner = uniq('closing');
    await ensurePartner({ id: partner, name: 'Closing Partner', email: `billing@${partner}.example` });
    const product = findCatalogProduct('windows-server-standard-sub')!;
    const orderId = crypto.randomUUID();
    const purchasedAt = new Date().toISOString();
    const pricing = priceOrder(product, 'US', 1);
    const actor = { userId: 'u', name: 'U', email: 'u@example.com', role: 'admin-agent' };
    const terms = { id: product.id, name: product.name, kind: product.kind, billing: product.billing, cancellation: product.cancellation, deliverable: product.deliverable };
    await acts.recordOrder({ orderId, partnerId: partner, customer: { id: 'c-closing', name: 'Closing Customer', tenantId: crypto.randomUUID(), domain: 'closing.example.com', market: 'US' }, product: terms, pricing, purchasedAt, imported: false, placedBy: actor, notify: ['u@example.com'], reminderDaysBeforeClose: 7, requestId: uniq('req') });
    await acts.recordPayment(orderId, purchasedAt);
    const at = new Date().toISOString();
    const credit = cancellationCredit({ status: 'active', purchasedAt, product: terms, pricing }, new Date(at));
    // the credit as the cancellation's first attempt writes it into `month`, before it checks the month's close (an
    // attempt lost with its worker right after, the close begun meanwhile: the retry does the check)
    const writeCredit = () => LedgerLine.create({ ...line(orderId, month), _id: `${orderId}:credit`, partnerId: partner, kind: 'credit' as const, amount: -credit.amount, description: 'credit' });
    return { partner, orderId, writeCredit, cancel: (revokedAt?: string) => acts.recordCancellation({ orderId, at, revokedAt, by: actor, credit, requestId: uniq('cancel') }) };
  }

  it("when a credit is written while its month's close is under way and that close did not read it, then the month it names is the next one, where the close moved it (not the month it was first written in)", async () => {
    const { partner, orderId, writeCredit, cancel } = await paidOrder();
    await writeCredit();
    // the close of the month has begun, and read its lines: the charge only
    await InvoiceClose.create({ _id: `${partner}:${month}`, partnerId: partner, month, startedAt: new Date() });
    const charge = (await LedgerLine.findById(`${orderId}:charge`).lean())!;
    expect(String(await cancel().then(() => 'answered', (e: unknown) => e))).to.match(/being closed/);
    // ... and writes its invoice without the credit, which it then moves to the next open month
    await Invoice.create({ _id: `${partner}:${month}`, partnerId: partner, month, closedAt: new Date(), totals: {}, lines: [charge] });
    await acts.closeInvoice(partner, month, new Date().toISOString());
    const { invoiceMonth } = await cancel(); // the activity's retry
    expect(invoiceMonth).to.equal(nextMonthKey(month));
    expect((await LedgerLine.findById(`${orderId}:credit`).lean())!.invoiceMonth).to.equal(nextMonthKey(month));
    expect(((await OrderEvent.findById(`${orderId}:credit`).lean())!.data as { invoiceMonth: string }).invoiceMonth).to.equal(nextMonthKey(month));
  });

  it("when a credit is written while its month's close is under way and that close read it, then the month it names is that month, on whose invoice it is", async () => {
    const { partner, orderId, writeCredit, cancel } = await paidOrder();
    await writeCredit();
    await InvoiceClose.create({ _id: `${partner}:${month}`, partnerId: partner, month, startedAt: new Date() });
    expect(String(await cancel().then(() => 'answered', (e: unknown) => e))).to.match(/being closed/);
    await acts.closeInvoice(partner, month, new Date().toISOString()); // its read comes after the credit's write
    expect((await cancel()).invoiceMonth).to.equal(month);
    const invoice = (await Invoice.findById(`${partner}:${month}`).lean())!;
    expect((invoice.lines as { _id: string }[]).map((l) => l._id)).to.have.members([`${orderId}:charge`, `${orderId}:credit`]);
  });

  it("when a credit is written once its month's close has begun, then it goes to the next month at once, without waiting for that close", async () => {
    const { partner, orderId, cancel } = await paidOrder();
    await InvoiceClose.create({ _id: `${partner}:${month}`, partnerId: partner, month, startedAt: new Date() });
    expect((await cancel()).invoiceMonth).to.equal(nextMonthKey(month));
    expect((await LedgerLine.findById(`${orderId}:credit`).lean())!.invoiceMonth).to.equal(nextMonthKey(month));
  });

  it("when a cancellation is carried out, then its revocation's timeline and log entries are dated once the revocation is written, never before (QA: downloads were logged after an entry dated before the write)", async () => {
    const { orderId, cancel } = await paidOrder();
    const before = Date.now();
    // the workflow's instant of the revocation, a moment before this attempt writes it (a busy worker)
    await cancel(new Date(before - 5_000).toISOString());
    const event = (await OrderEvent.findById(`${orderId}:revoked`).lean())!;
    const entry = (await ActivityEntry.findById(`order:${orderId}:revoked:cancelled`).lean())!;
    expect(event.at.getTime()).to.be.at.least(before);
    expect(entry.operationDate.getTime()).to.equal(event.at.getTime());
  });

  it('when a month is closed, then the close said it had begun (before reading the lines) in a record of its own', async () => {
    const { partner } = await paidOrder();
    await acts.closeInvoice(partner, month, new Date().toISOString());
    expect(await InvoiceClose.exists({ _id: `${partner}:${month}` })).to.not.equal(null);
  });
});
