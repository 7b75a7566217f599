/**
 * Reading the support queue a page at a time, in due order, without sorting the whole queue (the bands and why:
 * domain/support-queue.ts).
 *
 * The due part of a page comes from the queue entries: the overdue band, then the UTC days that hold hour bands,
 * from an hour before now (or the cursor) on. A day is probed with one query of at most DAY_PROBE entries (a
 * limit FerretDB passes to PostgreSQL when every filter is an equality); a day with fewer is read whole, a fuller
 * one hour by hour. The walk stops as soon as the next band cannot hold a key before the page's last. The tail
 * (tickets with no running clock, ordered by number) comes from the entries when only working states are asked
 * for, else from the tickets themselves (decided and closed tickets included).
 */
import { Partner, SupportQueueDay, SupportQueueEntry, SupportTicket, User, type QueueRow } from '../models';
import { ACTIVE_STATUSES, type TicketStatus } from '../domain/support';
import { literalPattern } from '../domain/text';
import { NO_DUE_BAND, OVERDUE_BAND, dueOfKey, hourBandsOf, utcDay, walkStart } from '../domain/support-queue';

export type { QueueRow };

export interface QueueFilter {
  /** a partner's users see their own partner's tickets only */
  partnerId?: string;
  statuses?: TicketStatus[];
  impact?: string;
  /** null: unassigned */
  assigneeId?: string | null;
  escalated?: boolean;
  atRisk?: boolean;
  /**
   * words, each matched (case-insensitively) somewhere in the ticket's search text, or in the names the queue shows
   * beside it: its partner's and its assignee's
   */
  text?: string;
}

/** Entries a day may hold to be read in one query; a fuller day is read hour by hour. */
export const DAY_PROBE = 150;


/** The partners and support people whose names hold a search word: their tickets match it too. */
interface NameHits {
  partnerIds: string[];
  assigneeIds: string[];
}

const searchWords = (f: QueueFilter) => [...new Set(f.text ? f.text.toLowerCase().split(/\s+/).filter(Boolean) : [])];

/** Names are looked up for this many words of a search at most, each of at least NAME_WORD_MIN characters. */
const NAME_WORDS_MAX = 5;
const NAME_WORD_MIN = 2;
/** A word held by this many names or more says little: its tickets are matched by their text only. */
const NAME_HITS_MAX = 200;

async function namesHolding(words: string[], f: QueueFilter): Promise<NameHits[]> {
  const none: NameHits = { partnerIds: [], assigneeIds: [] };
  const looked = new Set(words.filter((w) => w.length >= NAME_WORD_MIN).slice(0, NAME_WORDS_MAX));
  const ids = async (found: Promise<{ _id: unknown }[]>) => {
    const rows = await found;
    return rows.length >= NAME_HITS_MAX ? [] : rows.map((r) => String(r._id));
  };
  return Promise.all(
    words.map(async (w) => {
      if (!looked.has(w)) return none;
      const re = { $regex: literalPattern(w), $options: 'i' };
      const [partnerIds, assigneeIds] = await Promise.all([
        // a partner's users see their own partner's tickets only: no other partner's name to look up
        f.partnerId !== undefined ? Promise.resolve([]) : ids(Partner.find({ name: re }, { _id: 1 }).limit(NAME_HITS_MAX).lean()),
        ids(User.find({ role: { $in: ['support-agent', 'support-lead'] }, name: re }, { _id: 1 }).limit(NAME_HITS_MAX).lean()),
      ]);
      return { partnerIds, assigneeIds };
    }),
  );
}

function commonFilter(f: QueueFilter, hits: NameHits[]): Record<string, unknown> {
  const q: Record<string, unknown> = {};
  if (f.partnerId !== undefined) q.partnerId = f.partnerId;
  if (f.impact !== undefined) q.impact = f.impact;
  if (f.assigneeId !== undefined) q.assigneeId = f.assigneeId;
  if (f.escalated !== undefined) q.escalated = f.escalated;
  if (f.atRisk !== undefined) q.atRisk = f.atRisk;
  // every word of the search, anywhere in the ticket's search text or in its partner's or assignee's name
  const words = searchWords(f).map((w, i) => {
    const inText = { searchText: { $regex: literalPattern(w) } };
    const { partnerIds, assigneeIds } = hits[i];
    if (partnerIds.length === 0 && assigneeIds.length === 0) return inText;
    return { $or: [inText, ...(partnerIds.length ? [{ partnerId: { $in: partnerIds } }] : []), ...(assigneeIds.length ? [{ assigneeId: { $in: assigneeIds } }] : [])] };
  });
  if (words.length === 1 && 'searchText' in words[0]) Object.assign(q, words[0]);
  else if (words.length > 0) q.$and = words;
  return q;
}

