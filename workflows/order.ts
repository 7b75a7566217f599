/**
 * One workflow per order (id `order:<orderId>`): payment, provisioning, confirmation, the cancellation
 * window as a durable timer with a reminder before it closes, and for subscriptions the end of the term.
 * Cancellation is an Update whose validator applies the domain's rule at workflow time, so a refused
 * request never enters the history. Every side effect is an activity (placement's three writes are local
 * activities: they take milliseconds, and running them in the worker's workflow task saves the server three
 * activity tasks and the workflow tasks between them, per order).
 */
import { ApplicationFailure, condition, log, patched, proxyActivities, setHandler, allHandlersFinished } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  cancelOrderUpdate,
  orderStateQuery,
  supportRefundUpdate,
  refundRecordedUpdate,
  waitForStageUpdate,
  ORDER_STAGES,
  type CancelOrderRequest,
  type CancelOrderResult,
  type OrderStage,
  type OrderWorkflowState,
  type SupportRefundRequest,
  type SupportRefundResult,
} from '../contracts/orders';
import type { OrderStatus, OrderTerms } from '../domain/orders';
import { assessCancellation, assessSupportRefund, CANCEL_REQUEST_GRACE_MS, cancellationCredit, cancellationInstant, supportRefundCredit, termEnd, windowEnd, type CancellationCredit, type SupportRefundAssessment } from '../domain/cancellation';
import { DAY_MS } from '../domain/time';
import { DATABASE_ACTIVITY, EMAIL_ACTIVITY } from './activity-options';
import { databaseWrites } from './local-writes';

const acts = proxyActivities<Activities>(DATABASE_ACTIVITY);
const mail = proxyActivities<Activities>(EMAIL_ACTIVITY);

/** Patch id: placement's three writes are local activities (orders placed before replay as they ran). */
const LOCAL_PLACEMENT = 'order-placement-local-activities';
/** Patch id: an order already inside its reminder period when it starts (imported late) is reminded at once. */
const LATE_REMINDER = 'order-late-reminder';
/** Patch id: an imported order is cancelled through support only (orders cancelled by their partner before replay as they ran). */
const IMPORTED_VIA_SUPPORT = 'order-imported-cancelled-via-support';
/**
 * Patch id: a cancellation is judged and dated at the instant the API received it (cancellationInstant), and the
 * window is recorded closed only CANCEL_REQUEST_GRACE_MS after its end, so that a request sent in time and taken up
 * late is not refused (older histories: judged when taken up, the window closed at its end).
 */
const CANCEL_AT_REQUEST = 'order-cancel-at-request';

export interface OrderOutcome {
  orderId: string;
  status: OrderStatus;
}

const now = () => new Date(Date.now());

