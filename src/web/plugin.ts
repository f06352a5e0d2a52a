// The web pages, served by the same process as the API: server-rendered with
// auto-escaping templates (html.ts), a strict Content-Security-Policy and no
// inline script; a little JavaScript (assets/app.js) only enhances forms that
// work without it. Registered from src/http/app.ts.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { registerStrictFormParser } from '../http/strict-input.ts';
import { type Assets, assetRoutes } from './assets.ts';
import { CONTENT_SECURITY_POLICY } from './content-security-policy.ts';
import { pageContext, sendHtml } from './render.ts';
import { errorView } from './views/error.ts';
import type { WebDeps } from './deps.ts';
import { htmlErrorHandler } from './errors.ts';
import { e2ePages } from './e2e/routes.ts';
import { accountPages } from './routes/account.ts';
import { authPages } from './routes/auth.ts';
import { dataPages } from './routes/data.ts';
import { graphPages } from './routes/graph.ts';
import { keyPages } from './routes/key.ts';
import { memoryPages } from './routes/memories.ts';
import { publicPages } from './routes/public.ts';
import { oauthPages } from './routes/oauth.ts';
import { sessionPages } from './routes/sessions.ts';
import { guardPage, resolveWebSession } from './session.ts';


/** Ordinary forms are small; the import form raises its own limit. */
const FORM_BODY_LIMIT = 256 * 1024;

function setPageSecurityHeaders(reply: FastifyReply): void {
  reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
  reply.header('referrer-policy', 'no-referrer');
  reply.header('x-frame-options', 'DENY');
}

async function pageSecurityHeaders(_request: FastifyRequest, reply: FastifyReply): Promise<void> {
  // The consent page sets its own policy, the same one with the client's origin as a form-action.
  const own = reply.getHeader('content-security-policy');
  setPageSecurityHeaders(reply);
  if (typeof own === 'string') reply.header('content-security-policy', own);
}

/** The page a browser gets for an address that does not exist (the app's not-found handler calls it). */
export function notFoundPage(assets: Assets) {
  return (request: FastifyRequest, reply: FastifyReply): void => {
    setPageSecurityHeaders(reply);
    sendHtml(reply, errorView(pageContext(request, assets), 404, 'There is no page at this address.'), 404);
  };
}

export const webPages: FastifyPluginAsync<WebDeps> = async (app, deps) => {
  await app.register(assetRoutes(deps.assets));

  // Pages in their own context: form bodies, session, guard, headers and HTML errors apply here only.
  await app.register(async (pages) => {
    registerStrictFormParser(pages, FORM_BODY_LIMIT);
    pages.addHook('onRequest', resolveWebSession(deps.store));
    pages.addHook('preValidation', guardPage);
    pages.addHook('onSend', pageSecurityHeaders);
    pages.setErrorHandler(htmlErrorHandler(deps.assets));
    for (const routes of [publicPages, authPages, memoryPages, graphPages, dataPages, keyPages, sessionPages, oauthPages, accountPages, e2ePages]) {
      await pages.register(routes, deps);
    }
  });
};
