/** The product catalog in the database, seeded from domain/catalog.ts. */
import { CATALOG } from '../domain/catalog';
import { Product, type ProductDoc } from '../models';

/** Inserts the catalog's products that are missing (idempotent; prices of existing products are kept, download options refreshed). */
export async function seedCatalog(): Promise<number> {
  let added = 0;
  for (const p of CATALOG) {
    const { downloads, ...rest } = p;
    // the download options describe the files this code serves, so they follow the code
    const res = await Product.updateOne({ _id: p.id }, { $setOnInsert: { ...rest, _id: p.id }, $set: { downloads } }, { upsert: true });
    added += res.upsertedCount;
  }
  return added;
}

export async function listProducts(): Promise<ProductDoc[]> {
  return Product.find().sort({ _id: 1 }).lean();
}

export async function getProduct(id: string): Promise<ProductDoc | null> {
  return Product.findById(id).lean();
}

export function productView(p: ProductDoc) {
  return { id: p._id, name: p.name, kind: p.kind, billing: p.billing, cancellation: p.cancellation, deliverable: p.deliverable, prices: p.prices, downloads: p.downloads ?? null };
}
