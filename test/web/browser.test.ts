// The web app in a real browser (Debian's Chromium through playwright-core):
// the whole journey from sign-up to account deletion, the locked-session
// flow, escaping, keyboard-only use, CSP on every page, and screenshots of
// each main page under test-artifacts/screenshots/.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { bearer, signUp } from '../helpers/app.ts';
import { assertHardenedPage, launchChromium, type LiveApp, openPage, screenshot, startLiveApp, type WatchedPage } from './browser.ts';

const PASSWORD = 'a long and unusual passphrase 42';
const IMG = '<img src=x onerror=alert(1)>';
const SCRIPT = '</script><script>alert(1)</script>';

let live: LiveApp;
let browser: Browser;

before(async () => {
  live = await startLiveApp();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await live?.close();
});

/** Navigates and checks the page's headers and markup on the way. */
async function visit(page: Page, url: string): Promise<void> {
  await assertHardenedPage(page, await page.goto(url));
}

/** Submits by clicking and checks the page the form led to. */
async function submit(page: Page, selector: string): Promise<void> {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  await assertHardenedPage(page, response);
}

async function api(path: string, apiKey: string, init: { method?: string; body?: unknown } = {}) {
  return live.test.app.inject({ method: (init.method ?? 'GET') as 'GET', url: path, headers: bearer(apiKey), ...(init.body !== undefined ? { payload: init.body as object } : {}) });
}

async function signUpInBrowser(page: Page, email: string): Promise<string> {
  await visit(page, '/signup');
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await submit(page, 'form[action="/signup"] button[type=submit]');
  return (await page.textContent('[data-testid=api-key]'))!.trim();
}

async function addMemory(page: Page, content: string, tags: string): Promise<void> {
  await page.fill('#content', content);
  await page.fill('#tags', tags);
  await submit(page, 'form[action="/app/memories"] button[type=submit]');
}

function assertClean(watched: WatchedPage): void {
  assert.deepEqual(watched.dialogs, [], 'no dialog opened');
  assert.deepEqual(watched.consoleErrors, [], 'no console errors (CSP violations included)');
}

