// search_nodes a page at a time, over a real trigram index on SQLite and
// PostgreSQL: reading every page gives exactly the unpaged answer, in
// creation order, whatever sequence of changes (merged entities, recent ones
// still in deltas, entities changed after they were numbered, deletions)
// led there and whatever changes between two pages; a page reads about its
// own size; a cursor works only for the user and the query it was issued for.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { deriveDataKey, generateApiKey } from '../../src/crypto/keys.ts';
import { AppError } from '../../src/errors.ts';
import type { Store } from '../../src/storage/store.ts';
import { RecordCodec } from '../../src/vault/codec.ts';
import { type GraphIndexShape, GraphIndex } from '../../src/vault/graph-index.ts';
import { type Graph, type GraphPage, KnowledgeGraph } from '../../src/vault/graph.ts';
import { testDrivers } from '../http/support.ts';
import { newStoreUser } from '../helpers/store-user.ts';
import { storeForSuite } from '../helpers/suite-store.ts';

const NAMES = ['Ada Okafor', 'Bo', 'Çelik İnan', 'Dee Lindqvist', 'ΟΔΥΣΣΕΑΣ', 'Fox', '東京タワー', 'Hal 9000', 'Tea Room', 'Oslo Tea'];
const TYPES = ['person', 'City', 'project'];
const WORDS = ['likes tea', 'Lives in Oslo', 'TEA ceremony', 'knows Ada', 'straße', 'plays chess at the café'];
const NEEDLES = ['', 'a', 'te', 'tea', 'TEA', 'oslo', 'o', 'ss', 'person', 'zzz'];

/** A small index: few buckets, tiny merges and table chunks, so a few operations spread matches over chunks, deltas and re-posted numbers. */
const SMALL: GraphIndexShape = { buckets: 4, slots: 2, mergeAfter: 3, chunk: 2 };

function graphFor(store: Store, userId: string, shape?: GraphIndexShape): KnowledgeGraph {
  const codec = new RecordCodec(deriveDataKey(generateApiKey(), userId));
  return new KnowledgeGraph(store, codec, userId, new GraphIndex(codec, userId, shape));
}

/** The whole graph read from the records themselves, in creation order. */
async function scan(graph: KnowledgeGraph): Promise<Graph> {
  const page = await graph.readGraph({ limit: 100_000 });
  return { entities: page.entities, relations: page.relations };
}

/** search_nodes by brute force over every record. */
function bruteSearch(all: Graph, query: string): Graph {
  const needle = query.toLowerCase();
  return touching(all, all.entities.filter((e) => e.name.toLowerCase().includes(needle) || e.entityType.toLowerCase().includes(needle) || e.observations.some((o) => o.toLowerCase().includes(needle))));
}

function touching(all: Graph, entities: Graph['entities']): Graph {
  const names = new Set(entities.map((e) => e.name));
  return { entities, relations: all.relations.filter((r) => names.has(r.from) || names.has(r.to)) };
}

/** Every page of a search, following next_cursor. */
async function allPages(graph: KnowledgeGraph, query: string, limit: number, cursor?: string): Promise<GraphPage[]> {
  const pages: GraphPage[] = [];
  do {
    const page = await graph.searchNodes(query, { limit, ...(cursor ? { cursor } : {}) });
    pages.push(page);
    cursor = page.next_cursor ?? undefined;
    assert.ok(pages.length < 1000, 'paging ends');
  } while (cursor);
  return pages;
}

/** Pages that together are the unpaged answer: every match once, in order, each page full but the last, with the relations touching its own entities. */
function assertPagesMatch(pages: GraphPage[], all: Graph, expected: Graph, limit: number): void {
  assert.deepEqual(pages.flatMap((p) => p.entities), expected.entities);
  pages.forEach((page, i) => {
    const last = i === pages.length - 1;
    if (last) assert.equal(page.next_cursor, null);
    else assert.equal(page.entities.length, limit, 'a page before the last is full');
    assert.ok(page.entities.length > 0 || pages.length === 1, 'no empty page after a cursor');
    assert.deepEqual(page.relations, touching(all, page.entities).relations, 'a page carries the relations touching its entities');
    assert.deepEqual(page.unreadable, []);
  });
  const seen = new Set(pages.flatMap((p) => p.relations.map((r) => JSON.stringify(r))));
  assert.deepEqual(expected.relations.filter((r) => seen.has(JSON.stringify(r))), expected.relations, 'every relation of the answer comes on some page');
  assert.equal(seen.size, expected.relations.length);
}

