/**
 * Attachment housekeeping (part of the nightly housekeeping, workflows/system.ts): deletes the GridFS data that no
 * attachment points to, once it is old enough that no upload can still claim it (domain/support.ts):
 * - files (their record and chunks) that no attachment names: an upload that stopped between storing the bytes
 *   and claiming a slot;
 * - chunks whose file has no record: an upload that stopped before GridFS wrote the record (it comes last), or a
 *   delete that stopped half way. A file's id is made when its upload starts, so its time says how old it is.
 * A file is deleted chunks first, then its record, so a delete that stops half way leaves chunks this finds again.
 * A retry or a second run finds less and deletes only that.
 */
import mongoose from 'mongoose';
import { ATTACHMENTS_BUCKET, Attachment } from '../models/attachments';
import { orphanAttachmentFilesBefore } from '../domain/support';
import type { ActivityDeps } from './shared';

type ObjectId = mongoose.mongo.ObjectId;

/** Files looked at per round (their ids, then the attachments naming them). */
const BATCH = 500;

export function createAttachmentActivities(deps: ActivityDeps) {
  return {

    /** Deletes the orphan attachment data from before the cutoff of `nowIso`; returns how many files (records or chunk sets). */
    async pruneOrphanAttachmentFiles(nowIso: string): Promise<number> {
      const db = mongoose.connection.db!;
      const files = db.collection<{ _id: ObjectId; uploadDate: Date; metadata?: { ticketId?: string } }>(`${ATTACHMENTS_BUCKET}.files`);
      const chunks = db.collection<{ files_id: ObjectId }>(`${ATTACHMENTS_BUCKET}.chunks`);
      const cutoff = orphanAttachmentFilesBefore(new Date(nowIso));
      let deleted = 0;

      // files no attachment names
      let after: ObjectId | null = null;
      for (;;) {
        const page: { _id: ObjectId; metadata?: { ticketId?: string } }[] = await files
          .find({ uploadDate: { $lt: cutoff }, ...(after ? { _id: { $gt: after } } : {}) }, { projection: { _id: 1, metadata: 1 } })
          .sort({ _id: 1 })
          .limit(BATCH)
          .toArray();
        if (page.length === 0) break;
        after = page[page.length - 1]._id;
        const named = new Set((await Attachment.find({ fileId: { $in: page.map((f) => f._id) } }, { fileId: 1 }).lean()).map((a) => String(a.fileId)));
        for (const f of page) {
          if (named.has(String(f._id))) continue;
          await chunks.deleteMany({ files_id: f._id });
          await files.deleteOne({ _id: f._id });
          deleted += 1;
          deps.log.info({ fileId: String(f._id), ticket: f.metadata?.ticketId ?? null }, 'orphan attachment file deleted');
        }
        if (page.length < BATCH) break;
      }

      // chunks of files that have no record, started before the cutoff
      const started = (await chunks.distinct('files_id', { files_id: { $lt: mongoose.mongo.ObjectId.createFromTime(Math.floor(cutoff.getTime() / 1000)) } })) as ObjectId[];
      for (let i = 0; i < started.length; i += BATCH) {
        const ids = started.slice(i, i + BATCH);
        const recorded = new Set((await files.find({ _id: { $in: ids } }, { projection: { _id: 1 } }).toArray()).map((f) => String(f._id)));
        for (const id of ids) {
          if (recorded.has(String(id))) continue;
          await chunks.deleteMany({ files_id: id });
          deleted += 1;
          deps.log.info({ fileId: String(id) }, 'orphan attachment chunks deleted (no file record)');
        }
      }
      return deleted;
    },
  };
}
