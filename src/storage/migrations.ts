// Versioned schema migrations, applied when a store opens. Each migration runs
// in its own transaction together with its row in `schema_migrations`, so a
// crash leaves either all of it or none of it. Re-running is a no-op.
//
// Migrations are append-only: never edit a released one, add the next version.
// Both drivers get the same versions with the same meaning; only the column
// types differ (SQLite STRICT INTEGER vs PostgreSQL BIGINT, both read back as
// JS numbers of epoch milliseconds).
import type BetterSqlite3 from 'better-sqlite3';
import type pg from 'pg';
import { StorageError } from './common.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  /**
   * SQLite only: run with foreign keys off (a table rebuild), checked with
   * `PRAGMA foreign_key_check` before the commit. The pragma cannot change
   * inside a transaction, so it is set around it.
   */
  foreignKeysOff?: boolean;
}

export const sqliteMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE users (
        id TEXT NOT NULL PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        api_key_hash TEXT NOT NULL UNIQUE,
        pending_key_hash TEXT UNIQUE,
        pending_key_wrap TEXT,
        pending_key_expires_at INTEGER,
        created_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE sessions (
        id TEXT NOT NULL PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        wrapped_key TEXT,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        label TEXT NOT NULL
      ) STRICT;
      CREATE INDEX sessions_user_idx ON sessions(user_id);
      CREATE INDEX sessions_expires_idx ON sessions(expires_at);
      CREATE INDEX sessions_last_seen_idx ON sessions(last_seen_at);

      CREATE TABLE records (
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('memory', 'entity', 'relation', 'memory-index', 'memory-delta', 'graph-index', 'graph-delta')),
        token TEXT NOT NULL,
        lookup TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, id),
        UNIQUE (user_id, kind, lookup)
      ) STRICT;
      CREATE INDEX records_list_idx ON records(user_id, kind, created_at DESC, id DESC);

      CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
        action TEXT NOT NULL,
        outcome TEXT NOT NULL,
        at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX audit_user_idx ON audit(user_id, at DESC, id DESC);
    `,
  },
  {
    version: 2,
    name: 'shared rate-limit counters',
    sql: `
      CREATE TABLE rate_limits (
        key_hash TEXT NOT NULL PRIMARY KEY,
        hits INTEGER NOT NULL,
        reset_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX rate_limits_reset_idx ON rate_limits(reset_at);
    `,
  },
  {
    version: 3,
    name: 'oauth clients, grants and tokens',
    sql: `
      CREATE TABLE oauth_clients (
        id TEXT NOT NULL PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('registered', 'metadata-document')),
        name TEXT NOT NULL,
        redirect_uris TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER
      ) STRICT;

      CREATE TABLE oauth_grants (
        id TEXT NOT NULL PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        client_id TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
        scope TEXT NOT NULL,
        resource TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER NOT NULL,
        UNIQUE (user_id, client_id, scope, resource)
      ) STRICT;
      CREATE INDEX oauth_grants_client_idx ON oauth_grants(client_id);

      CREATE TABLE oauth_tokens (
        token_hash TEXT NOT NULL PRIMARY KEY,
        grant_id TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('code', 'access', 'refresh')),
        wrapped_key TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER,
        redirect_uri TEXT,
        code_challenge TEXT
      ) STRICT;
      CREATE INDEX oauth_tokens_grant_idx ON oauth_tokens(grant_id);
      CREATE INDEX oauth_tokens_expires_idx ON oauth_tokens(expires_at);
    `,
  },
  {
    version: 4,
    name: 'end-to-end accounts',
    // An E2E account has no argon2 password hash and no API key hash: the
    // users table gets a `mode` and those columns become nullable, with a
    // CHECK that ties them to the mode. SQLite cannot drop NOT NULL in place,
    // so the table is rebuilt (SQLite's documented procedure, which needs
    // foreign keys off: dropping the old table would otherwise cascade into
    // every session, record and audit row). The rows are copied unchanged.
    foreignKeysOff: true,
    sql: `
      CREATE TABLE users_v4 (
        id TEXT NOT NULL PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        mode TEXT NOT NULL CHECK (mode IN ('server-key', 'e2e')),
        password_hash TEXT,
        api_key_hash TEXT UNIQUE,
        pending_key_hash TEXT UNIQUE,
        pending_key_wrap TEXT,
        pending_key_expires_at INTEGER,
        created_at INTEGER NOT NULL,
        CHECK (CASE mode
          WHEN 'server-key' THEN password_hash IS NOT NULL AND api_key_hash IS NOT NULL
          ELSE password_hash IS NULL AND api_key_hash IS NULL AND pending_key_hash IS NULL
            AND pending_key_wrap IS NULL AND pending_key_expires_at IS NULL END)
      ) STRICT;
      INSERT INTO users_v4 (id, email, mode, password_hash, api_key_hash, pending_key_hash, pending_key_wrap, pending_key_expires_at, created_at)
        SELECT id, email, 'server-key', password_hash, api_key_hash, pending_key_hash, pending_key_wrap, pending_key_expires_at, created_at FROM users;
      DROP TABLE users;
      ALTER TABLE users_v4 RENAME TO users;

      CREATE TABLE e2e_accounts (
        user_id TEXT NOT NULL PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        registration_record TEXT NOT NULL,
        password_wrap TEXT NOT NULL,
        recovery_wrap TEXT NOT NULL,
        recovery_verifier TEXT NOT NULL,
        last_seq INTEGER NOT NULL,
        purged_through_seq INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE e2e_pending (
        id_hash TEXT NOT NULL PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('registration', 'login', 'recovery', 'conversion')),
        user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
        new_user_id TEXT,
        email TEXT,
        state TEXT,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX e2e_pending_user_idx ON e2e_pending(user_id);
      CREATE INDEX e2e_pending_expires_idx ON e2e_pending(expires_at);

      CREATE TABLE e2e_sessions (
        id TEXT NOT NULL PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX e2e_sessions_user_idx ON e2e_sessions(user_id);
      CREATE INDEX e2e_sessions_last_seen_idx ON e2e_sessions(last_seen_at);

      CREATE TABLE e2e_records (
        user_id TEXT NOT NULL REFERENCES e2e_accounts(user_id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        version INTEGER NOT NULL,
        token TEXT NOT NULL,
        deleted INTEGER NOT NULL CHECK (deleted IN (0, 1)),
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, id),
        UNIQUE (user_id, seq)
      ) STRICT;
      CREATE INDEX e2e_records_tombstones_idx ON e2e_records(user_id, updated_at) WHERE deleted = 1;

      CREATE TABLE e2e_server_setup (
        id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
        setup TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 5,
    name: 'record tokens: no compression attempt, no planner statistics',
    // PostgreSQL's storage settings only (see there): SQLite neither compresses
    // values nor collects statistics per column, so nothing changes here.
    sql: '',
  },
  {
    version: 6,
    name: 'an index of the waiting index deltas; lookups index only rows with one',
    // PostgreSQL's only (see there): SQLite removes a row's index entries with
    // the row, so counting the waiting deltas already reads just them.
    sql: '',
  },
];

// Constraint names are explicit: the driver maps them to UniqueViolation.
// Record and session ids sort bytewise (COLLATE "C") as they do in SQLite, so
// pagination order is the same on both drivers and independent of the locale.
export const postgresMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE users (
        id TEXT NOT NULL CONSTRAINT users_pkey PRIMARY KEY,
        email TEXT NOT NULL CONSTRAINT users_email_unique UNIQUE,
        password_hash TEXT NOT NULL,
        api_key_hash TEXT NOT NULL CONSTRAINT users_api_key_hash_unique UNIQUE,
        pending_key_hash TEXT CONSTRAINT users_pending_key_hash_unique UNIQUE,
        pending_key_wrap TEXT,
        pending_key_expires_at BIGINT,
        created_at BIGINT NOT NULL
      );

      CREATE TABLE sessions (
        id TEXT COLLATE "C" NOT NULL CONSTRAINT sessions_pkey PRIMARY KEY,
        token_hash TEXT NOT NULL CONSTRAINT sessions_token_hash_unique UNIQUE,
        user_id TEXT NOT NULL CONSTRAINT sessions_user_fkey REFERENCES users(id) ON DELETE CASCADE,
        wrapped_key TEXT,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        label TEXT NOT NULL
      );
      CREATE INDEX sessions_user_idx ON sessions(user_id);
      CREATE INDEX sessions_expires_idx ON sessions(expires_at);
      CREATE INDEX sessions_last_seen_idx ON sessions(last_seen_at);

      CREATE TABLE records (
        user_id TEXT NOT NULL CONSTRAINT records_user_fkey REFERENCES users(id) ON DELETE CASCADE,
        id TEXT COLLATE "C" NOT NULL,
        kind TEXT NOT NULL CONSTRAINT records_kind_check CHECK (kind IN ('memory', 'entity', 'relation', 'memory-index', 'memory-delta', 'graph-index', 'graph-delta')),
        token TEXT NOT NULL,
        lookup TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        CONSTRAINT records_pkey PRIMARY KEY (user_id, id),
        CONSTRAINT records_lookup_unique UNIQUE (user_id, kind, lookup)
      );
      CREATE INDEX records_list_idx ON records(user_id, kind, created_at DESC, id DESC);

      CREATE TABLE audit (
        id BIGINT GENERATED ALWAYS AS IDENTITY CONSTRAINT audit_pkey PRIMARY KEY,
        user_id TEXT CONSTRAINT audit_user_fkey REFERENCES users(id) ON DELETE CASCADE,
        action TEXT NOT NULL,
        outcome TEXT NOT NULL,
        at BIGINT NOT NULL
      );
      CREATE INDEX audit_user_idx ON audit(user_id, at DESC, id DESC);
    `,
  },
  {
    version: 2,
    name: 'shared rate-limit counters',
    // UNLOGGED: a counter write adds nothing to the WAL, so counting costs no
    // WAL flush. A crash of PostgreSQL (not a clean restart) empties the
    // table and a standby does not have it: the windows in progress start
    // over, which lasts at most one window (an hour at most).
    sql: `
      CREATE UNLOGGED TABLE rate_limits (
        key_hash TEXT NOT NULL CONSTRAINT rate_limits_pkey PRIMARY KEY,
        hits INTEGER NOT NULL,
        reset_at BIGINT NOT NULL
      );
      CREATE INDEX rate_limits_reset_idx ON rate_limits(reset_at);
    `,
  },
  {
    version: 3,
    name: 'oauth clients, grants and tokens',
    sql: `
      CREATE TABLE oauth_clients (
        id TEXT NOT NULL CONSTRAINT oauth_clients_pkey PRIMARY KEY,
        kind TEXT NOT NULL CONSTRAINT oauth_clients_kind_check CHECK (kind IN ('registered', 'metadata-document')),
        name TEXT NOT NULL,
        redirect_uris TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT
      );

      CREATE TABLE oauth_grants (
        id TEXT COLLATE "C" NOT NULL CONSTRAINT oauth_grants_pkey PRIMARY KEY,
        user_id TEXT NOT NULL CONSTRAINT oauth_grants_user_fkey REFERENCES users(id) ON DELETE CASCADE,
        client_id TEXT NOT NULL CONSTRAINT oauth_grants_client_fkey REFERENCES oauth_clients(id) ON DELETE CASCADE,
        scope TEXT NOT NULL,
        resource TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT NOT NULL,
        CONSTRAINT oauth_grants_unique UNIQUE (user_id, client_id, scope, resource)
      );
      CREATE INDEX oauth_grants_client_idx ON oauth_grants(client_id);

      CREATE TABLE oauth_tokens (
        token_hash TEXT NOT NULL CONSTRAINT oauth_tokens_pkey PRIMARY KEY,
        grant_id TEXT NOT NULL CONSTRAINT oauth_tokens_grant_fkey REFERENCES oauth_grants(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CONSTRAINT oauth_tokens_kind_check CHECK (kind IN ('code', 'access', 'refresh')),
        wrapped_key TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT,
        redirect_uri TEXT,
        code_challenge TEXT
      );
      CREATE INDEX oauth_tokens_grant_idx ON oauth_tokens(grant_id);
      CREATE INDEX oauth_tokens_expires_idx ON oauth_tokens(expires_at);
    `,
  },
  {
    version: 4,
    name: 'end-to-end accounts',
    sql: `
      ALTER TABLE users ADD COLUMN mode TEXT NOT NULL DEFAULT 'server-key';
      ALTER TABLE users ALTER COLUMN mode DROP DEFAULT;
      ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;
      ALTER TABLE users ALTER COLUMN api_key_hash DROP NOT NULL;
      ALTER TABLE users ADD CONSTRAINT users_mode_check CHECK (CASE mode
        WHEN 'server-key' THEN password_hash IS NOT NULL AND api_key_hash IS NOT NULL
        WHEN 'e2e' THEN password_hash IS NULL AND api_key_hash IS NULL AND pending_key_hash IS NULL
          AND pending_key_wrap IS NULL AND pending_key_expires_at IS NULL
        ELSE FALSE END);

      CREATE TABLE e2e_accounts (
        user_id TEXT NOT NULL CONSTRAINT e2e_accounts_pkey PRIMARY KEY CONSTRAINT e2e_accounts_user_fkey REFERENCES users(id) ON DELETE CASCADE,
        registration_record TEXT NOT NULL,
        password_wrap TEXT NOT NULL,
        recovery_wrap TEXT NOT NULL,
        recovery_verifier TEXT NOT NULL,
        last_seq BIGINT NOT NULL,
        purged_through_seq BIGINT NOT NULL
      );

      CREATE TABLE e2e_pending (
        id_hash TEXT NOT NULL CONSTRAINT e2e_pending_pkey PRIMARY KEY,
        kind TEXT NOT NULL CONSTRAINT e2e_pending_kind_check CHECK (kind IN ('registration', 'login', 'recovery', 'conversion')),
        user_id TEXT CONSTRAINT e2e_pending_user_fkey REFERENCES users(id) ON DELETE CASCADE,
        new_user_id TEXT,
        email TEXT,
        state TEXT,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX e2e_pending_user_idx ON e2e_pending(user_id);
      CREATE INDEX e2e_pending_expires_idx ON e2e_pending(expires_at);

      CREATE TABLE e2e_sessions (
        id TEXT COLLATE "C" NOT NULL CONSTRAINT e2e_sessions_pkey PRIMARY KEY,
        token_hash TEXT NOT NULL CONSTRAINT e2e_sessions_token_hash_unique UNIQUE,
        user_id TEXT NOT NULL CONSTRAINT e2e_sessions_user_fkey REFERENCES users(id) ON DELETE CASCADE,
        label TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL
      );
      CREATE INDEX e2e_sessions_user_idx ON e2e_sessions(user_id);
      CREATE INDEX e2e_sessions_last_seen_idx ON e2e_sessions(last_seen_at);

      CREATE TABLE e2e_records (
        user_id TEXT NOT NULL CONSTRAINT e2e_records_account_fkey REFERENCES e2e_accounts(user_id) ON DELETE CASCADE,
        id TEXT COLLATE "C" NOT NULL,
        seq BIGINT NOT NULL,
        version BIGINT NOT NULL,
        token TEXT NOT NULL,
        deleted SMALLINT NOT NULL CONSTRAINT e2e_records_deleted_check CHECK (deleted IN (0, 1)),
        updated_at BIGINT NOT NULL,
        CONSTRAINT e2e_records_pkey PRIMARY KEY (user_id, id),
        CONSTRAINT e2e_records_seq_unique UNIQUE (user_id, seq)
      );
      CREATE INDEX e2e_records_tombstones_idx ON e2e_records(user_id, updated_at) WHERE deleted = 1;

      CREATE TABLE e2e_server_setup (
        id INTEGER NOT NULL CONSTRAINT e2e_server_setup_pkey PRIMARY KEY CONSTRAINT e2e_server_setup_one CHECK (id = 1),
        setup TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'record tokens: no compression attempt, no planner statistics',
    // A token is a Fernet token: base64 of ciphertext, which PostgreSQL's
    // compression never shrinks enough to keep, yet it tries on every token
    // over about 2 KB (index fragments), reading all of it first. EXTERNAL
    // stores such a token out of line at once, as the failed attempt ended.
    // No query filters, joins or sorts on token, so ANALYZE need not sort and
    // detoast its sample of them (about half of its time). Both are catalog
    // changes: no row is rewritten.
    sql: `
      ALTER TABLE records ALTER COLUMN token SET STORAGE EXTERNAL, ALTER COLUMN token SET STATISTICS 0;
    `,
  },
  {
    version: 6,
    name: 'an index of the waiting index deltas; lookups index only rows with one',
    // Every write adds an index delta and every merge deletes the waiting
    // ones, and each write counts them (is a merge due?) and each search reads
    // them. In records_list_idx (and records_lookup_unique, under a NULL
    // lookup) their entries sort by creation, so new entries go where the
    // dead ones are never met again, and the pages of deleted deltas pile up
    // until a VACUUM: after one busy minute a count of 43 waiting deltas read
    // 4,700 pages (36 ms) there. Here they sort by their random ids, so new
    // entries land among the dead ones, and PostgreSQL clears a page's dead
    // entries before it splits it: the same count read 109. Statements name
    // the delta kind as a literal, so even a generic plan proves this index's
    // condition. Only entities and relations have a lookup; the unique index
    // of lookups (NULLs never conflict) no longer takes an entry for every
    // memory, delta and index part written, and so is no cheaper path to them.
    sql: `
      CREATE INDEX records_pending_idx ON records (user_id, kind, id) WHERE kind IN ('memory-delta', 'graph-delta');
      ALTER TABLE records DROP CONSTRAINT records_lookup_unique;
      CREATE UNIQUE INDEX records_lookup_unique ON records (user_id, kind, lookup) WHERE lookup IS NOT NULL;
    `,
  },
];

function checkNotNewer(applied: number[], known: readonly Migration[]): void {
  const newest = known.reduce((m, x) => Math.max(m, x.version), 0);
  const ahead = applied.filter((v) => v > newest);
  if (ahead.length > 0) {
    throw new StorageError(
      'SCHEMA_TOO_NEW',
      `database schema version ${Math.max(...ahead)} is newer than this build knows (${newest})`,
    );
  }
}

/**
 * SQLite: `BEGIN IMMEDIATE` takes the database's write lock before the
 * version check, so concurrent openers (other processes) wait for each other.
 */
export function migrateSqlite(db: BetterSqlite3.Database, migrations: readonly Migration[] = sqliteMigrations): void {
  const ensure = () =>
    db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT',
    );
  const appliedVersions = () =>
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version);

  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    const foreignKeys = db.pragma('foreign_keys', { simple: true }) as number;
    if (m.foreignKeysOff) db.pragma('foreign_keys = OFF');
    db.exec('BEGIN IMMEDIATE');
    try {
      ensure();
      const applied = appliedVersions();
      checkNotNewer(applied, migrations);
      if (!applied.includes(m.version)) {
        db.exec(m.sql);
        if (m.foreignKeysOff && (db.pragma('foreign_key_check') as unknown[]).length > 0) {
          throw new StorageError('MIGRATION_FOREIGN_KEYS', `migration ${m.version} would leave rows without their parent`);
        }
        db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
      }
      db.exec('COMMIT');
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    } finally {
      if (m.foreignKeysOff) db.pragma(`foreign_keys = ${foreignKeys ? 'ON' : 'OFF'}`);
    }
  }
}

/**
 * PostgreSQL: each migration runs in a transaction that first takes a
 * transaction-scoped advisory lock named after the schema, so two app
 * processes starting at once apply each version exactly once; the loser waits
 * and then sees the version recorded. `schema`, when given, was validated as a
 * plain identifier by the caller and is created here (under the same lock).
 */
export async function migratePostgres(
  client: pg.ClientBase,
  schema: string | null,
  migrations: readonly Migration[] = postgresMigrations,
): Promise<void> {
  const lockName = `anamnesis.migrate:${schema ?? ''}`;
  const inLockedTx = async (work: () => Promise<void>) => {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lockName]);
      await work();
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  };

  await inLockedTx(async () => {
    // An identifier cannot be a bound parameter: it is checked against SCHEMA_NAME at open and quoted here.
    if (schema !== null) await client.query(`CREATE SCHEMA IF NOT EXISTS ${client.escapeIdentifier(schema)}`);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)',
    );
  });

  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    await inLockedTx(async () => {
      const res = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
      const applied = res.rows.map((r) => Number(r.version));
      checkNotNewer(applied, migrations);
      if (!applied.includes(m.version)) {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [
          m.version,
          Date.now(),
        ]);
      }
    });
  }
}
