/**
 * Licensing rules, pure: which download option a request names, how long a download link lives and how many
 * downloads it gives ("This link will expire after two weeks or 50 downloads, whichever comes first"), when a
 * link can serve, which request counts as a download, and the activity log's date range.
 */
import type { DownloadOption } from './catalog';
import type { OrderStatus } from './orders';
import { DAY_MS, FIRST_DAY, localDate, startOfLocalDay, timeZoneName } from './time';

/** A link serves for 14 × 24 hours from its creation: day 14 is inside, day 15 is not. */
export const LINK_LIFETIME_DAYS = 14;
/** ... or for 50 downloads, whichever comes first. */
export const LINK_MAX_DOWNLOADS = 50;

export function linkExpiresAt(createdAt: Date): Date {
  return new Date(createdAt.getTime() + LINK_LIFETIME_DAYS * DAY_MS);
}

/**
 * Until when a link made at `createdAt` serves, as it is given out and logged: its 14 days, or its subscription's term
 * end when that comes first (the link stops there, to the second: QA was given a link "until" two weeks on, for a
 * term that ended minutes later). After the term end it is refused as revoked (linkRefusal), as every link of the
 * order is.
 */
export function linkServesUntil(createdAt: Date, termEndsAt: Date | null): Date {
  const lifetime = linkExpiresAt(createdAt);
  return termEndsAt !== null && termEndsAt.getTime() < lifetime.getTime() ? new Date(termEndsAt.getTime()) : lifetime;
}

/**
 * Days a link's records are kept once it has expired (its "Get keys and downloads" Idempotency-Key, `downloadlinkrequests`;
 * its counted downloads and their resumes, `downloadclaims` and `downloadresumes`): nothing can use them by then,
 * and the nightly housekeeping deletes them. A request sent again with the key within them is refused as expired
 * (409 `idempotency_key_expired`); later, the key is forgotten and makes a new link. The link itself stays, so
 * that its address still says "expired" (410) rather than "unknown", and the activity log keeps every entry.
 */
export const LINK_RECORDS_KEPT_DAYS = 30;

/**
 * What the housekeeping run at `now` deletes: records made before this cutoff. Each was made at or after its link's
 * creation, so its link expired at least LINK_RECORDS_KEPT_DAYS before `now`.
 */
export const linkRecordsBefore = (now: Date): Date => new Date(now.getTime() - (LINK_LIFETIME_DAYS + LINK_RECORDS_KEPT_DAYS) * DAY_MS);

export type LinkRefusal = 'revoked' | 'expired' | 'exhausted';

export const LINK_REFUSALS: Record<LinkRefusal, string> = {
  revoked: 'this download link was revoked: the order was cancelled or its term ended',
  // what to do next is the client's to say (a browser's page: ask the partner who sent the link for a new one)
  expired: `this download link has expired (links last ${LINK_LIFETIME_DAYS} days)`,
  exhausted: `this download link has been used for its ${LINK_MAX_DOWNLOADS} downloads`,
};

export interface LinkFacts {
  expiresAt: Date;
  /** the link's own record says revoked */
  revoked: boolean;
  /** the order's status now: a link serves only while its order is active */
  orderStatus: OrderStatus | null;
  /** a subscription's term end: its links serve until then, whether or not its workflow has recorded the end yet */
  orderTermEndsAt?: Date | null;
}

/**
 * Whether an order's keys and links serve at `now`: while it is active and, for a subscription, until its term ends,
 * to the second, whether or not its workflow has recorded the end yet (a worker away, or behind, records it late:
 * QA downloaded, made a link and was shown the key after the term had ended).
 */
export function servesSoftware(order: { status: OrderStatus; termEndsAt: Date | null }, now: Date): boolean {
  return order.status === 'active' && (order.termEndsAt === null || now.getTime() < new Date(order.termEndsAt).getTime());
}

/**
 * Why a link cannot serve at `now`, before counting: revoked (its own record, or an order that is no longer
 * active, which also covers a link inserted while the order was being cancelled), then expired. Exhaustion
 * is decided by the download slots (see `pickSlot`).
 */
export function linkRefusal(link: LinkFacts, now: Date): Exclude<LinkRefusal, 'exhausted'> | null {
  if (link.revoked || link.orderStatus === null || !servesSoftware({ status: link.orderStatus, termEndsAt: link.orderTermEndsAt ?? null }, now)) return 'revoked';
  if (now.getTime() >= link.expiresAt.getTime()) return 'expired';
  return null;
}

