// The scale-out driver: a pg.Pool. Statements outside a transaction take any
// pooled connection; `transaction` checks one out for its whole duration.
import pg from 'pg';
import { BATCH, endable, type GuardedPut, makeOps, PLANNED_PER_CALL, putManyIfNewest, sameGuard, StorageError, txAborted, type Executor, type Ops, type Param } from './common.ts';
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

/**
 * Settings of every connection, after any `options` the URL carries (pg lets
 * the URL's replace the config's, so they are merged here):
 * - no JIT: every statement here reads a few rows by index, and compiling one
 *   (when a plan's estimated cost crosses jit_above_cost) takes longer than
 *   running it;
 * - PostgreSQL's own plan-cache choice, named here so a server configured
 *   otherwise does not override it: a prepared statement gets a generic plan
 *   once it is no worse than planning each call. Planning the API-key lookup,
 *   the newest-and-count read and the insert of every remember took about a
 *   quarter of a millisecond per call. Statements whose plan depends on the
 *   user's size or their LIMIT are marked PLANNED_PER_CALL and never prepared
 *   (see toPg), so they are planned for each call's values.
 */
const SESSION_OPTIONS = '-c jit=off -c plan_cache_mode=auto';

function connection(url: string, schema: string | null): { connectionString: string; options: string } {
  const ours = `${SESSION_OPTIONS}${schema !== null ? ` -c search_path=${schema}` : ''}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { connectionString: url, options: ours };
  }
  const theirs = parsed.searchParams.get('options');
  if (theirs === null) return { connectionString: url, options: ours };
  parsed.searchParams.delete('options');
  return { connectionString: parsed.toString(), options: `${theirs} ${ours}` };
}

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

interface Statement {
  text: string;
  /** Set for the first MAX_NAMED texts not planned per call: prepared once per connection, then only bound and run. */
  name?: string;
}

/**
 * Named (prepared) statements per connection, at most. Lists travel as one
 * array parameter, so the texts the store sends are few (a few dozen); the
 * cap only bounds what an unforeseen stream of distinct texts could hold on
 * each connection. Texts beyond it run unnamed (parsed and planned each time).
 */
const MAX_NAMED = 200;
const statements = new Map<string, Statement>();
let named = 0;
/**
 * `?` placeholders to `$1, $2, …` (the shared SQL has no `?` inside
 * literals). A statement marked PLANNED_PER_CALL stays unnamed: PostgreSQL
 * parses it and plans it for its values on every call, never generically.
 */
function toPg(sql: string): Statement {
  let statement = statements.get(sql);
  if (statement === undefined) {
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    statement = named < MAX_NAMED && !sql.startsWith(PLANNED_PER_CALL) ? { text, name: `anamnesis_${named++}` } : { text };
    statements.set(sql, statement);
  }
  return statement;
}

/** The texts this process prepares (a generic plan may serve them), for the plan tests. */
export function preparedStatementTexts(): string[] {
  return [...statements.values()].filter((s) => s.name !== undefined).map((s) => s.text);
}

function executorOn(target: pg.Pool | pg.PoolClient): Executor {
  const query = (sql: string, params: readonly Param[]) => target.query({ ...toPg(sql), values: params as unknown[] });
  return {
    arrays: true,
    async all(sql, params: readonly Param[]) {
      try {
        const res = await query(sql, params);
        return res.rows as Record<string, unknown>[];
      } catch (err) {
        throw mapPgError(err);
      }
    },
    async run(sql, params: readonly Param[]) {
      try {
        const res = await query(sql, params);
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
function transactionExecutor(inner: Executor, failed: { value: boolean }): Executor {
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
    arrays: true,
    all: (sql, params) => failing(() => inner.all(sql, params)),
    run: (sql, params) => failing(() => inner.run(sql, params)),
  };
}

interface Queued<C, R> {
  call: C;
  settle: (outcome: { ok: true; value: R } | { ok: false; error: unknown }) => void;
}

/**
 * Group commit for top-level writes of lock-free writers (memory creates):
 * calls that arrive while one statement is being written go out together in
 * the next single statement, so many writers share one WAL flush instead of
 * paying for one each. `write` answers each call of a group, in order; calls
 * join a group while it stays within BATCH rows and `joins` the first. A
 * combined statement that fails is retried call by call, so a call fails
 * only because of its own rows.
 */
function groupCommit<C, R>(write: (calls: C[]) => Promise<R[]>, rowsOf: (call: C) => number, joins: (first: C, next: C) => boolean = () => true): (call: C) => Promise<R> {
  const queue: Queued<C, R>[] = [];
  let writing = false;
  const drain = async () => {
    writing = true;
    while (queue.length > 0) {
      const batch: Queued<C, R>[] = [queue.shift()!];
      let size = rowsOf(batch[0]!.call);
      while (queue.length > 0 && size + rowsOf(queue[0]!.call) <= BATCH && joins(batch[0]!.call, queue[0]!.call)) {
        size += rowsOf(queue[0]!.call);
        batch.push(queue.shift()!);
      }
      try {
        const values = await write(batch.map((q) => q.call));
        batch.forEach((q, i) => q.settle({ ok: true, value: values[i]! }));
      } catch (error) {
        if (batch.length === 1) batch[0]!.settle({ ok: false, error });
        else for (const q of batch) await write([q.call]).then(([value]) => q.settle({ ok: true, value: value! }), (own: unknown) => q.settle({ ok: false, error: own }));
      }
    }
    writing = false;
  };
  return (call) =>
    new Promise<R>((resolve, reject) => {
      queue.push({ call, settle: (outcome) => (outcome.ok ? resolve(outcome.value) : reject(outcome.error)) });
      if (!writing) void drain();
    });
}

/**
 * Top-level calls of one read with the same arguments share a statement: one
 * that arrives while such a read is running waits for the next, which starts
 * once that one is answered. So every caller still sees everything committed
 * before it called, and many concurrent callers (requests with one API key,
 * memory creates of one user) cost one read between them instead of one
 * each. They share the answer too: callers only read it.
 */
function sharedReads<A extends unknown[], T>(read: (...args: A) => Promise<T>): (...args: A) => Promise<T> {
  const running = new Map<string, Promise<T>>();
  const waiting = new Map<string, Promise<T>>();
  return (...args) => {
    const key = JSON.stringify(args);
    const start = (): Promise<T> => {
      waiting.delete(key);
      const reading = read(...args);
      running.set(key, reading);
      const done = () => {
        if (running.get(key) === reading) running.delete(key);
      };
      reading.then(done, done);
      return reading;
    };
    const current = running.get(key);
    if (!current) return start();
    let next = waiting.get(key);
    if (!next) waiting.set(key, (next = current.then(start, start)));
    return next;
  };
}

/**
 * The planner's statistics on records, kept fresh by this process too. Page
 * queries (a user's records by kind in creation order, LIMIT n) are instant
 * along records_list_idx, but without statistics PostgreSQL guesses that a
 * user has a handful of rows and reads all of them, sorting, instead: 70 ms
 * at 100,000 records. Autovacuum analyzes the table in time when it runs
 * (it may be off, or lag behind a bulk import), so after every
 * max(1,000 rows, a tenth of the table) of memories, entities and relations
 * written by this process, and at open for a table never analyzed, it runs
 * ANALYZE records itself, in the background (it reads a fixed sample and
 * blocks no reader or writer).
 *
 * Index parts are not counted: a user holds a bounded number of them (its
 * buckets' slots), and their writes are mostly the same rows rewritten or a
 * delta written and deleted again, which leave the statistics as they were.
 * Counted, they made a remember count four to five rows instead of one, and
 * ANALYZE (about 200 ms of a core at 50,000 rows) ran every few seconds
 * under a stream of remembers.
 */
const MIN_ROWS = 1_000;

/** Rows that change what the statistics describe: records a user sees, not the index parts derived from them. */
function userVisible(rows: readonly RecordRow[]): number {
  let n = 0;
  for (const row of rows) if (!row.kind.endsWith('-index') && !row.kind.endsWith('-delta')) n++;
  return n;
}

function keepStatistics(ex: Executor): { written: (rows: number) => void; stop: () => Promise<void> } {
  let rows = 0;
  let threshold = MIN_ROWS;
  let running: Promise<void> | null = null;
  let stopped = false;
  const analyze = () => {
    if (running || stopped) return;
    rows = 0;
    running = (async () => {
      await ex.run('ANALYZE records', []);
      const [table] = await ex.all("SELECT reltuples FROM pg_class WHERE oid = 'records'::regclass", []);
      threshold = Math.max(MIN_ROWS, Math.floor(Number(table?.reltuples ?? 0) / 10));
    })()
      .catch(ignore)
      .finally(() => {
        running = null;
        // Rows committed while it ran may already call for the next one.
        if (rows >= threshold) analyze();
      });
  };
  // reltuples is -1 for a table never analyzed.
  const opening = ex
    .all("SELECT reltuples FROM pg_class WHERE oid = 'records'::regclass", [])
    .then(([table]) => {
      if (Number(table?.reltuples ?? 0) < 0) analyze();
      else threshold = Math.max(MIN_ROWS, Math.floor(Number(table?.reltuples ?? 0) / 10));
    }, ignore);
  return {
    written(n) {
      rows += n;
      if (rows >= threshold) analyze();
    },
    async stop() {
      await opening;
      stopped = true;
      await running;
    },
  };
}

export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const schema = options.schema ?? null;
  if (schema !== null && !SCHEMA_NAME.test(schema)) {
    throw new StorageError('BAD_SCHEMA', 'schema must be a lower-case identifier ([a-z_][a-z0-9_]*)');
  }
  const statementTimeout = options.statementTimeoutMs ?? 15_000;
  const pool = new pg.Pool({
    ...connection(options.url, schema),
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 3_000,
    idleTimeoutMillis: 30_000,
    // Server-side limit, plus a client-side one a little later for a server that stopped answering.
    statement_timeout: statementTimeout,
    query_timeout: statementTimeout + 5_000,
    keepAlive: true,
    application_name: 'anamnesis',
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

  const statistics = keepStatistics(executorOn(pool));
  const noteWritten = (rows: number) => statistics.written(rows);

  /** Users whose row lock a transaction of this process holds, with how many such transactions. */
  const lockedHere = new Map<string, number>();

  const transaction = async <T>(work: (tx: Transaction) => Promise<T>): Promise<T> => {
    let client: pg.PoolClient | null = null;
    let opening: Promise<pg.PoolClient> | null = null;
    let broken = false;
    const failed = { value: false };
    const held = new Set<string>();
    // User-visible rows this transaction wrote: they count towards the next ANALYZE once committed (before, it would not see them).
    let written = 0;
    // The connection is checked out and BEGIN sent at the first statement: a
    // transaction that runs none (a merge another request of this process is
    // already doing, see tryLockUser) costs no round trip at all.
    const open = (): Promise<pg.PoolClient> =>
      (opening ??= (async () => {
        const c = await connect();
        // A checked-out client has no pool listener: without this, the server
        // closing the connection between two statements would crash the process.
        c.on('error', ignore);
        client = c;
        try {
          await c.query('BEGIN');
        } catch (err) {
          broken = true;
          throw mapPgError(err);
        }
        return c;
      })());
    const lazy: Executor = {
      arrays: true,
      all: async (sql, params) => executorOn(await open()).all(sql, params),
      run: async (sql, params) => executorOn(await open()).run(sql, params),
    };
    const hold = (userId: string) => {
      if (held.has(userId)) return;
      held.add(userId);
      lockedHere.set(userId, (lockedHere.get(userId) ?? 0) + 1);
    };
    const release = (userId: string) => {
      if (!held.delete(userId)) return;
      const n = lockedHere.get(userId)! - 1;
      if (n === 0) lockedHere.delete(userId);
      else lockedHere.set(userId, n);
    };
    const scoped = endable(transactionExecutor(lazy, failed));
    try {
      const txOps = makeOps(scoped.ex, (w) => w(tx), true);
      const tx: Transaction = {
        ...txOps,
        putRecords: async (rows) => {
          await txOps.putRecords(rows);
          written += userVisible(rows);
        },
        putRecordsIfNewest: async (records, guard) => {
          const result = await txOps.putRecordsIfNewest(records, guard);
          if (result.written) written += userVisible(records);
          return result;
        },
        // NO KEY UPDATE: it excludes the other writers that lock the user, but
        // not the KEY SHARE lock of a foreign-key check, so lock-free inserts
        // of the user's records (remember) never wait for a locked transaction.
        async lockUser(userId) {
          await scoped.ex.all('SELECT 1 FROM users WHERE id = ? FOR NO KEY UPDATE', [userId]);
          hold(userId);
        },
        async tryLockUser(userId) {
          if (held.has(userId)) return true;
          // Another transaction of this process holds it, or is asking for it:
          // SKIP LOCKED would say the same (or win a race that one of them
          // loses), without a query. Asking counts as holding until answered.
          if (lockedHere.has(userId)) return false;
          hold(userId);
          const got = (await scoped.ex.all('SELECT 1 FROM users WHERE id = ? FOR NO KEY UPDATE SKIP LOCKED', [userId]).catch((err: unknown) => {
            release(userId);
            throw err;
          })).length > 0;
          if (!got) release(userId);
          return got;
        },
      };
      let result: T;
      try {
        result = await work(tx);
      } catch (err) {
        scoped.end();
        await (opening as Promise<pg.PoolClient> | null)?.catch(ignore);
        if (client && !broken) {
          try {
            await (client as pg.PoolClient).query('ROLLBACK');
          } catch {
            broken = true; // the connection is gone; the server rolls back on its own
          }
        }
        throw err;
      }
      scoped.end();
      await (opening as Promise<pg.PoolClient> | null)?.catch(ignore);
      if (!client) {
        if (failed.value) throw txAborted();
        return result;
      }
      const c = client as pg.PoolClient;
      let outcome: string;
      try {
        outcome = failed.value ? 'ROLLBACK' : (await c.query('COMMIT')).command;
        if (failed.value) await c.query('ROLLBACK');
      } catch (err) {
        broken = true;
        throw mapPgError(err);
      }
      // PostgreSQL answers COMMIT of an aborted transaction with ROLLBACK, no error.
      if (outcome !== 'COMMIT') throw txAborted();
      noteWritten(written);
      return result;
    } finally {
      for (const userId of [...held]) release(userId);
      if (client) {
        (client as pg.PoolClient).removeListener('error', ignore);
        (client as pg.PoolClient).release(broken);
      }
    }
  };

  const ops: Ops = makeOps(executorOn(pool), (work) => transaction((tx) => work(tx)), false);
  let closing: Promise<void> | null = null;
  const groupedPuts = groupCommit(
    async (calls: RecordRow[][]) => {
      await ops.putRecords(calls.flat());
      return calls.map(() => undefined);
    },
    (rows) => rows.length,
  );
  const groupedGuardedPuts = groupCommit(
    (calls: GuardedPut[]) => putManyIfNewest(executorOn(pool), calls),
    (call) => call.records.length,
    (first, next) => sameGuard(first.guard, next.guard),
  );
  // Every request of an API key looks its user up; a memory create that found a newer stamp (see Memories.create) reads its user's newest and waiting deltas.
  const findUserByApiKeyHash = sharedReads(ops.findUserByApiKeyHash);
  const newestAndCount = sharedReads(ops.newestAndCount);

  return {
    driver: 'postgres',
    ...ops,
    ...rateLimitCounters(executorOn(pool), 'postgres'),
    findUserByApiKeyHash,
    newestAndCount,
    putRecords: async (rows) => {
      await groupedPuts(rows);
      noteWritten(userVisible(rows));
    },
    putRecordsIfNewest: async (records, guard) => {
      const result = await groupedGuardedPuts({ records, guard });
      if (result.written) noteWritten(userVisible(records));
      return result;
    },
    transaction,
    close: () => (closing ??= statistics.stop().then(() => pool.end()).catch(ignore)),
  };
}
