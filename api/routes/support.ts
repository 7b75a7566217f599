/**
 * Support request routes: partners file, read, reply to and withdraw their own partner's requests; support
 * agents and leads work the queue. Each action is an Update on the ticket's workflow, which refuses what
 * the ticket's state does not allow (409), what the caller's role may not do (403) or a bad amount (422).
 * Routes under `/support-requests/<word>` (e.g. metrics) must be registered before `/support-requests/{id}`.
 */
import { defineRoute, type RouteDef } from '../http';
import * as S from '../schemas';
import type { RouteDeps } from './deps';
import { TICKET_REFUSALS } from '../../domain/support';
import { SUPPORT_REFUND_REFUSALS } from '../../domain/cancellation';
import { supportRefusalStatus, type SupportService } from '../../services/support';

const idempotencyHeader = S.idempotencyKeyHeader('a client-chosen unique key: a repeated request returns the same support request', true);

const ticketReply = { 200: { description: 'the support request as it now is', schema: S.supportTicketSchema } };
/** An action's answer: the ticket, and with an Idempotency-Key whether the key had come with this request before. */
const actionReply = {
  200: {
    ...ticketReply[200],
    headers: { 'Idempotent-Replayed': '"true" when this Idempotency-Key had come with this same action and was answered before (it is carried out once; the answer is the request as it is now); only with an Idempotency-Key' },
  },
};
const actionAnswer = ({ ticket, replayed }: { ticket: Awaited<ReturnType<SupportService['view']>>; replayed: boolean }, key: string | undefined) => ({
  status: 200,
  body: ticket,
  ...(key ? { headers: { 'Idempotent-Replayed': String(replayed) } } : {}),
});

/**
 * The refusals of the ticket's workflow (and of the order's, for an approval) that an action may answer, by status
 * (supportRefusalStatus): what a client branches on.
 */
const ACTION_CODES = (() => {
  const codes = [...Object.keys(TICKET_REFUSALS), ...Object.keys(SUPPORT_REFUND_REFUSALS), 'refund_unavailable', 'order_missing', 'not_ready', 'unknown_user', 'assignee_disabled'];
  const by: Record<number, string[]> = {};
  for (const c of new Set(codes)) (by[supportRefusalStatus(c)] ??= []).push(c);
  by[422].push('idempotency_key_reused');
  return by;
})();

