// Bounded load on loopback: the real server process (rate limits off), many
// users, N concurrent clients mixing remember, recall and knowledge-graph
// calls over MCP for a fixed time. Then every acknowledged write is read back.
// Reports throughput, latency percentiles per call, errors, 5xx and lost
// writes; exits non-zero when anything was lost or a 5xx was seen.
//
//   npx tsx bench/load.ts [--clients 100] [--users 50] [--seconds 60] [--database-url postgres://…]
//
// A client is a loop of requests on a keep-alive connection (like autocannon's
// connections), but each request carries its own body and each answer is kept
// so that the writes it acknowledged can be checked afterwards — which a
// fixed-request tool such as autocannon cannot do.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { killAllServers, type RemoteUser, signUpRemote, startServer } from '../test/fixtures/server-process.ts';

const WORDS = 'lighthouse harbour kestrel saffron basalt meadow lantern quarry orchard glacier violin compass'.split(' ');
export const HUB = 'Load Hub';

type Op = 'remember' | 'recall' | 'add_observations' | 'create_entities' | 'search_nodes' | 'read_graph';
/** The mix, by weight: a little more writing than reading, as an assistant that remembers as it goes. */
const MIX: Array<[Op, number]> = [['remember', 35], ['recall', 25], ['add_observations', 15], ['create_entities', 10], ['search_nodes', 10], ['read_graph', 5]];

export interface LoadOptions {
  baseUrl: string;
  users: RemoteUser[];
  clients: number;
  /** Stop after this long, or after opsPerClient calls per client, whichever comes first. */
  durationMs?: number;
  opsPerClient?: number;
}

export interface LoadReport {
  requests: number;
  seconds: number;
  perSecond: number;
  latency: Record<Op | 'all', { count: number; p50: number; p99: number }>;
  /** Tool answers with isError (a refused call): none expected. */
  toolErrors: number;
  serverErrors: number;
  /** Requests that got no answer at all. */
  failures: number;
  acknowledged: { memories: number; observations: number; entities: number };
  lost: { memories: number; observations: number; entities: number };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

interface Call {
  status: number;
  result: { isError?: boolean; structuredContent?: any } | null;
}

function rpc(agent: http.Agent, baseUrl: string, apiKey: string, method: string, params: unknown): Promise<Call> {
  const url = new URL('/mcp', baseUrl);
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params });
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: '/mcp', method: 'POST', agent, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          resolve({ status, result: status === 200 ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { result: Call['result'] }).result : null });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(60_000, () => req.destroy(new Error('no answer within 60 s')));
    req.on('error', reject);
    req.end(body);
  });
}

export const callTool = (agent: http.Agent, baseUrl: string, apiKey: string, name: string, args: Record<string, unknown>) => rpc(agent, baseUrl, apiKey, 'tools/call', { name, arguments: args });

