// Authorization codes, access tokens and refresh tokens, each held like a
// session token (DESIGN.md section 1, derived credentials): 32 random bytes
// given to the client, SHA-256 of it stored, with K wrapped under the token
// itself. Consent wraps K (from the unlocked browser session's vault) under
// the new code; the code opens K once to wrap it under the first access and
// refresh tokens; each refresh opens K with the refresh token. A copy of the
// database (and of the client table) therefore opens nothing.
import { createHash, randomUUID } from 'node:crypto';
import { InvalidGrantError, InvalidScopeError, InvalidTargetError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { generateSessionToken, secretLookupHash, secretsEqual, unwrapDataKey } from '../crypto/keys.ts';
import type { OAuthGrantRow, OAuthTokenRow, ServerKeyUserRow, Store, Transaction } from '../storage/store.ts';
import { Vault } from '../vault/vault.ts';
import type { OAuthSettings } from './settings.ts';

/** last_used_at of a grant is written at most this often, so reads do not all become writes. */
const TOUCH_INTERVAL_MS = 60_000;

export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  scope: string;
  resource: string;
}

/** RFC 7636 S256: BASE64URL(SHA256(ASCII(code_verifier))). */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** Consent given in an unlocked session: the grant, and a code carrying K. */
export async function issueCode(store: Store, vault: Vault, request: AuthorizationRequest, settings: OAuthSettings): Promise<string> {
  const now = Date.now();
  const code = generateSessionToken();
  await store.transaction(async (tx) => {
    const grant = await tx.ensureOAuthGrant({ id: randomUUID(), userId: vault.userId, clientId: request.clientId, scope: request.scope, resource: request.resource, createdAt: now, lastUsedAt: now });
    await tx.createOAuthToken({ tokenHash: secretLookupHash(code), grantId: grant.id, kind: 'code', wrappedKey: vault.wrapFor(code), expiresAt: now + settings.codeTtlMs, usedAt: null, redirectUri: request.redirectUri, codeChallenge: request.codeChallenge });
  });
  return code;
}

/** A code or refresh token that names a live grant of this client; throws invalid_grant otherwise. */
async function presented(store: Store, token: string, kind: 'code' | 'refresh', clientId: string): Promise<{ row: OAuthTokenRow; grant: OAuthGrantRow }> {
  const row = await store.findOAuthToken(secretLookupHash(token));
  const grant = row?.kind === kind ? await store.findOAuthGrant(row.grantId) : null;
  if (!row || !grant || grant.clientId !== clientId) throw new InvalidGrantError(`the ${kind === 'code' ? 'authorization code' : 'refresh token'} is not valid`);
  return { row, grant };
}

/** A replayed code or refresh token means one copy is in the wrong hands: end the whole grant. */
async function revokeOnReplay(store: Store, grant: OAuthGrantRow, what: string): Promise<never> {
  await store.deleteOAuthGrant(grant.userId, grant.id);
  await store.appendAudit({ userId: grant.userId, action: 'oauth.replay', outcome: 'grant-revoked', at: Date.now() });
  throw new InvalidGrantError(`this ${what} was already used; every token of its grant is now revoked`);
}

/** Opens K with the presented credential, marks it used, and mints a new access and refresh token, all in one transaction. */
async function mint(store: Store, grant: OAuthGrantRow, used: { token: string; row: OAuthTokenRow }, settings: OAuthSettings): Promise<OAuthTokens | null> {
  const now = Date.now();
  const vault = new Vault(store, grant.userId, unwrapDataKey(used.token, grant.userId, used.row.wrappedKey));
  const access = generateSessionToken();
  const refresh = generateSessionToken();
  const minted = await store.transaction(async (tx: Transaction) => {
    if (!(await tx.markOAuthTokenUsed(used.row.tokenHash, now))) return false;
    const base = { grantId: grant.id, usedAt: null, redirectUri: null, codeChallenge: null };
    await tx.createOAuthToken({ ...base, tokenHash: secretLookupHash(access), kind: 'access', wrappedKey: vault.wrapFor(access), expiresAt: now + settings.accessTtlMs });
    await tx.createOAuthToken({ ...base, tokenHash: secretLookupHash(refresh), kind: 'refresh', wrappedKey: vault.wrapFor(refresh), expiresAt: now + settings.refreshTtlMs });
    await tx.touchOAuthGrant(grant.id, now);
    return true;
  });
  if (!minted) return null;
  // Expired codes and tokens (used refresh tokens included, kept until then for reuse detection)
  // are swept where new ones are made; those that expired before this moment only.
  await store.deleteExpiredOAuthTokens(now - 1);
  return { access_token: access, token_type: 'Bearer', expires_in: Math.floor(settings.accessTtlMs / 1000), refresh_token: refresh, scope: grant.scope };
}

