/**
 * Support requests end to end on the real stack (Temporal dev server, FerretDB, SMTP catcher): filing, the
 * queue, the ESU refund from filing to the credit on the invoice and its emails, the refund of an order whose
 * workflow has ended, every refusal, and a worker restarted in the middle of an approval.
 */
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { Worker } from '@temporalio/worker';
import { buildActivities, createApi, createAppServer } from '../composition/root';
import { NativeConnection } from '../lib/temporal';
import { GENERAL_PROBLEM_TYPE, TICKET_NUMBER_PATTERN } from '../domain/support';
import { SUPPORT_REFUND_REFUSALS, SUPPORT_REQUEST_PROBLEM_TYPE as SUPPORT_REQUEST_PROBLEM_TYPE_NAME } from '../domain/cancellation';
import { ActivityEntry, EmailRecord, LedgerLine, Order, OrderEvent, SupportEvent, SupportFilingSlot, SupportIdempotency, SupportOrderClaim, SupportTicket, User, UserBrowserZone, UserPreference } from '../models';
import { monthKey, monthName } from '../domain/time';
import { dueAt } from '../domain/sla';
import { orderRefundWorkflowId, orderWorkflowId, refundRecordedUpdate, supportRefundUpdate } from '../contracts/orders';
import { supportWorkflowId } from '../contracts/support';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ensureUser, issueToken, setUserDisabled } from '../services/users';
import { CURSOR_PATTERN } from '../api/schemas';
import { getTestApp, placeOrder, uniq, waitFor, type TestApp, TEST_SUPPORT_SETTINGS } from './support/app';

type Customer = Awaited<ReturnType<TestApp['newCustomer']>>;

