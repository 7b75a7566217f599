/** Hostile input, methods, text rules and what the OpenAPI document states, against the real servers. */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import { expect } from 'chai';
import { Customer, Order } from '../models';
import express from 'express';
import { buildRouter, defineRoute, errorHandler, MAX_INPUT_DEPTH, openApiDocument, requestContext } from '../api/http';
import { AppError } from '../lib/errors';
import { createLogger } from '../lib/logger';
import { NAME_PATTERN, serverPattern, SINGLE_LINE_PATTERN } from '../domain/text';
import { COUNTRIES } from '../domain/countries';
import { CURSOR_PATTERN } from '../api/schemas';
import { getTestApp, placeOrder, uniq, type TestApp } from './support/app';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** A request with any method and raw bytes (fetch refuses TRACE and re-encodes bodies). */
type ErrorBody = { error: { code: string; field?: string } };

function raw(baseUrl: string, method: string, path: string, opts: { token?: string; body?: Buffer | string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const url = new URL(path, baseUrl);
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] ??= 'application/json';
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : null;
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode!, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

describe('API hardening: hostile input, methods, text rules, the OpenAPI document', function () {
  this.timeout(120_000);
  let app: TestApp;
  let customer: { id: string; name: string };
  let orderId: string;
  /** every POST route with its path filled in and a token that may call it */
  let posts: { path: string; token: string }[];

  before(async () => {
    app = await getTestApp();
    customer = await app.newCustomer('US');
    orderId = (await placeOrder(app, customer.id, 'windows-server-standard-sub')).id;
    const doc = (await app.api('GET', '/openapi.json', { token: null })).body;
    // a token of a role the operation allows (its description says "Roles: ..."), so the body is what is judged
    const tokenFor = (op: { description?: string }) => {
      const roles = /Roles: ([^.]+)\./.exec(op.description ?? '')?.[1].split(', ') ?? ['admin-agent'];
      return app.tokens[(roles.includes('admin-agent') ? 'admin-agent' : roles.find((r) => r in app.tokens)) as keyof typeof app.tokens];
    };
    // every POST, multipart ones included (given a JSON body, they answer 400 naming body as well)
    posts = Object.entries(doc.paths as Record<string, Record<string, { description?: string }>>)
      .filter(([, ops]) => ops.post)
      .map(([p, ops]) => ({ path: p.replace('{customer}', customer.id).replace('{id}', orderId), token: tokenFor(ops.post) }));
    expect(posts.length).to.be.greaterThan(4);
  });

  describe('when the body has a hostile shape, then every POST answers 400 (never 500) and nothing is written', () => {
    const shapes: [string, () => string, string][] = [
      ['arrays nested 10,000 deep (20 KB)', () => `{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}`, 'body'],
      ['objects nested 4,000 deep', () => `${'{"a":'.repeat(4000)}1${'}'.repeat(4000)}`, 'body'],
      ['a 300,000-item array', () => `{"orders":[${Array(300_000).fill('1').join(',')}]}`, 'body'],
      ['a __proto__ key', () => '{"__proto__":{"admin":true},"productId":"x","quantity":1}', 'body'],
      ['a constructor/prototype key', () => '{"constructor":{"prototype":{"x":1}}}', 'body'],
      ['a number out of range (1e400)', () => '{"quantity":1e400,"productId":"x","orders":[],"orderIds":[1e400]}', 'body'],
      ['a lone surrogate key', () => '{"\\ud800":1}', 'body'],
      ['a NUL in a key', () => '{"a\\u0000b":1}', 'body'],
      ['a JSON array at the top', () => '[1,2,3]', 'body'],
      ['a JSON string at the top', () => '"x"', 'body'],
    ];
    for (const [what, body, field] of shapes) {
      it(what, async () => {
        const text = body();
        for (const p of posts) {
          const res = await raw(app.baseUrl, 'POST', p.path, { token: p.token, body: text, headers: { 'idempotency-key': uniq('k-shape') } });
          expect(res.status, `${p.path}: ${JSON.stringify(res.body)}`).to.equal(400);
          expect(res.body.error.field, p.path).to.match(new RegExp(`^${field}`));
        }
        expect(await Order.countDocuments({ customerId: customer.id })).to.equal(1);
      });
    }

    it(`names the depth limit (${MAX_INPUT_DEPTH}) in the message`, async () => {
      const res = await raw(app.baseUrl, 'POST', '/customers', { token: app.tokens['admin-agent'], body: `{"name":${'['.repeat(10_000)}${']'.repeat(10_000)}}` });
      expect(res.status).to.equal(400);
      expect(res.body.error).to.include({ code: 'validation_failed', field: 'body' });
      expect(res.body.error.message).to.contain(`nested deeper than ${MAX_INPUT_DEPTH}`);
    });

    it('duplicate keys: the last one counts, as JSON.parse reads them', async () => {
      const name = uniq('Dup');
      const tag = crypto.randomBytes(4).toString('hex');
      const body = `{"name":"first","name":${JSON.stringify(name)},"tenantId":"${crypto.randomUUID()}","domain":"d${tag}.onmicrosoft.com","market":"US"}`;
      const res = await raw(app.baseUrl, 'POST', '/customers', { token: app.tokens['admin-agent'], body });
      expect(res.status).to.equal(201);
      expect(res.body.name).to.equal(name);
    });

    it('bytes that are not UTF-8 are a 400, not a U+FFFD stored', async () => {
      const tag = crypto.randomBytes(4).toString('hex');
      const json = Buffer.from(`{"name":"X__","tenantId":"${crypto.randomUUID()}","domain":"u${tag}.onmicrosoft.com","market":"US"}`);
      const i = json.indexOf('__');
      json[i] = 0xed; // an encoded lone surrogate (ED A0 80) is not valid UTF-8
      json[i + 1] = 0xa0;
      const bytes = Buffer.concat([json.subarray(0, i + 2), Buffer.from([0x80]), json.subarray(i + 2)]);
      const res = await raw(app.baseUrl, 'POST', '/customers', { token: app.tokens['admin-agent'], body: bytes });
      expect(res.status).to.equal(400);
      expect(res.body.error).to.include({ code: 'invalid_encoding', field: 'body' });
      expect(await Customer.countDocuments({ domain: `u${tag}.onmicrosoft.com` })).to.equal(0);
    });

    it('a body its Content-Encoding does not decode, or a path that is not percent-encoding, is a 400 naming the header or the path', async () => {
      for (const encoding of ['gzip', 'deflate', 'br', 'zstd']) {
        const res = await raw(app.baseUrl, 'POST', '/customers', { token: app.tokens['admin-agent'], body: '{"name":"not compressed"}', headers: { 'content-encoding': encoding } });
        expect([res.status, (res.body as ErrorBody).error.code, (res.body as ErrorBody).error.field], encoding).to.deep.equal([400, 'invalid_encoding', 'header.content-encoding']);
      }
      // one it cannot undo: a 415 naming the header at fault
      const unknown = await raw(app.baseUrl, 'POST', '/customers', { token: app.tokens['admin-agent'], body: '{"name":"x"}', headers: { 'content-encoding': 'compress' } });
      expect([unknown.status, (unknown.body as ErrorBody).error.code, (unknown.body as ErrorBody).error.field]).to.deep.equal([415, 'unsupported_media_type', 'header.content-encoding']);
      for (const path of ['/orders/%ff', '/downloads/%']) {
        const res = await raw(app.baseUrl, 'GET', path, { token: app.tokens['admin-agent'] });
        expect([res.status, (res.body as ErrorBody).error.code, (res.body as ErrorBody).error.field], path).to.deep.equal([400, 'invalid_path', 'path']);
      }
      // %-escapes in the query that spell no UTF-8 (an encoded lone surrogate, an overlong "/"): not read as U+FFFD
      for (const query of ['text=%ED%A0%80', 'text=%C0%AF', 'status=new&text=a%FF']) {
        const res = await raw(app.baseUrl, 'GET', `/support-requests?${query}`, { token: app.tokens['admin-agent'] });
        expect([res.status, (res.body as ErrorBody).error.code, (res.body as ErrorBody).error.field], query).to.deep.equal([400, 'invalid_query', 'query']);
      }
      expect((await raw(app.baseUrl, 'GET', '/support-requests?text=%C3%A9t%C3%A9', { token: app.tokens['admin-agent'] })).status).to.equal(200);
    });
  });

  describe('when a single-line name holds what a name cannot, then 400 names the field and nothing is written', () => {
    const bad: [string, string][] = [
      ['a line feed', 'Contoso\nLtd'],
      ['a carriage return', 'Contoso\rLtd'],
      ['a tab', 'Contoso\tLtd'],
      ['U+2028', 'Contoso\u2028Ltd'],
      ['U+2029', 'Contoso\u2029Ltd'],
      ['a right-to-left override (U+202E)', 'Contoso \u202Edtl'],
      ['a left-to-right embedding (U+202A)', '\u202AContoso'],
      ['a first-strong isolate (U+2068)', 'Contoso \u2068x\u2069'],
      ['only a zero-width space', '\u200B'],
      ['only invisible characters', '\u200B\u2060\uFEFF \u00AD'],
      ['only invisible characters beyond the BMP (tags, a supplementary variation selector, format controls)', '\u{E0001}\u{E0020}\u{E0100}\u{1D173}\u{1BCA0}'],
      ['only a blank Braille pattern', '\u2800\u2800'],
      ['only spaces', '   '],
      ['a NUL', 'Contoso\u0000'],
      ['a C1 control', 'Contoso\u0085'],
      ['a lone high surrogate', 'Contoso \uD800'],
      ['a lone low surrogate', '\uDC00 Contoso'],
    ];
    for (const [what, name] of bad) {
      it(what, async () => {
        const tag = crypto.randomBytes(4).toString('hex');
        const domain = `t${tag}.onmicrosoft.com`;
        // JSON.stringify writes lone surrogates as \ud800 escapes, which JSON.parse turns back into lone surrogates
        const res = await raw(app.baseUrl, 'POST', '/customers', {
          token: app.tokens['admin-agent'],
          body: JSON.stringify({ name, tenantId: crypto.randomUUID(), domain, market: 'US' }),
        });
        expect(res.status, JSON.stringify(res.body)).to.equal(400);
        expect(res.body.error).to.include({ code: 'validation_failed', field: 'body.name' });
        expect(await Customer.countDocuments({ domain })).to.equal(0);
      });
    }

    it('names in any script, with emoji and joiners inside, are accepted', async () => {
      for (const name of [uniq('Zoë Ørsted & Søn'), uniq('株式会社 テスト'), uniq('شركة'), uniq('Family 👨‍👩‍👧 Ltd')]) {
        const tag = crypto.randomBytes(4).toString('hex');
        const res = await app.api('POST', '/customers', { body: { name, tenantId: crypto.randomUUID(), domain: `ok${tag}.onmicrosoft.com`, market: 'JP' } });
        expect(res.status, name).to.equal(201);
        expect(res.body.name).to.equal(name);
      }
    });

    it('a market code in the wrong case is refused naming the right one, and nothing is written', async () => {
      const tag = crypto.randomBytes(4).toString('hex');
      const domain = `case${tag}.onmicrosoft.com`;
      const res = await app.api('POST', '/customers', { body: { name: uniq('Case'), tenantId: crypto.randomUUID(), domain, market: 'us' } });
      expect(res.status).to.equal(400);
      expect(res.body.error.field).to.equal('body.market');
      expect(res.body.error.message).to.match(/^body\.market must be one of the \d+ values .*; did you mean "US"\?$/);
      expect(await Customer.exists({ domain })).to.equal(null);
    });

    it('other single-line fields follow the same rule: the cancel form, a path parameter, a token label', async () => {
      const cancel = await app.api('POST', `/orders/${orderId}/cancel`, { body: { customer: `${customer.name}\n`, productName: 'Windows Server', acknowledged: true } });
      expect(cancel.status).to.equal(400);
      expect(cancel.body.error.field).to.equal('body.customer');
      const path = await app.api('GET', `/customers/${encodeURIComponent('Contoso\u202Eevil')}`);
      expect(path.status).to.equal(400);
      expect(path.body.error.field).to.equal('path.customer');
      const label = await app.api('POST', '/tokens', { body: { label: 'ci\u2028token' } });
      expect(label.status).to.equal(400);
      expect(label.body.error.field).to.equal('body.label');
      expect((await Order.findById(orderId).lean())!.status).to.not.equal('cancelled');
    });

    it('a whole number in the path or the query is written in digits ("1.0", "1e1" and " 2" are refused, naming the field)', async () => {
      for (const n of ['1.0', '1e0', '%201', '0x1']) {
        const res = await app.api('GET', `/support-requests/SR-000000-AAAAAA/attachments/${n}`, { token: app.tokens['support-agent'] });
        expect([res.status, res.body.error.field], n).to.deep.equal([400, 'path.attachmentId']);
      }
      for (const n of ['1e1', '2.5', '%202']) {
        const res = await app.api('GET', `/support-requests?limit=${n}`, { token: app.tokens['support-agent'] });
        expect([res.status, res.body.error.field], n).to.deep.equal([400, 'query.limit']);
      }
      expect((await app.api('GET', '/support-requests?limit=2', { token: app.tokens['support-agent'] })).status).to.equal(200);
      // a negative whole number is written in digits: it is refused as 0 is, for being below the least (QA: -2)
      const zero = await app.api('GET', '/support-requests?limit=0', { token: app.tokens['support-agent'] });
      const negative = await app.api('GET', '/support-requests?limit=-2', { token: app.tokens['support-agent'] });
      expect([negative.status, negative.body.error.field, negative.body.error.message]).to.deep.equal([400, 'query.limit', zero.body.error.message]);
      expect(zero.body.error.message).to.not.include('digits');
      // a route that reads no query refuses any parameter, as the others refuse unknown ones
      const stray = await app.api('GET', '/products?x=1');
      expect([stray.status, stray.body.error.field]).to.deep.equal([400, 'query.x']);
    });
  });

  describe('the request context', () => {
    it('when a request is served, then its log lines carry its id and the caller from the request context, and the id reaches the workflow', async () => {
      const requestId = uniq('rid');
      const c = await app.newCustomer('US');
      const res = await app.api('POST', `/customers/${c.id}/orders`, {
        headers: { 'idempotency-key': uniq('k-ctx'), 'x-request-id': requestId },
        body: { productId: 'windows-server-standard-sub', quantity: 1 },
      });
      expect(res.status).to.equal(201);
      const line = app.logLines.find((l) => l.requestId === requestId && l.msg === 'request');
      expect(line, 'the request line').to.include({ method: 'POST', status: 201, partnerId: app.partnerId });
      expect(line!.userId).to.be.a('string');
      // the order service took the id from the context (no parameter), and the order's workflow got it
      expect((await Order.findById(res.body.id).lean())!.requestId).to.equal(requestId);
      // outside a request, nothing is added
      app.log.info({ probe: requestId }, 'outside');
      expect(app.logLines.find((l) => l.probe === requestId)).to.not.have.property('requestId');
    });
  });

  describe('methods', () => {
    it('when a path exists but not with that method, then 405 with Allow listing its methods', async () => {
      const cases: [string, string, string][] = [
        ['TRACE', '/products', 'GET, HEAD'],
        ['PUT', '/products', 'GET, HEAD'],
        ['DELETE', `/orders/${orderId}`, 'GET, HEAD'],
        ['PATCH', `/orders/${orderId}`, 'GET, HEAD'],
        ['DELETE', '/customers', 'GET, HEAD, POST'],
        ['GET', `/orders/${orderId}/cancel`, 'POST'],
        ['PUT', '/tokens', 'GET, HEAD, POST'],
        ['POST', '/health', 'GET, HEAD'],
        ['DELETE', '/openapi.json', 'GET, HEAD'],
      ];
      for (const [method, path, allow] of cases) {
        const res = await raw(app.baseUrl, method, path, { token: app.tokens['admin-agent'] });
        expect(res.status, `${method} ${path}`).to.equal(405);
        expect(res.headers.allow, `${method} ${path}`).to.equal(allow);
        expect(res.body.error).to.include({ status: 405, code: 'method_not_allowed' });
      }
    });

    it('when OPTIONS asks what a path has, then 204 with Allow and no body; an unknown path is a 404 as for any method', async () => {
      for (const [path, allow] of [['/customers', 'GET, HEAD, POST, OPTIONS'], [`/orders/${orderId}/cancel`, 'POST, OPTIONS'], ['/openapi.json', 'GET, HEAD, OPTIONS']]) {
        const res = await raw(app.baseUrl, 'OPTIONS', path);
        expect([res.status, res.headers.allow, res.body], path).to.deep.equal([204, allow, null]);
      }
    });

    it('when the path is unknown, then 404 whatever the method', async () => {
      for (const method of ['GET', 'PUT', 'TRACE', 'DELETE', 'OPTIONS']) {
        const res = await raw(app.baseUrl, method, '/nowhere/at/all', { token: app.tokens['admin-agent'] });
        expect(res.status, method).to.equal(404);
      }
    });

    it('HEAD on a GET route answers as GET does, without a body', async () => {
      const res = await raw(app.baseUrl, 'HEAD', '/products', { token: app.tokens['admin-agent'] });
      expect(res.status).to.equal(200);
      expect(res.body).to.equal(null);
      expect((await raw(app.baseUrl, 'HEAD', '/products')).status).to.equal(401);
    });
  });

  describe('the OpenAPI document states the rules the server enforces', () => {
    let doc: any;
    before(async () => {
      doc = (await app.api('GET', '/openapi.json', { token: null })).body;
    });

    /** every string schema in the operation's inputs, with where it is */
    function inputStrings(): [string, Record<string, unknown>][] {
      const found: [string, Record<string, unknown>][] = [];
      const walk = (s: any, at: string) => {
        if (!s || typeof s !== 'object') return;
        if ([].concat(s.type ?? []).includes('string' as never)) found.push([at, s]);
        for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${at}.${k}`);
        if (s.items) walk(s.items, `${at}[]`);
      };
      for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
        for (const [m, op] of Object.entries(ops)) {
          for (const param of op.parameters ?? []) walk(param.schema, `${m} ${p} ${param.in}.${param.name}`);
          walk(op.requestBody?.content?.['application/json']?.schema, `${m} ${p} body`);
        }
      }
      return found;
    }

    it('every input string has a pattern, an enum, a const or a format', () => {
      const strings = inputStrings();
      expect(strings.length).to.be.greaterThan(10);
      for (const [at, s] of strings) expect(s.pattern ?? s.enum ?? s.const ?? s.format, at).to.not.equal(undefined);
    });

    it("the document's patterns refuse what the server refuses", () => {
      const schema = doc.paths['/customers'].post.requestBody.content['application/json'].schema;
      expect(schema.properties.name.pattern).to.equal(NAME_PATTERN);
      const re = new RegExp(schema.properties.name.pattern, 'u');
      for (const bad of ['a\nb', 'a\tb', 'a\u2028b', '\u202Eab', '\u200B']) expect(re.test(bad), JSON.stringify(bad)).to.equal(false);
      expect(re.test('Zoë 👨‍👩‍👧')).to.equal(true);
      const cancel = doc.paths['/orders/{id}/cancel'].post.requestBody.content['application/json'].schema;
      expect(cancel.properties.customer.pattern).to.equal(NAME_PATTERN);
      expect(new RegExp(SINGLE_LINE_PATTERN, 'u').test('a\nb')).to.equal(false);
    });

    it("every pattern of the document compiles in Python's re and in JavaScript without the u flag (BMP escapes only); the server's own also finds nothing visible in default-ignorable code points beyond the BMP", () => {
      // review: astral ranges written \u{…} compiled with ajv and Rust only, not in Python, Java or JavaScript without u
      const patterns = [...new Set(inputStrings().map(([, s]) => s.pattern).filter((x): x is string => typeof x === 'string'))];
      expect(patterns.length).to.be.greaterThan(10);
      for (const p of patterns) expect(() => new RegExp(p), p).to.not.throw();
      const py = spawnSync('python3', ['-c', 'import json, re, sys\nfor p in json.load(sys.stdin): re.compile(p)\nprint("ok")'], { input: JSON.stringify(patterns), encoding: 'utf8' });
      expect([py.status, py.stdout.trim()], py.stderr).to.deep.equal([0, 'ok']);
      // the document's name pattern cannot write the astral invisibles; the server's can, and refuses them
      expect(new RegExp(NAME_PATTERN, 'u').test('\u{E0020}\u{E0100}')).to.equal(true);
      expect(new RegExp(serverPattern(NAME_PATTERN), 'u').test('\u{E0020}\u{E0100}')).to.equal(false);
      expect(new RegExp(serverPattern(NAME_PATTERN), 'u').test('a\u{E0020}')).to.equal(true);
    });

    it('the patterns leave lone surrogates to the server, whose rule the descriptions still state, and the server refuses one in every kind of text', async () => {
      // a surrogate range does not compile in validators on Rust's or Go's regular expressions, which then drop the pattern
      const patterns = inputStrings().map(([, s]) => s.pattern).filter((x): x is string => typeof x === 'string');
      expect(patterns.length).to.be.greaterThan(10);
      for (const p of new Set(patterns)) expect(p, p).to.not.match(/\\ud[89a-f][0-9a-f]{2}/i);
      const name = doc.paths['/customers'].post.requestBody.content['application/json'].schema.properties.name;
      expect(new RegExp(name.pattern, 'u').test('x\uD800'), 'the pattern alone lets it through').to.equal(true);
      const filing = doc.paths['/support-requests'].post.requestBody.content['application/json'].schema;
      expect(filing.properties.description.description).to.include('no lone surrogates');
      expect(filing.properties.title.description).to.include('lone surrogates');
      // the input walk refuses them before any pattern: a name, a one-line title, a multi-line description, a nested name
      const body = { problemType: 'General question or problem', impact: 'minimal', title: 'Printer', description: 'It fails.', contact: { name: 'Q', email: 'q@example.com' } };
      const cases: [string, Record<string, unknown>, string][] = [
        ['title', { ...body, title: 'Printer \uD800' }, 'body.title'],
        ['description', { ...body, description: 'line one\n\uDC00 line two' }, 'body.description'],
        ['contact.name', { ...body, contact: { ...body.contact, name: 'Q\uDBFF' } }, 'body.contact.name'],
      ];
      for (const [what, sent, field] of cases) {
        const res = await raw(app.baseUrl, 'POST', '/support-requests', { token: app.tokens['admin-agent'], body: JSON.stringify(sent), headers: { 'idempotency-key': uniq('lone') } });
        expect(res.status, what).to.equal(400);
        expect(res.body.error, what).to.include({ code: 'validation_failed', field, message: `${field} must not contain control characters or lone surrogates` });
      }
    });

    it('every page cursor is stated as base64url, the alphabet of the cursors the server gives out', () => {
      const cursors = inputStrings().filter(([at]) => at.endsWith('query.cursor'));
      expect(cursors.map(([at]) => at)).to.include.members(['get /customers query.cursor', 'get /activity-log query.cursor', 'get /support-requests query.cursor']);
      for (const [at, s] of cursors) expect(s.pattern, at).to.equal(CURSOR_PATTERN);
    });

    it('markets are an enum of the codes the server accepts', () => {
      const market = doc.paths['/customers'].post.requestBody.content['application/json'].schema.properties.market;
      expect(market.enum).to.have.members(Object.keys(COUNTRIES));
      expect(market.enum).to.include.members(['US', 'XK', 'BQ']);
      expect(market.enum).to.not.include('ZZ');
    });

    it('import dates say they may not be in the future', () => {
      const item = doc.paths['/customers/{customer}/orders/import'].post.requestBody.content['application/json'].schema.properties.orders.items;
      expect(item.properties.purchasedAt.description).to.match(/not in the future and not before 2000-01-01/);
    });

    it("every refusal code a route gives is listed under its status, its own error answers included (a download's 416)", () => {
      const codes = (path: string, method: string, status: number) => doc.paths[path][method].responses[String(status)]?.['x-error-codes'];
      expect(codes('/support-requests/{id}/attachments', 'post', 400)).to.include.members(['empty_file', 'invalid_multipart', 'validation_failed']);
      expect(codes('/support-requests/{id}/attachments', 'post', 409)).to.deep.equal(['ticket_closed']);
      expect(codes('/support-requests/{id}/attachments', 'post', 413)).to.include.members(['attachment_too_large', 'too_many_attachments']);
      expect(codes('/support-requests/{id}/attachments', 'post', 415)).to.include('unsupported_attachment_type');
      expect(codes('/customers/{customer}/orders/import', 'post', 422)).to.include('market_unavailable');
      expect(codes('/downloads/{token}', 'get', 416)).to.deep.equal(['range_not_satisfiable']);
      for (const param of doc.paths['/activity-log'].get.parameters.filter((p: { name: string }) => p.name === 'from' || p.name === 'to')) expect(param.schema.format, param.name).to.equal('date');
    });

    it('every operation documents 405 with Allow, every authenticated one 401 with WWW-Authenticate, every JSON body 415; the server answers so', async () => {
      for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, { headers?: Record<string, unknown> }>; security?: unknown[]; requestBody?: { content: Record<string, unknown> } }>>)) {
        for (const [m, op] of Object.entries(ops)) {
          expect(op.responses['405']?.headers, `${m} ${p} 405`).to.have.property('Allow');
          if (op.security?.length) expect(op.responses['401']?.headers, `${m} ${p} 401`).to.have.property('WWW-Authenticate');
          if (op.requestBody?.content['application/json']) expect(op.responses, `${m} ${p} 415`).to.have.property('415');
        }
      }
      const unauthorized = await fetch(`${app.baseUrl}/customers`);
      expect([unauthorized.status, unauthorized.headers.get('www-authenticate')]).to.deep.equal([401, 'Bearer']);
      const latin1 = await fetch(`${app.baseUrl}/customers`, { method: 'POST', headers: { authorization: `Bearer ${app.tokens['admin-agent']}`, 'content-type': 'application/json; charset=latin1' }, body: '{}' });
      const body = (await latin1.json()) as { error: { code: string; field: string } };
      expect([latin1.status, body.error.code, body.error.field]).to.deep.equal([415, 'unsupported_media_type', 'header.content-type']);
      // other Unicode charsets too: body-parser would decode them, and bytes valid as UTF-8 can carry UTF-7 or UTF-16
      const reply = (charset: string, body: string | Buffer) => fetch(`${app.baseUrl}/customers`, { method: 'POST', headers: { authorization: `Bearer ${app.tokens['admin-agent']}`, 'content-type': `application/json; charset=${charset}` }, body });
      for (const [charset, sent] of [['utf-7', '{"name":"+AOk-"}'], ['UTF-16LE', Buffer.from('{}', 'utf16le')], ['"utf-16"', '{}']] as const) {
        const r = await reply(charset, sent);
        const b = (await r.json()) as { error: { code: string; field: string } };
        expect([r.status, b.error.code, b.error.field], charset).to.deep.equal([415, 'unsupported_media_type', 'header.content-type']);
      }
      // UTF-8, named in any of its spellings, is read
      for (const charset of ['utf-8', 'UTF-8', '"utf-8"']) expect((await reply(charset, '{}')).status, charset).to.equal(400);
    });

    it('every authenticated operation documents 503 with Retry-After', () => {
      for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
        for (const [m, op] of Object.entries(ops)) {
          if (!op.security?.length) continue;
          expect(op.responses, `${m} ${p}`).to.have.property('503');
          expect(op.responses['503'].headers, `${m} ${p}`).to.have.property('Retry-After');
        }
      }
      expect(doc.paths['/tokens/{id}'].delete.responses).to.have.property('404');
    });

    it('when a route refuses with a status or code its operation does not list, then (with validateResponses, as in the tests) the request fails; a listed one passes as it is', async () => {
      const route = defineRoute({
        method: 'get',
        path: '/refuse/{code}',
        operationId: 'refuse',
        summary: 'a route that refuses',
        tag: 'test',
        permission: null,
        params: { type: 'object', properties: { code: { type: 'string', maxLength: 20 } }, required: ['code'] },
        errors: [409],
        errorCodes: { 409: ['listed'] },
        responses: { 200: { description: 'never' } },
        handler: async ({ params }) => {
          throw params.code === 'gone' ? new AppError(410, 'gone', 'a status not listed') : new AppError(409, params.code, `refused: ${params.code}`);
        },
      });
      const op = openApiDocument([route], { title: 't', version: '1', description: '' }).paths['/refuse/{code}'].get as { responses: Record<string, { 'x-error-codes'?: string[] }> };
      expect(op.responses['409']['x-error-codes']).to.deep.equal(['listed']);
      const log = createLogger('test', 'silent');
      const serve = async (validateResponses: boolean) => {
        const server = http.createServer(express().use(requestContext(log)).use(buildRouter([route], { log, validateResponses })).use(errorHandler()));
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
        const get = async (code: string) => {
          const res = await fetch(`${base}/refuse/${code}`);
          return [res.status, ((await res.json()) as { error: { code: string } }).error.code];
        };
        try {
          return [await get('listed'), await get('unlisted'), await get('gone')];
        } finally {
          server.close();
        }
      };
      expect(await serve(true)).to.deep.equal([[409, 'listed'], [500, 'internal'], [500, 'internal']]);
      // in production the answer is the refusal as it is
      expect(await serve(false)).to.deep.equal([[409, 'listed'], [409, 'unlisted'], [410, 'gone']]);
    });
  });
});
