// Concurrent writers lose nothing. Many clients at once add observations to
// ONE entity of one user's graph (a read-modify-write of one sealed record),
// remember memories into one user's vault, and create entities: every
// acknowledged change is there afterwards. Then a small run of the load
// benchmark's own client (bench/load.ts) mixing every kind of call over
// several users: no 5xx, no refused call, no lost write.
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { callTool, runLoad } from '../../bench/load.ts';
import { postgresAvailableForTests, postgresTestUrl, randomSchemaName } from '../helpers/postgres.ts';
import { killAllServers, type RemoteUser, type ServerProcess, signUpRemote, startServer } from '../fixtures/server-process.ts';

const WRITERS = 40;

const targets: Array<['sqlite' | 'postgres', () => Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }>]> = [
  ['sqlite', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-concurrent-'));
    return { env: { ANAMNESIS_DATA_DIR: dir }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }],
];
if (await postgresAvailableForTests('faults: concurrent writers on PostgreSQL')) {
  targets.push(['postgres', async () => {
    const schema = randomSchemaName();
    const client = new pg.Client({ connectionString: postgresTestUrl() });
    await client.connect();
    await client.query(`CREATE SCHEMA "${schema}"`);
    return {
      env: { DATABASE_URL: `${postgresTestUrl()}?options=${encodeURIComponent(`-c search_path=${schema}`)}` },
      cleanup: async () => {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      },
    };
  }]);
}

for (const [driver, makeTarget] of targets) {
  describe(`concurrent writers lose no update (${driver})`, () => {
    let cleanup: () => Promise<void>;
    let server: ServerProcess;
    let user: RemoteUser;
    const agent = new http.Agent({ keepAlive: true, maxSockets: WRITERS });
    const tool = (name: string, args: Record<string, unknown>, key = user.apiKey) => callTool(agent, server.url, key, name, args);

    before(async () => {
      const target = await makeTarget();
      cleanup = target.cleanup;
      server = await startServer({ env: { ...target.env, ANAMNESIS_RATE_LIMIT_FACTOR: '0' } });
      user = await signUpRemote(server.url, 'concurrent');
    });
    after(async () => {
      agent.destroy();
      await killAllServers();
      await cleanup();
    });

    it(`${WRITERS} parallel add_observations on one entity: every observation is there`, async () => {
      assert.equal((await tool('create_entities', { entities: [{ name: 'Shared Notebook', entityType: 'notebook', observations: ['first page'] }] })).status, 200);
      const answers = await Promise.all(Array.from({ length: WRITERS }, (_, w) => tool('add_observations', { observations: [{ entityName: 'Shared Notebook', contents: [`line from writer ${w}`, `second line from writer ${w}`] }] })));
      for (const answer of answers) assert.equal(answer.result?.isError, undefined, JSON.stringify(answer.result));
      const notebook = (await tool('open_nodes', { names: ['Shared Notebook'] })).result!.structuredContent.entities[0];
      const expected = ['first page', ...Array.from({ length: WRITERS }, (_, w) => [`line from writer ${w}`, `second line from writer ${w}`]).flat()];
      assert.deepEqual([...notebook.observations].sort(), expected.sort());
      // The search index saw every one of them too.
      assert.equal((await tool('search_nodes', { query: `line from writer ${WRITERS - 1}` })).result!.structuredContent.entities.length, 1);
    });

    it(`${WRITERS} parallel remember and create_entities in one vault: every one listed, found and readable`, async () => {
      const remembered = await Promise.all(Array.from({ length: WRITERS }, (_, w) => tool('remember', { content: `parallel memory ${w} about quince` })));
      const created = await Promise.all(Array.from({ length: WRITERS }, (_, w) => tool('create_entities', { entities: [{ name: `Parallel ${w}`, entityType: 'thing', observations: [] }] })));
      for (const answer of [...remembered, ...created]) assert.equal(answer.result?.isError, undefined);
      const listed = (await tool('list_memories', { limit: 200 })).result!.structuredContent.items as Array<{ id: string; content: string }>;
      assert.deepEqual(listed.map((m) => m.id).sort(), remembered.map((r) => r.result!.structuredContent.id).sort());
      assert.equal((await tool('recall', { query: 'quince', limit: 50 })).result!.structuredContent.results.length, WRITERS);
      assert.equal((await tool('read_graph', { limit: 1000 })).result!.structuredContent.entities.length, WRITERS + 1);
    });

    it('a short mixed load over several users: no 5xx, no refused call, no lost write', async (t) => {
      const users = [user];
      for (let i = 0; i < 3; i++) users.push(await signUpRemote(server.url, `smoke${i}`));
      const report = await runLoad({ baseUrl: server.url, users, clients: 16, opsPerClient: 25 });
      t.diagnostic(`${report.requests} calls, p50 ${report.latency.all.p50.toFixed(1)} ms, p99 ${report.latency.all.p99.toFixed(1)} ms`);
      assert.equal(report.requests, 400);
      assert.deepEqual({ serverErrors: report.serverErrors, toolErrors: report.toolErrors, failures: report.failures }, { serverErrors: 0, toolErrors: 0, failures: 0 });
      assert.ok(report.acknowledged.memories > 50 && report.acknowledged.observations > 20 && report.acknowledged.entities > 10);
      assert.deepEqual(report.lost, { memories: 0, observations: 0, entities: 0 });
    });
  });
}
