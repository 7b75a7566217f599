/**
 * The benchmark's second yardstick for reads: the same order read behind the least an Express route can be (one
 * route, a token compared as a string, `Order.findOne({ _id, partnerId }).lean()`, `res.json`), served by the API's
 * own HTTP server (api/server.ts). What the API costs beyond it is its own pipeline: the request context and its
 * log line, the token's lookup, the input checks, the order's view and timeline, the ETag. What it costs beyond the
 * raw read is HTTP and Express, which no route of this stack can avoid.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createAppServer } from '../composition/root';
import { Order } from '../models';

export interface BareExpress {
  baseUrl: string;
  close(): Promise<void>;
}

export async function startBareExpress(token: string, partnerId: string): Promise<BareExpress> {
  const app = express();
  app.get('/orders/:id', (req, res, next) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.status(401).end();
      return;
    }
    Order.findOne({ _id: req.params.id, partnerId })
      .lean()
      .then((order) => (order ? res.json(order) : res.status(404).end()), next);
  });
  const server = createAppServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
