// Bad OAuth requests, each answered with the error its RFC names and
// changing nothing stored: the same code still works afterwards, and the
// OAuth tables are as they were. Discovery documents and host checks too.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { generateSessionToken, secretLookupHash } from '../../src/crypto/keys.ts';
import { s256 } from '../../src/oauth/tokens.ts';
import { Vault } from '../../src/vault/vault.ts';
import { bearer, makeTestApp, signUp, type TestApp, type TestUser } from '../helpers/app.ts';
import { initializeBody, listen, MCP_POST_HEADERS, rawRequest } from '../mcp/helpers.ts';
import { openDirectDb, snapshotOAuth, testDrivers, type DirectDb } from '../http/support.ts';
import { approve, codeForNewClient, hiddenFieldsOf, openAuthorization, REDIRECT_URL, submitConsent, tokenRequest } from './helpers.ts';

const form = { 'content-type': 'application/x-www-form-urlencoded' };
const json = { 'content-type': 'application/json' };

for (const driver of await testDrivers('OAuth bad inputs')) {
  describe(`OAuth bad inputs (${driver})`, () => {
    let t: TestApp;
    let baseUrl: string;
    let db: DirectDb;
    let user: TestUser;
    let clientId: string;

    before(async () => {
      t = await makeTestApp({ driver });
      baseUrl = await listen(t.app);
      db = await openDirectDb(t);
      user = await signUp(t.app);
      const registered = await rawRequest(baseUrl, { method: 'POST', path: '/oauth/register', headers: json, body: JSON.stringify({ client_name: 'Bad-input client', redirect_uris: [REDIRECT_URL] }) });
      assert.equal(registered.status, 201);
      clientId = JSON.parse(registered.body).client_id;
    });
    after(async () => {
      await db.close();
      await t.close();
    });

    function authorizeUrl(over: Record<string, string | null> = {}, verifier = 'v'.repeat(43)): string {
      const params: Record<string, string | null> = { response_type: 'code', client_id: clientId, redirect_uri: REDIRECT_URL, code_challenge: s256(verifier), code_challenge_method: 'S256', state: 'st-1', resource: `${baseUrl}/mcp`, ...over };
      const query = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== null));
      return `/oauth/authorize?${query}`;
    }

    async function freshCode(): Promise<{ code: string; verifier: string }> {
      const verifier = randomBytes(32).toString('base64url');
      const { code } = await approve(baseUrl, user.cookie, authorizeUrl({}, verifier));
      return { code, verifier };
    }

    const exchange = (code: string, verifier: string, over: Record<string, string> = {}) =>
      tokenRequest(baseUrl, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: clientId, redirect_uri: REDIRECT_URL, resource: `${baseUrl}/mcp`, ...over });

    it('advertises the flow in RFC 9728 and RFC 8414 metadata, JSON, for the request\'s own origin', async () => {
      for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
        const answer = await rawRequest(baseUrl, { method: 'GET', path });
        assert.equal(answer.status, 200);
        assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
        assert.deepEqual(JSON.parse(answer.body).authorization_servers, [baseUrl]);
        assert.equal(JSON.parse(answer.body).resource, `${baseUrl}/mcp`);
      }
      for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
        const metadata = JSON.parse((await rawRequest(baseUrl, { method: 'GET', path })).body);
        assert.equal(metadata.issuer, baseUrl);
        assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
        assert.deepEqual(metadata.response_types_supported, ['code']);
        assert.deepEqual(metadata.grant_types_supported, ['authorization_code', 'refresh_token']);
        assert.deepEqual(metadata.token_endpoint_auth_methods_supported, ['none']);
        assert.equal(metadata.client_id_metadata_document_supported, true);
        assert.equal(metadata.registration_endpoint, `${baseUrl}/oauth/register`);
        assert.equal(metadata.revocation_endpoint, `${baseUrl}/oauth/revoke`);
      }
      const foreign = await rawRequest(baseUrl, { method: 'GET', path: '/.well-known/oauth-authorization-server', headers: { host: 'evil.example' } });
      assert.equal(foreign.status, 403, 'never an issuer for a Host we do not answer to');
      const foreignToken = await rawRequest(baseUrl, { method: 'POST', path: '/oauth/token', headers: { ...form, host: 'evil.example' }, body: 'grant_type=refresh_token' });
      assert.equal(foreignToken.status, 403);
    });

    it('a wrong code_verifier, a mismatched redirect URI, a foreign resource and an unknown client are refused; the code still works after', async () => {
      const { code, verifier } = await freshCode();
      const before = await snapshotOAuth(db);
      const cases: Array<[string, Record<string, string>, number, string]> = [
        ['wrong verifier', { code_verifier: 'w'.repeat(43) }, 400, 'invalid_grant'],
        ['verifier too short', { code_verifier: 'short' }, 400, 'invalid_request'],
        ['mismatched redirect URI', { redirect_uri: 'http://127.0.0.1:9/other' }, 400, 'invalid_grant'],
        ['foreign resource', { resource: 'https://elsewhere.example/mcp' }, 400, 'invalid_target'],
        ['unknown client', { client_id: randomUUID() }, 401, 'invalid_client'],
        ['unsupported grant type', { grant_type: 'password' }, 400, 'unsupported_grant_type'],
      ];
      for (const [what, over, status, error] of cases) {
        const answer = await exchange(code, verifier, over);
        assert.equal(answer.status, status, what);
        assert.equal(answer.body.error, error, what);
        assert.equal(typeof answer.body.error_description, 'string', what);
      }
      assert.deepEqual(await snapshotOAuth(db), before, 'nothing changed');
      const good = await exchange(code, verifier);
      assert.equal(good.status, 200);
      assert.equal(typeof good.body.access_token, 'string');
    });


    it('token and registration bodies that are not UTF-8 are invalid_request; nothing changes and the code still works', async () => {
      const { code, verifier } = await freshCode();
      const before = await snapshotOAuth(db);
      const post = (path: string, type: string, body: Buffer) => fetch(`${baseUrl}${path}`, { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(body) });
      const bad = Buffer.from([0xc3, 0x28]);
      const answers = [
        await post('/oauth/token', form['content-type'], Buffer.concat([Buffer.from(`grant_type=authorization_code&code=${code}&code_verifier=${verifier}&client_id=${clientId}&redirect_uri=${encodeURIComponent(REDIRECT_URL)}&state=`), bad])),
        await post('/oauth/token', form['content-type'], Buffer.from(`grant_type=authorization_code&code=${code}&code_verifier=${verifier}&client_id=${clientId}&redirect_uri=${encodeURIComponent(REDIRECT_URL)}&state=%C3%28`)),
        await post('/oauth/register', json['content-type'], Buffer.concat([Buffer.from('{"client_name":"Bad '), bad, Buffer.from(`","redirect_uris":["${REDIRECT_URL}"]}`)])),
        await post('/oauth/register', json['content-type'], Buffer.from(`{"client_name":"Bad \\ud800","redirect_uris":["${REDIRECT_URL}"]}`)),
      ];
      for (const answer of answers) {
        assert.equal(answer.status, 400);
        const body = (await answer.json()) as { error: string; error_description: string };
        assert.equal(body.error, 'invalid_request');
        assert.match(body.error_description, /UTF-8|lone surrogate/);
      }
      assert.deepEqual(await snapshotOAuth(db), before, 'nothing changed');
      assert.equal((await exchange(code, verifier)).status, 200);
    });
    it('a replayed code is invalid_grant and revokes the tokens it minted', async () => {
      const { code, verifier } = await freshCode();
      const first = await exchange(code, verifier);
      const access = String(first.body.access_token);
      const opens = async () => (await rawRequest(baseUrl, { method: 'POST', path: '/mcp', headers: { ...bearer(access), ...MCP_POST_HEADERS }, body: initializeBody() })).status;
      assert.equal(await opens(), 200);
      const replay = await exchange(code, verifier);
      assert.equal(replay.status, 400);
      assert.equal(replay.body.error, 'invalid_grant');
      assert.equal(await opens(), 401);
    });

    it('an expired code is invalid_grant', async () => {
      const short = await makeTestApp({ driver, oauth: { codeTtlMs: 0 } });
      try {
        const url = await listen(short.app);
        const { exchange } = await codeForNewClient(url, (await signUp(short.app)).cookie, 'x'.repeat(43));
        const answer = await exchange();
        assert.equal(answer.status, 400);
        assert.equal(answer.body.error, 'invalid_grant');
      } finally {
        await short.close();
      }
    });

    it('authorization requests: client and redirect-URI errors stay on our page; the others go back with the RFC error and state', async () => {
      const before = await snapshotOAuth(db);
      for (const [what, over] of [
        ['unknown client', { client_id: randomUUID() }],
        ['unregistered redirect URI', { redirect_uri: 'https://evil.example/steal' }],
        ['no client id', { client_id: null }],
      ] as const) {
        const answer = await openAuthorization(baseUrl, authorizeUrl(over), user.cookie);
        assert.equal(answer.status, 400, what);
        assert.equal(answer.headers.location, undefined, `${what}: never redirected`);
        assert.match(answer.headers['content-type'] ?? '', /^text\/html/);
      }
      for (const [what, over, error] of [
        ['plain PKCE', { code_challenge_method: 'plain' }, 'invalid_request'],
        ['missing challenge', { code_challenge: null }, 'invalid_request'],
        ['missing method', { code_challenge_method: null }, 'invalid_request'],
        ['token response type', { response_type: 'token' }, 'unsupported_response_type'],
        ['foreign resource', { resource: 'https://elsewhere.example/mcp' }, 'invalid_target'],
        ['unknown scope', { scope: 'admin' }, 'invalid_scope'],
      ] as const) {
        const answer = await openAuthorization(baseUrl, authorizeUrl(over), user.cookie);
        assert.equal(answer.status, 302, what);
        const location = new URL(answer.headers.location!);
        assert.equal(location.origin + location.pathname, REDIRECT_URL, what);
        assert.equal(location.searchParams.get('error'), error, what);
        assert.equal(location.searchParams.get('state'), 'st-1', what);
        assert.equal(location.searchParams.get('iss'), baseUrl, what);
      }
      assert.deepEqual(await snapshotOAuth(db), before, 'nothing changed');
    });

    it('deny goes back with access_denied and the state, and grants nothing', async () => {
      const before = await snapshotOAuth(db);
      const page = await openAuthorization(baseUrl, authorizeUrl(), user.cookie);
      assert.equal(page.status, 200);
      assert.match(page.body, /Bad-input client/);
      assert.match(page.body, /127\.0\.0\.1:9/);
      assert.match(String(page.headers['content-security-policy']), /form-action 'self' http:\/\/127\.0\.0\.1:9/);
      const answer = await submitConsent(baseUrl, user.cookie, hiddenFieldsOf(page.body), 'deny');
      assert.equal(answer.status, 302);
      const location = new URL(answer.headers.location!);
      assert.equal(location.searchParams.get('error'), 'access_denied');
      assert.equal(location.searchParams.get('state'), 'st-1');
      assert.equal(location.searchParams.get('code'), null);
      assert.deepEqual(await snapshotOAuth(db), before);

      const forged = await submitConsent(baseUrl, user.cookie, { ...hiddenFieldsOf(page.body), _csrf: 'forged' }, 'approve');
      assert.equal(forged.status, 403, 'a consent without the CSRF token is refused');
      assert.deepEqual(await snapshotOAuth(db), before);
    });

    it('registration: oversized bodies, bad redirect URIs and bad fields are refused in the RFC 7591 shape; nothing is stored', async () => {
      const before = await snapshotOAuth(db);
      const register = (body: string) => rawRequest(baseUrl, { method: 'POST', path: '/oauth/register', headers: json, body });
      const oversized = await register(JSON.stringify({ redirect_uris: [REDIRECT_URL], client_name: 'x'.repeat(6000) }));
      assert.equal(oversized.status, 413);
      assert.equal(JSON.parse(oversized.body).error, 'invalid_request');
      for (const [what, metadata, error] of [
        ['javascript: scheme', { redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri'],
        ['data: scheme', { redirect_uris: ['data:text/html,hi'] }, 'invalid_redirect_uri'],
        ['http off loopback', { redirect_uris: ['http://evil.example/cb'] }, 'invalid_redirect_uri'],
        ['fragment', { redirect_uris: ['https://client.example/cb#x'] }, 'invalid_redirect_uri'],
        ['too many', { redirect_uris: Array.from({ length: 11 }, (_, i) => `https://c.example/${i}`) }, 'invalid_client_metadata'],
        ['name too long', { redirect_uris: [REDIRECT_URL], client_name: 'n'.repeat(101) }, 'invalid_client_metadata'],
        ['implicit grant', { redirect_uris: [REDIRECT_URL], grant_types: ['implicit'] }, 'invalid_client_metadata'],
        ['no redirect URIs', {}, 'invalid_client_metadata'],
      ] as const) {
        const answer = await register(JSON.stringify(metadata));
        assert.equal(answer.status, 400, what);
        assert.equal(JSON.parse(answer.body).error, error, what);
      }
      assert.deepEqual(await snapshotOAuth(db), before, 'nothing stored');
      const native = await register(JSON.stringify({ redirect_uris: ['com.example.app:/callback', 'http://[::1]:8765/cb', 'https://claude.ai/api/mcp/auth_callback'] }));
      assert.equal(native.status, 201, 'native-app schemes, loopback http and https are accepted');
      assert.equal(JSON.parse(native.body).token_endpoint_auth_method, 'none');
    });

    it('registered clients that were never used expire, enforced when clients are registered', async () => {
      const expiring = await makeTestApp({ driver, oauth: { unusedClientTtlMs: 0 } });
      try {
        const url = await listen(expiring.app);
        const register = async () => JSON.parse((await rawRequest(url, { method: 'POST', path: '/oauth/register', headers: json, body: JSON.stringify({ redirect_uris: [REDIRECT_URL] }) })).body).client_id as string;
        const someone = await signUp(expiring.app);
        const used = await codeForNewClient(url, someone.cookie, 'u'.repeat(43));
        const unused = await register();
        await register();
        assert.equal(await expiring.store.findOAuthClient(unused), null, 'the never-used client is gone');
        assert.ok(await expiring.store.findOAuthClient(used.clientId), 'a client with a grant stays');
        const page = await openAuthorization(url, `/oauth/authorize?client_id=${unused}&response_type=code`, someone.cookie);
        assert.equal(page.status, 400);
        assert.match(page.body, /not registered here/);
      } finally {
        await expiring.close();
      }
    });

    it('registration is rate-limited per address', async () => {
      const limited = await makeTestApp({ driver, rateLimitFactor: 1 });
      try {
        const url = await listen(limited.app);
        const statuses: number[] = [];
        for (let i = 0; i < 61; i++) statuses.push((await rawRequest(url, { method: 'POST', path: '/oauth/register', headers: json, body: JSON.stringify({ redirect_uris: [REDIRECT_URL] }) })).status);
        assert.deepEqual([...new Set(statuses.slice(0, 60))], [201]);
        const answer = await rawRequest(url, { method: 'POST', path: '/oauth/register', headers: json, body: JSON.stringify({ redirect_uris: [REDIRECT_URL] }) });
        assert.equal(answer.status, 429);
        assert.equal(JSON.parse(answer.body).error, 'too_many_requests');
        assert.ok(Number(answer.headers['retry-after']) > 0);
      } finally {
        await limited.close();
      }
    });

    it('a token minted for another resource is refused by /mcp (audience binding)', async () => {
      const grant = await t.store.ensureOAuthGrant({ id: randomUUID(), userId: user.userId, clientId, scope: 'memory', resource: 'https://elsewhere.example/mcp', createdAt: Date.now(), lastUsedAt: Date.now() });
      const token = generateSessionToken();
      const vault = Vault.forApiKey(t.store, user.userId, user.apiKey);
      await t.store.createOAuthToken({ tokenHash: secretLookupHash(token), grantId: grant.id, kind: 'access', wrappedKey: vault.wrapFor(token), expiresAt: Date.now() + 3600_000, usedAt: null, redirectUri: null, codeChallenge: null });
      const answer = await rawRequest(baseUrl, { method: 'POST', path: '/mcp', headers: { ...bearer(token), ...MCP_POST_HEADERS }, body: initializeBody() });
      assert.equal(answer.status, 401);
      assert.match(answer.headers['www-authenticate'] ?? '', /error="invalid_token"/);
      await t.store.deleteOAuthGrant(user.userId, grant.id);
    });

    it('expired access tokens are refused', async () => {
      const short = await makeTestApp({ driver, oauth: { accessTtlMs: 0 } });
      try {
        const url = await listen(short.app);
        const { exchange } = await codeForNewClient(url, (await signUp(short.app)).cookie, 'y'.repeat(43));
        const tokens = await exchange();
        assert.equal(tokens.status, 200);
        const answer = await rawRequest(url, { method: 'POST', path: '/mcp', headers: { ...bearer(String(tokens.body.access_token)), ...MCP_POST_HEADERS }, body: initializeBody() });
        assert.equal(answer.status, 401);
      } finally {
        await short.close();
      }
    });
  });
}
