/** The Express application: request context, JSON body, the declared routes, OpenAPI, one error handler. */
import express from 'express';
import type { Client } from '@temporalio/client';
import type { Logger } from '../lib/logger';
import type { Mailer } from '../lib/mailer';
import { type RouteDef, answerOptions, buildRouter, errorHandler, jsonInUtf8Only, methodNotAllowed, notFoundHandler, openApiDocument, requestContext, verifyUtf8 } from './http';
import { weakETag } from '../lib/json-body';
import { routes } from './routes';
import { createOrderService } from '../services/orders';
import { createSupportService, type SupportSettings } from '../services/support';
import { createLicensingService } from '../services/licensing';
import { createActivityLogService } from '../services/activity-log';
import { createStandInFiles, type FileStore } from '../lib/files';
import { guardTemporal } from '../lib/temporal';
import { DatabaseUnavailableError, pingDatabase } from '../lib/db';
import { DEFAULT_ATTACHMENT_LIMITS, findTicketForAttachments, type AttachmentLimits, type AttachmentServiceDeps } from '../services/attachments';
import { AppError } from '../lib/errors';
import { createPages } from './pages';

export interface AppDeps {
  client: Client;
  mailer: Mailer;
  log: Logger;
  taskQueue: string;
  reminderDaysBeforeClose: number;
  validateResponses?: boolean;
  now?: () => Date;
  /** PUBLIC_BASE_URL: base of links in emails (the pages' sign-in links) and of the download links handed out; default http://localhost:3000 */
  publicBaseUrl?: string;
  /** the Temporal Web UI, linked from the pages (optional) */
  temporalUiUrl?: string;
  temporalNamespace?: string;
  /** SLA policy and ticket rules (default: the built-in ones) */
  support?: SupportSettings;
  /** the software files behind download links (default: stand-in images of the catalog's sizes) */
  files?: FileStore;
  /** support request attachments: bytes per file, files per request (default 10 MB, 10) */
  attachmentLimits?: AttachmentLimits;
}

/** The routes each app was made with (tests check what a route declares against what it does). */
const declaredRoutes = new WeakMap<express.Express, readonly RouteDef[]>();
export const routesOf = (app: express.Express): readonly RouteDef[] => declaredRoutes.get(app) ?? [];

export function createApp(deps: AppDeps): express.Express {
  const orders = createOrderService({ client: deps.client, taskQueue: deps.taskQueue, reminderDaysBeforeClose: deps.reminderDaysBeforeClose, now: deps.now });
  const support = createSupportService({ client: deps.client, taskQueue: deps.taskQueue, settings: deps.support, now: deps.now });
  const licensing = createLicensingService({ files: deps.files ?? createStandInFiles(), publicBaseUrl: deps.publicBaseUrl, now: deps.now });
  const activityLog = createActivityLogService({ now: deps.now });
  const attachments: AttachmentServiceDeps = {
    limits: deps.attachmentLimits ?? DEFAULT_ATTACHMENT_LIMITS,
    findTicket: findTicketForAttachments,
    // each stored attachment becomes an "attached" event on the ticket's timeline, once (see SupportService.attach)
    recordEvent: async (auth, ticket, attachment) => {
      try {
        await support.attach(auth, ticket.id, attachment);
      } catch (err) {
        // closed between the upload's check and its event: the file stays (it was accepted); say so in the log
        if (!(err instanceof AppError && err.code === 'invalid_state')) throw err;
        deps.log.warn({ ticket: ticket.id, attachment: attachment.id, reason: err.message }, 'attachment stored but not put on the timeline');
      }
    },
  };
  const all = routes({ client: deps.client, mailer: deps.mailer, orders, support, licensing, activityLog, attachments });
  const openapi = openApiDocument(all, {
    title: 'csp-desk',
    version: '0.1.0',
    description:
      'Sell, support and refund software subscriptions through a CSP partner.\n\n' +
      'Every GET path also answers HEAD: the same status and headers, no body (and nothing recorded that a GET records, such as a key shown or a download counted). ' +
      'GET answers carry an ETag, except those holding a secret (`Cache-Control: no-store`); sending it back in If-None-Match gets 304 while it is current. ' +
      "What Node's HTTP parser refuses is answered before any route, in the Error shape, the connection closed: 431 `headers_too_large` (request headers over Node's limit, 16 KiB in all by default), 400 `malformed_request` (not valid HTTP/1.1), 408 `request_timeout`, 413 `chunk_extensions_too_large`.",
  });
  const app = express();
  declaredRoutes.set(app, all);
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('etag', weakETag);
  app.use(requestContext(deps.log));
  // a request waits on its workflows only while Temporal and the database (their activities' writes) answer: a
  // frozen or unreachable server is a 503, not a hang
  const dependencies = [
    {
      probe: pingDatabase,
      unavailable: () => new DatabaseUnavailableError('the database stopped answering while the request waited on its workflow'),
    },
  ];
  const around = <T>(fn: () => Promise<T>) => guardTemporal(deps.client, fn, dependencies);
  // the web pages (server-rendered, same services and permissions as the API), before the API's JSON body parser:
  // they read forms only, and a JSON body sent to one is answered by its pages (HTML), not by the API's JSON errors
  app.get('/', (_req, res) => res.redirect(303, '/app'));
  app.use(
    '/app',
    createPages({
      mailer: deps.mailer,
      log: deps.log,
      orders,
      support,
      licensing,
      attachments,
      activityLog,
      around,
      publicBaseUrl: deps.publicBaseUrl ?? 'http://localhost:3000',
      temporalUiUrl: deps.temporalUiUrl,
      temporalNamespace: deps.temporalNamespace,
      now: deps.now,
    }),
  );
  app.use(jsonInUtf8Only());
  app.use(express.json({ limit: '1mb', verify: verifyUtf8 }));
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.use(answerOptions([...all, { method: 'get', path: '/openapi.json' }]));
  app.use(buildRouter(all, { log: deps.log, validateResponses: deps.validateResponses, around }));
  app.use(methodNotAllowed([...all, { method: 'get', path: '/openapi.json' }]));
  app.use(notFoundHandler());
  app.use(errorHandler());
  return app;
}
