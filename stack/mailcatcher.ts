/**
 * The SMTP catcher of `npm start`, the tests and the benchmark: MailDev (npm `maildev` 2.2.1), a kept
 * library with an SMTP server (any auth or none), a web UI (`/`), a REST API (`GET /email`, `GET /email/:id`,
 * `DELETE /email/all`) and messages kept as `<dir>/<id>.eml` across restarts.
 * It runs as a child process of its own: MailDev's mail server is one per Node process (module state) and
 * throws from its SMTP error handler, so it cannot share the test runner's process.
 * `mailbox(webUrl)` is the tests' client of its REST API, in the shapes below (envelope recipients as `to`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnManaged, waitUntil, type ManagedProcess } from './process';

export interface MailSummary {
  id: string;
  /** Message-ID header, with its angle brackets. */
  messageId: string;
  /** From header as written, e.g. `csp-desk <no-reply@csp-desk.local>`. */
  from: string;
  /** Envelope recipients (bare addresses): To, Cc and Bcc alike. */
  to: string[];
  subject: string;
  /** ISO date: the Date header. */
  date: string;
  /** ISO time the catcher received it (the Date header for messages restored after a restart). */
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
  /** MailDev's own output (default `<dir>/../logs/mailcatcher.log`). */
  logFile?: string;
}

export interface MailCatcherHandle {
  /** `smtp://127.0.0.1:SMTPPORT` */
  smtpUrl: string;
  /** `http://127.0.0.1:HTTPPORT`: the web UI at `/`, the REST API at `/email` */
  webUrl: string;
  dir: string;
  /** pid of the MailDev process */
  pid: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

const MAILDEV_BIN = require.resolve('maildev/bin/maildev');

/**
 * Starts the MailDev process (not waiting for it to answer): a restart after a crash reads the messages kept in
 * `opts.dir` back in.
 */
export function spawnMailCatcher(opts: StartMailCatcherOptions): ManagedProcess {
  const host = opts.host ?? '127.0.0.1';
  const dir = path.resolve(opts.dir);
  fs.mkdirSync(dir, { recursive: true });
  // the messages hold live sign-in and download links: for this user only (as demo-tokens.json is)
  try {
    fs.chmodSync(dir, 0o700);
  } catch {
    /* a folder of another user's: left as it is */
  }
  return spawnManaged({
    name: 'mail',
    command: process.execPath,
    args: [MAILDEV_BIN, '--smtp', String(opts.smtpPort), '--web', String(opts.httpPort), '--ip', host, '--mail-directory', dir],
    logFile: opts.logFile ?? path.join(path.dirname(dir), 'logs', 'mailcatcher.log'),
  });
}

/** Starts MailDev; resolves once its web API answers and the messages already in `dir` are loaded again. */
export async function startMailCatcher(opts: StartMailCatcherOptions): Promise<MailCatcherHandle> {
  const host = opts.host ?? '127.0.0.1';
  const dir = path.resolve(opts.dir);
  const proc = spawnMailCatcher(opts);
  const stored = fs.readdirSync(dir).filter((f) => f.endsWith('.eml')).length;
  const webUrl = `http://${host}:${opts.httpPort}`;
  try {
    // restored messages are read in after the servers listen: wait for all of them
    await waitUntil(`the mail catcher (MailDev) on ${webUrl}`, async () => {
      if (!proc.running) throw new Error(`MailDev exited: ${proc.tail(10)}`);
      const res = await fetch(`${webUrl}/email`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(2000) });
      return res.ok && ((await res.json()) as unknown[]).length >= stored;
    }, { timeoutMs: 30_000, intervalMs: 100 });
  } catch (e) {
    await proc.stop(2000);
    throw e;
  }
  return {
    smtpUrl: `smtp://${host}:${opts.smtpPort}`,
    webUrl,
    dir,
    pid: proc.pid,
    process: proc,
    async stop() {
      await proc.stop(5000);
    },
  };
}

/** MailDev's JSON for one message (the fields read here). */
interface MailDevEmail {
  id: string;
  messageId?: string;
  subject?: string;
  from?: { address: string; name?: string }[];
  to?: { address: string; name?: string }[];
  cc?: { address: string; name?: string }[];
  calculatedBcc?: { address: string }[];
  envelope?: { from?: { address?: string } | string; to?: { address: string }[] | string };
  date?: string;
  time?: string;
  text?: string;
  html?: string;
  headers?: Record<string, string | string[]>;
  attachments?: { fileName?: string; generatedFileName?: string; contentType?: string; length?: number }[] | null;
  size?: number;
}

const addressList = (list?: { address: string; name?: string }[]) => (list ?? []).map((a) => (a.name ? `${a.name} <${a.address}>` : a.address)).join(', ');

function toMessage(e: MailDevEmail): MailMessage {
  const envelopeTo = Array.isArray(e.envelope?.to) ? e.envelope.to.map((a) => a.address) : null;
  // messages restored after a restart have no envelope: their header recipients stand in
  const to = envelopeTo ?? [...(e.to ?? []), ...(e.cc ?? []), ...(e.calculatedBcc ?? [])].map((a) => a.address);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(e.headers ?? {})) headers[k.toLowerCase()] = Array.isArray(v) ? v.join('\n') : String(v);
  const id = e.messageId ?? '';
  const date = new Date(e.date ?? e.time ?? 0).toISOString();
  const envelopeFrom = typeof e.envelope?.from === 'object' ? e.envelope.from.address ?? '' : '';
  return {
    id: e.id,
    messageId: id && !id.startsWith('<') ? `<${id}>` : id,
    from: addressList(e.from),
    to,
    subject: e.subject ?? '',
    date,
    receivedAt: new Date(e.time ?? e.date ?? 0).toISOString(),
    text: e.text ?? '',
    html: e.html ?? '',
    headers,
    headerTo: addressList(e.to),
    headerCc: addressList(e.cc),
    envelopeFrom,
    attachments: (e.attachments ?? []).map((a) => ({ filename: a.fileName ?? a.generatedFileName ?? null, contentType: a.contentType ?? 'application/octet-stream', size: a.length ?? 0 })),
    size: e.size ?? 0,
  };
}

const summary = (m: MailMessage): MailSummary => ({ id: m.id, messageId: m.messageId, from: m.from, to: m.to, subject: m.subject, date: m.date, receivedAt: m.receivedAt });

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

/** Client of the mail catcher's REST API at webUrl (e.g. `http://127.0.0.1:8025`). */
export function mailbox(webUrl: string): Mailbox {
  const base = webUrl.replace(/\/+$/, '');
  const call = async <T>(method: string, p: string): Promise<T> => {
    const res = await fetch(`${base}${p}`, { method });
    if (!res.ok) throw new Error(`mail catcher: ${method} ${p} answered ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  };
  const box: Mailbox = {
    async list() {
      const all = await call<MailDevEmail[]>('GET', '/email');
      // MailDev lists in arrival order (restored ones first, in no order): newest first, by time received
      const indexed = all.map((e, i) => ({ m: summary(toMessage(e)), i }));
      indexed.sort((a, b) => (a.m.receivedAt < b.m.receivedAt ? 1 : a.m.receivedAt > b.m.receivedAt ? -1 : b.i - a.i));
      return indexed.map((x) => x.m);
    },
    get: async (id) => toMessage(await call<MailDevEmail>('GET', `/email/${encodeURIComponent(id)}`)),
    clear: async () => {
      await call('DELETE', '/email/all');
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
