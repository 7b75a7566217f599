/**
 * Our own SMTP catcher: a real SMTP server on loopback (npm smtp-server, any auth or none, no TLS) that stores
 * every message as `<dir>/<id>.eml` plus a parsed `<dir>/<id>.json` (messages survive a restart), and a small
 * HTTP server (node `http`) to read them:
 *   GET /                  HTML list, newest first
 *   GET /messages/:id      HTML page: headers, text part, HTML part (sandboxed iframe)
 *   GET /messages/:id.eml  the raw message
 *   GET /api/messages      JSON [{id, messageId, from, to, subject, date}] newest first
 *   GET /api/messages/:id  JSON {id, messageId, from, to, subject, date, text, html, headers, ...}
 *   DELETE /api/messages   deletes every message
 * `to` is the list of envelope recipients (RCPT TO: To, Cc and Bcc alike) as the server received them;
 * `from` is the From header as written (e.g. `csp-desk <no-reply@csp-desk.local>`).
 * `mailbox(webUrl)` is a tiny client of that API for tests.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { simpleParser, type AddressObject } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface MailSummary {
  id: string;
  messageId: string;
  /** From header as written. */
  from: string;
  /** Envelope recipients (bare addresses). */
  to: string[];
  subject: string;
  /** ISO date: the Date header, else the time received. */
  date: string;
  /** ISO time the catcher received it. */
  receivedAt: string;
}

export interface MailAttachment {
  filename: string | null;
  contentType: string;
  size: number;
}

export interface MailMessage extends MailSummary {
  text: string;
  html: string;
  /** Header name (lower case) -> value; repeated headers joined with "\n". */
  headers: Record<string, string>;
  /** The To / Cc headers as written. */
  headerTo: string;
  headerCc: string;
  /** Envelope sender (MAIL FROM). */
  envelopeFrom: string;
  attachments: MailAttachment[];
  size: number;
}

export interface StartMailCatcherOptions {
  smtpPort: number;
  httpPort: number;
  /** Where messages are stored (created). */
  dir: string;
  /** Interface for both servers (default 127.0.0.1). */
  host?: string;
}

export interface MailCatcherHandle {
  /** `smtp://127.0.0.1:SMTPPORT` */
  smtpUrl: string;
  /** `http://127.0.0.1:HTTPPORT` */
  webUrl: string;
  dir: string;
  stop(): Promise<void>;
}

const ID_RE = /^[0-9]{13}-[0-9a-f]{8}$/;

function newId(): string {
  return `${Date.now()}-${crypto.randomBytes(4).toString('hex')}`;
}

function addressText(a: AddressObject | AddressObject[] | undefined): string {
  if (!a) return '';
  return (Array.isArray(a) ? a : [a]).map((x) => x.text).join(', ');
}

/** A decoded header value (mailparser's structured form) as text. */
function headerText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(headerText).join('\n');
  if (typeof v === 'object') {
    const o = v as { text?: unknown; value?: unknown; params?: Record<string, string> };
    if (typeof o.text === 'string') return o.text; // address lists
    if (typeof o.value === 'string') {
      const params = Object.entries(o.params ?? {}).map(([k, p]) => `; ${k}=${p}`).join('');
      return o.value + params;
    }
  }
  return String(v);
}

