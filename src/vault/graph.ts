// The knowledge graph of the MCP reference memory server
// (@modelcontextprotocol/server-memory), kept as one sealed record per entity
// and per relation. Entities and relations are found by keyed lookup tags
// (HMAC under a sub-key of K), so no name is ever stored in plaintext.
import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { RecordRow, Store, Transaction } from '../storage/store.ts';
import { RecordCodec, UnreadableRecord } from './codec.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
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

export interface Graph {
  entities: Entity[];
  relations: Relation[];
}

export interface GraphPage extends Graph {
  next_cursor: string | null;
  unreadable: string[];
}

type Sealed<T> = { row: RecordRow; record: T };

export const entityLookupPurpose = 'entity';
export const relationLookupPurpose = 'relation';

export function relationKey(r: Relation): string {
  return JSON.stringify([r.from, r.to, r.relationType]);
}

export class KnowledgeGraph {
  constructor(
    private readonly store: Store,
    private readonly codec: RecordCodec,
    private readonly userId: string,
  ) {}

  entityLookup(name: string): string {
    return this.codec.lookup(entityLookupPurpose, name);
  }

  relationLookup(relation: Relation): string {
    return this.codec.lookup(relationLookupPurpose, relationKey(relation));
  }

  private openEntity(row: RecordRow): EntityRecord {
    const parsed = entitySchema.safeParse(this.codec.open(row.id, row.token));
    if (!parsed.success) throw new UnreadableRecord(row.id, 'not an entity');
    return parsed.data;
  }

  private openRelation(row: RecordRow): RelationRecord {
    const parsed = relationSchema.safeParse(this.codec.open(row.id, row.token));
    if (!parsed.success) throw new UnreadableRecord(row.id, 'not a relation');
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

  private async entitiesByName(tx: Store | Transaction, names: readonly string[]): Promise<Map<string, Sealed<EntityRecord>>> {
    const rows = await tx.findRecordsByLookup(this.userId, 'entity', [...new Set(names)].map((n) => this.entityLookup(n)));
    const found = this.openAll(rows, (row) => this.openEntity(row), []);
    return new Map(found.map((e) => [e.record.name, e]));
  }

  private async allRelations(tx: Store | Transaction, unreadable: string[] = []): Promise<Sealed<RelationRecord>[]> {
    return this.openAll(await tx.allRecords(this.userId, ['relation']), (row) => this.openRelation(row), unreadable);
  }

  private async write<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.store.transaction(async (tx) => {
      await tx.lockUser(this.userId);
      return work(tx);
    });
  }

  /** Entities whose name already exists are skipped (as are repeats within the call); returns those created. */
  async createEntities(entities: Entity[]): Promise<Entity[]> {
    return this.write(async (tx) => {
      const existing = await tx.findRecordsByLookup(this.userId, 'entity', entities.map((e) => this.entityLookup(e.name)));
      const taken = new Set(existing.map((row) => row.lookup));
      const now = Date.now();
      const created: Entity[] = [];
      const rows: RecordRow[] = [];
      for (const entity of entities) {
        const row = this.sealEntity(entity, randomUUID(), now, now);
        if (taken.has(row.lookup)) continue;
        taken.add(row.lookup);
        rows.push(row);
        created.push(toEntity({ kind: 'entity', ...entity }));
      }
      await tx.putRecords(rows);
      return created;
    });
  }

  /** Relations that already exist (same from, to and type) are skipped; returns those created. */
  async createRelations(relations: Relation[]): Promise<Relation[]> {
    return this.write(async (tx) => {
      const existing = await tx.findRecordsByLookup(this.userId, 'relation', relations.map((r) => this.relationLookup(r)));
      const taken = new Set(existing.map((row) => row.lookup));
      const now = Date.now();
      const created: Relation[] = [];
      const rows: RecordRow[] = [];
      for (const relation of relations) {
        const row = this.sealRelation(relation, randomUUID(), now, now);
        if (taken.has(row.lookup)) continue;
        taken.add(row.lookup);
        rows.push(row);
        created.push(toRelation({ kind: 'relation', ...relation }));
      }
      await tx.putRecords(rows);
      return created;
    });
  }

  /** All or nothing: an unknown entity fails the whole call, as in the reference server. */
  async addObservations(additions: Array<{ entityName: string; contents: string[] }>): Promise<Array<{ entityName: string; addedObservations: string[] }>> {
    return this.write(async (tx) => {
      const entities = await this.entitiesByName(tx, additions.map((a) => a.entityName));
      const now = Date.now();
      const results = additions.map(({ entityName, contents }) => {
        const entity = entities.get(entityName);
        if (!entity) throw new AppError('not_found', `Entity with name ${entityName} not found`);
        const added = contents.filter((c) => !entity.record.observations.includes(c));
        entity.record.observations.push(...added);
        return { entityName, addedObservations: added };
      });
      await tx.putRecords([...entities.values()].map(({ row, record }) => this.sealEntity(record, row.id, row.createdAt, now)));
      return results;
    });
  }

