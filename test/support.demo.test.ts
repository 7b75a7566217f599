/**
 * The demo support requests `npm start` files (services/support-demo.ts): through the workflows, in the
 * states the queue should show, and idempotent (a second run files and does nothing new).
 */
import { expect } from 'chai';
import { SupportEvent, SupportTicket } from '../models';
import { seedSupportDemo } from '../services/support-demo';
import { getTestApp, TEST_SUPPORT_SETTINGS, type TestApp } from './support/app';

describe('support demo data', () => {
  let app: TestApp;
  before(async function () {
    this.timeout(300_000);
    app = await getTestApp();
  });

  it('when the demo is seeded twice, then the queue shows an ESU refund waiting for an agent, one pending on the partner and one escalated, once each', async () => {
    const customer = (await app.newCustomer('US')).domain;
    const deps = {
      client: app.client,
      taskQueue: app.taskQueue,
      reminderDaysBeforeClose: 7,
      settings: TEST_SUPPORT_SETTINGS,
      partnerId: app.partnerId,
      customer,
      users: { partnerAdmin: `admin-agent@${app.partnerId}.example`, agent: 'support-agent@support.example', lead: 'support-lead@support.example' },
    };
    const first = await seedSupportDemo(deps);
    expect(first.map((t) => [t.what, t.status, t.escalationLevel])).to.deep.equal([
      ['ESU refund waiting for an agent', 'new', 0],
      ['waiting on the partner', 'pending', 0],
      ['escalated', 'open', 1],
    ]);
    const esu = await SupportTicket.findById(first[0].number).lean();
    expect(esu?.refund?.amount).to.be.greaterThan(0);
    expect(esu?.orderId).to.be.a('string');
    const events = await SupportEvent.countDocuments({ ticketId: { $in: first.map((t) => t.number) } });

    const again = await seedSupportDemo(deps);
    expect(again).to.deep.equal(first);
    expect(await SupportTicket.countDocuments({ partnerId: app.partnerId, title: { $in: [esu!.title] } })).to.equal(1);
    expect(await SupportEvent.countDocuments({ ticketId: { $in: first.map((t) => t.number) } })).to.equal(events);

    // the agents' queue has them (followed page by page: other tests' tickets share this queue)
    const numbers: string[] = [];
    let cursor: string | null = null;
    do {
      const queue: { status: number; body: { items: { number: string }[]; nextCursor: string | null } } = await app.api('GET', `/support-requests?limit=100${cursor ? `&cursor=${cursor}` : ''}`, { token: app.tokens['support-agent'] });
      expect(queue.status).to.equal(200);
      numbers.push(...queue.body.items.map((t: { number: string }) => t.number));
      cursor = queue.body.nextCursor;
    } while (cursor);
    for (const t of first) expect(numbers).to.include(t.number);
  });
});
