/**
 * The activity log: who accessed software keys and downloads, and the order facts around them. Every entry is
 * inserted once under a natural key (`_id`) and never updated, so concurrent writers and retried activities
 * add each fact exactly once.
 *
 * Reading it newest first must not depend on the database sorting or filtering by a range: FerretDB 1.24
 * pushes only equality filters down to PostgreSQL, and sorts or compares dates in its own process after
 * reading every matching document (at 100,000 entries a sorted first page took 8 to 22 s). So each entry
 * carries its UTC `day`, and a partner's days with entries are facts of their own (`activitydays`, `_id` =
 * `<partner>:<day>`, inserted once): a page reads the partner's days, then the newest days' entries by
 * equality (`partnerId`, `day`), and sorts those in the service.
 */
import { Schema, model } from 'mongoose';
import type { ActivityOperation, ActivityResource, ActivityStatus, ActorKind } from '../domain/licensing';
import { insertOnce } from '../lib/errors';

export interface ActivityEntryDoc {
  /** the natural key of the fact, e.g. `order:<id>:placed`, `download:<link>:<n>` */
  _id: string;
  partnerId: string;
  operationDate: Date;
  operationType: ActivityOperation;
  resourceType: ActivityResource;
  operationStatus: ActivityStatus;
  /** the user's sign-in name (email); null for the anonymous holder of a link, for the system and for support staff (partners never see their addresses) */
  userPrincipalName: string | null;
  actor: { kind: ActorKind; userId: string | null; name: string; role: string | null };
  customerId: string;
  customerName: string;
  orderId: string;
  productId: string;
  productName: string;
  /** the key or link acted on: `<order>:<n>` for a key, the first 16 hex digits of a link's id */
  resourceId: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  /** what happened, in a sentence */
  detail: string;
  /** why it failed (a stable code), when it did */
  reason: string | null;
  requestId: string | null;
  /** the UTC day of `operationDate`, `YYYY-MM-DD`: the bucket reads go by (set by `appendActivity`) */
  day?: string;
}
const entrySchema = new Schema<ActivityEntryDoc>(
  {
    _id: String,
    partnerId: { type: String, required: true },
    operationDate: { type: Date, required: true },
    operationType: { type: String, required: true },
    resourceType: { type: String, required: true },
    operationStatus: { type: String, required: true },
    userPrincipalName: { type: String, default: null },
    actor: { type: Schema.Types.Mixed, required: true },
    customerId: { type: String, required: true },
    customerName: { type: String, required: true },
    orderId: { type: String, required: true },
    productId: { type: String, required: true },
    productName: { type: String, required: true },
    resourceId: { type: String, default: null },
    ipAddress: { type: String, default: null },
    userAgent: { type: String, default: null },
    detail: { type: String, required: true },
    reason: { type: String, default: null },
    requestId: { type: String, default: null },
    day: { type: String, required: true },
  },
  { versionKey: false, minimize: false },
);
// a day's entries of a partner (what the reads ask for); on MongoDB also newest first by date
entrySchema.index({ partnerId: 1, day: 1 });
entrySchema.index({ partnerId: 1, operationDate: -1, _id: -1 });
export const ActivityEntry = model<ActivityEntryDoc>('ActivityEntry', entrySchema, 'activitylog');

/** A day on which a partner's log has entries: inserted once, before the day's first entry. */
export interface ActivityDayDoc {
  /** `${partnerId}:${day}` */
  _id: string;
  partnerId: string;
  day: string;
}
export const ActivityDay = model<ActivityDayDoc>(
  'ActivityDay',
  new Schema<ActivityDayDoc>({ _id: String, partnerId: { type: String, required: true, index: true }, day: { type: String, required: true } }, { versionKey: false }),
  'activitydays',
);

/** Keys this process knows are stored, so that writing them again costs nothing (bounded; forgetting one costs an E11000). */
function knownKeys(max: number) {
  const keys = new Set<string>();
  return {
    has: (key: string) => keys.has(key),
    add: (key: string) => {
      if (keys.size >= max) keys.clear();
      keys.add(key);
    },
  };
}
/** Days known to be recorded, so that most entries cost one insert. */
const knownDays = knownKeys(50_000);
/** Entries known to be there: the same fact again (a refused download repeated all day, a retry) writes nothing. */
const knownEntries = knownKeys(50_000);

/** Records that a partner's log has entries on `day` (before any entry of that day is inserted). */
export async function recordActivityDay(partnerId: string, day: string): Promise<void> {
  const id = `${partnerId}:${day}`;
  if (knownDays.has(id)) return;
  await insertOnce(() => ActivityDay.create({ _id: id, partnerId, day }));
  knownDays.add(id);
}

/**
 * Which of these entries are not in the log: those this process has not seen written, each looked up by its `_id`
 * (those found are remembered). For facts recorded in two writes, the second an entry (a download's slot, then its
 * log entry), so that an entry lost to a failure between the two can be written late. One equality lookup per id,
 * a few at a time, not one `_id: {$in}` query: FerretDB 1.24 pushes down only equality, and answers `$in` with a
 * scan of the whole log.
 */
export async function missingActivity(ids: string[]): Promise<string[]> {
  const unknown = ids.filter((id) => !knownEntries.has(id));
  const missing: string[] = [];
  for (let i = 0; i < unknown.length; i += 8) {
    const batch = unknown.slice(i, i + 8);
    const found = await Promise.all(batch.map((id) => ActivityEntry.exists({ _id: id })));
    batch.forEach((id, k) => (found[k] ? knownEntries.add(id) : missing.push(id)));
  }
  return missing;
}

/** Inserts an entry once: false when its natural key is already there (a retry, or the same fact twice). */
export async function appendActivity(entry: ActivityEntryDoc): Promise<boolean> {
  if (knownEntries.has(entry._id)) return false;
  const day = entry.operationDate.toISOString().slice(0, 10);
  await recordActivityDay(entry.partnerId, day);
  const inserted = await insertOnce(() => ActivityEntry.create({ ...entry, day }));
  knownEntries.add(entry._id);
  return inserted;
}
