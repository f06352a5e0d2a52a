// The client core runs unchanged in the browser: the very files under
// src/e2e-client, bundled by esbuild for the browser platform, sign up and
// sync inside Debian's Chromium against the real server, and a Node device
// reads what the browser wrote (and the other way round).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { logIn, signUp } from '../../src/e2e-client/account.ts';
import { E2eApi } from '../../src/e2e-client/api.ts';
import { repoRoot } from '../helpers/shared-vectors.ts';
import { launchChromium } from '../web/browser.ts';
import { PASSWORD, device, newEmail, serve, type Served } from './with-server.ts';

async function bundle(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(repoRoot, 'src', 'e2e-client', 'index.ts')],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'iife',
    globalName: 'anamnesisCore',
    target: 'es2022',
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

describe('the client core in Chromium', () => {
  let s: Served;
  let browser: Browser;
  let page: Page;
  before(async () => {
    s = await serve('sqlite');
    browser = await launchChromium();
    page = await browser.newPage();
    // A page of the server's own origin, so fetch is same-origin as the browser client's will be.
    await page.goto(`${s.api.baseUrl}/healthz`);
    await page.evaluate(`${await bundle()}\nglobalThis.anamnesisCore = anamnesisCore;`);
  });
  after(async () => {
    await browser?.close();
    await s.close();
  });

  it('has no Node in the page: the bundle runs on WebCrypto, fetch and WebAssembly alone', async () => {
    assert.deepEqual(await page.evaluate('[typeof process, typeof Buffer, typeof require, typeof anamnesisCore.signUp]'), ['undefined', 'undefined', 'undefined', 'function']);
  });

  it('signs up and writes in the browser; a Node device logs in and reads it; the browser reads what Node wrote back', async () => {
    const email = newEmail();
    const fromBrowser = await page.evaluate(
      async ({ email, password }) => {
        const core = (globalThis as unknown as { anamnesisCore: typeof import('../../src/e2e-client/index.ts') }).anamnesisCore;
        const api = new core.E2eApi({ baseUrl: '' });
        const account = await core.signUp(api, { email, password, label: 'Chromium' });
        const replica = await core.Replica.open({ api: api.withToken(account.token), userId: account.userId, dataKey: account.dataKey, cache: new core.MemoryReplicaCache() });
        const [id] = await replica.put({ kind: 'memory', id: replica.newMemoryId(), content: 'typed in the browser', tags: ['web'], created_at: '2026-03-01T09:00:00.000Z', updated_at: '2026-03-01T09:00:00.000Z' });
        const report = await replica.sync();
        return { id, pushed: report.pushed, recoveryCode: account.recoveryCode };
      },
      { email, password: PASSWORD },
    );
    assert.equal(fromBrowser.pushed, 1);
    assert.match(fromBrowser.recoveryCode, /^([0-9A-Z]{4}-){7}[0-9A-Z]{4}$/);

    const session = await logIn(new E2eApi({ baseUrl: s.api.baseUrl }), { email, password: PASSWORD });
    const node = await device(s.api, session);
    await node.sync();
    assert.deepEqual(node.get(fromBrowser.id!)?.record, { kind: 'memory', id: fromBrowser.id, content: 'typed in the browser', tags: ['web'], created_at: '2026-03-01T09:00:00.000Z', updated_at: '2026-03-01T09:00:00.000Z' });
    await node.put({ kind: 'entity', name: 'Written in Node', entityType: 'note', observations: ['hello browser'] });
    await node.sync();

    const seen = await page.evaluate(
      async ({ email, password }) => {
        const core = (globalThis as unknown as { anamnesisCore: typeof import('../../src/e2e-client/index.ts') }).anamnesisCore;
        const api = new core.E2eApi({ baseUrl: '' });
        const again = await core.logIn(api, { email, password });
        const replica = await core.Replica.open({ api: api.withToken(again.token), userId: again.userId, dataKey: again.dataKey, cache: new core.MemoryReplicaCache() });
        await replica.sync();
        return replica.get(await replica.entityId('Written in Node'))?.record ?? null;
      },
      { email, password: PASSWORD },
    );
    assert.deepEqual(seen, { kind: 'entity', name: 'Written in Node', entityType: 'note', observations: ['hello browser'] });
  });

  it('a browser-made account is an ordinary one to the Node client core, and the other way round', async () => {
    const email = newEmail();
    const made = await signUp(new E2eApi({ baseUrl: s.api.baseUrl }), { email, password: PASSWORD });
    const userId = await page.evaluate(
      async ({ email, password }) => {
        const core = (globalThis as unknown as { anamnesisCore: typeof import('../../src/e2e-client/index.ts') }).anamnesisCore;
        return (await core.logIn(new core.E2eApi({ baseUrl: '' }), { email, password })).userId;
      },
      { email, password: PASSWORD },
    );
    assert.equal(userId, made.userId);
  });
});
