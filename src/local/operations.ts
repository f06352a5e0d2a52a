// Every memory and knowledge-graph operation of the MCP tools, answered from
// the replica's decrypted records with the server's semantics: the same
// pure rules (src/vault/graph-rules.ts), the same paging (src/vault/paging.ts)
// and the same ranking (src/vault/search.ts). A write goes to `commit`, which
// seals it into the ciphertext cache, queues it for the server and only
// then makes it part of the live set.
import { randomBytes, randomUUID } from 'node:crypto';
import { notFound } from '../errors.ts';
import type { GraphOperations, MemoryOperations, ToolOperations } from '../mcp/operations.ts';
import { RecordCodec } from '../vault/codec.ts';
import { sealedSearchCursors } from '../vault/cursor.ts';
import { addObservationsTo, type Graph, freshItems, nodeMatcher, relationKey, removeObservationsFrom, withTouchingRelations } from '../vault/graph-rules.ts';
import { type GraphPage, type MemoryPage, pageGraph, pageMemories, pageSearch, scanMatches } from '../vault/paging.ts';
import { type Entity, type Memory, type MemoryRecord, normaliseTags, type Relation, toEntity, toMemory, toRelation } from '../vault/records.ts';
import { rank } from '../vault/search.ts';
import { type Change, type Held, type LocalKind, type LocalRecord, LocalRecords } from './records.ts';

/** Record ids of an end-to-end account (docs/e2e-protocol.md §2): keyed for entities and relations, so two devices meet on one id. */
export interface RecordIds {
  entity(name: string): Promise<string>;
  relation(relation: Relation): Promise<string>;
}

export interface LocalStore {
  records: LocalRecords;
  ids: RecordIds;
  /** Seals, keeps and queues the changes, then applies them to `records`; all or nothing. */
  commit(changes: Change[]): Promise<void>;
}

type EntityHeld = Held<Extract<LocalRecord, { kind: 'entity' }>>;

