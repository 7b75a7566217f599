/** Orders, their timelines and the idempotency facts of their placement. */
import { Schema, model } from 'mongoose';
import type { OrderStatus, OrderPricing, OrderProductSnapshot, OrderCustomerSnapshot, OrderActor } from '../domain/orders';
import type { CancellationCredit } from '../domain/cancellation';

const mixed = Schema.Types.Mixed;

/** One per (partner, Idempotency-Key): the first request's fingerprint and the order it made. */
export interface IdempotencyDoc {
  /** `${partnerId}:${key}` */
  _id: string;
  partnerId: string;
  requestHash: string;
  orderId: string;
  createdAt: Date;
}
export const IdempotencyRecord = model<IdempotencyDoc>(
  'IdempotencyRecord',
  new Schema<IdempotencyDoc>({ _id: String, partnerId: { type: String, required: true }, requestHash: { type: String, required: true }, orderId: { type: String, required: true }, createdAt: { type: Date, required: true } }, { versionKey: false }),
  'idempotency',
);

export interface OrderCancellationInfo {
  at: Date;
  by: OrderActor;
  credit: CancellationCredit;
  /** the support request whose approval cancelled the order (support refunds only) */
  supportTicket?: string | null;
}

/** Written only by the order's own workflow (its activities, one after another). */
export interface OrderDoc {
  _id: string;
  partnerId: string;
  customerId: string;
  customer: OrderCustomerSnapshot;
  product: OrderProductSnapshot;
  pricing: OrderPricing;
  status: OrderStatus;
  imported: boolean;
  /** an imported order's id before csp-desk; absent on placed orders, and on orders imported before it was kept
   * (their _id is that id: see originalOrderIdOf) */
  originalOrderId?: string;
  /** the import call whose terms started the order's workflow (OrderTerms.importKey); absent on placed orders */
  importKey?: string;
  placedBy: OrderActor;
  /** where the partner's notices about this order go */
  notify: string[];
  purchasedAt: Date;
  windowEndsAt: Date | null;
  termEndsAt: Date | null;
  paidAt: Date | null;
  provisionedAt: Date | null;
  windowClosedAt: Date | null;
  expiredAt: Date | null;
  cancellation: OrderCancellationInfo | null;
  requestId: string;
  createdAt: Date;
}
const orderSchema = new Schema<OrderDoc>(
  {
    _id: String,
    partnerId: { type: String, required: true },
    customerId: { type: String, required: true },
    customer: { type: mixed, required: true },
    product: { type: mixed, required: true },
    pricing: { type: mixed, required: true },
    status: { type: String, required: true },
    imported: { type: Boolean, required: true },
    originalOrderId: { type: String },
    importKey: { type: String },
    placedBy: { type: mixed, required: true },
    notify: { type: [String], required: true },
    purchasedAt: { type: Date, required: true },
    windowEndsAt: { type: Date, default: null },
    termEndsAt: { type: Date, default: null },
    paidAt: { type: Date, default: null },
    provisionedAt: { type: Date, default: null },
    windowClosedAt: { type: Date, default: null },
    expiredAt: { type: Date, default: null },
    cancellation: { type: mixed, default: null },
    requestId: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false, minimize: false },
);
orderSchema.index({ partnerId: 1, customerId: 1, purchasedAt: -1 });
export const Order = model<OrderDoc>('Order', orderSchema, 'orders');

/** The order's timeline: one document per fact, `_id` = `${orderId}:${key}`. */
export interface OrderEventDoc {
  _id: string;
  orderId: string;
  partnerId: string;
  type: string;
  at: Date;
  data: Record<string, unknown>;
}
const orderEventSchema = new Schema<OrderEventDoc>(
  { _id: String, orderId: { type: String, required: true }, partnerId: { type: String, required: true }, type: { type: String, required: true }, at: { type: Date, required: true }, data: { type: mixed, default: {} } },
  { versionKey: false, minimize: false },
);
orderEventSchema.index({ orderId: 1, partnerId: 1, at: 1 });
export const OrderEvent = model<OrderEventDoc>('OrderEvent', orderEventSchema, 'orderevents');

