// What the SQLite and PostgreSQL drivers share: the SQL of every Store method
// (written once with `?` placeholders), row mapping, batching and the storage
// error type. Each driver supplies an Executor that runs one statement and
// maps its own driver errors.
import type {
  AuditEvent,
  GuardedPutResult,
  NewestGuard,
  ListRecordsQuery,
  OAuthClientRow,
  OAuthGrantListing,
  OAuthGrantRow,
  OAuthTokenKind,
  OAuthTokenRow,
  PendingKey,
  RecordKind,
  RecordRow,
  ServerKeyUserRow,
  SessionRow,
  Transaction,
  UserRow,
} from './store.ts';
import { e2eOps } from './e2e.ts';

/** A database error that is neither a unique violation nor an outage. The message names codes, tables and constraints, never values. */
export class StorageError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

export const txAborted = (): StorageError =>
  new StorageError('TX_ABORTED', 'transaction aborted by an earlier failed statement; nothing was committed');

export type Param = string | number | null | ReadonlyArray<string | number | null>;

/** Runs one parameterised statement (`?` placeholders). Errors come out already mapped. */
export interface Executor {
  /**
   * True when a whole list can be one parameter (PostgreSQL arrays): a
   * statement's text then does not depend on its lists' lengths, so it is
   * prepared once and reused. Otherwise each list item is a parameter.
   */
  readonly arrays?: boolean;
  all(sql: string, params: readonly Param[]): Promise<Record<string, unknown>[]>;
  /** Returns the number of rows changed. */
  run(sql: string, params: readonly Param[]): Promise<number>;
}

/**
 * Marks a statement whose best plan depends on how many rows this user has
 * or on its LIMIT (a page in creation order, every row of some kinds): the
 * PostgreSQL driver plans it for each call's values. Every other statement
 * finds its rows by a unique key or a fixed-size index range, so PostgreSQL
 * may keep one generic plan per connection for it instead of planning it on
 * every call (test/storage/postgres-plans.test.ts checks that those plans
 * read records by index). SQLite ignores the comment.
 */
export const PLANNED_PER_CALL = '/* planned per call */ ';

/** Every Store data method; `lockUser` and `tryLockUser` are the driver's own. */
export type Ops = Omit<Transaction, 'lockUser' | 'tryLockUser'>;

/**
 * Rows per multi-row statement: 7 parameters per record row stays far below
 * both SQLite's (32766) and PostgreSQL's (65535) parameter limits.
 */
export const BATCH = 500;

export function chunks<T>(items: readonly T[], size = BATCH): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
export const str = (v: unknown): string => String(v);
export const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

const USER_COLUMNS =
  'id, email, mode, password_hash, api_key_hash, pending_key_hash, pending_key_wrap, pending_key_expires_at, created_at';
const SESSION_COLUMNS = 'id, token_hash, user_id, wrapped_key, created_at, last_seen_at, expires_at, label';
const RECORD_COLUMNS = 'user_id, id, kind, token, lookup, created_at, updated_at';
const CLIENT_COLUMNS = 'id, kind, name, redirect_uris, created_at, last_used_at';
const GRANT_COLUMNS = 'id, user_id, client_id, scope, resource, created_at, last_used_at';
const TOKEN_COLUMNS = 'token_hash, grant_id, kind, wrapped_key, expires_at, used_at, redirect_uri, code_challenge';

function toUser(r: Record<string, unknown>): UserRow {
  if (r.mode === 'e2e') return { mode: 'e2e', id: str(r.id), email: str(r.email), createdAt: num(r.created_at) };
  if (r.mode !== 'server-key') throw new StorageError('BAD_USER_MODE', 'a users row has an unknown mode');
  return {
    mode: 'server-key',
    id: str(r.id),
    email: str(r.email),
    passwordHash: str(r.password_hash),
    apiKeyHash: str(r.api_key_hash),
    pendingKeyHash: strOrNull(r.pending_key_hash),
    pendingKeyWrap: strOrNull(r.pending_key_wrap),
    pendingKeyExpiresAt: numOrNull(r.pending_key_expires_at),
    createdAt: num(r.created_at),
  };
}

function toServerKeyUser(r: Record<string, unknown>): ServerKeyUserRow {
  const user = toUser(r);
  if (user.mode !== 'server-key') throw new StorageError('BAD_USER_MODE', 'expected a server-key account');
  return user;
}

