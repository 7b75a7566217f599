/**
 * What every domain's activities share: their dependencies, insert-once for natural-key facts, and
 * send-once for emails. A retry or a worker crash never records a fact twice (its `_id` is a natural key)
 * and never sends a second email (an email record per business key; a resend after a crash between SMTP
 * acceptance and the record carries the same Message-ID, so mail clients fold it).
 */
import crypto from 'node:crypto';
import type { Logger } from '../lib/logger';
import type { Mailer, RejectedRecipient, Renderer } from '../lib/mailer';
import { insertOnce } from '../lib/errors';
import { emailTimeZone, userEmailZone } from '../domain/time';
import { EmailRecord, User, UserBrowserZone, UserPreference } from '../models';

export interface ActivityDeps {
  mailer: Mailer;
  renderer: Renderer;
  log: Logger;
  publicBaseUrl: string;
}

export { insertOnce };

/** `sent`: sent by this call; `refused`: the SMTP server refused every address for good (now or on an earlier call). */
export type SendOnce = (key: string, template: string, to: string[], data: Record<string, unknown>, log?: Logger) => Promise<{ messageId: string; sent: boolean; refused?: true }>;

/**
 * Whether an SMTP answer refuses a recipient's address for good: a 5xx whose enhanced status is an addressing one
 * (5.1.x: no such mailbox, bad address), or, without one, 550/551/553. Anything else may be mended by the operator
 * or by time and is retried: a relay or sender refused for want of credentials (5.7.x), a quota (5.4.x, 5.2.x), a
 * 503, a 4xx.
 */
export function isBadAddress(responseCode: number | undefined, response: string | undefined): boolean {
  if (typeof responseCode !== 'number' || responseCode < 500 || responseCode > 599) return false;
  const enhanced = /\b5\.(\d{1,3})\.\d{1,3}\b/.exec(response ?? '');
  return enhanced ? enhanced[1] === '1' : [550, 551, 553].includes(responseCode);
}

/**
 * The SMTP server's answer when it refused every recipient's address for good (nodemailer `EENVELOPE` on RCPT TO,
 * see isBadAddress); null for anything a retry may mend (a refused sender, a relay or an authentication refused, a
 * connection lost, a 4xx, a refused message body).
 */
export function permanentRefusal(e: unknown): string | null {
  const err = e as { code?: string; command?: string; responseCode?: number; response?: string; message?: string; rejectedErrors?: { responseCode?: number; response?: string }[] };
  if (err.code !== 'EENVELOPE' || err.command !== 'RCPT TO') return null;
  // every recipient refused: each refusal must be a bad address (nodemailer keeps them all when there are several)
  const each = err.rejectedErrors?.length ? err.rejectedErrors : [err];
  return each.every((r) => isBadAddress(r.responseCode, r.response)) ? String(err.response ?? err.message ?? err.responseCode).slice(0, 500) : null;
}

/** The zone of an email's times (domain/time.ts emailTimeZone): each address's user's zone (chosen, else their browser's), none for an address that is no user. */
export async function recipientsTimeZone(to: readonly string[]): Promise<string> {
  const addresses = [...new Set(to.map((a) => a.trim().toLowerCase()))];
  if (addresses.length === 0) return 'UTC';
  const users = await User.find({ email: { $in: addresses } }, { email: 1 }).lean();
  // (an address that is no user has no zone: UTC, whatever the others chose)
  if (users.length < addresses.length) return 'UTC';
  const ids = users.map((u) => u._id);
  const [preferences, browsers] = await Promise.all([UserPreference.find({ _id: { $in: ids } }).lean(), UserBrowserZone.find({ _id: { $in: ids } }).lean()]);
  const chosen = new Map(preferences.map((p) => [p._id, p.timeZone]));
  const seen = new Map(browsers.map((b) => [b._id, b.timeZone]));
  const userOf = new Map(users.map((u) => [u.email.toLowerCase(), u._id]));
  return emailTimeZone(addresses.map((a) => userEmailZone(chosen.get(userOf.get(a) ?? ''), seen.get(userOf.get(a) ?? ''))));
}

/**
 * An attempt's hold on the email it sends (EmailDoc.leaseUntil): this long from its last renewal, renewed every
 * EMAIL_LEASE_RENEW_MS while its SMTP exchange lasts. An attempt Temporal gave up on (its start-to-close passed) may
 * still be sending, as nodemailer cannot be stopped mid-message: the next attempt waits for it instead of sending the
 * email a second time (review: a slow SMTP server's end-of-data answer had let two go). A holder lost with its worker
 * stops renewing, and the email goes again within this long.
 */
export const EMAIL_LEASE_MS = 15_000;
const EMAIL_LEASE_RENEW_MS = 5_000;

