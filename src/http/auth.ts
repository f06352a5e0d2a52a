// Per-request authentication. A request carries either `Authorization: Bearer
// anm_…` or a session cookie; what it proves is attached as `request.auth`,
// including the Vault that alone holds this request's K, and is dropped with
// the request.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticateApiKey } from '../accounts/authenticate.ts';
import { resolveSession } from '../accounts/sessions.ts';
import { isE2EToken, resolveE2ESession } from '../e2e/sessions.ts';
import { AppError, e2eAccount, unauthorized } from '../errors.ts';
import type { ServerKeyUserRow, SessionRow, Store } from '../storage/store.ts';
import type { Vault } from '../vault/vault.ts';
import { sessionToken } from './cookies.ts';
import { isSameOriginWrite } from './csrf.ts';

export interface Auth {
  /** Only a server-key account authenticates here; an end-to-end one is refused with e2e_account. */
  user: ServerKeyUserRow;
  /** Null for a locked session. */
  vault: Vault | null;
  /** An OAuth access token opens /mcp only, never the REST API or the pages. */
  via: 'api-key' | 'session' | 'oauth';
  session?: SessionRow;
  sessionToken?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: Auth | null;
  }
}

export const BEARER_CHALLENGE = 'Bearer realm="anamnesis"';

/** The bearer credential, when an Authorization header is present (malformed ones included). */
export function bearerCredential(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : '';
}

/** An end-to-end session token where a server-key credential belongs: 403 e2e_account when it is live. */
export async function refuseE2EToken(store: Store, credential: string): Promise<void> {
  if (isE2EToken(credential) && (await resolveE2ESession(store, credential))) throw e2eAccount();
}

async function authenticate(store: Store, request: FastifyRequest): Promise<Auth | null> {
  const bearer = bearerCredential(request);
  if (bearer !== undefined) {
    const found = await authenticateApiKey(store, bearer);
    if (!found) {
      await refuseE2EToken(store, bearer);
      throw unauthorized('the API key is not valid');
    }
    return { ...found, via: 'api-key' };
  }
  const token = sessionToken(request);
  if (!token) return null;
  const resolved = await resolveSession(store, token);
  if (!resolved) return null;
  if (!isSameOriginWrite(request)) throw new AppError('csrf_rejected', 'this request did not come from this site');
  return { user: resolved.user, vault: resolved.vault, via: 'session', session: resolved.session, sessionToken: token };
}

function challenge(reply: FastifyReply): void {
  reply.header('www-authenticate', BEARER_CHALLENGE);
}

/** onRequest hook: an API key or an unlocked session. */
export function requireVault(store: Store) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    let auth: Auth | null;
    try {
      auth = await authenticate(store, request);
    } catch (error) {
      if (error instanceof AppError && error.code === 'unauthorized') challenge(reply);
      throw error;
    }
    if (!auth) {
      challenge(reply);
      throw unauthorized();
    }
    if (!auth.vault) throw new AppError('locked', 'this session is locked: unlock it with your API key first');
    request.auth = auth;
  };
}

/** onRequest hook: a browser session, locked or not. */
export function requireSession(store: Store) {
  return async (request: FastifyRequest): Promise<void> => {
    const bearer = bearerCredential(request);
    if (bearer !== undefined) await refuseE2EToken(store, bearer);
    const token = sessionToken(request);
    const auth = token && bearerCredential(request) === undefined ? await authenticate(store, request) : null;
    if (!auth) throw unauthorized('log in first: this needs a browser session');
    request.auth = auth;
  };
}

export function vaultOf(request: FastifyRequest): Vault {
  const vault = request.auth?.vault;
  if (!vault) throw unauthorized();
  return vault;
}

export function authOf(request: FastifyRequest): Auth & { via: 'api-key' | 'session' } {
  const auth = request.auth;
  // Defence in depth: only /mcp accepts OAuth tokens, and it never calls this.
  if (!auth || auth.via === 'oauth') throw unauthorized();
  return auth as Auth & { via: 'api-key' | 'session' };
}
