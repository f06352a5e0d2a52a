// The knowledge graph of the MCP reference memory server
// (@modelcontextprotocol/server-memory), kept as one sealed record per entity
// and per relation. Entities and relations are found by keyed lookup tags
// (HMAC under a sub-key of K), so no name is ever stored in plaintext;
// search_nodes reads its encrypted trigram index (graph-index.ts) to find the
// few entities worth decrypting, a page at a time in creation order, and both
// it and open_nodes find relations through the index's adjacency rows,
// instead of decrypting every record.
import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { RecordCursor, RecordRow, Store, Transaction } from '../storage/store.ts';
import { RecordCodec, UnreadableRecord } from './codec.ts';
import { byCreation, nextCreatedAt } from './creation-order.ts';
import { sealedSearchCursors } from './cursor.ts';
import { type CandidateWalk, type GraphChange, type GraphDoc, GraphIndex, IndexMoved } from './graph-index.ts';
import { addObservationsTo, freshItems, type Graph, nodeMatcher, relationKey, removeObservationsFrom } from './graph-rules.ts';
import { type Found, type GraphPage, pageGraph, pageSearch, scanMatches } from './paging.ts';
import {
  type Entity,
  type EntityRecord,
  entitySchema,
  type Relation,
  type RelationRecord,
  relationSchema,
  toEntity,
  toRelation,
} from './records.ts';

export type { Graph } from './graph-rules.ts';
export type { GraphPage, GraphPosition } from './paging.ts';
export { relationKey } from './graph-rules.ts';

type Sealed<T> = { row: RecordRow; record: T };

export const entityLookupPurpose = 'entity';
export const relationLookupPurpose = 'relation';

export class KnowledgeGraph {
  constructor(
    private readonly store: Store,
    private readonly codec: RecordCodec,
    private readonly userId: string,
    readonly index: GraphIndex,
  ) {}

  entityLookup(name: string): string {
    return this.codec.lookup(entityLookupPurpose, name);
  }

  relationLookup(relation: Relation): string {
    return this.codec.lookup(relationLookupPurpose, relationKey(relation));
  }

  /**
   * Decrypts an entity row. Its keyed lookup tag must be the tag of the name
   * inside, so a token moved to another row (a swap inside the database) is
   * refused. `checkLookup: false` only for rows rebuilt from an export line,
   * which carries no tag.
   */
  openEntity(row: RecordRow, checkLookup = true): EntityRecord {
    const parsed = entitySchema.safeParse(this.codec.open(row.id, row.token));
    if (!parsed.success) throw new UnreadableRecord(row.id, 'not an entity');
    if (checkLookup && row.lookup !== this.entityLookup(parsed.data.name)) throw new UnreadableRecord(row.id, 'sealed for another row');
    return parsed.data;
  }

  /** Decrypts a relation row, refusing one whose lookup tag is not its own (see openEntity). */
  openRelation(row: RecordRow, checkLookup = true): RelationRecord {
    const parsed = relationSchema.safeParse(this.codec.open(row.id, row.token));
    if (!parsed.success) throw new UnreadableRecord(row.id, 'not a relation');
    if (checkLookup && row.lookup !== this.relationLookup(parsed.data)) throw new UnreadableRecord(row.id, 'sealed for another row');
    return parsed.data;
  }

  sealEntity(entity: Entity, id: string, createdAt: number, now: number): RecordRow {
    const record: EntityRecord = { kind: 'entity', ...toEntity({ kind: 'entity', ...entity }) };
    return { userId: this.userId, id, kind: 'entity', token: this.codec.seal(record), lookup: this.entityLookup(entity.name), createdAt, updatedAt: now };
  }

  sealRelation(relation: Relation, id: string, createdAt: number, now: number): RecordRow {
    const record: RelationRecord = { kind: 'relation', ...toRelation({ kind: 'relation', ...relation }) };
    return { userId: this.userId, id, kind: 'relation', token: this.codec.seal(record), lookup: this.relationLookup(relation), createdAt, updatedAt: now };
  }

  /** Opens rows, setting aside the ones that cannot be read instead of failing the whole answer. */
  private openAll<T>(rows: RecordRow[], open: (row: RecordRow) => T, unreadable: string[]): Sealed<T>[] {
    const out: Sealed<T>[] = [];
    for (const row of rows) {
      try {
        out.push({ row, record: open(row) });
      } catch (error) {
        if (!(error instanceof UnreadableRecord)) throw error;
        unreadable.push(row.id);
      }
    }
    return out;
  }