/** Sends `template` once per business `key`, its times in the recipients' zone (recipientsTimeZone). */
export function createSendOnce(deps: ActivityDeps): SendOnce {
  const { mailer, renderer } = deps;
  const sendOnce: SendOnce = async (key, template, givenTo, data, log = deps.log) => {
    const existing = await EmailRecord.findById(key).lean();
    if (existing?.status === 'sent') return { messageId: existing.messageId, sent: false };
    if (existing?.status === 'refused') return { messageId: existing.messageId, sent: false, refused: true };
    const leaseUntil = existing?.leaseUntil ? new Date(existing.leaseUntil) : null;
    if (leaseUntil && leaseUntil.getTime() > Date.now()) {
      throw new Error(`an earlier attempt is still sending the email ${key} (held until ${leaseUntil.toISOString()} unless it renews); this one tries again and sends only if that attempt is lost`);
    }
    // a resend goes to whom the first attempt sent it (the assignee or lead may have changed since)
    const to = existing?.to ?? givenTo;
    // the zone of its times, decided once and kept on the record, so that a resend reads as the first send: the one
    // the caller pins (`data.timeZone`: an invoice is in UTC), else the recipients' own
    const pinned = typeof data.timeZone === 'string' ? data.timeZone : null;
    const timeZone = existing ? (existing.timeZone ?? 'UTC') : (pinned ?? (await recipientsTimeZone(to)));
    const rendered = renderer.render(template, { ...data, timeZone });
    const messageId = existing?.messageId ?? `<${crypto.createHash('sha256').update(key).digest('hex').slice(0, 32)}@csp-desk>`;
    const hold = () => new Date(Date.now() + EMAIL_LEASE_MS);
    // this attempt's own: only it renews or releases its hold (a holder that wakes after losing it touches nobody's)
    const attempt = crypto.randomUUID();
    const mine = { _id: key, status: 'sending' as const, leaseBy: attempt };
    // another attempt recorded it first: this one goes by that record (its zone, its hold)
    if (!existing && !(await insertOnce(() => EmailRecord.create({ _id: key, messageId, template, to, subject: rendered.subject, status: 'sending', createdAt: new Date(), sentAt: null, timeZone, leaseUntil: hold(), leaseBy: attempt })))) {
      return sendOnce(key, template, givenTo, data, log);
    }
    if (existing) {
      // taken only while nobody holds it (or the holder's hold lapsed); another attempt that took it first wins
      const free = [{ leaseUntil: null }, { leaseUntil: { $exists: false } }, { leaseUntil: { $lte: new Date() } }];
      const took = await EmailRecord.updateOne({ _id: key, status: 'sending', $or: free }, { $set: { leaseUntil: hold(), leaseBy: attempt } });
      if (took.modifiedCount === 0) throw new Error(`another attempt took the email ${key} first (or it was sent meanwhile); this one tries again`);
    }
    // renewed while the exchange lasts; each renewal is awaited before the record's next write, so that none lands
    // after it (FerretDB writes a document back whole)
    let renewal: Promise<unknown> = Promise.resolve();
    const renewing = setInterval(() => {
      renewal = renewal.then(() => EmailRecord.updateOne(mine, { $set: { leaseUntil: hold() } })).catch(() => undefined);
    }, EMAIL_LEASE_RENEW_MS);
    const stopRenewing = async () => {
      clearInterval(renewing);
      await renewal;
    };
    // this attempt failed: the next one need not wait for its hold
    const release = () => EmailRecord.updateOne(mine, { $set: { leaseUntil: null } }).catch(() => undefined);
    let rejected: RejectedRecipient[];
    try {
      ({ rejected } = await mailer.send({ ...rendered, to, messageId }));
    } catch (e) {
      await stopRenewing();
      // every address refused for good (a mistyped one, say) would fail every retry and hold up the workflow
      // waiting for this email: recorded as refused, said in the log, not tried again
      const refusal = permanentRefusal(e);
      if (!refusal) {
        await release();
        throw e;
      }
      await EmailRecord.updateOne({ _id: key }, { $set: { status: 'refused', refusal, leaseUntil: null } });
      log.warn({ emailKey: key, template, to, messageId, refusal }, 'email refused by the SMTP server for good: not sent');
      return { messageId, sent: false, refused: true };
    }
    await stopRenewing();
    // taken for some recipients, refused for others: one refused only for now is sent again (the same Message-ID,
    // which mail clients fold for those who have it); bad addresses are noted on the record and in the log
    if (rejected.some((r) => !isBadAddress(r.responseCode, r.response))) {
      await release();
      throw new Error(`the SMTP server refused some recipients for now (${rejected.map((r) => `${r.recipient}: ${r.response}`).join('; ').slice(0, 400)}); the email goes again`);
    }
    const refusal = rejected.length ? rejected.map((r) => `${r.recipient}: ${r.response}`).join('; ').slice(0, 500) : null;
    // (a finished send holds nothing)
    await EmailRecord.updateOne({ _id: key }, { $set: { status: 'sent', sentAt: new Date(), leaseUntil: null, ...(refusal ? { refusal } : {}) } });
    if (refusal) log.warn({ emailKey: key, template, to, messageId, refusal }, 'email sent, but some recipients were refused for good');
    else log.info({ emailKey: key, template, to, messageId }, 'email sent');
    return { messageId, sent: true };
  };
  return sendOnce;
}
