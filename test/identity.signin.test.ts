/** Signing in to the pages: how many sign-in emails one address can be sent (real database and SMTP server). */
import { expect } from 'chai';
import { createMailer, createRenderer } from '../lib/mailer';
import { freePort } from '../stack/ports';
import { SignInLink, SignInSend } from '../models';
import { safeNext } from '../domain/sessions';
import { clientNetwork, createSessionService, SIGN_IN_LINKS_PER_CLIENT_PER_HOUR, SIGN_IN_LINKS_PER_HOUR } from '../services/sessions';
import { ensureUser } from '../services/users';
import { getTestApp, uniq, waitFor, type TestApp } from './support/app';

describe('sign-in links: at most SIGN_IN_LINKS_PER_HOUR emails an hour to one address', function () {
  this.timeout(120_000);
  let app: TestApp;
  let clock = new Date('2026-11-26T10:15:00.000Z');

  before(async () => {
    app = await getTestApp();
  });

  const service = () => createSessionService({ mailer: app.mailer, renderer: createRenderer(), publicBaseUrl: app.baseUrl, log: app.log, now: () => clock });
  const newUser = async () => {
    const email = `${uniq('signin')}@${app.partnerId}.example`.toLowerCase();
    const user = await ensureUser({ name: 'Sign-in tester', email, role: 'sales-agent', partnerId: app.partnerId });
    return { id: user._id, email };
  };
  const emailsTo = async (email: string) => (await app.stack.mailbox.list()).filter((m) => m.to.includes(email) && m.subject.includes('sign-in link')).length;

  it('when one address asks for more links in an hour than the limit, at once and from two services, then exactly the limit is sent, each with its own link', async () => {
    const { id, email } = await newUser();
    const [a, b] = [service(), service()];
    // twice the limit plus two, split over two "API processes", all at once
    const asks = Array.from({ length: SIGN_IN_LINKS_PER_HOUR * 2 + 2 }, (_, i) => (i % 2 ? a : b).requestLink(email, null));
    await Promise.all(asks);
    expect(await SignInLink.countDocuments({ userId: id })).to.equal(SIGN_IN_LINKS_PER_HOUR);
    expect(await SignInSend.countDocuments({ userId: id })).to.equal(SIGN_IN_LINKS_PER_HOUR);
    await waitFor(async () => (await emailsTo(email)) >= SIGN_IN_LINKS_PER_HOUR);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await emailsTo(email)).to.equal(SIGN_IN_LINKS_PER_HOUR);

    // another address is not held back by this one
    const other = await newUser();
    await a.requestLink(other.email.toUpperCase(), null);
    await waitFor(async () => (await emailsTo(other.email)) === 1);

    // the next UTC hour gives the address its links again
    clock = new Date('2026-11-26T11:00:00.000Z');
    await a.requestLink(email, null);
    expect(await SignInLink.countDocuments({ userId: id })).to.equal(SIGN_IN_LINKS_PER_HOUR + 1);
    await waitFor(async () => (await emailsTo(email)) === SIGN_IN_LINKS_PER_HOUR + 1);
  });

  it('when one client asks for an address\'s links again and again, then it gets its share of the hour and the owner, elsewhere, still gets links', async () => {
    // a review found the lock-out: anyone could use up an address's hour of links from the public sign-in form
    const { id, email } = await newUser();
    const a = service();
    for (let i = 0; i < SIGN_IN_LINKS_PER_CLIENT_PER_HOUR + 3; i++) await a.requestLink(email, null, '198.51.100.7');
    expect(await SignInLink.countDocuments({ userId: id })).to.equal(SIGN_IN_LINKS_PER_CLIENT_PER_HOUR);
    await a.requestLink(email, null, '203.0.113.9');
    expect(await SignInLink.countDocuments({ userId: id })).to.equal(SIGN_IN_LINKS_PER_CLIENT_PER_HOUR + 1);
    await waitFor(async () => (await emailsTo(email)) === SIGN_IN_LINKS_PER_CLIENT_PER_HOUR + 1);
    expect(app.logLines.some((l) => /this client had its share/.test(JSON.stringify(l)))).to.equal(true);
    // an IPv6 client is one network, its /64: another address of it shares the share
    const six = await newUser();
    for (let i = 0; i < SIGN_IN_LINKS_PER_CLIENT_PER_HOUR; i++) await a.requestLink(six.email, null, `2001:db8:1:2::${i + 1}`);
    await a.requestLink(six.email, null, '2001:db8:1:2:ffff::9');
    expect(await SignInLink.countDocuments({ userId: six.id })).to.equal(SIGN_IN_LINKS_PER_CLIENT_PER_HOUR);
    await a.requestLink(six.email, null, '2001:db8:1:3::1');
    expect(await SignInLink.countDocuments({ userId: six.id })).to.equal(SIGN_IN_LINKS_PER_CLIENT_PER_HOUR + 1);
  });

  it('when an address has had its links for the hour, then a client that asks sends nothing and keeps its share (its slot is given back)', async () => {
    const { id, email } = await newUser();
    const a = service();
    const share = SIGN_IN_LINKS_PER_CLIENT_PER_HOUR;
    for (let c = 0; c * share < SIGN_IN_LINKS_PER_HOUR; c++) for (let i = 0; i < share; i++) await a.requestLink(email, null, `198.51.100.${c + 1}`);
    expect(await SignInLink.countDocuments({ userId: id })).to.equal(SIGN_IN_LINKS_PER_HOUR);
    await a.requestLink(email, null, '203.0.113.77');
    expect(await SignInLink.countDocuments({ userId: id })).to.equal(SIGN_IN_LINKS_PER_HOUR);
    expect(await SignInSend.countDocuments({ userId: id, client: { $exists: true } })).to.equal(SIGN_IN_LINKS_PER_HOUR);
  });

  it('reads a client by its network: an IPv4 address, an IPv4-mapped one as IPv4, an IPv6 address by its /64', () => {
    expect(clientNetwork('198.51.100.7')).to.equal('198.51.100.7');
    expect(clientNetwork('::ffff:198.51.100.7')).to.equal('198.51.100.7');
    expect(clientNetwork('2001:db8:1:2:aaaa::1')).to.equal(clientNetwork('2001:DB8:1:2:bbbb:cccc:dddd:2'));
    expect(clientNetwork('2001:db8:1:2::1')).to.not.equal(clientNetwork('2001:db8:1:3::1'));
  });

  it('when the email cannot be sent (SMTP refuses), then the page answers as for any address, and neither the link nor the hour\'s slot is kept', async () => {
    const { id, email } = await newUser();
    const closed = await freePort(); // nothing listens there: the connection is refused
    const down = createMailer(`smtp://127.0.0.1:${closed}`, 'csp-desk test <no-reply@csp-desk.test>');
    try {
      const sessions = createSessionService({ mailer: down, renderer: createRenderer(), publicBaseUrl: app.baseUrl, log: app.log, now: () => clock });
      await sessions.requestLink(email, null); // resolves: no 500, nothing that tells the address has an account
    } finally {
      down.close();
    }
    expect(await SignInLink.countDocuments({ userId: id })).to.equal(0);
    expect(await SignInSend.countDocuments({ userId: id })).to.equal(0);
    // once SMTP answers, the address gets its link
    await service().requestLink(email, null);
    await waitFor(async () => (await emailsTo(email)) === 1);
  });
});

