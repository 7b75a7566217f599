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

/** Sends `template` once per business `key`. */
export function createSendOnce(deps: ActivityDeps): SendOnce {
  const { mailer, renderer } = deps;
  return async (key, template, to, data, log = deps.log) => {
    const existing = await EmailRecord.findById(key).lean();
    if (existing?.status === 'sent') return { messageId: existing.messageId, sent: false };
    const rendered = renderer.render(template, data);
    const messageId = existing?.messageId ?? `<${crypto.createHash('sha256').update(key).digest('hex').slice(0, 32)}@csp-desk>`;
    if (!existing) {
      await insertOnce(() => EmailRecord.create({ _id: key, messageId, template, to, subject: rendered.subject, status: 'sending', createdAt: new Date(), sentAt: null }));
    }
    await mailer.send({ ...rendered, to, messageId });
    await EmailRecord.updateOne({ _id: key }, { $set: { status: 'sent', sentAt: new Date() } });
    log.info({ emailKey: key, template, to, messageId }, 'email sent');
    return { messageId, sent: true };
  };
}
