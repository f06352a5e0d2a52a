// The PostgreSQL driver lets PostgreSQL keep a generic plan for a prepared
// statement (planned once per connection, not per call). A generic plan does
// not know which user it serves, so it must be good for the user with the
// most records too: every prepared statement that touches records must read
// them by index, never scan or sort them. Statements whose plan depends on
// the user's size or their LIMIT are marked PLANNED_PER_CALL and must never be
// prepared.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { preparedStatementTexts } from '../../src/storage/postgres.ts';
import { newRecord, newUser } from './conformance.ts';
import { makePostgresTestStore, postgresAvailableForTests, postgresTestUrl } from '../helpers/postgres.ts';

const BIG = 20_000;

if (await postgresAvailableForTests('PostgreSQL plan policy')) {
  describe('PostgreSQL plans', () => {
    it('every prepared statement on records reads them by index in its generic plan, for a user with 20,000 records among small ones', async () => {
      const { store, schema, cleanup } = await makePostgresTestStore();
      const admin = new pg.Client({ connectionString: postgresTestUrl(), options: `-c search_path=${schema}` });
      await admin.connect();
      try {
        const big = newUser();
        const small = Array.from({ length: 30 }, () => newUser());
        for (const u of [big, ...small]) await store.createUser(u);
        await store.transaction(async (tx) => {
          for (let i = 0; i < BIG; i += 500) {
            await tx.putRecords(Array.from({ length: 500 }, (_, j) => newRecord(big.id, { kind: i % 2000 === 0 ? 'memory-delta' : 'memory', createdAt: i + j, lookup: `l${i + j}` })));
          }
          for (const u of small) await tx.putRecords(Array.from({ length: 50 }, (_, j) => newRecord(u.id, { createdAt: j })));
        });
        await admin.query('ANALYZE records');

        // Every Store method that reads or writes records, so each sends its statements.
        const some = (await store.listRecords(big.id, { kind: 'memory', limit: 5 })).map((r) => r.id);
        await store.findUserByApiKeyHash(big.apiKeyHash);
        await store.newestAndCount(big.id, 'memory', 'memory-delta');
        await store.countRecords(big.id, 'memory');
        await store.countRecords(big.id, 'memory-delta');
        await store.getRecords(big.id, some);
        await store.findRecordsByLookup(big.id, 'memory', ['l1', 'l2']);
        await store.snapshotRecords(big.id, some, ['memory-delta']);
        await store.allRecords(big.id, ['memory-delta']);
        await store.putRecords([newRecord(big.id, { createdAt: BIG + 1 })]);
        assert.equal((await store.putRecordsIfNewest([newRecord(big.id, { createdAt: BIG + 3 }), newRecord(big.id, { kind: 'memory-delta', createdAt: BIG + 3 })], { newestOf: 'memory', countOf: 'memory-delta' })).written, true);
        await store.deleteRecords(big.id, some.slice(0, 1));
        await store.transaction(async (tx) => {
          assert.equal(await tx.tryLockUser(big.id), true);
          await tx.putRecords([newRecord(big.id, { createdAt: BIG + 2 })]);
        });

        const prepared = preparedStatementTexts();
        assert.ok(!prepared.some((text) => /ORDER BY created_at \w+, id \w+ LIMIT \$/.test(text)), 'pages of records are planned per call');
        const onRecords = prepared.filter((text) => /\b(FROM|INTO|UPDATE) records\b/.test(text));
        const countsDeltas = (text: string) => text.includes('COUNT(*)') && text.includes("kind = 'memory-delta'");
        // countRecords, newestAndCount and the guarded put.
        assert.equal(onRecords.filter(countsDeltas).length, 3);
        assert.ok(onRecords.length >= 6, `the workload prepared ${onRecords.length} statements on records`);

        await admin.query('SET plan_cache_mode = force_generic_plan');
        for (const [i, text] of onRecords.entries()) {
          const parameters = Math.max(0, ...[...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
          await admin.query(`PREPARE generic_${i} AS ${text}`);
          const { rows } = await admin.query<{ 'QUERY PLAN': string }>(
            `EXPLAIN EXECUTE generic_${i}${parameters ? `(${Array(parameters).fill('NULL').join(', ')})` : ''}`,
          );
          const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
          assert.doesNotMatch(plan, /Seq Scan on records|Sort/, `${text}\n${plan}`);
          // Entries of deleted deltas pile up in records_list_idx until a vacuum (thousands of pages after a busy minute).
          if (countsDeltas(text)) assert.match(plan, /records_pending_idx/, `${text}\n${plan}`);
        }
      } finally {
        await admin.end();
        await cleanup();
      }
    });
  });
}
