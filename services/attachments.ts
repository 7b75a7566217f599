/**
 * Attachments of support requests: received as multipart/form-data (busboy, streamed), typed from their
 * content (magic bytes through `file-type`; text kinds by a small classifier, since plain text, CSV and email
 * have no magic bytes), stored in the database through GridFS, listed and downloaded by whoever may see the
 * ticket.
 *
 * Refusals store nothing: the type is decided from the first bytes before anything is written; a file over the
 * size limit is cut off by busboy and its partial GridFS file aborted (chunks deleted); a file that finds no
 * free slot is deleted. The count limit holds under concurrent uploads without a counter: each attachment
 * claims the lowest free slot `${ticket}:${n}`, n in 1..limit, under the unique `_id` index (see
 * models/attachments.ts). The same bytes attached twice to one ticket are one attachment (a retried upload
 * answers with the first one).
 */
import crypto from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import busboy from 'busboy';
import { fileTypeFromBuffer } from 'file-type';
import mongoose from 'mongoose';
import { AppError, isDuplicateKey, notFound } from '../lib/errors';
import { ATTACHMENTS_BUCKET, Attachment, type AttachmentDoc } from '../models/attachments';
import { SupportTicket } from '../models/support';
import { normaliseTicketNumber } from '../domain/support';
import { SUPPORT_ROLES } from '../domain/roles';
import { isName } from '../domain/text';
import { currentRequestId, type AuthContext } from './context';
import type { SupportAttachmentFact } from '../contracts/support';

// ---------------------------------------------------------------- types accepted

export interface AcceptedType {
  mime: string;
  label: string;
  /** extensions that name this type; the first is added to a download name that claims another type */
  exts: string[];
}

/** The allow-list: what a partner or an agent attaches to a refund ticket (documents, screenshots, exports, emails, archives). */
export const ACCEPTED_TYPES: readonly AcceptedType[] = [
  { mime: 'application/pdf', label: 'PDF', exts: ['pdf'] },
  { mime: 'image/png', label: 'PNG image', exts: ['png'] },
  { mime: 'image/jpeg', label: 'JPEG image', exts: ['jpg', 'jpeg'] },
  { mime: 'image/gif', label: 'GIF image', exts: ['gif'] },
  { mime: 'image/webp', label: 'WebP image', exts: ['webp'] },
  { mime: 'text/plain', label: 'plain text', exts: ['txt', 'log', 'text'] },
  { mime: 'text/csv', label: 'CSV', exts: ['csv'] },
  { mime: 'message/rfc822', label: 'email (EML)', exts: ['eml'] },
  { mime: 'application/zip', label: 'ZIP archive', exts: ['zip'] },
  { mime: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', label: 'Word document', exts: ['docx'] },
  { mime: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', label: 'Excel workbook', exts: ['xlsx'] },
];
const ACCEPTED = new Map(ACCEPTED_TYPES.map((t) => [t.mime, t]));

/** Bytes read before the type is decided (file-type needs about 4 KB; Office files name their parts a little further on). */
export const SNIFF_BYTES = 64 * 1024;

export interface Sniffed {
  /** the detected media type (`application/octet-stream` when nothing matched) */
  mime: string;
  /** for text: utf-8 when the bytes are valid UTF-8 */
  charset: 'utf-8' | null;
}

/** No magic number: text if it holds no NUL and hardly any control characters. */
function looksLikeText(head: Buffer): boolean {
  if (head.length === 0) return false;
  let control = 0;
  for (const b of head) {
    if (b === 0) return false;
    // tab, LF, FF, CR and ESC are ordinary in logs and exports
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0c && b !== 0x0d && b !== 0x1b) control++;
  }
  return control * 100 <= head.length;
}

/** Valid UTF-8, allowing the head to end inside a character. */
function isUtf8(head: Buffer, complete: boolean): boolean {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let cut = 0; cut <= (complete ? 0 : 3) && cut < head.length; cut++) {
    try {
      decoder.decode(head.subarray(0, head.length - cut));
      return true;
    } catch {
      /* try without a cut character at the end */
    }
  }
  return false;
}

