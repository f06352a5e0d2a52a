// Turning a request and a view into an HTML answer.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Assets } from './assets.ts';
import { csrfTokenFor } from './csrf-token.ts';
import type { Html } from './html.ts';
import type { PageContext } from './views/layout.ts';

/** `script` is app.js, or the end-to-end client's bundle on that client's pages. */
export function pageContext(request: FastifyRequest, assets: Assets, script = 'app.js'): PageContext {
  const auth = request.auth;
  return {
    path: (request.url.split('?')[0] ?? '/').replace(/(.)\/$/, '$1'),
    email: auth?.user.email ?? null,
    unlocked: Boolean(auth?.vault),
    csrf: auth?.sessionToken ? csrfTokenFor(auth.sessionToken) : null,
    styles: assets.url('app.css'),
    script: assets.url(script),
    scriptIntegrity: assets.integrity(script),
    icon: assets.url('icon.svg'),
  };
}

export function sendHtml(reply: FastifyReply, page: Html, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page.value);
}
