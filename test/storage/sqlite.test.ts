// The conformance suite on SQLite (a file in a temporary folder, and :memory:),
// plus what only the embedded driver has: its file, WAL mode, migrations.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/storage/sqlite.ts';
import { sqliteMigrations } from '../../src/storage/migrations.ts';
import { StorageError } from '../../src/storage/common.ts';
import { openStore, sqliteFileIn } from '../../src/storage/open.ts';
import { StoreUnavailable } from '../../src/storage/store.ts';
import { describeStoreConformance, newRecord, newUser } from './conformance.ts';

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anamnesis-sqlite-'));
  tmpDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describeStoreConformance('sqlite (file)', async () => {
  const dir = tmpDir();
  const store = await openSqliteStore({ file: path.join(dir, 'anamnesis.db') });
  return {
    store,
    cleanup: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

describeStoreConformance('sqlite (:memory:)', async () => {
  const store = await openSqliteStore({ file: ':memory:' });
  return { store, cleanup: () => store.close() };
});

describe('SQLite driver', () => {
  let dir: string;
  before(() => {
    dir = tmpDir();
  });

  it('creates the folder of the file, uses WAL, and keeps data across reopening', async () => {
    const file = path.join(dir, 'nested', 'deeper', 'anamnesis.db');
    const store = await openSqliteStore({ file });
    assert.equal(store.driver, 'sqlite');
    const u = newUser();
    const r = newRecord(u.id);
    await store.createUser(u);
    await store.putRecords([r]);
    await store.close();
    await store.close(); // closing twice is harmless

    const raw = new Database(file, { readonly: true });
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      const versions = raw.prepare('SELECT version, applied_at FROM schema_migrations ORDER BY version').all() as {
        version: number;
        applied_at: number;
      }[];
      assert.deepEqual(
        versions.map((v) => v.version),
        sqliteMigrations.map((m) => m.version),
      );
      assert.ok(versions.every((v) => typeof v.applied_at === 'number' && v.applied_at > 0));
    } finally {
      raw.close();
    }

    const again = await openSqliteStore({ file });
    try {
      assert.deepEqual(await again.findUserById(u.id), u);
      assert.deepEqual(await again.getRecord(u.id, r.id), r);
    } finally {
      await again.close();
    }
    const raw2 = new Database(file, { readonly: true });
    try {
      assert.equal((raw2.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number }).n, sqliteMigrations.length);
    } finally {
      raw2.close();
    }
  });

  it('refuses a database migrated by a newer build', async () => {
    const file = path.join(dir, 'newer.db');
    await (await openSqliteStore({ file })).close();
    const raw = new Database(file);
    raw.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(9999, Date.now());
    raw.close();
    await assert.rejects(openSqliteStore({ file }), (err: unknown) => err instanceof StorageError && err.code === 'SCHEMA_TOO_NEW');
  });

  it('answers StoreUnavailable once closed, and when the file cannot be opened', async () => {
    const store = await openSqliteStore({ file: ':memory:' });
    await store.close();
    await assert.rejects(store.findUserById('x'), StoreUnavailable);
    const blocker = path.join(dir, 'not-a-folder');
    fs.writeFileSync(blocker, 'x');
    await assert.rejects(openSqliteStore({ file: path.join(blocker, 'anamnesis.db') }), StoreUnavailable);
  });

  it('openStore picks SQLite at <dataDir>/anamnesis.db when no database URL is set', async () => {
    const dataDir = path.join(dir, 'data');
    const store = await openStore({ databaseUrl: null, dataDir });
    try {
      assert.equal(store.driver, 'sqlite');
      assert.equal(sqliteFileIn(dataDir), path.join(dataDir, 'anamnesis.db'));
      assert.ok(fs.existsSync(path.join(dataDir, 'anamnesis.db')));
    } finally {
      await store.close();
    }
  });
});

describe('SQLite group commit', () => {
  it('transactions started together share a commit, yet each stands or falls alone', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'anamnesis.db');
    const store = await openSqliteStore({ file });
    try {
      const user = newUser();
      await store.createUser(user);
      const records = Array.from({ length: 30 }, () => newRecord(user.id));
      const failure = new Error('this work fails half-way');
      // Started in one turn of the event loop: they queue into one batch.
      const outcomes = await Promise.allSettled(
        records.map((record, i) =>
          store.transaction(async (tx) => {
            await tx.putRecords([record]);
            if (i % 3 === 0) throw failure;
            return i;
          }),
        ),
      );
      outcomes.forEach((outcome, i) => {
        if (i % 3 === 0) assert.deepEqual(outcome, { status: 'rejected', reason: failure });
        else assert.deepEqual(outcome, { status: 'fulfilled', value: i });
      });
      const kept = records.filter((_, i) => i % 3 !== 0);
      assert.deepEqual(new Set((await store.allRecords(user.id)).map((r) => r.id)), new Set(kept.map((r) => r.id)));
      // What was acknowledged is committed: a second connection sees it.
      const reader = new Database(file, { readonly: true });
      try {
        const row = reader.prepare('SELECT COUNT(*) AS n FROM records WHERE user_id = ?').get(user.id) as { n: number };
        assert.equal(row.n, kept.length);
      } finally {
        reader.close();
      }
    } finally {
      await store.close();
    }
  });
});
