/** Catalog routes: the products csp-desk sells. */
import { defineRoute, type RouteDef } from '../http';
import * as S from '../schemas';
import { listProducts, productView } from '../../services/catalog';
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
      handler: async () => ({ status: 200, body: (await listProducts()).map(productView) }),
    }),
  ];
}
