// The one storage interface. Every driver (SQLite, PostgreSQL) implements it
// and passes test/storage/conformance.ts. Rows hold ciphertext, hashes and
// addressing metadata only: never content, names, tags, keys or passwords.

/**
 * What kind of plaintext a record's token holds. The `*-index` and `*-delta`
 * kinds hold the encrypted search indexes (bucket fragments, statistics,
 * id tables, adjacency rows, and recent changes),
 * derived from the other records and rebuilt under a new key on rotation.
 */
export type RecordKind = 'memory' | 'entity' | 'relation' | 'memory-index' | 'memory-delta' | 'graph-index' | 'graph-delta';

interface UserFields {
  id: string;
  /** Lower-cased; an account identifier, not memory content. */
  email: string;
  createdAt: number;
}

/**
 * Today's mode: the password (argon2id) authenticates, the API key derives K
 * on the server while it serves a request.
 */
export interface ServerKeyUserRow extends UserFields {
  mode: 'server-key';
  /** argon2id PHC string. */
  passwordHash: string;
  /** hex SHA-256 of the current API key. */
  apiKeyHash: string;
  /** A rotation in progress: hash of the pending key, K wrapped under it, when it lapses. */
  pendingKeyHash: string | null;
  pendingKeyWrap: string | null;
  pendingKeyExpiresAt: number | null;
}

/**
 * End-to-end mode (docs/e2e-protocol.md): no password hash and no API key;
 * the OPAQUE record and the wrapped copies of K are in its E2EAccountRow.
 */
export interface E2EUserRow extends UserFields {
  mode: 'e2e';
}

export type UserRow = ServerKeyUserRow | E2EUserRow;

/** What the server keeps of an end-to-end account: nothing it can derive K from. */
export interface E2EAccountRow {
  userId: string;
  /** OPAQUE registration record (base64url): a password verifier the server cannot reverse without guessing. */
  registrationRecord: string;
  /** K as a Fernet token under a key from the OPAQUE export key. */
  passwordWrap: string;
  /** K as a Fernet token under a key from the recovery code. */
  recoveryWrap: string;
  /** hex SHA-256 of the recovery proof. */
  recoveryVerifier: string;
  /** The highest seq given to a record of the account (0 before the first write). */
  lastSeq: number;
  /** The highest seq of a tombstone purged; a changes cursor below it is too old. */
  purgedThroughSeq: number;
}

export type E2ECredentials = Pick<E2EAccountRow, 'registrationRecord' | 'passwordWrap' | 'recoveryWrap' | 'recoveryVerifier'>;

/** A short-lived step of a two-message flow, known by the hash of its id (the id is a bearer secret). */
export interface E2EPendingRow {
  idHash: string;
  kind: 'registration' | 'login' | 'recovery' | 'conversion';
  /** The existing account acted on (login of a known email, recovery, conversion); null otherwise. */
  userId: string | null;
  /** Registration: the id the new account will get (the OPAQUE user identifier). */
  newUserId: string | null;
  /** Registration: the address it will claim. */
  email: string | null;
  /** Login: OPAQUE's server login state (secret, single use). */
  state: string | null;
  expiresAt: number;
}

export interface E2ESessionRow {
  id: string;
  /** hex SHA-256 of the `ane_` token. */
  tokenHash: string;
  userId: string;
  label: string;
  createdAt: number;
  lastSeenAt: number;
}

/** One record of an end-to-end account: a Fernet token the server cannot read, and its sync metadata. */
export interface E2ERecordRow {
  userId: string;
  id: string;
  seq: number;
  version: number;
  token: string;
  /** The token is a tombstone (the client says so in the clear; the token proves it). */
  deleted: boolean;
  updatedAt: number;
}

/** A write: applied only if the stored version is `baseVersion` (0: the id must not exist). */
export interface E2EWrite {
  id: string;
  baseVersion: number;
  version: number;
  token: string;
  deleted: boolean;
}

export type E2EWriteResult =
  | { ok: true; cursor: number; applied: { id: string; version: number; seq: number }[] }
  /** Nothing written; the server's current rows of the conflicting ids (null for an id it does not have). */
  | { ok: false; conflicts: { id: string; current: E2ERecordRow | null }[] };

export interface E2EChangesPage {
  changes: E2ERecordRow[];
  /** The seq to ask from next time. */
  cursor: number;
  more: boolean;
}

export interface SessionRow {
  /** Public handle for listing and revoking: random, unrelated to the token. */
  id: string;
  /** hex SHA-256 of the cookie token. */
  tokenHash: string;
  userId: string;
  /** K wrapped under the session token; null while the session is locked. */
  wrappedKey: string | null;
  createdAt: number;
  lastSeenAt: number;
  /** Absolute cap; the idle limit is judged from lastSeenAt. */
  expiresAt: number;
  /** A short client label (browser family) the user sees when listing sessions. */
  label: string;
}

