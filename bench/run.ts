// `npm run bench`: our server against the reference MCP memory server and
// the crypto floors, in one run, written to docs/benchmarks.md and
// docs/benchmarks.svg (docs/benchmarks-postgres.* with BENCH_DRIVER=postgres).
// About 10 minutes on a 2-core machine.
//
// Environment overrides for quicker runs:
//   BENCH_DRIVER=postgres          our server on a scratch PostgreSQL database (default sqlite)
//   BENCH_SIZES=1000               record counts of our server (default 1000,10000,100000)
//   BENCH_REFERENCE_SIZES=1000     record counts of the reference, which rewrites its whole file
//                                  on every write (default 1000,5000,10000; none for no reference)
//   BENCH_READ_ALL_MAX=10000       largest size at which every page is read (default 10000)
//   BENCH_ITERATIONS=20            calls per operation for write and search (default 50;
//                                  read-all, slower, gets 1/2 of that, 3/4 if no size exceeds 1,000)
//   BENCH_MIN_SECONDS=1            a group whose calls are quick runs on this long, up to 20 times
//                                  its calls (default 5)
//   BENCH_OTHER_USERS=5            other users sharing the server (default 20)
//   BENCH_THROUGHPUT_SECONDS=5     per tool, 0 skips it (default 15)
//   BENCH_CONNECTIONS=50           concurrent clients for throughput (default 50)
//   BENCH_ARGON2_ITERATIONS=100    argon2id calls in the crypto table (default 400)
//   BENCH_E2E_SIZES=1000           sizes of the end-to-end local MCP server's run (default 1000,10000; none skips it)
//   BENCH_OUT_DIR=/tmp/b           where benchmarks.md and .svg go (default docs/)
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCryptoBench } from './crypto.ts';
import { type E2eLocalRow, e2eLocalMarkdown, runE2eLocalBench } from './e2e-local.ts';
import { type Floors, measureFloors } from './floors.ts';
import { runLatency, type SizeClients } from './latency.ts';
import { makeDataset, memoryJsonl } from './lib/data.ts';
import { describeMachine, loadAverage } from './lib/machine.ts';
import { connectOurs, connectReference } from './lib/mcp.ts';
import { createScratchDatabase } from './lib/postgres.ts';
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

function envSizes(name: string, fallback: string): number[] {
  const raw = process.env[name] || fallback;
  if (raw === 'none') return [];
  const sizes = raw.split(',').map(Number).sort((a, b) => a - b);
  if (sizes.some((n) => !Number.isInteger(n) || n < 10)) throw new Error(`${name} must be whole numbers of at least 10, comma-separated`);
  return sizes;
}

const driver = process.env.BENCH_DRIVER === 'postgres' ? 'postgres' : 'sqlite';
const ourSizes = envSizes('BENCH_SIZES', '1000,10000,100000');
const referenceSizes = envSizes('BENCH_REFERENCE_SIZES', '1000,5000,10000');
const sizes = [...new Set([...ourSizes, ...referenceSizes])].sort((a, b) => a - b);
const readAllMax = envNumber('BENCH_READ_ALL_MAX', 10_000);
const iterations = envNumber('BENCH_ITERATIONS', 50);
const minSeconds = envNumber('BENCH_MIN_SECONDS', 5);
const otherUsers = envNumber('BENCH_OTHER_USERS', 20);
const otherUserRecords = 300;
const throughputSeconds = envNumber('BENCH_THROUGHPUT_SECONDS', 15);
const connections = envNumber('BENCH_CONNECTIONS', 50);
const argon2Iterations = envNumber('BENCH_ARGON2_ITERATIONS', 400);
const e2eSizes = envSizes('BENCH_E2E_SIZES', '1000,10000');
const outDir = path.resolve(process.env.BENCH_OUT_DIR ?? path.join(REPO_ROOT, 'docs'));

