/**
 * The support ticket workflow in Temporal's time-skipping test server, with the real activities on the real
 * database and SMTP server: SLA clocks, escalation levels, pauses and reopening over hours and days in seconds.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { WorkflowUpdateFailedError, WorkflowUpdateStage, type WorkflowHandle } from '@temporalio/client';
import { WORKFLOW_TASK_TIMEOUT } from '../lib/temporal';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { buildActivities, createWorker } from '../composition/root';
import { NativeConnection } from '../lib/temporal';
import { supportCommandUpdate, supportRecordedUpdate, supportStateQuery, supportWorkflowId, type SupportCommand, type SupportTicketInput } from '../contracts/support';
import type { supportTicketWorkflow } from '../workflows/support';
import { DEFAULT_SLA_POLICY, type SlaPolicy } from '../domain/sla';
import { instantOf } from '../domain/time';
import { SUPPORT_REQUEST_PROBLEM_TYPE } from '../domain/cancellation';
import { orderWorkflowId } from '../contracts/orders';
import { DEFAULT_TICKET_RULES, GENERAL_PROBLEM_TYPE, ticketNumber, type TicketActor, type TicketRules } from '../domain/support';
import { EmailRecord, SupportEvent, SupportQueueDay, SupportQueueEntry, SupportTicket, User } from '../models';
import { hourBand } from '../domain/support-queue';
import { ticketOutcome } from '../domain/support-metrics';
import { getTestApp, quietRuntime, uniq, waitFor, workflowBundle, type TestApp } from './support/app';
import { ensureUser, setUserDisabled } from '../services/users';

const HOUR = 3600;

describe('support ticket workflow (time-skipping test server, real activities)', function () {
  this.timeout(180_000);
  let app: TestApp;
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = uniq('support-timeskip');

  const agent: TicketActor = { kind: 'agent', userId: 'agent-1', name: 'Ada Agent', email: 'ada@support.example', role: 'support-agent' };
  const partner: TicketActor = { kind: 'partner', userId: 'partner-1', name: 'Pat Partner', email: 'pat@partner.example', role: 'admin-agent' };
  const lead: TicketActor = { kind: 'lead', userId: 'lead-1', name: 'Lee Lead', email: 'lee@support.example', role: 'support-lead' };

  before(async () => {
    quietRuntime();
    app = await getTestApp();
    env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: app.stack.testServerPath } } });
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: buildActivities({ mailer: app.mailer, log: app.log, publicBaseUrl: 'http://csp-desk.test' }),
    });
    running = worker.run();
  });

  after(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  async function input(over: Partial<SupportTicketInput> = {}): Promise<SupportTicketInput> {
    const now = new Date(await env.currentTimeMs());
    return {
      number: ticketNumber(now, Array.from({ length: 6 }, () => crypto.randomInt(32))),
      partnerId: app.partnerId,
      problemType: GENERAL_PROBLEM_TYPE,
      impact: 'critical',
      title: 'Keys do not activate',
      description: 'The activation key is refused.',
      customer: { id: 'c1', name: 'Contoso', tenantId: crypto.randomUUID(), domain: 'contoso.onmicrosoft.com' },
      orderId: null,
      subscriptionId: null,
      refund: null,
      contact: { name: 'Pat Partner', email: `contact@${app.partnerId}.example`, phone: null },
      filedBy: partner,
      filedAt: now.toISOString(),
      requestId: uniq('req'),
      policy: DEFAULT_SLA_POLICY,
      rules: DEFAULT_TICKET_RULES,
      ...over,
    };
  }

  async function file(i: SupportTicketInput): Promise<WorkflowHandle<typeof supportTicketWorkflow>> {
    const h = await env.client.workflow.start<typeof supportTicketWorkflow>('supportTicketWorkflow', { workflowId: supportWorkflowId(i.number), taskQueue, args: [i], workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT });
    await h.executeUpdate(supportRecordedUpdate, { args: [] });
    return h;
  }
  const act = (h: WorkflowHandle<typeof supportTicketWorkflow>, cmd: SupportCommand) => h.executeUpdate(supportCommandUpdate, { args: [cmd] });
  /** Writes the workflow's history (once `settle` has let its last activities end) as a fixture for the replay tests. */
  async function recordFixture(h: WorkflowHandle<typeof supportTicketWorkflow>, file: string, settle: () => Promise<void>): Promise<void> {
    await settle();
    const history = await h.fetchHistory();
    fs.writeFileSync(path.join(__dirname, '..', '..', 'test', 'fixtures', file), JSON.stringify(temporal.api.history.v1.History.toObject(history as temporal.api.history.v1.History, { longs: String, enums: String, bytes: String }), null, 1));
  }
  const events = async (number: string) => (await SupportEvent.find({ ticketId: number }).sort({ seq: 1 }).lean()).map((e) => e.type);
  const band = async (number: string) => (await SupportQueueEntry.findById(number).lean())?.band ?? 'no entry';
  const emails = async (number: string) => (await EmailRecord.find({ _id: { $regex: `^support:${number}:` } }).lean()).map((e) => e.template).sort();

  it('when a ticket is filed and worked, then its record is a local activity (a marker), its events are activities scheduled once their task is committed (one per event), and its history replays', async () => {
    const i = await input();
    const h = await file(i);
    await act(h, { action: 'assign', actor: agent, assignee: agent });
    await act(h, { action: 'reply', actor: agent, body: 'Looking into it.' });
    expect(await events(i.number)).to.include.members(['filed', 'assigned', 'replied']);
    const history = await h.fetchHistory();
    const type = temporal.api.enums.v1.EventType;
    const scheduled = history.events!.filter((e) => e.eventType === type.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
    // an event decided in a workflow task that is then lost writes nothing: its Updates, taken again in another
    // order, get their own numbers (support.api.test.ts: a dozen actions at once)
    expect(scheduled.filter((n) => n !== 'sendSupportEmail')).to.deep.equal(['recordSupportEvent', 'recordSupportEvent']);
    const markers = history.events!.filter((e) => e.eventType === type.EVENT_TYPE_MARKER_RECORDED).map((e) => e.markerRecordedEventAttributes!.markerName);
    expect(markers.filter((m) => m === 'core_local_activity').length).to.equal(1);
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, h.workflowId);
  });

  it('when a ticket filed before its writes became local activities is replayed by this code, then it replays as it ran (filed, assigned, replied, resolved)', async () => {
    // recorded on the code before the change; without the patch this throws a DeterminismViolationError
    const json = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'test', 'fixtures', 'ticket-history-regular-writes.json'), 'utf8'));
    const history = temporal.api.history.v1.History.fromObject(json);
    const scheduled = history.events.filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);
    expect(scheduled).to.include.members(['recordSupportTicket', 'recordSupportEvent']);
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, 'support:replayed');
  });

  it('when a general question rejected before reject became refund-only is replayed by this code, then it replays as it ran (rejected, then reopened by the partner)', async () => {
    // recorded on the code before the change (test/fixtures); without the patch this throws a DeterminismViolationError
    const json = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'test', 'fixtures', 'ticket-history-general-rejected.json'), 'utf8'));
    const history = temporal.api.history.v1.History.fromObject(json);
    const updates = history.events.filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED).length;
    expect(updates).to.equal(3);
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, 'support:replayed-rejected');
  });

  it('when histories recorded before this code\'s rules are replayed (a partner reply to an assigned request, an agent approving €480, a withdrawal after the refund, a note while the closed email went, a lead assigning an agent, emails sent in the write queue), then they replay as they ran', async () => {
    // recorded on the code before the patches support-partner-reply-email, support-limit-in-currency,
    // support-withdraw-keeps-refund and support-no-notes-when-closed (test/fixtures); without them each throws a
    // DeterminismViolationError (the new rules would email, refuse the approval, refuse the withdrawal, refuse the note)
    // (and, recorded on the code before them, support-assigned-email and support-emails-outside-write-queue; and before
    // support-sla-milliseconds)
    const recorded = [
      ['ticket-history-refund-withdrawn.json', 6],
      ['ticket-history-note-after-close.json', 4],
      ['ticket-history-assigned-by-lead.json', 3],
      ['ticket-history-emails-in-queue.json', 3],
      // its clocks paused twice, counted in whole seconds (support-sla-milliseconds)
      ['ticket-history-paused-twice.json', 7],
      // information requested twice while nobody had it (support-information-request-takes)
      ['ticket-history-information-unassigned.json', 6],
      // given again to the agent who had it, by a lead and by that agent (support-same-assignee-refused)
      ['ticket-history-assigned-again.json', 6],
      // a rejection nobody had, reopened by the partner's reply (support-reopen-tells-leads)
      ['ticket-history-reopened-unassigned.json', 3],
      // the same, recorded once that reply went to the leads: the rejection took nothing (support-decision-takes)
      ['ticket-history-decided-unassigned.json', 3],
      // a request put back in the queue by a lead while waiting on the partner, then answered (its emails, putBack)
      ['ticket-history-put-back.json', 5],
      // a request at risk put back in the queue by the agent warned (support-unassign-warns-leads)
      ['ticket-history-at-risk-put-back.json', 3],
      // a resolved request reopened by the partner's reply while an agent closed it (support-events-of-a-step-together)
      ['ticket-history-reopen-and-close.json', 5],
      // a reply taken after its due instant, before the breach timer fired (support-milestones-before-actions)
      ['ticket-history-late-reply.json', 3],
      // a request escalated by hand, then breached: no email then (support-breach-tells-leads)
      ['ticket-history-breach-after-escalation.json', 3],
      // an approval whose order never answered, the breach recorded behind its refund (support-refund-beside-write-queue)
      ['ticket-history-refund-unanswered.json', 3],
    ] as const;
    for (const [file, updates] of recorded) {
      const json = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'test', 'fixtures', file), 'utf8'));
      const history = temporal.api.history.v1.History.fromObject(json);
      expect(history.events.filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED).length, file).to.equal(updates);
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, `support:replayed-${file}`);
    }
  });

  it("when SMTP is down for 20 minutes while a ticket's acknowledgement and then a reply wait to go, then once it is back they go in that order (the partner's line waits up to 6 hours)", async () => {
    // a worker of its own whose mailer is down until told otherwise (connection refused, as a stopped server)
    let down = true;
    const mailer = { ...app.mailer, send: (m: Parameters<typeof app.mailer.send>[0]) => (down ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNECTION' })) : app.mailer.send(m)) };
    const queue = uniq('support-smtp-down');
    const w = await Worker.create({ connection: env.nativeConnection, taskQueue: queue, workflowBundle: await workflowBundle(), activities: buildActivities({ mailer, log: app.log, publicBaseUrl: 'http://csp-desk.test' }) });
    const run = w.run();
    const i = await input();
    const h = await env.client.workflow.start<typeof supportTicketWorkflow>('supportTicketWorkflow', { workflowId: supportWorkflowId(i.number), taskQueue: queue, args: [i], workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT });
    try {
      await h.executeUpdate(supportRecordedUpdate, { args: [] });
      // the acknowledgement has been failing for 13 s (its attempts 8 s apart now) when the reply's begin
      await env.sleep('13 seconds');
      await act(h, { action: 'reply', actor: agent, body: 'Looking into it.' });
      await env.sleep('20 minutes');
      const records = async () => EmailRecord.find({ _id: { $regex: `^support:${i.number}:` } }).lean();
      expect((await records()).filter((r) => r.status === 'sent')).to.deep.equal([]);
      down = false;
      // the filer's and the contact's copy of each
      await waitFor(async () => {
        await env.sleep('30 seconds');
        const r = await records();
        return r.length === 4 && r.every((x) => x.status === 'sent');
      });
      const sent = (await records()).sort((a, b) => a.sentAt!.getTime() - b.sentAt!.getTime()).map((r) => r.template);
      expect(sent).to.deep.equal(['support-received', 'support-received', 'support-reply', 'support-reply']);
    } finally {
      // no worker will serve this ticket's queue again: ended, so that its SLA timers hold up no later test's time skip
      await h.terminate('test over');
      w.shutdown();
      await run;
    }
  });

  it('when a lead puts back a request waiting on the partner, then the agent is emailed, the request keeps waiting, the partner\'s answer goes to the leads, and its history replays', async () => {
    const i = await input();
    const h = await file(i);
    await act(h, { action: 'assign', actor: agent, assignee: agent });
    await act(h, { action: 'request-information', actor: agent, body: 'Which tenant?' });
    const back = await act(h, { action: 'unassign', actor: lead, body: 'Ada is away.' });
    expect([back.status, back.assignee]).to.deep.equal(['pending', null]);
    const answered = await act(h, { action: 'partner-reply', actor: partner, body: 'Tenant contoso.' });
    expect([answered.status, answered.assignee]).to.deep.equal(['new', null]);
    await waitFor(async () => (await emails(i.number)).includes('support-partner-replied') && (await emails(i.number)).includes('support-unassigned'));
    expect(await events(i.number)).to.include.members(['unassigned', 'partner-replied']);
    const history = await h.fetchHistory();
    // RECORD_FIXTURE=1 wrote test/fixtures/ticket-history-put-back.json from this run (replayed below with the others)
    if (process.env.RECORD_FIXTURE) fs.writeFileSync(path.join(__dirname, '..', '..', 'test', 'fixtures', 'ticket-history-put-back.json'), JSON.stringify(temporal.api.history.v1.History.toObject(history as temporal.api.history.v1.History, { longs: String, enums: String, bytes: String }), null, 1));
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, h.workflowId);
  });

  it('when nobody responds, then the assignee is warned, the ticket escalates to level 1 at the breach and to level 2 at 150%, each an event with its time', async () => {
    const i = await input();
    const h = await file(i);
    await act(h, { action: 'assign', actor: agent, assignee: agent });
    // the queue entry sits in the hour band of its first-response due, and that day is listed
    const due = new Date(new Date(i.filedAt).getTime() + HOUR * 1000);
    expect(await band(i.number)).to.equal(hourBand(due));
    expect(await SupportQueueDay.exists({ _id: due.toISOString().slice(0, 10) })).to.not.equal(null);
    await env.sleep('50 minutes');
    let s = await h.query(supportStateQuery);
    expect(s.atRisk).to.equal(true);
    expect(s.escalationLevel).to.equal(0);
    await env.sleep('15 minutes');
    s = await h.query(supportStateQuery);
    expect(s.escalationLevel).to.equal(1);
    expect(s.breached).to.equal(true);
    // the breach moved it to the overdue band, which the queue reads first
    expect(await band(i.number)).to.equal('overdue');
    await env.sleep('30 minutes');
    s = await h.query(supportStateQuery);
    expect(s.escalationLevel).to.equal(2);
    const evs = await SupportEvent.find({ ticketId: i.number, type: { $in: ['sla-breached', 'escalated'] } }).sort({ seq: 1 }).lean();
    expect(evs.map((e) => [e.type, e.data.clock ?? null, e.data.level ?? e.data.breachLevel])).to.deep.equal([
      ['sla-breached', 'firstResponse', 1],
      ['escalated', null, 1],
      ['sla-breached', 'firstResponse', 2],
      ['escalated', null, 2],
    ]);
    expect(evs[0].at.toISOString()).to.equal(new Date(new Date(i.filedAt).getTime() + HOUR * 1000).toISOString());
    expect(evs[2].at.toISOString()).to.equal(new Date(new Date(i.filedAt).getTime() + 1.5 * HOUR * 1000).toISOString());
    const doc = (await SupportTicket.findById(i.number).lean())!;
    expect(doc).to.include({ escalationLevel: 2, escalated: true, breached: true });
    // the acknowledgement twice: the filer's, and the contact's own copy (no user of the partner: no sign-in link)
    expect(await emails(i.number)).to.deep.equal(['support-at-risk', 'support-escalated', 'support-escalated', 'support-received', 'support-received']);
    // the timers' escalations reach the one who has the request too, not only the leads
    const escalations = await EmailRecord.find({ _id: { $regex: `^support:${i.number}:` }, template: 'support-escalated' }).lean();
    for (const e of escalations) expect(e.to).to.include(agent.email);
    const warned = await EmailRecord.findOne({ _id: { $regex: `^support:${i.number}:.*:at-risk$` } }).lean();
    expect(warned!.to).to.deep.equal([agent.email]);
  });

  it('when a request escalated by hand breaches its target, then the leads and its assignee are told of the breach, though no level rises (QA: nobody was)', async () => {
    const i = await input();
    const h = await file(i);
    await act(h, { action: 'assign', actor: agent, assignee: agent });
    await act(h, { action: 'escalate', actor: agent, reason: 'the customer is waiting' });
    await env.sleep('65 minutes');
    const s = await h.query(supportStateQuery);
    expect([s.breached, s.escalationLevel]).to.deep.equal([true, 1]);
    // RECORD_FIXTURE=1 on the code before support-breach-tells-leads wrote test/fixtures/ticket-history-breach-after-escalation.json (replayed above)
    if (process.env.RECORD_FIXTURE) {
      await env.sleep('1 minute');
      const history = await h.fetchHistory();
      fs.writeFileSync(path.join(__dirname, '..', '..', 'test', 'fixtures', 'ticket-history-breach-after-escalation.json'), JSON.stringify(temporal.api.history.v1.History.toObject(history as temporal.api.history.v1.History, { longs: String, enums: String, bytes: String }), null, 1));
    }
    const breach = (await SupportEvent.findOne({ ticketId: i.number, type: 'sla-breached' }).lean())!;
    let notice: { to: string[] } | null = null;
    await waitFor(async () => Boolean((notice = await EmailRecord.findById(`support:${i.number}:${breach.seq}:breached`).lean())));
    expect(notice!.to).to.include('support-lead@support.example').and.include(agent.email);
    const mail = await app.stack.mailbox.waitFor((m) => m.subject === `SLA breached: support request ${i.number} (${i.impact}), escalated already`);
    expect(mail.text).to.contain('breached its first response target').and.contain('It was escalated to level 1 before');
    // one escalation email (the hand's), no second for the breach
    expect((await emails(i.number)).filter((t) => t === 'support-escalated')).to.have.length(1);
  });

  it('when the agent warned that a request is at risk puts it back in the queue, then the leads get the warning, with the clock and its due time', async () => {
    const i = await input();
    const h = await file(i);
    await act(h, { action: 'assign', actor: agent, assignee: agent });
    await env.sleep('50 minutes');
    expect((await h.query(supportStateQuery)).atRisk).to.equal(true);
    const back = await act(h, { action: 'unassign', actor: agent });
    expect(back.assignee).to.equal(null);
    // RECORD_FIXTURE=1 on the code before support-unassign-warns-leads wrote test/fixtures/ticket-history-at-risk-put-back.json (replayed above)
    if (process.env.RECORD_FIXTURE) {
      await env.sleep('1 minute');
      const history = await h.fetchHistory();
      fs.writeFileSync(path.join(__dirname, '..', '..', 'test', 'fixtures', 'ticket-history-at-risk-put-back.json'), JSON.stringify(temporal.api.history.v1.History.toObject(history as temporal.api.history.v1.History, { longs: String, enums: String, bytes: String }), null, 1));
    }
    const put = (await SupportEvent.findOne({ ticketId: i.number, type: 'unassigned' }).lean())!;
    const due = new Date(new Date(i.filedAt).getTime() + HOUR * 1000).toISOString();
    expect(put.data).to.include({ clock: 'firstResponse', dueAt: due });
    let warnings: { _id: string; to: string[] }[] = [];
    await waitFor(async () => (warnings = await EmailRecord.find({ _id: { $regex: `^support:${i.number}:.*:at-risk$` } }).sort({ createdAt: 1 }).lean()).length === 2);
    // the first to the agent who had it, at the warning point; the second, for the put-back, to the leads
    expect(warnings[1]._id).to.equal(`support:${i.number}:${put.seq}:at-risk`);
    expect(warnings[0]._id).to.not.equal(warnings[1]._id);
    expect(warnings[0].to).to.deep.equal([agent.email]);
    expect(warnings[1].to).to.include('support-lead@support.example').and.not.include(agent.email);
    // no 'unassigned' email: the agent put it back themselves
    expect(await EmailRecord.exists({ _id: `support:${i.number}:${put.seq}:unassigned` })).to.equal(null);
    // given to someone again, still at risk: their email says so, with the clock's due
    await act(h, { action: 'assign', actor: lead, assignee: agent });
    const given = await app.stack.mailbox.waitFor((m) => m.subject === `Support request ${i.number} is now yours (${i.impact})`);
    expect(given.text).to.contain(`It is at risk: its first response target is due at ${due.slice(0, 16).replace('T', ' ')} UTC.`);
    // a lead who puts back a request at risk knows it: the warning is not theirs
    const realLead = (await User.findOne({ email: 'support-lead@support.example' }).lean())!;
    const leadActor: TicketActor = { kind: 'lead', userId: realLead._id, name: realLead.name, email: realLead.email, role: 'support-lead' };
    const byLead = await input();
    const hl = await file(byLead);
    await act(hl, { action: 'assign', actor: agent, assignee: agent });
    await env.sleep('50 minutes');
    // (another lead, who is told)
    const otherLead = await ensureUser({ name: 'Olga Other-Lead', email: `${uniq('olga')}@support.example`.toLowerCase(), role: 'support-lead', partnerId: null });
    try {
      await act(hl, { action: 'unassign', actor: leadActor });
      const leadPut = (await SupportEvent.findOne({ ticketId: byLead.number, type: 'unassigned' }).lean())!;
      expect(leadPut.data).to.include({ clock: 'firstResponse' });
      let leadWarning: { to: string[] } | null = null;
      await waitFor(async () => Boolean((leadWarning = await EmailRecord.findById(`support:${byLead.number}:${leadPut.seq}:at-risk`).lean())));
      expect(leadWarning!.to).to.include(otherLead.email).and.not.include(realLead.email);
    } finally {
      await setUserDisabled(otherLead.email, true);
    }
    // one not at risk (answered, then put back) warns nobody
    const calm = await input();
    const hc = await file(calm);
    await act(hc, { action: 'assign', actor: agent, assignee: agent });
    await act(hc, { action: 'unassign', actor: agent });
    const calmPut = (await SupportEvent.findOne({ ticketId: calm.number, type: 'unassigned' }).lean())!;
    expect(calmPut.data).to.not.have.property('clock');
    expect(await EmailRecord.exists({ _id: `support:${calm.number}:${calmPut.seq}:at-risk` })).to.equal(null);
  });

  it('when an agent replies publicly in time, then the response target is met and nothing escalates', async () => {
    const i = await input();
    const h = await file(i);
    await env.sleep('30 minutes');
    await act(h, { action: 'reply', actor: agent, body: 'We are on it.' });
    await env.sleep('3 hours');
    const s = await h.query(supportStateQuery);
    expect(s.escalationLevel).to.equal(0);
    expect(s.breached).to.equal(false);
    const first = s.clocks.find((c) => c.kind === 'firstResponse')!;
    expect(first).to.include({ met: true });
    expect(s.status).to.equal('open');
    expect(s.assignee?.userId).to.equal(agent.userId);
    expect(await events(i.number)).to.not.include('sla-breached');
    expect(await emails(i.number)).to.include('support-reply');
  });

  /**
   * A ticket on the dev server (real time) with a worker of its own that can be sent away: what is sent meanwhile
   * (Updates, timers firing) reaches the next worker in one workflow task, in the order it arrived.
   */
  async function awayTicket(i: SupportTicketInput) {
    const queue = uniq('support-away');
    const connection = await NativeConnection.connect({ address: app.stack.temporalAddress });
    const start = async () => {
      const w = await createWorker({ connection, namespace: 'default', taskQueue: queue, mailer: app.mailer, log: app.log, publicBaseUrl: 'http://csp-desk.test', workflowBundle: await workflowBundle() });
      return { w, run: w.run() };
    };
    let current: Awaited<ReturnType<typeof start>> | null = await start();
    const stop = async () => {
      current?.w.shutdown();
      await current?.run;
      current = null;
    };
    const h = await app.client.workflow.start<typeof supportTicketWorkflow>('supportTicketWorkflow', { workflowId: supportWorkflowId(i.number), taskQueue: queue, args: [i], workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT });
    await h.executeUpdate(supportRecordedUpdate, { args: [] });
    return {
      h,
      act: (cmd: SupportCommand) => h.executeUpdate(supportCommandUpdate, { args: [cmd] }),
      away: stop,
      back: async () => {
        current = await start();
      },
      close: async () => {
        await stop();
        await connection.close();
      },
    };
  }

  it('when an agent replies after the due instant but before the breach timer has fired, then the breach (and its escalation) is recorded first, at its instant, and the response is missed on the ticket and in the figures alike', async () => {
    // QA: a reply 12 ms past the due instant, taken before the timer fired (its delay grows with the machine's load),
    // stopped the clock as missed while no breach was recorded: the leads were never told, and the figures said met.
    // Here (a 20 s target) the worker is away when the due instant passes: the timer and the reply reach it at once.
    const seconds = (n: number) => ({ seconds: n, calendar: null });
    const policy: SlaPolicy = { ...DEFAULT_SLA_POLICY, impacts: { ...DEFAULT_SLA_POLICY.impacts, critical: { firstResponse: seconds(20), nextResponse: seconds(3600), resolution: seconds(7200) } } };
    const i = { ...(await input({ policy })), filedAt: new Date().toISOString() };
    const t = await awayTicket(i);
    try {
      await t.act({ action: 'assign', actor: agent, assignee: agent });
      await t.away();
      const due = new Date(new Date(i.filedAt).getTime() + 20_000);
      await new Promise((r) => setTimeout(r, due.getTime() - Date.now() + 1500));
      const reply = t.act({ action: 'reply', actor: agent, body: 'Sorry for the wait.' });
      await t.back();
      const s = await reply;
      // RECORD_FIXTURE=1 on the code before support-milestones-before-actions wrote test/fixtures/ticket-history-late-reply.json (replayed above)
      if (process.env.RECORD_FIXTURE) await recordFixture(t.h, 'ticket-history-late-reply.json', async () => new Promise((r) => setTimeout(r, 3000)));
      expect(s.clocks.find((c) => c.kind === 'firstResponse')!.met).to.equal(false);
      expect(s).to.include({ breached: true, escalationLevel: 1 });
      const evs = await SupportEvent.find({ ticketId: i.number }).sort({ seq: 1 }).lean();
      expect(evs.map((e) => e.type)).to.deep.equal(['filed', 'assigned', 'sla-warning', 'sla-breached', 'escalated', 'replied']);
      expect(evs.find((e) => e.type === 'sla-breached')!.at.toISOString()).to.equal(due.toISOString());
      // the figures read the breach before the response: missed, as the clock says
      const outcome = ticketOutcome({ id: i.number, impact: i.impact, events: evs.map((e) => ({ seq: e.seq, type: e.type, at: e.at, actor: e.actor, public: e.public, data: e.data })) });
      expect(outcome.firstResponse.outcome).to.equal('missed');
      await waitFor(async () => (await emails(i.number)).includes('support-escalated'));
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, await t.h.fetchHistory(), t.h.workflowId);
    } finally {
      await t.close();
    }
  });

  it('when a partner reply that reopens a request and an agent closing it arrive at once, then the reopening follows its reply directly and the timeline ends on what the request is', async () => {
    // QA: the reply and its reopening were recorded one after the other, so a close (or resolve) taken in between came
    // between them: a closed request whose timeline ended on `reopened`, which the figures read as unresolved. Here
    // both reach the worker in one task, the reply first.
    const i = { ...(await input()), filedAt: new Date().toISOString() };
    const t = await awayTicket(i);
    try {
      await t.act({ action: 'assign', actor: agent, assignee: agent });
      await t.act({ action: 'resolve', actor: agent, body: 'Done.' });
      await t.away();
      const reply = t.act({ action: 'partner-reply', actor: partner, body: 'Not fixed.' });
      await new Promise((r) => setTimeout(r, 500));
      const close = t.act({ action: 'close', actor: agent, body: 'Closing.' });
      await new Promise((r) => setTimeout(r, 500));
      await t.back();
      // both taken (the close judged on the reopened request)
      expect((await Promise.all([reply, close])).map((s) => s.status)).to.deep.equal(['closed', 'closed']);
      // RECORD_FIXTURE=1 on the code before support-events-of-a-step-together wrote test/fixtures/ticket-history-reopen-and-close.json (replayed above)
      if (process.env.RECORD_FIXTURE) await recordFixture(t.h, 'ticket-history-reopen-and-close.json', async () => new Promise((r) => setTimeout(r, 3000)));
      await waitFor(async () => (await events(i.number)).length === 6);
      expect(await events(i.number)).to.deep.equal(['filed', 'assigned', 'resolved', 'partner-replied', 'reopened', 'closed']);
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, await t.h.fetchHistory(), t.h.workflowId);
    } finally {
      await t.close();
    }
  });

  it('when an agent only adds an internal note, then the clock runs on and the ticket escalates', async () => {
    const i = await input();
    const h = await file(i);
    await env.sleep('30 minutes');
    await act(h, { action: 'note', actor: agent, body: 'Looks like a key issue, checking with licensing.' });
    await env.sleep('35 minutes');
    const s = await h.query(supportStateQuery);
    expect(s.escalationLevel).to.equal(1);
    const note = await SupportEvent.findOne({ ticketId: i.number, type: 'note' }).lean();
    expect(note!.public).to.equal(false);
  });

  it('when the agent who has the request is disabled, then its at-risk warning and the partner\'s reply go to the leads', async () => {
    const user = await ensureUser({ name: 'Dee Disabled', email: `${uniq('dee')}@support.example`.toLowerCase(), role: 'support-agent', partnerId: null });
    const dee: TicketActor = { kind: 'agent', userId: user._id, name: user.name, email: user.email, role: 'support-agent' };
    const i = await input();
    const h = await file(i);
    await act(h, { action: 'assign', actor: dee, assignee: dee });
    await setUserDisabled(user.email, true);
    await act(h, { action: 'partner-reply', actor: partner, body: 'Any news?' });
    await env.sleep('50 minutes');
    expect((await h.query(supportStateQuery)).atRisk).to.equal(true);
    for (const kind of ['at-risk', 'partner-replied']) {
      const sent = await EmailRecord.findOne({ _id: { $regex: `^support:${i.number}:.*:${kind}$` } }).lean();
      expect(sent?.to, kind).to.include('support-lead@support.example').and.not.include(user.email);
    }
  });

  it('when the ticket waits on the partner, then its clocks pause, and the partner\'s reply resumes them with a next-response target', async () => {
    const i = await input();
    const h = await file(i);
    await env.sleep('30 minutes');
    await act(h, { action: 'request-information', actor: agent, body: 'Which tenant?' });
    await env.sleep('3 days');
    let s = await h.query(supportStateQuery);
    expect(s.status).to.equal('pending');
    // asking the partner took the request nobody had, as a reply does: the partner's answer reaches that agent
    expect(s.assignee?.userId).to.equal(agent.userId);
    expect(s.escalationLevel).to.equal(0);
    expect(s.nextDueAt).to.equal(null);
    expect(await band(i.number)).to.equal('~');
    const resolution = s.clocks.find((c) => c.kind === 'resolution')!;
    expect(resolution.runningSince).to.equal(null);
    expect(Math.floor(resolution.consumedSeconds), "whole seconds counted (the rest, milliseconds of the test run)").to.equal(30 * 60);
    await act(h, { action: 'partner-reply', actor: partner, body: 'Tenant contoso.' });
    s = await h.query(supportStateQuery);
    expect(s.status).to.equal('open');
    expect(s.clocks.map((c) => c.kind)).to.deep.equal(['firstResponse', 'resolution', 'nextResponse']);
    await env.sleep('130 minutes');
    s = await h.query(supportStateQuery);
    expect(s.escalationLevel).to.equal(1);
    const breach = await SupportEvent.findOne({ ticketId: i.number, type: 'sla-breached' }).lean();
    expect(breach!.data.clock).to.equal('nextResponse');
    expect(await emails(i.number)).to.include.members(['support-information-needed', 'support-partner-replied']);
  });

  it('when a resolved ticket gets a partner reply within the reopen period, then it reopens with its clocks back; after the period it closes by itself', async () => {
    const i = await input();
    const h = await file(i);
    await act(h, { action: 'assign', actor: agent, assignee: agent });
    await env.sleep('20 minutes');
    await act(h, { action: 'resolve', actor: agent, body: 'Reissued the key.' });
    let s = await h.query(supportStateQuery);
    expect(s.status).to.equal('resolved');
    expect(s.nextDueAt).to.equal(null);
    expect(await band(i.number)).to.equal('done');
    await env.sleep('2 days');
    await act(h, { action: 'partner-reply', actor: partner, body: 'Still refused.' });
    s = await h.query(supportStateQuery);
    expect(s.status).to.equal('open');
    const resolution = s.clocks.find((c) => c.kind === 'resolution')!;
    expect(resolution.runningSince).to.not.equal(null);
    expect(Math.floor(resolution.consumedSeconds), "whole seconds counted (the rest, milliseconds of the test run)").to.equal(20 * 60);
    expect(s.nextDueAt).to.not.equal(null);
    expect(await events(i.number)).to.include.members(['resolved', 'partner-replied', 'reopened']);
    expect(await band(i.number)).to.equal(hourBand(new Date(s.nextDueAt!)));
    await act(h, { action: 'resolve', actor: agent, body: 'Fixed for good.' });
    await env.sleep('8 days');
    expect(await h.result()).to.deep.equal({ number: i.number, status: 'closed' });
    expect(await events(i.number)).to.include('auto-closed');
    // a closed ticket leaves the queue's entries (the queue's tail reads it from the tickets)
    expect(await band(i.number)).to.equal('no entry');
    // a reply after the close is refused: the workflow has ended
    expect((await SupportTicket.findById(i.number).lean())!.status).to.equal('closed');
  });

  it('when an agent resolves a request nobody has, then they take it (the event says took); one someone has stays theirs', async () => {
    const i = await input();
    const h = await file(i);
    await act(h, { action: 'resolve', actor: agent, body: 'Answered in the docs.' });
    const s = await h.query(supportStateQuery);
    expect([s.status, s.assignee?.userId]).to.deep.equal(['resolved', agent.userId]);
    const resolved = await SupportEvent.findOne({ ticketId: i.number, type: 'resolved' }).lean();
    expect(resolved!.data.took).to.equal(true);
    expect((await SupportTicket.findById(i.number).lean())!.assignee?.userId).to.equal(agent.userId);
    // reopened by the partner and resolved again by a lead: the agent keeps it, the second decision takes nothing
    await act(h, { action: 'partner-reply', actor: partner, body: 'Not quite.' });
    await act(h, { action: 'resolve', actor: lead, body: 'Now it is.' });
    expect((await h.query(supportStateQuery)).assignee?.userId).to.equal(agent.userId);
    const second = await SupportEvent.find({ ticketId: i.number, type: 'resolved' }).sort({ seq: 1 }).lean();
    expect(second.map((e) => e.data.took ?? null)).to.deep.equal([true, null]);
  });

  it('when someone acts from a page opened before another person added to the request (seenSeq), then it is refused as ticket_changed, nothing recorded; their own entries, what they cannot see and the SLA\'s do not count; the history replays', async () => {
    const i = await input();
    const h = await file(i);
    const refusal = async (cmd: SupportCommand) => {
      try {
        await act(h, cmd);
      } catch (e) {
        expect(e).to.be.instanceOf(WorkflowUpdateFailedError);
        return (e as WorkflowUpdateFailedError).cause as ApplicationFailure;
      }
      throw new Error(`${cmd.action} was taken`);
    };
    // the agent opens the request (the filing, entry 1) and takes it; the lead then gives it to another agent
    await act(h, { action: 'assign', actor: agent, assignee: agent, seenSeq: 1 });
    const other: TicketActor = { kind: 'agent', userId: 'agent-2', name: 'Bo Agent', email: 'bo@support.example', role: 'support-agent' };
    await act(h, { action: 'assign', actor: lead, assignee: other, seenSeq: 2 });
    // the first agent, from their page (entry 2, their own assignment), resolves: refused, with who did what
    const before = await events(i.number);
    const stale = await refusal({ action: 'resolve', actor: agent, body: 'Done.', seenSeq: 2 });
    expect(stale.type).to.equal('ticket_changed');
    expect(stale.message).to.equal('This support request changed since you opened it: Lee Lead assigned it (entry 3). Read what changed, then act again if it still fits.');
    expect(await events(i.number)).to.deep.equal(before);
    expect((await h.query(supportStateQuery)).status).to.equal('open');
    // a command that does not say what it saw is not checked (the API's clients that leave seenSeq out)
    await act(h, { action: 'note', actor: agent, body: 'Bo has it now.' });
    // the partner saw entry 3 at most: the agent's internal note (entry 4) is not theirs to see, so it does not count
    await act(h, { action: 'partner-reply', actor: partner, body: 'Any news?', seenSeq: 3 });
    // the SLA's own entries are no one's news: time runs until the at-risk warning, the agent saw the partner's reply
    await env.sleep('50 minutes');
    expect(await events(i.number)).to.include('sla-warning');
    const seen = (await SupportEvent.find({ ticketId: i.number, type: 'partner-replied' }).lean())[0].seq;
    expect((await SupportEvent.findOne({ ticketId: i.number, type: 'sla-warning' }).lean())!.seq).to.be.above(seen);
    // two entries since: the refusal names the latest and counts the other
    const twice = await refusal({ action: 'resolve', actor: lead, body: 'Done.', seenSeq: 3 });
    expect(twice.message).to.contain('Pat Partner replied (entry 5) (and 1 more entry since)');
    await act(h, { action: 'reply', actor: other, body: 'Fixed in the last update.', seenSeq: seen });
    expect((await h.query(supportStateQuery)).status).to.equal('open');
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, await h.fetchHistory(), h.workflowId);
  });

  it('when an action is not allowed in the state or for the role, then the validator refuses it with a stable code and nothing is recorded', async () => {
    const i = await input();
    const h = await file(i);
    const before = await events(i.number);
    for (const [cmd, code] of [
      [{ action: 'approve', actor: agent }, 'not_a_refund'],
      [{ action: 'withdraw', actor: agent }, 'not_allowed_for_role'],
      [{ action: 'note', actor: partner, body: 'x' }, 'not_allowed_for_role'],
      [{ action: 'reject', actor: agent, reason: 'Not covered' }, 'not_a_refund'],
    ] as [SupportCommand, string][]) {
      let err: unknown;
      try {
        await act(h, cmd);
      } catch (e) {
        err = e;
      }
      expect(err, cmd.action).to.be.instanceOf(WorkflowUpdateFailedError);
      expect(((err as WorkflowUpdateFailedError).cause as ApplicationFailure).type).to.equal(code);
    }
    expect(await events(i.number)).to.deep.equal(before);
  });

  it('when a ticket is filed on Friday 17:30 with a 4-business-hour target (09:00-17:00 Mon-Fri, Berlin), then the ticket shows Monday 13:00 local as its due time', async () => {
    const policy: SlaPolicy = {
      ...DEFAULT_SLA_POLICY,
      calendars: { berlin: { timeZone: 'Europe/Berlin', workingDays: [1, 2, 3, 4, 5], start: '09:00', end: '17:00', holidays: [] } },
      impacts: { ...DEFAULT_SLA_POLICY.impacts, moderate: { firstResponse: { seconds: 4 * HOUR, calendar: 'berlin' }, nextResponse: { seconds: 8 * HOUR, calendar: 'berlin' }, resolution: { seconds: 40 * HOUR, calendar: 'berlin' } } },
    };
    // the next Friday after the test server's clock
    const now = new Date(await env.currentTimeMs());
    const friday = new Date(now.getTime() + (((5 - now.getUTCDay() + 7) % 7) + 7) * 86_400_000);
    const filedAt = new Date(instantOf(friday.getUTCFullYear(), friday.getUTCMonth() + 1, friday.getUTCDate(), 17 * 60 + 30, 'Europe/Berlin'));
    const monday = new Date(friday.getTime() + 3 * 86_400_000);
    const i = await input({ impact: 'moderate', policy, filedAt: filedAt.toISOString() });
    await file(i);
    const doc = (await SupportTicket.findById(i.number).lean())!;
    expect(doc.nextDueAt!.toISOString()).to.equal(new Date(instantOf(monday.getUTCFullYear(), monday.getUTCMonth() + 1, monday.getUTCDate(), 13 * 60, 'Europe/Berlin')).toISOString());
  });
});

