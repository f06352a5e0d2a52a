// Shared by the HTTP tests: which drivers to run on, and a second, direct
// connection to the app's database so tests can read and age rows the way an
// attacker with a copy of the database (or a clock) would, bypassing the Store.
import net from 'node:net';
import { after, before } from 'node:test';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { type Driver, makeTestApp, type TestApp } from '../helpers/app.ts';
import { postgresAvailableForTests } from '../helpers/postgres.ts';

/** SQLite always; PostgreSQL too when it answers (mandatory in CI, loudly skipped elsewhere). */
export async function testDrivers(what: string): Promise<Driver[]> {
  return (await postgresAvailableForTests(what)) ? ['sqlite', 'postgres'] : ['sqlite'];
}

export type Row = Record<string, unknown>;

export interface DirectDb {
  /** Runs one statement with `?` placeholders (rewritten to $n on PostgreSQL). */
  query(sql: string, params?: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

export const USER_TABLES = ['users', 'sessions', 'records', 'audit'] as const;

/**
 * A suite's test app on `driver` and a direct connection to its database:
 * opened before its tests (and handed to `use`), closed after them.
 */
export function appWithDirectDb(driver: Driver, use: (t: TestApp, db: DirectDb) => void): void {
  let t: TestApp | undefined;
  let db: DirectDb | undefined;
  before(async () => {
    t = await makeTestApp({ driver });
    db = await openDirectDb(t);
    use(t, db);
  });
  after(async () => {
    await db?.close();
    await t?.close();
  });
}

export async function openDirectDb(t: TestApp): Promise<DirectDb> {
  if (t.postgres) {
    const client = new pg.Client({ connectionString: t.postgres.url, options: `-c search_path=${t.postgres.schema}` });
    await client.connect();
    return {
      async query(sql, params = []) {
        let n = 0;
        const result = await client.query(sql.replace(/\?/g, () => `$${++n}`), params);
        // BIGINT comes back as text; the app's rows are epoch milliseconds that fit a number.
        return result.rows.map((row: Row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'string' && /_at$/.test(k) ? Number(v) : v])));
      },
      close: () => client.end(),
    };
  }
  const db = new Database(path.join(t.dataDir!, 'anamnesis.db'));
  db.pragma('busy_timeout = 5000');
  return {
    async query(sql, params = []) {
      const statement = db.prepare(sql);
      if (statement.reader) return statement.all(...params) as Row[];
      statement.run(...params);
      return [];
    },
    async close() {
      db.close();
    },
  };
}

/** Every row of the four user tables, ordered, for before/after comparisons. */
export async function snapshotTables(db: DirectDb): Promise<Record<string, Row[]>> {
  const snapshot: Record<string, Row[]> = {};
  for (const table of USER_TABLES) snapshot[table] = await db.query(`SELECT * FROM ${table} ORDER BY 1, 2`);
  return snapshot;
}

export const OAUTH_TABLES = ['oauth_clients', 'oauth_grants', 'oauth_tokens'] as const;

/** Every row of the OAuth tables, ordered, for before/after comparisons. */
export async function snapshotOAuth(db: DirectDb): Promise<Record<string, Row[]>> {
  const snapshot: Record<string, Row[]> = {};
  for (const table of OAUTH_TABLES) snapshot[table] = await db.query(`SELECT * FROM ${table} ORDER BY 1`);
  return snapshot;
}

/** Rows of every user table that belong to a user (the users row itself by id). */
export async function rowsOfUser(db: DirectDb, userId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of USER_TABLES) {
    const column = table === 'users' ? 'id' : 'user_id';
    const [row] = await db.query(`SELECT COUNT(*) AS n FROM ${table} WHERE ${column} = ?`, [userId]);
    counts[table] = Number(row!.n);
  }
  return counts;
}

/** The user's memories, entities and relations as stored rows (search-index rows left out). */
export async function sealedRecords(db: DirectDb, userId: string): Promise<Row[]> {
  return db.query("SELECT * FROM records WHERE user_id = ? AND kind IN ('memory', 'entity', 'relation') ORDER BY id", [userId]);
}

/** Byte sequences a lenient decoder would turn into U+FFFD (and store). */
export const INVALID_UTF8: Array<[string, Buffer]> = [
  ['C3 28 (a lead byte before ASCII)', Buffer.from([0xc3, 0x28])],
  ['FF (never valid)', Buffer.from([0xff])],
  ['C0 AF (overlong "/")', Buffer.from([0xc0, 0xaf])],
  ['F0 9F 98 (a truncated 4-byte sequence)', Buffer.from([0xf0, 0x9f, 0x98])],
  ['ED A0 80 (an encoded surrogate)', Buffer.from([0xed, 0xa0, 0x80])],
];

/** JSON escapes that JSON.parse accepts but that are not well-formed Unicode. */
export const LONE_SURROGATES = ['\\ud800', '\\udc00', '\\udc00\\ud800', 'end\\ud83d'];

/** A request written byte for byte on a socket (what no HTTP client library would send); the whole answer as text. */
export function sendRaw(port: number, raw: string | Uint8Array): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(raw));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}
