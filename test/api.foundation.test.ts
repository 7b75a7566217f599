/** The first slice through everything, against the real servers: auth, validation, an order end to end. */
import net from 'node:net';
import { createRequire } from 'node:module';
import { expect } from 'chai';
import { createMailer } from '../lib/mailer';
import { checkHealth } from '../services/health';
import { Order, OrderEvent, IdempotencyRecord, LedgerLine, ActivationKey, EmailRecord } from '../models';
import { orderWorkflowId } from '../contracts/orders';
import { TIMELINE_CACHE_TTL_MS, createOrderService, orderView, type TimelineEntry } from '../services/orders';
import { weakETag } from '../lib/json-body';
import { getTestApp, placeOrder, uniq, waitFor, type TestApp } from './support/app';

describe('API foundation (real Temporal, FerretDB/MongoDB, SMTP)', function () {
  this.timeout(120_000);
  let app: TestApp;
  before(async () => {
    app = await getTestApp();
  });

  it('when asked for health, then Temporal, the database and SMTP are reachable, each with a latency', async () => {
    const res = await app.api('GET', '/health', { token: null });
    expect(res.status).to.equal(200);
    expect(res.body.status).to.equal('ok');
    for (const k of ['temporal', 'database', 'smtp']) {
      expect(res.body[k].ok, k).to.equal(true);
      expect(res.body[k].latencyMs, k).to.be.a('number');
    }
  });

  it('when /health is asked often, then its SMTP check is shared and reused for a while: the mail server sees one connection, not one per call', async () => {
    // a counting TCP relay in front of the real mail catcher
    const { port: smtpPort } = new URL(app.stack.smtpUrl);
    let connections = 0;
    const relay = net.createServer((inbound) => {
      connections += 1;
      const outbound = net.connect(Number(smtpPort), '127.0.0.1');
      inbound.pipe(outbound).pipe(inbound);
      const close = () => (inbound.destroy(), outbound.destroy());
      inbound.on('error', close);
      outbound.on('error', close);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const mailer = createMailer(`smtp://127.0.0.1:${(relay.address() as net.AddressInfo).port}`, 'csp-desk test <no-reply@csp-desk.test>');
    try {
      const answers = await Promise.all(Array.from({ length: 5 }, () => checkHealth({ client: app.client, mailer })));
      for (let i = 0; i < 5; i++) answers.push(await checkHealth({ client: app.client, mailer }));
      expect(answers.every((a) => a.smtp.ok)).to.equal(true);
      expect(connections).to.equal(1);
    } finally {
      mailer.close();
      relay.close();
    }
  });

  it('serves an OpenAPI 3.1 document with every route, its security and its error responses', async () => {
    const res = await app.api('GET', '/openapi.json', { token: null });
    expect(res.status).to.equal(200);
    expect(res.body.openapi).to.equal('3.1.0');
    const post = res.body.paths['/customers/{customer}/orders'].post;
    expect(post.security).to.deep.equal([{ bearerAuth: [] }]);
    expect(post.responses).to.include.keys('201', '400', '401', '403', '404', '413', '422', '500');
    expect(post.responses['201'].headers).to.include.keys('Location', 'Idempotent-Replayed', 'X-Request-Id');
    expect(post.parameters.map((p: { name: string }) => p.name)).to.include.members(['customer', 'idempotency-key']);
    expect(res.body.paths['/health'].get.security).to.deep.equal([]);
    expect(Object.keys(res.body.paths)).to.include.members(['/products', '/customers', '/orders/{id}', '/orders/{id}/cancel', '/invoices/{month}']);
    // conditional GETs are documented where they work, and not on a secret (never stored, no ETag)
    const getOrder = res.body.paths['/orders/{id}'].get;
    expect(getOrder.parameters.map((p: { name: string }) => p.name)).to.include('if-none-match');
    expect(getOrder.responses).to.include.keys('304');
    expect(getOrder.responses['200'].headers).to.include.keys('ETag');
    const software = res.body.paths['/customers/{customer}/software'].get;
    expect(software.parameters.map((p: { name: string }) => p.name)).to.not.include('if-none-match');
    expect(Object.keys(software.responses)).to.not.include('304');
    // each error response lists the codes a client can branch on: the operation's own refusals, then the shared ones
    expect(post.responses['422']['x-error-codes']).to.include.members(['market_unavailable', 'unknown_product', 'idempotency_key_reused']);
    expect(post.responses['422'].description).to.contain('`market_unavailable`');
    expect(post.responses['400']['x-error-codes']).to.include.members(['validation_failed', 'invalid_json', 'invalid_query']);
    const approve = res.body.paths['/support-requests/{id}/approve'].post;
    expect(approve.responses['409']['x-error-codes']).to.include.members(['invalid_state', 'already_refunded', 'approval_in_progress']);
    expect(approve.responses['422']['x-error-codes']).to.include.members(['amount_above_limit', 'amount_above_requested', 'amount_too_high']);
    expect(approve.responses['503']['x-error-codes']).to.include.members(['refund_unavailable', 'temporal_unavailable']);
    expect(res.body.paths['/downloads/{token}'].get.responses['410']['x-error-codes']).to.deep.equal(['link_expired', 'link_exhausted', 'link_revoked']);
    // and it is a valid OpenAPI 3.1 document by the specification's own schema
    const { Validator } = await import('@seriousme/openapi-schema-validator');
    const verdict = await new Validator().validate(res.body);
    expect(verdict.valid, JSON.stringify(verdict.errors)).to.equal(true);
  });

  it('when no token or a wrong token is sent, then 401 and the error shape', async () => {
    const none = await app.api('GET', '/products', { token: null });
    expect(none.status).to.equal(401);
    expect(none.body.error).to.include({ status: 401, code: 'unauthorized' });
    expect(none.body.error.requestId).to.be.a('string');
    expect((await app.api('GET', '/products', { token: 'cspd_nope' })).status).to.equal(401);
  });

  it('when a route is unknown, then a JSON 404', async () => {
    const res = await app.api('GET', '/nowhere');
    expect(res.status).to.equal(404);
    expect(res.body.error.code).to.equal('route_not_found');
  });

  it("makes each ETag exactly as Express's default would (weak, length and SHA-1), in one call", () => {
    // Express's own generator: the etag package it depends on, weak
    const etag = createRequire(require.resolve('express'))('etag') as (body: Buffer, opts: { weak: boolean }) => string;
    for (const text of ['', '{"a":1}', '{"name":"Zoë — 東京"}', 'x'.repeat(100_000)]) {
      const body = Buffer.from(text);
      expect(weakETag(body), JSON.stringify(text.slice(0, 20))).to.equal(etag(body, { weak: true }));
    }
  });

  it('lists the catalog', async () => {
    const res = await app.api('GET', '/products', { token: app.tokens['sales-agent'] });
    expect(res.status).to.equal(200);
    // as documented: its ETag sent back is a 304 without a body, whether the client revalidates with `max-age=0` (a
    // browser's reload) or with `no-cache` (which fetch adds to a request with If-None-Match)
    for (const cacheControl of ['max-age=0', 'no-cache']) {
      const again = await fetch(`${app.baseUrl}/products`, { headers: { authorization: `Bearer ${app.tokens['sales-agent']}`, 'if-none-match': res.headers.get('etag')!, 'cache-control': cacheControl } });
      expect([again.status, (await again.arrayBuffer()).byteLength], cacheControl).to.deep.equal([304, 0]);
    }
    // and the header is checked as the document states it
    const long = await app.api('GET', '/products', { token: app.tokens['sales-agent'], headers: { 'if-none-match': `"${'x'.repeat(1000)}"` } });
    expect([long.status, long.body.error.field]).to.deep.equal([400, 'header.if-none-match']);
    const ids = res.body.map((p: { id: string }) => p.id);
    expect(ids).to.include.members(['azure-ri-vm-1y', 'azure-ri-vm-3y', 'windows-server-datacenter-sub', 'windows-server-standard-sub', 'sql-server-standard-sub', 'sql-server-enterprise-sub', 'windows-server-standard-perpetual', 'sql-server-standard-perpetual', 'windows-7-esu-2020', 'suse-linux-enterprise-server-plan', 'red-hat-enterprise-linux-plan']);
    const esu = res.body.find((p: { id: string }) => p.id === 'windows-7-esu-2020');
    expect(esu.cancellation).to.deep.equal({ mode: 'support-request-only' });
  });

  it('when an order is placed, then it is recorded at once, its workflow runs, and the confirmation email arrives (HTML and text)', async () => {
    const customer = await app.newCustomer('US');
    const requestId = uniq('req');
    const res = await app.api('POST', `/customers/${customer.domain}/orders`, {
      headers: { 'idempotency-key': uniq('key'), 'x-request-id': requestId },
      body: { productId: 'windows-server-standard-sub', quantity: 2 },
    });
    expect(res.status).to.equal(201);
    expect(res.headers.get('x-request-id')).to.equal(requestId);
    expect(res.headers.get('location')).to.equal(`/orders/${res.body.id}`);
    const order = res.body;
    expect(order.customer.id).to.equal(customer.id);
    expect(order.pricing).to.deep.include({ currency: 'USD', quantity: 2, total: 2 * 36_500 });
    expect(order.pricing.tax.treatment).to.equal('exclusive');

    const read = await app.api('GET', `/orders/${order.id}`);
    expect(read.status).to.equal(200);
    expect(read.body.id).to.equal(order.id);
    expect(read.body.timeline.map((e: { type: string }) => e.type)).to.include('placed');

    // the request id followed the request into the workflow
    const desc = await app.client.workflow.getHandle(orderWorkflowId(order.id)).describe();
    expect(desc.type).to.equal('orderWorkflow');
    expect(await desc.memo).to.deep.include({ requestId });
    expect((await Order.findById(order.id).lean())!.requestId).to.equal(requestId);

    const mail = await app.stack.mailbox.waitFor((m) => m.subject.includes(order.id) && m.subject.includes('confirmed'));
    expect(mail.to).to.include(`admin-agent@${app.partnerId}.example`);
    expect(mail.html).to.contain(order.id).and.contain('$730.00').and.contain('<table');
    expect(mail.text).to.contain(order.id).and.contain('$730.00');
    expect(mail.messageId).to.match(/@csp-desk>?$/);

    // the workflow carried it through payment and provisioning
    await waitFor(async () => (await Order.findById(order.id).lean())?.status === 'active');
    // an entry that changes no state (the email sent) may show up to TIMELINE_CACHE_TTL_MS after it was written
    let types: string[] = [];
    let paidAt: unknown;
    await waitFor(async () => {
      const r = await app.api('GET', `/orders/${order.id}`);
      ({ paidAt } = r.body);
      types = r.body.timeline.map((e: { type: string }) => e.type);
      return types.includes('email-sent');
    }, TIMELINE_CACHE_TTL_MS + 3000);
    expect(paidAt).to.be.a('string');
    // in the order things happened, though placement's three writes carry the same instant
    expect(types).to.deep.equal(['placed', 'payment-recorded', 'provisioned', 'email-sent']);
    expect(await ActivationKey.countDocuments({ orderId: order.id })).to.equal(1);
    expect(await LedgerLine.countDocuments({ orderId: order.id, kind: 'charge' })).to.equal(1);

    // structured logs: the API's request line and each activity's line carry the same request id
    await waitFor(async () => app.logLines.some((l) => l.requestId === requestId && l.msg === 'email sent'));
    const mine = app.logLines.filter((l) => l.requestId === requestId);
    expect(mine.map((l) => l.msg)).to.include.members(['request', 'order recorded', 'payment recorded', 'order provisioned', 'email sent']);
    expect(mine.find((l) => l.msg === 'request')).to.include({ method: 'POST', status: 201 });
    expect(mine.filter((l) => l.msg !== 'request').every((l) => l.orderId === order.id)).to.equal(true);
  });

  describe("an order's timeline between reads", () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const typesOf = async (orderId: string): Promise<string[]> => {
      const r = await app.api('GET', `/orders/${orderId}`);
      expect(r.status).to.equal(200);
      return r.body.timeline.map((e: { type: string; data: { kind?: string } }) => (e.data.kind ? `${e.type}:${e.data.kind}` : e.type));
    };
    /** A confirmed order, its confirmation email's entry written. */
    const confirmedOrder = async () => {
      const customer = await app.newCustomer('US');
      const o = await placeOrder(app, customer.id, 'sql-server-standard-sub');
      await waitFor(async () => Boolean(await OrderEvent.exists({ _id: `${o.id}:email-confirmation` })));
      return { o, customer };
    };
    const complete = ['placed', 'payment-recorded', 'provisioned', 'email-sent:confirmation'];

    it('when the timeline has every entry its state implies, then it is kept past the short lifetime, and a change of state shows at once', async () => {
      const { o, customer } = await confirmedOrder();
      // (the order's answer to its POST may have kept it without its email: read again within the short lifetime)
      await waitFor(async () => (await typesOf(o.id)).length === complete.length, TIMELINE_CACHE_TTL_MS + 3000);
      expect(await typesOf(o.id)).to.deep.equal(complete);
      // a reminder (the one entry written with no change of state) lands after the read
      await OrderEvent.create({ _id: `${o.id}:email-reminder`, orderId: o.id, partnerId: app.partnerId, type: 'email-sent', at: new Date(), data: { kind: 'reminder', messageId: 'test' } });
      await sleep(TIMELINE_CACHE_TTL_MS + 500);
      expect(await typesOf(o.id), 'a complete timeline is read again only after SETTLED_TIMELINE_CACHE_TTL_MS').to.not.include('email-sent:reminder');
      const cancel = await app.api('POST', `/orders/${o.id}/cancel`, { body: { customer: customer.name, productName: o.product.name, acknowledged: true } });
      expect(cancel.status, JSON.stringify(cancel.body)).to.equal(200);
      const after = await typesOf(o.id);
      expect(after).to.include.members(['email-sent:reminder', 'keys-and-links-revoked', 'credit-recorded', 'cancelled']);
    });

    it('when an order is imported inside its reminder period, then its reminder, sent at once with no change of state, shows within the short lifetime', async () => {
      const customer = await app.newCustomer('US');
      const res = await app.api('POST', `/customers/${customer.id}/orders/import`, {
        token: app.tokens['global-admin'],
        body: { orders: [{ orderId: uniq('IMP'), productId: 'windows-server-standard-sub', quantity: 1, purchasedAt: new Date(Date.now() - 55 * 24 * 3600_000).toISOString() }] },
      });
      expect(res.status, JSON.stringify(res.body)).to.be.oneOf([200, 201, 207]);
      const [{ id: orderId }] = res.body.results;
      // read as soon as it is provisioned, before its reminder is written (the helper's repro: shown only 60 s later)
      await waitFor(async () => (await typesOf(orderId)).includes('provisioned'), 10_000);
      await waitFor(async () => Boolean(await OrderEvent.exists({ _id: `${orderId}:email-reminder` })));
      await sleep(TIMELINE_CACHE_TTL_MS + 500);
      expect(await typesOf(orderId)).to.include('email-sent:reminder');
    });

    it("when an order is read again, then an unchanged one is answered byte for byte as res.json would (its ETag, 304, HEAD), and a change anywhere in its document shows at once", async () => {
      const { o } = await confirmedOrder();
      await waitFor(async () => (await typesOf(o.id)).length === complete.length, TIMELINE_CACHE_TTL_MS + 3000);
      const read = async (headers: Record<string, string> = {}, method = 'GET') => {
        const res = await fetch(`${app.baseUrl}/orders/${o.id}`, { method, headers: { authorization: `Bearer ${app.tokens['admin-agent']}`, ...headers } });
        return { status: res.status, text: await res.text(), etag: res.headers.get('etag'), type: res.headers.get('content-type'), length: res.headers.get('content-length') };
      };
      const first = await read();
      const again = await read();
      expect(again).to.deep.equal(first);
      // what res.json sends for the order's view, rendered from the document as mongoose reads it
      const stored = (await Order.findById(o.id).lean())!;
      const body = JSON.parse(first.text) as ReturnType<typeof orderView>;
      expect(first.text).to.equal(JSON.stringify(orderView(stored, (body as { timeline: TimelineEntry[] }).timeline)));
      expect(first).to.include({ type: 'application/json; charset=utf-8', etag: weakETag(first.text), length: String(Buffer.byteLength(first.text)) });
      expect(await read({ 'if-none-match': first.etag! })).to.deep.include({ status: 304, text: '' });
      expect(await read({}, 'HEAD')).to.deep.include({ status: 200, text: '', etag: first.etag });
      // a field that is no part of the order's state (so its timeline stays kept): the very next read shows it
      const renamed = `${stored.customer.name} (renamed)`;
      await Order.updateOne({ _id: o.id }, { $set: { 'customer.name': renamed } });
      const changed = await read();
      expect(JSON.parse(changed.text).customer.name).to.equal(renamed);
      expect(changed.etag).to.equal(weakETag(changed.text));
      expect(changed.etag).to.not.equal(first.etag);
      expect(JSON.parse((await read()).text).customer.name).to.equal(renamed);
      // and back: the answer rendered for the first document is not sent for the second
      await Order.updateOne({ _id: o.id }, { $set: { 'customer.name': stored.customer.name } });
      expect((await read()).text).to.equal(first.text);
      // another partner's read of an order whose answer is kept: not found, as ever
      const foreign = await app.api('GET', `/orders/${o.id}`, { token: app.otherTokens['admin-agent'] });
      expect(foreign.status).to.equal(404);
      expect(JSON.stringify(foreign.body)).to.not.include(stored.customer.name);
    });

    it('when an unchanged order is read again, then its kept answer is sent (not rendered again), and a new one once its document changed', async () => {
      const { o } = await confirmedOrder();
      const orders = createOrderService({ client: app.client, taskQueue: app.taskQueue, reminderDaysBeforeClose: 7 });
      await waitFor(async () => JSON.parse((await orders.viewJson(app.partnerId, o.id)).bytes.toString('utf8')).timeline.length === complete.length, TIMELINE_CACHE_TTL_MS + 3000);
      const first = await orders.viewJson(app.partnerId, o.id);
      // the same stored bytes read again (FerretDB and MongoDB answer a document unchanged in the same bytes)
      expect(await orders.viewJson(app.partnerId, o.id)).to.equal(first);
      expect(await orders.viewJson(app.partnerId, o.id)).to.equal(first);
      await Order.updateOne({ _id: o.id }, { $set: { 'customer.domain': `renamed-${o.customer.domain}` } });
      const changed = await orders.viewJson(app.partnerId, o.id);
      expect(changed).to.not.equal(first);
      expect(JSON.parse(changed.bytes.toString('utf8')).customer.domain).to.equal(`renamed-${o.customer.domain}`);
      expect(await orders.viewJson(app.partnerId, o.id)).to.equal(changed);
      // another partner's read never gets it
      let refused: unknown;
      await orders.viewJson(app.otherPartnerId, o.id).catch((e: unknown) => (refused = e));
      expect(refused).to.have.property('status', 404);
    });

    it('when the timeline still lacks an entry its state implies (the confirmation email on its way), then it is read again after the short lifetime', async () => {
      const { o } = await confirmedOrder();
      // as the API would have seen it before the email activity wrote its entry
      const email = (await OrderEvent.findById(`${o.id}:email-confirmation`).lean())!;
      await OrderEvent.deleteOne({ _id: email._id });
      // past what the order's answer to its POST kept (without its email, so briefly)
      await sleep(TIMELINE_CACHE_TTL_MS + 500);
      expect(await typesOf(o.id)).to.deep.equal(complete.slice(0, -1));
      await OrderEvent.create(email);
      await sleep(TIMELINE_CACHE_TTL_MS + 500);
      expect(await typesOf(o.id)).to.deep.equal(complete);
    });
  });

  it('when the same Idempotency-Key is sent again, then the same order comes back and no second one is made', async () => {
    const customer = await app.newCustomer('US');
    const key = uniq('key');
    const first = await placeOrder(app, customer.id, 'sql-server-standard-sub', { key });
    const again = await app.api('POST', `/customers/${customer.id}/orders`, { headers: { 'idempotency-key': key }, body: { productId: 'sql-server-standard-sub', quantity: 1 } });
    expect(again.status).to.equal(201);
    expect(again.body.id).to.equal(first.id);
    expect(again.headers.get('idempotent-replayed')).to.equal('true');
    const other = await app.api('POST', `/customers/${customer.id}/orders`, { headers: { 'idempotency-key': key }, body: { productId: 'sql-server-standard-sub', quantity: 5 } });
    expect(other.status).to.equal(422);
    expect(other.body.error).to.include({ code: 'idempotency_key_reused', field: 'header.idempotency-key' });
    expect(await Order.countDocuments({ customerId: customer.id })).to.equal(1);
  });

  it('when 100 identical requests with one Idempotency-Key race, then exactly one order and one workflow exist', async () => {
    const customer = await app.newCustomer('US');
    const key = uniq('key-race');
    const responses = await Promise.all(
      Array.from({ length: 100 }, () =>
        app.api('POST', `/customers/${customer.id}/orders`, { headers: { 'idempotency-key': key }, body: { productId: 'windows-server-datacenter-sub', quantity: 1 } }),
      ),
    );
    const statuses = [...new Set(responses.map((r) => r.status))];
    expect(statuses, JSON.stringify(responses.find((r) => r.status !== 201)?.body)).to.deep.equal([201]);
    const ids = new Set(responses.map((r) => r.body.id));
    expect(ids.size).to.equal(1);
    const [orderId] = [...ids];
    expect(await Order.countDocuments({ customerId: customer.id })).to.equal(1);
    expect(await IdempotencyRecord.countDocuments({ _id: `${app.partnerId}:${key}` })).to.equal(1);
    const workflows = [];
    for await (const w of app.client.workflow.list({ query: `WorkflowId = '${orderWorkflowId(orderId)}'` })) workflows.push(w);
    expect(workflows).to.have.length(1);
    await app.stack.mailbox.waitFor((m) => m.subject.includes(orderId));
    await waitFor(async () => (await EmailRecord.findById(`order:${orderId}:confirmation`).lean())?.status === 'sent');
    const mails = (await app.stack.mailbox.list()).filter((m) => m.subject.includes(orderId));
    expect(mails).to.have.length(1);
    expect(await OrderEvent.countDocuments({ orderId, type: 'placed' })).to.equal(1);
  });

  describe('when the input is bad, then a 400 names the field and nothing is written', () => {
    const cases: [string, Record<string, string>, unknown, string][] = [
      ['quantity 0', { 'idempotency-key': 'k-validation-1' }, { productId: 'windows-server-standard-sub', quantity: 0 }, 'body.quantity'],
      ['quantity a string', { 'idempotency-key': 'k-validation-2' }, { productId: 'windows-server-standard-sub', quantity: '2' }, 'body.quantity'],
      ['no product', { 'idempotency-key': 'k-validation-3' }, { quantity: 1 }, 'body.productId'],
      ['an unknown field', { 'idempotency-key': 'k-validation-4' }, { productId: 'windows-server-standard-sub', quantity: 1, discount: 5 }, 'body.discount'],
      ['no Idempotency-Key', {}, { productId: 'windows-server-standard-sub', quantity: 1 }, 'header.idempotency-key'],
    ];
    for (const [what, headers, body, field] of cases) {
      it(what, async () => {
        const customer = await app.newCustomer('US');
        const res = await app.api('POST', `/customers/${customer.id}/orders`, { headers, body });
        expect(res.status).to.equal(400);
        expect(res.body.error).to.include({ code: 'validation_failed', field });
        expect(res.body.error.message).to.contain(field);
        expect(await Order.countDocuments({ customerId: customer.id })).to.equal(0);
      });
    }
    it('malformed JSON', async () => {
      const customer = await app.newCustomer('US');
      const res = await app.api('POST', `/customers/${customer.id}/orders`, { headers: { 'idempotency-key': 'k-json-1' }, raw: '{"productId":' });
      expect(res.status).to.equal(400);
      expect(res.body.error).to.include({ code: 'invalid_json', field: 'body' });
    });
    it('JSON that is no object (null, a number, a string, true, an array): 400 saying so, not "not valid JSON", nothing written', async () => {
      const customer = await app.newCustomer('US');
      for (const raw of ['null', '1', '"x"', ' true', '[]']) {
        const res = await app.api('POST', `/customers/${customer.id}/orders`, { headers: { 'idempotency-key': uniq('k-scalar') }, raw });
        expect([res.status, res.body.error.code, res.body.error.field, res.body.error.message], raw).to.deep.equal([400, 'validation_failed', 'body', 'body must be a JSON object (Content-Type: application/json)']);
      }
      expect(await Order.countDocuments({ customerId: customer.id })).to.equal(0);
    });
    it('a body sent as something other than JSON (a form, text, no Content-Type): 415 naming the header, nothing written (QA: a 400 saying the body must be an object)', async () => {
      const customer = await app.newCustomer('US');
      const post = (headers: Record<string, string>, body: string) =>
        fetch(`${app.baseUrl}/customers/${customer.id}/orders`, { method: 'POST', headers: { authorization: `Bearer ${app.tokens['admin-agent']}`, 'idempotency-key': uniq('k-type'), ...headers }, body });
      for (const [type, body] of [['application/x-www-form-urlencoded', 'productId=sql-server-standard-sub&quantity=1'], ['text/plain', '{"productId":"sql-server-standard-sub","quantity":1}'], ['application/merge-patch+json', '{}']] as const) {
        const res = await post({ 'content-type': type }, body);
        const err = ((await res.json()) as { error: { code: string; field: string; message: string } }).error;
        expect([res.status, err.code, err.field], type).to.deep.equal([415, 'unsupported_media_type', 'header.content-type']);
        expect(err.message).to.include(type).and.include('application/json');
      }
      // no Content-Type at all (a body fetch sends as bytes)
      const none = await post({}, new Uint8Array([123, 125]) as unknown as string);
      expect(none.status).to.equal(415);
      expect(((await none.json()) as { error: { message: string } }).error.message).to.match(/^no Content-Type/);
      expect(await Order.countDocuments({ customerId: customer.id })).to.equal(0);
    });
    it('an unknown product: 422 naming the field', async () => {
      const customer = await app.newCustomer('US');
      const res = await app.api('POST', `/customers/${customer.id}/orders`, { headers: { 'idempotency-key': uniq('k') }, body: { productId: 'office-2003', quantity: 1 } });
      expect(res.status).to.equal(422);
      expect(res.body.error).to.include({ code: 'unknown_product', field: 'body.productId' });
    });
  });

  it('when a role may not place orders, then 403 and nothing is written', async () => {
    const customer = await app.newCustomer('US');
    for (const role of ['marketing-content-admin', 'referral-admin', 'account-admin', 'support-agent', 'support-lead'] as const) {
      const res = await app.api('POST', `/customers/${customer.id}/orders`, { token: app.tokens[role], headers: { 'idempotency-key': uniq('k') }, body: { productId: 'windows-server-standard-sub', quantity: 1 } });
      expect(res.status, role).to.equal(403);
      expect(res.body.error.code).to.equal('forbidden');
      expect(res.body.error.message).to.match(new RegExp(`^the role ${role} may not use POST /customers/\\{customer\\}/orders \\(.+\\); allowed: admin-agent, sales-agent, global-admin$`));
    }
    expect(await Order.countDocuments({ customerId: customer.id })).to.equal(0);
    // the document's appropriate roles (admin agent, global admin) and the sales agent may
    for (const role of ['admin-agent', 'global-admin', 'sales-agent'] as const) {
      expect((await placeOrder(app, customer.id, 'windows-server-standard-sub', { token: app.tokens[role] })).status, role).to.be.oneOf(['pending', 'active']);
    }
  });

  it("when another partner's order or customer is asked for, then 404 and nothing is written", async () => {
    const customer = await app.newCustomer('US');
    const order = await placeOrder(app, customer.id, 'windows-server-standard-sub');
    expect((await app.api('GET', `/orders/${order.id}`, { token: app.otherTokens['admin-agent'] })).status).to.equal(404);
    expect((await app.api('GET', `/customers/${customer.id}`, { token: app.otherTokens['admin-agent'] })).status).to.equal(404);
    const res = await app.api('POST', `/customers/${customer.id}/orders`, { token: app.otherTokens['sales-agent'], headers: { 'idempotency-key': uniq('k') }, body: { productId: 'windows-server-standard-sub', quantity: 1 } });
    expect(res.status).to.equal(404);
    expect(await Order.countDocuments({ customerId: customer.id })).to.equal(1);
  });
});

