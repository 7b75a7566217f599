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
    breached: { data: { clock: 'nextResponse', dueAt: '2026-11-25T13:00:00.000Z', breachLevel: 1 } },
    resolved: { body: 'Reissued the key.', data: {} },
    closed: { data: {} },
    'partner-replied': { actor: { name: 'Pat Partner' }, body: 'Here is the tenant: fabrikam.', data: {} },
    assigned: { actor: { name: 'Lee Lead' }, body: 'Key account: please call them.', data: { assignee: { name: 'Ada Agent', email: 'ada@support.example' } } },
    unassigned: { actor: { name: 'Lee Lead' }, body: 'Ada is away this week.', data: { previous: { userId: 'u-ada', name: 'Ada Agent', email: 'ada@support.example' } } },
  };

  for (const kind of SUPPORT_EMAIL_KINDS) {
    it(`when a ${kind} email is rendered, then its subject, HTML and text name the ticket and what happened`, () => {
      const r = renderer.render(`support-${kind}`, { ticket, event: events[kind], number: ticket._id, partner: { name: 'Test Partner' }, ticketUrl: `http://x/app/support/${ticket._id}`, firstResponseDue: '2026-11-25T13:00:00.000Z', responseDue: { clock: 'firstResponse', dueAt: '2026-11-25T13:00:00.000Z' } });
      expect(r.subject).to.contain(ticket._id);
      expect(r.html).to.contain(ticket._id).and.contain('Test Partner');
      expect(r.text).to.contain(`http://x/app/support/${ticket._id}`);
      if (kind === 'approved') expect(r.text).to.contain('$61.00').and.contain('December 2026');
      if (kind === 'rejected') expect(r.text).to.contain('Outside the refund policy');
      if (kind === 'escalated') expect(r.subject).to.contain('Escalation level 2');
      if (kind === 'escalated') expect(r.text).to.contain('Reason: first response target exceeded by 50%');
      if (kind === 'at-risk') expect(r.text).to.contain('will breach its first response target at 2026-11-25 13:00 UTC.');
      if (kind === 'at-risk') expect(r.subject).to.equal(`At risk: support request ${ticket._id} is due 2026-11-25 13:00 UTC`);
      if (kind === 'received') expect(r.text).to.contain('will answer by 2026-11-25 13:00 UTC.');
      if (kind === 'partner-replied') expect(r.text).to.contain('Pat Partner of Test Partner replied to support request').and.contain('which is now open').and.contain('Here is the tenant: fabrikam.');
      if (kind === 'assigned') expect(r.text).to.contain('Lee Lead gave you support request').and.contain('Key account: please call them.').and.contain('Its first response is due by 2026-11-25 13:00 UTC.');
      if (kind === 'at-risk') expect(r.text).to.contain('Assignee: Ada Agent.');
      if (kind === 'breached') expect(r.text).to.contain('breached its next response target, due at 2026-11-25 13:00 UTC.');
      if (kind === 'assigned') {
        // handed over while a next response runs: its due, not nothing (QA)
        const next = renderer.render('support-assigned', { ticket, event: events[kind], number: ticket._id, partner: { name: 'Test Partner' }, ticketUrl: 'http://x/t', responseDue: { clock: 'nextResponse', dueAt: '2026-11-27T17:00:00.000Z' } });
        expect(next.text).to.contain('Its next response is due by 2026-11-27 17:00 UTC.');
        expect(next.html).to.contain('Its next response is due by <strong>2026-11-27 17:00 UTC</strong>.');
      }
      if (kind === 'unassigned') expect(r.text).to.contain('Lee Lead put support request').and.contain('back in the queue: it is no longer yours').and.contain('Ada is away this week.');
      if (kind === 'assigned') {
        // given a request at risk, or breached: said instead of the first response's due
        const risk = renderer.render('support-assigned', { ticket, event: events[kind], number: ticket._id, partner: { name: 'Test Partner' }, ticketUrl: 'http://x/t', firstResponseDue: '2026-11-25T13:00:00.000Z', urgent: { clock: 'firstResponse', dueAt: new Date('2026-11-25T13:00:00.000Z'), breached: false } });
        expect(risk.text).to.contain('It is at risk: its first response target is due at 2026-11-25 13:00 UTC.').and.not.contain('Its first response is due by');
        expect(risk.html).to.contain('It is at risk: its first response target is due at 2026-11-25 13:00 UTC.');
        const late = renderer.render('support-assigned', { ticket, event: events[kind], number: ticket._id, partner: { name: 'Test Partner' }, ticketUrl: 'http://x/t', urgent: { clock: 'resolution', dueAt: new Date('2026-11-26T09:00:00.000Z'), breached: true } });
        expect(late.text).to.contain('Its resolution target was due at 2026-11-26 09:00 UTC: it is breached.');
      }
      if (kind === 'at-risk') {
        // in the zone its recipients chose (activities/shared.ts), subject and text alike
        const zoned = renderer.render('support-at-risk', { ticket, event: events[kind], number: ticket._id, partner: { name: 'Test Partner' }, ticketUrl: 'http://x/t', timeZone: 'Asia/Tokyo' });
        expect(zoned.subject).to.equal(`At risk: support request ${ticket._id} is due 2026-11-25 22:00 Asia/Tokyo (UTC+09:00)`);
        expect(zoned.text).to.contain('target at 2026-11-25 22:00 Asia/Tokyo (UTC+09:00).');
      }
      if (kind === 'unassigned') {
        // with no message (the page's button sends none), the link still stands apart
        const bare = renderer.render('support-unassigned', { ticket, event: { ...events.unassigned, body: null }, number: ticket._id, partner: { name: 'Test Partner' }, ticketUrl: 'http://x/t' });
        expect(bare.text).to.match(/anyone in support may take it\.\n\nView support request/);
      }
    });
  }

  it("when a partner's email goes to a contact who cannot sign in (no ticket link), then it names who filed the request instead, in HTML and text", () => {
    const filedBy = { name: "Pat O'Brien", email: 'pat@partner.example' };
    for (const kind of ['received', 'information-needed', 'reply', 'approved', 'rejected', 'resolved', 'closed'] as const) {
      const r = renderer.render(`support-${kind}`, { ticket: { ...ticket, filedBy }, event: events[kind], number: ticket._id, partner: { name: 'Test Partner' }, ticketUrl: null, firstResponseDue: null });
      for (const part of [r.text, r.html]) expect(part, kind).to.not.contain('/app/').and.not.contain('View support request');
      expect(r.text, kind).to.contain("Pat O'Brien (pat@partner.example) filed this request for you and follows it in csp-desk: ask them to add anything for you.\n");
      expect(r.html, kind).to.contain('<p>Pat O&#x27;Brien (pat@partner.example) filed this request for you and follows it in csp-desk');
      // nothing they cannot do: no page to reply on, no request to file; and why they get it
      for (const part of [r.text, r.html]) expect(part, kind).to.not.match(/reply on the request|reply to the request|file a new support request/i);
      const copy = renderer.render(`support-${kind}`, { ticket: { ...ticket, filedBy }, event: events[kind], number: ticket._id, partner: { name: 'Test Partner' }, ticketUrl: null, contactCopy: true });
      // the text part too: a text-only reader learns it as well
      for (const part of [copy.html, copy.text]) expect(part, kind).to.contain('Test Partner named you as the contact for this support request').and.contain('This address takes no replies.').and.not.contain('you buy software subscriptions');
    }
  });

  it('when a request is closed or withdrawn with a message, then the email carries it; rejected, resolved and approved say a reply reopens it', () => {
    const closed = renderer.render('support-closed', { ticket, event: { body: 'Closing as a duplicate of SR-261125-ABCDEF.', data: {} }, number: ticket._id, partner: { name: 'Test Partner' }, ticketUrl: 'http://x' });
    for (const part of [closed.text, closed.html]) expect(part).to.contain('Closing as a duplicate of SR-261125-ABCDEF.');
    for (const kind of ['rejected', 'resolved', 'approved'] as const) {
      const r = renderer.render(`support-${kind}`, { ticket, event: events[kind], number: ticket._id, partner: { name: 'Test Partner' }, ticketUrl: 'http://x' });
      for (const part of [r.text, r.html]) expect(part, kind).to.match(/reopens it/);
    }
    // the decision's event says until when (the ticket's reopen days): the email gives the date; none when it closes at once
    for (const kind of ['rejected', 'resolved', 'approved'] as const) {
      const dated = renderer.render(`support-${kind}`, { ticket, event: { ...events[kind], data: { ...(events[kind].data as object), reopenUntil: '2026-12-03T17:18:00.000Z' } }, number: ticket._id, partner: { name: 'Test Partner' }, ticketUrl: 'http://x' });
      for (const part of [dated.text, dated.html]) expect(part, kind).to.contain("reply on the request's page by 2026-12-03 17:18 UTC").and.not.contain('a few days');
      const atOnce = renderer.render(`support-${kind}`, { ticket, event: { ...events[kind], data: { ...(events[kind].data as object), reopenUntil: null } }, number: ticket._id, partner: { name: 'Test Partner' }, ticketUrl: 'http://x' });
      for (const part of [atOnce.text, atOnce.html]) expect(part, kind).to.not.match(/reopens it/);
    }
    // staff news of a request whose assignee is disabled (sent to the leads) says so
    // (an escalation too: QA, it named the disabled assignee as if they had it)
    for (const kind of ['at-risk', 'partner-replied', 'escalated'] as const) {
      const r = renderer.render(`support-${kind}`, { ticket, event: events[kind], number: ticket._id, partner: { name: 'Test Partner' }, ticketUrl: 'http://x', forSupport: true, assigneeDisabled: true });
      for (const part of [r.text, r.html]) expect(part, kind).to.contain('Ada Agent').and.contain('is disabled: give it to someone else.');
    }
    // an escalation's reason keeps its lines in HTML too
    const esc = renderer.render('support-escalated', { ticket, event: { actor: { name: 'Lee Lead' }, data: { level: 1, reason: 'Customer is blocked;\nneeds a lead', manual: true } }, number: ticket._id, partner: { name: 'Test Partner' }, ticketUrl: 'http://x' });
    expect(esc.html).to.match(/<p style="white-space: pre-wrap;">Escalated by Lee Lead: Customer is blocked;\nneeds a lead/);
  });

  it('when a message spans lines, then the HTML keeps its line breaks as typed (no indentation from the layout), as the text does', () => {
    const body = 'Please send:\n1. the invoice number\n2. the order id';
    for (const kind of ['information-needed', 'reply', 'resolved', 'approved', 'assigned', 'partner-replied'] as const) {
      const r = renderer.render(`support-${kind}`, { ticket, event: { ...events[kind], body }, number: ticket._id, partner: { name: 'Test Partner' }, ticketUrl: 'http://x', firstResponseDue: null });
      expect(r.html, kind).to.match(/white-space: pre-wrap;">Please send:\n1\. the invoice number\n2\. the order id</);
    }
    const rejected = renderer.render('support-rejected', { ticket, event: { data: { reason: 'Outside policy:\n- Azure RI used' } }, number: ticket._id, partner: { name: 'P' }, ticketUrl: 'http://x' });
    expect(rejected.html).to.match(/white-space: pre-wrap;">Reason: Outside policy:\n- Azure RI used</);
  });

  it('when a refund is approved, then the email names the invoice month as the invoice does ("December 2026"), not its key (QA)', () => {
    const r = renderer.render('support-approved', { ticket, event: events.approved, number: ticket._id, partner: { name: 'P' }, ticketUrl: 'http://x' });
    for (const part of [r.text, r.html]) expect(part).to.match(/appears on your invoice for (<strong>)?December 2026(<\/strong>)?\./).and.not.contain('2026-12');
  });

  it('when an agent escalates with a reason ending in a full stop, then the sentence has one', () => {
    const r = renderer.render('support-escalated', { ticket, event: { actor: { name: 'Ada Agent' }, data: { level: 1, reason: 'Customer is a VIP.', manual: true } }, number: ticket._id, partner: { name: 'P' }, ticketUrl: 'http://x' });
    expect(r.text).to.contain('Escalated by Ada Agent: Customer is a VIP.\n');
    expect(r.html).to.contain('Escalated by Ada Agent: Customer is a VIP.</p>');
    const bare = renderer.render('support-escalated', { ticket, event: { actor: { name: 'Ada Agent' }, data: { level: 1, reason: null, manual: true } }, number: ticket._id, partner: { name: 'P' }, ticketUrl: 'http://x' });
    expect(bare.text).to.contain('Escalated by Ada Agent.\n');
  });

  it('when an email goes to support staff, then its footer and next step are theirs; a withdrawal tells the agent nothing more is needed', () => {
    const data = { ticket: { ...ticket, withdrawn: true, status: 'closed' }, event: events.closed, number: ticket._id, partner: { name: 'P' }, ticketUrl: 'http://x' };
    const partnerCopy = renderer.render('support-closed', data);
    expect(partnerCopy.text).to.contain('(withdrawn by the partner)').and.contain('For anything further, file a new support request.');
    // the contact's own copy (no sign-in, no link): no empty gap where the partner's line would be (QA)
    const contactCopy = renderer.render('support-closed', { ticket: { ...ticket, withdrawn: false }, event: { data: {} }, number: ticket._id, partner: { name: 'Test Partner' } });
    expect(contactCopy.text.split('\n-- \n')[0].trimEnd()).to.not.match(/\n\n\n/);
    expect(contactCopy.text).to.contain('filed this request for you and follows it in csp-desk');
    expect(partnerCopy.html).to.contain('because you buy software subscriptions through CSP');
    const agentCopy = renderer.render('support-closed', { ...data, forSupport: true });
    expect(agentCopy.text).to.contain('nothing more is needed from support').and.not.contain('file a new support request');
    // the staff copy says whose request it was (its header is the support team's); the partner's own does not need to
    expect(agentCopy.text).to.contain(`Support request ${ticket._id} of P (`);
    expect(partnerCopy.text).to.not.contain(`${ticket._id} of P`);
    expect(agentCopy.html).to.contain('as a member of the csp-desk support team').and.not.contain('you buy software subscriptions');
    // the sender is csp-desk's support team, not the partner (whose request it is, said in the body)
    expect(partnerCopy.html).to.contain('csp-desk &middot; P</p>');
    expect(agentCopy.html).to.contain('csp-desk &middot; support team</p>').and.not.contain('csp-desk &middot; P</p>');
    expect(agentCopy.text).to.contain('csp-desk · support team. You receive this as a member').and.not.contain('csp-desk · P.');
    for (const kind of ['escalated', 'at-risk'] as const) {
      const r = renderer.render(`support-${kind}`, { ticket, event: events[kind], number: ticket._id, partner: { name: 'Contoso Cloud Partners' }, ticketUrl: 'http://x', forSupport: true });
      expect(r.text, kind).to.contain(`Support request ${ticket._id} of Contoso Cloud Partners (`).and.contain('csp-desk · support team.');
      expect(r.html, kind).to.contain('of Contoso Cloud Partners (').and.not.contain('csp-desk &middot; Contoso');
    }
  });
});
