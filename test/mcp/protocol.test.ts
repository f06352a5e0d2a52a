// Protocol hygiene of /mcp on a listening server: authentication on every
// method, 405 for the session-stream methods, Host and Origin checks against
// DNS rebinding, JSON for every /.well-known probe, the body limit, and tool
// failures that never leak a driver's message.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/storage/store.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/logger.ts';
import { allowedHostsFor, isAllowedHost, isAllowedOrigin } from '../../src/mcp/host-check.ts';
import { makeTestApp, signUp, type TestApp, type TestUser } from '../helpers/app.ts';
import { callTool, connectClient, initializeBody, listen, MCP_POST_HEADERS, rawRequest, textOf } from './helpers.ts';


describe('/mcp protocol hygiene', () => {
  let t: TestApp;
  let baseUrl: string;
  let user: TestUser;

  before(async () => {
    t = await makeTestApp();
    baseUrl = await listen(t.app);
    user = await signUp(t.app);
  });
  after(() => t.close());

  const withKey = (key: string) => ({ authorization: `Bearer ${key}` });
  const challenge = (invalid: boolean) => `Bearer realm="anamnesis", resource_metadata="${baseUrl}/.well-known/oauth-protected-resource/mcp"${invalid ? ', error="invalid_token"' : ''}`;

  it('answers 401 with a Bearer challenge to a missing, malformed or wrong key, on every method', async () => {
    const wrongKey = `anm_${'A'.repeat(43)}`;
    const credentials: Array<[string, Record<string, string>]> = [
      ['no key', {}],
      ['empty bearer', { authorization: 'Bearer' }],
      ['basic auth', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
      ['not an API key', { authorization: 'Bearer anm_short' }],
      ['unknown key', withKey(wrongKey)],
      ['session cookie instead of a key', { cookie: user.cookie }],
    ];
    for (const method of ['POST', 'GET', 'DELETE']) {
      for (const [what, headers] of credentials) {
        const answer = await rawRequest(baseUrl, {
          method,
          path: '/mcp',
          headers: { ...headers, ...(method === 'POST' ? MCP_POST_HEADERS : {}) },
          ...(method === 'POST' ? { body: initializeBody() } : {}),
        });
        assert.equal(answer.status, 401, `${method} with ${what}`);
        assert.equal(answer.headers['www-authenticate'], challenge('authorization' in headers), `${method} with ${what}`);
        assert.equal(JSON.parse(answer.body).error.code, 'unauthorized');
      }
    }
  });

  it('answers 405 with Allow: POST to GET and DELETE once authenticated', async () => {
    for (const method of ['GET', 'DELETE']) {
      const answer = await rawRequest(baseUrl, { method, path: '/mcp', headers: { ...withKey(user.apiKey), accept: 'text/event-stream' } });
      assert.equal(answer.status, 405, method);
      assert.equal(answer.headers.allow, 'POST');
      assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
      assert.equal(JSON.parse(answer.body).error.code, 'method_not_allowed');
    }
  });

  it('serves an initialize POST with a valid key, as JSON', async () => {
    const answer = await rawRequest(baseUrl, { method: 'POST', path: '/mcp', headers: { ...withKey(user.apiKey), ...MCP_POST_HEADERS }, body: initializeBody() });
    assert.equal(answer.status, 200);
    assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
    assert.equal(answer.headers['cache-control'], 'no-store');
    const message = JSON.parse(answer.body);
    assert.equal(message.result.serverInfo.name, 'anamnesis');
    assert.ok(message.result.capabilities.tools);
    assert.equal(answer.headers['mcp-session-id'], undefined, 'stateless: no session');
  });

  // /mcp hands the SDK's transport only the headers it reads (src/mcp/routes.ts): its checks still see them.
  it('leaves content negotiation and the protocol version to the SDK\'s checks', async () => {
    const toolsList = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const post = (headers: Record<string, string>) => rawRequest(baseUrl, { method: 'POST', path: '/mcp', headers: { ...withKey(user.apiKey), ...MCP_POST_HEADERS, ...headers }, body: toolsList });
    const jsonOnly = await post({ accept: 'application/json' });
    assert.equal(jsonOnly.status, 406);
    assert.match(JSON.parse(jsonOnly.body).error.message, /must accept both application\/json and text\/event-stream/);
    const unknownVersion = await post({ 'mcp-protocol-version': '1999-01-01' });
    assert.equal(unknownVersion.status, 400);
    assert.match(JSON.parse(unknownVersion.body).error.message, /Unsupported protocol version: 1999-01-01/);
    const listed = await post({ 'mcp-protocol-version': '2025-06-18' });
    assert.equal(listed.status, 200);
    assert.equal(JSON.parse(listed.body).result.tools.length, 14);
  });

  it('refuses a foreign Origin with 403 and accepts its own and loopback origins', async () => {
    const port = new URL(baseUrl).port;
    for (const origin of ['http://evil.example', `http://evil.example:${port}`, 'null', 'file://']) {
      const answer = await rawRequest(baseUrl, { method: 'POST', path: '/mcp', headers: { ...withKey(user.apiKey), ...MCP_POST_HEADERS, origin }, body: initializeBody() });
      assert.equal(answer.status, 403, origin);
      assert.equal(JSON.parse(answer.body).error.code, 'forbidden');
    }
    for (const origin of [baseUrl, 'http://localhost:6274']) {
      const answer = await rawRequest(baseUrl, { method: 'POST', path: '/mcp', headers: { ...withKey(user.apiKey), ...MCP_POST_HEADERS, origin }, body: initializeBody() });
      assert.equal(answer.status, 200, origin);
    }
  });

  it('refuses a Host name it does not answer to (DNS rebinding) with 403, before looking at the key', async () => {
    const port = new URL(baseUrl).port;
    for (const host of [`evil.example:${port}`, 'evil.example', `localhost.evil.example:${port}`]) {
      const answer = await rawRequest(baseUrl, { method: 'POST', path: '/mcp', headers: { ...withKey(user.apiKey), ...MCP_POST_HEADERS, host }, body: initializeBody() });
      assert.equal(answer.status, 403, host);
      assert.match(JSON.parse(answer.body).error.message, /Host/);
    }
    const unauthenticated = await rawRequest(baseUrl, { method: 'POST', path: '/mcp', headers: { ...MCP_POST_HEADERS, host: 'evil.example' }, body: initializeBody() });
    assert.equal(unauthenticated.status, 403, 'a rebinding page learns nothing about authentication');
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
      const answer = await rawRequest(baseUrl, { method: 'POST', path: '/mcp', headers: { ...withKey(user.apiKey), ...MCP_POST_HEADERS, host }, body: initializeBody() });
      assert.equal(answer.status, 200, host);
    }
  });

  it('answers the public host named in ANAMNESIS_ALLOWED_HOSTS', async () => {
    const app = await buildApp({ config: { ...t.config, allowedHosts: ['memory.example.com'] }, store: t.store, logger: createLogger('silent') });
    try {
      const url = await listen(app);
      const headers = { ...withKey(user.apiKey), ...MCP_POST_HEADERS, host: 'memory.example.com', origin: 'https://memory.example.com' };
      assert.equal((await rawRequest(url, { method: 'POST', path: '/mcp', headers, body: initializeBody() })).status, 200);
      assert.equal((await rawRequest(url, { method: 'POST', path: '/mcp', headers: { ...headers, host: 'other.example.com' }, body: initializeBody() })).status, 403);
    } finally {
      await app.close();
    }
  });

  it('answers every other /.well-known path with JSON, never HTML', async () => {
    for (const path of [
      '/.well-known/oauth-authorization-server/mcp',
      '/.well-known/openid-configuration/mcp',
      '/.well-known/security.txt',
    ]) {
      for (const headers of [{}, withKey(user.apiKey)]) {
        const answer = await rawRequest(baseUrl, { method: 'GET', path, headers });
        assert.equal(answer.status, 404, path);
        assert.match(answer.headers['content-type'] ?? '', /^application\/json/, path);
        assert.equal(JSON.parse(answer.body).error.code, 'not_found');
      }
    }
    const posted = await rawRequest(baseUrl, { method: 'POST', path: '/.well-known/oauth-registration', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.match(posted.headers['content-type'] ?? '', /^application\/json/);
  });

  it('refuses a body over the limit with 413 in the JSON error shape', async () => {
    const huge = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'remember', arguments: { content: 'x'.repeat(5 * 1024 * 1024) } } });
    const answer = await rawRequest(baseUrl, { method: 'POST', path: '/mcp', headers: { ...withKey(user.apiKey), ...MCP_POST_HEADERS }, body: huge });
    assert.equal(answer.status, 413);
    assert.equal(JSON.parse(answer.body).error.code, 'payload_too_large');
  });

  it('turns an unreadable record into a clear isError result', async () => {
    const client = await connectClient(baseUrl, user.apiKey);
    try {
      const remembered = await callTool(client, 'remember', { content: 'a memory about to be tampered with' });
      const id = (remembered.structuredContent as { id: string }).id;
      const [row] = await t.store.getRecords(user.userId, [id]);
      await t.store.putRecords([{ ...row!, token: row!.token.slice(0, -8) + 'AAAAAAAA' }]);
      const update = await callTool(client, 'update_memory', { id, content: 'changed' });
      assert.equal(update.isError, true);
      assert.equal(textOf(update), 'this memory is stored but cannot be decrypted with the current key');
    } finally {
      await client.close();
    }
  });
});

