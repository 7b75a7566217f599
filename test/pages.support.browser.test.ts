/**
 * The support pages in a real browser: the Windows 7 ESU refund journey from the order page to the credit on
 * the invoice, across a partner and a support agent; the queue and the ticket pass axe; a user of another
 * partner cannot open the ticket (404), a sales agent may not file (403), a partner may not open the queue (403).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { formatMinor, formatMoney } from '../domain/money';
import { AxeBuilder } from '@axe-core/playwright';
import type { Dialog, Page } from 'playwright-core';
import { ensurePartner, ensureUser, setUserDisabled } from '../services/users';
import { insertQueueEntries } from '../activities/support';
import { formatDate } from '../api/pages/kit';
import { Attachment, SupportEvent, SupportFilingSlot, SupportQueueEntry, SupportTicket, User } from '../models';
import { createApi, createAppServer } from '../composition/root';
import { lazyClient } from '../lib/temporal';
import { freePort } from '../stack/ports';
import { getTestApp, placeOrder, uniq, waitFor, type TestApp, TEST_SUPPORT_SETTINGS } from './support/app';
import { closeBrowser, newSession, signIn, screenshotsOnFailure, type BrowserSession } from './support/browser';
import { storedTicket } from './support/tickets';
import { DEFAULT_SUPPORT_SETTINGS } from '../services/support-settings';

async function expectAccessible(page: Page): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  const summary = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(summary, `axe violations on ${page.url()}`).to.deep.equal([]);
}

/** Presses a button until the page no longer says the workflow service was too slow (a 503 keeps the form). */
async function press(page: Page, name: string | RegExp, until: string | RegExp): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await page.getByRole('button', { name, exact: typeof name === 'string' }).click();
    const done = page.getByText(until).first();
    const retry = page.getByText(/did not answer in time/).first();
    await done.or(retry).waitFor({ timeout: 60_000 });
    if (await done.isVisible()) return;
    if (attempt >= 4) throw new Error(`"${String(name)}" did not go through after 4 attempts`);
  }
}

/** A general question filed for the customer through the API (as the test partner's admin agent): its number. */
async function fileQuestion(customer: string, title: string): Promise<string> {
  const app = await getTestApp();
  const filed = await app.api('POST', '/support-requests', {
    headers: { 'idempotency-key': uniq('key-sr') },
    body: { problemType: 'General question or problem', impact: 'moderate', title: uniq(title), customer, contact: { name: 'Pat', email: 'pat@example.com' } },
  });
  expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
  return filed.body.number as string;
}

/** A refund request for the whole order filed through the API (as the test partner's admin agent): its number. */
async function fileRefund(customer: string, orderId: string, pricing: { total: number; currency: string }, title: string): Promise<string> {
  const app = await getTestApp();
  const filed = await app.api('POST', '/support-requests', {
    headers: { 'idempotency-key': uniq('key-sr') },
    body: {
      problemType: 'CSP Purchase/Refund on behalf of customers',
      impact: 'moderate',
      title,
      customer,
      orderId,
      refund: { reason: 'Bought by mistake', amount: pricing.total, currency: pricing.currency },
      contact: { name: 'Pat', email: 'pat@example.com', phone: '+1 425 555 0100' },
    },
  });
  expect(filed.status, JSON.stringify(filed.body)).to.equal(201);
  return filed.body.number as string;
}

/** Runs `act` with the browser's questions (approving asks first) answered yes or no; returns the questions asked. */
async function answering(page: Page, yes: boolean, act: () => Promise<unknown>): Promise<string[]> {
  const asked: string[] = [];
  const onDialog = (d: Dialog) => {
    asked.push(d.message());
    void (yes ? d.accept() : d.dismiss());
  };
  page.on('dialog', onDialog);
  try {
    await act();
  } finally {
    page.off('dialog', onDialog);
  }
  return asked;
}

