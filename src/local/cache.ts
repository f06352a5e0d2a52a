// The local MCP server's ciphertext cache: the client core's ReplicaCache
// (src/e2e-client/cache.ts) in one SQLite file. It holds only what the server
// itself may hold (Fernet tokens with their id, version and seq), the sync
// cursor, and the writes not yet accepted by the server (tokens too). No
// plaintext, no key, no session token: a copy of this file opens nothing
// without K.
import { chmodSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { CacheChange, CachedRow, CacheSnapshot, PendingWrite, ReplicaCache } from '../e2e-client/index.ts';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
  CREATE TABLE IF NOT EXISTS rows (id TEXT PRIMARY KEY, version INTEGER NOT NULL, seq INTEGER NOT NULL, token TEXT NOT NULL) STRICT;
  CREATE TABLE IF NOT EXISTS pending (id TEXT PRIMARY KEY, base_version INTEGER NOT NULL, version INTEGER NOT NULL, token TEXT NOT NULL, queued INTEGER NOT NULL) STRICT;
`;

export class SqliteCache implements ReplicaCache {
  private readonly db: Database.Database;
  private queued = 0;

  constructor(file: string) {
    this.db = new Database(file);
    // Only the user: the folder already is, the file says so too (SQLite gives its -wal and -shm the same mode).
    chmodSync(file, 0o600);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    const last = this.db.prepare('SELECT MAX(queued) AS n FROM pending').get() as { n: number | null };
    this.queued = last.n ?? 0;
  }

  /** The account this cache belongs to; a cache of another account is emptied first. */
  bindTo(userId: string): void {
    if (this.meta('user_id') === userId) return;
    this.db.transaction(() => {
      this.db.exec('DELETE FROM rows; DELETE FROM pending; DELETE FROM meta;');
      this.setMeta('user_id', userId);
    })();
  }

  private meta(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  private setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  async load(): Promise<CacheSnapshot> {
    return {
      cursor: Number(this.meta('cursor') ?? 0),
      rows: this.db.prepare('SELECT id, version, seq, token FROM rows ORDER BY seq, id').all() as CachedRow[],
      // In the order they were queued.
      pending: this.db.prepare('SELECT id, base_version, version, token FROM pending ORDER BY queued, id').all() as PendingWrite[],
    };
  }

  /** One transaction: all of the change or none of it. */
  async apply(change: CacheChange): Promise<void> {
    const putRow = this.db.prepare('INSERT INTO rows (id, version, seq, token) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version, seq = excluded.seq, token = excluded.token');
    const removeRow = this.db.prepare('DELETE FROM rows WHERE id = ?');
    const putPending = this.db.prepare(
      'INSERT INTO pending (id, base_version, version, token, queued) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET base_version = excluded.base_version, version = excluded.version, token = excluded.token',
    );
    const removePending = this.db.prepare('DELETE FROM pending WHERE id = ?');
    this.db.transaction(() => {
      if (change.resetRows) this.db.exec('DELETE FROM rows');
      for (const id of change.removeRows ?? []) removeRow.run(id);
      for (const r of change.rows ?? []) putRow.run(r.id, r.version, r.seq, r.token);
      if (change.cursor !== undefined) this.setMeta('cursor', String(change.cursor));
      for (const id of change.removePending ?? []) removePending.run(id);
      for (const w of change.putPending ?? []) putPending.run(w.id, w.base_version, w.version, w.token, ++this.queued);
    })();
  }

  close(): void {
    this.db.close();
  }
}
