// The local MCP server of an end-to-end account (anamnesis-local), measured
// against the real server: log-in time (OPAQUE with Argon2id), the first sync
// of a new device (every token pulled, opened and indexed), opening the
// cache at start-up, and recall and search_nodes on the device through the
// real bin over stdio, beside /mcp's on a server-key account holding the same
// data, calls alternating. At N records: N memories, N entities, N/2
// relations, as in the main benchmark.
//
// Part of `npm run bench` (BENCH_E2E_SIZES, default 1000,10000; none skips
// it), or alone: `npx tsx bench/e2e-local.ts [sizes] [calls]` (defaults
// 1000,10000 and 50), which starts its own server on SQLite.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { E2eApi, logIn, MemoryReplicaCache, Replica, signUp as signUpE2e, type UserRecord } from '../src/e2e-client/index.ts';
import { localPaths } from '../src/local/paths.ts';
import { Device, type Io } from '../src/local/session.ts';
import { datedMemories, makeDataset, SEARCH_QUERIES } from './lib/data.ts';
import { machineLine } from './lib/machine.ts';
import { formatMs, markdownTable } from './lib/markdown.ts';
import { callTool, connectOurs } from './lib/mcp.ts';
import { importDataset, REPO_ROOT, signUp, startOurServer } from './lib/server.ts';
import { elapsedMs, summarize, type Summary } from './lib/stats.ts';

export interface E2eLocalRow {
  size: number;
  records: number;
  loginMs: Summary;
  firstSyncMs: number;
  openCacheMs: number;
  localRecall: Summary;
  mcpRecall: Summary;
  localSearchNodes: Summary;
  mcpSearchNodes: Summary;
}

const PASSWORD = 'bench-e2e-local-password-long-enough';
const PASSPHRASE = 'bench passphrase for the credentials file';
const BIN = path.join(REPO_ROOT, 'bin', 'anamnesis-local.mjs');

/** The dataset as end-to-end records: memories with their ids and times, entities and relations stamped in order. */
function recordsOf(size: number): UserRecord[] {
  const dataset = makeDataset(size, size);
  const start = Date.now() - 3 * size * 1000;
  const at = (i: number) => new Date(start + i * 1000).toISOString();
  return [
    ...datedMemories(dataset.memories).map((m): UserRecord => ({ kind: 'memory', ...m })),
    ...dataset.entities.map((e, i) => ({ kind: 'entity', ...e, created_at: at(i) }) as UserRecord),
    ...dataset.relations.map((r, i) => ({ kind: 'relation', ...r, created_at: at(i) }) as UserRecord),
  ];
}

async function timeCalls(clients: Array<[Client, number[]]>, calls: number, tool: string, argsOf: (i: number) => Record<string, unknown>): Promise<void> {
  for (let i = 0; i < calls; i++) {
    // Alternating which goes first, so neither always follows the other's work.
    const order = i % 2 ? [...clients].reverse() : clients;
    for (const [client, samples] of order) {
      const started = performance.now();
      await callTool(client, { name: tool, arguments: argsOf(i) });
      samples.push(elapsedMs(started));
    }
  }
}

