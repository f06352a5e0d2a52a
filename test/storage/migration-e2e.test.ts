// Migration 4 (end-to-end accounts) on a database that already holds
// server-key accounts: every user, session, record, grant and audit row
// survives as it was (SQLite rebuilds the users table to make its hashes
// nullable; dropping the old table must cascade into nothing), and the new
// mode CHECK refuses a server-key row without hashes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { migratePostgres, migrateSqlite, postgresMigrations, sqliteMigrations } from '../../src/storage/migrations.ts';
import { openPostgresStore } from '../../src/storage/postgres.ts';
import { openSqliteStore } from '../../src/storage/sqlite.ts';
import type { Store } from '../../src/storage/store.ts';
import { dropSchema, postgresAvailableForTests, postgresTestUrl, randomSchemaName } from '../helpers/postgres.ts';

const T0 = 1_767_225_600_123;
const V3_ROWS: [string, unknown[]][] = [
  ['INSERT INTO users (id, email, password_hash, api_key_hash, pending_key_hash, pending_key_wrap, pending_key_expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ['u1', 'one@example.com', '$argon2id$hash', 'apikeyhash1', 'pendinghash1', 'gAAAAwrap', T0 + 1, T0]],
  ['INSERT INTO sessions (id, token_hash, user_id, wrapped_key, created_at, last_seen_at, expires_at, label) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ['s1', 'tokenhash1', 'u1', 'gAAAAkey', T0, T0, T0 + 5, 'Firefox']],
  ['INSERT INTO records (user_id, id, kind, token, lookup, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ['u1', 'r1', 'memory', 'gAAAAtoken', null, T0, T0]],
  ['INSERT INTO audit (user_id, action, outcome, at) VALUES (?, ?, ?, ?)', ['u1', 'account.create', 'ok', T0]],
  ['INSERT INTO oauth_clients (id, kind, name, redirect_uris, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)',
    ['c1', 'registered', 'Client', '[]', T0, null]],
  ['INSERT INTO oauth_grants (id, user_id, client_id, scope, resource, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ['g1', 'u1', 'c1', 'mcp', 'https://x/mcp', T0, T0]],
];

async function checkMigrated(store: Store): Promise<void> {
  assert.deepEqual(await store.findUserById('u1'), {
    mode: 'server-key', id: 'u1', email: 'one@example.com', passwordHash: '$argon2id$hash', apiKeyHash: 'apikeyhash1',
    pendingKeyHash: 'pendinghash1', pendingKeyWrap: 'gAAAAwrap', pendingKeyExpiresAt: T0 + 1, createdAt: T0,
  });
  assert.equal((await store.findSessionByTokenHash('tokenhash1'))?.wrappedKey, 'gAAAAkey');
  assert.equal((await store.getRecord('u1', 'r1'))?.token, 'gAAAAtoken');
  assert.equal((await store.listAudit('u1', 5)).length, 1);
  assert.equal((await store.listOAuthGrants('u1')).length, 1);
  // Deleting the user still cascades to everything it owns.
  await store.deleteUser('u1');
  assert.equal(await store.findSessionByTokenHash('tokenhash1'), null);
  assert.equal(await store.getRecord('u1', 'r1'), null);
  assert.equal((await store.listOAuthGrants('u1')).length, 0);
}

const withPostgres = await postgresAvailableForTests('migration 4 on PostgreSQL');

describe('migration 4 on a database with server-key accounts', () => {
  it('SQLite: rows survive the users table rebuild, foreign keys still cascade, the mode CHECK holds', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anamnesis-m4-'));
    try {
      const file = path.join(dir, 'anamnesis.db');
      const raw = new Database(file);
      raw.pragma('foreign_keys = ON');
      migrateSqlite(raw, sqliteMigrations.filter((m) => m.version <= 3));
      for (const [sql, params] of V3_ROWS) raw.prepare(sql).run(...params);
      raw.close();
      const store = await openSqliteStore({ file });
      try {
        const check = new Database(file);
        try {
          assert.throws(() => check.prepare("INSERT INTO users (id, email, mode, password_hash, api_key_hash, created_at) VALUES ('u2', 'b@x', 'server-key', NULL, NULL, 0)").run(), /CHECK/);
          assert.throws(() => check.prepare("INSERT INTO users (id, email, mode, password_hash, api_key_hash, created_at) VALUES ('u3', 'c@x', 'e2e', 'h', NULL, 0)").run(), /CHECK/);
        } finally {
          check.close();
        }
        await checkMigrated(store);
      } finally {
        await store.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  if (withPostgres) it('PostgreSQL: rows survive, the mode CHECK holds', async () => {
    const schema = randomSchemaName();
    const client = new pg.Client({ connectionString: postgresTestUrl(), options: `-c search_path=${schema}` });
    await client.connect();
    try {
      await migratePostgres(client, schema, postgresMigrations.filter((m) => m.version <= 3));
      for (const [sql, params] of V3_ROWS) {
        let n = 0;
        await client.query(sql.replace(/\?/g, () => `$${++n}`), params);
      }
      const store = await openPostgresStore({ url: postgresTestUrl(), schema });
      try {
        await assert.rejects(client.query("INSERT INTO users (id, email, mode, password_hash, api_key_hash, created_at) VALUES ('u2', 'b@x', 'server-key', NULL, NULL, 0)"), /users_mode_check/);
        await assert.rejects(client.query("INSERT INTO users (id, email, mode, password_hash, api_key_hash, created_at) VALUES ('u3', 'c@x', 'e2e', 'h', NULL, 0)"), /users_mode_check/);
        await checkMigrated(store);
      } finally {
        await store.close();
      }
    } finally {
      await client.end();
      await dropSchema(schema);
    }
  });
});
