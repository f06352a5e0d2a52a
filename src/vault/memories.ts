// Memories: create, read, list, update, delete and search, each record one
// Fernet token. Works only through the codec it was given, so it can never
// reach another user's key.
import { randomUUID } from 'node:crypto';
import { AppError, notFound } from '../errors.ts';
import type { RecordRow, Store } from '../storage/store.ts';
import { RecordCodec, UnreadableRecord } from './codec.ts';
import { nextCreatedAt } from './creation-order.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { type Memory, type MemoryRecord, memorySchema, normaliseTags, toMemory } from './records.ts';
import type { MemoryIndex } from './memory-index.ts';
import { hasTag } from './search.ts';

export interface MemoryPage {
  items: Memory[];
  next_cursor: string | null;
  /** Ids of records on this page that could not be decrypted (tampered or corrupt). */
  unreadable: string[];
}

export interface SearchHit {
  memory: Memory;
  score: number;
}

export class MemoryBook {
  constructor(
    private readonly store: Store,
    private readonly codec: RecordCodec,
    private readonly userId: string,
    private readonly index: MemoryIndex,
  ) {}

  /**
   * Decrypts a memory row. A memory carries its own id, so a token moved to
   * another row (a swap inside the database) is refused, not shown as that row.
   */
  openRecord(row: RecordRow): MemoryRecord {
    const parsed = memorySchema.safeParse(this.codec.open(row.id, row.token));
    if (!parsed.success) throw new UnreadableRecord(row.id, 'not a memory');
    if (parsed.data.id !== row.id) throw new UnreadableRecord(row.id, 'sealed for another row');
    return parsed.data;
  }

  private sealRow(record: MemoryRecord, createdAt: number, updatedAt: number): RecordRow {
    return { userId: this.userId, id: record.id, kind: 'memory', token: this.codec.seal(record), lookup: null, createdAt, updatedAt };
  }

  async create(input: { content: string; tags?: string[] }): Promise<Memory> {
    const record = await this.store.transaction(async (tx) => {
      await tx.lockUser(this.userId);
      // Lists are newest first by creation time: two memories created in one
      // millisecond would otherwise come back in random (id) order.
      const createdAt = await nextCreatedAt(tx, this.userId, 'memory');
      const iso = new Date(createdAt).toISOString();
      const created: MemoryRecord = {
        kind: 'memory',
        id: randomUUID(),
        content: input.content,
        tags: normaliseTags(input.tags ?? []),
        created_at: iso,
        updated_at: iso,
      };
      await tx.putRecords([this.sealRow(created, createdAt, createdAt)]);
      await this.index.record(tx, [{ record: created, isNew: true }]);
      return created;
    });
    return toMemory(record);
  }

  /** Inside a transaction, pass its `tx`: on SQLite a statement on the store would wait for that transaction to end. */
  private async getRecord(id: string, reader: Pick<Store, 'getRecord'> = this.store): Promise<{ row: RecordRow; record: MemoryRecord }> {
    const row = await reader.getRecord(this.userId, id);
    if (!row || row.kind !== 'memory') throw notFound('memory');
    try {
      return { row, record: this.openRecord(row) };
    } catch (error) {
      if (error instanceof UnreadableRecord) throw new AppError('conflict', 'this memory is stored but cannot be decrypted with the current key', { unreadable: [id] });
      throw error;
    }
  }

  async get(id: string): Promise<Memory> {
    return toMemory((await this.getRecord(id)).record);
  }

  async update(id: string, patch: { content?: string; tags?: string[] }): Promise<Memory> {
    return this.store.transaction(async (tx) => {
      await tx.lockUser(this.userId);
      const { row, record } = await this.getRecord(id, tx);
      const now = Date.now();
      const updated: MemoryRecord = {
        ...record,
        content: patch.content ?? record.content,
        tags: patch.tags ? normaliseTags(patch.tags) : record.tags,
        updated_at: new Date(now).toISOString(),
      };
      await tx.putRecords([this.sealRow(updated, row.createdAt, now)]);
      await this.index.record(tx, [{ record: updated, isNew: false }]);
      return toMemory(updated);
    });
  }

  async delete(id: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      await tx.lockUser(this.userId);
      const row = await tx.getRecord(this.userId, id);
      if (!row || row.kind !== 'memory') throw notFound('memory');
      await tx.deleteRecords(this.userId, [id]);
      await this.index.forget(tx, [id]);
    });
  }

  /** Newest first. With a tag, pages are filled by reading on until enough memories carry it. */
  async list(options: { limit: number; cursor?: string; tag?: string }): Promise<MemoryPage> {
    let after = options.cursor ? decodeCursor(options.cursor) : undefined;
    const items: Memory[] = [];
    const unreadable: string[] = [];
    const batch = options.tag ? Math.max(options.limit * 4, 100) : options.limit + 1;
    for (;;) {
      const rows = await this.store.listRecords(this.userId, { kind: 'memory', limit: batch, ...(after ? { after } : {}) });
      for (const row of rows) {
        if (items.length === options.limit) {
          return { items, next_cursor: encodeCursor(after!), unreadable };
        }
        after = { createdAt: row.createdAt, id: row.id };
        try {
          const record = this.openRecord(row);
          if (!options.tag || hasTag(record.tags, options.tag)) items.push(toMemory(record));
        } catch (error) {
          if (!(error instanceof UnreadableRecord)) throw error;
          unreadable.push(row.id);
        }
      }
      if (rows.length < batch) return { items, next_cursor: null, unreadable };
    }
  }

  async search(options: { q: string; limit: number; tag?: string }): Promise<{ results: SearchHit[]; unreadable: string[] }> {
    const { ranked, setAside } = await this.rankWithRepair(options);
    const rows = await this.store.getRecords(this.userId, [...ranked.map((r) => r.id), ...setAside]);
    const byId = new Map(rows.map((row) => [row.id, row]));
    // Memories a rebuild set aside are reported for as long as they are stored.
    const unreadable = setAside.filter((id) => byId.has(id));
    const results: SearchHit[] = [];
    for (const { id, score } of ranked) {
      const row = byId.get(id);
      if (!row) continue;
      try {
        results.push({ memory: toMemory(this.openRecord(row)), score });
      } catch (error) {
        if (!(error instanceof UnreadableRecord)) throw error;
        unreadable.push(id);
      }
    }
    return { results, unreadable };
  }

  /**
   * The index is derived data: if a segment was tampered with or corrupted,
   * rebuild it from the memories themselves (setting aside unreadable ones,
   * which searches then keep reporting) and rank again, rather than failing
   * every search.
   */
  private async rankWithRepair(options: { q: string; limit: number; tag?: string }) {
    try {
      return await this.index.search(this.store, options.q, options);
    } catch (error) {
      if (!(error instanceof UnreadableRecord)) throw error;
    }
    await this.store.transaction(async (tx) => {
      await tx.lockUser(this.userId);
      const readable: MemoryRecord[] = [];
      const setAside: string[] = [];
      for (const row of await tx.allRecords(this.userId, ['memory'])) {
        try {
          readable.push(this.openRecord(row));
        } catch (error) {
          if (!(error instanceof UnreadableRecord)) throw error;
          setAside.push(row.id);
        }
      }
      await this.index.rebuild(tx, readable, setAside);
    });
    return this.index.search(this.store, options.q, options);
  }
}
