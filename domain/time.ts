/** Time arithmetic shared by the API, the workflows and the tests. All instants are UTC. */
export const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The first day csp-desk holds anything for (UTC): imported purchases are not dated before it, and the activity log
 * and the support reports cover nothing before it (far years are also where time zones' rules stop holding).
 */
export const FIRST_DAY = '2000-01-01';

export function addDays(at: Date, days: number): Date {
  return new Date(at.getTime() + days * DAY_MS);
}

/** Adds calendar months in UTC, clamping to the month's last day (31 Jan + 1 month = 28/29 Feb). */
export function addMonthsUtc(at: Date, months: number): Date {
  const y = at.getUTCFullYear();
  const m = at.getUTCMonth() + months;
  const target = new Date(Date.UTC(y, m, 1, at.getUTCHours(), at.getUTCMinutes(), at.getUTCSeconds(), at.getUTCMilliseconds()));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(at.getUTCDate(), lastDay));
  return target;
}

/** `at`, or `floor` when `at` is earlier: e.g. what csp-desk did for an order is never dated before the order came in. */
export const notBefore = (at: Date, floor: Date): Date => (at.getTime() < floor.getTime() ? new Date(floor) : at);

/**
 * The day of an order's life that `now` falls in, counted from its purchase instant:
 * day 1 is the first 24 hours after purchase, day 60 the 24 hours ending exactly 60 days after it.
 */
export function dayNumber(startedAt: Date, now: Date): number {
  const elapsed = now.getTime() - startedAt.getTime();
  if (elapsed < 0) return 0;
  return Math.floor(elapsed / DAY_MS) + 1;
}

/** Whole days from `now` until `end`, counting a started day as a day; 0 once `end` has passed. */
export function daysUntil(now: Date, end: Date): number {
  const ms = end.getTime() - now.getTime();
  return ms <= 0 ? 0 : Math.ceil(ms / DAY_MS);
}

/** Invoice month key `YYYY-MM` (UTC) of an instant. */
export function monthKey(at: Date): string {
  return `${at.getUTCFullYear()}-${String(at.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** The month before a `YYYY-MM` key. */
export function previousMonthKey(key: string): string {
  const [y, m] = key.split('-').map(Number);
  return monthKey(new Date(Date.UTC(y, m - 2, 1)));
}

export const MONTH_KEY_PATTERN = '^[0-9]{4}-(0[1-9]|1[0-2])$';

/** A `YYYY-MM` key as people name the month: "November 2026". */
export function monthName(key: string): string {
  const [y, m] = key.split('-').map(Number);
  return new Intl.DateTimeFormat('en-GB', { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(new Date(Date.UTC(y, m - 1, 1)));
}

/** A value that may be a month key, as people name it ("2026-11" -> "November 2026"); anything else as it is (the templates' `monthWords`). */
export const monthWords = (key: unknown): unknown => (typeof key === 'string' && new RegExp(MONTH_KEY_PATTERN).test(key) ? monthName(key) : key);

/** The month after a `YYYY-MM` key. */
export function nextMonthKey(key: string): string {
  const [y, m] = key.split('-').map(Number);
  return monthKey(new Date(Date.UTC(y, m, 1)));
}

/** An instant to the minute in UTC, as emails and log details give times: "2026-11-26 03:37 UTC". */
export function utcMinute(at: Date): string {
  return `${at.toISOString().replace('T', ' ').slice(0, 16)} UTC`;
}

/**
 * An instant to the minute in a time zone, named with its offset then: "2026-11-26 14:37 Australia/Sydney
 * (UTC+11:00)"; in UTC, utcMinute's "2026-11-26 03:37 UTC". The emails give their times so.
 */
export function zonedMinute(at: Date, timeZone: string): string {
  if (timeZone === 'UTC') return utcMinute(at);
  const l = localTime(at.getTime(), timeZone);
  const offset = Math.round(zoneOffsetMs(at.getTime(), timeZone) / 60_000);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const sign = offset < 0 ? '-' : '+';
  return `${String(l.year).padStart(4, '0')}-${p2(l.month)}-${p2(l.day)} ${p2(l.hour)}:${p2(l.minute)} ${timeZone} (UTC${sign}${p2(Math.floor(Math.abs(offset) / 60))}:${p2(Math.abs(offset) % 60)})`;
}

/** A user's own zone for their emails: the one chosen in Settings, else the one their browser last gave the pages. */
export const userEmailZone = (chosen: string | null | undefined, browser: string | null | undefined): string | null => chosen ?? browser ?? null;

/**
 * The time zone of an email's times: its recipients' zone (userEmailZone), when every one of them is a user with the
 * same one; else UTC (an address that is no user, such as a partner's billing address, has none, and one
 * email cannot be in two zones). `zones` has one entry per recipient: null for none.
 */
export function emailTimeZone(zones: readonly (string | null | undefined)[]): string {
  const named = zones.map((z) => timeZoneName(z));
  const first = named[0];
  return first && named.every((z) => z === first) ? first : 'UTC';
}

/** The UTC hour of an instant as a key: "2026-11-27T19" (the hourly limits' slots are named by it). */
export const utcHourKey = (at: Date): string => at.toISOString().slice(0, 13);

/** An instant to the second in UTC, for records that must keep it (the activity log): "2026-12-10 04:41:35 UTC". */
export function utcSecond(at: Date): string {
  return `${at.toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}

// ---------------------------------------------------------------------------------------------------------
// Local time through Intl

let zones: readonly string[] | undefined;
let zonesByLowerCase: ReadonlyMap<string, string> | undefined;
/** names outside `timeZones()` that Intl took (links such as Asia/Kolkata), by lower case, with the name they go by */
const linkedZones = new Map<string, string>();
/** The time zones a user chooses from (ICU's canonical IANA names, and UTC), sorted; made on first use. */
export const timeZones = (): readonly string[] => (zones ??= [...new Set(['UTC', ...Intl.supportedValuesOf('timeZone')])].sort());

/**
 * The name a time zone goes by here, or null when it is none: any IANA name `Intl` knows, in any letter case, links
 * included (`Asia/Kolkata`, `Europe/Kyiv`, `Etc/UTC`, which this ICU lists under older names), as spelled in
 * `timeZones()` or as ICU names it (`Asia/Calcutta`), so that one zone has one name.
 */
export function timeZoneName(tz: unknown): string | null {
  // a name, never an offset: Intl on Node 24 also takes "+05:30" and "-00:00", which would give a zone a second name
  if (typeof tz !== 'string' || tz.length === 0 || tz.length > 64 || !/^[A-Za-z]/.test(tz)) return null;
  const lower = tz.toLowerCase();
  const known = (zonesByLowerCase ??= new Map(timeZones().map((z) => [z.toLowerCase(), z]))).get(lower) ?? linkedZones.get(lower);
  if (known) return known;
  try {
    const name = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
    // (kept: only names Intl took, by their lower case, so at most the zones it knows)
    linkedZones.set(lower, name);
    return name;
  } catch {
    return null;
  }
}
export const isTimeZone = (tz: unknown): tz is string => timeZoneName(tz) !== null;

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, f);
  }
  return f;
}

