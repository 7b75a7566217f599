/**
 * Licensing side of the order workflow's activities: activation keys, the revocation of keys and links (on
 * cancellation and at the end of a subscription's term), and the order facts of the activity log. Every
 * write is idempotent: revocation is a state change only this order's workflow makes, and log entries are
 * inserted once under their natural key.
 */
import crypto from 'node:crypto';
import { ActivationKey, ActivityEntry, DownloadClaim, DownloadLink, DownloadLinkRequest, DownloadResume, Order, appendActivity, type DownloadLinkDoc, type OrderDoc } from '../models';
import type { OrderActor, RequestOrigin } from '../domain/orders';
import { activitySubject, dayOf, interruptedDownloadEntry, linkRecordsBefore, linkRef, LOST_LOG_AFTER_MS, LOST_LOG_LOOKBACK_MS } from '../domain/licensing';
import { formatMoney } from '../domain/money';
import { isSupportRole } from '../domain/roles';
import type { ActivityDeps } from './shared';

const KEY_ALPHABET = 'BCDFGHJKMPQRTVWXY2346789';
/** A product key in the familiar 5x5 format. */
export function generateActivationKey(): string {
  const bytes = crypto.randomBytes(25);
  const chars = [...bytes].map((b) => KEY_ALPHABET[b % KEY_ALPHABET.length]);
  return [0, 5, 10, 15, 20].map((i) => chars.slice(i, i + 5).join('')).join('-');
}

type OrderFacts = Pick<OrderDoc, '_id' | 'partnerId' | 'customerId' | 'customer' | 'product'>;

const about = activitySubject;

const userActor = (by: OrderActor) => ({ kind: 'user' as const, userId: by.userId, name: by.name, role: by.role });
/** The sign-in name the partner's log shows: none for support staff (their role and name say who), whose addresses partners never see. */
const principalOf = (by: OrderActor) => (isSupportRole(by.role) ? null : by.email);

/**
 * Revokes every key and link of the order. Only the order's workflow calls it (one writer); a link the API
 * inserts meanwhile is refused all the same, because a link serves only while its order is active.
 * Answers what was revoked at `when` (not only this call's share), so that a retry reports the same numbers.
 */
export async function revokeOrderAccess(order: OrderFacts, when: Date): Promise<{ keys: number; links: number }> {
  await ActivationKey.updateMany({ orderId: order._id, status: 'active' }, { $set: { status: 'revoked', revokedAt: when } });
  await DownloadLink.updateMany({ orderId: order._id, status: 'active' }, { $set: { status: 'revoked', revokedAt: when } });
  // what this cause revoked (at `when`): not what an earlier one did (a term's end, then a refund through support)
  const mine = { orderId: order._id, status: 'revoked' as const, revokedAt: when };
  const [keys, links] = await Promise.all([ActivationKey.countDocuments(mine), DownloadLink.countDocuments(mine)]);
  return { keys, links };
}

/** The log entry of a revocation, once per order and cause (a subscription past its term's end may still be refunded through support). */
export async function logRevocation(order: OrderFacts, when: Date, counts: { keys: number; links: number }, cause: { reason: 'cancelled' | 'term-ended'; by: OrderActor | null; requestId: string | null; origin: RequestOrigin | null }): Promise<void> {
  await appendActivity({
    _id: `order:${order._id}:revoked:${cause.reason}`,
    ...about(order),
    operationDate: when,
    operationType: 'revoke_software_keys_and_links',
    resourceType: 'software_key',
    operationStatus: 'succeeded',
    userPrincipalName: cause.by ? principalOf(cause.by) : null,
    actor: cause.by ? userActor(cause.by) : { kind: 'system', userId: null, name: 'csp-desk', role: null },
    resourceId: null,
    ipAddress: cause.origin?.ip ?? null,
    userAgent: cause.origin?.userAgent ?? null,
    detail: `${counts.keys} activation key(s) and ${counts.links} download link(s) revoked: ${cause.reason === 'cancelled' ? 'the order was cancelled' : "the subscription's term ended"}`,
    reason: cause.reason,
    requestId: cause.requestId,
  });
}

/**
 * The log entry of an order placed, or imported: an import is logged when it was done (who brought what in, today),
 * its detail naming the original purchase date; a placed order when it was bought.
 */
export async function logOrderPlaced(order: OrderFacts, at: Date, input: { by: OrderActor; imported: boolean; originalOrderId?: string; purchasedAt: Date; quantity: number; unitPrice?: { amount: number; currency: string }; requestId: string; origin: RequestOrigin | null }): Promise<void> {
  await appendActivity({
    _id: `order:${order._id}:placed`,
    ...about(order),
    operationDate: at,
    operationType: 'create_order',
    resourceType: 'order',
    operationStatus: 'succeeded',
    userPrincipalName: input.by.email,
    actor: userActor(input.by),
    resourceId: order._id,
    ipAddress: input.origin?.ip ?? null,
    userAgent: input.origin?.userAgent ?? null,
    // an import names the unit price it is recorded at (what a support refund of it may credit at most: QA)
    detail: input.imported
      ? `imported ${order.product.name} x ${input.quantity} for ${order.customer.name}, purchased ${input.purchasedAt.toISOString().slice(0, 10)}${input.originalOrderId ? ` as order ${input.originalOrderId}` : ''}${input.unitPrice ? ` at ${formatMoney(input.unitPrice.amount, input.unitPrice.currency)} each` : ''}`
      : `ordered ${order.product.name} x ${input.quantity} for ${order.customer.name}`,
    reason: null,
    requestId: input.requestId,
  });
}