export interface CodeExchange {
  code: string;
  clientId: string;
  redirectUri: string | undefined;
  codeVerifier: string;
  resource: string | undefined;
}

/** grant_type=authorization_code. Every check runs before the code is spent, so a bad request changes nothing. */
export async function exchangeCode(store: Store, input: CodeExchange, settings: OAuthSettings): Promise<OAuthTokens> {
  const { row, grant } = await presented(store, input.code, 'code', input.clientId);
  if (row.usedAt !== null) return revokeOnReplay(store, grant, 'authorization code');
  if (row.expiresAt <= Date.now()) throw new InvalidGrantError('the authorization code has expired');
  if (input.redirectUri !== row.redirectUri) throw new InvalidGrantError('redirect_uri does not match the authorization request');
  if (!row.codeChallenge || !secretsEqual(s256(input.codeVerifier), row.codeChallenge)) throw new InvalidGrantError('code_verifier does not match the code challenge');
  if (input.resource !== undefined && input.resource !== grant.resource) throw new InvalidTargetError('resource does not match the authorization request');
  const tokens = await mint(store, grant, { token: input.code, row }, settings);
  if (!tokens) return revokeOnReplay(store, grant, 'authorization code');
  return tokens;
}

export interface Refresh {
  refreshToken: string;
  clientId: string;
  scope: string | undefined;
  resource: string | undefined;
}

/** grant_type=refresh_token: rotation on every use; a second use of one refresh token revokes the grant. */
export async function refreshTokens(store: Store, input: Refresh, settings: OAuthSettings): Promise<OAuthTokens> {
  const { row, grant } = await presented(store, input.refreshToken, 'refresh', input.clientId);
  if (row.usedAt !== null) return revokeOnReplay(store, grant, 'refresh token');
  if (row.expiresAt <= Date.now()) throw new InvalidGrantError('the refresh token has expired');
  const granted = new Set(grant.scope.split(' '));
  if (input.scope !== undefined && !input.scope.split(' ').every((s) => granted.has(s))) throw new InvalidScopeError('the scope asked for is wider than the grant');
  if (input.resource !== undefined && input.resource !== grant.resource) throw new InvalidTargetError('resource does not match the grant');
  const tokens = await mint(store, grant, { token: input.refreshToken, row }, settings);
  if (!tokens) return revokeOnReplay(store, grant, 'refresh token');
  return tokens;
}

/**
 * RFC 7009: a refresh token ends its whole grant, an access token ends
 * itself. Unknown tokens, and tokens of another client, change nothing.
 */
export async function revokeToken(store: Store, token: string, clientId: string | undefined): Promise<void> {
  const row = await store.findOAuthToken(secretLookupHash(token));
  const grant = row && row.kind !== 'code' ? await store.findOAuthGrant(row.grantId) : null;
  if (!row || !grant || (clientId !== undefined && clientId !== grant.clientId)) return;
  if (row.kind === 'refresh') await store.deleteOAuthGrant(grant.userId, grant.id);
  else await store.deleteOAuthToken(row.tokenHash);
}

export interface ResolvedAccessToken {
  user: ServerKeyUserRow;
  vault: Vault;
  grant: OAuthGrantRow;
}

/**
 * The user and vault an access token opens, only when it is live and its
 * grant's resource is `resource` (this server's /mcp: the audience check).
 */
export async function resolveAccessToken(store: Store, token: string, resource: string): Promise<ResolvedAccessToken | null> {
  const row = await store.findOAuthToken(secretLookupHash(token));
  const now = Date.now();
  if (!row || row.kind !== 'access' || row.expiresAt <= now) return null;
  const grant = await store.findOAuthGrant(row.grantId);
  if (!grant || !secretsEqual(grant.resource, resource)) return null;
  const user = await store.findUserById(grant.userId);
  // A switch to end-to-end mode deletes every grant in its transaction; none should remain.
  if (!user || user.mode !== 'server-key') return null;
  let vault: Vault;
  try {
    vault = new Vault(store, user.id, unwrapDataKey(token, user.id, row.wrappedKey));
  } catch {
    return null;
  }
  if (now - grant.lastUsedAt > TOUCH_INTERVAL_MS) await store.touchOAuthGrant(grant.id, now);
  return { user, vault, grant };
}
