// Claim 03, "compromise of one is compromise of one": user B's API key and
// session, tried against user A's memory ids, entity names, relations and
// sessions on every REST route and every MCP tool, open nothing of A's. Reads
// return only B's data; writes aimed at A's records miss (404, or act on B's
// own graph); A's data is exactly as it was afterwards. The test fails if a
// route or tool is added without being tried here. End-to-end accounts
// likewise: B's `ane_` token and B's flows reach nothing of A's.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, browser, cookieFrom, makeTestApp, signUp, type TestApp, type TestUser } from '../helpers/app.ts';
import { testDrivers } from '../http/support.ts';
import { csrfTokenFor } from '../../src/web/csrf-token.ts';
import { mcpInject, mcpToolNames } from './support.ts';
import { callTool, listen } from '../mcp/helpers.ts';
import { authorizeWithSdk, TestOAuthProvider } from '../oauth/helpers.ts';
import * as opaque from '@serenity-kit/opaque';
import { auth as e2eAuth, logIn, post as post2, recoverySecrets, sealRecord, signUpE2E } from '../e2e/support.ts';

const A_SECRET = 'A-only: the vermilion sextant is under the floorboard';
const A_TAG = 'a-only-tag';
const A_ENTITY = 'A-only Entity Marguerite';
const A_OTHER = 'A-only Entity Bartholomew';
const A_OBSERVATION = 'A-only observation: speaks Basque';
const A_RELATION = 'a-only-knows';

/** A's data as A sees it, without the export's timestamp. */
async function snapshotOf(t: TestApp, user: TestUser): Promise<unknown> {
  const response = await t.app.inject({ method: 'GET', url: '/api/v1/export?format=json', headers: bearer(user.apiKey) });
  assert.equal(response.statusCode, 200);
  const { exported_at: _when, ...rest } = response.json();
  return rest;
}

