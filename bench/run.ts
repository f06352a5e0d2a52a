// `npm run bench`: our server, on SQLite and on PostgreSQL side by side, and
// the same server as it was before issue 12 (an earlier revision, on both
// drivers too), against the reference MCP memory server and the crypto
// floors, in one run, written to docs/benchmarks.md, docs/benchmarks.svg and
// docs/benchmarks.json. About 15 minutes on a 2-core machine.
//
// Environment overrides for quicker runs:
//   BENCH_DRIVERS=postgres         the stores our server runs on, each its own server process
//                                  (default sqlite,postgres; PostgreSQL in a scratch database
//                                  from ANAMNESIS_TEST_DATABASE_URL or the local default)
//   BENCH_SIZES=1000               record counts of our server (default 1000,10000,100000)
//   BENCH_BASELINE_REV=abc1234     the "before" revision, checked out and installed under
//                                  .tmp/bench-baseline/ and kept for the next run (default
//                                  d424837, the last commit before issue 12's work)
//   BENCH_BASELINE_SIZES=1000      record counts of the before server (default: BENCH_SIZES;
//                                  none skips it)
//   BENCH_REFERENCE_SIZES=1000     record counts of the reference, which rewrites its whole file
//                                  on every write (default 1000,5000,10000; none for no reference)
//   BENCH_READ_ALL_MAX=10000       largest size at which every page is read (default 10000)
//   BENCH_ITERATIONS=20            calls per operation for write and search (default 50;
//                                  read-all, slower, gets 1/2 of that, 3/4 if no size exceeds 1,000)
//   BENCH_MIN_SECONDS=1            a group whose calls are quick runs on this long, up to 20 times
//                                  its calls (default 5)
//   BENCH_OTHER_USERS=5            other users sharing the server (default 20)
//   BENCH_THROUGHPUT_SECONDS=5     per tool and round, 0 skips it (default 15)
//   BENCH_THROUGHPUT_ROUNDS=1      rounds per tool, every server once a round; a row is its median (default 3)
//   BENCH_CONNECTIONS=50           concurrent clients for throughput (default 50)
//   BENCH_ARGON2_ITERATIONS=100    argon2id calls in the crypto table (default 400)
//   BENCH_OAUTH_CALLS=100          token refreshes and recalls in the OAuth section (default 300; 0 skips it)
//   BENCH_E2E_SIZES=1000           sizes of the end-to-end local MCP server's run (default 1000,10000; none skips it)
//   BENCH_OUT_DIR=/tmp/b           where benchmarks.md and .svg go (default docs/)
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { meanAnswerBytes, SIZED_TOOLS } from './answer-size.ts';
import { runCryptoBench } from './crypto.ts';
import { type E2eLocalRow, e2eLocalMarkdown, runE2eLocalBench } from './e2e-local.ts';
import { type Floors, measureFloors } from './floors.ts';
import { type Driver, ourId, type OurSide, runLatency, type SizeClients } from './latency.ts';
import { type Baseline, DEFAULT_BASELINE_REV, prepareBaseline } from './lib/baseline.ts';
import { makeDataset, memoryJsonl } from './lib/data.ts';
import { describeMachine, loadAverage } from './lib/machine.ts';
import { connectOurs, connectReference } from './lib/mcp.ts';
import { type OAuthBench, runOAuthBench } from './oauth.ts';
import { createScratchDatabase } from './lib/postgres.ts';
import { type Account, importDataset, type OurServer, REPO_ROOT, signUp, startOurServer } from './lib/server.ts';
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

