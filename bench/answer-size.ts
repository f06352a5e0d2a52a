// How big a search tool's answer is on the wire: the JSON-RPC body /mcp
// sends, averaged over the benchmark's queries. Before issue 12 search_nodes
// answered every match; now it answers a first page (with next_cursor), so
// the before/after table shows the bytes beside the times. Measured once per
// server and size, outside the timed calls, with the arguments a client
// sends (just `query`).
import { SEARCH_QUERIES } from './lib/data.ts';
import { mcpHeaders, toolCall } from './throughput.ts';

export const SIZED_TOOLS = ['recall', 'search_nodes'] as const;

export async function meanAnswerBytes(url: string, apiKey: string, tool: (typeof SIZED_TOOLS)[number]): Promise<number> {
  let total = 0;
  for (const [index, query] of SEARCH_QUERIES.entries()) {
    const call = toolCall(index + 1, tool, { query });
    const response = await fetch(new URL(call.path, url), { method: call.method, headers: mcpHeaders(apiKey), body: call.body! });
    const body = Buffer.from(await response.arrayBuffer());
    // A failed call would be measured as a small answer.
    if (!response.ok || body.includes('"isError":true')) throw new Error(`${tool} answered ${response.status}: ${body.subarray(0, 300).toString('utf8')}`);
    total += body.byteLength;
  }
  return Math.round(total / SEARCH_QUERIES.length);
}
