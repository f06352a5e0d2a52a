// An MCP client's side of OAuth, built on the SDK's own OAuthClientProvider,
// and a browser's side of consent: a session cookie, the consent page, and
// its Approve or Deny form, all against the listening server.
import assert from 'node:assert/strict';
import { s256 } from '../../src/oauth/tokens.ts';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { rawRequest, type RawAnswer } from '../mcp/helpers.ts';

export const REDIRECT_URL = 'http://127.0.0.1:9/callback';

/** Keeps what the SDK asks it to keep, in memory; the authorization URL it is sent to is captured. */
export class TestOAuthProvider implements OAuthClientProvider {
  client: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  authorizationUrl: URL | undefined;
  readonly clientMetadataUrl?: string;

  constructor(options: { clientMetadataUrl?: string } = {}) {
    if (options.clientMetadataUrl) this.clientMetadataUrl = options.clientMetadataUrl;
  }

  get redirectUrl(): string {
    return REDIRECT_URL;
  }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'Test connector', redirect_uris: [REDIRECT_URL], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  state(): string {
    return 'state-42';
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

export function oauthTransport(baseUrl: string, provider: OAuthClientProvider): StreamableHTTPClientTransport {
  return new StreamableHTTPClientTransport(new URL('/mcp', baseUrl), { authProvider: provider });
}

/** A connected MCP client using the provider's tokens. */
export async function connectWithOAuth(baseUrl: string, provider: OAuthClientProvider): Promise<Client> {
  const client = new Client({ name: 'oauth-test', version: '1.0.0' });
  await client.connect(oauthTransport(baseUrl, provider));
  return client;
}

/** The browser half: GET the authorization URL with the session cookie; the answer (consent page or redirect). */
export function openAuthorization(baseUrl: string, url: URL | string, cookie?: string): Promise<RawAnswer> {
  const target = new URL(url, baseUrl);
  return rawRequest(baseUrl, { method: 'GET', path: target.pathname + target.search, headers: { accept: 'text/html', ...(cookie ? { cookie } : {}) } });
}

export function csrfOf(page: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(page);
  assert.ok(match, 'the page has a CSRF field');
  return match[1]!;
}

/** The consent form's hidden fields, as the page rendered them. */
export function hiddenFieldsOf(page: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const m of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields[m[1]!] = m[2]!.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#96;/g, '`').replace(/&amp;/g, '&');
  }
  return fields;
}

/** Submits the consent form as the browser would (same origin, CSRF token); returns the answer. */
export function submitConsent(baseUrl: string, cookie: string, fields: Record<string, string>, decision: 'approve' | 'deny'): Promise<RawAnswer> {
  const body = new URLSearchParams({ ...fields, decision }).toString();
  return rawRequest(baseUrl, { method: 'POST', path: '/oauth/authorize', headers: { cookie, origin: baseUrl, 'content-type': 'application/x-www-form-urlencoded' }, body });
}

/** Consent end to end: page, approve, and the code read from the 302 to the redirect URI. */
export async function approve(baseUrl: string, cookie: string, authorizationUrl: URL | string): Promise<{ code: string; location: URL }> {
  const page = await openAuthorization(baseUrl, authorizationUrl, cookie);
  assert.equal(page.status, 200, `consent page: ${page.body.slice(0, 300)}`);
  const answer = await submitConsent(baseUrl, cookie, hiddenFieldsOf(page.body), 'approve');
  assert.equal(answer.status, 302);
  const location = new URL(answer.headers.location!);
  const code = location.searchParams.get('code');
  assert.ok(code, `a code in ${location.href}`);
  return { code, location };
}

/** The full SDK flow: 401 → discovery → registration → consent → finishAuth; returns a connected client. */
export async function authorizeWithSdk(baseUrl: string, cookie: string, provider: TestOAuthProvider): Promise<Client> {
  const transport = oauthTransport(baseUrl, provider);
  const first = new Client({ name: 'oauth-test', version: '1.0.0' });
  await assert.rejects(first.connect(transport), UnauthorizedError);
  assert.ok(provider.authorizationUrl, 'the SDK was sent to the authorization endpoint');
  const { code } = await approve(baseUrl, cookie, provider.authorizationUrl);
  await transport.finishAuth(code);
  return connectWithOAuth(baseUrl, provider);
}

/** A raw token-endpoint request, form-encoded. */
export async function tokenRequest(baseUrl: string, fields: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await rawRequest(baseUrl, { method: 'POST', path: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  return { status: answer.status, body: JSON.parse(answer.body) as Record<string, unknown> };
}

/**
 * A client registered by hand, its consent approved, and the code it got:
 * for the tests that need the token endpoint without the SDK in between.
 */
export async function codeForNewClient(baseUrl: string, cookie: string, verifier: string): Promise<{ clientId: string; code: string; exchange: () => ReturnType<typeof tokenRequest> }> {
  const registered = await rawRequest(baseUrl, { method: 'POST', path: '/oauth/register', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [REDIRECT_URL] }) });
  assert.equal(registered.status, 201);
  const clientId = String(JSON.parse(registered.body).client_id);
  const query = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT_URL, code_challenge: s256(verifier), code_challenge_method: 'S256' });
  const { code } = await approve(baseUrl, cookie, `/oauth/authorize?${query}`);
  return { clientId, code, exchange: () => tokenRequest(baseUrl, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: clientId, redirect_uri: REDIRECT_URL }) };
}
