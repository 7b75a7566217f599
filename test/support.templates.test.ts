/** Every support email renders its subject, HTML and text from the ticket and the event that caused it. */
import { expect } from 'chai';
import { createRenderer } from '../lib/mailer';
import { SUPPORT_EMAIL_KINDS } from '../contracts/support';

describe('support emails (templates)', () => {
  const renderer = createRenderer();
  const ticket = {
    _id: 'SR-261125-7KQ2ZD',
    title: 'Refund the ESU purchase',
    problemType: 'CSP Purchase/Refund on behalf of customers',
    impact: 'moderate',
    orderId: 'order-1',
    refund: { reason: 'Bought by mistake', amount: 6_100, currency: 'USD' },
    assignee: { name: 'Ada Agent', email: 'ada@support.example' },
    withdrawn: false,
    status: 'open',
  };
  const events: Record<string, Record<string, unknown>> = {
    received: { body: null, data: {} },
    'information-needed': { body: 'Which tenant is it?', data: {} },
    reply: { body: 'We are on it.', actor: { name: 'Ada Agent' }, data: {} },
    approved: { body: null, data: { amount: 6_100, currency: 'USD', invoiceMonth: '2026-12' } },
    rejected: { body: null, data: { reason: 'Outside the refund policy' } },
    escalated: { actor: { name: 'csp-desk' }, data: { level: 2, reason: 'firstResponse target exceeded by 50%', manual: false } },
    'at-risk': { data: { clock: 'firstResponse', dueAt: '2026-11-25T13:00:00.000Z' } },
    resolved: { body: 'Reissued the key.', data: {} },
    closed: { data: {} },
    'partner-replied': { actor: { name: 'Pat Partner' }, body: 'Here is the tenant: fabrikam.', data: {} },
    assigned: { actor: { name: 'Lee Lead' }, body: 'Key account: please call them.', data: { assignee: { name: 'Ada Agent', email: 'ada@support.example' } } },
  };

  for (const kind of SUPPORT_EMAIL_KINDS) {
    it(`when a ${kind} email is rendered, then its subject, HTML and text name the ticket and what happened`, () => {
      const r = renderer.render(`support-${kind}`, { ticket, event: events[kind], number: ticket._id, partner: { name: 'Test Partner' }, ticketUrl: `http://x/app/support/${ticket._id}`, firstResponseDue: '2026-11-25 13:00 UTC' });
      expect(r.subject).to.contain(ticket._id);
      expect(r.html).to.contain(ticket._id).and.contain('Test Partner');
      expect(r.text).to.contain(`http://x/app/support/${ticket._id}`);
      if (kind === 'approved') expect(r.text).to.contain('$61.00').and.contain('2026-12');
      if (kind === 'rejected') expect(r.text).to.contain('Outside the refund policy');
      if (kind === 'escalated') expect(r.subject).to.contain('Escalation level 2');
      if (kind === 'escalated') expect(r.text).to.contain('Reason: first response target exceeded by 50%');
      if (kind === 'at-risk') expect(r.text).to.contain('will breach its first response target at 2026-11-25 13:00 UTC.');
      if (kind === 'at-risk') expect(r.subject).to.equal(`At risk: support request ${ticket._id} is due 2026-11-25 13:00 UTC`);
      if (kind === 'received') expect(r.text).to.contain('will answer by 2026-11-25 13:00 UTC.');
      if (kind === 'partner-replied') expect(r.text).to.contain('Pat Partner of Test Partner replied to support request').and.contain('which is now open').and.contain('Here is the tenant: fabrikam.');
      if (kind === 'assigned') expect(r.text).to.contain('Lee Lead gave you support request').and.contain('Key account: please call them.');
    });
  }
});
