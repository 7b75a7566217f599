/** A partner's customers, unique per partner by tenant GUID, domain name and name. */
import { Schema, model } from 'mongoose';

export interface CustomerDoc {
  _id: string;
  partnerId: string;
  name: string;
  /** lower-cased name, unique per partner, so a partner can name a customer by it */
  nameKey: string;
  tenantId: string;
  domain: string;
  market: string;
  createdAt: Date;
}
const customerSchema = new Schema<CustomerDoc>(
  {
    _id: String,
    partnerId: { type: String, required: true },
    name: { type: String, required: true },
    nameKey: { type: String, required: true },
    tenantId: { type: String, required: true },
    domain: { type: String, required: true },
    market: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);
customerSchema.index({ partnerId: 1, tenantId: 1 }, { unique: true });
customerSchema.index({ partnerId: 1, domain: 1 }, { unique: true });
customerSchema.index({ partnerId: 1, nameKey: 1 }, { unique: true });
export const Customer = model<CustomerDoc>('Customer', customerSchema, 'customers');