export function supportRoutes(deps: RouteDeps): RouteDef[] {
  const { support } = deps;
  const action = (
    path: string,
    operationId: string,
    summary: string,
    body: Record<string, unknown>,
    run: (ctx: { auth: Parameters<typeof support.view>[0]; id: string; body: Record<string, never> & Record<string, unknown>; key?: string }) => ReturnType<SupportService['act']>,
    permission: 'workSupportRequests' | 'withdrawSupportRequests' = 'workSupportRequests',
    description?: string,
  ) =>
    defineRoute({
      method: 'post',
      path: `/support-requests/{id}/${path}`,
      operationId,
      summary,
      description,
      tag: 'support',
      permission,
      params: S.supportNumberParam,
      headers: S.commandHeaders,
      body,
      errors: [404, 409, 422],
      errorCodes: ACTION_CODES,
      responses: actionReply,
      handler: async ({ auth, params, body: b, headers }) => actionAnswer(await run({ auth, id: params.id, body: b ?? {}, key: headers['idempotency-key'] }), headers['idempotency-key']),
    });

  return [
    defineRoute({
      method: 'post',
      path: '/support-requests',
      operationId: 'fileSupportRequest',
      summary: 'File a customer support request (refund or general)',
      description:
        'Starts the ticket\'s workflow and answers once it is recorded, with its number, status and SLA due times; the contact gets an acknowledgement. ' +
        'A refund request names the order (or subscription), the reason and the amount (at most what the order cost less credits already given, in its currency). ' +
        '`refund` is only for a refund request (a 400 on a general question); `subscriptionId` beside `orderId` must name the same order (422 `subscription_order_mismatch`). ' +
        'An order with an open refund request, or an already cancelled order, is a 409. A repeated request with the same Idempotency-Key returns the same ticket (the same fields in any key order); a refused request leaves its key free. ' +
        'One user files at most SUPPORT_FILINGS_PER_HOUR requests (30 by default) in a UTC hour: one more is a 429 `filing_rate_limited` with `Retry-After` (the seconds to the next hour) and `details` (`limit`, `resetsAt`, `retryAfterSeconds`); a replay of a filing is not one more.',
      tag: 'support',
      permission: 'fileSupportRequests',
      headers: idempotencyHeader,
      body: S.fileSupportRequestBody,
      errorCodes: { 409: ['open_refund_ticket', 'order_already_cancelled'], 422: ['unknown_customer', 'unknown_order', 'order_customer_mismatch', 'subscription_order_mismatch', 'currency_mismatch', 'amount_too_high', 'never_cancellable', 'idempotency_key_reused'], 429: ['filing_rate_limited'] },
      errors: [409, 422],
      responses: { 201: { description: 'the support request, recorded', schema: S.supportTicketSchema, headers: { Location: 'the request: /support-requests/{number}', 'Idempotent-Replayed': '"true" when this Idempotency-Key had filed it already' } } },
      handler: async ({ auth, body, headers }) => {
        const { ticket, replayed } = await support.file(auth, body, headers['idempotency-key']);
        return { status: 201, body: ticket, headers: { Location: `/support-requests/${ticket.number}`, 'Idempotent-Replayed': String(replayed) } };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/support-requests',
      operationId: 'listSupportRequests',
      summary: 'The support queue, earliest SLA due first',
      description: "Support roles see every request; partners their own partner's. Filters combine; `nextCursor` fetches the next page. Requests without a running SLA clock come last.",
      tag: 'support',
      permission: 'readSupportRequests',
      query: S.supportQueueQuery,
      responses: { 200: { description: 'a page of the queue', schema: S.supportQueueSchema } },
      handler: async ({ auth, query }) => ({ status: 200, body: await support.list(auth, query) }),
    }),
    defineRoute({
      method: 'get',
      path: '/support-requests/{id}',
      operationId: 'getSupportRequest',
      summary: 'A support request with its timeline and SLA clocks',
      description: 'Internal notes and system entries appear for support roles only.',
      tag: 'support',
      permission: 'readSupportRequests',
      params: S.supportNumberParam,
      errors: [404],
      responses: ticketReply,
      handler: async ({ auth, params }) => ({ status: 200, body: await support.view(auth, params.id) }),
    }),
    defineRoute({
      method: 'post',
      path: '/support-requests/{id}/replies',
      operationId: 'replyToSupportRequest',
      summary: 'Reply (partner or agent), or add an internal note (agents: internal=true)',
      description: "An agent's public reply answers the ticket (it stops the response clock); an internal note does not. A partner's reply resumes a ticket waiting on the partner, and reopens a resolved one within the reopen period.",
      tag: 'support',
      permission: 'readSupportRequests',
      params: S.supportNumberParam,
      headers: S.commandHeaders,
      body: S.replyBody,
      errorCodes: ACTION_CODES,
      errors: [404, 409, 422],
      responses: actionReply,
      handler: async ({ auth, params, body, headers }) => actionAnswer(await support.reply(auth, params.id, body.body, body.internal === true, headers['idempotency-key'], body.seenSeq), headers['idempotency-key']),
    }),
    action('withdraw', 'withdrawSupportRequest', 'Withdraw your support request', S.optionalMessageBody, ({ auth, id, body, key }) => support.act(auth, id, 'withdraw', body, key), 'withdrawSupportRequests'),
    action('assign', 'assignSupportRequest', 'Assign to yourself or another agent (reassigning: support leads)', S.assignBody, ({ auth, id, body, key }) =>
      support.assign(auth, id, body.assigneeId as string | undefined, body.body as string | undefined, key, body.seenSeq as number | undefined),
    ),
    action('unassign', 'unassignSupportRequest', 'Put back in the queue: nobody has it any more (the one who has it, or a support lead)', S.optionalMessageBody, ({ auth, id, body, key }) =>
      support.act(auth, id, 'unassign', body, key),
    ),
    action('request-information', 'requestSupportInformation', 'Ask the partner for more information (the ticket waits, its clocks pause)', S.requestInformationBody, ({ auth, id, body, key }) =>
      support.act(auth, id, 'request-information', body, key),
    ),
    action(
      'approve',
      'approveSupportRequest',
      'Approve a refund: cancels the order, revokes its keys and links, credits the amount on the next invoice',
      S.approveBody,
      ({ auth, id, body, key }) => support.act(auth, id, 'approve', body, key),
      'workSupportRequests',
      'The amount defaults to the requested one and cannot exceed it; above the approval limit only a support lead may approve. A product that can never be cancelled (SUSE, Red Hat) or an order cancelled meanwhile makes the approval fail with the reason.',
    ),
    action('reject', 'rejectSupportRequest', 'Reject, with a reason', S.rejectBody, ({ auth, id, body, key }) => support.act(auth, id, 'reject', body, key)),
    action('escalate', 'escalateSupportRequest', 'Escalate by hand (the level rises, leads are told)', S.escalateBody, ({ auth, id, body, key }) => support.act(auth, id, 'escalate', body, key)),
    action('resolve', 'resolveSupportRequest', 'Resolve', S.optionalMessageBody, ({ auth, id, body, key }) => support.act(auth, id, 'resolve', body, key)),
    action('close', 'closeSupportRequest', 'Close', S.optionalMessageBody, ({ auth, id, body, key }) => support.act(auth, id, 'close', body, key)),
  ];
}