for (const driver of await testDrivers('claims: one user opens nothing of another')) {
  describe(`one user's key or session opens nothing of another's (${driver})`, () => {
    let t: TestApp;
    let a: TestUser;
    let b: TestUser;
    let aMemoryId: string;
    let aSessionId: string;
    let aGrantId: string;
    let baseUrl: string;
    let before_: unknown;
    const triedRoutes = new Set<string>();
    const triedTools = new Set<string>();

    /** A REST request as B (B's API key unless `headers` carry B's session cookie); remembers the route it tried. */
    const asB = async (route: string, options: { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string; headers?: Record<string, string>; payload?: object | string }) => {
      triedRoutes.add(route);
      const credential = options.headers?.cookie ? {} : bearer(b.apiKey);
      return t.app.inject({ method: options.method, url: options.url, headers: { ...credential, ...options.headers }, ...(options.payload !== undefined ? { payload: options.payload } : {}) });
    };
    const toolAsB = async (name: string, args: Record<string, unknown>) => {
      triedTools.add(name);
      const answer = await mcpInject(t.app, b.apiKey, name, args);
      assert.equal(answer.status, 200, `${name}: ${answer.text}`);
      return answer;
    };

    before(async () => {
      t = await makeTestApp({ driver });
      a = await signUp(t.app);
      b = await signUp(t.app);
      const created = await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(a.apiKey), payload: { content: A_SECRET, tags: [A_TAG] } });
      aMemoryId = created.json().id;
      await mcpInject(t.app, a.apiKey, 'create_entities', { entities: [{ name: A_ENTITY, entityType: 'person', observations: [A_OBSERVATION] }, { name: A_OTHER, entityType: 'person', observations: [] }] });
      await mcpInject(t.app, a.apiKey, 'create_relations', { relations: [{ from: A_ENTITY, to: A_OTHER, relationType: A_RELATION }] });
      await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(b.apiKey), payload: { content: 'B owns this one' } });
      const aSessions = await t.app.inject({ method: 'GET', url: '/api/v1/sessions', headers: { cookie: a.cookie } });
      aSessionId = aSessions.json().sessions[0].id;
      baseUrl = await listen(t.app);
      await (await authorizeWithSdk(baseUrl, a.cookie, new TestOAuthProvider())).close();
      aGrantId = (await t.store.listOAuthGrants(a.userId))[0]!.id;
      before_ = await snapshotOf(t, a);
    });
    after(() => t.close());

    it("B's key reaches none of A's memories through the memory routes", async () => {
      for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
        const answer = await asB(`${method} /api/v1/memories/{id}`, { method, url: `/api/v1/memories/${aMemoryId}`, ...(method === 'PATCH' ? { payload: { content: 'overwritten by B' } } : {}) });
        assert.equal(answer.statusCode, 404, `${method} of A's memory with B's key`);
        assert.doesNotMatch(answer.body, /vermilion/);
      }
      const list = await asB('GET /api/v1/memories', { method: 'GET', url: '/api/v1/memories?limit=100' });
      assert.deepEqual(list.json().items.map((m: { content: string }) => m.content), ['B owns this one']);
      const byTag = await asB('GET /api/v1/memories', { method: 'GET', url: `/api/v1/memories?tag=${A_TAG}` });
      assert.deepEqual(byTag.json().items, []);
      const search = await asB('GET /api/v1/memories/search', { method: 'GET', url: '/api/v1/memories/search?q=vermilion%20sextant' });
      assert.deepEqual(search.json().results, []);
      const created = await asB('POST /api/v1/memories', { method: 'POST', url: '/api/v1/memories', payload: { content: 'B writes its own', tags: [A_TAG] } });
      assert.equal(created.statusCode, 201);
    });

    it("B's exports hold only B's records; A's encrypted export does not import under B's key", async () => {
      const json = await asB('GET /api/v1/export', { method: 'GET', url: '/api/v1/export?format=json' });
      assert.equal(json.json().user_id, b.userId);
      assert.doesNotMatch(json.body, /A-only|vermilion/);
      const encrypted = await asB('GET /api/v1/export', { method: 'GET', url: '/api/v1/export?format=encrypted' });
      assert.doesNotMatch(encrypted.body, new RegExp(aMemoryId));
      const aExport = (await t.app.inject({ method: 'GET', url: '/api/v1/export?format=encrypted', headers: bearer(a.apiKey) })).body;
      const imported = await asB('POST /api/v1/import', { method: 'POST', url: '/api/v1/import?format=encrypted', headers: { 'content-type': 'application/x-ndjson' }, payload: aExport });
      assert.equal(imported.statusCode, 200);
      assert.deepEqual(imported.json().imported, { memories: 0, entities: 0, relations: 0, observations: 0 });
      assert.equal(imported.json().errors.length, 4, "each of A's tokens refused");
      for (const error of imported.json().errors) assert.match(error.message, /does not open/);
      // The reference format names entities: B importing A's entity name creates B's own entity.
      const jsonl = await asB('POST /api/v1/import', { method: 'POST', url: '/api/v1/import?format=mcp-memory-jsonl', headers: { 'content-type': 'application/x-ndjson' }, payload: JSON.stringify({ type: 'entity', name: A_ENTITY, entityType: 'impostor', observations: ['B says so'] }) });
      assert.equal(jsonl.json().imported.entities, 1, "B's namesake is new to B's graph");
    });

    it("B's sessions, account and key routes touch only B", async () => {
      const me = await asB('GET /api/v1/accounts/current', { method: 'GET', url: '/api/v1/accounts/current' });
      assert.equal(me.json().user_id, b.userId);
      const sessions = await asB('GET /api/v1/sessions', { method: 'GET', url: '/api/v1/sessions', headers: { cookie: b.cookie } });
      assert.ok(sessions.json().sessions.every((s: { id: string }) => s.id !== aSessionId));
      const revoke = await asB('DELETE /api/v1/sessions/{id}', { method: 'DELETE', url: `/api/v1/sessions/${aSessionId}`, headers: { ...browser(b.cookie) } });
      assert.equal(revoke.statusCode, 404, "B's session cannot revoke A's session");
      // B's locked session refuses A's API key.
      const login = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email: b.email, password: b.password } });
      triedRoutes.add('POST /api/v1/sessions');
      const bLocked = cookieFrom(login);
      const unlock = await asB('POST /api/v1/sessions/unlock', { method: 'POST', url: '/api/v1/sessions/unlock', headers: { ...browser(bLocked) }, payload: { api_key: a.apiKey } });
      assert.equal(unlock.statusCode, 403);
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: { cookie: bLocked } })).statusCode, 403, 'still locked');
      // A's password does not delete B's account or reset B's key, and touches nothing of A's.
      const del = await asB('DELETE /api/v1/accounts/current', { method: 'DELETE', url: '/api/v1/accounts/current', headers: { ...browser(b.cookie) }, payload: { password: 'not B password at all 123' } });
      assert.equal(del.statusCode, 403);
      const reset = await asB('POST /api/v1/keys/reset', { method: 'POST', url: '/api/v1/keys/reset', headers: { ...browser(b.cookie) }, payload: { password: 'not B password at all 123', confirm: 'DELETE MY MEMORIES' } });
      assert.equal(reset.statusCode, 403);
      // B rotates its own key: only B's records are re-encrypted.
      const pending = (await asB('POST /api/v1/keys/rotate', { method: 'POST', url: '/api/v1/keys/rotate' })).json().api_key as string;
      const confirm = await asB('POST /api/v1/keys/rotate/confirm', { method: 'POST', url: '/api/v1/keys/rotate/confirm', headers: bearer(pending) });
      assert.equal(confirm.json().records, 3, "B's two memories and B's imported entity, nothing of A's");
      b = { ...b, apiKey: pending };
      // B logs out: A's sessions stay.
      const logout = await asB('DELETE /api/v1/sessions/current', { method: 'DELETE', url: '/api/v1/sessions/current', headers: { ...browser(bLocked) } });
      assert.equal(logout.statusCode, 204);
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: { cookie: a.cookie } })).statusCode, 200, "A's session still works");
      // Public routes: a sign-up with A's email is refused and learns nothing of A's data.
      triedRoutes.add('POST /api/v1/accounts');
      const dup = await t.app.inject({ method: 'POST', url: '/api/v1/accounts', payload: { email: a.email, password: 'another long passphrase 77' } });
      assert.equal(dup.statusCode, 409);
      assert.doesNotMatch(dup.body, /A-only|vermilion/);
    });

    it("every MCP tool with B's key misses A's memories, entities, observations and relations", async () => {
      assert.match((await toolAsB('update_memory', { id: aMemoryId, content: 'B was here' })).text, /not found/);
      assert.match((await toolAsB('forget', { id: aMemoryId })).text, /not found/);
      assert.deepEqual((await toolAsB('recall', { query: 'vermilion sextant' })).structured.results, []);
      assert.ok((await toolAsB('list_memories', {})).structured.items.every((m: { content: string }) => !m.content.includes('vermilion')));
      assert.ok((await toolAsB('remember', { content: 'B remembers its own' })).isError === false);
      assert.deepEqual((await toolAsB('search_nodes', { query: 'Basque' })).structured.entities, []);
      assert.deepEqual((await toolAsB('open_nodes', { names: [A_OTHER] })).structured, { entities: [], relations: [] });
      const graph = (await toolAsB('read_graph', {})).structured;
      assert.deepEqual(graph.entities.map((e: { entityType: string }) => e.entityType), ['impostor'], "only B's namesake");
      assert.deepEqual(graph.relations, []);
      assert.equal((await toolAsB('add_observations', { observations: [{ entityName: A_OTHER, contents: ['B adds'] }] })).isError, true, "A's entity is unknown to B");
      await toolAsB('delete_observations', { deletions: [{ entityName: A_ENTITY, observations: [A_OBSERVATION] }] });
      await toolAsB('delete_relations', { relations: [{ from: A_ENTITY, to: A_OTHER, relationType: A_RELATION }] });
      await toolAsB('delete_entities', { entityNames: [A_OTHER, A_ENTITY] });
      assert.equal((await toolAsB('create_entities', { entities: [{ name: A_OTHER, entityType: 'impostor', observations: [] }] })).structured.entities.length, 1, 'new in B’s graph');
      assert.equal((await toolAsB('create_relations', { relations: [{ from: A_OTHER, to: A_ENTITY, relationType: A_RELATION }] })).isError, false);
    });

    it("another user's OAuth access token reads none of A's memories or graph, and cannot disconnect A's apps", async () => {
      // A fresh user (B's session may be locked by the key tests above).
      const c = await signUp(t.app);
      const client = await authorizeWithSdk(baseUrl, c.cookie, new TestOAuthProvider());
      const structured = async (name: string, args: Record<string, unknown>) => (await callTool(client, name, args)).structuredContent as any;
      assert.deepEqual((await structured('recall', { query: 'vermilion sextant' })).results, []);
      assert.ok((await structured('list_memories', {})).items.every((m: { content: string }) => !m.content.includes('vermilion')));
      assert.deepEqual((await structured('search_nodes', { query: 'Basque' })).entities, []);
      assert.deepEqual(await structured('open_nodes', { names: [A_OTHER] }), { entities: [], relations: [] });
      await client.close();

      const page = await t.app.inject({ method: 'GET', url: '/app/connections', headers: { cookie: c.cookie } });
      assert.equal(page.statusCode, 200);
      assert.doesNotMatch(page.body, new RegExp(aGrantId));
      const disconnect = await t.app.inject({ method: 'POST', url: `/app/connections/${aGrantId}/disconnect`, headers: browser(c.cookie), payload: { _csrf: csrfTokenFor(c.cookie.split('=')[1]!) } });
      assert.equal(disconnect.statusCode, 404);
      assert.deepEqual((await t.store.listOAuthGrants(a.userId)).map((g) => g.id), [aGrantId]);
    });

    it("B's session cookie shows none of A's data on the web pages", async () => {
      for (const url of ['/app', '/app/graph', '/app/sessions', `/app/memories/${aMemoryId}/edit`, `/app/memories/${aMemoryId}/delete`]) {
        const page = await t.app.inject({ method: 'GET', url, headers: { cookie: b.cookie } });
        assert.ok(page.statusCode < 500, `${url}: ${page.statusCode}`);
        // B has namesakes of A's entities by now (created above); A's content is what must not show.
        assert.doesNotMatch(page.body, /vermilion|Basque/, url);
        assert.ok(!page.body.includes(aSessionId), `${url} shows A's session id`);
      }
    });

    it("B's session cookie changes none of A's data through the web forms", async () => {
      // A fresh unlocked session of B's (B rotated its key above, which locked its older ones),
      // with B's own valid CSRF token and origin: only the ownership of A's records stands in the way.
      const bSession = cookieFrom(await t.app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email: b.email, password: b.password } }));
      const unlock = await t.app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', headers: browser(bSession), payload: { api_key: b.apiKey } });
      assert.equal(unlock.statusCode, 200);
      const form = (fields: Record<string, string>) => new URLSearchParams({ ...fields, _csrf: csrfTokenFor(bSession.slice(bSession.indexOf('=') + 1)) }).toString();
      const post = (url: string, fields: Record<string, string> = {}) =>
        t.app.inject({ method: 'POST', url, headers: { ...browser(bSession), 'content-type': 'application/x-www-form-urlencoded' }, payload: form(fields) });
      assert.equal((await post('/app/memories', { content: 'B writes its own memory through the form', tags: '' })).statusCode, 303, 'the session and token are valid');
      for (const [url, fields] of [
        [`/app/memories/${aMemoryId}`, { content: 'overwritten by B', tags: '' }],
        [`/app/memories/${aMemoryId}/delete`, {}],
        [`/app/sessions/${aSessionId}/revoke`, {}],
      ] as const) {
        const answer = await post(url, fields);
        assert.equal(answer.statusCode, 404, `${url}: ${answer.statusCode}`);
        assert.doesNotMatch(answer.body, /vermilion|Basque/, url);
      }
      const aSessions = await t.app.inject({ method: 'GET', url: '/api/v1/sessions', headers: { cookie: a.cookie } });
      assert.equal(aSessions.statusCode, 200, "A's session still works");
    });

    it("B's end-to-end session and flows touch only B's end-to-end account", async () => {
      const a2 = await signUpE2E(t.app);
      const b2 = await signUpE2E(t.app);
      const id = 'a-only-record';
      const aToken = sealRecord(a2.key, id, 1, { content: A_SECRET });
      assert.equal((await post2(t.app, '/api/v1/e2e/changes', { writes: [{ id, base_version: 0, version: 1, token: aToken }] }, e2eAuth(a2.token))).statusCode, 200);
      const aFeed = async () => (await t.app.inject({ method: 'GET', url: '/api/v1/e2e/changes', headers: e2eAuth(a2.token) })).json();
      const aBefore = await aFeed();
      const asB2 = (route: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) => asB(route, { method, url, headers: e2eAuth(b2.token), ...(payload ? { payload } : {}) });

      const feed = await asB2('GET /api/v1/e2e/changes', 'GET', '/api/v1/e2e/changes?cursor=0');
      assert.deepEqual(feed.json().changes, []);
      // A's id in B's account is B's own, unknown: a conflict with version 0, and nothing of A's.
      const overwrite = await asB2('POST /api/v1/e2e/changes', 'POST', '/api/v1/e2e/changes', { writes: [{ id, base_version: 1, version: 2, token: sealRecord(b2.key, id, 2, { content: 'overwritten by B' }) }] });
      assert.equal(overwrite.statusCode, 409);
      assert.deepEqual(overwrite.json().error.conflicts, [{ id, seq: 0, version: 0, token: null, deleted: false }]);
      const account = await asB2('GET /api/v1/e2e/account', 'GET', '/api/v1/e2e/account');
      assert.equal(account.json().user_id, b2.userId);
      // The public flows, aimed at A's email, give B nothing of A's.
      await opaque.ready;
      const reg = opaque.client.startRegistration({ password: 'B guesses' });
      assert.equal((await asB2('POST /api/v1/e2e/registrations', 'POST', '/api/v1/e2e/registrations', { email: a2.email, registration_request: reg.registrationRequest })).statusCode, 409);
      const step = 'x'.repeat(43);
      const creds = { registration_record: 'A'.repeat(256), password_wrap: aToken, recovery_wrap: aToken, recovery_verifier: '0'.repeat(64) };
      assert.equal((await asB2('POST /api/v1/e2e/accounts', 'POST', '/api/v1/e2e/accounts', { registration_id: step, ...creds })).statusCode, 400);
      const login = await logIn(t.app, a2.email, 'B guesses A password');
      triedRoutes.add('POST /api/v1/e2e/sessions/start').add('POST /api/v1/e2e/sessions/finish');
      assert.equal(login.finish!.statusCode, 401);
      const recovery = await asB2('POST /api/v1/e2e/recovery/start', 'POST', '/api/v1/e2e/recovery/start', { email: a2.email, recovery_auth: recoverySecrets(b2.code, b2.userId, b2.key).recovery_auth, registration_request: reg.registrationRequest });
      assert.equal(recovery.statusCode, 401);
      assert.equal((await asB2('POST /api/v1/e2e/recovery/finish', 'POST', '/api/v1/e2e/recovery/finish', { reset_id: step, ...creds })).statusCode, 400);
      // A server-key B can start a switch of its own account only, and cannot finish one it did not start.
      const started = await asB('POST /api/v1/e2e/conversions/start', { method: 'POST', url: '/api/v1/e2e/conversions/start', payload: { registration_request: reg.registrationRequest } });
      assert.equal(started.json().user_id, b.userId);
      assert.equal((await asB('POST /api/v1/e2e/conversions/finish', { method: 'POST', url: '/api/v1/e2e/conversions/finish', payload: { registration_id: step, ...creds, writes: [] } })).statusCode, 400);
      // B ends B's session and deletes B's account; A's is untouched.
      assert.equal((await asB2('DELETE /api/v1/e2e/sessions/current', 'DELETE', '/api/v1/e2e/sessions/current')).statusCode, 204);
      const b3 = ((await logIn(t.app, b2.email, b2.password)).finish!.json() as { token: string }).token;
      assert.equal((await asB('DELETE /api/v1/e2e/account', { method: 'DELETE', url: '/api/v1/e2e/account', headers: e2eAuth(b3) })).statusCode, 204);
      assert.deepEqual(await aFeed(), aBefore);
      assert.equal((await t.store.findE2EAccount(a2.userId))?.lastSeq, 1);
    });

    it("afterwards A's data is exactly as before, and every route and tool was tried", async () => {
      assert.deepEqual(await snapshotOf(t, a), before_);
      const openapi = (await t.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
      const routes = Object.entries(openapi.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
      assert.deepEqual(routes.filter((r) => !triedRoutes.has(r)), [], 'REST routes not tried across users');
      const tools = await mcpToolNames(t.app, a.apiKey);
      assert.deepEqual(tools.filter((name) => !triedTools.has(name)), [], 'MCP tools not tried across users');
    });
  });
}
