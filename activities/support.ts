/**
 * Support activities: what a ticket's workflow does to the world, each idempotent. Only the ticket's own
 * workflow calls them, one after another, so the ticket document has one writer; events land once under
 * `<ticket>:<seq>`, emails once under `support:<ticket>:<seq>:<kind>`.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { EmailRecord, Order, Partner, SupportEvent, SupportFilingSlot, SupportIdempotency, SupportOrderClaim, SupportQueueDay, SupportQueueEntry, SupportTicket, User, isDisabled, QUEUE_ENTRY_FIELDS, type QueueRow, type SupportQueueEntryDoc, type SupportTicketDoc } from '../models';
import { queueBandOf, queueKeyOf } from '../domain/support-queue';
import { dueAt, urgentClock, type SlaClock } from '../domain/sla';
import { ACTIVE_STATUSES, actionKeysBefore, filingHour, searchTextOf } from '../domain/support';
import { SUPPORT_STAFF_EMAILS, type SupportEmailKind, type SupportEventInput, type SupportTicketInput, type SupportTicketSnapshot } from '../contracts/support';
import { orderRefundWorkflowId, orderWorkflowId, refundRecordedUpdate, supportRefundUpdate, type SupportRefundRequest, type SupportRefundResult } from '../contracts/orders';
import { insertOnce, type ActivityDeps, type SendOnce } from './shared';
import { pageLinks } from '../contracts/links';
import { PERMISSIONS } from '../domain/roles';
import { SUPPORT_REFUND_FINAL_CODES } from '../domain/cancellation';

/** A ticket's queue entry as its document now stands (domain/support-queue.ts places it in its band). */
export function queueEntryOf(t: SupportTicketDoc): SupportQueueEntryDoc {
  const { band, day } = queueBandOf(ACTIVE_STATUSES.includes(t.status), t.nextDueAt, t.updatedAt);
  const fields = Object.fromEntries(QUEUE_ENTRY_FIELDS.map((k) => [k, t[k]])) as QueueRow;
  return { ...fields, band, day };
}

/**
 * The queue entries of tickets written straight into the database, all at once (the benchmark's and the queue
 * test's thousands of tickets without workflows): placed exactly as syncQueueEntry places a workflow's ticket.
 */
export async function insertQueueEntries(tickets: SupportTicketDoc[]): Promise<void> {
  const entries = tickets.filter((t) => t.status !== 'closed').map(queueEntryOf);
  for (const day of new Set(entries.map((e) => e.day).filter((d): d is string => d !== null))) {
    await insertOnce(() => SupportQueueDay.create({ _id: day, createdAt: new Date() }));
  }
  await SupportQueueEntry.insertMany(entries, { ordered: false });
}

/**
 * Brings the ticket's queue entry to the ticket document as it now stands: replaced (never by an older state:
 * the `seq` guard, and an older upsert meets the newer entry's `_id` and stops), or removed once the ticket is
 * closed; the day of an hour band is recorded once first (the reader's list of days). It then reads the ticket
 * again: had a newer state been written meanwhile (a late attempt of an earlier write racing a later one, or
 * FerretDB losing one of two concurrent replacements), it writes that one, so the entry always ends at the
 * ticket's latest state. Any caller may run it at any time (the workflow's writes, the start-up backfill).
 */
export async function syncQueueEntry(number: string): Promise<void> {
  let t = await SupportTicket.findById(number).lean<SupportTicketDoc>();
  for (let round = 0; t && round < 5; round++) {
    if (t.status === 'closed') await SupportQueueEntry.deleteOne({ _id: number });
    else {
      const entry = queueEntryOf(t);
      const day = entry.day;
      if (day) await insertOnce(() => SupportQueueDay.create({ _id: day, createdAt: new Date() }));
      await insertOnce(() => SupportQueueEntry.replaceOne({ _id: number, seq: { $lt: entry.seq } }, entry, { upsert: true }));
    }
    const now: SupportTicketDoc | null = await SupportTicket.findById(number).lean<SupportTicketDoc>();
    if (!now || now.seq === t.seq) {
      // a lost replacement of the same state: the entry must hold this seq (or be gone when closed)
      const e = await SupportQueueEntry.findById(number, { seq: 1 }).lean();
      if (t.status === 'closed' ? !e : e?.seq === t.seq) return;
      if (e && e.seq > t.seq) return;
    }
    t = now;
  }
}

