// The public origin of a request, as Fastify reports it (X-Forwarded-* only
// from TRUST_PROXY addresses), and only for hosts the DNS-rebinding check
// allows: the issuer, endpoints and resource URL are built from it, so a
// forged Host can never make us advertise someone else's address.
import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import { isAllowedHost } from '../mcp/host-check.ts';

export interface PublicUrls {
  /** e.g. https://memory.example.org: also the issuer (RFC 8414). */
  origin: string;
  /** The protected resource and token audience (RFC 8707): <origin>/mcp. */
  resource: string;
  /** Where /mcp's 401 points clients (RFC 9728 path-specific form). */
  resourceMetadata: string;
  authorize: string;
  token: string;
  register: string;
  revoke: string;
}

export function publicUrls(request: FastifyRequest, allowedHosts: readonly string[]): PublicUrls {
  if (!isAllowedHost(request.host, allowedHosts)) {
    throw new AppError('forbidden', 'this server does not answer to that Host name (see ANAMNESIS_ALLOWED_HOSTS)');
  }
  const origin = `${request.protocol}://${request.host.toLowerCase()}`;
  return {
    origin,
    resource: `${origin}/mcp`,
    resourceMetadata: `${origin}/.well-known/oauth-protected-resource/mcp`,
    authorize: `${origin}/oauth/authorize`,
    token: `${origin}/oauth/token`,
    register: `${origin}/oauth/register`,
    revoke: `${origin}/oauth/revoke`,
  };
}
