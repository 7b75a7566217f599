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
}
const userSchema = new Schema<UserDoc>(
  { _id: String, partnerId: { type: String, default: null }, name: { type: String, required: true }, email: { type: String, required: true }, role: { type: String, required: true }, createdAt: { type: Date, required: true } },
  { versionKey: false },
);
userSchema.index({ email: 1 }, { unique: true });
export const User = model<UserDoc>('User', userSchema, 'users');

export interface ApiTokenDoc {
  /** sha256 of the token, hex: the token itself is never stored */
  _id: string;
  userId: string;
  label: string;
  createdAt: Date;
}
export const ApiToken = model<ApiTokenDoc>(
  'ApiToken',
  new Schema<ApiTokenDoc>({ _id: String, userId: { type: String, required: true, index: true }, label: { type: String, required: true }, createdAt: { type: Date, required: true } }, { versionKey: false }),
  'apitokens',
);

