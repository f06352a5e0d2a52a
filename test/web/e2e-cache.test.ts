// The browser's ReplicaCache (IndexedDB, src/web/e2e/browser/cache.ts) runs
// the cache contract every device's cache runs (test/e2e-client/
// cache-conformance.ts), inside Debian's Chromium: each load and apply here
// is carried out by the real IndexedDbReplicaCache in a page of the server's
// origin, on its own IndexedDB database.
import { after, before } from 'node:test';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import type { CacheChange, CacheSnapshot, ReplicaCache } from '../../src/e2e-client/cache.ts';
import { REPOSITORY_ROOT } from '../../src/web/e2e/bundle.ts';
import { replicaCacheConformance } from '../e2e-client/cache-conformance.ts';
import { launchChromium, type LiveApp, startLiveApp } from './browser.ts';

/** What the page exposes: the cache and the database wrapper, nothing else. */
const ENTRY = `
import { IndexedDbReplicaCache } from './src/web/e2e/browser/cache.ts';
import { STORES } from './src/web/e2e/browser/device.ts';
import { Database } from './src/web/e2e/browser/idb.ts';
globalThis.cacheUnderTest = {
  async run(name, method, change) {
    const db = await Database.open(name, STORES);
    try {
      return await new IndexedDbReplicaCache(db)[method](change);
    } finally {
      db.close();
    }
  },
  remove: (name) => Database.remove(name),
};`;

interface CacheUnderTest {
  run(name: string, method: 'load' | 'apply', change?: CacheChange): Promise<CacheSnapshot | undefined>;
  remove(name: string): Promise<void>;
}

let live: LiveApp;
let browser: Browser;
let page: Page;

before(async () => {
  live = await startLiveApp();
  browser = await launchChromium();
  page = await browser.newPage();
  // A page of the server's origin: IndexedDB needs one.
  await page.goto(`${live.baseUrl}/healthz`);
  const bundle = await build({ stdin: { contents: ENTRY, resolveDir: REPOSITORY_ROOT, loader: 'ts' }, bundle: true, write: false, format: 'iife', platform: 'browser', target: 'es2022', logLevel: 'silent' });
  await page.evaluate(bundle.outputFiles[0]!.text);
});
after(async () => {
  await browser?.close();
  await live?.close();
});

/** Each call opens the database afresh, as a new page load of the browser client does. */
class CacheInPage implements ReplicaCache {
  constructor(private readonly name: string) {}

  async load(): Promise<CacheSnapshot> {
    return (await page.evaluate(([name]) => (globalThis as unknown as { cacheUnderTest: CacheUnderTest }).cacheUnderTest.run(name, 'load'), [this.name] as const))!;
  }

  async apply(change: CacheChange): Promise<void> {
    await page.evaluate(([name, c]) => (globalThis as unknown as { cacheUnderTest: CacheUnderTest }).cacheUnderTest.run(name, 'apply', c), [this.name, change] as const);
  }
}

let databases = 0;
replicaCacheConformance('IndexedDB in Chromium', async () => {
  const name = `conformance-${++databases}`;
  return {
    cache: new CacheInPage(name),
    reopen: async () => new CacheInPage(name),
    close: () => page.evaluate((n) => (globalThis as unknown as { cacheUnderTest: CacheUnderTest }).cacheUnderTest.remove(n), name),
  };
});