describe('sign-in: where a link returns to (domain/sessions safeNext)', () => {
  it('is a path of the pages, with its section, once a browser has resolved it; anything else is dropped', () => {
    for (const ok of ['/app', '/app/orders/o-1', '/app/support?status=open&text=a+b', '/app/orders/o-1#cancel-heading']) expect(safeNext(ok), ok).to.equal(ok);
    for (const bad of ['//evil.example', '/app/..//evil.example', '/app/%2e%2e/%2f%2fevil.example', '/app/../openapi.json', '/app/./../customers', '/application', 'https://evil.example/app', '/app\\x', 42, null]) {
      expect(safeNext(bad), String(bad)).to.equal(null);
    }
  });
});

describe('pages: hostile cookies, bodies and methods (real API)', function () {
  this.timeout(60_000);
  let app: TestApp;
  before(async () => {
    app = await getTestApp();
  });

  it('when a cookie holds JSON (`j:…`, which cookie-parser decodes) instead of a string, then it counts as absent: the sign-in page opens, other pages send to it, no 500', async () => {
    for (const value of ['j:1', 'j:{"$ne":null}', 'j:["a"]']) {
      const cookie = `cspd_session=${encodeURIComponent(value)}; cspd_pre=${encodeURIComponent(value)}`;
      const signIn = await fetch(`${app.baseUrl}/app/sign-in`, { headers: { cookie }, redirect: 'manual' });
      expect(signIn.status, `sign-in page with ${value}`).to.equal(200);
      const queue = await fetch(`${app.baseUrl}/app/support`, { headers: { cookie }, redirect: 'manual' });
      expect([queue.status, queue.headers.get('location')], `support page with ${value}`).to.deep.equal([303, '/app/sign-in?next=%2Fapp%2Fsupport']);
      const post = await fetch(`${app.baseUrl}/app/sign-in`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: '_csrf=x&email=a%40b.example', redirect: 'manual' });
      expect(post.status, `sign-in form with ${value}`).to.be.below(500);
    }
  });

  it('when a form body is not UTF-8, then the page refuses it (400, saying so) instead of keeping U+FFFD in its place', async () => {
    const res = await fetch(`${app.baseUrl}/app/sign-in`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from('_csrf=x&email=caf\xe9@b.example', 'latin1'), redirect: 'manual' });
    expect(res.status).to.equal(400);
    expect(res.headers.get('content-type')).to.match(/^text\/html/);
    expect(await res.text()).to.include('not text in UTF-8');
  });

  it('when a page gets a JSON body (broken JSON, or JSON in another charset), then a page answers in HTML, as the API answers such bodies in JSON', async () => {
    for (const [how, type, body] of [
      ['broken JSON', 'application/json', '{"email": '],
      ['JSON in UTF-16', 'application/json; charset=utf-16', '{}'],
      ['JSON', 'application/json', '{"email": "a@b.example"}'],
    ] as const) {
      const res = await fetch(`${app.baseUrl}/app/sign-in`, { method: 'POST', headers: { 'content-type': type }, body, redirect: 'manual' });
      expect(res.status, how).to.be.within(400, 499);
      expect(res.headers.get('content-type'), how).to.match(/^text\/html/);
    }
    // the API still refuses broken JSON in its own shape
    const api = await fetch(`${app.baseUrl}/customers`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${app.tokens['admin-agent']}` }, body: '{"name": ' });
    expect([api.status, ((await api.json()) as { error: { code: string } }).error.code]).to.deep.equal([400, 'invalid_json']);
  });

  it('when a page is asked with a method it does not have, then 405 with Allow, as the API answers; OPTIONS is 204 with Allow; an unknown page stays 404', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      const res = await fetch(`${app.baseUrl}/app/support`, { method, redirect: 'manual' });
      expect([res.status, res.headers.get('allow')], method).to.deep.equal([405, 'GET, HEAD, POST']);
      expect(res.headers.get('content-type'), method).to.match(/^text\/html/);
    }
    // a form's address answers GET too (it sends to the form's page)
    const form = await fetch(`${app.baseUrl}/app/support/SR-1/approve`, { method: 'DELETE', redirect: 'manual' });
    expect([form.status, form.headers.get('allow')]).to.deep.equal([405, 'GET, HEAD, POST']);
    const options = await fetch(`${app.baseUrl}/app/support`, { method: 'OPTIONS' });
    expect([options.status, options.headers.get('allow')]).to.deep.equal([204, 'GET, HEAD, POST, OPTIONS']);
    expect((await fetch(`${app.baseUrl}/app/no-such-page`, { method: 'PUT', redirect: 'manual' })).status).to.equal(404);
  });
});
