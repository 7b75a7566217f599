/** Activation keys, download links and their counted downloads. */
import { Schema, model } from 'mongoose';
import type { DownloadOption } from '../domain/catalog';

export interface ActivationKeyDoc {
  /** `${orderId}:${n}` */
  _id: string;
  orderId: string;
  partnerId: string;
  customerId: string;
  productId: string;
  key: string;
  activations: number;
  status: 'active' | 'revoked';
  createdAt: Date;
  revokedAt: Date | null;
}
const keySchema = new Schema<ActivationKeyDoc>(
  {
    _id: String,
    orderId: { type: String, required: true, index: true },
    partnerId: { type: String, required: true },
    customerId: { type: String, required: true },
    productId: { type: String, required: true },
    key: { type: String, required: true },
    activations: { type: Number, required: true },
    status: { type: String, required: true },
    createdAt: { type: Date, required: true },
    revokedAt: { type: Date, default: null },
  },
  { versionKey: false },
);
export const ActivationKey = model<ActivationKeyDoc>('ActivationKey', keySchema, 'activationkeys');

/**
 * A download link: inserted once by the API (its `_id` is the SHA-256 of the token, which is never stored),
 * never changed by the API afterwards. Its only writer after that is the order's own workflow, which marks
 * it revoked when the order is cancelled or its term ends. A link also serves only while its order is
 * active, so a link inserted while a cancellation was being recorded is useless all the same.
 */
export interface DownloadLinkDoc {
  /** hex SHA-256 of the token */
  _id: string;
  orderId: string;
  partnerId: string;
  customerId: string;
  productId: string;
  /** the file it serves, as the catalog described it when the link was made */
  option: DownloadOption;
  /** hex SHA-256 of the file's bytes */
  sha256: string;
  createdBy: { userId: string; name: string; email: string; role: string };
  status: 'active' | 'revoked';
  createdAt: Date;
  expiresAt: Date;
  maxDownloads: number;
  revokedAt: Date | null;
}
const linkSchema = new Schema<DownloadLinkDoc>(
  {
    _id: String,
    orderId: { type: String, required: true },
    partnerId: { type: String, required: true },
    customerId: { type: String, required: true },
    productId: { type: String, required: true },
    option: { type: Schema.Types.Mixed, required: true },
    sha256: { type: String, required: true },
    createdBy: { type: Schema.Types.Mixed, required: true },
    status: { type: String, required: true },
    createdAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    maxDownloads: { type: Number, required: true },
    revokedAt: { type: Date, default: null },
  },
  { versionKey: false, minimize: false },
);
linkSchema.index({ orderId: 1, status: 1 });
export const DownloadLink = model<DownloadLinkDoc>('DownloadLink', linkSchema, 'downloadlinks');

/**
 * What a "Get keys and downloads" sent with an `Idempotency-Key` made, so that the same request again (a retry, a
 * page reloaded) gives the same link instead of another one, and logs nothing new. Inserted once, before the link,
 * under a unique `_id` (the SHA-256 of the partner and the key: the key itself is not stored), never changed: the
 * first of two racing requests has it, the other replays it. The link's token is kept sealed (AES-256-GCM) under a
 * key derived from the Idempotency-Key, which only the client holds, so the database alone still cannot rebuild a
 * link's address.
 */
export interface DownloadLinkRequestDoc {
  _id: string;
  partnerId: string;
  orderId: string;
  /** SHA-256 of the order and the option asked for: the same key with another request is refused */
  requestHash: string;
  /** the link made (the SHA-256 of its token) */
  linkId: string;
  /** the token, sealed: base64url of IV (12 bytes), tag (16 bytes) and ciphertext */
  sealedToken: string;
  createdAt: Date;
}
export const DownloadLinkRequest = model<DownloadLinkRequestDoc>(
  'DownloadLinkRequest',
  new Schema<DownloadLinkRequestDoc>(
    {
      _id: String,
      partnerId: { type: String, required: true },
      orderId: { type: String, required: true },
      requestHash: { type: String, required: true },
      linkId: { type: String, required: true },
      sealedToken: { type: String, required: true },
      createdAt: { type: Date, required: true },
    },
    { versionKey: false },
  ),
  'downloadlinkrequests',
);

/**
 * One counted download of a link: slot `n` of 1..maxDownloads, `_id` = `${linkId}:${n}`. Concurrent
 * downloads each insert a slot; the unique `_id` lets exactly one have each, so a link gives at most
 * `maxDownloads` downloads with no counter to update.
 */
export interface DownloadClaimDoc {
  _id: string;
  linkId: string;
  n: number;
  at: Date;
  /** who downloaded: SHA-256 of the address and user agent (its own resumes are not counted); null on older claims */
  client: string | null;
  /**
   * What the download's activity entry says (`download:<link>:<n>`), kept with the slot: should the request fail
   * between taking the slot and logging it, a later download of the link writes the entry from here (without the
   * address and user agent, which are not kept here). Null on older claims.
   */
  entry: { detail: string; requestId: string | null } | null;
}
const claimSchema = new Schema<DownloadClaimDoc>(
  {
    _id: String,
    linkId: { type: String, required: true },
    n: { type: Number, required: true },
    at: { type: Date, required: true },
    client: { type: String, default: null },
    entry: { type: new Schema({ detail: String, requestId: String }, { _id: false }), default: null },
  },
  { versionKey: false, minimize: false },
);
claimSchema.index({ linkId: 1, n: 1 }, { unique: true });
export const DownloadClaim = model<DownloadClaimDoc>('DownloadClaim', claimSchema, 'downloadclaims');

/**
 * One resume of a counted download, in one of its `MAX_RESUMES_PER_DOWNLOAD` slots: `<claim id>:r<k>`, inserted
 * once (a resume taken by two requests at once goes to one of them; the other tries the next slot).
 */
export interface DownloadResumeDoc {
  _id: string;
  linkId: string;
  claimId: string;
  k: number;
  at: Date;
}
export const DownloadResume = model<DownloadResumeDoc>(
  'DownloadResume',
  new Schema<DownloadResumeDoc>({ _id: String, linkId: { type: String, required: true }, claimId: { type: String, required: true }, k: { type: Number, required: true }, at: { type: Date, required: true } }, { versionKey: false }),
  'downloadresumes',
);
