// Where the CPU of one request goes, layer by layer: drives our server with
// concurrent clients (autocannon) through calls that stop at successive
// layers, and divides the CPU time each process used by the requests served:
// our server (and its children), PostgreSQL (the backends of this run's
// scratch database and the WAL writer, checkpointer and background writer),
// and this process (the load generator). On a 2-core machine
// 2 / (sum of the three) bounds the requests per second.
//
//   npx tsx bench/cpu-per-request.ts [--driver postgres] [--records 10000] [--seconds 10] [--connections 50]
//                                    [--calls health,account,noop,rest,remember]
//
// Calls, each stopping one layer further:
//   health    GET /healthz (Fastify alone)
//   account   GET /api/v1/accounts/current (API key lookup: one SELECT, the key derivation)
//   noop      MCP tools/call update_memory with nothing to change (refused before any storage work: the MCP layer)
//   rest      POST /api/v1/memories (a memory created through the JSON API)
//   remember  MCP tools/call remember (the same through MCP)
//   recall    MCP tools/call recall
//
// Linux only (it reads /proc). The PostgreSQL share counts only when the
// database runs on this machine.
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { makeDataset, newMemory, SEARCH_QUERIES, seededRandom } from './lib/data.ts';
import { type LoadRequest, runLoad } from './lib/load.ts';
import { createScratchDatabase } from './lib/postgres.ts';
import { importDataset, signUp, startOurServer } from './lib/server.ts';
import { mcpHeaders, toolCall } from './throughput.ts';

const { values } = parseArgs({
  options: {
    driver: { type: 'string', default: 'postgres' },
    records: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    calls: { type: 'string', default: 'health,account,noop,rest,remember' },
  },
});
if (values.driver !== 'sqlite' && values.driver !== 'postgres') throw new Error('--driver must be sqlite or postgres');

const TICKS_PER_SECOND = 100;
/** User + system CPU seconds of one process, 0 once it is gone. */
function cpuOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

function processIds(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

/** CPU seconds of a process and all its descendants. */
function treeCpu(root: number): number {
  const children = new Map<number, number[]>();
  for (const pid of processIds()) {
    try {
      const parent = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), pid]);
    } catch {
      // exited meanwhile
    }
  }
  let total = 0;
  for (const stack = [root]; stack.length > 0; ) {
    const pid = stack.pop()!;
    total += cpuOf(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

/** CPU seconds of PostgreSQL's processes serving `database`, and of its shared writers; a backend seen once keeps counting after it exits. */
function postgresCpu(database: string, seen: Map<number, number>): number {
  for (const pid of processIds()) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
      const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (title.includes(` ${database} `) || /walwriter|checkpointer|background writer/.test(title)) seen.set(pid, cpuOf(pid));
    } catch {
      // exited meanwhile
    }
  }
  return [...seen.values()].reduce((a, b) => a + b, 0);
}

const scratch = values.driver === 'postgres' ? await createScratchDatabase() : null;
const database = scratch ? new URL(scratch.url).pathname.slice(1) : null;
try {
  const server = await startOurServer(scratch ? { databaseUrl: scratch.url } : {});
  try {
    const records = Number(values.records);
    if (records > 0) {
      for (let u = 0; u < 5; u++) await importDataset(server.url, (await signUp(server.url, `other-${u}`)).apiKey, makeDataset(300, 1000 + u));
    }
    const { apiKey } = await signUp(server.url, 'measured');
    if (records > 0) await importDataset(server.url, apiKey, makeDataset(records, records));
    const random = seededRandom(1);
    let id = 0;
    const calls: Record<string, () => LoadRequest> = {
      health: () => ({ method: 'GET', path: '/healthz' }),
      account: () => ({ method: 'GET', path: '/api/v1/accounts/current' }),
      noop: () => toolCall(++id, 'update_memory', { id: '00000000-0000-4000-8000-000000000000' }),
      rest: () => ({ method: 'POST', path: '/api/v1/memories', body: JSON.stringify(newMemory(random)) }),
      remember: () => toolCall(++id, 'remember', { ...newMemory(random) }),
      recall: () => toolCall(++id, 'recall', { query: SEARCH_QUERIES[id % SEARCH_QUERIES.length] }),
    };
    const seen = new Map<number, number>();
    console.log(`| call | req/s | p50 | p99 | server µs/req | PostgreSQL µs/req | load generator µs/req | failures |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
    for (const name of values.calls.split(',')) {
      const nextRequest = calls[name];
      if (!nextRequest) throw new Error(`--calls: unknown ${name} (known: ${Object.keys(calls).join(', ')})`);
      const before = { server: treeCpu(server.pid), postgres: database ? postgresCpu(database, seen) : 0, self: process.cpuUsage() };
      const result = await runLoad({ url: server.url, connections: Number(values.connections), durationSeconds: Number(values.seconds), headers: mcpHeaders(apiKey), nextRequest });
      const self = process.cpuUsage(before.self);
      const perRequest = (seconds: number) => Math.round((seconds / Math.max(1, result.requests)) * 1e6);
      const postgres = database ? String(perRequest(postgresCpu(database, seen) - before.postgres)) : '—';
      console.log(`| ${name} | ${Math.round(result.requestsPerSecond)} | ${result.p50Ms} ms | ${result.p99Ms} ms | ${perRequest(treeCpu(server.pid) - before.server)} | ${postgres} | ${perRequest((self.user + self.system) / 1e6)} | ${result.non2xx + result.errors + result.mismatches} |`);
    }
  } finally {
    await server.stop();
  }
} finally {
  await scratch?.drop();
}
