import { expect } from 'chai';
import { roleChangeRefusal } from '../domain/roles';
import { headerText, nameKey } from '../domain/text';
import { amountExample, formatMinor, parseAmount, mulDiv, taxPortionOfInclusive } from '../domain/money';
import { addMonthsUtc, dayNumber, daysUntil, DAY_MS, emailTimeZone, monthKey, previousMonthKey, zonedMinute } from '../domain/time';
import { assessCancellation, CANCEL_REQUEST_GRACE_MS, cancellationCredit, cancellationCreditToday, cancellationInstant, creditTax, supportRefundCredit, type CancellableOrder } from '../domain/cancellation';
import { CATALOG, PRICE_CURRENCIES, findCatalogProduct } from '../domain/catalog';
import { checkMarket, priceOrder } from '../domain/pricing';
import { invoiceCloseRefusal, lineTax, noInvoiceReason, summarizeInvoice } from '../domain/invoice';
import { impliedTimelineKeys, ORDER_ID_PATTERN, orderEmailRecipients, provisionedInstant, timelineCompleteUntil, timelineOrder, type OrderPricing } from '../domain/orders';
import { importedOrderId, importedPurchaseProblem, importFound, importOutcome } from '../domain/order-imports';

const T0 = new Date('2026-03-01T10:00:00.000Z');
const at = (days: number, hours = 0) => new Date(T0.getTime() + days * DAY_MS + hours * 3_600_000);
const usd = (total: number): OrderPricing => ({ currency: 'USD', unitPrice: total, quantity: 1, total, tax: { treatment: 'exclusive', rateBps: null, amount: null } });
const order = (productId: string, total = 36_500, status: CancellableOrder['status'] = 'active'): CancellableOrder => {
  const p = findCatalogProduct(productId)!;
  return { status, purchasedAt: T0.toISOString(), product: p, pricing: usd(total) };
};

describe('money', () => {
  it('when a ratio is not whole, then mulDiv rounds half up without floating point', () => {
    expect(mulDiv(100, 1, 3)).to.equal(33);
    expect(mulDiv(100, 2, 3)).to.equal(67);
    expect(mulDiv(5, 1, 2)).to.equal(3);
    expect(mulDiv(-5, 1, 2)).to.equal(-3);
    expect(mulDiv(9_007_199_254_740_991, 3, 3)).to.equal(9_007_199_254_740_991);
  });
  it('when the inputs are not safe integers, then mulDiv refuses', () => {
    expect(() => mulDiv(1.5, 1, 2)).to.throw(RangeError);
    expect(() => mulDiv(1, 1, 0)).to.throw(RangeError);
  });
  it('formats minor units as decimals, JPY without any', () => {
    expect(formatMinor(123456, 2)).to.equal('1234.56');
    expect(formatMinor(5, 2)).to.equal('0.05');
    expect(formatMinor(-5, 2)).to.equal('-0.05');
    expect(formatMinor(1500, 0)).to.equal('1500');
  });
  it('extracts the tax contained in a tax-inclusive price (GST 10%: one eleventh)', () => {
    expect(taxPortionOfInclusive(11_000, 1000)).to.equal(1000);
    expect(taxPortionOfInclusive(100, 1000)).to.equal(9);
  });
  it('when an amount is typed, then it is read in the currency\'s minor units, commas grouping thousands as the pages show them', () => {
    expect(parseAmount('61.5', 'USD')).to.equal(6150);
    expect(parseAmount('1,944.00', 'USD')).to.equal(194_400);
    expect(parseAmount('27,450', 'JPY')).to.equal(27_450);
    expect(parseAmount(' 1234567.89 ', 'USD')).to.equal(123_456_789);
    for (const bad of ['27,45', '1,9440.00', ',100', '1.234', '1e3', '0x10', '-5', '']) expect(parseAmount(bad, 'USD'), bad).to.equal(null);
    expect(parseAmount('61.5', 'JPY'), 'no decimals in yen').to.equal(null);
    expect([amountExample('USD'), amountExample('JPY')]).to.deep.equal(['61.00', '61']);
  });
});

