/**
 * The invoice close racing a ledger line, played out step by step on the real database: whichever side
 * writes last finds the line that missed the closed invoice and moves it to the next open month.
 */
import crypto from 'node:crypto';
import { expect } from 'chai';
import { buildActivities } from '../composition/root';
import { Invoice, LedgerLine } from '../models';
import { ensurePartner } from '../services/users';
import { monthKey, nextMonthKey } from '../domain/time';
import { findCatalogProduct } from '../domain/catalog';
import { priceOrder } from '../domain/pricing';
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
});