/** One write at a time, as the server's per-user lock: a read-modify-write never interleaves with another. */
class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** The creation time for the first of a write's new records of a kind; the i-th gets this plus i (src/vault/creation-order.ts). */
function nextCreatedAt(records: LocalRecords, kind: LocalKind, now = Date.now()): number {
  const newest = records.newest(kind);
  return newest ? Math.max(now, newest.createdAt + 1) : now;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class LocalMemories implements MemoryOperations {
  constructor(
    private readonly store: LocalStore,
    private readonly queue: WriteQueue,
  ) {}

  private record(id: string): MemoryRecord {
    const held = this.store.records.get(id);
    if (!held || held.record.kind !== 'memory') throw notFound('memory');
    return held.record;
  }

  async create(input: { content: string; tags?: string[] }): Promise<Memory> {
    return this.queue.run(async () => {
      const at = iso(nextCreatedAt(this.store.records, 'memory'));
      const created: MemoryRecord = { kind: 'memory', id: randomUUID(), content: input.content, tags: normaliseTags(input.tags ?? []), created_at: at, updated_at: at };
      await this.store.commit([{ id: created.id, record: created }]);
      return toMemory(created);
    });
  }

  async get(id: string): Promise<Memory> {
    return toMemory(this.record(id));
  }

  async update(id: string, patch: { content?: string; tags?: string[] }): Promise<Memory> {
    return this.queue.run(async () => {
      const record = this.record(id);
      const updated: MemoryRecord = {
        ...record,
        content: patch.content ?? record.content,
        tags: patch.tags ? normaliseTags(patch.tags) : record.tags,
        updated_at: iso(Date.now()),
      };
      await this.store.commit([{ id, record: updated }]);
      return toMemory(updated);
    });
  }

  async delete(id: string): Promise<void> {
    await this.queue.run(async () => {
      this.record(id);
      await this.store.commit([{ id, record: null }]);
    });
  }

  async list(options: { limit: number; cursor?: string; tag?: string }): Promise<MemoryPage> {
    return pageMemories(options, (after, limit) => this.store.records.list('memory', { limit, ...(after ? { after } : {}) }), (held) => held.record as MemoryRecord);
  }

  async search(options: { q: string; limit: number; tag?: string }): Promise<{ results: Array<{ memory: Memory; score: number }>; unreadable: string[] }> {
    const ranked = rank(this.store.records.corpus, options.q, options);
    return { results: ranked.map(({ id, score }) => ({ memory: toMemory(this.record(id)), score })), unreadable: [] };
  }
}

export class LocalGraph implements GraphOperations {
  /**
   * Seals search_nodes cursors under a key of this process alone: the
   * server seals them under the user's key, which this process has no use
   * for; a cursor from another process (or an earlier run) is refused.
   */
  private readonly cursorCodec = new RecordCodec(randomBytes(32));

  constructor(
    private readonly store: LocalStore,
    private readonly queue: WriteQueue,
  ) {}

  private get records(): LocalRecords {
    return this.store.records;
  }

  /** Entities and relations whose name (identity) is already live are skipped, as are repeats within the call; returns those created. */
  async createEntities(entities: Entity[]): Promise<Entity[]> {
    return this.queue.run(async () => {
      const items = entities.map((e) => toEntity({ kind: 'entity', ...e }));
      const fresh = freshItems(items, (e) => e.name, new Set(items.filter((e) => this.records.entity(e.name)).map((e) => e.name)));
      const first = nextCreatedAt(this.records, 'entity');
      const changes = await Promise.all(fresh.map(async (e, i): Promise<Change> => ({ id: await this.store.ids.entity(e.name), record: { kind: 'entity', ...e, observations: [...e.observations], created_at: iso(first + i) } })));
      await this.store.commit(changes);
      return fresh;
    });
  }

  async createRelations(relations: Relation[]): Promise<Relation[]> {
    return this.queue.run(async () => {
      const items = relations.map((r) => toRelation({ kind: 'relation', ...r }));
      const fresh = freshItems(items, relationKey, new Set(items.map(relationKey).filter((key) => this.records.relation(key))));
      const first = nextCreatedAt(this.records, 'relation');
      const changes = await Promise.all(fresh.map(async (r, i): Promise<Change> => ({ id: await this.store.ids.relation(r), record: { kind: 'relation', ...r, created_at: iso(first + i) } })));
      await this.store.commit(changes);
      return fresh;
    });
  }

  /** Copies of the named live entities, to change and write back. */
  private entitiesByName(names: readonly string[]): Map<string, EntityHeld> {
    const found = new Map<string, EntityHeld>();
    for (const name of names) {
      const held = this.records.entity(name);
      if (held && !found.has(name)) found.set(name, { ...held, record: { ...held.record, observations: [...held.record.observations] } });
    }
    return found;
  }

  /** Writes back the entities a rule changed. */
  private async rewrite(entities: Map<string, EntityHeld>): Promise<void> {
    const changed = [...entities.values()].filter((e) => {
      const now = this.records.get(e.id)!.record as EntityHeld['record'];
      return now.observations.length !== e.record.observations.length || now.observations.some((o, i) => o !== e.record.observations[i]);
    });
    await this.store.commit(changed.map((e) => ({ id: e.id, record: e.record })));
  }

  async addObservations(additions: Array<{ entityName: string; contents: string[] }>): Promise<Array<{ entityName: string; addedObservations: string[] }>> {
    return this.queue.run(async () => {
      const entities = this.entitiesByName(additions.map((a) => a.entityName));
      const results = addObservationsTo(additions, recordsOf(entities));
      await this.rewrite(entities);
      return results;
    });
  }

  async deleteEntities(names: string[]): Promise<void> {
    await this.queue.run(async () => {
      const entities = [...new Set(names)].flatMap((n) => this.records.entity(n) ?? []);
      const relations = this.records.graphView().relationsTouching(new Set(names));
      await this.store.commit([...entities.map((e) => e.id), ...relations.map((r) => r.id)].map((id) => ({ id, record: null })));
    });
  }

  async deleteObservations(deletions: Array<{ entityName: string; observations: string[] }>): Promise<void> {
    await this.queue.run(async () => {
      const entities = this.entitiesByName(deletions.map((d) => d.entityName));
      removeObservationsFrom(deletions, recordsOf(entities));
      await this.rewrite(entities);
    });
  }

  async deleteRelations(relations: Relation[]): Promise<void> {
    await this.queue.run(async () => {
      const ids = new Set(relations.flatMap((r) => this.records.relation(relationKey(r))?.id ?? []));
      await this.store.commit([...ids].map((id) => ({ id, record: null })));
    });
  }

  async readGraph(options: { limit: number; cursor?: string }): Promise<GraphPage> {
    return pageGraph(options, (phase, after, limit) => this.records.list(phase, { limit, order: 'oldest', ...(after ? { after } : {}) }), {
      entity: (held) => toEntity(held.record as EntityHeld['record']),
      relation: (held) => toRelation(held.record as Extract<LocalRecord, { kind: 'relation' }>),
    });
  }

  /** The server's paging over the replica: matches in creation order, a page with the relations touching its entities. */
  async searchNodes(query: string, options: { limit: number; cursor?: string }): Promise<GraphPage> {
    const view = this.records.graphView();
    return pageSearch(
      options,
      sealedSearchCursors(this.cursorCodec, query),
      (after, wanted) => scanMatches(after, wanted, (from, limit) => this.records.list('entity', { limit, order: 'oldest', ...(from ? { after: from } : {}) }), (held) => held.record as EntityHeld['record'], nodeMatcher(query)),
      (names) => view.relationsTouching(new Set(names)),
    );
  }

  async openNodes(names: string[]): Promise<Graph & { unreadable: string[] }> {
    const view = this.records.graphView();
    const wanted = new Set(names);
    return { ...withTouchingRelations(view.entities((name) => wanted.has(name)), view), unreadable: [] };
  }
}

function recordsOf(entities: Map<string, EntityHeld>): Map<string, { observations: string[] }> {
  return new Map([...entities].map(([name, e]) => [name, e.record]));
}

/** The tools' operations over a local store; writes are serialised across both stores. */
export function localOperations(store: LocalStore): ToolOperations {
  const queue = new WriteQueue();
  return { memories: new LocalMemories(store, queue), graph: new LocalGraph(store, queue) };
}
