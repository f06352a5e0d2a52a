// docs/benchmarks.md and docs/benchmarks.svg from one run's results: a table
// per workload (median, p99, ratio to the reference and to each floor) with
// our server on each driver side by side, the targets of issue 12 as
// PASS/MISS lines per driver, the before/after table (report-before-after.ts),
// throughput, the OAuth costs, the crypto table, the machine and a note on
// noise.
import { cryptoBenchTable, type Row as CryptoRow } from './crypto.ts';
import type { E2eLocalRow } from './e2e-local.ts';
import type { Floor, Floors } from './floors.ts';
import { type Driver, DRIVER_NAMES, type Group, type OperationResult } from './latency.ts';
import { type Machine, machineLine } from './lib/machine.ts';
import { formatCount, formatMs, formatRatio, markdownTable } from './lib/markdown.ts';
import { lineChartSvg, type Series } from './lib/svg-plot.ts';
import type { OAuthBench } from './oauth.ts';
import { beforeAfterSection } from './report-before-after.ts';
import type { ThroughputRow } from './throughput.ts';

export interface SizeResult {
  size: number;
  operations: OperationResult[];
  floors: Floors;
  /** Mean bytes of a search tool's answer (answer-size.ts), by operation id. */
  answerBytes?: Record<string, number>;
}

export interface BenchResults {
  date: Date;
  command: string;
  machine: Machine;
  loadBefore: string;
  loadAfter: string;
  durationSeconds: number;
  otherUsers: number;
  /** The least time a group of quick calls was measured for. */
  minSeconds: number;
  otherUserRecords: number;
  sizes: SizeResult[];
  throughputSize: number | null;
  throughput: ThroughputRow[];
  /** The stores our server ran on, side by side. */
  drivers: Driver[];
  oauth: OAuthBench | null;
  crypto: CryptoRow[];
  /** The end-to-end local MCP server (bench/e2e-local.ts), when measured. */
  e2eLocal?: E2eLocalRow[];
  /** The revision measured as "before" (lib/baseline.ts) and its sizes; null when skipped. */
  baseline?: { rev: string; commit: string; sizes: number[] } | null;
}

/** The reference operation each of our tools is compared with. */
const REFERENCE_FOR: Record<string, string> = {
  remember: 'reference create_entities',
  create_entities: 'reference create_entities',
  recall: 'reference search_nodes',
  search_nodes: 'reference search_nodes',
  read_graph: 'reference read_graph',
  list_memories: 'reference read_graph',
  open_nodes: 'reference open_nodes',
  'search_nodes none': 'reference search_nodes none',
  'read_graph page': 'reference read_graph',
  'list_memories page': 'reference read_graph',
};

const serverName = (op: OperationResult) => (op.driver ? `ours, ${DRIVER_NAMES[op.driver]}` : op.side);
/** The records an operation would have to decrypt without an index. */
const FLOOR_FOR: Record<string, keyof Floors> = { recall: 'memories', list_memories: 'memories', search_nodes: 'graph', read_graph: 'graph' };

const GROUP_TITLES: Record<Group, string> = { write: 'Write one', search: 'Search', read: 'Read a page, read all' };

function find(result: SizeResult, id: string): OperationResult | undefined {
  return result.operations.find((o) => o.id === id);
}

interface TableRow {
  size: number;
  op: OperationResult;
  reference: OperationResult | undefined;
  floor: Floor | undefined;
}

/** Operations of our server now and of the reference: the baseline's have their own section. */
const isNowOrReference = (op: OperationResult) => op.side !== 'before';

