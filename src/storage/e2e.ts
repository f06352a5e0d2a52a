// The SQL of end-to-end accounts (docs/e2e-protocol.md): the account row,
// short-lived flow steps, `ane_` sessions, the records the server cannot
// read, and the OPAQUE server setup. Shared by both drivers through
// makeOps (common.ts), so every method is also on a Transaction.
import { chunks, placeholders, PLANNED_PER_CALL, StorageError, str, strOrNull, type Executor, type Param } from './common.ts';
import type {
  E2EAccountRow,
  E2ECredentials,
  E2EPendingRow,
  E2ERecordRow,
  E2ESessionRow,
  E2EUserRow,
  E2EWrite,
  E2EWriteResult,
  Transaction,
} from './store.ts';

/** The E2E methods of a Store, as makeOps puts them beside the others. */
export type E2EOps = Pick<
  Transaction,
  | 'createE2EAccount'
  | 'convertUserToE2E'
  | 'findE2EAccount'
  | 'replaceE2ECredentials'
  | 'createE2EPending'
  | 'takeE2EPending'
  | 'deleteExpiredE2EPending'
  | 'createE2ESession'
  | 'findE2ESessionByTokenHash'
  | 'touchE2ESession'
  | 'deleteE2ESession'
  | 'deleteE2ESessions'
  | 'deleteIdleE2ESessions'
  | 'writeE2ERecords'
  | 'listE2EChanges'
  | 'getE2ERecords'
  | 'countLiveE2ERecords'
  | 'purgeE2ETombstones'
  | 'ensureOpaqueServerSetup'
>;

const ACCOUNT_COLUMNS = 'user_id, registration_record, password_wrap, recovery_wrap, recovery_verifier, last_seq, purged_through_seq';
const PENDING_COLUMNS = 'id_hash, kind, user_id, new_user_id, email, state, expires_at';
const SESSION_COLUMNS = 'id, token_hash, user_id, label, created_at, last_seen_at';
const RECORD_COLUMNS = 'user_id, id, seq, version, token, deleted, updated_at';


function toAccount(r: Record<string, unknown>): E2EAccountRow {
  return {
    userId: str(r.user_id),
    registrationRecord: str(r.registration_record),
    passwordWrap: str(r.password_wrap),
    recoveryWrap: str(r.recovery_wrap),
    recoveryVerifier: str(r.recovery_verifier),
    lastSeq: Number(r.last_seq),
    purgedThroughSeq: Number(r.purged_through_seq),
  };
}

function toPending(r: Record<string, unknown>): E2EPendingRow {
  return {
    idHash: str(r.id_hash),
    kind: str(r.kind) as E2EPendingRow['kind'],
    userId: strOrNull(r.user_id),
    newUserId: strOrNull(r.new_user_id),
    email: strOrNull(r.email),
    state: strOrNull(r.state),
    expiresAt: Number(r.expires_at),
  };
}

function toSession(r: Record<string, unknown>): E2ESessionRow {
  return {
    id: str(r.id),
    tokenHash: str(r.token_hash),
    userId: str(r.user_id),
    label: str(r.label),
    createdAt: Number(r.created_at),
    lastSeenAt: Number(r.last_seen_at),
  };
}

function toRecord(r: Record<string, unknown>): E2ERecordRow {
  return {
    userId: str(r.user_id),
    id: str(r.id),
    seq: Number(r.seq),
    version: Number(r.version),
    token: str(r.token),
    deleted: Number(r.deleted) === 1,
    updatedAt: Number(r.updated_at),
  };
}

/**
 * `atomic` runs work all-or-nothing (a transaction at the top level); inside
 * a transaction (`inTransaction`) the methods run their statements directly.
 */