describe('time', () => {
  it('counts day 1 from the purchase instant', () => {
    expect(dayNumber(T0, T0)).to.equal(1);
    expect(dayNumber(T0, at(0, 23))).to.equal(1);
    expect(dayNumber(T0, at(1))).to.equal(2);
    expect(dayNumber(T0, at(59, 23))).to.equal(60);
    expect(dayNumber(T0, at(60))).to.equal(61);
  });
  it('adds calendar months in UTC, clamping to the month end', () => {
    expect(addMonthsUtc(new Date('2026-01-31T00:00:00Z'), 1).toISOString()).to.equal('2026-02-28T00:00:00.000Z');
    expect(addMonthsUtc(new Date('2027-03-01T10:00:00Z'), 12).toISOString()).to.equal('2028-03-01T10:00:00.000Z');
  });
  it('names months and the month before', () => {
    expect(monthKey(new Date('2026-12-31T23:59:59Z'))).to.equal('2026-12');
    expect(previousMonthKey('2026-01')).to.equal('2025-12');
    expect(daysUntil(at(10), at(12, 1))).to.equal(3);
    expect(daysUntil(at(13), at(12))).to.equal(0);
  });
  it("gives an email's instants in its zone, to the minute, with the zone's name and its offset at that instant", () => {
    const t = new Date('2026-11-25T13:00:59Z');
    expect(zonedMinute(t, 'UTC')).to.equal('2026-11-25 13:00 UTC');
    expect(zonedMinute(t, 'Australia/Sydney')).to.equal('2026-11-26 00:00 Australia/Sydney (UTC+11:00)');
    expect(zonedMinute(new Date('2026-06-25T13:00:00Z'), 'Australia/Sydney')).to.equal('2026-06-25 23:00 Australia/Sydney (UTC+10:00)');
    expect(zonedMinute(t, 'America/St_Johns')).to.equal('2026-11-25 09:30 America/St_Johns (UTC-03:30)');
    expect(zonedMinute(t, 'Etc/GMT+5')).to.equal('2026-11-25 08:00 Etc/GMT+5 (UTC-05:00)');
  });
  it("chooses an email's zone: the one all its recipients chose, else UTC", () => {
    expect(emailTimeZone(['Europe/Berlin'])).to.equal('Europe/Berlin');
    expect(emailTimeZone(['Europe/Berlin', 'europe/berlin'])).to.equal('Europe/Berlin');
    expect(emailTimeZone(['Europe/Berlin', null])).to.equal('UTC');
    expect(emailTimeZone(['Europe/Berlin', 'Europe/Paris'])).to.equal('UTC');
    expect(emailTimeZone([])).to.equal('UTC');
    expect(emailTimeZone([null])).to.equal('UTC');
    expect(emailTimeZone(['Nowhere/Else'])).to.equal('UTC');
  });
});

