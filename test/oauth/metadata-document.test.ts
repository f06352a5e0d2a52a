// Client ID metadata documents: a client whose id is the URL of its own JSON
// document. Served here by a loopback server, which only an app built with
// the test-only switch may fetch; the default refuses it, and refuses every
// private, loopback, link-local or otherwise special address.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isPublicAddress, fetchMetadataDocument } from '../../src/oauth/metadata-document.ts';
import { s256 } from '../../src/oauth/tokens.ts';
import { bearer, makeTestApp, signUp, type TestApp } from '../helpers/app.ts';
import { initializeBody, listen, MCP_POST_HEADERS, rawRequest } from '../mcp/helpers.ts';
import { openDirectDb, snapshotOAuth, testDrivers } from '../http/support.ts';
import { approve, openAuthorization, REDIRECT_URL, tokenRequest } from './helpers.ts';

/** A document server whose answers the test sets per path. */
async function documentServer(): Promise<{ url: string; serve: (path: string, status: number, type: string, body: string | Buffer) => void; close: () => Promise<void> }> {
  const answers = new Map<string, { status: number; type: string; body: string | Buffer }>();
  const server = http.createServer((request, response) => {
    const answer = answers.get(request.url ?? '') ?? { status: 404, type: 'text/plain', body: 'no' };
    response.writeHead(answer.status, { 'content-type': answer.type, ...(answer.status === 302 ? { location: 'http://127.0.0.1:1/elsewhere' } : {}) });
    response.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    serve: (path, status, type, body) => answers.set(path, { status, type, body }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('special addresses are never fetched', () => {
  it('refuses private, loopback, link-local, shared, multicast and mapped addresses; allows public ones', () => {
    for (const address of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '64:ff9b::7f00:1', '2001:db8::1']) {
      assert.equal(isPublicAddress(address), false, address);
    }
    for (const address of ['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111']) assert.equal(isPublicAddress(address), true, address);
    assert.equal(isPublicAddress('127.0.0.1', true), true, 'the test-only switch allows loopback');
    assert.equal(isPublicAddress('10.0.0.1', true), false, 'and nothing else');
  });

  it('checks the resolved address of a name at connect time: https://localhost is refused', async () => {
    await assert.rejects(fetchMetadataDocument('https://localhost:1/client.json', { allowLoopback: false, maxBytes: 5120 }), (error: Error) => /address this server does not fetch from/.test(error.message));
    await assert.rejects(fetchMetadataDocument('https://127.0.0.1:1/client.json', { allowLoopback: false, maxBytes: 5120 }), (error: Error) => /address this server does not fetch from/.test(error.message));
  });
});

for (const driver of await testDrivers('OAuth metadata documents')) {
  describe(`client ID metadata documents (${driver})`, () => {
    let t: TestApp;
    let baseUrl: string;
    let docs: Awaited<ReturnType<typeof documentServer>>;

    before(async () => {
      t = await makeTestApp({ driver, oauth: { allowLoopbackMetadataDocuments: true } });
      baseUrl = await listen(t.app);
      docs = await documentServer();
    });
    after(async () => {
      await docs.close();
      await t.close();
    });

    const verifier = 'm'.repeat(43);
    const authorizeUrl = (clientId: string) => `/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT_URL, code_challenge: s256(verifier), code_challenge_method: 'S256', state: 's', resource: `${baseUrl}/mcp` })}`;

    it('fetches the document, shows its name, and the flow ends in a working access token', async () => {
      const clientId = `${docs.url}/client.json`;
      docs.serve('/client.json', 200, 'application/json', JSON.stringify({ client_id: clientId, client_name: 'Document client', redirect_uris: [REDIRECT_URL], token_endpoint_auth_method: 'none' }));
      const user = await signUp(t.app);
      const page = await openAuthorization(baseUrl, authorizeUrl(clientId), user.cookie);
      assert.equal(page.status, 200);
      assert.match(page.body, /Document client/);
      const { code } = await approve(baseUrl, user.cookie, authorizeUrl(clientId));
      const tokens = await tokenRequest(baseUrl, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: clientId, redirect_uri: REDIRECT_URL, resource: `${baseUrl}/mcp` });
      assert.equal(tokens.status, 200);
      const answer = await rawRequest(baseUrl, { method: 'POST', path: '/mcp', headers: { ...bearer(String(tokens.body.access_token)), ...MCP_POST_HEADERS }, body: initializeBody() });
      assert.equal(answer.status, 200);
    });

    it('refuses a document that is too large, names another client_id, redirects, is not JSON, or lists a bad redirect URI; stores nothing', async () => {
      const db = await openDirectDb(t);
      const user = await signUp(t.app);
      const before = await snapshotOAuth(db);
      const id = (path: string) => `${docs.url}${path}`;
      docs.serve('/large.json', 200, 'application/json', JSON.stringify({ client_id: id('/large.json'), redirect_uris: [REDIRECT_URL], client_name: 'x', padding: 'p'.repeat(6000) }));
      docs.serve('/other.json', 200, 'application/json', JSON.stringify({ client_id: 'https://someone-else.example/client.json', redirect_uris: [REDIRECT_URL] }));
      docs.serve('/moved.json', 302, 'text/plain', '');
      docs.serve('/html.json', 200, 'text/html', '<p>hi</p>');
      docs.serve('/evil.json', 200, 'application/json', JSON.stringify({ client_id: id('/evil.json'), redirect_uris: ['javascript:alert(1)'] }));
      docs.serve('/latin1.json', 200, 'application/json', Buffer.concat([Buffer.from(`{"client_id":"${id('/latin1.json')}","redirect_uris":["${REDIRECT_URL}"],"client_name":"Caf`), Buffer.from([0xe9]), Buffer.from('"}')]));
      docs.serve('/surrogate.json', 200, 'application/json', `{"client_id":"${id('/surrogate.json')}","redirect_uris":["${REDIRECT_URL}"],"client_name":"Bad \\ud800"}`);
      for (const path of ['/large.json', '/other.json', '/moved.json', '/html.json', '/evil.json', '/latin1.json', '/surrogate.json', '/missing.json']) {
        const answer = await openAuthorization(baseUrl, authorizeUrl(id(path)), user.cookie);
        assert.equal(answer.status, 400, path);
        assert.equal(answer.headers.location, undefined, `${path}: never redirected`);
      }
      assert.deepEqual(await snapshotOAuth(db), before);
      await db.close();
    });

    it('the default app refuses a document on loopback', async () => {
      const strict = await makeTestApp({ driver });
      try {
        const url = await listen(strict.app);
        const clientId = `${docs.url}/client.json`;
        const user = await signUp(strict.app);
        const answer = await openAuthorization(url, authorizeUrl(clientId).replace(encodeURIComponent(`${baseUrl}/mcp`), encodeURIComponent(`${url}/mcp`)), user.cookie);
        assert.equal(answer.status, 400);
        assert.match(answer.body, /could not be used/);
        assert.equal(await strict.store.findOAuthClient(clientId), null);
      } finally {
        await strict.close();
      }
    });
  });
}
