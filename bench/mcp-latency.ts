// Latency of the MCP read tools as a client sees it: `recall` and
// `search_nodes` through the SDK's Client over Streamable HTTP, against the
// app listening on loopback with SQLite, for one user holding 1,000 and then
// 10,000 memories and as many entities. Every call decrypts what it scans,
// so this is the baseline an encrypted search index should beat.
//
//   npx tsx bench/mcp-latency.ts [--iterations 200] [--sizes 1000,10000]
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { AddressInfo } from 'node:net';
import { authenticateApiKey } from '../src/accounts/authenticate.ts';
import type { Config } from '../src/config.ts';
import { FORMAT_VERSION } from '../src/crypto/keys.ts';
import { buildApp } from '../src/http/app.ts';
import { createLogger } from '../src/logger.ts';
import { openSqliteStore } from '../src/storage/sqlite.ts';
import { JSON_EXPORT_FORMAT } from '../src/vault/transfer.ts';

const WORDS = (
  'project deploy staging coffee meeting budget review design garden travel invoice python rust kernel ' +
  'database migration holiday birthday doctor recipe climbing guitar novel sister manager client contract ' +
  'laptop server backup password policy airport hotel museum concert lecture thesis grant report sprint'
).split(' ');

function sentence(i: number): string {
  const pick = (k: number) => WORDS[(i * 7 + k * 13 + (i >> k)) % WORDS.length]!;
  return `Note ${i}: the ${pick(1)} for the ${pick(2)} moved to ${pick(3)}, ask about the ${pick(4)} and the ${pick(5)} next week.`;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

async function time(client: Client, iterations: number, call: (i: number) => { name: string; arguments: Record<string, unknown> }) {
  for (let i = 0; i < 5; i++) await client.callTool(call(i));
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    const result = await client.callTool(call(i));
    samples.push(performance.now() - started);
    if (result.isError) throw new Error(`${call(i).name} failed`);
  }
  samples.sort((a, b) => a - b);
  return { median: percentile(samples, 50), p99: percentile(samples, 99) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { iterations: { type: 'string', default: '200' }, sizes: { type: 'string', default: '1000,10000' } } });
  const iterations = Number(values.iterations);
  const sizes = values.sizes.split(',').map(Number);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-bench-'));
  const store = await openSqliteStore({ file: path.join(dir, 'anamnesis.db') });
  const config: Config = { port: 0, host: '127.0.0.1', dataDir: dir, databaseUrl: null, logLevel: 'silent', trustProxy: [], rateLimitFactor: 0, allowedHosts: [] };
  const app = await buildApp({ config, store, logger: createLogger('silent') });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const mcpUrl = new URL(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/mcp`);
  const rows: string[] = [];
  try {
    for (const size of sizes) {
      const signUp = await app.inject({ method: 'POST', url: '/api/v1/accounts', payload: { email: `bench-${size}-${randomUUID()}@example.com`, password: 'a long and unusual passphrase 42' } });
      const apiKey = (signUp.json() as { api_key: string }).api_key;
      const vault = (await authenticateApiKey(store, apiKey))!.vault;
      const now = Date.now();
      await vault.transfer.importJson({
        format: JSON_EXPORT_FORMAT,
        version: FORMAT_VERSION,
        memories: Array.from({ length: size }, (_, i) => ({ id: randomUUID(), content: sentence(i), tags: [WORDS[i % WORDS.length]!], created_at: new Date(now + i).toISOString(), updated_at: new Date(now + i).toISOString() })),
        entities: Array.from({ length: size }, (_, i) => ({ name: `Person ${i}`, entityType: 'person', observations: [sentence(i), sentence(i + 1)] })),
        relations: Array.from({ length: size / 2 }, (_, i) => ({ from: `Person ${i}`, to: `Person ${i + 1}`, relationType: 'works with' })),
      });

      const client = new Client({ name: 'bench', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers: { authorization: `Bearer ${apiKey}` } } }));
      const recall = await time(client, iterations, (i) => ({ name: 'recall', arguments: { query: `${WORDS[i % WORDS.length]} ${WORDS[(i * 3) % WORDS.length]}` } }));
      const search = await time(client, iterations, (i) => ({ name: 'search_nodes', arguments: { query: `Person ${(i * 37) % size}9` } }));
      await client.close();
      rows.push(`| recall | ${size} memories | ${recall.median.toFixed(1)} | ${recall.p99.toFixed(1)} |`);
      rows.push(`| search_nodes | ${size} entities (+${size / 2} relations) | ${search.median.toFixed(1)} | ${search.p99.toFixed(1)} |`);
    }
  } finally {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(
    `MCP over HTTP, SQLite, one user, ${iterations} calls each (${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version})\n\n` +
    `| tool | records | median ms | p99 ms |\n| --- | --- | --- | --- |\n${rows.join('\n')}\n`,
  );
}

await main();
