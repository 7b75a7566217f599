/**
 * Support requests: filing (a workflow per ticket, answered once the ticket is recorded), reading with its
 * timeline and SLA clocks, the queue, and every action as an Update on the ticket's workflow. The API never
 * writes a ticket itself; what it inserts are natural-key facts (ticket numbers, idempotency records, the
 * one-open-refund-ticket-per-order claim).
 */
import crypto from 'node:crypto';
import stableStringify from 'safe-stable-stringify';
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { AppError, insertOnce, isDuplicateKey, takeSlot } from '../lib/errors';
import { API_TEMPORAL_DEADLINE_MS, isUnprocessedUpdate, sendUpdate, startOrJoin } from '../lib/temporal';
import { isDisabled } from './users';
import {
  LedgerLine,
  Partner,
  SupportEvent,
  SupportFilingSlot,
  SupportIdempotency,
  SupportOrderClaim,
  SupportTicket,
  SupportTicketNumber,
  User,
  type OrderDoc,
  type SupportEventDoc,
  type SupportIdempotencyDoc,
  type SupportTicketDoc,
} from '../models';
import {
  actorKindOf,
  approvalLimitIn,
  checkRefundRequest,
  filingHour,
  filingLimitMessage,
  isRefundType,
  REPEAT_FILING_CHECK_MINUTES,
  PROBLEM_TYPES,
  normaliseTicketNumber,
  ticketNumber,
  type Impact,
  type SupportEventType,
  type TicketAction,
  type TicketStatus,
  type TicketActor,
} from '../domain/support';
import { clockView } from '../domain/sla';
import { isSupportRole } from '../domain/roles';
import { formatMinor } from '../domain/money';
import { minorDigits } from '../domain/markets';
import { supportCommandUpdate, supportRecordedUpdate, supportWorkflowId, type SupportAttachmentFact, type SupportCommand, type SupportTicketInput } from '../contracts/support';
import type { supportTicketWorkflow } from '../workflows/support';
import { currentRequestId, type AuthContext } from './context';
import { resolveCustomer } from './customers';
import { findPartnerOrder, orderIdNamed } from './orders';
import { readQueuePage, type QueueFilter, type QueueRow } from './support-queue';
import { QUEUE_KEY_PATTERN } from '../domain/support-queue';

// Settings: the SLA policy and the ticket rules (services/support-settings.ts, light enough for the launcher)
import { DEFAULT_SUPPORT_SETTINGS, type SupportSettings } from './support-settings';
export { DEFAULT_SUPPORT_SETTINGS, loadSupportSettings, type SupportSettings } from './support-settings';

// ---------------------------------------------------------------------------------------------------------

export interface SupportServiceDeps {
  client: Client;
  taskQueue: string;
  settings?: SupportSettings;
  now?: () => Date;
}

export interface FileInput {
  problemType: string;
  impact: Impact;
  title: string;
  customer: string;
  orderId?: string;
  subscriptionId?: string;
  refund?: { reason: string; amount: number; currency: string };
  contact: { name: string; email: string; phone?: string };
  description?: string;
}

export interface QueueQuery {
  status?: string;
  impact?: string;
  assignee?: string;
  escalated?: boolean;
  atRisk?: boolean;
  text?: string;
  cursor?: string;
  limit?: number;
}

/**
 * A refund claim on an order whose ticket was never recorded (its filing answered 503) is released this long after
 * it was made: longer than the filing could still take to start the ticket's workflow (the API's wait on Temporal).
 */
const CLAIM_RELEASE_AFTER_MS = API_TEMPORAL_DEADLINE_MS + 10_000;

const iso = (d: Date | string | null | undefined) => (d ? new Date(d).toISOString() : null);

export function actorOf(auth: AuthContext): TicketActor {
  return { kind: actorKindOf(auth.role), userId: auth.user._id, name: auth.user.name, email: auth.user.email, role: auth.role };
}

/** HTTP status of a refusal from the ticket's (or the order's) workflow. */
export function supportRefusalStatus(code: string): number {
  if (code === 'not_allowed_for_role') return 403;
  if (code === 'refund_unavailable') return 503;
  if (['invalid_state', 'ticket_changed', 'approval_in_progress', 'already_refunded', 'reopen_period_passed', 'already_cancelled', 'max_escalation', 'not_ready', 'already_assigned', 'already_assignee', 'not_assigned', 'not_your_request'].includes(code)) return 409;
  return 422;
}

/** The partners' names, for tickets that name them by id (support roles work every partner's requests). */
async function partnerNames(ids: string[]): Promise<Map<string, string>> {
  const unique = [...new Set(ids)];
  if (!unique.length) return new Map();
  const rows = await Partner.find({ _id: { $in: unique } }, { name: 1 }).lean();
  return new Map(rows.map((p) => [p._id, p.name]));
}