/**
 * Queue entries for the tickets that have none (filed before the queue had entries), and none for closed ones,
 * each through syncQueueEntry, so a ticket's workflow writing meanwhile is never overwritten by an older state. Safe to run
 * at any time, by any number of processes; the worker runs it at start-up. Returns how many it placed.
 */
export async function backfillQueueEntries(): Promise<number> {
  const open = new Set((await SupportTicket.find({ status: { $ne: 'closed' } }, { _id: 1 }).lean()).map((t) => t._id));
  const placed = new Set((await SupportQueueEntry.find({}, { _id: 1 }).lean()).map((e) => e._id));
  let count = 0;
  for (const id of open) {
    if (placed.has(id)) continue;
    await syncQueueEntry(id);
    count += 1;
  }
  // and an entry left behind by a ticket that has closed since (a write attempt lost with its worker mid-sync)
  for (const id of placed) if (!open.has(id)) await syncQueueEntry(id);
  return count;
}

function snapshotFields(snap: SupportTicketSnapshot, number: string) {
  return {
    status: snap.status,
    assignee: snap.assignee,
    assigneeId: snap.assignee?.userId ?? null,
    escalationLevel: snap.escalationLevel,
    escalated: snap.escalationLevel > 0,
    atRisk: snap.atRisk,
    breached: snap.breached,
    nextDueAt: snap.nextDueAt ? new Date(snap.nextDueAt) : null,
    queueKey: queueKeyOf(snap.nextDueAt, number),
    clocks: snap.clocks,
    approval: snap.approval ? { ...snap.approval, at: new Date(snap.approval.at) } : null,
    rejectionReason: snap.rejectionReason,
    withdrawn: snap.withdrawn,
    seq: snap.seq,
    updatedAt: new Date(snap.updatedAt),
    resolvedAt: snap.resolvedAt ? new Date(snap.resolvedAt) : null,
    closedAt: snap.closedAt ? new Date(snap.closedAt) : null,
  };
}

/**
 * The ticket document as `snap` leaves it (the `seq` guard keeps a newer state), then brought to the newest state its
 * events recorded. Two writes of one document at the same moment (a late attempt of an earlier event's write, after
 * its timeout, beside the next one's) can lose either on FerretDB, the guard notwithstanding: a write not found is
 * made again, and a late write that landed over a newer event's state (the newer writer had read back before it
 * landed) finds that event, written before its state, and writes its state back (review). Whoever lands last checks
 * last, so the document ends at the newest state.
 */
async function writeSnapshot(number: string, snap: SupportTicketSnapshot): Promise<void> {
  let target: { seq: number; state: Record<string, unknown> } = { seq: snap.seq, state: snapshotFields(snap, number) };
  for (let round = 0; round < 5; round++) {
    await SupportTicket.updateOne({ _id: number, seq: { $lt: target.seq } }, { $set: target.state });
    const now = await SupportTicket.findById(number, { seq: 1 }).lean();
    target = await newestState(number, target);
    if (!now || now.seq >= target.seq) return;
  }
  throw new Error(`support request ${number}: its document did not take the state of event ${target.seq} in five writes; retried`);
}

/**
 * The newest state the ticket's events recorded from `known` on: the events after it, read by their ids (`<ticket>:<seq>`,
 * numbered without gaps; usually there is none, one lookup by id: FerretDB would scan for a sort), each naming the state it
 * left, whose `seq` is at least its own.
 */
async function newestState(number: string, known: { seq: number; state: Record<string, unknown> }): Promise<{ seq: number; state: Record<string, unknown> }> {
  let target = known;
  for (;;) {
    const next = await SupportEvent.findById(`${number}:${target.seq + 1}`, { state: 1 }).lean();
    const seq = next?.state?.seq;
    if (!next?.state || typeof seq !== 'number' || seq <= target.seq) return target;
    target = { seq, state: next.state };
  }
}

/**
 * Whether `email` signs in to csp-desk as a user of `partnerId` (enabled) whose role reads support requests: a ticket
 * link works for them (a sales agent's would answer 403).
 */
