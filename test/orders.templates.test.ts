/** The order emails give instants to the minute in UTC (the window closes at an instant, not on a date). */
import { expect } from 'chai';
import { createRenderer } from '../lib/mailer';

describe('order emails (templates)', () => {
  const renderer = createRenderer();
  const order = {
    _id: 'order-1',
    product: { name: 'SQL Server Standard (1-year subscription)' },
    customer: { name: 'Fabrikam', domain: 'fabrikam.onmicrosoft.com' },
    pricing: { quantity: 1, total: 27_450, currency: 'USD', tax: { treatment: 'exclusive', amount: null } },
    purchasedAt: new Date('2026-11-26T04:41:35Z'),
    windowEndsAt: new Date('2027-01-25T04:41:35Z'),
    termEndsAt: new Date('2027-11-26T04:41:35Z'),
    cancellation: { at: new Date('2026-12-01T23:59:10Z'), by: { name: 'Ada Admin' }, credit: { amount: 27_450, currency: 'USD' } },
  };

  it('when an order is confirmed, then the window and the term end at their instant, in UTC', () => {
    const r = renderer.render('order-confirmation', { order, orderUrl: 'http://x/app/orders/order-1' });
    for (const body of [r.text, r.html]) expect(body).to.contain('2027-01-25 04:41 UTC').and.contain('2027-11-26 04:41 UTC').and.contain('2026-11-26 04:41 UTC');
  });

  it('when an order has no cancellation window (Windows 7 ESU, SUSE/Red Hat), then its confirmation states how it is cancelled, or that it cannot be', () => {
    const noWindow = { ...order, windowEndsAt: null, termEndsAt: null };
    const esu = renderer.render('order-confirmation', { order: { ...noWindow, product: { name: 'Windows 7 ESU', cancellation: { mode: 'support-request-only' } } }, orderUrl: 'http://x' });
    for (const body of [esu.text, esu.html]) expect(body).to.contain('only through a customer support request').and.not.contain('Cancellable until');
    const suse = renderer.render('order-confirmation', { order: { ...noWindow, product: { name: 'SUSE plan', cancellation: { mode: 'never' } } }, orderUrl: 'http://x' });
    for (const body of [suse.text, suse.html]) expect(body).to.contain('this plan cannot be cancelled or exchanged');
  });

  it('when a window closes soon, then the reminder names its instant in UTC, in the subject too', () => {
    const r = renderer.render('order-reminder', { order, orderUrl: 'http://x/app/orders/order-1' });
    expect(r.subject).to.contain('2027-01-25 04:41 UTC');
    expect(r.text).to.contain('until 2027-01-25 04:41 UTC');
  });

  it('when an order is cancelled, then the email says when, in UTC', () => {
    const r = renderer.render('order-cancellation', { order, orderUrl: 'http://x/app/orders/order-1' });
    expect(r.text).to.contain('was cancelled on 2026-12-01 23:59 UTC by Ada Admin');
    expect(r.text).to.not.contain('includes tax');
  });

  it("when an order is cancelled, then the email names the month whose invoice carries the credit, as the support approval's does", () => {
    const r = renderer.render('order-cancellation', { order, creditMonth: '2026-12', orderUrl: 'http://x/app/orders/order-1' });
    expect(r.text).to.contain('will appear on your next monthly invoice, the one for December 2026.');
    expect(r.html).to.contain('will appear on your next monthly invoice, the one for <strong>December 2026</strong>.');
    // without the month (an email rendered before the line was read): the spec's words alone
    expect(renderer.render('order-cancellation', { order, orderUrl: 'http://x' }).text).to.contain('will appear on your next monthly invoice.');
  });

  it('when a tax-inclusive order is cancelled, then the credit says the tax it includes, as the confirmation and the invoice do', () => {
    const au = { ...order, cancellation: { ...order.cancellation, credit: { amount: 546_307, currency: 'AUD', basis: 'full', taxAmount: 49_664 } } };
    const r = renderer.render('order-cancellation', { order: au, orderUrl: 'http://x/app/orders/order-1' });
    // in one bracket with the basis, not two in a row
    for (const body of [r.text, r.html]) expect(body).to.contain('A$5,463.07').and.contain('(100%; includes tax of A$496.64)').and.not.contain(') (');
  });
});

describe('invoice email (template)', () => {
  const renderer = createRenderer();
  const line = (kind: 'charge' | 'credit', description: string, amount: number) => ({
    kind,
    description,
    amount,
    currency: 'USD',
    at: new Date('2026-11-20T10:00:00Z'),
    customerName: 'Fabrikam',
    productName: 'SQL Server Standard',
    tax: { treatment: 'exclusive', rateBps: null, amount: null },
  });
  const data = (closedEarly: unknown) => ({
    partner: { name: 'Test Partner' },
    month: '2026-11',
    monthName: 'November 2026',
    closedEarly,
    lines: [line('charge', 'SQL Server Standard x 1 for Fabrikam', 360_400), line('credit', 'Credit for cancelled order o-1 (364 of 365 days unused)', -359_413)],
    totals: [],
    invoiceUrl: 'http://x/app/invoices/2026-11',
  });

  it('when an invoice is emailed, then it names the month in words, a credit names its customer and product (a charge says them already), and an early close says where later lines go', () => {
    const r = renderer.render('invoice', data({ at: new Date('2026-11-26T17:17:00Z'), nextMonthName: 'December 2026' }));
    expect(r.subject).to.equal('Your csp-desk invoice for November 2026 (2026-11)');
    for (const part of [r.text, r.html]) {
      expect(part).to.contain('Invoice November 2026').and.contain('Closed early, on 2026-11-26 17:17 UTC: later charges and credits are on the December 2026 invoice.');
      expect(part).to.contain('Fabrikam · SQL Server Standard: Credit for cancelled order o-1').and.not.contain('Fabrikam · SQL Server Standard: SQL Server Standard x 1');
    }
    const regular = renderer.render('invoice', data(null));
    expect(regular.text).to.not.contain('Closed early');
  });

  it("when a tax-inclusive currency's charges are credited back to zero, then its total still says the tax it includes (A$0.00), as the page and the API do; an exclusive one says none", () => {
    const totals = [
      { currency: 'AUD', charges: 147_744, credits: -147_744, net: 0, taxIncluded: 0, taxExcludedNet: 0, taxInclusive: true },
      { currency: 'USD', charges: 360_400, credits: 0, net: 360_400, taxIncluded: 0, taxExcludedNet: 360_400, taxInclusive: false },
    ];
    const r = renderer.render('invoice', { ...data(null), totals });
    for (const part of [r.text, r.html]) {
      expect(part).to.match(/AUD: charges A\$1,477\.44, credits -A\$1,477\.44, net (<strong>)?A\$0\.00(<\/strong>)?, of which tax included A\$0\.00/);
      expect(part).to.match(/USD: charges \$3,604\.00, credits \$0\.00, net (<strong>)?\$3,604\.00(<\/strong>)?\n?(<\/li>|$)/m);
    }
  });
});
