// Browser-test support: the real app listening on 127.0.0.1 (port 0) and
// Debian's Chromium driven by playwright-core (never a browser download).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page, type Response } from 'playwright-core';
import { CONTENT_SECURITY_POLICY } from '../../src/web/content-security-policy.ts';
import { type Driver, makeTestApp, type TestApp } from '../helpers/app.ts';

export const SCREENSHOT_DIR = path.resolve('test-artifacts/screenshots');

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface LiveApp {
  test: TestApp;
  baseUrl: string;
  close(): Promise<void>;
}

export async function startLiveApp(options: { rateLimitFactor?: number; driver?: Driver } = {}): Promise<LiveApp> {
  const test = await makeTestApp({ logLevel: 'info', ...options });
  const address = await test.app.listen({ host: '127.0.0.1', port: 0 });
  return { test, baseUrl: address, close: () => test.close() };
}

/**
 * A live app and Chromium for the enclosing suite: started before its tests,
 * closed after them. Read `.live` and `.browser` inside the tests.
 */
export function liveBrowser(options: Parameters<typeof startLiveApp>[0] = {}): { live: LiveApp; browser: Browser } {
  const state = {} as { live: LiveApp; browser: Browser };
  before(async () => {
    state.live = await startLiveApp(options);
    state.browser = await launchChromium();
  });
  after(async () => {
    await state.browser?.close();
    await state.live?.close();
  });
  return state;
}

/**
 * A fresh browser profile that records every dialog (alert, confirm) and
 * every console error, so tests can assert none happened.
 */
export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  dialogs: string[];
  consoleErrors: string[];
}

export async function openPage(browser: Browser, baseUrl: string, viewport = { width: 1200, height: 900 }): Promise<WatchedPage> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport, acceptDownloads: true, reducedMotion: 'reduce' });
  const page = await context.newPage();
  const dialogs: string[] = [];
  const consoleErrors: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('console', (message) => {
    // A refused form answers 4xx on purpose, which Chromium reports as a failed load; sub-resources are checked below.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) consoleErrors.push(message.text());
  });
  page.on('response', (response) => {
    if (response.request().resourceType() !== 'document' && response.status() >= 400) consoleErrors.push(`${response.status()} ${response.url()}`);
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  return { context, page, dialogs, consoleErrors };
}

/** Every HTML page: the strict CSP (or the end-to-end pages' one) and framing headers, and no script except same-origin files. */
export async function assertHardenedPage(page: Page, response: Response | null, policy = CONTENT_SECURITY_POLICY): Promise<void> {
  assert.ok(response, 'the navigation has a response');
  const headers = response.headers();
  assert.equal(headers['content-security-policy'], policy);
  assert.equal(headers['x-frame-options'], 'DENY');
  assert.equal(headers['referrer-policy'], 'no-referrer');
  const found = await page.evaluate(() => ({
    inlineScripts: document.querySelectorAll('script:not([src])').length,
    foreignScripts: [...document.querySelectorAll('script[src]')].filter((s) => new URL((s as HTMLScriptElement).src).origin !== location.origin).length,
    handlerAttributes: [...document.querySelectorAll('*')].flatMap((el) => [...el.attributes].filter((a) => a.name.startsWith('on')).map((a) => a.name)),
    styleAttributes: document.querySelectorAll('[style]').length,
    javascriptUrls: [...document.querySelectorAll('[href],[src],[action]')].filter((el) => /^\s*javascript:/i.test(el.getAttribute('href') ?? el.getAttribute('src') ?? el.getAttribute('action') ?? '')).length,
  }));
  assert.deepEqual(found, { inlineScripts: 0, foreignScripts: 0, handlerAttributes: [], styleAttributes: 0, javascriptUrls: 0 });
}

/**
 * Everything the app's database holds, as an attacker with a copy would read
 * it: the SQLite files (database, WAL) byte for byte, or a pg_dump of the
 * PostgreSQL schema.
 */
export function databaseCopy(test: TestApp): Buffer[] {
  if (test.dataDir) return readdirSync(test.dataDir).map((file) => readFileSync(path.join(test.dataDir!, file)));
  const dump = execFileSync(process.env.PG_DUMP ?? 'pg_dump', ['--dbname', test.postgres!.url, '--schema', test.postgres!.schema], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
  return [dump];
}

/**
 * What this browser keeps of the key in IndexedDB: for each stored value that
 * is a CryptoKey, its algorithm, whether it is extractable and whether
 * exportKey (raw and JWK) refused it; and every stored value's type, so raw
 * bytes anywhere in the device state would show.
 */
async function storedKeys(page: Page): Promise<{ fields: Record<string, string>; keys: Array<{ name: string; algorithm: string; extractable: boolean; exportRefused: boolean }> }> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('anamnesis-e2e');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const state = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const r = db.transaction('device').objectStore('device').get('current');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    db.close();
    const fields: Record<string, string> = {};
    const keys = [];
    // (No helper function here: the test's compiler would name it with a helper the page does not have.)
    const values: Array<[string, unknown]> = Object.entries(state);
    for (const [name, value] of Object.entries((state.keys ?? {}) as Record<string, unknown>)) values.push([`keys.${name}`, value]);
    for (const [name, value] of values) fields[name] = value instanceof CryptoKey ? 'CryptoKey' : value instanceof Uint8Array || value instanceof ArrayBuffer ? 'bytes' : typeof value;
    for (const [name, key] of values) {
      if (!(key instanceof CryptoKey)) continue;
      let refused = 0;
      for (const format of ['raw', 'jwk'] as const) {
        try {
          await crypto.subtle.exportKey(format, key);
        } catch {
          refused += 1;
        }
      }
      keys.push({ name: name.slice('keys.'.length), algorithm: key.algorithm.name, extractable: key.extractable, exportRefused: refused === 2 });
    }
    return { fields, keys };
  });
}

export async function assertKeysNonExtractable(page: Page): Promise<void> {
  const stored = await storedKeys(page);
  assert.deepEqual(stored.fields, { userId: 'string', email: 'string', token: 'string', keys: 'object', 'keys.signing': 'CryptoKey', 'keys.encryption': 'CryptoKey', 'keys.manifest': 'CryptoKey' }, 'only non-extractable keys, no key bytes, are stored');
  assert.deepEqual(stored.keys, [
    { name: 'signing', algorithm: 'HMAC', extractable: false, exportRefused: true },
    { name: 'encryption', algorithm: 'AES-CBC', extractable: false, exportRefused: true },
    { name: 'manifest', algorithm: 'HMAC', extractable: false, exportRefused: true },
  ]);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}
