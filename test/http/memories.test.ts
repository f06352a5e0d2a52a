// The memory API: create, get, list (cursor pages, tag filter), update,
// delete, bad ids; and what lands in storage: one Fernet token per memory,
// decryptable with K from the API key, and no content or tag in the clear.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fernetDecrypt } from '../../src/crypto/fernet.ts';
import { deriveDataKey } from '../../src/crypto/keys.ts';
import { bearer, signUp, type TestApp, type TestUser } from '../helpers/app.ts';
import { appWithDirectDb, type DirectDb, sealedRecords, snapshotTables, testDrivers } from './support.ts';

interface Memory {
  id: string;
  content: string;
  tags: string[];
  created_at: string;
  updated_at: string;
}

for (const driver of await testDrivers('HTTP memories')) {
  describe(`memories (${driver})`, () => {
    let t: TestApp;
    let db: DirectDb;
    appWithDirectDb(driver, (app, direct) => ([t, db] = [app, direct]));

    const create = async (user: TestUser, content: string, tags?: string[]): Promise<Memory> => {
      const response = await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(user.apiKey), payload: { content, ...(tags ? { tags } : {}) } });
      assert.equal(response.statusCode, 201, response.body);
      return response.json();
    };
    const get = (user: TestUser, url: string) => t.app.inject({ method: 'GET', url, headers: bearer(user.apiKey) });

    it('creates a memory (201) and reads it back by id', async () => {
      const user = await signUp(t.app);
      const memory = await create(user, 'Ada prefers tea over coffee', ['Preferences', ' drinks ', 'preferences']);
      assert.deepEqual(Object.keys(memory).sort(), ['content', 'created_at', 'id', 'tags', 'updated_at']);
      assert.match(memory.id, /^[0-9a-f-]{36}$/);
      assert.equal(memory.content, 'Ada prefers tea over coffee');
      assert.deepEqual(memory.tags, ['Preferences', 'drinks'], 'tags trimmed and kept once, case-insensitively');
      assert.equal(memory.created_at, memory.updated_at);
      assert.equal(new Date(memory.created_at).toISOString(), memory.created_at);
      const read = await get(user, `/api/v1/memories/${memory.id}`);
      assert.equal(read.statusCode, 200);
      assert.deepEqual(read.json(), memory);
      const untagged = await create(user, 'no tags at all');
      assert.deepEqual(untagged.tags, []);
    });

    it('lists 45 memories in pages of 10: each exactly once, newest first, then next_cursor null', async () => {
      const user = await signUp(t.app);
      const created: Memory[] = [];
      for (let i = 0; i < 45; i++) created.push(await create(user, `memory number ${i}`, i % 3 === 0 ? ['third'] : ['other']));
      const seen: Memory[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const response = await get(user, `/api/v1/memories?limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.equal(response.statusCode, 200);
        const page = response.json() as { items: Memory[]; next_cursor: string | null; unreadable: string[] };
        assert.deepEqual(page.unreadable, []);
        assert.ok(page.items.length <= 10);
        seen.push(...page.items);
        cursor = page.next_cursor;
        pages++;
      } while (cursor);
      assert.equal(pages, 5);
      assert.deepEqual(seen.map((m) => m.content), created.map((m) => m.content).reverse());
      assert.equal(new Set(seen.map((m) => m.id)).size, 45);

      // The tag filter holds across pages: 15 tagged memories, in pages of 4.
      const tagged: Memory[] = [];
      cursor = null;
      do {
        const response = await get(user, `/api/v1/memories?limit=4&tag=THIRD${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        const page = response.json() as { items: Memory[]; next_cursor: string | null };
        assert.ok(page.items.length <= 4);
        tagged.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor);
      assert.deepEqual(tagged.map((m) => m.content), created.filter((_, i) => i % 3 === 0).map((m) => m.content).reverse());
      assert.deepEqual((await get(user, '/api/v1/memories?tag=nosuchtag')).json().items, []);
      // The default page is 20.
      assert.equal((await get(user, '/api/v1/memories')).json().items.length, 20);
    });

    it('refuses a cursor it did not issue and out-of-range limits with 400', async () => {
      const user = await signUp(t.app);
      for (const query of ['cursor=garbage', `cursor=${Buffer.from('{"x":1}').toString('base64url')}`, 'limit=0', 'limit=101', 'limit=ten', 'limit=1.5', 'unknown=1']) {
        const response = await get(user, `/api/v1/memories?${query}`);
        assert.equal(response.statusCode, 400, query);
        assert.ok(['bad_request', 'validation_failed'].includes(response.json().error.code));
      }
    });

    it('updates content, tags or both; 400 when neither is given; created_at stays', async () => {
      const user = await signUp(t.app);
      const memory = await create(user, 'the meeting is on Monday', ['work']);
      const patch = (payload: Record<string, unknown>) => t.app.inject({ method: 'PATCH', url: `/api/v1/memories/${memory.id}`, headers: bearer(user.apiKey), payload });
      const content = await patch({ content: 'the meeting moved to Tuesday' });
      assert.equal(content.statusCode, 200);
      assert.equal(content.json().content, 'the meeting moved to Tuesday');
      assert.deepEqual(content.json().tags, ['work']);
      assert.equal(content.json().created_at, memory.created_at);
      assert.ok(content.json().updated_at >= memory.updated_at);
      const tags = await patch({ tags: ['work', 'calendar'] });
      assert.deepEqual(tags.json().tags, ['work', 'calendar']);
      assert.equal(tags.json().content, 'the meeting moved to Tuesday');
      const both = await patch({ content: 'cancelled', tags: [] });
      assert.deepEqual({ content: both.json().content, tags: both.json().tags }, { content: 'cancelled', tags: [] });
      const neither = await patch({});
      assert.equal(neither.statusCode, 400);
      assert.equal(neither.json().error.code, 'bad_request');
      assert.deepEqual((await get(user, `/api/v1/memories/${memory.id}`)).json(), both.json());
      const missing = await t.app.inject({ method: 'PATCH', url: `/api/v1/memories/${randomUUID()}`, headers: bearer(user.apiKey), payload: { content: 'x' } });
      assert.equal(missing.statusCode, 404);
    });

    it('deletes (204), after which the memory is 404 and its row is gone', async () => {
      const user = await signUp(t.app);
      const memory = await create(user, 'temporary thought');
      const deleted = await t.app.inject({ method: 'DELETE', url: `/api/v1/memories/${memory.id}`, headers: bearer(user.apiKey) });
      assert.equal(deleted.statusCode, 204);
      assert.equal(deleted.body, '');
      assert.equal((await get(user, `/api/v1/memories/${memory.id}`)).statusCode, 404);
      assert.equal((await t.app.inject({ method: 'DELETE', url: `/api/v1/memories/${memory.id}`, headers: bearer(user.apiKey) })).statusCode, 404);
      assert.deepEqual(await sealedRecords(db, user.userId), []);
    });

    it('answers 400 for an id that is not a UUID and 404 for an unknown one, on every by-id route', async () => {
      const user = await signUp(t.app);
      for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
        const payload = method === 'PATCH' ? { payload: { content: 'x' } } : {};
        for (const id of ['not-a-uuid', '1', '..%2F..%2Fetc', `${randomUUID()}x`]) {
          const response = await t.app.inject({ method, url: `/api/v1/memories/${id}`, headers: bearer(user.apiKey), ...payload });
          assert.equal(response.statusCode, 400, `${method} ${id}`);
          assert.equal(response.json().error.code, 'validation_failed');
        }
        const unknown = await t.app.inject({ method, url: `/api/v1/memories/${randomUUID()}`, headers: bearer(user.apiKey), ...payload });
        assert.equal(unknown.statusCode, 404);
        assert.deepEqual(unknown.json(), { error: { code: 'not_found', message: 'memory not found' } });
      }
    });

    it('stores each memory as one Fernet token that decrypts with K from the API key to the memory JSON', async () => {
      const user = await signUp(t.app);
      const memories = [await create(user, 'Der Schlüssel liegt unter der Fußmatte', ['haus']), await create(user, '秘密のメモ', ['日記'])];
      const rows = await sealedRecords(db, user.userId);
      assert.equal(rows.length, memories.length, 'one row per memory');
      const k = deriveDataKey(user.apiKey, user.userId);
      for (const memory of memories) {
        const row = rows.find((r) => r.id === memory.id)!;
        assert.equal(row.kind, 'memory');
        assert.equal(row.lookup, null);
        assert.match(String(row.token), /^gAAAAA[A-Za-z0-9_-]+=*$/);
        const plaintext = JSON.parse(fernetDecrypt(k, String(row.token)).toString('utf8'));
        assert.deepEqual(plaintext, { kind: 'memory', ...memory });
        assert.throws(() => fernetDecrypt(deriveDataKey(user.apiKey, randomUUID()), String(row.token)));
      }
    });

    it('keeps no content and no tag in the clear anywhere in the database', async () => {
      const user = await signUp(t.app);
      const secrets = {
        content: 'Zugangscode für den Tresor: Quokka-Meridian-4471',
        tag: 'tresor-geheimnis-tag',
        updated: 'Neuer Code nach dem Umzug: Axolotl-Parallax-9903',
        unicode: 'Пароль от сейфа: Жираф',
      };
      const memory = await create(user, secrets.content, [secrets.tag]);
      await t.app.inject({ method: 'PATCH', url: `/api/v1/memories/${memory.id}`, headers: bearer(user.apiKey), payload: { content: secrets.updated } });
      await create(user, secrets.unicode, [secrets.tag]);
      await t.app.inject({ method: 'GET', url: `/api/v1/memories/search?q=${encodeURIComponent('Quokka')}`, headers: bearer(user.apiKey) });
      const needles = [...Object.values(secrets), 'Quokka', 'Axolotl', 'Жираф', 'tresor-geheimnis'];
      const dump = JSON.stringify(await snapshotTables(db));
      for (const needle of needles) assert.ok(!dump.includes(needle), `"${needle}" is in a table`);
      if (t.dataDir) {
        for (const file of readdirSync(t.dataDir)) {
          const bytes: Buffer = readFileSync(path.join(t.dataDir, file));
          for (const needle of needles) {
            assert.equal(bytes.indexOf(Buffer.from(needle, 'utf8')), -1, `"${needle}" is in ${file}`);
            assert.equal(bytes.indexOf(Buffer.from(needle, 'utf16le')), -1, `"${needle}" (UTF-16) is in ${file}`);
          }
        }
      }
    });

    it('refuses oversized content, too many tags and empty content, storing nothing', async () => {
      const user = await signUp(t.app);
      const cases = [{ content: '' }, { content: 'x'.repeat(65_537) }, { content: 'ok', tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }, { content: 'ok', tags: ['x'.repeat(65)] }, { content: 'ok', tags: ['   '] }];
      for (const payload of cases) {
        const response = await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(user.apiKey), payload });
        assert.equal(response.statusCode, 400);
        assert.equal(response.json().error.code, 'validation_failed');
      }
      assert.deepEqual(await sealedRecords(db, user.userId), []);
    });
  });
}