/**
 * The activity log's reason on a download that took its slot and served nothing: its request failed between the two
 * (the database gone for a moment, the process killed). The slot still counts toward the link's downloads.
 */
export const DOWNLOAD_INTERRUPTED = 'interrupted';

/**
 * How old a download slot without its log entry must be before anyone else writes the entry for it (a later download
 * of the link, or the nightly housekeeping): far longer than a request takes from its slot to its entry (the API's
 * database calls fail within seconds).
 */
export const LOST_LOG_AFTER_MS = 60_000;
/**
 * How far back the nightly housekeeping looks for slots without their entries (links no one downloads again): two
 * days, so that a night without a run is made up by the next.
 */
export const LOST_LOG_LOOKBACK_MS = 2 * DAY_MS;

/** The part of a link's id the log and the API show (the id itself is the token's hash, still better kept close). */
export const linkRef = (linkId: string) => linkId.slice(0, 16);

/**
 * A log entry's id as the log shows it (API, CSV): its natural key, with the link's id of a link's entries
 * (`key:<link>`, `link:<link>`, `download:<link>:<slot>`, `download-refused:<link>:…`; the SHA-256 of the link's
 * token) cut to its `linkRef`, as the entry's `resourceId` shows it. Every role that reads the log sees these ids,
 * also roles that cannot get links. Other keys are shown whole (an order's id may be 64 hex digits too).
 */
export const shownEntryId = (id: string) => id.replace(/^(key|link|download|download-refused):([0-9a-f]{64})(?=:|$)/, (_m, kind: string, link: string) => `${kind}:${linkRef(link)}`);

/** What a download's log entry says of its link, its order (null: gone) and the request's origin. */
export interface DownloadEntryFacts {
  link: { _id: string; partnerId: string; customerId: string; orderId: string; productId: string; createdBy: { userId: string; name: string; email: string } };
  order: { customer: { name: string }; product: { name: string } } | null;
  origin: { ip: string | null; userAgent: string | null };
}

/**
 * The fields of a download's activity-log entry beyond what it says happened. A download is the deed of whoever
 * holds the link (the customer perhaps), through the link a user got: the log names that user, so that its list of
 * users who downloaded software is complete.
 */
export function downloadEntryFields({ link, order, origin }: DownloadEntryFacts, at: Date, requestId: string | null) {
  return {
    partnerId: link.partnerId,
    customerId: link.customerId,
    customerName: order?.customer.name ?? link.customerId,
    orderId: link.orderId,
    productId: link.productId,
    productName: order?.product.name ?? link.productId,
    operationDate: at,
    resourceType: 'software_download_link' as const,
    resourceId: linkRef(link._id),
    userPrincipalName: link.createdBy.email,
    actor: { kind: 'link-holder' as const, userId: link.createdBy.userId, name: `holder of ${link.createdBy.name}'s download link`, role: null },
    ipAddress: origin.ip,
    userAgent: origin.userAgent,
    requestId,
  };
}

/**
 * The entry of a slot whose request failed before logging it, written later from what the slot kept: at the slot's
 * time and request, without the address and user agent it did not keep. Its request answered only after its entry,
 * so it served nothing: a failed download, though its slot counts.
 */
export function interruptedDownloadEntry(slot: { n: number; at: Date; entry: { detail: string; requestId: string | null } }, facts: Omit<DownloadEntryFacts, 'origin'>, by: 'a later download' | 'the nightly housekeeping') {
  return {
    _id: `download:${facts.link._id}:${slot.n}`,
    operationType: 'download_software' as const,
    operationStatus: 'failed' as const,
    detail: `${slot.entry.detail}; not served, the slot still counted: its request failed before answering; logged late, by ${by} (its address and user agent were not kept)`,
    reason: DOWNLOAD_INTERRUPTED,
    ...downloadEntryFields({ ...facts, origin: { ip: null, userAgent: null } }, new Date(slot.at), slot.entry.requestId),
  };
}

/** A request counts as one download when it starts at byte 0 (no Range, or a Range from byte 0). */
export function countsAsDownload(firstByte: number): boolean {
  return firstByte === 0;
}

/** How long after a counted download its client may resume it without counting again. */
export const RESUME_WINDOW_SECONDS = 24 * 60 * 60;
/** How many times one counted download may be resumed without counting (then a range counts as a download). */
export const MAX_RESUMES_PER_DOWNLOAD = 10;