export function ticketSummary(t: QueueRow, partnerName: string | null = null) {
  return {
    number: t._id,
    partner: { id: t.partnerId, name: partnerName ?? t.partnerId },
    status: t.status,
    problemType: t.problemType,
    impact: t.impact,
    title: t.title,
    customer: t.customer,
    orderId: t.orderId,
    refund: t.refund,
    assignee: t.assignee ? { userId: t.assignee.userId, name: t.assignee.name } : null,
    escalationLevel: t.escalationLevel,
    atRisk: t.atRisk,
    breached: t.breached,
    nextDueAt: iso(t.nextDueAt),
    createdAt: iso(t.createdAt)!,
    updatedAt: iso(t.updatedAt)!,
  };
}

/** takeFilingSlot's signal: the Idempotency-Key's own slot was taken by a send of it at once (share it). */
class KeyHasSlot extends Error {}

export function createSupportService(deps: SupportServiceDeps) {
  const { client, taskQueue } = deps;
  const settings = deps.settings ?? DEFAULT_SUPPORT_SETTINGS;
  const clock = deps.now ?? (() => new Date());

  /** The ticket, if the caller may see it (another partner's ticket is not found). */
  async function loadTicket(auth: AuthContext, ref: string): Promise<SupportTicketDoc> {
    const number = normaliseTicketNumber(ref);
    const t = await SupportTicket.findById(number).lean<SupportTicketDoc>();
    if (!t || (!isSupportRole(auth.role) && t.partnerId !== auth.partnerId)) throw new AppError(404, 'not_found', `support request ${JSON.stringify(ref)} was not found`);
    return t;
  }

  async function view(auth: AuthContext, ref: string) {
    const t = await loadTicket(auth, ref);
    const support = isSupportRole(auth.role);
    const events = await SupportEvent.find(support ? { ticketId: t._id } : { ticketId: t._id, public: true }, { state: 0 }).sort({ seq: 1 }).lean<SupportEventDoc[]>();
    const now = clock();
    const names = await partnerNames([t.partnerId]);
    return {
      ...ticketSummary(t, names.get(t.partnerId)),
      description: t.description,
      originalOrderId: t.originalOrderId ?? null,
      subscriptionId: t.subscriptionId,
      contact: t.contact,
      filedBy: { name: t.filedBy.name, role: t.filedBy.role },
      // partners see who works their request, not the agent's address (they answer through the request)
      assignee: t.assignee ? { userId: t.assignee.userId, name: t.assignee.name, email: support ? t.assignee.email : null } : null,
      approval: t.approval ? { amount: t.approval.amount, currency: t.approval.currency, invoiceMonth: t.approval.invoiceMonth, at: iso(t.approval.at)!, by: t.approval.by.name } : null,
      rejectionReason: t.rejectionReason,
      // for support roles: above this amount (in the request's currency) a lead approves; the ticket's own rule
      // (older tickets: today's setting)
      approvalLimit: support && t.refund ? approvalLimitIn({ approvalLimit: t.approvalLimit ?? settings.rules.approvalLimit }, t.refund.currency) : null,
      withdrawn: t.withdrawn,
      resolvedAt: iso(t.resolvedAt),
      closedAt: iso(t.closedAt),
      sla: (t.clocks ?? []).map((c) => clockView(c, now, t.withdrawn ? iso(t.closedAt) : null)),
      timeline: events.map((e) => ({
        seq: e.seq,
        type: e.type,
        at: e.at.toISOString(),
        by: { name: e.actor.name, role: e.actor.role, kind: e.actor.kind },
        public: e.public,
        body: e.body,
        data: e.data ?? {},
      })),
    };
  }

  /** A ticket number reserved under its unique `_id` (a collision, about one in a billion a day, draws again). */
  async function reserveNumber(partnerId: string): Promise<string> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const number = ticketNumber(clock(), Array.from({ length: 6 }, () => crypto.randomInt(32)));
      try {
        await SupportTicketNumber.create({ _id: number, partnerId, createdAt: new Date() });
        return number;
      } catch (e) {
        if (!isDuplicateKey(e)) throw e;
      }
    }
    throw new Error('could not draw a free ticket number');
  }

  /**
   * The filing slot of this Idempotency-Key (`<partner>:<key>`): the one a send of the key took before (at once, or an
   * earlier try whose outcome was unknown), else one of the user's SUPPORT_FILINGS_PER_HOUR slots of this UTC hour
   * taken now (`fresh`), else a refusal: 429 `filing_rate_limited`, with the seconds to the next hour. A key has one
   * slot at most (a unique index on `key`), so sends of one filing at once count once.
   */
  async function takeFilingSlot(auth: AuthContext, idKey: string, limit: number): Promise<{ id: string; fresh: boolean }> {
    const keyed = async () => {
      const slot = await SupportFilingSlot.findOne({ key: idKey }, { _id: 1 }).lean();
      return slot ? { id: slot._id, fresh: false } : null;
    };
    const kept = await keyed();
    if (kept) return kept;
    const now = clock();
    const hour = filingHour(now);
    const prefix = `${auth.user._id}:${hour.key}`;
    const taken = await SupportFilingSlot.countDocuments({ _id: { $gte: `${prefix}:`, $lt: `${prefix};` } });
    const id = await takeSlot(prefix, limit, taken, async (slot) => {
      try {
        return await SupportFilingSlot.create({ _id: slot, userId: auth.user._id, partnerId: auth.partnerId!, key: idKey, at: now });
      } catch (e) {
        // refused by the key's index: a send of this key took its slot meanwhile (then it is ours to share)
        if (isDuplicateKey(e) && (await keyed())) throw new KeyHasSlot();
        throw e;
      }
    }).catch(async (e: unknown) => {
      if (e instanceof KeyHasSlot) return null;
      throw e;
    });
    if (id) return { id, fresh: true };
    // none free, or the key's own taken meanwhile by a send of it at once
    const shared = await keyed();
    if (shared) return shared;
    throw new AppError(429, 'filing_rate_limited', filingLimitMessage(limit, `${hour.endsAt.toISOString().slice(11, 16)} UTC`), undefined, { limit, resetsAt: hour.endsAt.toISOString(), retryAfterSeconds: hour.secondsLeft });
  }

  /** Gives a refused send's slot back, unless a ticket is recorded under its key (another send of the key filed with it). */
  async function giveBackFilingSlot(slotId: string, idKey: string): Promise<void> {
    const record = await SupportIdempotency.findById(idKey, { ticketId: 1 }).lean();
    if (record && (await SupportTicket.exists({ _id: record.ticketId }))) return;
    await SupportFilingSlot.deleteOne({ _id: slotId, key: idKey });
  }

  async function ticketWorkflowExists(number: string): Promise<boolean> {
    try {
      await client.workflow.getHandle(supportWorkflowId(number)).describe();
      return true;
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) return false;
      throw e;
    }
  }

  /** One open refund ticket per order: the claim `_id` = order id, inserted once. */
  async function claimOrder(orderId: string, number: string, partnerId: string): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await SupportOrderClaim.create({ _id: orderId, ticketId: number, partnerId, createdAt: new Date() });
        return;
      } catch (e) {
        if (!isDuplicateKey(e)) throw e;
      }
      const claim = await SupportOrderClaim.findById(orderId).lean();
      if (!claim) continue;
      if (claim.ticketId === number) return;
      // A claim whose filing died before its ticket's workflow started (answered 503) is released once that filing
      // can no longer start it: the filing starts the workflow right after claiming, within the API's wait on
      // Temporal at most. A ticket whose workflow exists (if only waiting for a worker) keeps its claim: its
      // workflow releases it.
      const held = await SupportTicket.findById(claim.ticketId, { status: 1 }).lean();
      if (!held && !(await ticketWorkflowExists(claim.ticketId))) {
        const waitMs = new Date(claim.createdAt).getTime() + CLAIM_RELEASE_AFTER_MS - Date.now();
        if (waitMs <= 0) {
          await SupportOrderClaim.deleteOne({ _id: orderId, ticketId: claim.ticketId });
          continue;
        }
        throw new AppError(
          409,
          'open_refund_ticket',
          `order ${orderId} has a refund request being filed that is not recorded yet (${claim.ticketId}): if its filing was answered 503, send that request again with its Idempotency-Key; otherwise try again in ${Math.ceil(waitMs / 1000)} s`,
          'body.orderId',
          { ticket: claim.ticketId },
        );
      }
      const state = held ? ` (${held.status})` : '';
      throw new AppError(
        409,
        'open_refund_ticket',
        `order ${orderId} already has a refund request that is not closed: ${claim.ticketId}${state}; reply to it, or file a new one once it is closed`,
        'body.orderId',
        { ticket: claim.ticketId },
      );
    }
    throw new AppError(409, 'open_refund_ticket', `order ${orderId} already has an open refund request`, 'body.orderId');
  }

  async function startTicket(input: SupportTicketInput): Promise<void> {
    await startOrJoin<typeof supportTicketWorkflow, []>(
      client,
      'supportTicketWorkflow',
      { workflowId: supportWorkflowId(input.number), taskQueue, args: [input], memo: { requestId: input.requestId, partnerId: input.partnerId } },
      supportRecordedUpdate,
      [],
    );
  }


  /** Sends one command to the ticket's workflow as an Update (`updateId` makes a retry the same Update). */
  async function send(auth: AuthContext, t: SupportTicketDoc, cmd: Omit<SupportCommand, 'actor'>, updateId?: string): Promise<void> {
    try {
      const handle = client.workflow.getHandle(supportWorkflowId(t._id));
      await sendUpdate((id) => handle.executeUpdate(supportCommandUpdate, { args: [{ ...cmd, actor: actorOf(auth), requestId: currentRequestId() }], updateId: id }), updateId);
    } catch (e) {
      // Temporal's own refusal (the Update not processed, retried already): a 503, not the ticket's refusal
      if (e instanceof WorkflowUpdateFailedError && e.cause instanceof ApplicationFailure && !isUnprocessedUpdate(e)) {
        const code = e.cause.type ?? 'refused';
        // the Update's outcome is kept under its id: the same Idempotency-Key answers this again, so a try later needs
        // a new one (the pages give each form a new key)
        const message = code === 'refund_unavailable' && updateId ? `${e.cause.message} Send it with a new Idempotency-Key: this one answers this outcome again.` : e.cause.message;
        // a refusal about the amount names the field it came from
        throw new AppError(supportRefusalStatus(code), code, message, code === 'amount_above_limit' ? 'body.amount' : undefined);
      }
      if (e instanceof WorkflowNotFoundError) {
        // its workflow has ended, which it does once the ticket is closed: `t` was read before the Update was sent, maybe
        // before the close, so the refusal names the status stored now (QA saw a closed ticket refused as "resolved")
        const stored = await SupportTicket.findById(t._id, { status: 1 }).lean();
        throw new AppError(409, 'invalid_state', `support request ${t._id} is ${stored?.status ?? t.status}: nothing more can be done on it`);
      }
      throw e;
    }
  }

  /**
   * An action's Idempotency-Key (the API's header, the pages' one-time form key): the same request sent again is
   * the same Update, whose outcome is answered again; the key used for another request on the ticket (another
   * action, another text, another amount) is a 422, never an action silently skipped. Keys are the caller's own:
   * two users picking the same key do not meet. The key's first request is a document of its own, inserted once.
   * The record names its Update id, which carries the request's hash: a key a refusal left free (command) and then
   * used for another request is another Update, never the refused one's outcome answered again. A record written
   * before that (no `updateId`) keeps the id it was sent with, so its retry is still the same Update.
   */
  async function actionUpdateId(auth: AuthContext, ticketId: string, key: string, cmd: Omit<SupportCommand, 'actor'>): Promise<{ updateId: string; record: { _id: string; requestHash: string }; replayed: boolean }> {
    const requestHash = crypto
      .createHash('sha256')
      .update(JSON.stringify([cmd.action, cmd.body ?? null, cmd.amount ?? null, cmd.reason ?? null, cmd.assignee?.userId ?? null]))
      .digest('hex');
    const _id = `action:${ticketId}:${auth.user._id}:${key}`;
    // (what the sender had seen is not part of the request: the same action sent again after reading the ticket again
    // is the same request; a stale-page refusal is the validator's, so nothing of it is kept under the Update id)
    const updateId = `${auth.user._id}:${key}:${requestHash.slice(0, 16)}`;
    // a record a refused request removed between our insert and our read: insert again (a few rounds at most)
    for (let round = 0; round < 5; round++) {
      try {
        await SupportIdempotency.create({ _id, requestHash, ticketId, updateId, createdAt: new Date() });
        return { updateId, record: { _id, requestHash }, replayed: false };
      } catch (e) {
        if (!isDuplicateKey(e)) throw e;
      }
      const first = await SupportIdempotency.findById(_id).lean();
      if (!first) continue;
      if (first.requestHash !== requestHash) {
        throw new AppError(422, 'idempotency_key_reused', 'this Idempotency-Key was used for another action on this support request; use a new key for a new action', 'header.idempotency-key');
      }
      // a replay when the key's action was answered before (a record written before the answer was a document of its
      // own says so itself; otherwise command() asks once the Update is answered: a first try that failed, a 5xx,
      // left it unanswered)
      return { updateId: first.updateId ?? `${auth.user._id}:${key}`, record: { _id, requestHash }, replayed: first.done === true };
    }
    throw new Error(`the Idempotency-Key record ${_id} kept changing; try again`);
  }

  /** Carries out an action; `replayed`: its Idempotency-Key had come with this same request, answered, before. */
  async function command(auth: AuthContext, t: SupportTicketDoc, cmd: Omit<SupportCommand, 'actor'>, key?: string) {
    // what its sender saw cannot be past what the request holds: such a seenSeq would skip the check it asks for (QA)
    // (the document follows its newest event by a moment: an entry written just now counts too)
    if (cmd.seenSeq !== undefined && cmd.seenSeq > t.seq && !(await SupportEvent.exists({ _id: `${t._id}:${cmd.seenSeq}` }))) {
      throw new AppError(400, 'validation_failed', `body.seenSeq ${cmd.seenSeq} is past the request's last entry (${t.seq}): send the highest seq you have read`, 'body.seenSeq');
    }
    const id = key ? await actionUpdateId(auth, t._id, key, cmd) : undefined;
    try {
      await send(auth, t, cmd, id?.updateId);
    } catch (e) {
      // refused (a 4xx: the ticket's rules, its state): nothing was done, so the key is left free for the request
      // corrected; only this request's own record goes (a concurrent one with the same key and text meets the same
      // refusal)
      if (id && e instanceof AppError && e.status < 500) await SupportIdempotency.deleteOne(id.record);
      throw e;
    }
    // answered: the first of the key's requests to get here says so, once, by a document of its own inserted once
    // (not a flag set on the record: sends of one key at once all found it unset, and all said "not replayed"); the
    // others, at once or later, are replays. Its id names the request (a key a refusal left free and then used for
    // another request answers that one anew) and has a space, which no key holds, so no key's record is it.
    // Inserted once the answer is ready (the request read back), so that a send that fails after the action (a 503)
    // leaves its retry the first answered.
    const answered = (r: { _id: string; requestHash: string }) => `${r._id} ${r.requestHash.slice(0, 16)} answered`;
    const ticket = await view(auth, t._id);
    const replayed = id ? id.replayed || !(await insertOnce(() => SupportIdempotency.create({ ...id.record, _id: answered(id.record), ticketId: t._id, createdAt: new Date() }))) : false;
    return { ticket, replayed };
  }

  return {
    settings,
    view,

    /**
     * The request this user filed for this customer under the same title within REPEAT_FILING_CHECK_MINUTES before
     * `now`, unless `idempotencyKey` is already recorded (then the form sent again replays its own request): what the
     * filing page asks about before filing again (the Back button brings the form back with a new key).
     */
    async recentRepeatFiling(auth: AuthContext, customerRef: string, title: string, orderId: string | null, idempotencyKey: string, now: Date): Promise<{ number: string; createdAt: Date; orderId: string | null } | null> {
      if (await SupportIdempotency.exists({ _id: `${auth.partnerId}:${idempotencyKey}` })) return null;
      let customerId: string;
      try {
        customerId = (await resolveCustomer(auth.partnerId!, customerRef))._id;
      } catch {
        return null; // an unknown customer is refused by the filing itself
      }
      const since = new Date(now.getTime() - REPEAT_FILING_CHECK_MINUTES * 60_000);
      const found = await SupportTicket.find({ partnerId: auth.partnerId, 'customer.id': customerId, 'filedBy.userId': auth.user._id, title: title.trim(), createdAt: { $gte: since } }, { createdAt: 1, orderId: 1 }).lean();
      // a request about another order is another request, whatever its title (a page prefills one per product); the
      // order as named (its csp-desk id or an imported purchase's original id) is compared as the filing stores it
      const ref = orderId?.trim() || null;
      const named = ref === null ? null : await orderIdNamed(auth.partnerId!, ref);
      const same = found.filter((t) => (t.orderId ?? null) === named);
      const latest = same.sort((a, b) => new Date(b.createdAt).getTime() - new Date(a.createdAt).getTime())[0];
      return latest ? { number: latest._id, createdAt: new Date(latest.createdAt), orderId: latest.orderId ?? null } : null;
    },

    /**
     * When this user's latest message of this kind on the ticket, within REPEAT_FILING_CHECK_MINUTES before `now`,
     * has this very text: what the ticket page asks about before sending it again (the Back button brings the form
     * back with a new key, and the browser the text typed). None when `updateId` is already recorded: then the form
     * sent again is the same Update, carried out once.
     */
    async recentRepeatMessage(auth: AuthContext, ref: string, body: string, internal: boolean, updateId: string | undefined, now: Date): Promise<{ at: Date } | null> {
      const t = await loadTicket(auth, ref);
      if (updateId && (await SupportIdempotency.exists({ _id: `action:${t._id}:${auth.user._id}:${updateId}` }))) return null;
      const types: SupportEventType[] = internal ? ['note'] : isSupportRole(auth.role) ? ['replied'] : ['partner-replied'];
      const since = new Date(now.getTime() - REPEAT_FILING_CHECK_MINUTES * 60_000);
      const mine = await SupportEvent.find({ ticketId: t._id, 'actor.userId': auth.user._id, type: { $in: types }, at: { $gte: since } }, { seq: 1, at: 1, body: 1 }).lean<Pick<SupportEventDoc, 'seq' | 'at' | 'body'>[]>();
      const latest = mine.sort((a, b) => b.seq - a.seq)[0];
      return latest && (latest.body ?? '').trim() === body.trim() ? { at: new Date(latest.at) } : null;
    },

    /**
     * This user's latest event of this type on the ticket within REPEAT_FILING_CHECK_MINUTES before `now` (an
     * escalation): what the ticket page asks about before doing it again. None when `updateId` is already recorded
     * (then the form sent again is the same Update, carried out once).
     */
    async recentOwnEvent(auth: AuthContext, ref: string, type: SupportEventType, updateId: string | undefined, now: Date): Promise<{ at: Date } | null> {
      const t = await loadTicket(auth, ref);
      if (updateId && (await SupportIdempotency.exists({ _id: `action:${t._id}:${auth.user._id}:${updateId}` }))) return null;
      const since = new Date(now.getTime() - REPEAT_FILING_CHECK_MINUTES * 60_000);
      const mine = await SupportEvent.find({ ticketId: t._id, 'actor.userId': auth.user._id, type, at: { $gte: since } }, { seq: 1, at: 1 }).lean<Pick<SupportEventDoc, 'seq' | 'at'>[]>();
      const latest = mine.sort((a, b) => b.seq - a.seq)[0];
      return latest ? { at: new Date(latest.at) } : null;
    },

    /** The refund request that holds the order (one at a time, until it closes), if the caller may see it. */
    async refundRequestOf(auth: AuthContext, orderId: string): Promise<{ number: string; status: string } | null> {
      const claim = await SupportOrderClaim.findById(orderId).lean();
      if (!claim || (!isSupportRole(auth.role) && claim.partnerId !== auth.partnerId)) return null;
      const t = await SupportTicket.findById(claim.ticketId, { status: 1 }).lean();
      return t ? { number: claim.ticketId, status: t.status } : null;
    },

    async file(auth: AuthContext, input: FileInput, idempotencyKey: string) {
      const requestId = currentRequestId();
      const partnerId = auth.partnerId!;
      // the body's meaning, not its key order; a key recorded before keys were sorted still matches its own body
      const requestHash = crypto.createHash('sha256').update(stableStringify(input)).digest('hex');
      const sameRequest = (recorded: string) => recorded === requestHash || recorded === crypto.createHash('sha256').update(JSON.stringify(input)).digest('hex');
      const idKey = `${partnerId}:${idempotencyKey}`;
      // a repeat of a filing already recorded answers with its ticket before any check, whatever happened since
      // (its refund may have cancelled the order meanwhile)
      const earlier = await SupportIdempotency.findById(idKey).lean();
      if (earlier && sameRequest(earlier.requestHash) && (await SupportTicket.exists({ _id: earlier.ticketId }))) return { ticket: await view(auth, earlier.ticketId), replayed: true };
      let customer: Awaited<ReturnType<typeof resolveCustomer>>;
      try {
        customer = await resolveCustomer(partnerId, input.customer);
      } catch (e) {
        if (e instanceof AppError && e.status === 404) throw new AppError(422, 'unknown_customer', `body.customer ${JSON.stringify(input.customer)} is not a customer of your partner`, 'body.customer');
        throw e;
      }
      const refundType = isRefundType(input.problemType);
      const orderField = input.orderId ? 'body.orderId' : 'body.subscriptionId';
      const orderRef = input.orderId ?? input.subscriptionId ?? null;
      let order: OrderDoc | null = null;
      if (refundType && !orderRef) throw new AppError(400, 'validation_failed', 'body.orderId is required for a refund request (or body.subscriptionId)', 'body.orderId');
      if (refundType && !input.refund) throw new AppError(400, 'validation_failed', 'body.refund is required for a refund request', 'body.refund');
      // the document's procedure for a refund request: "enter your name, email address, and phone number"
      if (refundType && !input.contact.phone) throw new AppError(400, 'validation_failed', 'body.contact.phone is required for a refund request (a number support can call about the refund)', 'body.contact.phone');
      // a refund asked for under another problem type would be dropped without a word: refused instead
      if (!refundType && input.refund) throw new AppError(400, 'validation_failed', `body.refund is only for a refund request (problemType "${PROBLEM_TYPES[0]}")`, 'body.refund');
      if (orderRef) {
        // its csp-desk id, or the original id of a purchase this partner imported
        order = await findPartnerOrder(partnerId, orderRef);
        if (!order) throw new AppError(422, 'unknown_order', `${orderField} ${JSON.stringify(orderRef)} is not an order of your partner`, orderField);
        if (order.customerId !== customer._id) throw new AppError(422, 'order_customer_mismatch', `${orderField} ${JSON.stringify(orderRef)} is not an order of customer ${customer.name}`, orderField);
        // the subscription of an order is the order itself: both given, they must name the same order (either by
        // either of its ids), or the ticket would show a subscription nobody checked
        if (input.orderId && input.subscriptionId && input.subscriptionId !== input.orderId && (await findPartnerOrder(partnerId, input.subscriptionId))?._id !== order._id) {
          throw new AppError(422, 'subscription_order_mismatch', `body.subscriptionId ${JSON.stringify(input.subscriptionId)} is not the order body.orderId ${JSON.stringify(input.orderId)} names: a subscription's id is its order's; give one of them`, 'body.subscriptionId');
        }
      }
      if (refundType && order && input.refund) {
        if (order.status === 'cancelled') throw new AppError(409, 'order_already_cancelled', `order ${order._id} is already cancelled`, orderField);
        const credits = await LedgerLine.find({ orderId: order._id, kind: 'credit' }).lean();
        const credited = credits.reduce((s, l) => s + Math.abs(l.amount), 0);
        const refusal = checkRefundRequest({ total: order.pricing.total, currency: order.pricing.currency, creditedAmount: credited, cancellationMode: order.product.cancellation.mode }, input.refund.amount, input.refund.currency, orderField);
        if (refusal) throw new AppError(422, refusal.code, refusal.message, refusal.field);
      }

      // the hour's limit, once the request is known to be good (none for the demo seed: settings.filingsPerHour null).
      // The key's slot goes back only when this send took it, was refused (4xx), and no ticket is recorded under the
      // key (another send of it, at once, may have filed with this slot). Whatever else happens it stays, under the
      // key: a 5xx may have filed it, and the key's other sends (at once, or its retry) share it.
      const slot = settings.filingsPerHour === null ? null : await takeFilingSlot(auth, idKey, settings.filingsPerHour);
      try {
        return await fileChecked();
      } catch (e) {
        if (slot?.fresh && e instanceof AppError && e.status < 500) await giveBackFilingSlot(slot.id, idKey).catch(() => undefined);
        throw e;
      }

      // (the filing itself, once the request is checked and its slot taken)
      async function fileChecked() {
        let replayed = false;
        // the key's record: this request's own, or an earlier one of the same key (a refused request of the same key
        // may remove its record between another's insert and read: then a few more rounds)
        let recorded: SupportIdempotencyDoc | null = null;
        for (let round = 0; round < 5 && !recorded; round++) {
          recorded = await SupportIdempotency.findById(idKey).lean<SupportIdempotencyDoc>();
          if (recorded) {
            replayed = true;
            break;
          }
          const reserved = await reserveNumber(partnerId);
          const fresh = { _id: idKey, requestHash, ticketId: reserved, createdAt: new Date() };
          if (await insertOnce(() => SupportIdempotency.create(fresh))) recorded = fresh;
        }
        if (!recorded) throw new Error(`the Idempotency-Key record ${idKey} kept changing; try again`);
        const number = recorded.ticketId;
        if (replayed) {
          if (!sameRequest(recorded.requestHash)) throw new AppError(422, 'idempotency_key_reused', 'this Idempotency-Key was used for a different support request; use a new key', 'header.idempotency-key');
          if (await SupportTicket.exists({ _id: number })) return { ticket: await view(auth, number), replayed };
          // the key's earlier request did not get as far as the ticket (answered 503): this one files it, no replay
          replayed = false;
        }
        if (refundType && order) {
          try {
            await claimOrder(order._id, number, partnerId);
          } catch (e) {
            // refused (another open refund request holds the order): nothing is filed, so the key is left free for
            // the request corrected. Had a concurrent request with this key claimed the order meanwhile, the key
            // stays its own.
            if (e instanceof AppError && e.status < 500) {
              await SupportIdempotency.deleteOne({ _id: idKey, ticketId: number });
              if (await SupportOrderClaim.exists({ _id: order._id, ticketId: number })) await insertOnce(() => SupportIdempotency.create({ _id: idKey, requestHash, ticketId: number, createdAt: new Date() }));
            }
            throw e;
          }
        }
        const actor = actorOf(auth);
        await startTicket({
          number,
          partnerId,
          problemType: input.problemType,
          impact: input.impact,
          title: input.title.trim(),
          description: input.description ?? '',
          customer: { id: customer._id, name: customer.name, tenantId: customer.tenantId, domain: customer.domain },
          orderId: order?._id ?? null,
          // (an order imported before its original id was kept has none apart from its own id: said once)
          originalOrderId: order?.originalOrderId ?? null,
          subscriptionId: input.subscriptionId ?? null,
          refund: refundType && input.refund ? { reason: input.refund.reason, amount: input.refund.amount, currency: input.refund.currency } : null,
          contact: { name: input.contact.name, email: input.contact.email, phone: input.contact.phone ?? null },
          filedBy: actor,
          filedAt: clock().toISOString(),
          requestId,
          policy: settings.policy,
          rules: settings.rules,
        });
        return { ticket: await view(auth, number), replayed };
      }
    },

    async list(auth: AuthContext, q: QueueQuery) {
      const filter: QueueFilter = {};
      if (!isSupportRole(auth.role)) filter.partnerId = auth.partnerId!;
      if (q.status) filter.statuses = [...new Set(q.status.split(','))] as TicketStatus[];
      if (q.impact) filter.impact = q.impact;
      if (q.assignee) filter.assigneeId = q.assignee === 'none' ? null : q.assignee === 'me' ? auth.user._id : q.assignee;
      if (q.escalated !== undefined) filter.escalated = q.escalated;
      if (q.atRisk !== undefined) filter.atRisk = q.atRisk;
      if (q.text) filter.text = q.text;
      let after: string | null = null;
      if (q.cursor) {
        after = Buffer.from(q.cursor, 'base64url').toString('utf8');
        if (!QUEUE_KEY_PATTERN.test(after) || (after[0] !== '~' && Number.isNaN(Date.parse(after.slice(0, 24))))) throw new AppError(400, 'validation_failed', 'query.cursor is not a cursor of this queue', 'query.cursor');
      }
      const { rows, more } = await readQueuePage(filter, after, q.limit ?? 25, clock());
      const names = await partnerNames(rows.map((r) => r.partnerId));
      return {
        items: rows.map((r) => ticketSummary(r, names.get(r.partnerId))),
        nextCursor: more ? Buffer.from(rows[rows.length - 1].queueKey, 'utf8').toString('base64url') : null,
      };
    },

    async reply(auth: AuthContext, ref: string, body: string, internal: boolean, updateId?: string, seenSeq?: number) {
      const t = await loadTicket(auth, ref);
      const support = isSupportRole(auth.role);
      if (internal && !support) throw new AppError(403, 'not_allowed_for_role', 'only support agents can add internal notes', 'body.internal');
      const action: TicketAction = support ? (internal ? 'note' : 'reply') : 'partner-reply';
      return command(auth, t, { action, body, seenSeq }, updateId);
    },

    /** `input.seenSeq`: the last timeline entry the caller saw (refused as `ticket_changed` if others added since). */
    async act(auth: AuthContext, ref: string, action: Exclude<TicketAction, 'reply' | 'note' | 'partner-reply' | 'assign' | 'attach'>, input: { body?: string; amount?: number; reason?: string; seenSeq?: number }, updateId?: string) {
      const t = await loadTicket(auth, ref);
      if (action === 'approve' && input.amount !== undefined && t.refund && input.amount > t.refund.amount) {
        throw new AppError(422, 'amount_above_requested', `body.amount exceeds the amount requested (${formatMinor(t.refund.amount, minorDigits(t.refund.currency))} ${t.refund.currency})`, 'body.amount');
      }
      return command(auth, t, { action, body: input.body, amount: input.amount, reason: input.reason, seenSeq: input.seenSeq }, updateId);
    },

    /**
     * Puts a stored attachment on the ticket's timeline ("attached", public), once: the Update id is
     * `<ticket>:attach:<slot>`, so an upload replayed (the same bytes) or retried after a crash records no second event.
     */
    async attach(auth: AuthContext, ref: string, attachment: SupportAttachmentFact): Promise<void> {
      const t = await loadTicket(auth, ref);
      await send(auth, t, { action: 'attach', attachment }, `${t._id}:attach:${attachment.id}`);
    },

    async assign(auth: AuthContext, ref: string, assigneeId: string | undefined, body: string | undefined, updateId?: string, seenSeq?: number) {
      const t = await loadTicket(auth, ref);
      const user = assigneeId ? await User.findById(assigneeId).lean() : auth.user;
      if (!user) throw new AppError(422, 'unknown_user', `body.assigneeId ${JSON.stringify(assigneeId)} is not a user`, 'body.assigneeId');
      if (!isSupportRole(user.role)) throw new AppError(422, 'assignee_not_agent', `body.assigneeId ${JSON.stringify(assigneeId)} is not a support agent or lead`, 'body.assigneeId');
      if (isDisabled(user)) throw new AppError(422, 'assignee_disabled', `body.assigneeId ${JSON.stringify(assigneeId)} is a disabled user`, 'body.assigneeId');
      const assignee: TicketActor = { kind: actorKindOf(user.role), userId: user._id, name: user.name, email: user.email, role: user.role };
      return command(auth, t, { action: 'assign', assignee, body, seenSeq }, updateId);
    },
  };
}

export type SupportService = ReturnType<typeof createSupportService>;
