// Throughput and latency of the memory REST API over real HTTP on loopback:
// create (POST /api/v1/memories) and ranked search (GET
// /api/v1/memories/search) for a user holding 1,000 and 10,000 memories, on
// SQLite and (when it answers) PostgreSQL. The server runs as users run it
// (a child process, rate limits off); autocannon drives a fixed number of
// connections for a bounded time.
//
//   npx tsx bench/api.ts                          both drivers, 1k and 10k, 10 s per case
//   npx tsx bench/api.ts --duration 5 --sizes 1000 --drivers sqlite
import { parseArgs } from 'node:util';
import { isPostgresReachable } from '../test/helpers/postgres.ts';
import { makeDataset, newMemory, SEARCH_QUERIES, seededRandom } from './lib/data.ts';
import { failures, type LoadRequest, runLoad } from './lib/load.ts';
import { machineLine } from './lib/machine.ts';
import { formatCount, markdownTable } from './lib/markdown.ts';
import { createScratchDatabase } from './lib/postgres.ts';
import { importMemories, signUp, startOurServer } from './lib/server.ts';

type Driver = 'sqlite' | 'postgres';

interface ApiBenchOptions {
  drivers: Driver[];
  sizes: number[];
  /** Seconds per case. */
  durationSeconds: number;
  connections: number;
}

interface ApiBenchRow {
  driver: Driver;
  memories: number;
  operation: 'create' | 'search';
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  failures: number;
}

async function runCase(driver: Driver, size: number, options: ApiBenchOptions): Promise<ApiBenchRow[]> {
  const database = driver === 'postgres' ? await createScratchDatabase() : null;
  const server = await startOurServer(database ? { databaseUrl: database.url } : {});
  try {
    const { apiKey } = await signUp(server.url, `api-${driver}-${size}`);
    await importMemories(server.url, apiKey, makeDataset(size, size).memories);
    const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
    const rows: ApiBenchRow[] = [];
    const measure = async (operation: ApiBenchRow['operation'], nextRequest: () => LoadRequest) => {
      const result = await runLoad({ url: server.url, connections: options.connections, durationSeconds: options.durationSeconds, headers, nextRequest });
      rows.push({ driver, memories: size, operation, requestsPerSecond: result.requestsPerSecond, p50Ms: result.p50Ms, p99Ms: result.p99Ms, requests: result.requests, failures: failures(result) });
    };
    // Search first, so it runs over exactly `size` memories; create then adds to them.
    let query = 0;
    await measure('search', () => ({ method: 'GET', path: `/api/v1/memories/search?q=${encodeURIComponent(SEARCH_QUERIES[query++ % SEARCH_QUERIES.length]!)}&limit=10` }));
    const random = seededRandom(7);
    await measure('create', () => ({ method: 'POST', path: '/api/v1/memories', body: JSON.stringify(newMemory(random)) }));
    return rows;
  } finally {
    await server.stop();
    await database?.drop();
  }
}

async function runApiBench(options: ApiBenchOptions): Promise<ApiBenchRow[]> {
  const rows: ApiBenchRow[] = [];
  for (const driver of options.drivers) {
    for (const size of options.sizes) rows.push(...(await runCase(driver, size, options)));
  }
  return rows;
}

function apiBenchTable(rows: ApiBenchRow[]): string {
  return markdownTable<ApiBenchRow>([
    { header: 'driver', cell: (r) => r.driver },
    { header: 'memories', align: 'right', cell: (r) => formatCount(r.memories) },
    { header: 'operation', cell: (r) => r.operation },
    { header: 'req/s', align: 'right', cell: (r) => formatCount(r.requestsPerSecond) },
    { header: 'p50', align: 'right', cell: (r) => `${r.p50Ms} ms` },
    { header: 'p99', align: 'right', cell: (r) => `${r.p99Ms} ms` },
    { header: 'requests', align: 'right', cell: (r) => formatCount(r.requests) },
    { header: 'failed', align: 'right', cell: (r) => String(r.failures) },
  ], rows);
}

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
console.log(`## Memory API over HTTP (loopback, ${options.connections} connections, ${options.durationSeconds} s per case)\n`);
console.log(`${machineLine()}\n\n${apiBenchTable(rows)}`);
