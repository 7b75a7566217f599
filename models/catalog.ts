/** The product catalog, seeded from domain/catalog.ts. */
import { Schema, model } from 'mongoose';
import type { Product as CatalogProduct } from '../domain/catalog';

const mixed = Schema.Types.Mixed;

export type ProductDoc = Omit<CatalogProduct, 'id'> & { _id: string };
export const Product = model<ProductDoc>(
  'Product',
  new Schema<ProductDoc>(
    { _id: String, name: { type: String, required: true }, kind: { type: String, required: true }, billing: { type: mixed, required: true }, cancellation: { type: mixed, required: true }, deliverable: { type: String, required: true }, prices: { type: mixed, required: true }, downloads: { type: mixed, default: null } },
    { versionKey: false, minimize: false },
  ),
  'products',
);