function toSession(r: Record<string, unknown>): SessionRow {
  return {
    id: str(r.id),
    tokenHash: str(r.token_hash),
    userId: str(r.user_id),
    wrappedKey: strOrNull(r.wrapped_key),
    createdAt: num(r.created_at),
    lastSeenAt: num(r.last_seen_at),
    expiresAt: num(r.expires_at),
    label: str(r.label),
  };
}

function toClient(r: Record<string, unknown>): OAuthClientRow {
  return {
    id: str(r.id),
    kind: str(r.kind) as OAuthClientRow['kind'],
    name: str(r.name),
    redirectUris: JSON.parse(str(r.redirect_uris)) as string[],
    createdAt: num(r.created_at),
    lastUsedAt: numOrNull(r.last_used_at),
  };
}

function toGrant(r: Record<string, unknown>): OAuthGrantRow {
  return {
    id: str(r.id),
    userId: str(r.user_id),
    clientId: str(r.client_id),
    scope: str(r.scope),
    resource: str(r.resource),
    createdAt: num(r.created_at),
    lastUsedAt: num(r.last_used_at),
  };
}

function toOAuthToken(r: Record<string, unknown>): OAuthTokenRow {
  return {
    tokenHash: str(r.token_hash),
    grantId: str(r.grant_id),
    kind: str(r.kind) as OAuthTokenKind,
    wrappedKey: str(r.wrapped_key),
    expiresAt: num(r.expires_at),
    usedAt: numOrNull(r.used_at),
    redirectUri: strOrNull(r.redirect_uri),
    codeChallenge: strOrNull(r.code_challenge),
  };
}