function newestFirst(a: MailSummary, b: MailSummary): number {
  return a.receivedAt < b.receivedAt ? 1 : a.receivedAt > b.receivedAt ? -1 : a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function summary(m: MailMessage): MailSummary {
  return { id: m.id, messageId: m.messageId, from: m.from, to: m.to, subject: m.subject, date: m.date, receivedAt: m.receivedAt };
}

/** HTML-escapes text (also safe inside double-quoted attributes, e.g. iframe srcdoc). */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const STYLE = `body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #ddd;vertical-align:top}th{background:#f4f4f4}
pre{white-space:pre-wrap;background:#f8f8f8;padding:1em;border:1px solid #ddd}iframe{width:100%;height:480px;border:1px solid #ddd}
.muted{color:#777}a{color:#0645ad}`;

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

/** Starts the SMTP and HTTP servers; resolves once both listen. */
export async function startMailCatcher(opts: StartMailCatcherOptions): Promise<MailCatcherHandle> {
  const host = opts.host ?? '127.0.0.1';
  const dir = path.resolve(opts.dir);
  fs.mkdirSync(dir, { recursive: true });

  // In-memory index of the summaries, loaded from disk (messages survive restarts).
  const index = new Map<string, MailSummary>();
  for (const f of fs.readdirSync(dir)) {
    const m = /^(.*)\.json$/.exec(f);
    if (!m || !ID_RE.test(m[1])) continue;
    try {
      index.set(m[1], summary(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as MailMessage));
    } catch {
      /* half-written or foreign file: ignore */
    }
  }
  const list = () => [...index.values()].sort(newestFirst);
  const load = (id: string): MailMessage | undefined => {
    if (!ID_RE.test(id) || !index.has(id)) return undefined;
    try {
      return JSON.parse(fs.readFileSync(path.join(dir, `${id}.json`), 'utf8')) as MailMessage;
    } catch {
      return undefined;
    }
  };

  async function store(raw: Buffer, envelopeFrom: string, rcpts: string[]): Promise<void> {
    const id = newId();
    const receivedAt = new Date().toISOString();
    fs.writeFileSync(path.join(dir, `${id}.eml`), raw);
    const parsed = await simpleParser(raw, { skipImageLinks: true });
    const headers: Record<string, string> = {};
    for (const [key, value] of parsed.headers) headers[key.toLowerCase()] = headerText(value);
    const msg: MailMessage = {
      id,
      messageId: parsed.messageId ?? '',
      from: addressText(parsed.from),
      to: rcpts,
      subject: parsed.subject ?? '',
      date: (parsed.date ?? new Date(receivedAt)).toISOString(),
      receivedAt,
      text: parsed.text ?? '',
      html: typeof parsed.html === 'string' ? parsed.html : '',
      headers,
      headerTo: addressText(parsed.to),
      headerCc: addressText(parsed.cc),
      envelopeFrom,
      attachments: parsed.attachments.map((a) => ({ filename: a.filename ?? null, contentType: a.contentType, size: a.size })),
      size: raw.length,
    };
    const tmp = path.join(dir, `${id}.json.tmp`);
    fs.writeFileSync(tmp, JSON.stringify(msg, null, 2));
    fs.renameSync(tmp, path.join(dir, `${id}.json`));
    index.set(id, summary(msg));
  }

  const smtp = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    hideSTARTTLS: true,
    secure: false,
    logger: false,
    banner: 'csp-desk mail catcher',
    size: 50 * 1024 * 1024,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? 'anonymous' });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err) => callback(err));
      stream.on('end', () => {
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const rcpts = session.envelope.rcptTo.map((r) => r.address);
        store(Buffer.concat(chunks), from, rcpts).then(
          () => callback(),
          (err: Error) => callback(err),
        );
      });
    },
  });
  smtp.on('error', (err) => process.stderr.write(`[mail] SMTP error: ${err.message}\n`));

  const web = http.createServer((req, res) => {
    const send = (status: number, type: string, body: string | Buffer) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const json = (status: number, value: unknown) => send(status, 'application/json; charset=utf-8', JSON.stringify(value));
    const html = (status: number, body: string) => send(status, 'text/html; charset=utf-8', body);
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const p = url.pathname.replace(/\/+$/, '') || '/';
      const method = req.method ?? 'GET';
      let m: RegExpExecArray | null;

      if (p === '/api/messages' && method === 'GET') return json(200, list());
      if (p === '/api/messages' && method === 'DELETE') {
        for (const id of index.keys()) {
          fs.rmSync(path.join(dir, `${id}.json`), { force: true });
          fs.rmSync(path.join(dir, `${id}.eml`), { force: true });
        }
        index.clear();
        return json(200, { deleted: true });
      }
      if ((m = /^\/api\/messages\/([^/]+)$/.exec(p)) && method === 'GET') {
        const msg = load(m[1]);
        return msg ? json(200, msg) : json(404, { error: 'no such message' });
      }
      if ((m = /^\/messages\/([^/]+)\.eml$/.exec(p)) && method === 'GET') {
        if (!load(m[1])) return html(404, page('Not found', '<p>No such message. <a href="/">Back</a></p>'));
        return send(200, 'message/rfc822', fs.readFileSync(path.join(dir, `${m[1]}.eml`)));
      }
      if ((m = /^\/messages\/([^/]+)$/.exec(p)) && method === 'GET') {
        const msg = load(m[1]);
        if (!msg) return html(404, page('Not found', '<p>No such message. <a href="/">Back</a></p>'));
        const headerRows = Object.entries(msg.headers)
          .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
          .join('');
        const attachments = msg.attachments.length
          ? `<h2>Attachments</h2><ul>${msg.attachments.map((a) => `<li>${escapeHtml(a.filename ?? '(no name)')} <span class="muted">${escapeHtml(a.contentType)}, ${a.size} bytes</span></li>`).join('')}</ul>`
          : '';
        return html(
          200,
          page(
            msg.subject || '(no subject)',
            `<p><a href="/">&larr; all messages</a> &middot; <a href="/messages/${msg.id}.eml">raw</a></p>
<h1>${escapeHtml(msg.subject || '(no subject)')}</h1>
<table><tr><th>From</th><td>${escapeHtml(msg.from)}</td></tr><tr><th>To (envelope)</th><td>${escapeHtml(msg.to.join(', '))}</td></tr>
<tr><th>Date</th><td>${escapeHtml(msg.date)}</td></tr></table>
<h2>HTML part</h2>${msg.html ? `<iframe sandbox="" srcdoc="${escapeHtml(msg.html)}"></iframe>` : '<p class="muted">(none)</p>'}
<h2>Text part</h2>${msg.text ? `<pre>${escapeHtml(msg.text)}</pre>` : '<p class="muted">(none)</p>'}
${attachments}
<h2>Headers</h2><table>${headerRows}</table>`,
          ),
        );
      }
      if (p === '/' && method === 'GET') {
        const rows = list()
          .map(
            (s) =>
              `<tr><td>${escapeHtml(s.date)}</td><td>${escapeHtml(s.from)}</td><td>${escapeHtml(s.to.join(', '))}</td><td><a href="/messages/${s.id}">${escapeHtml(s.subject || '(no subject)')}</a></td></tr>`,
          )
          .join('');
        return html(
          200,
          page(
            'csp-desk mail',
            `<h1>Captured mail</h1><p class="muted">${index.size} message(s), newest first. Everything sent to the SMTP catcher is kept here.</p>
<table><tr><th>Date</th><th>From</th><th>To</th><th>Subject</th></tr>${rows || '<tr><td colspan="4" class="muted">no messages yet</td></tr>'}</table>`,
          ),
        );
      }
      return json(404, { error: `no route ${method} ${p}` });
    } catch (e) {
      return json(500, { error: (e as Error).message });
    }
  });

  const listen = (srv: { listen: (port: number, host: string, cb: () => void) => unknown; once: (ev: 'error', cb: (e: Error) => void) => unknown }, port: number) =>
    new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => resolve());
    });
  await listen(smtp.server, opts.smtpPort);
  try {
    await listen(web, opts.httpPort);
  } catch (e) {
    await new Promise<void>((r) => smtp.close(() => r()));
    throw e;
  }

  let stopped: Promise<void> | undefined;
  return {
    smtpUrl: `smtp://${host}:${opts.smtpPort}`,
    webUrl: `http://${host}:${opts.httpPort}`,
    dir,
    stop() {
      stopped ??= Promise.all([
        new Promise<void>((r) => smtp.close(() => r())),
        new Promise<void>((r) => {
          web.close(() => r());
          web.closeAllConnections();
        }),
      ]).then(() => undefined);
      return stopped;
    },
  };
}

