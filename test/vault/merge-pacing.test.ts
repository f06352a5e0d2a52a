// Merges of the memory index are paced by the creates of a user on their
// way: a quiet user's deltas merge every `mergeAfter`, a burst's in batches
// of up to `mergeAfterInBurst`, and either way no more than `mergeAfter`
// deltas are left waiting once the writes are done, with every memory found.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { deriveDataKey, generateApiKey } from '../../src/crypto/keys.ts';
import { openSqliteStore } from '../../src/storage/sqlite.ts';
import type { RecordRow, Store, Transaction } from '../../src/storage/store.ts';
import { RecordCodec } from '../../src/vault/codec.ts';
import { createsStillToCheck, startCreate } from '../../src/vault/creates-in-flight.ts';
import type { MemoryRecord } from '../../src/vault/records.ts';
import { MemoryBook } from '../../src/vault/memories.ts';
import { MemoryIndex, type MemoryIndexShape } from '../../src/vault/memory-index.ts';
import { newStoreUser } from '../helpers/store-user.ts';

const SHAPE: MemoryIndexShape = { buckets: 16, mergeAfter: 4, fragmentsPerBucket: 4, mergeAfterInBurst: 40 };

/** `target` with some of its methods replaced; the rest still bound to it. */
function overriding<T extends object>(target: T, overrides: Partial<Record<keyof T, unknown>>): T {
  return new Proxy(target, {
    get(object, name) {
      if (Object.hasOwn(overrides, name)) return overrides[name as keyof T];
      const value = Reflect.get(object, name);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

/** The store, counting merges (each writes the index statistics once) and failing memory writes while `failWrites` is set. */
function observed(store: Store) {
  const seen = { merges: 0, failWrites: false };
  const countMerges = (tx: Transaction): Transaction =>
    overriding(tx, {
      putRecords: async (rows: RecordRow[]) => {
        if (rows.some((row) => row.id === 'm-stats')) seen.merges++;
        return tx.putRecords(rows);
      },
    });
  const watched = overriding(store, {
    transaction: <T>(work: (tx: Transaction) => Promise<T>) => store.transaction((tx) => work(countMerges(tx))),
    putRecordsIfNewest: (...args: Parameters<Store['putRecordsIfNewest']>) => (seen.failWrites ? Promise.reject(new Error('the disk is full')) : store.putRecordsIfNewest(...args)),
  });
  return { watched, seen };
}

describe('merge pacing of the memory index', () => {
  let store: Store;
  before(async () => {
    store = await openSqliteStore({ file: ':memory:' });
  });
  after(async () => store.close());

  async function bookFor(shape = SHAPE) {
    const userId = await newStoreUser(store);
    const codec = new RecordCodec(deriveDataKey(generateApiKey(), userId));
    const { watched, seen } = observed(store);
    const index = new MemoryIndex(codec, userId, shape);
    return { userId, index, watched, seen, book: new MemoryBook(watched, codec, userId, index) };
  }

  it('merges a quiet user\'s creates every mergeAfter deltas', async () => {
    const { userId, seen, book } = await bookFor();
    for (let i = 0; i < 20; i++) await book.create({ content: `kestrel hovering over field ${i}` });
    assert.equal(seen.merges, 5);
    assert.equal(await store.countRecords(userId, 'memory-delta'), 0);
  });

  it('waits for mergeAfter deltas per create still to decide, up to mergeAfterInBurst', async () => {
    const { userId, index, watched, seen } = await bookFor();
    const waiting = async (n: number) => {
      const now = Date.now();
      const records = Array.from({ length: n }, (_, i): MemoryRecord => ({ kind: 'memory', id: randomUUID(), content: `avocet wading ${i}`, tags: [], created_at: new Date(now).toISOString(), updated_at: new Date(now).toISOString() }));
      await store.putRecords(index.createdRows(records, now));
    };
    // Three creates of the user behind this one: due at 4 x 4.
    const behind = Array.from({ length: 3 }, () => startCreate(userId));
    await waiting(15);
    await index.mergeIfDue(watched, 15);
    assert.equal(await store.countRecords(userId, 'memory-delta'), 15, 'not due at 15 with three creates behind');
    await waiting(1);
    await index.mergeIfDue(watched, 16);
    assert.equal(await store.countRecords(userId, 'memory-delta'), 0, 'due at 16');
    for (const create of behind) create.checked();
    // Fifty behind: due at the burst's limit, 40, not at 4 x 51.
    const many = Array.from({ length: 50 }, () => startCreate(userId));
    await waiting(39);
    await index.mergeIfDue(watched, 39);
    assert.equal(await store.countRecords(userId, 'memory-delta'), 39);
    await waiting(1);
    await index.mergeIfDue(watched, 40);
    assert.equal(await store.countRecords(userId, 'memory-delta'), 0);
    for (const create of many) create.checked();
    // None behind: a quiet user's threshold again.
    await waiting(4);
    await index.mergeIfDue(watched, 4);
    assert.equal(await store.countRecords(userId, 'memory-delta'), 0);
    assert.equal(seen.merges, 3);
  });

  it('merges at mergeAfter whatever is on its way when the shape sets no burst limit', async () => {
    const { userId, book } = await bookFor({ buckets: 16, mergeAfter: 4, fragmentsPerBucket: 4 });
    const behind = Array.from({ length: 10 }, () => startCreate(userId));
    for (let i = 0; i < 5; i++) await book.create({ content: `grebe on the pond ${i}` });
    assert.equal(await store.countRecords(userId, 'memory-delta'), 1);
    for (const create of behind) create.checked();
  });

  it('ends a burst of concurrent creates merged, with every memory found', async () => {
    const { userId, book } = await bookFor();
    const created = await Promise.all(Array.from({ length: 200 }, (_, i) => book.create({ content: `osprey diving at the lake, sighting ${i}` })));
    assert.ok((await store.countRecords(userId, 'memory-delta')) < SHAPE.mergeAfter, 'the burst ended merged');
    assert.equal(createsStillToCheck(userId), 0);
    const found = await book.search({ q: 'osprey', limit: 500 });
    assert.deepEqual(found.results.map((hit) => hit.memory.id).sort(), created.map((memory) => memory.id).sort());
  });

  it('stops waiting for creates that failed before their merge decision', async () => {
    const { userId, seen, book } = await bookFor();
    seen.failWrites = true;
    const failed = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => book.create({ content: `lost note ${i}` })));
    assert.ok(failed.every((outcome) => outcome.status === 'rejected'));
    assert.equal(createsStillToCheck(userId), 0);
    seen.failWrites = false;
    // Ten creates still counted would hold the threshold at 40: these eight would merge nothing.
    for (let i = 0; i < 8; i++) await book.create({ content: `heron at the weir ${i}` });
    assert.equal(seen.merges, 2);
    assert.equal(await store.countRecords(userId, 'memory-delta'), 0);
  });
});
