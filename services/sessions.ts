/**
 * Signing in to the pages with a one-time link sent by email, and the browser sessions it opens.
 *
 * - A link is valid 15 minutes and usable once: using it inserts a claim keyed by the link's hash (a unique
 *   `_id`), so of two uses at once exactly one opens a session.
 * - A session lives in the database: the cookie holds a random secret, the database its SHA-256. It ends after
 *   an idle time, at an absolute time, when its user signs out, or when the user is disabled or removed.
 * - Nothing tells whether an address has an account: asking for a link answers the same either way (and the page
 *   answers before this service looks, so neither does the time it takes).
 * - An address gets at most SIGN_IN_LINKS_PER_HOUR links an hour (models/sessions.ts SignInSend), so the form
 *   cannot be used to flood someone's mailbox; asking beyond that answers the same and sends nothing. One client
 *   (network address) gets at most SIGN_IN_LINKS_PER_CLIENT_PER_HOUR of them, so that it cannot use up the hour
 *   and lock the owner out.
 */
import crypto from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { AppError, isDuplicateKey, takeSlot } from '../lib/errors';
import type { Mailer, Renderer } from '../lib/mailer';
import type { Logger } from '../lib/logger';
import { Partner, Session, SessionEnd, SignInClaim, SignInLink, SignInSend, TokenFormUse, User, UserBrowserZone, UserPreference, type SessionDoc, type UserDoc } from '../models';
import { createToken, hashToken, isDisabled, listTokens, revokeOwnToken } from './users';
import type { AuthContext } from './context';

import { safeNext, SESSION_ABSOLUTE_HOURS, SESSION_IDLE_MINUTES, SIGN_IN_LINK_MINUTES, SIGN_IN_LINKS_PER_CLIENT_PER_HOUR, SIGN_IN_LINKS_PER_HOUR } from '../domain/sessions';
import { emailTimeZone, userEmailZone, utcHourKey } from '../domain/time';

/**
 * The network a client asks from, for its share of an address's sign-in links: an IPv4 address as it is, an IPv6
 * address by its /64 (one host commonly holds a whole /64, so its single addresses would be an unlimited supply).
 */
export function clientNetwork(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  const addr = ipaddr.process(ip); // an IPv4-mapped IPv6 address becomes the IPv4 one
  if (addr.kind() === 'ipv4') return addr.toString();
  return `${(addr as ipaddr.IPv6).parts.slice(0, 4).map((p) => p.toString(16)).join(':')}::/64`;
}

/** Sign-in link requests handled at once after their answer (see requestLinkLater). */
export const SIGN_IN_REQUESTS_IN_FLIGHT = 64;

export { SESSION_ABSOLUTE_HOURS, SESSION_IDLE_MINUTES, SIGN_IN_LINK_MINUTES, SIGN_IN_LINKS_PER_CLIENT_PER_HOUR, SIGN_IN_LINKS_PER_HOUR };
/** lastSeenAt is written at most this often (a read-only page view does not write every time) */
const TOUCH_EVERY_MS = 60_000;

export interface SessionServiceDeps {
  mailer: Mailer;
  renderer: Renderer;
  /** base of the link in the email, e.g. https://desk.example.com */
  publicBaseUrl: string;
  log: Logger;
  now?: () => Date;
  linkMinutes?: number;
  linksPerHour?: number;
  idleMinutes?: number;
  absoluteHours?: number;
}

export interface ActiveSession {
  session: SessionDoc;
  user: UserDoc;
  auth: AuthContext;
}

const secret = () => crypto.randomBytes(32).toString('base64url');

export { isDisabled };

/** How much of a browser's user agent a session keeps (the pages read it with domain/text.ts headerText). */
export const SESSION_USER_AGENT_MAX = 300;