async function isPartnerUser(email: string, partnerId: string): Promise<boolean> {
  const user = await User.findOne({ email: email.trim().toLowerCase(), partnerId }).lean();
  return !!user && !isDisabled(user) && (PERMISSIONS.readSupportRequests as readonly string[]).includes(user.role);
}
/** One copy per address, whatever its case ("Pat@Partner.example" and the filer's own address). */
const distinctAddresses = (list: string[]) => list.filter((a, i, all) => all.findIndex((b) => b.toLowerCase() === a.toLowerCase()) === i);
const REFUND_REFUSALS = new Set(SUPPORT_REFUND_FINAL_CODES);

/** The running response clock (first or next response: one runs at a time) and when it is due, or null. */
function runningResponseDue(clocks: readonly SlaClock[]): { clock: string; dueAt: string } | null {
  const c = clocks.find((x) => x.kind !== 'resolution' && x.runningSince && !x.stoppedAt);
  const due = c ? dueAt(c) : null;
  return c && due ? { clock: c.kind, dueAt: due.toISOString() } : null;
}
/** The first ApplicationFailure in a failure's chain of causes (a workflow's own, or an activity's it failed with), or null. */
function applicationFailureIn(failure: Error | undefined): ApplicationFailure | null {
  for (let f: Error | undefined = failure; f; f = f.cause instanceof Error ? f.cause : undefined) {
    if (f instanceof ApplicationFailure) return f;
  }
  return null;
}
/** The attempt at which a refund still not carried out is first said in the worker's log, then every so many. */
const REFUND_WARN_AT = 20;
const REFUND_WARN_EVERY = 100;