/**
 * An OAuth client: registered through DCR (RFC 7591) or known by the URL of
 * its metadata document (a client ID metadata document). Public data only:
 * clients are public, with PKCE, and have no secret.
 */
export interface OAuthClientRow {
  /** Random for registered clients; the document's https URL otherwise. */
  id: string;
  kind: 'registered' | 'metadata-document';
  /** What the consent page and the dashboard show (the client chose it). */
  name: string;
  /** Exact redirect URIs the client may use. */
  redirectUris: string[];
  createdAt: number;
  /** When it last got a grant; null if never: unused clients expire sooner. */
  lastUsedAt: number | null;
}

/** What a user approved: one client, one scope, one resource. Its tokens carry K. */
export interface OAuthGrantRow {
  id: string;
  userId: string;
  clientId: string;
  scope: string;
  /** The RFC 8707 audience: this server's /mcp URL. */
  resource: string;
  createdAt: number;
  lastUsedAt: number;
}

/** A grant as the dashboard lists it. */
export interface OAuthGrantListing extends OAuthGrantRow {
  clientName: string;
  redirectUris: string[];
}

export type OAuthTokenKind = 'code' | 'access' | 'refresh';

/** An authorization code, access token or refresh token: only its hash and K wrapped under it. */
export interface OAuthTokenRow {
  /** hex SHA-256 of the token. */
  tokenHash: string;
  grantId: string;
  kind: OAuthTokenKind;
  /** K wrapped under the token itself (HKDF info "smtry-key-wrap-v1", salt = user id). */
  wrappedKey: string;
  expiresAt: number;
  /** Set once a code or refresh token has been exchanged: a second use is a replay. */
  usedAt: number | null;
  /** Codes only: the redirect URI and PKCE S256 challenge of the authorization request. */
  redirectUri: string | null;
  codeChallenge: string | null;
}

export interface RecordRow {
  userId: string;
  id: string;
  kind: RecordKind;
  /** One Fernet token under the user's K. */
  token: string;
  /** Optional keyed lookup tag (HMAC under a sub-key of K), unique per user and kind. */
  lookup: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface AuditEvent {
  userId: string | null;
  /** e.g. `account.create`, `session.login`, `key.rotate.confirm`. */
  action: string;
  /** e.g. `ok`, `denied`, `rate-limited`. */
  outcome: string;
  at: number;
}

/** Position after which a page continues, in the page's order. */
export interface RecordCursor {
  createdAt: number;
  id: string;
}

export interface ListRecordsQuery {
  kind: RecordKind;
  limit: number;
  after?: RecordCursor;
  /** By (createdAt, id): newest first (the default) or oldest first. */
  order?: 'newest' | 'oldest';
}

/** What Store.putRecordsIfNewest must come after, and what it counts. */
export interface NewestGuard {
  /** The kind whose newest stored record the new ones of that kind must be created after. */
  newestOf: RecordKind;
  countOf: RecordKind;
}

export type GuardedPutResult = { written: true; count: number } | { written: false };

export interface PendingKey {
  hash: string;
  wrap: string;
  expiresAt: number;
}

export class UniqueViolation extends Error {
  constructor(readonly what: 'email' | 'api-key' | 'record-lookup' | 'record-id' | 'e2e-account') {
    super(`unique constraint: ${what}`);
    this.name = 'UniqueViolation';
  }
}

/** One fixed rate-limit window, just after an attempt was counted in it. */
export interface RateLimitWindow {
  /** Attempts counted in this window, the one just counted included. */
  count: number;
  /** When the window ends (epoch ms); the first attempt at or after it starts a new window. */
  resetAt: number;
}

/**
 * Rate-limit counters (metadata only: keys are hashes), shared by every
 * process on one database. Not part of a Transaction: an attempt counts
 * whatever becomes of the work it guards.
 */
export interface RateLimitCounters {
  /**
   * Counts one attempt under `key` at `now`, atomically (concurrent callers,
   * in any process, get distinct consecutive counts): in the window that is
   * still open at `now`, or in a new one that ends at `now + windowMs`.
   */
  hitRateLimit(key: string, windowMs: number, now: number): Promise<RateLimitWindow>;
  /** Deletes up to `max` windows that ended at or before `now`, the oldest first; returns how many. */
  sweepRateLimits(now: number, max: number): Promise<number>;
}

/** Raised when the database cannot be reached; the HTTP layer answers 503. */
export class StoreUnavailable extends Error {
  constructor(cause?: unknown) {
    super('storage unavailable', { cause });
    this.name = 'StoreUnavailable';
  }
}

export interface Store extends RateLimitCounters {
  readonly driver: 'sqlite' | 'postgres';