function workloadTable(results: BenchResults, group: Group): string {
  const rows: TableRow[] = results.sizes.flatMap((r) => r.operations.filter((o) => o.group === group && isNowOrReference(o)).map((op) => ({
    size: r.size,
    op,
    reference: op.side === 'ours' ? find(r, REFERENCE_FOR[op.tool]!) : undefined,
    floor: group === 'write' ? undefined : r.floors[FLOOR_FOR[op.tool]!],
  })));
  return markdownTable<TableRow>([
    { header: 'records', align: 'right', cell: (r) => formatCount(r.size) },
    { header: 'server', cell: (r) => serverName(r.op) },
    { header: 'tool', cell: (r) => `\`${r.op.tool}\` (${r.op.note})` },
    { header: 'calls', align: 'right', cell: (r) => String(r.op.samples) },
    { header: 'median', align: 'right', cell: (r) => formatMs(r.op.medianMs) },
    { header: 'p99', align: 'right', cell: (r) => formatMs(r.op.p99Ms) },
    { header: 'median ÷ reference', align: 'right', cell: (r) => (r.reference ? `${formatRatio(r.op.medianMs / r.reference.medianMs)} (ref ${formatMs(r.reference.medianMs)})` : '—') },
    { header: 'median ÷ bytes floor', align: 'right', cell: (r) => (r.floor ? formatRatio(r.op.medianMs / r.floor.bytesMs) : '—') },
    { header: 'median ÷ token floor', align: 'right', cell: (r) => (r.floor ? formatRatio(r.op.medianMs / r.floor.tokensMs) : '—') },
  ], rows);
}

function floorsTable(results: BenchResults): string {
  const rows = results.sizes.flatMap((r) => [
    { size: r.size, what: 'graph (entities + relations)', floor: r.floors.graph },
    { size: r.size, what: 'memories', floor: r.floors.memories },
  ]);
  return markdownTable<(typeof rows)[number]>([
    { header: 'records', align: 'right', cell: (r) => formatCount(r.size) },
    { header: 'what', cell: (r) => r.what },
    { header: 'records decrypted', align: 'right', cell: (r) => formatCount(r.floor.records) },
    { header: 'plaintext', align: 'right', cell: (r) => `${(r.floor.plaintextBytes / 2 ** 20).toFixed(2)} MiB` },
    { header: 'bytes floor (AES-128-CBC + HMAC-SHA256, one buffer)', align: 'right', cell: (r) => formatMs(r.floor.bytesMs) },
    { header: 'token floor (Fernet decrypt each record)', align: 'right', cell: (r) => formatMs(r.floor.tokensMs) },
  ], rows);
}

/** "now", or "before (d424837)" for the baseline revision. */
function sideLabel(side: ThroughputRow['side'], results: BenchResults): string {
  return side === 'before' ? `before (${results.baseline?.rev ?? 'baseline'})` : 'now';
}

/** Requests per second of every round, in the order they ran. */
function roundsOf(row: ThroughputRow): string {
  return row.roundRates.map(formatCount).join(' / ');
}

function throughputTable(results: BenchResults): string {
  return markdownTable<ThroughputRow>([
    { header: 'server', cell: (r) => sideLabel(r.side, results) },
    { header: 'store', cell: (r) => DRIVER_NAMES[r.driver] },
    { header: 'tool', cell: (r) => `\`${r.tool}\`` },
    { header: 'clients', align: 'right', cell: (r) => String(r.connections) },
    { header: 'seconds', align: 'right', cell: (r) => `${r.roundRates.length} × ${r.durationSeconds}` },
    { header: 'req/s (median round)', align: 'right', cell: (r) => formatCount(r.requestsPerSecond) },
    { header: 'each round', align: 'right', cell: roundsOf },
    { header: 'p50', align: 'right', cell: (r) => `${r.p50Ms} ms` },
    { header: 'p99', align: 'right', cell: (r) => `${r.p99Ms} ms` },
    { header: 'max', align: 'right', cell: (r) => `${formatCount(r.maxMs)} ms` },
    { header: 'requests', align: 'right', cell: (r) => formatCount(r.requests) },
    { header: 'non-2xx', align: 'right', cell: (r) => String(r.non2xx) },
    { header: 'errors/timeouts (30 s)', align: 'right', cell: (r) => String(r.errors) },
    { header: 'JSON-RPC or tool errors', align: 'right', cell: (r) => String(r.mismatches) },
    { header: 'bodies parsed (bad)', align: 'right', cell: (r) => `${formatCount(r.sampled)} (${r.sampledBad})` },
  ], results.throughput);
}

const verdict = (pass: boolean) => (pass ? '**PASS**' : '**MISS**');

/**
 * Issue 12's figure for 50-client recall at 10,000 records before the bucketed
 * index (docs/benchmarks.md of 2026-11-28, SQLite): the target's yardstick
 * when the run measured no baseline revision of its own.
 */
