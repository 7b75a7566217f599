/** A customer's software list: every order, cancelled ones included, with its key while it is valid. */
import { ActivationKey, Order, Product, type OrderDoc } from '../models';

export async function listSoftware(partnerId: string, customerId: string) {
  const orders = await Order.find({ partnerId, customerId }).sort({ purchasedAt: -1, _id: 1 }).lean<OrderDoc[]>();
  const ids = orders.map((o) => o._id);
  const [keys, products] = await Promise.all([
    ActivationKey.find({ orderId: { $in: ids }, status: 'active' }).lean(),
    Product.find({ _id: { $in: [...new Set(orders.map((o) => o.product.id))] } }).lean(),
  ]);
  const keyOf = new Map(keys.map((k) => [k.orderId, k.key]));
  const downloadsOf = new Map(products.map((p) => [p._id, p.downloads ?? null]));
  return orders.map((o) => ({
    orderId: o._id,
    productId: o.product.id,
    productName: o.product.name,
    status: o.status,
    purchasedAt: o.purchasedAt.toISOString(),
    quantity: o.pricing.quantity,
    // keys are usable only while the order is active: none once cancelled or expired
    activationKey: o.status === 'active' ? (keyOf.get(o._id) ?? null) : null,
    downloads: o.status === 'cancelled' ? null : (downloadsOf.get(o.product.id) ?? null),
  }));
}
