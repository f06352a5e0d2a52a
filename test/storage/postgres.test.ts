// The conformance suite on PostgreSQL (a fresh schema per test), plus what
// only the server driver has: concurrent migrators, outages, timeouts.
// Mandatory in CI; skipped with a loud warning elsewhere when no server answers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgresStore } from '../../src/storage/postgres.ts';
import { postgresMigrations } from '../../src/storage/migrations.ts';
import { StorageError } from '../../src/storage/common.ts';
import { openStore } from '../../src/storage/open.ts';
import { StoreUnavailable, type Store } from '../../src/storage/store.ts';
import { describeStoreConformance, newRecord, newUser } from './conformance.ts';
import {
  dropSchema,
  makePostgresTestStore,
  postgresAvailableForTests,
  postgresTestUrl,
  randomSchemaName,
} from '../helpers/postgres.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresTestUrl() });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A URL whose connections carry a unique application_name, so a test can find (and kill) exactly its own backends. */
function taggedUrl(tag: string): string {
  const url = new URL(postgresTestUrl());
  url.searchParams.set('application_name', tag);
  return url.toString();
}

async function terminateBackends(tag: string): Promise<number> {
  return admin(async (c) => {
    const res = await c.query(
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
      [tag],
    );
    return res.rowCount ?? 0;
  });
}

