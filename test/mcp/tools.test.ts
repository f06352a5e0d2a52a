// End to end: the MCP SDK's own Client over Streamable HTTP against the app
// listening on a loopback port, on SQLite and PostgreSQL. Every tool is
// called with real values and its answer checked as a model would read it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { type Driver, makeTestApp, signUp, type TestApp, type TestUser } from '../helpers/app.ts';
import { postgresAvailableForTests } from '../helpers/postgres.ts';
import { callTool, connectClient, listen, textOf } from './helpers.ts';

const MEMORY_TOOLS = ['remember', 'recall', 'list_memories', 'update_memory', 'forget'];
const GRAPH_TOOLS = ['create_entities', 'create_relations', 'add_observations', 'delete_entities', 'delete_observations', 'delete_relations', 'read_graph', 'search_nodes', 'open_nodes'];

interface Memory {
  id: string;
  content: string;
  tags: string[];
  created_at: string;
  updated_at: string;
}

function describeTools(driver: Driver): void {
  describe(`MCP tools over HTTP (${driver})`, () => {
    let t: TestApp;
    let baseUrl: string;
    let alice: TestUser;
    let client: Client;

    before(async () => {
      t = await makeTestApp({ driver });
      baseUrl = await listen(t.app);
      alice = await signUp(t.app);
      client = await connectClient(baseUrl, alice.apiKey);
    });
    after(async () => {
      await client.close();
      await t.close();
    });

    it('lists every tool with its hints and input schema', async () => {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((tool) => tool.name).sort(), [...MEMORY_TOOLS, ...GRAPH_TOOLS].sort());
      const byName = new Map(tools.map((tool) => [tool.name, tool]));
      for (const name of ['recall', 'list_memories', 'read_graph', 'search_nodes', 'open_nodes']) {
        assert.equal(byName.get(name)!.annotations?.readOnlyHint, true, `${name} is read-only`);
      }
      for (const name of ['forget', 'update_memory', 'delete_entities', 'delete_observations', 'delete_relations']) {
        assert.equal(byName.get(name)!.annotations?.destructiveHint, true, `${name} is destructive`);
      }
      assert.equal(byName.get('remember')!.annotations?.readOnlyHint, false);
      assert.equal(byName.get('remember')!.annotations?.destructiveHint, false);
      assert.deepEqual(byName.get('remember')!.inputSchema.required, ['content']);
      assert.deepEqual(Object.keys(byName.get('recall')!.inputSchema.properties ?? {}).sort(), ['limit', 'query', 'tag']);
      assert.deepEqual(Object.keys(byName.get('read_graph')!.inputSchema.properties ?? {}).sort(), ['cursor', 'limit']);
      assert.deepEqual(Object.keys(byName.get('search_nodes')!.inputSchema.properties ?? {}).sort(), ['cursor', 'limit', 'query']);
      assert.deepEqual(byName.get('search_nodes')!.inputSchema.required, ['query']);
      assert.match(byName.get('search_nodes')!.description ?? '', /a relation between entities on two pages comes with both/);
      assert.deepEqual(byName.get('create_entities')!.inputSchema.required, ['entities']);
      assert.match(byName.get('remember')!.description ?? '', /Worth remembering/);
      assert.match(byName.get('recall')!.description ?? '', /start of a conversation/);
    });

    it('remembers, recalls (ranked as REST search), lists, updates and forgets memories', async () => {
      const coffee = await callTool(client, 'remember', { content: 'Alice takes her coffee black, no sugar', tags: ['preference'] });
      assert.equal(coffee.isError, undefined);
      const stored = coffee.structuredContent as unknown as Memory;
      assert.equal(stored.content, 'Alice takes her coffee black, no sugar');
      assert.deepEqual(stored.tags, ['preference']);
      assert.deepEqual(JSON.parse(textOf(coffee)), stored);
      await callTool(client, 'remember', { content: 'Coffee machine in the office is broken; coffee coffee everywhere' });
      await callTool(client, 'remember', { content: 'The staging deploy runs every Tuesday', tags: ['work'] });

      const recalled = await callTool(client, 'recall', { query: 'coffee' });
      const results = (recalled.structuredContent as { results: Array<{ memory: Memory; score: number }> }).results;
      assert.equal(results.length, 2);
      const rest = await fetch(`${baseUrl}/api/v1/memories/search?q=coffee`, { headers: { authorization: `Bearer ${alice.apiKey}` } });
      const restResults = ((await rest.json()) as { results: Array<{ memory: Memory; score: number }> }).results;
      assert.deepEqual(results, restResults, 'recall ranks exactly as the REST search');

      const tagged = await callTool(client, 'recall', { query: 'coffee', tag: 'preference' });
      assert.deepEqual((tagged.structuredContent as { results: Array<{ memory: Memory }> }).results.map((r) => r.memory.id), [stored.id]);

      const firstPage = await callTool(client, 'list_memories', { limit: 2 });
      const page1 = firstPage.structuredContent as { items: Memory[]; next_cursor: string | null };
      assert.deepEqual(page1.items.map((m) => m.content), ['The staging deploy runs every Tuesday', 'Coffee machine in the office is broken; coffee coffee everywhere']);
      assert.ok(page1.next_cursor);
      assert.match(textOf(firstPage), /call list_memories with cursor "/);
      const secondPage = await callTool(client, 'list_memories', { limit: 2, cursor: page1.next_cursor });
      const page2 = secondPage.structuredContent as { items: Memory[]; next_cursor: string | null };
      assert.deepEqual(page2.items.map((m) => m.id), [stored.id]);
      assert.equal(page2.next_cursor, null);
      assert.doesNotMatch(textOf(secondPage), /cursor "/);

      const updated = await callTool(client, 'update_memory', { id: stored.id, content: 'Alice now takes her coffee with oat milk' });
      assert.equal((updated.structuredContent as unknown as Memory).content, 'Alice now takes her coffee with oat milk');
      assert.deepEqual((updated.structuredContent as unknown as Memory).tags, ['preference']);
      const afterUpdate = await callTool(client, 'recall', { query: 'oat milk' });
      assert.deepEqual((afterUpdate.structuredContent as { results: Array<{ memory: Memory }> }).results.map((r) => r.memory.id), [stored.id]);

      const forgotten = await callTool(client, 'forget', { id: stored.id });
      assert.deepEqual(forgotten.structuredContent, { deleted: true, id: stored.id });
      const gone = await fetch(`${baseUrl}/api/v1/memories/${stored.id}`, { headers: { authorization: `Bearer ${alice.apiKey}` } });
      assert.equal(gone.status, 404);
    });

    it('answers tool failures as isError results with a clear message', async () => {
      const missing = await callTool(client, 'add_observations', { observations: [{ entityName: 'Nobody', contents: ['x'] }] });
      assert.equal(missing.isError, true);
      assert.equal(textOf(missing), 'Entity with name Nobody not found');

      const unknownId = '3b241101-e2bb-4255-8caf-4136c566a962';
      const notThere = await callTool(client, 'update_memory', { id: unknownId, content: 'new text' });
      assert.equal(notThere.isError, true);
      assert.equal(textOf(notThere), 'memory not found');
      const forgetMissing = await callTool(client, 'forget', { id: unknownId });
      assert.equal(textOf(forgetMissing), 'memory not found');

      const nothingToChange = await callTool(client, 'update_memory', { id: unknownId });
      assert.equal(nothingToChange.isError, true);
      assert.equal(textOf(nothingToChange), 'give content, tags or both to change');

      const empty = await callTool(client, 'remember', { content: '' });
      assert.equal(empty.isError, true);
      assert.match(textOf(empty), /Input validation error/);
      assert.doesNotMatch(textOf(empty), /\n\s+at /, 'no stack trace');

      const tooLong = await callTool(client, 'create_entities', { entities: [{ name: 'n'.repeat(600), entityType: 'person', observations: [] }] });
      assert.equal(tooLong.isError, true);
      assert.equal(textOf(tooLong), 'an entity name is longer than 512 characters');
    });

    it('runs every knowledge-graph tool on real values', async () => {
      const created = await callTool(client, 'create_entities', {
        entities: [
          { name: 'Ada Lovelace', entityType: 'person', observations: ['Wrote the first published program'] },
          { name: 'Analytical Engine', entityType: 'machine', observations: ['Designed by Babbage'] },
          { name: 'London', entityType: 'city', observations: [] },
        ],
      });
      assert.equal((created.structuredContent as { entities: unknown[] }).entities.length, 3);
      const again = await callTool(client, 'create_entities', { entities: [{ name: 'London', entityType: 'city', observations: ['ignored'] }] });
      assert.deepEqual(again.structuredContent, { entities: [] });

      const relations = await callTool(client, 'create_relations', {
        relations: [
          { from: 'Ada Lovelace', to: 'Analytical Engine', relationType: 'wrote programs for' },
          { from: 'Ada Lovelace', to: 'London', relationType: 'lived in' },
        ],
      });
      assert.equal((relations.structuredContent as { relations: unknown[] }).relations.length, 2);

      const added = await callTool(client, 'add_observations', { observations: [{ entityName: 'Ada Lovelace', contents: ['Born 1815', 'Wrote the first published program'] }] });
      assert.deepEqual(added.structuredContent, { results: [{ entityName: 'Ada Lovelace', addedObservations: ['Born 1815'] }] });

      const found = await callTool(client, 'search_nodes', { query: 'BABBAGE' });
      assert.deepEqual(found.structuredContent, {
        entities: [{ name: 'Analytical Engine', entityType: 'machine', observations: ['Designed by Babbage'] }],
        relations: [{ from: 'Ada Lovelace', to: 'Analytical Engine', relationType: 'wrote programs for' }],
      });

      const opened = await callTool(client, 'open_nodes', { names: ['London', 'Atlantis'] });
      assert.deepEqual(opened.structuredContent, {
        entities: [{ name: 'London', entityType: 'city', observations: [] }],
        relations: [{ from: 'Ada Lovelace', to: 'London', relationType: 'lived in' }],
      });

      const removedObservation = await callTool(client, 'delete_observations', { deletions: [{ entityName: 'Ada Lovelace', observations: ['Born 1815'] }] });
      assert.deepEqual(removedObservation.structuredContent, { success: true, message: 'Observations deleted successfully' });
      const removedRelation = await callTool(client, 'delete_relations', { relations: [{ from: 'Ada Lovelace', to: 'London', relationType: 'lived in' }] });
      assert.deepEqual(removedRelation.structuredContent, { success: true, message: 'Relations deleted successfully' });
      const removedEntity = await callTool(client, 'delete_entities', { entityNames: ['Analytical Engine'] });
      assert.deepEqual(removedEntity.structuredContent, { success: true, message: 'Entities deleted successfully' });

      const graph = await callTool(client, 'read_graph');
      const expected = {
        entities: [
          { name: 'Ada Lovelace', entityType: 'person', observations: ['Wrote the first published program'] },
          { name: 'London', entityType: 'city', observations: [] },
        ],
        relations: [],
      };
      assert.deepEqual(graph.structuredContent, expected);
      assert.equal(textOf(graph), JSON.stringify(expected, null, 2));
    });

    it('pages a large graph with limit and cursor, and says when more remains', async () => {
      const bob = await signUp(t.app);
      const bobClient = await connectClient(baseUrl, bob.apiKey);
      try {
        const names = Array.from({ length: 7 }, (_, i) => `Node ${i + 1}`);
        await callTool(bobClient, 'create_entities', { entities: names.map((name) => ({ name, entityType: 'node', observations: [] })) });
        await callTool(bobClient, 'create_relations', { relations: names.slice(1).map((name, i) => ({ from: names[i]!, to: name, relationType: 'precedes' })) });
        const whole = (await callTool(bobClient, 'read_graph')).structuredContent as { entities: Array<{ name: string }>; relations: unknown[]; next_cursor?: string };
        assert.deepEqual(whole.entities.map((e) => e.name), names, 'creation order is kept');
        assert.equal(whole.relations.length, 6);
        assert.equal(whole.next_cursor, undefined);

        const pages: Array<{ entities: unknown[]; relations: unknown[]; next_cursor?: string }> = [];
        let cursor: string | undefined;
        do {
          const result = await callTool(bobClient, 'read_graph', { limit: 5, ...(cursor ? { cursor } : {}) });
          const page = result.structuredContent as (typeof pages)[number];
          if (page.next_cursor) assert.match(textOf(result), /More of the graph remains: call read_graph with cursor "/);
          pages.push(page);
          cursor = page.next_cursor;
        } while (cursor);
        assert.deepEqual(pages.map((p) => p.entities.length + p.relations.length), [5, 5, 3]);
        assert.deepEqual({ entities: pages.flatMap((p) => p.entities), relations: pages.flatMap((p) => p.relations) }, { entities: whole.entities, relations: whole.relations });
      } finally {
        await bobClient.close();
      }
    });

    it('pages search_nodes (50 matches by default), says when more remains, and refuses a cursor of another query or user', async () => {
      const dana = await signUp(t.app);
      const danaClient = await connectClient(baseUrl, dana.apiKey);
      try {
        const names = Array.from({ length: 57 }, (_, i) => `Lighthouse ${i + 1}`);
        await callTool(danaClient, 'create_entities', { entities: names.map((name) => ({ name, entityType: 'lighthouse', observations: [`lit in ${1800 + names.indexOf(name)}`] })) });
        await callTool(danaClient, 'create_entities', { entities: [{ name: 'Keeper', entityType: 'person', observations: ['rows out to the rock'] }] });
        await callTool(danaClient, 'create_relations', { relations: [{ from: 'Keeper', to: 'Lighthouse 50', relationType: 'tends' }, { from: 'Lighthouse 50', to: 'Lighthouse 51', relationType: 'signals' }] });

        const first = await callTool(danaClient, 'search_nodes', { query: 'LIGHTHOUSE' });
        const page1 = first.structuredContent as { entities: Array<{ name: string }>; relations: unknown[]; next_cursor?: string };
        assert.deepEqual(page1.entities.map((e) => e.name), names.slice(0, 50));
        assert.deepEqual(page1.relations, [{ from: 'Keeper', to: 'Lighthouse 50', relationType: 'tends' }, { from: 'Lighthouse 50', to: 'Lighthouse 51', relationType: 'signals' }]);
        assert.ok(page1.next_cursor);
        assert.match(textOf(first), /More matches remain: call search_nodes with the same query and cursor "/);
        const second = await callTool(danaClient, 'search_nodes', { query: 'LIGHTHOUSE', cursor: page1.next_cursor });
        const page2 = second.structuredContent as typeof page1;
        assert.deepEqual(page2.entities.map((e) => e.name), names.slice(50));
        assert.deepEqual(page2.relations, [{ from: 'Lighthouse 50', to: 'Lighthouse 51', relationType: 'signals' }], 'a relation touching both pages comes with both');
        assert.equal(page2.next_cursor, undefined);
        assert.doesNotMatch(textOf(second), /cursor "/);

        const small = (await callTool(danaClient, 'search_nodes', { query: 'lighthouse', limit: 7 })).structuredContent as typeof page1;
        assert.equal(small.entities.length, 7);
        for (const limit of [0, 1001, 2.5]) assert.equal((await callTool(danaClient, 'search_nodes', { query: 'lighthouse', limit })).isError, true, `limit ${limit}`);
        const otherQuery = await callTool(danaClient, 'search_nodes', { query: 'lit in', cursor: page1.next_cursor });
        assert.equal(otherQuery.isError, true);
        assert.match(textOf(otherQuery), /the cursor belongs to another search/);
        const otherUser = await callTool(client, 'search_nodes', { query: 'LIGHTHOUSE', cursor: page1.next_cursor });
        assert.equal(otherUser.isError, true);
        assert.match(textOf(otherUser), /the cursor is not one this server issued/);
      } finally {
        await danaClient.close();
      }
    });

    it('keeps two users apart', async () => {
      const carol = await signUp(t.app);
      const carolClient = await connectClient(baseUrl, carol.apiKey);
      try {
        await callTool(carolClient, 'remember', { content: 'Carol keeps bees on the roof' });
        await callTool(carolClient, 'create_entities', { entities: [{ name: 'Carol', entityType: 'person', observations: ['beekeeper'] }] });
        const aliceSees = await callTool(client, 'recall', { query: 'bees' });
        assert.deepEqual((aliceSees.structuredContent as { results: unknown[] }).results, []);
        const aliceGraph = await callTool(client, 'search_nodes', { query: 'beekeeper' });
        assert.deepEqual(aliceGraph.structuredContent, { entities: [], relations: [] });
        const carolSees = await callTool(carolClient, 'recall', { query: 'bees' });
        assert.equal((carolSees.structuredContent as { results: unknown[] }).results.length, 1);
      } finally {
        await carolClient.close();
      }
    });

    // /mcp lends prebuilt MCP servers to requests (src/mcp/server-pool.ts):
    // calls of two users in flight at once must each work on their own vault.
    it('keeps two users apart when their calls run at the same time', async () => {
      const users = await Promise.all(['Dora', 'Emil'].map(async (name) => ({ name, client: await connectClient(baseUrl, (await signUp(t.app)).apiKey) })));
      const each = 15;
      try {
        const writes = users.flatMap(({ name, client: own }) =>
          Array.from({ length: each }, (_, i) => callTool(own, 'remember', { content: `${name} lantern note ${i}` })));
        for (const result of await Promise.all(writes)) assert.equal(result.isError, undefined);
        const recalls = users.flatMap(({ name, client: own }) =>
          Array.from({ length: 5 }, async () => ({ name, result: await callTool(own, 'recall', { query: 'lantern', limit: 50 }) })));
        for (const { name, result } of await Promise.all(recalls)) {
          const contents = (result.structuredContent as { results: Array<{ memory: Memory }> }).results.map((r) => r.memory.content);
          assert.deepEqual(contents.sort(), Array.from({ length: each }, (_, i) => `${name} lantern note ${i}`).sort(), `${name} sees exactly their own notes`);
        }
      } finally {
        await Promise.all(users.map(({ client: own }) => own.close()));
      }
    });

    it('writes no key and no plaintext into the logs', () => {
      const logs = t.logs.join('');
      assert.ok(logs.includes('"route":"/mcp"'), 'MCP requests are logged as metadata');
      for (const secret of [alice.apiKey, 'coffee', 'Ada Lovelace', 'Babbage', 'bees']) assert.ok(!logs.includes(secret), `logs do not contain ${secret}`);
    });
  });
}

describeTools('sqlite');
if (await postgresAvailableForTests('MCP tools over HTTP')) describeTools('postgres');
