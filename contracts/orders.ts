/**
 * The order domain's contract, imported by the API, the worker and the workflows alike:
 * workflow ids, message names and their payload types exist once, here.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { CancellationCredit } from '../domain/cancellation';
import type { Money } from '../domain/money';
import type { OrderActor, OrderStatus, RequestOrigin } from '../domain/orders';

/** Business id = workflow id: one workflow per order, a duplicate start is refused. */
export const orderWorkflowId = (orderId: string): string => `order:${orderId}`;

/** Stages of an order's placement, in order. */
export const ORDER_STAGES = ['recorded', 'paid', 'provisioned', 'confirmed'] as const;
export type OrderStage = (typeof ORDER_STAGES)[number];

export interface OrderWorkflowState {
  orderId: string;
  status: OrderStatus;
  stage: OrderStage | null;
  windowClosed: boolean;
  termEnded: boolean;
  cancelling: boolean;
}

/** Answers once the order reached a stage (update-with-start uses 'recorded'). */
export const waitForStageUpdate = defineUpdate<OrderWorkflowState, [OrderStage]>('waitForStage');

export interface CancelOrderRequest {
  actor: OrderActor;
  requestId: string;
  /** where the request came from, for the activity log */
  origin?: RequestOrigin | null;
  /** when the API received it (ISO): the instant the cancellation is judged and dated at (domain/cancellation.ts cancellationInstant) */
  requestedAt?: string;
}
export interface CancelOrderResult {
  orderId: string;
  status: 'cancelled';
  cancelledAt: string;
  credit: CancellationCredit;
}
/** Cancels the order; its validator refuses (with the domain's reason code as failure type) what is not allowed. */
export const cancelOrderUpdate = defineUpdate<CancelOrderResult, [CancelOrderRequest]>('cancelOrder');

/**
 * A support refund: a ticket's approval cancels the order, revokes its keys and links and credits the
 * approved amount on the next invoice. Sent as an Update to the order's running workflow; once that has
 * ended, a short-lived refund workflow (`order-refund:<orderId>`) is the order's writer and does the same.
 */
export interface SupportRefundRequest {
  /** the ticket number: a repeat from the same ticket answers with what was done */
  ticket: string;
  amount: Money;
  actor: OrderActor;
  requestId: string;
}
export interface SupportRefundResult {
  orderId: string;
  ticket: string;
  status: 'cancelled';
  cancelledAt: string;
  credit: CancellationCredit;
  invoiceMonth: string;
}
export const supportRefundUpdate = defineUpdate<SupportRefundResult, [SupportRefundRequest]>('supportRefund');
export const orderRefundWorkflowId = (orderId: string): string => `order-refund:${orderId}`;
/**
 * The refund workflow's answer once the refund is recorded (the credit written, the order cancelled), before its
 * email goes: the ticket that asked for it does not wait on the SMTP server.
 */
export const refundRecordedUpdate = defineUpdate<SupportRefundResult>('refundRecorded');

export const orderStateQuery = defineQuery<OrderWorkflowState>('orderState');

/** Email kinds the order workflow sends, each at most once per order. */
export type OrderEmailKind = 'confirmation' | 'reminder' | 'cancellation';
