// The pool of /mcp's MCP servers, driven with web-standard requests through
// the SDK's real server and transport: a server answers one request at a
// time, with that request's operations, and one that learned about a client
// (initialize) is never lent again. The tools' operations here are plain
// objects that say whose they are: what is under test is who gets them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { ToolContext, ToolOperations } from '../../src/mcp/operations.ts';
import { McpServerPool } from '../../src/mcp/server-pool.ts';
import { MCP_POST_HEADERS } from './helpers.ts';

const silent = { error: () => undefined };

/** Operations whose recall answers with the owner's name, after `wait` settles. */
function operationsOf(owner: string, wait: Promise<void> = Promise.resolve()): ToolOperations {
  const memories = {
    search: async () => {
      await wait;
      return { results: [{ memory: { id: owner, content: `${owner}'s memory`, tags: [], created_at: '', updated_at: '' }, score: 1 }], unreadable: [] };
    },
  };
  return { memories, graph: {} } as unknown as ToolOperations;
}

let nextId = 0;
async function post(pool: McpServerPool, message: Record<string, unknown>, context: ToolContext): Promise<Record<string, unknown>> {
  const request = new Request('http://127.0.0.1/mcp', { method: 'POST', headers: MCP_POST_HEADERS });
  const answer = await pool.answer(request, { jsonrpc: '2.0', id: ++nextId, ...message }, context);
  assert.equal(answer.status, 200);
  return JSON.parse(answer.body) as Record<string, unknown>;
}

const initialize = { method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: { roots: {} }, clientInfo: { name: 'secret-client', version: '1' } } };
const recall = { method: 'tools/call', params: { name: 'recall', arguments: { query: 'anything' } } };
const ownerOf = (answer: Record<string, unknown>) => ((answer.result as CallToolResult).structuredContent as { results: Array<{ memory: { id: string } }> }).results[0]!.memory.id;

describe('the /mcp server pool', () => {
  it('gives each request in flight its own server, working on that request\'s operations', async () => {
    const pool = new McpServerPool();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const owners = ['ana', 'ben', 'cleo'];
    // All three are inside their tool call at once, each waiting on `held`.
    const answers = owners.map((owner) => post(pool, recall, { operations: operationsOf(owner, held), log: silent }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    release();
    assert.deepEqual((await Promise.all(answers)).map(ownerOf), owners);
    assert.equal(pool.idleServers, 3, 'three servers were needed at once, and all came back');

    // The next requests reuse them, each with its own operations.
    assert.equal(ownerOf(await post(pool, recall, { operations: operationsOf('dan'), log: silent })), 'dan');
    assert.equal(ownerOf(await post(pool, recall, { operations: operationsOf('eve'), log: silent })), 'eve');
    assert.equal(pool.idleServers, 3);
  });

  it('never lends again a server that answered initialize, since it keeps the client\'s name and capabilities', async () => {
    const pool = new McpServerPool();
    await post(pool, recall, { operations: operationsOf('ana'), log: silent });
    assert.equal(pool.idleServers, 1);
    const initialized = await post(pool, initialize, { operations: operationsOf('ana'), log: silent });
    assert.equal((initialized.result as { serverInfo: { name: string } }).serverInfo.name, 'anamnesis');
    assert.equal(pool.idleServers, 0, 'the server that heard of secret-client is gone');
    assert.equal(ownerOf(await post(pool, recall, { operations: operationsOf('ben'), log: silent })), 'ben');
    assert.equal(pool.idleServers, 1);
  });

  it('keeps at most 64 idle servers after a burst', async () => {
    const pool = new McpServerPool();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const answers = Array.from({ length: 80 }, (_, i) => post(pool, recall, { operations: operationsOf(`user${i}`, held), log: silent }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    assert.deepEqual((await Promise.all(answers)).map(ownerOf), Array.from({ length: 80 }, (_, i) => `user${i}`));
    assert.equal(pool.idleServers, 64);
  });
});
