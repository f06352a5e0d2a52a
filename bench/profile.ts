// Where our server spends its time on one MCP tool: starts it with a V8 CPU
// profiler, seeds one user (among others) with N records, drives the tool
// with concurrent clients, and prints the top functions and files by self
// time (busy time only, idle excluded).
//
//   npx tsx bench/profile.ts --tool remember --records 10000 [--seconds 10] [--connections 50] [--driver postgres]
//   tools: remember, recall, search_nodes, read_graph, list_memories, create_entities, noop (the MCP layer alone)
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { hotspots } from './lib/cpu-profile.ts';
import { makeDataset, newEntity, newMemory, SEARCH_QUERIES, seededRandom } from './lib/data.ts';
import { failures, type LoadRequest, runLoad } from './lib/load.ts';
import { formatCount, markdownTable } from './lib/markdown.ts';
import { createScratchDatabase } from './lib/postgres.ts';
import { importDataset, REPO_ROOT, signUp, startOurServer } from './lib/server.ts';
import { mcpHeaders, toolCall } from './throughput.ts';

const { values } = parseArgs({
  options: {
    tool: { type: 'string', default: 'remember' },
    records: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    driver: { type: 'string', default: 'sqlite' },
  },
});
const records = Number(values.records);
const random = seededRandom(3);
let id = 0;
const query = () => SEARCH_QUERIES[id % SEARCH_QUERIES.length]!;
const calls: Record<string, () => LoadRequest> = {
  remember: () => toolCall(++id, 'remember', { ...newMemory(random) }),
  create_entities: () => toolCall(++id, 'create_entities', { entities: [newEntity(id, random)] }),
  recall: () => toolCall(++id, 'recall', { query: query() }),
  search_nodes: () => toolCall(++id, 'search_nodes', { query: query() }),
  read_graph: () => toolCall(++id, 'read_graph', { limit: 1000 }),
  list_memories: () => toolCall(++id, 'list_memories', { limit: 200 }),
  // update_memory with nothing to change: refused before any storage work, so what remains is the HTTP and MCP layers.
  noop: () => toolCall(++id, 'update_memory', { id: '00000000-0000-4000-8000-000000000000' }),
};
const nextRequest = calls[values.tool];
if (!nextRequest) throw new Error(`--tool must be one of ${Object.keys(calls).join(', ')}`);

// Seeded by one server, profiled in a second on the same data, so the profile holds only the load.
const workDir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-profile-'));
const [dataDir, profileFile] = [path.join(workDir, 'data'), path.join(workDir, 'server.cpuprofile')];
mkdirSync(dataDir);
if (values.driver !== 'sqlite' && values.driver !== 'postgres') throw new Error('--driver must be sqlite or postgres');
const scratch = values.driver === 'postgres' ? await createScratchDatabase() : null;
const database = scratch ? { databaseUrl: scratch.url } : {};
const seeder = await startOurServer({ dataDir, ...database });
let apiKey: string;
try {
  for (let u = 0; u < 5; u++) await importDataset(seeder.url, (await signUp(seeder.url, `other-${u}`)).apiKey, makeDataset(300, 1000 + u));
  ({ apiKey } = await signUp(seeder.url, 'profiled'));
  await importDataset(seeder.url, apiKey, makeDataset(records, records));
} finally {
  await seeder.stop();
}
let result;
try {
  const server = await startOurServer({ dataDir, cpuProfileFile: profileFile, ...database });
  try {
    result = await runLoad({ url: server.url, connections: Number(values.connections), durationSeconds: Number(values.seconds), headers: mcpHeaders(apiKey), nextRequest });
  } finally {
    await server.stop();
  }
} finally {
  await scratch?.drop();
}
if (!existsSync(profileFile)) throw new Error('the server wrote no CPU profile');
const { totalMs, byFunction, byFile } = hotspots(profileFile, REPO_ROOT);
rmSync(workDir, { recursive: true, force: true });
const table = (rows: typeof byFile) => markdownTable<(typeof rows)[number]>([
  { header: 'self time', align: 'right', cell: (r) => `${formatCount(r.selfMs)} ms` },
  { header: 'share', align: 'right', cell: (r) => `${(r.share * 100).toFixed(1)}%` },
  { header: 'where', cell: (r) => `\`${r.name}\`` },
], rows);
console.log(`## ${values.tool} at ${formatCount(records)} records on ${values.driver}, ${values.connections} clients, ${values.seconds} s: ${formatCount(result.requestsPerSecond)} req/s, p50 ${result.p50Ms} ms, ${failures(result)} failures\n`);
console.log(`Busy time in the server from its start to the end of the load (idle excluded): ${formatCount(totalMs)} ms.\n\n### By file\n\n${table(byFile)}\n\n### By function\n\n${table(byFunction)}`);
