// Builds the whole service as one Fastify instance: JSON API, and (from their
// own folders) MCP and web pages. server.ts only listens; tests call
// `app.inject` on what this returns.
import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { Accounts } from '../accounts/accounts.ts';
import type { Config } from '../config.ts';
import type {} from '../e2e/auth.ts';
import { e2eRoutes } from '../e2e/plugin.ts';
import { mcpRoutes } from '../mcp/routes.ts';
import { oauthRoutes } from '../oauth/routes.ts';
import { DEFAULT_OAUTH_SETTINGS, type OAuthSettings } from '../oauth/settings.ts';
import type { Store } from '../storage/store.ts';
import { Assets } from '../web/assets.ts';
import { BUNDLE_NAME, browserBundle } from '../web/e2e/bundle.ts';
import { notFoundPage, webPages } from '../web/plugin.ts';
import { refuseRequestsWhileClosing } from './closing.ts';
import { errorBody, registerErrorHandling, sendError } from './errors.ts';
import { RateLimiter } from './rate-limit.ts';
import { registerStrictDecoding } from './strict-input.ts';
import { publicAccountRoutes, sessionAccountRoutes, vaultAccountRoutes } from './routes/accounts.ts';
import { confirmRotationRoute, rotateRoute } from './routes/keys.ts';
import { memoryRoutes } from './routes/memories.ts';
import { IMPORT_BODY_LIMIT, transferRoutes } from './routes/transfer.ts';
import type { Services } from './services.ts';

/** Every body is bounded; import raises its own limit on its route. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export interface AppOptions {
  config: Config;
  store: Store;
  logger: Logger;
  /** OAuth lifetimes (tests shorten them) and the test-only loopback switch; defaults otherwise. */
  oauth?: Partial<OAuthSettings>;
}

export async function buildApp({ config, store, logger, oauth }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Fastify's own request lines would carry the URL (and a search query in it); ours are written below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: DEFAULT_BODY_LIMIT,
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
    // Requests that arrive while closing are refused in our shape (./closing.ts).
    return503OnClosing: false,
    frameworkErrors: sendError,
    // A request Node's HTTP parser cannot read never reaches a route: answer it in our error shape too.
    clientErrorHandler: (_error, socket) => {
      if (!socket.writable) return;
      const body = JSON.stringify(errorBody('bad_request', 'the request could not be read'));
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
    routerOptions: { ignoreTrailingSlash: true },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('auth', null);
  const assets = new Assets();
  assets.add(BUNDLE_NAME, (await browserBundle()).body);
  registerErrorHandling(app, notFoundPage(assets));
  refuseRequestsWhileClosing(app);
  await app.register(fastifyCookie);

  // Bodies, import files (raw text, parsed by the route, which reports bad lines by number), the
  // query string and the headers read as data: strict UTF-8, or 400 before any route runs.
  registerStrictDecoding(app, { importBodyLimit: IMPORT_BODY_LIMIT, trustsProxy: config.trustProxy.length > 0 });

  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    // Answers carry decrypted memories: no cache anywhere may keep them.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });

  // One metadata-only line per request: route pattern (never the URL, whose query may hold search text).
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        ...(request.auth ? { user_id: request.auth.user.id } : request.e2e ? { user_id: request.e2e.user.id } : {}),
        ...(request.errorCode ? { error_code: request.errorCode } : {}),
      },
      'request',
    );
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Anamnesis API', version: '1.0.0', description: 'Encrypted long-term memory. See docs/ for the key hierarchy and threat model.' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'anm_… API key' }, session: { type: 'apiKey', in: 'cookie', name: 'anamnesis_session' }, e2eSession: { type: 'http', scheme: 'bearer', description: 'ane_… end-to-end session token' } } },
      security: [{ apiKey: [] }, { session: [] }],
    },
    transform: jsonSchemaTransform,
  });

  const services: Services = { config, store, accounts: new Accounts(store), limiter: new RateLimiter(store, config.rateLimitFactor), oauth: { ...DEFAULT_OAUTH_SETTINGS, ...oauth } };

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(publicAccountRoutes, services);
  await app.register(sessionAccountRoutes, services);
  await app.register(vaultAccountRoutes, services);
  await app.register(rotateRoute, services);
  await app.register(confirmRotationRoute, services);
  await app.register(memoryRoutes, services);
  await app.register(transferRoutes, services);
  await app.register(oauthRoutes, services);
  await app.register(mcpRoutes, services);
  await app.register(e2eRoutes, services);
  await app.register(webPages, { ...services, assets });

  return app;
}
