// The scale-out driver: a pg.Pool. Statements outside a transaction take any
// pooled connection; `transaction` checks one out for its whole duration.
import pg from 'pg';
import { BATCH, endable, makeOps, StorageError, txAborted, type Executor, type Ops, type Param } from './common.ts';
import { rateLimitCounters } from './rate-limit-counters.ts';
import { migratePostgres } from './migrations.ts';
import { type RecordRow, StoreUnavailable, UniqueViolation, type Store, type Transaction } from './store.ts';

export interface PostgresStoreOptions {
  /** `postgres://user[:password]@host[:port]/database` */
  url: string;
  /** Schema for every table, created if missing and put on each connection's search_path. */
  schema?: string;
  /** Maximum pooled connections. Default 10. */
  poolSize?: number;
  /** How long to wait for a connection (new or from the full pool). Default 3000. */
  connectTimeoutMs?: number;
  /** Server-side cap on one statement, lock waits included. Default 15000. */
  statementTimeoutMs?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** BIGINT (epoch milliseconds, counts) as JS numbers: every value stored here is far below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

const UNAVAILABLE_NET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
]);
// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now,
// 57014 query_canceled (statement_timeout), 53300 too_many_connections.
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57014', '53300', '53100', '53200', '58030']);
const UNAVAILABLE_MESSAGES =
  /connection terminated|timeout exceeded when trying to connect|query read timeout|not queryable|after calling end on the pool|connection is closed|terminating connection/i;

function isDatabaseError(err: unknown): err is pg.DatabaseError {
  return err instanceof pg.DatabaseError;
}

function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (UNAVAILABLE_NET_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08')) return true;
  }
  if (err instanceof AggregateError && err.errors.some(isUnavailable)) return true;
  return !isDatabaseError(err) && UNAVAILABLE_MESSAGES.test(err.message);
}

const UNIQUE_BY_CONSTRAINT: Record<string, UniqueViolation['what']> = {
  users_email_unique: 'email',
  users_api_key_hash_unique: 'api-key',
  users_pending_key_hash_unique: 'api-key',
  records_lookup_unique: 'record-lookup',
  records_pkey: 'record-id',
  e2e_accounts_pkey: 'e2e-account',
};

/**
 * Driver errors in, store errors out. PostgreSQL's message and detail can
 * quote row values ("Key (email)=(…)", "invalid input syntax …: \"…\""), so a
 * DatabaseError is rebuilt from its code, table and constraint names only.
 */
function mapPgError(err: unknown): unknown {
  if (err instanceof UniqueViolation || err instanceof StoreUnavailable || err instanceof StorageError) return err;
  if (isUnavailable(err)) {
    const code = String((err as { code?: unknown }).code ?? 'CONNECTION');
    return new StoreUnavailable(new StorageError(code, `postgres unavailable (${code})`));
  }
  if (isDatabaseError(err)) {
    const code = err.code ?? 'UNKNOWN';
    if (code === '23505') {
      const what = err.constraint ? UNIQUE_BY_CONSTRAINT[err.constraint] : undefined;
      if (what) return new UniqueViolation(what);
    }
    const where = [err.table && `table ${err.table}`, err.constraint && `constraint ${err.constraint}`]
      .filter(Boolean)
      .join(', ');
    return new StorageError(code, `postgres error ${code}${where ? ` (${where})` : ''}`);
  }
  return err;
}

const pgSql = new Map<string, string>();
/** `?` placeholders to `$1, $2, …` (the shared SQL has no `?` inside literals). */
function toPg(sql: string): string {
  let text = pgSql.get(sql);
  if (text === undefined) {
    let n = 0;
    text = sql.replace(/\?/g, () => `$${++n}`);
    pgSql.set(sql, text);
  }
  return text;
}

function executorOn(target: pg.Pool | pg.PoolClient): Executor {
  return {
    async all(sql, params: readonly Param[]) {
      try {
        const res = await target.query(toPg(sql), params as Param[]);
        return res.rows as Record<string, unknown>[];
      } catch (err) {
        throw mapPgError(err);
      }
    },
    async run(sql, params: readonly Param[]) {
      try {
        const res = await target.query(toPg(sql), params as Param[]);
        return res.rowCount ?? 0;
      } catch (err) {
        throw mapPgError(err);
      }
    },
  };
}

const ignore = () => undefined;


/**
 * Inside a transaction: any failed statement fails the transaction, even if
 * the caller catches the error (as PostgreSQL itself does), so it can never
 * commit half of its work. SQLite's driver keeps the same rule.
 */
function transactionExecutor(client: pg.PoolClient, failed: { value: boolean }): Executor {
  const inner = executorOn(client);
  const failing = async <T>(run: () => Promise<T>): Promise<T> => {
    if (failed.value) throw txAborted();
    try {
      return await run();
    } catch (err) {
      failed.value = true;
      throw err;
    }
  };
  return {
    all: (sql, params) => failing(() => inner.all(sql, params)),
    run: (sql, params) => failing(() => inner.run(sql, params)),
  };
}