if (await postgresAvailableForTests('PostgreSQL storage driver')) {
  describeStoreConformance('postgres', makePostgresTestStore);

  describe('PostgreSQL driver', () => {
    it('applies migrations once when several processes open a new schema at the same time', async () => {
      const schema = randomSchemaName();
      const stores: Store[] = [];
      try {
        stores.push(...(await Promise.all(Array.from({ length: 5 }, () => openPostgresStore({ url: postgresTestUrl(), schema, poolSize: 2 })))));
        const u = newUser();
        await stores[0]!.createUser(u);
        assert.deepEqual(await stores[4]!.findUserById(u.id), u);
        const rows = await admin(
          async (c) => (await c.query(`SELECT version, applied_at FROM "${schema}".schema_migrations ORDER BY version`)).rows,
        );
        assert.deepEqual(
          rows.map((r) => Number(r.version)),
          postgresMigrations.map((m) => m.version),
        );
        // Re-opening is a no-op.
        stores.push(await openPostgresStore({ url: postgresTestUrl(), schema }));
        const again = await admin(async (c) => (await c.query(`SELECT COUNT(*)::int AS n FROM "${schema}".schema_migrations`)).rows[0]);
        assert.equal(again.n, postgresMigrations.length);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
        await dropSchema(schema);
      }
    });

    it('refuses a schema migrated by a newer build', async () => {
      const { store, schema, cleanup } = await makePostgresTestStore();
      try {
        await store.close();
        await admin((c) => c.query(`INSERT INTO "${schema}".schema_migrations (version, applied_at) VALUES (9999, 0)`));
        await assert.rejects(
          openPostgresStore({ url: postgresTestUrl(), schema }),
          (err: unknown) => err instanceof StorageError && err.code === 'SCHEMA_TOO_NEW',
        );
      } finally {
        await cleanup();
      }
    });

    it('rejects a schema name that is not a plain identifier', async () => {
      await assert.rejects(openPostgresStore({ url: postgresTestUrl(), schema: 'x"; DROP TABLE users; --' }), StorageError);
    });

    it('answers StoreUnavailable quickly when the server does not answer', async () => {
      const url = new URL(postgresTestUrl());
      url.port = '1'; // nothing listens there
      const started = Date.now();
      await assert.rejects(openPostgresStore({ url: url.toString(), schema: randomSchemaName() }), StoreUnavailable);
      assert.ok(Date.now() - started < 5000);

      // A server that accepts TCP but never speaks: the connect timeout applies.
      const net = await import('node:net');
      const silent = net.createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const port = (silent.address() as { port: number }).port;
        url.hostname = '127.0.0.1';
        url.port = String(port);
        const t0 = Date.now();
        await assert.rejects(openPostgresStore({ url: url.toString(), connectTimeoutMs: 500 }), StoreUnavailable);
        assert.ok(Date.now() - t0 < 3000);
      } finally {
        silent.close();
      }
    });

    it('survives the server closing idle connections (admin shutdown, 57P01) and reconnects', async () => {
      const tag = `anm_idle_${randomBytes(4).toString('hex')}`;
      const schema = randomSchemaName();
      const store = await openPostgresStore({ url: taggedUrl(tag), schema, poolSize: 3 });
      try {
        const u = newUser();
        await store.createUser(u);
        await Promise.all([store.findUserById(u.id), store.findUserById(u.id), store.findUserById(u.id)]);
        assert.ok((await terminateBackends(tag)) >= 1);
        await sleep(200); // the idle connections hear about it; the pool drops them without crashing
        assert.deepEqual(await store.findUserById(u.id), u);
      } finally {
        await store.close();
        await dropSchema(schema);
      }
    });

    it('a connection killed inside a transaction: StoreUnavailable, nothing committed, the store still works', async () => {
      const tag = `anm_tx_${randomBytes(4).toString('hex')}`;
      const schema = randomSchemaName();
      const store = await openPostgresStore({ url: taggedUrl(tag), schema });
      try {
        const u = newUser();
        await store.createUser(u);
        const r = newRecord(u.id);
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.lockUser(u.id);
            await tx.putRecords([r]);
            await terminateBackends(tag);
            await sleep(100);
            await tx.putRecords([newRecord(u.id)]);
          }),
          StoreUnavailable,
        );
        assert.equal(await store.getRecord(u.id, r.id), null);
        await store.transaction(async (tx) => {
          await tx.lockUser(u.id); // the dead backend's row lock is gone
          await tx.putRecords([r]);
        });
        assert.deepEqual(await store.getRecord(u.id, r.id), r);
      } finally {
        await store.close();
        await dropSchema(schema);
      }
    });

    /** Holds lockUser(userId) in a transaction of its own until release() is called. */
    async function holdUserLock(store: Store, userId: string): Promise<{ release: () => Promise<void> }> {
      let let_go!: () => void;
      const held = new Promise<void>((resolve) => (let_go = resolve));
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const holder = store.transaction(async (tx) => {
        await tx.lockUser(userId);
        locked();
        await held;
      });
      await Promise.race([isLocked, holder]);
      return {
        release: async () => {
          let_go();
          await holder;
        },
      };
    }

    it('a lock wait longer than the statement timeout ends in StoreUnavailable, not a hang; lock-free inserts do not wait for it', async () => {
      const { store, cleanup } = await makePostgresTestStore({ statementTimeoutMs: 300 });
      let lock: { release: () => Promise<void> } | undefined;
      try {
        const u = newUser();
        await store.createUser(u);
        lock = await holdUserLock(store, u.id);
        const t0 = Date.now();
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.lockUser(u.id);
          }),
          StoreUnavailable,
        );
        assert.ok(Date.now() - t0 < 3000);
        // A lock-free write of the user (a new record, as remember writes) does
        // not wait for it: its foreign-key check's KEY SHARE lock does not
        // conflict with lockUser's NO KEY UPDATE.
        const record = newRecord(u.id);
        await store.putRecords([record]);
        assert.equal((await store.getRecord(u.id, record.id))?.token, record.token);
      } finally {
        await lock?.release();
        await cleanup();
      }
    });

    it('group-commits conditional creates: callers of one statement never refuse each other, later ones of an older stamp are refused', async () => {
      const { store, cleanup } = await makePostgresTestStore();
      try {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        const guard = { newestOf: 'memory', countOf: 'memory-delta' } as const;
        const create = (userId: string, createdAt: number) => [newRecord(userId, { createdAt }), newRecord(userId, { kind: 'memory-delta', createdAt })];
        const stamp = Date.now();
        // The first call takes the statement; the ones queued behind it go out together in the next.
        const [, ...together] = await Promise.all([create(b.id, stamp), ...Array.from({ length: 5 }, () => create(a.id, stamp))].map((rows) => store.putRecordsIfNewest(rows, guard)));
        assert.deepEqual(together, Array(5).fill({ written: true, count: 0 }));
        assert.equal(await store.countRecords(a.id, 'memory'), 5);
        assert.deepEqual(await store.putRecordsIfNewest(create(a.id, stamp), guard), { written: false });
      } finally {
        await cleanup();
      }
    });

    it('keeps the planner statistics: after a committed bulk write, a page of one user reads along the index', async () => {
      const { store, schema, cleanup } = await makePostgresTestStore();
      try {
        const users = [newUser(), newUser()];
        for (const u of users) await store.createUser(u);
        // One user with many records among another with few: without statistics the
        // planner guesses a handful of rows per user and sorts all of them instead.
        await store.transaction(async (tx) => {
          await tx.putRecords(Array.from({ length: 3000 }, (_, i) => (newRecord(users[0]!.id, { kind: 'entity', createdAt: i }))));
          await tx.putRecords(Array.from({ length: 20 }, () => newRecord(users[1]!.id, { kind: 'entity' })));
        });
        const plan = await admin(async (client) => {
          // ANALYZE runs in the background once the rows committed; wait for it (bounded).
          for (let i = 0; i < 200; i++) {
            const { rows } = await client.query(
              `SELECT 1 FROM pg_stats WHERE schemaname = $1 AND tablename = 'records' AND attname = 'user_id' AND $2 = ANY(most_common_vals::text::text[])`,
              [schema, users[0]!.id],
            );
            if (rows.length > 0) break;
            await sleep(50);
          }
          const { rows } = await client.query<{ 'QUERY PLAN': string }>(
            `EXPLAIN SELECT * FROM ${schema}.records WHERE user_id = $1 AND kind = 'entity' ORDER BY created_at ASC, id ASC LIMIT 101`,
            [users[0]!.id],
          );
          return rows.map((r) => r['QUERY PLAN']).join('\n');
        });
        // The planner knows this user's rows (it estimated 1 without statistics) and reads just the page.
        const scan = /Index Scan Backward using records_list_idx on records .*rows=(\d+)/.exec(plan);
        assert.ok(scan, plan);
        assert.ok(Number(scan[1]) >= 1000, plan);
        assert.doesNotMatch(plan, /Sort/);
      } finally {
        await cleanup();
      }
    });

    it('a transaction whose failed statement was swallowed by the caller does not silently roll back', async () => {
      const { store, cleanup } = await makePostgresTestStore({ statementTimeoutMs: 300 });
      try {
        const u = newUser();
        await store.createUser(u);
        const lock = await holdUserLock(store, u.id);
        const other = newUser();
        try {
          await assert.rejects(
            store.transaction(async (tx) => {
              await tx.createUser(other);
              await tx.lockUser(u.id).catch(() => undefined); // times out: the transaction is now aborted
            }),
            (err: unknown) => err instanceof StorageError && err.code === 'TX_ABORTED',
          );
        } finally {
          await lock.release();
        }
        assert.equal(await store.findUserById(other.id), null);
      } finally {
        await cleanup();
      }
    });

    it('openStore picks PostgreSQL when a database URL is set', async () => {
      // openStore has no schema option: the URL's own search_path selects a throw-away schema.
      const schema = randomSchemaName();
      await admin((c) => c.query(`CREATE SCHEMA "${schema}"`));
      const url = new URL(postgresTestUrl());
      url.searchParams.set('options', `-c search_path=${schema}`);
      try {
        const store = await openStore({ databaseUrl: url.toString(), dataDir: '/nonexistent' });
        try {
          assert.equal(store.driver, 'postgres');
          const u = newUser();
          await store.createUser(u);
          const n = await admin(async (c) => (await c.query(`SELECT COUNT(*)::int AS n FROM "${schema}".users`)).rows[0].n);
          assert.equal(n, 1);
        } finally {
          await store.close();
        }
      } finally {
        await dropSchema(schema);
      }
    });
  });
}