export async function orderWorkflow(terms: OrderTerms): Promise<OrderOutcome> {
  const { orderId } = terms;
  let status: OrderStatus = 'pending';
  let stage: OrderStage | null = null;
  let windowClosed = false;
  let termEnded = false;
  let cancelling = false;

  /**
   * One writer: every activity that writes the order, its keys and links runs through this queue, one after
   * another, whether the main line (window, term) or an Update handler (cancellation, support refund) asks for
   * it. Emails write none of those and stay out of it, so a slow SMTP server never holds up a cancellation.
   */
  let queue: Promise<unknown> = Promise.resolve();
  function serially<T>(fn: () => Promise<T>): Promise<T> {
    const p = queue.then(fn);
    queue = p.catch(() => undefined);
    return p;
  }

  const state = (): OrderWorkflowState => ({ orderId, status, stage, windowClosed, termEnded, cancelling });
  const reached = (s: OrderStage) => stage !== null && ORDER_STAGES.indexOf(stage) >= ORDER_STAGES.indexOf(s);
  // `importedRule`: the rule that an imported order is cancelled through support; the validator always applies it
  // (validators do not run on replay), the handler behind its patch
  const assess = (importedRule: boolean, at: Date) =>
    assessCancellation({ status: cancelling ? 'cancelled' : status, purchasedAt: terms.purchasedAt, product: terms.product, pricing: terms.pricing, imported: importedRule && terms.imported }, at);

  setHandler(orderStateQuery, state);
  setHandler(waitForStageUpdate, async (s) => {
    await condition(() => reached(s) || status === 'cancelled');
    return state();
  });
  /**
   * Records a cancellation (keys and links revoked, the credit, the order cancelled) and answers: the email
   * follows from the workflow's main line, durably and once, after the confirmation of a charged order.
   * A cancellation during placement waits for placement to finish, so it revokes what was made; it does not wait
   * for the confirmation email, which an SMTP outage may hold up.
   */
  async function cancel(request: CancelOrderRequest, credit: (at: Date) => CancellationCredit, supportTicket?: string, at = now()): Promise<CancelOrderResult & { invoiceMonth: string }> {
    cancelling = true;
    log.info('cancelling order', { orderId, requestId: request.requestId, by: request.actor.userId, supportTicket });
    // what it revokes is made by then; the confirmation email may still be on its way (it goes first, then this
    // one's). No patch: the commands come in the same order as when this waited for the confirmation (a history
    // recorded then replays, test/fixtures/order-history-cancelled-during-confirmation.json)
    await condition(() => reached('provisioned'));
    const c = credit(at);
    // the keys and links are revoked when this writes, and say so: a cancellation dated at its request (up to
    // CANCEL_REQUEST_GRACE_MS earlier) must not date their revocation before downloads it did not stop (review)
    const revokedAt = now().toISOString();
    const { invoiceMonth } = await serially(() => acts.recordCancellation({ orderId, at: at.toISOString(), revokedAt, by: request.actor, credit: c, requestId: request.requestId, supportTicket, origin: request.origin ?? null }));
    status = 'cancelled';
    return { orderId, status: 'cancelled', cancelledAt: at.toISOString(), credit: c, invoiceMonth };
  }

  /**
   * The support path: a ticket's approval cancels the order and credits the approved amount, through the same
   * internal cancel path. A repeat from the same ticket answers with what was done; any other ticket or a
   * cancelled order is refused by the validator (assessSupportRefund), before anything is recorded.
   */
  let refundedBy: string | null = null;
  let refundResult: SupportRefundResult | null = null;
  const assessRefund = (request: SupportRefundRequest): SupportRefundAssessment =>
    assessSupportRefund({ status: cancelling ? 'cancelled' : status, product: terms.product, pricing: terms.pricing }, request.amount, { number: request.ticket, refundedBy });
  setHandler(
    supportRefundUpdate,
    async (request): Promise<SupportRefundResult> => {
      if (refundedBy === request.ticket) {
        await condition(() => refundResult !== null);
        return refundResult!;
      }
      const verdict = assessRefund(request);
      if (!verdict.allowed) throw supportRefusal(verdict);
      refundedBy = request.ticket;
      const r = await cancel({ actor: request.actor, requestId: request.requestId }, () => supportRefundCredit(terms, request.amount.amount), request.ticket);
      refundResult = { orderId, ticket: request.ticket, status: 'cancelled', cancelledAt: r.cancelledAt, credit: r.credit, invoiceMonth: r.invoiceMonth };
      return refundResult;
    },
    {
      validator: (request) => {
        const verdict = assessRefund(request);
        if (!verdict.allowed) throw supportRefusal(verdict);
      },
    },
  );

  setHandler(
    cancelOrderUpdate,
    async (request): Promise<CancelOrderResult> => {
      // the validator's verdict, taken again now that the update runs (the one authority on the rule), at the
      // instant the request came in (histories from before: when the workflow took it up)
      const at = patched(CANCEL_AT_REQUEST) ? cancellationInstant(request.requestedAt, now()) : now();
      const verdict = assess(!terms.imported || patched(IMPORTED_VIA_SUPPORT), at);
      if (!verdict.cancellable) throw refusal(verdict);
      const { invoiceMonth: _month, ...result } = await cancel(request, (when) => cancellationCredit({ status, purchasedAt: terms.purchasedAt, product: terms.product, pricing: terms.pricing }, when), undefined, at);
      return result;
    },
    {
      validator: (request) => {
        const verdict = assess(true, cancellationInstant(request.requestedAt, now()));
        if (!verdict.cancellable) throw refusal(verdict);
      },
    },
  );

  // Placement: three short writes, run in the worker that holds the workflow task (workflows/local-writes.ts)
  const writes = databaseWrites(patched(LOCAL_PLACEMENT), { orderId });
  const place = <T>(write: (a: Activities) => Promise<T>): Promise<T> => serially(() => writes(write));
  await place((a) => a.recordOrder(terms));
  stage = 'recorded';
  await place((a) => a.recordPayment(orderId, terms.purchasedAt));
  stage = 'paid';
  const provisionedAt = now().toISOString();
  await place((a) => a.provisionOrder(orderId, provisionedAt));
  if (!cancelling) status = 'active';
  stage = 'provisioned';
  // every charged order gets its confirmation, whatever the timing of a cancellation (whose email comes after)
  if (!terms.imported) await mail.sendOrderEmail(orderId, 'confirmation');
  stage = 'confirmed';

  // The cancellation window, with a reminder before it closes
  const closesAt = windowEnd(terms);
  if (closesAt) {
    const remindAt = closesAt.getTime() - terms.reminderDaysBeforeClose * DAY_MS;
    if (terms.reminderDaysBeforeClose > 0 && Date.now() < remindAt) {
      await condition(() => cancelling, remindAt - Date.now());
      if (!cancelling) await mail.sendOrderEmail(orderId, 'reminder');
    } else if (terms.reminderDaysBeforeClose > 0 && Date.now() < closesAt.getTime() && patched(LATE_REMINDER)) {
      // already inside the reminder period (an order imported late in its window): the reminder goes now
      if (!cancelling) await mail.sendOrderEmail(orderId, 'reminder');
    }
    if (Date.now() < closesAt.getTime()) await condition(() => cancelling, closesAt.getTime() - Date.now());
    // a cancellation that came in before the end may reach this workflow after it (a worker restarting, a busy
    // task queue): the window is recorded closed once no such request can still be on its way
    const graceLeft = closesAt.getTime() + CANCEL_REQUEST_GRACE_MS - Date.now();
    if (!cancelling && graceLeft > 0 && patched(CANCEL_AT_REQUEST)) await condition(() => cancelling, graceLeft);
    if (!cancelling) {
      await serially(() => acts.recordWindowClosed(orderId, closesAt.toISOString()));
      windowClosed = true;
    }
  }

  // The end of a subscription's term
  const endsAt = termEnd(terms);
  if (endsAt && !cancelling) {
    if (Date.now() < endsAt.getTime()) await condition(() => cancelling, endsAt.getTime() - Date.now());
    if (!cancelling) {
      await serially(() => acts.recordTermEnded(orderId, endsAt.toISOString()));
      status = 'expired';
      termEnded = true;
    }
  }

  if (cancelling) {
    await condition(() => status === 'cancelled');
    await mail.sendOrderEmail(orderId, 'cancellation');
  }
  await condition(allHandlersFinished);
  return { orderId, status };
}

