// An encrypted copy of the knowledge graph for queries that must look at all
// of it (search_nodes, and finding the relations that touch an entity): a few
// large sealed segments plus small sealed deltas, instead of one token per
// entity and relation. The records stay the source of truth; this index is
// written in the same transaction and rebuilt under a new key on rotation.
import type { Store, Transaction } from '../storage/store.ts';
import { RecordCodec } from './codec.ts';
import type { Entity, Relation } from './records.ts';
import { type IndexChange, type SegmentFormat, SegmentedIndex } from './segmented-index.ts';

/** One graph record as the index keeps it, with its creation time for the graph's order. */
export type GraphDoc = ({ kind: 'entity' } & Entity & { createdAt: number }) | ({ kind: 'relation' } & Relation & { createdAt: number });

interface GraphSegment {
  ids: string[];
  docs: GraphDoc[];
}

export const graphSegmentFormat: SegmentFormat<GraphDoc, GraphSegment> = {
  encode(entries) {
    return { v: 1, ids: entries.map(([id]) => id), docs: entries.map(([, doc]) => doc) };
  },
  view(payload) {
    const p = payload as { v?: number; ids?: unknown; docs?: unknown };
    if (p?.v !== 1 || !Array.isArray(p.ids) || !Array.isArray(p.docs) || p.ids.length !== p.docs.length) throw new TypeError('not a graph index segment');
    return { ids: p.ids as string[], docs: p.docs as GraphDoc[] };
  },
  entries(segment) {
    return segment.ids.map((id, i) => [id, segment.docs[i]!] as [string, GraphDoc]);
  },
};

export interface IndexedEntity extends Entity {
  id: string;
  createdAt: number;
}

export interface IndexedRelation extends Relation {
  id: string;
  createdAt: number;
}

/** The live graph of one snapshot, in creation order. */
export interface GraphView {
  entities: IndexedEntity[];
  relations: IndexedRelation[];
}

const byCreation = (a: { createdAt: number; id: string }, b: { createdAt: number; id: string }) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export class GraphIndex {
  private readonly index: SegmentedIndex<GraphDoc, GraphSegment>;

  constructor(codec: RecordCodec, userId: string) {
    this.index = new SegmentedIndex(codec, userId, { segment: 'graph-index', delta: 'graph-delta', prefix: 'g' }, graphSegmentFormat);
  }

  /** Every live entity and relation; throws UnreadableRecord when a segment or delta does not open. */
  async view(store: Pick<Store, 'allRecords'>): Promise<GraphView> {
    const snapshot = await this.index.snapshot(store);
    const view: GraphView = { entities: [], relations: [] };
    const add = (id: string, doc: GraphDoc) => {
      if (doc.kind === 'entity') view.entities.push({ id, name: doc.name, entityType: doc.entityType, observations: doc.observations, createdAt: doc.createdAt });
      else view.relations.push({ id, from: doc.from, to: doc.to, relationType: doc.relationType, createdAt: doc.createdAt });
    };
    for (const segment of snapshot.segments) {
      segment.ids.forEach((id, i) => {
        if (!snapshot.changed.has(id)) add(id, segment.docs[i]!);
      });
    }
    for (const [id, doc] of snapshot.changed) if (doc) add(id, doc);
    view.entities.sort(byCreation);
    view.relations.sort(byCreation);
    return view;
  }

  async apply(tx: Transaction, changes: ReadonlyArray<IndexChange<GraphDoc>>): Promise<void> {
    await this.index.apply(tx, changes);
  }

  async rebuild(tx: Transaction, entries: ReadonlyArray<readonly [string, GraphDoc]>): Promise<void> {
    await this.index.rebuild(tx, entries);
  }
}