async function refused(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof AppError && error.status === 400 && error.code === 'bad_request' && message.test(error.message));
}

for (const driver of await testDrivers('search_nodes paging')) {
  describe(`search_nodes paging (${driver})`, () => {
    let store: Store;
    storeForSuite(driver, (opened) => (store = opened));

    it('pages through exactly the unpaged answer after any sequence of changes, for any page size', async () => {
      const name = fc.constantFrom(...NAMES);
      const op = fc.oneof(
        fc.record({ type: fc.constant('create' as const), entities: fc.uniqueArray(fc.record({ name, entityType: fc.constantFrom(...TYPES), observations: fc.uniqueArray(fc.constantFrom(...WORDS), { maxLength: 2 }) }), { selector: (e) => e.name, minLength: 1, maxLength: 5 }) }),
        fc.record({ type: fc.constant('observe' as const), name, contents: fc.uniqueArray(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 2 }) }),
        fc.record({ type: fc.constant('forget' as const), name, observations: fc.uniqueArray(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 2 }) }),
        fc.record({ type: fc.constant('delete' as const), names: fc.uniqueArray(name, { minLength: 1, maxLength: 2 }) }),
        fc.record({ type: fc.constant('relate' as const), from: name, to: name, relationType: fc.constantFrom('knows', 'visited') }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), fc.constantFrom(...NEEDLES), fc.integer({ min: 1, max: 4 }), async (ops, query, limit) => {
          const graph = graphFor(store, await newStoreUser(store), SMALL);
          for (const o of ops) {
            if (o.type === 'create') await graph.createEntities(o.entities);
            else if (o.type === 'observe') await graph.addObservations([{ entityName: o.name, contents: o.contents }]).catch(() => undefined);
            else if (o.type === 'forget') await graph.deleteObservations([{ entityName: o.name, observations: o.observations }]);
            else if (o.type === 'delete') await graph.deleteEntities(o.names);
            else await graph.createRelations([{ from: o.from, to: o.to, relationType: o.relationType }]);
          }
          const all = await scan(graph);
          const expected = bruteSearch(all, query);
          assert.deepEqual(await graph.searchNodes(query, { limit: 1000 }), { ...expected, next_cursor: null, unreadable: [] }, 'an answer that fits one page is the whole answer');
          assertPagesMatch(await allPages(graph, query, limit), all, expected, limit);
        }),
        { numRuns: driver === 'sqlite' ? 120 : 40 },
      );
    });

    for (const query of ['kestrel', 'ke']) {
      it(`reads on from where a page stopped when entities change between pages (${query.length < 3 ? 'a needle under three characters: every entity read in order' : 'through the index'})`, async () => {
        const graph = graphFor(store, await newStoreUser(store), { buckets: 64, slots: 4, mergeAfter: 4, chunk: 16 });
        // 131 merged into the buckets at once; then recent ones, merged with two old ones that changed
        // (posted again under new numbers, in a table chunk of new entities); then recent ones still in deltas.
        const bulk = Array.from({ length: 130 }, (_, i) => ({ name: `Kestrel ${i}`, entityType: 'bird', observations: [`ringed on day ${i}`] }));
        await graph.createEntities([bulk[0]!, { name: 'Merlin', entityType: 'falcon', observations: ['hunts over the moor'] }, ...bulk.slice(1)]);
        for (const i of [130, 131, 132]) await graph.createEntities([{ name: `Kestrel ${i}`, entityType: 'bird', observations: ['ringed late'] }]);
        await graph.addObservations([{ entityName: 'Merlin', contents: ['chased a kestrel'] }, { entityName: 'Kestrel 2', contents: ['moulting'] }]);
        await graph.createEntities([{ name: 'Kestrel 133', entityType: 'bird', observations: [] }]);
        await graph.createRelations([{ from: 'Merlin', to: 'Kestrel 0', relationType: 'chased' }, { from: 'Kestrel 10', to: 'Kestrel 50', relationType: 'nests beside' }]);
        const before = bruteSearch(await scan(graph), query);
        assert.equal(before.entities.length, 135);
        assert.equal(before.entities[1]!.name, 'Merlin', 'a changed entity keeps its place in creation order');
        assertPagesMatch(await allPages(graph, query, 20), await scan(graph), before, 20);

        const first = await graph.searchNodes(query, { limit: 20 });
        assert.deepEqual(first.entities.map((e) => e.name), ['Kestrel 0', 'Merlin', ...Array.from({ length: 18 }, (_, i) => `Kestrel ${i + 1}`)]);
        // Between the pages: one shown entity and one not shown yet are deleted, one is created, one not shown yet changes.
        await graph.deleteEntities(['Kestrel 5', 'Kestrel 25']);
        await graph.createEntities([{ name: 'Kestrel fledgling', entityType: 'bird', observations: [] }]);
        await graph.addObservations([{ entityName: 'Kestrel 40', contents: ['ringed twice'] }]);
        const all = await scan(graph);
        const now = bruteSearch(all, query);
        const rest = now.entities.slice(now.entities.findIndex((e) => e.name === 'Kestrel 18') + 1);
        const pages = await allPages(graph, query, 20, first.next_cursor!);
        assert.deepEqual(pages.flatMap((p) => p.entities), rest);
        assert.equal(rest[0]!.name, 'Kestrel 19');
        assert.ok(!rest.some((e) => e.name === 'Kestrel 25'), 'a deleted entity is not shown');
        assert.equal(rest.at(-1)!.name, 'Kestrel fledgling', 'an entity created between pages comes last');
        for (const page of pages) assert.deepEqual(page.relations, touching(all, page.entities).relations);
      });
    }

    it('reads only what a page needs: its own entities and the table chunks that hold them', async () => {
      const userId = await newStoreUser(store);
      const codec = new RecordCodec(deriveDataKey(generateApiKey(), userId));
      const shape: GraphIndexShape = { buckets: 64, slots: 4, mergeAfter: 64, chunk: 100 };
      await new KnowledgeGraph(store, codec, userId, new GraphIndex(codec, userId, shape))
        .createEntities(Array.from({ length: 1000 }, (_, i) => ({ name: `Kestrel ${i}`, entityType: 'bird', observations: [`ringed on day ${i}`] })));
      const read = { entities: 0, chunks: 0 };
      const counting = new Proxy(store, {
        get(target, property, receiver) {
          if (property === 'getRecords') {
            return async (user: string, ids: string[]) => {
              const rows = await target.getRecords(user, ids);
              read.entities += rows.filter((row) => row.kind === 'entity').length;
              read.chunks += rows.filter((row) => row.id.startsWith('g-t-')).length;
              return rows;
            };
          }
          const value = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const graph = new KnowledgeGraph(counting, codec, userId, new GraphIndex(codec, userId, shape));
      const first = await graph.searchNodes('kestrel', { limit: 10 });
      assert.deepEqual(first.entities.map((e) => e.name), Array.from({ length: 10 }, (_, i) => `Kestrel ${i}`));
      assert.deepEqual(read, { entities: 16, chunks: 1 }, 'the first page of 1,000 matches');
      let cursor = first.next_cursor!;
      for (let page = 0; page < 50; page++) cursor = (await graph.searchNodes('kestrel', { limit: 10, cursor })).next_cursor!;
      read.entities = read.chunks = 0;
      const middle = await graph.searchNodes('kestrel', { limit: 10, cursor });
      assert.deepEqual(middle.entities.map((e) => e.name), Array.from({ length: 10 }, (_, i) => `Kestrel ${510 + i}`));
      assert.deepEqual(read, { entities: 16, chunks: 1 }, 'a page in the middle');
    });

    it('reads the page again when a rebuild replaces the table while the page reads it', async () => {
      const userId = await newStoreUser(store);
      const codec = new RecordCodec(deriveDataKey(generateApiKey(), userId));
      const shape: GraphIndexShape = { buckets: 16, slots: 4, mergeAfter: 4, chunk: 8 };
      const writer = new KnowledgeGraph(store, codec, userId, new GraphIndex(codec, userId, shape));
      await writer.createEntities(Array.from({ length: 40 }, (_, i) => ({ name: `Plover ${i}`, entityType: 'bird', observations: [] })));
      let rebuilds = 0;
      const racing = new Proxy(store, {
        get(target, property, receiver) {
          if (property === 'getRecords') {
            return async (user: string, ids: string[]) => {
              // Another request rebuilds the index between this page's statistics and its table chunks (twice).
              if (rebuilds < 2 && ids.some((id) => id.startsWith('g-t-'))) {
                rebuilds++;
                await target.transaction(async (tx) => writer.index.rebuild(tx, await writer.indexDocuments(tx)));
              }
              return target.getRecords(user, ids);
            };
          }
          const value = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const reader = new KnowledgeGraph(racing, codec, userId, new GraphIndex(codec, userId, shape));
      const page = await reader.searchNodes('plover', { limit: 10 });
      assert.equal(rebuilds, 2);
      assert.deepEqual(page.entities.map((e) => e.name), Array.from({ length: 10 }, (_, i) => `Plover ${i}`));
      assert.ok(page.next_cursor);
    });

    it('answers exactly when the needle has both common and rare trigrams (only the rare ones narrow the candidates)', async () => {
      const graph = graphFor(store, await newStoreUser(store), { buckets: 64, slots: 4, mergeAfter: 8, chunk: 16 });
      await graph.createEntities(Array.from({ length: 120 }, (_, i) => ({ name: `Mill ${i}`, entityType: 'mill', observations: ['the wheel turns in the river'] })));
      await graph.createEntities([
        { name: 'Smithy', entityType: 'forge', observations: ['the rivet press'] },
        { name: 'Boatyard', entityType: 'yard', observations: ['the river is wide', 'a rivet gun'] },
        { name: 'Mill 120', entityType: 'mill', observations: ['THE RIVET on the wheel came loose'] },
      ]);
      const found = await graph.searchNodes('the rivet', { limit: 10 });
      assert.deepEqual(found.entities.map((e) => e.name), ['Smithy', 'Mill 120'], 'every trigram of the needle in Boatyard, but not the needle');
      assert.equal(found.next_cursor, null);
    });

    it('refuses a cursor of another query, of another user, altered, or of read_graph, with a 400', async () => {
      const userId = await newStoreUser(store);
      const graph = graphFor(store, userId);
      await graph.createEntities(Array.from({ length: 5 }, (_, i) => ({ name: `Tern ${i}`, entityType: 'bird', observations: ['dives for sand eels'] })));
      const { next_cursor: cursor } = await graph.searchNodes('tern', { limit: 2 });
      assert.ok(cursor);
      assert.match(cursor, /^gAAAAA/, 'sealed as a Fernet token');
      assert.doesNotMatch(Buffer.from(cursor, 'base64url').toString('latin1'), /[Tt]ern|createdAt|"id"/, 'nothing of the query or the position is readable');
      assert.equal((await graph.searchNodes('tern', { limit: 2, cursor })).entities[0]!.name, 'Tern 2');
      await refused(graph.searchNodes('TERN', { limit: 2, cursor }), /another search/);
      await refused(graph.searchNodes('sand eels', { limit: 2, cursor }), /another search/);
      await refused(graphFor(store, await newStoreUser(store)).searchNodes('tern', { limit: 2, cursor }), /not one this server issued/);
      await refused(graphFor(store, userId).searchNodes('tern', { limit: 2, cursor }), /not one this server issued/);
      const altered = cursor.slice(0, 40) + (cursor[40] === 'A' ? 'B' : 'A') + cursor.slice(41);
      await refused(graph.searchNodes('tern', { limit: 2, cursor: altered }), /not one this server issued/);
      const readGraphCursor = (await graph.readGraph({ limit: 2 })).next_cursor!;
      await refused(graph.searchNodes('tern', { limit: 2, cursor: readGraphCursor }), /not one this server issued/);
      await refused(graph.readGraph({ limit: 2, cursor }), /not one this server issued/);
    });
  });
}
