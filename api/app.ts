/** The Express application: request context, JSON body, the declared routes, OpenAPI, one error handler. */
import express from 'express';
import type { Client } from '@temporalio/client';
import type { Logger } from '../lib/logger';
import type { Mailer } from '../lib/mailer';
import { buildRouter, errorHandler, methodNotAllowed, notFoundHandler, openApiDocument, requestContext, verifyUtf8 } from './http';
import { routes } from './routes';
import { createOrderService } from '../services/orders';
import { createSupportService, type SupportSettings } from '../services/support';
import { API_TEMPORAL_DEADLINE_MS } from '../lib/temporal';
import { createPages } from './pages';

export interface AppDeps {
  client: Client;
  mailer: Mailer;
  log: Logger;
  taskQueue: string;
  reminderDaysBeforeClose: number;
  validateResponses?: boolean;
  now?: () => Date;
  /** base of links in emails (sign-in links of the pages); default http://localhost:3000 */
  publicBaseUrl?: string;
  /** the Temporal Web UI, linked from the pages (optional) */
  temporalUiUrl?: string;
  temporalNamespace?: string;
  /** SLA policy and ticket rules (default: the built-in ones) */
  support?: SupportSettings;
}

export function createApp(deps: AppDeps): express.Express {
  const orders = createOrderService({ client: deps.client, taskQueue: deps.taskQueue, reminderDaysBeforeClose: deps.reminderDaysBeforeClose, now: deps.now });
  const support = createSupportService({ client: deps.client, taskQueue: deps.taskQueue, settings: deps.support, now: deps.now });
  const all = routes({ client: deps.client, mailer: deps.mailer, orders, support });
  const openapi = openApiDocument(all, {
    title: 'csp-desk',
    version: '0.1.0',
    description: 'Sell, support and refund software subscriptions through a CSP partner.',
  });
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(requestContext(deps.log));
  app.use(express.json({ limit: '1mb', verify: verifyUtf8 }));
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  // every Temporal call a request makes shares one deadline: a frozen or unreachable server is a 503, not a hang
  const around = <T>(fn: () => Promise<T>) => deps.client.withDeadline(Date.now() + API_TEMPORAL_DEADLINE_MS, fn);
  // the web pages (server-rendered, same services and permissions as the API)
  app.get('/', (_req, res) => res.redirect(303, '/app'));
  app.use(
    '/app',
    createPages({
      mailer: deps.mailer,
      log: deps.log,
      orders,
      support,
      around,
      publicBaseUrl: deps.publicBaseUrl ?? 'http://localhost:3000',
      temporalUiUrl: deps.temporalUiUrl,
      temporalNamespace: deps.temporalNamespace,
      now: deps.now,
    }),
  );
  app.use(buildRouter(all, { log: deps.log, validateResponses: deps.validateResponses, around }));
  app.use(methodNotAllowed([...all, { method: 'get', path: '/openapi.json' }]));
  app.use(notFoundHandler());
  app.use(errorHandler());
  return app;
}