const drivers = (process.env.BENCH_DRIVERS || 'sqlite,postgres').split(',').map((d) => d.trim()) as Driver[];
if (drivers.length === 0 || drivers.some((d) => d !== 'sqlite' && d !== 'postgres')) throw new Error('BENCH_DRIVERS must list sqlite, postgres or both');
const ourSizes = envSizes('BENCH_SIZES', '1000,10000,100000');
const baselineRev = process.env.BENCH_BASELINE_REV || DEFAULT_BASELINE_REV;
const baselineSizes = envSizes('BENCH_BASELINE_SIZES', ourSizes.join(',') || 'none');
const referenceSizes = envSizes('BENCH_REFERENCE_SIZES', '1000,5000,10000');
const sizes = [...new Set([...ourSizes, ...baselineSizes, ...referenceSizes])].sort((a, b) => a - b);
const readAllMax = envNumber('BENCH_READ_ALL_MAX', 10_000);
const iterations = envNumber('BENCH_ITERATIONS', 50);
const minSeconds = envNumber('BENCH_MIN_SECONDS', 5);
const otherUsers = envNumber('BENCH_OTHER_USERS', 20);
const otherUserRecords = 300;
const throughputSeconds = envNumber('BENCH_THROUGHPUT_SECONDS', 15);
const throughputRounds = Math.max(1, envNumber('BENCH_THROUGHPUT_ROUNDS', 3));
const connections = envNumber('BENCH_CONNECTIONS', 50);
const argon2Iterations = envNumber('BENCH_ARGON2_ITERATIONS', 400);
const oauthCalls = envNumber('BENCH_OAUTH_CALLS', 300);
const e2eSizes = envSizes('BENCH_E2E_SIZES', '1000,10000');
const outDir = path.resolve(process.env.BENCH_OUT_DIR ?? path.join(REPO_ROOT, 'docs'));