describe('support requests (API end to end)', function () {
  this.timeout(180_000);
  let app: TestApp;
  let customer: Customer;

  before(async () => {
    app = await getTestApp();
    customer = await app.newCustomer('US');
    // the emails here give their times in UTC: no zone the page tests' browsers gave (Sydney) stays with these users
    await UserBrowserZone.deleteMany({});
  });

  const refundBody = (orderId: string, amount: number, over: Record<string, unknown> = {}) => ({
    problemType: SUPPORT_REQUEST_PROBLEM_TYPE_NAME,
    impact: 'moderate',
    title: 'Refund the Windows 7 ESU purchase',
    customer: customer.domain,
    orderId,
    refund: { reason: 'Bought by mistake', amount, currency: 'USD' },
    contact: { name: 'Pat Contact', email: `pat@${app.partnerId}.example`, phone: '+1 555 0100' },
    description: 'The customer upgraded to Windows 11.\nThey no longer need ESU:\n\t- bought by mistake',
    ...over,
  });
  const file = (body: unknown, token = app.tokens['admin-agent'], key = uniq('key-sr')) => app.api('POST', '/support-requests', { token, body, headers: { 'idempotency-key': key } });
  const agent = () => app.tokens['support-agent'];
  const lead = () => app.tokens['support-lead'];
  const post = (path: string, token: string, body: unknown = {}) => app.api('POST', path, { token, body });

  it('when an ESU purchase is refunded through a support request, then the order is cancelled once, its credit lands on the invoice and each email is sent once', async () => {
    const order = await placeOrder(app, customer.id, 'windows-7-esu-2020');
    const preview = await app.api('GET', `/orders/${order.id}/cancellation`);
    expect(preview.body.supportRequest).to.deep.equal({ typeOfProblem: SUPPORT_REQUEST_PROBLEM_TYPE_NAME, route: '/support-requests' });

    const filed = await file(refundBody(order.id, order.pricing.total));
    expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
    const t = filed.body;
    expect(t.number).to.match(new RegExp(TICKET_NUMBER_PATTERN));
    expect(t.status).to.equal('new');
    expect(filed.headers.get('location')).to.equal(`/support-requests/${t.number}`);
    expect(t.sla.map((c: { kind: string }) => c.kind)).to.deep.equal(['firstResponse', 'resolution']);
    expect(t.sla[0].dueAt).to.be.a('string');
    expect(t.nextDueAt).to.equal(t.sla[0].dueAt);
    await app.stack.mailbox.waitFor((m) => m.subject.includes(t.number) && m.subject.includes('received'));

    // a second refund request for the order names the open one
    const again = await file(refundBody(order.id, 100));
    expect(again.status).to.equal(409);
    expect(again.body.error).to.include({ code: 'open_refund_ticket', field: 'body.orderId' });
    expect(again.body.error.message).to.include(`${t.number} (new)`).and.include('once it is closed');
    expect(again.body.error.message).to.contain(t.number);

    // the agent takes it, notes internally, approves
    expect((await post(`/support-requests/${t.number}/assign`, agent())).body.status).to.equal('open');
    expect((await post(`/support-requests/${t.number}/replies`, agent(), { body: 'ESU refunds need the order cancelled.', internal: true })).status).to.equal(200);
    const approved = await post(`/support-requests/${t.number}/approve`, agent(), { body: 'Refund approved.' });
    expect(approved.status, JSON.stringify(approved.body)).to.equal(200);
    expect(approved.body.status).to.equal('approved');
    const month = monthKey(new Date());
    expect(approved.body.approval).to.include({ amount: order.pricing.total, currency: 'USD' });
    expect(approved.body.approval.invoiceMonth >= month).to.equal(true);

    // a duplicate approval changes nothing
    const twice = await post(`/support-requests/${t.number}/approve`, agent());
    expect(twice.status).to.equal(409);
    expect(twice.body.error.code).to.equal('invalid_state');

    const o = await app.api('GET', `/orders/${order.id}`);
    expect(o.body.status).to.equal('cancelled');
    expect(o.body.cancellation.credit).to.include({ amount: order.pricing.total, basis: 'support-refund' });
    // who cancelled it: the agent's name and role, never their address; nor in the partner's activity log
    expect(o.body.cancellation.by).to.include({ role: 'support-agent', email: null });
    // and through which request, so that the partner finds the conversation (QA)
    expect(o.body.cancellation.supportRequest).to.equal(t.number);
    const logged = await ActivityEntry.find({ orderId: order.id, operationType: { $in: ['cancel_order', 'revoke_software_keys_and_links'] } }).lean();
    expect(logged.map((e) => [e.operationType, e.userPrincipalName, e.actor.role]).sort()).to.deep.equal([
      ['cancel_order', null, 'support-agent'],
      ['revoke_software_keys_and_links', null, 'support-agent'],
    ]);
    // an entry written before addresses were left out (it holds one) is read without it
    await ActivityEntry.updateOne({ _id: `order:${order.id}:cancelled` }, { $set: { userPrincipalName: 'support-agent@support.example' } });
    const today = new Date().toISOString().slice(0, 10);
    const read = await app.api('GET', `/activity-log?customer=${customer.id}&from=${today}&to=${today}`, { token: app.tokens['global-admin'] });
    expect(read.status, JSON.stringify(read.body)).to.equal(200);
    const entry = (read.body.items as { id: string; userPrincipalName: string | null }[]).find((e) => e.id === `order:${order.id}:cancelled`);
    expect(entry?.userPrincipalName).to.equal(null);
    const credits = await LedgerLine.find({ orderId: order.id, kind: 'credit' }).lean();
    expect(credits.map((l) => [l._id, l.amount])).to.deep.equal([[`${order.id}:credit`, -order.pricing.total]]);
    const invoice = await app.api('GET', `/invoices/${credits[0].invoiceMonth}`, { token: app.tokens['global-admin'] });
    expect(invoice.body.lines.filter((l: { orderId: string; kind: string }) => l.orderId === order.id && l.kind === 'credit').map((l: { amount: number }) => l.amount)).to.deep.equal([-order.pricing.total]);

    const filer = `admin-agent@${app.partnerId}.example`;
    const approvedMail = await app.stack.mailbox.waitFor((m) => m.subject.includes(t.number) && m.subject.includes('approved') && m.to.includes(filer));
    expect(approvedMail.text).to.contain('is cancelled: its keys and download links are revoked.');
    // the link opens the request's page (not the JSON API)
    expect(approvedMail.text).to.contain(`${app.baseUrl}/app/support/${t.number}`);
    expect(approvedMail.text).to.contain(monthName(credits[0].invoiceMonth));
    // a US price excludes tax: the credit says none
    expect(approvedMail.text).to.not.contain('includes tax');
    // the contact is no user of the partner and could not sign in: a copy of their own names who filed it instead
    const contactMail = await app.stack.mailbox.waitFor((m) => m.subject.includes(t.number) && m.subject.includes('approved') && m.to.includes(`pat@${app.partnerId}.example`));
    expect(contactMail.to).to.deep.equal([`pat@${app.partnerId}.example`]);
    expect(contactMail.text).to.contain(monthName(credits[0].invoiceMonth)).and.contain(`(${filer}) filed this request for you`).and.not.contain('/app/');
    await waitFor(async () => Boolean(await EmailRecord.exists({ _id: `order:${order.id}:cancellation`, status: 'sent' })));
    const approvedMails = (await app.stack.mailbox.list()).filter((m) => m.subject.includes(t.number) && m.subject.includes('approved'));
    expect(approvedMails.map((m) => m.to)).to.have.deep.members([[filer], [`pat@${app.partnerId}.example`]]);

    // the partner sees the public timeline, not the internal note
    const partnerView = await app.api('GET', `/support-requests/${t.number}`);
    expect(partnerView.body.timeline.map((e: { type: string }) => e.type)).to.include.members(['filed', 'approved']).and.not.include('note');
    const agentView = await app.api('GET', `/support-requests/${t.number}`, { token: agent() });
    expect(agentView.body.timeline.map((e: { type: string }) => e.type)).to.include('note');
    // support works every partner's requests: the request and the queue name the partner
    expect(agentView.body.partner).to.deep.equal({ id: app.partnerId, name: 'Test Partner' });
    const queue = await app.api('GET', `/support-requests?text=${encodeURIComponent(t.number)}`, { token: agent() });
    expect(queue.body.items.map((i: { partner: unknown }) => i.partner)).to.deep.equal([{ id: app.partnerId, name: 'Test Partner' }]);
  });

  /** An order imported as bought 90 days ago (past its window), under an original id of its own. */
  async function importedPastWindow(productId: string, prefix: string): Promise<{ originalId: string; orderId: string }> {
    const originalId = uniq(prefix);
    const purchasedAt = new Date(Date.now() - 90 * 86_400_000).toISOString();
    const imp = await app.api('POST', `/customers/${customer.id}/orders/import`, { token: app.tokens['global-admin'], body: { orders: [{ orderId: originalId, productId, quantity: 1, purchasedAt }] } });
    expect(imp.status, JSON.stringify(imp.body)).to.equal(200);
    return { originalId, orderId: imp.body.results[0].id as string };
  }

  it('when support refunds an Azure reservation, then the approval email says the reservation ends, not that keys and links are revoked (it has none)', async () => {
    // QA: the emails of a cancelled Azure reservation spoke of its keys, downloads and software
    const { orderId } = await importedPastWindow('azure-ri-vm-1y', 'old-reservation');
    const t = (await file(refundBody(orderId, 10_000, { title: uniq('Refund a reservation') }))).body;
    const approved = await post(`/support-requests/${t.number}/approve`, agent());
    expect(approved.status, JSON.stringify(approved.body)).to.equal(200);
    const mail = await app.stack.mailbox.waitFor((m) => m.subject.includes(t.number) && m.subject.includes('approved'));
    for (const body of [mail.text, mail.html]) expect(body).to.contain('is cancelled: the reservation ends, and its discount no longer applies.').and.not.contain('download links');
  });

  it('when support refunds an order whose workflow has ended (perpetual, past its window), then the refund workflow cancels it and credits the amount once', async () => {
    const { originalId, orderId } = await importedPastWindow('windows-server-standard-perpetual', 'old-order');
    const order = (await Order.findById(orderId).lean())!;
    await waitFor(async () => Boolean(await OrderEvent.exists({ _id: `${orderId}:window-closed` })));
    const refused = await app.api('POST', `/orders/${orderId}/cancel`, { body: { customer: customer.id, productName: order.product.name, acknowledged: true } });
    expect(refused.body.error.code).to.equal('window_passed');

    // named by the id the partner knew it by before csp-desk, the subscription by csp-desk's: one order (QA)
    const reasonWord = uniq('misbought');
    // a title holding an encoded word (RFC 2047), which a mail program would decode: the subject reads as typed (QA)
    const title = 'Refund an old licence =?UTF-8?B?4oCuZXhlLmZkcA==?=';
    const t = (await file(refundBody(originalId, 60_000, { title, subscriptionId: orderId, refund: { reason: `Bought for the wrong customer (${reasonWord})`, amount: 60_000, currency: 'USD' } }))).body;
    expect(t).to.include({ orderId, originalOrderId: originalId });
    // its refund's reason is searched too (QA)
    expect((await app.api('GET', `/support-requests?text=${reasonWord}`, { token: agent() })).body.items.map((i: { number: string }) => i.number)).to.deep.equal([t.number]);
    // which the agents see, and find it by
    expect((await app.api('GET', `/support-requests/${t.number}`, { token: agent() })).body.originalOrderId).to.equal(originalId);
    expect((await app.api('GET', `/support-requests?text=${originalId}`, { token: agent() })).body.items.map((i: { number: string }) => i.number)).to.deep.equal([t.number]);
    const received = await app.stack.mailbox.waitFor((m) => m.subject.includes(t.number) && m.subject.includes('received'));
    expect(received.text).to.contain(`for order ${orderId} (imported as ${originalId}).`);
    expect(received.subject).to.equal(`Support request ${t.number} received: ${title}`);
    // another order's id as the subscription is still refused
    const mismatch = await file(refundBody(originalId, 60_000, { title: 'Refund an old licence', subscriptionId: (await placeOrder(app, customer.id, 'windows-server-standard-sub')).id }));
    expect([mismatch.status, mismatch.body.error?.code]).to.deep.equal([422, 'subscription_order_mismatch']);
    // above the approval limit: an agent may not, a lead may
    const byAgent = await post(`/support-requests/${t.number}/approve`, agent());
    expect(byAgent.status).to.equal(422);
    expect(byAgent.body.error).to.include({ code: 'amount_above_limit', field: 'body.amount' });
    expect(byAgent.body.error.message).to.equal('Approving more than 500.00 USD needs a support lead.');
    expect((await app.api('GET', `/support-requests/${t.number}`, { token: agent() })).body.approvalLimit).to.equal(50_000);
    expect((await app.api('GET', `/support-requests/${t.number}`)).body.approvalLimit, 'not for partners').to.equal(null);
    const tooMuch = await post(`/support-requests/${t.number}/approve`, lead(), { amount: 60_001 });
    expect(tooMuch.body.error).to.include({ code: 'amount_above_requested', field: 'body.amount', message: 'body.amount exceeds the amount requested (600.00 USD)' });
    const byLead = await post(`/support-requests/${t.number}/approve`, lead(), { amount: 40_000 });
    expect(byLead.status, JSON.stringify(byLead.body)).to.equal(200);
    expect(byLead.body.approval).to.include({ amount: 40_000 });
    // nobody had it: the lead who approved it took it (the approval's event says so)
    expect(byLead.body.assignee?.name).to.equal('Test support-lead');
    expect(byLead.body.timeline.find((e: { type: string }) => e.type === 'approved').data.took).to.equal(true);
    expect((await Order.findById(orderId).lean())!.status).to.equal('cancelled');
    const credits = await LedgerLine.find({ orderId, kind: 'credit' }).lean();
    expect(credits.map((l) => l.amount)).to.deep.equal([-40_000]);
    // the invoice's line names both ids, so that the partner can match it with the original billing
    expect(credits[0].description).to.equal(`Refund of cancelled order ${orderId} (imported as ${originalId}) approved in support request ${t.number}`);
    await waitFor(async () => Boolean(await EmailRecord.exists({ _id: `order:${orderId}:cancellation`, status: 'sent' })));
    // approved for less than asked: the partner's email says so, and that the rest cannot be credited later
    const approvedMail = await app.stack.mailbox.waitFor((m) => m.subject.includes(t.number) && m.subject.includes('approved'));
    expect(approvedMail.text).to.contain('$400.00').and.contain('less than the $600.00 requested').and.contain('the rest cannot be credited later');
  });

  it("when a partner names another partner's order by its original id (imported now, or before ids were each partner's own), then it is an unknown order, and nothing is said of it", async () => {
    const theirs = await app.newCustomer('US', app.otherTokens['admin-agent']);
    const originalId = uniq('their-order');
    const purchasedAt = new Date(Date.now() - 10 * 86_400_000).toISOString();
    const imp = await app.api('POST', `/customers/${theirs.id}/orders/import`, { token: app.otherTokens['global-admin'], body: { orders: [{ orderId: originalId, productId: 'windows-server-standard-perpetual', quantity: 1, purchasedAt }] } });
    expect(imp.body.results?.[0]?.outcome, JSON.stringify(imp.body)).to.equal('imported');
    // and one of theirs imported before, its original id its own
    const legacyId = uniq('their-old-order');
    const { _id: _theirId, originalOrderId: _o, ...rest } = (await Order.findById(imp.body.results[0].id).lean())!;
    await Order.collection.insertOne({ ...rest, _id: legacyId as never });
    for (const ref of [originalId, legacyId, imp.body.results[0].id]) {
      for (const field of ['orderId', 'subscriptionId'] as const) {
        const { orderId: _drop, ...body } = refundBody(ref, 100, { title: uniq('Not mine') });
        const res = await file({ ...body, [field]: ref });
        expect([res.status, res.body.error?.code, res.body.error?.message], `${field} ${ref}`).to.deep.equal([422, 'unknown_order', `body.${field} ${JSON.stringify(ref)} is not an order of your partner`]);
      }
    }
  });

  it("when an ended order's refund workflow refuses (more than the order cost), then its refundRecorded Update answers the refusal, and once it has ended its result does", async () => {
    const originalId = uniq('ended-refused');
    const purchasedAt = new Date(Date.now() - 90 * 86_400_000).toISOString();
    const imp = await app.api('POST', `/customers/${customer.id}/orders/import`, { token: app.tokens['global-admin'], body: { orders: [{ orderId: originalId, productId: 'windows-server-standard-perpetual', quantity: 1, purchasedAt }] } });
    expect(imp.body.results?.[0]?.outcome, JSON.stringify(imp.body)).to.equal('imported');
    const orderId = imp.body.results[0].id as string;
    await app.client.workflow.getHandle(`order:${orderId}`).result();
    const actor = { userId: 'u-lead', name: 'Lee Lead', email: 'lead@csp-desk.test', role: 'support-lead' as const };
    const handle = await app.client.workflow.start('orderRefundWorkflow', { workflowId: orderRefundWorkflowId(orderId), taskQueue: app.taskQueue, args: [{ orderId, ticket: 'SR-261126-REFU01', amount: { amount: 99_999_999, currency: 'USD' }, actor, requestId: uniq('req') }] });
    const viaUpdate = await handle.executeUpdate(refundRecordedUpdate).then(() => null, (e: unknown) => e);
    expect(viaUpdate).to.be.instanceOf(WorkflowUpdateFailedError);
    expect(((viaUpdate as WorkflowUpdateFailedError).cause as ApplicationFailure).type).to.equal('amount_too_high');
    const viaResult = await handle.result().then(() => null, (e: unknown) => e);
    expect(viaResult).to.be.instanceOf(WorkflowFailedError);
    expect(((viaResult as WorkflowFailedError).cause as ApplicationFailure).type).to.equal('amount_too_high');
    // ended: the Update finds no workflow (the activity then asks for its result)
    expect(await handle.executeUpdate(refundRecordedUpdate).then(() => null, (e: unknown) => e)).to.be.instanceOf(WorkflowNotFoundError);
    expect((await Order.findById(orderId).lean())!.status).to.not.equal('cancelled');
    expect(await LedgerLine.countDocuments({ orderId, kind: 'credit' })).to.equal(0);
  });

  it('when a reply, a note or a reason holds only text-direction marks and invisible characters (in the BMP or beyond), then it is a 400 naming the field and nothing is recorded; right-to-left text with its marks is taken', async () => {
    // QA: a reply of a lone U+202E was taken: it met the first-response target and emailed the partner nothing
    const t = (await file({ problemType: 'General question or problem', impact: 'minimal', title: uniq('Blank replies'), customer: customer.id, contact: { name: 'Q', email: 'q@example.com' } })).body;
    const events = async () => SupportEvent.countDocuments({ ticketId: t.number });
    const before = await events();
    for (const [path, body, field] of [
      ['replies', { body: '\u202e' }, 'body.body'],
      ['replies', { body: '\u200b\u200b \u202e', internal: true }, 'body.body'],
      ['escalate', { reason: '\u2067\n' }, 'body.reason'],
      // beyond the BMP: tag characters and a supplementary variation selector (QA: taken, it met the SLA with nothing)
      ['replies', { body: '\u{E0020}\u{E0100}' }, 'body.body'],
      ['replies', { body: '\u{E0001}\u{1D173} \u{1BCA0}\u2800', internal: true }, 'body.body'],
    ] as const) {
      const res = await post(`/support-requests/${t.number}/${path}`, agent(), body);
      expect([res.status, res.body.error?.field], `${path} ${JSON.stringify(body)}`).to.deep.equal([400, field]);
    }
    expect(await events()).to.equal(before);
    const rtl = await post(`/support-requests/${t.number}/replies`, agent(), { body: '\u202bשלום, המפתח הוחלף\u202c' });
    expect(rtl.status, JSON.stringify(rtl.body)).to.equal(200);
  });

  it("when support searches by the customer's tenant GUID (as the partner's form names the customer), then the request is found", async () => {
    const c = await app.newCustomer('US');
    const filed = await file({ problemType: 'General question or problem', impact: 'minimal', title: uniq('Found by tenant'), customer: c.domain, contact: { name: 'Q', email: 'q@example.com' } });
    expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
    const found = await app.api('GET', `/support-requests?text=${encodeURIComponent(c.tenantId.toUpperCase())}`, { token: agent() });
    expect(found.body.items.map((t: { number: string }) => t.number)).to.deep.equal([filed.body.number]);
  });

  it('when a refund was carried out for the ticket but its answer was lost, then approving again (with another amount) records what was credited, once', async () => {
    const order = await placeOrder(app, customer.id, 'windows-7-esu-2020');
    const t = (await file(refundBody(order.id, 6_100))).body;
    // the order's side of a first approval, whose answer never reached the ticket
    const actor = { userId: 'u-lead', name: 'Lee Lead', email: 'lead@csp-desk.test', role: 'support-lead' as const };
    await app.client.workflow.getHandle(orderWorkflowId(order.id)).executeUpdate(supportRefundUpdate, { args: [{ ticket: t.number, amount: { amount: 6_100, currency: 'USD' }, actor, requestId: 'lost-answer' }], updateId: `${t.number}:refund` });
    const again = await post(`/support-requests/${t.number}/approve`, agent(), { amount: 1_000 });
    expect(again.status, JSON.stringify(again.body)).to.equal(200);
    expect(again.body.approval).to.include({ amount: 6_100, currency: 'USD' });
    expect((await LedgerLine.find({ orderId: order.id, kind: 'credit' }).lean()).map((l) => l.amount)).to.deep.equal([-6_100]);
    const mail = await app.stack.mailbox.waitFor((m) => m.subject.includes(t.number) && m.subject.includes('approved'));
    expect(mail.text).to.contain('$61.00').and.not.contain('$10.00');
  });

  it('when filing is wrong, then each refusal names the field and nothing is recorded', async () => {
    const order = await placeOrder(app, customer.id, 'windows-7-esu-2020');
    // wrong role: sales agents and support roles do not file
    expect((await file(refundBody(order.id, 100), app.tokens['sales-agent'])).status).to.equal(403);
    expect((await file(refundBody(order.id, 100), agent())).status).to.equal(403);
    const tooHigh = await file(refundBody(order.id, order.pricing.total + 1));
    expect(tooHigh.status).to.equal(422);
    expect(tooHigh.body.error).to.include({ code: 'amount_too_high', field: 'body.refund.amount' });
    const currency = await file(refundBody(order.id, 100, { refund: { reason: 'x', amount: 100, currency: 'EUR' } }));
    expect(currency.body.error).to.include({ code: 'currency_mismatch', field: 'body.refund.currency' });
    const unknown = await file(refundBody('no-such-order', 100));
    expect(unknown.body.error).to.include({ code: 'unknown_order', field: 'body.orderId' });
    // a refund under a general question would be dropped without a word: refused
    const misplaced = await file(refundBody(order.id, 100, { problemType: 'General question or problem' }));
    expect([misplaced.status, misplaced.body.error.field]).to.deep.equal([400, 'body.refund']);
    // another partner's order
    const otherCustomer = await app.newCustomer('US', app.otherTokens['admin-agent']);
    const foreign = await placeOrder(app, otherCustomer.id, 'windows-7-esu-2020', { token: app.otherTokens['admin-agent'] });
    const foreignRes = await file(refundBody(foreign.id, 100));
    expect(foreignRes.status).to.equal(422);
    expect(foreignRes.body.error).to.include({ code: 'unknown_order', field: 'body.orderId' });
    // an order of another customer of the same partner
    const second = await app.newCustomer('US');
    const mismatch = await file(refundBody(order.id, 100, { customer: second.domain }));
    expect(mismatch.body.error).to.include({ code: 'order_customer_mismatch', field: 'body.orderId' });
    const unknownCustomer = await file(refundBody(order.id, 100, { customer: 'nobody.example.com' }));
    expect(unknownCustomer.body.error).to.include({ code: 'unknown_customer', field: 'body.customer' });
    // text rules: a title is one line; a description or a reason may run over several lines, but no control character
    const brokenTitle = await file(refundBody(order.id, 100, { title: 'Refund\nplease' }));
    expect(brokenTitle.status).to.equal(400);
    expect(brokenTitle.body.error.field).to.equal('body.title');
    const nulReason = await file(refundBody(order.id, 100, { refund: { reason: 'bought\u0000by mistake', amount: 100, currency: 'USD' } }));
    expect(nulReason.status).to.equal(400);
    expect(nulReason.body.error.field).to.equal('body.refund.reason');
    const blankReason = await file(refundBody(order.id, 100, { refund: { reason: '\u200b \n', amount: 100, currency: 'USD' } }));
    expect(blankReason.body.error.field).to.equal('body.refund.reason');
    // text-direction marks are no visible text either (QA: a reply of a lone U+202E answered a request and met its SLA)
    const bidiReason = await file(refundBody(order.id, 100, { refund: { reason: '\u2067 \u202e', amount: 100, currency: 'USD' } }));
    expect([bidiReason.status, bidiReason.body.error.field]).to.deep.equal([400, 'body.refund.reason']);
    const missing = await file({ ...refundBody(order.id, 100), contact: { name: 'x' } });
    expect(missing.status).to.equal(400);
    expect(missing.body.error.field).to.equal('body.contact.email');
    // a refund request gives a phone number too (a general question need not)
    const noPhone = await file({ ...refundBody(order.id, 100), contact: { name: 'x', email: 'x@example.com' } });
    expect([noPhone.status, noPhone.body.error.field]).to.deep.equal([400, 'body.contact.phone']);
    expect(await SupportOrderClaim.exists({ _id: order.id })).to.equal(null);
    // an already cancelled order
    const perpetual = await placeOrder(app, customer.id, 'windows-server-standard-perpetual');
    const cancelled = await app.api('POST', `/orders/${perpetual.id}/cancel`, { body: { customer: customer.id, productName: perpetual.product.name, acknowledged: true } });
    expect(cancelled.status, JSON.stringify(cancelled.body)).to.equal(200);
    const late = await file(refundBody(perpetual.id, 100));
    expect(late.status).to.equal(409);
    expect(late.body.error.code).to.equal('order_already_cancelled');
  });

  it('when the same Idempotency-Key is sent twice, then one ticket is filed', async () => {
    const order = await placeOrder(app, customer.id, 'windows-7-esu-2020');
    const key = uniq('key-sr');
    const a = await file(refundBody(order.id, 100), undefined, key);
    const b = await file(refundBody(order.id, 100), undefined, key);
    expect(a.status).to.equal(201);
    expect(b.status).to.equal(201);
    expect(b.body.number).to.equal(a.body.number);
    expect(b.headers.get('idempotent-replayed')).to.equal('true');
    const reused = await file(refundBody(order.id, 200), undefined, key);
    expect(reused.body.error.code).to.equal('idempotency_key_reused');
    // once its refund has cancelled the order, a retry of the filing still answers with its ticket (not a 409)
    expect((await post(`/support-requests/${a.body.number}/approve`, agent())).status).to.equal(200);
    const late = await file(refundBody(order.id, 100), undefined, key);
    expect(late.status, JSON.stringify(late.body)).to.equal(201);
    expect(late.body.number).to.equal(a.body.number);
    expect(late.headers.get('idempotent-replayed')).to.equal('true');
  });

  it('when the contact is the filer written in other letter case, then each email goes to that mailbox once; a contact who is a user gets the link in the one message', async () => {
    const filed = await file({ problemType: 'General question or problem', impact: 'minimal', title: 'Case of the contact', customer: customer.id, contact: { name: 'Me', email: `Admin-Agent@${app.partnerId.toUpperCase()}.example` } });
    expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
    const mail = await app.stack.mailbox.waitFor((m) => m.subject.includes(filed.body.number) && m.subject.includes('received'));
    expect(mail.to.map((a: string) => a.toLowerCase())).to.deep.equal([`admin-agent@${app.partnerId}.example`.toLowerCase()]);
    // a colleague who signs in to csp-desk and reads support requests (written in capitals): one message to both, with the link
    const colleague = `Global-Admin@${app.partnerId}.example`;
    const both = await file({ problemType: 'General question or problem', impact: 'minimal', title: 'For a colleague', customer: customer.id, contact: { name: 'Sam', email: colleague } });
    const shared = await app.stack.mailbox.waitFor((m) => m.subject.includes(both.body.number) && m.subject.includes('received'));
    expect(shared.to.map((a: string) => a.toLowerCase())).to.have.members([colleague.toLowerCase(), `admin-agent@${app.partnerId}.example`]);
    expect(shared.text).to.contain(`/app/support/${both.body.number}`);
    // a colleague whose role cannot open support requests (a sales agent): a copy of their own, without the link
    const seller = `sales-agent@${app.partnerId}.example`;
    const forSeller = await file({ problemType: 'General question or problem', impact: 'minimal', title: 'For a seller', customer: customer.id, contact: { name: 'Sal', email: seller } });
    const own = await app.stack.mailbox.waitFor((m) => m.subject.includes(forSeller.body.number) && m.subject.includes('received') && m.to.includes(seller));
    expect(own.to).to.deep.equal([seller]);
    expect(own.text).to.not.contain('/app/support/');
    expect(own.text).to.contain('filed this request for you');
    expect(own.html).to.contain('named you as the contact for this support request');
  });

  /**
   * An API of its own whose hour's filing limit is two and whose clock runs from the half hour of this hour (plus
   * `shift()` ms: so that no hour ends during a test, and a test may move on to the next), and a new admin agent of
   * the test partner filing through it.
   */
  async function limitedFiler(name: string, shift: () => number = () => 0) {
    const hourStart = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    const offset = hourStart + 30 * 60_000 - Date.now();
    const api = createApi({ client: app.client, mailer: app.mailer, log: app.log, taskQueue: app.taskQueue, reminderDaysBeforeClose: 7, support: { ...TEST_SUPPORT_SETTINGS, filingsPerHour: 2 }, now: () => new Date(Date.now() + offset + shift()) });
    const server = createAppServer(api);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const user = await ensureUser({ name, email: `${uniq('filer')}@${app.partnerId}.example`, role: 'admin-agent', partnerId: app.partnerId });
    const token = await issueToken(user._id, 'filing limit');
    const fileAt = async (body: unknown, key = uniq('key-limit')) => {
      const res = await fetch(`${base}/support-requests`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
      return { status: res.status, headers: res.headers, body: (await res.json()) as any };
    };
    const general = (title: string) => ({ problemType: 'General question or problem', impact: 'minimal', title, customer: customer.id, contact: { name, email: user.email } });
    const close = async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await SupportFilingSlot.deleteMany({ userId: user._id });
    };
    return { hourStart, user, fileAt, general, close };
  }

  it('when a user has filed SUPPORT_FILINGS_PER_HOUR requests this UTC hour, then one more is a 429 with Retry-After and nothing is written; a replay, a refused filing, the retry of a key whose try kept its slot and the next hour do not count against it', async () => {
    let shift = 0;
    const { hourStart, user, fileAt, general, close } = await limitedFiler('Fay Filer', () => shift);
    const hourKey = new Date(hourStart).toISOString().slice(0, 13);
    try {
      const firstKey = uniq('key-limit');
      const first = await fileAt(general('First of the hour'), firstKey);
      expect(first.status, JSON.stringify(first.body)).to.equal(201);
      // a refusal after the request was checked (the order already has an open refund request) gives its slot back
      const order = await placeOrder(app, customer.id, 'windows-7-esu-2020');
      expect((await file(refundBody(order.id, 100))).status).to.equal(201);
      const held = await fileAt(refundBody(order.id, 100));
      expect(held.status, JSON.stringify(held.body)).to.equal(409);
      expect(await SupportFilingSlot.countDocuments({ userId: user._id })).to.equal(1);
      // a try that answered 503 with its outcome unknown keeps its slot, under its key
      const unknownKey = uniq('key-limit');
      await SupportFilingSlot.create({ _id: `${user._id}:${hourKey}:1`, userId: user._id, partnerId: app.partnerId, key: `${app.partnerId}:${unknownKey}`, at: new Date() });
      // one more: refused, saying when the hour ends; nothing of it is recorded
      const filedBefore = await SupportTicket.countDocuments({ 'filedBy.userId': user._id });
      const overKey = uniq('key-limit');
      const over = await fileAt(general('Third of the hour'), overKey);
      expect(over.status, JSON.stringify(over.body)).to.equal(429);
      expect(over.body.error.code).to.equal('filing_rate_limited');
      const until = new Date(hourStart + 3_600_000);
      expect(over.body.error.message).to.equal(`you have filed 2 support requests this hour, the most one user may; file again from ${until.toISOString().slice(11, 16)} UTC, or ask a colleague to file it`);
      expect(over.body.error.details).to.include({ limit: 2, resetsAt: until.toISOString() });
      expect(over.body.error.details.retryAfterSeconds).to.be.within(1, 1800);
      expect(over.headers.get('retry-after')).to.equal(String(over.body.error.details.retryAfterSeconds));
      expect(await SupportIdempotency.exists({ _id: `${app.partnerId}:${overKey}` })).to.equal(null);
      expect(await SupportFilingSlot.countDocuments({ userId: user._id })).to.equal(2);
      // the first filing sent again (its Idempotency-Key) is a replay, not one more
      const replay = await fileAt(general('First of the hour'), firstKey);
      expect(replay.status, JSON.stringify(replay.body)).to.equal(201);
      expect(replay.headers.get('idempotent-replayed')).to.equal('true');
      expect(replay.body.number).to.equal(first.body.number);
      // the retry of the try that kept its slot files, in that slot
      const retried = await fileAt(general('Second of the hour'), unknownKey);
      expect(retried.status, JSON.stringify(retried.body)).to.equal(201);
      expect(await SupportFilingSlot.countDocuments({ userId: user._id })).to.equal(2);
      await waitFor(async () => (await SupportTicket.countDocuments({ 'filedBy.userId': user._id })) === filedBefore + 1);
      expect(await SupportTicket.exists({ 'filedBy.userId': user._id, title: 'Third of the hour' })).to.equal(null);
      // the next hour: filing again; the housekeeping then deletes the slots of the hour before, and only those
      shift = 30 * 60_000 + 1000;
      const next = await fileAt(general('Third of the hour'), overKey);
      expect(next.status, JSON.stringify(next.body)).to.equal(201);
      await buildActivities({ mailer: app.mailer, log: app.log, publicBaseUrl: 'http://csp-desk.test' }).pruneSupportActionKeys(new Date(hourStart + 3_600_000 + 2000).toISOString());
      expect((await SupportFilingSlot.find({ userId: user._id }).lean()).map((x) => x._id)).to.deep.equal([`${user._id}:${new Date(hourStart + 3_600_000).toISOString().slice(0, 13)}:0`]);
    } finally {
      await close();
    }
  });

  it('when one filing is sent several times at once (one Idempotency-Key), then it is one ticket and takes one slot of the hour: the next filings still have theirs', async () => {
    const { user, fileAt: send, general, close } = await limitedFiler('Sam Sender');
    const fileAt = (title: string, key: string) => send(general(title), key);
    try {
      const key = uniq('key-at-once');
      const sends = await Promise.all(Array.from({ length: 6 }, () => fileAt('Sent six times at once', key)));
      expect(sends.map((r) => r.status), JSON.stringify(sends.map((r) => r.body))).to.deep.equal([201, 201, 201, 201, 201, 201]);
      expect(new Set(sends.map((r) => r.body.number)).size).to.equal(1);
      expect((await SupportFilingSlot.find({ userId: user._id }).lean()).map((x) => x.key)).to.deep.equal([`${app.partnerId}:${key}`]);
      expect((await fileAt('The second filing', uniq('key-at-once'))).status).to.equal(201);
      expect((await fileAt('The third filing', uniq('key-at-once'))).status).to.equal(429);
    } finally {
      await close();
    }
  });

  it('when the recipients of an email chose one time zone (Settings), then its times are in it, named with the offset; with another recipient, or one who chose none, in UTC', async () => {
    const filer = `admin-agent@${app.partnerId}.example`;
    const filerId = (await User.findOne({ email: filer }).lean())!._id;
    const colleague = `global-admin@${app.partnerId}.example`;
    const colleagueId = (await User.findOne({ email: colleague }).lean())!._id;
    const choose = (userId: string, timeZone: string | null) => UserPreference.replaceOne({ _id: userId }, { _id: userId, timeZone, updatedAt: new Date() }, { upsert: true });
    const chosenBefore = await UserPreference.find({ _id: { $in: [filerId, colleagueId] } }).lean();
    // a zone their browser gave the pages counts when none is chosen (below); here neither has one
    await UserBrowserZone.deleteMany({ _id: { $in: [filerId, colleagueId] } });
    const dueIn = (m: { text: string }) => /will answer by (.+)\./.exec(m.text)?.[1];
    const fileFor = async (contact: string) => {
      const filed = await file({ problemType: 'General question or problem', impact: 'minimal', title: 'Times in my zone', customer: customer.id, contact: { name: 'Me', email: contact } });
      expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
      const mail = await app.stack.mailbox.waitFor((m) => m.subject.includes(filed.body.number) && m.subject.includes('received'));
      const ticket = (await SupportTicket.findById(filed.body.number).lean())!;
      return { mail, due: dueAt(ticket.clocks.find((c) => c.kind === 'firstResponse')!)!, number: filed.body.number as string };
    };
    try {
      await choose(filerId, 'Australia/Sydney');
      // the filer alone (the contact is the filer): Sydney's wall time, its name and its offset then
      const mine = await fileFor(filer);
      const sydney = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Australia/Sydney', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(mine.due);
      expect(dueIn(mine.mail)).to.match(new RegExp(`^${sydney} Australia/Sydney \\(UTC\\+1[01]:00\\)$`));
      // decided once, with the record: a resend (a crash between the SMTP server's acceptance and the record) after the
      // user chose another zone reads as the first send
      const record = (await EmailRecord.findOne({ _id: new RegExp(`^support:${mine.number}:\\d+:received$`) }).lean())!;
      expect(record.timeZone).to.equal('Australia/Sydney');
      await choose(filerId, 'Europe/Berlin');
      // (the crashed attempt's hold lapsed since: it renewed it no more)
      await EmailRecord.updateOne({ _id: record._id }, { $set: { status: 'sending', leaseUntil: new Date(Date.now() - 1000) } });
      const resent = await buildActivities({ mailer: app.mailer, log: app.log, publicBaseUrl: 'http://csp-desk.test' }).sendSupportEmail(mine.number, Number(String(record._id).split(':')[2]), 'received');
      expect(resent.sent).to.equal(true);
      let copies: { id: string; messageId: string }[] = [];
      await waitFor(async () => (copies = (await app.stack.mailbox.list()).filter((m) => m.subject.includes(mine.number) && m.subject.includes('received'))).length === 2);
      // the same message again (its Message-ID, for mail clients to fold), with the same time in the same zone
      expect(copies[0].messageId).to.equal(copies[1].messageId);
      expect(await Promise.all(copies.map(async (c) => dueIn(await app.stack.mailbox.get(c.id))))).to.deep.equal([dueIn(mine.mail), dueIn(mine.mail)]);
      await choose(filerId, 'Australia/Sydney');
      // with a colleague who chose no zone: one message to both, so in UTC
      const shared = await fileFor(colleague);
      expect(shared.mail.to.map((a: string) => a.toLowerCase())).to.have.members([colleague, filer]);
      expect(dueIn(shared.mail)).to.equal(`${shared.due.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
      // the colleague chooses another zone: still two zones for one message, so UTC; the same zone (in other letter case): that zone
      await choose(colleagueId, 'Europe/Berlin');
      expect(dueIn((await fileFor(colleague)).mail)).to.match(/ UTC$/);
      await choose(colleagueId, 'australia/sydney');
      expect(dueIn((await fileFor(colleague)).mail)).to.match(/ Australia\/Sydney \(UTC\+1[01]:00\)$/);
      // a colleague who chose none, but whose browser gave Sydney to the pages: Sydney too
      await choose(colleagueId, null);
      await UserBrowserZone.create({ _id: colleagueId, timeZone: 'Australia/Sydney', at: new Date() });
      expect(dueIn((await fileFor(colleague)).mail)).to.match(/ Australia\/Sydney \(UTC\+1[01]:00\)$/);
    } finally {
      await UserPreference.deleteMany({ _id: { $in: [filerId, colleagueId] } });
      if (chosenBefore.length) await UserPreference.insertMany(chosenBefore);
      await UserBrowserZone.deleteMany({ _id: { $in: [filerId, colleagueId] } });
    }
  });

  it("when a contact's email is sent again (a retry) after the contact became a user, then it goes by the message recorded: no second main message, the contact's own copy goes once", async () => {
    const outsider = `${uniq('outsider')}@${app.partnerId}.example`;
    const filed = await file({ problemType: 'General question or problem', impact: 'minimal', title: 'Retry of the contact copy', customer: customer.id, contact: { name: 'Olu', email: outsider } });
    expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
    const number: string = filed.body.number;
    const received = (m: { subject: string }) => m.subject.includes(number) && m.subject.includes('received');
    await app.stack.mailbox.waitFor((m) => received(m) && m.to.includes(outsider));
    const filer = `admin-agent@${app.partnerId}.example`;
    // the main message goes first: it is recorded once the contact's copy arrived
    const mainRecord = (await EmailRecord.findOne({ _id: new RegExp(`^support:${number}:\\d+:received$`) }).lean())!;
    expect(mainRecord.to).to.deep.equal([filer]);
    const seq = Number(String(mainRecord._id).split(':')[2]);
    // the contact is given a user of the partner: had the rule been decided again, they would now share the main message
    await ensureUser({ name: 'Olu', email: outsider, role: 'sales-agent', partnerId: app.partnerId });
    const acts = buildActivities({ mailer: app.mailer, log: app.log, publicBaseUrl: 'http://csp-desk.test' });
    // the attempt that sent the main message died before the contact's copy was recorded
    await EmailRecord.deleteOne({ _id: `${mainRecord._id}:contact` });
    const retried = await acts.sendSupportEmail(number, seq, 'received');
    expect(retried.sent).to.equal(true);
    expect(retried.to).to.have.members([filer, outsider]);
    const again = await acts.sendSupportEmail(number, seq, 'received');
    expect(again.sent).to.equal(false);
    let copies: { to: string[] }[] = [];
    await waitFor(async () => {
      copies = (await app.stack.mailbox.list()).filter(received);
      return copies.filter((m) => m.to.includes(outsider)).length >= 2;
    });
    // the first attempt's copy and the retry's: each to the contact alone; the main message went once, to the filer alone
    expect(copies.filter((m) => m.to.includes(outsider)).map((m) => m.to)).to.deep.equal([[outsider], [outsider]]);
    expect(copies.filter((m) => m.to.includes(filer)).map((m) => m.to)).to.deep.equal([[filer]]);
    expect((await EmailRecord.findById(`${mainRecord._id}:contact`).lean())!.to).to.deep.equal([outsider]);
  });

  it('when a filing or an action is refused, then its Idempotency-Key is left free for the request corrected; a body with its keys in another order is the same request', async () => {
    const order = await placeOrder(app, customer.id, 'windows-7-esu-2020');
    const first = await file(refundBody(order.id, 100));
    expect(first.status).to.equal(201);
    // a second refund request for the order is refused: its key stays free
    const key = uniq('key-sr');
    // sent several times at once with one key, each is refused alike (a refusal removing its key's record while
    // another request reads it made that one a 500)
    // (rounds of six with a key each: one round alone missed that about half the time)
    for (let round = 0; round < 8; round++) {
      const raceKey = uniq('key-sr');
      const raced = await Promise.all(Array.from({ length: 6 }, () => file(refundBody(order.id, 100), undefined, raceKey)));
      expect(raced.map((r) => r.status), `round ${round}`).to.deep.equal(Array(6).fill(409));
    }
    const refused = await file(refundBody(order.id, 100), undefined, key);
    expect(refused.body.error.code).to.equal('open_refund_ticket');
    const corrected = await file({ problemType: 'General question or problem', impact: 'minimal', title: 'About the ESU order', customer: customer.id, orderId: order.id, contact: { name: 'Q', email: 'q@example.com' } }, undefined, key);
    expect(corrected.status, JSON.stringify(corrected.body)).to.equal(201);
    expect(corrected.headers.get('idempotent-replayed')).to.equal('false');
    // a subscription id that is not the order named beside it is refused (the ticket would show it unchecked)
    const mismatch = await file({ ...refundBody(order.id, 100), subscriptionId: 'totally-bogus' });
    expect(mismatch.body.error).to.include({ code: 'subscription_order_mismatch', field: 'body.subscriptionId' });
    // the same fields in another order, with the same key: the same request, replayed
    const reordered = Object.fromEntries(Object.entries({ problemType: 'General question or problem', impact: 'minimal', title: 'About the ESU order', customer: customer.id, orderId: order.id, contact: { name: 'Q', email: 'q@example.com' } }).reverse());
    const replay = await file(reordered, undefined, key);
    expect([replay.status, replay.body.number, replay.headers.get('idempotent-replayed')]).to.deep.equal([201, corrected.body.number, 'true']);
    // an action refused (a general question has no refund to reject) leaves its key free for another action
    const actionKey = uniq('action-key');
    const keyed = (path: string, body: unknown) => app.api('POST', `/support-requests/${corrected.body.number}/${path}`, { token: agent(), body, headers: { 'idempotency-key': actionKey } });
    expect((await keyed('reject', { reason: 'No' })).body.error.code).to.equal('not_a_refund');
    const resolved = await keyed('resolve', { body: 'Answered by phone.' });
    expect(resolved.status, JSON.stringify(resolved.body)).to.equal(200);
    expect(resolved.body.status).to.equal('resolved');
    // and that key now stands for the resolution: sent again, it is the same
    expect((await keyed('resolve', { body: 'Answered by phone.' })).status).to.equal(200);
    expect((await keyed('replies', { body: 'x' })).body.error.code).to.equal('idempotency_key_reused');
  });

  it("when a request is filed, then its ticket carries the request's id (X-Request-Id, from the request context)", async () => {
    const requestId = uniq('req-support');
    const res = await app.api('POST', '/support-requests', {
      headers: { 'idempotency-key': uniq('key-sr'), 'x-request-id': requestId },
      body: { problemType: GENERAL_PROBLEM_TYPE, impact: 'minimal', title: 'Request id check', customer: customer.domain, contact: { name: 'Pat Partner', email: 'pat@partner.example' } },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect((await SupportTicket.findById(res.body.number).lean())?.requestId).to.equal(requestId);
  });

  it("when someone acts outside their role or tenant, then another partner's ticket is 404 and a closed ticket cannot be approved", async () => {
    const order = await placeOrder(app, customer.id, 'windows-7-esu-2020');
    const t = (await file(refundBody(order.id, 100))).body;
    expect((await app.api('GET', `/support-requests/${t.number}`, { token: app.otherTokens['admin-agent'] })).status).to.equal(404);
    expect((await post(`/support-requests/${t.number}/replies`, app.otherTokens['admin-agent'], { body: 'hi' })).status).to.equal(404);
    expect((await post(`/support-requests/${t.number}/approve`, app.tokens['admin-agent'])).status).to.equal(403);
    expect((await post(`/support-requests/${t.number}/replies`, app.tokens['admin-agent'], { body: 'secret', internal: true })).status).to.equal(403);
    expect((await app.api('GET', `/support-requests/${t.number}`, { token: app.tokens['sales-agent'] })).status).to.equal(403);
    const close = await post(`/support-requests/${t.number}/close`, agent(), { body: 'Duplicate.' });
    expect(close.body.status).to.equal('closed');
    const approve = await post(`/support-requests/${t.number}/approve`, lead());
    expect(approve.status).to.equal(409);
    expect(approve.body.error.code).to.equal('invalid_state');
    // the claim is released once the ticket ended: the order can get a new request
    await waitFor(async () => !(await SupportOrderClaim.exists({ _id: order.id })));
    expect((await file(refundBody(order.id, 100))).status).to.equal(201);
  });

  it('when an action read the request just before it was closed and its workflow ended, then the refusal names it closed, not the status it read (QA)', async () => {
    const t = (await file({ problemType: 'General question or problem', impact: 'moderate', title: uniq('Closed meanwhile'), customer: customer.id, contact: { name: 'Q', email: 'q@example.com' } })).body;
    expect((await post(`/support-requests/${t.number}/resolve`, agent(), { body: 'Answered.' })).body.status).to.equal('resolved');
    /** The next read of the ticket answers what it held (resolved), then the ticket is closed and its workflow ends before the reader goes on. */
    const original = SupportTicket.findById;
    SupportTicket.findById = ((...args: Parameters<typeof original>) => ({
      lean: async () => {
        SupportTicket.findById = original;
        const doc = await original.apply(SupportTicket, args).lean();
        expect((await post(`/support-requests/${t.number}/close`, agent(), { body: 'Done.' })).body.status).to.equal('closed');
        await app.client.workflow.getHandle(supportWorkflowId(t.number)).result();
        return doc;
      },
    })) as unknown as typeof original;
    try {
      const reply = await post(`/support-requests/${t.number}/replies`, app.tokens['admin-agent'], { body: 'One more thing.' });
      expect([reply.status, reply.body.error?.code, reply.body.error?.message]).to.deep.equal([409, 'invalid_state', `support request ${t.number} is closed: nothing more can be done on it`]);
    } finally {
      // whatever failed, later tests read through mongoose's own
      SupportTicket.findById = original;
    }
  });

  it('when the order is cancelled by the partner while its refund request is open, then the approval fails with a clear reason', async () => {
    const order = await placeOrder(app, customer.id, 'windows-server-standard-perpetual');
    const t = (await file(refundBody(order.id, 1_000, { title: 'Refund within the window' }))).body;
    const cancelled = await app.api('POST', `/orders/${order.id}/cancel`, { body: { customer: customer.id, productName: order.product.name, acknowledged: true } });
    expect(cancelled.status, JSON.stringify(cancelled.body)).to.equal(200);
    const res = await post(`/support-requests/${t.number}/approve`, agent());
    expect(res.status).to.equal(409);
    expect(res.body.error.code).to.equal('already_cancelled');
    expect(res.body.error.message).to.match(/already cancelled/);
    const credits = await LedgerLine.find({ orderId: order.id, kind: 'credit' }).lean();
    expect(credits.map((l) => l.amount)).to.deep.equal([-order.pricing.total]);
    const view = await app.api('GET', `/support-requests/${t.number}`, { token: agent() });
    expect(view.body.status).to.equal('new');
    expect(view.body.timeline.at(-1).data.approvalRefused).to.equal('already_cancelled');
  });

  it('when a refund of a SUSE plan is filed, then it is refused at filing saying why, and nothing is written (the approval would refuse it too)', async () => {
    const order = await placeOrder(app, customer.id, 'suse-linux-enterprise-server-plan');
    const before = await SupportTicket.countDocuments({ orderId: order.id });
    const res = await file(refundBody(order.id, 100, { title: 'Refund SUSE' }));
    expect(res.status).to.equal(422);
    expect(res.body.error).to.include({ code: 'never_cancellable', field: 'body.orderId' });
    expect(res.body.error.message).to.match(/SUSE and Red Hat/);
    expect(await SupportTicket.countDocuments({ orderId: order.id })).to.equal(before);
    expect(await SupportOrderClaim.exists({ _id: order.id })).to.equal(null);
    expect((await Order.findById(order.id).lean())!.status).to.equal('active');
    // a general question about the same order is fine
    const general = await file({ problemType: 'General question or problem', impact: 'minimal', title: 'SUSE question', customer: customer.id, orderId: order.id, contact: { name: 'Q', email: 'q@example.com' } });
    expect(general.status, JSON.stringify(general.body)).to.equal(201);
  });

  it('when the queue is read, then filters, due order and cursor pages hold, and partners see their own only', async () => {
    const mine: string[] = [];
    for (const impact of ['critical', 'minimal', 'moderate']) {
      const res = await file({ problemType: 'General question or problem', impact, title: `Queue ${impact} zebra`, customer: customer.id, contact: { name: 'Q', email: 'q@example.com' } });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      mine.push(res.body.number);
    }
    const other = await file({ problemType: 'General question or problem', impact: 'critical', title: 'Elsewhere zebra', customer: (await app.newCustomer('US', app.otherTokens['admin-agent'])).id, contact: { name: 'Q', email: 'q@example.com' } }, app.otherTokens['admin-agent']);
    expect(other.status).to.equal(201);
    const byText = await app.api('GET', '/support-requests?text=ZEBRA&status=new', { token: agent() });
    const numbers = byText.body.items.map((i: { number: string }) => i.number);
    expect(numbers).to.include.members([...mine, other.body.number]);
    const dues = byText.body.items.map((i: { nextDueAt: string }) => i.nextDueAt);
    expect([...dues].sort()).to.deep.equal(dues);
    const partnerList = await app.api('GET', '/support-requests?text=zebra');
    expect(partnerList.body.items.map((i: { number: string }) => i.number)).to.include.members(mine).and.not.include(other.body.number);
    const critical = await app.api('GET', '/support-requests?text=zebra&impact=critical', { token: agent() });
    expect(critical.body.items.every((i: { impact: string }) => i.impact === 'critical')).to.equal(true);
    // the names the queue shows beside a ticket are searched too: its partner's ("Other Partner") and its assignee's
    const numbersOf = (res: { body: { items: { number: string }[] } }) => res.body.items.map((i) => i.number);
    const byPartner = numbersOf(await app.api('GET', '/support-requests?text=zebra%20OTHER%20partner&status=new', { token: agent() }));
    // (the other ticket's own text has neither word: only its partner's name holds them)
    expect(byPartner).to.include(other.body.number);
    expect(mine.filter((n) => byPartner.includes(n))).to.deep.equal([]);
    expect((await post(`/support-requests/${mine[1]}/assign`, agent())).status).to.equal(200);
    expect(numbersOf(await app.api('GET', '/support-requests?text=zebra%20test%20support-agent', { token: agent() }))).to.deep.equal([mine[1]]);
    // pages of one, following the cursor, cover the same tickets once each
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { number: string }[]; nextCursor: string | null } } = await app.api('GET', `/support-requests?text=zebra&limit=1${cursor ? `&cursor=${cursor}` : ''}`, { token: agent() });
      seen.push(...page.body.items.map((i) => i.number));
      cursor = page.body.nextCursor;
      if (cursor) expect(cursor).to.match(new RegExp(CURSOR_PATTERN));
    } while (cursor);
    expect(seen).to.deep.equal(numbers.filter((n: string) => seen.includes(n)));
    expect(new Set(seen).size).to.equal(seen.length);
    expect(seen).to.include.members(numbers);
    expect((await app.api('GET', '/support-requests?cursor=bogus', { token: agent() })).status).to.equal(400);
    // a partner reply and a withdrawal
    await post(`/support-requests/${mine[0]}/request-information`, agent(), { body: 'Which tenant?' });
    expect((await app.api('GET', `/support-requests?status=pending&text=zebra`, { token: agent() })).body.items.map((i: { number: string }) => i.number)).to.include(mine[0]);
    // (asking took the request nobody had: the partner's answer makes it open, with that agent)
    const answered = (await post(`/support-requests/${mine[0]}/replies`, app.tokens['admin-agent'], { body: 'Tenant contoso.' })).body;
    expect([answered.status, answered.assignee?.name]).to.deep.equal(['open', 'Test support-agent']);
    // an action with nothing to say may be sent without a body at all (curl -X POST …/withdraw)
    const bare = await fetch(`${app.baseUrl}/support-requests/${mine[1]}/withdraw`, { method: 'POST', headers: { authorization: `Bearer ${app.tokens['global-admin']}`, 'idempotency-key': uniq('bare') } });
    expect(bare.status, await bare.clone().text()).to.equal(200);
    const withdrawnTicket = (await bare.json()) as { status: string; withdrawn: boolean; sla: { kind: string; state: string }[] };
    expect(withdrawnTicket).to.include({ status: 'closed', withdrawn: true });
    // nobody resolved it: its resolution clock reads withdrawn, not met
    expect(withdrawnTicket.sla.find((c) => c.kind === 'resolution')?.state).to.equal('withdrawn');
    // but a body sent without its JSON Content-Type is not taken as no body: an escalation's reason is not dropped
    const unread = await fetch(`${app.baseUrl}/support-requests/${mine[2]}/escalate`, { method: 'POST', headers: { authorization: `Bearer ${agent()}`, 'idempotency-key': uniq('unread') }, body: JSON.stringify({ reason: 'Key account' }) });
    expect(unread.status).to.equal(415);
    expect(((await unread.json()) as { error: { field: string } }).error.field).to.equal('header.content-type');
    // escalated by hand: the queue's filter shows it, the leads are told (not a disabled one); a general question is resolved, not rejected
    const gone = await ensureUser({ name: 'Former lead', email: `${uniq('former-lead')}@support.example`.toLowerCase(), role: 'support-lead', partnerId: null });
    await setUserDisabled(gone.email, true);
    expect((await post(`/support-requests/${mine[2]}/escalate`, agent(), { reason: 'Customer is a key account' })).body.escalationLevel).to.equal(1);
    expect((await app.api('GET', '/support-requests?escalated=true&text=zebra', { token: lead() })).body.items.map((i: { number: string }) => i.number)).to.deep.equal([mine[2]]);
    const escalationMail = await app.stack.mailbox.waitFor((m) => m.subject.includes(mine[2]) && m.subject.startsWith('Escalation level 1') && m.to.includes('support-lead@support.example'));
    expect(escalationMail.to).to.not.include(gone.email);
    // whoever escalated by hand knows: not told
    expect(escalationMail.to).to.not.include('support-agent@support.example');
    const notARefund = await post(`/support-requests/${mine[2]}/reject`, agent(), { reason: 'Not covered by the refund policy' });
    expect(notARefund.status).to.equal(422);
    expect(notARefund.body.error.code).to.equal('not_a_refund');
    // a refund request is rejected with its reason, and the partner is told
    const order = await placeOrder(app, customer.id, 'windows-7-esu-2020');
    const refund = (await file(refundBody(order.id, 100, { title: 'Refund zebra' }))).body;
    const rejected = await post(`/support-requests/${refund.number}/reject`, agent(), { reason: 'Not covered by the refund policy' });
    expect(rejected.body).to.include({ status: 'rejected', rejectionReason: 'Not covered by the refund policy' });
    const mail = await app.stack.mailbox.waitFor((m) => m.subject.includes(refund.number) && m.subject.includes('rejected'));
    expect(mail.text).to.contain('Not covered by the refund policy');
    // until when a reply reopens it: SUPPORT_REOPEN_DAYS after the decision, to the minute (in the filer's message: the
    // contact, no user, has a copy of their own that asks nothing of them)
    const filerMail = await app.stack.mailbox.waitFor((m) => m.subject.includes(refund.number) && m.subject.includes('rejected') && m.to.includes(`admin-agent@${app.partnerId}.example`));
    const until = new Date(Date.parse(rejected.body.timeline.find((e: { type: string }) => e.type === 'rejected').at) + 7 * 86_400_000);
    expect(filerMail.text).to.contain(`reply on the request's page by ${until.toISOString().replace('T', ' ').slice(0, 16)} UTC: that reopens it`);
    // the partner answers: the request is reopened, and the rejection no longer stands (its event stays on the timeline)
    const reopened = (await post(`/support-requests/${refund.number}/replies`, app.tokens['admin-agent'], { body: 'It is covered: see clause 4.' })).body;
    expect(reopened.status).to.be.oneOf(['new', 'open']);
    expect(reopened.rejectionReason ?? null).to.equal(null);
    expect(reopened.timeline.map((e: { type: string }) => e.type)).to.include('rejected');
    // nobody had it: the agent who rejected it took it then (the event says so), and hears of the reply
    expect(rejected.body.assignee?.name).to.equal('Test support-agent');
    expect(rejected.body.timeline.find((e: { type: string }) => e.type === 'rejected').data.took).to.equal(true);
    expect(reopened.assignee?.name).to.equal('Test support-agent');
    const toAgent = await app.stack.mailbox.waitFor((m) => m.subject.includes(refund.number) && m.subject.includes('replied') && m.to.includes('support-agent@support.example'));
    expect(toAgent.text).to.contain('It is covered: see clause 4.').and.not.contain('Nobody has it');
  });

  it('when an action is sent again with its Idempotency-Key, then it is carried out once (Idempotent-Replayed: true); the key reused for another action is a 422, never an action skipped', async () => {
    const t = (await file({ problemType: 'General question or problem', impact: 'minimal', title: 'Keyed actions', customer: customer.id, contact: { name: 'Q', email: 'q@example.com' } })).body;
    const keyed = (path: string, key: string, body: unknown, token = agent()) => app.api('POST', `/support-requests/${t.number}/${path}`, { token, body, headers: { 'idempotency-key': key } });
    const key = uniq('action-key');
    const first = await keyed('replies', key, { body: 'First answer' });
    expect(first.status).to.equal(200);
    expect(first.headers.get('idempotent-replayed')).to.equal('false');
    const again = await keyed('replies', key, { body: 'First answer' });
    expect(again.status).to.equal(200);
    // said as orders and filings say it
    expect(again.headers.get('idempotent-replayed')).to.equal('true');
    // without a key there is nothing to replay, and nothing said
    expect((await post(`/support-requests/${t.number}/replies`, agent(), { body: 'Unkeyed answer' })).headers.get('idempotent-replayed')).to.equal(null);
    const replies = async () => (await app.api('GET', `/support-requests/${t.number}`, { token: agent() })).body.timeline.filter((e: { type: string }) => e.type === 'replied').length;
    expect(await replies()).to.equal(2);
    const other = await keyed('replies', key, { body: 'Another answer' });
    expect(other.status).to.equal(422);
    expect(other.body.error).to.include({ code: 'idempotency_key_reused', field: 'header.idempotency-key' });
    const otherAction = await keyed('resolve', key, {});
    expect(otherAction.body.error.code).to.equal('idempotency_key_reused');
    expect(await replies()).to.equal(2);
    // a blank message is refused in words, not with the pattern
    const blank = await keyed('replies', uniq('blank'), { body: '   ' });
    expect(blank.status).to.equal(400);
    expect(blank.body.error.message).to.equal('body.body must be lines of text with at least one visible character: no control characters other than tab and line breaks, no lone surrogates');
    // another user's key of the same text is theirs: their reply is recorded
    const theirs = await keyed('replies', key, { body: 'Partner adds something' }, app.tokens['admin-agent']);
    expect(theirs.status).to.equal(200);
    expect(theirs.body.timeline.filter((e: { type: string; body: string | null }) => e.type === 'partner-replied' && e.body === 'Partner adds something')).to.have.length(1);
  });

  it('when one action is sent several times at once with its Idempotency-Key, then it is recorded once and exactly one answer says it was not replayed', async () => {
    // each send found the key's record unanswered, so all had said `Idempotent-Replayed: false` (QA)
    const t = (await file({ problemType: 'General question or problem', impact: 'minimal', title: uniq('Keyed at once'), customer: customer.id, contact: { name: 'Q', email: 'q@example.com' } })).body;
    const key = uniq('at-once');
    const send = () => app.api('POST', `/support-requests/${t.number}/replies`, { token: agent(), body: { body: 'Sent at once' }, headers: { 'idempotency-key': key } });
    const answers = await Promise.all([send(), send(), send(), send()]);
    expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200, 200]);
    expect(answers.map((a) => a.headers.get('idempotent-replayed')).sort()).to.deep.equal(['false', 'true', 'true', 'true']);
    const later = await send();
    expect([later.status, later.headers.get('idempotent-replayed')]).to.deep.equal([200, 'true']);
    expect(later.body.timeline.filter((e: { type: string; body: string | null }) => e.type === 'replied' && e.body === 'Sent at once')).to.have.length(1);
  });

  it('when a dozen actions reach one request at once (agents and the partner), then each is recorded once, and none is refused but for Temporal being busy', async () => {
    // QA saw such bursts answer some 422 `UnprocessedUpdate` (Temporal's refusal of an Update its worker's core
    // dropped), and record one reply twice and another not at all, all answered 200: events are now written once their
    // workflow task is committed, and a refused Update is sent again (lib/temporal.ts sendUpdate). Twelve at once:
    // Temporal takes ten Updates in flight on one workflow; the others wait on the client's retries, or are a 503
    // `temporal_unavailable`, which a client sends again with its Idempotency-Key, as here
    const t = (await file({ problemType: 'General question or problem', impact: 'critical', title: uniq('Burst'), customer: customer.id, contact: { name: 'Q', email: 'q@example.com' } })).body;
    const texts: string[] = [];
    for (let round = 0; round < 3; round++) {
      const sends = Array.from({ length: 12 }, async (_, i) => {
        const text = `${i % 2 ? 'agent' : 'partner'} ${round}.${i}`;
        texts.push(text);
        const key = uniq('burst');
        const send = () => app.api('POST', `/support-requests/${t.number}/replies`, { token: i % 2 ? agent() : app.tokens['admin-agent'], body: { body: text }, headers: { 'idempotency-key': key } });
        let answer = await send();
        for (let retry = 0; retry < 5 && answer.status === 503 && answer.body?.error?.code === 'temporal_unavailable'; retry++) {
          await new Promise((r) => setTimeout(r, 1000));
          answer = await send();
        }
        return answer.status === 200 ? 200 : `${answer.status} ${answer.body?.error?.code}`;
      });
      expect(await Promise.all(sends)).to.deep.equal(sends.map(() => 200));
    }
    const timeline = (await app.api('GET', `/support-requests/${t.number}`, { token: agent() })).body.timeline as { body: string | null }[];
    expect(texts.map((x) => timeline.filter((e) => e.body === x).length)).to.deep.equal(texts.map(() => 1));
  });

  it('when a lead gives a request to an agent, then the agent is told by email; taking one oneself sends nothing', async () => {
    const t = (await file({ problemType: 'General question or problem', impact: 'moderate', title: uniq('Given away'), customer: customer.id, contact: { name: 'Q', email: 'q@example.com' } })).body;
    const agentUser = (await User.findOne({ email: 'support-agent@support.example' }).lean())!;
    const given = await post(`/support-requests/${t.number}/assign`, lead(), { assigneeId: agentUser._id, body: 'Key account: please call them.' });
    expect(given.body.assignee.userId).to.equal(agentUser._id);
    // support sees the agent's address; the partner sees who has the request, not their address
    expect(given.body.assignee.email).to.equal('support-agent@support.example');
    const partnerView = await app.api('GET', `/support-requests/${t.number}`);
    expect(partnerView.body.assignee).to.deep.equal({ userId: agentUser._id, name: agentUser.name, email: null });
    const mail = await app.stack.mailbox.waitFor((m) => m.subject.includes(t.number) && m.subject.includes('is now yours'));
    expect(mail.to).to.include('support-agent@support.example');
    expect(mail.text).to.contain('Test support-lead gave you support request').and.contain('Key account: please call them.');
    // given again to the one who has it: refused, nothing recorded, no second email
    const again = await post(`/support-requests/${t.number}/assign`, lead(), { assigneeId: agentUser._id, body: 'Again.' });
    expect(again.status).to.equal(409);
    expect(again.body.error.code).to.equal('already_assignee');
    const mine = await post(`/support-requests/${t.number}/assign`, app.tokens['support-agent']);
    expect(mine.status).to.equal(409);
    expect(mine.body.error.code).to.equal('already_assignee');
    const seen = await app.api('GET', `/support-requests/${t.number}`, { token: lead() });
    expect(seen.body.timeline.filter((e: { type: string }) => e.type === 'assigned')).to.have.length(1);
    // the lead takes it back themselves: no email
    await post(`/support-requests/${t.number}/assign`, lead());
    await waitFor(async () => Boolean(await EmailRecord.exists({ _id: new RegExp(`^support:${t.number}:`) })));
    await new Promise((r) => setTimeout(r, 1500));
    expect((await app.stack.mailbox.list()).filter((m) => m.subject.includes(t.number) && m.subject.includes('is now yours'))).to.have.length(1);
  });

  it("when the one who has a request puts it back in the queue (or a lead does), then nobody has it, an open one is new again and the queue lists it unassigned; another agent is refused, the partner's timeline shows no entry; a pending one keeps waiting and the partner's answer goes to the leads", async () => {
    const t = (await file({ problemType: 'General question or problem', impact: 'moderate', title: uniq('Back to the queue'), customer: customer.id, contact: { name: 'Q', email: 'q@example.com' } })).body;
    const taken = await post(`/support-requests/${t.number}/assign`, agent());
    expect([taken.status, taken.body.status]).to.deep.equal([200, 'open']);
    // another agent may not put someone else's request back, nor may the partner
    const other = await ensureUser({ name: 'Other Agent', email: 'other-agent@support.example', role: 'support-agent', partnerId: null });
    const refused = await post(`/support-requests/${t.number}/unassign`, await issueToken(other._id));
    expect([refused.status, refused.body.error.code]).to.deep.equal([409, 'not_your_request']);
    expect((await post(`/support-requests/${t.number}/unassign`, app.tokens['admin-agent'])).status).to.equal(403);
    const back = await post(`/support-requests/${t.number}/unassign`, agent(), { body: 'Out of office until Monday.' });
    expect([back.status, back.body.status, back.body.assignee]).to.deep.equal([200, 'new', null]);
    // the queue's "nobody" filter lists it again
    await waitFor(async () => ((await app.api('GET', `/support-requests?assignee=none&text=${encodeURIComponent(t.title)}`, { token: lead() })).body.items ?? []).some((i: { number: string }) => i.number === t.number));
    // nothing more to put back
    const again = await post(`/support-requests/${t.number}/unassign`, lead());
    expect([again.status, again.body.error.code]).to.deep.equal([409, 'not_assigned']);
    // a lead puts back what someone else has, and that agent is told (putting back one's own tells nobody)
    await post(`/support-requests/${t.number}/assign`, agent());
    expect((await post(`/support-requests/${t.number}/unassign`, lead(), { body: 'Pat is away: anyone may take it.' })).body.assignee).to.equal(null);
    const told = await app.stack.mailbox.waitFor((m) => m.subject.includes(t.number) && m.subject.includes('back in the queue'));
    expect(told.to).to.deep.equal(['support-agent@support.example']);
    expect(told.text).to.contain('put support request').and.contain('Pat is away: anyone may take it.');
    await new Promise((r) => setTimeout(r, 1000));
    expect((await app.stack.mailbox.list()).filter((m) => m.subject.includes(t.number) && m.subject.includes('back in the queue'))).to.have.length(1);
    // support sees who put it back and why; the partner sees neither
    const seen = await app.api('GET', `/support-requests/${t.number}`, { token: lead() });
    const events = seen.body.timeline.filter((e: { type: string }) => e.type === 'unassigned');
    expect(events).to.have.length(2);
    expect(events[0].body).to.equal('Out of office until Monday.');
    const partnerView = await app.api('GET', `/support-requests/${t.number}`);
    expect(partnerView.body.timeline.some((e: { type: string }) => e.type === 'unassigned')).to.equal(false);

    // put back while waiting on the partner: it keeps waiting, and the partner's answer goes to the leads (nobody has it)
    const asked = (await file({ problemType: 'General question or problem', impact: 'moderate', title: uniq('Asked, then back'), customer: customer.id, contact: { name: 'Q', email: 'q@example.com' } })).body;
    await post(`/support-requests/${asked.number}/assign`, agent());
    expect((await post(`/support-requests/${asked.number}/request-information`, agent(), { body: 'Which tenant?' })).body.status).to.equal('pending');
    const waiting = await post(`/support-requests/${asked.number}/unassign`, lead());
    expect([waiting.body.status, waiting.body.assignee]).to.deep.equal(['pending', null]);
    const answer = uniq('The tenant is contoso');
    expect((await post(`/support-requests/${asked.number}/replies`, app.tokens['admin-agent'], { body: answer })).body.status).to.equal('new');
    const toLeads = await app.stack.mailbox.waitFor((m) => m.subject.includes(asked.number) && m.subject.includes('replied'));
    expect(toLeads.to).to.include('support-lead@support.example').and.not.include('support-agent@support.example');
    expect(toLeads.text).to.contain(answer);
  });

  it('when the partner replies to or withdraws a request an agent has, then that agent is told by email; an unassigned request emails nobody on reply', async () => {
    const t = (await file({ problemType: 'General question or problem', impact: 'moderate', title: uniq('Partner news'), customer: customer.id, contact: { name: 'Q', email: 'q@example.com' } })).body;
    const loose = (await file({ problemType: 'General question or problem', impact: 'moderate', title: uniq('Nobody has it'), customer: customer.id, contact: { name: 'Q', email: 'q@example.com' } })).body;
    await post(`/support-requests/${t.number}/assign`, agent());
    const body = uniq('The tenant is fabrikam');
    expect((await post(`/support-requests/${t.number}/replies`, app.tokens['admin-agent'], { body })).status).to.equal(200);
    const mail = await app.stack.mailbox.waitFor((m) => m.subject.includes(t.number) && m.subject.includes('replied'));
    expect(mail.to).to.deep.equal(['support-agent@support.example']);
    expect(mail.text).to.contain(body).and.contain('which is now');
    expect((await post(`/support-requests/${t.number}/withdraw`, app.tokens['admin-agent'])).status).to.equal(200);
    // the agent hears of it in a message of their own: the partner's copy does not carry the agent's address
    const closedToAgent = await app.stack.mailbox.waitFor((m) => m.subject === `Support request ${t.number} closed` && m.to.includes('support-agent@support.example'));
    expect(closedToAgent.to).to.deep.equal(['support-agent@support.example']);
    const closed = await app.stack.mailbox.waitFor((m) => m.subject === `Support request ${t.number} closed` && m.to.includes('q@example.com'));
    expect(closed.to).to.not.include('support-agent@support.example');
    expect((await post(`/support-requests/${loose.number}/replies`, app.tokens['admin-agent'], { body: 'anyone?' })).status).to.equal(200);
    await waitFor(async () => Boolean(await SupportEvent.exists({ ticketId: loose.number, type: 'partner-replied' })));
    await new Promise((r) => setTimeout(r, 1500));
    expect((await app.stack.mailbox.list()).filter((m) => m.subject.includes(loose.number) && m.subject.includes('replied'))).to.have.length(0);
  });

  it('when two people act at the same moment from pages that show the same entries (seenSeq), then one is carried out and the other is a 409 ticket_changed naming it, however the two arrive', async () => {
    // QA: two replies sent at once from the same page state were both taken (5 of 5), and once an approval went
    // through after a partner's "do not refund" reply it had not seen: the check counted only entries already written
    for (let round = 0; round < 3; round++) {
      const t = (await file({ problemType: 'General question or problem', impact: 'moderate', title: uniq('At once'), customer: customer.id, contact: { name: 'Q', email: 'q@example.com' } })).body;
      const seen = Math.max(...((await app.api('GET', `/support-requests/${t.number}`, { token: agent() })).body.timeline as { seq: number }[]).map((e) => e.seq));
      const answers = await Promise.all([
        post(`/support-requests/${t.number}/replies`, agent(), { body: `First answer ${round}`, seenSeq: seen }),
        post(`/support-requests/${t.number}/replies`, lead(), { body: `Second answer ${round}`, seenSeq: seen }),
      ]);
      expect(answers.map((a) => a.status).sort(), JSON.stringify(answers.map((a) => a.body))).to.deep.equal([200, 409]);
      const refused = answers.find((a) => a.status === 409)!;
      expect(refused.body.error.code).to.equal('ticket_changed');
      const replies = (await app.api('GET', `/support-requests/${t.number}`, { token: agent() })).body.timeline.filter((e: { type: string }) => e.type === 'replied');
      expect(replies).to.have.length(1);
    }
  });

  it('when someone acts saying what they had read (seenSeq) and another person has added to the request since, then it is a 409 ticket_changed and nothing is done; read again, it goes through, under the same Idempotency-Key too', async () => {
    const t = (await file({ problemType: 'General question or problem', impact: 'moderate', title: uniq('Stale page'), customer: customer.id, contact: { name: 'Q', email: 'q@example.com' } })).body;
    const lastSeq = async (token: string) => Math.max(...((await app.api('GET', `/support-requests/${t.number}`, { token })).body.timeline as { seq: number }[]).map((e) => e.seq));
    const seenByAgent = await lastSeq(agent());
    const seenByPartner = await lastSeq(app.tokens['admin-agent']);
    // the agent notes something internal: not the partner's to see, so the partner's reply from their page goes through
    expect((await post(`/support-requests/${t.number}/replies`, agent(), { body: 'Checking the tenant.', internal: true })).status).to.equal(200);
    expect((await post(`/support-requests/${t.number}/replies`, app.tokens['admin-agent'], { body: 'It works now, thanks.', seenSeq: seenByPartner })).status).to.equal(200);
    // the agent resolves from the page read before the partner's reply: refused, nothing done
    const events = async () => (await SupportEvent.find({ ticketId: t.number }).lean()).length;
    const before = await events();
    const key = uniq('key-stale');
    const stale = await app.api('POST', `/support-requests/${t.number}/resolve`, { token: agent(), body: { body: 'Resolved.', seenSeq: seenByAgent }, headers: { 'idempotency-key': key } });
    expect(stale.status).to.equal(409);
    expect(stale.body.error.code).to.equal('ticket_changed');
    expect(stale.body.error.message).to.match(/changed since you opened it: .+ replied \(entry \d+\)/);
    expect(await events()).to.equal(before);
    expect((await app.api('GET', `/support-requests/${t.number}`, { token: agent() })).body.status).to.equal('new');
    // read again: the same action, under the same key (a refusal leaves it free), is carried out
    const fresh = await app.api('POST', `/support-requests/${t.number}/resolve`, { token: agent(), body: { body: 'Resolved.', seenSeq: await lastSeq(agent()) }, headers: { 'idempotency-key': key } });
    expect(fresh.status).to.equal(200);
    expect(fresh.headers.get('idempotent-replayed')).to.equal('false');
    expect(fresh.body.status).to.equal('resolved');
    // a seenSeq that is not a whole number is the caller's mistake, named
    const bad = await post(`/support-requests/${t.number}/replies`, agent(), { body: 'x', seenSeq: -1 });
    expect([bad.status, bad.body.error.field]).to.deep.equal([400, 'body.seenSeq']);
    // and one past the request's last entry would skip the check it asks for (QA): named, nothing done
    const ahead = await post(`/support-requests/${t.number}/replies`, agent(), { body: 'x', seenSeq: 999 });
    expect([ahead.status, ahead.body.error.field, ahead.body.error.message]).to.deep.equal([400, 'body.seenSeq', `body.seenSeq 999 is past the request's last entry (${await lastSeq(agent())}): send the highest seq you have read`]);
    expect(await events()).to.equal(before + 1);
  });

  it('when the agent who has a request changed their email address since, then the partner\'s reply reaches the new address', async () => {
    const name = uniq('mover');
    const mover = await ensureUser({ name: 'Mo Mover', email: `${name}@support.example`, role: 'support-agent', partnerId: null });
    const t = (await file({ problemType: 'General question or problem', impact: 'moderate', title: uniq('Agent moved'), customer: customer.id, contact: { name: 'Q', email: 'q@example.com' } })).body;
    expect((await post(`/support-requests/${t.number}/assign`, lead(), { assigneeId: mover._id })).status).to.equal(200);
    await User.updateOne({ _id: mover._id }, { $set: { email: `${name}@new.support.example` } });
    expect((await post(`/support-requests/${t.number}/replies`, app.tokens['admin-agent'], { body: 'Any news?' })).status).to.equal(200);
    const mail = await app.stack.mailbox.waitFor((m) => m.subject.includes(t.number) && m.subject.includes('replied'));
    expect(mail.to).to.deep.equal([`${name}@new.support.example`]);
  });

  it('when a refund of a tax-inclusive order (Australia) is approved, then the approved email says the tax its credit includes, as the cancellation email does', async () => {
    const au = await app.newCustomer('AU');
    const order = await placeOrder(app, au.id, 'windows-7-esu-2020');
    const t = (await file(refundBody(order.id, order.pricing.total, { customer: au.domain, refund: { reason: 'Bought by mistake', amount: order.pricing.total, currency: order.pricing.currency } }))).body;
    expect((await post(`/support-requests/${t.number}/approve`, agent())).body.status).to.equal('approved');
    const cancelled = (await Order.findById(order.id).lean())!;
    const tax = cancelled.cancellation!.credit.taxAmount!;
    expect(tax).to.be.greaterThan(0);
    const mail = await app.stack.mailbox.waitFor((m) => m.subject.includes(t.number) && m.subject.includes('approved') && m.to.includes(`admin-agent@${app.partnerId}.example`));
    expect(mail.text).to.match(new RegExp(`A credit of A\\$[\\d,.]+ \\(includes tax of A\\$${(tax / 100).toLocaleString('en-US', { minimumFractionDigits: 2 }).replace(/[.$]/g, (c) => `\\${c}`)}\\) appears`));
  });

  it('when a refund has been carried out and the partner reopens the request, then it can no longer be rejected or withdrawn', async () => {
    const order = await placeOrder(app, customer.id, 'windows-7-esu-2020');
    const t = (await file(refundBody(order.id, order.pricing.total))).body;
    expect((await post(`/support-requests/${t.number}/approve`, agent())).body.status).to.equal('approved');
    expect((await post(`/support-requests/${t.number}/replies`, app.tokens['admin-agent'], { body: 'Where is the credit?' })).body.status).to.not.equal('approved');
    const res = await post(`/support-requests/${t.number}/reject`, agent(), { reason: 'Changed my mind' });
    expect(res.status).to.equal(409);
    expect(res.body.error.code).to.equal('already_refunded');
    const withdrawn = await post(`/support-requests/${t.number}/withdraw`, app.tokens['admin-agent']);
    expect([withdrawn.status, withdrawn.body.error?.code]).to.deep.equal([409, 'already_refunded']);
    const view = await app.api('GET', `/support-requests/${t.number}`, { token: agent() });
    expect(view.body.rejectionReason ?? null).to.equal(null);
    expect(view.body.withdrawn).to.equal(false);
    expect((await Order.findById(order.id).lean())!.status).to.equal('cancelled');
  });

  it('when the worker restarts in the middle of an approval, then nothing is lost and nothing is repeated', async function () {
    this.timeout(240_000);
    const taskQueue = uniq('support-restart');
    const connection = await NativeConnection.connect({ address: app.stack.temporalAddress });
    let crashed = false;
    const holder: { a?: Worker } = {};
    const make = (crash: boolean) => {
      const activities = buildActivities({ mailer: app.mailer, log: app.log, publicBaseUrl: 'http://csp-desk.test' });
      const real = activities.recordCancellation;
      // worker A dies right after the cancellation is written, before it can report it
      if (crash) {
        activities.recordCancellation = async (input) => {
          const r = await real(input);
          if (!crashed) {
            crashed = true;
            void holder.a!.shutdown();
            throw new Error('worker killed after writing the cancellation');
          }
          return r;
        };
      }
      return Worker.create({ connection, taskQueue, workflowBundle: app.workflowBundle, activities, maxCachedWorkflows: 0, shutdownGraceTime: '1 second' });
    };
    const workerA = await make(true);
    holder.a = workerA;
    const runningA = workerA.run();
    const api = createApi({ client: app.client, mailer: app.mailer, log: app.log, taskQueue, reminderDaysBeforeClose: 7, support: TEST_SUPPORT_SETTINGS });
    const server = createAppServer(api);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const call = async (method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as any };
    };
    try {
      const placed = await call('POST', `/customers/${customer.id}/orders`, app.tokens['admin-agent'], { productId: 'windows-7-esu-2020', quantity: 1 }, { 'idempotency-key': uniq('key-order') });
      expect(placed.status).to.equal(201);
      const orderId = placed.body.id as string;
      await waitFor(async () => Boolean(await EmailRecord.exists({ _id: `order:${orderId}:confirmation`, status: 'sent' })));
      const t = await call('POST', '/support-requests', app.tokens['admin-agent'], refundBody(orderId, 1_000), { 'idempotency-key': uniq('key-sr') });
      expect(t.status, JSON.stringify(t.body)).to.equal(201);
      const approving = call('POST', `/support-requests/${t.body.number}/approve`, lead(), {});
      await waitFor(async () => crashed, 60_000);
      // worker B takes over with nothing cached: it replays the histories
      const workerB = await make(false);
      const approved = await workerB.runUntil(async () => {
        await runningA;
        const r = await approving;
        await waitFor(async () => Boolean(await EmailRecord.exists({ _id: `order:${orderId}:cancellation`, status: 'sent' })), 60_000);
        // the approval's own email follows its recorded event (emails leave the ticket's write queue)
        await waitFor(async () => (await EmailRecord.countDocuments({ _id: { $regex: `^support:${t.body.number}:.*:approved$` }, status: 'sent' })) > 0, 60_000);
        return r;
      });
      expect(approved.status, JSON.stringify(approved.body)).to.equal(200);
      expect(approved.body.status).to.equal('approved');
      expect(await LedgerLine.countDocuments({ orderId, kind: 'credit' })).to.equal(1);
      expect(await OrderEvent.countDocuments({ orderId, type: 'cancelled' })).to.equal(1);
      expect(await SupportEvent.countDocuments({ ticketId: t.body.number, type: 'approved' })).to.equal(1);
      expect(await EmailRecord.countDocuments({ _id: { $regex: `^support:${t.body.number}:.*:approved$` } })).to.equal(1);
      // a worker killed outright (kill -9: no shutdown to cancel its attempt) is noticed by the refund's heartbeat
      // within seconds, not after its 5-minute start-to-close (QA: the ticket had waited that long)
      const history = await app.client.workflow.getHandle(supportWorkflowId(t.body.number)).fetchHistory();
      const refunds = history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'carryOutSupportRefund');
      expect(refunds).to.have.length.greaterThan(0);
      for (const e of refunds) expect(Number(String(e.activityTaskScheduledEventAttributes!.heartbeatTimeout?.seconds ?? 0))).to.be.within(1, 10);
      // and retried until the order answers, however long an outage lasts: never given up with its outcome unknown
      // (then the ticket could be rejected while its order ended up cancelled and credited under it)
      for (const e of refunds) expect(e.activityTaskScheduledEventAttributes!.retryPolicy?.maximumAttempts ?? 0).to.equal(0);
      // ended only by the refusals the rules name (one list with the activity's: review), never retried forever on one
      for (const e of refunds) expect(e.activityTaskScheduledEventAttributes!.retryPolicy?.nonRetryableErrorTypes).to.deep.equal([...Object.keys(SUPPORT_REFUND_REFUSALS), 'order_missing']);
      expect((await Order.findById(orderId).lean())!.status).to.equal('cancelled');
      const mails = (await app.stack.mailbox.list()).filter((m) => m.subject.includes(orderId) && m.subject.includes('cancelled'));
      expect(mails).to.have.length(1);
    } finally {
      server.close();
      await connection.close();
    }
  });
});
