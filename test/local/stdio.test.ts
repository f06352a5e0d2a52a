// End to end: the real `anamnesis-local` (bin launcher, stdio) driven by the
// MCP SDK's own client, against the real server listening on a loopback port,
// on SQLite and PostgreSQL. Sign up and log in through OPAQUE; every answer
// equals /mcp's for the same operations on a server-key account (same
// ranking); a second device sees everything after its first sync; offline,
// the tools answer from the cache and writes wait; and neither the cache, the
// credentials file, the server's database, its log lines nor anything the
// local server wrote holds plaintext, the key or the token.
import assert from 'node:assert/strict';
import { readFileSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { fileKeystore } from '../../src/local/keystore.ts';
import { makeTestApp, signUp, type TestApp } from '../helpers/app.ts';
import { openDirectDb, testDrivers } from '../http/support.ts';
import { callTool, connectClient, listen } from '../mcp/helpers.ts';
import { type LocalDevice, newDevice, PASSPHRASE, runCli, serveClient } from './support.ts';

const PASSWORD = 'violet-kestrel-harbour-19';
const RECOVERY_CODE = /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){7}$/m;

const MEMORIES = [
  { content: 'Marguerite prefers oolong tea over coffee in the afternoon', tags: ['preference'] },
  { content: 'The quarterly deploy freeze starts on the first Monday of December', tags: ['ops', 'calendar'] },
  { content: 'Deploys to the Zanzibar cluster need a second approver', tags: ['ops'] },
  { content: 'Marguerite\'s cat is called Pistachio and hates the vacuum cleaner' },
  { content: '東京オフィスの会議室は七階にある', tags: ['office'] },
];
const ENTITIES = [
  { name: 'Marguerite Okonkwo', entityType: 'person', observations: ['Leads the Zanzibar migration', 'Drinks oolong'] },
  { name: 'Zanzibar cluster', entityType: 'system', observations: ['Runs on bare metal in Lisbon'] },
  { name: 'Pistachio', entityType: 'cat', observations: [] },
];
const RELATIONS = [
  { from: 'Marguerite Okonkwo', to: 'Zanzibar cluster', relationType: 'operates' },
  { from: 'Marguerite Okonkwo', to: 'Pistachio', relationType: 'owns' },
];
/** Words that appear only inside records: none may be found anywhere the server or the cache keeps bytes. */
const PLAINTEXT = ['Marguerite', 'oolong', 'Zanzibar', 'Pistachio', 'vacuum cleaner', 'quarterly deploy freeze', '会議室', 'bare metal in Lisbon', 'operates'];

/** An answer as compared across the two: a page cursor names a record's time and id (search_nodes': sealed), which each side makes for itself. */
function answerOf(result: CallToolResult) {
  const answer = { isError: result.isError ?? false, content: result.content, structuredContent: result.structuredContent };
  return JSON.parse(JSON.stringify(answer).replace(/eyJ[A-Za-z0-9_-]+|gAAAAA[A-Za-z0-9_=-]+/g, '<cursor>')) as unknown;
}

/** Every page of a search, each as answerOf compares it. */
async function searchPages(client: Client, query: string, limit: number) {
  const pages: unknown[] = [];
  let cursor: string | undefined;
  do {
    const result = await callTool(client, 'search_nodes', { query, limit, ...(cursor ? { cursor } : {}) });
    pages.push(answerOf(result));
    cursor = (result.structuredContent as { next_cursor?: string }).next_cursor;
  } while (cursor);
  return pages;
}

/** A recall answer without what each side makes for itself (ids and times). */
async function recall(client: Client, args: Record<string, unknown>) {
  const answer = await callTool(client, 'recall', args);
  const { results } = answer.structuredContent as { results: Array<{ memory: { content: string; tags: string[] }; score: number }> };
  return results.map((r) => ({ content: r.memory.content, tags: r.memory.tags, score: r.score }));
}