export interface Mailbox {
  /** Summaries, newest first. */
  list(): Promise<MailSummary[]>;
  get(id: string): Promise<MailMessage>;
  clear(): Promise<void>;
  /**
   * Polls list() until a summary matches, then returns that full message.
   * Rejects after timeoutMs (default 10 s) naming the subjects seen.
   */
  waitFor(predicate: (m: MailSummary) => boolean, opts?: { timeoutMs?: number; intervalMs?: number }): Promise<MailMessage>;
}

/** Client of the mail catcher's JSON API at webUrl (e.g. `http://127.0.0.1:8025`). */
export function mailbox(webUrl: string): Mailbox {
  const base = webUrl.replace(/\/+$/, '');
  const call = async <T>(method: string, p: string): Promise<T> => {
    const res = await fetch(`${base}${p}`, { method });
    if (!res.ok) throw new Error(`mail catcher: ${method} ${p} answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  };
  const box: Mailbox = {
    list: () => call<MailSummary[]>('GET', '/api/messages'),
    get: (id) => call<MailMessage>('GET', `/api/messages/${encodeURIComponent(id)}`),
    clear: async () => {
      await call('DELETE', '/api/messages');
    },
    async waitFor(predicate, { timeoutMs = 10_000, intervalMs = 100 } = {}) {
      const deadline = Date.now() + timeoutMs;
      let seen: MailSummary[] = [];
      for (;;) {
        seen = await box.list();
        const hit = seen.find(predicate);
        if (hit) return box.get(hit.id);
        if (Date.now() > deadline) {
          const subjects = seen.slice(0, 10).map((s) => JSON.stringify(s.subject)).join(', ');
          throw new Error(`no matching mail within ${timeoutMs} ms; ${seen.length} message(s) received${subjects ? `: ${subjects}` : ''}`);
        }
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    },
  };
  return box;
}
