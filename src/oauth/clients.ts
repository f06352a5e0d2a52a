// Which clients may ask for a grant, and where they may send the user back.
// Every client is public (PKCE, no secret): registered through DCR (RFC 7591)
// or named by the https URL of its client ID metadata document. Redirect URIs
// are matched exactly; only https, loopback http (RFC 8252 section 7.3) and a
// native app's private-use scheme (section 7.1) are accepted.
import { randomUUID } from 'node:crypto';
import { CustomOAuthError, InvalidClientMetadataError, InvalidRequestError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { OAuthClientMetadataSchema, type OAuthClientInformationFull } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { OAuthClientRow, Store } from '../storage/store.ts';
import { fetchMetadataDocument } from './metadata-document.ts';
import type { OAuthSettings } from './settings.ts';

export const MAX_REDIRECT_URIS = 10;
export const MAX_REDIRECT_URI_CHARS = 2000;
export const MAX_CLIENT_NAME_CHARS = 100;
/** DCR bodies and metadata documents alike. */
export const MAX_CLIENT_METADATA_BYTES = 5 * 1024;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Schemes that run code or read files in the browser: never a redirect target. */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'vbscript:', 'about:', 'blob:', 'ftp:', 'ws:', 'wss:']);

/** Why a redirect URI is refused, or null when it is acceptable. */
export function redirectUriProblem(uri: string): string | null {
  if (uri.length > MAX_REDIRECT_URI_CHARS) return `a redirect URI is longer than ${MAX_REDIRECT_URI_CHARS} characters`;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'a redirect URI is not an absolute URL';
  }
  if (url.hash) return 'a redirect URI must not have a fragment';
  if (url.protocol === 'https:') return url.username || url.password ? 'a redirect URI must not carry credentials' : null;
  if (url.protocol === 'http:') return LOOPBACK_HOSTS.has(url.hostname) ? null : 'an http redirect URI must be on loopback (127.0.0.1, [::1] or localhost); use https otherwise';
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `the ${url.protocol} scheme is not allowed for a redirect URI`;
  // A native app's private-use scheme, e.g. com.example.app:/callback or cursor://….
  return null;
}

/** The client's display name: its own, cleaned of control characters, or the host it redirects to. */
function displayName(name: string | undefined, redirectUris: string[]): string {
  const cleaned = (name ?? '').replace(/[\p{Cc}\p{Cf}]/gu, '').trim().slice(0, MAX_CLIENT_NAME_CHARS);
  return cleaned || redirectHost(redirectUris[0] ?? '');
}

/** The host (or scheme, for native apps) a redirect URI sends the user to. */
export function redirectHost(uri: string): string {
  try {
    const url = new URL(uri);
    return url.host || url.protocol.replace(/:$/, '');
  } catch {
    return uri;
  }
}

/** Validates client metadata (a DCR body or a metadata document) into what we keep. */
function clientFromMetadata(body: unknown, id: string, kind: OAuthClientRow['kind']): OAuthClientRow {
  // Redirect URIs first, so each refusal says why in the error RFC 7591 section 3.2.2 names for them.
  const uris = (body as { redirect_uris?: unknown } | null)?.redirect_uris;
  if (!Array.isArray(uris) || uris.length === 0 || uris.length > MAX_REDIRECT_URIS || !uris.every((u) => typeof u === 'string')) {
    throw new InvalidClientMetadataError(`give between 1 and ${MAX_REDIRECT_URIS} redirect URIs`);
  }
  for (const uri of uris) {
    const problem = redirectUriProblem(uri);
    if (problem) throw new CustomOAuthError('invalid_redirect_uri', problem);
  }
  const parsed = OAuthClientMetadataSchema.safeParse(body);
  if (!parsed.success) throw new InvalidClientMetadataError('the client metadata is not valid (RFC 7591)');
  const metadata = parsed.data;
  if (metadata.client_name !== undefined && metadata.client_name.length > MAX_CLIENT_NAME_CHARS) throw new InvalidClientMetadataError(`client_name is longer than ${MAX_CLIENT_NAME_CHARS} characters`);
  if (metadata.grant_types?.some((g) => g !== 'authorization_code' && g !== 'refresh_token')) throw new InvalidClientMetadataError('only the authorization_code and refresh_token grant types are supported');
  if (metadata.response_types?.some((r) => r !== 'code')) throw new InvalidClientMetadataError('only the code response type is supported');
  return { id, kind, name: displayName(metadata.client_name, uris), redirectUris: [...new Set(uris)], createdAt: Date.now(), lastUsedAt: null };
}

/** RFC 7591: registers a public client and answers its client information. */
export async function registerClient(store: Store, body: unknown, settings: OAuthSettings): Promise<OAuthClientInformationFull> {
  const client = clientFromMetadata(body, randomUUID(), 'registered');
  const now = client.createdAt;
  // Expiry is enforced here, where clients are made: never-used and idle clients without a grant go.
  await store.deleteStaleOAuthClients(now - settings.unusedClientTtlMs, now - settings.idleClientTtlMs);
  await store.putOAuthClient(client);
  return {
    client_id: client.id,
    client_id_issued_at: Math.floor(now / 1000),
    client_name: client.name,
    redirect_uris: client.redirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    // Every client is public: it proves itself with PKCE, never with a secret.
    token_endpoint_auth_method: 'none',
  };
}

/** A client id that is a URL names a client ID metadata document. */
export function isMetadataDocumentId(clientId: string): boolean {
  return /^https?:\/\//i.test(clientId);
}

/**
 * The client an authorization request names: a registered one from the
 * store, or a metadata document fetched now (and kept, so the token
 * endpoint knows it). Null when there is no such client.
 */
export async function resolveClient(store: Store, clientId: string, settings: OAuthSettings): Promise<OAuthClientRow | null> {
  if (!isMetadataDocumentId(clientId)) return store.findOAuthClient(clientId);
  const document = await fetchMetadataDocument(clientId, { allowLoopback: settings.allowLoopbackMetadataDocuments, maxBytes: MAX_CLIENT_METADATA_BYTES });
  if (!document || typeof document !== 'object' || (document as { client_id?: unknown }).client_id !== clientId) {
    throw new InvalidRequestError('the client metadata document must name its own URL as client_id');
  }
  const client = clientFromMetadata(document, clientId, 'metadata-document');
  await store.putOAuthClient(client);
  return client;
}
