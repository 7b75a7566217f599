/** One record per email the system decides to send, so that each is sent once. */
import { Schema, model } from 'mongoose';

/** One per email the system decides to send: `_id` is the business key (e.g. `order:X:confirmation`). */
export interface EmailDoc {
  _id: string;
  messageId: string;
  template: string;
  to: string[];
  subject: string;
  /** `refused`: the SMTP server refused it for good (a recipient or the message: a 5xx answer); not tried again */
  status: 'sending' | 'sent' | 'refused';
  createdAt: Date;
  sentAt: Date | null;
  /** the SMTP server's answer, when refused */
  refusal?: string | null;
  /** the zone its times are in (domain/time.ts emailTimeZone), kept so that a resend reads as the first send */
  timeZone?: string | null;
  /**
   * While an attempt's send is under way: until when it holds the email (renewed while the SMTP exchange lasts). Another
   * attempt sends only once it has lapsed (the holder lost with its worker), never beside a send still going on.
   */
  leaseUntil?: Date | null;
  /** the attempt holding it (a random id per attempt): only the holder renews or releases the hold */
  leaseBy?: string | null;
}
export const EmailRecord = model<EmailDoc>(
  'EmailRecord',
  new Schema<EmailDoc>(
    { _id: String, messageId: { type: String, required: true }, template: { type: String, required: true }, to: { type: [String], required: true }, subject: { type: String, required: true }, status: { type: String, required: true }, createdAt: { type: Date, required: true }, sentAt: { type: Date, default: null }, refusal: { type: String, default: null }, timeZone: { type: String, default: null }, leaseUntil: { type: Date, default: null }, leaseBy: { type: String, default: null } },
    { versionKey: false },
  ),
  'emails',
);

