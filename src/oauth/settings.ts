// OAuth lifetimes and the one test-only switch, given to buildApp so tests
// can shorten or lengthen lifetimes without clocks or sleeps.

export interface OAuthSettings {
  /** An authorization code lives this long (RFC 6749 advises at most ten minutes). */
  codeTtlMs: number;
  /** Access tokens are short-lived: a stolen one is useful for an hour at most. */
  accessTtlMs: number;
  /** A refresh token lasts this long unused; each use replaces it with a new one. */
  refreshTtlMs: number;
  /** A registered client that never got a grant is deleted after this long. */
  unusedClientTtlMs: number;
  /** A client without a live grant is deleted this long after its last grant was made. */
  idleClientTtlMs: number;
  /**
   * Tests only (never set from the environment): lets a client ID metadata
   * document be fetched over http from a loopback address.
   */
  allowLoopbackMetadataDocuments: boolean;
}

export const DEFAULT_OAUTH_SETTINGS: OAuthSettings = {
  codeTtlMs: 5 * 60_000,
  accessTtlMs: 3600_000,
  refreshTtlMs: 30 * 24 * 3600_000,
  unusedClientTtlMs: 24 * 3600_000,
  idleClientTtlMs: 30 * 24 * 3600_000,
  allowLoopbackMetadataDocuments: false,
};

/** The one scope: read and write every memory and the graph through /mcp. */
export const MCP_SCOPE = 'memory';