// A bound that exists only to turn a hang into a failure (the journey takes
// seconds; CI must not spend its whole budget waiting on a stuck browser).
describe('the web app in Chromium', { timeout: 10 * 60_000 }, () => {
  it('whole journey: sign-up, memories, graph import, exports, sessions, rotation, account deletion', async () => {
    const main = await openPage(browser, live.baseUrl);
    const { page, context } = main;
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    const email = `journey-${Date.now()}@example.com`;

    await visit(page, '/');
    await screenshot(page, 'home');
    await visit(page, '/security');
    assert.ok(await page.getByText(`Node.js ${process.versions.node}`).isVisible());
    await screenshot(page, 'security');
    await visit(page, '/signup');
    await screenshot(page, 'signup');

    // Sign-up shows the key once, with the warning and a working copy button.
    const apiKey = await signUpInBrowser(page, email);
    assert.match(apiKey, /^anm_[A-Za-z0-9_-]{43}$/);
    assert.ok(await page.getByText('It is the only way to decrypt your memory').isVisible());
    await page.click('button[data-copy-target=api-key]');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), apiKey);
    await screenshot(page, 'signup-key');
    await visit(page, '/app');
    assert.ok(!(await page.content()).includes(apiKey), 'the key is not shown again');

    // Create, edit, delete (with its confirmation page).
    await addMemory(page, 'Prefers green tea in the afternoon.', 'preferences, drinks');
    await addMemory(page, 'Project Atlas ships on 14 March.\nMaria leads the backend.', 'work, atlas');
    await addMemory(page, 'A memory to delete', 'temporary');
    assert.ok(await page.getByText('Memory saved.').isVisible());
    await submit(page, 'li.memory:has-text("Prefers green tea") >> a:text-is("Edit")');
    assert.equal(await page.inputValue('#tags'), 'preferences, drinks');
    await page.fill('#content', 'Prefers jasmine tea in the afternoon.');
    await submit(page, 'form[action^="/app/memories/"] button[type=submit]');
    assert.ok(await page.getByText('Memory updated.').isVisible());
    assert.ok(await page.getByText('Prefers jasmine tea in the afternoon.').isVisible());
    await submit(page, 'li.memory:has-text("A memory to delete") >> a:text-is("Delete")');
    assert.ok(await page.getByRole('heading', { name: 'Delete this memory?' }).isVisible());
    await submit(page, 'button:has-text("Delete memory")');
    assert.ok(await page.getByText('Memory deleted.').isVisible());
    assert.equal(await page.getByText('A memory to delete').count(), 0);
    assert.equal((await api('/api/v1/memories', apiKey)).json().items.length, 2);

    // Search and tag filter.
    await page.fill('#q', 'jasmine');
    await submit(page, 'form[role=search] button');
    assert.deepEqual(await page.locator('li.memory .content').allTextContents(), ['Prefers jasmine tea in the afternoon.']);
    await visit(page, '/app');
    await submit(page, 'a.tag:text-is("atlas")');
    assert.match(page.url(), /tag=atlas/);
    assert.deepEqual(await page.locator('li.memory .content').allTextContents(), ['Project Atlas ships on 14 March.\nMaria leads the backend.']);

    // Pagination: 25 more memories make two pages with nothing repeated or lost.
    for (let i = 1; i <= 25; i++) assert.equal((await api('/api/v1/memories', apiKey, { method: 'POST', body: { content: `numbered memory ${i}`, tags: ['bulk'] } })).statusCode, 201);
    await visit(page, '/app');
    await screenshot(page, 'app');
    const firstPage = await page.locator('li.memory .content').allTextContents();
    assert.equal(firstPage.length, 20);
    await submit(page, 'a[rel=next]');
    const secondPage = await page.locator('li.memory .content').allTextContents();
    assert.equal(secondPage.length, 7);
    assert.equal(new Set([...firstPage, ...secondPage]).size, 27);
    assert.equal(await page.locator('a[rel=next]').count(), 0);

    // Import a reference memory.jsonl through the file picker, with one bad line; the progress shows while it runs.
    const lines = [
      ...Array.from({ length: 55 }, (_, i) => ({ type: 'entity', name: `Person ${i + 1}`, entityType: 'person', observations: [`likes number ${i + 1}`] })),
      { type: 'entity', name: 'Anamnesis', entityType: 'project', observations: ['encrypted memory', 'written in TypeScript'] },
      { type: 'relation', from: 'Person 1', to: 'Anamnesis', relationType: 'works_on' },
      { type: 'relation', from: 'Person 2', to: 'Person 1', relationType: 'knows' },
    ].map((line) => JSON.stringify(line));
    lines.splice(3, 0, '{this line is not json');
    await visit(page, '/app/data');
    await page.setInputFiles('#file', { name: 'memory.jsonl', mimeType: 'application/x-ndjson', buffer: Buffer.from(lines.join('\n')) });
    await page.waitForFunction(() => (document.getElementById('jsonl') as HTMLTextAreaElement).value.length > 0);
    let releaseImport!: () => void;
    const importHeld = new Promise<void>((resolve) => (releaseImport = resolve));
    await page.route('**/app/data/import', async (route) => {
      await importHeld;
      await route.continue();
    });
    // Released whatever happens: a failed check must fail the test, not leave
    // the held request (and with it closing the browser) waiting for ever.
    const navigated = page.waitForNavigation();
    navigated.catch(() => undefined); // awaited below; a failure before then should report itself, not this
    try {
      // Submitted and read in one evaluation: the submit handler shows the
      // progress synchronously, and a later evaluation would wait for the new
      // document of the navigation this test is holding back.
      const progress = await page.evaluate(() => {
        const form = document.querySelector<HTMLFormElement>('form[action="/app/data/import"]')!;
        form.querySelector<HTMLButtonElement>('button[type=submit]')!.click();
        const panel = form.querySelector<HTMLElement>('.progress')!;
        return { hidden: panel.hidden, status: panel.querySelector('[data-status]')!.textContent };
      });
      assert.equal(progress.hidden, false);
      assert.match(progress.status!, /^Importing 59 records… \d+ s elapsed/);
    } finally {
      releaseImport();
    }
    await assertHardenedPage(page, await navigated);
    await page.unroute('**/app/data/import');
    const result = (await page.textContent('#live'))!;
    assert.match(result, /Imported 56 entities, 2 relations/);
    assert.match(result, /Line 4: not JSON/);
    await screenshot(page, 'import-result');

    // The graph, page by page (50 per page), and searched.
    await visit(page, '/app/graph');
    assert.equal(await page.locator('li.entity').count(), 50);
    await screenshot(page, 'graph');
    await submit(page, 'a[rel=next]');
    assert.equal(await page.locator('li.entity').count(), 6);
    assert.ok(await page.getByText('written in TypeScript').isVisible());
    assert.equal(await page.locator('li.relation').count(), 2);
    await page.fill('#graph-q', 'Anamnesis');
    await submit(page, 'form[role=search] button');
    assert.deepEqual(await page.locator('li.entity h3').allTextContents(), ['Anamnesis']);
    assert.deepEqual((await page.locator('li.relation').allTextContents()).map((s) => s.replace(/\s+/g, ' ').trim()), ['Person 1 — works_on → Anamnesis']);

    // Both exports download and hold what we stored.
    await visit(page, '/app/data');
    const [encrypted] = await Promise.all([page.waitForEvent('download'), page.click('text=Download encrypted export')]);
    const encryptedLines = readFileSync((await encrypted.path())!, 'utf8').trim().split('\n');
    const header = JSON.parse(encryptedLines[0]!);
    assert.equal(header.format, 'anamnesis-encrypted-export');
    assert.equal(encryptedLines.length - 1, 27 + 56 + 2);
    for (const line of encryptedLines.slice(1)) assert.match(JSON.parse(line).token, /^gAAAAA/);
    assert.ok(!encryptedLines.join('\n').includes('jasmine'), 'the encrypted export holds no plaintext');
    const [plain] = await Promise.all([page.waitForEvent('download'), page.click('text=Download plaintext JSON')]);
    const plainExport = JSON.parse(readFileSync((await plain.path())!, 'utf8'));
    assert.ok(plainExport.memories.some((m: { content: string }) => m.content === 'Prefers jasmine tea in the afternoon.'));
    assert.equal(plainExport.entities.length, 56);

    // Sessions: a second browser logs in (locked); the first revokes it.
    const second = await openPage(browser, live.baseUrl);
    await visit(second.page, '/login');
    await second.page.fill('#email', email);
    await second.page.fill('#password', PASSWORD);
    await submit(second.page, 'form[action="/login"] button[type=submit]');
    assert.match(second.page.url(), /\/unlock$/);
    await visit(page, '/app/sessions');
    assert.equal(await page.locator('tbody tr').count(), 2);
    await screenshot(page, 'sessions');
    await submit(page, 'tbody tr:has-text("Locked") button:has-text("Revoke")');
    assert.ok(await page.getByText('Session revoked.').isVisible());
    assert.equal(await page.locator('tbody tr').count(), 1);
    await second.page.goto('/app');
    assert.match(second.page.url(), /\/login$/);
    assertClean(second);
    await second.context.close();

    // Rotation: the new key is shown while the old still works; a wrong paste changes nothing; then the switch.
    await visit(page, '/app/key');
    await submit(page, 'form[action="/app/key/rotate"] button');
    const newKey = (await page.textContent('[data-testid=api-key]'))!.trim();
    assert.match(newKey, /^anm_/);
    assert.notEqual(newKey, apiKey);
    assert.ok(await page.getByText('Re-encrypt my memories and switch keys').isVisible());
    await screenshot(page, 'key-rotation');
    assert.equal((await api('/api/v1/memories', apiKey)).statusCode, 200, 'the old key works until confirmed');
    await page.fill('#new_key', apiKey);
    await submit(page, 'form[action="/app/key/confirm"] button[type=submit]');
    assert.match((await page.textContent('#live'))!, /Nothing changed: your memories are still under your current key, which still works\. This is not the new key shown on the previous page\./);
    assert.equal((await api('/api/v1/memories', apiKey)).statusCode, 200);
    await page.fill('#new_key', newKey);
    await submit(page, 'form[action="/app/key/confirm"] button[type=submit]');
    assert.match((await page.textContent('#live'))!, /85 records were re-encrypted under the new key/);
    assert.equal((await api('/api/v1/memories', apiKey)).statusCode, 401, 'the old key is refused');
    const afterRotation = await api('/api/v1/memories/search?q=jasmine', newKey);
    assert.equal(afterRotation.json().results[0].memory.content, 'Prefers jasmine tea in the afternoon.');
    await visit(page, '/app?q=jasmine');
    assert.match(page.url(), /\/app\?q=jasmine$/, 'this browser stays unlocked');
    assert.ok(await page.getByText('Prefers jasmine tea in the afternoon.').isVisible());

    // Log out, log in again and unlock with the new key.
    await submit(page, 'form[action="/logout"] button');
    assert.ok(await page.getByText('You are logged out.').isVisible());
    await page.fill('#email', email);
    await page.fill('#password', PASSWORD);
    await submit(page, 'form[action="/login"] button[type=submit]');
    await page.fill('#api_key', newKey);
    await submit(page, 'form[action="/unlock"] button[type=submit]');
    assert.match(page.url(), /\/app$/);

    // Account deletion: a wrong password is refused; the right one deletes everything; log-in then fails.
    await visit(page, '/app/account');
    await screenshot(page, 'account');
    await page.fill('#delete-password', 'not my password at all');
    await submit(page, 'form[action="/app/account/delete"] button');
    assert.match((await page.textContent('#live'))!, /The password is not right\./);
    await page.fill('#delete-password', PASSWORD);
    await submit(page, 'form[action="/app/account/delete"] button');
    assert.ok(await page.getByRole('heading', { name: 'Account deleted' }).isVisible());
    assert.equal((await api('/api/v1/memories', newKey)).statusCode, 401);
    await visit(page, '/login');
    await page.fill('#email', email);
    await page.fill('#password', PASSWORD);
    await submit(page, 'form[action="/login"] button[type=submit]');
    assert.match((await page.textContent('#live'))!, /The email or password is not right\./);
    assertClean(main);
    await context.close();
    // Everything above went through the server: its log lines hold metadata only.
    const logs = live.test.logs.join('\n');
    for (const secret of [apiKey, newKey, PASSWORD, 'jasmine', 'likes number']) assert.ok(!logs.includes(secret), 'no secret or content in the logs');
  });

  it('locked session: log in, the dashboard sends you to unlock, a wrong key is refused, the right one unlocks', async () => {
    const user = await signUp(live.test.app, { password: PASSWORD });
    await api('/api/v1/memories', user.apiKey, { method: 'POST', body: { content: 'visible once unlocked' } });
    const watched = await openPage(browser, live.baseUrl);
    const { page } = watched;
    await visit(page, '/login');
    await screenshot(page, 'login');
    await page.fill('#email', user.email);
    await page.fill('#password', PASSWORD);
    await submit(page, 'form[action="/login"] button[type=submit]');
    assert.match(page.url(), /\/unlock$/);
    await page.goto('/app');
    assert.match(page.url(), /\/unlock$/, 'a locked session cannot see the dashboard');
    await screenshot(page, 'unlock');
    await page.fill('#api_key', `anm_${'A'.repeat(43)}`);
    await submit(page, 'form[action="/unlock"] button[type=submit]');
    assert.match((await page.textContent('#live'))!, /This is not the current API key of this account\./);
    await page.fill('#api_key', user.apiKey);
    await submit(page, 'form[action="/unlock"] button[type=submit]');
    assert.match(page.url(), /\/app$/);
    assert.ok(await page.getByText('visible once unlocked').isVisible());
    assertClean(watched);
    await watched.context.close();
  });

  it('shows hostile memories, tags, entities and observations as literal text and runs nothing', async () => {
    const user = await signUp(live.test.app, { password: PASSWORD });
    await api('/api/v1/memories', user.apiKey, { method: 'POST', body: { content: `${IMG} ${SCRIPT}`, tags: [IMG, SCRIPT] } });
    const jsonl = [
      JSON.stringify({ type: 'entity', name: IMG, entityType: SCRIPT, observations: [SCRIPT, IMG] }),
      JSON.stringify({ type: 'entity', name: 'Plain', entityType: 'thing', observations: [] }),
      JSON.stringify({ type: 'relation', from: IMG, to: 'Plain', relationType: SCRIPT }),
    ].join('\n');
    await live.test.app.inject({ method: 'POST', url: '/api/v1/import?format=mcp-memory-jsonl', headers: { ...bearer(user.apiKey), 'content-type': 'application/x-ndjson' }, payload: jsonl });
    const watched = await openPage(browser, live.baseUrl);
    const { page } = watched;
    await visit(page, '/login');
    await page.fill('#email', user.email);
    await page.fill('#password', PASSWORD);
    await submit(page, 'form[action="/login"] button[type=submit]');
    await page.fill('#api_key', user.apiKey);
    await submit(page, 'form[action="/unlock"] button[type=submit]');

    for (const url of ['/app', `/app?${new URLSearchParams({ tag: IMG })}`, `/app?${new URLSearchParams({ q: 'alert', tag: SCRIPT })}`, '/app/graph', `/app/graph?${new URLSearchParams({ q: SCRIPT })}`]) {
      await visit(page, url);
      assert.equal(await page.locator('main img, main script').count(), 0, `${url}: no element made from data`);
      assert.ok((await page.locator('main').innerText()).includes(IMG), `${url}: the text is shown literally`);
    }
    assert.ok(await page.getByText(SCRIPT, { exact: true }).first().isVisible());
    await visit(page, '/app');
    await submit(page, 'li.memory >> a:text-is("Edit")');
    assert.equal(await page.inputValue('#content'), `${IMG} ${SCRIPT}`);
    assert.equal(await page.inputValue('#tags'), `${IMG}, ${SCRIPT}`);
    assertClean(watched);
    await watched.context.close();
  });

  it('works with the keyboard alone: skip link, sign-up, log-in and creating a memory', async () => {
    const watched = await openPage(browser, live.baseUrl);
    const { page } = watched;
    const focusedId = () => page.evaluate(() => document.activeElement?.id ?? '');
    const tabUntil = async (id: string) => {
      for (let presses = 0; presses < 40; presses++) {
        if ((await focusedId()) === id) return;
        await page.keyboard.press('Tab');
      }
      assert.fail(`Tab never reached #${id}`);
    };
    const enterAndWait = async () => {
      const [response] = await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
      await assertHardenedPage(page, response);
    };

    await visit(page, '/signup');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal(await focusedId(), 'main');

    const email = `keys-${Date.now()}@example.com`;
    await tabUntil('email');
    await page.keyboard.type(email);
    await page.keyboard.press('Tab');
    assert.equal(await focusedId(), 'password', 'the password follows the email');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => (document.activeElement as HTMLButtonElement).type), 'submit');
    await enterAndWait();
    const apiKey = (await page.textContent('[data-testid=api-key]'))!.trim();
    assert.match(apiKey, /^anm_/);

    await visit(page, '/app');
    await tabUntil('content');
    await page.keyboard.type('Typed without a mouse');
    await page.keyboard.press('Tab');
    assert.equal(await focusedId(), 'tags');
    await page.keyboard.type('keyboard');
    await page.keyboard.press('Enter');
    await page.waitForURL(/done=created/);
    assert.ok(await page.getByText('Typed without a mouse').isVisible());

    await page.context().clearCookies();
    await visit(page, '/login');
    await tabUntil('email');
    await page.keyboard.type(email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await enterAndWait();
    assert.match(page.url(), /\/unlock$/);
    await tabUntil('api_key');
    await page.keyboard.type(apiKey);
    await enterAndWait();
    assert.ok(await page.getByText('Typed without a mouse').isVisible());
    assertClean(watched);
    await watched.context.close();
  });

  it('is usable at phone width', async () => {
    const user = await signUp(live.test.app, { password: PASSWORD });
    await api('/api/v1/memories', user.apiKey, { method: 'POST', body: { content: 'A memory read on a phone, long enough to wrap over several lines of a narrow screen.', tags: ['phone', 'narrow'] } });
    const watched = await openPage(browser, live.baseUrl, { width: 390, height: 844 });
    const { page } = watched;
    await visit(page, '/login');
    await page.fill('#email', user.email);
    await page.fill('#password', PASSWORD);
    await submit(page, 'form[action="/login"] button[type=submit]');
    await page.fill('#api_key', user.apiKey);
    await submit(page, 'form[action="/unlock"] button[type=submit]');
    for (const url of ['/', '/security', '/app', '/app/data', '/app/account']) {
      await visit(page, url);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.equal(overflow, 0, `${url} does not scroll sideways`);
    }
    await visit(page, '/app');
    await screenshot(page, 'app-phone');
    assertClean(watched);
    await watched.context.close();
  });
});
