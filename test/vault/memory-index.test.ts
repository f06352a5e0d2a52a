// The encrypted, bucketed memory index must rank exactly as a brute-force
// BM25 over the live memories does, whatever sequence of creates, updates and
// deletes (and merges, and fragment compactions) led there, whether a query
// reads only its terms' buckets or (a term too short for one) every bucket.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { deriveDataKey, generateApiKey } from '../../src/crypto/keys.ts';
import { openSqliteStore } from '../../src/storage/sqlite.ts';
import type { Store } from '../../src/storage/store.ts';
import { type Corpus, hasTag, memoryDoc, type MemoryDoc, rank } from '../../src/vault/search.ts';
import { MemoryIndex } from '../../src/vault/memory-index.ts';
import { RecordCodec } from '../../src/vault/codec.ts';
import { Vault } from '../../src/vault/vault.ts';
import { newStoreUser } from '../helpers/store-user.ts';

/** The reference: every live document in one array, searched by scanning. */
function arrayCorpus(docs: Array<[string, MemoryDoc]>): Corpus {
  return {
    stats(tag) {
      const live = docs.filter(([, doc]) => tag === undefined || hasTag(doc.tags, tag));
      return { count: live.length, totalLength: live.reduce((sum, [, doc]) => sum + doc.len, 0) };
    },
    id: (d) => docs[d]![0],
    length: (d) => docs[d]![1].len,
    tags: (d) => docs[d]![1].tags,
    forEachPrefix(prefix, visit) {
      docs.forEach(([, doc], d) => {
        for (const [term, tf] of doc.terms) if (term.startsWith(prefix)) visit(term, d, tf);
      });
    },
  };
}

const WORDS = ['tea', 'teapot', 'coffee', 'katze', 'kater', 'café', 'straße', '東京', 'москва', 'green', 'morning', 'garden'];
const TAGS = ['food', 'pets', 'travel', 'Food'];
// Memory ids: UUIDs as the service mints them, and other strings as an import may carry (the index stores them differently).
const IDS = Array.from({ length: 31 }, (_, i) => (i % 2 ? randomUUID() : `doc-${i}`));