/**
 * The counted download a request continues, if any: it starts past byte 0, and the same client (`client`: its
 * address and user agent, as the caller identifies them) made that download of the link at most
 * `RESUME_WINDOW_SECONDS` before (the latest such). Each counted download may be resumed at most
 * `MAX_RESUMES_PER_DOWNLOAD` times (the caller takes a resume slot of the claim); anything else counts as a download
 * of its own, so ranges do not go round the 50-download limit, and a resume never needs a free download slot.
 */
export function resumableClaim<C extends { client?: string | null; at: Date }>(firstByte: number, claims: readonly C[], client: string, at: Date): C | null {
  if (countsAsDownload(firstByte)) return null;
  const mine = claims.filter((c) => c.client === client && c.at.getTime() <= at.getTime() && at.getTime() - c.at.getTime() <= RESUME_WINDOW_SECONDS * 1000);
  return mine.sort((a, b) => b.at.getTime() - a.at.getTime())[0] ?? null;
}

/**
 * The slot a counted download claims, chosen at random among those not yet seen taken (so that many
 * concurrent requests spread over the free slots instead of all racing for the next one); null when all
 * `max` are taken. `random` returns a number in [0, 1).
 */
export function pickSlot(taken: Iterable<number>, random: () => number, max = LINK_MAX_DOWNLOADS): number | null {
  const seen = new Set(taken);
  const free: number[] = [];
  for (let n = 1; n <= max; n++) if (!seen.has(n)) free.push(n);
  if (free.length === 0) return null;
  return free[Math.min(free.length - 1, Math.floor(random() * free.length))];
}

export interface DownloadChoice {
  version: string;
  language: string;
  fileType: string;
}

export type OptionMatch = { option: DownloadOption } | { field: 'version' | 'language' | 'fileType'; allowed: string[]; message: string };

const distinct = (xs: string[]) => [...new Set(xs)];
const quoteList = (xs: string[]) => xs.map((x) => JSON.stringify(x)).join(', ');

/**
 * The option a request names: `version` is an `optionTitle`, `language` a `languageCode` or
 * `languageName`, `fileType` a file type offered for that version and language; case does not matter in any of them.
 * Otherwise the first field at fault and the values allowed for it.
 */
export function matchDownloadOption(options: DownloadOption[], choice: DownloadChoice): OptionMatch {
  const versions = distinct(options.map((o) => o.optionTitle));
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  const byVersion = options.filter((o) => same(o.optionTitle, choice.version));
  if (byVersion.length === 0) {
    return { field: 'version', allowed: versions, message: `version ${JSON.stringify(choice.version)} is not offered for this product; choose one of ${quoteList(versions)}` };
  }
  const byLanguage = byVersion.filter((o) => same(o.languageCode, choice.language) || same(o.languageName, choice.language));
  if (byLanguage.length === 0) {
    const languages = distinct(byVersion.map((o) => o.languageCode));
    const names = distinct(byVersion.map((o) => `${o.languageCode} (${o.languageName})`));
    return { field: 'language', allowed: languages, message: `language ${JSON.stringify(choice.language)} is not offered for ${byVersion[0].optionTitle}; choose one of ${names.join(', ')}` };
  }
  const option = byLanguage.find((o) => same(o.fileType, choice.fileType));
  if (!option) {
    const fileTypes = distinct(byLanguage.map((o) => o.fileType));
    return { field: 'fileType', allowed: fileTypes, message: `fileType ${JSON.stringify(choice.fileType)} is not offered for ${byVersion[0].optionTitle} in ${byLanguage[0].languageName}; choose one of ${quoteList(fileTypes)}` };
  }
  return { option };
}

/** The activity log answers at most this many days at a time (Partner Center keeps 90 days at hand). */
export const LOG_MAX_RANGE_DAYS = 90;

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A calendar date `YYYY-MM-DD` as the UTC midnight that starts it; null when it is no such date. */
export function parseDay(s: string): Date | null {
  const m = DATE_RE.exec(s);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // setUTCFullYear: Date.UTC would read years 0 to 99 as 1900 to 1999
  const at = new Date(0);
  at.setUTCFullYear(y, mo - 1, d);
  if (at.getUTCFullYear() !== y || at.getUTCMonth() !== mo - 1 || at.getUTCDate() !== d) return null;
  return at;
}

export const dayOf = (at: Date): string => at.toISOString().slice(0, 10);

