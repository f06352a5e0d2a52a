// Bad input gets a clear 4xx in the one JSON error shape, never a stack
// trace, and never changes what is stored: fixed cases first, then
// fast-check throwing random methods, paths, queries, headers and bodies at
// every route of the OpenAPI document.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { bearer, browser, cookieFrom, makeTestApp, signUp, type TestApp, type TestUser } from '../helpers/app.ts';
import { type DirectDb, INVALID_UTF8, openDirectDb, testDrivers } from './support.ts';

const MiB = 1024 * 1024;
/** What a leaked stack trace or internal detail would look like in an answer. */
const INTERNALS = /\bat [\w.<>]+ \(|\bat file:|\.ts:\d+|\/work\/|node_modules|\/src\/|SQLITE_|syntax error at|TypeError|ReferenceError/;

function assertErrorShape(response: LightMyRequestResponse, context: string): void {
  assert.match(String(response.headers['content-type']), /^application\/json/, context);
  const body = response.json();
  assert.equal(typeof body.error?.code, 'string', `${context}: ${response.body}`);
  assert.equal(typeof body.error?.message, 'string', context);
  assert.deepEqual(Object.keys(body), ['error'], context);
  assert.doesNotMatch(response.body, INTERNALS, context);
}

/**
 * A JSON memory body (random text in its content and tags) with one of the
 * invalid byte sequences spliced into the content at a random character.
 */
const jsonWithInvalidUtf8 = fc
  .tuple(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }), fc.constantFrom(...INVALID_UTF8.map(([, bytes]) => bytes)), fc.nat())
  .map(([content, tags, bad, at]) => {
    const chars = [...content];
    const cut = at % (chars.length + 1);
    const before = JSON.stringify(chars.slice(0, cut).join('')).slice(0, -1);
    const after = JSON.stringify(chars.slice(cut).join('')).slice(1);
    return Buffer.concat([Buffer.from(`{"content":${before}`), bad, Buffer.from(`${after},"tags":${JSON.stringify(tags)}}`)]);
  });

/** A JSON body whose text holds a lone surrogate between ASCII (JSON.stringify writes it as a \uXXXX escape). */
const jsonWithLoneSurrogate = fc
  .tuple(fc.string({ maxLength: 30 }), fc.integer({ min: 0xd800, max: 0xdfff }), fc.string({ maxLength: 30 }), fc.boolean())
  .map(([head, surrogate, tail, asKey]) => {
    const lone = head + String.fromCharCode(surrogate) + tail;
    return Buffer.from(JSON.stringify(asKey ? { content: 'x', [lone]: 1 } : { content: lone, tags: [lone] }));
  });

