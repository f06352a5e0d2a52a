// Throughput of remember and recall through /mcp with many concurrent
// clients: each request is a stateless JSON-RPC tools/call, as an MCP client
// sends it, with the Bearer key. Every body is checked: a JSON-RPC error or
// a tool error (isError) counts as a failure, and a sample of bodies is
// parsed in full to be sure the answer holds what was asked for.
//
// One 10-second run on this 2-core machine is a noisy sample: the same code
// measured 1,040 and 1,401 remembers a second in two full runs. So each tool
// runs in rounds, every server once per round (one under load at a time, in
// an order that rotates from round to round, so a slow minute falls on all of
// them), and a server's row is its median round.
import { newMemory, SEARCH_QUERIES, seededRandom } from './lib/data.ts';
import { failures, type LoadRequest, type LoadResult, runLoad } from './lib/load.ts';
import type { Driver, OurSide } from './latency.ts';

/** A server's median round of one tool (its rate, latencies and requests), with the errors and rates of every round. */
export interface ThroughputRow extends LoadResult {
  /** Our server now, or as it was at the baseline revision. */
  side: OurSide;
  driver: Driver;
  tool: 'remember' | 'recall';
  connections: number;
  /** Of each round. */
  durationSeconds: number;
  /** Requests per second of every round, in the order they ran. */
  roundRates: number[];
  /** Bodies parsed in full, and how many of those lacked the expected answer, over all rounds. */
  sampled: number;
  sampledBad: number;
  /** Over all rounds: a failure in any round counts. */
  failures: number;
}

export interface LoadedServer {
  side: OurSide;
  driver: Driver;
  url: string;
  apiKey: string;
}

const SAMPLE_EVERY = 50;

/** One stateless JSON-RPC tools/call POST to /mcp. */
export function toolCall(id: number, name: string, args: Record<string, unknown>): LoadRequest {
  return { method: 'POST', path: '/mcp', body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }) };
}

/** Checks every body cheaply, and every SAMPLE_EVERY-th in full. */
export function bodyChecker(tool: ThroughputRow['tool']) {
  const counts = { seen: 0, sampled: 0, bad: 0 };
  const verify = (body: string): boolean => {
    // Inside a tool result these would be escaped (\"isError\"), so only the envelope can match.
    if (body.includes('"isError":true') || body.includes('"error":{') || !body.includes('"result":')) return false;
    if (counts.seen++ % SAMPLE_EVERY === 0) {
      counts.sampled++;
      const answer = JSON.parse(body) as { result?: { structuredContent?: Record<string, unknown> } };
      const content = answer.result?.structuredContent;
      const ok = tool === 'remember' ? typeof content?.id === 'string' : Array.isArray(content?.results) && (content.results as unknown[]).length > 0;
      if (!ok) counts.bad++;
    }
    return true;
  };
  return { verify, counts };
}

/** The headers an MCP client sends with each POST. */
export function mcpHeaders(apiKey: string): Record<string, string> {
  return { authorization: `Bearer ${apiKey}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
}

/**
 * Every server under `recall`, round after round, then under `remember`:
 * recall first, so every recall round searches the seeded records and not
 * the ones remember adds. Each remember round adds its memories to the same
 * user, who grows by them from round to round.
 */
export async function runThroughput(servers: readonly LoadedServer[], options: { connections: number; durationSeconds: number; rounds: number }): Promise<ThroughputRow[]> {
  const random = seededRandom(2026);
  let id = 0;
  const tools: Array<[ThroughputRow['tool'], () => LoadRequest]> = [
    ['recall', () => toolCall(++id, 'recall', { query: SEARCH_QUERIES[id % SEARCH_QUERIES.length] })],
    ['remember', () => toolCall(++id, 'remember', { ...newMemory(random) })],
  ];
  const rows: ThroughputRow[] = [];
  for (const [tool, nextRequest] of tools) {
    const rounds = servers.map(() => [] as Array<LoadResult & { sampled: number; sampledBad: number; failures: number }>);
    for (let round = 0; round < options.rounds; round++) {
      for (let turn = 0; turn < servers.length; turn++) {
        const at = (turn + round) % servers.length;
        const { verify, counts } = bodyChecker(tool);
        const result = await runLoad({ url: servers[at]!.url, connections: options.connections, durationSeconds: options.durationSeconds, headers: mcpHeaders(servers[at]!.apiKey), nextRequest, verifyBody: verify });
        rounds[at]!.push({ ...result, sampled: counts.sampled, sampledBad: counts.bad, failures: failures(result) + counts.bad });
      }
    }
    servers.forEach((server, at) => {
      const runs = rounds[at]!;
      // The lower median when the count is even, so an even number of rounds never flatters.
      const median = [...runs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)[Math.floor((runs.length - 1) / 2)]!;
      const total = (pick: (run: (typeof runs)[number]) => number) => runs.reduce((sum, run) => sum + pick(run), 0);
      rows.push({
        ...median,
        side: server.side,
        driver: server.driver,
        tool,
        connections: options.connections,
        durationSeconds: options.durationSeconds,
        roundRates: runs.map((run) => run.requestsPerSecond),
        non2xx: total((run) => run.non2xx),
        errors: total((run) => run.errors),
        mismatches: total((run) => run.mismatches),
        sampled: total((run) => run.sampled),
        sampledBad: total((run) => run.sampledBad),
        failures: total((run) => run.failures),
      });
    });
  }
  return rows;
}