describe('cancellation rules', () => {
  it('judges a cancellation at the instant the API received it: never later than the workflow takes it up, never more than the grace before; without one, now', () => {
    const now = new Date('2026-11-28T12:00:00.000Z');
    expect(cancellationInstant('2026-11-28T11:59:58.000Z', now).toISOString()).to.equal('2026-11-28T11:59:58.000Z');
    expect(cancellationInstant('2026-11-28T12:00:05.000Z', now).toISOString()).to.equal(now.toISOString()); // a clock ahead
    expect(cancellationInstant('2026-11-28T10:00:00.000Z', now).getTime()).to.equal(now.getTime() - CANCEL_REQUEST_GRACE_MS);
    expect(cancellationInstant(undefined, now).toISOString()).to.equal(now.toISOString());
    expect(cancellationInstant('not a time', now).toISOString()).to.equal(now.toISOString());
  });

  it('when it is day 59 or day 60, then a standard purchase can be cancelled without a fee', () => {
    for (const now of [at(58, 1), at(59, 1), at(59, 23)]) {
      const a = assessCancellation(order('windows-server-standard-perpetual'), now);
      expect(a.cancellable, now.toISOString()).to.equal(true);
      expect(a.reason).to.equal(null);
      expect(a.earlyTerminationFee).to.deep.equal({ amount: 0, currency: 'USD' });
    }
    expect(assessCancellation(order('windows-server-standard-perpetual'), at(59, 1)).dayOfOrder).to.equal(60);
  });
  it('when it is day 61, then the window has passed', () => {
    const a = assessCancellation(order('windows-server-standard-perpetual'), at(60, 1));
    expect(a.cancellable).to.equal(false);
    expect(a.reason!.code).to.equal('window_passed');
    expect(a.reason!.message).to.match(/60 days/);
    expect(a.daysRemaining).to.equal(0);
    expect(a.windowEndsAt).to.equal(at(60).toISOString());
  });
  it('when the window closes at exactly 60 x 24 hours, then that instant is outside it', () => {
    expect(assessCancellation(order('sql-server-standard-sub'), at(60)).cancellable).to.equal(false);
    expect(assessCancellation(order('sql-server-standard-sub'), new Date(at(60).getTime() - 1)).cancellable).to.equal(true);
  });
  it('counts the days remaining', () => {
    expect(assessCancellation(order('sql-server-standard-sub'), at(0, 1)).daysRemaining).to.equal(60);
    expect(assessCancellation(order('sql-server-standard-sub'), at(50)).daysRemaining).to.equal(10);
  });
  it('when the product is Windows 7 ESU 2020, then only a support request can cancel it', () => {
    const a = assessCancellation(order('windows-7-esu-2020'), at(1));
    expect(a.cancellable).to.equal(false);
    expect(a.reason!.code).to.equal('support_request_required');
    expect(a.supportRequest!.typeOfProblem).to.equal('CSP Purchase/Refund on behalf of customers');
  });
  it('when the purchase was imported (charged before csp-desk), then inside its window only a support request cancels it; outside, the window has passed', () => {
    const imported = { ...order('sql-server-standard-sub'), imported: true };
    const a = assessCancellation(imported, at(1));
    expect([a.cancellable, a.reason!.code, a.credit]).to.deep.equal([false, 'imported_support_request', null]);
    expect(a.supportRequest!.typeOfProblem).to.equal('CSP Purchase/Refund on behalf of customers');
    expect(assessCancellation(imported, at(60)).reason!.code).to.equal('window_passed');
    expect(assessCancellation({ ...order('suse-linux-enterprise-server-plan'), imported: true }, at(1)).reason!.code).to.equal('never_cancellable');
    expect(assessCancellation({ ...imported, imported: false }, at(1)).cancellable).to.equal(true);
  });
  it('when the product is a SUSE or Red Hat plan, then it can never be cancelled', () => {
    for (const id of ['suse-linux-enterprise-server-plan', 'red-hat-enterprise-linux-plan']) {
      const a = assessCancellation(order(id), at(0, 1));
      expect(a.reason!.code, id).to.equal('never_cancellable');
      expect(a.supportRequest).to.equal(null);
    }
  });
  it('when the order is already cancelled, then that is the reason', () => {
    expect(assessCancellation(order('windows-server-standard-perpetual', 100, 'cancelled'), at(1)).reason!.code).to.equal('already_cancelled');
  });
  it('when perpetual software is cancelled, then the credit is 100%', () => {
    const c = cancellationCredit(order('windows-server-standard-perpetual', 97_200), at(45));
    expect(c).to.include({ amount: 97_200, basis: 'full', currency: 'USD' });
  });
  it('when a 1-year subscription is cancelled on day 30, then the credit covers the 335 unused days of 365', () => {
    const c = cancellationCredit(order('sql-server-standard-sub', 180_200), at(29, 5));
    expect(c.basis).to.equal('prorated');
    expect(c.termDays).to.equal(365);
    expect(c.usedDays).to.equal(30);
    expect(c.amount).to.equal(mulDiv(180_200, 335, 365));
    expect(c.amount).to.equal(165_389);
  });
  it('what the rules credit today, as support weighs a refund: the credit within the window; nothing past it, with what it would have been', () => {
    const within = cancellationCreditToday(order('sql-server-standard-sub', 180_200), at(29, 5))!;
    expect([within.windowPassed, within.credit.amount, within.forDaysUsed]).to.deep.equal([false, 165_389, null]);
    const past = cancellationCreditToday(order('sql-server-standard-sub', 180_200), at(61))!;
    expect([past.windowPassed, past.credit.amount, past.forDaysUsed?.amount, past.forDaysUsed?.usedDays]).to.deep.equal([true, 0, mulDiv(180_200, 365 - 62, 365), 62]);
    // none for an order cancelled, or one the rules never cancel
    expect(cancellationCreditToday(order('sql-server-standard-sub', 180_200, 'cancelled'), at(1))).to.equal(null);
    expect(cancellationCreditToday(order('suse-linux-enterprise-server-plan'), at(1))).to.equal(null);
  });
  it('the window length is policy data on the product', () => {
    const p = { ...findCatalogProduct('sql-server-standard-sub')!, cancellation: { mode: 'standard-window' as const, windowDays: 30 } };
    const o = { status: 'active' as const, purchasedAt: T0.toISOString(), product: p, pricing: usd(100) };
    expect(assessCancellation(o, at(29, 1)).cancellable).to.equal(true);
    expect(assessCancellation(o, at(30, 1)).cancellable).to.equal(false);
  });
});