async function listContents(client: Client) {
  const page = (await callTool(client, 'list_memories', { limit: 100 })).structuredContent as { items: Array<{ content: string; tags: string[] }>; next_cursor: string | null };
  return { items: page.items.map((m) => ({ content: m.content, tags: m.tags })), next_cursor: page.next_cursor };
}

const GRAPH_READS: Array<[string, Record<string, unknown>]> = [
  ['read_graph', {}],
  ['search_nodes', { query: 'zanzibar' }],
  ['search_nodes', { query: 'OOLONG' }],
  ['open_nodes', { names: ['Pistachio', 'Nobody'] }],
  ['read_graph', { limit: 2 }],
  ['search_nodes', { query: 'zanzibar', limit: 1 }],
];
const RECALLS = [{ query: 'marguerite' }, { query: 'deploy' }, { query: 'oolong tea', limit: 1 }, { query: 'deploy', tag: 'OPS' }, { query: '会議' }];

/** Every file of a device's folder (SQLite's -wal too), as bytes. */
function deviceFiles(device: LocalDevice): Array<[string, Buffer]> {
  return ['cache.db', 'cache.db-wal', 'credentials.enc', 'profile.json'].map((f) => path.join(device.dir, f)).filter((f) => existsSync(f)).map((f) => [path.basename(f), readFileSync(f)]);
}

function leaks(haystack: string | Buffer, needles: readonly string[]): string[] {
  const text = typeof haystack === 'string' ? haystack : haystack.toString('latin1') + haystack.toString('utf8');
  return needles.filter((n) => text.includes(n) || text.includes(Buffer.from(n, 'utf8').toString('latin1')));
}

