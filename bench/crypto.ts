// Cost of the crypto on the request path, measured on this machine:
// HKDF derive of K (every API-key request), Fernet encrypt and decrypt of a
// 1 KiB record, argon2id hash and verify (account creation and log-in).
//
//   npx tsx bench/crypto.ts          prints a markdown table
//   import { runCryptoBench }        from bench/run.ts
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { fernetDecrypt, fernetEncrypt } from '../src/crypto/fernet.ts';
import { deriveDataKey, generateApiKey } from '../src/crypto/keys.ts';
import { PASSWORD_HASH_PARAMS, hashPassword, verifyPassword } from '../src/crypto/password.ts';
import { machineLine } from './lib/machine.ts';
import { formatCount, formatMs, markdownTable } from './lib/markdown.ts';
import { summarize, type Summary } from './lib/stats.ts';

export interface Row extends Summary {
  operation: string;
  /** Operations per second on one core, from the median. */
  opsPerSecond: number;
}

interface Case {
  operation: string;
  warmup: number;
  iterations: number;
  run: () => unknown;
}

async function measure({ operation, warmup, iterations, run }: Case): Promise<Row> {
  for (let i = 0; i < warmup; i++) await run();
  const samples = new Array<number>(iterations);
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    await run();
    samples[i] = Number(process.hrtime.bigint() - start) / 1e6;
  }
  const summary = summarize(samples);
  return { operation, ...summary, opsPerSecond: 1000 / summary.medianMs };
}

/**
 * Run every case one after another (never concurrently, so they do not
 * compete for cores). About 5-10 s on a small VM, most of it argon2id;
 * `argon2Iterations` trades precision for time.
 */
export async function runCryptoBench(argon2Iterations = 400): Promise<Row[]> {
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
    { operation: `argon2id hashPassword (m=${m},t=${t},p=${p})`, warmup: 10, iterations: argon2Iterations, run: async () => (sink ^= (await hashPassword(password)).length) },
    { operation: `argon2id verifyPassword (m=${m},t=${t},p=${p})`, warmup: 10, iterations: argon2Iterations, run: async () => (sink ^= Number(await verifyPassword(phc, password))) },
  ];
  const rows: Row[] = [];
  for (const c of cases) rows.push(await measure(c));
  if (sink === Number.MIN_SAFE_INTEGER) console.log(sink);
  return rows;
}

export function cryptoBenchTable(rows: Row[]): string {
  return markdownTable<Row>([
    { header: 'operation', cell: (r) => r.operation },
    { header: 'iterations', align: 'right', cell: (r) => formatCount(r.samples) },
    { header: 'median', align: 'right', cell: (r) => formatMs(r.medianMs) },
    { header: 'p99', align: 'right', cell: (r) => formatMs(r.p99Ms) },
    { header: 'mean', align: 'right', cell: (r) => formatMs(r.meanMs) },
    { header: 'ops/s (1 core, median)', align: 'right', cell: (r) => formatCount(r.opsPerSecond) },
  ], rows);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  const rows = await runCryptoBench();
  console.log(`## Crypto micro-benchmarks\n\n${machineLine()}\n\n${cryptoBenchTable(rows)}\n`);
  console.log(`(took ${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