describe('/mcp tool failures from storage', () => {
  it('answer a generic isError message, never the driver\'s words or a stack trace', async () => {
    const t = await makeTestApp();
    const user = await signUp(t.app);
    // The real store, except that reading records fails the way a broken driver would.
    const failing = new Proxy(t.store, {
      get(target, property, receiver) {
        if (property === 'listRecords') return async () => { throw new Error('driver says: row 7 holds "secret plaintext"'); };
        return Reflect.get(target, property, receiver) as unknown;
      },
    }) satisfies Store;
    const logs: string[] = [];
    const app = await buildApp({ config: t.config, store: failing, logger: createLogger('info', { write: (line: string) => logs.push(line) }) });
    try {
      const client = await connectClient(await listen(app), user.apiKey);
      const result = await callTool(client, 'read_graph');
      await client.close();
      assert.equal(result.isError, true);
      assert.equal(textOf(result), 'something went wrong on our side; nothing was changed by the failed step');
      assert.ok(!logs.join('').includes('secret plaintext'), 'the driver message is not logged');
      assert.ok(logs.join('').includes('"tool":"read_graph"'), 'the failure is logged as metadata');
    } finally {
      await app.close();
      await t.close();
    }
  });
});

describe('host and origin rules', () => {
  const allowed = allowedHostsFor({ host: '127.0.0.1', allowedHosts: ['memory.example.com', 'other.example:8443'] });

  it('takes loopback names on any port, listed names on any port or the listed one', () => {
    for (const host of ['localhost', 'LOCALHOST:8080', '127.0.0.1:1', '[::1]:8080', 'memory.example.com', 'memory.example.com:443', 'other.example:8443']) {
      assert.ok(isAllowedHost(host, allowed), host);
    }
    for (const host of ['', 'evil.example', 'other.example', 'other.example:8080', 'localhost.evil.example', '127.0.0.2:8080', 'memory.example.com.evil.example', '[::1']) {
      assert.ok(!isAllowedHost(host, allowed), host);
    }
    assert.ok(!isAllowedHost(undefined, allowed));
  });

  it('takes an absent Origin, the own origin, and origins on allowed hosts only', () => {
    assert.ok(isAllowedOrigin(undefined, 'http://127.0.0.1:8080', allowed));
    assert.ok(isAllowedOrigin('http://127.0.0.1:8080', 'http://127.0.0.1:8080', allowed));
    assert.ok(isAllowedOrigin('https://memory.example.com', 'http://127.0.0.1:8080', allowed));
    for (const origin of ['https://evil.example', 'null', 'chrome-extension://abc', 'not a url']) {
      assert.ok(!isAllowedOrigin(origin, 'http://127.0.0.1:8080', allowed), origin);
    }
  });

  it('reads ANAMNESIS_ALLOWED_HOSTS and refuses entries that are not hosts', () => {
    assert.deepEqual(loadConfig({ ANAMNESIS_ALLOWED_HOSTS: ' Memory.Example.com, other.example:8443 ,' }).allowedHosts, ['memory.example.com', 'other.example:8443']);
    assert.deepEqual(loadConfig({}).allowedHosts, []);
    for (const bad of ['https://memory.example.com', 'memory.example.com/mcp', '*.example.com', 'a b']) {
      assert.throws(() => loadConfig({ ANAMNESIS_ALLOWED_HOSTS: bad }), (error) => error instanceof ConfigError && error.message.startsWith('ANAMNESIS_ALLOWED_HOSTS'), bad);
    }
  });

  it('adds the bound address unless it is a wildcard', () => {
    assert.ok(allowedHostsFor({ host: '10.0.0.5', allowedHosts: [] }).includes('10.0.0.5'));
    assert.ok(allowedHostsFor({ host: '::1', allowedHosts: [] }).includes('[::1]'));
    assert.deepEqual(allowedHostsFor({ host: '0.0.0.0', allowedHosts: [] }), ['localhost', '127.0.0.1', '[::1]']);
  });
});
