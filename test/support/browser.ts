/**
 * A real browser for the page tests: Debian's Chromium driven by playwright-core (never `playwright install`).
 * One browser per mocha run, launched on first use; each test opens its own context (cookies, time zone).
 * `screenshotsOnFailure()` registers an afterEach hook that saves every page still open when a test fails
 * under test-results/ (git-ignored), named after the test.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { TestApp } from './app';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const RESULTS_DIR = path.resolve(__dirname, '..', '..', '..', 'test-results');

let launching: Promise<Browser> | undefined;
const open = new Set<Page>();

export function getBrowser(): Promise<Browser> {
  if (!launching) {
    if (!fs.existsSync(CHROMIUM_PATH)) {
      throw new Error(`no Chromium at ${CHROMIUM_PATH}: as root run 'npm run setup' (it runs apt-get install -y chromium), or set CHROMIUM_PATH`);
    }
    // --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start
    launching = chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'] });
    launching.catch(() => {
      launching = undefined;
    });
  }
  return launching;
}

export async function closeBrowser(): Promise<void> {
  const b = launching;
  launching = undefined;
  open.clear();
  if (b) await (await b).close().catch(() => undefined);
}

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
}

/** A fresh context (its own cookies) and page; the page is kept for a screenshot if the test fails. */
export async function newSession(opts: { baseURL: string; timezoneId?: string; locale?: string; viewport?: { width: number; height: number }; javaScriptEnabled?: boolean }): Promise<BrowserSession> {
  const browser = await getBrowser();
  const context = await browser.newContext({
    baseURL: opts.baseURL,
    timezoneId: opts.timezoneId ?? 'UTC',
    locale: opts.locale ?? 'en-US',
    ...(opts.viewport ? { viewport: opts.viewport } : {}),
    ...(opts.javaScriptEnabled === false ? { javaScriptEnabled: false } : {}),
  });
  const page = await context.newPage();
  open.add(page);
  page.on('close', () => open.delete(page));
  return { context, page };
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 120);

/** Registers (in the calling describe) a hook that screenshots every open page of a failed test. */
export function screenshotsOnFailure(): void {
  afterEach(async function () {
    const test = this.currentTest;
    if (!test || test.state !== 'failed') return;
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    let n = 0;
    for (const page of open) {
      if (page.isClosed()) continue;
      const file = path.join(RESULTS_DIR, `${safe(test.fullTitle())}-${++n}.png`);
      try {
        await page.screenshot({ path: file, fullPage: true });
        process.stderr.write(`[browser] screenshot of ${page.url()} saved to ${file}\n`);
      } catch (e) {
        process.stderr.write(`[browser] no screenshot of ${page.url()}: ${(e as Error).message}\n`);
      }
    }
  });
}

/** the sign-in emails already followed: a user signed in twice within a second must not be given the first link again */
const followedMails = new Set<string>();
const SIGN_IN_LINK = /https?:\/\/\S+\/app\/sign-in\/link\?token=[A-Za-z0-9_-]+/;

/**
 * Signs `page` in as `email` the way a user does: the sign-in form, the link from the email (read from the mail
 * catcher), the "Sign in" button. Returns the link.
 */
export async function signIn(app: TestApp, page: Page, email: string): Promise<string> {
  const asked = Date.now();
  await page.goto('/app/sign-in');
  await page.getByLabel('Email address').fill(email);
  await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  const mail = await app.stack.mailbox.waitFor((m) => m.to.includes(email) && m.subject.includes('sign-in link') && Date.parse(m.receivedAt) >= asked - 1000 && !followedMails.has(m.id));
  followedMails.add(mail.id);
  const link = mail.text.match(SIGN_IN_LINK)?.[0];
  expect(link, 'the sign-in link in the email').to.be.a('string');
  expect(link!.startsWith(app.baseUrl)).to.equal(true);
  await page.goto(link!);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/app(\/.*)?$/);
  return link!;
}