const RECALL_THROUGHPUT_BEFORE = 117;

/** The targets of issue 12, each judged on each driver where its sizes were measured. */
function targetLines(results: BenchResults): string[] {
  const lines: string[] = [];
  const at = (size: number, id: string) => results.sizes.find((r) => r.size === size)?.operations.find((o) => o.id === id);
  for (const driver of results.drivers) {
    const name = DRIVER_NAMES[driver];
    const ourSizes = results.sizes.filter((r) => r.operations.some((o) => o.driver === driver)).map((r) => r.size);
    const small = ourSizes[0];
    const large = ourSizes[ourSizes.length - 1];
    if (small === undefined || large === undefined) continue;
    const growth = (tool: string, what: string, limit: number) => {
      const a = at(small, `${driver} ${tool}`);
      const b = at(large, `${driver} ${tool}`);
      if (!a || !b) return lines.push(`- **MISS** ${name}: ${what}: not measured at both ${formatCount(small)} and ${formatCount(large)}`);
      const ratio = b.medianMs / a.medianMs;
      return lines.push(`- ${verdict(ratio <= limit)} ${name}: ${what} at ${formatCount(large)} at most ${limit}x its time at ${formatCount(small)}: ${formatMs(a.medianMs)} → ${formatMs(b.medianMs)} (${formatRatio(ratio)})`);
    };
    growth('recall', '`recall`', 2);
    growth('search_nodes', '`search_nodes`', 2);
    growth('search_nodes none', '`search_nodes` matching nothing (the search without its answer)', 2);
    growth('open_nodes', '`open_nodes`', 2);
    growth('read_graph page', "`read_graph`'s first page", 2);
    growth('remember', '`remember` (flat means ≤ 1.5x)', 1.5);
    const remember = at(10_000, `${driver} remember`);
    const reference = at(5_000, 'reference create_entities');
    if (remember && reference) {
      const ratio = remember.medianMs / reference.medianMs;
      lines.push(`- ${verdict(ratio <= 0.2)} ${name}: \`remember\` at 10,000 at most a fifth of the reference's \`create_entities\` at 5,000: ${formatMs(remember.medianMs)} vs ${formatMs(reference.medianMs)} (${formatRatio(ratio)})`);
    }
    const load = (side: ThroughputRow['side'], tool: ThroughputRow['tool']) => results.throughput.find((r) => r.side === side && r.driver === driver && r.tool === tool);
    const rememberLoad = load('ours', 'remember');
    if (rememberLoad) {
      const ok = rememberLoad.requestsPerSecond >= 1500 && rememberLoad.failures === 0;
      const judged = driver === 'postgres' ? `${verdict(ok)} ${name}:` : `(${ok ? 'met' : 'not met'} on SQLite; the target is PostgreSQL's) ${name}:`;
      lines.push(`- ${judged} ${rememberLoad.connections}-client \`remember\` ≥ 1,500 req/s: ${formatCount(rememberLoad.requestsPerSecond)} req/s (median round of ${roundsOf(rememberLoad)}), ${rememberLoad.failures} failures`);
    }
    const recallLoad = load('ours', 'recall');
    if (recallLoad && results.throughputSize === 10_000) {
      // Before as measured in this run, on this driver, when the run measured it.
      const measuredBefore = load('before', 'recall');
      const before = measuredBefore
        ? { rps: measuredBefore.requestsPerSecond, what: `${formatCount(measuredBefore.requestsPerSecond)} req/s, ${results.baseline!.rev} in this run` }
        : { rps: RECALL_THROUGHPUT_BEFORE, what: `${RECALL_THROUGHPUT_BEFORE} req/s, issue 12's figure` };
      const ratio = recallLoad.requestsPerSecond / before.rps;
      lines.push(`- ${verdict(ratio >= 3 && recallLoad.failures === 0)} ${name}: \`recall\` throughput at 10,000 at least 3x before (${before.what}): ${formatCount(recallLoad.requestsPerSecond)} req/s, median round of ${roundsOf(recallLoad)} (${formatRatio(ratio)})`);
    }
  }
  return lines;
}

