/**
 * Faults on the real servers: the SMTP server stops during a cancellation. The cancellation answers once it
 * is recorded (credit, revocation); its email follows durably once SMTP is back, exactly once.
 * A worker and an API of their own (composition/root.ts) send to a mail catcher this test stops and starts.
 */
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Worker } from '@temporalio/worker';
import { createApi, createAppServer, createWorker } from '../composition/root';
import { createMailer } from '../lib/mailer';
import { NativeConnection } from '../lib/temporal';
import { ActivationKey, LedgerLine, Order, SupportEvent, SupportQueueEntry } from '../models';
import { GENERAL_PROBLEM_TYPE } from '../domain/support';
import { mailbox, startMailCatcher, type MailCatcherHandle } from '../stack/mailcatcher';
import { freePort } from '../stack/ports';
import { getTestApp, uniq, type TestApp, TEST_SUPPORT_SETTINGS } from './support/app';
import { orderRefundWorkflowId, orderStateQuery } from '../contracts/orders';
import { SUPPORT_REQUEST_PROBLEM_TYPE } from '../domain/cancellation';

describe('faults: SMTP stopped during a cancellation and support work (real servers)', function () {
  this.timeout(180_000);
  let app: TestApp;
  let catcher: MailCatcherHandle | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let connection: NativeConnection | undefined;
  let server: http.Server | undefined;
  let base = '';
  const mailer: { close(): void }[] = [];
  // set up by the first test, used by the next ones
  let call: (p: string, body: unknown, key?: string) => Promise<{ status: number; body: Record<string, any> }>;
  let box: ReturnType<typeof mailbox>;
  let startCatcher: () => Promise<MailCatcherHandle>;

  /** POST as a user of the test app, through this test's own API: status, body, and how long the answer took. */
  const send = async (p: string, token: string, body: unknown, key?: string) => {
    const t0 = Date.now();
    const res = await fetch(`${base}${p}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any>, ms: Date.now() - t0 };
  };

  after(async () => {
    server?.close();
    server?.closeAllConnections();
    if (worker && worker.getState() === 'RUNNING') worker.shutdown();
    await running;
    await connection?.close();
    for (const m of mailer) m.close();
    await catcher?.stop();
  });

  it('when SMTP is down, then the cancellation answers at once with its credit and revocation recorded, and its email arrives once SMTP is back, exactly once', async () => {
    app = await getTestApp();
    const [smtpPort, httpPort] = [await freePort(), await freePort()];
    const dir = path.join(app.stack.dataDir, uniq('mail-faults'));
    startCatcher = () => startMailCatcher({ smtpPort, httpPort, dir });
    catcher = await startCatcher();
    box = mailbox(catcher.webUrl);

    const taskQueue = uniq('faults-smtp');
    const m = createMailer(catcher.smtpUrl, 'csp-desk test <no-reply@csp-desk.test>');
    mailer.push(m);
    connection = await NativeConnection.connect({ address: app.stack.temporalAddress });
    worker = await createWorker({ connection, namespace: 'default', taskQueue, mailer: m, log: app.log, publicBaseUrl: 'http://csp-desk.test', workflowBundle: app.workflowBundle });
    running = worker.run();
    server = createAppServer(createApi({ client: app.client, mailer: m, log: app.log, taskQueue, reminderDaysBeforeClose: 7, support: TEST_SUPPORT_SETTINGS }));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    call = async (p: string, body: unknown, key?: string) => {
      const res = await fetch(`${base}${p}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${app.tokens['admin-agent']}`, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };

    const customer = await app.newCustomer('US');
    const placed = await call(`/customers/${customer.id}/orders`, { productId: 'sql-server-standard-sub', quantity: 1 }, uniq('key'));
    expect(placed.status).to.equal(201);
    const orderId = placed.body.id as string;
    await box.waitFor((x) => x.subject.includes(orderId) && x.subject.includes('confirmed'), { timeoutMs: 30_000 });

    await catcher.stop();
    // the API still serves: its health says SMTP is down, as a 200 (a 503 would take it out of a load balancer)
    const health = await fetch(`${base}/health`);
    const healthBody = (await health.json()) as { status: string; smtp: { ok: boolean }; database: { ok: boolean } };
    expect([health.status, healthBody.status, healthBody.smtp.ok, healthBody.database.ok]).to.deep.equal([200, 'degraded', false, true]);
    const t0 = Date.now();
    const res = await call(`/orders/${orderId}/cancel`, { customer: customer.name, productName: placed.body.product.name, acknowledged: true });
    const tookMs = Date.now() - t0;
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.status).to.equal('cancelled');
    // no wait for SMTP (before, the answer came only once SMTP was back: up to a minute)
    expect(tookMs, 'ms to answer').to.be.below(10_000);
    // recorded before the answer: the credit, the revocation, the order
    const credit = await LedgerLine.findById(`${orderId}:credit`).lean();
    expect(credit?.amount).to.equal(-res.body.credit.amount).and.to.be.below(0);
    expect(await ActivationKey.countDocuments({ orderId, status: 'active' })).to.equal(0);
    expect((await Order.findById(orderId).lean())?.status).to.equal('cancelled');

    // SMTP down a while: the email activity fails and is retried
    await new Promise((r) => setTimeout(r, 3000));
    catcher = await startCatcher();
    const mail = await box.waitFor((x) => x.subject.includes(orderId) && x.subject.includes('cancelled'), { timeoutMs: 60_000 });
    expect(mail.text).to.contain('revoked');
    // the workflow ends once its email is sent; then nothing more can come
    const handle = app.client.workflow.getHandle(`order:${orderId}`);
    expect(await handle.result()).to.deep.equal({ orderId, status: 'cancelled' });
    const mails = (await box.list()).filter((x) => x.subject.includes(orderId));
    expect(mails.filter((x) => x.subject.includes('cancelled')), 'cancellation emails').to.have.length(1);
    expect(mails.filter((x) => x.subject.includes('confirmed')), 'confirmations').to.have.length(1);
  });

  it("when SMTP is down before the order's confirmation went out, then its cancellation still answers at once; once SMTP is back the confirmation (saying it was cancelled since) comes first, then the cancellation", async () => {
    await catcher!.stop();
    const customer = await app.newCustomer('US');
    const placed = await call(`/customers/${customer.id}/orders`, { productId: 'sql-server-standard-sub', quantity: 1 }, uniq('key'));
    expect(placed.status).to.equal(201);
    const orderId = placed.body.id as string;
    const handle = app.client.workflow.getHandle(`order:${orderId}`);
    // provisioned (keys made), its confirmation email failing against the stopped SMTP server
    for (let i = 0; i < 200 && (await handle.query(orderStateQuery)).stage !== 'provisioned'; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await handle.query(orderStateQuery)).stage).to.equal('provisioned');
    const t0 = Date.now();
    const res = await call(`/orders/${orderId}/cancel`, { customer: customer.name, productName: placed.body.product.name, acknowledged: true });
    // before, the cancellation waited for the confirmation email: 503 after a minute while SMTP stayed down
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(Date.now() - t0, 'ms to answer').to.be.below(10_000);
    expect((await LedgerLine.findById(`${orderId}:credit`).lean())?.amount).to.equal(-res.body.credit.amount);
    expect(await ActivationKey.countDocuments({ orderId, status: 'active' })).to.equal(0);

    catcher = await startCatcher();
    await box.waitFor((x) => x.subject.includes(orderId) && x.subject.includes('cancelled'), { timeoutMs: 60_000 });
    expect(await handle.result()).to.deep.equal({ orderId, status: 'cancelled' });
    const mails = (await box.list()).filter((x) => x.subject.includes(orderId));
    expect(mails.map((x) => (x.subject.includes('confirmed') ? 'confirmed' : x.subject.includes('cancelled') ? 'cancelled' : x.subject))).to.have.members(['confirmed', 'cancelled']);
    const [confirmation, cancellation] = [mails.find((x) => x.subject.includes('confirmed'))!, mails.find((x) => x.subject.includes('cancelled'))!];
    expect(Date.parse(confirmation.receivedAt)).to.be.at.most(Date.parse(cancellation.receivedAt));
    expect((await box.get(confirmation.id)).text).to.contain('This order has since been cancelled').and.not.contain('Cancellable until');
  });

  it("when SMTP is down, then a support refund of an order whose workflow has ended is approved at once (credit, cancellation, ticket approved), and the order's cancellation email arrives once SMTP is back, once", async () => {
    const customer = await app.newCustomer('US');
    const originalId = uniq('ended-order');
    const purchasedAt = new Date(Date.now() - 90 * 86_400_000).toISOString();
    const imported = await send(`/customers/${customer.id}/orders/import`, app.tokens['global-admin'], { orders: [{ orderId: originalId, productId: 'windows-server-standard-perpetual', quantity: 1, purchasedAt }] });
    expect(imported.body.results?.[0]?.outcome, JSON.stringify(imported.body)).to.equal('imported');
    const orderId = imported.body.results[0].id as string;
    // its window closed long ago: the order's workflow ends, its refund workflow will be the order's writer
    const orderHandle = app.client.workflow.getHandle(`order:${orderId}`);
    await orderHandle.result();
    const filed = await send('/support-requests', app.tokens['admin-agent'], { problemType: SUPPORT_REQUEST_PROBLEM_TYPE, impact: 'moderate', title: 'Refund an old licence', customer: customer.domain, orderId, refund: { reason: 'Never used', amount: 40_000, currency: 'USD' }, contact: { name: 'Pat', email: `admin-agent@${app.partnerId}.example`, phone: '+1 555 0100' } }, uniq('key-sr'));
    expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
    const number = filed.body.number as string;
    await box.waitFor((x) => x.subject.includes(number) && x.subject.includes('received'), { timeoutMs: 30_000 });

    await catcher!.stop();
    const approved = await send(`/support-requests/${number}/approve`, app.tokens['support-agent'], {});
    // before, the approval waited for the refund workflow's email: no answer while SMTP stayed down, the ticket locked
    expect(approved.status, JSON.stringify(approved.body)).to.equal(200);
    expect(approved.ms, 'ms to answer').to.be.below(10_000);
    expect(approved.body.status).to.equal('approved');
    expect(approved.body.approval).to.include({ amount: 40_000, currency: 'USD' });
    expect((await LedgerLine.find({ orderId, kind: 'credit' }).lean()).map((l) => l.amount)).to.deep.equal([-40_000]);
    expect((await Order.findById(orderId).lean())?.status).to.equal('cancelled');

    await new Promise((r) => setTimeout(r, 2000));
    catcher = await startCatcher();
    box = mailbox(catcher.webUrl);
    await box.waitFor((x) => x.subject.includes(orderId) && x.subject.includes('cancelled'), { timeoutMs: 60_000 });
    const refund = app.client.workflow.getHandle(orderRefundWorkflowId(orderId));
    expect(await refund.result()).to.include({ orderId, ticket: number, status: 'cancelled' });
    expect((await box.list()).filter((x) => x.subject.includes(orderId) && x.subject.includes('cancelled')), 'cancellation emails').to.have.length(1);
  });

  /** Stops the mail catcher, then files a support request (answered at once): the mailbox and the request. */
  const fileWithSmtpDown = async (title: string) => {
    const mails = mailbox(catcher!.webUrl);
    const customer = await app.newCustomer('US');
    await catcher!.stop();
    const filed = await send('/support-requests', app.tokens['admin-agent'], { problemType: GENERAL_PROBLEM_TYPE, impact: 'moderate', title, customer: customer.domain, contact: { name: 'Pat Partner', email: 'pat@partner.example' } }, uniq('key-sr'));
    expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
    return { box: mails, filed, number: filed.body.number as string };
  };
  /** Starts the mail catcher again on its ports, with a fresh folder. */
  const smtpBack = async () => {
    catcher = await startMailCatcher({ smtpPort: Number(new URL(catcher!.smtpUrl).port), httpPort: Number(new URL(catcher!.webUrl).port), dir: path.join(app.stack.dataDir, uniq('mail-faults')) });
  };

  it('when SMTP is down, then a support request is filed, answered and noted at once (each recorded, the ticket in the queue), and its emails arrive once SMTP is back, once each', async () => {
    const { box, filed, number } = await fileWithSmtpDown('Mail is down here too');
    const replied = await send(`/support-requests/${number}/replies`, app.tokens['support-agent'], { body: 'Looking into it.' });
    expect(replied.status, JSON.stringify(replied.body)).to.equal(200);
    const noted = await send(`/support-requests/${number}/replies`, app.tokens['support-agent'], { body: 'Internal: checking the tenant.', internal: true });
    expect(noted.status, JSON.stringify(noted.body)).to.equal(200);
    // none waited for SMTP (before, each waited behind the emails before it: the filing for its acknowledgement)
    for (const r of [filed, replied, noted]) expect(r.ms, 'ms to answer').to.be.below(10_000);
    expect((await SupportEvent.find({ ticketId: number }).sort({ seq: 1 }).lean()).map((e) => e.type)).to.deep.equal(['filed', 'replied', 'note']);
    expect((await SupportQueueEntry.findById(number).lean())?.seq).to.equal(3);

    await new Promise((r) => setTimeout(r, 3000));
    await smtpBack();
    await box.waitFor((x) => x.subject.includes(number) && x.subject.includes('received'), { timeoutMs: 60_000 });
    await box.waitFor((x) => x.subject.includes(number) && x.subject.includes('reply from'), { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 1000));
    const mails = (await box.list()).filter((x) => x.subject.includes(number));
    // one of each to the filer, and one to the contact (no user: a copy of their own, without the sign-in link)
    const sent = mails.map((x) => `${x.subject.includes('received') ? 'received' : 'reply'} to ${x.to.join(',')}`).sort();
    expect(sent).to.deep.equal([`received to admin-agent@${app.partnerId}.example`, 'received to pat@partner.example', `reply to admin-agent@${app.partnerId}.example`, 'reply to pat@partner.example']);
  });

  it("when SMTP is down long enough that a ticket's first email retries less often than its next, then once SMTP is back they still arrive in the order of their events", async () => {
    const { box, number } = await fileWithSmtpDown('Order of emails');
    // the acknowledgement's attempts (1 s, doubling) are now 16 s apart; the reply's start at 1 s: sent side by side,
    // the reply's next attempt would come seconds after SMTP is back, the acknowledgement's some 12 s later
    await new Promise((r) => setTimeout(r, 16_000));
    const replied = await send(`/support-requests/${number}/replies`, app.tokens['support-agent'], { body: 'Looking into it.' });
    expect(replied.status, JSON.stringify(replied.body)).to.equal(200);
    await new Promise((r) => setTimeout(r, 2_000));
    await smtpBack();
    const isReply = (x: { subject: string }) => x.subject.includes(number) && x.subject.includes('reply from');
    await box.waitFor((x) => isReply(x) && x.to.includes('pat@partner.example'), { timeoutMs: 90_000 });
    await box.waitFor((x) => isReply(x) && x.to.includes(`admin-agent@${app.partnerId}.example`), { timeoutMs: 30_000 });
    // newest first: per recipient, the reply above the acknowledgement, which had arrived already
    const mails = (await box.list()).filter((x) => x.subject.includes(number));
    for (const to of ['pat@partner.example', `admin-agent@${app.partnerId}.example`]) {
      const order = mails.filter((x) => x.to.includes(to)).map((x) => (x.subject.includes('received') ? 'received' : 'reply'));
      expect(order, to).to.deep.equal(['reply', 'received']);
    }
  });
});