describe('bucketed memory index', () => {
  let store: Store;
  before(async () => {
    store = await openSqliteStore({ file: ':memory:' });
  });
  after(async () => store.close());

  it('ranks like a brute-force scan after any sequence of changes, merges and compactions', async () => {
    const op = fc.oneof(
      fc.record({ type: fc.constant('put' as const), slot: fc.nat(30), words: fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 6 }), tags: fc.subarray(TAGS) }),
      fc.record({ type: fc.constant('delete' as const), slot: fc.nat(30) }),
      fc.record({ type: fc.constant('bulk' as const), slots: fc.uniqueArray(fc.nat(30), { minLength: 2, maxLength: 8 }), words: fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 4 }) }),
    );
    await fc.assert(
      // Limits below the number of matches, with many equal scores, cut the answer inside a run of ties; several words meet a memory in several buckets.
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), fc.constantFrom(...WORDS, 'te', 'kat', 'cafe', 'strasse', '東', 'tea garden', 'kater morning te'), fc.option(fc.constantFrom(...TAGS), { nil: undefined }), fc.integer({ min: 1, max: 40 }), async (ops, query, tag, limit) => {
        const userId = await newStoreUser(store);
        const codec = new RecordCodec(deriveDataKey(generateApiKey(), userId));
        // Few buckets, a tiny merge threshold and fragment limit, so few operations exercise merging and compaction.
        const index = new MemoryIndex(codec, userId, { buckets: 4, mergeAfter: 3, fragmentsPerBucket: 2 });
        const live = new Map<string, MemoryDoc>();
        // isNew promises an id never indexed before: once used, an id is never new again.
        const used = new Set<string>();
        for (const o of ops) {
          await store.transaction(async (tx) => {
            await tx.lockUser(userId);
            if (o.type === 'bulk') {
              // Several documents in one change, as an import writes them: large enough to skip the deltas.
              const changes = o.slots.map((slot) => ({ id: IDS[slot]!, doc: memoryDoc(`${o.words.join(' ')} ${slot}`, []), previous: live.get(IDS[slot]!) ?? null, isNew: !used.has(IDS[slot]!) }));
              await index.apply(tx, changes);
              for (const change of changes) {
                live.set(change.id, change.doc);
                used.add(change.id);
              }
            } else if (o.type === 'put') {
              const id = IDS[o.slot]!;
              const doc = memoryDoc(o.words.join(' '), o.tags);
              await index.apply(tx, [{ id, doc, previous: live.get(id) ?? null, isNew: !used.has(id) }]);
              live.set(id, doc);
              used.add(id);
            } else if (live.has(IDS[o.slot]!)) {
              await index.apply(tx, [{ id: IDS[o.slot]!, doc: null, previous: live.get(IDS[o.slot]!)!, isNew: false }]);
              live.delete(IDS[o.slot]!);
            }
          });
        }
        const docs = [...(await index.documents(store))];
        // The index holds exactly the live documents, each once.
        assert.deepEqual(docs.map(([id]) => id).sort(), [...live.keys()].sort());
        for (const [id, doc] of docs) assert.deepEqual({ ...doc, terms: [...doc.terms].sort() }, { ...live.get(id)!, terms: [...live.get(id)!.terms].sort() });
        // Every match ranked, then cut: the reference does not rely on rank's own way of keeping only the best.
        const expected = rank(arrayCorpus([...live]), query, { limit: Number.MAX_SAFE_INTEGER, ...(tag ? { tag } : {}) }).slice(0, limit);
        const actual = (await index.search(store, query, { limit, ...(tag ? { tag } : {}) })).ranked;
        assert.deepEqual(actual, expected);
        // The sizes merges go by (to read only the fragments they fold) are the stored fragments' own.
        const parts = await store.allRecords(userId, ['memory-index']);
        const sizesRow = parts.find((row) => row.id === 'm-sizes');
        if (sizesRow) {
          const fragments = parts.filter((row) => row.id.startsWith('m-b')).sort((a, b) => (a.id < b.id ? -1 : 1));
          const actualSizes = Array.from({ length: 4 }, (_, bucket) => fragments.filter((row) => row.id.startsWith(`m-b000${bucket}-`)).map((row) => row.token.length));
          assert.deepEqual((codec.open(sizesRow.id, sizesRow.token) as { sizes: number[][] }).sizes, actualSizes);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('ranks like a brute-force scan when newer fragments replace and remove many of a large bucket\'s memories', async () => {
    const userId = await newStoreUser(store);
    const codec = new RecordCodec(deriveDataKey(generateApiKey(), userId));
    // One bucket, so every memory shares it; thousands of ids, so a search meets ids of newer fragments that look like found ones.
    const index = new MemoryIndex(codec, userId, { buckets: 1, mergeAfter: 32, fragmentsPerBucket: 8 });
    const live = new Map<string, MemoryDoc>();
    const ids = Array.from({ length: 3000 }, (_, i) => (i % 10 ? randomUUID() : `import-${i}`));
    const words = ['heron', 'harbor', 'herring', 'hermit'];
    const write = async (changes: Array<[id: string, doc: MemoryDoc | null]>) => {
      await store.transaction(async (tx) => {
        await tx.lockUser(userId);
        await index.apply(tx, changes.map(([id, doc]) => ({ id, doc, previous: live.get(id) ?? null, isNew: false })));
      });
      for (const [id, doc] of changes) {
        if (doc) live.set(id, doc);
        else live.delete(id);
      }
    };
    await write(ids.map((id, i) => [id, memoryDoc(`${words[i % 4]} seen at dawn ${'near the pier '.repeat(i % 3)}`, [])]));
    // Every third memory changes its words (some leave the query's prefix), every seventh is deleted.
    await write(ids.filter((_, i) => i % 3 === 0).map((id, i) => [id, memoryDoc(`${words[(i + 1) % 4]} at dusk`, [])]));
    await write(ids.filter((_, i) => i % 7 === 0).map((id) => [id, null]));
    assert.equal((await store.allRecords(userId, ['memory-index'])).filter((row) => row.id.startsWith('m-b')).length, 3, 'three fragments in the one bucket');
    for (const query of ['her', 'heron', 'harbor', 'herring dusk', 'pier']) {
      for (const limit of [5, 10_000]) {
        const expected = rank(arrayCorpus([...live]), query, { limit: Number.MAX_SAFE_INTEGER }).slice(0, limit);
        assert.deepEqual((await index.search(store, query, { limit })).ranked, expected, `${query}, limit ${limit}`);
      }
    }
  });

  it('stores no term, tag or id of a memory in plaintext', async () => {
    const userId = await newStoreUser(store);
    const apiKey = generateApiKey();
    const vault = Vault.forApiKey(store, userId, apiKey);
    for (let i = 0; i < 70; i++) await vault.memories.create({ content: `zebrafinch observation number ${i}`, tags: ['ornithology'] });
    const rows = await store.allRecords(userId, ['memory-index', 'memory-delta']);
    assert.ok(rows.some((r) => r.kind === 'memory-index'), 'a merge has produced buckets');
    for (const row of rows) {
      assert.match(row.token, /^gAAAAA/);
      assert.doesNotMatch(row.token + row.id, /zebrafinch|ornithology|observation/);
    }
    const found = await vault.memories.search({ q: 'zebra', limit: 100 });
    assert.equal(found.results.length, 70);
    // A different key reads nothing of it.
    const stranger = new Vault(store, userId, deriveDataKey(generateApiKey(), userId));
    await assert.rejects(() => stranger.index.search(store, 'zebra', { limit: 5 }));
  });

  it('rebuilds a tampered index from the memories and still finds them', async () => {
    const userId = await newStoreUser(store);
    const vault = Vault.forApiKey(store, userId, generateApiKey());
    for (let i = 0; i < 70; i++) await vault.memories.create({ content: `heron sighting ${i}` });
    const [segment] = await store.allRecords(userId, ['memory-index']);
    assert.ok(segment);
    await store.putRecords([{ ...segment, token: segment.token.slice(0, -8) + 'AAAAAAA=' }]);
    const found = await vault.memories.search({ q: 'heron', limit: 100 });
    assert.equal(found.results.length, 70);
    assert.deepEqual(found.unreadable, []);
  });

  it('keeps merging past damaged fragment sizes, which only steer merges, and still finds every memory', async () => {
    const userId = await newStoreUser(store);
    const vault = Vault.forApiKey(store, userId, generateApiKey());
    for (let i = 0; i < 40; i++) await vault.memories.create({ content: `plover sighting ${i}` });
    const sizes = (await store.getRecord(userId, 'm-sizes'))!;
    await store.putRecords([{ ...sizes, token: sizes.token.slice(0, -8) + 'AAAAAAA=' }]);
    for (let i = 40; i < 80; i++) await vault.memories.create({ content: `plover sighting ${i}` });
    assert.ok((await store.countRecords(userId, 'memory-delta')) < 32, 'the deltas were merged');
    assert.notEqual((await store.getRecord(userId, 'm-sizes'))!.token, sizes.token.slice(0, -8) + 'AAAAAAA=', 'the merge wrote the sizes afresh');
    const found = await vault.memories.search({ q: 'plover', limit: 100 });
    assert.equal(found.results.length, 80);
    assert.deepEqual(found.unreadable, []);
  });

  it('keeps reporting a memory the rebuild set aside until it is deleted', async () => {
    const userId = await newStoreUser(store);
    const vault = Vault.forApiKey(store, userId, generateApiKey());
    const memories = [];
    for (let i = 0; i < 70; i++) memories.push(await vault.memories.create({ content: `egret sighting ${i}` }));
    const broken = (await store.getRecord(userId, memories[5]!.id))!;
    await store.putRecords([{ ...broken, token: broken.token.slice(0, -8) + 'AAAAAAA=' }]);
    const [segment] = await store.allRecords(userId, ['memory-index']);
    await store.putRecords([{ ...segment!, token: segment!.token.slice(0, -8) + 'AAAAAAA=' }]);
    for (let search = 0; search < 2; search++) {
      const found = await vault.memories.search({ q: 'egret', limit: 100 });
      assert.equal(found.results.length, 69);
      assert.deepEqual(found.unreadable, [broken.id], `search ${search + 1} names the unreadable memory`);
    }
    await vault.memories.delete(broken.id);
    assert.deepEqual((await vault.memories.search({ q: 'egret', limit: 100 })).unreadable, []);
  });
});
