// Memories: create, read, list, update, delete and search, each record one
// Fernet token. Works only through the codec it was given, so it can never
// reach another user's key.
import { randomUUID } from 'node:crypto';
import { AppError, notFound } from '../errors.ts';
import type { RecordRow, Store, Transaction } from '../storage/store.ts';
import { RecordCodec, UnreadableRecord } from './codec.ts';
import { createdAtAfter } from './creation-order.ts';
import { startCreate } from './creates-in-flight.ts';
import { type MemoryPage, pageMemories } from './paging.ts';
import { type Memory, type MemoryRecord, memorySchema, normaliseTags, toMemory } from './records.ts';
import { type MemoryChange, type MemoryIndex, memoryDocOf } from './memory-index.ts';

export type { MemoryPage } from './paging.ts';

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

  /**
   * No lock: a fresh id conflicts with nothing, so the memory and its index
   * delta are sealed first and written by one statement.
   * Lists are newest first by creation time: a memory is stamped after the
   * newest one already stored, so one client's memories keep their order
   * even within a millisecond (concurrent ones are ordered by id). Stamped
   * with the clock, it is written only if no memory is stamped at or after
   * it, by the statement that also counts the index's waiting deltas (which
   * with this one's decide whether a merge is due): one round trip. Only
   * when another memory got the same or a later stamp (writes within a
   * millisecond, another process's clock ahead) is the newest read, and the
   * memory stamped after it and sealed again.
   */
  async create(input: { content: string; tags?: string[] }): Promise<Memory> {
    // Counted until its merge decision, so the creates before it leave their deltas for it to merge (creates-in-flight.ts).
    const creating = startCreate(this.userId);
    try {
      const id = randomUUID();
      const stamped = (createdAt: number) => {
        const iso = new Date(createdAt).toISOString();
        const record: MemoryRecord = { kind: 'memory', id, content: input.content, tags: normaliseTags(input.tags ?? []), created_at: iso, updated_at: iso };
        return { record, rows: [this.sealRow(record, createdAt, createdAt), ...this.index.createdRows([record])] };
      };
      let created = stamped(Date.now());
      // One statement, shared with concurrent writers by each driver's group commit.
      const put = await this.store.putRecordsIfNewest(created.rows, { newestOf: 'memory', countOf: 'memory-delta' });
      let waitingDeltas: number;
      if (put.written) waitingDeltas = put.count;
      else {
        const newest = await this.store.newestAndCount(this.userId, 'memory', 'memory-delta');
        created = stamped(createdAtAfter(newest.newestCreatedAt));
        await this.store.putRecords(created.rows);
        waitingDeltas = newest.count;
      }
      creating.checked();
      await this.index.mergeIfDue(this.store, waitingDeltas + 1);
      return toMemory(created.record);
    } finally {
      // A create that failed before its decision is no longer one to wait for.
      creating.checked();
    }
  }

  /**
   * A change to the index inside a write's transaction (which holds the user
   * lock). The index is derived data: if a part of it it had to read is
   * damaged, it is rebuilt from the memories in the same transaction.
   */
  private async reindex(tx: Transaction, changes: MemoryChange[]): Promise<void> {
    try {
      await this.index.apply(tx, changes);
    } catch (error) {
      if (!(error instanceof UnreadableRecord)) throw error;
      await this.rebuildIndex(tx);
    }
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
      await this.reindex(tx, [{ id, doc: memoryDocOf(updated), previous: memoryDocOf(record), isNew: false }]);
      return toMemory(updated);
    });
  }

  async delete(id: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      await tx.lockUser(this.userId);
      const row = await tx.getRecord(this.userId, id);
      if (!row || row.kind !== 'memory') throw notFound('memory');
      let previous: MemoryRecord | null = null;
      try {
        previous = this.openRecord(row);
      } catch (error) {
        if (!(error instanceof UnreadableRecord)) throw error;
      }
      await tx.deleteRecords(this.userId, [id]);
      // What a damaged memory held in the index is unknown: the index is rebuilt without it.
      if (previous) await this.reindex(tx, [{ id, doc: null, previous: memoryDocOf(previous), isNew: false }]);
      else await this.rebuildIndex(tx);
    });
  }

  /** Newest first. With a tag, pages are filled by reading on until enough memories carry it. */
  async list(options: { limit: number; cursor?: string; tag?: string }): Promise<MemoryPage> {
    return pageMemories(
      options,
      (after, limit) => this.store.listRecords(this.userId, { kind: 'memory', limit, ...(after ? { after } : {}) }),
      (row) => this.openRecord(row),
    );
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
   * The index is derived data: if a part of it was tampered with or corrupted,
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
      await this.rebuildIndex(tx);
    });
    return this.index.search(this.store, options.q, options);
  }

  /** Rebuilds the index from the memories, setting aside the ones that cannot be read (searches then keep reporting them). */
  private async rebuildIndex(tx: Transaction): Promise<void> {
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
  }
}