export function createSessionService(deps: SessionServiceDeps) {
  const clock = deps.now ?? (() => new Date());
  const linkMs = (deps.linkMinutes ?? SIGN_IN_LINK_MINUTES) * 60_000;
  const linksPerHour = deps.linksPerHour ?? SIGN_IN_LINKS_PER_HOUR;
  const linksPerClient = Math.min(linksPerHour, SIGN_IN_LINKS_PER_CLIENT_PER_HOUR);
  const idleMs = (deps.idleMinutes ?? SESSION_IDLE_MINUTES) * 60_000;
  const absoluteMs = (deps.absoluteHours ?? SESSION_ABSOLUTE_HOURS) * 3_600_000;
  const base = deps.publicBaseUrl.replace(/\/+$/, '');

  async function endSession(id: string, userId: string, reason: 'signed-out' | 'user-disabled' | 'ended-by-user'): Promise<void> {
    try {
      await SessionEnd.create({ _id: id, userId, at: clock(), reason });
    } catch (e) {
      if (!isDuplicateKey(e)) throw e;
    }
  }

  /**
   * Takes one of the user's sign-in email slots of this UTC hour (of the asking client's share, when `client` is
   * given): its id, or null when all are taken.
   */
  async function takeSendSlot(userId: string, now: Date, client?: string): Promise<string | null> {
    const hour = utcHourKey(now);
    const [prefix, slots] = client ? [`${userId}:${hour}:client:${client}`, linksPerClient] : [`${userId}:${hour}`, linksPerHour];
    return takeSlot(prefix, slots, 0, (id) => SignInSend.create({ _id: id, userId, at: now, ...(client ? { client } : {}) }));
  }

  /** sign-in link requests being handled after their answer (requestLinkLater) */
  let inFlight = 0;

  const service = {
    idleMinutes: idleMs / 60_000,
    linksPerClient,
    absoluteHours: absoluteMs / 3_600_000,
    linkMinutes: linkMs / 60_000,
    linksPerHour,

    /**
     * Emails a sign-in link if the address belongs to an enabled user; answers the same either way. `clientIp`:
     * the asking client's network address, whose share of the address's hourly links is limited (the page passes
     * it; without it only the address's own limit holds).
     */
    async requestLink(emailInput: string, next: string | null, clientIp?: string | null): Promise<void> {
      const email = emailInput.trim().toLowerCase();
      const user = await User.findOne({ email }).lean();
      if (!user || isDisabled(user)) {
        deps.log.info({ emailHash: hashToken(email).slice(0, 12) }, 'sign-in link asked for an unknown or disabled address');
        return;
      }
      const now = clock();
      const client = clientIp ? hashToken(`sign-in client\n${clientNetwork(clientIp)}`).slice(0, 32) : undefined;
      const clientSlot = client ? await takeSendSlot(user._id, now, client) : null;
      if (client && !clientSlot) {
        deps.log.warn({ userId: user._id, linksPerClient }, 'sign-in link not sent: this client had its share of the address\'s links for this hour');
        return;
      }
      const slot = await takeSendSlot(user._id, now);
      if (!slot) {
        deps.log.warn({ userId: user._id, linksPerHour }, 'sign-in link not sent: the address had its links for this hour');
        if (clientSlot) await SignInSend.deleteOne({ _id: clientSlot });
        return;
      }
      const token = secret();
      const linkId = hashToken(token);
      const expiresAt = new Date(now.getTime() + linkMs);
      try {
        await SignInLink.create({ _id: linkId, userId: user._id, email, createdAt: now, expiresAt, next: safeNext(next) });
        const partner = user.partnerId ? await Partner.findById(user.partnerId).lean() : null;
        const url = `${base}/app/sign-in/link?token=${encodeURIComponent(token)}`;
        // a user of no partner is support staff: the email's footer is theirs
        const rendered = deps.renderer.render('sign-in', { user, partner: partner ?? { name: 'csp-desk support' }, url, minutes: linkMs / 60_000, expiresAt, forSupport: !user.partnerId });
        await deps.mailer.send({ ...rendered, to: [email], messageId: `<signin.${crypto.randomBytes(12).toString('hex')}@csp-desk>` });
      } catch (err) {
        // not sent (SMTP or the database down): give the slot back and drop the link (this request wrote both, no
        // one else writes them), and answer as for any address, so that a failure does not tell who has an account
        deps.log.error({ err, userId: user._id }, 'sign-in link not sent: the email could not be sent');
        await Promise.allSettled([SignInSend.deleteOne({ _id: slot }), SignInLink.deleteOne({ _id: linkId }), ...(clientSlot ? [SignInSend.deleteOne({ _id: clientSlot })] : [])]);
        return;
      }
      deps.log.info({ userId: user._id }, 'sign-in link sent');
    },

    /**
     * requestLink after the answer: the page answers first, the same for every address, so that the time a lookup,
     * the slots and an email take does not tell whether the address has an account. At most
     * SIGN_IN_REQUESTS_IN_FLIGHT at once: beyond that a request is dropped and logged (a flood queues nothing).
     */
    requestLinkLater(emailInput: string, next: string | null, clientIp?: string | null): void {
      if (inFlight >= SIGN_IN_REQUESTS_IN_FLIGHT) {
        deps.log.warn({ inFlight }, 'sign-in link not sent: too many sign-in requests at once; this one was dropped');
        return;
      }
      inFlight += 1;
      service
        .requestLink(emailInput, next, clientIp)
        .catch((err: unknown) => deps.log.error({ err }, 'sign-in link not sent'))
        .finally(() => {
          inFlight -= 1;
        });
    },

    /** What a link is, without using it (the page that opens from the email shows a button that uses it). */
    async inspectLink(token: string): Promise<{ state: 'valid' | 'expired' | 'used' | 'unknown'; email?: string }> {
      const id = hashToken(token);
      const link = await SignInLink.findById(id).lean();
      if (!link) return { state: 'unknown' };
      if (await SignInClaim.exists({ _id: id })) return { state: 'used' };
      if (clock().getTime() >= link.expiresAt.getTime()) return { state: 'expired' };
      return { state: 'valid', email: link.email };
    },

    /** Uses the link once and opens a session; returns the cookie's secret. */
    async claimLink(token: string, userAgent: string | null): Promise<{ cookie: string; next: string | null; session: SessionDoc }> {
      const id = hashToken(token);
      const link = await SignInLink.findById(id).lean();
      if (!link) throw new AppError(404, 'link_unknown', 'This sign-in link is not valid. Ask for a new one.', 'token');
      const now = clock();
      if (now.getTime() >= link.expiresAt.getTime()) throw new AppError(410, 'link_expired', `This sign-in link has expired (links are valid ${linkMs / 60_000} minutes). Ask for a new one.`, 'token');
      const user = await User.findById(link.userId).lean();
      if (!user || isDisabled(user)) throw new AppError(403, 'user_disabled', 'This account may not sign in.', 'token');
      const cookie = secret();
      const session: SessionDoc = {
        _id: hashToken(cookie),
        publicId: crypto.randomUUID(),
        userId: user._id,
        csrfToken: secret(),
        createdAt: now,
        expiresAt: new Date(now.getTime() + absoluteMs),
        lastSeenAt: now,
        userAgent: userAgent?.slice(0, SESSION_USER_AGENT_MAX) ?? null,
      };
      try {
        await SignInClaim.create({ _id: id, userId: user._id, sessionId: session._id, claimedAt: now });
      } catch (e) {
        if (isDuplicateKey(e)) throw new AppError(410, 'link_used', 'This sign-in link has already been used. Ask for a new one.', 'token');
        throw e;
      }
      await Session.create(session);
      deps.log.info({ userId: user._id, session: session.publicId }, 'signed in');
      // (checked again: a link kept before the check it was made with)
      return { cookie, next: safeNext(link.next), session };
    },

    /** The session of a cookie, if it is still open (and its user still enabled); touches it. */
    async authenticate(cookie: string | undefined): Promise<ActiveSession | null> {
      if (!cookie || cookie.length > 200) return null;
      const id = hashToken(cookie);
      const [session, ended] = await Promise.all([Session.findById(id).lean(), SessionEnd.exists({ _id: id })]);
      if (!session || ended) return null;
      const now = clock().getTime();
      if (now >= session.expiresAt.getTime() || now - session.lastSeenAt.getTime() >= idleMs) return null;
      const user = await User.findById(session.userId).lean();
      if (!user) return null;
      if (isDisabled(user)) {
        await endSession(id, user._id, 'user-disabled');
        return null;
      }
      if (now - session.lastSeenAt.getTime() >= TOUCH_EVERY_MS) {
        // only this field ever changes; two touches at once both write "now"
        await Session.updateOne({ _id: id }, { $set: { lastSeenAt: new Date(now) } });
      }
      return { session, user, auth: { user, role: user.role, partnerId: user.partnerId, tokenId: `session:${session.publicId}` } };
    },

    async signOut(session: SessionDoc): Promise<void> {
      await endSession(session._id, session.userId, 'signed-out');
    },

    /** Ends every open session of a user (e.g. when the user is disabled). */
    async endUserSessions(userId: string, reason: 'user-disabled' | 'ended-by-user' = 'user-disabled'): Promise<number> {
      const sessions = await Session.find({ userId, expiresAt: { $gt: clock() } }).lean();
      for (const s of sessions) await endSession(s._id, userId, reason);
      return sessions.length;
    },

    async timeZoneOf(userId: string): Promise<string | null> {
      return (await UserPreference.findById(userId).lean())?.timeZone ?? null;
    },

    async setTimeZone(userId: string, timeZone: string | null): Promise<void> {
      await UserPreference.replaceOne({ _id: userId }, { _id: userId, timeZone, updatedAt: clock() }, { upsert: true });
    },

    /**
     * Remembers the zone the user's browser gave (a name timeZoneName took), for their emails while they chose none.
     * Best effort: a sign-in or a page never fails for it (two at once may race on the upsert: the same fact either way).
     */
    async noteBrowserTimeZone(userId: string, timeZone: string): Promise<void> {
      try {
        await UserBrowserZone.replaceOne({ _id: userId }, { _id: userId, timeZone, at: clock() }, { upsert: true });
      } catch (e) {
        if (!isDuplicateKey(e)) deps.log.warn({ err: e, userId }, "the browser's time zone was not remembered (emails stay in the zone they had)");
      }
    },

    /** The zone of the user's emails when they go to this user alone (activities/shared.ts recipientsTimeZone): chosen, else the browser's, else UTC. */
    async emailTimeZoneOf(userId: string): Promise<string> {
      const [chosen, seen] = await Promise.all([UserPreference.findById(userId).lean(), UserBrowserZone.findById(userId).lean()]);
      return emailTimeZone([userEmailZone(chosen?.timeZone, seen?.timeZone)]);
    },

    /** The user's own API tokens (services/users.ts: the secret is shown once, at creation; revoked ones stay listed). */
    listTokens: (userId: string) => listTokens(userId),

    /**
     * A token from the settings page's form: once per form key (`formKey`), so the form sent again makes none and
     * says when the first one was made (its secret was shown then).
     */
    async createToken(userId: string, label: string, expiresInDays: number | null, formKey?: string): Promise<{ token: string } | { alreadyAt: Date }> {
      if (formKey) {
        try {
          await TokenFormUse.create({ _id: `${userId}:${formKey}`, userId, at: clock() });
        } catch (e) {
          if (!isDuplicateKey(e)) throw e;
          const first = await TokenFormUse.findById(`${userId}:${formKey}`).lean();
          return { alreadyAt: first?.at ?? clock() };
        }
      }
      return { token: (await createToken(userId, { label, expiresInDays })).token };
    },

    /** Revokes one of the user's own tokens; another user's token is "not found". */
    async revokeToken(userId: string, tokenId: string): Promise<void> {
      await revokeOwnToken(userId, tokenId);
    },
  };
  return service;
}

export type SessionService = ReturnType<typeof createSessionService>;
