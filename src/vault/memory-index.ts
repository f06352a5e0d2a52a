// Where search finds its documents. The index sees plaintext only inside the
// request that owns the codec; whatever it stores is sealed like any record.
import type { Store, Transaction } from '../storage/store.ts';
import { RecordCodec, UnreadableRecord } from './codec.ts';
import { memorySchema, type MemoryRecord } from './records.ts';
import { type IndexedDoc, indexDocument } from './search.ts';

export interface MemoryIndex {
  /** Every memory as term statistics, plus the ids of records that could not be read. */
  documents(store: Store): Promise<{ docs: IndexedDoc[]; unreadable: string[] }>;
  /** Called inside the write's transaction, after the record rows are written. */
  upsert(tx: Transaction, records: MemoryRecord[]): Promise<void>;
  remove(tx: Transaction, ids: string[]): Promise<void>;
}

export function memoryDocument(record: MemoryRecord): IndexedDoc {
  return indexDocument(record.id, record.content, record.tags);
}

/** Decrypts every memory on each search: simple and always consistent. */
export class ScanningMemoryIndex implements MemoryIndex {
  constructor(private readonly codec: RecordCodec, private readonly userId: string) {}

  async documents(store: Store): Promise<{ docs: IndexedDoc[]; unreadable: string[] }> {
    const docs: IndexedDoc[] = [];
    const unreadable: string[] = [];
    for (const row of await store.allRecords(this.userId, ['memory'])) {
      try {
        const parsed = memorySchema.safeParse(this.codec.open(row.id, row.token));
        if (!parsed.success) throw new UnreadableRecord(row.id, 'not a memory');
        docs.push(memoryDocument(parsed.data));
      } catch (error) {
        if (!(error instanceof UnreadableRecord)) throw error;
        unreadable.push(row.id);
      }
    }
    return { docs, unreadable };
  }

  async upsert(): Promise<void> {}

  async remove(): Promise<void> {}
}
