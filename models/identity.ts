/** Partners, their users and the users' API tokens (only the tokens' hashes are stored). */
import { Schema, model } from 'mongoose';

export interface PartnerDoc {
  _id: string;
  name: string;
  email: string;
  createdAt: Date;
}
export const Partner = model<PartnerDoc>(
  'Partner',
  new Schema<PartnerDoc>({ _id: String, name: { type: String, required: true }, email: { type: String, required: true }, createdAt: { type: Date, required: true } }, { versionKey: false }),
  'partners',
);

export interface UserDoc {
  _id: string;
  /** null for the support organisation's people */
  partnerId: string | null;
  name: string;
  email: string;
  role: string;
  createdAt: Date;
  /** set by `npm run users -- disable` (null or absent: enabled); the users command is its only writer */
  disabledAt?: Date | null;
}
const userSchema = new Schema<UserDoc>(
  { _id: String, partnerId: { type: String, default: null }, name: { type: String, required: true }, email: { type: String, required: true }, role: { type: String, required: true }, createdAt: { type: Date, required: true }, disabledAt: { type: Date, default: null } },
  { versionKey: false },
);
userSchema.index({ email: 1 }, { unique: true });
export const User = model<UserDoc>('User', userSchema, 'users');

/**
 * Who is changing a user's document now (`_id` = the user's id, inserted once): the users command's changes (disable,
 * enable, role) take it first, so that one writes the document at a time (FerretDB loses one of two concurrent updates
 * of a document). Deleted when the change is done; one older than USER_LOCK_STALE_MS is a holder lost, taken over.
 */
export interface UserWriteLockDoc {
  _id: string;
  at: Date;
}
export const UserWriteLock = model<UserWriteLockDoc>('UserWriteLock', new Schema<UserWriteLockDoc>({ _id: String, at: { type: Date, required: true } }, { versionKey: false }), 'userwritelocks');

export interface ApiTokenDoc {
  /** sha256 of the token, hex: the token itself is never stored (the public id is derived from it: services/users.ts tokenId) */
  _id: string;
  userId: string;
  label: string;
  createdAt: Date;
  /** null: never expires. Set at creation, never changed. */
  expiresAt?: Date | null;
  /**
   * When the token last authenticated a request, to about a minute: a plain `$set` of a timestamp (no
   * read-modify-write), at most about once a minute per token and process. The only field ever updated.
   */
  lastUsedAt?: Date | null;
}
export const ApiToken = model<ApiTokenDoc>(
  'ApiToken',
  new Schema<ApiTokenDoc>(
    {
      _id: String,
      userId: { type: String, required: true, index: true },
      label: { type: String, required: true },
      createdAt: { type: Date, required: true },
      expiresAt: { type: Date, default: null },
      lastUsedAt: { type: Date, default: null },
    },
    { versionKey: false },
  ),
  'apitokens',
);

/**
 * A token's revocation: a fact of its own (`_id` = the token's hash, inserted once), not a field of the token,
 * because the token document is also updated (lastUsedAt) and FerretDB loses one of two concurrent updates of
 * a document: a revocation must never be lost to a lastUsedAt write.
 */
export interface ApiTokenRevocationDoc {
  _id: string;
  userId: string;
  revokedAt: Date;
  /** the user id that revoked it, or `cli` */
  revokedBy: string;
}
export const ApiTokenRevocation = model<ApiTokenRevocationDoc>(
  'ApiTokenRevocation',
  new Schema<ApiTokenRevocationDoc>(
    { _id: String, userId: { type: String, required: true, index: true }, revokedAt: { type: Date, required: true }, revokedBy: { type: String, required: true } },
    { versionKey: false },
  ),
  'apitokenrevocations',
);

/**
 * The settings page's "Create token" form, used: `<user id>:<the form's one-time key>`, inserted once, so the form
 * sent again (a reload, Back and send) makes no second token (its secret was shown once, the first time).
 */
export interface TokenFormUseDoc {
  _id: string;
  userId: string;
  at: Date;
}
export const TokenFormUse = model<TokenFormUseDoc>(
  'TokenFormUse',
  new Schema<TokenFormUseDoc>({ _id: String, userId: { type: String, required: true }, at: { type: Date, required: true } }, { versionKey: false }),
  'tokenformuses',
);

/** A user that may no longer sign in or use an API token (`disabledAt`, set by `npm run users -- disable`; the other two markers are older hand-set forms). */
export function isDisabled(user: UserDoc): boolean {
  const u = user as UserDoc & { disabled?: boolean; disabledAt?: Date | null; status?: string };
  return u.disabled === true || Boolean(u.disabledAt) || u.status === 'disabled';
}
