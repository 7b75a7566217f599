/**
 * Attachment housekeeping (part of the nightly housekeeping, workflows/system.ts): deletes the GridFS files that no
 * attachment points to, once they are old enough that no upload can still claim them (domain/support.ts). A
 * retry or a second run finds fewer files and deletes only those; a file deleted meanwhile is no error.
 */
import mongoose from 'mongoose';
import { ATTACHMENTS_BUCKET, Attachment } from '../models/attachments';
import { orphanAttachmentFilesBefore } from '../domain/support';
import type { ActivityDeps } from './shared';

/** Files looked at per round (their ids, then the attachments naming them). */
const BATCH = 500;

export function createAttachmentActivities(deps: ActivityDeps) {
  return {
    /** Deletes the orphan attachment files uploaded before the cutoff of `nowIso`; returns how many. */
    async pruneOrphanAttachmentFiles(nowIso: string): Promise<number> {
      const db = mongoose.connection.db!;
      const bucket = new mongoose.mongo.GridFSBucket(db, { bucketName: ATTACHMENTS_BUCKET });
      const files = db.collection<{ _id: mongoose.mongo.ObjectId; uploadDate: Date; metadata?: { ticketId?: string } }>(`${ATTACHMENTS_BUCKET}.files`);
      const cutoff = orphanAttachmentFilesBefore(new Date(nowIso));
      let deleted = 0;
      let after: mongoose.mongo.ObjectId | null = null;
      for (;;) {
        const page: { _id: mongoose.mongo.ObjectId; metadata?: { ticketId?: string } }[] = await files
          .find({ uploadDate: { $lt: cutoff }, ...(after ? { _id: { $gt: after } } : {}) }, { projection: { _id: 1, metadata: 1 } })
          .sort({ _id: 1 })
          .limit(BATCH)
          .toArray();
        if (page.length === 0) break;
        after = page[page.length - 1]._id;
        const named = new Set((await Attachment.find({ fileId: { $in: page.map((f) => f._id) } }, { fileId: 1 }).lean()).map((a) => String(a.fileId)));
        for (const f of page) {
          if (named.has(String(f._id))) continue;
          try {
            await bucket.delete(f._id);
            deleted += 1;
            deps.log.info({ fileId: String(f._id), ticket: f.metadata?.ticketId ?? null }, 'orphan attachment file deleted');
          } catch (e) {
            // deleted meanwhile (a second run): nothing left to do
            if (!/FileNotFound|file not found/i.test(String((e as Error).message))) throw e;
          }
        }
        if (page.length < BATCH) break;
      }
      return deleted;
    },
  };
}
