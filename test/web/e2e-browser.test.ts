// The end-to-end browser client in Debian's Chromium, on a real server:
// sign-up (the warning before the account exists, the recovery code once),
// a second device, offline edits on two devices converging, export and
// import, recovery after every device is lost, the switch of a server-key
// account, the bundle under Subresource Integrity equal to the published
// release, and no plaintext typed in the browser in the server's database or
// logs; on SQLite and on PostgreSQL.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { E2E_CONTENT_SECURITY_POLICY } from '../../src/web/content-security-policy.ts';
import { publishedRelease } from '../../src/web/e2e/release.ts';
import * as core from '../../src/e2e-client/index.ts';
import { bearer, type Driver } from '../helpers/app.ts';
import { testDrivers } from '../http/support.ts';
import { assertHardenedPage, assertKeysNonExtractable, databaseCopy, type LiveApp, liveBrowser, openPage, screenshot, type WatchedPage } from './browser.ts';

const PASSWORD = 'a long and unusual e2e passphrase 17';
const NEW_PASSWORD = 'another long passphrase after recovery 23';
const SWITCH_PASSWORD = 'the switched account passphrase 31';
/** The switched account's end-to-end password (its server-key password is sent to the server by design). */
const SWITCH_E2E_PASSWORD = 'the end-to-end passphrase after the switch 47';
const RECOVERY_CODE = /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){7}$/;

/** Every plaintext typed into the browser: none may reach the server's storage or logs. */
const TYPED = {
  first: 'Plaintext one: the ocelot keeps a zeppelin diary 4417',
  second: 'Plaintext two: marmalade tastes of zeppelin rain',
  third: 'Plaintext three: nothing about airships, only quokkas',
  tag: 'tag-pumpernickel',
  edited: 'Edited on the second device: the ocelot prefers gyrocopters',
  offlineA: 'Offline on device A: the heron counts lanterns 5521',
  offlineB: 'Offline on device B: the ibis counts candles 6632',
  conflictA: 'Conflict side A: the kestrel migrates north',
  conflictB: 'Conflict side B: the kestrel stays home',
  imported: 'Imported in the browser: the tapir hums 9090',
  switched: 'Switched account memory: the narwhal paints 3131',
  afterReload: 'Saved after a reload: the gecko keeps a ledger 7272',
} as const;

// The whole journey on each storage driver: SQLite always, PostgreSQL when it answers (mandatory in CI).
for (const driver of await testDrivers('the end-to-end browser journey')) {
  journey(driver);
}

