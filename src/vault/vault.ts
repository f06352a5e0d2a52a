// The request-scoped vault: created when a request is authenticated, it alone
// holds the user's data key (inside its codec) and serves that request's reads
// and writes. Nothing keeps a reference to it after the response.
import { type DataKey, deriveDataKey } from '../crypto/keys.ts';
import type { RecordRow, Store, Transaction } from '../storage/store.ts';
import { RecordCodec, UnreadableRecord } from './codec.ts';
import { type GraphDoc, GraphIndex } from './graph-index.ts';
import { entityDoc, KnowledgeGraph, relationDoc } from './graph.ts';
import { MemoryBook } from './memories.ts';
import { MemoryIndex } from './memory-index.ts';
import { entitySchema, type MemoryRecord, memorySchema, type PlainRecord, relationSchema } from './records.ts';
import { Transfer } from './transfer.ts';

export class Vault {
  readonly #codec: RecordCodec;
  readonly index: MemoryIndex;
  readonly memories: MemoryBook;
  readonly graph: KnowledgeGraph;
  readonly transfer: Transfer;

  constructor(
    store: Store,
    readonly userId: string,
    key: DataKey,
  ) {
    this.#codec = new RecordCodec(key);
    this.index = new MemoryIndex(this.#codec, userId);
    this.memories = new MemoryBook(store, this.#codec, userId, this.index);
    this.graph = new KnowledgeGraph(store, this.#codec, userId, new GraphIndex(this.#codec, userId));
    this.transfer = new Transfer(store, userId, this);
  }

  static forApiKey(store: Store, userId: string, apiKey: string): Vault {
    return new Vault(store, userId, deriveDataKey(apiKey, userId));
  }

  /** This vault's key wrapped for a session token or a pending API key. */
  wrapFor(credential: string): string {
    return this.#codec.wrapFor(credential, this.userId);
  }

  /**
   * Decrypts one record of any kind, checking its shape and that it was
   * sealed for this row. Rows rebuilt from an export line carry no lookup
   * tag: `fromExport` skips that part of the check (the export is the user's own).
   */
  openRow(row: RecordRow, fromExport = false): PlainRecord {
    switch (row.kind) {
      case 'memory':
        return this.memories.openRecord(row);
      case 'entity':
        return this.graph.openEntity(row, !fromExport);
      case 'relation':
        return this.graph.openRelation(row, !fromExport);
      default:
        throw new UnreadableRecord(row.id, `not a record: ${row.kind}`);
    }
  }

  /** Seals a plaintext record as a row of this vault, with its keyed lookup tag. */
  sealRow(record: PlainRecord, id: string, createdAt: number, updatedAt: number): RecordRow {
    switch (record.kind) {
      case 'memory':
        return { userId: this.userId, id, kind: 'memory', token: this.#codec.seal(memorySchema.parse(record)), lookup: null, createdAt, updatedAt };
      case 'entity':
        return this.graph.sealEntity(entitySchema.parse(record), id, createdAt, updatedAt);
      case 'relation':
        return this.graph.sealRelation(relationSchema.parse(record), id, createdAt, updatedAt);
    }
  }

  /**
   * Re-encrypts every record of the user from this vault's key to `target`'s,
   * inside the caller's transaction, and rebuilds the search index under the
   * new key. A record that does not open under this key aborts the whole change.
   */
  async reencryptInto(tx: Transaction, target: Vault): Promise<number> {
    const rows = await tx.allRecords(this.userId, ['memory', 'entity', 'relation']);
    const memories: MemoryRecord[] = [];
    const graph: Array<[string, GraphDoc]> = [];
    const resealed = rows.map((row) => {
      const record = this.openRow(row);
      if (record.kind === 'memory') memories.push(record);
      else graph.push([row.id, record.kind === 'entity' ? entityDoc(record, row.createdAt) : relationDoc(record, row.createdAt)]);
      return target.sealRow(record, row.id, row.createdAt, row.updatedAt);
    });
    await tx.putRecords(resealed);
    await target.index.rebuild(tx, memories);
    await target.graph.index.rebuild(tx, graph);
    return resealed.length;
  }
}