export function e2eOps(
  ex: Executor,
  atomic: <T>(work: (tx: Transaction) => Promise<T>) => Promise<T>,
  inTransaction: boolean,
): E2EOps {
  const one = async <T>(sql: string, params: Param[], map: (r: Record<string, unknown>) => T): Promise<T | null> => {
    const rows = await ex.all(sql, params);
    return rows[0] === undefined ? null : map(rows[0]);
  };

  const insertAccount = (userId: string, a: E2ECredentials) =>
    ex.run(`INSERT INTO e2e_accounts (${ACCOUNT_COLUMNS}) VALUES (${placeholders(7)})`, [
      userId,
      a.registrationRecord,
      a.passwordWrap,
      a.recoveryWrap,
      a.recoveryVerifier,
      0,
      0,
    ]);

  /**
   * Takes the account's row lock (PostgreSQL: an UPDATE locks the row until
   * the transaction ends; SQLite: one writer at a time already) and reads it.
   */
  const lockAccount = async (userId: string): Promise<E2EAccountRow> => {
    const [row] = await ex.all(
      `UPDATE e2e_accounts SET last_seq = last_seq WHERE user_id = ? RETURNING ${ACCOUNT_COLUMNS}`,
      [userId],
    );
    if (!row) throw new StorageError('NO_E2E_ACCOUNT', 'the end-to-end account does not exist');
    return toAccount(row);
  };

  const readRecords = async (userId: string, ids: string[]): Promise<E2ERecordRow[]> => {
    const out: E2ERecordRow[] = [];
    for (const batch of chunks([...new Set(ids)])) {
      const rows = await ex.all(
        `SELECT ${RECORD_COLUMNS} FROM e2e_records WHERE user_id = ? AND id IN (${placeholders(batch.length)})`,
        [userId, ...batch],
      );
      out.push(...rows.map(toRecord));
    }
    return out;
  };

  const ops: E2EOps = {
    async createE2EAccount(user: E2EUserRow, account) {
      if (!inTransaction) return atomic((tx) => tx.createE2EAccount(user, account));
      await ex.run('INSERT INTO users (id, email, mode, created_at) VALUES (?, ?, ?, ?)', [
        user.id,
        user.email,
        'e2e',
        user.createdAt,
      ]);
      await insertAccount(user.id, account);
    },
    async convertUserToE2E(userId, account) {
      if (!inTransaction) return atomic((tx) => tx.convertUserToE2E(userId, account));
      const changed = await ex.run(
        `UPDATE users SET mode = 'e2e', password_hash = NULL, api_key_hash = NULL, pending_key_hash = NULL,
           pending_key_wrap = NULL, pending_key_expires_at = NULL WHERE id = ? AND mode = 'server-key'`,
        [userId],
      );
      if (changed !== 1) throw new StorageError('NOT_SERVER_KEY_USER', 'no server-key account to convert');
      await insertAccount(userId, account);
    },
    findE2EAccount: (userId) => one(`SELECT ${ACCOUNT_COLUMNS} FROM e2e_accounts WHERE user_id = ?`, [userId], toAccount),
    async replaceE2ECredentials(userId, a) {
      const n = await ex.run(
        'UPDATE e2e_accounts SET registration_record = ?, password_wrap = ?, recovery_wrap = ?, recovery_verifier = ? WHERE user_id = ?',
        [a.registrationRecord, a.passwordWrap, a.recoveryWrap, a.recoveryVerifier, userId],
      );
      return n > 0;
    },

    async createE2EPending(p) {
      await ex.run(`INSERT INTO e2e_pending (${PENDING_COLUMNS}) VALUES (${placeholders(7)})`, [
        p.idHash,
        p.kind,
        p.userId,
        p.newUserId,
        p.email,
        p.state,
        p.expiresAt,
      ]);
    },
    takeE2EPending: (idHash, kind, now) =>
      one(
        `DELETE FROM e2e_pending WHERE id_hash = ? AND kind = ? AND expires_at > ? RETURNING ${PENDING_COLUMNS}`,
        [idHash, kind, now],
        toPending,
      ),
    deleteExpiredE2EPending: (now) => ex.run('DELETE FROM e2e_pending WHERE expires_at <= ?', [now]),

    async createE2ESession(s) {
      await ex.run(`INSERT INTO e2e_sessions (${SESSION_COLUMNS}) VALUES (${placeholders(6)})`, [
        s.id,
        s.tokenHash,
        s.userId,
        s.label,
        s.createdAt,
        s.lastSeenAt,
      ]);
    },
    findE2ESessionByTokenHash: (hash) =>
      one(`SELECT ${SESSION_COLUMNS} FROM e2e_sessions WHERE token_hash = ?`, [hash], toSession),
    async touchE2ESession(sessionId, lastSeenAt) {
      await ex.run('UPDATE e2e_sessions SET last_seen_at = ? WHERE id = ?', [lastSeenAt, sessionId]);
    },
    async deleteE2ESession(userId, sessionId) {
      return (await ex.run('DELETE FROM e2e_sessions WHERE id = ? AND user_id = ?', [sessionId, userId])) > 0;
    },
    deleteE2ESessions: (userId, keep) =>
      keep === undefined
        ? ex.run('DELETE FROM e2e_sessions WHERE user_id = ?', [userId])
        : ex.run('DELETE FROM e2e_sessions WHERE user_id = ? AND id <> ?', [userId, keep]),
    deleteIdleE2ESessions: (idleBefore) => ex.run('DELETE FROM e2e_sessions WHERE last_seen_at <= ?', [idleBefore]),

    async writeE2ERecords(userId, writes: E2EWrite[], now) {
      if (!inTransaction) return atomic((tx) => tx.writeE2ERecords(userId, writes, now));
      if (new Set(writes.map((w) => w.id)).size !== writes.length) {
        throw new StorageError('DUPLICATE_IDS', 'a write batch names one id more than once');
      }
      const account = await lockAccount(userId);
      const current = new Map((await readRecords(userId, writes.map((w) => w.id))).map((r) => [r.id, r]));
      const conflicts = writes
        .filter((w) => (current.get(w.id)?.version ?? 0) !== w.baseVersion)
        .map((w) => ({ id: w.id, current: current.get(w.id) ?? null }));
      if (conflicts.length > 0) return { ok: false, conflicts } satisfies E2EWriteResult;

      let seq = account.lastSeq;
      const rows = writes.map((w): E2ERecordRow => ({
        userId,
        id: w.id,
        seq: ++seq,
        version: w.version,
        token: w.token,
        deleted: w.deleted,
        updatedAt: now,
      }));
      for (const batch of chunks(rows)) {
        const params: Param[] = [];
        for (const r of batch) params.push(r.userId, r.id, r.seq, r.version, r.token, r.deleted ? 1 : 0, r.updatedAt);
        await ex.run(
          `INSERT INTO e2e_records (${RECORD_COLUMNS}) VALUES ${batch.map(() => `(${placeholders(7)})`).join(', ')}
           ON CONFLICT (user_id, id) DO UPDATE SET seq = excluded.seq, version = excluded.version,
             token = excluded.token, deleted = excluded.deleted, updated_at = excluded.updated_at`,
          params,
        );
      }
      if (rows.length > 0) await ex.run('UPDATE e2e_accounts SET last_seq = ? WHERE user_id = ?', [seq, userId]);
      return {
        ok: true,
        cursor: seq,
        applied: rows.map((r) => ({ id: r.id, version: r.version, seq: r.seq })),
      } satisfies E2EWriteResult;
    },
    async listE2EChanges(userId, after, limit) {
      const n = Math.max(1, Math.floor(limit));
      const rows = (
        await ex.all(
          `${PLANNED_PER_CALL}SELECT ${RECORD_COLUMNS} FROM e2e_records WHERE user_id = ? AND seq > ? ORDER BY seq ASC LIMIT ?`,
          [userId, after, n + 1],
        )
      ).map(toRecord);
      const more = rows.length > n;
      const changes = more ? rows.slice(0, n) : rows;
      return { changes, cursor: changes.at(-1)?.seq ?? after, more };
    },
    getE2ERecords: (userId, ids) => readRecords(userId, ids),
    async countLiveE2ERecords(userId) {
      const rows = await ex.all('SELECT COUNT(*) AS n FROM e2e_records WHERE user_id = ? AND deleted = 0', [userId]);
      return Number(rows[0]?.n ?? 0);
    },
    async purgeE2ETombstones(userId, before) {
      const due = 'FROM e2e_records WHERE user_id = ? AND deleted = 1 AND updated_at <= ?';
      if (!inTransaction) {
        // Most reads find nothing due: no transaction then.
        if ((await ex.all(`SELECT 1 AS due ${due} LIMIT 1`, [userId, before])).length === 0) return 0;
        return atomic((tx) => tx.purgeE2ETombstones(userId, before));
      }
      await lockAccount(userId);
      const [row] = await ex.all(`SELECT MAX(seq) AS top, COUNT(*) AS n ${due}`, [userId, before]);
      const count = Number(row?.n ?? 0);
      if (count === 0) return 0;
      const top = Number(row!.top);
      await ex.run('UPDATE e2e_accounts SET purged_through_seq = ? WHERE user_id = ? AND purged_through_seq < ?', [top, userId, top]);
      return ex.run(`DELETE ${due}`, [userId, before]);
    },
    async ensureOpaqueServerSetup(candidate, now) {
      await ex.run('INSERT INTO e2e_server_setup (id, setup, created_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING', [
        candidate,
        now,
      ]);
      const [row] = await ex.all('SELECT setup FROM e2e_server_setup WHERE id = 1', []);
      if (!row) throw new StorageError('NO_OPAQUE_SETUP', 'the OPAQUE server setup could not be stored');
      return str(row.setup);
    },
  };
  return ops;
}
