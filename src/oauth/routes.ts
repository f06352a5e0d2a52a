// The OAuth 2.1 endpoints MCP clients call without a browser: discovery
// (RFC 9728, RFC 8414 and the OpenID path), registration (RFC 7591), token
// (authorization_code with PKCE, refresh_token) and revocation (RFC 7009).
// The consent page is a web page (src/web/routes/oauth.ts).
//
// Fastify-native, on the SDK's schemas and error classes: the SDK's router is
// Express middleware that would need a bridge, its own body parsers, rate
// limiter and error answers, and a provider shape that cannot wrap K under
// each token from an unlocked session.
//
// Errors here answer in the RFC shape {"error","error_description"}, the
// documented exception to our JSON error shape (docs/api.md).
import { InvalidClientError, InvalidRequestError, OAuthError, ServerError, TooManyRequestsError, UnsupportedGrantTypeError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { OAuthMetadata, OAuthProtectedResourceMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { toErrorAnswer } from '../http/errors.ts';
import { registerStrictFormParser } from '../http/strict-input.ts';
import { LIMITS } from '../http/rate-limit.ts';
import type { Services } from '../http/services.ts';
import { allowedHostsFor } from '../mcp/host-check.ts';
import { describeErrorForLog } from '../logger.ts';
import { MAX_CLIENT_METADATA_BYTES, registerClient } from './clients.ts';
import { publicUrls, type PublicUrls } from './origin.ts';
import { MCP_SCOPE } from './settings.ts';
import { exchangeCode, refreshTokens, revokeToken } from './tokens.ts';

/** Token and revocation requests are a handful of short fields. */
const TOKEN_BODY_LIMIT = 8 * 1024;

function protectedResourceMetadata(urls: PublicUrls): OAuthProtectedResourceMetadata {
  return {
    resource: urls.resource,
    authorization_servers: [urls.origin],
    scopes_supported: [MCP_SCOPE],
    bearer_methods_supported: ['header'],
    resource_name: 'Anamnesis memory',
  };
}

function authorizationServerMetadata(urls: PublicUrls): OAuthMetadata & { client_id_metadata_document_supported: boolean } {
  return {
    issuer: urls.origin,
    authorization_endpoint: urls.authorize,
    token_endpoint: urls.token,
    registration_endpoint: urls.register,
    revocation_endpoint: urls.revoke,
    scopes_supported: [MCP_SCOPE],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_methods_supported: ['none'],
    revocation_endpoint_auth_methods_supported: ['none'],
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    client_id_metadata_document_supported: true,
  };
}

/** Clients in a browser (an MCP inspector) read these: no cookie is ever used here, so any origin may. */
async function allowAnyOrigin(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  reply.header('access-control-allow-origin', '*');
  if (request.method !== 'OPTIONS') return undefined;
  reply.header('access-control-allow-methods', 'GET, POST, OPTIONS');
  reply.header('access-control-allow-headers', 'authorization, content-type, mcp-protocol-version');
  reply.header('access-control-max-age', '600');
  // An async hook that answers early returns the reply, so the handler does not run.
  return reply.code(204).send();
}

/** Every error of the token, registration and revocation endpoints in the RFC shape, with our status and log rules. */
function oauthErrorAnswer(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  let oauth: OAuthError;
  let status = 400;
  if (error instanceof OAuthError) {
    oauth = error;
    if (error instanceof InvalidClientError) status = 401;
  } else {
    const answer = toErrorAnswer(error);
    status = answer.status;
    if (answer.retryAfter) reply.header('retry-after', String(answer.retryAfter));
    oauth = status === 429 ? new TooManyRequestsError(answer.body.error.message) : status >= 500 ? new ServerError('something went wrong on our side; nothing was changed') : new InvalidRequestError(answer.body.error.message);
    if (status >= 500) request.log.error({ route: request.routeOptions.url, ...describeErrorForLog(error) }, 'request failed');
  }
  request.errorCode = status === 429 ? 'rate_limited' : status >= 500 ? 'internal' : status === 401 ? 'unauthorized' : 'bad_request';
  reply.code(status).type('application/json').send(oauth.toResponseObject());
}

const tokenRequest = z.object({
  grant_type: z.string().max(64),
  client_id: z.string().min(1).max(2000),
  code: z.string().max(200).optional(),
  redirect_uri: z.string().max(2000).optional(),
  code_verifier: z.string().max(200).optional(),
  refresh_token: z.string().max(200).optional(),
  resource: z.string().max(2000).optional(),
  scope: z.string().max(200).optional(),
});

/** RFC 7636 section 4.1: 43 to 128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

function parseTokenRequest(body: unknown): z.infer<typeof tokenRequest> {
  const parsed = tokenRequest.safeParse(body);
  if (!parsed.success) throw new InvalidRequestError('the token request is missing a field or has one that is too long');
  return parsed.data;
}

const discovery = (allowedHosts: string[]): FastifyPluginAsync => async (app) => {
  app.addHook('onRequest', allowAnyOrigin);
  const resource = async (request: FastifyRequest) => protectedResourceMetadata(publicUrls(request, allowedHosts));
  const server = async (request: FastifyRequest) => authorizationServerMetadata(publicUrls(request, allowedHosts));
  const schema = { hide: true };
  for (const [url, handler] of [
    ['/.well-known/oauth-protected-resource', resource],
    ['/.well-known/oauth-protected-resource/mcp', resource],
    ['/.well-known/oauth-authorization-server', server],
    ['/.well-known/openid-configuration', server],
  ] as const) {
    app.route({ method: ['GET', 'HEAD', 'OPTIONS'], url, schema, handler });
  }
};

const endpoints = (services: Services, allowedHosts: string[]): FastifyPluginAsync => async (app: FastifyInstance) => {
  const { store, limiter, oauth } = services;
  // Token and revocation requests are forms: decoded strictly, like every form (400 invalid_request otherwise).
  registerStrictFormParser(app, TOKEN_BODY_LIMIT);
  app.addHook('onRequest', allowAnyOrigin);
  // The issuer must be one we answer to, as for /mcp.
  app.addHook('onRequest', async (request) => {
    publicUrls(request, allowedHosts);
  });
  app.setErrorHandler(oauthErrorAnswer);
  const schema = { hide: true };

  app.route({
    method: ['POST', 'OPTIONS'],
    url: '/oauth/register',
    bodyLimit: MAX_CLIENT_METADATA_BYTES,
    schema,
    handler: async (request, reply) => {
      await limiter.hit(LIMITS.oauthRegisterPerAddress, request.ip);
      const client = await registerClient(store, request.body, oauth);
      return reply.code(201).send(client);
    },
  });

  app.route({
    method: ['POST', 'OPTIONS'],
    url: '/oauth/token',
    bodyLimit: TOKEN_BODY_LIMIT,
    schema,
    handler: async (request) => {
      await limiter.hit(LIMITS.oauthTokenPerAddress, request.ip);
      const body = parseTokenRequest(request.body);
      if (body.grant_type !== 'authorization_code' && body.grant_type !== 'refresh_token') throw new UnsupportedGrantTypeError('only authorization_code and refresh_token are supported');
      if (!(await store.findOAuthClient(body.client_id))) throw new InvalidClientError('this client is not registered');
      if (body.grant_type === 'refresh_token') {
        if (!body.refresh_token) throw new InvalidRequestError('refresh_token is required');
        return refreshTokens(store, { refreshToken: body.refresh_token, clientId: body.client_id, scope: body.scope, resource: body.resource }, oauth);
      }
      if (!body.code || !body.code_verifier) throw new InvalidRequestError('code and code_verifier are required');
      if (!CODE_VERIFIER.test(body.code_verifier)) throw new InvalidRequestError('code_verifier must be 43 to 128 unreserved characters');
      return exchangeCode(store, { code: body.code, clientId: body.client_id, redirectUri: body.redirect_uri, codeVerifier: body.code_verifier, resource: body.resource }, oauth);
    },
  });

  app.route({
    method: ['POST', 'OPTIONS'],
    url: '/oauth/revoke',
    bodyLimit: TOKEN_BODY_LIMIT,
    schema,
    handler: async (request, reply) => {
      await limiter.hit(LIMITS.oauthTokenPerAddress, request.ip);
      const parsed = z.object({ token: z.string().min(1).max(200), token_type_hint: z.string().max(40).optional(), client_id: z.string().max(2000).optional() }).safeParse(request.body);
      if (!parsed.success) throw new InvalidRequestError('token is required');
      await revokeToken(store, parsed.data.token, parsed.data.client_id);
      return reply.code(200).send({});
    },
  });

  // Methods other than POST, in the same shape.
  for (const url of ['/oauth/register', '/oauth/token', '/oauth/revoke']) {
    app.route({
      method: ['GET', 'PUT', 'PATCH', 'DELETE'],
      url,
      schema,
      handler: async (_request, reply) => {
        reply.header('allow', 'POST');
        throw new AppError('method_not_allowed', 'use POST');
      },
    });
  }
};

export const oauthRoutes: FastifyPluginAsync<Services> = async (app, services) => {
  const allowedHosts = allowedHostsFor(services.config);
  await app.register(discovery(allowedHosts));
  await app.register(endpoints(services, allowedHosts));
};
