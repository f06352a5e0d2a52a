// Text that is not well-formed UTF-8 is refused on every input path with 400
// invalid_encoding, and nothing is stored: raw byte sequences that are not
// UTF-8 (invalid, overlong, truncated, encoded surrogates) and JSON escapes of
// lone surrogates, through JSON bodies, import files of every type and
// format, web forms (raw and percent-escaped), /mcp (raw HTTP and the real
// MCP SDK client), the query string and the headers read as data. Every
// request template is then sent with valid text and succeeds, so each refusal
// is the encoding's doing. On both storage drivers.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { csrfTokenFor } from '../../src/web/csrf-token.ts';
import { bearer, browser, makeTestApp, signUp, type TestApp, type TestUser } from '../helpers/app.ts';
import { callTool, connectClient, initializeBody, listen, MCP_POST_HEADERS } from '../mcp/helpers.ts';
import { type DirectDb, INVALID_UTF8, LONE_SURROGATES, openDirectDb, sendRaw, snapshotTables, testDrivers } from './support.ts';

const VALID = Buffer.from('caf\u00e9\u{1f600}');

const percentEscaped = (bytes: Buffer) => [...bytes].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
const concat = (...parts: Array<string | Buffer>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));

interface Answer {
  status: number;
  body: string;
}

/** A request with header bytes no HTTP client library would send. */
async function rawHttp(port: number, head: Buffer, body = Buffer.alloc(0)): Promise<Answer> {
  const text = await sendRaw(port, concat(head, `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`, body));
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), body: text.slice(text.indexOf('\r\n\r\n') + 4) };
}

/** How the SDK client reports the HTTP answer to its POST. */
const refusedAs400 = (error: Error & { code?: number }) => error.code === 400 && /invalid_encoding/.test(error.message);

function assertInvalidEncoding(answer: Answer, context: string): void {
  assert.equal(answer.status, 400, `${context}: ${answer.body.slice(0, 300)}`);
  if (answer.body.startsWith('<!doctype html>')) {
    // A page route answers with the HTML error page carrying the same message.
    assert.match(answer.body, /not well-formed|not UTF-8|lone surrogate/, context);
    return;
  }
  const { error } = JSON.parse(answer.body) as { error: { code: string; message: string } };
  assert.equal(error.code, 'invalid_encoding', context);
  assert.match(error.message, /UTF-8|lone surrogate/, context);
  assert.match(error.message, /nothing was stored/, context);
  // Never the bytes themselves: no replacement character, no echo of the escape.
  assert.ok(!answer.body.includes('\ufffd') && !/\\\\?ud[89a-f]/i.test(error.message.replace('such as \\ud800', '')), context);
}