  /**
   * The named entities' records. A stored one that cannot be read is an error
   * (409 naming it), not "not found": the name does exist, its record is damaged.
   */
  private async entitiesByName(tx: Store | Transaction, names: readonly string[]): Promise<Map<string, Sealed<EntityRecord>>> {
    const rows = await tx.findRecordsByLookup(this.userId, 'entity', [...new Set(names)].map((n) => this.entityLookup(n)));
    const unreadable: string[] = [];
    const found = this.openAll(rows, (row) => this.openEntity(row), unreadable);
    if (unreadable.length) throw new AppError('conflict', 'a stored entity cannot be decrypted with the current key', { unreadable });
    return new Map(found.map((e) => [e.record.name, e]));
  }

  private async write<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.store.transaction(async (tx) => {
      await tx.lockUser(this.userId);
      return work(tx);
    });
  }

  /** Entities whose name already exists are skipped (as are repeats within the call); returns those created. */
  async createEntities(entities: Entity[]): Promise<Entity[]> {
    return this.createNew('entity', entities.map((e) => toEntity({ kind: 'entity', ...e })), (e) => this.entityLookup(e.name), (e, id, createdAt, now) => this.sealEntity(e, id, createdAt, now), entityDoc);
  }

  /** Relations that already exist (same from, to and type) are skipped; returns those created. */
  async createRelations(relations: Relation[]): Promise<Relation[]> {
    return this.createNew('relation', relations.map((r) => toRelation({ kind: 'relation', ...r })), (r) => this.relationLookup(r), (r, id, createdAt, now) => this.sealRelation(r, id, createdAt, now), relationDoc);
  }

  /** Creates the items whose lookup tag is not taken yet (by a stored record or an earlier item), in order. */
  private async createNew<T>(
    kind: 'entity' | 'relation',
    items: T[],
    lookupOf: (item: T) => string,
    seal: (item: T, id: string, createdAt: number, now: number) => RecordRow,
    docOf: (item: T, createdAt: number) => GraphDoc,
  ): Promise<T[]> {
    return this.write(async (tx) => {
      const existing = await tx.findRecordsByLookup(this.userId, kind, items.map(lookupOf));
      const fresh = freshItems(items, lookupOf, new Set(existing.map((row) => row.lookup ?? '')));
      const now = Date.now();
      const firstCreatedAt = await nextCreatedAt(tx, this.userId, kind, now);
      const rows = fresh.map((item, i) => seal(item, randomUUID(), firstCreatedAt + i, now));
      await tx.putRecords(rows);
      await this.reindex(tx, rows.map((row, i) => ({ id: row.id, doc: docOf(fresh[i]!, row.createdAt) })));
      return fresh;
    });
  }

  /** All or nothing: an unknown entity fails the whole call, as in the reference server. */
  async addObservations(additions: Array<{ entityName: string; contents: string[] }>): Promise<Array<{ entityName: string; addedObservations: string[] }>> {
    return this.write(async (tx) => {
      const entities = await this.entitiesByName(tx, additions.map((a) => a.entityName));
      const now = Date.now();
      const results = addObservationsTo(additions, recordsByName(entities));
      await this.rewriteEntities(tx, [...entities.values()], now);
      return results;
    });
  }

  /** Deletes the entities and every relation that starts or ends at one of them. */
  async deleteEntities(names: string[]): Promise<void> {
    await this.write(async (tx) => {
      // Found by their lookup tags, not opened: a damaged entity can still be deleted by its name.
      const entityRows = await tx.findRecordsByLookup(this.userId, 'entity', [...new Set(names)].map((n) => this.entityLookup(n)));
      const relations = await this.repaired(tx, () => this.index.relationsTouching(tx, names));
      await tx.deleteRecords(this.userId, [...entityRows.map((row) => row.id), ...relations.map((r) => r.id)]);
      await this.reindex(tx, [
        ...entityRows.map((row): GraphChange => ({ id: row.id, doc: null })),
        ...relations.map((r): GraphChange => ({ id: r.id, doc: null, previous: relationDoc(r, r.createdAt) })),
      ]);
    });
  }

  /** Missing entities and observations are ignored, as in the reference server. */
  async deleteObservations(deletions: Array<{ entityName: string; observations: string[] }>): Promise<void> {
    await this.write(async (tx) => {
      const entities = await this.entitiesByName(tx, deletions.map((d) => d.entityName));
      const now = Date.now();
      removeObservationsFrom(deletions, recordsByName(entities));
      await this.rewriteEntities(tx, [...entities.values()], now);
    });
  }

  async deleteRelations(relations: Relation[]): Promise<void> {
    await this.write(async (tx) => {
      const byLookup = new Map(relations.map((r) => [this.relationLookup(r), r]));
      const rows = await tx.findRecordsByLookup(this.userId, 'relation', [...byLookup.keys()]);
      await tx.deleteRecords(this.userId, rows.map((row) => row.id));
      // Found by the keyed tag of (from, to, type): the relation each row held is the one asked for.
      await this.reindex(tx, rows.map((row) => ({ id: row.id, doc: null, previous: relationDoc(byLookup.get(row.lookup!)!, row.createdAt) })));
    });
  }

  /** The graph a page at a time, read from the store in creation order (paging.ts). */
  async readGraph(options: { limit: number; cursor?: string }): Promise<GraphPage> {
    return pageGraph(
      options,
      (phase, after, limit) => this.store.listRecords(this.userId, { kind: phase, limit, order: 'oldest', ...(after ? { after } : {}) }),
      { entity: (row) => toEntity(this.openEntity(row)), relation: (row) => toRelation(this.openRelation(row)) },
    );
  }

  /**
   * Case-insensitive match on name, type or any observation, a page at a
   * time (paging.ts pageSearch), with the relations touching the page's
   * matches. The index hands out candidates in creation order (every entity,
   * read from the store, for a needle under three characters); each is
   * decrypted and checked exactly until the page is full, so a page costs
   * about its own size however many entities match.
   */
  async searchNodes(query: string, options: { limit: number; cursor?: string }): Promise<GraphPage> {
    const keep = nodeMatcher(query);
    const cursors = sealedSearchCursors(this.codec, query);
    let setAside: readonly string[] = [];
    const find = async (after: RecordCursor | undefined, wanted: number): Promise<Found> => {
      const plan = await this.index.walk(this.store, query.toLowerCase(), after);
      setAside = plan.setAside;
      return plan.walk ? this.checkCandidates(plan.walk, wanted, keep) : this.scanEntities(after, wanted, keep);
    };
    const relationsTouching = (names: string[]) => this.index.relationsTouching(this.store, names);
    const page = await this.repaired(this.store, () => readAgainIfMoved(() => pageSearch(options, cursors, find, relationsTouching)));
    const stored = setAside.length ? (await this.store.getRecords(this.userId, [...setAside])).map((row) => row.id) : [];
    return { ...page, unreadable: [...new Set([...stored, ...page.unreadable])] };
  }

  /** Matches among every entity, read oldest first from `after` (a needle too short for the index). */
  private scanEntities(after: RecordCursor | undefined, wanted: number, keep: ReturnType<typeof nodeMatcher>): Promise<Found> {
    const list = (from: RecordCursor | undefined, limit: number) => this.store.listRecords(this.userId, { kind: 'entity', limit, order: 'oldest', ...(from ? { after: from } : {}) });
    return scanMatches(after, wanted, list, (row) => toEntity(this.openEntity(row)), keep);
  }

  /** The first `wanted` of the walk's candidates that match, each decrypted and checked exactly; deleted ones are passed over. */
  private async checkCandidates(walk: CandidateWalk, wanted: number, keep: ReturnType<typeof nodeMatcher>): Promise<Found> {
    const found: Found = { matches: [], unreadable: [] };
    while (found.matches.length < wanted) {
      // Most candidates match; at least a few per round trip when many turn out stale.
      const candidates = await walk.next(Math.max(wanted - found.matches.length, 16));
      if (candidates.length === 0) break;
      const rows = new Map((await this.store.getRecords(this.userId, candidates.map((c) => c.id))).map((row) => [row.id, row]));
      for (const candidate of candidates) {
        const row = rows.get(candidate.id);
        if (!row || row.kind !== 'entity') continue;
        try {
          const entity = this.openEntity(row);
          if (keep(entity.name, entity.entityType, entity.observations)) found.matches.push({ id: row.id, createdAt: row.createdAt, entity: toEntity(entity) });
        } catch (error) {
          if (!(error instanceof UnreadableRecord)) throw error;
          found.unreadable.push({ id: row.id, createdAt: row.createdAt });
        }
        if (found.matches.length === wanted) break;
      }
    }
    return found;
  }

  /** The named entities (unknown names ignored) and the relations touching them. */
  async openNodes(names: string[]): Promise<Graph & { unreadable: string[] }> {
    const rows = await this.store.findRecordsByLookup(this.userId, 'entity', [...new Set(names)].map((n) => this.entityLookup(n)));
    const unreadable: string[] = [];
    const wanted = new Set(names);
    const entities = this.openAll(rows, (row) => this.openEntity(row), unreadable).filter(({ record }) => wanted.has(record.name));
    const setAside = await this.repaired(this.store, () => this.index.setAside(this.store));
    return this.withTouchingRelations(entities, setAside, unreadable);
  }

  /** Entities in creation order with the relations touching them; names the unreadable records, and those a rebuild set aside that are still stored. */
  private async withTouchingRelations(entities: Sealed<EntityRecord>[], setAside: readonly string[], unreadable: string[]): Promise<Graph & { unreadable: string[] }> {
    entities.sort((a, b) => byCreation(a.row, b.row));
    const names = entities.map((e) => e.record.name);
    const relations = await this.repaired(this.store, () => this.index.relationsTouching(this.store, names));
    const stored = setAside.length ? (await this.store.getRecords(this.userId, [...setAside])).map((row) => row.id) : [];
    return {
      entities: entities.map(({ record }) => toEntity(record)),
      relations: relations.map((r) => toRelation({ kind: 'relation', ...r })),
      unreadable: [...new Set([...stored, ...unreadable])],
    };
  }

  private async rewriteEntities(tx: Transaction, entities: Sealed<EntityRecord>[], now: number): Promise<void> {
    await tx.putRecords(entities.map(({ row, record }) => this.sealEntity(record, row.id, row.createdAt, now)));
    await this.reindex(tx, entities.map(({ row, record }) => ({ id: row.id, doc: entityDoc(record, row.createdAt) })));
  }

  /** Every graph record as an index document, for a rebuild; unreadable records are set aside. */
  async indexDocuments(tx: Pick<Store, 'allRecords'>, unreadable: string[] = []): Promise<Array<[string, GraphDoc]>> {
    const entities = this.openAll(await tx.allRecords(this.userId, ['entity']), (row) => this.openEntity(row), unreadable);
    const relations = this.openAll(await tx.allRecords(this.userId, ['relation']), (row) => this.openRelation(row), unreadable);
    return [
      ...entities.map(({ row, record }): [string, GraphDoc] => [row.id, entityDoc(record, row.createdAt)]),
      ...relations.map(({ row, record }): [string, GraphDoc] => [row.id, relationDoc(record, row.createdAt)]),
    ];
  }

  /**
   * A change to the index inside a write's transaction (which holds the user
   * lock). The index is derived data: if a part it had to read is damaged, or
   * it has gathered too many stale postings, it is rebuilt from the records,
   * which already hold this write, in the same transaction.
   */
  async reindex(tx: Transaction, changes: GraphChange[]): Promise<void> {
    let rebuild: boolean;
    try {
      rebuild = await this.index.apply(tx, changes);
    } catch (error) {
      if (!(error instanceof UnreadableRecord)) throw error;
      rebuild = true;
    }
    if (rebuild) await this.rebuildIndex(tx);
  }

  /** Rebuilds the index from the records; records that cannot be read are set aside and reported by every query while stored. */
  private async rebuildIndex(tx: Transaction): Promise<void> {
    const setAside: string[] = [];
    await this.index.rebuild(tx, await this.indexDocuments(tx, setAside), setAside);
  }

  /**
   * A read of the index; if a part it read was tampered with or corrupted,
   * the index is rebuilt from the records (under the user lock) and read
   * again, instead of failing every query.
   */
  private async repaired<T>(store: Store | Transaction, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof UnreadableRecord)) throw error;
    }
    if ('lockUser' in store) await this.rebuildIndex(store);
    else await this.write((tx) => this.rebuildIndex(tx));
    return read();
  }
}

/**
 * A read of the index, again when a rebuild replaced the table while it read
 * (at most three times: an index that keeps moving is left to repaired(),
 * which rebuilds it).
 */
async function readAgainIfMoved<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof IndexMoved) || attempt === 2) throw error;
    }
  }
}

export function entityDoc(entity: Entity, createdAt: number): GraphDoc {
  return { kind: 'entity', name: entity.name, entityType: entity.entityType, observations: entity.observations, createdAt };
}

export function relationDoc(relation: Relation, createdAt: number): GraphDoc {
  return { kind: 'relation', from: relation.from, to: relation.to, relationType: relation.relationType, createdAt };
}

/** The records of entities found by name, for the pure rules that change them in place. */
function recordsByName(entities: Map<string, Sealed<EntityRecord>>): Map<string, EntityRecord> {
  return new Map([...entities].map(([name, e]) => [name, e.record]));
}
