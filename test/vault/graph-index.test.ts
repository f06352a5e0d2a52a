// The knowledge graph's trigram index must answer search_nodes and open_nodes
// exactly as a scan of every record does, whatever sequence of creates,
// changes and deletes (and merges, fragment folds and stale-posting rebuilds)
// led there, reading only the buckets of the needle's trigrams; a damaged part
// of any kind is rebuilt; nothing of a name or observation is stored in
// plaintext.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { deriveDataKey, generateApiKey } from '../../src/crypto/keys.ts';
import { openSqliteStore } from '../../src/storage/sqlite.ts';
import type { Store } from '../../src/storage/store.ts';
import { RecordCodec } from '../../src/vault/codec.ts';
import { GraphIndex } from '../../src/vault/graph-index.ts';
import { type Graph, KnowledgeGraph } from '../../src/vault/graph.ts';
import { newStoreUser } from '../helpers/store-user.ts';

const NAMES = ['Ada Okafor', 'Bo', 'Çelik İnan', 'Dee Lindqvist', 'ΟΔΥΣΣΕΑΣ', 'Fox', '東京タワー', 'Hal 9000'];
const TYPES = ['person', 'City', 'project'];
const WORDS = ['likes tea', 'Lives in Oslo', 'TEA ceremony', 'knows Ada', 'straße', 'plays chess at the café'];
const NEEDLES = ['', 'a', 'te', 'tea', 'TEA', 'oslo', 'okafor', 'ada o', 'ss', 'σσε', 'ταω', '東京', 'chess at', 'zzz', 'person', 'İnan', 'i̇na'];

/** The whole graph read from the records themselves (read_graph pages read no index). */
async function scan(graph: KnowledgeGraph): Promise<Graph> {
  const page = await graph.readGraph({ limit: 100_000 });
  return { entities: page.entities, relations: page.relations };
}

/** search_nodes by brute force over every record. */
function bruteSearch(all: Graph, query: string): Graph {
  const needle = query.toLowerCase();
  const entities = all.entities.filter((e) => e.name.toLowerCase().includes(needle) || e.entityType.toLowerCase().includes(needle) || e.observations.some((o) => o.toLowerCase().includes(needle)));
  return touching(all, entities);
}

function touching(all: Graph, entities: Graph['entities']): Graph {
  const names = new Set(entities.map((e) => e.name));
  return { entities, relations: all.relations.filter((r) => names.has(r.from) || names.has(r.to)) };
}

/** A small index: few buckets and slots, tiny merges and table chunks, so a few operations exercise all of it. */
function smallGraph(store: Store, userId: string): KnowledgeGraph {
  const codec = new RecordCodec(deriveDataKey(generateApiKey(), userId));
  return new KnowledgeGraph(store, codec, userId, new GraphIndex(codec, userId, { buckets: 4, slots: 2, mergeAfter: 3, chunk: 2 }));
}

