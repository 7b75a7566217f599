/**
 * The activity log of a partner ("View activity for software key access and software downloads"): entries
 * of a date range (at most 90 days), newest first, filtered by customer and operation, a page at a time
 * (cursor) as JSON, or all of them as RFC 4180 CSV, streamed. Reads go a day at a time by equality (see
 * models/activity-log.ts for why): the partner's days with entries, then the newest days' entries.
 */
import crypto from 'node:crypto';
import { decodeInstantCursor, encodeInstantCursor } from '../lib/cursor';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import { AppError } from '../lib/errors';
import { ActivityDay, ActivityEntry, type ActivityEntryDoc } from '../models';
import { dayOf, logRange, shownEntryId, type ActivityOperation } from '../domain/licensing';
import { isSupportRole } from '../domain/roles';
import { resolveCustomer } from './customers';

export interface ActivityQuery {
  from?: string;
  to?: string;
  /** the IANA time zone whose days `from` and `to` are (default UTC) */
  timeZone?: string;
  customer?: string;
  operation?: ActivityOperation;
  limit?: number;
  cursor?: string;
}

export function activityView(e: ActivityEntryDoc) {
  return {
    id: shownEntryId(e._id),
    operationDate: e.operationDate.toISOString(),
    operationType: e.operationType,
    resourceType: e.resourceType,
    operationStatus: e.operationStatus,
    // support staff's addresses stay hidden from partners, also in entries written before they were left out
    userPrincipalName: e.actor?.role && isSupportRole(e.actor.role) ? null : e.userPrincipalName,
    actor: e.actor,
    customerId: e.customerId,
    customerName: e.customerName,
    orderId: e.orderId,
    productId: e.productId,
    productName: e.productName,
    resourceId: e.resourceId,
    ipAddress: e.ipAddress,
    userAgent: e.userAgent,
    detail: e.detail,
    reason: e.reason,
    requestId: e.requestId,
  };
}
export type ActivityView = ReturnType<typeof activityView>;

/** The CSV's columns, in order: the JSON fields, the actor flattened. */
export const CSV_COLUMNS = [
  'id',
  'operationDate',
  'operationType',
  'resourceType',
  'operationStatus',
  'userPrincipalName',
  'actorKind',
  'actorName',
  'actorRole',
  'customerId',
  'customerName',
  'orderId',
  'productId',
  'productName',
  'resourceId',
  'ipAddress',
  'userAgent',
  'detail',
  'reason',
  'requestId',
] as const;

/**
 * A cell a spreadsheet would read as a formula (it starts with =, +, - or @, also after spaces an import may trim,
 * or with a tab or carriage return that some programs skip) gets a leading apostrophe, so that it stays text.
 */
export function neutraliseCell(value: string): string {
  return /^[\t\r]|^[ \u00a0]*[=+\-@]/.test(value) ? `'${value}` : value;
}

export function csvRow(v: ActivityView): string[] {
  const flat: Record<(typeof CSV_COLUMNS)[number], string | null> = {
    ...v,
    actorKind: v.actor.kind,
    actorName: v.actor.name,
    actorRole: v.actor.role,
  };
  return CSV_COLUMNS.map((c) => neutraliseCell(flat[c] ?? ''));
}

/**
 * The list a cursor of the log pages: the partner's log and the query that made it, as sent (its range, zone and
 * filters, not its page), so that a cursor sent with another customer, operation or range is a 400, not a point in
 * another list (review), and so is one of another partner's log, sent with the same query (QA: a page of the
 * caller's log answered it).
 */
const logList = (partnerId: string, q: ActivityQuery): string =>
  `activity-log:${crypto.createHash('sha256').update(JSON.stringify([partnerId, q.from ?? null, q.to ?? null, q.timeZone ?? null, q.customer ?? null, q.operation ?? null])).digest('base64url').slice(0, 16)}`;
const encodeCursor = (partnerId: string, q: ActivityQuery, e: Pick<ActivityEntryDoc, '_id' | 'operationDate'>) => encodeInstantCursor(logList(partnerId, q), e.operationDate, e._id);

export interface ActivityLogDeps {
  now?: () => Date;
}

