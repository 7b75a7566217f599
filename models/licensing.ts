/** Activation keys and download links of an order's software: written only by the order's workflow. */
import { Schema, model } from 'mongoose';

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

/** A download link of an order's software; revoked with the order. */
export interface DownloadLinkDoc {
  _id: string;
  orderId: string;
  partnerId: string;
  status: 'active' | 'revoked';
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}
export const DownloadLink = model<DownloadLinkDoc>(
  'DownloadLink',
  new Schema<DownloadLinkDoc>(
    { _id: String, orderId: { type: String, required: true, index: true }, partnerId: { type: String, required: true }, status: { type: String, required: true }, createdAt: { type: Date, required: true }, expiresAt: { type: Date, required: true }, revokedAt: { type: Date, default: null } },
    { versionKey: false },
  ),
  'downloadlinks',
);