const EMAIL_HEADERS = new Set(['from', 'to', 'cc', 'subject', 'date', 'received', 'message-id', 'mime-version', 'return-path', 'reply-to', 'delivered-to', 'content-type']);

/** An RFC 5322 message: a block of header fields (at least two well-known ones, From among them or Received) before a blank line. */
function looksLikeEmail(lines: string[]): boolean {
  const names = new Set<string>();
  for (const line of lines) {
    if (line === '') break;
    if (/^[ \t]/.test(line)) continue; // a folded header line
    const m = /^([\x21-\x39\x3b-\x7e]+):/.exec(line);
    if (!m) return false;
    names.add(m[1].toLowerCase());
  }
  const known = [...names].filter((n) => EMAIL_HEADERS.has(n));
  return known.length >= 2 && (names.has('from') || names.has('received'));
}

/** Delimiters outside double quotes on one line. */
function countOutsideQuotes(line: string, delimiter: string): number {
  let n = 0;
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    else if (ch === delimiter && !quoted) n++;
  }
  return n;
}

/** Rows of equal width: at least two lines with the same number (> 0) of one delimiter. */
function looksLikeCsv(lines: string[]): boolean {
  const rows = lines.filter((l) => l.trim() !== '').slice(0, 20);
  if (rows.length < 2) return false;
  return [',', ';', '\t'].some((d) => {
    const first = countOutsideQuotes(rows[0], d);
    return first > 0 && rows.every((r) => countOutsideQuotes(r, d) === first);
  });
}

/**
 * The element names that make a text markup when it opens with one: the HTML patterns of WHATWG MIME Sniffing's
 * "identify an unknown MIME type" (`<!DOCTYPE HTML`, `<HTML`, `<HEAD`, `<SCRIPT`, `<IFRAME`, `<H1`, `<DIV`,
 * `<FONT`, `<TABLE`, `<A`, `<STYLE`, `<TITLE`, `<B`, `<BODY`, `<BR`, `<P`), and the elements that run script or
 * load content by themselves (`<svg onload>`, `<img onerror>`, `<object>`, ...).
 */
const MARKUP_ELEMENTS = new Set(['html', 'head', 'script', 'iframe', 'h1', 'div', 'font', 'table', 'a', 'style', 'title', 'b', 'body', 'br', 'p', 'svg', 'math', 'img', 'image', 'object', 'embed', 'frameset', 'frame', 'meta', 'link', 'base', 'form', 'input', 'video', 'audio', 'template', 'xml']);

/**
 * Markup a browser would run if it ever rendered it: refused even though it is text. As a browser reads it: after
 * whitespace and any comments, a doctype, an XML declaration or one of MARKUP_ELEMENTS, its name ended as a browser
 * ends it (whitespace, `/` or `>`: `<svg/onload=…>`, `<html/>`), in any case.
 */
function markupType(text: string): string | null {
  let t = text.replace(/^\uFEFF/, '').slice(0, 4096).toLowerCase();
  // leading comments hide nothing from a browser's parser; one left open is all comment, and still HTML
  for (t = t.trimStart(); t.startsWith('<!--'); t = t.trimStart()) {
    // (`<!-->` and `<!--->` are whole empty comments to a browser)
    const end = t.startsWith('<!-->') ? 2 : t.startsWith('<!--->') ? 3 : t.indexOf('-->', 4);
    if (end < 0) return 'text/html';
    t = t.slice(end + 3);
  }
  if (/^<\?xml/.test(t)) return t.includes('<svg') ? 'image/svg+xml' : 'application/xml';
  const doctype = /^<!doctype\s+(\w+)/.exec(t);
  if (doctype) return doctype[1] === 'svg' ? 'image/svg+xml' : 'text/html';
  const element = /^<([a-z][a-z0-9]*)(?=[\s/>]|$)/.exec(t);
  if (element && MARKUP_ELEMENTS.has(element[1])) return element[1] === 'svg' ? 'image/svg+xml' : 'text/html';
  return null;
}