for (const driver of await testDrivers('input decoding')) {
  describe(`strict input decoding (${driver})`, () => {
    let t: TestApp;
    let db: DirectDb;
    let user: TestUser;
    let memoryId: string;
    let port: number;

    before(async () => {
      t = await makeTestApp({ driver });
      db = await openDirectDb(t);
      user = await signUp(t.app);
      const created = await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(user.apiKey), payload: { content: 'a memory that must stay as it is', tags: ['keep'] } });
      memoryId = created.json().id;
      await t.app.inject({ method: 'POST', url: '/api/v1/import?format=mcp-memory-jsonl', headers: { ...bearer(user.apiKey), 'content-type': 'application/x-ndjson' }, payload: JSON.stringify({ type: 'entity', name: 'Ada', entityType: 'person', observations: ['wrote the first program'] }) });
      port = Number(new URL(await listen(t.app)).port);
    });
    after(async () => {
      await db.close();
      await t.close();
    });

    const inject = async (method: 'POST' | 'PATCH' | 'GET', url: string, headers: Record<string, string>, payload?: Buffer | string): Promise<Answer> => {
      const response = await t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
      return { status: response.statusCode, body: response.body };
    };
    const json = { 'content-type': 'application/json' };
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const line = (observation: string | Buffer) => concat('{"type":"entity","name":"Grace","entityType":"person","observations":["', observation, '"]}');
    const goodLine = JSON.stringify({ type: 'entity', name: 'Linus', entityType: 'person', observations: [] });
    const webForm = () => ({ ...browser(user.cookie), ...form });
    const csrf = () => `_csrf=${csrfTokenFor(user.cookie.slice('anamnesis_session='.length))}`;
    const mcpCall = (text: Buffer | string) => concat('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"remember","arguments":{"content":"', text, '"}}}');
    const mcpPost = async (body: Buffer): Promise<Answer> => {
      const response = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...bearer(user.apiKey) }, body: new Uint8Array(body) });
      return { status: response.status, body: await response.text() };
    };

    /**
     * Every input path as a request template around a fragment of text
     * (bytes, or an already-escaped fragment) and the status it answers when
     * the fragment is valid text.
     */
    const bytePaths: Array<{ name: string; send: (fragment: Buffer) => Promise<Answer>; ok: number }> = [
      { name: 'REST: POST /api/v1/memories', ok: 201, send: (f) => inject('POST', '/api/v1/memories', { ...bearer(user.apiKey), ...json }, concat('{"content":"note ', f, '","tags":["t"]}')) },
      { name: 'REST: a tag', ok: 201, send: (f) => inject('POST', '/api/v1/memories', { ...bearer(user.apiKey), ...json }, concat('{"content":"note","tags":["', f, '"]}')) },
      { name: 'REST: PATCH /api/v1/memories/:id', ok: 200, send: (f) => inject('PATCH', `/api/v1/memories/${memoryId}`, { ...bearer(user.apiKey), ...json }, concat('{"content":"changed ', f, '"}')) },
      { name: 'REST: sign-up email', ok: 201, send: (f) => inject('POST', '/api/v1/accounts', json, concat('{"email":"new', f, '@example.com","password":"a long and unusual passphrase 42"}')) },
      { name: 'REST: log-in password', ok: 401, send: (f) => inject('POST', '/api/v1/sessions', json, concat(`{"email":"${user.email}","password":"wrong `, f, '"}')) },
      ...['text/plain', 'application/x-ndjson', 'application/jsonl'].map((type) => ({
        name: `import mcp-memory-jsonl as ${type}`,
        ok: 200,
        send: (f: Buffer) => inject('POST', '/api/v1/import?format=mcp-memory-jsonl', { ...bearer(user.apiKey), 'content-type': type }, concat(goodLine, '\n', line(f))),
      })),
      { name: 'import json (application/json)', ok: 200, send: (f) => inject('POST', '/api/v1/import?format=json', { ...bearer(user.apiKey), ...json }, concat('{"format":"anamnesis-json-export","version":"v1","memories":[],"entities":[{"name":"E ', f, '","entityType":"t","observations":[]}],"relations":[]}')) },
      { name: 'import encrypted: the header line', ok: 200, send: (f) => inject('POST', '/api/v1/import?format=encrypted', { ...bearer(user.apiKey), 'content-type': 'application/x-ndjson' }, concat('{"format":"anamnesis-encrypted-export","version":"v1","user_id":"', f, '"}\n')) },
      { name: 'web form, raw bytes: new memory', ok: 303, send: (f) => inject('POST', '/app/memories', webForm(), concat(`${csrf()}&tags=&content=note+`, f)) },
      { name: 'web form, percent-escaped: new memory', ok: 303, send: (f) => inject('POST', '/app/memories', webForm(), `${csrf()}&tags=&content=note+${percentEscaped(f)}`) },
      { name: 'web form, percent-escaped: a field name', ok: 303, send: (f) => inject('POST', '/app/memories', webForm(), `${csrf()}&tags=&content=note&x${percentEscaped(f)}=1`) },
      { name: 'web form, percent-escaped: import file', ok: 200, send: (f) => inject('POST', '/app/data/import', webForm(), `${csrf()}&jsonl=${encodeURIComponent(goodLine)}%0A${percentEscaped(line(f))}`) },
      { name: 'web form, percent-escaped: log-in email', ok: 401, send: (f) => inject('POST', '/login', { ...form, origin: 'http://localhost:80' }, `email=x${percentEscaped(f)}%40example.com&password=whatever`) },
      { name: 'MCP over HTTP: tools/call arguments', ok: 200, send: (f) => mcpPost(mcpCall(f)) },
      { name: 'MCP over HTTP: initialize', ok: 200, send: (f) => mcpPost(Buffer.from(initializeBody().replace('"raw"', `"raw ${f.toString('latin1')}"`), 'latin1')) },
      { name: 'query string, percent-escaped: search text', ok: 200, send: (f) => inject('GET', `/api/v1/memories/search?q=${percentEscaped(f)}`, bearer(user.apiKey)) },
      { name: 'query string, percent-escaped: tag filter', ok: 200, send: (f) => inject('GET', `/api/v1/memories?tag=${percentEscaped(f)}`, bearer(user.apiKey)) },
      { name: 'query string, percent-escaped: web search', ok: 200, send: (f) => inject('GET', `/app?q=${percentEscaped(f)}`, { cookie: user.cookie }) },
      { name: 'header User-Agent (the session label) at log-in', ok: 200, send: (f) => rawHttp(port, concat('POST /api/v1/sessions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nUser-Agent: Mozilla ', f, '\r\n'), Buffer.from(JSON.stringify({ email: user.email, password: user.password }))) },
      { name: 'header Authorization', ok: 401, send: (f) => rawHttp(port, concat('GET /api/v1/memories HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer anm_', f, '\r\n')) },
      { name: 'header Cookie', ok: 200, send: (f) => rawHttp(port, concat('GET /api/v1/memories HTTP/1.1\r\nHost: localhost\r\n', `Authorization: Bearer ${user.apiKey}\r\nCookie: other=`, f, '\r\n')) },
      { name: 'header Origin on a web form', ok: 403, send: (f) => rawHttp(port, concat(`POST /app/memories HTTP/1.1\r\nHost: localhost\r\nCookie: ${user.cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nOrigin: http://`, f, '\r\n'), Buffer.from(`${csrf()}&tags=&content=x`)) },
      { name: 'header Host on /mcp', ok: 403, send: (f) => rawHttp(port, concat(`POST /mcp HTTP/1.1\r\nHost: evil`, f, `\r\nAuthorization: Bearer ${user.apiKey}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n`), Buffer.from(initializeBody())) },
    ];

    it('refuses every invalid byte sequence on every input path, and stores nothing', async () => {
      const before = await snapshotTables(db);
      const exportBefore = (await inject('GET', '/api/v1/export?format=json', bearer(user.apiKey))).body;
      for (const path of bytePaths) {
        for (const [label, bytes] of INVALID_UTF8) assertInvalidEncoding(await path.send(bytes), `${path.name} with ${label}`);
      }
      assert.deepEqual(await snapshotTables(db), before);
      assert.deepEqual({ ...JSON.parse((await inject('GET', '/api/v1/export?format=json', bearer(user.apiKey))).body), exported_at: null }, { ...JSON.parse(exportBefore), exported_at: null });
    });

    it('refuses raw non-ASCII bytes in the request target before any route (Node\'s HTTP parser), in the same shape', async () => {
      for (const [label, bytes] of INVALID_UTF8) {
        const answer = await rawHttp(port, concat('GET /api/v1/memories/search?q=', bytes, ` HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${user.apiKey}\r\n`));
        assert.equal(answer.status, 400, label);
        assert.equal(JSON.parse(answer.body).error.code, 'bad_request', label);
      }
    });

    it('refuses lone surrogate escapes wherever JSON is parsed, and stores nothing', async () => {
      const before = await snapshotTables(db);
      const escapes: Array<{ name: string; send: (escape: string) => Promise<Answer> }> = [
        { name: 'REST content', send: (e) => inject('POST', '/api/v1/memories', { ...bearer(user.apiKey), ...json }, `{"content":"note ${e}"}`) },
        { name: 'REST tag', send: (e) => inject('POST', '/api/v1/memories', { ...bearer(user.apiKey), ...json }, `{"content":"note","tags":["${e}"]}`) },
        { name: 'REST object key', send: (e) => inject('POST', '/api/v1/memories', { ...bearer(user.apiKey), ...json }, `{"content":"note","${e}":1}`) },
        { name: 'REST PATCH', send: (e) => inject('PATCH', `/api/v1/memories/${memoryId}`, { ...bearer(user.apiKey), ...json }, `{"content":"${e}"}`) },
        { name: 'REST sign-up password', send: (e) => inject('POST', '/api/v1/accounts', json, `{"email":"surrogate@example.com","password":"a long and unusual passphrase ${e}"}`) },
        { name: 'import mcp-memory-jsonl line 2', send: (e) => inject('POST', '/api/v1/import?format=mcp-memory-jsonl', { ...bearer(user.apiKey), 'content-type': 'application/x-ndjson' }, `${goodLine}\n${line(e).toString()}`) },
        { name: 'import json as text/plain', send: (e) => inject('POST', '/api/v1/import?format=json', { ...bearer(user.apiKey), 'content-type': 'text/plain' }, `{"format":"anamnesis-json-export","version":"v1","memories":[],"entities":[{"name":"${e}","entityType":"t","observations":[]}],"relations":[]}`) },
        { name: 'import encrypted header', send: (e) => inject('POST', '/api/v1/import?format=encrypted', { ...bearer(user.apiKey), 'content-type': 'application/x-ndjson' }, `{"format":"anamnesis-encrypted-export","version":"v1","user_id":"${e}"}\n`) },
        { name: 'import encrypted record line', send: (e) => inject('POST', '/api/v1/import?format=encrypted', { ...bearer(user.apiKey), 'content-type': 'application/x-ndjson' }, `{"format":"anamnesis-encrypted-export","version":"v1","user_id":"${user.userId}"}\n{"id":"${e}","kind":"memory","created_at":1,"updated_at":1,"token":"x"}\n`) },
        { name: 'web import form', send: (e) => inject('POST', '/app/data/import', webForm(), `${csrf()}&jsonl=${encodeURIComponent(`${goodLine}\n${line(e).toString()}`)}`) },
        { name: 'MCP tools/call over HTTP', send: (e) => mcpPost(mcpCall(e)) },
      ];
      for (const path of escapes) {
        for (const escape of LONE_SURROGATES) assertInvalidEncoding(await path.send(escape), `${path.name} with ${escape}`);
      }
      assert.deepEqual(await snapshotTables(db), before);
    });

    it('the real MCP SDK client sending a lone surrogate (it cannot send invalid bytes) gets the 400, and nothing is stored', async () => {
      const before = await snapshotTables(db);
      const client = await connectClient(`http://127.0.0.1:${port}`, user.apiKey);
      try {
        await assert.rejects(callTool(client, 'remember', { content: 'lone \ud800 surrogate' }), refusedAs400);
        await assert.rejects(callTool(client, 'create_entities', { entities: [{ name: 'Half \udc00', entityType: 'thing', observations: [] }] }), refusedAs400);
        await assert.rejects(callTool(client, 'add_observations', { observations: [{ entityName: 'Ada', contents: ['x\ud83d'] }] }), refusedAs400);
        // The same client and connection still work with well-formed text.
        const graph = (await callTool(client, 'open_nodes', { names: ['Ada'] })).structuredContent as { entities: Array<{ observations: string[] }> };
        assert.deepEqual(graph.entities[0]?.observations, ['wrote the first program']);
      } finally {
        await client.close();
      }
      assert.deepEqual(await snapshotTables(db), before);
    });

    it('every request template succeeds with valid text, so the refusals above are the encoding\'s doing', async () => {
      for (const path of bytePaths) {
        const answer = await path.send(VALID);
        assert.equal(answer.status, path.ok, `${path.name}: ${answer.body.slice(0, 300)}`);
      }
      const stored = JSON.parse((await inject('GET', '/api/v1/export?format=json', bearer(user.apiKey))).body) as { memories: Array<{ content: string }>; entities: Array<{ name: string; observations: string[] }> };
      assert.ok(stored.memories.some((m) => m.content === `note ${VALID.toString()}`), 'REST and web memories keep the text exactly');
      assert.ok(stored.entities.some((e) => e.name === 'Grace' && e.observations.includes(VALID.toString())), 'imports keep the text exactly');
    });
  });
}

describe('forwarded headers', () => {
  it('are read as data, and so checked, only behind a trusted proxy', async () => {
    for (const trustProxy of [[], ['127.0.0.1']]) {
      const t = await makeTestApp({ trustProxy });
      try {
        const port = Number(new URL(await listen(t.app)).port);
        for (const name of ['X-Forwarded-For', 'X-Forwarded-Host', 'X-Forwarded-Proto']) {
          const answer = await rawHttp(port, concat(`GET /healthz HTTP/1.1\r\nHost: localhost\r\n${name}: x`, INVALID_UTF8[0]![1], '\r\n'));
          if (trustProxy.length === 0) assert.equal(answer.status, 200, `${name} is ignored without a trusted proxy`);
          else assertInvalidEncoding(answer, name);
        }
      } finally {
        await t.close();
      }
    }
  });
});
