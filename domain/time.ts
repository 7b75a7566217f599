/** Time arithmetic shared by the API, the workflows and the tests. All instants are UTC. */
export const DAY_MS = 24 * 60 * 60 * 1000;

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

/** The month after a `YYYY-MM` key. */
export function nextMonthKey(key: string): string {
  const [y, m] = key.split('-').map(Number);
  return monthKey(new Date(Date.UTC(y, m, 1)));
}

/** An instant to the minute in UTC, as emails and log details give times: "2026-11-26 03:37 UTC". */
export function utcMinute(at: Date): string {
  return `${at.toISOString().replace('T', ' ').slice(0, 16)} UTC`;
}

/** An instant to the second in UTC, for records that must keep it (the activity log): "2026-12-10 04:41:35 UTC". */
export function utcSecond(at: Date): string {
  return `${at.toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}
