// The end-to-end client's pages and its published release. Each page is a
// shell for the bundle, sent with the policy that also lets the OPAQUE
// WebAssembly compile; the switch page lives in the unlocked dashboard,
// because the browser reads the account's records through that session.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Html } from '../html.ts';
import { E2E_CONTENT_SECURITY_POLICY } from '../content-security-policy.ts';
import type { WebDeps } from '../deps.ts';
import { pageContext, sendHtml } from '../render.ts';
import type { PageContext } from '../views/layout.ts';
import { BUNDLE_NAME } from './bundle.ts';
import { webRelease } from './release.ts';
import { e2eAppView, e2eGraphView, e2eLoginView, e2eRecoverView, e2eSignupView, e2eSwitchView } from './views.ts';

export const e2ePages: FastifyPluginAsync<WebDeps> = async (app, { assets }) => {
  const release = await webRelease();

  const page = (view: (ctx: PageContext) => Html) => async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('content-security-policy', E2E_CONTENT_SECURITY_POLICY);
    return sendHtml(reply, view(pageContext(request, assets, BUNDLE_NAME)));
  };

  app.get('/e2e/signup', { schema: { hide: true } }, page(e2eSignupView));
  app.get('/e2e/login', { schema: { hide: true } }, page(e2eLoginView));
  app.get('/e2e/recover', { schema: { hide: true } }, page(e2eRecoverView));
  app.get('/e2e/app', { schema: { hide: true } }, page(e2eAppView));
  app.get('/e2e/graph', { schema: { hide: true } }, page(e2eGraphView));
  app.get('/app/e2e-switch', { schema: { hide: true }, config: { need: 'unlocked' } }, page(e2eSwitchView));

  app.get('/security/web-release.json', { schema: { hide: true } }, async (_request, reply) => reply.type('application/json; charset=utf-8').send(JSON.stringify(release, null, 2)));
};
