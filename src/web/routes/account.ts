// Account deletion and the lost-key start-over: both re-ask the password and
// work from a locked session too (a user who lost the key cannot unlock).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { clearSessionCookie } from '../../http/cookies.ts';
import { LIMITS } from '../../http/rate-limit.ts';
import { password } from '../../http/schemas.ts';
import type { WebDeps } from '../deps.ts';
import { withFormErrors } from '../errors.ts';
import { pageContext, sendHtml } from '../render.ts';
import { sessionOf } from '../session.ts';
import { accountDeletedView, accountView } from '../views/account.ts';
import { newKeyView } from '../views/auth.ts';

export const accountPages: FastifyPluginAsyncZod<WebDeps> = async (app, { store, accounts, limiter, assets }) => {
  const config = { need: 'session' as const };
  const hide = true;
  const refused = (request: Parameters<typeof pageContext>[0]) => (message: string) => accountView(pageContext(request, assets), { kind: 'error', text: message });

  app.get('/app/account', { schema: { hide }, config }, async (request, reply) => sendHtml(reply, accountView(pageContext(request, assets))));

  app.post('/app/account/delete', { schema: { hide, body: z.object({ password }) }, config }, async (request, reply) =>
    withFormErrors(reply, async () => {
      const auth = sessionOf(request);
      await limiter.hit(LIMITS.passwordCheckPerAccount, auth.user.id);
      await accounts.deleteAccount(auth.user, request.body.password);
      clearSessionCookie(reply);
      request.auth = null;
      return sendHtml(reply, accountDeletedView(pageContext(request, assets)));
    }, refused(request)));

  app.post('/app/account/start-over', { schema: { hide, body: z.object({ password, confirm: z.string().max(100) }) }, config }, async (request, reply) =>
    withFormErrors(reply, async () => {
      const auth = sessionOf(request);
      await limiter.hit(LIMITS.passwordCheckPerAccount, auth.user.id);
      const { apiKey, vault, deleted } = await accounts.startOverWithNewKey(auth.user, { password: request.body.password, confirm: request.body.confirm.trim() });
      await store.setSessionWrappedKey(auth.session.id, vault.wrapFor(auth.sessionToken));
      request.auth = { ...auth, vault };
      return sendHtml(reply, newKeyView(pageContext(request, assets), {
        title: 'Your new API key',
        apiKey,
        intro: `You have started over: ${deleted} record(s) that only the lost key could decrypt were deleted.`,
      }));
    }, refused(request)));
};