describe("a credit's tax where prices include tax (AU, BR)", () => {
  // every product a partner cancels with a credit, in both tax-inclusive markets, at several quantities and days
  const credited = CATALOG.filter((p) => p.cancellation.mode === 'standard-window');
  const cases = credited.flatMap((p) => ['AU', 'BR'].flatMap((market) => [1, 2, 3, 5, 7, 10].map((quantity) => ({ p, market, quantity }))));
  const inclusiveOrder = (p: (typeof CATALOG)[number], market: string, quantity: number): CancellableOrder => ({
    status: 'active', purchasedAt: T0.toISOString(), product: p, pricing: priceOrder(p, market, quantity),
  });

  it("a partner's cancellation: the charge's tax less the credit's is the tax contained in what is kept, rounded once; the credit's amount is the rule's", () => {
    expect(cases.length).to.be.greaterThan(35);
    let checked = 0;
    for (const { p, market, quantity } of cases) {
      const o = inclusiveOrder(p, market, quantity);
      const { total, tax } = o.pricing;
      for (const [days, hours] of [[0, 1], [0, 23], [1, 0], [9, 3], [29, 5], [59, 23]]) {
        const c = cancellationCredit(o, at(days, hours));
        const label = `${p.id} ×${quantity} ${market} day ${days + 1}`;
        // the credit's amount is unchanged: 100%, or the unused days' share
        expect(c.amount, label).to.equal(c.basis === 'full' ? total : mulDiv(total, c.termDays! - c.usedDays!, c.termDays!));
        expect(tax.amount! - c.taxAmount!, label).to.equal(taxPortionOfInclusive(total - c.amount, tax.rateBps!));
        checked++;
      }
    }
    expect(checked).to.equal(cases.length * 6);
  });

  it('the cases QA reported: BR azure-ri-vm-1y ×1 and AU windows-server-standard-sub ×2, cancelled on day 1', () => {
    const br = inclusiveOrder(findCatalogProduct('azure-ri-vm-1y')!, 'BR', 1);
    const brCredit = cancellationCredit(br, at(0, 1));
    expect([br.pricing.total, br.pricing.tax.amount, brCredit.amount]).to.deep.equal([438_000, 54_630, 436_800]);
    // R$12.00 kept contains R$1.4967 of tax: R$1.50 stays on the invoice, not R$1.49
    expect(brCredit.taxAmount).to.equal(54_630 - 150);
    const au = inclusiveOrder(findCatalogProduct('windows-server-standard-sub')!, 'AU', 2);
    const auCredit = cancellationCredit(au, at(0, 1));
    expect(au.pricing.total - auCredit.amount).to.equal(304);
    // A$3.04 kept contains 27.6 cents: 28 stay on the invoice
    expect(au.pricing.tax.amount! - auCredit.taxAmount!).to.equal(28);
  });

  it("a support refund: the same rule for any amount approved, and a full refund credits exactly the charge's tax", () => {
    for (const { p, market, quantity } of cases) {
      const o = inclusiveOrder(p, market, quantity);
      const { total, tax } = o.pricing;
      for (const amount of [total, total - 1, total - 7, mulDiv(total, 1, 3), mulDiv(total, 2, 3), 1_001, 1, 0]) {
        const c = supportRefundCredit(o, amount);
        const label = `${p.id} ×${quantity} ${market} refund ${amount}`;
        expect(c.amount, label).to.equal(amount);
        expect(tax.amount! - c.taxAmount!, label).to.equal(taxPortionOfInclusive(total - amount, tax.rateBps!));
      }
      expect(supportRefundCredit(o, total).taxAmount, p.id).to.equal(tax.amount);
      expect(supportRefundCredit(o, 0).taxAmount, p.id).to.equal(0);
    }
  });

  it('where prices exclude tax, a credit carries none', () => {
    const o = { ...order('sql-server-standard-sub', 180_200) };
    expect(cancellationCredit(o, at(29)).taxAmount).to.equal(null);
    expect(supportRefundCredit(o, 1_000).taxAmount).to.equal(null);
    expect(creditTax(priceOrder(findCatalogProduct('sql-server-standard-sub')!, 'US', 1), 100)).to.equal(null);
  });
});

describe('catalog, markets and pricing', () => {
  it('has the products the document names, with prices in every currency as integers', () => {
    const kinds = new Set(CATALOG.map((p) => p.kind));
    expect([...kinds]).to.have.members(['azure-reservation', 'server-subscription', 'perpetual-software', 'extended-security-update', 'linux-software-plan']);
    for (const p of CATALOG) for (const c of PRICE_CURRENCIES) expect(Number.isSafeInteger(p.prices[c]), `${p.id} ${c}`).to.equal(true);
    expect(CATALOG.filter((p) => p.kind === 'azure-reservation').map((p) => p.billing)).to.deep.equal([{ type: 'subscription', termMonths: 12 }, { type: 'subscription', termMonths: 36 }]);
  });
  it('when the customer is in Australia or Brazil, then the price includes tax and shows it', () => {
    const p = findCatalogProduct('windows-server-standard-sub')!;
    const au = priceOrder(p, 'AU', 2);
    expect(au.currency).to.equal('AUD');
    expect(au.total).to.equal(p.prices.AUD * 2);
    expect(au.tax).to.deep.equal({ treatment: 'inclusive', rateBps: 1000, amount: taxPortionOfInclusive(au.total, 1000) });
    expect(priceOrder(p, 'BR', 1).tax.treatment).to.equal('inclusive');
    expect(priceOrder(p, 'US', 1).tax).to.deep.equal({ treatment: 'exclusive', rateBps: null, amount: null });
    expect(priceOrder(p, 'DE', 1).currency).to.equal('EUR');
  });
  it('when the market is on the document list, then Azure reservations are refused and other products are not', () => {
    const ri = findCatalogProduct('azure-ri-vm-1y')!;
    const refusal = checkMarket(ri, 'BQ');
    expect(refusal!.code).to.equal('market_unavailable');
    expect(refusal!.message).to.contain('BQ').and.contain('Saba');
    expect(checkMarket(ri, 'US')).to.equal(null);
    expect(checkMarket(findCatalogProduct('windows-server-standard-sub')!, 'BQ')).to.equal(null);
  });
});

