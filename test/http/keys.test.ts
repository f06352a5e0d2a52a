// Two-step API-key rotation: rotate issues a pending key (the old one keeps
// working); confirm, with the pending key, re-encrypts every record in one
// transaction, switches keys and drops every wrapped copy of the old K.
// Confirming twice is harmless; an expired pending key changes nothing; a
// confirm that fails half-way leaves every row as it was.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { fernetDecrypt, fernetEncrypt } from '../../src/crypto/fernet.ts';
import { deriveDataKey, generateApiKey } from '../../src/crypto/keys.ts';
import { bearer, browser, cookieFrom, signUp, type TestApp, type TestUser } from '../helpers/app.ts';
import { appWithDirectDb, type DirectDb, type Row, sealedRecords, snapshotTables, testDrivers } from './support.ts';

const GRAPH = [
  { type: 'entity', name: 'Ada Lovelace', entityType: 'person', observations: ['wrote the first program'] },
  { type: 'entity', name: 'Analytical Engine', entityType: 'machine', observations: ['designed by Babbage'] },
  { type: 'relation', from: 'Ada Lovelace', to: 'Analytical Engine', relationType: 'programmed' },
];

for (const driver of await testDrivers('HTTP key rotation')) {
  describe(`API-key rotation (${driver})`, () => {
    let t: TestApp;
    let db: DirectDb;
    appWithDirectDb(driver, (app, direct) => ([t, db] = [app, direct]));

    /** A user with three memories, two entities and a relation, and a second (locked) session. */
    async function userWithRecords(): Promise<TestUser & { lockedCookie: string }> {
      const user = await signUp(t.app);
      for (const content of ['first memory', 'second memory', 'third memory']) {
        assert.equal((await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(user.apiKey), payload: { content, tags: ['rot'] } })).statusCode, 201);
      }
      const imported = await t.app.inject({
        method: 'POST',
        url: '/api/v1/import?format=mcp-memory-jsonl',
        headers: { ...bearer(user.apiKey), 'content-type': 'application/x-ndjson' },
        payload: GRAPH.map((line) => JSON.stringify(line)).join('\n'),
      });
      assert.deepEqual(imported.json().imported, { memories: 0, entities: 2, relations: 1, observations: 0 });
      const login = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email: user.email, password: user.password } });
      return { ...user, lockedCookie: cookieFrom(login) };
    }

    const rotate = (apiKey: string) => t.app.inject({ method: 'POST', url: '/api/v1/keys/rotate', headers: bearer(apiKey) });
    const confirm = (pendingKey: string) => t.app.inject({ method: 'POST', url: '/api/v1/keys/rotate/confirm', headers: bearer(pendingKey) });
    const exportJson = async (apiKey: string) => {
      const response = await t.app.inject({ method: 'GET', url: '/api/v1/export?format=json', headers: bearer(apiKey) });
      assert.equal(response.statusCode, 200);
      const { memories, entities, relations, unreadable } = response.json();
      return { memories, entities, relations, unreadable };
    };
    const sessionsOf = (userId: string) => db.query('SELECT wrapped_key FROM sessions WHERE user_id = ?', [userId]);

    it('rotates in two steps: the old key works until confirm; then every record is under the new key and the old key opens nothing', async () => {
      const user = await userWithRecords();
      const before = await sealedRecords(db, user.userId);
      const content = await exportJson(user.apiKey);
      assert.equal(before.length, 6);

      const started = await rotate(user.apiKey);
      assert.equal(started.statusCode, 200);
      const { api_key: newKey, expires_at } = started.json();
      assert.match(newKey, /^anm_[A-Za-z0-9_-]{43}$/);
      const lifetime = Date.parse(expires_at) - Date.now();
      assert.ok(lifetime > 55 * 60_000 && lifetime <= 3600_000, `pending key lives about an hour (${lifetime} ms)`);
      const [userRow] = await db.query('SELECT * FROM users WHERE id = ?', [user.userId]);
      assert.equal(userRow!.pending_key_hash, createHash('sha256').update(newKey).digest('hex'));
      assert.equal(userRow!.api_key_hash, createHash('sha256').update(user.apiKey).digest('hex'));
      // Until confirmed nothing else changes: the old key reads and writes, the records are untouched.
      assert.deepEqual(await exportJson(user.apiKey), content);
      assert.deepEqual(await sealedRecords(db, user.userId), before);

      const confirmed = await confirm(newKey);
      assert.equal(confirmed.statusCode, 200);
      assert.deepEqual(confirmed.json(), { status: 'rotated', records: 6 });

      const oldKeyAnswer = await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: bearer(user.apiKey) });
      assert.equal(oldKeyAnswer.statusCode, 401);
      assert.deepEqual(await exportJson(newKey), content, 'every record carried over');

      const after = await sealedRecords(db, user.userId);
      assert.deepEqual(after.map((r) => r.id), before.map((r) => r.id));
      const oldK = deriveDataKey(user.apiKey, user.userId);
      const newK = deriveDataKey(newKey, user.userId);
      for (const row of after) {
        const previous = before.find((r) => r.id === row.id)!;
        assert.notEqual(row.token, previous.token);
        assert.deepEqual(JSON.parse(fernetDecrypt(newK, String(row.token)).toString()), JSON.parse(fernetDecrypt(oldK, String(previous.token)).toString()));
        assert.throws(() => fernetDecrypt(oldK, String(row.token)), 'the old K opens nothing');
        if (row.kind !== 'memory') assert.notEqual(row.lookup, previous.lookup, 'keyed lookup tags are rebuilt under the new K');
        assert.equal(row.created_at, previous.created_at);
      }
      // Every wrapped copy of the old K is gone: sessions stay, locked, until unlocked with the new key.
      const sessions = await sessionsOf(user.userId);
      assert.equal(sessions.length, 2);
      assert.ok(sessions.every((s) => s.wrapped_key === null));
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: { cookie: user.cookie } })).json().error.code, 'locked');
      const relock = await t.app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', headers: browser(user.lockedCookie), payload: { api_key: user.apiKey } });
      assert.equal(relock.statusCode, 403, 'the old key no longer unlocks');
      const unlock = await t.app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', headers: browser(user.lockedCookie), payload: { api_key: newKey } });
      assert.equal(unlock.statusCode, 200);
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: { cookie: user.lockedCookie } })).json().items.length, 3);
      // Search works under the new key (its index was rebuilt too).
      const search = await t.app.inject({ method: 'GET', url: '/api/v1/memories/search?q=second', headers: bearer(newKey) });
      assert.deepEqual(search.json().results.map((r: { memory: { content: string } }) => r.memory.content), ['second memory']);
    });

    it('confirming twice is harmless: 200 already_rotated, nothing re-encrypted', async () => {
      const user = await userWithRecords();
      const newKey = (await rotate(user.apiKey)).json().api_key;
      assert.equal((await confirm(newKey)).json().status, 'rotated');
      const snapshot = await sealedRecords(db, user.userId);
      const again = await confirm(newKey);
      assert.equal(again.statusCode, 200);
      assert.deepEqual(again.json(), { status: 'already_rotated', records: 6 });
      assert.deepEqual(await sealedRecords(db, user.userId), snapshot);
      const oldKey = await confirm(user.apiKey);
      assert.equal(oldKey.statusCode, 401);
      assert.equal((await confirm(generateApiKey())).statusCode, 401);
      const noKey = await t.app.inject({ method: 'POST', url: '/api/v1/keys/rotate/confirm' });
      assert.equal(noKey.statusCode, 401);
      assert.equal(noKey.headers['www-authenticate'], 'Bearer realm="anamnesis"');
    });

    it('a second rotate replaces the first pending key', async () => {
      const user = await userWithRecords();
      const first = (await rotate(user.apiKey)).json().api_key;
      const second = (await rotate(user.apiKey)).json().api_key;
      assert.equal((await confirm(first)).statusCode, 401);
      assert.equal((await confirm(second)).json().status, 'rotated');
    });

    it('an expired pending key is refused with 401 and changes no record; the old key keeps working', async () => {
      const user = await userWithRecords();
      const newKey = (await rotate(user.apiKey)).json().api_key;
      await db.query('UPDATE users SET pending_key_expires_at = ? WHERE id = ?', [Date.now() - 1000, user.userId]);
      const records = await sealedRecords(db, user.userId);
      const sessions = await sessionsOf(user.userId);
      const response = await confirm(newKey);
      assert.equal(response.statusCode, 401);
      assert.equal(response.json().error.code, 'unauthorized');
      assert.deepEqual(await sealedRecords(db, user.userId), records);
      assert.deepEqual(await sessionsOf(user.userId), sessions);
      assert.equal((await exportJson(user.apiKey)).memories.length, 3);
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: bearer(newKey) })).statusCode, 401);
      assert.equal((await confirm(newKey)).statusCode, 401, 'and it stays refused');
    });

    it('a confirm that fails half-way (one record does not decrypt) changes nothing at all', async () => {
      const user = await userWithRecords();
      const newKey = (await rotate(user.apiKey)).json().api_key;
      const rows = await sealedRecords(db, user.userId);
      // The last record in id order is sealed under a stranger's key: well-formed, but unreadable with this K.
      const victim: Row = rows.at(-1)!;
      await db.query('UPDATE records SET token = ? WHERE user_id = ? AND id = ?', [fernetEncrypt(deriveDataKey(generateApiKey(), user.userId), '{}'), user.userId, victim.id]);
      const before = await snapshotTables(db);
      const response = await confirm(newKey);
      assert.equal(response.statusCode, 409);
      assert.equal(response.json().error.code, 'conflict');
      assert.deepEqual(response.json().error.unreadable, [victim.id]);
      assert.deepEqual(await snapshotTables(db), before, 'every row exactly as before');
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: bearer(user.apiKey) })).statusCode, 200, 'the old key still works');
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: bearer(newKey) })).statusCode, 401);
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: { cookie: user.cookie } })).statusCode, 200, 'sessions keep their wrapped key');
    });
  });
}
