// Builds the real app in-process on a real store (SQLite in a temporary
// folder, or PostgreSQL in a fresh schema), capturing every log line so tests
// can scan them for secrets.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Config } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/logger.ts';
import type { OAuthSettings } from '../../src/oauth/settings.ts';
import { openSqliteStore } from '../../src/storage/sqlite.ts';
import type { Store } from '../../src/storage/store.ts';
import { makePostgresTestStore } from './postgres.ts';

export type Driver = 'sqlite' | 'postgres';

export interface TestApp {
  app: FastifyInstance;
  store: Store;
  config: Config;
  /** Every log line the app wrote, as raw text. */
  logs: string[];
  /** The SQLite data folder (null on PostgreSQL). */
  dataDir: string | null;
  /** Where the PostgreSQL store's tables are, for tests that read rows directly (null on SQLite). */
  postgres: { url: string; schema: string } | null;
  close(): Promise<void>;
}

export const TEST_ORIGIN = 'http://localhost:80';

export async function makeTestApp(options: {
  driver?: Driver;
  rateLimitFactor?: number;
  logLevel?: Config['logLevel'];
  trustProxy?: Config['trustProxy'];
  oauth?: Partial<OAuthSettings>;
  /** What the app is given instead of the store itself: a fault-injecting wrapper around it. */
  wrapStore?: (store: Store) => Store;
} = {}): Promise<TestApp> {
  const driver = options.driver ?? 'sqlite';
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  let store: Store;
  let dataDir: string | null = null;
  let postgres: TestApp['postgres'] = null;
  let cleanupStore: () => Promise<void>;
  if (driver === 'sqlite') {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-test-'));
    store = await openSqliteStore({ file: path.join(dataDir, 'anamnesis.db') });
    const dir = dataDir;
    cleanupStore = async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    };
  } else {
    const made = await makePostgresTestStore();
    store = made.store;
    postgres = { url: made.url, schema: made.schema };
    cleanupStore = made.cleanup;
  }
  const config: Config = {
    port: 0,
    host: '127.0.0.1',
    dataDir: dataDir ?? os.tmpdir(),
    databaseUrl: null,
    logLevel: options.logLevel ?? 'debug',
    trustProxy: options.trustProxy ?? [],
    rateLimitFactor: options.rateLimitFactor ?? 0,
    allowedHosts: [],
    shutdownGraceMs: 10_000,
    e2eTombstoneDays: 90,
    opaqueServerSetup: null,
  };
  const app = await buildApp({ config, store: options.wrapStore ? options.wrapStore(store) : store, logger: createLogger(config.logLevel, sink), ...(options.oauth ? { oauth: options.oauth } : {}) });
  await app.ready();
  return {
    app,
    store,
    config,
    logs,
    dataDir,
    postgres,
    async close() {
      await app.close();
      await cleanupStore();
    },
  };
}

export interface TestUser {
  userId: string;
  apiKey: string;
  email: string;
  password: string;
  /** `anamnesis_session=…` for a Cookie header: an unlocked session from sign-up. */
  cookie: string;
}

let counter = 0;

export function cookieFrom(response: LightMyRequestResponse): string {
  const cookie = response.cookies.find((c) => c.name === 'anamnesis_session');
  if (!cookie) throw new Error('no session cookie in the answer');
  return `anamnesis_session=${cookie.value}`;
}

export async function signUp(app: FastifyInstance, overrides: { email?: string; password?: string } = {}): Promise<TestUser> {
  const email = overrides.email ?? `user${++counter}-${Date.now()}@example.com`;
  const password = overrides.password ?? 'a long and unusual passphrase 42';
  const response = await app.inject({ method: 'POST', url: '/api/v1/accounts', payload: { email, password } });
  if (response.statusCode !== 201) throw new Error(`sign-up failed: ${response.statusCode} ${response.body}`);
  const body = response.json() as { user_id: string; api_key: string };
  return { userId: body.user_id, apiKey: body.api_key, email, password, cookie: cookieFrom(response) };
}

export function bearer(apiKey: string): Record<string, string> {
  return { authorization: `Bearer ${apiKey}` };
}

/** Headers a same-origin browser sends with a cookie-authenticated write. */
export function browser(cookie: string): Record<string, string> {
  return { cookie, origin: TEST_ORIGIN };
}
