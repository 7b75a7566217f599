/** The facts of an order that never change once it is placed, and its life's states. */
import type { Product } from './catalog';

export const ORDER_STATUSES = ['pending', 'active', 'cancelled', 'expired'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const TAX_TREATMENTS = ['inclusive', 'exclusive'] as const;

export interface TaxLine {
  /** prices include tax (Australia, Brazil) or exclude it (everywhere else) */
  treatment: (typeof TAX_TREATMENTS)[number];
  /** the rate in basis points where tax is included */
  rateBps: number | null;
  /** the tax portion of the amount, where tax is included; null where it is excluded */
  amount: number | null;
}

export interface OrderPricing {
  currency: string;
  unitPrice: number;
  quantity: number;
  total: number;
  tax: TaxLine;
}

/** The product as it was when ordered: its policy travels with the order. */
export type OrderProductSnapshot = Pick<Product, 'id' | 'name' | 'kind' | 'billing' | 'cancellation' | 'deliverable'>;

export interface OrderCustomerSnapshot {
  id: string;
  name: string;
  tenantId: string;
  domain: string;
  market: string;
}

export interface OrderActor {
  userId: string;
  name: string;
  email: string;
  role: string;
}

/** Input of the order workflow: everything it needs, decided once by the API. */
export interface OrderTerms {
  orderId: string;
  partnerId: string;
  customer: OrderCustomerSnapshot;
  product: OrderProductSnapshot;
  pricing: OrderPricing;
  /** ISO instant; for imported orders the original purchase date */
  purchasedAt: string;
  imported: boolean;
  placedBy: OrderActor;
  /** where the partner's notices go (confirmation, reminder, cancellation) */
  notify: string[];
  reminderDaysBeforeClose: number;
  requestId: string;
  /** where the placing request came from, for the activity log */
  origin?: RequestOrigin | null;
}

/** The address and user agent of a request, for the activity log. */
export interface RequestOrigin {
  ip: string | null;
  userAgent: string | null;
}