export interface LocalDateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** Date.UTC of a calendar day (month 1 to 12) and minutes into it, without Date.UTC's reading of years 0 to 99 as 1900 to 1999. */
function utcMs(year: number, month: number, day: number, minutes: number, seconds = 0): number {
  const at = new Date(0);
  at.setUTCFullYear(year, month - 1, day);
  return at.getTime() + minutes * 60_000 + seconds * 1000;
}

/** The wall-clock time of an instant in a time zone. */
export function localTime(instantMs: number, timeZone: string): LocalDateTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(instantMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour === 24 ? 0 : parts.hour, minute: parts.minute, second: parts.second };
}

/** Offset of the zone from UTC at an instant, in milliseconds (Berlin in summer: +7,200,000). */
export function zoneOffsetMs(instantMs: number, timeZone: string): number {
  const l = localTime(instantMs, timeZone);
  const asUtc = utcMs(l.year, l.month, l.day, l.hour * 60 + l.minute, l.second);
  return asUtc - Math.floor(instantMs / 1000) * 1000;
}

/** The calendar date an instant falls on in a time zone, carried (as calendar dates are here) as the UTC midnight that starts it. */
export function localDate(instantMs: number, timeZone: string): Date {
  const here = localTime(instantMs, timeZone);
  return new Date(utcMs(here.year, here.month, here.day, 0));
}

/** The instant a calendar date (carried as its UTC midnight) begins in a time zone: its local midnight. */
export function startOfLocalDay(date: Date, timeZone: string): Date {
  return new Date(instantOf(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), 0, timeZone));
}

/**
 * The instant of a local wall time. A time skipped by a spring-forward change maps to the instant after the
 * gap (02:30 -> 03:30); a repeated time in autumn maps to its first occurrence.
 */
export function instantOf(year: number, month: number, day: number, minutes: number, timeZone: string): number {
  const wall = utcMs(year, month, day, minutes);
  // the zone's offsets a day and a half before and after: the two candidates of a changing day. (Half a day was
  // not enough where the offset is 12 hours or more: in Auckland, at +13, half a day before the wall time read as
  // UTC is already after the change, and 02:30 on the spring-forward day mapped before the gap: review.) Offsets
  // run from -12 to +14 hours, and no zone changes its offset twice within three days.
  const before = wall - zoneOffsetMs(wall - 129_600_000, timeZone);
  const after = wall - zoneOffsetMs(wall + 129_600_000, timeZone);
  const reads = (c: number) => c + zoneOffsetMs(c, timeZone) === wall;
  const matching = [before, after].filter(reads);
  if (matching.length) return Math.min(...matching);
  // a wall time in a spring-forward gap: the offset before the change puts it just after the gap
  return before;
}
