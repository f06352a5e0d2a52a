// A throw-away PostgreSQL database for one benchmark server: the server
// process takes only a DATABASE_URL, so isolation is a database of its own
// (created from the test server's URL, dropped afterwards).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { postgresTestUrl } from '../../test/helpers/postgres.ts';

async function run(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function createScratchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = postgresTestUrl();
  // A random lower-case identifier: safe to put in DDL, which takes no parameters.
  const name = `anamnesis_bench_${randomBytes(6).toString('hex')}`;
  await run(admin, `CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(admin, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
