// Per-request authentication and CSRF: a Bearer API key or an unlocked
// session cookie; cookie writes must come from our own origin; a malformed or
// unknown credential is 401 with a challenge; a pending rotation key opens
// nothing but the confirm route.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateApiKey } from '../../src/crypto/keys.ts';
import { bearer, browser, makeTestApp, signUp, TEST_ORIGIN, type TestApp, type TestUser } from '../helpers/app.ts';
import { type DirectDb, openDirectDb, snapshotTables, testDrivers } from './support.ts';

const CHALLENGE = 'Bearer realm="anamnesis"';

for (const driver of await testDrivers('HTTP authentication and CSRF')) {
  describe(`authentication and CSRF (${driver})`, () => {
    let t: TestApp;
    let db: DirectDb;
    let user: TestUser;
    let memoryId: string;
    before(async () => {
      t = await makeTestApp({ driver });
      db = await openDirectDb(t);
      user = await signUp(t.app);
      memoryId = (await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(user.apiKey), payload: { content: 'written with the key' } })).json().id;
    });
    after(async () => {
      await db.close();
      await t.close();
    });

    it('a Bearer API key and an unlocked session cookie both read and write', async () => {
      const byKey = await t.app.inject({ method: 'GET', url: `/api/v1/memories/${memoryId}`, headers: bearer(user.apiKey) });
      assert.equal(byKey.statusCode, 200);
      const byCookie = await t.app.inject({ method: 'GET', url: `/api/v1/memories/${memoryId}`, headers: { cookie: user.cookie } });
      assert.equal(byCookie.statusCode, 200);
      assert.deepEqual(byCookie.json(), byKey.json());
      const written = await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: browser(user.cookie), payload: { content: 'written in the browser' } });
      assert.equal(written.statusCode, 201);
      const who = await t.app.inject({ method: 'GET', url: '/api/v1/accounts/current', headers: { cookie: user.cookie } });
      const { user_id, email, via } = who.json();
      assert.deepEqual({ user_id, email, via }, { user_id: user.userId, email: user.email, via: 'session' });
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/accounts/current', headers: bearer(user.apiKey) })).json().via, 'api-key');
      const sameSite = await t.app.inject({ method: 'PATCH', url: `/api/v1/memories/${written.json().id}`, headers: { cookie: user.cookie, 'sec-fetch-site': 'same-origin' }, payload: { tags: ['ok'] } });
      assert.equal(sameSite.statusCode, 200, 'Sec-Fetch-Site: same-origin stands in for a missing Origin');
    });

    it('refuses every cookie-authenticated write from another site, or with no Origin and no Sec-Fetch-Site, with 403 csrf_rejected and changes nothing', async () => {
      const other = await signUp(t.app);
      const session = other.cookie;
      const ownMemory = (await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(other.apiKey), payload: { content: 'mine' } })).json().id;
      const writes = [
        { method: 'POST', url: '/api/v1/memories', payload: { content: 'forged' } },
        { method: 'PATCH', url: `/api/v1/memories/${ownMemory}`, payload: { content: 'forged' } },
        { method: 'DELETE', url: `/api/v1/memories/${ownMemory}` },
        { method: 'POST', url: '/api/v1/keys/rotate' },
        { method: 'POST', url: '/api/v1/keys/reset', payload: { password: other.password, confirm: 'DELETE MY MEMORIES' } },
        { method: 'POST', url: '/api/v1/sessions/unlock', payload: { api_key: other.apiKey } },
        { method: 'DELETE', url: '/api/v1/sessions/current' },
        { method: 'DELETE', url: '/api/v1/accounts/current', payload: { password: other.password } },
        { method: 'POST', url: '/api/v1/import?format=mcp-memory-jsonl', payload: '{"type":"entity","name":"Forged","entityType":"x","observations":[]}', contentType: 'application/x-ndjson' },
      ] as const;
      const forgedHeaders: Array<Record<string, string>> = [
        { cookie: session, origin: 'https://evil.example' },
        { cookie: session, origin: 'null' },
        { cookie: session, origin: `${TEST_ORIGIN}.evil.example` },
        { cookie: session },
        { cookie: session, 'sec-fetch-site': 'cross-site' },
        { cookie: session, 'sec-fetch-site': 'same-site' },
      ];
      const before = await snapshotTables(db);
      for (const write of writes) {
        for (const headers of forgedHeaders) {
          const contentType = 'contentType' in write ? { 'content-type': write.contentType } : {};
          const payload = 'payload' in write ? write.payload : undefined;
          const response = await t.app.inject({ method: write.method, url: write.url, headers: { ...headers, ...contentType }, ...(payload !== undefined ? { payload } : {}) });
          assert.equal(response.statusCode, 403, `${write.method} ${write.url} ${JSON.stringify(headers)}`);
          assert.deepEqual(response.json(), { error: { code: 'csrf_rejected', message: 'this request did not come from this site' } });
          assert.equal(response.headers['set-cookie'], undefined);
        }
      }
      const afterwards = await snapshotTables(db);
      // Reading a session touches last_seen_at at most once a minute; nothing else may change.
      assert.deepEqual(afterwards, before);
      // Safe methods need no Origin: a cross-site GET is harmless (the answer goes to the cookie's owner only via CORS, which we never allow).
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: { cookie: session } })).statusCode, 200);
    });

    it('Bearer writes need no Origin (they carry no ambient credential), even from another site', async () => {
      const plain = await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(user.apiKey), payload: { content: 'from a script' } });
      assert.equal(plain.statusCode, 201);
      const crossSite = await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: { ...bearer(user.apiKey), origin: 'https://claude.ai' }, payload: { content: 'from a web client' } });
      assert.equal(crossSite.statusCode, 201);
      assert.equal((await t.app.inject({ method: 'DELETE', url: `/api/v1/memories/${plain.json().id}`, headers: bearer(user.apiKey) })).statusCode, 204);
    });

    it('answers a missing, malformed or unknown credential with 401 and WWW-Authenticate, never reading the cookie behind it', async () => {
      const cases: Array<Record<string, string>> = [
        {},
        { authorization: 'Bearer' },
        { authorization: 'Bearer ' },
        { authorization: 'Basic dXNlcjpwYXNz' },
        { authorization: `Token ${user.apiKey}` },
        { authorization: 'Bearer anm_short' },
        { authorization: `Bearer ${user.apiKey} extra` },
        { authorization: `Bearer ${user.apiKey.toUpperCase()}` },
        { authorization: `Bearer ${generateApiKey()}` },
        { authorization: `Bearer ${generateApiKey()}`, cookie: user.cookie },
        { cookie: 'anamnesis_session=not-a-token' },
        { cookie: `anamnesis_session=${'A'.repeat(43)}` },
      ];
      for (const headers of cases) {
        const response = await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers });
        assert.equal(response.statusCode, 401, JSON.stringify(headers));
        assert.equal(response.headers['www-authenticate'], CHALLENGE);
        assert.equal(response.json().error.code, 'unauthorized');
        assert.ok(!response.body.includes('written with the key'));
      }
    });

    it('a pending rotation key opens nothing until confirmed', async () => {
      const owner = await signUp(t.app);
      const rotate = await t.app.inject({ method: 'POST', url: '/api/v1/keys/rotate', headers: bearer(owner.apiKey) });
      const pending = rotate.json().api_key as string;
      for (const url of ['/api/v1/memories', '/api/v1/accounts/current', '/api/v1/export?format=json']) {
        const response = await t.app.inject({ method: 'GET', url, headers: bearer(pending) });
        assert.equal(response.statusCode, 401, url);
        assert.equal(response.headers['www-authenticate'], CHALLENGE);
      }
      const session = await t.app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', headers: browser(owner.cookie), payload: { api_key: pending } });
      assert.equal(session.statusCode, 403, 'a pending key does not unlock a session');
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: bearer(owner.apiKey) })).statusCode, 200);
    });

    it('a user’s credential never reaches another user’s memory', async () => {
      const other = await signUp(t.app);
      for (const headers of [bearer(other.apiKey), { cookie: other.cookie }]) {
        assert.equal((await t.app.inject({ method: 'GET', url: `/api/v1/memories/${memoryId}`, headers })).statusCode, 404);
        assert.equal((await t.app.inject({ method: 'DELETE', url: `/api/v1/memories/${memoryId}`, headers: { ...headers, origin: TEST_ORIGIN } })).statusCode, 404);
      }
      assert.equal((await t.app.inject({ method: 'GET', url: `/api/v1/memories/${memoryId}`, headers: bearer(user.apiKey) })).statusCode, 200);
    });
  });
}
