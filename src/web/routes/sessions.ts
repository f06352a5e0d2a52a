// The user's browser sessions, each revocable (which deletes its wrapped key).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../../errors.ts';
import { clearSessionCookie } from '../../http/cookies.ts';
import type { WebDeps } from '../deps.ts';
import { pageContext, sendHtml } from '../render.ts';
import { sessionOf } from '../session.ts';
import { sessionsView } from '../views/sessions.ts';

export const sessionPages: FastifyPluginAsyncZod<WebDeps> = async (app, { store, assets }) => {
  const config = { need: 'session' as const };

  app.get('/app/sessions', { schema: { hide: true, querystring: z.object({ done: z.string().max(20).optional() }) }, config }, async (request, reply) => {
    const auth = sessionOf(request);
    const sessions = await store.listSessions(auth.user.id);
    const notice = request.query.done === 'revoked' ? { kind: 'ok' as const, text: 'Session revoked.' } : undefined;
    return sendHtml(reply, sessionsView(pageContext(request, assets), sessions, auth.session.id, notice));
  });

  app.post('/app/sessions/:id/revoke', { schema: { hide: true, params: z.object({ id: z.uuid() }) }, config }, async (request, reply) => {
    const auth = sessionOf(request);
    if (!(await store.deleteSession(auth.user.id, request.params.id))) throw notFound('session');
    if (request.params.id !== auth.session.id) return reply.redirect('/app/sessions?done=revoked', 303);
    clearSessionCookie(reply);
    return reply.redirect('/login?done=session-revoked', 303);
  });
};
