/**
 * Attachments of support requests. The bytes live in GridFS (bucket `attachments`: collections
 * `attachments.files` and `attachments.chunks`); each attachment is also a metadata document of its own,
 * inserted once and never changed (the data rule: many people attach files to one ticket at once, so no
 * document is shared between them):
 * - `_id` = `${ticketId}:${slot}`, slot 1..limit: the unique `_id` index is what holds the count limit under
 *   concurrent uploads (claim the lowest free slot, E11000 = taken, try the next), with no counter;
 * - a unique index on (ticketId, sha256): the same bytes attached twice to one ticket are one attachment, so a
 *   retried upload replays instead of taking a second slot.
 */
import { Schema, Types, model } from 'mongoose';

export const ATTACHMENTS_BUCKET = 'attachments';

export interface AttachmentUploader {
  userId: string;
  name: string;
  role: string;
}

export interface AttachmentDoc {
  /** `${ticketId}:${slot}` */
  _id: string;
  ticketId: string;
  /** the ticket's partner: reads are scoped to it for partner users */
  partnerId: string;
  /** the attachment's number on its ticket, 1..limit; also its id in URLs */
  slot: number;
  /** the GridFS file holding the bytes */
  fileId: Types.ObjectId;
  /** the name as uploaded (path and control characters removed) */
  name: string;
  /** the name offered on download: `name`, plus the sniffed type's extension when `name` claims another */
  downloadName: string;
  /** decided from the content, never from the name or the client's Content-Type */
  contentType: string;
  /** what the client said the type was (kept for the record, never served) */
  declaredType: string | null;
  size: number;
  sha256: string;
  uploadedBy: AttachmentUploader;
  uploadedAt: Date;
  requestId: string;
}

const attachmentSchema = new Schema<AttachmentDoc>(
  {
    _id: String,
    ticketId: { type: String, required: true },
    partnerId: { type: String, required: true },
    slot: { type: Number, required: true },
    fileId: { type: Schema.Types.ObjectId, required: true },
    name: { type: String, required: true },
    downloadName: { type: String, required: true },
    contentType: { type: String, required: true },
    declaredType: { type: String, default: null },
    size: { type: Number, required: true },
    sha256: { type: String, required: true },
    uploadedBy: { type: Schema.Types.Mixed, required: true },
    uploadedAt: { type: Date, required: true },
    requestId: { type: String, required: true },
  },
  { versionKey: false, minimize: false },
);
attachmentSchema.index({ ticketId: 1, sha256: 1 }, { unique: true });
attachmentSchema.index({ ticketId: 1, slot: 1 });
export const Attachment = model<AttachmentDoc>('Attachment', attachmentSchema, 'ticketattachments');
