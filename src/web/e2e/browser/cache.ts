// The replica's cache in this browser (the client core's ReplicaCache, in
// IndexedDB): only what the server may hold too (confirmed tokens with their
// id, version and seq; the changes-feed cursor) and this device's queued
// writes, sealed. Every change is one IndexedDB transaction.
import type { CacheChange, CacheSnapshot, CachedRow, PendingWrite, ReplicaCache } from '../../../e2e-client/index.ts';
import type { Database } from './idb.ts';

export class IndexedDbReplicaCache implements ReplicaCache {
  constructor(private readonly db: Database) {}

  async load(): Promise<CacheSnapshot> {
    const stores = await this.db.snapshot(['rows', 'pending', 'meta']);
    // meta holds one value: the cursor.
    const [cursor] = stores.get('meta') as number[];
    return { cursor: cursor ?? 0, rows: stores.get('rows') as CachedRow[], pending: stores.get('pending') as PendingWrite[] };
  }

  async apply(change: CacheChange): Promise<void> {
    await this.db.change(['rows', 'pending', 'meta'], (store) => {
      const rows = store('rows');
      const pending = store('pending');
      if (change.resetRows) rows.clear();
      for (const id of change.removeRows ?? []) rows.delete(id);
      for (const row of change.rows ?? []) rows.put(row, row.id);
      if (change.cursor !== undefined) store('meta').put(change.cursor, 'cursor');
      for (const id of change.removePending ?? []) pending.delete(id);
      for (const write of change.putPending ?? []) pending.put(write, write.id);
    });
  }
}
