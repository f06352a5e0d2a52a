// The end-to-end browser client's knowledge-graph page in Debian's Chromium,
// on a real server: entities, observations and relations created and deleted
// in the browser, searched with search_nodes' rules (compared with the
// server's own search_nodes over /mcp on the same graph), offline edits that
// reach a second browser, a device state kept by an earlier release (raw K)
// upgraded to non-extractable keys, and none of the typed names on the wire
// or in the database.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { E2E_CONTENT_SECURITY_POLICY } from '../../src/web/content-security-policy.ts';
import * as core from '../../src/e2e-client/index.ts';
import { callTool, connectClient } from '../mcp/helpers.ts';
import { assertHardenedPage, assertKeysNonExtractable, databaseCopy, liveBrowser, openPage, screenshot, type WatchedPage } from './browser.ts';

const PASSWORD = 'a long and unusual graph passphrase 29';

/** The graph typed into the browser: none of it may reach the server in the clear. */
const ADA = { name: 'Ada Quetzalcoatl-Lovelace', entityType: 'mathematician', observations: ['Wrote the first zanzibar program', 'Born in 1815'] };
const ENGINE = { name: 'Analytical Zanzibar Engine', entityType: 'machine', observations: ['Designed by Babbage'] };
const BABBAGE = { name: 'Charles Pomegranate Babbage', entityType: 'inventor', observations: ['Never finished the engine'] };
const RELATIONS = [
  { from: ADA.name, to: ENGINE.name, relationType: 'wrote programs for' },
  { from: BABBAGE.name, to: ENGINE.name, relationType: 'designed' },
];
const OFFLINE_OBSERVATION = 'Added offline: corresponded with Somerville 4242';

const running = liveBrowser();
const sent: string[] = [];

async function device(): Promise<WatchedPage> {
  const watched = await openPage(running.browser, running.live.baseUrl);
  watched.context.on('request', (request) => sent.push(`${request.method()} ${request.url()}\n${request.postData() ?? ''}`));
  return watched;
}

async function synced(page: Page): Promise<void> {
  await page.locator('#sync-status[data-state=synced]').waitFor();
}

async function entities(page: Page): Promise<string[]> {
  return page.locator('#entities li.entity h3').allTextContents();
}

async function relations(page: Page): Promise<string[]> {
  return page.locator('#relations li.relation .content').allTextContents();
}

async function observations(page: Page, name: string): Promise<string[]> {
  return page.locator(`#entities li.entity[data-name="${name}"] li.observation span`).allTextContents();
}

async function addEntity(page: Page, entity: { name: string; entityType: string; observations: string[] }): Promise<void> {
  await page.fill('#entity-name', entity.name);
  await page.fill('#entity-type', entity.entityType);
  await page.fill('#entity-observations', entity.observations.join('\n'));
  await page.click('#entity-form button[type=submit]');
  await page.locator('#entities li.entity h3', { hasText: entity.name }).waitFor();
}

async function addRelation(page: Page, relation: { from: string; to: string; relationType: string }): Promise<void> {
  await page.fill('#relation-from', relation.from);
  await page.fill('#relation-type', relation.relationType);
  await page.fill('#relation-to', relation.to);
  await page.click('#relation-form button[type=submit]');
  await page.locator('#relations li.relation', { hasText: relation.relationType }).first().waitFor();
}

async function search(page: Page, query: string): Promise<{ entities: string[]; relations: string[] }> {
  await page.fill('#graph-q', query);
  await page.click('#graph-search-form button[type=submit]');
  await page.getByRole('heading', { name: `Entities matching “${query}”` }).waitFor();
  return { entities: await entities(page), relations: await relations(page) };
}

const arrow = (r: { from: string; to: string; relationType: string }) => `${r.from} → ${r.relationType} → ${r.to}`;

function assertClean(watched: WatchedPage): void {
  assert.deepEqual(watched.dialogs, []);
  assert.deepEqual(watched.consoleErrors, []);
}