/**
 * The media type of a file from its first bytes (`complete`: the head is the whole file). Binary formats by
 * their magic numbers (file-type); then text, told apart by its content: markup, an email, CSV or plain text.
 */
export async function sniffType(head: Buffer, complete: boolean): Promise<Sniffed> {
  const found = await fileTypeFromBuffer(head);
  if (found) return { mime: found.mime, charset: null };
  if (!looksLikeText(head)) return { mime: 'application/octet-stream', charset: null };
  const utf8 = isUtf8(head, complete);
  const text = head.toString(utf8 ? 'utf8' : 'latin1');
  const markup = markupType(text);
  if (markup) return { mime: markup, charset: null };
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  // the last line of a partial head may be cut: leave it out
  const whole = complete ? lines : lines.slice(0, -1);
  const charset = utf8 ? 'utf-8' : null;
  if (looksLikeEmail(whole)) return { mime: 'message/rfc822', charset };
  if (looksLikeCsv(whole)) return { mime: 'text/csv', charset };
  return { mime: 'text/plain', charset };
}

// ---------------------------------------------------------------- names

/**
 * The name as uploaded, made safe to keep and to show: no path, no control, directional or line-separator characters,
 * something visible, at most 200 characters.
 */
export function cleanFileName(raw: string | undefined, fallback: string): string {
  const base = (raw ?? '').split(/[\\/]/).pop() ?? '';
  // no control characters, and no directional controls or line separators: "\u202etxt.exe" would show as "exe.txt"
  const cleaned = base
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '')
    .replace(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g, '')
    .replace(/^[\s.]+|\s+$/g, '');
  const chars = [...cleaned];
  // a name of nothing visible is no name
  if (chars.length === 0 || !isName(cleaned)) return fallback;
  if (chars.length <= 200) return cleaned;
  const dot = cleaned.lastIndexOf('.');
  const ext = dot > 0 && cleaned.length - dot <= 10 ? cleaned.slice(dot) : '';
  return chars.slice(0, 200 - [...ext].length).join('') + ext;
}

/** The name offered for download: the uploaded one, plus the real type's extension when the name claims another. */
export function downloadName(name: string, mime: string): string {
  const type = ACCEPTED.get(mime);
  if (!type) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
  return type.exts.includes(ext) ? name : `${name}.${type.exts[0]}`;
}

/** `Content-Disposition: attachment` with an ASCII fallback and the exact name in RFC 5987 form (RFC 6266). */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/**
 * The headers an attachment is served with, by the API and the pages alike: always a download, its type as decided
 * at upload and never sniffed, a sandbox with nothing allowed should a browser render it anyway, not kept in a
 * shared machine's cache (a receipt, a screenshot), and its SHA-256 as the ETag.
 */
export function attachmentHeaders(a: { contentType: string; size: number; downloadName: string; sha256: string }): Record<string, string> {
  return {
    'Content-Type': a.contentType,
    'Content-Length': String(a.size),
    'Content-Disposition': contentDisposition(a.downloadName),
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; sandbox",
    'Cache-Control': 'private, no-store',
    ETag: `"${a.sha256}"`,
  };
}

// ---------------------------------------------------------------- the service

export interface AttachmentLimits {
  /** bytes per file */
  maxBytes: number;
  /** attachments per ticket */
  maxPerTicket: number;
}

/** What the attachments need to know of a ticket. */
export interface TicketRef {
  id: string;
  partnerId: string;
  /** may files still be attached (false e.g. once closed), and why not */
  acceptsAttachments: boolean;
  refusal?: string;
}

export interface AttachmentView {
  id: number;
  ticketId: string;
  name: string;
  downloadName: string;
  contentType: string;
  size: number;
  sha256: string;
  uploadedBy: { userId: string; name: string; role: string };
  uploadedAt: string;
  url: string;
}

