// The homepage and the security page: public, read-only.
import type { FastifyPluginAsync } from 'fastify';
import type { WebDeps } from '../deps.ts';
import { webRelease } from '../e2e/release.ts';
import { pageContext, sendHtml } from '../render.ts';
import { runtimeVersions } from '../runtime-versions.ts';
import { homeView } from '../views/home.ts';
import { securityView } from '../views/security.ts';

export const publicPages: FastifyPluginAsync<WebDeps> = async (app, { assets }) => {
  const versions = runtimeVersions();
  const release = await webRelease();

  app.get('/', { schema: { hide: true } }, async (request, reply) =>
    sendHtml(reply, homeView(pageContext(request, assets), `${request.protocol}://${request.host}`)));

  app.get('/security', { schema: { hide: true } }, async (request, reply) => sendHtml(reply, securityView(pageContext(request, assets), versions, release)));
};