function journey(driver: Driver): void {
  /** The live app and Chromium of this driver's suite. */
  let running: { live: LiveApp; browser: Browser };
  const opened: WatchedPage[] = [];
  const secrets: string[] = [PASSWORD, NEW_PASSWORD, SWITCH_PASSWORD, SWITCH_E2E_PASSWORD];
  /** What the browser must never send: end-to-end passwords, recovery codes, data keys and what was typed into the e2e pages. */
  const neverSent: string[] = [PASSWORD, NEW_PASSWORD, SWITCH_E2E_PASSWORD];
  /** Every request any browser made: method, address and body. */
  const sent: string[] = [];


  async function device(): Promise<WatchedPage> {
    const watched = await openPage(running.browser, running.live.baseUrl);
    watched.context.on('request', (request) => sent.push(`${request.method()} ${request.url()}\n${request.postData() ?? ''}`));
    opened.push(watched);
    return watched;
  }

  async function visit(page: Page, url: string): Promise<void> {
    await assertHardenedPage(page, await page.goto(url), url.startsWith('/e2e/') || url === '/app/e2e-switch' ? E2E_CONTENT_SECURITY_POLICY : undefined);
  }

  /** The memories on the page, in the order shown. */
  async function shown(page: Page): Promise<string[]> {
    return page.locator('#memories li.memory p.content').allTextContents();
  }

  async function synced(page: Page): Promise<void> {
    await page.locator('#sync-status[data-state=synced]').waitFor();
  }

  async function addMemory(page: Page, content: string, tags = ''): Promise<void> {
    await page.fill('#content', content);
    await page.fill('#tags', tags);
    await page.click('#memory-form button[type=submit]');
    await page.locator('#memories li.memory p.content', { hasText: content }).first().waitFor();
  }

  async function editMemory(page: Page, from: string, to: string): Promise<void> {
    const item = page.locator('#memories li.memory', { hasText: from });
    await item.getByRole('button', { name: 'Edit' }).click();
    const editor = page.locator('#memories li[data-editing=true]');
    await editor.locator('textarea').fill(to);
    await editor.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('#memories li.memory p.content', { hasText: to }).first().waitFor();
  }

  async function readRecoveryCode(page: Page): Promise<string> {
    await page.locator('#recovery-code').waitFor();
    const code = (await page.textContent('#recovery-code'))!.trim();
    assert.match(code, RECOVERY_CODE);
    secrets.push(code, code.replaceAll('-', ''));
    neverSent.push(code, code.replaceAll('-', ''));
    await page.check('#recovery-saved');
    await Promise.all([page.waitForURL('**/e2e/app'), page.click('#recovery-continue')]);
    return code;
  }

  async function logIn(page: Page, email: string, password: string): Promise<void> {
    await visit(page, '/e2e/login');
    await page.fill('#email', email);
    await page.fill('#password', password);
    await Promise.all([page.waitForURL('**/e2e/app'), page.click('#login-form button[type=submit]')]);
    await synced(page);
  }

  /**
   * The account's data key K in the forms it could leak as (base64url, base64,
   * hex). The browser cannot tell it (it keeps only non-extractable keys), so
   * the test logs in once more with the client core in Node.
   */
  async function dataKeyForms(email: string, password: string): Promise<string[]> {
    const { dataKey } = await core.logIn(new core.E2eApi({ baseUrl: running.live.baseUrl }), { email, password, label: 'test' });
    const key = Buffer.from(dataKey);
    return [key.toString('base64url'), key.toString('base64'), key.toString('hex')];
  }

  function assertClean(watched: WatchedPage): void {
    assert.deepEqual(watched.dialogs, [], 'no dialog opened');
    assert.deepEqual(watched.consoleErrors, [], 'no console errors (CSP and SRI violations included)');
  }

  describe(`the end-to-end browser client in Chromium (${driver})`, { timeout: 10 * 60_000 }, () => {
    running = liveBrowser({ driver });

    const email = `e2e-${Date.now()}@example.com`;
    let a: WatchedPage;
    let b: WatchedPage;
    let recoveryCode: string;

    it('sign-up: the warning is on the page before the account exists, and the recovery code is shown once after', async () => {
      a = await device();
      await visit(a.page, '/e2e/signup');
      await screenshot(a.page, 'e2e-signup');
      assert.ok(await a.page.getByText('nobody can rescue this account').isVisible());
      assert.ok(await a.page.getByText('lose both and your memories are gone for good').isVisible());
      assert.equal(await running.live.test.store.findUserByEmail(email), null, 'no account yet while the warning is read');

      await a.page.fill('#email', email);
      await a.page.fill('#password', PASSWORD);
      await a.page.fill('#password-again', PASSWORD);
      await a.page.click('#signup-form button[type=submit]');
      assert.equal(await a.page.$eval('#understood', (box) => (box as HTMLInputElement).validity.valueMissing), true, 'the form is not sent until the box is ticked');
      assert.equal(await running.live.test.store.findUserByEmail(email), null);
      await a.page.check('#understood');
      await a.page.click('#signup-form button[type=submit]');
      await a.page.locator('#recovery').waitFor();
      await screenshot(a.page, 'e2e-recovery-code');
      assert.ok(await running.live.test.store.findUserByEmail(email), 'the account exists now');
      recoveryCode = await readRecoveryCode(a.page);
      await synced(a.page);
      neverSent.push(...(await dataKeyForms(email, PASSWORD)));
      assertClean(a);
    });

    it('the key is kept as non-extractable WebCrypto keys: script can use them, never export them, and they work after a reload', async () => {
      await assertKeysNonExtractable(a.page);
      await a.page.reload();
      await synced(a.page);
      await assertKeysNonExtractable(a.page);
      await addMemory(a.page, TYPED.afterReload);
      await synced(a.page);
      await a.page.reload();
      await synced(a.page);
      assert.deepEqual(await shown(a.page), [TYPED.afterReload]);
      const item = a.page.locator('#memories li.memory', { hasText: TYPED.afterReload });
      await item.getByRole('button', { name: 'Delete' }).click();
      await item.getByRole('button', { name: 'Confirm delete' }).click();
      await item.waitFor({ state: 'detached' });
      await synced(a.page);
      assertClean(a);
    });

    it('memories: create, list newest first, search with the same ranking as the server-key search', async () => {
      await addMemory(a.page, TYPED.first, TYPED.tag);
      await addMemory(a.page, TYPED.second);
      await addMemory(a.page, TYPED.third);
      await synced(a.page);
      assert.deepEqual(await shown(a.page), [TYPED.third, TYPED.second, TYPED.first]);
      assert.ok(await a.page.locator('.tag', { hasText: TYPED.tag }).isVisible());

      // The same three memories in a server-key account: its search ranks them in the same order.
      const signup = await running.live.test.app.inject({ method: 'POST', url: '/api/v1/accounts', payload: { email: `rank-${Date.now()}@example.com`, password: PASSWORD } });
      const apiKey = (signup.json() as { api_key: string }).api_key;
      for (const [content, tags] of [[TYPED.first, [TYPED.tag]], [TYPED.second, []], [TYPED.third, []]] as const) {
        await running.live.test.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(apiKey), payload: { content, tags } });
      }
      for (const query of ['zeppelin', 'zep ocelot', 'quokkas airships']) {
        const server = (await running.live.test.app.inject({ url: `/api/v1/memories/search?q=${encodeURIComponent(query)}`, headers: bearer(apiKey) })).json() as { results: Array<{ memory: { content: string } }> };
        await a.page.fill('#q', query);
        await a.page.click('#search-form button[type=submit]');
        await a.page.getByRole('heading', { name: `Results for “${query}”` }).waitFor();
        assert.deepEqual(await shown(a.page), server.results.map((r) => r.memory.content), `ranking of "${query}"`);
      }
      await a.page.click('#search-clear');
      assert.equal((await shown(a.page)).length, 3);
      assertClean(a);
    });

    it('a second device (another browser) logs in, sees the data and edits it; the first sees the edit', async () => {
      b = await device();
      await logIn(b.page, email, PASSWORD);
      await assertKeysNonExtractable(b.page);
      assert.deepEqual(await shown(b.page), [TYPED.third, TYPED.second, TYPED.first]);
      // A second tab of the same browser does not open a second copy of the replica.
      const tab = await b.context.newPage();
      await tab.goto('/e2e/app');
      await tab.getByText('open in another tab of this browser').waitFor();
      assert.equal(await tab.locator('fieldset:not([disabled])').count(), 0);
      await tab.close();
      await editMemory(b.page, TYPED.first, TYPED.edited);
      await synced(b.page);
      await a.page.reload();
      await synced(a.page);
      assert.ok((await shown(a.page)).includes(TYPED.edited));
      assert.ok(!(await shown(a.page)).includes(TYPED.first));
      assertClean(a);
      assertClean(b);
    });

    it('offline on both devices: edits queue as ciphertext in IndexedDB and converge after reconnecting, nothing lost', async () => {
      await a.context.setOffline(true);
      await b.context.setOffline(true);
      await addMemory(a.page, TYPED.offlineA);
      await addMemory(b.page, TYPED.offlineB);
      // Both edit the same memory: the later edit stays in place, the other is kept as a new memory tagged "conflict".
      await editMemory(a.page, TYPED.second, TYPED.conflictA);
      await editMemory(b.page, TYPED.second, TYPED.conflictB);
      await a.page.locator('#sync-status', { hasText: 'Offline' }).waitFor();
      for (const page of [a.page, b.page]) {
        const cached = await page.evaluate(async () => {
          const names = (await indexedDB.databases()).map((d) => d.name!);
          const dump: string[] = [];
          for (const name of names) {
            const db = await new Promise<IDBDatabase>((resolve, reject) => {
              const r = indexedDB.open(name);
              r.onsuccess = () => resolve(r.result);
              r.onerror = () => reject(r.error);
            });
            for (const store of db.objectStoreNames) {
              const all = await new Promise<unknown[]>((resolve, reject) => {
                const r = db.transaction(store).objectStore(store).getAll();
                r.onsuccess = () => resolve(r.result);
                r.onerror = () => reject(r.error);
              });
              dump.push(JSON.stringify(all));
            }
            db.close();
          }
          return dump.join('\n');
        });
        assert.match(cached, /gAAAAA/, 'the cache holds Fernet tokens');
        for (const text of Object.values(TYPED)) assert.ok(!cached.includes(text), 'IndexedDB holds no plaintext');
      }

      await a.context.setOffline(false);
      await synced(a.page);
      await b.context.setOffline(false);
      await synced(b.page);
      await a.page.reload();
      await synced(a.page);
      const onA = (await shown(a.page)).sort();
      const onB = (await shown(b.page)).sort();
      assert.deepEqual(onA, onB, 'both devices show the same memories');
      for (const text of [TYPED.offlineA, TYPED.offlineB, TYPED.conflictA, TYPED.conflictB, TYPED.edited, TYPED.third]) assert.ok(onA.includes(text), `kept: ${text}`);
      assert.equal(onA.length, 6);
      assertClean(a);
      assertClean(b);
    });

    it('delete on one device disappears on the other; export downloads a JSON file made in the browser; import adds memories', async () => {
      const item = b.page.locator('#memories li.memory', { hasText: TYPED.third });
      await item.getByRole('button', { name: 'Delete' }).click();
      await item.getByRole('button', { name: 'Confirm delete' }).click();
      await b.page.locator('#memories li.memory', { hasText: TYPED.third }).waitFor({ state: 'detached' });
      await synced(b.page);
      await a.page.reload();
      await synced(a.page);
      assert.ok(!(await shown(a.page)).includes(TYPED.third));

      const [download] = await Promise.all([a.page.waitForEvent('download'), a.page.click('#export')]);
      const exported = JSON.parse(readFileSync((await download.path())!, 'utf8'));
      assert.equal(exported.format, 'anamnesis-json-export');
      assert.deepEqual(exported.memories.map((m: { content: string }) => m.content).sort(), (await shown(a.page)).sort());

      const file = { format: 'anamnesis-json-export', version: 'v1', user_id: 'x', exported_at: new Date().toISOString(), memories: [{ id: 'imported-1', content: TYPED.imported, tags: ['imported'], created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z' }], entities: [], relations: [], unreadable: [] };
      await a.page.setInputFiles('#import-file', { name: 'export.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(file)) });
      await a.page.click('#import-form button[type=submit]');
      await a.page.getByText('Imported 1 memories').waitFor();
      await synced(a.page);
      await b.page.reload();
      await synced(b.page);
      assert.ok((await shown(b.page)).includes(TYPED.imported));
      assertClean(a);
      assertClean(b);
    });

    it('recovery after every device is lost: the code opens the data in a new browser, with a new password and a new code', async () => {
      const before = (await shown(a.page)).sort();
      for (const watched of opened.splice(0)) await watched.context.close();
      const c = await device();
      await visit(c.page, '/e2e/recover');
      await c.page.fill('#email', email);
      await c.page.fill('#code', recoveryCode.toLowerCase().replaceAll('-', ''));
      await c.page.fill('#password', NEW_PASSWORD);
      await c.page.fill('#password-again', NEW_PASSWORD);
      await c.page.click('#recover-form button[type=submit]');
      const newCode = await readRecoveryCode(c.page);
      assert.notEqual(newCode, recoveryCode);
      await synced(c.page);
      assert.deepEqual((await shown(c.page)).sort(), before);

      // The old password no longer opens the account; the new one does.
      const d = await device();
      await visit(d.page, '/e2e/login');
      await d.page.fill('#email', email);
      await d.page.fill('#password', PASSWORD);
      await d.page.click('#login-form button[type=submit]');
      await d.page.locator('#live.error').waitFor();
      assert.ok(d.page.url().endsWith('/e2e/login'));
      await logIn(d.page, email, NEW_PASSWORD);
      await assertKeysNonExtractable(d.page);
      assert.deepEqual((await shown(d.page)).sort(), before);
      assertClean(c);

      // Two cached records swapped (as a server or anyone with the profile could): the browser refuses to show either.
      await c.page.evaluate(async () => {
        const db = await new Promise<IDBDatabase>((resolve, reject) => {
          const r = indexedDB.open('anamnesis-e2e');
          r.onsuccess = () => resolve(r.result);
          r.onerror = () => reject(r.error);
        });
        const rows = await new Promise<Array<{ id: string; token: string }>>((resolve, reject) => {
          const r = db.transaction('rows').objectStore('rows').getAll();
          r.onsuccess = () => resolve(r.result);
          r.onerror = () => reject(r.error);
        });
        const [x, y] = rows.filter((row) => row.id !== '_manifest');
        const tx = db.transaction('rows', 'readwrite');
        tx.objectStore('rows').put({ ...x!, token: y!.token }, x!.id);
        tx.objectStore('rows').put({ ...y!, token: x!.token }, y!.id);
        await new Promise((resolve) => (tx.oncomplete = resolve));
        db.close();
      });
      await c.page.reload();
      await c.page.getByText('could not be opened and checked').waitFor();
      assert.deepEqual(await shown(c.page), [], 'nothing from the tampered copy is shown');

      // Logging out erases this browser's key, token and cache, and ends the session on the server.
      await Promise.all([d.page.waitForURL('**/e2e/login'), d.page.click('[data-e2e-logout]')]);
      assert.deepEqual(await d.page.evaluate(async () => (await indexedDB.databases()).map((db) => db.name)), []);
      await d.page.goto('/e2e/app');
      await d.page.waitForURL('**/e2e/login');
    });

    it('switch of a server-key account: the browser re-encrypts every record, they read back, and the old API key stops working', async () => {
      const s = await device();
      const switchEmail = `switch-${Date.now()}@example.com`;
      await visit(s.page, '/signup');
      await s.page.fill('#email', switchEmail);
      await s.page.fill('#password', SWITCH_PASSWORD);
      await Promise.all([s.page.waitForNavigation(), s.page.click('form[action="/signup"] button[type=submit]')]);
      const apiKey = (await s.page.textContent('[data-testid=api-key]'))!.trim();
      secrets.push(apiKey);
      for (const content of [TYPED.switched, `${TYPED.switched} (second)`]) {
        const created = await running.live.test.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(apiKey), payload: { content, tags: ['switched'] } });
        assert.equal(created.statusCode, 201);
      }

      await visit(s.page, '/app/account');
      await Promise.all([s.page.waitForURL('**/app/e2e-switch'), s.page.click('a[href="/app/e2e-switch"]')]);
      await assertHardenedPage(s.page, await s.page.reload(), E2E_CONTENT_SECURITY_POLICY);
      assert.ok(await s.page.getByText('Old backups stay readable by the old key.').isVisible());
      await screenshot(s.page, 'e2e-switch');
      await s.page.fill('#password', SWITCH_E2E_PASSWORD);
      await s.page.fill('#password-again', SWITCH_E2E_PASSWORD);
      await s.page.check('#understood');
      await s.page.click('#switch-form button[type=submit]');
      await readRecoveryCode(s.page);
      await synced(s.page);
      assert.deepEqual((await shown(s.page)).sort(), [TYPED.switched, `${TYPED.switched} (second)`].sort());
      await screenshot(s.page, 'e2e-memories');

      const old = await running.live.test.app.inject({ url: '/api/v1/memories', headers: bearer(apiKey) });
      assert.equal(old.statusCode, 401, 'the old API key opens nothing');

      // Thousands of memories stay quick: a hundred are listed, then a hundred more at a time.
      const filler = Array.from({ length: 150 }, (_, i) => ({ id: `filler-${i}`, content: `Older note ${i}`, tags: [], created_at: '2025-01-01T00:00:00.000Z', updated_at: '2025-01-01T00:00:00.000Z' }));
      const file = { format: 'anamnesis-json-export', version: 'v1', user_id: 'x', exported_at: new Date().toISOString(), memories: filler, entities: [], relations: [], unreadable: [] };
      await s.page.setInputFiles('#import-file', { name: 'export.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(file)) });
      await s.page.click('#import-form button[type=submit]');
      await s.page.getByText('Imported 150 memories').waitFor();
      assert.equal((await shown(s.page)).length, 100);
      await s.page.getByRole('button', { name: 'Show more (52 older)' }).click();
      assert.equal((await shown(s.page)).length, 152);
      assert.ok(await s.page.locator('#show-more').isHidden());

      // Deleting the account from the browser removes it from the server and this browser.
      await s.page.fill('#delete-confirm', 'delete');
      await Promise.all([s.page.waitForURL('**/e2e/signup'), s.page.click('#delete-account-form button[type=submit]')]);
      assert.equal(await running.live.test.store.findUserByEmail(switchEmail), null);
      assert.deepEqual(await s.page.evaluate(async () => (await indexedDB.databases()).map((db) => db.name)), []);
      assertClean(s);
    });

    it('without the bundle (JavaScript off) nothing on these pages can be sent, least of all a password', async () => {
      const context = await running.browser.newContext({ baseURL: running.live.baseUrl, javaScriptEnabled: false });
      const page = await context.newPage();
      for (const url of ['/e2e/signup', '/e2e/login', '/e2e/recover', '/e2e/app', '/e2e/graph']) {
        await page.goto(url);
        assert.match(await page.locator('noscript').innerHTML(), /it needs JavaScript/, `${url} says why`);
        assert.equal(await page.locator('fieldset:not([disabled])').count(), 0, `${url}: every form is disabled`);
        assert.equal(await page.locator('form[action], form[method]').count(), 0, `${url}: no form names a target to send to`);
      }
      await context.close();
    });

    it('the page runs the published bundle: its SRI matches the served file, whose hash is the release hash', async () => {
      const p = await device();
      const response = await p.page.goto('/e2e/login');
      assert.equal(response!.headers()['content-security-policy'], E2E_CONTENT_SECURITY_POLICY);
      const { src, integrity } = await p.page.evaluate(() => {
        const script = document.querySelector('script[src]') as HTMLScriptElement;
        return { src: script.src, integrity: script.integrity };
      });
      const body = await (await p.page.request.get(src)).body();
      assert.equal(integrity, `sha384-${createHash('sha384').update(body).digest('base64')}`);
      const release = publishedRelease();
      assert.equal(createHash('sha256').update(body).digest('hex'), release.bundle.sha256, 'the served bundle is the published release');
      assert.equal(new URL(src).pathname, `/assets/${release.bundle.file}`);
      const published = (await (await p.page.request.get('/security/web-release.json')).json()) as { published: unknown };
      assert.deepEqual(published.published, release);
    });

    it('no request any browser sent held a password, a recovery code, the data key or a memory typed on the end-to-end pages', () => {
      assert.ok(sent.length > 50, 'the requests were recorded');
      const traffic = sent.join('\n');
      assert.match(traffic, /gAAAAA/, 'records went out as Fernet tokens');
      assert.ok(traffic.includes(JSON.stringify(email)), 'control: what is sent in the clear (the email) is found');
      const typedOnE2e = Object.entries(TYPED).filter(([name]) => name !== 'switched').map(([, text]) => text);
      for (const text of [...neverSent, ...typedOnE2e]) assert.ok(!traffic.includes(text), 'nothing secret or plaintext in the traffic');
    });

    it("the server's database and logs hold none of the plaintext typed in the browser, nor any password or recovery code", () => {
      const stored = databaseCopy(running.live.test);
      assert.ok(stored.some((bytes) => bytes.includes('gAAAAA')), 'control: the copy holds the records, as Fernet tokens');
      const logs = running.live.test.logs.join('\n');
      for (const text of [...Object.values(TYPED), ...secrets]) {
        const needle = Buffer.from(text);
        for (const bytes of stored) assert.equal(bytes.indexOf(needle), -1, 'no plaintext in the database files');
        assert.ok(!logs.includes(text), 'no plaintext in the logs');
      }
    });
  });
}