export interface AttachmentServiceDeps {
  limits: AttachmentLimits;
  /** the ticket as `auth` may see it; throws a 404 AppError for a ticket the caller may not see */
  findTicket(auth: AuthContext, id: string): Promise<TicketRef>;
  /** puts the attachment on the ticket's timeline; must be idempotent (it runs again on a replayed upload) */
  recordEvent?(auth: AuthContext, ticket: TicketRef, attachment: SupportAttachmentFact): Promise<void>;
}

/** The default limits (lib/config.ts ATTACHMENT_MAX_BYTES, ATTACHMENT_MAX_PER_TICKET). */
export const DEFAULT_ATTACHMENT_LIMITS: AttachmentLimits = { maxBytes: 10 * 1024 * 1024, maxPerTicket: 10 };

/**
 * A support request as `auth` may see it: a partner user only their partner's (another partner's is a 404,
 * as if it did not exist), support users every one. Closed requests take no more attachments.
 */
export async function findTicketForAttachments(auth: AuthContext, id: string): Promise<TicketRef> {
  const number = normaliseTicketNumber(id);
  const support = (SUPPORT_ROLES as readonly string[]).includes(auth.role);
  const t = await SupportTicket.findOne(support ? { _id: number } : { _id: number, partnerId: auth.partnerId }, { partnerId: 1, status: 1 }).lean();
  if (!t) throw notFound('support request', id);
  return { id: t._id, partnerId: t.partnerId, acceptsAttachments: t.status !== 'closed', refusal: `support request ${t._id} is closed: it takes no more attachments` };
}

const bucket = () => new mongoose.mongo.GridFSBucket(mongoose.connection.db!, { bucketName: ATTACHMENTS_BUCKET });

export function attachmentView(a: AttachmentDoc): AttachmentView {
  return {
    id: a.slot,
    ticketId: a.ticketId,
    name: a.name,
    downloadName: a.downloadName,
    contentType: a.contentType,
    size: a.size,
    sha256: a.sha256,
    uploadedBy: a.uploadedBy,
    uploadedAt: a.uploadedAt.toISOString(),
    url: `/support-requests/${encodeURIComponent(a.ticketId)}/attachments/${a.slot}`,
  };
}

const mib = (n: number) => `${Math.round((n / 1024 / 1024) * 10) / 10} MB`;

interface Received {
  fileId: mongoose.Types.ObjectId;
  name: string;
  declaredType: string | null;
  contentType: string;
  size: number;
  sha256: string;
}

