// What a device keeps between runs: ONLY ciphertext. The confirmed rows the
// server served (tokens, tombstones included, with their version and seq), the
// changes-feed cursor, and the queue of local writes not yet pushed (sealed
// tokens too). The local MCP server implements this with SQLite, the browser
// with IndexedDB; MemoryReplicaCache is the reference for tests.

/** A row as the server confirmed it. */
export interface CachedRow {
  id: string;
  version: number;
  seq: number;
  token: string;
}

/** A local write waiting to be pushed: `version` = `base_version` + 1, one per id. */
export interface PendingWrite {
  id: string;
  base_version: number;
  version: number;
  token: string;
}

export interface CacheSnapshot {
  cursor: number;
  rows: CachedRow[];
  pending: PendingWrite[];
}

/** One atomic change to the cache: apply all of it or none (one SQLite/IndexedDB transaction). */
export interface CacheChange {
  /** Drop every confirmed row first (a full resync from cursor 0). Pending writes stay. */
  resetRows?: boolean;
  /** Confirmed rows to insert or replace, by id. */
  rows?: CachedRow[];
  /** Confirmed rows to remove, by id (tombstones the server purged). */
  removeRows?: string[];
  cursor?: number;
  /** Pending writes to insert or replace, by id. */
  putPending?: PendingWrite[];
  /** Pending writes to remove, by id (pushed, or made moot by a merge). */
  removePending?: string[];
}

export interface ReplicaCache {
  load(): Promise<CacheSnapshot>;
  apply(change: CacheChange): Promise<void>;
}

/** The cache in memory: for tests, and the shape every persistent cache must behave like. */
export class MemoryReplicaCache implements ReplicaCache {
  readonly rows = new Map<string, CachedRow>();
  readonly pending = new Map<string, PendingWrite>();
  cursor = 0;

  async load(): Promise<CacheSnapshot> {
    return { cursor: this.cursor, rows: [...this.rows.values()].map((r) => ({ ...r })), pending: [...this.pending.values()].map((p) => ({ ...p })) };
  }

  async apply(change: CacheChange): Promise<void> {
    if (change.resetRows) this.rows.clear();
    for (const id of change.removeRows ?? []) this.rows.delete(id);
    for (const row of change.rows ?? []) this.rows.set(row.id, { ...row });
    if (change.cursor !== undefined) this.cursor = change.cursor;
    for (const id of change.removePending ?? []) this.pending.delete(id);
    for (const write of change.putPending ?? []) this.pending.set(write.id, { ...write });
  }
}
