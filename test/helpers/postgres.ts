// PostgreSQL for tests: where it is, whether it answers, and a store in a
// fresh random schema that is dropped afterwards.
//
// PostgreSQL is mandatory in CI: when `CI` is set and the server does not
// answer, the suite fails. Elsewhere it is skipped with a loud warning.
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openPostgresStore, type PostgresStoreOptions } from '../../src/storage/postgres.ts';
import type { Store } from '../../src/storage/store.ts';

export function postgresTestUrl(): string {
  return process.env.ANAMNESIS_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
}

/** The URL without its password, for messages. */
export function redactedPostgresUrl(url = postgresTestUrl()): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

let lastProblem = '';

export async function isPostgresReachable(url = postgresTestUrl()): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (err) {
    lastProblem = err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : String(err);
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Await at the top of a PostgreSQL test file. True: go ahead. False: the
 * caller registers nothing more; in CI a failing test has been registered,
 * elsewhere a warning went to stderr.
 */
export async function postgresAvailableForTests(what: string): Promise<boolean> {
  if (await isPostgresReachable()) return true;
  const why = `${redactedPostgresUrl()} did not answer (${lastProblem}); set ANAMNESIS_TEST_DATABASE_URL`;
  if (process.env.CI) {
    it(`${what}: PostgreSQL is reachable (mandatory in CI)`, () => {
      assert.fail(`PostgreSQL is required in CI: ${why}`);
    });
  } else {
    process.stderr.write(
      `\n${'!'.repeat(78)}\n!!! PostgreSQL NOT TESTED: ${what} skipped: ${why}\n${'!'.repeat(78)}\n\n`,
    );
    it.skip(`${what}: PostgreSQL NOT TESTED (server unreachable)`);
  }
  return false;
}

export function randomSchemaName(): string {
  return `anm_test_${randomBytes(8).toString('hex')}`;
}

export async function dropSchema(schema: string, url = postgresTestUrl()): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A fresh schema, and the DATABASE_URL that points a server process at it (through the connection's search_path). */
export async function makeServerSchema(): Promise<{ schema: string; databaseUrl: string; drop: () => Promise<void> }> {
  const url = postgresTestUrl();
  const schema = randomSchemaName();
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA "${schema}"`);
  } finally {
    await client.end().catch(() => undefined);
  }
  return { schema, databaseUrl: `${url}?options=${encodeURIComponent(`-c search_path=${schema}`)}`, drop: () => dropSchema(schema, url) };
}

export interface PostgresTestStore {
  store: Store;
  url: string;
  schema: string;
  /** Closes the store and drops the schema. */
  cleanup: () => Promise<void>;
}

export async function makePostgresTestStore(
  extra: Omit<PostgresStoreOptions, 'url' | 'schema'> = {},
): Promise<PostgresTestStore> {
  const url = postgresTestUrl();
  const schema = randomSchemaName();
  let store: Store;
  try {
    store = await openPostgresStore({ url, schema, ...extra });
  } catch (err) {
    await dropSchema(schema, url).catch(() => undefined);
    throw err;
  }
  return {
    store,
    url,
    schema,
    cleanup: async () => {
      await store.close();
      await dropSchema(schema, url);
    },
  };
}