describe('invoice totals', () => {
  it('sums charges and credits per currency with the tax included', () => {
    const inclusive = { treatment: 'inclusive' as const, rateBps: 1000, amount: 100 };
    const exclusive = { treatment: 'exclusive' as const, rateBps: null, amount: null };
    const totals = summarizeInvoice([
      { kind: 'charge', amount: 1100, currency: 'AUD', tax: inclusive },
      { kind: 'credit', amount: -550, currency: 'AUD', tax: { ...inclusive, amount: 50 } },
      { kind: 'charge', amount: 999, currency: 'USD', tax: exclusive },
    ]);
    expect(totals).to.deep.equal([
      { currency: 'AUD', charges: 1100, credits: -550, net: 550, taxIncluded: 50, taxExcludedNet: 0, taxInclusive: true },
      { currency: 'USD', charges: 999, credits: 0, net: 999, taxIncluded: 0, taxExcludedNet: 999, taxInclusive: false },
    ]);
    // refunded to zero, each keeps its treatment: BRL includes R$0.00 of tax, USD still excludes tax
    const refunded = summarizeInvoice([
      { kind: 'charge', amount: 1100, currency: 'BRL', tax: inclusive },
      { kind: 'credit', amount: -1100, currency: 'BRL', tax: inclusive },
      { kind: 'charge', amount: 999, currency: 'USD', tax: exclusive },
      { kind: 'credit', amount: -999, currency: 'USD', tax: exclusive },
    ]);
    expect(refunded.map((t) => [t.currency, t.taxIncluded, t.taxExcludedNet, t.taxInclusive])).to.deep.equal([
      ['BRL', 0, 0, true],
      ['USD', 0, 0, false],
    ]);
  });
});

describe("an invoice line's tax", () => {
  it('has the sign of its amount, whichever sign the ledger line stores it with', () => {
    const inclusive = { treatment: 'inclusive' as const, rateBps: 1000, amount: 50 };
    expect(lineTax({ amount: -550, tax: inclusive })).to.deep.equal({ ...inclusive, amount: -50 });
    expect(lineTax({ amount: -550, tax: { ...inclusive, amount: -50 } })).to.deep.equal({ ...inclusive, amount: -50 });
    expect(lineTax({ amount: 550, tax: inclusive })).to.deep.equal(inclusive);
    expect(Object.is(lineTax({ amount: -1, tax: { ...inclusive, amount: 0 } }).amount, 0)).to.equal(true);
    expect(lineTax({ amount: -999, tax: { treatment: 'exclusive', rateBps: null, amount: null } }).amount).to.equal(null);
  });
});

describe('which months a run may close', () => {
  it('a month that has ended, always; this one, only early; one not begun or not a month, never (not even early)', () => {
    expect(invoiceCloseRefusal('2026-10', '2026-11', false)).to.equal(null);
    expect(invoiceCloseRefusal('2026-11', '2026-11', true)).to.equal(null);
    expect(invoiceCloseRefusal('2026-11', '2026-11', false)?.code).to.equal('month_not_ended');
    for (const early of [false, true]) {
      expect(invoiceCloseRefusal('2026-12', '2026-11', early)?.code).to.equal('month_not_begun');
      for (const wrong of ['2025-1', '2026-13', '2026-00', 'november', '2026-11-01']) expect(invoiceCloseRefusal(wrong, '2026-11', early)?.code, wrong).to.equal('invalid_month');
    }
    expect(invoiceCloseRefusal('2027-01', '2026-12', true)!.message).to.equal('month 2027-01 has not begun (this month is 2026-12): a month is closed once it ends, or early from within it');
  });
});

describe('which months have an invoice', () => {
  const at = { currentMonth: '2026-11', firstMonth: '2026-03', closed: false, lines: 0 };
  it('from the partner\'s first month to this one: an invoice (open when not closed)', () => {
    for (const m of ['2026-03', '2026-07', '2026-11']) expect(noInvoiceReason(m, at), m).to.equal(null);
  });
  it('a month not begun, or before the partner: none, saying why', () => {
    expect(noInvoiceReason('2026-12', at)).to.include('has not begun').and.include('2026-11');
    expect(noInvoiceReason('2026-02', at)).to.include("before the partner's first month, 2026-03");
    // this month closed early: the next one is open (an empty invoice), the one after has not begun
    expect(noInvoiceReason('2026-12', { ...at, openMonth: '2026-12' })).to.equal(null);
    expect(noInvoiceReason('2027-01', { ...at, openMonth: '2026-12' })).to.equal('the month has not begun (this month is 2026-11; closed early, the open invoice is 2026-12)');
  });
  it('a month closed or with lines always has one', () => {
    expect(noInvoiceReason('2026-12', { ...at, lines: 1 })).to.equal(null);
    expect(noInvoiceReason('2025-01', { ...at, closed: true })).to.equal(null);
  });
});