describe('graph trigram index', () => {
  let store: Store;
  before(async () => {
    store = await openSqliteStore({ file: ':memory:' });
  });
  after(async () => store.close());

  it('answers search_nodes and open_nodes like a scan of every record, after any sequence of changes', async () => {
    const name = fc.constantFrom(...NAMES);
    const op = fc.oneof(
      fc.record({ type: fc.constant('create' as const), entities: fc.uniqueArray(fc.record({ name, entityType: fc.constantFrom(...TYPES), observations: fc.uniqueArray(fc.constantFrom(...WORDS), { maxLength: 2 }) }), { selector: (e) => e.name, minLength: 1, maxLength: 4 }) }),
      fc.record({ type: fc.constant('observe' as const), name, contents: fc.uniqueArray(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 2 }) }),
      fc.record({ type: fc.constant('forget' as const), name, observations: fc.uniqueArray(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 2 }) }),
      fc.record({ type: fc.constant('delete' as const), names: fc.uniqueArray(name, { minLength: 1, maxLength: 2 }) }),
      fc.record({ type: fc.constant('relate' as const), from: name, to: name, relationType: fc.constantFrom('knows', 'visited') }),
      fc.record({ type: fc.constant('unrelate' as const), from: name, to: name, relationType: fc.constantFrom('knows', 'visited') }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), fc.constantFrom(...NEEDLES), fc.uniqueArray(name, { maxLength: 3 }), async (ops, query, opened) => {
        const userId = await newStoreUser(store);
        const graph = smallGraph(store, userId);
        for (const o of ops) {
          if (o.type === 'create') await graph.createEntities(o.entities);
          else if (o.type === 'observe') await graph.addObservations([{ entityName: o.name, contents: o.contents }]).catch(() => undefined);
          else if (o.type === 'forget') await graph.deleteObservations([{ entityName: o.name, observations: o.observations }]);
          else if (o.type === 'delete') await graph.deleteEntities(o.names);
          else if (o.type === 'relate') await graph.createRelations([{ from: o.from, to: o.to, relationType: o.relationType }]);
          else await graph.deleteRelations([{ from: o.from, to: o.to, relationType: o.relationType }]);
        }
        const all = await scan(graph);
        assert.deepEqual(await graph.searchNodes(query, { limit: 1000 }), { ...bruteSearch(all, query), next_cursor: null, unreadable: [] });
        const wanted = new Set(opened);
        assert.deepEqual(await graph.openNodes(opened), { ...touching(all, all.entities.filter((e) => wanted.has(e.name))), unreadable: [] });
      }),
      { numRuns: 150 },
    );
  });

  it('reads only the buckets of the needle, never the whole graph, and stores nothing in plaintext', async () => {
    const userId = await newStoreUser(store);
    const codec = new RecordCodec(deriveDataKey(generateApiKey(), userId));
    const real = new KnowledgeGraph(store, codec, userId, new GraphIndex(codec, userId));
    await real.createEntities(Array.from({ length: 150 }, (_, i) => ({ name: `Kingfisher ${i}`, entityType: 'bird', observations: [`seen near the weir on day ${i}`] })));
    await real.createEntities([{ name: 'Zebrafinch', entityType: 'bird', observations: ['sings at dawn'] }]);
    await real.createRelations([{ from: 'Zebrafinch', to: 'Kingfisher 7', relationType: 'perches beside' }]);
    const rows = await store.allRecords(userId, ['graph-index', 'graph-delta']);
    assert.ok(rows.some((r) => r.id.startsWith('g-b')), 'the bulk create was merged into buckets');
    for (const row of rows) {
      assert.match(row.token, /^gAAAAA/);
      // Words long enough that random base64 does not spell them by chance.
      assert.doesNotMatch(row.token + row.id, /[Kk]ingfisher|[Zz]ebrafinch|perches beside/);
    }
    // A store that refuses to hand out every record of a kind: a search of three or more characters never needs it.
    const guarded = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'allRecords') return () => Promise.reject(new Error('read every record'));
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const searcher = new KnowledgeGraph(guarded, codec, userId, new GraphIndex(codec, userId));
    const found = await searcher.searchNodes('FINCH', { limit: 50 });
    assert.deepEqual(found.entities.map((e) => e.name), ['Zebrafinch']);
    assert.deepEqual(found.relations, [{ from: 'Zebrafinch', to: 'Kingfisher 7', relationType: 'perches beside' }]);
    assert.deepEqual((await searcher.searchNodes('day 14', { limit: 50 })).entities.map((e) => e.name), ['Kingfisher 14', ...Array.from({ length: 10 }, (_, i) => `Kingfisher ${140 + i}`)]);
  });

  it('reads the buckets of only the rarest trigrams of a long needle, and answers exactly without its posting counts', async () => {
    const userId = await newStoreUser(store);
    const codec = new RecordCodec(deriveDataKey(generateApiKey(), userId));
    const graph = new KnowledgeGraph(store, codec, userId, new GraphIndex(codec, userId));
    await graph.createEntities(Array.from({ length: 120 }, (_, i) => ({ name: `Walker ${i}`, entityType: 'person', observations: [i % 40 === 0 ? 'collects kaleidoscopes' : 'walks the dog'] })));
    const snapshots: string[][] = [];
    const watched = new Proxy(store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (property === 'snapshotRecords') return (user: string, ids: string[], kinds: never[]) => (snapshots.push(ids), value.call(target, user, ids, kinds));
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const searcher = new KnowledgeGraph(watched, codec, userId, new GraphIndex(codec, userId));
    const expected = ['Walker 0', 'Walker 40', 'Walker 80'];
    assert.deepEqual((await searcher.searchNodes('kaleidoscope', { limit: 50 })).entities.map((e) => e.name), expected);
    const buckets = (ids: string[]) => new Set(ids.filter((id) => id.startsWith('g-b')).map((id) => id.split('-')[1]));
    // "kaleidoscope" has ten trigrams, six of them considered; two buckets are read.
    assert.ok(buckets(snapshots[0]!).size <= 2, `read ${buckets(snapshots[0]!).size} buckets`);
    // Without the counts (a lost part) every considered trigram's bucket is read, still exactly; the next merge rebuilds the index.
    await store.deleteRecords(userId, ['g-sizes']);
    assert.deepEqual((await searcher.searchNodes('kaleidoscope', { limit: 50 })).entities.map((e) => e.name), expected);
    assert.ok(buckets(snapshots[1]!).size > 2);
    await graph.createEntities(Array.from({ length: 64 }, (_, i) => ({ name: `Runner ${i}`, entityType: 'person', observations: ['owns a kaleidoscope'] })));
    assert.equal((await store.getRecords(userId, ['g-sizes'])).length, 1);
    assert.equal((await searcher.searchNodes('kaleidoscope', { limit: 100 })).entities.length, 67);
  });

  for (const part of ['g-stats', 'g-sizes', 'g-b', 'g-t-', 'g-a-', 'g-dlt-']) {
    it(`rebuilds a damaged ${part} part from the records and answers exactly`, async () => {
      const userId = await newStoreUser(store);
      const graph = smallGraph(store, userId);
      await graph.createEntities([{ name: 'Heron', entityType: 'bird', observations: ['wades at dusk'] }, { name: 'Egret', entityType: 'bird', observations: ['white heron'] }, { name: 'Crane', entityType: 'bird', observations: [] }]);
      await graph.createRelations([{ from: 'Heron', to: 'Egret', relationType: 'resembles' }]);
      await graph.addObservations([{ entityName: 'Crane', contents: ['heron-like'] }]);
      const [row] = (await store.allRecords(userId, ['graph-index', 'graph-delta'])).filter((r) => r.id.startsWith(part));
      assert.ok(row, `a ${part} row exists`);
      await store.putRecords([{ ...row, token: row.token.slice(0, -8) + 'AAAAAAA=' }]);
      const all = await scan(graph);
      assert.deepEqual(await graph.searchNodes('heron', { limit: 1000 }), { ...bruteSearch(all, 'heron'), next_cursor: null, unreadable: [] });
      assert.deepEqual(await graph.openNodes(['Heron']), { ...touching(all, all.entities.filter((e) => e.name === 'Heron')), unreadable: [] });
    });
  }
});
