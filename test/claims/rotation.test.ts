// The rotation claim, stated exactly. Tokens made before a rotation decrypt
// under the old K by definition (the test checks that much as a control).
// What rotation promises is that afterwards (1) the old API key is refused
// everywhere — 401 on every route and on /mcp, 403 as an unlock key, and its
// hash is gone — and (2) nothing stored for the user any longer opens under
// the old key's K: every record, index segment and delta was re-encrypted
// under the new K, no token from before survives, and every wrapped copy of
// the old K (sessions, the pending wrap) is deleted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fernetDecrypt } from '../../src/crypto/fernet.ts';
import { deriveDataKey, FORMAT_VERSION, secretLookupHash } from '../../src/crypto/keys.ts';
import { JSON_EXPORT_FORMAT } from '../../src/vault/transfer.ts';
import { bearer, makeTestApp, signUp, type TestApp, type TestUser } from '../helpers/app.ts';
import { openDirectDb, type DirectDb, testDrivers } from '../http/support.ts';
import { mcpInject } from './support.ts';

function opens(key: Buffer, token: string): boolean {
  try {
    fernetDecrypt(key, token);
    return true;
  } catch {
    return false;
  }
}

/** Every token stored for the user: records of every kind, session wraps, the pending wrap. */
async function storedTokens(db: DirectDb, userId: string): Promise<Array<{ where: string; token: string }>> {
  const records = await db.query('SELECT id, kind, token FROM records WHERE user_id = ?', [userId]);
  const sessions = await db.query('SELECT id, wrapped_key FROM sessions WHERE user_id = ? AND wrapped_key IS NOT NULL', [userId]);
  const users = await db.query('SELECT pending_key_wrap FROM users WHERE id = ? AND pending_key_wrap IS NOT NULL', [userId]);
  return [
    ...records.map((r) => ({ where: `${String(r.kind)} ${String(r.id)}`, token: String(r.token) })),
    ...sessions.map((s) => ({ where: `session ${String(s.id)}`, token: String(s.wrapped_key) })),
    ...users.map((u) => ({ where: 'pending key wrap', token: String(u.pending_key_wrap) })),
  ];
}