const log = (message: string) => process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${message}\n`);
const started = performance.now();
const loadBefore = loadAverage();

log(`crypto micro-benchmarks (load average ${loadBefore})`);
const crypto = await runCryptoBench(argon2Iterations);

let oauth: OAuthBench | null = null;
if (oauthCalls > 0) {
  log(`OAuth flow, refresh and token-authenticated calls (${oauthCalls} each)`);
  oauth = await runOAuthBench(oauthCalls);
}

/** One of our server processes: now or at the baseline revision, on one driver, at the sizes that side runs. */
interface Running {
  side: OurSide;
  driver: Driver;
  server: OurServer;
  sizes: number[];
}
const running: Running[] = [];
const scratches: Array<Awaited<ReturnType<typeof createScratchDatabase>>> = [];
let baseline: Baseline | null = null;
// The reference's file lives in memory (tmpfs) where there is one: its whole-file rewrites
// would otherwise share the disk with our fsyncs and slow our writes by their writeback.
const referenceDir = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'anamnesis-bench-reference-'));
const sizeResults: SizeResult[] = [];
// Throughput runs at 10,000 records (the issue's size) when measured, else at the largest.
const throughputSize = ourSizes.includes(10_000) ? 10_000 : ourSizes[ourSizes.length - 1]!;
const throughputAccounts = new Map<Running, Account>();
const throughput: ThroughputRow[] = [];
let e2eLocal: E2eLocalRow[] = [];
const sideName = (side: OurSide) => (side === 'before' ? `the server before (${baselineRev})` : 'our server');
try {
  if (baselineSizes.length > 0) baseline = prepareBaseline(baselineRev, log);
  const sides = [{ side: 'ours' as const, sizes: ourSizes }, ...(baseline ? [{ side: 'before' as const, sizes: baselineSizes, root: baseline.root }] : [])];
  for (const { side, sizes: sideSizes, ...checkout } of sides) {
    for (const driver of drivers) {
      // Each process its own store: a scratch database on PostgreSQL, a temporary folder on SQLite.
      const scratch = driver === 'postgres' ? await createScratchDatabase() : null;
      if (scratch) scratches.push(scratch);
      const server = await startOurServer({ ...(scratch ? { databaseUrl: scratch.url } : {}), ...checkout });
      running.push({ side, driver, server, sizes: sideSizes });
      log(`${sideName(side)} on ${driver} is pid ${server.pid} at ${server.url}; seeding ${otherUsers} other users with ${otherUserRecords} records each`);
      for (let u = 0; u < otherUsers; u++) {
        const other = await signUp(server.url, `other-${u}`);
        await importDataset(server.url, other.apiKey, makeDataset(otherUserRecords, 1000 + u));
      }
    }
  }

  const opened: SizeClients[] = [];
  const floors = new Map<number, Floors>();
  const answerBytes = new Map<number, Record<string, number>>();
  try {
    for (const size of sizes) {
      const dataset = makeDataset(size, size);
      const openNames = Array.from({ length: 5 }, (_, i) => dataset.entities[Math.floor((i * dataset.entities.length) / 5)]!.name);
      const entry: SizeClients = { size, ours: {}, before: {}, readAll: size <= readAllMax, graphRecords: dataset.entities.length + dataset.relations.length, memories: dataset.memories.length, openNames };
      opened.push(entry);
      answerBytes.set(size, {});
      for (const r of running.filter((r) => r.sizes.includes(size))) {
        const account = await signUp(r.server.url, `user-${size}`);
        const seedingStarted = performance.now();
        await importDataset(r.server.url, account.apiKey, dataset);
        log(`${size} records on ${r.driver}: seeded ${sideName(r.side)} through the import (the vault's bulk path) in ${((performance.now() - seedingStarted) / 1000).toFixed(1)} s`);
        for (const tool of SIZED_TOOLS) answerBytes.get(size)![ourId(r.side, r.driver, tool)] = await meanAnswerBytes(r.server.url, account.apiKey, tool);
        entry[r.side][r.driver] = await connectOurs(r.server.url, account.apiKey);
        if (size === throughputSize) throughputAccounts.set(r, account);
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
      // The floors block this process for up to a minute: let fetch see the
      // keep-alive connections servers closed meanwhile, or the next call is
      // sent on one and fails with "other side closed".
      await sleep(1000);
    }
    log('alternating calls across servers, drivers and sizes');
    const readIterations = Math.max(5, Math.round(sizes.some((n) => n > 1000) ? iterations / 2 : (iterations * 3) / 4));
    const operations = await runLatency(opened, { warmup: 5, minSeconds, write: iterations, search: iterations, read: readIterations });
    for (const size of sizes) sizeResults.push({ size, operations: operations.filter((o) => o.size === size), floors: floors.get(size)!, answerBytes: answerBytes.get(size)! });
  } finally {
    for (const { ours, before, reference } of opened) {
      for (const client of [...Object.values(ours), ...Object.values(before)]) await client.close();
      await reference?.close();
    }
  }

  if (throughputSeconds > 0) {
    const loaded = [...throughputAccounts].map(([r, account]) => ({ side: r.side, driver: r.driver, url: r.server.url, apiKey: account.apiKey }));
    log(`throughput at ${throughputSize} records of ${loaded.map((s) => `${sideName(s.side)} on ${s.driver}`).join(', ')}: ${connections} clients, ${throughputRounds} rounds of ${throughputSeconds} s per tool`);
    throughput.push(...(await runThroughput(loaded, { connections, durationSeconds: throughputSeconds, rounds: throughputRounds })));
  }

  if (e2eSizes.length > 0) {
    log(`end-to-end local MCP server at ${e2eSizes.join(', ')} records`);
    // On the first driver's server: the local server's own work does not depend on the server's store.
    const server = running.find((r) => r.side === 'ours' && r.driver === drivers[0])!.server;
    e2eLocal = await runE2eLocalBench({ url: server.url, sizes: e2eSizes, calls: iterations, log });
  }
} finally {
  for (const r of running) await r.server.stop();
  for (const scratch of scratches) await scratch.drop();
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
  drivers,
  throughput,
  oauth,
  crypto,
  e2eLocal,
  baseline: baseline ? { rev: baseline.rev, commit: baseline.commit, sizes: baselineSizes } : null,
};
const markdown = benchmarksMarkdown(results) + (e2eLocal.length ? `\n${e2eLocalMarkdown(e2eLocal)}` : '');
const name = 'benchmarks';
writeFileSync(path.join(outDir, `${name}.md`), markdown);
writeFileSync(path.join(outDir, `${name}.svg`), benchmarksSvg(results));
writeFileSync(path.join(outDir, `${name}.json`), `${JSON.stringify(results, null, 1)}\n`);
process.stdout.write(markdown);
log(`wrote ${path.join(outDir, name)}.md, .svg and .json`);