function oauthSection(oauth: OAuthBench | null): string {
  if (!oauth) return '(skipped)';
  const table = markdownTable<OAuthBench['rows'][number]>([
    { header: 'what', cell: (r) => r.what },
    { header: 'calls', align: 'right', cell: (r) => formatCount(r.samples) },
    { header: 'median', align: 'right', cell: (r) => formatMs(r.medianMs) },
    { header: 'p99', align: 'right', cell: (r) => formatMs(r.p99Ms) },
  ], oauth.rows);
  return `A connector's sign-in from its first 401 to its first tool call takes ${oauth.flow.length} HTTP round trips (the consent page and its form included): ${oauth.flow.map((r) => `\`${r}\``).join(', ')}.

${table}`;
}

export function benchmarksMarkdown(results: BenchResults): string {
  const sizes = results.sizes.map((r) => formatCount(r.size)).join(' and ');
  const sections = (['write', 'search', 'read'] as Group[]).map((group) => `### ${GROUP_TITLES[group]}\n\n${workloadTable(results, group)}`);
  return `# Benchmarks

Generated by \`${results.command}\` on ${results.date.toISOString().slice(0, 16).replace('T', ' ')} UTC (the run took ${Math.round(results.durationSeconds)} s). Do not edit by hand: run it again.

Machine: ${machineLine(results.machine)}. Load average (1, 5, 15 min) before the run: ${results.loadBefore}; after: ${results.loadAfter}.

What runs: our server as users run it (\`node --import tsx src/server.ts\`, rate limits off, \`LOG_LEVEL=warn\`), ${results.drivers.map((d) => (d === 'postgres' ? 'one process on PostgreSQL (a scratch database on this machine)' : 'one process on SQLite (a temporary data folder)')).join(' and ')}, side by side in the same run${results.baseline ? ` (and the same two as they were before issue 12, at ${results.baseline.rev}: see *Before and after*)` : ''}, called through the MCP SDK's \`Client\` over Streamable HTTP with a Bearer key; and the reference \`@modelcontextprotocol/server-memory\` (plaintext JSONL, the whole file read on every call and rewritten on every write) through the same \`Client\` over stdio. The user measured holds ${sizes} records (the reference runs only at the sizes it can hold: it rewrites its whole file on every write) and is one of ${results.otherUsers + 1} users (the ${results.otherUsers} others hold ${formatCount(results.otherUserRecords)} records each). A user's records are N entities (people, projects, organisations, places, tools) with 2-3 observations each, N/2 relations and N memories of one or two sentences with tags, seeded identically into every server (ours through \`POST /api/v1/import\` in requests of 20,000 records, the vault's bulk path; the reference as its \`memory.jsonl\`). Read-all (every page) is timed up to 10,000 records; the first page at every size. Search queries are surnames and cities that match about 1-3% of the records. The same calls run in the same order on every server, alternating call by call between the servers (each of our drivers${results.baseline ? ', now and before' : ''}, and the reference) and the record counts, in a fresh (seeded) random order every iteration, after a warm-up: machine noise hits every operation alike, and the 1,000-vs-10,000 comparison is not a comparison of two different minutes.

Ratios: *median ÷ reference* below 1 means ours is faster (writes are compared with the reference \`create_entities\`, recall with its \`search_nodes\`, list_memories with its \`read_graph\`). The floors are what decrypting every record would cost at the least (see below): a ratio below 1 means the call spent less than that, which only an index that avoids decrypting everything can do.

![median latency against record count](benchmarks.svg)

Where our server spends its time on one tool: \`npx tsx bench/profile.ts --tool search_nodes --records 10000 [--driver postgres]\` (a V8 CPU profile of the server under load, summarised by file and function); what one request costs in CPU, layer by layer (Fastify, the API key, the MCP layer, a write) and process by process (our server, PostgreSQL, the load generator): \`npx tsx bench/cpu-per-request.ts --driver postgres\`.

## Targets (issue 12)

${targetLines(results).join('\n')}

${beforeAfterSection(results)}

## Latency by workload

${sections.join('\n\n')}

## Floors

What decrypting the user's records costs with node:crypto on this machine, for comparison with search and read-all: the *bytes floor* is one AES-128-CBC decryption plus one HMAC-SHA256 pass over all the records' plaintext in one buffer (what the bytes cost); the *token floor* is \`fernetDecrypt\` (src/crypto/fernet.ts) of every record's own token once (what one token per record costs: base64, a MAC and a decipher per record). Medians of at least 15 runs spread over at least 2 s.

${floorsTable(results)}

## Throughput${results.throughputSize ? ` at ${formatCount(results.throughputSize)} records` : ''}

MCP \`tools/call\` over HTTP (stateless JSON-RPC POSTs to \`/mcp\`, as an MCP client sends them) from autocannon with concurrent connections, one server under load at a time. One run is a noisy sample on this machine, so each tool runs in rounds: every server once a round, in an order that rotates from round to round, and a row is the server's median round (its latencies and requests too); the error and parsed-body columns count every round. \`recall\` rounds come first (so they search the seeded records), then \`remember\` rounds, whose memories the same user keeps: each remember round starts a few thousand memories larger. Every body is checked for a JSON-RPC error or \`isError\`; one in 50 is parsed in full.

${results.throughput.length ? throughputTable(results) : '(skipped)'}

## OAuth (bench/oauth.ts)

In process, on SQLite: the sign-in flow, a token refresh, and the same \`recall\` called with an OAuth access token and with an API key, alternating.

${oauthSection(results.oauth)}

## Crypto micro-benchmarks (bench/crypto.ts)

${cryptoBenchTable(results.crypto)}

## Noise

The machine has ${results.machine.cores} cores, shared by our servers${results.baseline ? ' (now and before: an idle one costs nothing)' : ''}, the reference server, PostgreSQL, the benchmark client (the MCP SDK clients and autocannon all run in the one \`bench/run.ts\` process) and whatever else runs on it (other engineers' test runs; see the load average above). Alternating the servers call by call makes a busy moment cost every side alike, so the ratios are steadier than the absolute numbers; p99 is the slowest 1% of calls (with fewer than 100 calls, the slowest one) and mostly shows interference. Groups of quick calls keep going for at least ${results.minSeconds} s, so a short burst of load from elsewhere cannot cover all their samples. Throughput is bounded by the 2 cores being shared between autocannon and the server; a dedicated load generator would measure more. The reference's memory.jsonl is kept on tmpfs (/dev/shm): on the shared disk its whole-file rewrites would add writeback to our fsyncs, which a user running only one of the two would not see (this favours the reference slightly, if at all, since it never fsyncs).
`;
}

