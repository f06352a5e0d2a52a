// An encrypted copy of the knowledge graph for queries that must look at all
// of it (search_nodes, open_nodes, and finding the relations that touch an
// entity): a few large sealed segments plus small sealed deltas, instead of
// one token per entity and relation. The records stay the source of truth;
// this index is written in the same transaction and rebuilt under a new key
// on rotation. Segments are stored as columns (arrays of strings), which
// parse several times faster than arrays of objects.
import type { Store, Transaction } from '../storage/store.ts';
import { RecordCodec } from './codec.ts';
import { touches } from './graph-rules.ts';
import type { Entity, Relation } from './records.ts';
import { type IndexChange, type SegmentFormat, SegmentedIndex } from './segmented-index.ts';

/** One graph record as the index keeps it, with its creation time for the graph's order. */
export type GraphDoc = ({ kind: 'entity' } & Entity & { createdAt: number }) | ({ kind: 'relation' } & Relation & { createdAt: number });

/** Entities and relations of one segment, column by column. */
export interface GraphColumns {
  entityIds: string[];
  names: string[];
  entityTypes: string[];
  observations: string[][];
  entityCreated: number[];
  relationIds: string[];
  from: string[];
  to: string[];
  relationTypes: string[];
  relationCreated: number[];
}

function emptyColumns(): GraphColumns {
  return { entityIds: [], names: [], entityTypes: [], observations: [], entityCreated: [], relationIds: [], from: [], to: [], relationTypes: [], relationCreated: [] };
}

function pushDoc(columns: GraphColumns, id: string, doc: GraphDoc): void {
  if (doc.kind === 'entity') {
    columns.entityIds.push(id);
    columns.names.push(doc.name);
    columns.entityTypes.push(doc.entityType);
    columns.observations.push(doc.observations);
    columns.entityCreated.push(doc.createdAt);
  } else {
    columns.relationIds.push(id);
    columns.from.push(doc.from);
    columns.to.push(doc.to);
    columns.relationTypes.push(doc.relationType);
    columns.relationCreated.push(doc.createdAt);
  }
}

export const graphSegmentFormat: SegmentFormat<GraphDoc, GraphColumns> = {
  encode(entries) {
    const columns = emptyColumns();
    for (const [id, doc] of entries) pushDoc(columns, id, doc);
    return { v: 1, ...columns };
  },
  view(payload) {
    const p = payload as Partial<GraphColumns> & { v?: number };
    if (p?.v !== 1 || !Array.isArray(p.entityIds) || !Array.isArray(p.relationIds) || p.names?.length !== p.entityIds.length || p.from?.length !== p.relationIds.length) {
      throw new TypeError('not a graph index segment');
    }
    return p as GraphColumns;
  },
  entries(c) {
    return [
      ...c.entityIds.map((id, i): [string, GraphDoc] => [id, { kind: 'entity', name: c.names[i]!, entityType: c.entityTypes[i]!, observations: c.observations[i]!, createdAt: c.entityCreated[i]! }]),
      ...c.relationIds.map((id, i): [string, GraphDoc] => [id, { kind: 'relation', from: c.from[i]!, to: c.to[i]!, relationType: c.relationTypes[i]!, createdAt: c.relationCreated[i]! }]),
    ];
  },
};

/** Positions 0..n-1 in creation order (then id); segments are usually already in order, so this is mostly a check. */
function creationOrder(created: readonly number[], ids: readonly string[]): number[] {
  const order = created.map((_, i) => i);
  let sorted = true;
  for (let i = 1; i < created.length && sorted; i++) sorted = created[i - 1]! < created[i]! || (created[i - 1] === created[i] && ids[i - 1]! <= ids[i]!);
  if (!sorted) order.sort((a, b) => created[a]! - created[b]! || (ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : 0));
  return order;
}

/** The live graph of one snapshot: every entity and relation, in creation order. */
export class GraphView {
  private readonly entityOrder: number[];
  private readonly relationOrder: number[];

  constructor(
    private readonly c: GraphColumns,
    /** Records a rebuild could not read, left out of this view. */
    readonly setAside: readonly string[] = [],
  ) {
    this.entityOrder = creationOrder(c.entityCreated, c.entityIds);
    this.relationOrder = creationOrder(c.relationCreated, c.relationIds);
  }

  /** Entities passing `keep`, given column access so nothing is built for the ones left out. */
  entities(keep: (name: string, entityType: string, observations: readonly string[]) => boolean): Array<Entity & { id: string }> {
    const c = this.c;
    const out: Array<Entity & { id: string }> = [];
    for (const i of this.entityOrder) {
      if (keep(c.names[i]!, c.entityTypes[i]!, c.observations[i]!)) out.push({ id: c.entityIds[i]!, name: c.names[i]!, entityType: c.entityTypes[i]!, observations: c.observations[i]! });
    }
    return out;
  }

  /** Relations that start or end at one of `names`. */
  relationsTouching(names: ReadonlySet<string>): Array<Relation & { id: string }> {
    const c = this.c;
    const out: Array<Relation & { id: string }> = [];
    for (const i of this.relationOrder) {
      if (touches(names, c.from[i]!, c.to[i]!)) out.push({ id: c.relationIds[i]!, from: c.from[i]!, to: c.to[i]!, relationType: c.relationTypes[i]! });
    }
    return out;
  }
}

export class GraphIndex {
  private readonly index: SegmentedIndex<GraphDoc, GraphColumns>;

  constructor(codec: RecordCodec, userId: string) {
    this.index = new SegmentedIndex(codec, userId, { segment: 'graph-index', delta: 'graph-delta', prefix: 'g' }, graphSegmentFormat);
  }

  /** Every live entity and relation; throws UnreadableRecord when a segment or delta does not open. */
  async view(store: Pick<Store, 'allRecords'>): Promise<GraphView> {
    const snapshot = await this.index.snapshot(store);
    const live = emptyColumns();
    const columnNames = Object.keys(live) as Array<keyof GraphColumns>;
    for (const segment of snapshot.segments) {
      const stale = (ids: string[]) => ids.some((id) => snapshot.changed.has(id));
      if (!stale(segment.entityIds) && !stale(segment.relationIds)) {
        // The common case: append whole columns.
        for (const name of columnNames) (live[name] as unknown[]).push(...(segment[name] as unknown[]));
      } else {
        for (const [id, doc] of graphSegmentFormat.entries(segment)) if (!snapshot.changed.has(id)) pushDoc(live, id, doc);
      }
    }
    for (const [id, doc] of snapshot.changed) if (doc) pushDoc(live, id, doc);
    return new GraphView(live, snapshot.setAside);
  }

  async apply(tx: Transaction, changes: ReadonlyArray<IndexChange<GraphDoc>>): Promise<void> {
    await this.index.apply(tx, changes);
  }

  async rebuild(tx: Transaction, entries: ReadonlyArray<readonly [string, GraphDoc]>, setAside: readonly string[] = []): Promise<void> {
    await this.index.rebuild(tx, entries, setAside);
  }
}
