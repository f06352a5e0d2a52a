// Our service as users run it, for benchmarks: the real server process
// (test/fixtures/server-process.ts starts it, on a free loopback port) with
// rate limits off, quiet logs and a fresh data folder, and the few HTTP
// calls a benchmark needs around it (sign up, import). The same start, calls
// and seeding serve an earlier revision's checkout (lib/baseline.ts): its
// environment variables, sign-up and import endpoint are the same.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FORMAT_VERSION } from '../../src/crypto/keys.ts';
import { JSON_EXPORT_FORMAT } from '../../src/vault/transfer.ts';
import { REPO_ROOT, signUpRemote, startServer } from '../../test/fixtures/server-process.ts';
import { type Dataset, datedMemories, type MemoryInput, memoryJsonl } from './data.ts';

export { REPO_ROOT };

export interface OurServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** PostgreSQL URL; without it the server uses SQLite in the data folder. */
  databaseUrl?: string;
  /** An existing data folder to serve (kept afterwards); by default a fresh temporary one, deleted on stop. */
  dataDir?: string;
  /** The checkout to run (default this one): an earlier revision's, from prepareBaseline (lib/baseline.ts). */
  root?: string;
  /** Writes a V8 CPU profile of the server (open it in Chrome DevTools) to this file when it stops. */
  cpuProfileFile?: string;
}

export async function startOurServer(options: StartOptions = {}): Promise<OurServer> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'anamnesis-bench-'));
  const removeDataDir = () => {
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const server = await startServer({
      env: {
        ANAMNESIS_DATA_DIR: dataDir,
        ANAMNESIS_RATE_LIMIT_FACTOR: '0',
        LOG_LEVEL: 'warn',
        ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
        ...(options.cpuProfileFile ? { ANAMNESIS_CPU_PROFILE: options.cpuProfileFile } : {}),
      },
      ...(options.cpuProfileFile ? { script: 'bench/lib/profiled-server.ts' } : {}),
      ...(options.root ? { root: options.root } : {}),
    });
    return {
      url: server.url,
      pid: server.child.pid!,
      async stop() {
        await server.stop();
        removeDataDir();
      },
    };
  } catch (error) {
    removeDataDir();
    throw error;
  }
}

async function expectOk(response: Response, what: string): Promise<unknown> {
  const body = await response.text();
  if (!response.ok) throw new Error(`${what}: HTTP ${response.status} ${body.slice(0, 300)}`);
  return JSON.parse(body);
}

export interface Account {
  userId: string;
  apiKey: string;
}

export async function signUp(url: string, label: string): Promise<Account> {
  const { userId, apiKey } = await signUpRemote(url, `bench-${label}`);
  return { userId, apiKey };
}

interface ImportReport {
  imported: { memories: number; entities: number; relations: number };
}

/** Records per import request: each is one transaction through the vault's bulk path, well under the body limit. */
const IMPORT_CHUNK = 20_000;

function chunked<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += IMPORT_CHUNK) out.push(items.slice(i, i + IMPORT_CHUNK));
  return out;
}

/**
 * Seeds an account the way a user would move in: the graph as the
 * reference server's memory.jsonl, the memories as our JSON export, in
 * requests of IMPORT_CHUNK records (entities before the relations).
 */
export async function importDataset(url: string, apiKey: string, dataset: Partial<Dataset>): Promise<void> {
  const authorization = `Bearer ${apiKey}`;
  const parts = [...chunked(dataset.entities ?? []).map((entities) => ({ entities, relations: [] })), ...chunked(dataset.relations ?? []).map((relations) => ({ entities: [], relations }))];
  for (const part of parts) {
    const response = await fetch(`${url}/api/v1/import?format=mcp-memory-jsonl`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-ndjson' },
      body: memoryJsonl(part),
    });
    const report = (await expectOk(response, 'graph import')) as ImportReport;
    if (report.imported.entities !== part.entities.length || report.imported.relations !== part.relations.length) {
      throw new Error(`graph import stored ${JSON.stringify(report.imported)}`);
    }
  }
  for (const memories of chunked(dataset.memories ?? [])) await importMemories(url, apiKey, memories);
}

export async function importMemories(url: string, apiKey: string, memories: readonly MemoryInput[]): Promise<void> {
  const response = await fetch(`${url}/api/v1/import?format=json`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ format: JSON_EXPORT_FORMAT, version: FORMAT_VERSION, memories: datedMemories(memories), entities: [], relations: [] }),
  });
  const report = (await expectOk(response, 'memory import')) as ImportReport;
  if (report.imported.memories !== memories.length) throw new Error(`memory import stored ${report.imported.memories} of ${memories.length}`);
}
