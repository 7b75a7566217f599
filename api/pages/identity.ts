/**
 * Signing in and out (one-time link by email, then a server-side session), the home page, and the settings
 * page: the time zone dates are shown in, and the user's own API tokens (create, shown once; revoke).
 */
import crypto from 'node:crypto';
import type express from 'express';
import type { Request, Response } from 'express';
import { AppError } from '../../lib/errors';
import { safeNext } from '../../domain/sessions';
import { TOKEN_ID_PATTERN } from '../../services/users';
import { SESSION_USER_AGENT_MAX } from '../../services/sessions';
import { isTimeZone, timeZoneName, timeZones } from '../../domain/time';
import { pageFormKey, PRE_SESSION_COOKIE, SESSION_COOKIE, TZ_COOKIE, csrfOk, definePage, errorsFromAppError, formatDate, formRefusalMarks, validateForm, validatePostedForm, type KitDeps, type PageDef } from './kit';
import { headerText, NAME_PATTERN } from '../../domain/text';
import type { PagesContext } from './index';

const signInSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['email'],
  properties: {
    email: { type: 'string', format: 'email', maxLength: 254, description: 'an email address, e.g. name@example.com' },
    next: { type: 'string', maxLength: 500 },
  },
};
const claimSchema = { type: 'object', additionalProperties: false, required: ['token'], properties: { token: { type: 'string', minLength: 20, maxLength: 200 }, timeZone: { type: 'string', maxLength: 64 } } };
const tokenSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['label'],
  properties: {
    label: { type: 'string', minLength: 1, maxLength: 80, pattern: NAME_PATTERN, description: 'a label of 1 to 80 characters on one line, e.g. "billing export"' },
    expiresInDays: { type: 'string', enum: ['never', '7', '30', '90', '365'] },
  },
};
const revokeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['tokenId'],
  properties: { tokenId: { type: 'string', pattern: TOKEN_ID_PATTERN, description: 'a token id' }, again: { type: 'string', enum: ['yes'] } },
};
const timeZoneSchema = { type: 'object', additionalProperties: false, properties: { timeZone: { type: 'string', maxLength: 100 } } };

/** A random value in a cookie and in the form (double submit): the forms used before a session exists. */
function preSessionToken(req: Request, res: Response, kit: KitDeps): string {
  let t = (req.cookies as Record<string, string>)[PRE_SESSION_COOKIE];
  if (!t || !/^[A-Za-z0-9_-]{43}$/.test(t)) {
    t = crypto.randomBytes(32).toString('base64url');
    res.cookie(PRE_SESSION_COOKIE, t, { httpOnly: true, sameSite: 'strict', secure: kit.secureCookies, path: '/app' });
  }
  return t;
}

/** Whether a form used before a session exists came with its cookie's token. */
function preSessionOk(req: Request): boolean {
  const t = (req.cookies as Record<string, string>)[PRE_SESSION_COOKIE];
  return Boolean(t) && csrfOk(t, (req.body as Record<string, unknown>)?._csrf);
}

/**
 * Said when a sign-in form came without its token: the form comes back ready to press again (a fresh token), as
 * "Reload the page" would have sent the same stale form again (QA).
 */
const PRE_SESSION_EXPIRED = 'This form had expired, or your browser did not send its cookie with it, so nothing was done. Press the button again; if this comes back, allow cookies for this site.';

