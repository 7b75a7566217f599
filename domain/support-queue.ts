/**
 * The support queue's order and its bands: pure rules shared by the ticket's activities (which write a ticket's
 * queue entry), the queue's reader (services/support.ts) and the benchmark.
 *
 * The queue is ordered by `queueKey` = `<earliest SLA due, ISO>|<ticket number>` ("~" instead of a due when no
 * clock runs, so those come last, by number). The reader must not sort the whole queue: FerretDB 1.24 pushes
 * neither sort nor limit down to PostgreSQL, only equality filters, so a sorted read of 10,000 tickets decodes
 * all 10,000 (seconds). So each entry also carries a *band*, reached by equality, and the reader walks the bands
 * in order, reading only as many as a page needs:
 *
 *   overdue           the earliest due had passed when the ticket's workflow last wrote it (its breach timer
 *                     writes it at the due instant, so a ticket moves here when it falls due);
 *   h:YYYY-MM-DDTHH   due in that UTC hour (and the entry's `day` is its UTC day, so a reader skips empty or
 *                     small days with one query);
 *   ~                 no clock runs (waiting on the partner);
 *   done              approved, rejected or resolved (may still reopen); a closed ticket has no entry.
 */

/** The queue's sort and cursor key: due instant first (none last), then the number. */
export const queueKeyOf = (nextDueAt: string | Date | null, number: string): string => `${nextDueAt ? new Date(nextDueAt).toISOString() : '~'}|${number}`;

/** A queue key as queueKeyOf makes it (a cursor is one): an ISO instant in UTC with milliseconds, or "~", then a ticket number. */
export const QUEUE_KEY_PATTERN = /^(?:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z|~)\|SR-\d{6}-[0-9A-HJKMNP-TV-Z]{6}$/;

export const OVERDUE_BAND = 'overdue';
export const NO_DUE_BAND = '~';
export const DONE_BAND = 'done';

/**
 * How long after its due a ticket may still sit in its hour band: the time between the due and the breach write
 * of its workflow (normally milliseconds; as long as no worker runs, or its writes are held up). The reader starts
 * its walk of the hour bands this long before now, so a ticket stays in the queue through a worker outage of up
 * to a day. The price is one more probe of an almost empty day per first page: yesterday's tickets have moved to
 * the overdue band when their breach was written.
 */
export const QUEUE_GRACE_SECONDS = 24 * 3600;

/** The hour band of an instant: `h:` and its UTC hour. */
export const hourBand = (at: Date): string => `h:${at.toISOString().slice(0, 13)}`;
/** The UTC day (`YYYY-MM-DD`) of an instant. */
export const utcDay = (at: Date): string => at.toISOString().slice(0, 10);

export interface QueuePlacement {
  band: string;
  /** the UTC day of an hour band, else null */
  day: string | null;
}

/**
 * Where a ticket sits in the queue, from what its workflow writes: whether it is still being worked, its earliest
 * running due (null when no clock runs) and the instant of the write.
 */
export function queueBandOf(active: boolean, nextDueAt: Date | null, writtenAt: Date): QueuePlacement {
  if (!active) return { band: DONE_BAND, day: null };
  if (!nextDueAt) return { band: NO_DUE_BAND, day: null };
  if (nextDueAt.getTime() <= writtenAt.getTime()) return { band: OVERDUE_BAND, day: null };
  return { band: hourBand(nextDueAt), day: utcDay(nextDueAt) };
}

/** The hour bands of a UTC day, from `fromHour` (0-23) on. */
export function hourBandsOf(day: string, fromHour = 0): string[] {
  const out: string[] = [];
  for (let h = Math.max(0, fromHour); h < 24; h++) out.push(`h:${day}T${String(h).padStart(2, '0')}`);
  return out;
}

/** The due part of a queue key (an ISO instant), or null for a key of the no-due tail. */
export function dueOfKey(key: string): Date | null {
  const due = key.slice(0, key.indexOf('|'));
  if (due === NO_DUE_BAND) return null;
  const d = new Date(due);
  return Number.isNaN(d.getTime()) ? null : d;
}

/**
 * Where the walk of the hour bands starts: the grace period before `now`, or the cursor's hour when that is
 * later (a page after the cursor never needs an earlier hour).
 */
export function walkStart(now: Date, after: string | null): Date {
  const graceStart = new Date(now.getTime() - QUEUE_GRACE_SECONDS * 1000);
  const cursorDue = after ? dueOfKey(after) : null;
  return cursorDue && cursorDue > graceStart ? cursorDue : graceStart;
}
