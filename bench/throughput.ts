// Throughput of remember and recall through /mcp with many concurrent
// clients: each request is a stateless JSON-RPC tools/call, as an MCP client
// sends it, with the Bearer key. Every body is checked: a JSON-RPC error or
// a tool error (isError) counts as a failure, and a sample of bodies is
// parsed in full to be sure the answer holds what was asked for.
import { newMemory, SEARCH_QUERIES, seededRandom } from './lib/data.ts';
import { failures, type LoadRequest, type LoadResult, runLoad } from './lib/load.ts';
import type { Driver, OurSide } from './latency.ts';

export interface ThroughputRow extends LoadResult {
  /** Our server now, or as it was at the baseline revision. */
  side: OurSide;
  driver: Driver;
  tool: 'remember' | 'recall';
  connections: number;
  durationSeconds: number;
  /** Bodies parsed in full, and how many of those lacked the expected answer. */
  sampled: number;
  sampledBad: number;
  failures: number;
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

export async function runThroughput(options: { side: OurSide; driver: Driver; url: string; apiKey: string; connections: number; durationSeconds: number }): Promise<ThroughputRow[]> {
  const headers = mcpHeaders(options.apiKey);
  const random = seededRandom(2026);
  let id = 0;
  const cases: Array<[ThroughputRow['tool'], () => LoadRequest]> = [
    // recall first, so it searches the seeded records and not the ones remember adds.
    ['recall', () => toolCall(++id, 'recall', { query: SEARCH_QUERIES[id % SEARCH_QUERIES.length] })],
    ['remember', () => toolCall(++id, 'remember', { ...newMemory(random) })],
  ];
  const rows: ThroughputRow[] = [];
  for (const [tool, nextRequest] of cases) {
    const { verify, counts } = bodyChecker(tool);
    const result = await runLoad({ url: options.url, connections: options.connections, durationSeconds: options.durationSeconds, headers, nextRequest, verifyBody: verify });
    rows.push({ ...result, side: options.side, driver: options.driver, tool, connections: options.connections, durationSeconds: options.durationSeconds, sampled: counts.sampled, sampledBad: counts.bad, failures: failures(result) + counts.bad });
  }
  return rows;
}
