/**
 * What every domain's activities share: their dependencies, insert-once for natural-key facts, and
 * send-once for emails. A retry or a worker crash never records a fact twice (its `_id` is a natural key)
 * and never sends a second email (an email record per business key; a resend after a crash between SMTP
 * acceptance and the record carries the same Message-ID, so mail clients fold it).
 */
import crypto from 'node:crypto';
import type { Logger } from '../lib/logger';
import type { Mailer, Renderer } from '../lib/mailer';
import { insertOnce } from '../lib/errors';
import { EmailRecord } from '../models';

export interface ActivityDeps {
  mailer: Mailer;
  renderer: Renderer;
  log: Logger;
  publicBaseUrl: string;
}

export { insertOnce };

export type SendOnce = (key: string, template: string, to: string[], data: Record<string, unknown>, log?: Logger) => Promise<{ messageId: string; sent: boolean }>;

/**
 * The SMTP server's answer when it refused a message for good: a 5xx to a recipient (nodemailer `EENVELOPE`) or to
 * the message (`EMESSAGE`); null for anything a retry may mend (a connection lost, a 4xx, an authentication error).
 */
export function permanentRefusal(e: unknown): string | null {
  const err = e as { code?: string; responseCode?: number; response?: string; message?: string };
  const permanent = (err.code === 'EENVELOPE' || err.code === 'EMESSAGE') && typeof err.responseCode === 'number' && err.responseCode >= 500 && err.responseCode < 600;
  return permanent ? String(err.response ?? err.message ?? err.responseCode).slice(0, 500) : null;
}

/** Sends `template` once per business `key`. */
export function createSendOnce(deps: ActivityDeps): SendOnce {
  const { mailer, renderer } = deps;
  return async (key, template, to, data, log = deps.log) => {
    const existing = await EmailRecord.findById(key).lean();
    if (existing?.status === 'sent' || existing?.status === 'refused') return { messageId: existing.messageId, sent: false };
    const rendered = renderer.render(template, data);
    const messageId = existing?.messageId ?? `<${crypto.createHash('sha256').update(key).digest('hex').slice(0, 32)}@csp-desk>`;
    if (!existing) {
      await insertOnce(() => EmailRecord.create({ _id: key, messageId, template, to, subject: rendered.subject, status: 'sending', createdAt: new Date(), sentAt: null }));
    }
    try {
      await mailer.send({ ...rendered, to, messageId });
    } catch (e) {
      // a recipient or the message refused for good (a 5xx answer: a mistyped address, say) would fail every retry
      // and hold up the workflow waiting for this email: recorded as refused, said in the log, not tried again
      const refusal = permanentRefusal(e);
      if (!refusal) throw e;
      await EmailRecord.updateOne({ _id: key }, { $set: { status: 'refused', refusal } });
      log.warn({ emailKey: key, template, to, messageId, refusal }, 'email refused by the SMTP server for good: not sent');
      return { messageId, sent: false };
    }
    await EmailRecord.updateOne({ _id: key }, { $set: { status: 'sent', sentAt: new Date() } });
    log.info({ emailKey: key, template, to, messageId }, 'email sent');
    return { messageId, sent: true };
  };
}
