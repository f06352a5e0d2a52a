// Throughput and latency of the memory API over real HTTP on loopback:
// create (POST /api/v1/memories) and ranked search (GET
// /api/v1/memories/search) for a user holding 1,000 and 10,000 memories, on
// SQLite and (when it answers) PostgreSQL. autocannon drives a fixed number
// of connections for a bounded time; rate limits are off (factor 0).
//
//   npx tsx bench/api.ts                          both drivers, 1k and 10k, 10 s per case
//   npx tsx bench/api.ts --duration 5 --sizes 1000 --drivers sqlite
//   import { runApiBench, apiBenchTable }         from another script
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { buildApp } from '../src/http/app.ts';
import { createLogger } from '../src/logger.ts';
import { openPostgresStore } from '../src/storage/postgres.ts';
import { openSqliteStore } from '../src/storage/sqlite.ts';
import type { Store } from '../src/storage/store.ts';
import { JSON_EXPORT_FORMAT } from '../src/vault/transfer.ts';
import { Vault } from '../src/vault/vault.ts';
import { FORMAT_VERSION } from '../src/crypto/keys.ts';
import { dropSchema, isPostgresReachable, postgresTestUrl, randomSchemaName } from '../test/helpers/postgres.ts';

/** The part of autocannon's API used here (the package ships no types). */
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}
interface AutocannonRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  headers: Record<string, string>;
  requests: Array<Partial<AutocannonRequest> & { setupRequest?: (request: AutocannonRequest) => AutocannonRequest }>;
}) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export type Driver = 'sqlite' | 'postgres';

export interface ApiBenchOptions {
  drivers: Driver[];
  sizes: number[];
  /** Seconds per case. */
  durationSeconds: number;
  connections: number;
}

export interface ApiBenchRow {
  driver: Driver;
  memories: number;
  operation: 'create' | 'search';
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  failures: number;
}

// A vocabulary of made-up words with a skewed (Zipf-like) frequency, so
// search terms range from rare to common as in real notes.
const VOCABULARY = Array.from({ length: 3000 }, (_, i) => `w${i.toString(36)}${'aeiou'[i % 5]}${'lmnrst'[i % 6]}`);
function sentence(words: number, random: () => number): string {
  return Array.from({ length: words }, () => VOCABULARY[Math.floor(VOCABULARY.length * random() ** 3)]).join(' ');
}
/** A small seeded PRNG (mulberry32), so every run seeds the same text. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const SEARCHES = ['w1al', 'w2an', 'w5', 'w1', 'w1al w2an', 'wa', 'w10', 'w2bu'];

async function openStore(driver: Driver): Promise<{ store: Store; cleanup: () => Promise<void> }> {
  if (driver === 'sqlite') {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-bench-'));
    const store = await openSqliteStore({ file: path.join(dir, 'anamnesis.db') });
    return { store, cleanup: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })) };
  }
  const schema = randomSchemaName();
  const store = await openPostgresStore({ url: postgresTestUrl(), schema });
  return { store, cleanup: async () => (await store.close(), await dropSchema(schema)) };
}

/** Seeds `count` memories in one import through the user's own vault (as the import route would). */
async function seed(store: Store, userId: string, apiKey: string, count: number): Promise<void> {
  const random = seeded(count);
  const start = Date.now() - count * 1000;
  const memories = Array.from({ length: count }, (_, i) => {
    const at = new Date(start + i * 1000).toISOString();
    return { id: randomUUID(), content: sentence(12 + Math.floor(random() * 30), random), tags: [VOCABULARY[i % 40]!], created_at: at, updated_at: at };
  });
  const report = await Vault.forApiKey(store, userId, apiKey).transfer.importJson({ format: JSON_EXPORT_FORMAT, version: FORMAT_VERSION, memories, entities: [], relations: [] });
  if (report.imported.memories !== count) throw new Error(`seeded ${report.imported.memories} of ${count}`);
}

async function runCase(driver: Driver, size: number, options: ApiBenchOptions): Promise<ApiBenchRow[]> {
  const { store, cleanup } = await openStore(driver);
  // From the environment's parser, so every setting has its default; rate limits off for load.
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', ANAMNESIS_DATA_DIR: os.tmpdir(), LOG_LEVEL: 'silent', ANAMNESIS_RATE_LIMIT_FACTOR: '0' });
  const app = await buildApp({ config, store, logger: createLogger('silent') });
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const signUp = await app.inject({ method: 'POST', url: '/api/v1/accounts', payload: { email: `bench-${randomUUID()}@example.com`, password: 'a long bench passphrase 2026' } });
    const { user_id: userId, api_key: apiKey } = signUp.json() as { user_id: string; api_key: string };
    await seed(store, userId, apiKey, size);
    const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
    const rows: ApiBenchRow[] = [];
    const measure = async (operation: ApiBenchRow['operation'], request: Parameters<Autocannon>[0]['requests'][number]) => {
      const result = await autocannon({ url, connections: options.connections, duration: options.durationSeconds, headers, requests: [request] });
      rows.push({
        driver,
        memories: size,
        operation,
        requestsPerSecond: result.requests.average,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        requests: result.requests.total,
        failures: result.errors + result.timeouts + result.non2xx,
      });
    };
    // Search first, so it runs over exactly `size` memories; create then adds to them.
    let query = 0;
    await measure('search', { method: 'GET', setupRequest: (r) => ({ ...r, path: `/api/v1/memories/search?q=${encodeURIComponent(SEARCHES[query++ % SEARCHES.length]!)}&limit=10` }) });
    const random = seeded(7);
    await measure('create', { method: 'POST', path: '/api/v1/memories', setupRequest: (r) => ({ ...r, body: JSON.stringify({ content: sentence(20, random), tags: ['bench'] }) }) });
    return rows;
  } finally {
    await app.close();
    await cleanup();
  }
}

export async function runApiBench(options: ApiBenchOptions): Promise<ApiBenchRow[]> {
  const rows: ApiBenchRow[] = [];
  for (const driver of options.drivers) {
    for (const size of options.sizes) rows.push(...(await runCase(driver, size, options)));
  }
  return rows;
}

export function apiBenchTable(rows: ApiBenchRow[]): string {
  return [
    '| driver | memories | operation | req/s | p50 | p99 | requests | failed |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.driver} | ${r.memories.toLocaleString('en-US')} | ${r.operation} | ${Math.round(r.requestsPerSecond).toLocaleString('en-US')} | ${r.p50Ms} ms | ${r.p99Ms} ms | ${r.requests.toLocaleString('en-US')} | ${r.failures} |`),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '10' }, sizes: { type: 'string', default: '1000,10000' }, drivers: { type: 'string', default: 'sqlite,postgres' } },
  });
  let drivers = values.drivers.split(',') as Driver[];
  if (drivers.includes('postgres') && !(await isPostgresReachable())) {
    console.warn('# PostgreSQL did not answer: benchmarking SQLite only');
    drivers = drivers.filter((d) => d !== 'postgres');
  }
  const options: ApiBenchOptions = { drivers, sizes: values.sizes.split(',').map(Number), durationSeconds: Number(values.duration), connections: Number(values.connections) };
  const rows = await runApiBench(options);
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  console.log(`## Memory API over HTTP (loopback, ${options.connections} connections, ${options.durationSeconds} s per case)\n`);
  console.log(`Node ${process.version}, ${cpu} x${os.availableParallelism()}\n\n${apiBenchTable(rows)}`);
}
