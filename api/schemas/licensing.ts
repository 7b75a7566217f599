/** Schemas of the software list (keys and downloads). */
import { ORDER_STATUSES } from '../../domain/orders';
import { dateTime, int, nullable, obj, str, type S } from './common';
import { productSchema } from './catalog';

export const softwareItemSchema = obj({
  orderId: str(),
  productId: str(),
  productName: str(),
  status: str({ enum: [...ORDER_STATUSES] }),
  purchasedAt: dateTime,
  quantity: int(),
  activationKey: nullable(str({ description: 'null unless the order is active (none once cancelled or expired) and for products without keys' })),
  downloads: productSchema.properties ? (productSchema.properties as Record<string, S>).downloads : {},
});

