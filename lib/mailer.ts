/** Email: handlebars templates (HTML and text parts) rendered and sent over SMTP with nodemailer. */
import fs from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import nodemailer from 'nodemailer';
import { encodeWord, foldLines } from 'nodemailer/lib/mime-funcs';
import { formatMoney } from '../domain/money';
import { monthWords, zonedMinute } from '../domain/time';
import { slaWords } from '../domain/sla';

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

export interface Renderer {
  render(template: string, data: Record<string, unknown>): RenderedEmail;
}

const TEMPLATES_DIR = path.resolve(__dirname, '..', '..', 'templates');

/** Loads `templates/<name>/{subject,html,text}.hbs` once, with the shared layout and helpers. */
export function createRenderer(dir: string = TEMPLATES_DIR): Renderer {
  const hb = Handlebars.create();
  // money reads as on the pages ("$1,000.00", "A$2,954.88")
  hb.registerHelper('money', (amount: unknown, currency: unknown) => (typeof amount === 'number' && typeof currency === 'string' ? formatMoney(amount, currency) : ''));
  hb.registerHelper('date', (value: unknown) => {
    const d = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : null;
    return d && !Number.isNaN(d.getTime()) ? d.toISOString().slice(0, 10) : '';
  });
  // a month key as people name it ("2026-11" -> "November 2026"), as the invoice email titles its month
  hb.registerHelper('monthWords', monthWords);
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hb.registerHelper('lt', (a: unknown, b: unknown) => typeof a === 'number' && typeof b === 'number' && a < b);
  // an instant to the minute in the email's time zone (data `timeZone`, chosen by createSendOnce; UTC without one),
  // named with its offset: "2026-11-26 14:37 Australia/Sydney (UTC+11:00)", "2026-11-26 03:37 UTC"
  hb.registerHelper('time', function (value: unknown, o: Handlebars.HelperOptions) {
    const d = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : null;
    const zone = (o.data?.root as { timeZone?: unknown } | undefined)?.timeZone;
    return d && !Number.isNaN(d.getTime()) ? zonedMinute(d, typeof zone === 'string' ? zone : 'UTC') : '';
  });
  // an SLA target as people name it ("firstResponse" -> "first response"); also inside a reason text
  hb.registerHelper('slaWords', (value: unknown) => (typeof value === 'string' ? slaWords(value) : value));
  // a text ending a sentence: a full stop unless it has its own ("Customer is a VIP." read "VIP..")
  hb.registerHelper('withStop', (value: unknown) => (typeof value === 'string' ? (/[.!?]$/.test(value.trim()) ? value.trim() : `${value.trim()}.`) : value));
  const layoutFile = path.join(dir, 'layout.html.hbs');
  if (fs.existsSync(layoutFile)) hb.registerPartial('layout', fs.readFileSync(layoutFile, 'utf8'));
  // pieces several emails share: templates/partials/<name>.<html|text>.hbs, used as {{> <name>-html}} / {{> <name>-text}}
  const partialsDir = path.join(dir, 'partials');
  for (const file of fs.existsSync(partialsDir) ? fs.readdirSync(partialsDir) : []) {
    const m = /^(.+)\.(html|text)\.hbs$/.exec(file);
    if (m) hb.registerPartial(`${m[1]}-${m[2]}`, fs.readFileSync(path.join(partialsDir, file), 'utf8'));
  }
  const cache = new Map<string, { subject: HandlebarsTemplateDelegate; html: HandlebarsTemplateDelegate; text: HandlebarsTemplateDelegate }>();
  const load = (name: string) => {
    let t = cache.get(name);
    if (!t) {
      const read = (part: string) => fs.readFileSync(path.join(dir, name, `${part}.hbs`), 'utf8');
      t = {
        subject: hb.compile(read('subject'), { noEscape: true }),
        // preventIndent: the layout's indented partial block would indent every line of a text shown pre-wrapped
        html: hb.compile(read('html'), { preventIndent: true }),
        text: hb.compile(read('text'), { noEscape: true }),
      };
      cache.set(name, t);
    }
    return t;
  };
  return {
    render(template, data) {
      const t = load(template);
      return { subject: t.subject(data).trim(), html: t.html(data), text: t.text(data) };
    },
  };
}

