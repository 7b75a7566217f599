/**
 * The web pages for partners and support agents, under /app: server-rendered handlebars, enhanced with htmx
 * (served from node_modules), a stylesheet of the project's own; forms work without JavaScript. Pages call the
 * services directly with the same permissions and tenant checks as the API. One file per domain.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import express from 'express';
import helmet from 'helmet';
import cookieParser from 'cookie-parser';
import { answerOptions, methodNotAllowed, verifyFormUtf8 } from '../http';
import { AppError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import type { Mailer } from '../../lib/mailer';
import { createRenderer } from '../../lib/mailer';
import type { OrderService } from '../../services/orders';
import type { SupportService } from '../../services/support';
import type { LicensingService } from '../../services/licensing';
import type { AttachmentServiceDeps } from '../../services/attachments';
import type { ActivityLogService } from '../../services/activity-log';
import { createSessionService, type SessionService } from '../../services/sessions';
import { TEMPLATES_DIR, createPageRenderer, mountPages, pageErrorHandler, sessionMiddleware, type Chrome, type KitDeps } from './kit';
import { identityPages, publicIdentityRoutes } from './identity';
import { customerPages } from './customers';
import { orderPages } from './orders';
import { invoicePages } from './invoices';
import { supportPages } from './support';
import { licensingPages } from './licensing';

export interface PagesDeps {
  mailer: Mailer;
  log: Logger;
  orders: OrderService;
  /** support requests (the support pages are mounted when given) */
  support?: SupportService;
  /** support request attachments (limits and ticket lookup, as the API's routes get them) */
  attachments?: AttachmentServiceDeps;
  activityLog?: ActivityLogService;
  /** keys, download links and the activity log of key reveals */
  licensing: LicensingService;
  /** where the emailed sign-in links point (PUBLIC_BASE_URL) */
  publicBaseUrl: string;
  /** the Temporal Web UI, for links from an order or ticket to its workflow (optional) */
  temporalUiUrl?: string;
  temporalNamespace?: string;
  now?: () => Date;
  sessions?: SessionService;
  /** runs a page's work under the API's Temporal deadline (a frozen server is a 503, not a hang) */
  around?: <T>(fn: () => Promise<T>) => Promise<T>;
}

const HTMX_FILE = require.resolve('htmx.org/dist/htmx.min.js');

export function createPages(deps: PagesDeps): express.Router {
  const sessions = deps.sessions ?? createSessionService({ mailer: deps.mailer, renderer: createRenderer(), publicBaseUrl: deps.publicBaseUrl, log: deps.log, now: deps.now });
  const secureCookies = deps.publicBaseUrl.startsWith('https:');
  const kit: KitDeps = { sessions, renderer: createPageRenderer(), log: deps.log, secureCookies, around: deps.around };
  const router = express.Router();
  router.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          fontSrc: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
          objectSrc: ["'none'"],
        },
      },
      // HSTS only when the site is served over HTTPS
      strictTransportSecurity: secureCookies ? { maxAge: 15552000 } : false,
      referrerPolicy: { policy: 'same-origin' },
    }),
  );
  router.use('/assets', express.static(path.join(TEMPLATES_DIR, 'assets'), { maxAge: '1h', fallthrough: true }));
  router.get('/assets/htmx.min.js', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.sendFile(HTMX_FILE);
  });
  router.use(cookieParser());
  // cookie-parser turns a value written `j:…` into parsed JSON: the pages' cookies are plain strings, so any other
  // value (an object, a number, planted from a sibling host) counts as absent, never reaching the session's hash
  router.use((req, _res, next) => {
    const cookies = req.cookies as Record<string, unknown> | undefined;
    if (cookies) for (const name of Object.keys(cookies)) if (typeof cookies[name] !== 'string') delete cookies[name];
    next();
  });
  // a form's body that is not UTF-8 is refused (as the API refuses one), not stored with U+FFFD in its place
  router.use(express.urlencoded({ extended: false, limit: '200kb', parameterLimit: 200, verify: verifyFormUtf8 }));
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  router.use(sessionMiddleware(kit));
  publicIdentityRoutes(router, kit);
  const navExtra: Chrome['navExtra'] = [];
  if (deps.activityLog) navExtra.push({ href: '/app/activity', label: 'Activity log', permission: 'readActivityLog' });
  if (deps.support) {
    navExtra.push({ href: '/app/support', label: 'Support requests', permission: 'fileSupportRequests' });
    navExtra.push({ href: '/app/queue', label: 'Support queue', permission: 'workSupportRequests' });
    navExtra.push({ href: '/app/sla', label: 'SLA dashboard', permission: 'workSupportRequests' });
  }
  const chrome: Chrome = { navExtra };
  const ctx = { ...deps, sessions, kit, newKey: () => `page-${crypto.randomUUID()}` };
  const pages = [...identityPages(ctx), ...customerPages(ctx), ...orderPages(ctx), ...invoicePages(ctx), ...(deps.support ? supportPages(ctx) : []), ...(deps.activityLog ? licensingPages(ctx) : [])];
  const declared = mountPages(router, pages, kit, chrome);
  // a page's address with a method it does not have: 405 with Allow (OPTIONS: 204 with Allow), as the API answers
  router.use(answerOptions(declared));
  router.use(methodNotAllowed(declared));
  router.use((req) => {
    throw new AppError(404, 'page_not_found', `no page ${req.path}`);
  });
  router.use(pageErrorHandler(kit));
  return router;
}

export type PagesContext = PagesDeps & { sessions: SessionService; kit: KitDeps; newKey(): string };