/**
 * On the dev server in real time, with a policy of seconds: the time-skipping server does not move its clock while an
 * activity runs, and a refund the order does not answer is an activity that runs on.
 */
describe('support ticket workflow (dev server, real time)', function () {
  this.timeout(180_000);
  let app: TestApp;
  before(async () => {
    app = await getTestApp();
  });
  const agent: TicketActor = { kind: 'agent', userId: 'agent-1', name: 'Ada Agent', email: 'ada@support.example', role: 'support-agent' };
  const partner: TicketActor = { kind: 'partner', userId: 'partner-1', name: 'Pat Partner', email: 'pat@partner.example', role: 'admin-agent' };

  /** A refund request for `orderId` filed straight to its workflow (first response due `firstResponseSeconds` after) */
  async function fileRefund(orderId: string, firstResponseSeconds = 3600, rules: TicketRules = DEFAULT_TICKET_RULES) {
    const filedAt = new Date();
    const i: SupportTicketInput = {
      number: ticketNumber(filedAt, Array.from({ length: 6 }, () => crypto.randomInt(32))),
      partnerId: app.partnerId,
      problemType: SUPPORT_REQUEST_PROBLEM_TYPE,
      impact: 'critical',
      title: 'Bought by mistake',
      description: 'Please refund it.',
      customer: { id: 'c1', name: 'Contoso', tenantId: crypto.randomUUID(), domain: 'contoso.onmicrosoft.com' },
      orderId,
      subscriptionId: null,
      refund: { reason: 'Bought by mistake', amount: 1000, currency: 'EUR' },
      contact: { name: 'Pat Partner', email: `contact@${app.partnerId}.example`, phone: null },
      filedBy: partner,
      filedAt: filedAt.toISOString(),
      requestId: uniq('req'),
      policy: { ...DEFAULT_SLA_POLICY, impacts: { ...DEFAULT_SLA_POLICY.impacts, critical: { ...DEFAULT_SLA_POLICY.impacts.critical, firstResponse: { seconds: firstResponseSeconds, calendar: null } } } },
      rules,
    };
    const h = await app.client.workflow.start<typeof supportTicketWorkflow>('supportTicketWorkflow', { workflowId: supportWorkflowId(i.number), taskQueue: app.taskQueue, args: [i], workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT });
    await h.executeUpdate(supportRecordedUpdate, { args: [] });
    return { h, i, filedAt };
  }

  it("when the order does not answer an approval's refund, then the ticket still records its SLA breach and escalation at their instants and tells of them, and a note is still recorded; the approval waits (review)", async () => {
    const orderId = uniq('ord-silent');
    // the order's workflow runs where no worker polls: its Update is never taken up (a deploy that broke it, say)
    const order = await app.client.workflow.start('orderWorkflow', { workflowId: orderWorkflowId(orderId), taskQueue: uniq('nobody-polls'), args: [] });
    // (the ticket says the approval waits on the order after 3 s, not the 2 minutes of production)
    const { h, i, filedAt } = await fileRefund(orderId, 8, { ...DEFAULT_TICKET_RULES, approvalWaitNoteSeconds: 3 });
    const act = (cmd: SupportCommand) => h.executeUpdate(supportCommandUpdate, { args: [cmd] });
    try {
      await act({ action: 'assign', actor: agent, assignee: agent });
      await h.startUpdate(supportCommandUpdate, { args: [{ action: 'approve', actor: agent }], waitForStage: WorkflowUpdateStage.ACCEPTED });
      // RECORD_FIXTURE=1 on the code before support-refund-beside-write-queue wrote
      // test/fixtures/ticket-history-refund-unanswered.json (replayed above): the refund in the queue, the breach and its escalation behind it, unwritten
      if (process.env.RECORD_FIXTURE) {
        await new Promise((r) => setTimeout(r, 15_000));
        const history = await h.fetchHistory();
        fs.writeFileSync(path.join(__dirname, '..', '..', 'test', 'fixtures', 'ticket-history-refund-unanswered.json'), JSON.stringify(temporal.api.history.v1.History.toObject(history as temporal.api.history.v1.History, { longs: String, enums: String, bytes: String }), null, 1));
        return;
      }
      // the breach and its escalation are written at their instants (they waited behind the refund, unwritten)
      const due = new Date(filedAt.getTime() + 8000).toISOString();
      let evs: { type: string; at: Date }[] = [];
      await waitFor(async () => (evs = await SupportEvent.find({ ticketId: i.number, type: { $in: ['sla-breached', 'escalated'] } }).sort({ seq: 1 }).lean()).length === 2, 30_000);
      expect(evs.map((e) => [e.type, e.at.toISOString()])).to.deep.equal([
        ['sla-breached', due],
        ['escalated', due],
      ]);
      expect((await SupportTicket.findById(i.number).lean())!).to.include({ status: 'open', escalationLevel: 1, breached: true });
      await waitFor(async () => (await EmailRecord.countDocuments({ _id: { $regex: `^support:${i.number}:` }, template: 'support-escalated', status: 'sent' })) === 1);
      // the ticket says, to support staff, that the approval waits on the order (only the worker's log did)
      let waiting: Awaited<ReturnType<typeof noteOfWaiting>> = null;
      const noteOfWaiting = () => SupportEvent.findOne({ ticketId: i.number, type: 'note', 'data.approvalWaiting': true }).lean();
      await waitFor(async () => (waiting = await noteOfWaiting()) !== null);
      expect([waiting!.public, waiting!.actor.kind]).to.deep.equal([false, 'system']);
      expect(waiting!.body).to.include('The approval by Ada Agent is being carried out, but the order has not answered yet.');
      // a note is recorded meanwhile; a decision waits for the approval's outcome
      await act({ action: 'note', actor: agent, body: 'The order does not answer yet.' });
      expect(await SupportEvent.exists({ ticketId: i.number, type: 'note', body: 'The order does not answer yet.' })).to.not.equal(null);
      const err = await act({ action: 'reject', actor: agent, reason: 'Changed my mind' }).then(() => null, (e: unknown) => e);
      expect(((err as WorkflowUpdateFailedError).cause as ApplicationFailure).type).to.equal('approval_in_progress');
    } finally {
      await h.terminate('test over: its order never answers');
      await order.terminate('test over');
    }
  });

  it('when the order of an approved refund is not recorded at all (its workflow ended, its document gone), then the approval is refused order_missing and noted, not retried without end (review)', async () => {
    const { h } = await fileRefund(uniq('ord-gone'));
    const err = await h.executeUpdate(supportCommandUpdate, { args: [{ action: 'approve', actor: agent }] }).then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(WorkflowUpdateFailedError);
    expect(((err as WorkflowUpdateFailedError).cause as ApplicationFailure).type).to.equal('order_missing');
    const note = await SupportEvent.findOne({ ticketId: (await h.query(supportStateQuery)).number, type: 'note', 'data.approvalRefused': 'order_missing' }).lean();
    expect(note?.body).to.match(/^Approval by Ada Agent was not carried out: order .* is not recorded$/);
    expect((await h.query(supportStateQuery)).status).to.equal('new');
    await h.terminate('test over');
  });
});
