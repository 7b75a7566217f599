/**
 * Signing in to the pages: how long a link and a session last, how many links an address gets, and how long
 * their records are kept once they stop mattering. Used by the sign-in service (services/sessions.ts) and the
 * nightly housekeeping (workflows/system.ts).
 */
export const SIGN_IN_LINK_MINUTES = 15;
/** sign-in emails one address may receive in a UTC hour */
export const SIGN_IN_LINKS_PER_HOUR = 10;
/**
 * of those, how many one client (one address on the network) may have sent, half: so that one client cannot use up
 * an address's hour and keep its owner from signing in
 */
export const SIGN_IN_LINKS_PER_CLIENT_PER_HOUR = 5;
export const SESSION_IDLE_MINUTES = 30;
export const SESSION_ABSOLUTE_HOURS = 12;

/**
 * Days a sign-in record is kept after it can no longer do anything (a link past its expiry, a session past its
 * absolute end, an hour's sign-in email slot): long enough to look back at who signed in last week, and no
 * longer. FerretDB 1.24 has no TTL indexes, so the housekeeping workflow deletes them.
 */
export const SIGN_IN_RECORDS_KEPT_DAYS = 7;

export interface SignInPruneCutoffs {
  /** links that expired before this */
  linksExpiredBefore: Date;
  /** claims (uses of a link) made before this: their links expired before it too */
  claimsBefore: Date;
  /** sign-in email slots taken before this */
  sendsBefore: Date;
  /** sessions whose absolute end is before this */
  sessionsExpiredBefore: Date;
  /**
   * session ends recorded before this: a session ended at T was opened before T, so its absolute end is before
   * T + its lifetime, and it is pruned itself (or was) by the time its end is
   */
  sessionEndsBefore: Date;
}

/** What the housekeeping run at `now` deletes (every cutoff `keptDays` after the record stopped mattering). */
export function signInPruneCutoffs(now: Date, keptDays = SIGN_IN_RECORDS_KEPT_DAYS, sessionAbsoluteHours = SESSION_ABSOLUTE_HOURS): SignInPruneCutoffs {
  const kept = new Date(now.getTime() - keptDays * 86_400_000);
  return {
    linksExpiredBefore: kept,
    claimsBefore: kept,
    sendsBefore: kept,
    sessionsExpiredBefore: kept,
    sessionEndsBefore: new Date(kept.getTime() - sessionAbsoluteHours * 3_600_000),
  };
}

/**
 * A path inside the pages to return to after signing in (the sign-in page's `next`, kept with the link), with the
 * section it pointed at (an email's `#cancel-heading`, carried by app.js); anything else is dropped (null). Inside
 * once a browser has resolved it: dot segments (`/app/../openapi.json`, `/app/%2e%2e//host`) that would leave
 * `/app` are refused, as is a path a browser reads as another host (`//host`).
 */
export function safeNext(next: unknown): string | null {
  if (typeof next !== 'string' || !/^\/app(\/[A-Za-z0-9\-._~%/?=&+]*)?(#[A-Za-z0-9\-._~]{1,100})?$/.test(next)) return null;
  // as a browser resolves it against the site (WHATWG URL: `..` and `%2e%2e` segments, `//`)
  const base = 'http://pages.invalid';
  const resolved = new URL(next, base);
  return resolved.origin === base && /^\/app(\/|$)/.test(resolved.pathname) ? next : null;
}
