// A tampered or corrupted row — a memory, an entity, a relation, a search
// index segment, an index delta — must cost only itself: every other record
// of the user still lists, searches, exports and reads over MCP; the bad
// records are named in `unreadable`; nothing answers 5xx and the service
// keeps serving writes. Rotation refuses (all or nothing) rather than
// re-encrypting around a record it cannot read.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fernetDecrypt } from '../../src/crypto/fernet.ts';
import { deriveDataKey, FORMAT_VERSION } from '../../src/crypto/keys.ts';
import { JSON_EXPORT_FORMAT } from '../../src/vault/transfer.ts';
import { bearer, makeTestApp, signUp, type TestApp, type TestUser } from '../helpers/app.ts';
import { type DirectDb, openDirectDb, testDrivers } from '../http/support.ts';
import { mcpInject } from '../claims/support.ts';

/** Ways a stored token goes bad: a flipped character, a cut, junk, a valid token under someone else's key. */
const flip = (token: string) => token.slice(0, 40) + (token[40] === 'A' ? 'B' : 'A') + token.slice(41);
const cut = (token: string) => token.slice(0, token.length - 30);

for (const driver of await testDrivers('faults: corrupted rows')) {
  describe(`a corrupted or tampered row costs only itself (${driver})`, () => {
    let t: TestApp;
    let db: DirectDb;
    let user: TestUser;
    const bad: Record<string, string> = {};
    const statuses: number[] = [];

    const get = async (url: string) => {
      const answer = await t.app.inject({ method: 'GET', url, headers: bearer(user.apiKey) });
      statuses.push(answer.statusCode);
      return answer;
    };
    const tool = async (name: string, args: Record<string, unknown> = {}) => {
      const answer = await mcpInject(t.app, user.apiKey, name, args);
      statuses.push(answer.status);
      return answer;
    };
    const setToken = (id: string, token: string) => db.query('UPDATE records SET token = ? WHERE user_id = ? AND id = ?', [token, user.userId, id]);
    const tokenOf = async (id: string) => String((await db.query('SELECT token FROM records WHERE user_id = ? AND id = ?', [user.userId, id]))[0]!.token);

    before(async () => {
      t = await makeTestApp({ driver });
      db = await openDirectDb(t);
      user = await signUp(t.app);
      const other = await signUp(t.app);
      const now = Date.now();
      const bulkIds = Array.from({ length: 70 }, () => crypto.randomUUID());
      await t.app.inject({
        method: 'POST',
        url: '/api/v1/import?format=json',
        headers: bearer(user.apiKey),
        payload: {
          format: JSON_EXPORT_FORMAT,
          version: FORMAT_VERSION,
          memories: bulkIds.map((id, i) => ({ id, content: `harbour note ${i}`, tags: ['harbour'], created_at: new Date(now - 10_000 + i).toISOString(), updated_at: new Date(now - 10_000 + i).toISOString() })),
          entities: Array.from({ length: 70 }, (_, i) => ({ name: `Sailor ${i}`, entityType: 'person', observations: [`rows boat ${i}`] })),
          relations: Array.from({ length: 10 }, (_, i) => ({ from: `Sailor ${i}`, to: `Sailor ${i + 1}`, relationType: 'crews with' })),
        },
      });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(user.apiKey), payload: { content: `harbour single ${i}` } })).json().id);
      await mcpInject(t.app, user.apiKey, 'add_observations', { observations: [{ entityName: 'Sailor 3', contents: ['sings shanties'] }] });
      await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(other.apiKey), payload: { content: 'not yours' } });
      const otherToken = String((await db.query("SELECT token FROM records WHERE user_id = ? AND kind = 'memory'", [other.userId]))[0]!.token);

      const pick = async (kind: string, where = '') => String((await db.query(`SELECT id FROM records WHERE user_id = ? AND kind = ? ${where} ORDER BY id LIMIT 1`, [user.userId, kind]))[0]!.id);
      bad.memory = ids[1]!;
      // Any bulk memory but "harbour note 69", which the recall check below looks for.
      bad.bulkMemory = await pick('memory', `AND id <> '${ids[0]}' AND id <> '${ids[1]}' AND id <> '${ids[2]}' AND id <> '${bulkIds[69]}'`);
      // Any entity but the sailors the graph checks below look for (the ids are random, so read the names).
      const named = new Set(['Sailor 3', 'Sailor 5', 'Sailor 6']);
      const key = deriveDataKey(user.apiKey, user.userId);
      const entities = await db.query("SELECT id, token FROM records WHERE user_id = ? AND kind = 'entity' ORDER BY id", [user.userId]);
      bad.entity = String(entities.find((row) => !named.has(JSON.parse(fernetDecrypt(key, String(row.token)).toString('utf8')).name))!.id);
      bad.relation = await pick('relation');
      bad.memoryIndex = await pick('memory-index');
      bad.memoryDelta = await pick('memory-delta');
      bad.graphIndex = await pick('graph-index');
      bad.graphDelta = await pick('graph-delta');
      await setToken(bad.memory, flip(await tokenOf(bad.memory)));
      await setToken(bad.bulkMemory, otherToken);
      await setToken(bad.entity, cut(await tokenOf(bad.entity)));
      await setToken(bad.relation, 'not a token at all');
      await setToken(bad.memoryIndex, flip(await tokenOf(bad.memoryIndex)));
      await setToken(bad.memoryDelta, cut(await tokenOf(bad.memoryDelta)));
      await setToken(bad.graphIndex, flip(await tokenOf(bad.graphIndex)));
      await setToken(bad.graphDelta, otherToken);
    });
    after(async () => {
      await db.close();
      await t.close();
    });

    it('lists every other memory and names the two bad ones', async () => {
      const items: string[] = [];
      const unreadable: string[] = [];
      let cursor = '';
      do {
        const page = (await get(`/api/v1/memories?limit=25${cursor ? `&cursor=${cursor}` : ''}`)).json();
        items.push(...page.items.map((m: { id: string }) => m.id));
        unreadable.push(...page.unreadable);
        cursor = page.next_cursor ?? '';
      } while (cursor);
      assert.equal(items.length, 71);
      assert.deepEqual(unreadable.sort(), [bad.memory, bad.bulkMemory].sort());
      const one = await get(`/api/v1/memories/${bad.memory}`);
      assert.equal(one.statusCode, 409);
      assert.deepEqual(one.json().error.unreadable, [bad.memory]);
    });

    it('searches over a corrupted index segment and delta: the index is rebuilt from the readable memories', async () => {
      const search = (await get('/api/v1/memories/search?q=harbour&limit=50')).json();
      assert.equal(search.results.length, 50);
      assert.ok(search.results.every((r: { memory: { id: string } }) => r.memory.id !== bad.memory && r.memory.id !== bad.bulkMemory));
      assert.deepEqual([...search.unreadable].sort(), [bad.memory, bad.bulkMemory].sort());
      assert.equal((await get('/api/v1/memories/search?q=single&limit=50')).json().results.length, 2, 'the two readable single memories');
      const recall = (await tool('recall', { query: 'harbour note 69' })).structured;
      assert.equal(recall.results[0].memory.content, 'harbour note 69');
    });

    it('reads the graph over MCP around the bad entity, relation, segment and delta; every read names the bad records', async () => {
      const graph = (await tool('read_graph', { limit: 1000 })).structured;
      assert.equal(graph.entities.length, 69);
      assert.equal(graph.relations.length, 9);
      assert.deepEqual([...graph.unreadable].sort(), [bad.entity, bad.relation].sort());
      const found = (await tool('search_nodes', { query: 'shanties' })).structured;
      assert.deepEqual(found.entities.map((e: { name: string }) => e.name), ['Sailor 3']);
      // The first graph read rebuilt the index without the bad records; later answers still name them.
      assert.deepEqual([...found.unreadable].sort(), [bad.entity, bad.relation].sort());
      const again = (await tool('read_graph', { limit: 1000 })).structured;
      assert.deepEqual([...again.unreadable].sort(), [bad.entity, bad.relation].sort());
      assert.equal((await tool('open_nodes', { names: ['Sailor 5', 'Sailor 6'] })).structured.entities.length, 2);
      assert.equal((await tool('list_memories', { limit: 200 })).structured.unreadable.length, 2);
    });

    it('exports every readable record and lists the bad ones', async () => {
      const json = (await get('/api/v1/export?format=json')).json();
      assert.equal(json.memories.length, 71);
      assert.equal(json.entities.length, 69);
      assert.equal(json.relations.length, 9);
      assert.deepEqual([...json.unreadable].sort(), [bad.memory, bad.bulkMemory, bad.entity, bad.relation].sort());
      assert.equal((await get('/api/v1/export?format=encrypted')).statusCode, 200);
    });

    it('keeps serving writes; rotation refuses with 409 naming a bad record and changes nothing', async () => {
      assert.equal((await tool('remember', { content: 'written after the damage' })).isError, false);
      assert.equal((await tool('create_entities', { entities: [{ name: 'Harbourmaster', entityType: 'person', observations: [] }] })).isError, false);
      assert.equal((await tool('recall', { query: 'damage' })).structured.results.length, 1);
      const pending = (await t.app.inject({ method: 'POST', url: '/api/v1/keys/rotate', headers: bearer(user.apiKey) })).json().api_key;
      const confirm = await t.app.inject({ method: 'POST', url: '/api/v1/keys/rotate/confirm', headers: bearer(pending) });
      statuses.push(confirm.statusCode);
      assert.equal(confirm.statusCode, 409);
      assert.equal(confirm.json().error.code, 'conflict');
      assert.equal((await get('/api/v1/memories?limit=1')).statusCode, 200, 'the old key still works');
    });

    it('never answered 5xx and logged no failure', () => {
      assert.ok(statuses.length > 10);
      assert.deepEqual(statuses.filter((s) => s >= 500), []);
      assert.deepEqual(t.logs.filter((line) => /"level":(50|60)/.test(line)), []);
    });
  });
}
