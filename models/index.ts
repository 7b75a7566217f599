/**
 * Mongoose models. The data rule (README, "Data design"): a document that changes has one writer at a
 * time (its entity's workflow, through activities); facts that many actors add are documents of their
 * own whose `_id` is a natural key, so a retry or a race inserts them once (E11000 for the loser).
 */
import { Schema, model } from 'mongoose';
import type { OrderStatus, OrderPricing, OrderProductSnapshot, OrderCustomerSnapshot, OrderActor, TaxLine } from '../domain/orders';
import type { Product as CatalogProduct } from '../domain/catalog';
import type { CancellationCredit } from '../domain/cancellation';

const mixed = Schema.Types.Mixed;

export interface PartnerDoc {
  _id: string;
  name: string;
  email: string;
  createdAt: Date;
}
export const Partner = model<PartnerDoc>(
  'Partner',
  new Schema<PartnerDoc>({ _id: String, name: { type: String, required: true }, email: { type: String, required: true }, createdAt: { type: Date, required: true } }, { versionKey: false }),
  'partners',
);

export interface UserDoc {
  _id: string;
  /** null for the support organisation's people */
  partnerId: string | null;
  name: string;
  email: string;
  role: string;
  createdAt: Date;
}
const userSchema = new Schema<UserDoc>(
  { _id: String, partnerId: { type: String, default: null }, name: { type: String, required: true }, email: { type: String, required: true }, role: { type: String, required: true }, createdAt: { type: Date, required: true } },
  { versionKey: false },
);
userSchema.index({ email: 1 }, { unique: true });
export const User = model<UserDoc>('User', userSchema, 'users');

export interface ApiTokenDoc {
  /** sha256 of the token, hex: the token itself is never stored */
  _id: string;
  userId: string;
  label: string;
  createdAt: Date;
}
export const ApiToken = model<ApiTokenDoc>(
  'ApiToken',
  new Schema<ApiTokenDoc>({ _id: String, userId: { type: String, required: true, index: true }, label: { type: String, required: true }, createdAt: { type: Date, required: true } }, { versionKey: false }),
  'apitokens',
);

