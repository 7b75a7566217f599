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

  it('when a tax-inclusive order is cancelled, then the credit says the tax it includes, as the confirmation and the invoice do', () => {
    const au = { ...order, cancellation: { ...order.cancellation, credit: { amount: 546_307, currency: 'AUD', basis: 'full', taxAmount: 49_664 } } };
    const r = renderer.render('order-cancellation', { order: au, orderUrl: 'http://x/app/orders/order-1' });
    // in one bracket with the basis, not two in a row
    for (const body of [r.text, r.html]) expect(body).to.contain('A$5,463.07').and.contain('(100%; includes tax of A$496.64)').and.not.contain(') (');
  });
});
