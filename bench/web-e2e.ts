// The end-to-end browser client in Debian's Chromium, on a live server
// (SQLite): sign-up and log-in (OPAQUE with Argon2id in WebAssembly), import
// and sync of N memories, a second browser's first sync of them, and the
// first search there (which builds the in-page corpus). One run, printed:
//
//   npx tsx bench/web-e2e.ts 1000
import { launchChromium, openPage, startLiveApp } from '../test/web/browser.ts';
const N = Number(process.argv[2] ?? 1000);
const live = await startLiveApp();
const browser = await launchChromium();
const a = await openPage(browser, live.baseUrl);
const email = `m-${Date.now()}@example.com`;
const pw = 'a long and unusual passphrase 99';
let t = performance.now();
await a.page.goto('/e2e/signup');
await a.page.fill('#email', email); await a.page.fill('#password', pw); await a.page.fill('#password-again', pw); await a.page.check('#understood');
await a.page.click('#signup-form button[type=submit]');
await a.page.locator('#recovery-code').waitFor({ state: 'visible' });
console.log('sign-up ms', Math.round(performance.now() - t));
await a.page.check('#recovery-saved'); await a.page.click('#recovery-continue');
await a.page.locator('#sync-status[data-state=synced]').waitFor();
const memories = Array.from({ length: N }, (_, i) => ({ id: crypto.randomUUID(), content: `Memory ${i} about ${['tea', 'rust', 'hiking', 'jazz', 'sqlite'][i % 5]} and word${i}`, tags: [`t${i % 7}`], created_at: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString(), updated_at: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString() }));
await a.page.setInputFiles('#import-file', { name: 'x.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify({ format: 'anamnesis-json-export', version: 'v1', user_id: 'x', exported_at: new Date().toISOString(), memories, entities: [], relations: [], unreadable: [] })) });
t = performance.now();
await a.page.click('#import-form button[type=submit]');
await a.page.getByText(`Imported ${N} memories`).waitFor({ timeout: 600000 });
await a.page.locator('#sync-status[data-state=synced]').waitFor({ timeout: 600000 });
console.log(`import + sync of ${N} ms`, Math.round(performance.now() - t));
const b = await openPage(browser, live.baseUrl);
await b.page.goto('/e2e/login');
await b.page.fill('#email', email); await b.page.fill('#password', pw);
t = performance.now();
await b.page.click('#login-form button[type=submit]');
await b.page.waitForURL('**/e2e/app');
console.log('log-in ms', Math.round(performance.now() - t));
t = performance.now();
await b.page.locator('#sync-status[data-state=synced]').waitFor({ timeout: 600000 });
console.log(`first sync of ${N} on a second device ms`, Math.round(performance.now() - t));
const searchMs = await b.page.evaluate(async () => {
  const q = document.getElementById('q') as HTMLInputElement; q.value = 'jazz word1';
  const t0 = performance.now();
  (document.querySelector('#search-form button[type=submit]') as HTMLButtonElement).click();
  await new Promise((r) => setTimeout(r, 0));
  return performance.now() - t0;
});
console.log('first search (builds the corpus) ms', Math.round(searchMs));
await browser.close(); await live.close();
