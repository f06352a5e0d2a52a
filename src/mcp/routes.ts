// /mcp over Streamable HTTP, stateless: each POST is answered by an MCP
// server lent to it alone, working on the request's Vault, which is dropped
// with the response (server-pool.ts says how requests stay apart). Only a
// Bearer credential authenticates here (no cookies, so no CSRF surface): an
// API key, or an OAuth access token minted for this very /mcp (RFC 8707
// audience), after the Host and Origin checks that stop DNS rebinding. Every
// 401 points at the protected-resource metadata (RFC 9728), which is how
// connectors discover the OAuth flow. GET (the server-sent event stream) and
// DELETE (session end) have no meaning without sessions: 405. Every other
// /.well-known/* path answers JSON, because MCP clients probe several.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { authenticateApiKey } from '../accounts/authenticate.ts';
import { AppError, unauthorized } from '../errors.ts';
import { type Auth, BEARER_CHALLENGE, bearerCredential, refuseE2EToken, vaultOf } from '../http/auth.ts';
import { isApiKey } from '../crypto/keys.ts';
import { publicUrls, type PublicUrls } from '../oauth/origin.ts';
import { resolveAccessToken } from '../oauth/tokens.ts';
import { errorBody } from '../http/errors.ts';
import type { Services } from '../http/services.ts';
import type { Store } from '../storage/store.ts';
import { allowedHostsFor, isAllowedHost, isAllowedOrigin } from './host-check.ts';
import { McpServerPool } from './server-pool.ts';

/** Tool calls carry whole entity lists; bounded like every body. */
export const MCP_BODY_LIMIT = 4 * 1024 * 1024;

function rejectForeignHosts(allowedHosts: string[]) {
  return async (request: FastifyRequest): Promise<void> => {
    if (!isAllowedHost(request.host, allowedHosts)) {
      throw new AppError('forbidden', 'this server does not answer to that Host name (see ANAMNESIS_ALLOWED_HOSTS)');
    }
    if (!isAllowedOrigin(request.headers.origin, `${request.protocol}://${request.host}`, allowedHosts)) {
      throw new AppError('forbidden', 'requests from this Origin are not accepted');
    }
  };
}

/** An API key exactly as before, or an OAuth access token whose grant names this server's /mcp. */
async function authenticateBearer(store: Store, credential: string, urls: PublicUrls): Promise<Auth | null> {
  if (isApiKey(credential)) {
    const found = await authenticateApiKey(store, credential);
    return found && { ...found, via: 'api-key' };
  }
  const resolved = await resolveAccessToken(store, credential, urls.resource);
  return resolved && { user: resolved.user, vault: resolved.vault, via: 'oauth' };
}

function requireBearer(store: Store, allowedHosts: string[]) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const urls = publicUrls(request, allowedHosts);
    const credential = bearerCredential(request);
    const auth = credential ? await authenticateBearer(store, credential, urls) : null;
    if (!auth && credential) await refuseE2EToken(store, credential);
    if (!auth) {
      const invalid = credential === undefined ? '' : ', error="invalid_token"';
      reply.header('www-authenticate', `${BEARER_CHALLENGE}, resource_metadata="${urls.resourceMetadata}"${invalid}`);
      throw unauthorized(credential === undefined ? 'an API key (Authorization: Bearer anm_…) or an OAuth access token is required' : 'the API key or access token is not valid');
    }
    request.auth = auth;
  };
}

/**
 * The headers the SDK's stateless transport reads (content negotiation and
 * the protocol version); the tools read none. Only these are handed on: the
 * credential stays out of the request info the SDK gives every handler.
 */
const HEADERS_FOR_THE_TRANSPORT = ['accept', 'content-type', 'mcp-protocol-version'];

/** The Fastify request as the web-standard Request the SDK's transport reads (its body is already parsed). */
function webRequestOf(request: FastifyRequest): Request {
  const headers: Record<string, string> = {};
  for (const name of HEADERS_FOR_THE_TRANSPORT) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  return new Request(`${request.protocol}://${request.host}${request.url}`, { method: request.method, headers });
}

function serveMcp(servers: McpServerPool) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const answer = await servers.answer(webRequestOf(request), request.body, { operations: vaultOf(request), log: request.log });
    reply.code(answer.status);
    answer.headers.forEach((value, name) => {
      reply.header(name, value);
    });
    await reply.send(answer.body === '' ? null : answer.body);
  };
}

const mcpEndpoint: FastifyPluginAsync<Services> = async (app, { config, store }) => {
  const allowedHosts = allowedHostsFor(config);
  app.addHook('onRequest', rejectForeignHosts(allowedHosts));
  app.addHook('onRequest', requireBearer(store, allowedHosts));

  app.post('/mcp', { bodyLimit: MCP_BODY_LIMIT, schema: { hide: true } }, serveMcp(new McpServerPool()));

  app.route({
    method: ['GET', 'DELETE', 'PUT', 'PATCH'],
    url: '/mcp',
    schema: { hide: true },
    handler: async (_request, reply) => {
      reply.header('allow', 'POST');
      throw new AppError('method_not_allowed', 'this MCP endpoint is stateless: send JSON-RPC messages with POST');
    },
  });
};

const wellKnown: FastifyPluginAsync = async (app) => {
  app.all('/.well-known/*', { schema: { hide: true } }, async (_request, reply) => {
    reply.code(404).type('application/json').send(errorBody('not_found', 'no such document here: see /.well-known/oauth-protected-resource/mcp'));
  });
};

export const mcpRoutes: FastifyPluginAsync<Services> = async (app, services) => {
  await app.register(mcpEndpoint, services);
  await app.register(wellKnown);
};
