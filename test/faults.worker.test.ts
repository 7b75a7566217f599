/**
 * Faults on the real servers: a worker process (dist/bin/worker.js) killed in the middle of an order. The
 * attempt it held is lost with it; Temporal must hand it to another worker within seconds (the activity's
 * heartbeat timeout, workflows/activity-options.ts), not after a minute, and nothing is done twice.
 */
import { expect } from 'chai';
import { ActivationKey, LedgerLine, Order } from '../models';
import { getTestApp, uniq, type TestApp } from './support/app';
import { startApiProcess, startStallingSmtp, startWorkerProcess, type ServiceProcess } from './support/processes';

describe('faults: a worker killed mid-order (real processes)', function () {
  this.timeout(180_000);
  let app: TestApp;
  const started: ServiceProcess[] = [];
  before(async () => {
    app = await getTestApp();
  });
  after(async () => {
    await Promise.all(started.map((p) => p.kill()));
  });

  it('when the worker dies while sending a confirmation, then a second worker finishes the order within seconds: the waiting cancellation is recorded, one email of each kind', async () => {
    const taskQueue = uniq('faults-worker');
    // worker A's SMTP server accepts the connection and never greets: A is stuck inside the email activity
    const stall = await startStallingSmtp();
    const a = await startWorkerProcess(app.stack, 'worker-a', { taskQueue, smtpUrl: stall.url });
    started.push(a);
    const api = await startApiProcess(app.stack, 'api-faults', { taskQueue });
    started.push(api);
    const call = (method: string, path: string, body: unknown, key?: string) =>
      fetch(`${api.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${app.tokens['admin-agent']}`, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
        body: JSON.stringify(body),
      });

    const customer = await app.newCustomer('US');
    const placed = await call('POST', `/customers/${customer.id}/orders`, { productId: 'sql-server-standard-sub', quantity: 1 }, uniq('key'));
    expect(placed.status).to.equal(201);
    const order = (await placed.json()) as { id: string; product: { name: string } };
    const deadline = Date.now() + 30_000;
    while (stall.connections() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(stall.connections(), 'worker A reached the SMTP server').to.be.greaterThan(0);

    // the cancellation waits for the confirmation (every charged order gets one first), which worker A holds
    const cancelling = call('POST', `/orders/${order.id}/cancel`, { customer: customer.name, productName: order.product.name, acknowledged: true });
    await new Promise((r) => setTimeout(r, 300));
    await a.kill();
    const b = await startWorkerProcess(app.stack, 'worker-b', { taskQueue });
    started.push(b);
    const takeover = Date.now();
    const res = await cancelling;
    // 200 once recorded: the API waits on the workflow while Temporal answers, however long the takeover takes
    expect(res.status, await res.clone().text()).to.equal(200);
    const deadlineCancel = Date.now() + 60_000;
    while ((await Order.findById(order.id).lean())?.status !== 'cancelled' && Date.now() < deadlineCancel) await new Promise((r) => setTimeout(r, 100));
    const afterTakeover = Date.now() - takeover;
    expect((await Order.findById(order.id).lean())?.status).to.equal('cancelled');
    // a minute-long start-to-close timeout held the lost email attempt (and so the cancellation) for 60 s
    expect(afterTakeover, 'ms from the second worker to the cancellation recorded').to.be.below(25_000);

    const cancelled = await app.stack.mailbox.waitFor((m) => m.subject.includes(order.id) && m.subject.includes('cancelled'), { timeoutMs: 30_000 });
    expect(cancelled.subject).to.contain(order.id);
    const mails = (await app.stack.mailbox.list()).filter((m) => m.subject.includes(order.id));
    expect(mails.filter((m) => m.subject.includes('confirmed')), 'confirmations').to.have.length(1);
    expect(mails.filter((m) => m.subject.includes('cancelled')), 'cancellation emails').to.have.length(1);
    expect(await LedgerLine.countDocuments({ orderId: order.id })).to.equal(2);
    expect(await ActivationKey.countDocuments({ orderId: order.id, status: 'active' })).to.equal(0);
    await stall.close();
  });
});
