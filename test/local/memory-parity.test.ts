// The memory tools of the local MCP server answer as /mcp does: the same
// memories written to both, then the same recalls (ranking and scores, tags,
// limits, accents, prefixes, scripts without spaces) and the same list pages
// (newest first, page breaks, tag filters, cursors). Ids and timestamps are
// each side's own; everything else must be equal.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { makeTestApp, signUp, type TestApp } from '../helpers/app.ts';
import { callTool, connectClient, listen } from '../mcp/helpers.ts';
import { connectInProcessLocal } from './in-process.ts';

const MEMORIES: Array<{ content: string; tags?: string[] }> = [
  { content: 'Alice prefers oat milk in her coffee', tags: ['preference', 'coffee'] },
  { content: 'The staging deploy runs every Tuesday at 10:00', tags: ['ops'] },
  { content: 'Deploy to production needs two approvals', tags: ['ops', 'Policy'] },
  { content: 'Straße names in Berlin are long; Café Einstein is her favourite café' },
  { content: '東京の本社は新宿にある', tags: ['office'] },
  { content: 'iPhoneを買った in March', tags: ['purchase'] },
  { content: 'coffee coffee coffee: she drinks a lot of coffee', tags: ['coffee'] },
  { content: 'Bob maintains the deployment scripts in the ops repo', tags: ['ops', 'people'] },
  // Each of a different length, so no two score alike (equal scores are ordered by each side's random ids).
  ...Array.from({ length: 30 }, (_, i) => ({ content: `Filler note ${i} about gardening${' and soil'.repeat(i)} and tomatoes`, tags: i % 3 === 0 ? ['garden'] : [] })),
];

const RECALLS: Array<Record<string, unknown>> = [
  { query: 'coffee' },
  { query: 'deploy' },
  { query: 'DEPLOY staging' },
  { query: 'cafe strasse' },
  { query: '新宿' },
  { query: 'iphone' },
  { query: 'tomato', limit: 5 },
  { query: 'ops', tag: 'OPS' },
  { query: 'coffee', tag: 'preference' },
  { query: 'nothing matches this' },
  { query: 'garden', tag: 'garden', limit: 50 },
];

/** A memory without what each side makes for itself. */
function content(memory: { content: string; tags: string[] }) {
  return { content: memory.content, tags: memory.tags };
}

async function recall(client: Client, args: Record<string, unknown>) {
  const answer = await callTool(client, 'recall', args);
  const results = (answer.structuredContent as { results: Array<{ memory: { content: string; tags: string[] }; score: number }> }).results;
  return results.map((r) => ({ ...content(r.memory), score: r.score }));
}

async function listAll(client: Client, args: Record<string, unknown>) {
  const pages: Array<{ items: unknown[]; more: boolean }> = [];
  let cursor: string | undefined;
  do {
    const page = (await callTool(client, 'list_memories', { ...args, ...(cursor ? { cursor } : {}) })).structuredContent as { items: Array<{ content: string; tags: string[] }>; next_cursor: string | null };
    pages.push({ items: page.items.map(content), more: page.next_cursor !== null });
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return pages;
}

describe('local memory tools answer as /mcp does', () => {
  let t: TestApp;
  let server: Client;
  let local: Awaited<ReturnType<typeof connectInProcessLocal>>;

  before(async () => {
    t = await makeTestApp();
    const baseUrl = await listen(t.app);
    server = await connectClient(baseUrl, (await signUp(t.app)).apiKey);
    local = await connectInProcessLocal();
    for (const memory of MEMORIES) {
      const a = await callTool(server, 'remember', memory);
      const b = await callTool(local.client, 'remember', memory);
      assert.deepEqual(content(b.structuredContent as never), content(a.structuredContent as never));
    }
  });
  after(async () => {
    await local.close();
    await server.close();
    await t.close();
  });

  it('ranks recall identically, scores included', async () => {
    for (const args of RECALLS) {
      const expected = await recall(server, args);
      assert.deepEqual(await recall(local.client, args), expected, JSON.stringify(args));
    }
    assert.ok((await recall(local.client, { query: 'coffee' })).length >= 2, 'the recalls find real memories');
  });

  it('pages list_memories identically, newest first, with and without a tag', async () => {
    for (const args of [{}, { limit: 7 }, { limit: 1, tag: 'ops' }, { limit: 4, tag: 'garden' }, { tag: 'nobody' }]) {
      assert.deepEqual(await listAll(local.client, args), await listAll(server, args), JSON.stringify(args));
    }
  });

  it('updates and forgets identically, and refuses the same bad calls', async () => {
    const pick = async (client: Client) => ((await callTool(client, 'recall', { query: 'approvals' })).structuredContent as { results: Array<{ memory: { id: string } }> }).results[0]!.memory.id;
    const [serverId, localId] = [await pick(server), await pick(local.client)];
    const a = await callTool(server, 'update_memory', { id: serverId, content: 'Deploy to production needs three approvals', tags: ['ops'] });
    const b = await callTool(local.client, 'update_memory', { id: localId, content: 'Deploy to production needs three approvals', tags: ['ops'] });
    assert.deepEqual(content(b.structuredContent as never), content(a.structuredContent as never));
    assert.deepEqual(await recall(local.client, { query: 'approvals' }), await recall(server, { query: 'approvals' }));
    for (const [tool, args] of [['update_memory', { id: serverId }], ['forget', { id: '00000000-0000-4000-8000-000000000000' }], ['list_memories', { cursor: 'not-a-cursor' }], ['recall', { query: '' }]] as const) {
      const expected = await callTool(server, tool, args);
      const actual = await callTool(local.client, tool, tool === 'update_memory' ? { id: localId } : args);
      assert.deepEqual({ isError: actual.isError, content: actual.content }, { isError: expected.isError, content: expected.content }, tool);
    }
    assert.deepEqual((await callTool(local.client, 'forget', { id: localId })).structuredContent, { deleted: true, id: localId });
    await callTool(server, 'forget', { id: serverId });
    assert.deepEqual(await recall(local.client, { query: 'approvals' }), []);
    assert.deepEqual(await listAll(local.client, { limit: 10 }), await listAll(server, { limit: 10 }));
  });
});
