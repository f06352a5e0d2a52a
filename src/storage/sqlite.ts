// The embedded driver: one better-sqlite3 connection per store, WAL mode.
//
// better-sqlite3 is synchronous but `transaction(work)` takes an async
// callback, so between two statements of a transaction the event loop runs
// other requests. On one connection anything those requests executed would
// silently join the open transaction (and roll back with it). So the store
// serialises: a transaction holds the store's mutex from BEGIN IMMEDIATE to
// COMMIT/ROLLBACK, and every statement issued on the store itself (not on the
// `tx` object) first waits for the mutex. Statements on `tx` run directly.
// Transactions that queue up meanwhile share one commit (group commit).
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { endable, makeOps, StorageError, txAborted, type Executor, type Ops, type Param } from './common.ts';
import { rateLimitCounters } from './rate-limit-counters.ts';
import { migrateSqlite } from './migrations.ts';
import { StoreUnavailable, UniqueViolation, type Store, type Transaction } from './store.ts';

export interface SqliteStoreOptions {
  /** Path of the database file (its folder is created if missing), or `:memory:`. */
  file: string;
  /** How long a statement waits for another process's write lock. Default 5000. */
  busyTimeoutMs?: number;
  /** Page cache of the connection in KiB (default: the build's, 16 MiB). A transaction larger than this spills uncommitted pages into the WAL. */
  cacheSizeKiB?: number;
}

type Settle = { ok: true; value: unknown } | { ok: false; error: unknown };

/** A transaction waiting for its batch: its work, and how to settle its caller's promise. */
interface Queued {
  work: (tx: Transaction) => Promise<unknown>;
  settle: (result: Settle) => void;
}

