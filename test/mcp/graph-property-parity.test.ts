// Random call sequences against the real reference server, ours and the
// local MCP server's operations over an end-to-end replica (src/local/): long
// enough that our encrypted graph index merges its deltas into segments many
// times, every answer must still equal the reference's. Repeats within one
// call are left out (a documented difference, see reference-parity.test.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import fc from 'fast-check';
import { makeTestApp, signUp, type TestApp } from '../helpers/app.ts';
import { connectInProcessLocal } from '../local/in-process.ts';
import { callTool, connectClient, listen } from './helpers.ts';

const REFERENCE_SERVER = path.resolve('node_modules/@modelcontextprotocol/server-memory/dist/index.js');
// Enough names that more than 64 distinct records change in one run (the merge threshold).
const NAMES = ['Ada', 'Bo', 'Cy', 'Dee', 'Eve', 'Fox', 'Gus', 'Hal', ...Array.from({ length: 22 }, (_, i) => `Member ${i}`)];
const TYPES = ['person', 'city', 'Project'];
const WORDS = ['likes tea', 'Lives in Oslo', 'plays chess', 'TEA ceremony', 'knows Cy'];
const RELATION_TYPES = ['knows', 'works with', 'visited'];

const name = fc.constantFrom(...NAMES);
const relation = fc.record({ from: name, to: name, relationType: fc.constantFrom(...RELATION_TYPES) });
const relationKey = (r: { from: string; to: string; relationType: string }) => `${r.from}|${r.to}|${r.relationType}`;

const step = fc.oneof(
  { weight: 4, arbitrary: fc.uniqueArray(fc.record({ name, entityType: fc.constantFrom(...TYPES), observations: fc.uniqueArray(fc.constantFrom(...WORDS), { maxLength: 2 }) }), { selector: (e) => e.name, minLength: 1, maxLength: 3 }).map((entities) => ['create_entities', { entities }] as const) },
  { weight: 4, arbitrary: fc.uniqueArray(relation, { selector: relationKey, minLength: 1, maxLength: 3 }).map((relations) => ['create_relations', { relations }] as const) },
  { weight: 3, arbitrary: fc.uniqueArray(fc.record({ entityName: name, contents: fc.uniqueArray(fc.constantFrom(...WORDS), { maxLength: 2 }) }), { selector: (o) => o.entityName, minLength: 1, maxLength: 2 }).map((observations) => ['add_observations', { observations }] as const) },
  { weight: 2, arbitrary: fc.array(fc.record({ entityName: name, observations: fc.array(fc.constantFrom(...WORDS), { maxLength: 2 }) }), { minLength: 1, maxLength: 2 }).map((deletions) => ['delete_observations', { deletions }] as const) },
  { weight: 1, arbitrary: fc.uniqueArray(name, { minLength: 1, maxLength: 2 }).map((entityNames) => ['delete_entities', { entityNames }] as const) },
  { weight: 2, arbitrary: fc.array(relation, { minLength: 1, maxLength: 2 }).map((relations) => ['delete_relations', { relations }] as const) },
  { weight: 2, arbitrary: fc.constantFrom('tea', 'OSLO', 'person', 'a', 'project', 'zzz').map((query) => ['search_nodes', { query }] as const) },
  { weight: 1, arbitrary: fc.uniqueArray(name, { maxLength: 3 }).map((names) => ['open_nodes', { names }] as const) },
  { weight: 1, arbitrary: fc.constant(['read_graph', {}] as const) },
);

function answerOf(result: Awaited<ReturnType<typeof callTool>>) {
  return { isError: result.isError ?? false, content: result.content, structuredContent: result.structuredContent };
}

describe('parity with the reference server over random call sequences', () => {
  let t: TestApp;
  let baseUrl: string;
  let memoryDir: string;

  before(async () => {
    memoryDir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-reference-'));
    t = await makeTestApp();
    baseUrl = await listen(t.app);
  });
  after(async () => {
    await t.close();
    rmSync(memoryDir, { recursive: true, force: true });
  });

  it('answers every call as the reference does, across index merges', async () => {
    let run = 0;
    const users: string[] = [];
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 100, maxLength: 160 }), async (steps) => {
        // A fresh graph on both sides for every run.
        const reference = new Client({ name: 'parity-property', version: '1.0.0' });
        await reference.connect(new StdioClientTransport({
          command: process.execPath,
          args: [REFERENCE_SERVER],
          env: { ...getDefaultEnvironment(), MEMORY_FILE_PATH: path.join(memoryDir, `memory-${run++}.jsonl`) },
          stderr: 'ignore',
        }));
        const user = await signUp(t.app);
        users.push(user.userId);
        const ours = await connectClient(baseUrl, user.apiKey);
        const local = await connectInProcessLocal();
        try {
          for (const [index, [tool, args]] of steps.entries()) {
            const expected = answerOf(await callTool(reference, tool, args));
            const actual = answerOf(await callTool(ours, tool, args));
            assert.deepEqual(actual, expected, `step ${index + 1}: ${tool} ${JSON.stringify(args)}`);
            assert.deepEqual(answerOf(await callTool(local.client, tool, args)), expected, `local, step ${index + 1}: ${tool} ${JSON.stringify(args)}`);
          }
          const finalGraph = answerOf(await callTool(reference, 'read_graph'));
          assert.deepEqual(answerOf(await callTool(ours, 'read_graph')), finalGraph);
          assert.deepEqual(answerOf(await callTool(local.client, 'read_graph')), finalGraph);
        } finally {
          await local.close();
          await reference.close();
          await ours.close();
        }
      }),
      { numRuns: 5 },
    );
    const segments = await Promise.all(users.map((id) => t.store.countRecords(id, 'graph-index')));
    assert.ok(segments.some((n) => n > 0), 'the sequences were long enough for deltas to merge into segments');
  });
});