export async function logOrderCancelled(order: OrderFacts, at: Date, input: { by: OrderActor; requestId: string; origin: RequestOrigin | null; credit: { amount: number; currency: string } }): Promise<void> {
  await appendActivity({
    _id: `order:${order._id}:cancelled`,
    ...about(order),
    operationDate: at,
    operationType: 'cancel_order',
    resourceType: 'order',
    operationStatus: 'succeeded',
    userPrincipalName: principalOf(input.by),
    actor: userActor(input.by),
    resourceId: order._id,
    ipAddress: input.origin?.ip ?? null,
    userAgent: input.origin?.userAgent ?? null,
    // the amount as the pages show it ("credit A$1,659.84"); entries written before this say "(minor units)"
    detail: `cancelled ${order.product.name} for ${order.customer.name}; credit ${formatMoney(input.credit.amount, input.credit.currency)}`,
    reason: null,
    requestId: input.requestId,
  });
}

export interface DownloadRecordsPruneResult {
  linkRequests: number;
  claims: number;
  resumes: number;
}

/**
 * Licensing's part of the nightly housekeeping (workflows/system.ts). The records of links expired
 * LINK_RECORDS_KEPT_DAYS ago (domain/licensing.ts) go: nothing writes them by then (a link past its expiry is refused
 * before anything is counted, and a request sent again with its key is refused before it writes), and a delete by
 * cutoff is idempotent: a retry, or a second run, deletes what is left and nothing else. And the log gets the entries
 * of recent download slots whose requests died before writing them.
 */
export function createLicensingActivities(deps: ActivityDeps) {
  return {
    async pruneDownloadRecords(nowIso: string): Promise<DownloadRecordsPruneResult> {
      const before = linkRecordsBefore(new Date(nowIso));
      const [linkRequests, claims, resumes] = await Promise.all([
        DownloadLinkRequest.deleteMany({ createdAt: { $lt: before } }),
        DownloadClaim.deleteMany({ at: { $lt: before } }),
        DownloadResume.deleteMany({ at: { $lt: before } }),
      ]);
      const result = { linkRequests: linkRequests.deletedCount, claims: claims.deletedCount, resumes: resumes.deletedCount };
      deps.log.info({ ...result, at: nowIso }, 'download records of long-expired links pruned');
      return result;
    },

    /**
     * Writes the log entries of download slots whose requests failed before logging them (a failed download, reason
     * `interrupted`: domain/licensing.ts interruptedDownloadEntry), taken in the LOST_LOG_LOOKBACK_MS before the run
     * and at least LOST_LOG_AFTER_MS before it: a later download of the link writes them as it comes, and this covers
     * links no one downloads again. What is logged already is read by partner and UTC day (the log's index; an `_id`
     * list would be a scan of the whole log on FerretDB). Each entry is inserted once under its natural key, so a
     * retry, a second run or a download doing the same meanwhile adds nothing. Returns how many it wrote.
     */
    async logInterruptedDownloads(nowIso: string): Promise<number> {
      const now = new Date(nowIso).getTime();
      const slots = await DownloadClaim.find({ at: { $gte: new Date(now - LOST_LOG_LOOKBACK_MS), $lte: new Date(now - LOST_LOG_AFTER_MS) }, entry: { $ne: null } }, { linkId: 1, n: 1, at: 1, entry: 1 }).lean();
      const links = new Map<string, DownloadLinkDoc | null>();
      for (const linkId of new Set(slots.map((c) => c.linkId))) links.set(linkId, await DownloadLink.findById(linkId).lean<DownloadLinkDoc>());
      // the entries logged already, of each partner and day the slots fall on
      const logged = new Set<string>();
      const days = new Set<string>();
      for (const c of slots) {
        const link = links.get(c.linkId);
        if (link) days.add(`${link.partnerId}\0${dayOf(new Date(c.at))}`);
      }
      for (const key of days) {
        const [partnerId, day] = key.split('\0');
        for (const e of await ActivityEntry.find({ partnerId, day, operationType: 'download_software', resourceType: 'software_download_link' }, { _id: 1 }).lean()) logged.add(e._id);
      }
      const orders = new Map<string, OrderDoc | null>();
      let written = 0;
      for (const c of slots) {
        const link = links.get(c.linkId);
        if (!link || logged.has(`download:${link._id}:${c.n}`)) continue;
        if (!orders.has(link.orderId)) orders.set(link.orderId, await Order.findById(link.orderId).lean<OrderDoc>());
        if (await appendActivity(interruptedDownloadEntry({ n: c.n, at: c.at, entry: c.entry! }, { link, order: orders.get(link.orderId)! }, 'the nightly housekeeping'))) {
          written++;
          deps.log.warn({ link: linkRef(link._id), slot: c.n }, 'download slot logged late: its request had failed before logging it');
        }
      }
      if (written) deps.log.info({ count: written, at: nowIso }, 'interrupted downloads logged');
      return written;
    },
  };
}
