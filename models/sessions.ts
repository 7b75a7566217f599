/**
 * Signing in to the pages: one-time sign-in links, their claims, browser sessions and how they end, and each
 * user's page preferences. Only hashes of the link and session secrets are stored.
 *
 * Data rule: a link is claimed by inserting a claim whose `_id` is the link's hash (a second claim gets E11000);
 * a session document never changes but for `lastSeenAt` (a harmless last-writer-wins touch), and its end is a
 * fact of its own inserted once (`SessionEnd`), so a touch racing a sign-out can never undo it.
 */
import { Schema, model } from 'mongoose';

export interface SignInLinkDoc {
  /** sha256 of the link's secret, hex */
  _id: string;
  userId: string;
  email: string;
  createdAt: Date;
  expiresAt: Date;
  /** where to go once signed in (a path of the pages) */
  next: string | null;
}
const linkSchema = new Schema<SignInLinkDoc>(
  { _id: String, userId: { type: String, required: true }, email: { type: String, required: true }, createdAt: { type: Date, required: true }, expiresAt: { type: Date, required: true }, next: { type: String, default: null } },
  { versionKey: false },
);
export const SignInLink = model<SignInLinkDoc>('SignInLink', linkSchema, 'signinlinks');

/** The one use of a sign-in link: `_id` = the link's hash, so only one claim can exist. */
export interface SignInClaimDoc {
  _id: string;
  userId: string;
  sessionId: string;
  claimedAt: Date;
}
export const SignInClaim = model<SignInClaimDoc>(
  'SignInClaim',
  new Schema<SignInClaimDoc>({ _id: String, userId: { type: String, required: true }, sessionId: { type: String, required: true }, claimedAt: { type: Date, required: true } }, { versionKey: false }),
  'signinclaims',
);

/**
 * One sign-in email sent to a user in an hour: `_id` = `<userId>:<UTC hour>:<slot>`, slots 0 to the hourly
 * limit minus one, each inserted once. An address gets at most that many links an hour, whoever asks and however
 * many API processes answer (a duplicate `_id` means the slot is taken), with no counter to update. A client's
 * own share of them: `_id` = `<userId>:<UTC hour>:client:<client digest>:<slot>`, with `client` set.
 */
export interface SignInSendDoc {
  _id: string;
  userId: string;
  at: Date;
  /** a digest of the asking client's network address, on a client's slot only */
  client?: string;
}
export const SignInSend = model<SignInSendDoc>(
  'SignInSend',
  new Schema<SignInSendDoc>({ _id: String, userId: { type: String, required: true }, at: { type: Date, required: true }, client: { type: String } }, { versionKey: false }),
  'signinsends',
);

export interface SessionDoc {
  /** sha256 of the session cookie's secret, hex */
  _id: string;
  /** a public id (for listing and ending sessions) that is not the secret's hash */
  publicId: string;
  userId: string;
  /** per-session CSRF token, compared on every POST */
  csrfToken: string;
  createdAt: Date;
  /** the absolute timeout */
  expiresAt: Date;
  /** touched at most once a minute; the idle timeout counts from it */
  lastSeenAt: Date;
  userAgent: string | null;
}
const sessionSchema = new Schema<SessionDoc>(
  {
    _id: String,
    publicId: { type: String, required: true },
    userId: { type: String, required: true },
    csrfToken: { type: String, required: true },
    createdAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    lastSeenAt: { type: Date, required: true },
    userAgent: { type: String, default: null },
  },
  { versionKey: false },
);
sessionSchema.index({ userId: 1, createdAt: -1 });
sessionSchema.index({ publicId: 1 }, { unique: true });
export const Session = model<SessionDoc>('Session', sessionSchema, 'sessions');

/** A session's end (signed out, or ended for its user): `_id` = the session's `_id`, inserted once. */
export interface SessionEndDoc {
  _id: string;
  userId: string;
  at: Date;
  reason: 'signed-out' | 'user-disabled' | 'ended-by-user';
}
const sessionEndSchema = new Schema<SessionEndDoc>(
  { _id: String, userId: { type: String, required: true }, at: { type: Date, required: true }, reason: { type: String, required: true } },
  { versionKey: false },
);
sessionEndSchema.index({ userId: 1 });
export const SessionEnd = model<SessionEndDoc>('SessionEnd', sessionEndSchema, 'sessionends');

/** A user's page preferences (written only by that user, whole). */
export interface UserPreferenceDoc {
  /** the user's id */
  _id: string;
  /** IANA time zone the pages show dates in; null: the browser's */
  timeZone: string | null;
  updatedAt: Date;
}
export const UserPreference = model<UserPreferenceDoc>(
  'UserPreference',
  new Schema<UserPreferenceDoc>({ _id: String, timeZone: { type: String, default: null }, updatedAt: { type: Date, required: true } }, { versionKey: false }),
  'userpreferences',
);

/**
 * The time zone a user's browser last gave the pages (at sign-in, and when it changes): the zone of their emails while
 * they chose none in Settings (activities/shared.ts recipientsTimeZone). Written only for that user, whole.
 */
export interface UserBrowserZoneDoc {
  /** the user's id */
  _id: string;
  timeZone: string;
  at: Date;
}
export const UserBrowserZone = model<UserBrowserZoneDoc>(
  'UserBrowserZone',
  new Schema<UserBrowserZoneDoc>({ _id: String, timeZone: { type: String, required: true }, at: { type: Date, required: true } }, { versionKey: false }),
  'userbrowserzones',
);
