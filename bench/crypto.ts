// Cost of the crypto on the request path, measured on this machine:
// HKDF derive of K (every API-key request), Fernet encrypt and decrypt of a
// 1 KiB record, argon2id hash and verify (account creation and log-in).
//
//   npx tsx bench/crypto.ts          prints a markdown table
//   import { runCryptoBench }        from bench/run.ts
import { randomBytes, randomUUID } from 'node:crypto';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { fernetDecrypt, fernetEncrypt } from '../src/crypto/fernet.ts';
import { deriveDataKey, generateApiKey } from '../src/crypto/keys.ts';
import { PASSWORD_HASH_PARAMS, hashPassword, verifyPassword } from '../src/crypto/password.ts';

export interface Row {
  operation: string;
  iterations: number;
  /** Milliseconds. */
  medianMs: number;
  p99Ms: number;
  meanMs: number;
  /** Operations per second on one core, from the median. */
  opsPerSecond: number;
}

interface Case {
  operation: string;
  warmup: number;
  iterations: number;
  run: () => unknown;
}

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

async function measure({ operation, warmup, iterations, run }: Case): Promise<Row> {
  for (let i = 0; i < warmup; i++) await run();
  const samples = new Array<number>(iterations);
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    await run();
    samples[i] = Number(process.hrtime.bigint() - start) / 1e6;
  }
  samples.sort((a, b) => a - b);
  const medianMs = percentile(samples, 50);
  return {
    operation,
    iterations,
    medianMs,
    p99Ms: percentile(samples, 99),
    meanMs: samples.reduce((sum, x) => sum + x, 0) / iterations,
    opsPerSecond: 1000 / medianMs,
  };
}

/**
 * Run every case one after another (never concurrently, so they do not
 * compete for cores). About 5-10 s on a small VM, most of it argon2id.
 */
export async function runCryptoBench(): Promise<Row[]> {
  const apiKey = generateApiKey();
  const userId = randomUUID();
  const k = deriveDataKey(apiKey, userId);
  const record = randomBytes(1024);
  const token = fernetEncrypt(k, record);
  const password = 'correct horse battery staple';
  const phc = await hashPassword(password);
  const { memoryCost: m, timeCost: t, parallelism: p } = PASSWORD_HASH_PARAMS;

  // The results are kept in a sink so no call can be optimised away.
  let sink = 0;
  const cases: Case[] = [
    { operation: 'HKDF-SHA256 derive K (deriveDataKey)', warmup: 5_000, iterations: 50_000, run: () => (sink ^= deriveDataKey(apiKey, userId)[0]!) },
    { operation: 'Fernet encrypt, 1 KiB record', warmup: 5_000, iterations: 50_000, run: () => (sink ^= fernetEncrypt(k, record).length) },
    { operation: 'Fernet decrypt, 1 KiB record', warmup: 5_000, iterations: 50_000, run: () => (sink ^= fernetDecrypt(k, token)[0]!) },
    { operation: `argon2id hashPassword (m=${m},t=${t},p=${p})`, warmup: 10, iterations: 400, run: async () => (sink ^= (await hashPassword(password)).length) },
    { operation: `argon2id verifyPassword (m=${m},t=${t},p=${p})`, warmup: 10, iterations: 400, run: async () => (sink ^= Number(await verifyPassword(phc, password))) },
  ];
  const rows: Row[] = [];
  for (const c of cases) rows.push(await measure(c));
  if (sink === Number.MIN_SAFE_INTEGER) console.log(sink);
  return rows;
}

const fmt = (ms: number): string => (ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`);

export function cryptoBenchTable(rows: Row[]): string {
  const lines = [
    '| operation | iterations | median | p99 | mean | ops/s (1 core, median) |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.operation} | ${r.iterations} | ${fmt(r.medianMs)} | ${fmt(r.p99Ms)} | ${fmt(r.meanMs)} | ${Math.round(r.opsPerSecond).toLocaleString('en-US')} |`),
  ];
  return lines.join('\n');
}

export function machineLine(): string {
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `Node ${process.version}, ${os.platform()} ${os.arch()}, ${cpu} x${os.availableParallelism()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = process.hrtime.bigint();
  const rows = await runCryptoBench();
  console.log(`## Crypto micro-benchmarks\n\n${machineLine()}\n\n${cryptoBenchTable(rows)}\n`);
  console.log(`(took ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s)`);
}