/** A refusal names its field and says what is wrong after the field's name ("<field> <message>"). */
export type LogRange = { from: Date; until: Date; days: number; fromDay: string; toDay: string; timeZone: string } | { field: 'from' | 'to' | 'timeZone'; message: string };

/** The activity log has nothing before this year: FIRST_DAY's (domain/time.ts). */
export const LOG_FIRST_YEAR = Number(FIRST_DAY.slice(0, 4));

/**
 * The days `from` to `to` (YYYY-MM-DD), both included, as days of `timeZone` (default UTC): the [from, until)
 * instants from the first day's local midnight to the midnight after the last day (a day of a daylight-saving change
 * has its 23 or 25 hours). Both default: `to` to today there, `from` to 29 days before `to`. A zone that is none,
 * malformed or impossible dates, dates before `LOG_FIRST_YEAR`, `from` after `to`, and more than `LOG_MAX_RANGE_DAYS`
 * days are refused, naming the field.
 */
export function logRange(fromRaw: string | undefined, toRaw: string | undefined, today: Date, zone = 'UTC'): LogRange {
  const timeZone = timeZoneName(zone);
  if (timeZone === null) return { field: 'timeZone', message: `${JSON.stringify(zone)} is not a time zone: give an IANA name such as Australia/Sydney or UTC` };
  // calendar dates are carried as the UTC midnights that start them, whatever the zone
  const to = toRaw === undefined ? localDate(today.getTime(), timeZone) : parseDay(toRaw);
  if (!to) return { field: 'to', message: `${JSON.stringify(toRaw)} is not a date (YYYY-MM-DD)` };
  // (a default start is not before the log's first year: only a date given is refused for it)
  const from = fromRaw === undefined ? new Date(Math.max(to.getTime() - 29 * DAY_MS, Date.UTC(LOG_FIRST_YEAR, 0, 1))) : parseDay(fromRaw);
  if (!from) return { field: 'from', message: `${JSON.stringify(fromRaw)} is not a date (YYYY-MM-DD)` };
  if (from.getUTCFullYear() < LOG_FIRST_YEAR) return { field: 'from', message: `${dayOf(from)} is before ${LOG_FIRST_YEAR}, when the log has nothing` };
  if (to.getUTCFullYear() < LOG_FIRST_YEAR) return { field: 'to', message: `${dayOf(to)} is before ${LOG_FIRST_YEAR}, when the log has nothing` };
  if (from.getTime() > to.getTime()) return { field: 'from', message: `${dayOf(from)} is after the range's end ${dayOf(to)}` };
  const days = Math.round((to.getTime() - from.getTime()) / DAY_MS) + 1;
  // named by the date the caller sent: `from` alone makes the range with today's default end
  if (days > LOG_MAX_RANGE_DAYS) return { field: toRaw === undefined ? 'from' : 'to', message: `makes a range of ${days} days (${dayOf(from)} to ${dayOf(to)}); at most ${LOG_MAX_RANGE_DAYS} at a time` };
  return { from: startOfLocalDay(from, timeZone), until: startOfLocalDay(new Date(to.getTime() + DAY_MS), timeZone), days, fromDay: dayOf(from), toDay: dayOf(to), timeZone };
}

/**
 * What the activity log records, named as Partner Center's audit records name things (`operationType`,
 * `resourceType`, `operationStatus`).
 */
export const ACTIVITY_OPERATIONS = [
  'create_order',
  'cancel_order',
  'get_software_keys',
  'create_software_download_link',
  'download_software',
  'resume_software_download',
  'revoke_software_keys_and_links',
] as const;
export type ActivityOperation = (typeof ACTIVITY_OPERATIONS)[number];
export const ACTIVITY_RESOURCES = ['order', 'software_key', 'software_download_link'] as const;
export type ActivityResource = (typeof ACTIVITY_RESOURCES)[number];
export type ActivityStatus = 'succeeded' | 'failed';
export type ActorKind = 'user' | 'link-holder' | 'system';

/** What an activity-log entry says about the order it concerns (its customer and product, by id and name). */
export function activitySubject(order: { _id: string; partnerId: string; customerId: string; customer: { name: string }; product: { id: string; name: string } }) {
  return {
    partnerId: order.partnerId,
    customerId: order.customerId,
    customerName: order.customer.name,
    orderId: order._id,
    productId: order.product.id,
    productName: order.product.name,
  };
}