function pickOp(n: number): Op {
  let r = n % 100;
  for (const [op, weight] of MIX) {
    if (r < weight) return op;
    r -= weight;
  }
  return 'recall';
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.clients });
  const samples = new Map<Op, number[]>(MIX.map(([op]) => [op, []]));
  const acked = { memories: [] as Array<{ user: RemoteUser; id: string; content: string }>, observations: [] as Array<{ user: RemoteUser; text: string }>, entities: [] as Array<{ user: RemoteUser; name: string }> };
  let toolErrors = 0;
  let serverErrors = 0;
  let failures = 0;
  for (const user of options.users) {
    const hub = await callTool(agent, options.baseUrl, user.apiKey, 'create_entities', { entities: [{ name: HUB, entityType: 'hub', observations: [] }] });
    if (hub.status !== 200 || hub.result?.isError) throw new Error(`could not create the hub entity (${hub.status})`);
  }
  const started = performance.now();
  const deadline = started + (options.durationMs ?? Infinity);
  const client = async (c: number) => {
    for (let i = 0; i < (options.opsPerClient ?? Infinity) && performance.now() < deadline; i++) {
      const user = options.users[(c + i * 7) % options.users.length]!;
      const op = pickOp(c * 31 + i * 17);
      const word = WORDS[(c + i) % WORDS.length]!;
      const tag = `c${c}-${i}`;
      const args: Record<Op, Record<string, unknown>> = {
        remember: { content: `client ${tag} remembers the ${word}`, tags: [word] },
        recall: { query: word, limit: 10 },
        add_observations: { observations: [{ entityName: HUB, contents: [`observed by ${tag}`] }] },
        create_entities: { entities: [{ name: `Entity ${tag}`, entityType: word, observations: [`made by ${tag}`] }] },
        search_nodes: { query: word },
        read_graph: { limit: 50 },
      };
      const t0 = performance.now();
      let call: Call;
      try {
        call = await callTool(agent, options.baseUrl, user.apiKey, op, args[op]);
      } catch {
        failures++;
        continue;
      }
      samples.get(op)!.push(performance.now() - t0);
      if (call.status >= 500) serverErrors++;
      else if (call.status !== 200 || call.result?.isError) toolErrors++;
      else if (op === 'remember') acked.memories.push({ user, id: call.result!.structuredContent.id, content: args.remember.content as string });
      else if (op === 'add_observations') acked.observations.push({ user, text: `observed by ${tag}` });
      else if (op === 'create_entities') acked.entities.push({ user, name: `Entity ${tag}` });
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, c) => client(c)));
  const seconds = (performance.now() - started) / 1000;

  // Read back every acknowledged write, per user: memories by listing, the graph by opening nodes.
  const lost = { memories: 0, observations: 0, entities: 0 };
  for (const user of options.users) {
    const stored = new Map<string, string>();
    let cursor: string | undefined;
    do {
      const page = await callTool(agent, options.baseUrl, user.apiKey, 'list_memories', { limit: 200, ...(cursor ? { cursor } : {}) });
      for (const m of page.result!.structuredContent.items as Array<{ id: string; content: string }>) stored.set(m.id, m.content);
      cursor = page.result!.structuredContent.next_cursor ?? undefined;
    } while (cursor);
    lost.memories += acked.memories.filter((m) => m.user === user && stored.get(m.id) !== m.content).length;
    const mine = acked.entities.filter((e) => e.user === user);
    const graph = (await callTool(agent, options.baseUrl, user.apiKey, 'open_nodes', { names: [HUB, ...mine.map((e) => e.name)] })).result!.structuredContent as { entities: Array<{ name: string; observations: string[] }> };
    const byName = new Map(graph.entities.map((e) => [e.name, e]));
    lost.entities += mine.filter((e) => !byName.has(e.name)).length;
    const observations = new Set(byName.get(HUB)?.observations ?? []);
    lost.observations += acked.observations.filter((o) => o.user === user && !observations.has(o.text)).length;
  }
  agent.destroy();

  const latency = {} as LoadReport['latency'];
  const all: number[] = [];
  for (const [op, values] of samples) {
    values.sort((a, b) => a - b);
    all.push(...values);
    latency[op] = { count: values.length, p50: percentile(values, 50), p99: percentile(values, 99) };
  }
  all.sort((a, b) => a - b);
  latency.all = { count: all.length, p50: percentile(all, 50), p99: percentile(all, 99) };
  return {
    requests: all.length + failures,
    seconds,
    perSecond: all.length / seconds,
    latency,
    toolErrors,
    serverErrors,
    failures,
    acknowledged: { memories: acked.memories.length, observations: acked.observations.length, entities: acked.entities.length },
    lost,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { clients: { type: 'string', default: '100' }, users: { type: 'string', default: '50' }, seconds: { type: 'string', default: '60' }, 'database-url': { type: 'string' } } });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-load-'));
  const databaseUrl = values['database-url'];
  try {
    const server = await startServer({ env: { ANAMNESIS_RATE_LIMIT_FACTOR: '0', LOG_LEVEL: 'warn', ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { ANAMNESIS_DATA_DIR: dataDir }) } });
    const users: RemoteUser[] = [];
    for (let i = 0; i < Number(values.users); i++) users.push(await signUpRemote(server.url, `load${i}`));
    const report = await runLoad({ baseUrl: server.url, users, clients: Number(values.clients), durationMs: Number(values.seconds) * 1000 });
    const ms = (n: number) => `${n.toFixed(1)} ms`;
    console.log(`driver ${databaseUrl ? 'postgres' : 'sqlite'}; ${values.clients} clients over ${values.users} users for ${report.seconds.toFixed(1)} s`);
    console.log(`${report.requests} requests, ${report.perSecond.toFixed(0)} req/s; p50 ${ms(report.latency.all.p50)}, p99 ${ms(report.latency.all.p99)}`);
    for (const [op, l] of Object.entries(report.latency)) if (op !== 'all') console.log(`  ${op.padEnd(17)} ${String(l.count).padStart(7)} calls  p50 ${ms(l.p50).padStart(10)}  p99 ${ms(l.p99).padStart(10)}`);
    console.log(`5xx ${report.serverErrors}, tool errors ${report.toolErrors}, no answer ${report.failures}`);
    console.log(`acknowledged writes: ${report.acknowledged.memories} memories, ${report.acknowledged.observations} observations, ${report.acknowledged.entities} entities; lost: ${report.lost.memories + report.lost.observations + report.lost.entities}`);
    const stderr = server.stderr();
    if (stderr) console.log(`server stderr:\n${stderr}`);
    const bad = report.serverErrors + report.toolErrors + report.failures + report.lost.memories + report.lost.observations + report.lost.entities;
    process.exitCode = bad === 0 ? 0 : 1;
  } finally {
    await killAllServers();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
