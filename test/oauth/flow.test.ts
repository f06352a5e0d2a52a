// The whole OAuth flow with the MCP SDK's own client-side support against the
// listening server: discovery from /mcp's 401, registration, PKCE, consent as
// a browser does it, finishAuth, then memory tools over an access token;
// refresh through the SDK, reuse detection, revocation, and every way a
// grant ends. The API key keeps working throughout.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { bearer, makeTestApp, signUp, type TestApp, type TestUser } from '../helpers/app.ts';
import { callTool, connectClient, initializeBody, listen, MCP_POST_HEADERS, rawRequest, textOf } from '../mcp/helpers.ts';
import { testDrivers } from '../http/support.ts';
import { authorizeWithSdk, connectWithOAuth, oauthTransport, openAuthorization, TestOAuthProvider, tokenRequest } from './helpers.ts';

for (const driver of await testDrivers('OAuth flow')) {
  describe(`OAuth flow with the SDK client (${driver})`, () => {
    let t: TestApp;
    let baseUrl: string;

    before(async () => {
      t = await makeTestApp({ driver });
      baseUrl = await listen(t.app);
    });
    after(() => t.close());

    /** Does this access token open /mcp? */
    const opens = async (accessToken: string) => (await rawRequest(baseUrl, { method: 'POST', path: '/mcp', headers: { ...bearer(accessToken), ...MCP_POST_HEADERS }, body: initializeBody() })).status === 200;

    async function connected(): Promise<{ user: TestUser; provider: TestOAuthProvider }> {
      const user = await signUp(t.app);
      const provider = new TestOAuthProvider();
      const client = await authorizeWithSdk(baseUrl, user.cookie, provider);
      await client.close();
      return { user, provider };
    }

    it('discovers, registers, gets consent and tokens, then remembers and recalls over the access token', async () => {
      const user = await signUp(t.app);
      const provider = new TestOAuthProvider();
      const client = await authorizeWithSdk(baseUrl, user.cookie, provider);

      assert.match(String(provider.client?.client_id), /^[0-9a-f-]{36}$/, 'registered through DCR');
      const url = provider.authorizationUrl!;
      assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
      assert.equal(url.searchParams.get('resource'), `${baseUrl}/mcp`);
      assert.equal(provider.saved?.token_type, 'Bearer');
      assert.equal(provider.saved?.expires_in, 3600);

      await callTool(client, 'remember', { content: 'The OAuth connector remembers the lighthouse keeper' });
      const recalled = textOf(await callTool(client, 'recall', { query: 'lighthouse keeper' }));
      assert.match(recalled, /lighthouse keeper/);
      await client.close();

      // The same memory through the API key: one vault, two credentials.
      const byKey = await connectClient(baseUrl, user.apiKey);
      assert.match(textOf(await callTool(byKey, 'recall', { query: 'lighthouse' })), /lighthouse keeper/);
      await byKey.close();

      const logs = t.logs.join('');
      for (const secret of [provider.saved!.access_token, provider.saved!.refresh_token!, provider.verifier]) assert.ok(!logs.includes(secret), 'no token or verifier in any log line');

      const grants = await t.store.listOAuthGrants(user.userId);
      assert.equal(grants.length, 1);
      assert.equal(grants[0]!.clientName, 'Test connector');
      assert.equal(grants[0]!.resource, `${baseUrl}/mcp`);
    });

    it('an access token opens neither the REST API nor the web pages', async () => {
      const { provider } = await connected();
      const token = provider.saved!.access_token;
      assert.ok(await opens(token));
      const rest = await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: bearer(token) });
      assert.equal(rest.statusCode, 401);
      const page = await t.app.inject({ method: 'GET', url: '/app', headers: { ...bearer(token), accept: 'text/html' } });
      assert.equal(page.statusCode, 303, 'a page sends it to log in');
    });

    it('refreshes through the SDK: new tokens work, and the transport refreshes on its own after a 401', async () => {
      const { provider } = await connected();
      const first = provider.saved!;
      assert.equal(await auth(provider, { serverUrl: `${baseUrl}/mcp` }), 'AUTHORIZED');
      const second = provider.saved!;
      assert.notEqual(second.access_token, first.access_token);
      assert.notEqual(second.refresh_token, first.refresh_token, 'the refresh token rotates');
      assert.ok(await opens(second.access_token));

      // Revoke the access token alone (RFC 7009): the next call gets a 401 and the SDK refreshes.
      const revoked = await rawRequest(baseUrl, { method: 'POST', path: '/oauth/revoke', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: second.access_token, client_id: String(provider.client!.client_id) }).toString() });
      assert.equal(revoked.status, 200);
      assert.equal(await opens(second.access_token), false);
      const client = await connectWithOAuth(baseUrl, provider);
      await callTool(client, 'remember', { content: 'written after an automatic refresh' });
      await client.close();
      assert.notEqual(provider.saved!.access_token, second.access_token);
    });

    it('a reused refresh token revokes the whole grant: both the old and the new tokens fail', async () => {
      const { user, provider } = await connected();
      const stolen = provider.saved!.refresh_token!;
      assert.equal(await auth(provider, { serverUrl: `${baseUrl}/mcp` }), 'AUTHORIZED');
      const current = provider.saved!;

      const replay = await tokenRequest(baseUrl, { grant_type: 'refresh_token', refresh_token: stolen, client_id: String(provider.client!.client_id) });
      assert.equal(replay.status, 400);
      assert.equal(replay.body.error, 'invalid_grant');

      assert.equal(await opens(current.access_token), false);
      const refreshAgain = await tokenRequest(baseUrl, { grant_type: 'refresh_token', refresh_token: current.refresh_token!, client_id: String(provider.client!.client_id) });
      assert.equal(refreshAgain.body.error, 'invalid_grant');
      assert.deepEqual(await t.store.listOAuthGrants(user.userId), []);
      assert.ok(await opens(user.apiKey), 'the API key keeps working');
    });

    it('disconnecting from the dashboard ends the access token at once', async () => {
      const { user, provider } = await connected();
      const listing = await t.app.inject({ method: 'GET', url: '/app/connections', headers: { cookie: user.cookie } });
      assert.equal(listing.statusCode, 200);
      assert.match(listing.body, /Test connector/);
      assert.match(listing.body, /127\.0\.0\.1:9/, 'where it sends the user back');
      const [grant] = await t.store.listOAuthGrants(user.userId);
      const csrf = /name="_csrf" value="([^"]+)"/.exec(listing.body)![1]!;
      const disconnect = await t.app.inject({ method: 'POST', url: `/app/connections/${grant!.id}/disconnect`, headers: { cookie: user.cookie, origin: 'http://localhost:80' }, payload: { _csrf: csrf } });
      assert.equal(disconnect.statusCode, 303);
      assert.equal(await opens(provider.saved!.access_token), false);
      const refresh = await tokenRequest(baseUrl, { grant_type: 'refresh_token', refresh_token: provider.saved!.refresh_token!, client_id: String(provider.client!.client_id) });
      assert.equal(refresh.body.error, 'invalid_grant');
      assert.ok(await opens(user.apiKey));
    });

    it('key rotation, start-over and account deletion each end every grant', async () => {
      // Rotation confirmed with the pending key.
      const rotating = await connected();
      const started = await t.app.inject({ method: 'POST', url: '/api/v1/keys/rotate', headers: bearer(rotating.user.apiKey) });
      const pendingKey = (started.json() as { api_key: string }).api_key;
      assert.ok(await opens(rotating.provider.saved!.access_token), 'a pending rotation changes nothing yet');
      const confirmed = await t.app.inject({ method: 'POST', url: '/api/v1/keys/rotate/confirm', headers: bearer(pendingKey) });
      assert.equal(confirmed.statusCode, 200);
      assert.equal(await opens(rotating.provider.saved!.access_token), false);
      assert.deepEqual(await t.store.listOAuthGrants(rotating.user.userId), []);
      assert.ok(await opens(pendingKey), 'the new API key works');

      // Start over with a new key.
      const resetting = await connected();
      const reset = await t.app.inject({ method: 'POST', url: '/api/v1/keys/reset', headers: { cookie: resetting.user.cookie, origin: 'http://localhost:80' }, payload: { password: resetting.user.password, confirm: 'DELETE MY MEMORIES' } });
      assert.equal(reset.statusCode, 200);
      assert.equal(await opens(resetting.provider.saved!.access_token), false);
      assert.deepEqual(await t.store.listOAuthGrants(resetting.user.userId), []);

      // Account deletion.
      const leaving = await connected();
      const deleted = await t.app.inject({ method: 'DELETE', url: '/api/v1/accounts/current', headers: { cookie: leaving.user.cookie, origin: 'http://localhost:80' }, payload: { password: leaving.user.password } });
      assert.ok(deleted.statusCode < 300);
      assert.equal(await opens(leaving.provider.saved!.access_token), false);
      const refresh = await tokenRequest(baseUrl, { grant_type: 'refresh_token', refresh_token: leaving.provider.saved!.refresh_token!, client_id: String(leaving.provider.client!.client_id) });
      assert.equal(refresh.body.error, 'invalid_grant');
    });

    it("one user's access token never opens another user's memories", async () => {
      const alice = await connected();
      const bob = await signUp(t.app);
      const bobClient = await connectClient(baseUrl, bob.apiKey);
      await callTool(bobClient, 'remember', { content: 'Bob keeps the spare key under the blue pot' });
      await bobClient.close();
      const aliceClient = await connectWithOAuth(baseUrl, alice.provider);
      assert.doesNotMatch(textOf(await callTool(aliceClient, 'recall', { query: 'spare key blue pot' })), /blue pot/);
      await aliceClient.close();
    });

    it('sends a visitor who is not logged in to log in, and a locked session to unlock, then back', async () => {
      const user = await signUp(t.app);
      const provider = new TestOAuthProvider();
      await assert.rejects(new Client({ name: 'x', version: '1' }).connect(oauthTransport(baseUrl, provider)));
      const url = provider.authorizationUrl!;
      const here = url.pathname + url.search;

      const anonymous = await openAuthorization(baseUrl, url);
      assert.equal(anonymous.status, 303);
      assert.equal(anonymous.headers.location, `/login?next=${encodeURIComponent(here)}`);

      const login = await t.app.inject({ method: 'POST', url: `/login?next=${encodeURIComponent(here)}`, headers: { origin: 'http://localhost:80' }, payload: { email: user.email, password: user.password } });
      assert.equal(login.statusCode, 303);
      assert.equal(login.headers.location, `/unlock?next=${encodeURIComponent(here)}`);
      const locked = `anamnesis_session=${login.cookies.find((c) => c.name === 'anamnesis_session')!.value}`;
      const atConsent = await openAuthorization(baseUrl, url, locked);
      assert.equal(atConsent.status, 303);
      assert.equal(atConsent.headers.location, `/unlock?next=${encodeURIComponent(here)}`);

      const unlockPage = await t.app.inject({ method: 'GET', url: `/unlock?next=${encodeURIComponent(here)}`, headers: { cookie: locked } });
      const csrf = /name="_csrf" value="([^"]+)"/.exec(unlockPage.body)![1]!;
      const unlocked = await t.app.inject({ method: 'POST', url: `/unlock?next=${encodeURIComponent(here)}`, headers: { cookie: locked, origin: 'http://localhost:80' }, payload: { _csrf: csrf, api_key: user.apiKey } });
      assert.equal(unlocked.statusCode, 303);
      assert.equal(unlocked.headers.location, here, 'back to the consent page');
      assert.equal((await openAuthorization(baseUrl, url, locked)).status, 200);

      // A next path off this site is ignored.
      const offsite = await t.app.inject({ method: 'POST', url: `/login?next=${encodeURIComponent('//evil.example/x')}`, headers: { origin: 'http://localhost:80' }, payload: { email: user.email, password: user.password } });
      assert.equal(offsite.headers.location, '/unlock');
    });
  });
}