function refusal(verdict: ReturnType<typeof assessCancellation>): ApplicationFailure {
  const reason = verdict.reason!;
  return ApplicationFailure.create({ type: reason.code, message: reason.message, nonRetryable: true, details: [verdict] });
}

function supportRefusal(verdict: SupportRefundAssessment): ApplicationFailure {
  const reason = verdict.reason!;
  return ApplicationFailure.create({ type: reason.code, message: reason.message, nonRetryable: true });
}

/**
 * A support refund of an order whose workflow has ended (perpetual software past its window, a subscription
 * past its term): id `order-refund:<orderId>`, one per order, the order's one writer from then on. Writes
 * under the same natural keys as the main workflow (`<order>:credit`, the order's events), so a repeat or a
 * crash between steps records each fact once.
 */
export async function orderRefundWorkflow(request: SupportRefundRequest & { orderId: string }): Promise<SupportRefundResult> {
  const { orderId } = request;
  // the ticket asks for the outcome as soon as it is recorded, not once the email went (refundRecordedUpdate)
  let outcome: SupportRefundResult | ApplicationFailure | null = null;
  setHandler(refundRecordedUpdate, async () => {
    await condition(() => outcome !== null);
    if (outcome instanceof ApplicationFailure) throw outcome;
    return outcome!;
  });
  const order = await acts.loadOrderForRefund(orderId);
  const verdict = assessSupportRefund(order, request.amount, { number: request.ticket, refundedBy: order.refundedBy });
  if (!verdict.allowed) {
    outcome = supportRefusal(verdict);
    await condition(allHandlersFinished);
    throw outcome;
  }
  const at = order.refundedBy === request.ticket && order.cancelledAt ? new Date(order.cancelledAt) : now();
  const credit = supportRefundCredit(order, request.amount.amount);
  const { invoiceMonth } = await acts.recordCancellation({ orderId, at: at.toISOString(), by: request.actor, credit, requestId: request.requestId, supportTicket: request.ticket });
  const result: SupportRefundResult = { orderId, ticket: request.ticket, status: 'cancelled', cancelledAt: at.toISOString(), credit, invoiceMonth };
  outcome = result;
  await mail.sendOrderEmail(orderId, 'cancellation');
  await condition(allHandlersFinished);
  return result;
}
