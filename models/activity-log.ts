/**
 * The activity log: who accessed software keys and downloads, and the order facts around them. Every entry is
 * inserted once under a natural key (`_id`) and never updated, so concurrent writers and retried activities
 * add each fact exactly once.
 */
import { Schema, model } from 'mongoose';
import type { ActivityOperation, ActivityResource, ActivityStatus, ActorKind } from '../domain/licensing';
import { isDuplicateKey } from '../lib/errors';

export interface ActivityEntryDoc {
  /** the natural key of the fact, e.g. `order:<id>:placed`, `download:<link>:<n>` */
  _id: string;
  partnerId: string;
  operationDate: Date;
  operationType: ActivityOperation;
  resourceType: ActivityResource;
  operationStatus: ActivityStatus;
  /** the user's sign-in name (email); null for the anonymous holder of a link and for the system */
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
  },
  { versionKey: false, minimize: false },
);
// newest first within a partner, with the `_id` as the tie-breaker of the cursor
entrySchema.index({ partnerId: 1, operationDate: -1, _id: -1 });
entrySchema.index({ partnerId: 1, customerId: 1, operationDate: -1, _id: -1 });
entrySchema.index({ partnerId: 1, operationType: 1, operationDate: -1, _id: -1 });
export const ActivityEntry = model<ActivityEntryDoc>('ActivityEntry', entrySchema, 'activitylog');

/** Inserts an entry once: false when its natural key is already there (a retry, or the same fact twice). */
export async function appendActivity(entry: ActivityEntryDoc): Promise<boolean> {
  try {
    await ActivityEntry.create(entry);
    return true;
  } catch (e) {
    if (isDuplicateKey(e)) return false;
    throw e;
  }
}