describe('order email recipients', () => {
  const order = { notify: ['billing@p.example', 'Sam@p.example'], placedBy: { email: 'sam@p.example' }, cancellation: null };
  const by = (email: string, role: string) => ({ ...order, cancellation: { by: { email, role } } });
  it('when an order is confirmed, then its notice list gets it', () => {
    expect(orderEmailRecipients('confirmation', order, 'billing@p.example')).to.deep.equal(['billing@p.example', 'Sam@p.example']);
  });
  it('when a partner user cancels, then they get the cancellation too (once, whatever the case)', () => {
    expect(orderEmailRecipients('cancellation', by('kim@p.example', 'admin-agent'), null)).to.deep.equal(['billing@p.example', 'Sam@p.example', 'kim@p.example']);
    expect(orderEmailRecipients('cancellation', by('SAM@p.example', 'admin-agent'), null)).to.deep.equal(['billing@p.example', 'Sam@p.example']);
  });
  it('when a support agent\'s refund cancels, then only the partner\'s list gets it; an order without a list goes to the partner', () => {
    expect(orderEmailRecipients('cancellation', by('ada@support.example', 'support-agent'), null)).to.deep.equal(['billing@p.example', 'Sam@p.example']);
    expect(orderEmailRecipients('confirmation', { ...order, notify: [] }, 'billing@p.example')).to.deep.equal(['billing@p.example']);
  });
});

describe("an order's timeline: complete for its state", () => {
  const t = new Date('2026-10-01T10:00:00Z');
  const windowEnds = new Date(t.getTime() + 60 * DAY_MS);
  const placed = { imported: false, paidAt: null, provisionedAt: null, windowEndsAt: windowEnds, windowClosedAt: null, expiredAt: null, cancellation: null };
  const active = { ...placed, paidAt: t, provisionedAt: t };
  const day = (n: number) => new Date(t.getTime() + n * DAY_MS);
  const confirmed = ['placed', 'paid', 'provisioned', 'email-confirmation'];
  it('when an order is provisioned, then it is at the instant its workflow did it; an imported one at its purchase date', () => {
    const bought = '2026-08-02T09:30:00.000Z';
    expect(provisionedInstant({ imported: false, purchasedAt: bought }, t)).to.deep.equal(t);
    expect(provisionedInstant({ imported: true, purchasedAt: bought }, t)).to.deep.equal(new Date(bought));
  });
  it('when a charged order is active, then its confirmation email is part of its timeline; an imported one has none', () => {
    expect(impliedTimelineKeys(active, day(1), 7)).to.deep.equal(confirmed);
    expect(timelineCompleteUntil(active, ['placed', 'paid', 'provisioned'], day(1), 7)).to.equal(null);
    expect(timelineCompleteUntil({ ...active, imported: true }, ['placed', 'paid', 'provisioned'], day(1), 7)).to.not.equal(null);
  });
  it('when the reminder is still to come, then a complete timeline is complete only until it is due; once due, the reminder is implied', () => {
    const due = day(53).getTime();
    expect(timelineCompleteUntil(active, confirmed, day(1), 7)).to.equal(due);
    expect(timelineCompleteUntil(active, confirmed, new Date(due - 1000), 7)).to.equal(due);
    expect(timelineCompleteUntil(active, confirmed, new Date(due), 7)).to.equal(null);
    expect(timelineCompleteUntil(active, [...confirmed, 'email-reminder'], new Date(due), 7)).to.equal(Infinity);
    // no reminder configured, or the window closed: nothing is due
    expect(timelineCompleteUntil(active, confirmed, day(55), 0)).to.equal(Infinity);
    expect(timelineCompleteUntil({ ...active, windowClosedAt: day(60) }, [...confirmed, 'window-closed'], day(61), 7)).to.equal(Infinity);
  });
  it('when an order is imported inside its reminder period, then its reminder (sent at once) is implied as soon as it is provisioned', () => {
    const imported = { ...active, imported: true, windowEndsAt: day(5) };
    expect(impliedTimelineKeys(imported, day(0), 7)).to.deep.equal(['placed', 'paid', 'provisioned', 'email-reminder']);
    expect(timelineCompleteUntil(imported, ['placed', 'paid', 'provisioned'], day(0), 7)).to.equal(null);
  });
  it('when an order is cancelled, then the revocation, the credit, the cancellation and its email are implied, and no reminder', () => {
    const cancelled = { ...active, cancellation: { at: day(55) } };
    const done = [...confirmed, 'revoked', 'credit', 'cancelled'];
    expect(timelineCompleteUntil(cancelled, done, day(56), 7)).to.equal(null);
    expect(timelineCompleteUntil(cancelled, [...done, 'email-cancellation'], day(56), 7)).to.equal(Infinity);
  });
  it('when the window closed and the term ended, then their entries are implied', () => {
    const ended = { ...active, windowClosedAt: day(60), expiredAt: day(365) };
    const all = [...confirmed, 'email-reminder', 'window-closed', 'term-revoked', 'term-ended'];
    expect(timelineCompleteUntil(ended, all.slice(0, -1), day(366), 7)).to.equal(null);
    expect(timelineCompleteUntil(ended, all, day(366), 7)).to.equal(Infinity);
  });
});