  // Users
  createUser(user: UserRow): Promise<void>;
  findUserById(id: string): Promise<UserRow | null>;
  findUserByEmail(email: string): Promise<UserRow | null>;
  findUserByApiKeyHash(apiKeyHash: string): Promise<ServerKeyUserRow | null>;
  findUserByPendingKeyHash(pendingKeyHash: string): Promise<ServerKeyUserRow | null>;
  updatePasswordHash(userId: string, passwordHash: string): Promise<void>;
  setPendingKey(userId: string, pending: PendingKey | null): Promise<void>;
  /** Switch to a new API key and clear any pending one. */
  setApiKeyHash(userId: string, apiKeyHash: string): Promise<void>;
  /** Remove the user and every row that belongs to them (sessions, records, audit, every E2E row). */
  deleteUser(userId: string): Promise<void>;

  // Sessions
  createSession(session: SessionRow): Promise<void>;
  findSessionByTokenHash(tokenHash: string): Promise<SessionRow | null>;
  listSessions(userId: string): Promise<SessionRow[]>;
  touchSession(sessionId: string, lastSeenAt: number): Promise<void>;
  setSessionWrappedKey(sessionId: string, wrappedKey: string | null): Promise<void>;
  deleteSession(userId: string, sessionId: string): Promise<boolean>;
  /**
   * Drop every wrapped copy of K (rotation, lost key): sessions stay, locked;
   * OAuth grants go with their tokens, since a grant without K is worthless.
   */
  clearWrappedKeys(userId: string): Promise<void>;
  deleteExpiredSessions(now: number, idleMs: number): Promise<number>;
  /** Every browser session of the user (a switch to end-to-end mode). */
  deleteSessions(userId: string): Promise<number>;

  // OAuth clients, grants and tokens
  /** Insert, or replace the name and redirect URIs of a client with this id (a refetched metadata document). */
  putOAuthClient(client: OAuthClientRow): Promise<void>;
  findOAuthClient(clientId: string): Promise<OAuthClientRow | null>;
  /**
   * Delete clients without a grant that were never used and created at or
   * before `neverUsedBefore`, or last used at or before `idleBefore`.
   */
  deleteStaleOAuthClients(neverUsedBefore: number, idleBefore: number): Promise<number>;
  /** Creates the grant, or returns the existing one for (user, client, scope, resource); marks the client used. */
  ensureOAuthGrant(grant: OAuthGrantRow): Promise<OAuthGrantRow>;
  findOAuthGrant(grantId: string): Promise<OAuthGrantRow | null>;
  listOAuthGrants(userId: string): Promise<OAuthGrantListing[]>;
  touchOAuthGrant(grantId: string, lastUsedAt: number): Promise<void>;
  /** Deletes the grant and every token of it; false if the user has no such grant. */
  deleteOAuthGrant(userId: string, grantId: string): Promise<boolean>;
  createOAuthToken(token: OAuthTokenRow): Promise<void>;
  findOAuthToken(tokenHash: string): Promise<OAuthTokenRow | null>;
  /** Marks a code or refresh token used; false if it was already used (or unknown): only one caller wins. */
  markOAuthTokenUsed(tokenHash: string, usedAt: number): Promise<boolean>;
  deleteOAuthToken(tokenHash: string): Promise<void>;
  deleteExpiredOAuthTokens(now: number): Promise<number>;

  // Records
  /** Insert or replace by (userId, id). */
  putRecords(records: RecordRow[]): Promise<void>;
  getRecord(userId: string, id: string): Promise<RecordRow | null>;
  getRecords(userId: string, ids: string[]): Promise<RecordRow[]>;
  findRecordsByLookup(userId: string, kind: RecordKind, lookups: string[]): Promise<RecordRow[]>;
  listRecords(userId: string, query: ListRecordsQuery): Promise<RecordRow[]>;
  /** Every record of the user, of the given kinds (all kinds when omitted), oldest first. */
  allRecords(userId: string, kinds?: RecordKind[]): Promise<RecordRow[]>;
  /**
   * Records with any of these ids or of any of these kinds, read by one
   * statement: a consistent snapshot even while another transaction commits.
   */
  snapshotRecords(userId: string, ids: string[], kinds: RecordKind[]): Promise<RecordRow[]>;
  countRecords(userId: string, kind: RecordKind): Promise<number>;
  /**
   * The two reads a lock-free create needs, in one statement (one round trip
   * instead of two on every memory created): the creation time of the user's
   * newest record of kind `newestOf` (null when there is none) and how many
   * records of kind `countOf` they hold.
   */
  newestAndCount(userId: string, newestOf: RecordKind, countOf: RecordKind): Promise<{ newestCreatedAt: number | null; count: number }>;
  /**
   * A lock-free create in one statement, for the common case that its stamp
   * is the newest: inserts `records` (new ids, of one user) only if that
   * user has no record of kind `guard.newestOf` created at or after the
   * earliest of `records` of that kind; otherwise writes none of them, and
   * the caller reads the newest (newestAndCount), stamps again and puts.
   * When written, `count` is how many records of kind `guard.countOf` the
   * user held besides these.
   */
  putRecordsIfNewest(records: RecordRow[], guard: NewestGuard): Promise<GuardedPutResult>;
  deleteRecords(userId: string, ids: string[]): Promise<number>;
  deleteAllRecords(userId: string): Promise<number>;

