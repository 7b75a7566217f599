/**
 * Scale-out, proven on one machine: two API processes (dist/bin/api.js) and two workers (dist/bin/worker.js)
 * on the same Temporal server, database and SMTP server, on a task queue of their own. The API and the worker
 * keep no state of their own, so any API may take any request and any worker any task.
 */
import { expect } from 'chai';
import { EmailRecord, IdempotencyRecord, Order, OrderEvent } from '../models';
import { orderWorkflowId } from '../contracts/orders';
import { getTestApp, uniq, waitFor, type TestApp } from './support/app';
import { startApiProcess, startWorkerProcess, type ServiceProcess } from './support/processes';

describe('scale-out: two APIs and two workers (real processes)', function () {
  this.timeout(240_000);
  let app: TestApp;
  let apis: ServiceProcess[];
  let workers: ServiceProcess[];
  const taskQueue = uniq('scaleout');

  before(async () => {
    app = await getTestApp();
    [apis, workers] = await Promise.all([
      Promise.all([startApiProcess(app.stack, 'api-1', { taskQueue }), startApiProcess(app.stack, 'api-2', { taskQueue })]),
      Promise.all([startWorkerProcess(app.stack, 'worker-1', { taskQueue }), startWorkerProcess(app.stack, 'worker-2', { taskQueue })]),
    ]);
  });
  after(async () => {
    await Promise.all([...(apis ?? []), ...(workers ?? [])].map((p) => p.stop()));
  });

  /**
   * POSTs as a client should: a 503 (Temporal slower than the API's deadline, say while a worker's lost
   * attempt waits to be retried) is sent again after its Retry-After, with the same Idempotency-Key.
   */
  const post = async (api: ServiceProcess, path: string, key: string, body: unknown) => {
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${api.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${app.tokens['admin-agent']}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
      });
      const reply = { status: res.status, body: (await res.json()) as { id: string }, attempts: attempt };
      if (res.status !== 503 || attempt >= 6) return reply;
      await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after') ?? 1) * 1000));
    }
  };
  const mailsOf = async (orderId: string) => (await app.stack.mailbox.list()).filter((m) => m.subject.includes(orderId));

  it('when 100 identical order requests (one Idempotency-Key) are spread over both APIs, then one order, one workflow and one confirmation email', async () => {
    const customer = await app.newCustomer('US');
    const key = uniq('key-scale');
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) => post(apis[i % 2], `/customers/${customer.id}/orders`, key, { productId: 'windows-server-datacenter-sub', quantity: 1 })),
    );
    expect([...new Set(responses.map((r) => r.status))], JSON.stringify(responses.find((r) => r.status !== 201)?.body)).to.deep.equal([201]);
    const ids = new Set(responses.map((r) => r.body.id));
    expect(ids.size).to.equal(1);
    const [orderId] = [...ids];
    expect(await Order.countDocuments({ customerId: customer.id })).to.equal(1);
    expect(await IdempotencyRecord.countDocuments({ _id: `${app.partnerId}:${key}` })).to.equal(1);
    const workflows = [];
    for await (const w of app.client.workflow.list({ query: `WorkflowId = '${orderWorkflowId(orderId)}'` })) workflows.push(w);
    expect(workflows).to.have.length(1);
    expect(workflows[0].taskQueue).to.equal(taskQueue);
    await waitFor(async () => (await EmailRecord.findById(`order:${orderId}:confirmation`).lean())?.status === 'sent', 30_000);
    await app.stack.mailbox.waitFor((m) => m.subject.includes(orderId));
    expect(await mailsOf(orderId)).to.have.length(1);
    expect(await OrderEvent.countDocuments({ orderId, type: 'placed' })).to.equal(1);
  });

  it('when a worker is killed while orders are being placed, then the other finishes every order, with one confirmation each', async () => {
    const customer = await app.newCustomer('US');
    const n = 20;
    let answered = 0;
    const placing = Array.from({ length: n }, (_, i) =>
      post(apis[i % 2], `/customers/${customer.id}/orders`, uniq('key-kill'), { productId: 'windows-server-standard-sub', quantity: 1 }).then((r) => {
        answered++;
        return r;
      }),
    );
    // the kill lands while the orders are under way (some recorded, others not yet)
    await waitFor(async () => answered >= 3, 60_000);
    await workers[0].kill();
    const responses = await Promise.all(placing);
    expect(responses.map((r) => r.status)).to.deep.equal(Array(n).fill(201));
    const orderIds = responses.map((r) => r.body.id);
    expect(new Set(orderIds).size).to.equal(n);
    await waitFor(async () => (await EmailRecord.countDocuments({ _id: { $in: orderIds.map((id) => `order:${id}:confirmation`) }, status: 'sent' })) === n, 90_000);
    for (const id of orderIds) {
      const order = await Order.findById(id).lean();
      expect(order?.status, id).to.equal('active');
      await app.stack.mailbox.waitFor((m) => m.subject.includes(id), { timeoutMs: 30_000 });
      // one confirmation: one message, or, when the kill fell between the SMTP server's acceptance and its record,
      // the same message sent again with its Message-ID, which mail clients fold (README, "Emails are sent once";
      // seen once in CI)
      const mails = await mailsOf(id);
      expect(mails.length, id).to.be.within(1, 2);
      expect(new Set(mails.map((m) => m.messageId)).size, id).to.equal(1);
      expect(mails[0].messageId, id).to.equal((await EmailRecord.findById(`order:${id}:confirmation`).lean())!.messageId);
    }
    expect(workers[1].proc.running).to.equal(true);
  });
});