describe('names compared', () => {
  it('a name is the same name trimmed, in any letter case, precomposed or with combining marks', () => {
    expect(nameKey('  Müller GmbH ')).to.equal('müller gmbh');
    expect(nameKey('MU\u0308LLER GMBH')).to.equal(nameKey('Müller GmbH'));
    expect(nameKey('Mu\u0308ller')).to.have.length('müller'.length);
    expect(nameKey('Muller')).to.not.equal(nameKey('Müller'));
  });
});

describe('header text kept (user agents)', () => {
  // Node reads a header's bytes as Latin-1: what a client sent as UTF-8 arrives one character per byte
  const asSent = (utf8: string) => Buffer.from(utf8, 'utf8').toString('latin1');
  it('when a user agent is sent in UTF-8, then it is kept as the text it is; bytes that are not UTF-8 are kept as Latin-1', () => {
    expect(headerText('Mozilla/5.0 (X11; Linux x86_64)', 512)).to.equal('Mozilla/5.0 (X11; Linux x86_64)');
    expect(headerText(asSent('Fünf-Browser/1.0 (Ω; 日本)'), 512)).to.equal('Fünf-Browser/1.0 (Ω; 日本)');
    expect(headerText('caf\u00e9-client/1.0', 512)).to.equal('café-client/1.0');
    expect(headerText(undefined, 512)).to.equal(null);
  });
  it('when a user agent holds control characters (C0, DEL, C1, text-direction; sent raw or in UTF-8), then each is shown as U+FFFD', () => {
    expect(headerText('a\u0085b\u007fc\u0001d\td', 512)).to.equal('a\ufffdb\ufffdc\ufffdd\ufffdd');
    expect(headerText(asSent('ü\u009b31m'), 512)).to.equal('ü\ufffd31m');
    expect(headerText(asSent('agent \u202egnp.exe'), 512), 'a text-direction override').to.equal('agent \ufffdgnp.exe');
  });
  it('when a user agent is longer than kept, then it is cut without splitting a character', () => {
    expect(headerText('x'.repeat(600), 512)).to.have.length(512);
    expect(headerText(asSent(`${'x'.repeat(511)}😀`), 512)).to.equal('x'.repeat(511));
    expect(headerText(asSent(`${'x'.repeat(510)}😀`), 512)).to.equal(`${'x'.repeat(510)}😀`);
  });
});

describe('imported purchase dates', () => {
  it('when a date is from 2000-01-01 UTC to now, then it is taken; before, after or not an instant, then it says why', () => {
    const now = new Date('2026-11-26T10:00:00Z');
    expect(importedPurchaseProblem(new Date('2000-01-01T00:00:00Z'), now)).to.equal(null);
    expect(importedPurchaseProblem(now, now)).to.equal(null);
    expect(importedPurchaseProblem(new Date('1999-12-31T23:59:59Z'), now)).to.equal('is before 2000-01-01T00:00:00Z (UTC): it is 1999-12-31T23:59:59Z');
    // the year typed is 2000, the instant is not (QA: "check the year" said nothing of the offset)
    expect(importedPurchaseProblem(new Date('2000-01-01T00:30:00+01:00'), now)).to.equal('is before 2000-01-01T00:00:00Z (UTC): it is 1999-12-31T23:30:00Z');
    expect(importedPurchaseProblem(new Date('0408-02-07T15:34:03.6Z'), now)).to.equal('is before 2000-01-01T00:00:00Z (UTC): it is 0408-02-07T15:34:03.600Z');
    expect(importedPurchaseProblem(new Date('2026-11-26T10:00:01Z'), now)).to.equal('is in the future');
    expect(importedPurchaseProblem(new Date('nonsense'), now)).to.equal('is not a representable instant');
  });
});

