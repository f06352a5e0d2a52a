// The decrypted records of an end-to-end account as the local MCP server
// holds them in memory: the live set the replica opened from its ciphertext
// cache, with the orders and lookups the tools need (creation order, entity
// by name, relation by identity, the search corpus, the graph view). Only
// this process's memory ever holds them in plaintext; the cache on disk
// holds tokens.
import { z } from 'zod';
import type { RecordCursor } from '../storage/store.ts';
import { type GraphView, relationKey, touches } from '../vault/graph-rules.ts';
import { memoryDocOf } from '../vault/memory-index.ts';
import { entitySchema, memorySchema, type Relation, relationSchema } from '../vault/records.ts';
import { LocalCorpus } from './corpus.ts';

/**
 * The plaintext of an end-to-end record (docs/e2e-protocol.md §2): the
 * DESIGN.md §2 record; entities and relations also carry `created_at`, the
 * graph's order (the server keeps that order in row metadata, which an
 * end-to-end account's rows do not have).
 */
export const localRecordSchema = z.discriminatedUnion('kind', [
  memorySchema,
  entitySchema.extend({ created_at: z.string().optional() }),
  relationSchema.extend({ created_at: z.string().optional() }),
]);
export type LocalRecord = z.infer<typeof localRecordSchema>;

/** The graph view with each relation's record id, so a deletion can name the rows it removes. */
export interface LocalGraphView extends GraphView {
  relationsTouching(names: ReadonlySet<string>): Array<Relation & { id: string }>;
}
export type LocalKind = LocalRecord['kind'];

/** A live record and its place in creation order. */
export interface Held<R extends LocalRecord = LocalRecord> {
  id: string;
  createdAt: number;
  record: R;
}

/** One change to the live set: the record's new state, or null when it was deleted. */
export interface Change {
  id: string;
  record: LocalRecord | null;
}

/** Creation time in ms from a record's `created_at` (0 when it does not parse: such a record sorts first, by id). */
export function createdAtOf(record: LocalRecord): number {
  const ms = record.created_at === undefined ? Number.NaN : Date.parse(record.created_at);
  return Number.isFinite(ms) ? ms : 0;
}

function before(a: RecordCursor, b: RecordCursor): boolean {
  return a.createdAt < b.createdAt || (a.createdAt === b.createdAt && a.id < b.id);
}

export class LocalRecords {
  private readonly byId = new Map<string, Held>();
  /** Per kind, oldest first by (createdAt, id); rebuilt after a change to that kind. */
  private readonly ordered = new Map<LocalKind, Held[]>();
  private readonly entityIds = new Map<string, string>();
  private readonly relationIds = new Map<string, string>();
  readonly corpus = new LocalCorpus();

  apply(changes: readonly Change[]): void {
    for (const { id, record } of changes) {
      const old = this.byId.get(id);
      if (old) {
        this.ordered.delete(old.record.kind);
        if (old.record.kind === 'entity' && this.entityIds.get(old.record.name) === id) this.entityIds.delete(old.record.name);
        if (old.record.kind === 'relation' && this.relationIds.get(relationKey(old.record)) === id) this.relationIds.delete(relationKey(old.record));
        this.byId.delete(id);
      }
      if (record?.kind === 'memory' || old?.record.kind === 'memory') this.corpus.set(id, record?.kind === 'memory' ? memoryDocOf(record) : null);
      if (!record) continue;
      this.byId.set(id, { id, createdAt: createdAtOf(record), record });
      this.ordered.delete(record.kind);
      if (record.kind === 'entity') this.entityIds.set(record.name, id);
      if (record.kind === 'relation') this.relationIds.set(relationKey(record), id);
    }
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: string): Held | undefined {
    return this.byId.get(id);
  }

  entity(name: string): Held<Extract<LocalRecord, { kind: 'entity' }>> | undefined {
    const id = this.entityIds.get(name);
    return id === undefined ? undefined : (this.byId.get(id) as Held<Extract<LocalRecord, { kind: 'entity' }>>);
  }

  relation(key: string): Held<Extract<LocalRecord, { kind: 'relation' }>> | undefined {
    const id = this.relationIds.get(key);
    return id === undefined ? undefined : (this.byId.get(id) as Held<Extract<LocalRecord, { kind: 'relation' }>>);
  }

  /** Every live record of a kind, oldest first. */
  all(kind: LocalKind): readonly Held[] {
    let list = this.ordered.get(kind);
    if (!list) {
      list = [...this.byId.values()].filter((h) => h.record.kind === kind).sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
      this.ordered.set(kind, list);
    }
    return list;
  }

  /** Up to `limit` records of a kind strictly after `after`, in the given order: the store's listRecords over the replica. */
  list(kind: LocalKind, options: { limit: number; after?: RecordCursor; order?: 'newest' | 'oldest' }): Held[] {
    const list = this.all(kind);
    const out: Held[] = [];
    if (options.order === 'oldest') {
      for (const held of list) {
        if (out.length === options.limit) break;
        if (!options.after || before(options.after, held)) out.push(held);
      }
    } else {
      for (let i = list.length - 1; i >= 0 && out.length < options.limit; i--) {
        const held = list[i]!;
        if (!options.after || before(held, options.after)) out.push(held);
      }
    }
    return out;
  }

  /** The newest record of a kind, for stamping new ones after it. */
  newest(kind: LocalKind): Held | undefined {
    const list = this.all(kind);
    return list[list.length - 1];
  }

  /** The live graph, each kind in creation order as the server keeps it, for search_nodes, open_nodes and the relations an entity takes along. */
  graphView(): LocalGraphView {
    const entities = this.all('entity');
    const relations = this.all('relation');
    return {
      entities: (keep) =>
        entities.flatMap(({ record: r }) => (r.kind === 'entity' && keep(r.name, r.entityType, r.observations) ? [{ name: r.name, entityType: r.entityType, observations: r.observations }] : [])),
      relationsTouching: (names) =>
        relations.flatMap(({ id, record: r }) => (r.kind === 'relation' && touches(names, r.from, r.to) ? [{ id, from: r.from, to: r.to, relationType: r.relationType }] : [])),
    };
  }
}