function toRecord(r: Record<string, unknown>): RecordRow {
  return {
    userId: str(r.user_id),
    id: str(r.id),
    kind: str(r.kind) as RecordKind,
    token: str(r.token),
    lookup: strOrNull(r.lookup),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

function toAudit(r: Record<string, unknown>): AuditEvent {
  return { userId: strOrNull(r.user_id), action: str(r.action), outcome: str(r.outcome), at: num(r.at) };
}

/** Later entries win, as if each row were put one after the other. */
function lastPerKey(records: readonly RecordRow[]): RecordRow[] {
  const byKey = new Map<string, RecordRow>();
  for (const r of records) {
    const key = JSON.stringify([r.userId, r.id]);
    byKey.delete(key);
    byKey.set(key, r);
  }
  return [...byKey.values()];
}

/**
 * Record rows as the source of an INSERT … SELECT, their parameters appended
 * to `params`: one array per column on PostgreSQL (the same text for any
 * number of rows), a VALUES list elsewhere. `extra` adds a last bigint
 * column, one value per row.
 */
function recordsSource(ex: Executor, rows: readonly RecordRow[], params: Param[], extra?: readonly number[]): string {
  const columns = (r: RecordRow, i: number) => [r.userId, r.id, r.kind, r.token, r.lookup, r.createdAt, r.updatedAt, ...(extra ? [extra[i]!] : [])];
  const width = extra ? 8 : 7;
  if (ex.arrays) {
    const values = rows.map(columns);
    for (let c = 0; c < width; c++) params.push(values.map((row) => row[c]!));
    return `SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[]${extra ? ', ?::bigint[]' : ''})`;
  }
  rows.forEach((r, i) => params.push(...columns(r, i)));
  return `VALUES ${rows.map(() => `(${placeholders(width)})`).join(', ')}`;
}

/** One caller's Store.putRecordsIfNewest. */
export interface GuardedPut {
  records: RecordRow[];
  guard: NewestGuard;
}

/**
 * The kinds as SQL literals, for statements that name one kind in their text:
 * PostgreSQL then keeps one generic plan per kind. With `kind = $n` the
 * generic plan is costed for an average kind, above the per-call plans for a
 * rare one (the waiting deltas), so it was planned on every call (0.2 to
 * 0.3 ms), and it could never use the index of waiting deltas, whose
 * condition names their kinds (see the PostgreSQL migrations). Fixed strings
 * of the closed RecordKind set, never input.
 */
const KIND_LITERAL: Readonly<Record<RecordKind, string>> = {
  memory: "'memory'",
  entity: "'entity'",
  relation: "'relation'",
  'memory-index': "'memory-index'",
  'memory-delta': "'memory-delta'",
  'graph-index': "'graph-index'",
  'graph-delta': "'graph-delta'",
};

function kindLiteral(kind: RecordKind): string {
  if (!Object.hasOwn(KIND_LITERAL, kind)) throw new StorageError('UNKNOWN_KIND', 'not a record kind');
  return KIND_LITERAL[kind];
}

export const sameGuard = (a: NewestGuard, b: NewestGuard): boolean =>
  a.newestOf === b.newestOf && a.countOf === b.countOf;

/**
 * Several callers' putRecordsIfNewest with the same guard in one statement
 * (PostgreSQL's group commit joins them; elsewhere there is one), each with
 * its own verdict, in order. Every row carries its caller's stamp, and every
 * row is judged against the statement's snapshot, which does not hold the
 * rows the statement itself inserts: a caller's rows are all written or all
 * refused, and callers of one statement never refuse each other (they are
 * concurrent: ordered by id, as when they read the same newest).
 */
export async function putManyIfNewest(ex: Executor, calls: readonly GuardedPut[]): Promise<GuardedPutResult[]> {
  const { newestOf, countOf } = calls[0]!.guard;
  const rows = calls.flatMap((c) => c.records);
  if (rows.length > BATCH) throw new StorageError('TOO_MANY_ROWS', `a guarded put writes at most ${BATCH} rows`);
  const stamps = calls.flatMap(({ records, guard }) => {
    if (!sameGuard(guard, calls[0]!.guard)) throw new StorageError('MIXED_GUARDS', 'one statement serves one guard');
    const own = records.filter((r) => r.kind === newestOf).map((r) => r.createdAt);
    if (own.length === 0) throw new StorageError('NO_GUARDED_ROW', `a guarded put holds a record of kind ${newestOf}`);
    return records.map(() => Math.min(...own));
  });
  const params: Param[] = [];
  const source = recordsSource(ex, rows, params, stamps);
  // Counted on the guarded rows only (a create has one), as of before the
  // statement. PostgreSQL evaluates every part of a statement in its one
  // snapshot, which does not hold the rows the statement inserts, so each
  // user's deltas are counted once, for all the callers the statement groups
  // (a count per row cost a tenth of a millisecond each: a waiting delta is
  // one heap visit). SQLite's RETURNING also sees the rows the statement
  // inserted so far, so there they are left out by id.
  const counted = ex.arrays
    ? {
        with: `, waiting AS MATERIALIZED (SELECT users.user_id, (SELECT COUNT(*) FROM records counted WHERE counted.user_id = users.user_id AND counted.kind = ${kindLiteral(countOf)}) AS n
                 FROM (SELECT DISTINCT user_id FROM put) users)`,
        count: '(SELECT n FROM waiting WHERE waiting.user_id = records.user_id)',
      }
    : {
        with: '',
        count: `(SELECT COUNT(*) FROM records counted WHERE counted.user_id = records.user_id AND counted.kind = ${kindLiteral(countOf)} AND counted.id NOT IN (${placeholders(rows.length)}))`,
      };
  if (!ex.arrays) params.push(...rows.map((r) => r.id));
  const written = await ex.all(
    `WITH put (${RECORD_COLUMNS}, stamp) AS (${source})${counted.with}
     INSERT INTO records (${RECORD_COLUMNS}) SELECT ${RECORD_COLUMNS} FROM put
      WHERE NOT EXISTS (SELECT 1 FROM records newer WHERE newer.user_id = put.user_id AND newer.kind = ${kindLiteral(newestOf)} AND newer.created_at >= put.stamp)
     RETURNING user_id, id, CASE WHEN kind = ${kindLiteral(newestOf)} THEN ${counted.count} END AS n`,
    params,
  );
  const counts = new Map(written.map((r) => [JSON.stringify([str(r.user_id), str(r.id)]), r.n]));
  return calls.map(({ records }) => {
    const guarded = records.find((r) => r.kind === newestOf)!;
    const count = counts.get(JSON.stringify([guarded.userId, guarded.id]));
    return count === undefined ? { written: false } : { written: true, count: num(count) };
  });
}

/**
 * The Store data methods over one executor. `atomic` runs a multi-statement
 * method (one that needs more than one batch) all-or-nothing: inside a
 * transaction (`inTransaction`) it is the identity, at the top level it opens
 * a transaction.
 */
export function makeOps(
  ex: Executor,
  atomic: <T>(work: (tx: Transaction) => Promise<T>) => Promise<T>,
  inTransaction: boolean,
): Ops {
  /** `column IN (…)` (or NOT IN) over `values`, whose parameters are appended to `params`. */
  const inList = (column: string, values: readonly string[], params: Param[], not = false): string => {
    if (ex.arrays) {
      params.push(values);
      return not ? `${column} <> ALL(?)` : `${column} = ANY(?)`;
    }
    params.push(...values);
    return `${column} ${not ? 'NOT IN' : 'IN'} (${placeholders(values.length)})`;
  };

  const one = async <T>(sql: string, params: Param[], map: (r: Record<string, unknown>) => T): Promise<T | null> => {
    const rows = await ex.all(sql, params);
    return rows[0] === undefined ? null : map(rows[0]);
  };

  const ops: Ops = {
    ...e2eOps(ex, atomic, inTransaction),

    // Users
    async createUser(u) {
      const server = u.mode === 'server-key' ? u : null;
      await ex.run(`INSERT INTO users (${USER_COLUMNS}) VALUES (${placeholders(9)})`, [
        u.id,
        u.email,
        u.mode,
        server?.passwordHash ?? null,
        server?.apiKeyHash ?? null,
        server?.pendingKeyHash ?? null,
        server?.pendingKeyWrap ?? null,
        server?.pendingKeyExpiresAt ?? null,
        u.createdAt,
      ]);
    },
    findUserById: (id) => one(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`, [id], toUser),
    findUserByEmail: (email) => one(`SELECT ${USER_COLUMNS} FROM users WHERE email = ?`, [email], toUser),
    // Only a server-key account has an API key (the mode CHECK keeps it so).
    findUserByApiKeyHash: (hash) =>
      one(`SELECT ${USER_COLUMNS} FROM users WHERE api_key_hash = ? AND mode = 'server-key'`, [hash], toServerKeyUser),
    findUserByPendingKeyHash: (hash) =>
      one(`SELECT ${USER_COLUMNS} FROM users WHERE pending_key_hash = ? AND mode = 'server-key'`, [hash], toServerKeyUser),
    async updatePasswordHash(userId, passwordHash) {
      await ex.run('UPDATE users SET password_hash = ? WHERE id = ?', [passwordHash, userId]);
    },
    async setPendingKey(userId, pending: PendingKey | null) {
      await ex.run(
        'UPDATE users SET pending_key_hash = ?, pending_key_wrap = ?, pending_key_expires_at = ? WHERE id = ?',
        [pending?.hash ?? null, pending?.wrap ?? null, pending?.expiresAt ?? null, userId],
      );
    },
    async setApiKeyHash(userId, apiKeyHash) {
      await ex.run(
        'UPDATE users SET api_key_hash = ?, pending_key_hash = NULL, pending_key_wrap = NULL, pending_key_expires_at = NULL WHERE id = ?',
        [apiKeyHash, userId],
      );
    },
    async deleteUser(userId) {
      // sessions, records and audit rows go with it: ON DELETE CASCADE.
      await ex.run('DELETE FROM users WHERE id = ?', [userId]);
    },

    // Sessions
    async createSession(s) {
      await ex.run(`INSERT INTO sessions (${SESSION_COLUMNS}) VALUES (${placeholders(8)})`, [
        s.id,
        s.tokenHash,
        s.userId,
        s.wrappedKey,
        s.createdAt,
        s.lastSeenAt,
        s.expiresAt,
        s.label,
      ]);
    },
    findSessionByTokenHash: (hash) =>
      one(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE token_hash = ?`, [hash], toSession),
    async listSessions(userId) {
      const rows = await ex.all(
        `SELECT ${SESSION_COLUMNS} FROM sessions WHERE user_id = ? ORDER BY created_at DESC, id DESC`,
        [userId],
      );
      return rows.map(toSession);
    },
    async touchSession(sessionId, lastSeenAt) {
      await ex.run('UPDATE sessions SET last_seen_at = ? WHERE id = ?', [lastSeenAt, sessionId]);
    },
    async setSessionWrappedKey(sessionId, wrappedKey) {
      await ex.run('UPDATE sessions SET wrapped_key = ? WHERE id = ?', [wrappedKey, sessionId]);
    },
    async deleteSession(userId, sessionId) {
      return (await ex.run('DELETE FROM sessions WHERE id = ? AND user_id = ?', [sessionId, userId])) > 0;
    },
    async clearWrappedKeys(userId) {
      await ex.run('UPDATE sessions SET wrapped_key = NULL WHERE user_id = ? AND wrapped_key IS NOT NULL', [userId]);
      // Every token of the grants goes with them: ON DELETE CASCADE.
      await ex.run('DELETE FROM oauth_grants WHERE user_id = ?', [userId]);
    },
    deleteExpiredSessions(now, idleMs) {
      // Expired once now >= expiresAt, idle once now - lastSeenAt >= idleMs.
      return ex.run('DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?', [now, now - idleMs]);
    },
    deleteSessions: (userId) => ex.run('DELETE FROM sessions WHERE user_id = ?', [userId]),

    // OAuth
    async putOAuthClient(c) {
      await ex.run(
        `INSERT INTO oauth_clients (${CLIENT_COLUMNS}) VALUES (${placeholders(6)})
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, redirect_uris = excluded.redirect_uris`,
        [c.id, c.kind, c.name, JSON.stringify(c.redirectUris), c.createdAt, c.lastUsedAt],
      );
    },
    findOAuthClient: (clientId) =>
      one(`SELECT ${CLIENT_COLUMNS} FROM oauth_clients WHERE id = ?`, [clientId], toClient),
    deleteStaleOAuthClients(neverUsedBefore, idleBefore) {
      return ex.run(
        `DELETE FROM oauth_clients WHERE NOT EXISTS (SELECT 1 FROM oauth_grants g WHERE g.client_id = oauth_clients.id)
           AND ((last_used_at IS NULL AND created_at <= ?) OR last_used_at <= ?)`,
        [neverUsedBefore, idleBefore],
      );
    },
    async ensureOAuthGrant(g) {
      await ex.run(
        `INSERT INTO oauth_grants (${GRANT_COLUMNS}) VALUES (${placeholders(7)})
         ON CONFLICT (user_id, client_id, scope, resource) DO NOTHING`,
        [g.id, g.userId, g.clientId, g.scope, g.resource, g.createdAt, g.lastUsedAt],
      );
      await ex.run('UPDATE oauth_clients SET last_used_at = ? WHERE id = ?', [g.createdAt, g.clientId]);
      const found = await one(
        `SELECT ${GRANT_COLUMNS} FROM oauth_grants WHERE user_id = ? AND client_id = ? AND scope = ? AND resource = ?`,
        [g.userId, g.clientId, g.scope, g.resource],
        toGrant,
      );
      // Only a concurrent disconnect between the two statements can make it vanish.
      if (!found) throw new StorageError('GRANT_GONE', 'the grant was deleted while it was being created');
      return found;
    },
    findOAuthGrant: (grantId) => one(`SELECT ${GRANT_COLUMNS} FROM oauth_grants WHERE id = ?`, [grantId], toGrant),
    async listOAuthGrants(userId) {
      const rows = await ex.all(
        `SELECT g.id, g.user_id, g.client_id, g.scope, g.resource, g.created_at, g.last_used_at,
                c.name AS client_name, c.redirect_uris AS client_redirect_uris
           FROM oauth_grants g JOIN oauth_clients c ON c.id = g.client_id
          WHERE g.user_id = ? ORDER BY g.created_at DESC, g.id DESC`,
        [userId],
      );
      return rows.map((r): OAuthGrantListing => ({
        ...toGrant(r),
        clientName: str(r.client_name),
        redirectUris: JSON.parse(str(r.client_redirect_uris)) as string[],
      }));
    },
    async touchOAuthGrant(grantId, lastUsedAt) {
      await ex.run('UPDATE oauth_grants SET last_used_at = ? WHERE id = ?', [lastUsedAt, grantId]);
    },
    async deleteOAuthGrant(userId, grantId) {
      // Its tokens go with it: ON DELETE CASCADE, in the same statement.
      return (await ex.run('DELETE FROM oauth_grants WHERE id = ? AND user_id = ?', [grantId, userId])) > 0;
    },
    async createOAuthToken(t) {
      await ex.run(`INSERT INTO oauth_tokens (${TOKEN_COLUMNS}) VALUES (${placeholders(8)})`, [
        t.tokenHash,
        t.grantId,
        t.kind,
        t.wrappedKey,
        t.expiresAt,
        t.usedAt,
        t.redirectUri,
        t.codeChallenge,
      ]);
    },
    findOAuthToken: (tokenHash) =>
      one(`SELECT ${TOKEN_COLUMNS} FROM oauth_tokens WHERE token_hash = ?`, [tokenHash], toOAuthToken),
    async markOAuthTokenUsed(tokenHash, usedAt) {
      return (await ex.run('UPDATE oauth_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL', [usedAt, tokenHash])) > 0;
    },
    async deleteOAuthToken(tokenHash) {
      await ex.run('DELETE FROM oauth_tokens WHERE token_hash = ?', [tokenHash]);
    },
    deleteExpiredOAuthTokens: (now) => ex.run('DELETE FROM oauth_tokens WHERE expires_at <= ?', [now]),

    // Records
    async putRecords(records) {
      const rows = lastPerKey(records);
      const batches = chunks(rows);
      if (batches.length > 1) {
        await atomic(async (tx) => {
          for (const batch of batches) await tx.putRecords(batch);
        });
        return;
      }
      for (const batch of batches) {
        const params: Param[] = [];
        await ex.run(
          `INSERT INTO records (${RECORD_COLUMNS}) ${recordsSource(ex, batch, params)}
           ON CONFLICT (user_id, id) DO UPDATE SET kind = excluded.kind, token = excluded.token,
             lookup = excluded.lookup, created_at = excluded.created_at, updated_at = excluded.updated_at`,
          params,
        );
      }
    },
    getRecord: (userId, id) =>
      one(`SELECT ${RECORD_COLUMNS} FROM records WHERE user_id = ? AND id = ?`, [userId, id], toRecord),
    async getRecords(userId, ids) {
      const wanted = [...new Set(ids)];
      const found = new Map<string, RecordRow>();
      for (const batch of chunks(wanted)) {
        const params: Param[] = [userId];
        const rows = await ex.all(`SELECT ${RECORD_COLUMNS} FROM records WHERE user_id = ? AND ${inList('id', batch, params)}`, params);
        for (const row of rows) {
          const rec = toRecord(row);
          found.set(rec.id, rec);
        }
      }
      // In the order asked for; unknown ids are left out.
      return wanted.flatMap((id) => found.get(id) ?? []);
    },
    async findRecordsByLookup(userId, kind, lookups) {
      const out: RecordRow[] = [];
      for (const batch of chunks([...new Set(lookups)])) {
        const params: Param[] = [userId, kind];
        const rows = await ex.all(`SELECT ${RECORD_COLUMNS} FROM records WHERE user_id = ? AND kind = ? AND ${inList('lookup', batch, params)}`, params);
        out.push(...rows.map(toRecord));
      }
      return out;
    },
    async listRecords(userId, query: ListRecordsQuery) {
      const limit = Math.max(0, Math.floor(query.limit));
      const [before, direction] = query.order === 'oldest' ? ['>', 'ASC'] : ['<', 'DESC'];
      const rows = query.after
        ? await ex.all(
            `${PLANNED_PER_CALL}SELECT ${RECORD_COLUMNS} FROM records WHERE user_id = ? AND kind = ?
               AND (created_at ${before} ? OR (created_at = ? AND id ${before} ?))
             ORDER BY created_at ${direction}, id ${direction} LIMIT ?`,
            [userId, query.kind, query.after.createdAt, query.after.createdAt, query.after.id, limit],
          )
        : await ex.all(
            `${PLANNED_PER_CALL}SELECT ${RECORD_COLUMNS} FROM records WHERE user_id = ? AND kind = ?
             ORDER BY created_at ${direction}, id ${direction} LIMIT ?`,
            [userId, query.kind, limit],
          );
      return rows.map(toRecord);
    },
    async allRecords(userId, kinds?: RecordKind[]) {
      if (kinds !== undefined && kinds.length === 0) return [];
      const params: Param[] = [userId];
      const rows = kinds
        ? await ex.all(`${PLANNED_PER_CALL}SELECT ${RECORD_COLUMNS} FROM records WHERE user_id = ? AND ${inList('kind', kinds, params)} ORDER BY created_at ASC, id ASC`, params)
        : await ex.all(`${PLANNED_PER_CALL}SELECT ${RECORD_COLUMNS} FROM records WHERE user_id = ? ORDER BY created_at ASC, id ASC`, [
            userId,
          ]);
      return rows.map(toRecord);
    },
    async snapshotRecords(userId, ids, kinds) {
      const wanted = [...new Set(ids)];
      if (wanted.length > BATCH) throw new StorageError('TOO_MANY_IDS', `a snapshot reads at most ${BATCH} ids`);
      // Two index searches joined by UNION ALL in one statement: with OR, SQLite would scan every row of the user.
      const parts: string[] = [];
      const params: Param[] = [];
      if (wanted.length) {
        params.push(userId);
        parts.push(`SELECT ${RECORD_COLUMNS} FROM records WHERE user_id = ? AND ${inList('id', wanted, params)}`);
      }
      if (kinds.length) {
        params.push(userId);
        const ofKinds = inList('kind', kinds, params);
        const notWanted = wanted.length ? ` AND ${inList('id', wanted, params, true)}` : '';
        parts.push(`SELECT ${RECORD_COLUMNS} FROM records WHERE user_id = ? AND ${ofKinds}${notWanted}`);
      }
      if (parts.length === 0) return [];
      const rows = await ex.all(`${PLANNED_PER_CALL}${parts.join(' UNION ALL ')} ORDER BY created_at ASC, id ASC`, params);
      return rows.map(toRecord);
    },
    async countRecords(userId, kind) {
      const rows = await ex.all(`SELECT COUNT(*) AS n FROM records WHERE user_id = ? AND kind = ${kindLiteral(kind)}`, [userId]);
      return num(rows[0]?.n ?? 0);
    },
    async newestAndCount(userId, newestOf, countOf) {
      const [row] = await ex.all(
        `SELECT (SELECT created_at FROM records WHERE user_id = ? AND kind = ${kindLiteral(newestOf)} ORDER BY created_at DESC, id DESC LIMIT 1) AS newest,
                (SELECT COUNT(*) FROM records WHERE user_id = ? AND kind = ${kindLiteral(countOf)}) AS n`,
        [userId, userId],
      );
      return { newestCreatedAt: numOrNull(row?.newest), count: num(row?.n ?? 0) };
    },
    putRecordsIfNewest: async (records, guard) => (await putManyIfNewest(ex, [{ records, guard }]))[0]!,
    async deleteRecords(userId, ids) {
      const batches = chunks([...new Set(ids)]);
      if (batches.length > 1) {
        return atomic(async (tx) => {
          let n = 0;
          for (const batch of batches) n += await tx.deleteRecords(userId, batch);
          return n;
        });
      }
      let n = 0;
      for (const batch of batches) {
        const params: Param[] = [userId];
        n += await ex.run(`DELETE FROM records WHERE user_id = ? AND ${inList('id', batch, params)}`, params);
      }
      return n;
    },
    deleteAllRecords: (userId) => ex.run('DELETE FROM records WHERE user_id = ?', [userId]),

    // Audit
    async appendAudit(e) {
      await ex.run('INSERT INTO audit (user_id, action, outcome, at) VALUES (?, ?, ?, ?)', [
        e.userId,
        e.action,
        e.outcome,
        e.at,
      ]);
    },
    async listAudit(userId, limit) {
      const rows = await ex.all(
        `${PLANNED_PER_CALL}SELECT user_id, action, outcome, at FROM audit WHERE user_id = ? ORDER BY at DESC, id DESC LIMIT ?`,
        [userId, Math.max(0, Math.floor(limit))],
      );
      return rows.map(toAudit);
    },
  };
  return ops;
}

/** Wraps an executor so that it refuses to run once its transaction has ended. */
export function endable(ex: Executor): { ex: Executor; end: () => void } {
  let ended = false;
  const check = () => {
    if (ended) throw new StorageError('TX_ENDED', 'transaction has already ended');
  };
  return {
    ex: {
      ...(ex.arrays ? { arrays: true } : {}),
      all: async (sql, params) => {
        check();
        return ex.all(sql, params);
      },
      run: async (sql, params) => {
        check();
        return ex.run(sql, params);
      },
    },
    end: () => {
      ended = true;
    },
  };
}