/** A FIFO lock: `run` starts `fn` once every earlier holder has finished. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

const UNAVAILABLE_CODES = /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|NOTADB|CORRUPT|READONLY|PROTOCOL)/;

function mapSqliteError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  if (err instanceof Database.SqliteError && typeof code === 'string') {
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
      // The message names columns only, e.g. "UNIQUE constraint failed: users.email".
      const cols = err.message.slice(err.message.indexOf(':') + 1).trim();
      if (cols === 'users.email') return new UniqueViolation('email');
      if (cols === 'users.api_key_hash' || cols === 'users.pending_key_hash') return new UniqueViolation('api-key');
      if (cols === 'records.user_id, records.kind, records.lookup') return new UniqueViolation('record-lookup');
      if (cols === 'records.user_id, records.id') return new UniqueViolation('record-id');
      if (cols === 'e2e_accounts.user_id') return new UniqueViolation('e2e-account');
      return new StorageError(code, `unique constraint failed: ${cols}`);
    }
    if (UNAVAILABLE_CODES.test(code)) return new StoreUnavailable(new StorageError(code, `sqlite ${code}`));
    // SQLite messages name tables, columns and constraints; values are bound, never part of the SQL.
    return new StorageError(code, `sqlite ${code}: ${err.message}`);
  }
  // better-sqlite3 throws a TypeError once the connection is closed.
  if (err instanceof TypeError && /database connection is not open/i.test(err.message)) {
    return new StoreUnavailable(new StorageError('SQLITE_CLOSED', 'database connection is not open'));
  }
  return err;
}

export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const { file } = options;
  const inMemory = file === ':memory:' || file === '';
  let db: Database.Database;
  try {
    if (!inMemory) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    db = new Database(file);
  } catch (err) {
    const mapped = mapSqliteError(err);
    throw mapped instanceof StoreUnavailable ? mapped : new StoreUnavailable(mapped);
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    db.pragma('journal_mode = WAL');
    // WAL with synchronous=NORMAL: a commit is in the WAL before it is
    // acknowledged, so it survives the process being killed, and the file is
    // never corrupted; only a power cut of the host can lose the last commits
    // since a checkpoint. FULL (an fsync per commit) cut write throughput
    // about threefold. Deployments that need more choose PostgreSQL.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    if (options.cacheSizeKiB !== undefined) db.pragma(`cache_size = ${-Math.max(64, Math.floor(options.cacheSizeKiB))}`);
    migrateSqlite(db);
  } catch (err) {
    db.close();
    throw mapSqliteError(err);
  }

  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string): Database.Statement => {
    let stmt = statements.get(sql);
    if (!stmt) {
      // IN lists of every length make distinct texts: keep the cache bounded.
      if (statements.size >= 1000) statements.clear();
      stmt = db.prepare(sql);
      statements.set(sql, stmt);
    }
    return stmt;
  };

  // Runs at once, on whatever transaction is open: only for `tx` and for code holding the mutex.
  const direct: Executor = {
    async all(sql, params: readonly Param[]) {
      try {
        return prepare(sql).all(...params) as Record<string, unknown>[];
      } catch (err) {
        throw mapSqliteError(err);
      }
    },
    async run(sql, params: readonly Param[]) {
      try {
        return prepare(sql).run(...params).changes;
      } catch (err) {
        throw mapSqliteError(err);
      }
    },
  };

  // A transaction's statements: never run in autocommit mode after SQLite
  // aborted the transaction on its own; and, as on PostgreSQL, any failed
  // statement fails the whole transaction even if the caller catches it.
  let statementFailed = false;
  const inTransaction = async <T>(run: () => Promise<T>): Promise<T> => {
    if (!db.inTransaction || statementFailed) throw txAborted();
    try {
      return await run();
    } catch (err) {
      statementFailed = true;
      throw err;
    }
  };
  const inOpenTransaction: Executor = {
    all: (sql, params) => inTransaction(() => direct.all(sql, params)),
    run: (sql, params) => inTransaction(() => direct.run(sql, params)),
  };

  const mutex = new Mutex();
  const guarded: Executor = {
    all: (sql, params) => mutex.run(() => direct.all(sql, params)),
    run: (sql, params) => mutex.run(() => direct.run(sql, params)),
  };

  const exec = (sql: string) => {
    try {
      db.exec(sql);
    } catch (err) {
      throw mapSqliteError(err);
    }
  };

  const rollback = () => {
    if (!db.inTransaction) return;
    try {
      db.exec('ROLLBACK');
    } catch {
      // The original error matters more; SQLite rolls back on its own when the connection closes.
    }
  };

  /**
   * Runs one caller's work inside the open batch, in its own savepoint: its
   * failure undoes its own changes only. Resolves to how the work ended;
   * the caller's promise settles after the batch's COMMIT.
   */
  const runInSavepoint = async (queued: Queued): Promise<Settle> => {
    exec('SAVEPOINT anamnesis_work');
    statementFailed = false;
    const scoped = endable(inOpenTransaction);
    const tx: Transaction = {
      ...makeOps(scoped.ex, (w) => w(tx), true),
      // No-op beyond what is already held: BEGIN IMMEDIATE took SQLite's one
      // database-wide write lock (other processes wait in BEGIN IMMEDIATE)
      // and the store mutex keeps this process's other callers out, so no
      // other writer of this user can interleave until COMMIT/ROLLBACK.
      async lockUser() {},
      // Transactions run one at a time: the lock is always free.
      async tryLockUser() {
        return true;
      },
    };
    let settle: Settle;
    try {
      const value = await queued.work(tx);
      // A statement that failed (even if the caller caught it) fails the work, as on PostgreSQL.
      settle = statementFailed ? { ok: false, error: txAborted() } : { ok: true, value };
    } catch (error) {
      settle = { ok: false, error };
    }
    scoped.end();
    // SQLite rolls a whole transaction back by itself on some errors (I/O, disk full):
    // then nothing of the batch is left to commit.
    if (!db.inTransaction) throw settle.ok ? txAborted() : settle.error;
    exec(settle.ok ? 'RELEASE anamnesis_work' : 'ROLLBACK TO anamnesis_work; RELEASE anamnesis_work');
    return settle;
  };

  /**
   * Group commit. Transactions queued while one runs are run back to back in
   * one BEGIN IMMEDIATE … COMMIT, each in its own savepoint, so concurrent
   * writers share one WAL commit instead of paying for one each. A caller's
   * promise settles only once the COMMIT holding its work is done; if that
   * COMMIT fails, every work of the batch fails with it.
   */
  const queue: Queued[] = [];
  const MAX_BATCH = 64;
  const runBatch = async (): Promise<void> => {
    const batch = queue.splice(0, MAX_BATCH);
    if (batch.length === 0) return;
    const settled: Settle[] = [];
    try {
      exec('BEGIN IMMEDIATE');
      for (const queued of batch) settled.push(await runInSavepoint(queued));
      exec('COMMIT');
    } catch (error) {
      rollback();
      for (const queued of batch) queued.settle({ ok: false, error });
      return;
    }
    batch.forEach((queued, i) => queued.settle(settled[i]!));
  };

  // A batch starts on the next turn of the event loop, so that requests
  // arriving together can join it; meanwhile the queue only grows.
  let scheduled = false;
  const scheduleBatch = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      void mutex.run(runBatch).then(() => {
        if (queue.length > 0) scheduleBatch();
      });
    });
  };

  const transaction = <T>(work: (tx: Transaction) => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push({
        work,
        settle: (result) => (result.ok ? resolve(result.value as T) : reject(result.error)),
      });
      scheduleBatch();
    });

  const ops: Ops = makeOps(guarded, (work) => transaction((tx) => work(tx)), false);
  let closed = false;

  return {
    driver: 'sqlite',
    ...ops,
    ...rateLimitCounters(guarded, 'sqlite'),
    // A top-level write joins the next group commit instead of committing on its own.
    putRecords: (records) => transaction((tx) => tx.putRecords(records)),
    putRecordsIfNewest: (records, guard) => transaction((tx) => tx.putRecordsIfNewest(records, guard)),
    transaction,
    close: () =>
      mutex.run(() => {
        if (closed) return;
        closed = true;
        statements.clear();
        // Fold the write-ahead log into the database file and empty it, so
        // what is left on disk after a clean stop is one self-contained file.
        // (SQLite does the same when its last connection closes; this says so
        // and holds even if another connection, say a backup, is still open.)
        try {
          db.pragma('wal_checkpoint(TRUNCATE)');
        } finally {
          db.close();
        }
      }),
  };
}