/** A 1x1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
const PDF = Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n');

describe('pages: support requests in a real browser', function () {
  this.timeout(300_000);
  let app: TestApp;
  let partner: BrowserSession;
  let agent: BrowserSession;
  screenshotsOnFailure();

  before(async () => {
    app = await getTestApp();
    partner = await newSession({ baseURL: app.baseUrl });
    agent = await newSession({ baseURL: app.baseUrl });
    await signIn(app, partner.page, `admin-agent@${app.partnerId}.example`);
    await signIn(app, agent.page, 'support-agent@support.example');
  });
  after(async () => {
    await partner?.context.close();
    await agent?.context.close();
    await closeBrowser();
  });

  it('when a partner files an ESU refund, and an agent asks for information, gets the reply and approves, then the partner sees the order cancelled and the credit', async () => {
    const c = await app.newCustomer('US');
    const order = await placeOrder(app, c.id, 'windows-7-esu-2020');
    const p = partner.page;

    // the order page says why it cannot be cancelled here and links to a prefilled support request
    await p.goto(`/app/orders/${order.id}`);
    expect(await p.locator('main').textContent()).to.include('only be cancelled through a customer support request');
    await p.getByRole('link', { name: 'Request support' }).click();
    expect(await p.getByLabel('Order ID').inputValue()).to.equal(order.id);
    // the spec's "Order ID or Subscription ID": the field says a subscription goes by its order's ID (QA)
    expect(await p.getByLabel('Order ID').getAttribute('aria-describedby')).to.equal('orderId-hint');
    expect(await p.locator('#orderId-hint').textContent()).to.include("Or the subscription's ID");
    expect(await p.getByLabel('Problem type').inputValue()).to.equal('CSP Purchase/Refund on behalf of customers');
    expect(await p.getByLabel('Currency').inputValue()).to.equal('USD');
    await expectAccessible(p);
    // a file goes with the request ("Add files", the document's optional step)
    const receipt = { name: 'receipt.pdf', mimeType: 'application/pdf', buffer: Buffer.concat([PDF, Buffer.from('% the receipt\n')]) };
    await p.getByLabel(/Add a file/).setInputFiles(receipt);
    // the reason is required for a refund: the error is next to it
    await p.getByRole('button', { name: 'Submit the request' }).click();
    expect(await p.locator('#refundReason-error').textContent()).to.include('reason');
    // and so is a phone number (the document's contact: name, email address and phone number)
    expect(await p.locator('#contactPhone-error').textContent()).to.include('a refund request needs one');
    // the form comes back as typed, but a browser cannot be given the file back: it says so
    expect(await p.locator('#file-error').textContent()).to.include('Choose the file again (receipt.pdf)');
    const reason = uniq('Customer bought ESU by mistake');
    await p.getByLabel('Reason for the refund').fill(reason);
    await p.getByLabel(/^Phone/).fill('+1 425 555 0199');
    await p.getByLabel(/Add a file/).setInputFiles(receipt);
    await press(p, 'Submit the request', 'Request filed.');
    const number = new URL(p.url()).pathname.split('/').pop()!;
    expect(number).to.match(/^SR-/);
    // (its confirmation does not ask for the file it came with: QA)
    expect(await p.locator('p.alert.ok').textContent()).to.include('Its file is below; attach more there.').and.not.include('Attach any files below.');
    // filed with its file: listed on the request, and on its timeline
    await p.locator('ol.timeline li', { hasText: 'File attached' }).getByRole('link', { name: 'receipt.pdf' }).waitFor();
    // the order's page now links to the request instead of offering another
    await p.goto(`/app/orders/${order.id}`);
    expect(await p.getByRole('link', { name: number }).getAttribute('href')).to.equal(`/app/support/${number}`);
    expect(await p.getByRole('link', { name: 'Request support' }).count()).to.equal(0);
    await p.goto(`/app/support/${number}`);

    // a web page named .pdf is refused: the refusal shows at the ticket's own address (the form's CSRF token is not left in it)
    await p.getByLabel(/Attach a file/).setInputFiles({ name: 'fake.pdf', mimeType: 'application/pdf', buffer: Buffer.from('<!doctype html><html><body>not a pdf</body></html>') });
    await p.getByRole('button', { name: 'Attach', exact: true }).click();
    await p.getByText('This kind of file cannot be attached.', { exact: false }).waitFor();
    expect(new URL(p.url()).pathname).to.equal(`/app/support/${number}`);
    expect(p.url()).to.not.include('_csrf');
    // attach a PDF (its type decided from its content)
    await p.getByLabel(/Attach a file/).setInputFiles({ name: 'invoice.pdf', mimeType: 'application/pdf', buffer: PDF });
    await p.getByRole('button', { name: 'Attach', exact: true }).click();
    await p.getByText('File attached.').waitFor();
    // the CSRF token travels as the form's first part, never in the address: a file before it, no token, or a token
    // in the query only is refused (403) and nothing is stored
    const csrf = await p.locator('form[enctype="multipart/form-data"] input[name="_csrf"]').inputValue();
    const stored = () => Attachment.countDocuments({ ticketId: number });
    const before = await stored();
    const other = { name: 'other.pdf', mimeType: 'application/pdf', buffer: PDF };
    for (const [how, url, multipart] of [
      ['file first', `/app/support/${number}/attachments`, { file: other, _csrf: csrf }],
      ['no token', `/app/support/${number}/attachments`, { file: other }],
      ['token in the query', `/app/support/${number}/attachments?_csrf=${csrf}`, { file: other }],
      ['a wrong token', `/app/support/${number}/attachments`, { _csrf: 'x'.repeat(csrf.length), file: other }],
      // as long in characters, longer in bytes: this once threw inside busboy's listener and stopped the process
      ['a token of multi-byte characters', `/app/support/${number}/attachments`, { _csrf: 'é'.repeat(csrf.length), file: other }],
    ] as const) {
      const res = await p.request.post(url, { multipart, maxRedirects: 0 });
      expect(res.status(), how).to.equal(403);
    }
    expect(await stored()).to.equal(before);
    expect((await p.request.get(`/app/support/${number}`)).status(), 'the API still answers').to.equal(200);
    // the request's order is a link to the order's page, for the partner
    expect(await p.locator('dt:text-is("Order") + dd a').getAttribute('href')).to.equal(`/app/orders/${order.id}`);
    // listed with the ticket's files, and on its timeline as a "File attached" event
    expect(await p.getByRole('link', { name: 'invoice.pdf' }).count()).to.equal(2);
    expect(await p.getByRole('link', { name: 'receipt.pdf' }).count()).to.equal(2);
    await p.locator('ol.timeline li', { hasText: 'File attached' }).getByRole('link', { name: 'invoice.pdf' }).waitFor();
    // a picture sent under a PDF's name downloads as a picture, and is named so on the timeline as in the list (QA)
    await p.getByLabel(/Attach a file/).setInputFiles({ name: 'shot.pdf', mimeType: 'application/pdf', buffer: PNG });
    await p.getByRole('button', { name: 'Attach', exact: true }).click();
    await p.getByText('File attached.').waitFor();
    expect(await p.getByRole('link', { name: 'shot.pdf.png', exact: true }).count()).to.equal(2);
    expect(await p.getByRole('link', { name: 'shot.pdf', exact: true }).count()).to.equal(0);
    await expectAccessible(p);

    // the agent: the queue (polled by htmx), the ticket, assign, ask for information
    const a = agent.page;
    // text search finds it, another text does not
    await a.goto(`/app/queue?text=${encodeURIComponent(order.id)}`);
    await a.getByRole('link', { name: number }).waitFor();
    await expectAccessible(a);
    await a.goto(`/app/queue?text=${uniq('nothing-like-it')}`);
    expect(await a.getByRole('link', { name: number }).count()).to.equal(0);
    // a filter that is not valid is left out and said; the others still apply
    const odd = await a.goto(`/app/queue?limit=2&impact=enormous&text=${encodeURIComponent(order.id)}`);
    expect(odd!.status()).to.equal(400);
    const leftOut = await a.getByText('Left out of the filter').textContent();
    // named as the page names the filter, not by its parameter
    expect(leftOut).to.include('Impact:').and.include('Other: parameters this page does not know').and.not.include('limit');
    await a.getByRole('link', { name: number }).waitFor();
    // an assignee who is no support person (a partner's user, a mistyped id): said and left out, not an empty list
    const nobody = await a.goto(`/app/queue?assignee=nobodyx&text=${encodeURIComponent(order.id)}`);
    expect(nobody!.status()).to.equal(400);
    expect(await a.getByText('Left out of the filter').textContent()).to.include('Assignee: Not a support person');
    await a.getByRole('link', { name: number }).waitFor();
    // a page link that is not valid any more: the first page, saying so
    const stale = await a.goto(`/app/queue?cursor=bogus&text=${encodeURIComponent(order.id)}`);
    expect(stale!.status()).to.equal(400);
    expect(await a.getByText('Left out of the filter').textContent()).to.include('not valid any more');
    await a.getByRole('link', { name: number }).waitFor();
    await a.goto('/app/queue');
    await a.getByRole('link', { name: number }).click();
    expect(await a.locator('main').textContent()).to.include(reason).and.include('invoice.pdf').and.include(order.id);
    // the agent downloads the attachment as a file
    const [file] = await Promise.all([a.waitForEvent('download'), a.getByRole('link', { name: 'invoice.pdf' }).first().click()]);
    expect(file.suggestedFilename()).to.equal('invoice.pdf');
    // served as the API serves it: a download in a sandbox allowing nothing, never the page's own policy
    const href = (await a.getByRole('link', { name: 'invoice.pdf' }).first().getAttribute('href'))!;
    const served = await a.context().request.get(new URL(href, a.url()).toString());
    expect(served.headers()).to.include({ 'content-security-policy': "default-src 'none'; sandbox", 'x-content-type-options': 'nosniff', 'cache-control': 'private, no-store' });
    expect(served.headers()['content-disposition']).to.match(/^attachment;/);
    expect(served.headers().etag).to.match(/^"[0-9a-f]{64}"$/);
    // its number written in digits only, as the API reads it: "0x1", "1.0" or " 1" is no attachment
    const n = Number(href.split('/').pop());
    for (const odd of [`0x${n.toString(16)}`, `${n}.0`, `%20${n}`]) {
      expect((await a.context().request.get(new URL(href.replace(/\/[0-9]+$/, `/${odd}`), a.url()).toString())).status(), odd).to.equal(404);
    }
    // HEAD as GET: signed out, it is sent to sign in (a 303), not a bare 401
    const signedOut = await fetch(new URL('/app/support', a.url()), { method: 'HEAD', redirect: 'manual' });
    expect([signedOut.status, signedOut.headers.get('location')]).to.deep.equal([303, '/app/sign-in?next=%2Fapp%2Fsupport']);
    await expectAccessible(a);
    await press(a, 'Assign to me', 'Assigned.');
    await a.getByLabel('Reply or internal note').fill('Internal: checking the ESU licence usage');
    await press(a, 'Add internal note', 'Internal note added (support only).');
    // the same form sent twice (a double click, Back and send again) is carried out once
    const replies = a.locator(`form[action="/app/support/${number}/replies"]`);
    const form = { _key: (await replies.locator('input[name="_key"]').getAttribute('value'))!, _csrf: (await replies.locator('input[name="_csrf"]').getAttribute('value'))!, body: 'Internal: sent twice', kind: 'note' };
    for (let i = 0; i < 2; i++) {
      const sent = await a.request.post(`/app/support/${number}/replies`, { form, maxRedirects: 0 });
      expect(sent.status(), await sent.text()).to.be.oneOf([302, 303]);
    }
    await a.reload();
    expect((await a.locator('main').textContent())!.split('Internal: sent twice').length - 1).to.equal(1);
    await a.getByLabel('Information needed from the partner').fill('Please confirm the devices were never enrolled.');
    await press(a, 'Request information', 'Information requested from the partner; the clocks wait for their answer.');
    expect(await a.locator('main').textContent()).to.include('pending');
    // a paused clock says how much of its target is left (it said "paused" alone)
    // (a business-hours clock in hours, never in 24-hour days: QA read 80 business hours as "3 d 8 h left")
    const pausedRows = await a.locator('table:has(caption:text("Targets of this request")) tbody tr', { hasText: 'paused' }).evaluateAll((rows) => rows.map((r) => [r.children[0].textContent, r.children[2].textContent]));
    expect(pausedRows).to.not.have.length(0);
    for (const [target, due] of pausedRows) {
      if (target!.includes('(business hours)')) expect(due).to.match(/^paused, (\d+ h( \d+ min)?|\d+ min|\d+ s) of business hours left$/);
      else expect(due).to.match(/^paused, (\d+ d( \d+ h)?|\d+ h( \d+ min)?|\d+ min|\d+ s) left$/);
    }
    expect(pausedRows.some(([target]) => target!.includes('(business hours)')), 'a business-hours clock paused').to.equal(true);

    // the partner sees the question, not the internal note, and replies
    await p.goto(`/app/support/${number}`);
    const seen = await p.locator('main').textContent();
    expect(seen).to.include('Please confirm the devices were never enrolled.');
    expect(seen).to.not.include('Internal: checking');
    // in the partner's words: waiting on them, the clock paused for their answer, no internal breach levels (QA)
    expect(await p.locator('#waiting-on-you').textContent()).to.include('Support is waiting for your answer to go on');
    const targets = p.locator('table:has(caption:text("Targets of this request"))');
    expect(await targets.locator('thead th').allTextContents()).to.deep.equal(['Target', 'State', 'Due']);
    expect(await targets.locator('tbody').textContent()).to.include('paused: waiting for your answer');
    await p.getByLabel('Your reply').fill('Confirmed: never enrolled.');
    await press(p, 'Send reply', 'Reply sent.');

    expect(await p.locator('#waiting-on-you').count()).to.equal(0);
    // the agent approves the amount requested
    await a.goto(`/app/support/${number}`);
    expect(await a.locator('table:has(caption:text("Targets of this request")) thead th').allTextContents()).to.deep.equal(['Target', 'State', 'Due', 'Breach level']);
    expect(await a.locator('main').textContent()).to.include('Confirmed: never enrolled.');
    // approving is final: the browser asks first, with the rules' prorated credit of the year's ESU (a day used)
    const asked = await answering(a, true, () => press(a, 'Approve the refund', 'Approved.'));
    expect(asked).to.have.length(1);
    // naming the amount as typed (QA: it said "the amount entered" whatever was typed)
    expect(asked[0]).to.match(new RegExp(`^Approve a refund of \\d+\\.\\d\\d USD for ${number}\\? The whole order is cancelled and its keys and download links revoked; this cannot be undone\\. The cancellation rules credit \\$\\d+\\.\\d\\d today\\.$`));
    expect(await a.locator('main').textContent()).to.include('approved');
    // the month its credit lands on, as the invoice names it (QA: "credit on the 2026-11 invoice")
    expect(await a.locator('dt:text-is("Approved") + dd').textContent()).to.match(/credit on the (January|February|March|April|May|June|July|August|September|October|November|December) \d{4} invoice$/);

    // the partner: the order cancelled, the credit on the invoice
    await p.goto(`/app/orders/${order.id}`);
    expect(await p.locator('main').textContent()).to.include('cancelled');
    // the request's page no longer gives a window for the cancelled order (QA)
    await a.reload();
    expect(await a.locator('dt:text-is("Cancellation window")').count()).to.equal(0);
    // the order says through which request, and links to it (QA); a role that may not read support requests (a
    // sales agent) is told its number, with no link that could only answer 403 (review)
    expect(await p.getByRole('link', { name: number, exact: true }).getAttribute('href')).to.equal(`/app/support/${number}`);
    const sales = await newSession({ baseURL: app.baseUrl });
    try {
      const salesAgent = await ensureUser({ name: `Sales ${uniq('Link')}`, email: `${uniq('sales-link')}@${app.partnerId}.example`.toLowerCase(), role: 'sales-agent', partnerId: app.partnerId });
      await signIn(app, sales.page, salesAgent.email);
      await sales.page.goto(`/app/orders/${order.id}`);
      expect(await sales.page.locator('dt:text-is("Cancelled") + dd').textContent()).to.include(`approving support request ${number}`);
      expect(await sales.page.getByRole('link', { name: number, exact: true }).count()).to.equal(0);
    } finally {
      await sales.context.close();
    }
    await p.getByRole('link', { name: 'Invoices' }).click();
    expect(await p.getByRole('table', { name: /Credits in/ }).textContent()).to.include(order.id);

    // the SLA dashboard, with its server-side SVG charts
    await a.goto('/app/sla');
    await a.getByRole('img', { name: /Share within target by impact/ }).waitFor();
    // the days are the user's (this browser's zone is UTC)
    expect(await a.locator('main').textContent()).to.match(/Requests filed \d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2} \(days of UTC\)/);
    // every bar's label fits inside its chart, and the charts say which bar is which
    const clipped = await a.evaluate(`[...document.querySelectorAll('svg.chart')].flatMap((svg) => [...svg.querySelectorAll('text')].filter((t) => t.getBBox().x + t.getBBox().width > svg.viewBox.baseVal.width).map((t) => t.textContent))`);
    expect(clipped).to.deep.equal([]);
    expect(await a.locator('svg.chart').first().textContent()).to.include('First response').and.include('Resolution');
    // median times read as durations ("12 min", "3 h 20 min"), or a dash without one
    // (first response and resolution alike; the request approved above has its resolution time)
    const medians = await a.getByRole('table', { name: /Per impact/ }).locator('tbody tr td:nth-child(4), tbody tr td:nth-child(6)').allTextContents();
    expect(medians).to.have.length.greaterThan(0);
    for (const m of medians) expect(m.trim()).to.match(/^(—|\d+ (s|min|h|d)( \d+ (min|h))?)$/);
    expect((await a.getByRole('table', { name: /Per impact/ }).locator('tbody tr td:nth-child(6)').allTextContents()).some((m) => m.trim() !== '—')).to.equal(true);
    // the figures per agent are in a table too, not only in the chart (a screen reader cannot read the bars)
    const agents = await a.getByRole('table', { name: /Per agent/ }).locator('tbody tr th').allTextContents();
    expect(agents).to.include('Test support-agent');
    // the weekly table names each week by its whole first day, year included (the chart's ticks are short)
    const weeks = await a.getByRole('table', { name: 'Weekly figures' }).locator('tbody tr td:first-child').allTextContents();
    expect(weeks).to.have.length(8);
    for (const w of weeks) expect(w).to.match(/^\d{4}-\d{2}-\d{2}$/);
    await expectAccessible(a);
    // a day that does not exist is a 400 that says so (it was a 500)
    const bad = await a.goto('/app/sla?to=9999-99-99');
    expect(bad!.status()).to.equal(400);
    expect((await a.goto('/app/sla?to=0100-01-05'))!.status()).to.equal(400);
    expect(await a.locator('main').textContent()).to.match(/to must be a day that exists/i);
    // its eight weeks start no earlier than the metrics do (2000-01-01)
    expect((await a.goto('/app/sla?to=2000-02-24'))!.status()).to.equal(400);
    expect(await a.locator('main').textContent()).to.match(/from 2000-02-25 on/i);
    expect((await a.goto('/app/sla?to=2000-02-25'))!.status()).to.equal(200);
    await a.goto('/app/sla');
  });

  it("when the user's time zone is far from UTC, then the SLA dashboard's days are theirs, today included", async () => {
    // a zone whose date is not UTC's now, far from its midnight: UTC-12 before noon UTC (12:00 to 23:59 there), UTC+14 after (02:00 to 13:59)
    const zone = new Date().getUTCHours() < 12 ? 'Etc/GMT+12' : 'Pacific/Kiritimati';
    const email = `${uniq('zone-lead')}@support.example`.toLowerCase();
    await ensureUser({ name: `Lead ${uniq('Zone')}`, email, role: 'support-lead', partnerId: null });
    const far = await newSession({ baseURL: app.baseUrl, timezoneId: zone });
    try {
      await signIn(app, far.page, email);
      await far.page.goto('/app/sla');
      const today = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
      expect(today).to.not.equal(new Date().toISOString().slice(0, 10));
      expect(await far.page.locator('main').textContent()).to.include(`to ${today} (days of ${zone})`);
    } finally {
      await far.context.close();
    }
  });

  it('when a file its rules refuse goes with a new request, then the request is filed and the refusal is said on its page', async () => {
    const c = await app.newCustomer('US');
    const p = partner.page;
    await p.goto('/app/support/new');
    await p.getByLabel('Problem type').selectOption('General question or problem');
    await p.getByLabel('Title').fill(uniq('Screens of the error'));
    await p.getByLabel(/^Customer/).fill(c.tenantId);
    await p.getByLabel(/Add a file/).setInputFiles({ name: 'screen.pdf', mimeType: 'application/pdf', buffer: Buffer.from('<!doctype html><html><body>not a pdf</body></html>') });
    await press(p, 'Submit the request', 'Request filed.');
    const number = new URL(p.url()).pathname.split('/').pop()!;
    expect(number).to.match(/^SR-/);
    // the refusal, where the focus goes, says first that the request is filed all the same (QA)
    expect(await p.locator('#attach-form-error').textContent()).to.include('Your request is filed, without its file. This kind of file cannot be attached.');
    expect(await p.locator('p.alert.ok').textContent()).to.include('Attach any files below.');
    expect(await Attachment.countDocuments({ ticketId: number })).to.equal(0);
    await expectAccessible(p);

    // a file too large for the form: the form comes back as typed, the limit next to the file, nothing filed (QA: a
    // bare 413 page that said neither)
    await p.goto('/app/support/new');
    const title = uniq('Too large a file');
    await p.getByLabel('Problem type').selectOption('General question or problem');
    await p.getByLabel('Title').fill(title);
    await p.getByLabel(/^Customer/).fill(c.tenantId);
    await p.getByLabel('Description').fill('The log is attached.');
    await p.getByLabel(/Add a file/).setInputFiles({ name: 'huge.log', mimeType: 'text/plain', buffer: Buffer.alloc(11 * 1024 * 1024, 0x61) });
    const [answer] = await Promise.all([p.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/app/support'), p.getByRole('button', { name: 'Submit the request' }).click()]);
    expect(answer.status()).to.equal(413);
    await p.waitForLoadState();
    expect(await p.getByLabel('Title').inputValue()).to.equal(title);
    expect(await p.getByLabel('Description').inputValue()).to.equal('The log is attached.');
    expect(await p.locator('#file-error').textContent()).to.include('The file is larger than 10 MB, the limit per file. Nothing was filed');
    expect(await SupportTicket.countDocuments({ title })).to.equal(0);
  });

  it("when a partner has filed the hour's requests (SUPPORT_FILINGS_PER_HOUR), then the filing page says until when, keeps what was typed, and files nothing", async () => {
    const c = await app.newCustomer('US');
    // an API whose clock stands at the half hour (so that no hour ends during the test) and whose limit is one filing
    const hourStart = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    const offset = hourStart + 30 * 60_000 - Date.now();
    const limited = createApi({ client: app.client, mailer: app.mailer, log: app.log, taskQueue: app.taskQueue, reminderDaysBeforeClose: 7, publicBaseUrl: app.baseUrl, support: { ...TEST_SUPPORT_SETTINGS, filingsPerHour: 1 }, now: () => new Date(Date.now() + offset) });
    const server = createAppServer(limited);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const userId = (await User.findOne({ email: `admin-agent@${app.partnerId}.example` }).lean())!._id;
    const hourKey = new Date(hourStart).toISOString().slice(0, 13);
    const ours = { _id: { $gte: `${userId}:${hourKey}:`, $lt: `${userId}:${hourKey};` } };
    // the slots the suite's own filings took this hour stand aside, so that this API's one is free
    const before = await SupportFilingSlot.find(ours).lean();
    await SupportFilingSlot.deleteMany(ours);
    const p = partner.page;
    const fill = async (title: string) => {
      await p.goto(`${base}/app/support/new`);
      await p.getByLabel('Problem type').selectOption('General question or problem');
      await p.getByLabel('Title').fill(title);
      await p.getByLabel(/^Customer/).fill(c.tenantId);
    };
    // the zone the partner's pages give times in (Settings says it)
    await p.goto(`${base}/app/settings`);
    const zone = (await p.locator('#tz-heading + p strong').first().textContent())!;
    try {
      await fill(uniq('First of the hour'));
      await press(p, 'Submit the request', 'Request filed.');
      const second = uniq('Second of the hour');
      await fill(second);
      const [answer] = await Promise.all([p.waitForResponse((r) => r.url() === `${base}/app/support` && r.request().method() === 'POST'), p.getByRole('button', { name: 'Submit the request', exact: true }).click()]);
      expect(answer.status()).to.equal(429);
      expect(answer.headers()['retry-after']).to.match(/^\d+$/);
      // when the next hour begins, as the page gives times (in the partner's zone)
      const until = formatDate(new Date(hourStart + 3_600_000), zone);
      expect(await p.getByText('You have filed 1 support request this hour').textContent()).to.equal(`You have filed 1 support request this hour, the most one user may; file again from ${until}, or ask a colleague to file it.`);
      expect(await p.getByLabel('Title').inputValue()).to.equal(second);
      expect(await SupportTicket.exists({ partnerId: app.partnerId, title: second })).to.equal(null);
      await expectAccessible(p);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await SupportFilingSlot.deleteMany(ours);
      if (before.length) await SupportFilingSlot.insertMany(before);
    }
  });

  it('when the filing form comes without its CSRF token, with a wrong one, or cut off inside its file, then nothing is filed and the service stays up', async () => {
    const c = await app.newCustomer('US');
    const p = partner.page;
    await p.goto('/app/support/new');
    const csrf = await p.locator('input[name="_csrf"]').first().inputValue();
    const title = uniq('Forged filing');
    const fields = { problemType: 'General question or problem', impact: 'moderate', title, customer: c.tenantId, contactName: 'Pat', contactEmail: 'pat@example.com' };
    const file = { name: 'a.pdf', mimeType: 'application/pdf', buffer: PDF };
    for (const [how, multipart] of [
      ['no token', { ...fields, idempotencyKey: uniq('key-forged'), file }],
      ['a wrong token', { _csrf: 'x'.repeat(csrf.length), ...fields, idempotencyKey: uniq('key-forged'), file }],
      ['a token of multi-byte characters', { _csrf: 'é'.repeat(csrf.length), ...fields, idempotencyKey: uniq('key-forged'), file }],
    ] as const) {
      const res = await p.request.post('/app/support', { multipart, maxRedirects: 0 });
      expect(res.status(), how).to.equal(403);
    }
    // a body that ends inside its file (a dropped connection, or on purpose): refused, and the process goes on
    const cookie = (await partner.context.cookies(app.baseUrl)).map((k) => `${k.name}=${k.value}`).join('; ');
    const boundary = 'cut-off-boundary';
    const part = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    const body = Buffer.from(
      part('_csrf', csrf) + Object.entries(fields).map(([k, v]) => part(k, v)).join('') + part('idempotencyKey', uniq('key-cut')) +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="b.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 and then nothing`,
    );
    // the form's bytes as a hostile client sends them (not a browser): the status and the page
    const postFiling = (bytes: Buffer) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(`${app.baseUrl}/app/support`, { method: 'POST', headers: { cookie, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': bytes.length } }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        });
        req.on('error', reject);
        req.end(bytes);
      });
    expect((await postFiling(body)).status).to.equal(400);
    expect((await p.request.get('/app/support')).status(), 'the service still answers').to.equal(200);
    expect(await SupportTicket.countDocuments({ title })).to.equal(0);

    // the filing under this title, its contact's name sent as the bytes of a part of its own
    const withContact = (t: string, contactPart: Buffer) =>
      Buffer.concat([
        Buffer.from(part('_csrf', csrf) + Object.entries({ ...fields, title: t }).filter(([k]) => k !== 'contactName').map(([k, v]) => part(k, v)).join('') + part('idempotencyKey', uniq('key-bytes'))),
        contactPart,
        Buffer.from(`--${boundary}--\r\n`),
      ]);
    // a field sent in UTF-16 that holds a lone surrogate (no pattern refuses one; the form check does, as the API does)
    const lone = uniq('Lone surrogate');
    const utf16 = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="contactName"\r\nContent-Type: text/plain; charset=utf-16le\r\n\r\n`);
    const refused = await postFiling(withContact(lone, Buffer.concat([utf16, Buffer.from('Pat ', 'utf16le'), Buffer.from([0x00, 0xd8]), Buffer.from('\r\n')])));
    expect(refused.status).to.equal(400);
    expect(refused.body).to.include('This field contains characters that are not allowed (broken text).');
    expect(await SupportTicket.countDocuments({ title: lone })).to.equal(0);

    // a field whose bytes are not UTF-8 (Latin-1 "Pat Müller"): refused by name, not stored with U+FFFD in its place
    const latin = uniq('Latin-1 contact');
    const plain = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="contactName"\r\n\r\n`);
    const latinRefused = await postFiling(withContact(latin, Buffer.concat([plain, Buffer.from('Pat M\u00fcller', 'latin1'), Buffer.from('\r\n')])));
    expect(latinRefused.status).to.equal(400);
    expect(latinRefused.body).to.match(/id="contactName-error"[^>]*>[^<]*This field holds bytes that are not text in UTF-8/);
    expect(await SupportTicket.countDocuments({ title: latin })).to.equal(0);
    // a U+FFFD pasted on purpose (from a garbled log) is text in UTF-8: filed as it is
    const pasted = uniq('Log says \uFFFD\uFFFD at start');
    const filed = await p.request.post('/app/support', { multipart: { _csrf: csrf, ...fields, title: pasted, idempotencyKey: uniq('key-pasted') }, maxRedirects: 0 });
    expect(filed.status()).to.equal(303);
    expect(await SupportTicket.countDocuments({ title: pasted })).to.equal(1);
  });

  it('when a request is filed while an agent looks at the queue, then it appears without a reload (htmx polling)', async () => {
    const a = agent.page;
    await a.goto('/app/queue?impact=critical');
    let reloaded = false;
    a.on('framenavigated', (f) => {
      if (f === a.mainFrame()) reloaded = true;
    });
    const c = await app.newCustomer('US');
    const filed = await app.api('POST', '/support-requests', {
      headers: { 'idempotency-key': uniq('key-sr') },
      body: { problemType: 'General question or problem', impact: 'critical', title: uniq('Portal down'), customer: c.tenantId, contact: { name: 'Pat', email: 'pat@example.com' } },
    });
    expect(filed.status).to.equal(201);
    await a.getByRole('link', { name: filed.body.number }).waitFor({ timeout: 30_000 });
    expect(reloaded, 'the page was not reloaded').to.equal(false);
    const row = a.getByRole('row', { name: new RegExp(filed.body.number) });
    expect(await row.textContent()).to.include('critical').and.include('nobody');
  });

  it('when the keyboard focus is in the queue, then a refresh waits and keeps it; "Pause refreshing" stops the refreshes until pressed again', async () => {
    const a = agent.page;
    const file = async (title: string) => {
      const c = await app.newCustomer('US');
      const res = await app.api('POST', '/support-requests', {
        headers: { 'idempotency-key': uniq('key-sr') },
        body: { problemType: 'General question or problem', impact: 'critical', title, customer: c.tenantId, contact: { name: 'Pat', email: 'pat@example.com' } },
      });
      expect(res.status).to.equal(201);
      return res.body.number as string;
    };
    const first = await file(uniq('Focus kept'));
    await a.goto('/app/queue?impact=critical');
    await a.getByRole('link', { name: first }).focus();
    await a.waitForTimeout(12_000); // past a refresh
    expect(await a.evaluate('document.activeElement && document.activeElement.textContent')).to.equal(first);
    // and it says so, not "refreshes every 10 seconds" (QA)
    await a.getByText('Refreshing waits while the keyboard focus is in the list.').waitFor();
    expect(await a.getByText('refreshes every 10 seconds').isVisible()).to.equal(false);
    // paused: a new request does not show; resumed: it does
    await a.getByRole('link', { name: first }).blur();
    expect(await a.locator('#queue-pause-state').textContent()).to.equal('');
    const pause = a.getByRole('button', { name: 'Pause refreshing' });
    expect(await pause.getAttribute('aria-pressed')).to.equal('false');
    expect(await a.getByText('refreshes every 10 seconds').isVisible()).to.equal(true);
    await pause.click();
    expect(await pause.getAttribute('aria-pressed')).to.equal('true');
    await a.getByText('Refreshing is paused.').waitFor();
    // no longer said to refresh while it does not
    expect(await a.getByText('refreshes every 10 seconds').isVisible()).to.equal(false);
    const second = await file(uniq('While paused'));
    await a.waitForTimeout(12_000);
    expect(await a.getByRole('link', { name: second }).count()).to.equal(0);
    await pause.click();
    await a.getByRole('link', { name: second }).waitFor({ timeout: 30_000 });
  });

  it('when a lead reassigns an agent\'s ticket from its page, then the other agent has it; an agent may not take it back (the refusal is next to the form)', async () => {
    const c = await app.newCustomer('US');
    const second = await ensureUser({ name: `Agent ${uniq('Two')}`, email: `${uniq('agent2')}@support.example`.toLowerCase(), role: 'support-agent', partnerId: null });
    const number = await fileQuestion(c.tenantId, 'Licences missing');
    const agentId = (await User.findOne({ email: 'support-agent@support.example' }).lean())!._id;
    // the support agent takes it
    const a = agent.page;
    await a.goto(`/app/support/${number}`);
    await press(a, 'Assign to me', 'Assigned.');
    expect(await a.getByRole('button', { name: 'Assign to me' }).count(), 'no "Assign to me" on one\'s own ticket').to.equal(0);
    // put back in the queue with a word for support staff (an internal entry; the one who had it is told it by email
    // when a lead puts it back), and taken again
    await a.getByLabel('Note for support staff (optional)').fill('Needs someone who knows volume licensing');
    await press(a, 'Put back in the queue', 'Put back in the queue: anyone may take it now.');
    const putBack = (await app.api('GET', `/support-requests/${number}`, { token: app.tokens['support-agent'] })).body.timeline.filter((e: { type: string }) => e.type === 'unassigned');
    expect(putBack.map((e: { body: string; public: boolean }) => [e.body, e.public])).to.deep.equal([['Needs someone who knows volume licensing', false]]);
    expect(await a.locator('.badge.ticket-new').count()).to.equal(1);
    expect(await a.getByRole('button', { name: 'Put back in the queue' }).count()).to.equal(0);
    await press(a, 'Assign to me', 'Assigned.');

    const lead = await newSession({ baseURL: app.baseUrl });
    try {
      await signIn(app, lead.page, 'support-lead@support.example');
      const l = lead.page;
      await l.goto(`/app/support/${number}`);
      await expectAccessible(l);
      // "Assign" without a choice is refused next to the list, and assigns nobody
      // (the browser's own check of the required list is switched off, to see the server's answer)
      await l.locator('#assign-to').evaluate((el) => el.removeAttribute('required'));
      await l.getByRole('button', { name: 'Assign', exact: true }).click();
      expect(await l.locator('#assign-other-form-error').textContent()).to.include('Choose someone');
      await l.getByLabel('Assign to').selectOption({ label: `${second.name} (agent)` });
      await press(l, /^Assign$/, 'Assigned.');
      expect(await l.locator('dt:text-is("Assigned to") + dd').textContent()).to.equal(second.name);
      // the internal entry says to whom (QA: "Assigned · Lee Lead" read as if the lead took it)
      const notes = await l.locator('section[aria-labelledby="notes-heading"] li strong').allTextContents();
      expect(notes.filter((n) => n.startsWith('Assigned')).pop()).to.match(new RegExp(`^Assigned to ${second.name}( \\(was .+\\))?$`));
      // the lead sees that agent's work: the queue filtered by the agent chosen from the list
      await l.goto('/app/queue');
      await l.getByLabel('Assignee').selectOption({ label: second.name });
      await l.getByRole('button', { name: 'Filter' }).click();
      await l.waitForURL(/assignee=/);
      const rows = await l.locator('main table tbody tr').allTextContents();
      expect(rows.some((r) => r.includes(number))).to.equal(true);
      expect(rows.every((r) => r.includes(second.name))).to.equal(true);
    } finally {
      await lead.context.close();
    }
    const view = await app.api('GET', `/support-requests/${number}`, { token: app.tokens['support-lead'] });
    expect(view.body.assignee.userId).to.equal(second._id);

    // the first agent may not take it back: neither a list to give it away nor an "Assign to me" that could only fail
    await a.goto(`/app/support/${number}`);
    expect(await a.getByLabel('Assign to').count()).to.equal(0);
    expect(await a.getByRole('button', { name: 'Assign to me' }).count()).to.equal(0);
    expect(await a.getByRole('button', { name: 'Put back in the queue' }).count()).to.equal(0);
    // a form sent anyway (an old tab) is refused next to the form, back at the request's own address (a reload
    // re-posts nothing), the refusal with the keyboard focus
    const sent = await a.request.post(`/app/support/${number}/assign`, { form: { _csrf: await a.locator('input[name="_csrf"]').first().inputValue() }, maxRedirects: 0 });
    expect(sent.status()).to.equal(303);
    await a.goto(sent.headers().location);
    await a.locator('#assign-form-error').waitFor();
    expect(await a.locator('#assign-form-error').textContent()).to.include('only a support lead may reassign it');
    expect(new URL(a.url()).pathname).to.equal(`/app/support/${number}`);
    expect(await a.evaluate('document.activeElement && document.activeElement.id')).to.equal('assign-form-error');
    // the refusal said without an "Assign to me" under it, which could only be refused again (QA)
    expect(await a.getByRole('button', { name: 'Assign to me' }).count()).to.equal(0);
    expect((await app.api('GET', `/support-requests/${number}`, { token: app.tokens['support-lead'] })).body.assignee.userId).to.equal(second._id);

    // a disabled agent cannot be given tickets, and the page says when the one who has a request is disabled
    await setUserDisabled(second.email, true);
    await a.goto(`/app/support/${number}`);
    expect(await a.locator('dt:text-is("Assigned to") + dd').textContent()).to.equal(`${second.name} (disabled: give this request to someone else)`);
    // and so does the queue, on the request's row
    await a.goto(`/app/queue?text=${encodeURIComponent(number)}`);
    expect(await a.locator('#queue-results tbody tr', { hasText: number }).locator('td').nth(5).textContent()).to.equal(`${second.name} (disabled)`);
    const refused = await app.api('POST', `/support-requests/${number}/assign`, { token: app.tokens['support-lead'], body: { assigneeId: agentId } });
    expect(refused.status, JSON.stringify(refused.body)).to.equal(200);
    const toDisabled = await app.api('POST', `/support-requests/${number}/assign`, { token: app.tokens['support-lead'], body: { assigneeId: second._id } });
    expect(toDisabled.status).to.equal(422);
    expect(toDisabled.body.error.code).to.equal('assignee_disabled');
  });

  it('when the one who had a closed request is disabled, then its page says so without asking to give it to someone else (it takes nothing more)', async () => {
    // QA: a closed, withdrawn request still said "give this request to someone else"
    const c = await app.newCustomer('US');
    const number = await fileQuestion(c.tenantId, uniq('Closed with a leaver'));
    const leaver = await ensureUser({ name: `Agent ${uniq('Leaver')}`, email: `${uniq('leaver')}@support.example`.toLowerCase(), role: 'support-agent', partnerId: null });
    const given = await app.api('POST', `/support-requests/${number}/assign`, { token: app.tokens['support-lead'], body: { assigneeId: leaver._id } });
    expect(given.status, JSON.stringify(given.body)).to.equal(200);
    expect((await app.api('POST', `/support-requests/${number}/close`, { token: app.tokens['support-lead'], body: {} })).status).to.equal(200);
    await setUserDisabled(leaver.email, true);
    const a = agent.page;
    await a.goto(`/app/support/${number}`);
    expect(await a.locator('dt:text-is("Assigned to") + dd').textContent()).to.equal(`${leaver.name} (disabled)`);
  });

  it('when the partner replies while an agent has the request open, then the agent\'s reply from that page is held back with the text kept, the partner\'s reply shown; sent again, it goes once', async () => {
    const c = await app.newCustomer('US');
    const number = await fileQuestion(c.tenantId, 'Activation fails');
    const a = agent.page;
    await a.goto(`/app/support/${number}`);
    await press(a, 'Assign to me', 'Assigned.');
    // the partner answers meanwhile; the agent's page still shows the request as it was
    const partnerSays = uniq('It fails with 0xC004F074');
    expect((await app.api('POST', `/support-requests/${number}/replies`, { token: app.tokens['admin-agent'], body: { body: partnerSays } })).status).to.equal(200);
    expect(await a.getByText(partnerSays).count()).to.equal(0);
    const answer = 'Please run slmgr /ato and tell us what it says.';
    await a.getByLabel('Reply or internal note').fill(answer);
    await a.getByRole('button', { name: 'Send reply to the partner' }).click();
    await a.locator('#reply-form-error').waitFor();
    // who did what, as the request's workflow says it
    expect(await a.locator('#reply-form-error').textContent()).to.match(/This support request changed since you opened it: .+ replied \(entry \d+\)\. Read what changed/);
    // what changed is on the page now, and what the agent wrote is still in the form
    expect(await a.getByText(partnerSays).count()).to.be.above(0);
    expect(await a.getByLabel('Reply or internal note').inputValue()).to.equal(answer);
    // a refusal of the request's state is no field's fault: the reply is not marked invalid, the focus is on the refusal
    expect(await a.locator('main [aria-invalid="true"]').count()).to.equal(0);
    expect(await a.evaluate('document.activeElement && document.activeElement.id')).to.equal('reply-form-error');
    const replies = async () => (await SupportEvent.find({ ticketId: number, type: 'replied' }).lean()).length;
    expect(await replies()).to.equal(0);
    await press(a, 'Send reply to the partner', 'Reply sent.');
    expect(await replies()).to.equal(1);
  });

  it('when Temporal does not answer an agent\'s reply, then the page keeps the text and the form\'s key (503), and sending it again once Temporal answers posts one reply', async () => {
    const c = await app.newCustomer('US');
    const number = await fileQuestion(c.tenantId, 'Keys not shown');
    // the same pages on the same database, with a Temporal client whose server is down (nothing listens on its port)
    const down = createApi({ client: lazyClient(`127.0.0.1:${await freePort()}`, 'default'), mailer: app.mailer, log: app.log, taskQueue: app.taskQueue, reminderDaysBeforeClose: 7, support: TEST_SUPPORT_SETTINGS, publicBaseUrl: app.baseUrl });
    const server = createAppServer(down);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const downUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const a = agent.page; // its session cookie is for 127.0.0.1, whichever port
      await a.goto(`${downUrl}/app/support/${number}`);
      const replyForm = a.locator(`form[action="/app/support/${number}/replies"]`);
      const key = await replyForm.locator('input[name="_key"]').inputValue();
      const text = `${uniq('Please send the licence report')}\nSecond line & <b>not bold</b>`;
      await a.getByLabel('Reply or internal note').fill(text);
      const [answer] = await Promise.all([a.waitForResponse((r) => r.request().method() === 'POST'), a.getByRole('button', { name: 'Send reply to the partner' }).click()]);
      expect(answer.status()).to.equal(503);
      // when to try again, as every 503 says it
      expect(await answer.headerValue('retry-after')).to.match(/^\d+$/);
      expect(await a.locator('#reply-form-error').textContent()).to.include('did not answer in time').and.include('carried out once');
      // the form as typed, with the same key: pressing again is the same Update
      expect(await a.getByLabel('Reply or internal note').inputValue()).to.equal(text);
      expect(await replyForm.locator('input[name="_key"]').inputValue()).to.equal(key);
      expect((await app.api('GET', `/support-requests/${number}`, { token: app.tokens['support-agent'] })).body.timeline.filter((e: { type: string }) => e.type === 'replied')).to.have.length(0);

      // Temporal answers again (the same form sent to the working API, as the browser sends it, with CRLF line breaks; the
      // pages' policy lets a form post only to its own origin): pressed twice, it is one reply
      const csrf = await replyForm.locator('input[name="_csrf"]').inputValue();
      const sendReply = (body: string, formKey = key) =>
        a.request.post(`${app.baseUrl}/app/support/${number}/replies`, { form: { _key: formKey, _csrf: csrf, body: body.replace(/\n/g, '\r\n'), kind: 'reply' }, maxRedirects: 0 });
      for (let press = 1; press <= 2; press++) {
        const sent = await sendReply(text);
        expect(sent.status(), `press ${press}`).to.equal(303);
        expect(sent.headers().location, `press ${press}`).to.equal(`/app/support/${number}?done=reply`);
      }
      const replies = async () =>
        (await app.api('GET', `/support-requests/${number}`, { token: app.tokens['support-agent'] })).body.timeline.filter((e: { type: string }) => e.type === 'replied').map((e: { body: string }) => e.body.replace(/\r\n/g, '\n'));
      expect(await replies()).to.deep.equal([text]);

      // the text changed before pressing again: the page says the first press may have gone, keeps the new text, and a
      // new key sends it as a new reply
      const changed = await sendReply(`${text} (edited)`);
      expect(changed.status()).to.equal(409);
      const page = await changed.text();
      expect(page).to.include('may have been carried out').and.include('(edited)</textarea>');
      const newKey = page.match(/name="_key" value="(page-[0-9a-f-]{36})"/)?.[1];
      expect(newKey).to.be.a('string').and.not.equal(key);
      expect((await sendReply(`${text} (edited)`, newKey)).status()).to.equal(303);
      expect(await replies()).to.deep.equal([text, `${text} (edited)`]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    }
  });

  it("when the request's rules refuse a form, then what was typed stays; a reply to a request closed meanwhile is kept to copy; escalating again is asked about; a decided request says until when a reply reopens it", async () => {
    const c = await app.newCustomer('US');
    const order = await placeOrder(app, c.id, 'windows-7-esu-2020', { quantity: 10 });
    expect(order.pricing.total, 'above the approval limit').to.be.above(50_000);
    const number = await fileRefund(c.tenantId, order.id, order.pricing, uniq('Refund ten ESU licences'));
    const a = agent.page;
    // the field at fault, and only it, is marked so, described by the refusal and focused
    const fieldAtFault = async () =>
      a.evaluate<{ focused: string | null; invalid: string[]; describedBy: (string | null)[] }>(
        `(() => { const bad = [...document.querySelectorAll('main [aria-invalid="true"]')]; return { focused: document.activeElement ? document.activeElement.id : null, invalid: bad.map((el) => el.id), describedBy: bad.map((el) => el.getAttribute('aria-describedby')) }; })()`,
      );
    // (the browser's question before an approval is answered yes throughout; the handler goes even if this fails)
    const asked: string[] = [];
    const yes = (d: Dialog) => {
      asked.push(d.message());
      void d.accept();
    };
    a.on('dialog', yes);
    try {
      await a.goto(`/app/support/${number}`);
      // above the approval limit: refused in place, the amount and the message as typed, and not asked about first
      // (QA: "this cannot be undone", then the refusal), as without script
      await a.getByLabel(/Amount to refund/).fill('600.00');
      await a.getByLabel('Message to the partner (optional)').fill('Refunding most of it.');
      await a.getByRole('button', { name: 'Approve the refund' }).click();
      await a.locator('#approve-form-error').waitFor();
      expect(await a.locator('#approve-form-error').textContent()).to.include('Approving more than $500.00 needs a support lead.');
      expect(asked).to.deep.equal([]);
      expect(await a.getByLabel(/Amount to refund/).inputValue()).to.equal('600.00');
      expect(await a.getByLabel('Message to the partner (optional)').inputValue()).to.equal('Refunding most of it.');
      expect((await app.api('GET', `/support-requests/${number}`, { token: app.tokens['support-agent'] })).body.approval).to.equal(null);
      // the field at fault, and only it: here the amount...
      expect(await fieldAtFault()).to.deep.equal({ focused: 'approve-amount', invalid: ['approve-amount'], describedBy: ['approve-form-error approve-note'] });
      // the amount emptied: asked for, not the whole requested amount credited (approving is final)
      await a.getByLabel(/Amount to refund/).fill('');
      await a.getByRole('button', { name: 'Approve the refund' }).click();
      await a.locator('#approve-form-error').waitFor();
      expect(await a.locator('#approve-form-error').textContent()).to.include(`Enter the amount to refund, in USD (the request asks for ${formatMoney(order.pricing.total, 'USD')}).`);
      expect(await fieldAtFault()).to.deep.include({ focused: 'approve-amount', invalid: ['approve-amount'] });
      expect((await app.api('GET', `/support-requests/${number}`, { token: app.tokens['support-agent'] })).body.approval).to.equal(null);
      // ...here the message, too long (not the amount); an optional reason too long, for an escalation; a resolution
      await a.getByLabel(/Amount to refund/).fill('400.00');
      await a.getByLabel('Message to the partner (optional)').fill('x'.repeat(20_001));
      await a.getByRole('button', { name: 'Approve the refund' }).click();
      await a.locator('#approve-form-error').waitFor();
      expect(await a.locator('#approve-form-error').textContent()).to.include('Use at most 20000 characters.');
      expect(await fieldAtFault()).to.deep.equal({ focused: 'approve-body', invalid: ['approve-body'], describedBy: ['approve-form-error'] });
      // an amount within the limit is asked about first
      expect(asked.at(-1)).to.match(/^Approve a refund of 400\.00 [A-Z]{3} for /);
    } finally {
      a.off('dialog', yes);
    }
    for (const [label, button, id] of [
      ['Reason for escalating (optional)', 'Escalate', 'escalate-reason'],
      ['Resolution (optional)', 'Resolve', 'resolve-body'],
    ] as const) {
      await a.goto(`/app/support/${number}`);
      await a.getByLabel(label).fill('y'.repeat(20_001));
      await a.getByRole('button', { name: button, exact: true }).click();
      await a.locator(`#${id.split('-')[0]}-form-error`).waitFor();
      expect(await fieldAtFault(), button).to.deep.equal({ focused: id, invalid: [id], describedBy: [`${id.split('-')[0]}-form-error`] });
    }
    // a reason of spaces only is no reason, said in the rejection's words
    await a.goto(`/app/support/${number}`);
    await a.getByLabel('Reason for rejecting').fill('   ');
    await a.getByRole('button', { name: 'Reject', exact: true }).click();
    await a.locator('#reject-form-error').waitFor();
    expect(await a.locator('#reject-form-error').textContent()).to.include('Give the reason for the rejection.');
    expect(await fieldAtFault()).to.deep.equal({ focused: 'reject-reason', invalid: ['reject-reason'], describedBy: ['reject-form-error'] });
    expect((await app.api('GET', `/support-requests/${number}`, { token: app.tokens['support-agent'] })).body.status).to.not.equal('rejected');

    // escalated, then (Back, or another tab) escalated again within minutes: asked first, then done once more
    await a.goto(`/app/support/${number}`);
    await a.getByLabel('Reason for escalating (optional)').fill('Customer is waiting');
    await press(a, 'Escalate', 'Escalated.');
    await a.goto(`/app/support/${number}`);
    await a.getByLabel('Reason for escalating (optional)').fill('Customer is waiting');
    await a.getByRole('button', { name: 'Escalate', exact: true }).click();
    await a.locator('#escalate-form-error').waitFor();
    expect(await a.locator('#escalate-form-error').textContent()).to.include('You escalated this request');
    expect((await app.api('GET', `/support-requests/${number}`, { token: app.tokens['support-agent'] })).body.escalationLevel).to.equal(1);
    await a.getByLabel('Yes, escalate it again').check();
    await press(a, 'Escalate', 'Escalated.');
    expect((await app.api('GET', `/support-requests/${number}`, { token: app.tokens['support-agent'] })).body.escalationLevel).to.equal(2);
    // each escalation says its level (QA: two "Escalated" lines alike)
    const levels = (await a.locator('section[aria-labelledby="notes-heading"] li strong').allTextContents()).filter((n) => n.startsWith('Escalated'));
    expect(levels).to.deep.equal(['Escalated to level 1', 'Escalated to level 2']);
    // an escalation on time wears its own badge, not the breach's colour (QA); in the queue too
    expect(await a.locator('main .badge.escalated').textContent()).to.contain('escalation level 2');
    expect(await a.locator('main .badge.breached').count()).to.equal(0);
    await a.goto(`/app/queue?text=${encodeURIComponent(number)}`);
    expect(await a.locator('tr', { hasText: number }).locator('.badge.escalated').textContent()).to.contain('escalation level 2');
    // the start page leads to the SLA dashboard as the navigation does (QA)
    await a.goto('/app');
    expect(await a.locator('.cards').getByRole('link', { name: 'SLA dashboard' }).getAttribute('href')).to.equal('/app/sla');
    await a.goto(`/app/support/${number}`);

    // the partner writes a reply while an agent closes the request: the reply is refused, and kept to copy
    const question = await fileQuestion(c.tenantId, 'Closed while typing');
    const p = partner.page;
    await p.goto(`/app/support/${question}`);
    await p.getByLabel('Your reply').fill('Here are the details:\nline two');
    expect((await app.api('POST', `/support-requests/${question}/close`, { token: app.tokens['support-agent'], body: {} })).status).to.equal(200);
    await p.getByRole('button', { name: 'Send reply' }).click();
    await p.getByText(/^Not done:/).waitFor();
    expect(await p.locator('textarea[id^="unsent-"]').inputValue()).to.equal('Here are the details:\nline two');
    // the box is named with its field, so that an approval's amount and message are told apart
    expect(await p.getByLabel('What you typed: the message').inputValue()).to.equal('Here are the details:\nline two');
    // said where the keyboard (and the screen) is: the refusal has the focus, the title says it
    expect(await p.evaluate('document.activeElement && document.activeElement.id')).to.equal('reply-form-error');
    expect(await p.title()).to.match(/^Error: /);
    await expectAccessible(p);
    // the same with nothing typed (the browser goes back to the request's address, #resolve-form-error): an agent's
    // Resolve on a request closed meanwhile is refused where the focus goes
    const closing = await fileQuestion(c.tenantId, 'Closed while resolving');
    await a.goto(`/app/support/${closing}`);
    expect((await app.api('POST', `/support-requests/${closing}/close`, { token: app.tokens['support-lead'], body: {} })).status).to.equal(200);
    await a.getByRole('button', { name: 'Resolve', exact: true }).click();
    await a.waitForURL(/#resolve-form-error$/);
    expect(await a.evaluate('document.activeElement && document.activeElement.id')).to.equal('resolve-form-error');
    expect(await a.locator('#resolve-form-error').textContent()).to.match(/Not done: This support request is closed/);

    // a resolved request: the partner's page says until when a reply reopens it
    const resolved = await fileQuestion(c.tenantId, 'Resolved soon');
    expect((await app.api('POST', `/support-requests/${resolved}/resolve`, { token: app.tokens['support-agent'], body: { body: 'Done.' } })).status).to.equal(200);
    await p.goto(`/app/support/${resolved}`);
    expect(await p.locator('#reply-reopens').textContent()).to.match(/A reply reopens it until \S/);
    const said = await p.locator('#reply-reopens').textContent();
    const event = (await app.api('GET', `/support-requests/${resolved}`)).body.timeline.find((e: { type: string }) => e.type === 'resolved');
    expect(event.data.reopenUntil).to.be.a('string');
    // SUPPORT_REOPEN_DAYS changed since (an API restarted with 2 days): the page still says the date the request's
    // own rules set, which its workflow keeps to, and a refusal of a late reply names its own period
    const changed = createApi({ client: app.client, mailer: app.mailer, log: app.log, taskQueue: app.taskQueue, reminderDaysBeforeClose: 7, publicBaseUrl: app.baseUrl, support: { ...TEST_SUPPORT_SETTINGS, rules: { ...DEFAULT_SUPPORT_SETTINGS.rules, reopenDays: 2 } } });
    const server = createAppServer(changed);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await p.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/app/support/${resolved}`);
      expect(await p.locator('#reply-reopens').textContent()).to.equal(said);
      await p.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/app/support/${resolved}?form=reply&refused=reopen_period_passed`);
      expect(await p.locator('#reply-form-error').textContent()).to.include(`more than ${DEFAULT_SUPPORT_SETTINGS.rules.reopenDays} days ago`);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    }
  });

  it('when a form carries text the API would refuse (only invisible characters, a bidi override in a title), then the page refuses it too, next to the field, and nothing is written', async () => {
    const c = await app.newCustomer('US');
    const number = await fileQuestion(c.tenantId, 'Invisible text');
    const a = agent.page;
    await a.goto(`/app/support/${number}`);
    const form = a.locator(`form[action="/app/support/${number}/replies"]`);
    const csrf = await form.locator('input[name="_csrf"]').inputValue();
    const key = await form.locator('input[name="_key"]').inputValue();
    const note = await a.request.post(`/app/support/${number}/replies`, { form: { _key: key, _csrf: csrf, body: '\u200b\u200b', kind: 'note' }, maxRedirects: 0 });
    expect(note.status()).to.equal(400);
    expect(await note.text()).to.include('Write a message first.');
    // too long: the limit is said, not "write a message"
    const long = await a.request.post(`/app/support/${number}/replies`, { form: { _key: key, _csrf: csrf, body: 'x'.repeat(25_000), kind: 'note' }, maxRedirects: 0 });
    expect(long.status()).to.equal(400);
    expect(await long.text()).to.include('Use at most 20000 characters.').and.not.include('Write a message first.');
    const view = await app.api('GET', `/support-requests/${number}`, { token: app.tokens['support-agent'] });
    expect(view.body.timeline.map((e: { type: string }) => e.type)).to.not.include('note');

    const p = partner.page;
    await p.goto('/app/support/new');
    const fileCsrf = await p.locator('input[name="_csrf"]').first().inputValue();
    const fileKey = await p.locator('input[name="idempotencyKey"]').inputValue();
    const title = uniq('Refund \u202etxt.exe');
    const refused = await p.request.post('/app/support', {
      form: { _csrf: fileCsrf, idempotencyKey: fileKey, problemType: 'General question or problem', impact: 'moderate', title, customer: c.tenantId, contactName: '\u200b', contactEmail: 'pat@example.com', description: 'Bell\u0007' },
      maxRedirects: 0,
    });
    expect(refused.status()).to.equal(400);
    // every field at fault at once, each saying what is wrong in it
    const html = await refused.text();
    expect(html).to.match(/id="title-error"[^>]*>[^<]*text-direction character/);
    expect(html).to.match(/id="contactName-error"[^>]*>[^<]*only spaces or invisible characters/);
    expect(html).to.match(/id="description-error"[^>]*>[^<]*control characters/);
    // a refund's reason under a general question would be dropped without a word: refused, naming the field
    const misplaced = await p.request.post('/app/support', {
      form: { _csrf: fileCsrf, idempotencyKey: fileKey, problemType: 'General question or problem', impact: 'moderate', title: uniq('Question'), customer: c.tenantId, contactName: 'Pat', contactEmail: 'pat@example.com', refundReason: 'Bought by mistake', refundAmount: '10.00', currency: 'USD' },
      maxRedirects: 0,
    });
    expect(misplaced.status()).to.equal(400);
    expect(await misplaced.text()).to.match(/id="refundReason-error"[^>]*>[^<]*A refund goes with the problem type/);
    expect((await app.api('GET', `/support-requests?text=${encodeURIComponent('txt.exe')}`, { token: app.tokens['support-agent'] })).body.items.filter((t: { title: string }) => t.title === title)).to.have.length(0);
  });

  it("when a refund filing has faults of the schema's and of a refund's rules, then all are said at once, the amount's in the currency's own example; nothing is filed", async () => {
    const c = await app.newCustomer('JP');
    const order = await placeOrder(app, c.id, 'windows-7-esu-2020');
    const p = partner.page;
    await p.goto(`/app/support/new?orderId=${order.id}`);
    const csrf = await p.locator('input[name="_csrf"]').first().inputValue();
    const key = await p.locator('input[name="idempotencyKey"]').inputValue();
    const title = uniq('Refund in two rounds');
    const refused = await p.request.post('/app/support', {
      form: { _csrf: csrf, idempotencyKey: key, problemType: 'CSP Purchase/Refund on behalf of customers', impact: 'moderate', title, customer: c.tenantId, orderId: order.id, refundReason: '', refundAmount: '463,60', currency: 'JPY', contactName: 'Pat', contactEmail: 'pat@example.com', contactPhone: '' },
      maxRedirects: 0,
    });
    expect(refused.status()).to.equal(400);
    const html = await refused.text();
    // QA: the reason and the phone had been asked for only once the amount was mended, the amount "such as 61.00" in yen
    expect(html).to.match(/id="refundAmount-error"[^>]*>[^<]*Enter an amount in JPY, such as 61\./);
    expect(html).to.match(/id="refundReason-error"[^>]*>[^<]*Give the reason for the refund\./);
    expect(html).to.match(/id="contactPhone-error"[^>]*>[^<]*Enter a phone number/);
    expect((await app.api('GET', `/support-requests?text=${encodeURIComponent(title)}`, { token: app.tokens['support-agent'] })).body.items).to.have.length(0);
    // the agent's Approve with an amount not written as one: the hint is in yen too (QA: "such as 61.00")
    const number = await fileRefund(c.tenantId, order.id, order.pricing, uniq('Refund in yen'));
    const a = agent.page;
    await a.goto(`/app/support/${number}`);
    const approveForm = a.locator(`form[action="/app/support/${number}/approve"]`);
    const approve = await a.request.post(`/app/support/${number}/approve`, { form: { _csrf: await approveForm.locator('input[name="_csrf"]').inputValue(), amount: '¥75,000' }, maxRedirects: 0 });
    expect(approve.status()).to.equal(400);
    expect(await approve.text()).to.include('Enter an amount in JPY, such as 61.').and.not.include('61.00');
    expect((await app.api('GET', `/support-requests/${number}`, { token: app.tokens['support-agent'] })).body.status).to.not.equal('approved');
  });

  it('when Back brings the filing form again and it is submitted, then the page asks before filing a second request; ticking the box files it', async () => {
    const c = await app.newCustomer('US');
    const p = partner.page;
    const title = uniq('Portal shows no licences');
    const fill = async () => {
      await p.getByLabel('Problem type').selectOption('General question or problem');
      await p.getByLabel('Title').fill(title);
      await p.getByLabel(/^Customer/).fill(c.tenantId);
    };
    /** Files the form at `url` as `fill` fills it, then goes Back and submits it again as filled: the first request's number. */
    const fileThenBackAndAgain = async (url: string, fillIn: () => Promise<void>) => {
      await p.goto(url);
      await fillIn();
      await press(p, 'Submit the request', 'Request filed.');
      const filed = new URL(p.url()).pathname.split('/').pop()!;
      await p.goBack();
      await p.waitForURL('**/app/support/new**');
      await fillIn();
      await p.getByRole('button', { name: 'Submit the request' }).click();
      return filed;
    };
    const first = await fileThenBackAndAgain('/app/support/new', fill);
    const warning = p.locator('#again-error');
    await warning.waitFor();
    expect(await warning.textContent()).to.match(new RegExp(`You filed ${first} with this title for this customer less than a minute ago`));
    expect(await warning.getByRole('link', { name: `See ${first}` }).getAttribute('href')).to.equal(`/app/support/${first}`);
    const mine = async () => (await app.api('GET', `/support-requests?text=${encodeURIComponent(title)}`)).body.items.length;
    expect(await mine()).to.equal(1);
    await p.getByLabel('Yes, file another request').check();
    await press(p, 'Submit the request', 'Request filed.');
    expect(new URL(p.url()).pathname.split('/').pop()).to.not.equal(first);
    expect(await mine()).to.equal(2);

    // a refund request sent again this way: its order's refund request is open, so there is no "file another" to
    // offer (it would only be refused once ticked); the page says so at the order (QA)
    const order = await placeOrder(app, c.id, 'windows-7-esu-2020');
    const fillRefund = async () => {
      await p.getByLabel('Reason for the refund').fill('Bought for the wrong customer');
      await p.getByLabel(/^Phone/).fill('+1 425 555 0100');
    };
    const refundNumber = await fileThenBackAndAgain(`/app/support/new?orderId=${order.id}`, fillRefund);
    await p.locator('#orderId-error').waitFor();
    expect(await p.locator('#orderId-error').textContent()).to.match(new RegExp(`You filed ${refundNumber} for this order less than a minute ago, and it is \\w+: an order has one refund request at a time\\.`));
    expect(await p.getByLabel('Yes, file another request').count()).to.equal(0);
    expect(await p.getByRole('link', { name: `See ${refundNumber}` }).getAttribute('href')).to.equal(`/app/support/${refundNumber}`);
  });

  it('when Back brings a sent reply back and it is sent again, then the page asks before sending it twice; ticking the box sends it', async () => {
    const c = await app.newCustomer('US');
    const number = await fileQuestion(c.tenantId, 'Keys page empty');
    const p = partner.page;
    const text = uniq('The keys page is still empty');
    await p.goto(`/app/support/${number}`);
    await p.getByLabel('Your reply').fill(text);
    await press(p, 'Send reply', 'Reply sent.');
    // the keyboard focus is on what was done, so that a screen reader says it
    expect(await p.evaluate('document.activeElement && document.activeElement.textContent')).to.equal('Reply sent.');
    // said once: the address loses its ?done=, so a reload neither repeats it nor moves the focus
    expect(new URL(p.url()).search).to.equal('');
    await p.reload();
    expect(await p.getByText('Reply sent.').count()).to.equal(0);
    // Back: the page comes again with a new form key; the browser may give the text back, here typed again
    await p.goBack();
    await p.waitForURL(`**/app/support/${number}`);
    await p.getByLabel('Your reply').fill(text);
    await p.getByRole('button', { name: 'Send reply' }).click();
    const warning = p.locator('#reply-form-error');
    await warning.waitFor();
    expect(await warning.textContent()).to.include('You sent this reply less than a minute ago');
    const replies = async () => (await app.api('GET', `/support-requests/${number}`)).body.timeline.filter((e: { type: string }) => e.type === 'partner-replied').length;
    expect(await replies()).to.equal(1);
    // the text is kept; ticking the box sends it
    expect(await p.getByLabel('Your reply').inputValue()).to.equal(text);
    await p.getByLabel('Yes, send it again').check();
    await press(p, 'Send reply', 'Reply sent.');
    expect(await replies()).to.equal(2);
    // other text is sent without a question
    await p.getByLabel('Your reply').fill(uniq('Now it shows'));
    await press(p, 'Send reply', 'Reply sent.');
    expect(await replies()).to.equal(3);
  });

  it('when an internal note is sent again, then the question offers only to add it as a note: Enter on the box never sends it to the partner', async () => {
    // QA: the question's form kept both buttons; Enter on the ticked box pressed the first, "Send reply to the partner"
    const c = await app.newCustomer('US');
    const number = await fileQuestion(c.tenantId, uniq('Note twice'));
    const a = agent.page;
    const note = uniq('Internal only: the customer is on the watch list');
    await a.goto(`/app/support/${number}`);
    await a.getByLabel('Reply or internal note').fill(note);
    await press(a, 'Add internal note', 'Internal note added (support only).');
    await a.getByLabel('Reply or internal note').fill(note);
    await a.getByRole('button', { name: 'Add internal note' }).click();
    await a.locator('#reply-form-error').waitFor();
    expect(await a.locator('#reply-form-error').textContent()).to.include('You sent this internal note');
    expect(await a.getByRole('button', { name: 'Send reply to the partner' }).count()).to.equal(0);
    await a.getByLabel('Yes, send it again').focus();
    await a.keyboard.press('Space');
    await Promise.all([a.waitForURL(/\/app\/support\/[^/]+(\?|$)/), a.keyboard.press('Enter')]);
    await a.getByText('Internal note added (support only).').waitFor();
    const timeline = (await app.api('GET', `/support-requests/${number}`, { token: app.tokens['support-agent'] })).body.timeline as { type: string; body: string | null; internal?: boolean }[];
    expect(timeline.filter((e) => e.body === note).map((e) => e.type)).to.deep.equal(['note', 'note']);
    // the partner sees neither
    const theirs = (await app.api('GET', `/support-requests/${number}`)).body.timeline as { body: string | null }[];
    expect(theirs.filter((e) => e.body === note)).to.deep.equal([]);
  });

  it('when a refund is rejected, then its reason stays on the timeline after the partner replies; a withdrawn request says it takes nothing more and its clocks read withdrawn', async () => {
    const c = await app.newCustomer('US');
    const order = await placeOrder(app, c.id, 'windows-7-esu-2020');
    const number = await fileRefund(c.tenantId, order.id, order.pricing, uniq('Refund ESU'));
    const reason = uniq('Outside policy');
    expect((await app.api('POST', `/support-requests/${number}/reject`, { token: app.tokens['support-agent'], body: { reason } })).status).to.equal(200);
    expect((await app.api('POST', `/support-requests/${number}/replies`, { body: { body: 'Please look again.' } })).body.status).to.not.equal('rejected');
    for (const page of [partner.page, agent.page]) {
      await page.goto(`/app/support/${number}`);
      expect(await page.locator('ol.timeline li', { hasText: 'Rejected' }).textContent()).to.include(`Reason: ${reason}`);
    }
    expect((await app.api('POST', `/support-requests/${number}/withdraw`, { token: app.tokens['global-admin'], headers: { 'idempotency-key': uniq('w') } })).status).to.equal(200);
    const p = partner.page;
    await p.goto(`/app/support/${number}`);
    expect(await p.locator('#actions-heading + p').textContent()).to.include('This request is closed and takes nothing more.');
    expect(await p.getByRole('link', { name: 'file a new request' }).getAttribute('href')).to.equal('/app/support/new');
    expect(await p.getByRole('button', { name: 'Send reply' }).count()).to.equal(0);
    // the rejection answered the partner in time (first response met); nobody resolved it: withdrawn, not met
    const rows = await p.locator('table:has(caption:text("Targets of this request")) tbody tr').evaluateAll((trs) => trs.map((tr) => `${tr.children[0].textContent}: ${tr.children[1].textContent}`));
    expect(rows.some((r) => /^Resolution.*: withdrawn$/.test(r)), rows.join('; ')).to.equal(true);
    expect(rows.some((r) => /^First response.*: met$/.test(r)), rows.join('; ')).to.equal(true);
    // a stopped clock says when it stopped, in the page's zone (it showed a bare dash)
    const due = await p.locator('table:has(caption:text("Targets of this request")) tbody tr td:nth-child(3)').allTextContents();
    expect(due.length).to.be.greaterThan(0);
    for (const d of due) expect(d).to.match(/^stopped \d{1,2} \w{3} \d{4}, \d{2}:\d{2} /);
  });

  it('when an agent closes a request, then the browser asks once and it is closed; without script the page asks first, and the ticked box withdraws a partner\'s request', async () => {
    const c = await app.newCustomer('US');
    const status = async (number: string) => (await app.api('GET', `/support-requests/${number}`, { token: app.tokens['support-agent'] })).body.status as string;
    // with script: the browser's question, answered yes, and the request is closed (not asked a second time)
    const closing = await fileQuestion(c.tenantId, 'Closed from its page');
    const a = agent.page;
    await a.goto(`/app/support/${closing}`);
    const asked: string[] = [];
    a.on('dialog', (d) => {
      asked.push(d.message());
      void d.accept();
    });
    try {
      await a.getByRole('button', { name: 'Close', exact: true }).click();
      await a.getByText('This request is closed and takes nothing more.').waitFor();
    } finally {
      a.removeAllListeners('dialog');
    }
    expect(asked).to.deep.equal([`Close ${closing}? A closed request takes nothing more.`]);
    expect(await status(closing)).to.equal('closed');
    expect(await a.locator('#close-form-error').count()).to.equal(0);

    // without script: the page asks, with a box to tick; pressing without it asks again; ticked, withdrawn
    const withdrawing = await fileQuestion(c.tenantId, 'Withdrawn without script');
    const plain = await newSession({ baseURL: app.baseUrl, javaScriptEnabled: false });
    try {
      const p = plain.page;
      // an admin agent of the partner's own (the test partner's address has used up its sign-in emails of the hour)
      const admin = await ensureUser({ name: `Admin ${uniq('NoScript')}`, email: `${uniq('noscript')}@${app.partnerId}.example`.toLowerCase(), role: 'admin-agent', partnerId: app.partnerId });
      await signIn(app, p, admin.email);
      await p.goto(`/app/support/${withdrawing}`);
      /** Presses Withdraw on request `number`'s page: the status of the POST's answer, once the page it leads to has loaded. */
      const press = async (number = withdrawing) => {
        const [answer] = await Promise.all([
          p.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/app/support/${number}/withdraw`)),
          p.getByRole('button', { name: 'Withdraw this request' }).click(),
        ]);
        await p.waitForLoadState();
        return answer.status();
      };
      const formKey = () => p.locator(`form[action$="/${withdrawing}/withdraw"] input[name="_key"]`).inputValue();
      const keyBefore = await formKey();
      expect(await press()).to.equal(409);
      expect(await p.locator('#withdraw-form-error').textContent()).to.include(`Withdraw ${withdrawing}? It is closed, and takes nothing more. To go on, tick the box and press again.`);
      expect(await formKey(), 'asked under the same key: still the same Update when pressed again').to.equal(keyBefore);
      expect(await status(withdrawing)).to.equal('new');
      expect(await press(), 'pressed again without the box: asked again').to.equal(409);
      expect(await status(withdrawing)).to.equal('new');
      await p.getByLabel('Yes, withdraw it').check();
      expect(await press()).to.equal(303);
      expect(await p.locator('#actions-heading + p').textContent()).to.include('This request is closed and takes nothing more.');
      expect(await status(withdrawing)).to.equal('closed');

      // answered by support while the partner looked: the question keeps what the page had seen, so the box ticked
      // does not stand for having read the answer; pressed again from the page that shows it, it is withdrawn
      const answered = await fileQuestion(c.tenantId, 'Answered while the partner looked');
      await p.goto(`/app/support/${answered}`);
      const seenForm = () => p.locator(`form[action$="/${answered}/withdraw"] input[name="_seen"]`).inputValue();
      const seenAtFirst = await seenForm();
      expect((await app.api('POST', `/support-requests/${answered}/replies`, { token: app.tokens['support-agent'], body: { body: 'Here is how to do it.' } })).status).to.equal(200);
      const pressOn = () => press(answered);
      expect(await pressOn()).to.equal(409);
      expect(await seenForm(), 'the question keeps what the page had seen').to.equal(seenAtFirst);
      await p.getByLabel('Yes, withdraw it').check();
      await pressOn();
      expect(await p.locator('#withdraw-form-error').textContent()).to.include('This support request changed since you opened it');
      expect(await status(answered)).to.equal('open');
      expect(await seenForm(), 'the page now shows the answer, and its form says so').to.not.equal(seenAtFirst);
      expect(await pressOn()).to.equal(409);
      await p.getByLabel('Yes, withdraw it').check();
      expect(await pressOn()).to.equal(303);
      expect(await status(answered)).to.equal('closed');

      // closed meanwhile by support: no question about it (no box to tick), the refusal says why
      const closedMeanwhile = await fileQuestion(c.tenantId, 'Closed while the partner looked');
      await p.goto(`/app/support/${closedMeanwhile}`);
      expect((await app.api('POST', `/support-requests/${closedMeanwhile}/close`, { token: app.tokens['support-agent'], body: {} })).status).to.equal(200);
      await p.getByRole('button', { name: 'Withdraw this request' }).click();
      await p.waitForLoadState();
      const main = (await p.locator('main').textContent()) ?? '';
      expect(main).to.not.include('tick the box');
      expect(main).to.match(/closed/i);
      expect(await p.getByLabel('Yes, withdraw it').count()).to.equal(0);
    } finally {
      await plain.context.close();
    }
  });

  it("when an agent approves a refund, then the browser asks first, naming the cancellation rules' credit when the request asks more; without script the page asks with the amount, and the ticked box approves it", async () => {
    // QA: a subscription in its window, refunded in full by one press (or Enter in the amount), above its prorated credit
    const c = await app.newCustomer('US');
    const order = await placeOrder(app, c.id, 'windows-server-standard-sub');
    const rules = (await app.api('GET', `/orders/${order.id}/cancellation`)).body.credit as { amount: number; currency: string };
    expect(rules.amount, 'prorated: less than the price').to.be.below(order.pricing.total);
    const number = await fileRefund(c.tenantId, order.id, order.pricing, uniq('Refund the whole subscription'));
    const approval = async () => (await app.api('GET', `/support-requests/${number}`, { token: app.tokens['support-agent'] })).body.approval;
    // with script: asked, and answered no, nothing is done
    const a = agent.page;
    await a.goto(`/app/support/${number}`);
    // (the click ends once the question is answered: a form sent would be under way by then)
    const typed = await a.getByLabel(/Amount to refund/).inputValue();
    const asked = await answering(a, false, () => a.getByRole('button', { name: 'Approve the refund' }).click());
    expect(asked).to.deep.equal([`Approve a refund of ${typed} USD for ${number}? The whole order is cancelled and its keys and download links revoked; this cannot be undone. The cancellation rules credit ${formatMoney(rules.amount, 'USD')} today.`]);
    expect(await approval()).to.equal(null);

    // without script: the page asks with the amount and how far above the rules' credit it is, keeping what was typed
    const plain = await newSession({ baseURL: app.baseUrl, javaScriptEnabled: false });
    try {
      const p = plain.page;
      const noScript = await ensureUser({ name: `Agent ${uniq('NoScript')}`, email: `${uniq('agent-noscript')}@support.example`.toLowerCase(), role: 'support-agent', partnerId: null });
      await signIn(app, p, noScript.email);
      // the queue without script: it is not said to refresh, nor offered a pause, since it does not refresh (QA)
      await p.goto('/app/queue');
      expect(await p.getByRole('button', { name: 'Pause refreshing' }).isVisible()).to.equal(false);
      expect(await p.getByText('refreshes every 10 seconds').isVisible()).to.equal(false);
      await p.goto(`/app/support/${number}`);
      await p.getByLabel('Message to the partner (optional)').fill('Refunded in full, as agreed.');
      const pressApprove = async () => {
        const [answer] = await Promise.all([p.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/app/support/${number}/approve`)), p.getByRole('button', { name: 'Approve the refund' }).click()]);
        await p.waitForLoadState();
        return answer.status();
      };
      expect(await pressApprove()).to.equal(409);
      expect(await p.locator('#approve-form-error').textContent()).to.include(
        `Approve a refund of ${formatMoney(order.pricing.total, 'USD')} for ${number}? The whole order is cancelled and its keys and download links revoked; this cannot be undone. That is ${formatMoney(order.pricing.total - rules.amount, 'USD')} more than the cancellation rules credit today (${formatMoney(rules.amount, 'USD')}). To go on, tick the box and press again.`,
      );
      expect(await p.getByLabel('Message to the partner (optional)').inputValue()).to.equal('Refunded in full, as agreed.');
      expect(await approval()).to.equal(null);
      // an amount above the one requested is refused anyway: said at once, not asked about first (QA)
      await p.getByLabel(/Amount to refund/).fill(formatMinor(order.pricing.total + 100, 2));
      expect(await pressApprove()).to.equal(422);
      expect(await p.locator('#approve-form-error').textContent()).to.include('cannot exceed the amount requested').and.not.include('To go on, tick the box');
      expect(await approval()).to.equal(null);
      await p.getByLabel(/Amount to refund/).fill(formatMinor(order.pricing.total, 2));
      expect(await pressApprove()).to.equal(409);
      // the box ticked with another amount than the one asked about: asked again, about that one
      const credit = formatMinor(rules.amount, 2);
      await p.getByLabel(/Amount to refund/).fill(credit);
      await p.getByLabel('Yes, approve it').check();
      expect(await pressApprove()).to.equal(409);
      expect(await p.locator('#approve-form-error').textContent()).to.include(`Approve a refund of ${formatMoney(rules.amount, 'USD')} for ${number}? The whole order is cancelled and its keys and download links revoked; this cannot be undone. To go on`);
      expect(await approval()).to.equal(null);
      await p.getByLabel('Yes, approve it').check();
      expect(await pressApprove()).to.equal(303);
      expect(await approval()).to.include({ amount: rules.amount, currency: 'USD' });
    } finally {
      await plain.context.close();
    }
  });

  it('when a refund request concerns an Azure reservation, then Approve says the reservation ends, not that keys and links are revoked (it has none)', async () => {
    // review: the note and the question spoke of keys and downloads for every order
    const c = await app.newCustomer('US');
    const imported = await app.api('POST', `/customers/${c.id}/orders/import`, {
      token: app.tokens['global-admin'],
      body: { orders: [{ orderId: uniq('IMP-RI'), productId: 'azure-ri-vm-1y', quantity: 1, purchasedAt: new Date(Date.now() - 90 * 86_400_000).toISOString() }] },
    });
    expect(imported.body.results[0].outcome, JSON.stringify(imported.body)).to.equal('imported');
    const orderId = imported.body.results[0].id as string;
    const pricing = (await app.api('GET', `/orders/${orderId}`)).body.pricing as { total: number; currency: string };
    const number = await fileRefund(c.tenantId, orderId, pricing, uniq('Refund a reservation'));
    const a = agent.page;
    await a.goto(`/app/support/${number}`);
    expect(await a.locator('#approve-note').textContent()).to.include('Approving cancels the whole order: the reservation ends,').and.not.include('download');
    expect(await a.locator(`form[action="/app/support/${number}/approve"]`).getAttribute('data-confirm')).to.include('The whole order is cancelled and the reservation ends; this cannot be undone.');
  });

  it('when a refund request concerns an imported order, then the agent is told it was imported and never charged by csp-desk', async () => {
    const c = await app.newCustomer('US');
    const originalId = uniq('IMP');
    const imported = await app.api('POST', `/customers/${c.id}/orders/import`, {
      token: app.tokens['global-admin'],
      body: { orders: [{ orderId: originalId, productId: 'sql-server-standard-sub', quantity: 1, purchasedAt: new Date(Date.now() - 2 * 86_400_000).toISOString() }] },
    });
    expect(imported.body.results[0].outcome, JSON.stringify(imported.body)).to.equal('imported');
    const view = await app.api('GET', `/orders/${imported.body.results[0].id}`);
    // filed under the id the partner knows it by, from before csp-desk
    const number = await fileRefund(c.tenantId, originalId, view.body.pricing, uniq('Refund the imported order'));
    await agent.page.goto(`/app/support/${number}`);
    expect(await agent.page.locator('dt:text-is("Purchased") + dd').textContent()).to.include('imported: bought before csp-desk, which never charged it; check the original charge before approving a refund');
    // the id the partner knows it by, which the agent checks the original charge with (QA)
    expect(await agent.page.locator('dt:text-is("Order") + dd').textContent()).to.equal(`${view.body.id} (imported as ${originalId})`);
    // what the cancellation rules would credit today, beside the amount asked for
    expect(await agent.page.locator('dt:text-is("Credit by the cancellation rules today") + dd').textContent()).to.match(/^\$[\d,]+\.\d{2} \(prorated: \d+ of 365 days used\)$/);
    expect(await agent.page.locator('dt:text-is("Cancellation window") + dd').textContent()).to.not.include('passed');
    // the partner's order page: bought before csp-desk, and who imported it (not "by" them on that day: QA)
    await partner.page.goto(`/app/orders/${view.body.id}`);
    expect(await partner.page.locator('dt:text-is("Purchased") + dd').textContent()).to.match(/ \(before csp-desk; imported by [^)]+\)$/);
    // one bought 90 days ago: past its window, which the agent is told before approving an exception
    const lateId = uniq('IMPL');
    const late = await app.api('POST', `/customers/${c.id}/orders/import`, {
      token: app.tokens['global-admin'],
      body: { orders: [{ orderId: lateId, productId: 'sql-server-standard-sub', quantity: 1, purchasedAt: new Date(Date.now() - 90 * 86_400_000).toISOString() }] },
    });
    expect(late.body.results[0].outcome, JSON.stringify(late.body)).to.equal('imported');
    const lateNumber = await fileRefund(c.tenantId, lateId, (await app.api('GET', `/orders/${late.body.results[0].id}`)).body.pricing, uniq('Refund the late order'));
    await agent.page.goto(`/app/support/${lateNumber}`);
    expect(await agent.page.locator('dt:text-is("Cancellation window") + dd').textContent()).to.include('(passed: the partner can no longer cancel it; a refund now is an exception to the rule)');
    // the rules credit nothing past the window (as GET /orders/{id}/cancellation says); the prorated figure is a
    // yardstick, not the rules' credit (QA: it was shown as that), and Approve asks about every cent of the amount
    expect(await agent.page.locator('dt:text-is("Credit by the cancellation rules today") + dd').textContent()).to.match(/^none: its window has passed \(within it, \$[\d,]+\.\d{2}, prorated: 9[01] of 365 days used\)$/);
    expect(await agent.page.locator('form[action$="/approve"]').getAttribute('data-confirm')).to.include('The cancellation rules credit nothing today: its window has passed, so all of it is an exception to the rule.');

    // the partner names it by its original id: the form is prefilled from it, and the same question filed again a
    // moment later is asked about first, as with its csp-desk id (QA: a 404, and a second request filed unasked)
    const p = partner.page;
    await p.goto(`/app/support/new?orderId=${encodeURIComponent(lateId)}`);
    expect(await p.getByLabel('Order ID').inputValue()).to.equal(late.body.results[0].id);
    const title = uniq('Activation question about the old order');
    const ask = async () => {
      await p.goto('/app/support/new');
      await p.getByLabel('Problem type').selectOption('General question or problem');
      await p.getByLabel('Title').fill(title);
      await p.getByLabel(/^Customer/).fill(c.tenantId);
      await p.getByLabel('Order ID').fill(lateId);
    };
    await ask();
    await press(p, 'Submit the request', 'Request filed.');
    await ask();
    await p.getByRole('button', { name: 'Submit the request' }).click();
    await p.locator('#again-error').waitFor();
    expect((await app.api('GET', `/support-requests?text=${encodeURIComponent(title)}`)).body.items).to.have.length(1);
  });

  it('when an action sent with nothing typed is refused (someone acted meanwhile), then the refusal is said once: a reload shows the request without it', async () => {
    // QA: the refusal's address (?form=…&refused=…) stayed, so every reload said it again
    const c = await app.newCustomer('US');
    const number = await fileQuestion(c.tenantId, 'Taken while looking');
    const a = agent.page;
    await a.goto(`/app/support/${number}`);
    expect((await app.api('POST', `/support-requests/${number}/assign`, { token: app.tokens['support-lead'], body: {} })).status).to.equal(200);
    await a.getByRole('button', { name: 'Assign to me' }).click();
    const refusal = a.locator('#assign-form-error');
    await refusal.waitFor();
    expect(await refusal.textContent()).to.include('changed since you opened it');
    await a.waitForFunction('!new URL(location.href).searchParams.has("refused")');
    expect(new URL(a.url()).pathname).to.equal(`/app/support/${number}`);
    await a.reload();
    expect(await a.locator('[id$="-form-error"]').count()).to.equal(0);
  });

  it("when a partner has more requests than a page holds, then the list pages through them all, and those waiting on the partner come first", async () => {
    const c = await app.newCustomer('US');
    const numbers: string[] = [];
    for (let batch = 0; batch < 6; batch++) numbers.push(...(await Promise.all(Array.from({ length: 10 }, (_, i) => fileQuestion(c.tenantId, `Paged ${batch}-${i}`)))));
    const asked = numbers[numbers.length - 1];
    expect((await app.api('POST', `/support-requests/${asked}/request-information`, { token: app.tokens['support-agent'], body: { body: 'Which tenant?' } })).status).to.equal(200);
    const p = partner.page;
    await p.goto('/app/support');
    const waiting = p.locator('section[aria-labelledby="waiting-heading"]');
    await waiting.getByRole('link', { name: asked }).waitFor();
    // every request, once, across the pages
    const seen: string[] = [];
    for (let pages = 0; pages < 50; pages++) {
      seen.push(...(await p.locator('table:has(caption:text("by SLA due")) tbody a').allTextContents()));
      const next = p.getByRole('link', { name: 'Next page' });
      if ((await next.count()) === 0) break;
      await p.goto((await next.getAttribute('href'))!);
    }
    expect(new Set(seen).size).to.equal(seen.length);
    expect(seen).to.include.members(numbers);
  });

  it('when more requests wait on the partner than the waiting table shows, then the page says so and where the others are', async () => {
    // 101 requests waiting on a partner of their own (stored directly, as their workflows would have them)
    const partnerId = uniq('waiting');
    await ensurePartner({ id: partnerId, name: 'Waiting Partner', email: `billing@${partnerId}.example` });
    await ensureUser({ name: 'Waiting Admin', email: `admin-agent@${partnerId}.example`, role: 'admin-agent', partnerId });
    const now = new Date();
    const tickets = Array.from({ length: 101 }, (_, i) => storedTicket({ i, partnerId, status: 'pending', nextDueAt: null, updatedAt: now, now }));
    await SupportTicket.insertMany(tickets);
    await insertQueueEntries(tickets);
    const own = await newSession({ baseURL: app.baseUrl });
    try {
      await signIn(app, own.page, `admin-agent@${partnerId}.example`);
      await own.page.goto('/app/support');
      const waiting = own.page.locator('section[aria-labelledby="waiting-heading"]');
      expect(await waiting.locator('tbody tr').count()).to.equal(100);
      expect(await waiting.locator('p').textContent()).to.equal('This table shows the first 100 that wait for your answer; the others are in the list below, after the requests whose clocks run.');
      // one fewer: the table holds them all and says nothing more
      await SupportTicket.deleteOne({ _id: tickets[0]._id });
      await SupportQueueEntry.deleteOne({ _id: tickets[0]._id });
      await own.page.goto('/app/support');
      expect(await waiting.locator('tbody tr').count()).to.equal(100);
      expect(await waiting.locator('p').count()).to.equal(0);
    } finally {
      await own.context.close();
    }
  });

  it('when a user of another partner opens the ticket or its attachment, then 404; a sales agent may not file (403)', async () => {
    const c = await app.newCustomer('US');
    const order = await placeOrder(app, c.id, 'windows-7-esu-2020');
    const number = await fileRefund(c.tenantId, order.id, order.pricing, 'Refund please');
    const other = await newSession({ baseURL: app.baseUrl });
    try {
      await signIn(app, other.page, `admin-agent@${app.otherPartnerId}.example`);
      expect((await other.page.goto(`/app/support/${number}`))!.status()).to.equal(404);
      expect((await other.page.goto(`/app/support/${number}/attachments/1`))!.status()).to.equal(404);
      expect((await other.page.goto(`/app/support/new?orderId=${order.id}`))!.status()).to.equal(404);
      expect((await other.page.goto('/app/queue'))!.status()).to.equal(403);
    } finally {
      await other.context.close();
    }
    const sales = await newSession({ baseURL: app.baseUrl });
    try {
      await signIn(app, sales.page, `sales-agent@${app.partnerId}.example`);
      expect((await sales.page.goto('/app/support/new'))!.status()).to.equal(403);
    } finally {
      await sales.context.close();
    }
  });
  it('when a user signs in again in another tab and then sends a note or a reply from the tab opened before, then nothing is done, the text is shown to copy and the link opens the request again (never "Reload"); a forgery shows nothing', async () => {
    const c = await app.newCustomer('US');
    const number = await fileQuestion(c.tenantId, 'Signed in again elsewhere');
    // (by its first line, which is unique: a browser sends a textarea's line breaks as CRLF)
    const notes = async (text: string) => SupportEvent.countDocuments({ ticketId: number, body: { $regex: `^${text.split('\n')[0].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}` } });
    for (const [role, field, button] of [
      ['support-agent', 'Reply or internal note', 'Add internal note'],
      ['admin-agent', 'Your reply', 'Send reply'],
    ] as const) {
      const user = await ensureUser(
        role === 'support-agent'
          ? { name: `Agent ${uniq('Again')}`, email: `${uniq('again')}@support.example`.toLowerCase(), role, partnerId: null }
          : { name: `Admin ${uniq('Again')}`, email: `${uniq('again')}@${app.partnerId}.example`.toLowerCase(), role, partnerId: app.partnerId },
      );
      const s = await newSession({ baseURL: app.baseUrl });
      try {
        const tabA = s.page;
        await signIn(app, tabA, user.email);
        // tab B: the request, and a long text typed in it
        const tabB = await s.context.newPage();
        await tabB.goto(`/app/support/${number}`);
        const text = `${uniq(`Long ${role} text`)}\nwith a second line & <b>markup</b>`;
        await tabB.getByLabel(field).fill(text);
        // tab A: the session ends, and the user signs in again (a new session, a new CSRF token)
        await tabA.getByRole('button', { name: 'Sign out' }).click();
        await tabA.waitForURL(/\/app\/sign-in/);
        await signIn(app, tabA, user.email);
        // back in tab B: the form is not carried out; its text is there to copy, with a way back that works
        const [answer] = await Promise.all([tabB.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/app/support/${number}/replies`)), tabB.getByRole('button', { name: button, exact: true }).click()]);
        await tabB.waitForLoadState();
        expect(answer.status(), role).to.equal(403);
        expect(await notes(text), `${role}: nothing written`).to.equal(0);
        const box = tabB.getByLabel('Message');
        expect(await box.inputValue()).to.equal(text);
        expect(await box.getAttribute('readonly')).to.not.equal(null);
        const main = (await tabB.locator('main').textContent()) ?? '';
        expect(main).to.include('This form came from a page opened before you last signed in, so nothing was done.').and.include('Open the page again and send it from there; your text is below to copy.');
        expect(main).to.not.match(/reload/i);
        const back = tabB.getByRole('link', { name: 'Open the page again' });
        expect(await back.getAttribute('href')).to.equal(`/app/support/${number}`);
        await expectAccessible(tabB);
        // opened again (a GET, not the stale form sent again), the text is sent from there
        await back.click();
        await tabB.waitForURL(`**/app/support/${number}`);
        await tabB.getByLabel(field).fill(text);
        await press(tabB, button, role === 'support-agent' ? 'Internal note added (support only).' : 'Reply sent.');
        await waitFor(async () => (await notes(text)) === 1).catch(() => undefined);
        expect(await notes(text), `${role}: written once, from the page opened again`).to.equal(1);
        // a form from another site (a forgery: no token of this session, Sec-Fetch-Site cross-site) is refused as
        // before, and its words are not put on this site's page
        const forged = await tabB.request.post(`/app/support/${number}/replies`, { form: { _csrf: 'x', body: 'Call +1 555 0100 now', kind: 'reply' }, headers: { 'sec-fetch-site': 'cross-site' }, maxRedirects: 0 });
        expect(forged.status()).to.equal(403);
        const forgedPage = await forged.text();
        expect(forgedPage).to.not.include('Call +1 555 0100').and.not.include('What you typed');
        expect(await notes('Call +1 555 0100 now')).to.equal(0);
      } finally {
        await s.context.close();
      }
    }
  });

  it('when the filing form is sent after the session ended, or from a tab opened before signing in again, then nothing is filed, its title and description are shown to copy, and its link comes back to the filing form', async () => {
    const c = await app.newCustomer('US');
    const user = await ensureUser({ name: `Filer ${uniq('Again')}`, email: `${uniq('filer')}@${app.partnerId}.example`.toLowerCase(), role: 'admin-agent', partnerId: app.partnerId });
    const s = await newSession({ baseURL: app.baseUrl });
    try {
      const tabA = s.page;
      await signIn(app, tabA, user.email);
      const tabB = await s.context.newPage();
      const fill = async (title: string, description: string) => {
        await tabB.goto('/app/support/new');
        await tabB.getByLabel('Title').fill(title);
        await tabB.getByLabel('Customer (tenant GUID or domain name)').fill(c.tenantId);
        await tabB.getByLabel('Description').fill(description);
        await tabB.getByLabel(/Add a file/).setInputFiles({ name: 'shot.png', mimeType: 'image/png', buffer: PNG });
      };
      const submit = async () => {
        const [answer] = await Promise.all([tabB.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/app/support'), tabB.getByRole('button', { name: 'Submit the request' }).click()]);
        await tabB.waitForLoadState();
        return answer.status();
      };
      const filed = (title: string) => SupportTicket.countDocuments({ title });

      // the session ends (its cookie gone) while the form is filled in
      const title = uniq('Filed after the session ended');
      const description = 'Steps:\n1. open the portal\n2. <see> the error';
      await fill(title, description);
      await s.context.clearCookies();
      expect(await submit()).to.equal(401);
      expect(await tabB.getByRole('link', { name: 'Sign in' }).getAttribute('href')).to.equal(`/app/sign-in?next=${encodeURIComponent('/app/support/new')}`);
      expect(await tabB.getByLabel('Title').inputValue()).to.equal(title);
      expect(await tabB.getByLabel('Description').inputValue()).to.equal(description);
      expect(await tabB.getByLabel('Description').getAttribute('readonly')).to.not.equal(null);
      expect(await filed(title)).to.equal(0);

      // signed in again in tab A; the form sent from tab B, opened before: the same, with a link to the filing form
      await signIn(app, tabA, user.email);
      const second = uniq('Filed from a tab opened before');
      await tabA.goto('/app');
      await fill(second, description);
      await tabA.getByRole('button', { name: 'Sign out' }).click();
      await tabA.waitForURL(/\/app\/sign-in/);
      await signIn(app, tabA, user.email);
      expect(await submit()).to.equal(403);
      expect(await tabB.getByLabel('Title').inputValue()).to.equal(second);
      expect(await tabB.getByLabel('Description').inputValue()).to.equal(description);
      expect(await tabB.getByRole('link', { name: 'Open the page again' }).getAttribute('href')).to.equal('/app/support/new');
      expect(await filed(second)).to.equal(0);

      // a form sent without a session is read for its text only so far (4 MiB before its file part; review): past
      // that, the page says the text could not be kept, rather than reading on
      const boundary = 'bigform';
      const part = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
      const big = part('title', 'Big') + Array.from({ length: 100 }, (_, i) => part(`note${i}`, 'x'.repeat(60 * 1024))).join('') + `--${boundary}--\r\n`;
      const answer = await fetch(`${app.baseUrl}/app/support`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'sec-fetch-site': 'same-origin', accept: 'text/html' }, body: big });
      expect(answer.status).to.equal(401);
      expect(await answer.text()).to.include('What you typed in the form could not be kept');
    } finally {
      await s.context.close();
    }
  });
});