export interface CustomerDoc {
  _id: string;
  partnerId: string;
  name: string;
  /** lower-cased name, unique per partner, so a partner can name a customer by it */
  nameKey: string;
  tenantId: string;
  domain: string;
  market: string;
  createdAt: Date;
}
const customerSchema = new Schema<CustomerDoc>(
  {
    _id: String,
    partnerId: { type: String, required: true },
    name: { type: String, required: true },
    nameKey: { type: String, required: true },
    tenantId: { type: String, required: true },
    domain: { type: String, required: true },
    market: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);
customerSchema.index({ partnerId: 1, tenantId: 1 }, { unique: true });
customerSchema.index({ partnerId: 1, domain: 1 }, { unique: true });
customerSchema.index({ partnerId: 1, nameKey: 1 }, { unique: true });
export const Customer = model<CustomerDoc>('Customer', customerSchema, 'customers');

export type ProductDoc = Omit<CatalogProduct, 'id'> & { _id: string };
export const Product = model<ProductDoc>(
  'Product',
  new Schema<ProductDoc>(
    { _id: String, name: { type: String, required: true }, kind: { type: String, required: true }, billing: { type: mixed, required: true }, cancellation: { type: mixed, required: true }, deliverable: { type: String, required: true }, prices: { type: mixed, required: true }, downloads: { type: mixed, default: null } },
    { versionKey: false, minimize: false },
  ),
  'products',
);

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

export interface ActivationKeyDoc {
  /** `${orderId}:${n}` */
  _id: string;
  orderId: string;
  partnerId: string;
  customerId: string;
  productId: string;
  key: string;
  activations: number;
  status: 'active' | 'revoked';
  createdAt: Date;
  revokedAt: Date | null;
}
const keySchema = new Schema<ActivationKeyDoc>(
  {
    _id: String,
    orderId: { type: String, required: true, index: true },
    partnerId: { type: String, required: true },
    customerId: { type: String, required: true },
    productId: { type: String, required: true },
    key: { type: String, required: true },
    activations: { type: Number, required: true },
    status: { type: String, required: true },
    createdAt: { type: Date, required: true },
    revokedAt: { type: Date, default: null },
  },
  { versionKey: false },
);
export const ActivationKey = model<ActivationKeyDoc>('ActivationKey', keySchema, 'activationkeys');

/** A download link of an order's software; revoked with the order. */
export interface DownloadLinkDoc {
  _id: string;
  orderId: string;
  partnerId: string;
  status: 'active' | 'revoked';
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}
export const DownloadLink = model<DownloadLinkDoc>(
  'DownloadLink',
  new Schema<DownloadLinkDoc>(
    { _id: String, orderId: { type: String, required: true, index: true }, partnerId: { type: String, required: true }, status: { type: String, required: true }, createdAt: { type: Date, required: true }, expiresAt: { type: Date, required: true }, revokedAt: { type: Date, default: null } },
    { versionKey: false },
  ),
  'downloadlinks',
);

/** Invoice lines: `_id` = `${orderId}:charge` or `${orderId}:credit`, so each lands once. */
export interface LedgerLineDoc {
  _id: string;
  partnerId: string;
  orderId: string;
  customerId: string;
  customerName: string;
  productName: string;
  kind: 'charge' | 'credit';
  /** signed minor units: charges positive, credits negative */
  amount: number;
  currency: string;
  tax: TaxLine;
  invoiceMonth: string;
  at: Date;
  description: string;
}
const ledgerSchema = new Schema<LedgerLineDoc>(
  {
    _id: String,
    partnerId: { type: String, required: true },
    orderId: { type: String, required: true },
    customerId: { type: String, required: true },
    customerName: { type: String, required: true },
    productName: { type: String, required: true },
    kind: { type: String, required: true },
    amount: { type: Number, required: true },
    currency: { type: String, required: true },
    tax: { type: mixed, required: true },
    invoiceMonth: { type: String, required: true },
    at: { type: Date, required: true },
    description: { type: String, required: true },
  },
  { versionKey: false, minimize: false },
);
ledgerSchema.index({ partnerId: 1, invoiceMonth: 1, at: 1 });
export const LedgerLine = model<LedgerLineDoc>('LedgerLine', ledgerSchema, 'ledgerlines');

/** A closed month: written once by the invoice-close workflow. */
export interface InvoiceDoc {
  /** `${partnerId}:${month}` */
  _id: string;
  partnerId: string;
  month: string;
  closedAt: Date;
  totals: unknown;
  /** the ledger lines this invoice billed, as they were at the close */
  lines: unknown[];
}
export const Invoice = model<InvoiceDoc>(
  'Invoice',
  new Schema<InvoiceDoc>({ _id: String, partnerId: { type: String, required: true }, month: { type: String, required: true }, closedAt: { type: Date, required: true }, totals: { type: mixed, required: true }, lines: { type: [mixed], default: [] } }, { versionKey: false, minimize: false }),
  'invoices',
);

/** One per email the system decides to send: `_id` is the business key (e.g. `order:X:confirmation`). */
export interface EmailDoc {
  _id: string;
  messageId: string;
  template: string;
  to: string[];
  subject: string;
  status: 'sending' | 'sent';
  createdAt: Date;
  sentAt: Date | null;
}
export const EmailRecord = model<EmailDoc>(
  'EmailRecord',
  new Schema<EmailDoc>(
    { _id: String, messageId: { type: String, required: true }, template: { type: String, required: true }, to: { type: [String], required: true }, subject: { type: String, required: true }, status: { type: String, required: true }, createdAt: { type: Date, required: true }, sentAt: { type: Date, default: null } },
    { versionKey: false },
  ),
  'emails',
);

export const models = { Partner, User, ApiToken, Customer, Product, IdempotencyRecord, Order, OrderEvent, ActivationKey, DownloadLink, LedgerLine, Invoice, EmailRecord };
