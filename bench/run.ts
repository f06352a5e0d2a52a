// `npm run bench`: our server against the reference MCP memory server and
// the crypto floors, in one run, written to docs/benchmarks.md and
// docs/benchmarks.svg. About 2-3 minutes on a 2-core machine.
//
// Environment overrides for quicker runs:
//   BENCH_SIZES=1000               record counts (default 1000,10000)
//   BENCH_ITERATIONS=20            calls per operation for write and search (default 50;
//                                  read-all, slower, gets 1/2 of that, 3/4 if no size exceeds 1,000)
//   BENCH_MIN_SECONDS=1            a group whose calls are quick runs on this long, up to 20 times
//                                  its calls (default 5)
//   BENCH_OTHER_USERS=5            other users sharing the server (default 20)
//   BENCH_THROUGHPUT_SECONDS=5     per tool, 0 skips it (default 15)
//   BENCH_CONNECTIONS=50           concurrent clients for throughput (default 50)
//   BENCH_ARGON2_ITERATIONS=100    argon2id calls in the crypto table (default 400)
//   BENCH_OUT_DIR=/tmp/b           where benchmarks.md and .svg go (default docs/)
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCryptoBench } from './crypto.ts';
import { type Floors, measureFloors } from './floors.ts';
import { runLatency, type SizeClients } from './latency.ts';
import { makeDataset, memoryJsonl } from './lib/data.ts';
import { describeMachine, loadAverage } from './lib/machine.ts';
import { connectOurs, connectReference } from './lib/mcp.ts';
import { type Account, importDataset, REPO_ROOT, signUp, startOurServer } from './lib/server.ts';
import { type BenchResults, benchmarksMarkdown, benchmarksSvg, type SizeResult } from './report.ts';
import { runThroughput, type ThroughputRow } from './throughput.ts';

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}="${raw}" is not a number >= 0`);
  return value;
}

const sizes = (process.env.BENCH_SIZES ?? '1000,10000').split(',').map(Number).sort((a, b) => a - b);
if (sizes.some((n) => !Number.isInteger(n) || n < 10)) throw new Error('BENCH_SIZES must be whole numbers of at least 10, comma-separated');
const iterations = envNumber('BENCH_ITERATIONS', 50);
const minSeconds = envNumber('BENCH_MIN_SECONDS', 5);
const otherUsers = envNumber('BENCH_OTHER_USERS', 20);
const otherUserRecords = 300;
const throughputSeconds = envNumber('BENCH_THROUGHPUT_SECONDS', 15);
const connections = envNumber('BENCH_CONNECTIONS', 50);
const argon2Iterations = envNumber('BENCH_ARGON2_ITERATIONS', 400);
const outDir = path.resolve(process.env.BENCH_OUT_DIR ?? path.join(REPO_ROOT, 'docs'));

const log = (message: string) => process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${message}\n`);
const started = performance.now();
const loadBefore = loadAverage();

log(`crypto micro-benchmarks (load average ${loadBefore})`);
const crypto = await runCryptoBench(argon2Iterations);

const server = await startOurServer();
// The reference's file lives in memory (tmpfs) where there is one: its whole-file rewrites
// would otherwise share the disk with our fsyncs and slow our writes by their writeback.
const referenceDir = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'anamnesis-bench-reference-'));
const sizeResults: SizeResult[] = [];
let throughput: ThroughputRow[] = [];
try {
  log(`our server is pid ${server.pid} at ${server.url}; seeding ${otherUsers} other users with ${otherUserRecords} records each`);
  for (let u = 0; u < otherUsers; u++) {
    const other = await signUp(server.url, `other-${u}`);
    await importDataset(server.url, other.apiKey, makeDataset(otherUserRecords, 1000 + u));
  }

  const opened: SizeClients[] = [];
  const floors = new Map<number, Floors>();
  let largestAccount: Account | null = null;
  try {
    for (const size of sizes) {
      const dataset = makeDataset(size, size);
      const account = await signUp(server.url, `user-${size}`);
      log(`${size} records: seeding both servers, measuring the floors`);
      await importDataset(server.url, account.apiKey, dataset);
      const memoryFile = path.join(referenceDir, `memory-${size}.jsonl`);
      writeFileSync(memoryFile, memoryJsonl(dataset));
      floors.set(size, measureFloors(dataset));
      const ours = await connectOurs(server.url, account.apiKey);
      const reference = await connectReference(memoryFile);
      log(`${size} records: reference server is pid ${reference.pid}`);
      opened.push({ size, ours, reference: reference.client, graphRecords: dataset.entities.length + dataset.relations.length, memories: dataset.memories.length });
      largestAccount = account;
    }
    log('alternating calls across servers and sizes');
    const readIterations = Math.max(5, Math.round(sizes.some((n) => n > 1000) ? iterations / 2 : (iterations * 3) / 4));
    const operations = await runLatency(opened, { warmup: 5, minSeconds, write: iterations, search: iterations, read: readIterations });
    for (const size of sizes) sizeResults.push({ size, operations: operations.filter((o) => o.size === size), floors: floors.get(size)! });
  } finally {
    for (const { ours, reference } of opened) {
      await ours.close();
      await reference.close();
    }
  }

  if (throughputSeconds > 0 && largestAccount) {
    log(`throughput at ${sizes[sizes.length - 1]} records: ${connections} clients, ${throughputSeconds} s per tool`);
    throughput = await runThroughput({ url: server.url, apiKey: largestAccount.apiKey, connections, durationSeconds: throughputSeconds });
  }
} finally {
  await server.stop();
  rmSync(referenceDir, { recursive: true, force: true });
}

const results: BenchResults = {
  date: new Date(),
  command: [...Object.entries(process.env).filter(([name]) => name.startsWith('BENCH_')).map(([name, value]) => `${name}=${value}`), 'npm run bench'].join(' '),
  machine: describeMachine(),
  loadBefore,
  loadAfter: loadAverage(),
  durationSeconds: (performance.now() - started) / 1000,
  otherUsers,
  minSeconds,
  otherUserRecords,
  sizes: sizeResults,
  throughputSize: throughput.length ? sizes[sizes.length - 1]! : null,
  throughput,
  crypto,
};
const markdown = benchmarksMarkdown(results);
writeFileSync(path.join(outDir, 'benchmarks.md'), markdown);
writeFileSync(path.join(outDir, 'benchmarks.svg'), benchmarksSvg(results));
process.stdout.write(markdown);
log(`wrote ${path.join(outDir, 'benchmarks.md')} and benchmarks.svg`);
