/** Catalog routes: the products csp-desk sells. */
import { defineRoute, type RouteDef } from '../http';
import * as S from '../schemas';
import { getProduct, listProducts, productView } from '../../services/catalog';
import { notFound } from '../../lib/errors';
import type { RouteDeps } from './deps';

export function catalogRoutes(_deps: RouteDeps): RouteDef[] {
  return [
    defineRoute({
      method: 'get',
      path: '/products',
      operationId: 'listProducts',
      summary: 'List the product catalog',
      tag: 'catalog',
      permission: 'readCatalog',
      responses: { 200: { description: 'the catalog', schema: { type: 'array', items: S.productSchema } } },
      databaseOnly: true,
      handler: async () => ({ status: 200, body: (await listProducts()).map(productView) }),
    }),
    defineRoute({
      method: 'get',
      path: '/products/{id}',
      operationId: 'getProduct',
      summary: 'Read a product',
      description: 'With its download options (Partner Center: `optionKey`, `optionTitle`, `languageCode`, `languageName`, file type, size): what `POST /orders/{id}/downloads` accepts.',
      tag: 'catalog',
      permission: 'readCatalog',
      params: S.idParam('id', 'product id'),
      errors: [404],
      responses: { 200: { description: 'the product', schema: S.productSchema } },
      databaseOnly: true,
      handler: async ({ params }) => {
        const p = await getProduct(params.id);
        if (!p) throw notFound('product', params.id);
        return { status: 200, body: productView(p) };
      },
    }),
  ];
}