export function createSupportActivities(deps: ActivityDeps, sendOnce: SendOnce) {
  const { publicBaseUrl } = deps;

  /** The support leads who are told of escalations (a disabled lead is not). */
  async function leadsEmails(exceptUserId?: string): Promise<string[]> {
    const leads = await User.find({ role: 'support-lead' }).sort({ _id: 1 }).lean();
    return leads.filter((u) => !isDisabled(u) && u._id !== exceptUserId).map((u) => u.email);
  }

  return {
    /**
     * Forgets the support actions' Idempotency-Keys older than ACTION_KEYS_KEPT_DAYS (domain/support.ts); returns how
     * many. Also deletes the filing slots of hours before this one (they limit nothing any more; their count is in
     * the log line only, so that the housekeeping's result keeps its shape for the runs begun before).
     */
    async pruneSupportActionKeys(nowIso: string): Promise<number> {
      const now = new Date(nowIso);
      const [keys, slots] = await Promise.all([
        SupportIdempotency.deleteMany({ _id: { $regex: '^action:' }, createdAt: { $lt: actionKeysBefore(now) } }),
        SupportFilingSlot.deleteMany({ at: { $lt: filingHour(now).startsAt } }),
      ]);
      if (keys.deletedCount) deps.log.info({ count: keys.deletedCount }, 'support action keys forgotten');
      if (slots.deletedCount) deps.log.info({ count: slots.deletedCount }, 'support filing slots of past hours deleted');
      return keys.deletedCount;
    },

    /** The ticket document and its first event ("filed"). */
    async recordSupportTicket(input: SupportTicketInput, snap: SupportTicketSnapshot): Promise<void> {
      const filedAt = new Date(input.filedAt);
      await insertOnce(() =>
        SupportTicket.create({
          _id: input.number,
          partnerId: input.partnerId,
          problemType: input.problemType,
          impact: input.impact,
          title: input.title,
          description: input.description,
          customer: input.customer,
          orderId: input.orderId,
          originalOrderId: input.originalOrderId ?? null,
          subscriptionId: input.subscriptionId,
          refund: input.refund,
          contact: input.contact,
          filedBy: { userId: input.filedBy.userId, name: input.filedBy.name, email: input.filedBy.email, role: input.filedBy.role },
          approvalLimit: input.rules.approvalLimit,
          ...snapshotFields(snap, input.number),
          searchText: searchTextOf({
            number: input.number,
            title: input.title,
            description: input.description,
            customerName: input.customer.name,
            customerDomain: input.customer.domain,
            customerTenantId: input.customer.tenantId,
            orderId: input.orderId,
            originalOrderId: input.originalOrderId ?? null,
            subscriptionId: input.subscriptionId ?? null,
            refundReason: input.refund?.reason ?? null,
            contactName: input.contact.name,
            contactEmail: input.contact.email,
          }),
          createdAt: filedAt,
          requestId: input.requestId,
        }),
      );
      await insertOnce(() =>
        SupportEvent.create({
          _id: `${input.number}:1`,
          ticketId: input.number,
          partnerId: input.partnerId,
          seq: 1,
          type: 'filed',
          at: filedAt,
          actor: input.filedBy,
          public: true,
          body: input.description || null,
          data: { impact: input.impact, problemType: input.problemType, refund: input.refund, orderId: input.orderId },
        }),
      );
      await syncQueueEntry(input.number);
      deps.log.info({ ticket: input.number, partnerId: input.partnerId, requestId: input.requestId }, 'support request recorded');
    },

    /** An event, inserted once, and the document as the workflow now knows it (never an older state). */
    async recordSupportEvent(number: string, partnerId: string, event: SupportEventInput, snap: SupportTicketSnapshot): Promise<void> {
      await insertOnce(() =>
        SupportEvent.create({
          _id: `${number}:${event.seq}`,
          ticketId: number,
          partnerId,
          seq: event.seq,
          type: event.type,
          at: new Date(event.at),
          actor: event.actor,
          public: event.public,
          body: event.body,
          data: event.data,
          state: snapshotFields(snap, number),
        }),
      );
      await writeSnapshot(number, snap);
      await syncQueueEntry(number);
    },

    /** The email of an event, once: to the contact, to the leads (escalated), to the assignee (at risk), to the one given the ticket (assigned), or to the one whose ticket another put back in the queue (unassigned). */
    async sendSupportEmail(number: string, seq: number, kind: SupportEmailKind): Promise<{ sent: boolean; to: string[] }> {
      const ticket = await SupportTicket.findById(number).lean<SupportTicketDoc>();
      if (!ticket) throw ApplicationFailure.nonRetryable(`support request ${number} is not recorded`, 'ticket_missing');
      const event = await SupportEvent.findById(`${number}:${seq}`).lean();
      let to: string[];
      // the one who has the request, while they can act on it: a disabled assignee's news goes to the leads, who can
      // give it to someone else
      const user = ticket.assignee ? await User.findById(ticket.assignee.userId).lean() : null;
      // (at the address their user has now: the ticket's copy is from when it was given to them)
      const assignee = ticket.assignee && !(user && isDisabled(user)) ? (user?.email ?? ticket.assignee.email) : null;
      // a breach of a request escalated before (by hand, at that level or above): the leads and the one who has it,
      // as an escalation by a timer tells them
      if (kind === 'escalated' || kind === 'breached') {
        // the leads and the one who has the request (a timer's escalation is news to them); not whoever escalated it
        // by hand, who knows
        const actor = event?.actor as { kind?: string; userId?: string } | undefined;
        const by = actor?.kind === 'system' ? undefined : actor?.userId;
        to = distinctAddresses([...(await leadsEmails(by)), ...(assignee && ticket.assignee!.userId !== by ? [assignee] : [])]);
      }
      // a request at risk put back in the queue: the leads, whoever has it by the time this goes (not a lead who put it
      // back: they know)
      else if (kind === 'at-risk' && event?.type === 'unassigned') to = await leadsEmails((event.actor as { userId?: string }).userId);
      else if (kind === 'at-risk') to = assignee ? [assignee] : await leadsEmails();
      else if (kind === 'assigned') to = [(event?.data as { assignee?: { email?: string } } | undefined)?.assignee?.email ?? ''];
      // the one whose request another put back in the queue (at the address their user has now; not when disabled)
      else if (kind === 'unassigned') {
        const previous = (event?.data as { previous?: { userId?: string; email?: string } | null } | undefined)?.previous;
        const was = previous?.userId ? await User.findById(previous.userId).lean() : null;
        to = previous && !(was && isDisabled(was)) ? [was?.email ?? previous.email ?? ''] : [];
      }
      // the agent who has the request hears of the partner's reply (the leads, when nobody who can act has it)
      else if (kind === 'partner-replied') to = assignee ? [assignee] : await leadsEmails();
      else to = distinctAddresses([ticket.contact.email, ticket.filedBy.email]);
      // a withdrawal is also news to the agent who has it: a message of its own, so that the partner's copy does not
      // carry the agent's address
      // (at their current address, and not to a disabled one, as the partner's reply goes)
      const alsoAssignee = kind === 'closed' && ticket.withdrawn && assignee && !to.some((a) => a.toLowerCase() === assignee.toLowerCase()) ? assignee : null;
      to = to.filter(Boolean);
      // a contact who is no user of the partner cannot sign in to follow the link: their copy, a message of its own,
      // names the one who filed the request instead. Decided once: a retry (or one begun before this rule) goes by
      // the recipients of the message already recorded, whatever became of the contact's user since
      const mainKey = `support:${number}:${seq}:${kind}`;
      let outsider: string | null = null;
      if (!SUPPORT_STAFF_EMAILS.has(kind) && to.length > 1) {
        const recorded = await EmailRecord.findById(mainKey, { to: 1 }).lean();
        const contactIn = (list: string[]) => list.some((a) => a.toLowerCase() === ticket.contact.email.toLowerCase());
        if (recorded ? !contactIn(recorded.to) : !(await isPartnerUser(ticket.contact.email, ticket.partnerId))) outsider = ticket.contact.email;
      }
      if (outsider) to = to.filter((a) => a !== outsider);
      if (!to.length) return { sent: false, to };
      const first = (ticket.clocks ?? []).find((c) => c.kind === 'firstResponse' && !c.stoppedAt);
      const firstDue = first ? dueAt(first) : null;
      const partner = await Partner.findById(ticket.partnerId).lean();
      // an approved refund's credit says the tax it includes (AU, BR), as the cancellation email does
      const approvedOrder = kind === 'approved' && ticket.orderId ? await Order.findById(ticket.orderId, { cancellation: 1, 'product.deliverable': 1 }).lean() : null;
      const credit = approvedOrder?.cancellation ?? null;
      const refundTax = credit && credit.supportTicket === number ? (credit.credit?.taxAmount ?? null) : null;
      const data = {
        refundTax,
        // what the cancellation revoked: keys and links for software, the discount for an Azure reservation (QA)
        deliverable: approvedOrder?.product.deliverable ?? null,
        ticket,
        event,
        number,
        partner: partner ?? { name: ticket.partnerId },
        ticketUrl: pageLinks(publicBaseUrl).ticket(number),
        firstResponseDue: firstDue ? firstDue.toISOString() : null,
        // the response the one given the request owes (first or next), running (QA: a handover with a next response
        // running said no due time)
        responseDue: kind === 'assigned' ? runningResponseDue(ticket.clocks ?? []) : null,
        // the one given a request at risk or breached is told so, with the clock and its due
        urgent: kind === 'assigned' ? urgentClock(ticket.clocks ?? []) : null,
        // staff news of a request whose assignee is disabled goes to the leads: it says so, to give it to someone
        assigneeDisabled: Boolean(ticket.assignee) && !assignee,
        // these go to support staff: the wording (the footer, what to do next) is theirs
        forSupport: SUPPORT_STAFF_EMAILS.has(kind),
      };
      let { sent } = await sendOnce(mainKey, `support-${kind}`, to, data);
      if (outsider) {
        sent = (await sendOnce(`support:${number}:${seq}:${kind}:contact`, `support-${kind}`, [outsider], { ...data, ticketUrl: null, contactCopy: true })).sent || sent;
        to = [...to, outsider];
      }
      if (alsoAssignee) {
        sent = (await sendOnce(`support:${number}:${seq}:${kind}:assignee`, `support-${kind}`, [alsoAssignee], { ...data, forSupport: true })).sent || sent;
        to = [...to, alsoAssignee];
      }
      return { sent, to };
    },

    /**
     * Carries out an approved refund exactly once: an Update on the order's running workflow (deduplicated by
     * its update id), or, once that workflow has ended, the order's refund workflow (one per order). A refusal
     * (order cancelled meanwhile, a non-cancellable product) is a non-retryable failure naming the reason.
     */
    async carryOutSupportRefund(request: SupportRefundRequest & { orderId: string }): Promise<SupportRefundResult> {
      // retried without end (workflows/support.ts): a refund that keeps failing is said to whoever watches the logs,
      // as the ticket takes no other decision meanwhile (the order's workflow, or its database, needs mending)
      const { attempt } = Context.current().info;
      if (attempt === REFUND_WARN_AT || (attempt > REFUND_WARN_AT && attempt % REFUND_WARN_EVERY === 0)) {
        deps.log.warn({ ticket: request.ticket, orderId: request.orderId, attempt }, 'support refund still not carried out: the ticket waits on the order (mend its workflow or the database; never terminate the ticket)');
      }
      // cancellable: a worker shutting down abandons the wait, and the retry (on any worker) asks again
      return Context.current().client.withAbortSignal(Context.current().cancellationSignal, () => carryOutRefund(request));
    },

    /** The order may get a refund ticket again once this one has ended. */
    async releaseSupportOrderClaim(orderId: string, number: string): Promise<void> {
      await SupportOrderClaim.deleteOne({ _id: orderId, ticketId: number });
    },
  };

  async function carryOutRefund(request: SupportRefundRequest & { orderId: string }): Promise<SupportRefundResult> {
    const client = Context.current().client;
    const { orderId, ...req } = request;
    const asFailure = (type: string | undefined | null, message: string) =>
      ApplicationFailure.create({ type: type ?? 'refund_failed', message, nonRetryable: REFUND_REFUSALS.has(type ?? '') });
    try {
      return await client.workflow.getHandle(orderWorkflowId(orderId)).executeUpdate(supportRefundUpdate, { args: [req], updateId: `${req.ticket}:refund` });
    } catch (e) {
      // the Update failed: its outcome is kept under its id, so the same answer would come back to every retry (a
      // refusal this code does not know of included): final
      if (e instanceof WorkflowUpdateFailedError && e.cause instanceof ApplicationFailure) throw ApplicationFailure.create({ type: e.cause.type ?? 'refund_failed', message: e.cause.message, nonRetryable: true });
      if (!(e instanceof WorkflowNotFoundError)) throw e;
    }
    // the order's workflow has ended: its refund workflow is now the order's one writer. Its outcome is asked for
    // once recorded (refundRecordedUpdate), not once its email went: the ticket does not wait on the SMTP server
    const workflowId = orderRefundWorkflowId(orderId);
    let result: SupportRefundResult;
    try {
      try {
        await client.workflow.start('orderRefundWorkflow', {
          workflowId,
          taskQueue: Context.current().info.taskQueue,
          args: [{ ...req, orderId }],
          workflowIdConflictPolicy: 'USE_EXISTING',
          workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        });
      } catch (e) {
        // it completed already (a refund recorded, its email sent): its result is the answer
        if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
      }
      const handle = client.workflow.getHandle(workflowId);
      try {
        result = await handle.executeUpdate(refundRecordedUpdate);
      } catch (e) {
        // the Update answers the rules' refusal itself
        if (e instanceof WorkflowUpdateFailedError && e.cause instanceof ApplicationFailure && REFUND_REFUSALS.has(e.cause.type ?? '')) throw asFailure(e.cause.type, e.cause.message);
        // it ended before the Update reached it, or before the Update was answered (the server then fails the Update
        // with its own reason: review, a missing order's refund was started again without end): completed, or failed
        // with its refusal or an activity's, as its result says. Any other error (the server busy, unreachable) fails
        // this attempt, to be retried: waiting on the result of a running workflow would wait on its email
        if (!(e instanceof WorkflowNotFoundError) && !(e instanceof WorkflowUpdateFailedError)) throw e;
        result = (await handle.result()) as SupportRefundResult;
      }
    } catch (e) {
      // its refusal is the failure itself (the rules'), or one of its activities' (`order_missing`: an ActivityFailure
      // wraps it); read only as the failure's cause, the latter was retried without end, a new run each time (review)
      const refusal = e instanceof WorkflowFailedError ? applicationFailureIn(e.cause) : null;
      if (refusal) throw asFailure(refusal.type, refusal.message);
      throw e;
    }
    // a refund of this order carried out for another ticket is not this ticket's refund
    if (result.ticket !== req.ticket) throw asFailure('already_cancelled', `This order was already cancelled through support request ${result.ticket}; the refund cannot be carried out.`);
    return result;
  }
}
