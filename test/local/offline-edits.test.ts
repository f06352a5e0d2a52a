// Two devices edit the same records while the server is down, then sync:
// they converge on one state with nothing lost (docs/e2e-protocol.md §4). The
// memory edited on both keeps the later edit in place and the other as a new
// memory tagged "conflict"; an edit beats a deletion; an entity created on
// both merges its observations. The server is the real process, stopped and
// started again on the same port and data folder; the devices are the real
// bin over stdio.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { killAllServers, startServer } from '../fixtures/server-process.ts';
import { callTool } from '../mcp/helpers.ts';
import { newDevice, runCli, serveClient } from './support.ts';

const PASSWORD = 'copper-heron-meadow-63';

async function memories(client: Client) {
  const page = (await callTool(client, 'list_memories', { limit: 100 })).structuredContent as { items: Array<{ id: string; content: string; tags: string[] }> };
  return page.items.map((m) => ({ content: m.content, tags: m.tags })).sort((a, b) => a.content.localeCompare(b.content));
}

async function withClient<T>(device: ReturnType<typeof newDevice>, work: (client: Client) => Promise<T>): Promise<T> {
  const client = await serveClient(device);
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

describe('two devices editing offline converge', () => {
  const folders: string[] = [];
  after(async () => {
    await killAllServers();
    for (const dir of folders) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps both edits of a memory, the edit over the deletion, and the union of observations', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-offline-server-'));
    const laptop = newDevice(PASSWORD);
    const desktop = newDevice(PASSWORD);
    folders.push(dataDir, laptop.dir, desktop.dir);
    const env = { ANAMNESIS_DATA_DIR: dataDir, ANAMNESIS_RATE_LIMIT_FACTOR: '0' };
    let server = await startServer({ env });
    const email = `offline-${Date.now()}@example.com`;
    assert.equal((await runCli(laptop, ['signup', '--server', server.url, '--email', email])).code, 0);
    const ids = await withClient(laptop, async (client) => {
      const ids: Record<string, string> = {};
      for (const content of ['The team standup is at 09:30', 'The office plant is a fern']) {
        ids[content] = ((await callTool(client, 'remember', { content })).structuredContent as { id: string }).id;
      }
      return ids;
    });
    assert.equal((await runCli(laptop, ['sync'])).code, 0);
    assert.equal((await runCli(desktop, ['login', '--server', server.url, '--email', email])).code, 0);

    await server.stop();
    await withClient(laptop, async (client) => {
      await callTool(client, 'update_memory', { id: ids['The team standup is at 09:30']!, content: 'The team standup moved to 10:00 (laptop)' });
      await callTool(client, 'update_memory', { id: ids['The office plant is a fern']!, content: 'The office plant is a fern, watered on Fridays' });
      await callTool(client, 'create_entities', { entities: [{ name: 'Standup', entityType: 'meeting', observations: ['daily', 'in room 4'] }] });
    });
    await withClient(desktop, async (client) => {
      await callTool(client, 'update_memory', { id: ids['The team standup is at 09:30']!, content: 'The team standup moved to 10:15 (desktop)' });
      await callTool(client, 'forget', { id: ids['The office plant is a fern']! });
      await callTool(client, 'create_entities', { entities: [{ name: 'Standup', entityType: 'meeting', observations: ['daily', 'fifteen minutes'] }] });
    });

    server = await startServer({ env: { ...env, PORT: String(server.port) } });
    for (const device of [laptop, desktop, laptop]) {
      const run = await runCli(device, ['sync']);
      assert.equal(run.code, 0, run.stderr);
    }
    const views = [];
    for (const device of [laptop, desktop]) {
      views.push(
        await withClient(device, async (client) => ({
          memories: await memories(client),
          graph: (await callTool(client, 'read_graph')).structuredContent,
        })),
      );
    }
    assert.deepEqual(views[0], views[1], 'both devices hold the same');
    assert.deepEqual(views[0]!.memories, [
      { content: 'The office plant is a fern, watered on Fridays', tags: [] },
      { content: 'The team standup moved to 10:00 (laptop)', tags: ['conflict'] },
      { content: 'The team standup moved to 10:15 (desktop)', tags: [] },
    ]);
    assert.deepEqual(views[0]!.graph, { entities: [{ name: 'Standup', entityType: 'meeting', observations: ['daily', 'in room 4', 'fifteen minutes'] }], relations: [] });
  });
});