export async function runE2eLocalBench(options: { url: string; sizes: number[]; calls: number; log: (line: string) => void }): Promise<E2eLocalRow[]> {
  const rows: E2eLocalRow[] = [];
  for (const size of options.sizes) {
    const records = recordsOf(size);
    const email = `bench-e2e-${size}-${Date.now()}@example.com`;
    const api = new E2eApi({ baseUrl: options.url });
    options.log(`e2e-local ${size}: signing up and seeding ${records.length} records through a replica`);
    const account = await signUpE2e(api, { email, password: PASSWORD });
    const seeder = await Replica.open({ api: api.withToken(account.token), userId: account.userId, dataKey: account.dataKey, cache: new MemoryReplicaCache() });
    for (let i = 0; i < records.length; i += 2000) await seeder.put(...records.slice(i, i + 2000));
    await seeder.sync();

    const logins: number[] = [];
    let session = null;
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      session = await logIn(api, { email, password: PASSWORD, label: 'bench' });
      logins.push(elapsedMs(started));
    }

    const dir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-bench-local-'));
    const env = { ANAMNESIS_LOCAL_DIR: dir, ANAMNESIS_LOCAL_PASSPHRASE: PASSPHRASE, ANAMNESIS_LOCAL_KEYCHAIN: 'off' };
    const io: Io = { env, warn: () => {} };
    const paths = localPaths(env);
    let local: Client | null = null;
    let ours: Client | null = null;
    try {
      const device = await Device.remember(paths, options.url, email, session!, io);
      let started = performance.now();
      await device.sync();
      const firstSyncMs = elapsedMs(started);
      device.close();
      started = performance.now();
      (await Device.open(paths, io)).close();
      const openCacheMs = elapsedMs(started);

      options.log(`e2e-local ${size}: the same data on a server-key account, for /mcp`);
      const serverKey = await signUp(options.url, `e2e-compare-${size}`);
      const dataset = makeDataset(size, size);
      await importDataset(options.url, serverKey.apiKey, dataset);
      ours = await connectOurs(options.url, serverKey.apiKey);
      local = new Client({ name: 'anamnesis-bench', version: '1.0.0' });
      await local.connect(new StdioClientTransport({ command: process.execPath, args: [BIN], cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', HOME: os.homedir(), ...env, ANAMNESIS_LOCAL_FIRST_SYNC_WAIT_MS: '600000' }, stderr: 'ignore' }));

      options.log(`e2e-local ${size}: ${options.calls} recall and search_nodes calls each, local and /mcp alternating`);
      const samples = { localRecall: [] as number[], mcpRecall: [] as number[], localSearchNodes: [] as number[], mcpSearchNodes: [] as number[] };
      const query = (i: number) => SEARCH_QUERIES[i % SEARCH_QUERIES.length]!;
      // Warm-up: the first call waits for the start-up sync.
      await callTool(local, { name: 'recall', arguments: { query: 'warm' } });
      await callTool(ours, { name: 'recall', arguments: { query: 'warm' } });
      await timeCalls([[local, samples.localRecall], [ours, samples.mcpRecall]], options.calls, 'recall', (i) => ({ query: query(i), limit: 10 }));
      await timeCalls([[local, samples.localSearchNodes], [ours, samples.mcpSearchNodes]], options.calls, 'search_nodes', (i) => ({ query: query(i) }));
      rows.push({
        size,
        records: records.length,
        loginMs: summarize(logins),
        firstSyncMs,
        openCacheMs,
        localRecall: summarize(samples.localRecall),
        mcpRecall: summarize(samples.mcpRecall),
        localSearchNodes: summarize(samples.localSearchNodes),
        mcpSearchNodes: summarize(samples.mcpSearchNodes),
      });
    } finally {
      await local?.close();
      await ours?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

export function e2eLocalMarkdown(rows: readonly E2eLocalRow[]): string {
  const perSize = markdownTable<E2eLocalRow>(
    [
      { header: 'size', cell: (r) => `${r.size.toLocaleString('en-US')} (${r.records.toLocaleString('en-US')} records)` },
      { header: 'log-in (OPAQUE, median of 3)', align: 'right', cell: (r) => formatMs(r.loginMs.medianMs) },
      { header: 'first sync of a new device', align: 'right', cell: (r) => formatMs(r.firstSyncMs) },
      { header: 'start-up: unlock the key file (Argon2id), open the cache', align: 'right', cell: (r) => formatMs(r.openCacheMs) },
    ],
    rows,
  );
  const calls = markdownTable<[string, E2eLocalRow, Summary]>(
    [
      { header: 'call', cell: ([name]) => name },
      { header: 'size', align: 'right', cell: ([, r]) => r.size.toLocaleString('en-US') },
      { header: 'median', align: 'right', cell: ([, , s]) => formatMs(s.medianMs) },
      { header: 'p99', align: 'right', cell: ([, , s]) => formatMs(s.p99Ms) },
    ],
    rows.flatMap((r): Array<[string, E2eLocalRow, Summary]> => [
      ['recall, anamnesis-local (stdio, on the device)', r, r.localRecall],
      ['recall, /mcp (HTTP, server-key account)', r, r.mcpRecall],
      ['search_nodes, anamnesis-local', r, r.localSearchNodes],
      ['search_nodes, /mcp', r, r.mcpSearchNodes],
    ]),
  );
  return `## End-to-end accounts: the local MCP server\n\n${perSize}\n\n${calls}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = (process.argv[2] ?? '1000,10000').split(',').map(Number);
  const calls = Number(process.argv[3] ?? 50);
  const server = await startOurServer();
  const started = performance.now();
  try {
    const rows = await runE2eLocalBench({ url: server.url, sizes, calls, log: (line) => process.stderr.write(`[e2e-local ${((performance.now() - started) / 1000).toFixed(0)} s] ${line}\n`) });
    process.stdout.write(`${machineLine()}\n\n${e2eLocalMarkdown(rows)}`);
  } finally {
    await server.stop();
  }
}
