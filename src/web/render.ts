// Turning a request and a view into an HTML answer.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Assets } from './assets.ts';
import { csrfTokenFor } from './csrf-token.ts';
import type { Html } from './html.ts';
import type { PageContext } from './views/layout.ts';

export function pageContext(request: FastifyRequest, assets: Assets): PageContext {
  const auth = request.auth;
  return {
    path: (request.url.split('?')[0] ?? '/').replace(/(.)\/$/, '$1'),
    email: auth?.user.email ?? null,
    unlocked: Boolean(auth?.vault),
    csrf: auth?.sessionToken ? csrfTokenFor(auth.sessionToken) : null,
    styles: assets.url('app.css'),
    script: assets.url('app.js'),
    icon: assets.url('icon.svg'),
  };
}

export function sendHtml(reply: FastifyReply, page: Html, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page.value);
}