const statusFilter = (statuses: readonly string[]) => (statuses.length === 1 ? statuses[0] : { $in: [...statuses] });

/** The page after `after` (a queue key; null: the first page): up to `limit` rows, and whether more follow. */
export async function readQueuePage(f: QueueFilter, after: string | null, limit: number, now: Date): Promise<{ rows: QueueRow[]; more: boolean }> {
  const want = limit + 1;
  const common = commonFilter(f, await namesHolding(searchWords(f), f));
  const statuses = f.statuses ? [...new Set(f.statuses)] : undefined;
  const working = statuses ? statuses.filter((s) => ACTIVE_STATUSES.includes(s)) : [...ACTIVE_STATUSES];
  const onlyWorking = statuses !== undefined && working.length === statuses.length;
  // entries in the due and no-due bands are all in working states: a filter naming all of them is left out, so
  // that every filter stays an equality FerretDB passes down with the day probe's limit
  const entryFilter = statuses && working.length < ACTIVE_STATUSES.length ? { ...common, status: statusFilter(working) } : common;
  const cursorDue = after ? dueOfKey(after) : null;
  const inTail = after !== null && cursorDue === null;

  let rows: QueueRow[] = [];
  const take = (docs: QueueRow[]) => {
    for (const d of docs) if (after === null || d.queueKey > after) rows.push(d);
    rows.sort((a, b) => (a.queueKey < b.queueKey ? -1 : a.queueKey > b.queueKey ? 1 : 0));
    if (rows.length > want) rows = rows.slice(0, want);
  };
  // a band starting at `startIso` holds no key before the page's last: nothing further can enter the page
  const full = (startIso: string) => rows.length >= want && startIso > rows[want - 1].queueKey;
  const entries = (extra: Record<string, unknown>, probe?: number) => {
    const q = SupportQueueEntry.find({ ...entryFilter, ...extra });
    return (probe ? q.limit(probe) : q).lean<QueueRow[]>();
  };

  if (!inTail && working.length) {
    // overdue tickets' dues are all before now: needed unless the cursor is past now
    if (!cursorDue || cursorDue <= now) take(await entries({ band: OVERDUE_BAND }));
    const start = walkStart(now, after);
    const firstDay = utcDay(start);
    const days = (await SupportQueueDay.find({}, { _id: 1 }).lean())
      .map((d) => d._id)
      .filter((d) => d >= firstDay)
      .sort();
    walk: for (const day of days) {
      if (full(`${day}T00:00:00.000Z`)) break;
      const probe = await entries({ day }, DAY_PROBE);
      if (probe.length < DAY_PROBE) {
        take(probe);
        continue;
      }
      for (const band of hourBandsOf(day, day === firstDay ? start.getUTCHours() : 0)) {
        if (full(`${band.slice(2)}:00:00.000Z`)) break walk;
        take(await entries({ band }));
      }
    }
  }

  if (rows.length < want && working.length && onlyWorking) {
    take(await entries({ band: NO_DUE_BAND }));
  } else if (rows.length < want && !onlyWorking) {
    // the no-due tail with decided and closed tickets: from the tickets (a sorted read of that tail)
    const tailFilter: Record<string, unknown> = { ...common, ...(statuses ? { status: statusFilter(statuses) } : {}), queueKey: { $gt: inTail ? after : NO_DUE_BAND } };
    const tail = await SupportTicket.find(tailFilter)
      .sort({ queueKey: 1 })
      .limit(want - rows.length)
      .lean<QueueRow[]>();
    rows.push(...tail);
  }
  const more = rows.length > limit;
  return { rows: rows.slice(0, limit), more };
}