/** Per operation of ours: [SQLite, PostgreSQL] colours, the second a darker shade of the first. */
const OUR_COLORS: Record<string, [string, string]> = {
  remember: ['#1b9e77', '#0b5e47'],
  create_entities: ['#d95f02', '#8c3d00'],
  recall: ['#1b9e77', '#0b5e47'],
  search_nodes: ['#d95f02', '#8c3d00'],
  read_graph: ['#d95f02', '#8c3d00'],
  list_memories: ['#1b9e77', '#0b5e47'],
  'read_graph page': ['#7570b3', '#3f3a7a'],
  'list_memories page': ['#e7298a', '#9c1258'],
  open_nodes: ['#7570b3', '#3f3a7a'],
  'search_nodes none': ['#e7298a', '#9c1258'],
};

function colorOf(op: OperationResult): string {
  if (!op.driver) return '#444';
  const pair = OUR_COLORS[op.id.slice(op.driver.length + 1)];
  return pair ? pair[op.driver === 'postgres' ? 1 : 0] : '#444';
}

export function benchmarksSvg(results: BenchResults): string {
  const operations = new Map(results.sizes.flatMap((r) => r.operations.filter(isNowOrReference).map((o) => [o.id, o] as const)));
  const panels = (['write', 'search', 'read'] as Group[]).map((group) => ({
    title: GROUP_TITLES[group],
    series: [...operations.values()]
      .filter((o) => o.group === group)
      .map((op): Series => ({
        label: op.id,
        dashed: op.side === 'reference',
        color: colorOf(op),
        points: results.sizes.flatMap((r) => {
          const found = find(r, op.id);
          return found ? [{ x: r.size, y: found.medianMs }] : [];
        }),
      })),
  }));
  return lineChartSvg('Median latency per MCP call: ours on SQLite (solid) and PostgreSQL (solid, darker) vs reference server-memory (dashed)', `${machineLine(results.machine)} · ${results.date.toISOString().slice(0, 10)}`, panels);
}
