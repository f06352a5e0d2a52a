// Sign-up, log-in, unlock and log-out as plain HTML forms, over the same
// Accounts and sessions code as the JSON API, with the same rate limits.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { normaliseEmail } from '../../accounts/accounts.ts';
import { sessionLabel, startSession } from '../../accounts/sessions.ts';
import { clearSessionCookie, setSessionCookie } from '../../http/cookies.ts';
import { LIMITS } from '../../http/rate-limit.ts';
import { apiKey, email, password } from '../../http/schemas.ts';
import type { WebDeps } from '../deps.ts';
import { withFormErrors } from '../errors.ts';
import { pageContext, sendHtml } from '../render.ts';
import { sessionOf } from '../session.ts';
import { loginView, signupDoneView, signupView, unlockView, withNext } from '../views/auth.ts';

const credentials = z.object({ email, password });
/** Where to go after logging in and unlocking: a path on this site only (an OAuth consent request, say). */
const next = z.string().max(4096).optional().transform((path) => (path && /^\/(?![/\\])[^\s]*$/.test(path) ? path : undefined));
const NOTICES: Record<string, string> = { 'logged-out': 'You are logged out.', 'session-revoked': 'This browser\'s session is revoked.' };

export const authPages: FastifyPluginAsyncZod<WebDeps> = async (app, { store, accounts, limiter, assets }) => {
  const hide = true;

  app.get('/signup', { schema: { hide } }, async (request, reply) => sendHtml(reply, signupView(pageContext(request, assets))));

  app.post('/signup', { schema: { hide, body: credentials } }, async (request, reply) =>
    withFormErrors(reply, async () => {
      await limiter.hit(LIMITS.signupPerAddress, request.ip);
      const { user, apiKey: key, vault } = await accounts.signUp(request.body);
      const { token, session } = await startSession(store, user.id, sessionLabel(request.headers['user-agent']), vault);
      setSessionCookie(reply, token);
      request.auth = { user, vault, via: 'session', session, sessionToken: token };
      return sendHtml(reply, signupDoneView(pageContext(request, assets), key));
    }, (error) => signupView(pageContext(request, assets), { email: request.body.email, error })));

  app.get('/login', { schema: { hide, querystring: z.object({ done: z.string().max(40).optional(), next }) } }, async (request, reply) => {
    const notice = NOTICES[request.query.done ?? ''];
    return sendHtml(reply, loginView(pageContext(request, assets), { ...(notice ? { notice } : {}), next: request.query.next }));
  });

  app.post('/login', { schema: { hide, body: credentials, querystring: z.object({ next }) } }, async (request, reply) =>
    withFormErrors(reply, async () => {
      await limiter.hit(LIMITS.loginPerAddress, request.ip);
      await limiter.hit(LIMITS.loginPerAccount, normaliseEmail(request.body.email));
      const user = await accounts.logIn(request.body);
      // A new session on every log-in; it starts locked: only the API key opens the memory.
      const { token } = await startSession(store, user.id, sessionLabel(request.headers['user-agent']), null);
      setSessionCookie(reply, token);
      return reply.redirect(withNext('/unlock', request.query.next), 303);
    }, (error) => loginView(pageContext(request, assets), { email: request.body.email, error, next: request.query.next })));

  app.get('/unlock', { schema: { hide, querystring: z.object({ next }) }, config: { need: 'session' } }, async (request, reply) => {
    if (request.auth?.vault) return reply.redirect(request.query.next ?? '/app', 303);
    return sendHtml(reply, unlockView(pageContext(request, assets), { next: request.query.next }));
  });

  app.post('/unlock', { schema: { hide, body: z.object({ api_key: apiKey }), querystring: z.object({ next }) }, config: { need: 'session' } }, async (request, reply) =>
    withFormErrors(reply, async () => {
      const auth = sessionOf(request);
      await limiter.hit(LIMITS.unlockPerAddress, request.ip);
      await limiter.hit(LIMITS.unlockPerAccount, auth.user.id);
      const vault = await accounts.unlock(auth.user, request.body.api_key.trim());
      await store.setSessionWrappedKey(auth.session.id, vault.wrapFor(auth.sessionToken));
      return reply.redirect(request.query.next ?? '/app', 303);
    }, (error) => unlockView(pageContext(request, assets), { error, next: request.query.next })));

  app.post('/logout', { schema: { hide }, config: { need: 'session' } }, async (request, reply) => {
    const auth = sessionOf(request);
    await store.deleteSession(auth.user.id, auth.session.id);
    clearSessionCookie(reply);
    return reply.redirect('/login?done=logged-out', 303);
  });
};
