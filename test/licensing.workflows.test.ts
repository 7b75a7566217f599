/**
 * Revocation at the end of a subscription's term, on Temporal's time-skipping test server with the real
 * activities and database: the year passes in seconds, then the key and every link are revoked and logged.
 */
import crypto from 'node:crypto';
import { expect } from 'chai';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { buildActivities } from '../composition/root';
import { orderRefundWorkflowId, orderWorkflowId, waitForStageUpdate } from '../contracts/orders';
import { WORKFLOW_TASK_TIMEOUT } from '../lib/temporal';
import type { orderWorkflow } from '../workflows/order';
import { findCatalogProduct } from '../domain/catalog';
import { priceOrder } from '../domain/pricing';
import type { OrderTerms } from '../domain/orders';
import { AppError } from '../lib/errors';
import { createStandInFiles } from '../lib/files';
import { ActivationKey, ActivityEntry, DownloadLink, Order, User } from '../models';
import { createLicensingService } from '../services/licensing';
import type { AuthContext } from '../services/context';
import { getTestApp, quietRuntime, uniq, workflowBundle, type TestApp } from './support/app';

describe('licensing: revocation when a subscription term ends (time-skipping test server)', function () {
  this.timeout(180_000);
  let app: TestApp;
  let env: TestWorkflowEnvironment;
  const taskQueue = uniq('licensing-timeskip');

  before(async () => {
    quietRuntime();
    app = await getTestApp();
    env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: app.stack.testServerPath } } });
  });
  after(async () => {
    await env?.teardown();
  });

  it('when a subscription reaches the end of its term, then its key and every link are revoked, the list shows no key, and the log says why', async () => {
    const customer = await app.newCustomer('US');
    const product = findCatalogProduct('sql-server-standard-sub')!;
    const user = (await User.findOne({ email: `admin-agent@${app.partnerId}.example` }).lean())!;
    const auth: AuthContext = { user, role: 'admin-agent', partnerId: app.partnerId, tokenId: 'test', origin: { ip: '198.51.100.7', userAgent: 'licensing-test' } };
    const terms: OrderTerms = {
      orderId: crypto.randomUUID(),
      partnerId: app.partnerId,
      customer: { id: customer.id, name: customer.name, tenantId: customer.tenantId, domain: customer.domain, market: customer.market },
      product: { id: product.id, name: product.name, kind: product.kind, billing: product.billing, cancellation: product.cancellation, deliverable: product.deliverable },
      pricing: priceOrder(product, customer.market, 1),
      purchasedAt: new Date(await env.currentTimeMs()).toISOString(),
      imported: false,
      placedBy: { userId: user._id, name: user.name, email: user.email, role: 'admin-agent' },
      notify: [`billing@${app.partnerId}.example`],
      reminderDaysBeforeClose: 7,
      requestId: uniq('req'),
      origin: auth.origin,
    };
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: buildActivities({ mailer: app.mailer, log: app.log, publicBaseUrl: 'http://csp-desk.test' }) });
    await worker.runUntil(async () => {
      const h = await env.client.workflow.start<typeof orderWorkflow>('orderWorkflow', { workflowId: orderWorkflowId(terms.orderId), taskQueue, args: [terms], workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT });
      await h.executeUpdate(waitForStageUpdate, { args: ['confirmed'] });

      const linkTime = new Date(await env.currentTimeMs());
      const licensing = createLicensingService({ files: createStandInFiles(), now: () => linkTime });
      const choice = { version: 'SQL Server 2019', language: 'fr-fr', fileType: 'CAB (64-bit)' };
      const links = [await licensing.getKeysAndDownloads(auth, terms.orderId, choice), await licensing.getKeysAndDownloads(auth, terms.orderId, choice)];
      expect((await licensing.listSoftware(auth, customer.id))[0].activationKey).to.equal(links[0].activationKey.key);

      // a year later, nobody having acted
      expect(await h.result()).to.deep.equal({ orderId: terms.orderId, status: 'expired' });
      const after = createLicensingService({ files: createStandInFiles(), now: () => new Date(linkTime.getTime() + 1000) });
      for (const l of links) {
        let refusal: unknown = null;
        await after.openDownload({ token: l.download.token, method: 'GET', origin: { ip: '203.0.113.9', userAgent: 'curl' } }).catch((e) => (refusal = e));
        expect(refusal).to.be.instanceOf(AppError);
        expect((refusal as AppError).status).to.equal(410);
        expect((refusal as AppError).code).to.equal('link_revoked');
      }
    });

    const order = (await Order.findById(terms.orderId).lean())!;
    expect(order.status).to.equal('expired');
    expect(await ActivationKey.countDocuments({ orderId: terms.orderId, status: 'active' })).to.equal(0);
    expect(await ActivationKey.countDocuments({ orderId: terms.orderId, status: 'revoked' })).to.equal(1);
    expect(await DownloadLink.countDocuments({ orderId: terms.orderId, status: 'revoked' })).to.equal(2);
    const list = await createLicensingService({ files: createStandInFiles() }).listSoftware(auth, customer.id);
    expect(list[0]).to.include({ orderId: terms.orderId, status: 'expired', activationKey: null, downloads: null });

    const revoked = (await ActivityEntry.findById(`order:${terms.orderId}:revoked:term-ended`).lean())!;
    expect(revoked).to.include({ operationType: 'revoke_software_keys_and_links', reason: 'term-ended', userPrincipalName: null });
    expect(revoked.actor.kind).to.equal('system');
    expect(revoked.operationDate.toISOString()).to.equal(order.expiredAt!.toISOString());
    expect(revoked.detail).to.contain('1 activation key(s) and 2 download link(s)');
    // refunded through support after its term: its refund workflow revokes nothing more, and its log entry says so
    // (it counted the term's revocations again)
    const refund = { orderId: terms.orderId, ticket: 'SR-261126-TERM01', amount: { amount: 1_000, currency: 'USD' }, actor: { userId: 'u-lead', name: 'Lee Lead', email: 'lead@csp-desk.test', role: 'support-lead' as const }, requestId: uniq('req') };
    const again = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: buildActivities({ mailer: app.mailer, log: app.log, publicBaseUrl: 'http://csp-desk.test' }) });
    await again.runUntil(env.client.workflow.execute('orderRefundWorkflow', { workflowId: orderRefundWorkflowId(terms.orderId), taskQueue, args: [refund], workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT }));
    expect((await ActivityEntry.findById(`order:${terms.orderId}:revoked:cancelled`).lean())!.detail).to.equal('0 activation key(s) and 0 download link(s) revoked: the order was cancelled');
    const placed = (await ActivityEntry.findById(`order:${terms.orderId}:placed`).lean())!;
    expect(placed).to.include({ operationType: 'create_order', ipAddress: '198.51.100.7', userAgent: 'licensing-test', userPrincipalName: user.email });
    // the software list after the term shows no key, so it logs no key access
    const keyAccesses = await ActivityEntry.countDocuments({ orderId: terms.orderId, operationType: 'get_software_keys' });
    expect(keyAccesses).to.equal(3);
  });
});