interface QueuedPut {
  rows: RecordRow[];
  settle: (error?: unknown) => void;
}

/**
 * Group commit for top-level putRecords (lock-free writers such as memory
 * creates): calls that arrive while one statement is being written go out
 * together in the next single INSERT, so many writers share one WAL flush
 * instead of paying for one each. A combined statement that fails is
 * retried call by call, so a call fails only because of its own rows.
 */
function groupedPuts(put: (rows: RecordRow[]) => Promise<void>): (rows: RecordRow[]) => Promise<void> {
  const queue: QueuedPut[] = [];
  let writing = false;
  const drain = async () => {
    writing = true;
    while (queue.length > 0) {
      const batch: QueuedPut[] = [queue.shift()!];
      let size = batch[0]!.rows.length;
      while (queue.length > 0 && size + queue[0]!.rows.length <= BATCH) {
        size += queue[0]!.rows.length;
        batch.push(queue.shift()!);
      }
      try {
        await put(batch.flatMap((q) => q.rows));
        for (const q of batch) q.settle();
      } catch (error) {
        if (batch.length === 1) batch[0]!.settle(error);
        else for (const q of batch) await put(q.rows).then(() => q.settle(), (own: unknown) => q.settle(own));
      }
    }
    writing = false;
  };
  return (rows) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ rows, settle: (error) => (error === undefined ? resolve() : reject(error)) });
      if (!writing) void drain();
    });
}

export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const schema = options.schema ?? null;
  if (schema !== null && !SCHEMA_NAME.test(schema)) {
    throw new StorageError('BAD_SCHEMA', 'schema must be a lower-case identifier ([a-z_][a-z0-9_]*)');
  }
  const statementTimeout = options.statementTimeoutMs ?? 15_000;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 3_000,
    idleTimeoutMillis: 30_000,
    // Server-side limit, plus a client-side one a little later for a server that stopped answering.
    statement_timeout: statementTimeout,
    query_timeout: statementTimeout + 5_000,
    keepAlive: true,
    application_name: 'anamnesis',
    ...(schema !== null ? { options: `-c search_path=${schema}` } : {}),
    types,
  });
  // An idle pooled connection that dies (server restart, admin shutdown)
  // emits 'error' on the pool; unhandled it would crash the process. The pool
  // drops that connection; the next statement connects afresh or surfaces
  // StoreUnavailable.
  pool.on('error', ignore);

  const connect = async (): Promise<pg.PoolClient> => {
    try {
      return await pool.connect();
    } catch (err) {
      throw mapPgError(err);
    }
  };

  try {
    const client = await connect();
    client.on('error', ignore);
    let broken = false;
    try {
      await migratePostgres(client, schema);
    } catch (err) {
      broken = true;
      throw mapPgError(err);
    } finally {
      client.removeListener('error', ignore);
      client.release(broken);
    }
  } catch (err) {
    await pool.end().catch(ignore);
    throw err;
  }

  const transaction = async <T>(work: (tx: Transaction) => Promise<T>): Promise<T> => {
    const client = await connect();
    // A checked-out client has no pool listener: without this, the server
    // closing the connection between two statements would crash the process.
    client.on('error', ignore);
    let broken = false;
    const failed = { value: false };
    try {
      try {
        await client.query('BEGIN');
      } catch (err) {
        broken = true;
        throw mapPgError(err);
      }
      const scoped = endable(transactionExecutor(client, failed));
      const tx: Transaction = {
        ...makeOps(scoped.ex, (w) => w(tx), true),
        async lockUser(userId) {
          await scoped.ex.all('SELECT 1 FROM users WHERE id = ? FOR UPDATE', [userId]);
        },
        async tryLockUser(userId) {
          return (await scoped.ex.all('SELECT 1 FROM users WHERE id = ? FOR UPDATE SKIP LOCKED', [userId])).length > 0;
        },
      };
      let result: T;
      try {
        result = await work(tx);
      } catch (err) {
        scoped.end();
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // the connection is gone; the server rolls back on its own
        }
        throw err;
      }
      scoped.end();
      let outcome: string;
      try {
        outcome = failed.value ? 'ROLLBACK' : (await client.query('COMMIT')).command;
        if (failed.value) await client.query('ROLLBACK');
      } catch (err) {
        broken = true;
        throw mapPgError(err);
      }
      // PostgreSQL answers COMMIT of an aborted transaction with ROLLBACK, no error.
      if (outcome !== 'COMMIT') throw txAborted();
      return result;
    } finally {
      client.removeListener('error', ignore);
      client.release(broken);
    }
  };

  const ops: Ops = makeOps(executorOn(pool), (work) => transaction((tx) => work(tx)), false);
  let closing: Promise<void> | null = null;

  return {
    driver: 'postgres',
    ...ops,
    ...rateLimitCounters(executorOn(pool), 'postgres'),
    putRecords: groupedPuts(ops.putRecords),
    transaction,
    close: () => (closing ??= pool.end().catch(ignore)),
  };
}