describe('the end-to-end knowledge graph in Chromium', { timeout: 5 * 60_000 }, () => {
  const email = `graph-${Date.now()}@example.com`;
  let a: WatchedPage;
  let b: WatchedPage;

  it('creates entities, observations and relations in the browser, and lists them by name', async () => {
    a = await device();
    await a.page.goto('/e2e/signup');
    await a.page.fill('#email', email);
    await a.page.fill('#password', PASSWORD);
    await a.page.fill('#password-again', PASSWORD);
    await a.page.check('#understood');
    await a.page.click('#signup-form button[type=submit]');
    await a.page.locator('#recovery').waitFor();
    await a.page.check('#recovery-saved');
    await Promise.all([a.page.waitForURL('**/e2e/app'), a.page.click('#recovery-continue')]);
    await Promise.all([a.page.waitForURL('**/e2e/graph'), a.page.click('nav a[href="/e2e/graph"]')]);
    await assertHardenedPage(a.page, await a.page.reload(), E2E_CONTENT_SECURITY_POLICY);
    await synced(a.page);
    assert.ok(await a.page.getByText('No entities yet.').isVisible());

    for (const entity of [ADA, ENGINE, BABBAGE]) await addEntity(a.page, entity);
    for (const relation of RELATIONS) await addRelation(a.page, relation);
    await synced(a.page);
    assert.deepEqual(await entities(a.page), [ADA.name, ENGINE.name, BABBAGE.name]);
    assert.deepEqual(await observations(a.page, ADA.name), ADA.observations);
    assert.deepEqual(await relations(a.page), RELATIONS.map(arrow));

    // The same name twice is refused, not a second entity.
    await a.page.fill('#entity-name', ADA.name);
    await a.page.fill('#entity-type', 'duplicate');
    await a.page.click('#entity-form button[type=submit]');
    await a.page.getByText('An entity with this name already exists').waitFor();
    assert.equal((await entities(a.page)).length, 3);

    // Observations: add one, refuse a repeat, delete one (two clicks, no dialog).
    const ada = a.page.locator(`#entities li.entity[data-name="${ADA.name}"]`);
    await ada.locator('input[name=observation]').fill('Translated Menabrea');
    await ada.getByRole('button', { name: 'Add', exact: true }).click();
    await a.page.locator('li.observation span', { hasText: 'Translated Menabrea' }).waitFor();
    await ada.locator('li.observation', { hasText: 'Born in 1815' }).getByRole('button', { name: 'Delete' }).click();
    await ada.locator('li.observation', { hasText: 'Born in 1815' }).getByRole('button', { name: 'Confirm delete' }).click();
    await a.page.locator('li.observation span', { hasText: 'Born in 1815' }).waitFor({ state: 'detached' });
    assert.deepEqual(await observations(a.page, ADA.name), ['Wrote the first zanzibar program', 'Translated Menabrea']);
    await synced(a.page);
    await screenshot(a.page, 'e2e-graph');
    assertClean(a);
  });

  it("search matches exactly as the server's search_nodes does on the same graph", async () => {
    // The same graph in a server-key account, searched over /mcp.
    const signup = await running.live.test.app.inject({ method: 'POST', url: '/api/v1/accounts', payload: { email: `graph-ref-${Date.now()}@example.com`, password: PASSWORD } });
    const client = await connectClient(running.live.baseUrl, (signup.json() as { api_key: string }).api_key);
    try {
      await callTool(client, 'create_entities', { entities: [{ ...ADA, observations: ['Wrote the first zanzibar program', 'Translated Menabrea'] }, ENGINE, BABBAGE] });
      await callTool(client, 'create_relations', { relations: RELATIONS });
      for (const query of ['zanzibar', 'BABBAGE', 'machine', 'menabrea', 'pomegranate', 'nothing like this']) {
        const server = (await callTool(client, 'search_nodes', { query })).structuredContent as { entities: Array<{ name: string }>; relations: typeof RELATIONS };
        const shown = await search(a.page, query);
        assert.deepEqual(shown.entities, server.entities.map((e) => e.name).sort(), `entities for "${query}"`);
        assert.deepEqual(shown.relations.sort(), server.relations.map(arrow).sort(), `relations for "${query}"`);
      }
    } finally {
      await client.close();
    }
    await a.page.click('#graph-search-clear');
    assert.equal((await entities(a.page)).length, 3);
    assertClean(a);
  });

  it('offline: graph edits queue in the browser and reach a second browser after reconnecting', async () => {
    b = await device();
    await b.page.goto('/e2e/login');
    await b.page.fill('#email', email);
    await b.page.fill('#password', PASSWORD);
    await Promise.all([b.page.waitForURL('**/e2e/app'), b.page.click('#login-form button[type=submit]')]);
    await b.page.goto('/e2e/graph');
    await synced(b.page);
    assert.deepEqual(await entities(b.page), [ADA.name, ENGINE.name, BABBAGE.name]);

    await a.context.setOffline(true);
    const ada = a.page.locator(`#entities li.entity[data-name="${ADA.name}"]`);
    await ada.locator('input[name=observation]').fill(OFFLINE_OBSERVATION);
    await ada.getByRole('button', { name: 'Add', exact: true }).click();
    await a.page.locator('li.observation span', { hasText: OFFLINE_OBSERVATION }).waitFor();
    const designed = a.page.locator('#relations li.relation', { hasText: 'designed' });
    await designed.getByRole('button', { name: 'Delete' }).click();
    await designed.getByRole('button', { name: 'Confirm delete' }).click();
    await designed.waitFor({ state: 'detached' });
    await a.page.locator('#sync-status', { hasText: '2 changes waiting to be sent' }).waitFor();

    await a.context.setOffline(false);
    await synced(a.page);
    await b.page.reload();
    await synced(b.page);
    assert.ok((await observations(b.page, ADA.name)).includes(OFFLINE_OBSERVATION));
    assert.deepEqual(await relations(b.page), [arrow(RELATIONS[0]!)]);
    assertClean(a);
  });

  it('deleting an entity deletes the relations from or to it, on both browsers', async () => {
    const engine = b.page.locator(`#entities li.entity[data-name="${ENGINE.name}"]`);
    await engine.getByRole('button', { name: 'Delete entity' }).click();
    await engine.getByRole('button', { name: 'Confirm delete entity' }).click();
    await engine.waitFor({ state: 'detached' });
    assert.deepEqual(await relations(b.page), []);
    await synced(b.page);
    await a.page.reload();
    await synced(a.page);
    assert.deepEqual(await entities(a.page), [ADA.name, BABBAGE.name]);
    assert.deepEqual(await relations(a.page), []);
    assertClean(a);
    assertClean(b);
  });

  it('a browser that kept the raw key under an earlier release has it replaced by non-extractable keys when the page opens', async () => {
    // What an earlier release stored: K's bytes beside the token (the test gets K by logging in with the client core in Node).
    const { dataKey } = await core.logIn(new core.E2eApi({ baseUrl: running.live.baseUrl }), { email, password: PASSWORD, label: 'test' });
    await b.page.evaluate(async (raw) => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const r = indexedDB.open('anamnesis-e2e');
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      const tx = db.transaction('device', 'readwrite');
      const store = tx.objectStore('device');
      const state = await new Promise<{ userId: string; email: string; token: string }>((resolve, reject) => {
        const r = store.get('current');
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      store.put({ userId: state.userId, email: state.email, token: state.token, dataKey: Uint8Array.from(raw) }, 'current');
      await new Promise((resolve) => (tx.oncomplete = resolve));
      db.close();
    }, [...dataKey]);
    await b.page.reload();
    await synced(b.page);
    await assertKeysNonExtractable(b.page);
    assert.deepEqual(await entities(b.page), [ADA.name, BABBAGE.name]);
    assertClean(b);
  });

  it('no request and nothing in the database holds a name or observation typed on the graph page', () => {
    const typed = [ADA.name, ENGINE.name, BABBAGE.name, ...ADA.observations, OFFLINE_OBSERVATION, 'Translated Menabrea', PASSWORD];
    const traffic = sent.join('\n');
    assert.match(traffic, /gAAAAA/, 'records went out as Fernet tokens');
    for (const text of typed) assert.ok(!traffic.includes(text), 'nothing typed in the traffic');
    // The server-key reference account stores the same names, sealed under its own key: none of them in the clear either.
    const stored = databaseCopy(running.live.test);
    assert.ok(stored.some((bytes) => bytes.includes('gAAAAA')), 'control: the copy holds the records, as Fernet tokens');
    for (const text of typed) for (const bytes of stored) assert.equal(bytes.indexOf(Buffer.from(text)), -1, 'no plaintext in the database files');
  });
});