for (const driver of await testDrivers('the local MCP server end to end')) {
  describe(`anamnesis-local over stdio against a real server (${driver})`, () => {
    let t: TestApp;
    let baseUrl: string;
    let reference: Client;
    const email = `local-${driver}-${Date.now()}@example.com`;
    // Made in before(), so a run that filters this suite out leaves no folder behind.
    let laptop: LocalDevice;
    let desktop: LocalDevice;
    let secrets: string[] = [];

    before(async () => {
      laptop = newDevice(PASSWORD);
      desktop = newDevice(PASSWORD);
      t = await makeTestApp({ driver });
      baseUrl = await listen(t.app);
      // The same operations on a server-key account through /mcp: what every local answer must equal.
      reference = await connectClient(baseUrl, (await signUp(t.app)).apiKey);
    });
    after(async () => {
      await reference?.close();
      await t?.close();
      for (const device of [laptop, desktop]) if (device) rmSync(device.dir, { recursive: true, force: true });
    });

    it('signs up through OPAQUE, prints the recovery code once, and warns that the key is in a file', async () => {
      const run = await runCli(laptop, ['signup', '--server', baseUrl, '--email', email]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, RECOVERY_CODE);
      assert.match(run.stderr, /your data is gone for good/);
      assert.match(run.stderr, /no OS keychain answers on this machine/);
      assert.ok(!run.stderr.match(RECOVERY_CODE), 'the recovery code is not on stderr');
      const stored = await fileKeystore(path.join(laptop.dir, 'credentials.enc'), async () => PASSPHRASE).load();
      assert.ok(stored);
      const key = Buffer.from(stored.dataKey, 'base64url');
      secrets = [stored.dataKey, key.toString('base64'), key.toString('hex'), stored.token, PASSWORD, PASSPHRASE, run.stdout.match(RECOVERY_CODE)![0]];
    });

    it('lists exactly /mcp\'s tools and answers every tool as /mcp does, ranking included', async () => {
      const local = await serveClient(laptop);
      try {
        assert.deepEqual((await local.listTools()).tools, (await reference.listTools()).tools);
        for (const memory of MEMORIES) {
          const [a, b] = [await callTool(reference, 'remember', memory), await callTool(local, 'remember', memory)];
          const strip = (r: CallToolResult) => {
            const m = r.structuredContent as { content: string; tags: string[] };
            return { content: m.content, tags: m.tags };
          };
          assert.deepEqual(strip(b), strip(a));
        }
        for (const [tool, args] of [['create_entities', { entities: ENTITIES }], ['create_relations', { relations: RELATIONS }], ['add_observations', { observations: [{ entityName: 'Pistachio', contents: ['Hates the vacuum cleaner'] }] }], ['add_observations', { observations: [{ entityName: 'Nobody', contents: ['x'] }] }]] as const) {
          assert.deepEqual(answerOf(await callTool(local, tool, args)), answerOf(await callTool(reference, tool, args)), tool);
        }
        for (const [tool, args] of GRAPH_READS) assert.deepEqual(answerOf(await callTool(local, tool, args)), answerOf(await callTool(reference, tool, args)), `${tool} ${JSON.stringify(args)}`);
        for (const [query, limit] of [['zanzibar', 1], ['i', 1], ['o', 2]] as const) {
          const pages = await searchPages(local, query, limit);
          assert.deepEqual(pages, await searchPages(reference, query, limit), `search_nodes ${query} a page of ${limit} at a time`);
          assert.ok(pages.length > 1, 'more than one page');
        }
        for (const args of RECALLS) assert.deepEqual(await recall(local, args), await recall(reference, args), JSON.stringify(args));
        assert.equal((await recall(local, { query: 'deploy' })).length, 2);
        assert.deepEqual(await listContents(local), await listContents(reference));
      } finally {
        await local.close();
      }
    });

    it('sends the writes to the server as ciphertext, and a second device sees everything after its log-in', async () => {
      const sync = await runCli(laptop, ['sync']);
      assert.equal(sync.code, 0, sync.stderr);
      const login = await runCli(desktop, ['login', '--server', baseUrl, '--email', email]);
      assert.equal(login.code, 0, login.stderr);
      assert.match(login.stderr, /pulled \d+/);
      const local = await serveClient(desktop);
      try {
        for (const [tool, args] of GRAPH_READS) assert.deepEqual(answerOf(await callTool(local, tool, args)), answerOf(await callTool(reference, tool, args)), `${tool} ${JSON.stringify(args)}`);
        for (const args of RECALLS) assert.deepEqual(await recall(local, args), await recall(reference, args), JSON.stringify(args));
        assert.deepEqual(await listContents(local), await listContents(reference));
        // A write on this device reaches the first one.
        await callTool(local, 'remember', { content: 'The desktop remembers the Zanzibar runbook lives in the ops wiki', tags: ['ops'] });
      } finally {
        await local.close();
      }
      assert.equal((await runCli(desktop, ['sync'])).code, 0);
      const first = await serveClient(laptop);
      try {
        assert.deepEqual((await recall(first, { query: 'runbook' })).map((r) => r.content), ['The desktop remembers the Zanzibar runbook lives in the ops wiki']);
      } finally {
        await first.close();
      }
    });

    it('stores nothing readable: not in the caches, the credentials files, the server\'s database or any log line', async () => {
      assert.ok(secrets.length > 0);
      for (const device of [laptop, desktop]) {
        for (const [file, bytes] of deviceFiles(device)) {
          assert.deepEqual(leaks(bytes, PLAINTEXT), [], `${file} holds no plaintext`);
          assert.deepEqual(leaks(bytes, secrets), [], `${file} holds no key, token, password or code`);
        }
        assert.deepEqual(leaks(device.stderr.join('\n'), [...PLAINTEXT, ...secrets]), [], 'nothing the local server printed');
      }
      const db = await openDirectDb(t);
      try {
        for (const table of ['e2e_accounts', 'e2e_records', 'e2e_sessions', 'users', 'records', 'audit']) {
          const rows = JSON.stringify(await db.query(`SELECT * FROM ${table}`));
          assert.deepEqual(leaks(rows, PLAINTEXT.filter((w) => !['operates'].includes(w)).concat(secrets)), [], `${table} holds no plaintext of the end-to-end account and no secret`);
        }
        const tokens = await db.query('SELECT COUNT(*) AS n FROM e2e_records');
        assert.ok(Number(tokens[0]!.n) >= MEMORIES.length + ENTITIES.length + RELATIONS.length, 'the records reached the server');
      } finally {
        await db.close();
      }
      if (t.dataDir) {
        for (const file of ['anamnesis.db', 'anamnesis.db-wal'].map((f) => path.join(t.dataDir!, f)).filter(existsSync)) {
          assert.deepEqual(leaks(readFileSync(file), secrets), [], `${path.basename(file)} holds no secret`);
        }
      }
      assert.deepEqual(leaks(t.logs.join('\n'), [...PLAINTEXT, ...secrets]), [], 'no server log line');
    });

    it('refuses records the server swapped, says so, and keeps answering what it knew', async () => {
      const { userId } = JSON.parse(readFileSync(path.join(desktop.dir, 'profile.json'), 'utf8')) as { userId: string };
      const db = await openDirectDb(t);
      try {
        const rows = (await db.query('SELECT id, token FROM e2e_records WHERE user_id = ? AND deleted = 0 AND id NOT LIKE ? ORDER BY seq LIMIT 2', [userId, 'e\\_%'])) as Array<{ id: string; token: string }>;
        const [top] = await db.query('SELECT MAX(seq) AS seq FROM e2e_records WHERE user_id = ?', [userId]);
        // Two memories' tokens swapped, and served again as new changes.
        await db.query('UPDATE e2e_records SET token = ?, seq = ? WHERE user_id = ? AND id = ?', [rows[1]!.token, Number(top!.seq) + 1, userId, rows[0]!.id]);
        await db.query('UPDATE e2e_records SET token = ?, seq = ? WHERE user_id = ? AND id = ?', [rows[0]!.token, Number(top!.seq) + 2, userId, rows[1]!.id]);
      } finally {
        await db.close();
      }
      const sync = await runCli(desktop, ['sync']);
      assert.equal(sync.code, 1);
      assert.match(sync.stderr, /WARNING: the server's copy of this account cannot be trusted: record [\w-]+ was refused: swapped-id; nothing of it was taken in/);
      const local = await serveClient(desktop);
      try {
        // Every memory still under its own id, as before the swap.
        const listed = (await callTool(local, 'list_memories', { limit: 100 })).structuredContent as { items: Array<{ content: string }> };
        assert.deepEqual(listed.items.map((m) => m.content).sort(), [...MEMORIES.map((m) => m.content), 'The desktop remembers the Zanzibar runbook lives in the ops wiki'].sort());
        assert.deepEqual((await recall(local, { query: 'pistachio' })).map((r) => r.content), ['Marguerite\'s cat is called Pistachio and hates the vacuum cleaner']);
      } finally {
        await local.close();
      }
      assert.match(desktop.stderr.at(-1)!, /sync failed: WARNING: the server's copy of this account cannot be trusted/);
    });

    it('answers from the cache when the server is gone, and keeps writes queued', async () => {
      await reference.close();
      await t.close();
      const local = await serveClient(desktop);
      try {
        assert.deepEqual((await recall(local, { query: 'pistachio' })).map((r) => r.content), ['Marguerite\'s cat is called Pistachio and hates the vacuum cleaner']);
        const graph = (await callTool(local, 'search_nodes', { query: 'zanzibar' })).structuredContent as { entities: Array<{ name: string }> };
        assert.deepEqual(graph.entities.map((e) => e.name), ['Marguerite Okonkwo', 'Zanzibar cluster']);
        const written = await callTool(local, 'remember', { content: 'Written while offline: the Zanzibar pager rota changes in January' });
        assert.equal(written.isError ?? false, false);
        assert.deepEqual((await recall(local, { query: 'pager rota' })).length, 1);
      } finally {
        await local.close();
      }
      assert.match(desktop.stderr.at(-1)!, /sync failed: the server could not be reached; answering from the local cache/);
      const status = await runCli(desktop, ['status']);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /1 write\(s\) waiting for the server/);
      assert.match(status.stdout, /online: +no \(the server could not be reached\)/);
    });
  });
}