describe('imported order ids', () => {
  it('when several calls import one purchase, then only the one whose key the recorded order carries imported it; the others found it', () => {
    expect(importFound({ importKey: 'k1' }, 'k1')).to.equal('imported');
    expect(importFound({ importKey: 'k1' }, 'k2')).to.equal('exists');
    // an order recorded without a key (by a workflow started before keys were kept): found, never imported twice
    expect(importFound({}, 'k2')).to.equal('exists');
  });
  it("when partners import original ids, then each (partner, id) has one csp-desk id of its own, the same every time, a UUID the API's order paths take", () => {
    const a = importedOrderId('partner-a', 'ORD-1');
    expect(a).to.equal(importedOrderId('partner-a', 'ORD-1'));
    expect(a).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a).to.match(new RegExp(ORDER_ID_PATTERN));
    expect(importedOrderId('partner-b', 'ORD-1')).to.not.equal(a);
    expect(importedOrderId('partner-a', 'ORD-2')).to.not.equal(a);
    // the two parts are kept apart: ('p', 'ab') is not ('pa', 'b')
    expect(importedOrderId('p', 'ab')).to.not.equal(importedOrderId('pa', 'b'));
    // fixed namespace: a stored order keeps being found by its original id
    expect(a).to.equal('5129354a-4f75-5075-a29f-9687ff045550');
  });

  it('when an original id names an order already, then the same purchase exists, other contents or another customer are a conflict', () => {
    const order = { customerId: 'c1', customerName: 'Contoso', productId: 'p1', quantity: 2, purchasedAt: new Date('2026-01-02T03:04:05Z'), unitPrice: 97_200, currency: 'USD' };
    const item = { orderId: 'ORD-1', productId: 'p1', quantity: 2, purchasedAt: '2026-01-02T04:04:05+01:00' };
    expect(importOutcome(order, item, 'c1', 'exists')).to.deep.equal({ outcome: 'exists', message: 'already imported' });
    expect(importOutcome(order, item, 'c1', 'imported')).to.deep.equal({ outcome: 'imported', message: 'imported' });
    expect(importOutcome(order, { ...item, quantity: 3 }, 'c1', 'exists')).to.deep.equal({ outcome: 'conflict', message: 'already imported with other contents (p1 × 2 at $972.00 each, bought 2026-01-02T03:04:05.000Z): nothing changed' });
    // the unit price it was bought at: the same one given again exists; another is a conflict
    expect(importOutcome(order, { ...item, unitPrice: { amount: 97_200, currency: 'USD' } }, 'c1', 'exists').outcome).to.equal('exists');
    expect(importOutcome(order, { ...item, unitPrice: { amount: 90_000, currency: 'USD' } }, 'c1', 'exists').outcome).to.equal('conflict');
    // two imports at once with other contents: the one recorded first stands, the other is told
    expect(importOutcome(order, { ...item, purchasedAt: '2026-01-02T03:04:06Z' }, 'c1', 'imported').outcome).to.equal('conflict');
    expect(importOutcome(order, item, 'c2', 'exists')).to.deep.equal({ outcome: 'conflict', message: 'this order id is already imported for another of your customers (Contoso): nothing changed' });
  });
});

describe('order timeline', () => {
  it('when events carry the same instant, then they read in the order of the order\'s life; else by time', () => {
    const at = new Date('2026-11-26T10:00:00Z');
    const later = new Date('2026-11-26T10:00:01Z');
    const events = [
      { _id: 'o:email-confirmation', type: 'email-sent', at: later },
      { _id: 'o:provisioned', type: 'provisioned', at },
      { _id: 'o:paid', type: 'payment-recorded', at },
      { _id: 'o:placed', type: 'placed', at },
      { _id: 'o:cancelled', type: 'cancelled', at: later },
      { _id: 'o:credit', type: 'credit-recorded', at: later },
      { _id: 'o:revoked', type: 'keys-and-links-revoked', at: later },
    ];
    expect([...events].sort(timelineOrder).map((e) => e.type)).to.deep.equal(['placed', 'payment-recorded', 'provisioned', 'keys-and-links-revoked', 'credit-recorded', 'cancelled', 'email-sent']);
  });
});

describe('which role a user may be given', () => {
  it('another on the same side; one of the other side, or none there is, refused saying why', () => {
    expect(roleChangeRefusal('sales-agent', 'global-admin', 'p1')).to.equal(null);
    expect(roleChangeRefusal('support-agent', 'support-lead', null)).to.equal(null);
    expect(roleChangeRefusal('global-admin', 'support-agent', 'p1')).to.equal("is global-admin, a role of partner p1; support-agent is a support role: that needs a user of its own (npm run users -- create)");
    expect(roleChangeRefusal('support-lead', 'admin-agent', null)).to.equal("is support-lead, a support role; admin-agent is a partner's role: that needs a user of its own (npm run users -- create)");
    expect(roleChangeRefusal('sales-agent', 'owner', 'p1')).to.match(/^unknown role owner; one of: /);
  });
});
