/**
 * Cancelling, importing, the software list and invoices, end to end against the real servers
 * (Temporal dev server, FerretDB or MongoDB, SMTP). The 60-day boundaries themselves are proven in
 * workflows.order.test.ts with time skipping; here a window is "passed" by importing an old purchase.
 */
import crypto from 'node:crypto';
import { expect } from 'chai';
import { importedOrderId } from '../domain/order-imports';
import { ActivationKey, Customer, Invoice, LedgerLine, Order, User } from '../models';
import { createOrderService } from '../services/orders';
import type { AuthContext } from '../services/context';
import { DAY_MS, monthKey, monthName, nextMonthKey, previousMonthKey } from '../domain/time';
import { mulDiv, taxPortionOfInclusive } from '../domain/money';
import { cancellationCredit, SUPPORT_REQUEST_PROBLEM_TYPE } from '../domain/cancellation';
import { findCatalogProduct } from '../domain/catalog';
import { ensureInvoiceSchedule } from '../composition/root';
import { ensurePartner, ensureUser, issueToken } from '../services/users';
import { CURSOR_PATTERN } from '../api/schemas';
import { getTestApp, placeOrder, uniq, waitFor, type TestApp } from './support/app';

const ack = { acknowledged: true };

describe('cancelling, importing and invoicing (real servers)', function () {
  this.timeout(120_000);
  let app: TestApp;
  before(async () => {
    app = await getTestApp();
  });

  /** The order's lines as the API shows them, from every month its ledger lines landed in (a run may straddle a month's end). */
  async function invoiceLinesOf(orderId: string, token: string) {
    const months = [...new Set((await LedgerLine.find({ orderId }).lean()).map((l) => l.invoiceMonth))].sort();
    const out: { kind: string; amount: number; month: string; tax: { amount: number | null } }[] = [];
    for (const month of months) {
      const res = await app.api('GET', `/invoices/${month}`, { token });
      expect(res.status).to.equal(200);
      for (const l of res.body.lines.filter((x: { orderId: string }) => x.orderId === orderId)) out.push({ ...l, month });
    }
    return out;
  }

  const cancelBody = (customer: { name: string }, productName: string) => ({ customer: customer.name, productName, ...ack });
  const importOne = (customerId: string, productId: string, daysAgo: number, token = app.tokens['global-admin']) =>
    app.api('POST', `/customers/${customerId}/orders/import`, {
      token,
      body: { orders: [{ orderId: uniq('IMP'), productId, quantity: 1, purchasedAt: new Date(Date.now() - daysAgo * DAY_MS).toISOString() }] },
    });

  describe('customers', () => {
    it('when a customer is named by id, name, tenant GUID or domain name, then each finds it', async () => {
      const c = await app.newCustomer('AU');
      for (const ref of [c.id, c.name, c.name.toUpperCase(), c.tenantId, c.tenantId.toUpperCase(), c.domain]) {
        const res = await app.api('GET', `/customers/${encodeURIComponent(ref)}`);
        expect(res.status, ref).to.equal(200);
        expect(res.body).to.include({ id: c.id, market: 'AU', currency: 'AUD', marketName: 'Australia' });
      }
      const list = await app.api('GET', '/customers', { token: app.tokens['account-admin'] });
      expect(list.body.map((x: { id: string }) => x.id)).to.include(c.id);
    });
    it('when customers and orders are read a page at a time, then the pages follow the Link header through every item once, in order', async () => {
      const walk = async (first: string) => {
        const seen: string[] = [];
        let next: string | null = first;
        let pages = 0;
        while (next) {
          const res: { status: number; body: { id: string }[]; headers: Headers } = await app.api('GET', next);
          expect(res.status, next).to.equal(200);
          seen.push(...res.body.map((x) => x.id));
          pages += 1;
          next = /^<([^>]+)>; rel="next"$/.exec(res.headers.get('link') ?? '')?.[1] ?? null;
          // the cursor given out is in the alphabet the OpenAPI document states
          if (next) expect(new URL(next, app.baseUrl).searchParams.get('cursor'), next).to.match(new RegExp(CURSOR_PATTERN));
        }
        return { seen, pages };
      };
      for (let i = 0; i < 5; i++) await app.newCustomer('US');
      const all = (await app.api('GET', '/customers')).body.map((x: { id: string }) => x.id);
      expect(all.length).to.be.at.least(5);
      const customers = await walk('/customers?limit=2');
      expect(customers.seen).to.deep.equal(all);
      expect(customers.pages).to.equal(Math.ceil(all.length / 2));
      // orders newest first; two bought at the same instant are told apart by id, across a page's end
      const c = await app.newCustomer('US');
      const at = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY_MS).toISOString();
      const items = [65, 80, 80, 90, 95].map((d, i) => ({ orderId: uniq(`PG${i}`), productId: 'windows-server-standard-perpetual', quantity: 1, purchasedAt: at(d) }));
      items[2].purchasedAt = items[1].purchasedAt;
      const imported = await app.api('POST', `/customers/${c.id}/orders/import`, { token: app.tokens['global-admin'], body: { orders: items } });
      expect(imported.status).to.equal(200);
      const idOf = new Map<string, string>(imported.body.results.map((r: { orderId: string; id: string }) => [r.orderId, r.id]));
      const expected = [...items].sort((a, b) => b.purchasedAt.localeCompare(a.purchasedAt) || (idOf.get(a.orderId)! < idOf.get(b.orderId)! ? -1 : 1)).map((o) => idOf.get(o.orderId));
      expect((await app.api('GET', `/customers/${c.id}/orders`)).body.map((o: { id: string }) => o.id)).to.deep.equal(expected);
      const orders = await walk(`/customers/${c.id}/orders?limit=2`);
      expect(orders.seen).to.deep.equal(expected);
      expect(orders.pages).to.equal(3);
      // a cursor the API did not give out, a limit out of range: 400 naming the parameter
      expect((await app.api('GET', '/customers?cursor=bm9wZQ')).body.error.field).to.equal('query.cursor');
      // a cursor of one list on another is refused too, never a page of the wrong list (QA: one customer's orders
      // cursor gave another customer's orders cut at its date, and the customers cut at a date as if a name)
      const nextCursor = async (path: string) => new URL(/^<([^>]+)>; rel="next"$/.exec((await app.api('GET', path)).headers.get('link') ?? '')![1], app.baseUrl).searchParams.get('cursor')!;
      const ordersCursor = await nextCursor(`/customers/${c.id}/orders?limit=1`);
      const other = await app.newCustomer('US');
      for (const path of [`/customers?limit=2&cursor=${ordersCursor}`, `/customers/${other.id}/orders?limit=2&cursor=${ordersCursor}`, `/activity-log?limit=2&cursor=${ordersCursor}`]) {
        const res = await app.api('GET', path, { token: app.tokens['account-admin'] });
        expect([res.status, res.body.error?.field], path).to.deep.equal([400, 'query.cursor']);
      }
      // a name of 200 characters of 4 bytes each (its key is in the cursor): the list is paged past it (review)
      const longName = `${'😀'.repeat(190)}${crypto.randomBytes(5).toString('hex')}`;
      const long = await app.api('POST', '/customers', { body: { name: longName, tenantId: crypto.randomUUID(), domain: `${uniq('long')}.example.com`, market: 'US' } });
      expect(long.status, JSON.stringify(long.body)).to.equal(201);
      // and one after it by name, so that there is a page past it
      expect((await app.api('POST', '/customers', { body: { name: `😁 ${uniq('after')}`, tenantId: crypto.randomUUID(), domain: `${uniq('after')}.example.com`, market: 'US' } })).status).to.equal(201);
      const everyone = (await app.api('GET', '/customers')).body as { id: string }[];
      const longAt = everyone.findIndex((x) => x.id === long.body.id);
      const pastIt = await nextCursor(`/customers?limit=${longAt + 1}`);
      expect(pastIt.length).to.be.above(1000);
      const afterIt = await app.api('GET', `/customers?limit=1&cursor=${pastIt}`);
      expect(afterIt.status, JSON.stringify(afterIt.body)).to.equal(200);
      expect(afterIt.body[0].id).to.equal(everyone[longAt + 1].id);
      const customersCursor = await nextCursor('/customers?limit=1');
      expect((await app.api('GET', `/customers/${c.id}/orders?limit=2&cursor=${customersCursor}`)).body.error?.field).to.equal('query.cursor');
      expect((await app.api('GET', `/customers?limit=1&cursor=${customersCursor}`)).status).to.equal(200);
      // and of another partner's customers (QA, the activity log's cursor: a point in the caller's list answered it)
      for (let i = 0; i < 2; i++) {
        const made = await app.api('POST', '/customers', { token: app.otherTokens['admin-agent'], body: { name: uniq('Theirs'), tenantId: crypto.randomUUID(), domain: `${uniq('theirs')}.example.com`, market: 'US' } });
        expect(made.status).to.equal(201);
      }
      const theirs = await app.api('GET', '/customers?limit=1', { token: app.otherTokens['admin-agent'] });
      const theirCursor = new URL(/^<([^>]+)>; rel="next"$/.exec(theirs.headers.get('link') ?? '')![1], app.baseUrl).searchParams.get('cursor')!;
      expect((await app.api('GET', `/customers?limit=1&cursor=${theirCursor}`)).body.error?.field).to.equal('query.cursor');
      // one outside the alphabet the OpenAPI document states (base64url): refused by the schema, saying so
      const outside = await app.api('GET', '/customers?cursor=bm9%2BwZQ%3D%3D');
      expect([outside.status, outside.body.error.field, outside.body.error.message]).to.deep.equal([400, 'query.cursor', 'query.cursor must be a cursor this API gave out (base64url: letters, digits, - and _)']);
      expect((await app.api('GET', '/customers?limit=501')).body.error.field).to.equal('query.limit');
    });

    it('when the input is bad or clashes (a name too, once composed and lower-cased), then 400 or 409 naming the field, and nothing is written', async () => {
      const c = await app.newCustomer('US');
      const before = await Customer.countDocuments({ partnerId: app.partnerId });
      const bad = await app.api('POST', '/customers', { body: { name: 'X', tenantId: 'not-a-guid', domain: 'x.example.com', market: 'US' } });
      expect(bad.status).to.equal(400);
      expect(bad.body.error.field).to.equal('body.tenantId');
      const market = await app.api('POST', '/customers', { body: { name: uniq('M'), tenantId: crypto.randomUUID(), domain: `${uniq('m')}.example.com`, market: 'ZZ' } });
      expect(market.status).to.equal(400);
      expect(market.body.error.field).to.equal('body.market');
      const dup = await app.api('POST', '/customers', { body: { name: uniq('D'), tenantId: c.tenantId, domain: `${uniq('d')}.example.com`, market: 'US' } });
      expect(dup.status).to.equal(409);
      expect(dup.body.error).to.include({ code: 'customer_exists', field: 'body.tenantId' });
      // a name that is another customer's domain (or a domain that is another's name) would hide one of them
      const shadowing = await app.api('POST', '/customers', { body: { name: c.domain.toUpperCase(), tenantId: crypto.randomUUID(), domain: `${uniq('s')}.example.com`, market: 'US' } });
      expect([shadowing.status, shadowing.body.error.code, shadowing.body.error.field]).to.deep.equal([409, 'customer_name_ambiguous', 'body.name']);
      const dotted = `${uniq('named')}.example.com`.toLowerCase();
      const created = await app.api('POST', '/customers', { body: { name: dotted, tenantId: crypto.randomUUID(), domain: `${uniq('n')}.example.com`, market: 'US' } });
      expect(created.status).to.equal(201);
      expect(created.headers.get('location')).to.equal(`/customers/${created.body.id}`);
      const shadowed = await app.api('POST', '/customers', { body: { name: uniq('S'), tenantId: crypto.randomUUID(), domain: dotted, market: 'US' } });
      expect([shadowed.status, shadowed.body.error.code, shadowed.body.error.field]).to.deep.equal([409, 'customer_name_ambiguous', 'body.domain']);
      // nor may a name or a tenant GUID be another customer's id, which wins the lookup (QA: the new customer's orders
      // would have gone to the other), in any letter case
      const idName = await app.api('POST', '/customers', { body: { name: c.id.toUpperCase(), tenantId: crypto.randomUUID(), domain: `${uniq('i')}.example.com`, market: 'US' } });
      expect([idName.status, idName.body.error.code, idName.body.error.field]).to.deep.equal([409, 'customer_name_ambiguous', 'body.name']);
      const idTenant = await app.api('POST', '/customers', { body: { name: uniq('T'), tenantId: c.id, domain: `${uniq('t')}.example.com`, market: 'US' } });
      expect([idTenant.status, idTenant.body.error.code, idTenant.body.error.field]).to.deep.equal([409, 'customer_name_ambiguous', 'body.tenantId']);
      expect(idTenant.body.error.message).to.include(`csp-desk's id of customer ${c.name}`);
      expect((await app.api('GET', `/customers/${c.id}`)).body.id).to.equal(c.id);
      const forbidden = await app.api('POST', '/customers', { token: app.tokens['referral-admin'], body: { name: uniq('F'), tenantId: crypto.randomUUID(), domain: `${uniq('f')}.example.com`, market: 'US' } });
      expect(forbidden.status).to.equal(403);
      // inputs that once reached the database as a 500: a blank name, a NUL character
      const blank = await app.api('POST', '/customers', { body: { name: '   ', tenantId: crypto.randomUUID(), domain: `${uniq('b')}.example.com`, market: 'US' } });
      expect(blank.status).to.equal(400);
      expect(blank.body.error.field).to.equal('body.name');
      const nul = await app.api('POST', '/customers', { body: { name: 'Bad\u0000Name', tenantId: crypto.randomUUID(), domain: `${uniq('n')}.example.com`, market: 'US' } });
      expect(nul.status).to.equal(400);
      expect(nul.body.error.field).to.equal('body.name');
      const nulPath = await app.api('GET', '/orders/%00abc');
      expect(nulPath.status).to.equal(400);
      expect(nulPath.body.error.field).to.equal('path.id');
      // a name that is another's once composed (NFC) and lower-cased: "Müller" with a combining diaeresis is "MÜLLER"
      const composed = `M\u00fcller ${uniq('GmbH')}`;
      const mueller = await app.api('POST', '/customers', { body: { name: composed, tenantId: crypto.randomUUID(), domain: `${uniq('mu')}.example.com`, market: 'DE' } });
      expect(mueller.status).to.equal(201);
      const decomposed = composed.normalize('NFD').toUpperCase();
      expect(decomposed).to.not.equal(composed.toUpperCase());
      const twin = await app.api('POST', '/customers', { body: { name: decomposed, tenantId: crypto.randomUUID(), domain: `${uniq('mu')}.example.com`, market: 'DE' } });
      expect([twin.status, twin.body.error.code, twin.body.error.field]).to.deep.equal([409, 'customer_exists', 'body.name']);
      // and the customer is found by its name typed either way
      const found = await app.api('GET', `/customers/${encodeURIComponent(composed.normalize('NFD'))}`);
      expect([found.status, found.body.id]).to.deep.equal([200, mueller.body.id]);
      // a customer stored before names were composed (its key only lower-cased, here decomposed): still found by its
      // name typed either way, and its name still taken
      const legacyName = `Jose\u0301 ${uniq('SA')}`;
      const legacyId = crypto.randomUUID();
      await Customer.create({ _id: legacyId, partnerId: app.partnerId, name: legacyName, nameKey: legacyName.toLowerCase(), tenantId: crypto.randomUUID(), domain: `${uniq('legacy')}.example.com`.toLowerCase(), market: 'ES', createdAt: new Date() });
      for (const typed of [legacyName, legacyName.normalize('NFC').toUpperCase()]) {
        const byName = await app.api('GET', `/customers/${encodeURIComponent(typed)}`);
        expect([byName.status, byName.body.id], typed).to.deep.equal([200, legacyId]);
      }
      const again = await app.api('POST', '/customers', { body: { name: legacyName.normalize('NFC'), tenantId: crypto.randomUUID(), domain: `${uniq('legacy')}.example.com`, market: 'ES' } });
      expect([again.status, again.body.error.code, again.body.error.field]).to.deep.equal([409, 'customer_exists', 'body.name']);
      // nothing written but the customers added on purpose (one named like a domain, one Müller, the stored one)
      expect(await Customer.countDocuments({ partnerId: app.partnerId })).to.equal(before + 3);
    });
  });

  describe('markets and tax', () => {
    it('when the market refuses Azure reservations, then 422 names the market and nothing is written; other products sell there', async () => {
      const c = await app.newCustomer('BQ');
      const res = await app.api('POST', `/customers/${c.id}/orders`, { headers: { 'idempotency-key': uniq('k') }, body: { productId: 'azure-ri-vm-3y', quantity: 1 } });
      expect(res.status).to.equal(422);
      expect(res.body.error).to.include({ code: 'market_unavailable', field: 'body.productId' });
      expect(res.body.error.message).to.contain('BQ').and.contain('Bonaire');
      expect(await Order.countDocuments({ customerId: c.id })).to.equal(0);
      expect((await placeOrder(app, c.id, 'windows-server-standard-sub')).customer.market).to.equal('BQ');
    });
    it('when the customer is in Australia or Brazil, then the order says the price includes tax and shows it', async () => {
      for (const [market, currency, rate] of [['AU', 'AUD', 1000], ['BR', 'BRL', 1425]] as const) {
        const c = await app.newCustomer(market);
        const o = await placeOrder(app, c.id, 'azure-ri-vm-1y', { quantity: 2 });
        const price = findCatalogProduct('azure-ri-vm-1y')!.prices[currency];
        expect(o.pricing).to.deep.equal({ currency, unitPrice: price, quantity: 2, total: 2 * price, tax: { treatment: 'inclusive', rateBps: rate, amount: taxPortionOfInclusive(2 * price, rate) } });
      }
    });
  });

  describe('an Azure reservation', () => {
    it('when it is cancelled, then its email speaks of the reservation ending, not of keys, downloads or a software list (it has none)', async () => {
      // QA: the cancellation email of an Azure reservation told the partner to uninstall its software
      const c = await app.newCustomer('US');
      const o = await placeOrder(app, c.id, 'azure-ri-vm-3y');
      const res = await app.api('POST', `/orders/${o.id}/cancel`, { body: cancelBody(c, o.product.name) });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const mail = await app.stack.mailbox.waitFor((m) => m.subject.includes(o.id) && m.subject.includes('cancelled'));
      for (const body of [mail.text, mail.html]) {
        expect(body).to.contain("The reservation ends: its discount no longer applies to the customer's Azure usage.");
        expect(body).to.not.match(/activation key|download|uninstall/i);
      }
    });
  });

  describe('the cancellation preview', () => {
    it('when an order is new, then it can be cancelled with 60 days left, no fee and a full-term credit', async () => {
      const c = await app.newCustomer('US');
      const o = await placeOrder(app, c.id, 'sql-server-standard-perpetual');
      const res = await app.api('GET', `/orders/${o.id}/cancellation`, { token: app.tokens['sales-agent'] });
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.include({ orderId: o.id, cancellable: true, reason: null, dayOfOrder: 1, windowDays: 60, daysRemaining: 60, earlyTerminationFee: { amount: 0, currency: 'USD' }, supportRequest: null });
      expect(res.body.credit).to.include({ amount: o.pricing.total, basis: 'full' });
      expect(new Date(res.body.windowEndsAt).getTime()).to.equal(new Date(o.purchasedAt).getTime() + 60 * DAY_MS);
    });
    it('when only a support request can cancel it (Windows 7 ESU 2020), then the preview gives the route to file one', async () => {
      const c = await app.newCustomer('US');
      const o = await placeOrder(app, c.id, 'windows-7-esu-2020');
      const res = await app.api('GET', `/orders/${o.id}/cancellation`);
      expect(res.body.cancellable).to.equal(false);
      expect(res.body.reason.code).to.equal('support_request_required');
      expect(res.body.supportRequest).to.deep.equal({ typeOfProblem: 'CSP Purchase/Refund on behalf of customers', route: '/support-requests' });
    });
  });

  describe('cancelling an order', () => {
    it('when everything matches, then keys are revoked, the item stays listed without its key, a credit lands on the invoice and an email goes out, all visible at once', async () => {
      const c = await app.newCustomer('US');
      const o = await placeOrder(app, c.domain, 'windows-server-standard-perpetual');
      // the order is usable before: its key is listed for the admin agent
      await waitFor(async () => (await Order.findById(o.id).lean())?.status === 'active');
      const before = await app.api('GET', `/customers/${c.id}/software`);
      expect(before.body.find((s: { orderId: string }) => s.orderId === o.id).activationKey).to.match(/^[A-Z0-9]{5}(-[A-Z0-9]{5}){4}$/);

      // another admin agent of the partner cancels it: the cancellation email goes to them too
      const colleague = await ensureUser({ name: 'Second admin agent', email: `admin-agent-2@${app.partnerId}.example`, role: 'admin-agent', partnerId: app.partnerId });
      const res = await app.api('POST', `/orders/${o.id}/cancel`, { body: cancelBody(c, o.product.name), token: await issueToken(colleague._id) });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.include({ orderId: o.id, status: 'cancelled' });
      expect(res.body.credit).to.include({ amount: o.pricing.total, basis: 'full', currency: 'USD' });

      const read = await app.api('GET', `/orders/${o.id}`);
      expect(read.body.status).to.equal('cancelled');
      expect(read.body.cancellation.by.name).to.equal('Second admin agent');
      expect(read.body.cancellation.supportRequest, 'a cancellation of its own, not a support refund').to.equal(null);
      expect(read.body.timeline.map((e: { type: string }) => e.type)).to.include.members(['keys-and-links-revoked', 'credit-recorded', 'cancelled']);
      const software = await app.api('GET', `/customers/${c.tenantId}/software`);
      const item = software.body.find((s: { orderId: string }) => s.orderId === o.id);
      expect(item).to.include({ status: 'cancelled', activationKey: null });
      expect(await ActivationKey.countDocuments({ orderId: o.id, status: 'active' })).to.equal(0);
      const history = await app.api('GET', `/customers/${c.id}/orders`);
      expect(history.body.find((x: { id: string }) => x.id === o.id).status).to.equal('cancelled');

      const lines = await invoiceLinesOf(o.id, app.tokens['global-admin']);
      expect(lines.map((l) => [l.kind, l.amount])).to.deep.equal([
        ['charge', o.pricing.total],
        ['credit', -o.pricing.total],
      ]);
      const mail = await app.stack.mailbox.waitFor((m) => m.subject.includes(o.id) && m.subject.includes('cancelled'));
      expect(mail.text).to.contain('revoked').and.contain('100%').and.contain('by Second admin agent');
      // the month of the invoice that carries the credit, as its line says
      const creditLine = (await LedgerLine.findById(`${o.id}:credit`).lean())!;
      expect(mail.text).to.contain(`will appear on your next monthly invoice, the one for ${monthName(creditLine.invoiceMonth)}.`);
      expect(mail.text).to.contain("software list, without its activation key").and.not.contain('reservation ends');
      expect(mail.to).to.include(colleague.email).and.include(`billing@${app.partnerId}.example`).and.include(`admin-agent@${app.partnerId}.example`);
    });

    it("when a cancellation is sent, then it is judged and dated at the instant the API received it, which the order's workflow (taking it up later) keeps", async () => {
      const c = await app.newCustomer('US');
      const o = await placeOrder(app, c.id, 'sql-server-standard-sub');
      await waitFor(async () => (await Order.findById(o.id).lean())?.status === 'active');
      await new Promise((r) => setTimeout(r, 2500));
      // an API whose request came in 2 s before the workflow takes it up
      const received = new Date(Date.now() - 2000);
      const orders = createOrderService({ client: app.client, taskQueue: app.taskQueue, reminderDaysBeforeClose: 7, now: () => received });
      const user = (await User.findOne({ email: `admin-agent@${app.partnerId}.example` }).lean())!;
      const auth: AuthContext = { user, role: 'admin-agent', partnerId: app.partnerId, tokenId: 'test' };
      const result = await orders.cancel(auth, o.id, { customer: c.name, productName: o.product.name, acknowledged: true });
      expect(result.cancelledAt).to.equal(received.toISOString());
      expect((await Order.findById(o.id).lean())!.cancellation!.at.toISOString()).to.equal(received.toISOString());
      // a bulk cancel: every order of it at the one instant the request came in, whatever its clock reads after
      const [a, b] = [await placeOrder(app, c.id, 'sql-server-standard-sub'), await placeOrder(app, c.id, 'sql-server-standard-sub')];
      await waitFor(async () => (await Order.countDocuments({ _id: { $in: [a.id, b.id] }, status: 'active' })) === 2);
      await new Promise((r) => setTimeout(r, 2500));
      let tick = 0;
      const base = Date.now() - 2000;
      const ticking = createOrderService({ client: app.client, taskQueue: app.taskQueue, reminderDaysBeforeClose: 7, now: () => new Date(base + 100 * tick++) });
      const bulk = await ticking.cancelMany(auth, c.id, [a.id, b.id], app.log);
      expect(bulk.results.map((r) => (r as { cancelledAt?: string }).cancelledAt)).to.deep.equal([new Date(base).toISOString(), new Date(base).toISOString()]);
    });

    it('when an order is cancelled right after it is placed, then the answer comes once recorded, and the confirmation and then the cancellation email follow', async () => {
      const c = await app.newCustomer('US');
      const o = await placeOrder(app, c.id, 'sql-server-standard-sub');
      const res = await app.api('POST', `/orders/${o.id}/cancel`, { body: cancelBody(c, o.product.name) });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      // the answer comes once the cancellation is recorded: the next read sees it
      expect((await app.api('GET', `/orders/${o.id}`)).body.status).to.equal('cancelled');
      expect(await app.client.workflow.getHandle(`order:${o.id}`).result()).to.deep.equal({ orderId: o.id, status: 'cancelled' });
      const cancelled = await app.stack.mailbox.waitFor((m) => m.subject.includes(o.id) && m.subject.includes('cancelled'));
      const mails = (await app.stack.mailbox.list()).filter((m) => m.subject.includes(o.id));
      const confirmed = mails.filter((m) => m.subject.includes('confirmed'));
      // the order was charged: exactly one confirmation, before the cancellation email
      expect(confirmed).to.have.length(1);
      expect(mails.filter((m) => m.subject.includes('cancelled'))).to.have.length(1);
      expect(new Date(confirmed[0].receivedAt).getTime()).to.be.at.most(new Date(cancelled.receivedAt).getTime());
      expect(await ActivationKey.countDocuments({ orderId: o.id, status: 'active' })).to.equal(0);
    });

    it('when the important notice is not acknowledged, then 400 and nothing changes', async () => {
      const c = await app.newCustomer('US');
      const o = await placeOrder(app, c.id, 'windows-server-standard-sub');
      for (const body of [{ customer: c.name, productName: o.product.name }, { customer: c.name, productName: o.product.name, acknowledged: false }]) {
        const res = await app.api('POST', `/orders/${o.id}/cancel`, { body });
        expect(res.status).to.equal(400);
        expect(res.body.error.field).to.equal('body.acknowledged');
      }
      expect((await app.api('GET', `/orders/${o.id}/cancellation`)).body.cancellable).to.equal(true);
    });

    it('when the customer or the product named does not match the order, then 422 naming the field', async () => {
      const c = await app.newCustomer('US');
      const other = await app.newCustomer('US');
      const o = await placeOrder(app, c.id, 'windows-server-standard-sub');
      const wrongCustomer = await app.api('POST', `/orders/${o.id}/cancel`, { body: cancelBody(other, o.product.name) });
      expect(wrongCustomer.status).to.equal(422);
      expect(wrongCustomer.body.error).to.include({ code: 'customer_mismatch', field: 'body.customer' });
      const wrongProduct = await app.api('POST', `/orders/${o.id}/cancel`, { body: cancelBody(c, 'SQL Server Enterprise (1-year subscription)') });
      expect(wrongProduct.status).to.equal(422);
      expect(wrongProduct.body.error).to.include({ code: 'product_mismatch', field: 'body.productName' });
      // the tenant GUID and the domain name work as well as the name
      const byTenant = await app.api('POST', `/orders/${o.id}/cancel`, { body: { customer: c.tenantId, productName: o.product.id, ...ack } });
      expect(byTenant.status).to.equal(200);
    });

    it('when the caller is not an admin agent or belongs to another partner, then 403 or 404 and nothing changes', async () => {
      const c = await app.newCustomer('US');
      const o = await placeOrder(app, c.id, 'windows-server-standard-sub');
      for (const role of ['sales-agent', 'global-admin', 'account-admin', 'support-lead'] as const) {
        const res = await app.api('POST', `/orders/${o.id}/cancel`, { token: app.tokens[role], body: cancelBody(c, o.product.name) });
        expect(res.status, role).to.equal(403);
      }
      const foreign = await app.api('POST', `/orders/${o.id}/cancel`, { token: app.otherTokens['admin-agent'], body: cancelBody(c, o.product.name) });
      expect(foreign.status).to.equal(404);
      expect((await app.api('GET', `/orders/${o.id}/cancellation`, { token: app.otherTokens['admin-agent'] })).status).to.equal(404);
      expect((await Order.findById(o.id).lean())!.status).to.not.equal('cancelled');
    });

    it('when the product is Windows 7 ESU 2020, then 422 with the support-request route', async () => {
      const c = await app.newCustomer('US');
      const o = await placeOrder(app, c.id, 'windows-7-esu-2020');
      const res = await app.api('POST', `/orders/${o.id}/cancel`, { body: cancelBody(c, o.product.name) });
      expect(res.status).to.equal(422);
      expect(res.body.error.code).to.equal('support_request_required');
      expect(res.body.error.details.supportRequest.typeOfProblem).to.equal('CSP Purchase/Refund on behalf of customers');
    });

    it('when the product is a SUSE or Red Hat plan, then 422: never cancellable', async () => {
      const c = await app.newCustomer('US');
      for (const productId of ['suse-linux-enterprise-server-plan', 'red-hat-enterprise-linux-plan']) {
        const o = await placeOrder(app, c.id, productId);
        const res = await app.api('POST', `/orders/${o.id}/cancel`, { body: cancelBody(c, o.product.name) });
        expect(res.status, productId).to.equal(422);
        expect(res.body.error.code).to.equal('never_cancellable');
        expect(res.body.error.message).to.contain('neither cancelled nor exchanged');
      }
    });

    it('when the order is already cancelled, then 409 and nothing changes', async () => {
      const c = await app.newCustomer('US');
      const o = await placeOrder(app, c.id, 'sql-server-standard-sub');
      expect((await app.api('POST', `/orders/${o.id}/cancel`, { body: cancelBody(c, o.product.name) })).status).to.equal(200);
      const again = await app.api('POST', `/orders/${o.id}/cancel`, { body: cancelBody(c, o.product.name) });
      expect(again.status).to.equal(409);
      expect(again.body.error.code).to.equal('already_cancelled');
      expect(await LedgerLine.countDocuments({ orderId: o.id, kind: 'credit' })).to.equal(1);
    });

    it('when two cancellations race, then exactly one credit is written', async () => {
      const c = await app.newCustomer('US');
      const o = await placeOrder(app, c.id, 'sql-server-enterprise-sub');
      const results = await Promise.all(Array.from({ length: 5 }, () => app.api('POST', `/orders/${o.id}/cancel`, { body: cancelBody(c, o.product.name) })));
      expect(results.map((r) => r.status).sort()).to.deep.equal([200, 409, 409, 409, 409]);
      expect(await LedgerLine.countDocuments({ orderId: o.id, kind: 'credit' })).to.equal(1);
    });
  });

  describe('imported purchases', () => {
    /** A purchase imported for a new customer, once its order reached `status`, as GET /orders/{id} reads it. */
    const importedOrder = async (productId: string, daysAgo: number, status: string) => {
      const c = await app.newCustomer('US');
      const [{ id: orderId }] = (await importOne(c.id, productId, daysAgo)).body.results as { id: string }[];
      await waitFor(async () => (await Order.findById(orderId).lean())?.status === status);
      return { orderId, order: (await app.api('GET', `/orders/${orderId}`)).body };
    };

    it('when a purchase is imported from 70 days ago, then its window has passed and cancelling is refused', async () => {
      const c = await app.newCustomer('US');
      for (const productId of ['windows-server-standard-perpetual', 'windows-server-standard-sub']) {
        const res = await importOne(c.id, productId, 70);
        expect(res.status).to.equal(200);
        const [{ id: orderId, outcome }] = res.body.results;
        expect(outcome).to.equal('imported');
        const preview = await app.api('GET', `/orders/${orderId}/cancellation`);
        expect(preview.body).to.deep.include({ cancellable: false, daysRemaining: 0, dayOfOrder: 71 });
        expect(preview.body.reason.code).to.equal('window_passed');
        const res2 = await app.api('POST', `/orders/${orderId}/cancel`, { body: cancelBody(c, findCatalogProduct(productId)!.name) });
        expect(res2.status, productId).to.equal(422);
        expect(res2.body.error.code).to.equal('window_passed');
        await waitFor(async () => Boolean((await Order.findById(orderId).lean())?.windowClosedAt));
      }
      // imported purchases were charged before csp-desk: no charge on this month's invoice
      const orders = await Order.find({ customerId: c.id }).lean();
      expect(await LedgerLine.countDocuments({ orderId: { $in: orders.map((x) => x._id) } })).to.equal(0);
    });

    it('when a subscription is imported after its term ended, then its timeline reads in the order things happened (provisioned at the purchase, before its window and term ended) and it has no key', async () => {
      const { orderId, order } = await importedOrder('windows-server-standard-sub', 400, 'expired');
      const types = order.timeline.map((e: { type: string }) => e.type);
      expect(types.slice(0, 4)).to.deep.equal(['imported', 'payment-imported', 'provisioned', 'cancellation-window-closed']);
      expect(types.indexOf('term-ended')).to.be.greaterThan(types.indexOf('provisioned'));
      const provisioned = order.timeline.find((e: { type: string }) => e.type === 'provisioned');
      expect([provisioned.at, provisioned.data.keys]).to.deep.equal([order.purchasedAt, 0]);
      expect(await ActivationKey.countDocuments({ orderId })).to.equal(0);
    });

    it("when a perpetual purchase is imported from 60 days ago, then its document says it was provisioned at the purchase date, as its timeline does (QA: the import's instant); its key is made at the import", async () => {
      const { orderId, order } = await importedOrder('windows-server-standard-perpetual', 60, 'active');
      const provisioned = order.timeline.find((e: { type: string }) => e.type === 'provisioned');
      expect([order.provisionedAt, provisioned.at]).to.deep.equal([order.purchasedAt, order.purchasedAt]);
      expect(Date.now() - (await ActivationKey.findOne({ orderId }).lean())!.createdAt.getTime()).to.be.below(DAY_MS);
    });

    it('when a partner cancels a purchase it imported inside its window, then it is refused with the support-request route and nothing is credited (no charge of csp-desk stands behind it)', async () => {
      // a review found the hole: import 100 licences bought "a minute ago", cancel, and the invoice is credited
      // for a purchase csp-desk never charged
      const c = await app.newCustomer('US');
      const res = await importOne(c.id, 'sql-server-enterprise-sub', 29);
      const [{ id: orderId }] = res.body.results;
      const order = (await app.api('GET', `/orders/${orderId}`)).body;
      const preview = await app.api('GET', `/orders/${orderId}/cancellation`);
      expect(preview.body).to.deep.include({ cancellable: false, credit: null, dayOfOrder: 30 });
      expect(preview.body.reason.code).to.equal('imported_support_request');
      expect(preview.body.supportRequest).to.include({ typeOfProblem: 'CSP Purchase/Refund on behalf of customers' });
      const cancel = await app.api('POST', `/orders/${orderId}/cancel`, { body: cancelBody(c, order.product.name) });
      expect([cancel.status, cancel.body.error.code]).to.deep.equal([422, 'imported_support_request']);
      const many = await app.api('POST', `/customers/${c.id}/orders/cancel`, { body: { orderIds: [orderId], ...ack } });
      expect(many.body.results[0]).to.include({ outcome: 'refused', status: 422, code: 'imported_support_request' });
      expect((await Order.findById(orderId).lean())!.status).to.equal('active');
      expect(await LedgerLine.countDocuments({ orderId })).to.equal(0);
      // the credit itself, when support approves it, is prorated from the original date (the rule the partner saw
      // before this change is unchanged for orders bought here)
      const credit = cancellationCredit({ ...order, status: 'active' }, new Date(Date.now()));
      expect(credit).to.include({ basis: 'prorated', usedDays: 30 });
      expect(credit.amount).to.equal(mulDiv(order.pricing.total, credit.termDays! - 30, credit.termDays!));
    });

    it("when an imported purchase is named by its original id, then the order's reads and actions find it (its csp-desk id in the answers), for its partner only", async () => {
      // (earlier notes: GET /orders/{original id} was a 404, while a support request finds the order by either id)
      const c = await app.newCustomer('US');
      const res = await importOne(c.id, 'windows-server-standard-sub', 20);
      const [{ id, orderId: original }] = res.body.results as { id: string; orderId: string }[];
      expect(original).to.not.equal(id);
      const read = await app.api('GET', `/orders/${encodeURIComponent(original)}`);
      expect(read.status).to.equal(200);
      expect(read.body).to.include({ id, originalOrderId: original });
      expect(read.body.timeline.map((e: { type: string }) => e.type)).to.include('imported');
      const byId = await app.api('GET', `/orders/${id}`);
      expect(byId.body).to.deep.equal(read.body);
      const preview = await app.api('GET', `/orders/${encodeURIComponent(original)}/cancellation`);
      expect(preview.body).to.include({ orderId: id, cancellable: false });
      expect(preview.body.reason.code).to.equal('imported_support_request');
      // the refusal an imported purchase gets, not a 404; the request's log line names the order acted on (QA)
      const requestId = uniq('req-original');
      const cancel = await app.api('POST', `/orders/${encodeURIComponent(original)}/cancel`, { headers: { 'x-request-id': requestId }, body: cancelBody(c, read.body.product.name) });
      expect([cancel.status, cancel.body.error.code]).to.deep.equal([422, 'imported_support_request']);
      await waitFor(async () => app.logLines.some((l) => l.requestId === requestId && l.msg === 'request'));
      expect(app.logLines.find((l) => l.requestId === requestId && l.msg === 'request')).to.include({ orderId: id, status: 422 });
      // a refusal names the order by its csp-desk id (QA: it named the id as sent)
      const wrong = await app.api('POST', `/orders/${encodeURIComponent(original)}/cancel`, { body: cancelBody({ ...c, name: 'Someone else' }, read.body.product.name) });
      expect(wrong.body.error).to.include({ code: 'customer_mismatch' });
      expect(wrong.body.error.message).to.include(`order ${id}`);
      // several at once, by either id (QA: an original id was not_found there)
      const many = await app.api('POST', `/customers/${c.id}/orders/cancel`, { body: { orderIds: [original, id], ...ack } });
      expect(many.body.results).to.deep.equal([original, id].map((orderId) => ({ orderId, id, outcome: 'refused', status: 422, code: 'imported_support_request', message: many.body.results[0].message })));
      await waitFor(async () => (await Order.findById(id).lean())?.status === 'active');
      const key = await app.api('POST', `/orders/${encodeURIComponent(original)}/key`, { body: {} });
      expect(key.status, JSON.stringify(key.body)).to.equal(200);
      expect(key.body.orderId).to.equal(id);
      expect(key.body.activationKey.key).to.equal((await ActivationKey.findOne({ orderId: id }).lean())!.key);
      // another partner: neither by the original id nor by the csp-desk id
      for (const ref of [original, id]) expect((await app.api('GET', `/orders/${encodeURIComponent(ref)}`, { token: app.otherTokens['admin-agent'] })).status).to.equal(404);
      // a name that is neither: the 404 names it as sent
      const none = await app.api('GET', '/orders/NO-SUCH-ORDER');
      expect([none.status, none.body.error.message]).to.deep.equal([404, 'order "NO-SUCH-ORDER" was not found']);
    });

    it('when a purchase is imported with the unit price it was bought at, then the order is priced at it (its tax where prices include tax), what a refund may credit at most; another currency is refused naming the field; another price again is a conflict (QA)', async () => {
      const c = await app.newCustomer('AU');
      const product = findCatalogProduct('windows-server-standard-perpetual')!;
      const item = { orderId: uniq('IMP'), productId: product.id, quantity: 3, purchasedAt: new Date(Date.now() - 20 * DAY_MS).toISOString(), unitPrice: { amount: 123_450, currency: 'AUD' } };
      const wrong = await app.api('POST', `/customers/${c.id}/orders/import`, { token: app.tokens['global-admin'], body: { orders: [{ ...item, unitPrice: { amount: 123_450, currency: 'USD' } }] } });
      expect([wrong.status, wrong.body.error.code, wrong.body.error.field]).to.deep.equal([422, 'currency_mismatch', 'body.orders[0].unitPrice.currency']);
      expect(wrong.body.error.message).to.include('AUD');
      // nothing paid: it could never be refunded (a refund request credits at least one minor unit: QA)
      const free = await app.api('POST', `/customers/${c.id}/orders/import`, { token: app.tokens['global-admin'], body: { orders: [{ ...item, unitPrice: { amount: 0, currency: 'AUD' } }] } });
      expect([free.status, free.body.error.field]).to.deep.equal([400, 'body.orders[0].unitPrice.amount']);
      // nor more than a refund request may ask for 10,000 of it (QA: 1e9 × 10,000 was above the 1e12 a request asks at most)
      const dear = await app.api('POST', `/customers/${c.id}/orders/import`, { token: app.tokens['global-admin'], body: { orders: [{ ...item, unitPrice: { amount: 100_000_001, currency: 'AUD' } }] } });
      expect([dear.status, dear.body.error.field]).to.deep.equal([400, 'body.orders[0].unitPrice.amount']);
      expect(await Order.countDocuments({ customerId: c.id })).to.equal(0);
      const res = await app.api('POST', `/customers/${c.id}/orders/import`, { token: app.tokens['global-admin'], body: { orders: [item] } });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const [{ id: orderId, outcome }] = res.body.results;
      expect(outcome).to.equal('imported');
      const order = (await app.api('GET', `/orders/${orderId}`)).body;
      expect(order.pricing).to.deep.equal({ currency: 'AUD', unitPrice: 123_450, quantity: 3, total: 370_350, tax: { treatment: 'inclusive', rateBps: 1000, amount: taxPortionOfInclusive(370_350, 1000) } });
      const paid = order.timeline.find((e: { type: string }) => e.type === 'payment-imported');
      expect(paid.data).to.include({ amount: 370_350, currency: 'AUD' });
      // a refund request above what it was bought for is refused
      const refund = await app.api('POST', '/support-requests', {
        token: app.tokens['admin-agent'],
        headers: { 'idempotency-key': uniq('key-sr') },
        body: {
          problemType: SUPPORT_REQUEST_PROBLEM_TYPE,
          impact: 'moderate',
          title: 'Refund the imported purchase',
          customer: c.tenantId,
          orderId: item.orderId,
          refund: { reason: 'Bought in error before csp-desk', amount: 370_351, currency: 'AUD' },
          contact: { name: 'Pat Contact', email: `pat@${app.partnerId}.example`, phone: '+61 2 5550 0100' },
          description: 'Bought in error.',
        },
      });
      expect([refund.status, refund.body.error?.code], JSON.stringify(refund.body)).to.deep.equal([422, 'amount_too_high']);
      // the same purchase again: exists with the same price (or none), a conflict with another
      const again = async (unitPrice?: { amount: number; currency: string }) =>
        (await app.api('POST', `/customers/${c.id}/orders/import`, { token: app.tokens['global-admin'], body: { orders: [{ ...item, unitPrice }] } })).body.results[0].outcome;
      expect([await again(item.unitPrice), await again(undefined), await again({ amount: 100_000, currency: 'AUD' })]).to.deep.equal(['exists', 'exists', 'conflict']);
    });

    it('when a purchase imported from 55 days ago has 5 days of its window left, then its reminder goes out at once (it is inside the reminder period)', async () => {
      const c = await app.newCustomer('US');
      const res = await importOne(c.id, 'sql-server-standard-sub', 55);
      const [{ id: orderId, orderId: originalId }] = res.body.results;
      const mail = await app.stack.mailbox.waitFor((m) => m.subject.includes(orderId) && m.subject.startsWith('Cancellation window'));
      expect(mail.text).to.contain('can be cancelled without an early-termination fee until').and.contain('through a customer support request');
      // named by both its ids: csp-desk's, and the one the partner knew it by
      expect(mail.text).to.contain(`Order ${orderId} (${findCatalogProduct('sql-server-standard-sub')!.name} for ${c.name}; imported as ${originalId}) can be cancelled`);
      // and no confirmation: an imported order was confirmed when it was bought
      expect((await app.stack.mailbox.list()).filter((m) => m.subject.includes(orderId))).to.have.length(1);
    });

    it('when the same order id is imported again, then nothing changes; only a global admin may import', async () => {
      const c = await app.newCustomer('US');
      const body = { orders: [{ orderId: uniq('IMP'), productId: 'sql-server-standard-sub', quantity: 1, purchasedAt: new Date(Date.now() - 5 * DAY_MS).toISOString() }] };
      expect((await app.api('POST', `/customers/${c.id}/orders/import`, { token: app.tokens['global-admin'], body })).body.results[0].outcome).to.equal('imported');
      expect((await app.api('POST', `/customers/${c.id}/orders/import`, { token: app.tokens['global-admin'], body })).body.results[0].outcome).to.equal('exists');
      const changed = await app.api('POST', `/customers/${c.id}/orders/import`, { token: app.tokens['global-admin'], body: { orders: [{ ...body.orders[0], quantity: 3 }] } });
      expect(changed.body.results[0]).to.include({ outcome: 'conflict' });
      expect(changed.body.results[0].message).to.include('other contents');
      expect((await app.api('POST', `/customers/${c.id}/orders/import`, { token: app.tokens['admin-agent'], body })).status).to.equal(403);
      const future = await app.api('POST', `/customers/${c.id}/orders/import`, { token: app.tokens['global-admin'], body: { orders: [{ ...body.orders[0], orderId: uniq('IMP'), purchasedAt: new Date(Date.now() + DAY_MS).toISOString() }] } });
      expect(future.status).to.equal(400);
      expect(future.body.error.field).to.equal('body.orders[0].purchasedAt');
      const leap = await app.api('POST', `/customers/${c.id}/orders/import`, { token: app.tokens['global-admin'], body: { orders: [{ ...body.orders[0], orderId: uniq('IMP'), purchasedAt: '2016-12-31T23:59:60Z' }] } });
      expect(leap.status).to.equal(400);
      expect(leap.body.error.field).to.equal('body.orders[0].purchasedAt');
      // a year mistyped (0408 for 2024): refused, not dated centuries back
      const ancient = await app.api('POST', `/customers/${c.id}/orders/import`, { token: app.tokens['global-admin'], body: { orders: [{ ...body.orders[0], orderId: uniq('IMP'), purchasedAt: '0408-02-07T15:34:03.6Z' }] } });
      expect([ancient.status, ancient.body.error.field, ancient.body.error.message]).to.deep.equal([400, 'body.orders[0].purchasedAt', 'body.orders[0].purchasedAt is before 2000-01-01T00:00:00Z (UTC): it is 0408-02-07T15:34:03.600Z']);
      // the year typed is 2000, but with its offset the instant is in 1999: the message says the instant in UTC (QA)
      const offset = await app.api('POST', `/customers/${c.id}/orders/import`, { token: app.tokens['global-admin'], body: { orders: [{ ...body.orders[0], orderId: uniq('IMP'), purchasedAt: '2000-01-01T00:30:00+01:00' }] } });
      expect([offset.status, offset.body.error.message]).to.deep.equal([400, 'body.orders[0].purchasedAt is before 2000-01-01T00:00:00Z (UTC): it is 1999-12-31T23:30:00Z']);
      expect(await Order.countDocuments({ customerId: c.id })).to.equal(1);
    });

    it('when the same purchase is imported by several requests at once, then exactly one answers imported and the others exists, one order recorded (QA: all six answered imported)', async () => {
      for (let round = 1; round <= 3; round++) {
        const c = await app.newCustomer('US');
        const item = { orderId: uniq('D1-D'), productId: 'windows-server-standard-sub', quantity: 1, purchasedAt: new Date(Date.now() - 25 * DAY_MS).toISOString() };
        const answers = await Promise.all(
          Array.from({ length: 6 }, () => app.api('POST', `/customers/${c.id}/orders/import`, { token: app.tokens['global-admin'], body: { orders: [item] } })),
        );
        expect(answers.map((a) => a.status), `round ${round}`).to.deep.equal([200, 200, 200, 200, 200, 200]);
        const results = answers.map((a) => a.body.results[0]);
        const outcomes = results.map((r: { outcome: string }) => r.outcome).sort();
        expect(outcomes, `round ${round}`).to.deep.equal(['exists', 'exists', 'exists', 'exists', 'exists', 'imported']);
        expect(new Set(results.map((r: { id: string }) => r.id)).size, `round ${round}`).to.equal(1);
        expect(await Order.countDocuments({ customerId: c.id }), `round ${round}`).to.equal(1);
        // and afterwards, as before: found
        const again = await app.api('POST', `/customers/${c.id}/orders/import`, { token: app.tokens['global-admin'], body: { orders: [item] } });
        expect(again.body.results[0]).to.include({ outcome: 'exists', id: results[0].id });
      }
    });

    it("when two partners import the same original order id, then each gets an order of its own: neither can tell that the other holds it, nor take it first", async () => {
      // QA found the hole: an original id was the order's own, one namespace for all partners, so importing one that
      // another partner held answered "conflict: this order id is already in use" (and kept it from its owner)
      const [mine, theirs] = [await app.newCustomer('US'), await app.newCustomer('US', app.otherTokens['admin-agent'])];
      const item = { orderId: uniq('SHARED'), productId: 'sql-server-standard-sub', quantity: 1, purchasedAt: new Date(Date.now() - 20 * DAY_MS).toISOString() };
      const importAs = (token: string, customerId: string, orders: (typeof item)[]) => app.api('POST', `/customers/${customerId}/orders/import`, { token, body: { orders } });
      const first = (await importAs(app.otherTokens['global-admin'], theirs.id, [item])).body.results[0];
      expect(first).to.include({ orderId: item.orderId, outcome: 'imported' });
      // the same id with other contents: what the other partner holds makes no difference here
      const second = (await importAs(app.tokens['global-admin'], mine.id, [{ ...item, quantity: 2 }])).body.results[0];
      expect(second).to.include({ orderId: item.orderId, outcome: 'imported', message: 'imported' });
      expect(second.id).to.not.equal(first.id);
      const own = (await app.api('GET', `/orders/${second.id}`)).body;
      expect(own).to.include({ id: second.id, originalOrderId: item.orderId, imported: true, quantity: 2 });
      expect((await app.api('GET', `/orders/${first.id}`)).status).to.equal(404);
      // again: one's own order, found; for another of one's customers: a conflict naming one's own customer only
      expect((await importAs(app.tokens['global-admin'], mine.id, [{ ...item, quantity: 2 }])).body.results[0]).to.include({ id: second.id, outcome: 'exists' });
      const elsewhere = (await importAs(app.tokens['global-admin'], (await app.newCustomer('US')).id, [{ ...item, quantity: 2 }])).body.results[0];
      expect(elsewhere).to.include({ id: second.id, outcome: 'conflict', message: `this order id is already imported for another of your customers (${mine.name}): nothing changed` });
      expect(await Order.countDocuments({ _id: { $in: [first.id, second.id] } })).to.equal(2);

      // orders imported before ids were each partner's own kept the original id as theirs: the owner's is found by it
      // (the same purchase exists), another partner's neither blocks nor shows
      const template = (await Order.findById(second.id).lean())!;
      const legacy = (partnerId: string, customerId: string, id: string) => {
        const { originalOrderId: _dropped, ...rest } = template;
        return Order.collection.insertOne({ ...rest, _id: id as never, partnerId, customerId, customer: { ...template.customer, id: customerId } });
      };
      const [oldMine, oldTheirs] = [uniq('OLD-MINE'), uniq('OLD-THEIRS')];
      await legacy(app.partnerId, mine.id, oldMine);
      await legacy((await Order.findById(first.id).lean())!.partnerId, theirs.id, oldTheirs);
      expect((await importAs(app.tokens['global-admin'], mine.id, [{ ...item, orderId: oldMine, quantity: 2 }])).body.results[0]).to.include({ id: oldMine, outcome: 'exists' });
      expect((await app.api('GET', `/orders/${oldMine}`)).body).to.include({ id: oldMine, originalOrderId: oldMine });
      const notBlocked = (await importAs(app.tokens['global-admin'], mine.id, [{ ...item, orderId: oldTheirs }])).body.results[0];
      expect(notBlocked).to.include({ orderId: oldTheirs, outcome: 'imported' });
      expect(notBlocked.id).to.not.equal(oldTheirs);
      // another partner's order imported before, under the very UUID this partner's original id gets: nothing of it is
      // said, nor its workflow joined
      const squatted = uniq('SQUATTED');
      await legacy((await Order.findById(first.id).lean())!.partnerId, theirs.id, importedOrderId(app.partnerId, squatted));
      const refused = (await importAs(app.tokens['global-admin'], mine.id, [{ ...item, orderId: squatted }])).body.results[0];
      expect(refused).to.deep.equal({ orderId: squatted, id: importedOrderId(app.partnerId, squatted), outcome: 'conflict', message: 'this order id cannot be imported: report it to csp-desk support' });
      // an original id that happens to be an imported order's csp-desk id names a purchase of its own, not that order
      const named = (await importAs(app.tokens['global-admin'], mine.id, [{ ...item, orderId: second.id }])).body.results[0];
      expect(named).to.include({ orderId: second.id, outcome: 'imported' });
      expect(named.id).to.not.equal(second.id);
      // and the answer says so, as /orders/{that id} names the other order (QA)
      expect(named.message).to.equal(`imported; ${second.id} is also the csp-desk id of another of your orders, which is the one /orders/${second.id} names: name this one by its csp-desk id ${named.id}`);
      expect((await app.api('GET', `/orders/${second.id}`)).body.id).to.equal(second.id);
    });
  });

  it('when several orders of one customer are cancelled in one call, then each gets its own result', async () => {
    const c = await app.newCustomer('US');
    const ok = await placeOrder(app, c.id, 'windows-server-standard-sub');
    const esu = await placeOrder(app, c.id, 'windows-7-esu-2020');
    const elsewhere = await placeOrder(app, (await app.newCustomer('US')).id, 'windows-server-standard-sub');
    const res = await app.api('POST', `/customers/${c.id}/orders/cancel`, { body: { orderIds: [ok.id, esu.id, elsewhere.id, 'no-such-order'], ...ack } });
    expect(res.status).to.equal(200);
    const by = Object.fromEntries(res.body.results.map((r: { orderId: string }) => [r.orderId, r]));
    expect(by[ok.id]).to.include({ outcome: 'cancelled', status: 200 });
    expect(by[esu.id]).to.include({ outcome: 'refused', status: 422, code: 'support_request_required' });
    expect(by[elsewhere.id]).to.include({ outcome: 'not_found', status: 404 });
    expect(by['no-such-order']).to.include({ outcome: 'not_found' });
    expect((await app.api('POST', `/customers/${c.id}/orders/cancel`, { body: { orderIds: [ok.id] } })).status).to.equal(400);
  });

  describe('invoices', () => {
    it("when the month is read, then charges and credits appear with tax shown where included, and totals per currency; another partner sees none of it", async () => {
      const c = await app.newCustomer('AU');
      const o = await placeOrder(app, c.id, 'windows-server-standard-perpetual');
      await waitFor(async () => (await LedgerLine.countDocuments({ orderId: o.id })) === 1);
      expect((await app.api('POST', `/orders/${o.id}/cancel`, { body: cancelBody(c, o.product.name) })).status).to.equal(200);
      const lines = await invoiceLinesOf(o.id, app.tokens['account-admin']);
      expect(lines.map((l) => l.kind)).to.deep.equal(['charge', 'credit']);
      const month = lines[0].month;
      const res = await app.api('GET', `/invoices/${month}`, { token: app.tokens['account-admin'] });
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ month, status: 'open', partnerId: app.partnerId });
      expect(lines[0].tax).to.deep.equal({ treatment: 'inclusive', rateBps: 1000, amount: taxPortionOfInclusive(o.pricing.total, 1000) });
      const aud = res.body.totals.find((t: { currency: string }) => t.currency === 'AUD');
      const audLines = res.body.lines.filter((l: { currency: string }) => l.currency === 'AUD');
      expect(aud.net).to.equal(audLines.reduce((s: number, l: { amount: number }) => s + l.amount, 0));
      // each line's tax has the line's sign, so a client adding up the lines' tax gets the month's
      expect(aud.taxIncluded).to.equal(audLines.reduce((s: number, l: { tax: { amount: number | null } }) => s + (l.tax.amount ?? 0), 0));
      expect(lines[1].tax).to.deep.equal({ treatment: 'inclusive', rateBps: 1000, amount: -taxPortionOfInclusive(o.pricing.total, 1000) });
      const other = await app.api('GET', `/invoices/${month}`, { token: app.otherTokens['global-admin'] });
      expect(other.body.lines.filter((l: { orderId: string }) => l.orderId === o.id)).to.have.length(0);
      expect((await app.api('GET', '/invoices/2026-13')).body.error.field).to.equal('path.month');
      expect((await app.api('GET', `/invoices/${month}`, { token: app.tokens['sales-agent'] })).status).to.equal(403);
      // a month that has not begun, or one before the partner's first, has no invoice (not an empty "open" one)
      const later = await app.api('GET', `/invoices/${nextMonthKey(nextMonthKey(monthKey(new Date())))}`, { token: app.tokens['account-admin'] });
      expect(later.status).to.equal(404);
      expect(later.body.error.message).to.include('has not begun');
      const before = await app.api('GET', '/invoices/1999-01', { token: app.tokens['account-admin'] });
      expect(before.status).to.equal(404);
      expect(before.body.error.message).to.include("before the partner's first month");
    });

    it("when a tax-inclusive subscription is cancelled on day 1, then the tax left on the invoice is the tax contained in the amount kept (BR azure-ri-vm-1y, QA: R$1.49 where R$12.00 contains R$1.50)", async () => {
      const c = await app.newCustomer('BR');
      const o = await placeOrder(app, c.id, 'azure-ri-vm-1y');
      await waitFor(async () => (await LedgerLine.countDocuments({ orderId: o.id })) === 1);
      expect((await app.api('POST', `/orders/${o.id}/cancel`, { body: cancelBody(c, o.product.name) })).status).to.equal(200);
      const lines = await invoiceLinesOf(o.id, app.tokens['account-admin']);
      expect(lines.map((l) => l.kind)).to.deep.equal(['charge', 'credit']);
      const kept = lines[0].amount + lines[1].amount;
      expect(kept).to.be.greaterThan(0);
      expect(lines[0].tax.amount! + lines[1].tax.amount!).to.equal(taxPortionOfInclusive(kept, 1425));
    });

    it('when a month is closed by overlapping runs, then the invoice is recorded and emailed once, shows as closed, and later lines go to the next month', async () => {
      // a partner of its own: closing a month must not touch the other tests' partner
      const partnerId = uniq('closing');
      await ensurePartner({ id: partnerId, name: 'Closing Partner', email: `billing@${partnerId}.example` });
      const agent = await ensureUser({ name: 'Closing agent', email: `admin-agent@${partnerId}.example`, role: 'admin-agent', partnerId });
      const admin = await ensureUser({ name: 'Closing admin', email: `global-admin@${partnerId}.example`, role: 'global-admin', partnerId });
      const [agentToken, adminToken] = [await issueToken(agent._id), await issueToken(admin._id)];
      const c = await app.newCustomer('US', agentToken);
      const orders = [await placeOrder(app, c.id, 'sql-server-standard-sub', { token: agentToken }), await placeOrder(app, c.id, 'windows-server-standard-sub', { token: agentToken })];
      await waitFor(async () => (await LedgerLine.countDocuments({ partnerId })) === 2);
      const month = (await LedgerLine.findById(`${orders[0].id}:charge`).lean())!.invoiceMonth;

      // the month has not ended: a close is refused unless asked for early
      const refused = await app.client.workflow.execute('closeInvoicesWorkflow', { taskQueue: app.taskQueue, workflowId: uniq('close'), args: [{ month, partnerIds: [partnerId] }] }).catch((e: unknown) => e);
      expect(((refused as { cause?: { type?: string } }).cause ?? {}).type, String(refused)).to.equal('month_not_ended');
      expect(await Invoice.countDocuments({ partnerId, month })).to.equal(0);
      // a month that has not begun (a typo for this one), or that is not a month, is refused even early (QA: the
      // next month was closed and emailed, and the one after opened)
      for (const [wrong, code] of [[nextMonthKey(month), 'month_not_begun'], ['2025-1', 'invalid_month']] as const) {
        const no = await app.client.workflow.execute('closeInvoicesWorkflow', { taskQueue: app.taskQueue, workflowId: uniq('close'), args: [{ month: wrong, partnerIds: [partnerId], early: true }] }).catch((e: unknown) => e);
        expect(((no as { cause?: { type?: string } }).cause ?? {}).type, String(no)).to.equal(code);
        expect(await Invoice.countDocuments({ partnerId })).to.equal(0);
      }
      const runs = await Promise.all(
        [1, 2, 3].map(() => app.client.workflow.execute('closeInvoicesWorkflow', { taskQueue: app.taskQueue, workflowId: uniq('close'), args: [{ month, partnerIds: [partnerId], early: true }] })),
      );
      expect(runs.map((r) => r.month)).to.deep.equal([month, month, month]);
      expect(runs.map((r) => r.partners)).to.deep.equal([1, 1, 1]);
      expect(runs.reduce((n, r) => n + r.closedHere, 0)).to.equal(1);
      expect(await Invoice.countDocuments({ partnerId, month })).to.equal(1);
      const subject = `Your csp-desk invoice for ${monthName(month)} (${month})`;
      const mail = await app.stack.mailbox.waitFor((m) => m.subject === subject && m.to.includes(`billing@${partnerId}.example`));
      // each line names its customer and product, as the invoice page does (a charge in its description)
      expect(mail.text).to.contain(`${orders[0].product.name} x 1 for ${c.name}`);
      // the link opens the invoice's page (not the JSON API)
      expect(mail.text).to.contain(`View the invoice: ${app.baseUrl}/app/invoices/${month}`);
      // closed early: the email says so, and where later lines go
      expect(mail.text).to.contain(`Closed early, on `).and.contain(`later charges and credits are on the ${monthName(nextMonthKey(month))} invoice`);
      const closed = await app.api('GET', `/invoices/${month}`, { token: adminToken });
      expect(closed.body.status).to.equal('closed');
      expect(closed.body.lines).to.have.length(2);

      // a line written after the close lands on the next open invoice; the closed one does not change
      const late = await placeOrder(app, c.id, 'windows-server-standard-perpetual', { token: agentToken });
      await waitFor(async () => (await LedgerLine.countDocuments({ orderId: late.id })) === 1);
      expect((await LedgerLine.findById(`${late.id}:charge`).lean())!.invoiceMonth).to.equal(nextMonthKey(month));
      expect((await app.api('GET', `/invoices/${month}`, { token: adminToken })).body.lines).to.have.length(2);
      const mails = (await app.stack.mailbox.list()).filter((m) => m.subject === subject && m.to.includes(`billing@${partnerId}.example`));
      expect(mails).to.have.length(1);
    });

    it('the monthly Schedule exists with its cron, follows a changed cron or task queue (paused: its note stays), and closes the previous month when it fires', async () => {
      const scheduleId = uniq('invoice-close-test');
      await ensureInvoiceSchedule(app.client, app.taskQueue, '5 0 2 * *', app.log, scheduleId);
      const handle = app.client.schedule.getHandle(scheduleId);
      const first = await handle.describe();
      expect(first.state.note).to.equal('cron 5 0 2 * *');
      // the same cron again: left alone; another cron (INVOICE_CLOSE_CRON changed): updated
      await ensureInvoiceSchedule(app.client, app.taskQueue, '5 0 2 * *', app.log, scheduleId);
      expect((await handle.describe()).info.lastUpdatedAt).to.equal(first.info.lastUpdatedAt);
      // another task queue (TEMPORAL_TASK_QUEUE changed): updated too
      await ensureInvoiceSchedule(app.client, 'another-queue', '5 0 1 * *', app.log, scheduleId);
      expect((await handle.describe()).action).to.deep.include({ taskQueue: 'another-queue' });
      // a paused Schedule keeps its operator's note (the pause reason); only its action is kept in step
      await handle.pause('paused by an operator');
      await ensureInvoiceSchedule(app.client, app.taskQueue, '5 0 1 * *', app.log, scheduleId);
      const paused = await handle.describe();
      expect(paused.state).to.deep.include({ paused: true, note: 'paused by an operator' });
      expect(paused.action).to.deep.include({ taskQueue: app.taskQueue });
      await handle.unpause('resumed');
      await ensureInvoiceSchedule(app.client, app.taskQueue, '5 0 1 * *', app.log, scheduleId);
      const desc = await handle.describe();
      expect(desc.state.note).to.equal('cron 5 0 1 * *');
      expect((desc.spec as { calendars?: { hour?: unknown; dayOfMonth?: unknown }[] }).calendars?.[0]?.dayOfMonth).to.deep.equal([{ start: 1, end: 1, step: 1 }]);
      expect(desc.action.type).to.equal('startWorkflow');
      await handle.trigger();
      let result: { month: string } | undefined;
      await waitFor(async () => {
        const d = await handle.describe();
        const run = d.info.recentActions[0]?.action;
        if (!run) return false;
        result = await app.client.workflow.getHandle(run.workflow.workflowId, run.workflow.firstExecutionRunId).result();
        return true;
      });
      expect(result!.month).to.equal(previousMonthKey(monthKey(new Date())));
      await handle.delete();
    });
  });
});