  /** Deletes the entities and every relation that starts or ends at one of them. */
  async deleteEntities(names: string[]): Promise<void> {
    await this.write(async (tx) => {
      const entities = await this.entitiesByName(tx, names);
      const doomed = new Set(names);
      const relations = (await this.allRelations(tx)).filter(({ record }) => doomed.has(record.from) || doomed.has(record.to));
      await tx.deleteRecords(this.userId, [...[...entities.values()].map((e) => e.row.id), ...relations.map((r) => r.row.id)]);
    });
  }

  /** Missing entities and observations are ignored, as in the reference server. */
  async deleteObservations(deletions: Array<{ entityName: string; observations: string[] }>): Promise<void> {
    await this.write(async (tx) => {
      const entities = await this.entitiesByName(tx, deletions.map((d) => d.entityName));
      const now = Date.now();
      for (const { entityName, observations } of deletions) {
        const entity = entities.get(entityName);
        if (entity) entity.record.observations = entity.record.observations.filter((o) => !observations.includes(o));
      }
      await tx.putRecords([...entities.values()].map(({ row, record }) => this.sealEntity(record, row.id, row.createdAt, now)));
    });
  }

  async deleteRelations(relations: Relation[]): Promise<void> {
    await this.write(async (tx) => {
      const rows = await tx.findRecordsByLookup(this.userId, 'relation', relations.map((r) => this.relationLookup(r)));
      await tx.deleteRecords(this.userId, rows.map((row) => row.id));
    });
  }

  /**
   * The graph a page at a time: entities first, then relations, each oldest
   * first as the reference file lists them. `limit` counts both together.
   */
  async readGraph(options: { limit: number; cursor?: string }): Promise<GraphPage> {
    const unreadable: string[] = [];
    const after = options.cursor ? decodeCursor(options.cursor) : undefined;
    const rows = [...(await this.store.allRecords(this.userId, ['entity'])), ...(await this.store.allRecords(this.userId, ['relation']))];
    const start = after ? rows.findIndex((row) => comesAfter(row, after)) : 0;
    const slice = start < 0 ? [] : rows.slice(start, start + options.limit);
    const last = slice.at(-1);
    const more = start >= 0 && start + slice.length < rows.length;
    return {
      entities: this.openAll(slice.filter((r) => r.kind === 'entity'), (row) => this.openEntity(row), unreadable).map((e) => toEntity(e.record)),
      relations: this.openAll(slice.filter((r) => r.kind === 'relation'), (row) => this.openRelation(row), unreadable).map((r) => toRelation(r.record)),
      next_cursor: more && last ? encodeCursor({ createdAt: last.createdAt, id: last.id, phase: last.kind }) : null,
      unreadable,
    };
  }

  /** Case-insensitive match on name, type or any observation, plus relations touching a match. */
  async searchNodes(query: string): Promise<Graph & { unreadable: string[] }> {
    const unreadable: string[] = [];
    const needle = query.toLowerCase();
    const entities = this.openAll(await this.store.allRecords(this.userId, ['entity']), (row) => this.openEntity(row), unreadable)
      .map((e) => e.record)
      .filter(
        (e) =>
          e.name.toLowerCase().includes(needle) ||
          e.entityType.toLowerCase().includes(needle) ||
          e.observations.some((o) => o.toLowerCase().includes(needle)),
      );
    return { ...(await this.withTouchingRelations(entities, unreadable)), unreadable };
  }

  /** The named entities (unknown names ignored) and the relations touching them. */
  async openNodes(names: string[]): Promise<Graph & { unreadable: string[] }> {
    const unreadable: string[] = [];
    const found = await this.entitiesByName(this.store, names);
    // Keep the graph's own order (creation), as the reference does.
    const entities = [...found.values()].sort((a, b) => a.row.createdAt - b.row.createdAt || a.row.id.localeCompare(b.row.id)).map((e) => e.record);
    return { ...(await this.withTouchingRelations(entities, unreadable)), unreadable };
  }

  private async withTouchingRelations(entities: EntityRecord[], unreadable: string[]): Promise<Graph> {
    const names = new Set(entities.map((e) => e.name));
    const relations = entities.length === 0 ? [] : (await this.allRelations(this.store, unreadable)).map((r) => r.record).filter((r) => names.has(r.from) || names.has(r.to));
    return { entities: entities.map(toEntity), relations: relations.map(toRelation) };
  }
}

const GRAPH_ORDER: Record<string, number> = { entity: 0, relation: 1 };

/** Whether a row lies after a page position in read_graph's order (kind, then age, then id). */
function comesAfter(row: RecordRow, position: { createdAt: number; id: string; phase?: string }): boolean {
  const byKind = GRAPH_ORDER[row.kind]! - (GRAPH_ORDER[position.phase ?? 'entity'] ?? 0);
  if (byKind !== 0) return byKind > 0;
  if (row.createdAt !== position.createdAt) return row.createdAt > position.createdAt;
  return row.id > position.id;
}
