/**
 * The order domain's contract, imported by the API, the worker and the workflows alike:
 * workflow ids, message names and their payload types exist once, here.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { CancellationCredit } from '../domain/cancellation';
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
}
export interface CancelOrderResult {
  orderId: string;
  status: 'cancelled';
  cancelledAt: string;
  credit: CancellationCredit;
}
/** Cancels the order; its validator refuses (with the domain's reason code as failure type) what is not allowed. */
export const cancelOrderUpdate = defineUpdate<CancelOrderResult, [CancelOrderRequest]>('cancelOrder');

export const orderStateQuery = defineQuery<OrderWorkflowState>('orderState');

/** Email kinds the order workflow sends, each at most once per order. */
export type OrderEmailKind = 'confirmation' | 'reminder' | 'cancellation';