export function createAttachmentService(deps: AttachmentServiceDeps) {
  const { limits } = deps;
  const accepted = ACCEPTED_TYPES.map((t) => t.label).join(', ');

  const tooMany = (ticketId: string) =>
    new AppError(413, 'too_many_attachments', `support request ${ticketId} has its ${limits.maxPerTicket} attachments already (the limit per request)`, 'body.file');
  const tooLarge = () => new AppError(413, 'attachment_too_large', `the file is larger than ${mib(limits.maxBytes)} (${limits.maxBytes} bytes), the limit per file`, 'body.file');

  /** Streams the one file part into GridFS, refusing before any write what its type or size does not allow. */
  async function storeFile(stream: Readable & { truncated?: boolean }, info: busboy.FileInfo, ticket: TicketRef): Promise<Received> {
    const chunks: Buffer[] = [];
    let headLength = 0;
    const hash = crypto.createHash('sha256');
    let size = 0;
    let upload: ReturnType<ReturnType<typeof bucket>['openUploadStreamWithId']> | null = null;
    let contentType = '';
    const fileId = new mongoose.Types.ObjectId();
    const name = cleanFileName(info.filename, `attachment-${fileId.toHexString().slice(-6)}`);

    const begin = async (complete: boolean) => {
      const head = Buffer.concat(chunks);
      if (head.length === 0) throw new AppError(400, 'empty_file', 'body.file is empty', 'body.file');
      const sniffed = await sniffType(head, complete);
      if (!ACCEPTED.has(sniffed.mime)) {
        throw new AppError(415, 'unsupported_attachment_type', `the file's content is ${sniffed.mime === 'application/octet-stream' ? 'of no accepted type' : sniffed.mime}; accepted: ${accepted}`, 'body.file', {
          detected: sniffed.mime,
          accepted: ACCEPTED_TYPES.map((t) => t.mime),
        });
      }
      contentType = sniffed.charset ? `${sniffed.mime}; charset=${sniffed.charset}` : sniffed.mime;
      upload = bucket().openUploadStreamWithId(fileId, name, { metadata: { ticketId: ticket.id, partnerId: ticket.partnerId, contentType } });
      await write(head);
    };
    const write = async (chunk: Buffer) => {
      if (!upload!.write(chunk)) await once(upload!, 'drain');
    };

    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        size += chunk.length;
        hash.update(chunk);
        if (upload) await write(chunk);
        else {
          chunks.push(chunk);
          headLength += chunk.length;
          if (headLength >= SNIFF_BYTES) await begin(false);
        }
      }
      if (stream.truncated || size > limits.maxBytes) throw tooLarge();
      if (!upload) await begin(true);
      upload!.end();
      await finished(upload!);
    } catch (e) {
      if (upload) await (upload as { abort(): Promise<void> }).abort().catch(() => bucket().delete(fileId).catch(() => undefined));
      throw e;
    }
    return { fileId, name, declaredType: info.mimeType && info.mimeType !== 'application/octet-stream' ? info.mimeType.slice(0, 200) : null, contentType, size, sha256: hash.digest('hex') };
  }

  /**
   * A form field that must come before the file, checked as it arrives, before a byte of the file is stored (the
   * pages' CSRF token: a multipart body is streamed, so it cannot be read ahead of the file).
   */
  interface LeadingField {
    name: string;
    accept(value: string): boolean;
    refusal(): AppError;
  }

  /** Parses the multipart body: exactly one part named `file` (after the leading field, if one is asked for); other parts are refused. */
  function receive(req: IncomingMessage, ticket: TicketRef, leading?: LeadingField): Promise<Received> {
    const type = req.headers['content-type'] ?? '';
    if (!/^multipart\/form-data\s*;/i.test(type)) {
      return Promise.reject(new AppError(400, 'validation_failed', 'body must be multipart/form-data (Content-Type: multipart/form-data; boundary=...) with a part named "file"', 'body'));
    }
    // a compressed body is not read as if it were the form (its bytes would be no multipart, or a file stored compressed)
    // (a list: "identity", or nothing, is the only coding taken; the header sent twice is one list)
    const encoding = (req.headers['content-encoding'] ?? '').split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '' && c !== 'identity').join(', ');
    if (encoding !== '') {
      return Promise.reject(new AppError(415, 'unsupported_content_encoding', `an upload is sent as it is: Content-Encoding ${JSON.stringify(encoding)} is not taken (send the file uncompressed, or as a .zip part)`, 'header.content-encoding'));
    }
    return new Promise<Received>((resolve, reject) => {
      let bb: busboy.Busboy;
      try {
        // busboy cuts a file off once it reaches fileSize: one byte more than allowed tells "too large" from "exactly the limit"
        bb = busboy({ headers: req.headers, defParamCharset: 'utf8', limits: { files: 1, fileSize: limits.maxBytes + 1, fields: 1, headerPairs: 20 } });
      } catch (e) {
        reject(new AppError(400, 'invalid_multipart', `the multipart body cannot be read: ${(e as Error).message}`, 'body'));
        return;
      }
      let settled = false;
      let work: Promise<Received> | null = null;
      let fileStream: Readable | null = null;
      let leadingSeen = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        // stop parsing; whatever is still coming is read and discarded by Node once the answer is sent
        req.unpipe(bb);
        req.resume();
        // a file still streaming stops (storeFile aborts its GridFS upload); one already stored is deleted
        fileStream?.destroy(err instanceof Error ? err : new Error(String(err)));
        if (work) work.then((r) => bucket().delete(r.fileId).catch(() => undefined), () => undefined);
        reject(err);
      };
      bb.on('file', (field, stream, info) => {
        // a body cut off inside the file errors this stream: listened to here too, or a refused part left unread
        // would stop the process
        stream.on('error', () => undefined);
        // refused already (a part before it): nothing of it is stored
        if (settled) {
          stream.resume();
          return;
        }
        if (leading && !leadingSeen) {
          stream.resume();
          fail(leading.refusal());
          return;
        }
        if (field !== 'file') {
          stream.resume();
          fail(new AppError(400, 'validation_failed', `body.${field} is not allowed here: send one part named "file"`, `body.${field}`));
          return;
        }
        fileStream = stream;
        work = storeFile(stream, info, ticket);
        work.catch(fail);
      });
      bb.on('field', (field, value) => {
        if (leading && !leadingSeen && field === leading.name) {
          // a listener of busboy's must not throw (nothing would catch it): any failure of the check is a refusal
          let accepted = false;
          try {
            accepted = leading.accept(value);
          } catch {
            accepted = false;
          }
          if (accepted) leadingSeen = true;
          else fail(leading.refusal());
          return;
        }
        // a part named "file" that holds no file (no filename): said so, not as a part that is not allowed (QA)
        if (field === 'file') fail(new AppError(400, 'validation_failed', 'body.file must be a file: a part with a filename (Content-Disposition: form-data; name="file"; filename="…")', 'body.file'));
        else fail(new AppError(400, 'validation_failed', `body.${field} is not allowed here: send one part named "file"`, `body.${field}`));
      });
      bb.on('filesLimit', () => fail(new AppError(400, 'validation_failed', 'send one file per request', 'body.file')));
      bb.on('fieldsLimit', () => fail(new AppError(400, 'validation_failed', 'send one part, named "file", per request', 'body')));
      bb.on('error', (e: Error) => fail(new AppError(400, 'invalid_multipart', `the multipart body cannot be read: ${e.message}`, 'body')));
      bb.on('close', () => {
        if (settled) return;
        if (leading && !leadingSeen) {
          fail(leading.refusal());
          return;
        }
        if (!work) {
          fail(new AppError(400, 'validation_failed', 'body.file is required', 'body.file'));
          return;
        }
        work.then(
          (r) => {
            settled = true;
            resolve(r);
          },
          fail,
        );
      });
      req.on('aborted', () => fail(new AppError(400, 'request_aborted', 'the upload was interrupted', 'body')));
      req.pipe(bb);
    });
  }

  /** Claims the lowest free slot for a stored file; the same bytes already attached answer with that attachment. */
  async function claimSlot(auth: AuthContext, ticket: TicketRef, r: Received): Promise<{ doc: AttachmentDoc; replayed: boolean }> {
    const same = () => Attachment.findOne({ ticketId: ticket.id, sha256: r.sha256 }).lean<AttachmentDoc>();
    const discard = () => bucket().delete(r.fileId).catch(() => undefined);
    const existing = await same();
    if (existing) {
      await discard();
      return { doc: existing, replayed: true };
    }
    const taken = new Set((await Attachment.find({ ticketId: ticket.id }, { slot: 1 }).lean()).map((a) => a.slot));
    for (let slot = 1; slot <= limits.maxPerTicket; slot++) {
      if (taken.has(slot)) continue;
      const doc: AttachmentDoc = {
        _id: `${ticket.id}:${slot}`,
        ticketId: ticket.id,
        partnerId: ticket.partnerId,
        slot,
        fileId: r.fileId,
        name: r.name,
        downloadName: downloadName(r.name, r.contentType.split(';')[0]),
        contentType: r.contentType,
        declaredType: r.declaredType,
        size: r.size,
        sha256: r.sha256,
        uploadedBy: { userId: auth.user._id, name: auth.user.name, role: auth.role },
        uploadedAt: new Date(),
        requestId: currentRequestId(),
      };
      try {
        await Attachment.create(doc);
        return { doc, replayed: false };
      } catch (e) {
        if (!isDuplicateKey(e)) {
          await discard();
          throw e;
        }
        // the slot went to someone else, or the same bytes were attached meanwhile
        const dup = await same();
        if (dup) {
          await discard();
          return { doc: dup, replayed: true };
        }
      }
    }
    await discard();
    throw tooMany(ticket.id);
  }

  /** A stored file's slot on its ticket, and the ticket's timeline event. */
  async function keep(auth: AuthContext, ticket: TicketRef, received: Received): Promise<{ attachment: AttachmentView; replayed: boolean }> {
    const { doc, replayed } = await claimSlot(auth, ticket, received);
    if (deps.recordEvent) {
      await deps.recordEvent(auth, ticket, { id: doc.slot, name: doc.name, contentType: doc.contentType, size: doc.size, sha256: doc.sha256 });
    }
    return { attachment: attachmentView(doc), replayed };
  }

  return {
    limits,

    async upload(auth: AuthContext, ticketId: string, req: IncomingMessage, opts: { leadingField?: LeadingField } = {}): Promise<{ attachment: AttachmentView; replayed: boolean }> {
      const ticket = await deps.findTicket(auth, ticketId);
      if (!ticket.acceptsAttachments) throw new AppError(409, 'ticket_closed', ticket.refusal ?? `support request ${ticket.id} takes no more attachments`);
      // refusals that need no byte of the body
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > limits.maxBytes + 64 * 1024) throw tooLarge();
      if ((await Attachment.countDocuments({ ticketId: ticket.id })) >= limits.maxPerTicket) throw tooMany(ticket.id);
      return keep(auth, ticket, await receive(req, ticket, opts.leadingField));
    },

    /**
     * A file read elsewhere (the filing page's form, which files the request first): the same checks, typing,
     * limits and slot as an upload; the same bytes attached again answer the first attachment.
     */
    async attach(auth: AuthContext, ticketId: string, file: { stream: Readable; filename: string; mimeType: string }): Promise<{ attachment: AttachmentView; replayed: boolean }> {
      const ticket = await deps.findTicket(auth, ticketId);
      if (!ticket.acceptsAttachments) throw new AppError(409, 'ticket_closed', ticket.refusal ?? `support request ${ticket.id} takes no more attachments`);
      if ((await Attachment.countDocuments({ ticketId: ticket.id })) >= limits.maxPerTicket) throw tooMany(ticket.id);
      return keep(auth, ticket, await storeFile(file.stream, { filename: file.filename, encoding: '7bit', mimeType: file.mimeType }, ticket));
    },

    async list(auth: AuthContext, ticketId: string): Promise<AttachmentView[]> {
      const ticket = await deps.findTicket(auth, ticketId);
      const docs = await Attachment.find({ ticketId: ticket.id, partnerId: ticket.partnerId }).sort({ slot: 1 }).lean<AttachmentDoc[]>();
      return docs.map(attachmentView);
    },

    /** The attachment's metadata and a stream of its bytes. */
    async open(auth: AuthContext, ticketId: string, attachmentId: number): Promise<{ attachment: AttachmentView; stream: Readable }> {
      const ticket = await deps.findTicket(auth, ticketId);
      const doc = await Attachment.findOne({ _id: `${ticket.id}:${attachmentId}`, partnerId: ticket.partnerId }).lean<AttachmentDoc>();
      if (!doc) throw new AppError(404, 'not_found', `support request ${ticket.id} has no attachment ${attachmentId}`);
      return { attachment: attachmentView(doc), stream: bucket().openDownloadStream(doc.fileId) };
    },
  };
}

export type AttachmentService = ReturnType<typeof createAttachmentService>;