  // End-to-end accounts (docs/e2e-protocol.md)
  /** The users row (mode e2e) and its account row together; UniqueViolation('email') if the address is taken. */
  createE2EAccount(user: E2EUserRow, account: E2ECredentials): Promise<void>;
  /**
   * A server-key user becomes an E2E user with these credentials: the password
   * hash, API key hash and pending key are cleared. The caller deletes the
   * old records, sessions and grants in the same transaction.
   */
  convertUserToE2E(userId: string, account: E2ECredentials): Promise<void>;
  findE2EAccount(userId: string): Promise<E2EAccountRow | null>;
  /** New OPAQUE record and wraps (recovery); false if there is no such account. */
  replaceE2ECredentials(userId: string, account: E2ECredentials): Promise<boolean>;
  createE2EPending(row: E2EPendingRow): Promise<void>;
  /** Removes and returns the step if it exists, is of this kind and has not lapsed at `now`: single use, one caller wins. */
  takeE2EPending(idHash: string, kind: E2EPendingRow['kind'], now: number): Promise<E2EPendingRow | null>;
  deleteExpiredE2EPending(now: number): Promise<number>;
  createE2ESession(session: E2ESessionRow): Promise<void>;
  findE2ESessionByTokenHash(tokenHash: string): Promise<E2ESessionRow | null>;
  touchE2ESession(sessionId: string, lastSeenAt: number): Promise<void>;
  deleteE2ESession(userId: string, sessionId: string): Promise<boolean>;
  /** Every E2E session of the user but `keepSessionId` (if given). */
  deleteE2ESessions(userId: string, keepSessionId?: string): Promise<number>;
  deleteIdleE2ESessions(idleBefore: number): Promise<number>;
  /**
   * All or nothing, atomically: every write whose id is at its base version
   * gets the next seq of the account, in order; if any id is not at its base
   * version nothing is written and the current rows come back. Writers of one
   * account are serialised, so seq grows strictly in commit order.
   */
  writeE2ERecords(userId: string, writes: E2EWrite[], now: number): Promise<E2EWriteResult>;
  /** Records (tombstones included) with seq > `after`, in seq order, at most `limit`. */
  listE2EChanges(userId: string, after: number, limit: number): Promise<E2EChangesPage>;
  getE2ERecords(userId: string, ids: string[]): Promise<E2ERecordRow[]>;
  countLiveE2ERecords(userId: string): Promise<number>;
  /** Deletes the user's tombstones last written at or before `before` and raises purgedThroughSeq; returns how many. */
  purgeE2ETombstones(userId: string, before: number): Promise<number>;
  /** The stored OPAQUE server setup; `candidate` is stored first if there is none (the first process wins). */
  ensureOpaqueServerSetup(candidate: string, now: number): Promise<string>;

  // Audit trail (metadata only)
  appendAudit(event: AuditEvent): Promise<void>;
  listAudit(userId: string, limit: number): Promise<AuditEvent[]>;

  /**
   * Run `work` in one database transaction: every change made through `tx`
   * commits together or not at all. `lockUser` inside it serialises writers
   * of one user (lost updates on read-modify-write are impossible).
   */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;

  /** Release connections. */
  close(): Promise<void>;
}

export interface Transaction extends Omit<Store, 'transaction' | 'close' | 'driver' | keyof RateLimitCounters> {
  /** Hold the user's row lock until the transaction ends. */
  lockUser(userId: string): Promise<void>;
  /**
   * Take the user's row lock if no other transaction holds it (held until
   * this one ends): false instead of waiting, so work another request is
   * already doing (an index merge) can be skipped.
   */
  tryLockUser(userId: string): Promise<boolean>;
}
