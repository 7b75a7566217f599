/**
 * Attachments of support requests end to end on the real stack: FerretDB's GridFS holds the bytes, the
 * ticket's workflow holds the ticket. A second API with small limits (on the same servers) proves the 413s
 * and the count limit under concurrent uploads.
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import mongoose from 'mongoose';
import { createApi, createAppServer } from '../composition/root';
import { GENERAL_PROBLEM_TYPE } from '../domain/support';
import { Attachment } from '../models';
import { cleanFileName, contentDisposition, downloadName, sniffType } from '../services/attachments';
import { getTestApp, uniq, type TestApp, TEST_SUPPORT_SETTINGS } from './support/app';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
const EXE = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(62), Buffer.from('PE\0\0'), crypto.randomBytes(200)]);

/** Files a general support request through the API (as the partner's admin agent) and returns its number. */
async function fileTicket(app: TestApp, customer: string, token = app.tokens['admin-agent']): Promise<string> {
  const res = await app.api('POST', '/support-requests', {
    token,
    headers: { 'idempotency-key': uniq('key-ticket') },
    body: { problemType: GENERAL_PROBLEM_TYPE, impact: 'minimal', title: 'Screenshots of the activation error', customer, contact: { name: 'Pat Partner', email: 'pat@partner.example' }, description: 'See the attachments.' },
  });
  if (res.status !== 201) throw new Error(`could not file a support request: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.number;
}

interface Upload {
  status: number;
  body: any;
  headers: Headers;
}

async function upload(baseUrl: string, token: string, ticket: string, bytes: Buffer, name: string, declaredType = 'application/octet-stream'): Promise<Upload> {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type: declaredType }), name);
  const res = await fetch(`${baseUrl}/support-requests/${ticket}/attachments`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

const gridFiles = (ticketId: string) => mongoose.connection.db!.collection('attachments.files').countDocuments({ 'metadata.ticketId': ticketId });
const gridChunks = async (ticketId: string) => {
  const ids = (await mongoose.connection.db!.collection('attachments.files').find({ 'metadata.ticketId': ticketId }).toArray()).map((f) => f._id);
  return mongoose.connection.db!.collection('attachments.chunks').countDocuments({ files_id: { $in: ids } });
};

describe('support attachments: the type from the content', () => {
  it('when bytes carry a magic number, then that decides, whatever the name', async () => {
    expect((await sniffType(PNG, true)).mime).to.equal('image/png');
    expect((await sniffType(PDF, true)).mime).to.equal('application/pdf');
    expect((await sniffType(EXE, true)).mime).to.not.be.oneOf(['text/plain', 'application/pdf']);
  });

  it('when the bytes are text, then CSV, email and plain text are told apart, and markup is named for what it is', async () => {
    expect(await sniffType(Buffer.from('order,amount,currency\n"A-1, B",100,USD\nA-2,200,USD\n'), true)).to.deep.equal({ mime: 'text/csv', charset: 'utf-8' });
    expect((await sniffType(Buffer.from('Received: from mx.example\r\nFrom: Pat <pat@example.com>\r\nTo: support@example.com\r\nSubject: refund\r\n\r\nHello'), true)).mime).to.equal('message/rfc822');
    expect(await sniffType(Buffer.from('Grüße, the activation failed at 10:02.\nError 0xC004F074\n'), true)).to.deep.equal({ mime: 'text/plain', charset: 'utf-8' });
    expect(await sniffType(Buffer.from('caf\xe9 au lait\n', 'latin1'), true)).to.deep.equal({ mime: 'text/plain', charset: null });
    expect((await sniffType(Buffer.from('<!DOCTYPE html><html><script>alert(1)</script>'), true)).mime).to.equal('text/html');
    expect((await sniffType(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'), true)).mime).to.equal('image/svg+xml');
    expect((await sniffType(Buffer.from([0, 1, 2, 3, 4, 5, 0, 0]), true)).mime).to.equal('application/octet-stream');
  });

  it('when markup opens as a browser would still read it (a slash after the name, spaces in the doctype, comments first, any element of the sniffing rules), then it is named markup; text that only holds a "<" stays text', async () => {
    const mime = async (s: string) => (await sniffType(Buffer.from(s), true)).mime;
    // QA: each of these had been stored as text/plain
    expect(await mime('<svg/onload=alert(1)>')).to.equal('image/svg+xml');
    expect(await mime('<html/><script>alert(1)</script>')).to.equal('text/html');
    expect(await mime('<!DOCTYPE  html><script>alert(1)</script>')).to.equal('text/html');
    expect(await mime('<!-- c --><svg onload=alert(1)>')).to.equal('image/svg+xml');
    expect(await mime(' <!-- a -->\n<!--b--> <div>hi</div>')).to.equal('text/html');
    expect(await mime('<img src=x onerror=alert(1)>')).to.equal('text/html');
    expect(await mime('<P>Dear support')).to.equal('text/html');
    expect(await mime('<!-- never closed <script>alert(1)</script>')).to.equal('text/html');
    expect(await mime('<!-->plain words after an empty comment\n')).to.equal('text/plain');
    expect(await mime('<!--->\n<svg onload=alert(1)>')).to.equal('image/svg+xml');
    expect(await mime('<?xml version="1.0"?><note/>')).to.equal('application/xml');
    for (const text of ['<ERROR> disk full at 10:02\n', '<2026-11-28> activation failed\n', 'a < b and b > c\n', '<pat@example.com> wrote:\n', '<abbr-like> is not an element here\n']) {
      expect(await mime(text), text).to.equal('text/plain');
    }
  });

  it('when a name claims another type, then the download name gets the real extension; names are encoded per RFC 6266', () => {
    expect(downloadName('receipt.pdf', 'image/png')).to.equal('receipt.pdf.png');
    expect(downloadName('photo.JPG', 'image/jpeg')).to.equal('photo.JPG');
    expect(contentDisposition('Rechnung März "1".pdf')).to.equal(`attachment; filename="Rechnung M_rz _1_.pdf"; filename*=UTF-8''Rechnung%20M%C3%A4rz%20%221%22.pdf`);
  });

  it('when a name carries a path, controls, directional overrides or nothing visible, then they are taken out (or a name is given)', () => {
    expect(cleanFileName('C:\\Users\\pat\\invoice.pdf', 'x')).to.equal('invoice.pdf');
    expect(cleanFileName('\u202etxt.exe', 'x')).to.equal('txt.exe');
    expect(cleanFileName('re\u2066port\u2069\u2028.csv', 'x')).to.equal('report.csv');
    expect(cleanFileName('\u200b\u200b', 'attachment-1')).to.equal('attachment-1');
    expect(cleanFileName('..', 'attachment-2')).to.equal('attachment-2');
    expect(cleanFileName('Rechnung März.pdf', 'x')).to.equal('Rechnung März.pdf');
  });
});

describe('support attachments: API on the real stack (GridFS on FerretDB)', () => {
  let app: TestApp;
  let ticket: string;
  let customer: string;
  let small: { baseUrl: string; close: () => Promise<void> };
  const LIMIT_BYTES = 64 * 1024;
  const LIMIT_FILES = 3;

  before(async function () {
    this.timeout(300_000);
    app = await getTestApp();
    customer = (await app.newCustomer('US')).domain;
    ticket = await fileTicket(app, customer);
    const api = createApi({ client: app.client, mailer: app.mailer, log: app.log, taskQueue: app.taskQueue, reminderDaysBeforeClose: 7, support: TEST_SUPPORT_SETTINGS, validateResponses: true, attachmentLimits: { maxBytes: LIMIT_BYTES, maxPerTicket: LIMIT_FILES } });
    const server = createAppServer(api);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    small = {
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
  });
  after(async () => small?.close());

  it('when an admin agent attaches a PNG named .pdf, then it is stored as a PNG, listed, and downloads byte for byte with safe headers', async () => {
    const res = await upload(app.baseUrl, app.tokens['admin-agent'], ticket, PNG, 'receipt.pdf', 'application/pdf');
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.deep.include({ ticketId: ticket, name: 'receipt.pdf', downloadName: 'receipt.pdf.png', contentType: 'image/png', size: PNG.length, sha256: crypto.createHash('sha256').update(PNG).digest('hex') });
    expect(res.headers.get('location')).to.equal(res.body.url);
    expect(await gridFiles(ticket)).to.equal(1);

    const list = await app.api('GET', `/support-requests/${ticket}/attachments`, { token: app.tokens['support-agent'] });
    expect(list.status).to.equal(200);
    expect(list.body.map((a: any) => a.id)).to.deep.equal([res.body.id]);

    // the support agent downloads what the partner attached
    const dl = await fetch(`${app.baseUrl}${res.body.url}`, { headers: { authorization: `Bearer ${app.tokens['support-agent']}` } });
    expect(dl.status).to.equal(200);
    expect(dl.headers.get('content-type')).to.equal('image/png');
    expect(dl.headers.get('content-length')).to.equal(String(PNG.length));
    expect(dl.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(dl.headers.get('cache-control')).to.equal('private, no-store');
    expect(dl.headers.get('content-disposition')).to.equal(`attachment; filename="receipt.pdf.png"; filename*=UTF-8''receipt.pdf.png`);
    expect(Buffer.from(await dl.arrayBuffer()).equals(PNG)).to.equal(true);

    // the file held already: its ETag sent back is a 304 with no body; another ETag gets the file
    const etag = dl.headers.get('etag')!;
    expect(etag).to.equal(`"${res.body.sha256}"`);
    // (`max-age=0` as a browser revalidates: fetch would otherwise add `no-cache`, which asks for the whole file)
    const auth = { authorization: `Bearer ${app.tokens['support-agent']}`, 'cache-control': 'max-age=0' };
    const again = await fetch(`${app.baseUrl}${res.body.url}`, { headers: { ...auth, 'if-none-match': `"other", ${etag}` } });
    expect([again.status, again.headers.get('etag'), (await again.arrayBuffer()).byteLength]).to.deep.equal([304, etag, 0]);
    const changed = await fetch(`${app.baseUrl}${res.body.url}`, { headers: { ...auth, 'if-none-match': '"other"' } });
    expect([changed.status, Buffer.from(await changed.arrayBuffer()).equals(PNG)]).to.deep.equal([200, true]);
  });

  it('when a file spans many GridFS chunks and has a non-ASCII name, then it comes back identical under its name', async () => {
    const bytes = Buffer.concat([PDF, crypto.randomBytes(700 * 1024)]);
    const res = await upload(app.baseUrl, app.tokens['global-admin'], ticket, bytes, 'C:\\Users\\pat\\Rechnung März.pdf');
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.deep.include({ name: 'Rechnung März.pdf', contentType: 'application/pdf', size: bytes.length });
    expect(await gridChunks(ticket)).to.be.greaterThan(2);
    const dl = await fetch(`${app.baseUrl}${res.body.url}`, { headers: { authorization: `Bearer ${app.tokens['admin-agent']}` } });
    expect(dl.headers.get('content-disposition')).to.equal(`attachment; filename="Rechnung M_rz.pdf"; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf`);
    const back = Buffer.from(await dl.arrayBuffer());
    expect(crypto.createHash('sha256').update(back).digest('hex')).to.equal(crypto.createHash('sha256').update(bytes).digest('hex'));
  });

  it('when the same bytes are attached again, then the first attachment answers (200, replayed) and no slot or file is added', async () => {
    const before = await Attachment.countDocuments({ ticketId: ticket });
    const res = await upload(app.baseUrl, app.tokens['support-lead'], ticket, PNG, 'again.png');
    expect(res.status).to.equal(200);
    expect(res.headers.get('idempotent-replayed')).to.equal('true');
    expect(res.body.name).to.equal('receipt.pdf');
    expect(await Attachment.countDocuments({ ticketId: ticket })).to.equal(before);
    expect(await gridFiles(ticket)).to.equal(before);
  });

  it('when files are attached, then each is one public "attached" event on the timeline (a replayed upload adds none), seen by the partner too', async () => {
    const attached = async (token: string) => {
      const res = await app.api('GET', `/support-requests/${ticket}`, { token });
      expect(res.status).to.equal(200);
      return res.body.timeline.filter((e: any) => e.type === 'attached');
    };
    const stored = (await app.api('GET', `/support-requests/${ticket}/attachments`, { token: app.tokens['support-agent'] })).body;
    const forAgent = await attached(app.tokens['support-agent']);
    expect(forAgent.map((e: any) => e.data.attachment.id)).to.deep.equal(stored.map((a: any) => a.id));
    expect(forAgent[0]).to.deep.include({ public: true, body: null });
    expect(forAgent[0].by).to.deep.equal({ name: forAgent[0].by.name, role: 'admin-agent', kind: 'partner' });
    expect(forAgent[0].data.attachment).to.deep.equal({ id: stored[0].id, name: 'receipt.pdf', contentType: 'image/png', size: PNG.length, sha256: stored[0].sha256 });
    expect(await attached(app.tokens['admin-agent'])).to.deep.equal(forAgent);

    // an agent's file too; the same bytes again (a client retrying) leave one event
    const bytes = Buffer.concat([PDF, crypto.randomBytes(64)]);
    const first = await upload(app.baseUrl, app.tokens['support-agent'], ticket, bytes, 'refund-form.pdf');
    expect(first.status, JSON.stringify(first.body)).to.equal(201);
    const again = await upload(app.baseUrl, app.tokens['support-agent'], ticket, bytes, 'refund-form.pdf');
    expect(again.status).to.equal(200);
    const after = await attached(app.tokens['admin-agent']);
    expect(after.map((e: any) => e.data.attachment.id)).to.deep.equal([...forAgent.map((e: any) => e.data.attachment.id), first.body.id]);
    expect(after[after.length - 1].by.kind).to.equal('agent');
  });

  it('when the content is of no accepted type, then 415 names what it is, whatever the name, and nothing is stored', async () => {
    const t = await fileTicket(app, customer);
    const exe = await upload(app.baseUrl, app.tokens['admin-agent'], t, EXE, 'invoice.pdf', 'application/pdf');
    expect(exe.status).to.equal(415);
    expect(exe.body.error).to.include({ code: 'unsupported_attachment_type', field: 'body.file' });
    expect(exe.body.error.details.detected).to.equal('application/x-msdownload');
    const html = await upload(app.baseUrl, app.tokens['admin-agent'], t, Buffer.from('<html><body><script>fetch("/")</script></body></html>'), 'notes.txt', 'text/plain');
    expect(html.status).to.equal(415);
    expect(html.body.error.details.detected).to.equal('text/html');
    expect(await Attachment.countDocuments({ ticketId: t })).to.equal(0);
    expect(await gridFiles(t)).to.equal(0);
  });

  it('when a file is over the size limit, then 413 and nothing is stored (cut off mid-stream, or refused from its Content-Length)', async () => {
    const t = await fileTicket(app, customer);
    // just over the limit: busboy cuts it off after GridFS received most of it; the upload is aborted
    const over = await upload(small.baseUrl, app.tokens['admin-agent'], t, Buffer.from('x'.repeat(LIMIT_BYTES + 1)), 'big.log');
    expect(over.status).to.equal(413);
    expect(over.body.error).to.include({ code: 'attachment_too_large', field: 'body.file' });
    // far over: refused from the Content-Length before the body is read
    const huge = await upload(small.baseUrl, app.tokens['admin-agent'], t, Buffer.from('y'.repeat(LIMIT_BYTES * 4)), 'huge.log');
    expect(huge.status).to.equal(413);
    expect(await Attachment.countDocuments({ ticketId: t })).to.equal(0);
    expect(await gridFiles(t)).to.equal(0);
    expect(await mongoose.connection.db!.collection('attachments.chunks').countDocuments({ files_id: { $exists: false } })).to.equal(0);
    // exactly at the limit is fine
    const at = await upload(small.baseUrl, app.tokens['admin-agent'], t, Buffer.from('z'.repeat(LIMIT_BYTES)), 'limit.log');
    expect(at.status, JSON.stringify(at.body)).to.equal(201);
  });

  it('when more files than the limit are uploaded at once, then exactly the limit is stored and the others get 413, with no file left behind', async () => {
    const t = await fileTicket(app, customer);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => upload(small.baseUrl, app.tokens[i % 2 ? 'support-agent' : 'admin-agent'], t, Buffer.from(`log line ${i}\n${crypto.randomBytes(8).toString('hex')}\n`), `log-${i}.txt`)),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).to.have.length(LIMIT_FILES);
    expect(statuses.filter((s) => s === 413)).to.have.length(8 - LIMIT_FILES);
    for (const r of results.filter((x) => x.status === 413)) expect(r.body.error.code).to.equal('too_many_attachments');
    const docs = await Attachment.find({ ticketId: t }).sort({ slot: 1 }).lean();
    expect(docs.map((d) => d.slot)).to.deep.equal([1, 2, 3]);
    expect(await gridFiles(t)).to.equal(LIMIT_FILES);
    // and the next one is refused before its body is read
    const next = await upload(small.baseUrl, app.tokens['admin-agent'], t, Buffer.from('one more\n'), 'more.txt');
    expect(next.status).to.equal(413);
  });

  it("when another partner or a role without access asks, then 404 (as if it did not exist) or 403, and nothing is stored", async () => {
    const t = await fileTicket(app, customer);
    const first = await upload(app.baseUrl, app.tokens['admin-agent'], t, PDF, 'a.pdf');
    expect(first.status).to.equal(201);
    const other = app.otherTokens['admin-agent'];
    expect((await upload(app.baseUrl, other, t, PNG, 'x.png')).status).to.equal(404);
    expect((await app.api('GET', `/support-requests/${t}/attachments`, { token: other })).status).to.equal(404);
    const dl = await app.api('GET', `/support-requests/${t}/attachments/1`, { token: other });
    expect(dl.status).to.equal(404);
    expect(dl.body.error.code).to.equal('not_found');
    const sales = await upload(app.baseUrl, app.tokens['sales-agent'], t, PNG, 'x.png');
    expect(sales.status).to.equal(403);
    expect((await app.api('GET', `/support-requests/${t}/attachments/1`, { token: app.tokens['account-admin'] })).status).to.equal(403);
    expect((await app.api('GET', `/support-requests/${t}/attachments/9`)).status).to.equal(404);
    expect(await Attachment.countDocuments({ ticketId: t })).to.equal(1);
  });

  it('when the body is not multipart or has no file, then 400 naming it; when the request is closed, then 409', async () => {
    const t = await fileTicket(app, customer);
    const json = await app.api('POST', `/support-requests/${t}/attachments`, { body: { file: 'x' } });
    expect(json.status).to.equal(400);
    expect(json.body.error).to.include({ code: 'validation_failed', field: 'body' });
    const form = new FormData();
    form.append('note', 'no file here');
    const noFile = await fetch(`${app.baseUrl}/support-requests/${t}/attachments`, { method: 'POST', headers: { authorization: `Bearer ${app.tokens['admin-agent']}` }, body: form });
    expect(noFile.status).to.equal(400);
    expect(((await noFile.json()) as any).error.field).to.equal('body.note');
    // a part named "file" that holds text, not a file: said so, not as a part that is not allowed (QA)
    const textFile = new FormData();
    textFile.append('file', 'just text');
    const notAFile = await fetch(`${app.baseUrl}/support-requests/${t}/attachments`, { method: 'POST', headers: { authorization: `Bearer ${app.tokens['admin-agent']}` }, body: textFile });
    const notAFileError = ((await notAFile.json()) as any).error;
    expect([notAFile.status, notAFileError.field, notAFileError.message]).to.deep.equal([400, 'body.file', 'body.file must be a file: a part with a filename (Content-Disposition: form-data; name="file"; filename="…")']);
    // a part before the file is refused, and the file after it is not stored either
    const before = new FormData();
    before.append('note', 'first');
    before.append('file', new Blob([PNG], { type: 'image/png' }), 'after.png');
    const refused = await fetch(`${app.baseUrl}/support-requests/${t}/attachments`, { method: 'POST', headers: { authorization: `Bearer ${app.tokens['admin-agent']}` }, body: before });
    expect([refused.status, ((await refused.json()) as any).error.field]).to.deep.equal([400, 'body.note']);
    await new Promise((r) => setTimeout(r, 500));
    expect(await gridFiles(t)).to.equal(0);
    // a compressed body is refused, not stored compressed nor read as a broken form
    const whole = new FormData();
    whole.append('file', new Blob([PNG], { type: 'image/png' }), 'packed.png');
    const encoded = new Response(whole);
    const gzipped = zlib.gzipSync(Buffer.from(await encoded.arrayBuffer()));
    const packed = await fetch(`${app.baseUrl}/support-requests/${t}/attachments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${app.tokens['admin-agent']}`, 'content-type': encoded.headers.get('content-type')!, 'content-encoding': 'gzip' },
      body: gzipped,
    });
    const packedError = ((await packed.json()) as any).error;
    expect([packed.status, packedError.code, packedError.field]).to.deep.equal([415, 'unsupported_content_encoding', 'header.content-encoding']);
    expect(await gridFiles(t)).to.equal(0);
    const empty = await upload(app.baseUrl, app.tokens['admin-agent'], t, Buffer.alloc(0), 'empty.txt');
    expect(empty.status).to.equal(400);
    expect(empty.body.error.code).to.equal('empty_file');

    const close = await app.api('POST', `/support-requests/${t}/close`, { token: app.tokens['support-agent'], body: {} });
    expect(close.status, JSON.stringify(close.body)).to.equal(200);
    const closed = await upload(app.baseUrl, app.tokens['admin-agent'], t, PNG, 'late.png');
    expect(closed.status).to.equal(409);
    expect(await gridFiles(t)).to.equal(0);
  });

  it('when the OpenAPI document is read, then the upload is described as multipart/form-data with its 413 and 415', async () => {
    const doc = (await app.api('GET', '/openapi.json', { token: null })).body;
    const op = doc.paths['/support-requests/{id}/attachments'].post;
    expect(op.requestBody.content).to.have.key('multipart/form-data');
    // an empty file is refused (empty_file), and the document says so
    expect(op.requestBody.content['multipart/form-data'].schema.properties.file.minLength).to.equal(1);
    expect(op.responses).to.include.keys('201', '200', '413', '415', '404', '403');
    expect(op.responses['413'].description).to.match(/too_many_attachments/);
    const dl = doc.paths['/support-requests/{id}/attachments/{attachmentId}'].get;
    // each file as its own type, decided at upload: any media type, binary
    expect(dl.responses['200'].content).to.deep.equal({ '*/*': { schema: { type: 'string', format: 'binary' } } });
    expect(dl.responses['200'].headers).to.include.keys('Content-Security-Policy', 'Cache-Control', 'ETag');
    // a conditional GET: If-None-Match in, 304 out
    expect(dl.parameters.map((p: { name: string }) => p.name)).to.include('if-none-match');
    expect(dl.responses).to.include.keys('304');
  });
});