/** Newest first: by operationDate, then by `_id` (the order the cursor follows). */
function newestFirst(a: ActivityEntryDoc, b: ActivityEntryDoc): number {
  const d = b.operationDate.getTime() - a.operationDate.getTime();
  if (d !== 0) return d;
  return a._id < b._id ? 1 : a._id > b._id ? -1 : 0;
}

const olderThan = (c: { at: Date; id: string }) => (e: ActivityEntryDoc) => e.operationDate.getTime() < c.at.getTime() || (e.operationDate.getTime() === c.at.getTime() && e._id < c.id);

export function createActivityLogService(deps: ActivityLogDeps = {}) {
  const clock = deps.now ?? (() => new Date());

  /**
   * The range's stored days (UTC) that have entries, newest first, the equality filter of the entries, and the range's
   * instants: days of another time zone straddle two UTC days at each end, whose entries outside it are left out.
   */
  async function plan(partnerId: string, q: ActivityQuery) {
    const range = logRange(q.from, q.to, clock(), q.timeZone);
    if ('field' in range) throw new AppError(400, 'validation_failed', `query.${range.field} ${range.message}`, `query.${range.field}`);
    const first = dayOf(range.from);
    const last = dayOf(new Date(range.until.getTime() - 1));
    const filter: Record<string, unknown> = { partnerId };
    if (q.customer !== undefined) filter.customerId = (await resolveCustomer(partnerId, q.customer))._id;
    if (q.operation !== undefined) filter.operationType = q.operation;
    const days = (await ActivityDay.find({ partnerId }, { day: 1 }).lean())
      .map((d) => d.day)
      .filter((d) => d >= first && d <= last)
      .sort()
      .reverse();
    return { from: range.fromDay, to: range.toDay, timeZone: range.timeZone, days, filter, range };
  }

  /** One stored day's entries within the range, by equality only (what FerretDB pushes down to PostgreSQL), newest first. */
  async function dayEntries(filter: Record<string, unknown>, day: string, range: { from: Date; until: Date }): Promise<ActivityEntryDoc[]> {
    const rows = await ActivityEntry.find({ ...filter, day }).lean<ActivityEntryDoc[]>();
    return rows.filter((e) => e.operationDate >= range.from && e.operationDate < range.until).sort(newestFirst);
  }

  return {
    /** A page of entries, newest first; `nextCursor` continues after its last one (null: no more). */
    async list(partnerId: string, q: ActivityQuery) {
      const { from, to, timeZone, days, filter, range } = await plan(partnerId, q);
      const limit = q.limit ?? 100;
      const after = q.cursor !== undefined ? decodeInstantCursor(logList(partnerId, q), q.cursor) : null;
      const rows: ActivityEntryDoc[] = [];
      for (const day of days) {
        if (after && day > dayOf(after.at)) continue;
        const entries = await dayEntries(filter, day, range);
        rows.push(...(after ? entries.filter(olderThan(after)) : entries));
        if (rows.length > limit) break;
      }
      const page = rows.slice(0, limit);
      return { from, to, timeZone, items: page.map(activityView), nextCursor: rows.length > limit ? encodeCursor(partnerId, q, page[page.length - 1]) : null };
    },

    /** Every entry of the range as CSV (header row first, CRLF line ends), a day at a time as it is written out. */
    async csv(partnerId: string, q: Omit<ActivityQuery, 'limit' | 'cursor'>): Promise<{ from: string; to: string; fileName: string; body: Readable }> {
      const { from, to, timeZone, days, filter, range } = await plan(partnerId, q);
      async function* rows() {
        for (const day of days) for (const e of await dayEntries(filter, day, range)) yield csvRow(activityView(e));
      }
      const body = stringify({ header: true, columns: [...CSV_COLUMNS], record_delimiter: 'windows', quoted_match: /^\s|\s$/ });
      // a failing read destroys the CSV stream with its error, which ends the response
      pipeline(Readable.from(rows()), body).catch(() => undefined);
      // the days are the zone's (its name in the file's, unless UTC); the rows' operationDate stays UTC
      const fileName = `activity-log_${from}_${to}${timeZone === 'UTC' ? '' : `_${timeZone.replace(/[^A-Za-z0-9_+-]/g, '-')}`}.csv`;
      return { from, to, fileName, body };
    },
  };
}

export type ActivityLogService = ReturnType<typeof createActivityLogService>;