/** The pages used before signing in (no session yet). */
export function publicIdentityRoutes(router: express.Router, kit: KitDeps): void {
  const page = (res: Response, template: string, data: Record<string, unknown>, status = 200) => {
    const merged = { nav: [], timeZone: res.locals.timeZone, ...data, ...formRefusalMarks(data, status) };
    res.status(status).type('html').send(kit.renderer.render('layout', { ...merged, body: kit.renderer.render(template, merged) }));
  };

  router.get('/sign-in', (req, res) => {
    if (res.locals.session) return res.redirect(303, safeNext(req.query.next) ?? '/app');
    page(res, 'identity/sign-in', { title: 'Sign in', csrf: preSessionToken(req, res, kit), next: safeNext(req.query.next), values: {}, signedOut: req.query.signedOut === '1' });
  });

  router.post('/sign-in', async (req, res) => {
    if (!preSessionOk(req)) {
      const typed = typeof req.body?.email === 'string' ? req.body.email.slice(0, 320) : '';
      page(res, 'identity/sign-in', { title: 'Sign in', csrf: preSessionToken(req, res, kit), next: safeNext(req.body?.next), values: { email: typed }, errors: { _form: PRE_SESSION_EXPIRED } }, 403);
      return;
    }
    const form = validatePostedForm<{ email: string; next?: string }>(signInSchema, req.body ?? {});
    if (!form.ok) {
      page(res, 'identity/sign-in', { title: 'Sign in', csrf: preSessionToken(req, res, kit), next: safeNext(req.body?.next), values: req.body, errors: form.errors }, 400);
      return;
    }
    // the answer goes first, the same for every address (see requestLinkLater)
    kit.sessions.requestLinkLater(form.value.email, safeNext(form.value.next), req.ip ?? null);
    page(res, 'identity/check-email', { title: 'Check your email', email: form.value.email, minutes: kit.sessions.linkMinutes, perHour: kit.sessions.linksPerHour, perClient: kit.sessions.linksPerClient });
  });

  // the link from the email opens a page with a button: a mail scanner that fetches the link does not use it
  router.get('/sign-in/link', async (req, res) => {
    // already signed in (Back after signing in): the link's page has nothing more to do
    if (res.locals.session) return res.redirect(303, '/app');
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    const state = token ? await kit.sessions.inspectLink(token) : { state: 'unknown' as const };
    const title = state.state === 'valid' ? 'Sign in' : 'Sign-in link not valid';
    page(res, 'identity/link', { title, csrf: preSessionToken(req, res, kit), token, ...state, valid: state.state === 'valid' }, state.state === 'valid' ? 200 : state.state === 'unknown' ? 404 : 410);
  });

  router.post('/sign-in/link', async (req, res) => {
    const form = validateForm<{ token: string; timeZone?: string }>(claimSchema, req.body ?? {});
    if (!form.ok) throw new AppError(400, 'validation_failed', 'The sign-in link is incomplete. Copy the whole link from the email.', 'token');
    if (!preSessionOk(req)) {
      // the link's page again, with a fresh token: the link is not used by this
      const state = await kit.sessions.inspectLink(form.value.token);
      page(res, 'identity/link', { title: 'Sign in', csrf: preSessionToken(req, res, kit), token: form.value.token, ...state, valid: state.state === 'valid', errors: { _form: PRE_SESSION_EXPIRED } }, 403);
      return;
    }
    try {
      const { cookie, next, session } = await kit.sessions.claimLink(form.value.token, headerText(req.header('user-agent'), SESSION_USER_AGENT_MAX));
      res.cookie(SESSION_COOKIE, cookie, { httpOnly: true, sameSite: 'lax', secure: kit.secureCookies, path: '/' });
      // the browser's time zone (the sign-in page's script sent it), so the first page shown is in it too, and the
      // user's emails while they choose none
      const tz = (req.body as { timeZone?: unknown }).timeZone;
      const zone = timeZoneName(tz);
      if (zone) {
        res.cookie(TZ_COOKIE, zone, { sameSite: 'lax', secure: kit.secureCookies, path: '/', maxAge: 365 * 86_400_000 });
        await kit.sessions.noteBrowserTimeZone(session.userId, zone);
      }
      res.clearCookie(PRE_SESSION_COOKIE, { path: '/app' });
      res.redirect(303, next ?? '/app');
    } catch (e) {
      if (!(e instanceof AppError)) throw e;
      page(res, 'identity/link', { title: 'Sign in', csrf: preSessionToken(req, res, kit), state: e.code.replace('link_', ''), message: e.message, valid: false }, e.status);
    }
  });
}

