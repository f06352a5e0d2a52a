// "It holds no state between requests, so N processes scale out behind the
// edge" (DESIGN.md section 5): two real server processes on one PostgreSQL
// schema, behind Caddy. A write through one process is read through the
// other at once; a session made on one works on the other; a key rotated on
// one is refused by the other; and through Caddy, which spreads requests
// over both, every write is read back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { postgresAvailableForTests, postgresTestUrl, randomSchemaName } from '../helpers/postgres.ts';
import { bearer, killAllServers, request, type ServerProcess, signUpRemote, startServer } from '../fixtures/server-process.ts';
import { caddyAvailableForTests, type Edge, edgeRequest, startCaddy } from './caddy.ts';

function requestLines(server: ServerProcess): number {
  return server.stdout().split('\n').filter((line) => line.includes('"msg":"request"')).length;
}

if ((await postgresAvailableForTests('edge: two app processes on one PostgreSQL')) && caddyAvailableForTests('edge: scale-out behind Caddy')) {
  describe('two app processes on one PostgreSQL behind Caddy', () => {
    const schema = randomSchemaName();
    const admin = new pg.Client({ connectionString: postgresTestUrl() });
    let one: ServerProcess;
    let two: ServerProcess;
    let edge: Edge;

    before(async () => {
      await admin.connect();
      await admin.query(`CREATE SCHEMA "${schema}"`);
      // DATABASE_URL alone picks the schema, through the connection's search_path.
      const env = { DATABASE_URL: `${postgresTestUrl()}?options=${encodeURIComponent(`-c search_path=${schema}`)}`, TRUST_PROXY: '127.0.0.1', ANAMNESIS_RATE_LIMIT_FACTOR: '0' };
      one = await startServer({ env });
      two = await startServer({ env });
      edge = await startCaddy([`127.0.0.1:${one.port}`, `127.0.0.1:${two.port}`]);
    });
    after(async () => {
      await edge?.stop();
      await killAllServers();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    });

    it('a write through one process is read through the other at once, and a session moves between them', async () => {
      const user = await signUpRemote(one.url, 'scale');
      const created = await request(one.url, { method: 'POST', path: '/api/v1/memories', headers: bearer(user.apiKey), body: { content: 'written on process one', tags: ['scale'] } });
      assert.equal(created.status, 201);
      const read = await request(two.url, { path: `/api/v1/memories/${created.json().id}`, headers: bearer(user.apiKey) });
      assert.equal(read.status, 200);
      assert.equal(read.json().content, 'written on process one');
      assert.equal((await request(two.url, { path: '/api/v1/memories/search?q=process', headers: bearer(user.apiKey) })).json().results.length, 1, 'the search index too');
      // The sign-up session (made on one) reads and writes on two.
      const viaSession = await request(two.url, { method: 'POST', path: '/api/v1/memories', headers: { cookie: user.cookie, origin: two.url }, body: { content: 'written on two with the session from one' } });
      assert.equal(viaSession.status, 201, viaSession.body);
      assert.equal((await request(one.url, { path: '/api/v1/memories', headers: { cookie: user.cookie } })).json().items.length, 2);
      // Rotated on two: one refuses the old key and takes the new one at once.
      const pending = (await request(two.url, { method: 'POST', path: '/api/v1/keys/rotate', headers: bearer(user.apiKey) })).json().api_key;
      assert.equal((await request(one.url, { method: 'POST', path: '/api/v1/keys/rotate/confirm', headers: bearer(pending) })).json().status, 'rotated');
      assert.equal((await request(two.url, { path: '/api/v1/memories', headers: bearer(user.apiKey) })).status, 401);
      assert.equal((await request(two.url, { path: '/api/v1/memories', headers: bearer(pending) })).json().items.length, 2);
    });

    it('through Caddy, requests reach both processes and every write is read back by the next request', async () => {
      const before = [requestLines(one), requestLines(two)];
      const user = await edgeRequest(edge, { method: 'POST', path: '/api/v1/accounts', body: { email: `edge-scale-${Date.now()}@example.com`, password: 'a long and unusual passphrase 42' } });
      const apiKey = user.json().api_key as string;
      for (let i = 0; i < 20; i++) {
        const write = await edgeRequest(edge, { method: 'POST', path: '/mcp', headers: { ...bearer(apiKey), accept: 'application/json, text/event-stream' }, body: { jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'remember', arguments: { content: `edge note ${i}` } } } });
        assert.equal(write.status, 200, write.body);
        const id = write.json().result.structuredContent.id;
        const read = await edgeRequest(edge, { path: `/api/v1/memories/${id}`, headers: bearer(apiKey) });
        assert.equal(read.status, 200);
        assert.equal(read.json().content, `edge note ${i}`);
      }
      const served = [requestLines(one) - before[0]!, requestLines(two) - before[1]!];
      assert.ok(served.every((n) => n >= 10), `requests served per process: ${served.join(', ')}`);
    });
  });
}
