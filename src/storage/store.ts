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

export interface UserRow {
  id: string;
  /** Lower-cased; an account identifier, not memory content. */
  email: string;
  /** argon2id PHC string. */
  passwordHash: string;
  /** hex SHA-256 of the current API key. */
  apiKeyHash: string;
  /** A rotation in progress: hash of the pending key, K wrapped under it, when it lapses. */
  pendingKeyHash: string | null;
  pendingKeyWrap: string | null;
  pendingKeyExpiresAt: number | null;
  createdAt: number;
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

export interface PendingKey {
  hash: string;
  wrap: string;
  expiresAt: number;
}

export class UniqueViolation extends Error {
  constructor(readonly what: 'email' | 'api-key' | 'record-lookup' | 'record-id') {
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
  findUserByApiKeyHash(apiKeyHash: string): Promise<UserRow | null>;
  findUserByPendingKeyHash(pendingKeyHash: string): Promise<UserRow | null>;
  updatePasswordHash(userId: string, passwordHash: string): Promise<void>;
  setPendingKey(userId: string, pending: PendingKey | null): Promise<void>;
  /** Switch to a new API key and clear any pending one. */
  setApiKeyHash(userId: string, apiKeyHash: string): Promise<void>;
  /** Remove the user and every row that belongs to them (sessions, records, audit). */
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
  deleteRecords(userId: string, ids: string[]): Promise<number>;
  deleteAllRecords(userId: string): Promise<number>;

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