export function identityPages(deps: PagesContext): PageDef[] {
  const { sessions } = deps;
  const settings = async (ctx: Parameters<PageDef['handler']>[0], extra: Record<string, unknown> = {}, status = 200) => {
    const [tokens, chosen, emailZone] = await Promise.all([sessions.listTokens(ctx.auth.user._id), sessions.timeZoneOf(ctx.auth.user._id), sessions.emailTimeZoneOf(ctx.auth.user._id)]);
    ctx.view(
      'identity/settings',
      {
        title: 'Settings',
        tokens,
        chosenTimeZone: chosen,
        emailTimeZone: emailZone,
        timeZoneSource: ctx.res.locals.timeZoneSource,
        saved: typeof ctx.req.query.saved === 'string' ? ctx.req.query.saved : null,
        // the list is Intl's zones, which leave out the fixed offsets (Etc/GMT+5): one chosen is listed too, as chosen
        zones: (chosen && !timeZones().includes(chosen) ? [...timeZones(), chosen].sort() : timeZones()).map((z) => ({ value: z, selected: z === chosen })),
        session: { createdAt: ctx.active.session.createdAt, expiresAt: ctx.active.session.expiresAt, idleMinutes: sessions.idleMinutes },
        // the token form's one-time key: sent again, it makes no second token
        formKey: deps.newKey(),
        ...extra,
      },
      status,
    );
  };
  return [
    definePage({
      method: 'get',
      path: '/',
      permission: null,
      handler: async (ctx) => {
        ctx.view('identity/home', { title: 'Home' });
      },
    }),
    definePage({
      method: 'post',
      path: '/sign-out',
      permission: null,
      handler: async (ctx) => {
        await sessions.signOut(ctx.active.session);
        ctx.res.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: deps.kit.secureCookies });
        ctx.redirect('/app/sign-in?signedOut=1');
      },
    }),
    definePage({ method: 'get', path: '/settings', permission: null, handler: (ctx) => settings(ctx) }),
    definePage({
      method: 'post',
      path: '/settings/time-zone',
      permission: null,
      handler: async (ctx) => {
        const form = validatePostedForm<{ timeZone?: string }>(timeZoneSchema, ctx.req.body ?? {});
        const tz = form.ok ? (form.value.timeZone ?? null) : undefined;
        if (tz === undefined || (tz !== null && !isTimeZone(tz))) {
          await settings(ctx, { errors: { timeZone: 'Choose a time zone from the list.' } }, 400);
          return;
        }
        await sessions.setTimeZone(ctx.auth.user._id, tz === null ? null : timeZoneName(tz));
        ctx.redirect('/app/settings?saved=time-zone');
      },
    }),
    definePage({
      method: 'post',
      path: '/settings/browser-time-zone',
      permission: null,
      handler: async (ctx) => {
        // sent by app.js: remembers the browser's zone in a cookie (used when no zone is chosen), and, for a signed-in
        // user, for their emails
        const tz = (ctx.req.body as Record<string, unknown>)?.timeZone;
        const zone = timeZoneName(tz);
        if (zone) ctx.res.cookie(TZ_COOKIE, zone, { sameSite: 'lax', secure: deps.kit.secureCookies, path: '/', maxAge: 365 * 86_400_000 });
        if (zone) await deps.kit.sessions.noteBrowserTimeZone(ctx.auth.user._id, zone);
        ctx.res.status(204).end();
      },
    }),
    definePage({
      method: 'post',
      path: '/settings/tokens',
      permission: null,
      handler: async (ctx) => {
        const form = validatePostedForm<{ label: string; expiresInDays?: string }>(tokenSchema, ctx.req.body ?? {});
        if (!form.ok) {
          await settings(ctx, { errors: form.errors, values: ctx.req.body }, 400);
          return;
        }
        const days = form.value.expiresInDays && form.value.expiresInDays !== 'never' ? Number(form.value.expiresInDays) : null;
        const made = await sessions.createToken(ctx.auth.user._id, form.value.label, days, pageFormKey(ctx.req.body));
        if ('alreadyAt' in made) {
          await settings(ctx, { errors: { _form: `This form was sent already (${formatDate(made.alreadyAt, ctx.timeZone)}): its token was made then, and its secret shown once. If you did not copy it, revoke that token below and make another.` } }, 409);
          return;
        }
        await settings(ctx, { newToken: made.token, newTokenLabel: form.value.label }, 201);
      },
    }),
    definePage({
      method: 'post',
      path: '/settings/tokens/revoke',
      permission: null,
      handler: async (ctx) => {
        // a token id that is none, or another user's (a colleague's too): said on the settings page, in these words
        // (QA: the pages' 404 spoke of "another partner")
        const noSuchToken = () => settings(ctx, { errors: { _form: 'There is no such API token of yours: revoke one from the list.' } }, 404);
        const form = validateForm<{ tokenId: string; again?: 'yes' }>(revokeSchema, ctx.req.body ?? {});
        if (!form.ok) return noSuchToken();
        // revoking cannot be undone: asked first. With script the browser asks (and the form then says `again=yes`);
        // without, the page comes back with the question at the token's row and a box to tick (as close and withdraw
        // do). A token no longer active is not asked about: revoking it again changes nothing.
        if (form.value.again !== 'yes') {
          const token = (await sessions.listTokens(ctx.auth.user._id)).find((t) => t.id === form.value.tokenId);
          if (!token) return noSuchToken();
          if (token.status === 'active') {
            await settings(ctx, { askRevoke: token.id, errors: { revoke: `Revoke the token ${token.label}? Programs using it are refused from then on. To go on, tick the box and press again.` } }, 409);
            return;
          }
        }
        try {
          await sessions.revokeToken(ctx.auth.user._id, form.value.tokenId);
        } catch (e) {
          if (e instanceof AppError && e.status === 404) return noSuchToken();
          if (e instanceof AppError) {
            await settings(ctx, { errors: errorsFromAppError(e, []) }, e.status);
            return;
          }
          throw e;
        }
        ctx.redirect('/app/settings?saved=revoked');
      },
    }),
  ];
}
