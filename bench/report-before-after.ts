// The "Before and after (issue 12)" section of docs/benchmarks.md: every
// operation our server ran both now and at the baseline revision, at each
// size, median and p99 on each driver with the ratio now ÷ before, the answer
// sizes of the search tools, and throughput both ways; all from one run.
import { SIZED_TOOLS } from './answer-size.ts';
import { type Driver, DRIVER_NAMES, type OperationResult, ourId } from './latency.ts';
import { formatCount, formatMs, formatRatio, markdownTable } from './lib/markdown.ts';
import type { BenchResults, SizeResult } from './report.ts';
import type { ThroughputRow } from './throughput.ts';

interface Row {
  result: SizeResult;
  /** The operation's name without side and driver, e.g. "read_graph page". */
  name: string;
  /** One of its measurements, for the tool and the note. */
  sample: OperationResult;
}

const nameOf = (op: OperationResult) => op.id.slice(ourId('before', op.driver!, '').length);

/** One row per operation the baseline ran at a size, in the order they were measured. */
function rows(results: BenchResults): Row[] {
  return results.sizes.flatMap((result) => {
    const seen = new Map<string, OperationResult>();
    for (const op of result.operations) if (op.side === 'before' && !seen.has(nameOf(op))) seen.set(nameOf(op), op);
    return [...seen].map(([name, sample]) => ({ result, name, sample }));
  });
}

const medianAndP99 = (op: OperationResult | undefined) => (op ? `${formatMs(op.medianMs)} / ${formatMs(op.p99Ms)}` : '—');

function formatBytes(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 2 ** 20 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 2 ** 20).toFixed(2)} MiB`;
}

/** Mean answer bytes before → now, for the search tools (the same data on every driver: the first driver's). */
function answerCell(row: Row, driver: Driver): string {
  if (!(SIZED_TOOLS as readonly string[]).includes(row.name)) return '—';
  const before = row.result.answerBytes?.[ourId('before', driver, row.name)];
  const now = row.result.answerBytes?.[ourId('ours', driver, row.name)];
  return before !== undefined && now !== undefined ? `${formatBytes(before)} → ${formatBytes(now)}` : '—';
}

function latencyTable(results: BenchResults): string {
  const find = (row: Row, id: string) => row.result.operations.find((o) => o.id === id);
  return markdownTable<Row>([
    { header: 'records', align: 'right', cell: (r) => formatCount(r.result.size) },
    { header: 'tool', cell: (r) => `\`${r.sample.tool}\` (${r.sample.note})` },
    { header: 'answer, before → now', align: 'right', cell: (r) => answerCell(r, results.drivers[0]!) },
    ...results.drivers.flatMap((driver) => [
      { header: `${DRIVER_NAMES[driver]} before: median / p99`, align: 'right' as const, cell: (r: Row) => medianAndP99(find(r, ourId('before', driver, r.name))) },
      { header: `${DRIVER_NAMES[driver]} now: median / p99`, align: 'right' as const, cell: (r: Row) => medianAndP99(find(r, ourId('ours', driver, r.name))) },
      {
        header: `${DRIVER_NAMES[driver]} now ÷ before`,
        align: 'right' as const,
        cell: (r: Row) => {
          const before = find(r, ourId('before', driver, r.name));
          const now = find(r, ourId('ours', driver, r.name));
          return before && now ? formatRatio(now.medianMs / before.medianMs) : '—';
        },
      },
    ]),
  ], rows(results));
}

interface ThroughputPair {
  before: ThroughputRow;
  now: ThroughputRow;
}

function throughputTable(results: BenchResults): string {
  const pairs = results.throughput.flatMap((now): ThroughputPair[] => {
    const before = now.side === 'ours' ? results.throughput.find((r) => r.side === 'before' && r.driver === now.driver && r.tool === now.tool) : undefined;
    return before ? [{ before, now }] : [];
  });
  if (pairs.length === 0) return '';
  const load = (r: ThroughputRow) => `${formatCount(r.requestsPerSecond)} req/s, p99 ${formatCount(r.p99Ms)} ms${r.failures ? `, ${r.failures} failures` : ''}`;
  return `\n\nThroughput at ${formatCount(results.throughputSize ?? 0)} records (${pairs[0]!.now.connections} clients, each server's median of ${pairs[0]!.now.roundRates.length} rounds of ${pairs[0]!.now.durationSeconds} s per tool; the throughput section below has every column and round):\n\n${markdownTable<ThroughputPair>([
    { header: 'store', cell: (p) => DRIVER_NAMES[p.now.driver] },
    { header: 'tool', cell: (p) => `\`${p.now.tool}\`` },
    { header: 'before', align: 'right', cell: (p) => load(p.before) },
    { header: 'now', align: 'right', cell: (p) => load(p.now) },
    { header: 'now ÷ before', align: 'right', cell: (p) => formatRatio(p.now.requestsPerSecond / p.before.requestsPerSecond) },
  ], pairs)}`;
}

export function beforeAfterSection(results: BenchResults): string {
  const baseline = results.baseline;
  if (!baseline) return '## Before and after (issue 12)\n\n(skipped: `BENCH_BASELINE_SIZES=none`)';
  const counts = baseline.sizes.map(formatCount);
  const sizes = counts.length > 1 ? `${counts.slice(0, -1).join(', ')} and ${counts.at(-1)}` : counts.join('');
  return `## Before and after (issue 12)

*Before* is our server at commit \`${baseline.commit.slice(0, 12)}\` (\`BENCH_BASELINE_REV\`, by default d424837: the last commit on main before issue 12's work, with the Node 26 runtime already in place and the old design, in which every \`recall\`, \`search_nodes\` and \`read_graph\` page decrypts and parses the user's whole index). It runs from its own checkout (a git worktree under \`.tmp/bench-baseline/\`, its dependencies installed from its own lock file), started exactly as the server now (the same Node, environment and rate limits off), one process per driver with its own store (a temporary SQLite folder, a PostgreSQL scratch database), seeded the same way (the same other users, the same records through its \`POST /api/v1/import\`), at ${sizes} records. Both take the same calls with the same arguments (what a client sends: \`search_nodes\` gets just \`query\`), interleaved in the same random order with every other server of this run, so busy moments cost both alike. *now ÷ before* below 1 means faster now.

The *answer* column is the mean size of the JSON-RPC answer over the benchmark's queries, before → now: where the two differ they answered different amounts (since issue 12 \`search_nodes\` answers a first page with \`next_cursor\`; before, every match), and their times compare different work.

${latencyTable(results)}${throughputTable(results)}`;
}