const log = (message: string) => process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${message}\n`);
const started = performance.now();
const loadBefore = loadAverage();

log(`crypto micro-benchmarks (load average ${loadBefore})`);
const crypto = await runCryptoBench(argon2Iterations);

const scratch = driver === 'postgres' ? await createScratchDatabase() : null;
const server = await startOurServer(scratch ? { databaseUrl: scratch.url } : {});
// The reference's file lives in memory (tmpfs) where there is one: its whole-file rewrites
// would otherwise share the disk with our fsyncs and slow our writes by their writeback.
const referenceDir = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'anamnesis-bench-reference-'));
const sizeResults: SizeResult[] = [];
// Throughput runs at 10,000 records (the size) when measured, else at the largest.
const throughputSize = ourSizes.includes(10_000) ? 10_000 : ourSizes[ourSizes.length - 1]!;
let throughputAccount: Account | null = null;
let throughput: ThroughputRow[] = [];
let e2eLocal: E2eLocalRow[] = [];
try {
  log(`our server is pid ${server.pid} at ${server.url}; seeding ${otherUsers} other users with ${otherUserRecords} records each`);
  for (let u = 0; u < otherUsers; u++) {
    const other = await signUp(server.url, `other-${u}`);
    await importDataset(server.url, other.apiKey, makeDataset(otherUserRecords, 1000 + u));
  }

  const opened: SizeClients[] = [];
  const floors = new Map<number, Floors>();
  try {
    for (const size of sizes) {
      const dataset = makeDataset(size, size);
      const entry: SizeClients = { size, readAll: size <= readAllMax, graphRecords: dataset.entities.length + dataset.relations.length, memories: dataset.memories.length };
      if (ourSizes.includes(size)) {
        const account = await signUp(server.url, `user-${size}`);
        log(`${size} records: seeding our server through the import (the vault's bulk path)`);
        await importDataset(server.url, account.apiKey, dataset);
        entry.ours = await connectOurs(server.url, account.apiKey);
        if (size === throughputSize) throughputAccount = account;
      }
      if (referenceSizes.includes(size)) {
        const memoryFile = path.join(referenceDir, `memory-${size}.jsonl`);
        writeFileSync(memoryFile, memoryJsonl(dataset));
        const reference = await connectReference(memoryFile);
        log(`${size} records: reference server is pid ${reference.pid}`);
        entry.reference = reference.client;
      }
      log(`${size} records: measuring the floors`);
      floors.set(size, measureFloors(dataset));
      opened.push(entry);
    }
    log('alternating calls across servers and sizes');
    const readIterations = Math.max(5, Math.round(sizes.some((n) => n > 1000) ? iterations / 2 : (iterations * 3) / 4));
    const operations = await runLatency(opened, { warmup: 5, minSeconds, write: iterations, search: iterations, read: readIterations });
    for (const size of sizes) sizeResults.push({ size, operations: operations.filter((o) => o.size === size), floors: floors.get(size)! });
  } finally {
    for (const { ours, reference } of opened) {
      await ours?.close();
      await reference?.close();
    }
  }

  if (throughputSeconds > 0 && throughputAccount) {
    log(`throughput at ${throughputSize} records: ${connections} clients, ${throughputSeconds} s per tool`);
    throughput = await runThroughput({ url: server.url, apiKey: throughputAccount.apiKey, connections, durationSeconds: throughputSeconds });
  }

  if (e2eSizes.length > 0) {
    log(`end-to-end local MCP server at ${e2eSizes.join(', ')} records`);
    e2eLocal = await runE2eLocalBench({ url: server.url, sizes: e2eSizes, calls: iterations, log });
  }
} finally {
  await server.stop();
  await scratch?.drop();
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
  throughputSize: throughput.length ? throughputSize : null,
  driver,
  throughput,
  crypto,
  e2eLocal,
};
const markdown = benchmarksMarkdown(results) + (e2eLocal.length ? `\n${e2eLocalMarkdown(e2eLocal)}` : '');
const name = driver === 'postgres' ? 'benchmarks-postgres' : 'benchmarks';
writeFileSync(path.join(outDir, `${name}.md`), markdown);
writeFileSync(path.join(outDir, `${name}.svg`), benchmarksSvg(results));
writeFileSync(path.join(outDir, `${name}.json`), `${JSON.stringify(results, null, 1)}\n`);
process.stdout.write(markdown);
log(`wrote ${path.join(outDir, name)}.md, .svg and .json`);
