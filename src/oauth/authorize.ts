// Checking an authorization request (GET /oauth/authorize, and again on the
// consent form's POST) in the order RFC 6749 section 4.1.2.1 requires: while
// the client or its redirect URI is in doubt, errors are shown on our own
// page and never redirected; after that, errors go back to the client with
// its state. The answer to the client carries `iss` (RFC 9207).
import type { OAuthClientRow, Store } from '../storage/store.ts';
import { isMetadataDocumentId, resolveClient } from './clients.ts';
import type { PublicUrls } from './origin.ts';
import { MCP_SCOPE, type OAuthSettings } from './settings.ts';
import type { AuthorizationRequest } from './tokens.ts';
import { OAuthError } from '@modelcontextprotocol/sdk/server/auth/errors.js';

/** The query (or form) fields of an authorization request, as received. */
export interface AuthorizationParams {
  client_id?: string | undefined;
  redirect_uri?: string | undefined;
  response_type?: string | undefined;
  code_challenge?: string | undefined;
  code_challenge_method?: string | undefined;
  scope?: string | undefined;
  state?: string | undefined;
  resource?: string | undefined;
}

export type AuthorizationCheck =
  | { outcome: 'show-error'; message: string }
  | { outcome: 'redirect-error'; location: string }
  | { outcome: 'ask'; client: OAuthClientRow; request: AuthorizationRequest; state: string | undefined };

/** RFC 7636: BASE64URL of a SHA-256 digest is 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** redirect_uri with the answer's parameters added (its own query kept). */
export function redirectWith(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(name, value);
  return url.toString();
}

export async function checkAuthorization(store: Store, params: AuthorizationParams, urls: PublicUrls, settings: OAuthSettings): Promise<AuthorizationCheck> {
  if (!params.client_id) return { outcome: 'show-error', message: 'The application did not say who it is (no client_id).' };
  let client: OAuthClientRow | null;
  try {
    client = await resolveClient(store, params.client_id, settings);
  } catch (error) {
    if (error instanceof OAuthError) return { outcome: 'show-error', message: `The application's description could not be used: ${error.message}.` };
    throw error;
  }
  if (!client) return { outcome: 'show-error', message: isMetadataDocumentId(params.client_id) ? 'The application could not be found.' : 'This application is not registered here (it may have expired): connect again from the application.' };
  const redirectUri = params.redirect_uri ?? (client.redirectUris.length === 1 ? client.redirectUris[0] : undefined);
  if (!redirectUri || !client.redirectUris.includes(redirectUri)) {
    return { outcome: 'show-error', message: 'The address this application wants to send you back to is not one it registered, so we will not send you there.' };
  }

  const state = params.state;
  const fail = (error: string, description: string): AuthorizationCheck => ({ outcome: 'redirect-error', location: redirectWith(redirectUri, { error, error_description: description, state, iss: urls.origin }) });
  if (params.response_type !== 'code') return fail('unsupported_response_type', 'response_type must be code');
  if (!params.code_challenge) return fail('invalid_request', 'code_challenge is required (PKCE)');
  if (params.code_challenge_method !== 'S256') return fail('invalid_request', 'code_challenge_method must be S256');
  if (!S256_CHALLENGE.test(params.code_challenge)) return fail('invalid_request', 'code_challenge is not an S256 challenge');
  const scopes = (params.scope ?? MCP_SCOPE).split(' ').filter(Boolean);
  if (scopes.some((s) => s !== MCP_SCOPE)) return fail('invalid_scope', `the only scope is ${MCP_SCOPE}`);
  if (params.resource !== undefined && params.resource !== urls.resource) return fail('invalid_target', `resource must be ${urls.resource}`);

  return {
    outcome: 'ask',
    client,
    state,
    request: { clientId: client.id, redirectUri, codeChallenge: params.code_challenge, scope: MCP_SCOPE, resource: urls.resource },
  };
}
