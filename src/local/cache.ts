// The local MCP server's ciphertext cache: one SQLite file holding only what
// the server itself may hold (Fernet tokens with their id, version and seq),
// the sync cursor, and the writes not yet accepted by the server (tokens
// too). No plaintext, no key, no token of a session: a copy of this file
// opens nothing without K.
import Database from 'better-sqlite3';

export interface CachedRow {
  id: string;
  version: number;
  seq: number;
  token: string;
}

export interface PendingWrite {
  id: string;
  /** The version the write was made on (0 for a new id); the server refuses it with 409 if that is no longer current. */
  base_version: number;
  version: number;
  token: string;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
  CREATE TABLE IF NOT EXISTS rows (id TEXT PRIMARY KEY, version INTEGER NOT NULL, seq INTEGER NOT NULL, token TEXT NOT NULL) STRICT;
  CREATE TABLE IF NOT EXISTS pending (id TEXT PRIMARY KEY, base_version INTEGER NOT NULL, version INTEGER NOT NULL, token TEXT NOT NULL, queued INTEGER NOT NULL) STRICT;
`;

export class SqliteCache {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
  }

  /** The account this cache belongs to; a cache of another account is emptied before use. */
  bindTo(userId: string): void {
    const owner = this.meta('user_id');
    if (owner === userId) return;
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

  cursor(): number {
    return Number(this.meta('cursor') ?? 0);
  }

  rows(): CachedRow[] {
    return this.db.prepare('SELECT id, version, seq, token FROM rows ORDER BY seq').all() as CachedRow[];
  }

  row(id: string): CachedRow | null {
    return (this.db.prepare('SELECT id, version, seq, token FROM rows WHERE id = ?').get(id) as CachedRow | undefined) ?? null;
  }

  pending(): PendingWrite[] {
    return this.db.prepare('SELECT id, base_version, version, token FROM pending ORDER BY queued, id').all() as PendingWrite[];
  }

  /** Rows from the server (changes feed or write answers) and the cursor they bring the cache to, in one transaction. */
  applyServerRows(rows: readonly CachedRow[], cursor: number): void {
    const put = this.db.prepare('INSERT INTO rows (id, version, seq, token) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version, seq = excluded.seq, token = excluded.token WHERE excluded.version >= rows.version');
    this.db.transaction(() => {
      for (const r of rows) put.run(r.id, r.version, r.seq, r.token);
      if (cursor > this.cursor()) this.setMeta('cursor', String(cursor));
    })();
  }

  /** Local writes, queued for the server in one transaction (a later write of the same id replaces an earlier queued one). */
  queue(writes: readonly PendingWrite[]): void {
    const put = this.db.prepare(
      `INSERT INTO pending (id, base_version, version, token, queued) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET version = excluded.version, token = excluded.token`,
    );
    const now = Date.now();
    this.db.transaction(() => {
      for (const w of writes) put.run(w.id, w.base_version, w.version, w.token, now);
    })();
  }

  /** Writes the server accepted: they leave the queue and become cached rows, in one transaction. */
  acknowledge(applied: readonly CachedRow[], cursor: number): void {
    const drop = this.db.prepare('DELETE FROM pending WHERE id = ? AND version = ?');
    this.db.transaction(() => {
      for (const r of applied) drop.run(r.id, r.version);
      this.applyServerRows(applied, cursor);
    })();
  }

  /** Drops queued writes (after a conflict was merged into new ones). */
  unqueue(ids: readonly string[]): void {
    const drop = this.db.prepare('DELETE FROM pending WHERE id = ?');
    this.db.transaction(() => {
      for (const id of ids) drop.run(id);
    })();
  }

  /** Forgets every row and the cursor (a 410 cursor_expired: sync again from 0); queued writes stay. */
  resetRows(): void {
    this.db.transaction(() => {
      this.db.exec('DELETE FROM rows');
      this.setMeta('cursor', '0');
    })();
  }

  clear(): void {
    this.db.exec('DELETE FROM rows; DELETE FROM pending; DELETE FROM meta;');
  }

  close(): void {
    this.db.close();
  }
}