for (const driver of await testDrivers('HTTP errors')) {
  describe(`error answers (${driver})`, () => {
    let t: TestApp;
    let db: DirectDb;
    let user: TestUser;
    before(async () => {
      t = await makeTestApp({ driver });
      db = await openDirectDb(t);
      user = await signUp(t.app);
      await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(user.apiKey), payload: { content: 'a memory that must survive', tags: ['keep'] } });
    });
    after(async () => {
      await db.close();
      await t.close();
    });

    const post = (url: string, payload: string | Buffer, contentType = 'application/json', headers: Record<string, string> = bearer(user.apiKey)) =>
      t.app.inject({ method: 'POST', url, headers: { ...headers, 'content-type': contentType }, payload });

    it('malformed JSON, an empty JSON body and an unsupported content type', async () => {
      for (const payload of ['{', '{"content": "x",}', "{'content': 'x'}", 'nul', '{"content":"x"}garbage']) {
        const response = await post('/api/v1/memories', payload);
        assert.equal(response.statusCode, 400, payload);
        assertErrorShape(response, payload);
        assert.deepEqual(response.json(), { error: { code: 'bad_request', message: 'the body is not valid JSON' } });
      }
      const empty = await post('/api/v1/memories', '');
      assert.equal(empty.statusCode, 400);
      assertErrorShape(empty, 'empty body');
      const xml = await post('/api/v1/memories', '<content>x</content>', 'application/xml');
      assert.equal(xml.statusCode, 415);
      assert.equal(xml.json().error.code, 'unsupported_media_type');
      const poisoned = await post('/api/v1/memories', '{"content":"x","__proto__":{"admin":true}}');
      assert.equal(poisoned.statusCode, 400);
      assertErrorShape(poisoned, '__proto__');
    });

    it('JSON nested 500,000 deep or 500,000 wide is a 4xx on every JSON path, never a 5xx', async () => {
      const deep = '['.repeat(500_000) + ']'.repeat(500_000);
      const wide = `[${Array(500_000).fill('0').join(',')}]`;
      for (const payload of [deep, wide, `{"content":"x","tags":${wide}}`]) {
        for (const [url, headers] of [
          ['/api/v1/memories', {}],
          ['/api/v1/import?format=json', {}],
          ['/mcp', { accept: 'application/json, text/event-stream' }],
        ] as const) {
          const response = await post(url, payload, 'application/json', { ...bearer(user.apiKey), ...headers });
          assert.ok(response.statusCode >= 400 && response.statusCode < 500, `${url}: ${response.statusCode} ${response.body.slice(0, 200)}`);
        }
        const line = await post('/api/v1/import?format=mcp-memory-jsonl', `{"type":"entity","x":${payload}}`, 'application/x-ndjson');
        assert.equal(line.statusCode, 200, 'a line nested that deep is reported, the file still imports');
        assert.equal(line.json().errors.length, 1);
      }
    });

    it('wrong types and unknown fields: 400 validation_failed naming the field, never echoing the values', async () => {
      const cases: Array<[string, unknown, string]> = [
        ['/api/v1/memories', { content: 42 }, 'body.content'],
        ['/api/v1/memories', { content: ['a'] }, 'body.content'],
        ['/api/v1/memories', { content: 'x', tags: 'one' }, 'body.tags'],
        ['/api/v1/memories', { content: 'x', tags: [1, 2] }, 'body.tags.0'],
        ['/api/v1/memories', 'just a string', 'body'],
        ['/api/v1/memories', null, 'body'],
        ['/api/v1/accounts', { email: 'a@example.com', password: 123456789012 }, 'body.password'],
      ];
      for (const [url, payload, where] of cases) {
        const response = await post(url, JSON.stringify(payload));
        assert.equal(response.statusCode, 400, JSON.stringify(payload));
        assertErrorShape(response, JSON.stringify(payload));
        assert.equal(response.json().error.code, 'validation_failed');
        assert.ok(response.json().error.problems.some((p: { where: string }) => p.where.startsWith(where)), `${where}: ${response.body}`);
      }
      const unknown = await post('/api/v1/memories', JSON.stringify({ content: 'x', colour: 'SECRET-VALUE-77' }));
      assert.equal(unknown.statusCode, 400);
      assert.match(unknown.body, /colour/);
      assert.ok(!unknown.body.includes('SECRET-VALUE-77'));
      const wrongType = await post('/api/v1/memories', JSON.stringify({ content: 1234567, tags: [] }));
      assert.ok(!wrongType.body.includes('1234567'));
    });

    it('bodies over 1 MiB are 413; import accepts up to 32 MiB', async () => {
      const big = JSON.stringify({ content: 'x'.repeat(MiB) });
      const response = await post('/api/v1/memories', big);
      assert.equal(response.statusCode, 413);
      assertErrorShape(response, '413');
      assert.equal(response.json().error.code, 'payload_too_large');
      const signUpBig = await post('/api/v1/accounts', JSON.stringify({ email: 'a@example.com', password: 'p'.repeat(MiB) }), 'application/json', {});
      assert.equal(signUpBig.statusCode, 413);

      // A 3 MiB reference file imports; a 33 MiB one is refused before it is read.
      const line = (i: number) => JSON.stringify({ type: 'entity', name: `Entity ${i}`, entityType: 'bulk', observations: ['o'.repeat(2000)] });
      const lines = Array.from({ length: 1600 }, (_, i) => line(i)).join('\n');
      assert.ok(Buffer.byteLength(lines) > 3 * MiB);
      const imported = await post('/api/v1/import?format=mcp-memory-jsonl', lines, 'application/x-ndjson');
      assert.equal(imported.statusCode, 200, imported.body.slice(0, 200));
      assert.equal(imported.json().imported.entities, 1600);
      const huge = await post('/api/v1/import?format=mcp-memory-jsonl', Buffer.alloc(33 * MiB, 0x20), 'application/x-ndjson');
      assert.equal(huge.statusCode, 413);
      assertErrorShape(huge, 'import 413');
    });

    it('fast-check: a JSON body with bytes that are not UTF-8 or a lone surrogate escape anywhere in its text is 400 invalid_encoding and stores nothing', async () => {
      const recordsBefore = await db.query('SELECT * FROM records ORDER BY user_id, id');
      await fc.assert(
        fc.asyncProperty(fc.oneof(jsonWithInvalidUtf8, jsonWithLoneSurrogate), fc.constantFrom('/api/v1/memories', '/api/v1/import?format=json', '/api/v1/accounts'), async (payload, url) => {
          const response = await post(url, payload);
          assert.equal(response.statusCode, 400, `${url} ${payload.toString('latin1').slice(0, 120)}: ${response.body}`);
          assertErrorShape(response, url);
          assert.equal(response.json().error.code, 'invalid_encoding');
        }),
        { numRuns: 300 },
      );
      assert.deepEqual(await db.query('SELECT * FROM records ORDER BY user_id, id'), recordsBefore);
    });

    it('unknown routes and wrong methods answer 404 in the JSON shape', async () => {
      for (const [method, url] of [
        ['GET', '/nope'],
        ['GET', '/api/v1/nope'],
        ['GET', '/api/v2/memories'],
        ['POST', '/api/v1/memories/search'],
        ['PUT', '/api/v1/memories'],
        ['DELETE', '/api/v1/memories'],
        ['PATCH', '/api/v1/accounts'],
        ['GET', `/api/v1/memories/${randomUUID()}/extra`],
        ['GET', '/api/v1/../../etc/passwd'],
        ['GET', '/%'],
      ] as const) {
        const response = await t.app.inject({ method, url, headers: bearer(user.apiKey) });
        assert.ok([400, 404].includes(response.statusCode), `${method} ${url}: ${response.statusCode}`);
        assertErrorShape(response, `${method} ${url}`);
      }
      const unknown = await t.app.inject({ method: 'GET', url: '/api/v1/nope' });
      assert.deepEqual(unknown.json(), { error: { code: 'not_found', message: 'no such route' } });
    });

    it('fast-check: random input at every route is never a 5xx, errors keep the shape, and stored data is unchanged', async () => {
      const spec = (await t.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
      const routes = Object.entries(spec.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })));
      assert.ok(routes.length >= 18, `routes from the OpenAPI document: ${routes.length}`);
      const locked = cookieFrom(await t.app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email: user.email, password: user.password } }));
      const recordsBefore = await db.query('SELECT * FROM records ORDER BY user_id, id');
      const exportBefore = (await t.app.inject({ method: 'GET', url: '/api/v1/export?format=json', headers: bearer(user.apiKey) })).json();

      const credentials = fc.constantFrom<Record<string, string>>(
        {},
        bearer(user.apiKey),
        { authorization: 'Bearer anm_' + 'x'.repeat(43) },
        { cookie: user.cookie },
        browser(locked),
        { cookie: 'anamnesis_session=' + 'A'.repeat(43) },
      );
      const segment = fc.oneof(fc.uuid(), fc.string({ maxLength: 40 }).map(encodeURIComponent), fc.constantFrom('', '..', '%00', '%ff', 'search'));
      const query = fc.oneof(
        fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(fc.string({ maxLength: 60 }), fc.integer().map(String)), { maxKeys: 4 }).map((d) => new URLSearchParams(d).toString()),
        fc.constantFrom('format=json', 'format=encrypted', 'format=mcp-memory-jsonl', 'q=memory', 'limit=-1', 'limit=1e309', 'cursor=%ZZ', 'tag=', 'q=%00'),
      );
      const body = fc.oneof(
        fc.constant(undefined),
        fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
        fc.string({ maxLength: 200 }),
        fc.record({ content: fc.oneof(fc.string(), fc.integer(), fc.constant(null)), tags: fc.anything() }, { requiredKeys: [] }).map((v) => JSON.stringify(v) ?? '{}'),
        fc.record({ email: fc.string(), password: fc.string(), api_key: fc.string(), confirm: fc.string() }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
        fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
        jsonWithInvalidUtf8,
        jsonWithLoneSurrogate,
      );
      const contentType = fc.constantFrom('application/json', 'text/plain', 'application/x-ndjson', 'application/xml', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', '');
      const extraHeaders = fc.record(
        { accept: fc.string({ maxLength: 30 }), 'x-forwarded-for': fc.string({ maxLength: 30 }), 'sec-fetch-site': fc.constantFrom('same-origin', 'cross-site', 'none'), 'accept-encoding': fc.constantFrom('gzip', 'br', 'identity;q=0') },
        { requiredKeys: [] },
      );

      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...routes), fc.boolean(), segment, query, body, contentType, credentials, extraHeaders, async (route, otherMethod, id, q, payload, type, auth, extra) => {
          const method = otherMethod ? (route.method === 'GET' ? 'POST' : 'GET') : route.method;
          const url = route.path.replace('{id}', id) + (q ? `?${q}` : '');
          const headers: Record<string, string> = { ...extra, ...auth };
          if (payload !== undefined && type) headers['content-type'] = type;
          const response = await t.app.inject({ method: method as 'GET', url, headers, ...(payload !== undefined && method !== 'GET' ? { payload } : {}) });
          const context = `${method} ${url} ${JSON.stringify(headers)} ${String(payload).slice(0, 80)}`;
          assert.ok(response.statusCode < 500, `${response.statusCode} for ${context}: ${response.body}`);
          if (response.statusCode >= 400) assertErrorShape(response, context);
          else assert.doesNotMatch(response.body, INTERNALS, context);
        }),
        { numRuns: 400 },
      );

      assert.deepEqual(await db.query('SELECT * FROM records ORDER BY user_id, id'), recordsBefore);
      const exportAfter = (await t.app.inject({ method: 'GET', url: '/api/v1/export?format=json', headers: bearer(user.apiKey) })).json();
      assert.deepEqual({ ...exportAfter, exported_at: null }, { ...exportBefore, exported_at: null });
    });
  });
}
