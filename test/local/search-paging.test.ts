// The local MCP server pages search_nodes by the server's rules (the same
// pageSearch over its replica): every page together is the unpaged answer,
// and its sealed cursors work only for the query, and the process, that
// issued them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { callTool, textOf } from '../mcp/helpers.ts';
import { connectInProcessLocal } from './in-process.ts';

type Page = { entities: Array<{ name: string }>; relations: unknown[]; next_cursor?: string };

describe('search_nodes pages on the local MCP server', () => {
  let local: Awaited<ReturnType<typeof connectInProcessLocal>>;
  let other: Awaited<ReturnType<typeof connectInProcessLocal>>;
  before(async () => {
    local = await connectInProcessLocal();
    other = await connectInProcessLocal();
    const names = Array.from({ length: 9 }, (_, i) => `Harbour ${i + 1}`);
    await callTool(local.client, 'create_entities', { entities: names.map((name) => ({ name, entityType: 'harbour', observations: [] })) });
    await callTool(local.client, 'create_relations', { relations: [{ from: 'Harbour 4', to: 'Harbour 5', relationType: 'ferries to' }] });
  });
  after(async () => {
    await local.close();
    await other.close();
  });

  it('reads every match once, in creation order, a page at a time', async () => {
    const whole = (await callTool(local.client, 'search_nodes', { query: 'harbour' })).structuredContent as Page;
    assert.equal(whole.entities.length, 9);
    assert.equal(whole.next_cursor, undefined);
    const pages: Page[] = [];
    let cursor: string | undefined;
    do {
      const page = (await callTool(local.client, 'search_nodes', { query: 'harbour', limit: 4, ...(cursor ? { cursor } : {}) })).structuredContent as Page;
      pages.push(page);
      cursor = page.next_cursor;
    } while (cursor);
    assert.deepEqual(pages.map((p) => p.entities.length), [4, 4, 1]);
    assert.deepEqual(pages.flatMap((p) => p.entities), whole.entities);
    assert.deepEqual(pages.map((p) => p.relations.length), [1, 1, 0], 'the relation between pages one and two comes with both');
  });

  it('refuses a cursor of another query or of another server process', async () => {
    const { next_cursor: cursor } = (await callTool(local.client, 'search_nodes', { query: 'harbour', limit: 2 })).structuredContent as Page;
    assert.ok(cursor);
    const otherQuery = await callTool(local.client, 'search_nodes', { query: 'harb', limit: 2, cursor });
    assert.equal(otherQuery.isError, true);
    assert.match(textOf(otherQuery), /the cursor belongs to another search/);
    const otherProcess = await callTool(other.client, 'search_nodes', { query: 'harbour', limit: 2, cursor });
    assert.equal(otherProcess.isError, true);
    assert.match(textOf(otherProcess), /the cursor is not one this server issued/);
  });
});