export interface OutgoingEmail extends RenderedEmail {
  to: string[];
  messageId: string;
}

/** A recipient the SMTP server refused while it accepted the message for the others. */
export interface RejectedRecipient {
  recipient: string;
  response: string;
  responseCode: number;
}

export interface Mailer {
  /** Sends; throws when nothing was accepted. Recipients refused beside accepted ones are listed. */
  send(email: OutgoingEmail): Promise<{ rejected: RejectedRecipient[] }>;
  /** round trip to the SMTP server; resolves with its latency in ms */
  verify(): Promise<number>;
  close(): void;
}

/**
 * nodemailer's own bounds on one send (its defaults are 2 minutes to connect and 10 minutes of silence):
 * each is well below the email activities' start-to-close timeout (workflows/activity-options.ts), so an
 * SMTP server that is down or stalls fails the attempt, which Temporal retries, instead of hanging it.
 */
export const SMTP_TIMEOUTS = {
  /** TCP connection (and DNS lookup) */
  connectionTimeout: 5_000,
  /** the server's greeting once connected */
  greetingTimeout: 5_000,
  /** silence on the socket at any later point (each command's answer, the DATA acceptance) */
  socketTimeout: 10_000,
} as const;

/** SMTP connections each mailer keeps open at most. */
export const SMTP_POOL_CONNECTIONS = 4;

/** An RFC 2047 encoded word: `=?charset?B|Q?text?=`. */
const ENCODED_WORD = /=\?[^?\s]+\?[bq]\?[^?\s]*\?=/i;

/**
 * How a subject goes to nodemailer. nodemailer passes a well-formed encoded word in a subject through as it is, for
 * callers that encode their own, and the reader's mail program decodes it; ours hold what users typed (a request's
 * title, a customer's name), which must read as typed. So a subject holding one goes out encoded whole (QA: a title
 * `Invoice =?UTF-8?B?4oCuZXhlLmZkcA==?=` showed a right-to-left override in the subject, past the input rules, and
 * another spelled "URGENT: reset your password").
 */
export function subjectFields(subject: string): { subject: string } | { headers: { subject: { prepared: true; value: string } } } {
  if (!ENCODED_WORD.test(subject)) return { subject };
  // folded as nodemailer folds the subjects it encodes (lines of at most 76 characters)
  const folded = foldLines(`Subject: ${encodeWord(subject, 'B', 52)}`, 76);
  return { headers: { subject: { prepared: true, value: folded.slice('Subject: '.length) } } };
}

export function createMailer(smtpUrl: string, from: string): Mailer {
  // a few connections kept open and reused: no connection, greeting and EHLO for every email
  const transport = nodemailer.createTransport({ url: smtpUrl, pool: true, maxConnections: SMTP_POOL_CONNECTIONS, ...SMTP_TIMEOUTS });
  return {
    async send(email) {
      const info = await transport.sendMail({ from, to: email.to, ...subjectFields(email.subject), html: email.html, text: email.text, messageId: email.messageId });
      // recipients the server refused while it took the message for the others
      const rejected = ((info as { rejectedErrors?: { recipient?: string; response?: string; responseCode?: number }[] }).rejectedErrors ?? []).map((r) => ({ recipient: String(r.recipient ?? ''), response: String(r.response ?? ''), responseCode: r.responseCode ?? 0 }));
      return { rejected };
    },
    async verify() {
      const started = process.hrtime.bigint();
      await transport.verify();
      return Number(process.hrtime.bigint() - started) / 1e6;
    },
    close() {
      transport.close();
    },
  };
}