for (const driver of await testDrivers('claims: rotation')) {
  describe(`after rotation the old key opens nothing (${driver})`, () => {
    let t: TestApp;
    let db: DirectDb;
    let user: TestUser;
    let oldKey: string;
    let newKey: string;
    let memoryId: string;
    let beforeTokens: Array<{ where: string; token: string }>;

    before(async () => {
      t = await makeTestApp({ driver });
      db = await openDirectDb(t);
      user = await signUp(t.app);
      oldKey = user.apiKey;
      const now = Date.now();
      await t.app.inject({
        method: 'POST',
        url: '/api/v1/import?format=json',
        headers: bearer(oldKey),
        payload: { format: JSON_EXPORT_FORMAT, version: FORMAT_VERSION, memories: Array.from({ length: 70 }, (_, i) => ({ id: crypto.randomUUID(), content: `bulk memory ${i} about rotation`, tags: ['bulk'], created_at: new Date(now - 1000 + i).toISOString(), updated_at: new Date(now - 1000 + i).toISOString() })), entities: [], relations: [] },
      });
      memoryId = (await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(oldKey), payload: { content: 'a single memory in a delta', tags: ['single'] } })).json().id;
      await mcpInject(t.app, oldKey, 'create_entities', { entities: [{ name: 'Rotor', entityType: 'machine', observations: ['spins'] }, { name: 'Stator', entityType: 'machine', observations: [] }] });
      await mcpInject(t.app, oldKey, 'create_relations', { relations: [{ from: 'Rotor', to: 'Stator', relationType: 'turns inside' }] });
      newKey = (await t.app.inject({ method: 'POST', url: '/api/v1/keys/rotate', headers: bearer(oldKey) })).json().api_key;
      // Copied before confirm: what an attacker holding an old backup has.
      beforeTokens = await storedTokens(db, user.userId);
      const confirm = await t.app.inject({ method: 'POST', url: '/api/v1/keys/rotate/confirm', headers: bearer(newKey) });
      assert.deepEqual(confirm.json(), { status: 'rotated', records: 74 });
    });
    after(async () => {
      await db.close();
      await t.close();
    });

    it('control: the tokens copied before confirm open under the old K, as any ciphertext does under its own key', () => {
      const kinds = new Set(beforeTokens.map((x) => x.where.split(' ')[0]));
      for (const kind of ['memory', 'entity', 'relation', 'memory-index', 'memory-delta', 'graph-delta', 'session', 'pending']) assert.ok(kinds.has(kind), `a ${kind} token before rotation`);
      const oldK = deriveDataKey(oldKey, user.userId);
      for (const { where, token } of beforeTokens.filter((x) => !x.where.startsWith('session') && !x.where.startsWith('pending'))) assert.ok(opens(oldK, token), where);
    });

    it('every token stored after rotation fails under the old K and opens under the new one; none from before survives', async () => {
      const oldK = deriveDataKey(oldKey, user.userId);
      const newK = deriveDataKey(newKey, user.userId);
      const afterTokens = await storedTokens(db, user.userId);
      assert.ok(afterTokens.length >= 76, `tokens stored: ${afterTokens.length}`);
      for (const { where, token } of afterTokens) {
        assert.equal(opens(oldK, token), false, `${where} still opens under the old K`);
        assert.ok(opens(newK, token), `${where} does not open under the new K`);
      }
      const previous = new Set(beforeTokens.map((x) => x.token));
      assert.deepEqual(afterTokens.filter((x) => previous.has(x.token)), [], 'a token from before rotation is still stored');
      // No wrapped copy of the old K is left: sessions are locked, the pending wrap is gone.
      assert.deepEqual(await db.query('SELECT id FROM sessions WHERE user_id = ? AND wrapped_key IS NOT NULL', [user.userId]), []);
      assert.deepEqual(await db.query('SELECT id FROM users WHERE id = ? AND pending_key_wrap IS NOT NULL', [user.userId]), []);
      assert.deepEqual(await db.query('SELECT id FROM users WHERE api_key_hash = ? OR pending_key_hash = ?', [secretLookupHash(oldKey), secretLookupHash(oldKey)]), []);
    });

    it('the old API key is refused with 401 on every route that takes a key, and on /mcp', async () => {
      const attempts: Array<{ method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string; payload?: unknown; headers?: Record<string, string> }> = [
        { method: 'GET', url: '/api/v1/accounts/current' },
        { method: 'GET', url: '/api/v1/memories' },
        { method: 'POST', url: '/api/v1/memories', payload: { content: 'written with the old key' } },
        { method: 'GET', url: '/api/v1/memories/search?q=rotation' },
        { method: 'GET', url: `/api/v1/memories/${memoryId}` },
        { method: 'PATCH', url: `/api/v1/memories/${memoryId}`, payload: { content: 'changed with the old key' } },
        { method: 'DELETE', url: `/api/v1/memories/${memoryId}` },
        { method: 'POST', url: '/api/v1/keys/rotate' },
        { method: 'POST', url: '/api/v1/keys/rotate/confirm' },
        { method: 'GET', url: '/api/v1/export?format=encrypted' },
        { method: 'GET', url: '/api/v1/export?format=json' },
        { method: 'POST', url: '/api/v1/import?format=mcp-memory-jsonl', payload: '{"type":"entity","name":"X","entityType":"t","observations":[]}', headers: { 'content-type': 'application/x-ndjson' } },
        { method: 'POST', url: '/mcp', payload: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'read_graph', arguments: {} } }, headers: { host: 'localhost', accept: 'application/json, text/event-stream' } },
      ];
      for (const attempt of attempts) {
        const answer = await t.app.inject({ method: attempt.method, url: attempt.url, headers: { ...bearer(oldKey), ...attempt.headers }, ...(attempt.payload !== undefined ? { payload: attempt.payload as string } : {}) });
        assert.equal(answer.statusCode, 401, `${attempt.method} ${attempt.url}: ${answer.body}`);
        assert.equal(answer.json().error.code, 'unauthorized');
      }
      // As an unlock key for a session it is refused too, and the data is intact under the new key.
      const login = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email: user.email, password: user.password } });
      const cookie = `anamnesis_session=${login.cookies.find((c) => c.name === 'anamnesis_session')!.value}`;
      assert.equal((await t.app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', headers: { cookie, origin: 'http://localhost:80' }, payload: { api_key: oldKey } })).statusCode, 403);
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: { cookie: user.cookie } })).statusCode, 403, 'the session unlocked before rotation is locked now');
      const exported = (await t.app.inject({ method: 'GET', url: '/api/v1/export?format=json', headers: bearer(newKey) })).json();
      assert.equal(exported.memories.length, 71);
      assert.equal(exported.entities.length, 2);
      assert.deepEqual(exported.unreadable, []);
    });
  });
}
