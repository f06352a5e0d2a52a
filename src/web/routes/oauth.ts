// The OAuth consent page (GET and POST /oauth/authorize) and the list of
// connected apps. Consent needs an unlocked session: approving wraps the
// session's K under the new authorization code (src/oauth/tokens.ts), so the
// user is sent to log in and unlock first, and then back here.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../../errors.ts';
import { LIMITS } from '../../http/rate-limit.ts';
import { allowedHostsFor } from '../../mcp/host-check.ts';
import { type AuthorizationCheck, type AuthorizationParams, checkAuthorization, redirectWith } from '../../oauth/authorize.ts';
import { redirectHost } from '../../oauth/clients.ts';
import { publicUrls } from '../../oauth/origin.ts';
import { issueCode } from '../../oauth/tokens.ts';
import type { WebDeps } from '../deps.ts';
import { pageContext, sendHtml } from '../render.ts';
import { sessionOf, unlockedVault } from '../session.ts';
import { authorizationErrorView, connectionsView, consentView } from '../views/oauth.ts';
import { policyWithFormTarget } from '../content-security-policy.ts';

const field = (max: number) => z.string().max(max).optional();
const authorizationParams = z.object({
  client_id: field(2000),
  redirect_uri: field(2000),
  response_type: field(40),
  code_challenge: field(200),
  code_challenge_method: field(40),
  scope: field(200),
  state: field(1000),
  resource: field(2000),
});

/**
 * The consent form's answer is a redirect to the client, and browsers hold
 * that redirect to the page's form-action: allow the client's own origin
 * (or, for a native app, its scheme) on this page only.
 */
function consentPolicy(redirectUri: string): string {
  const url = new URL(redirectUri);
  const target = url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
  return policyWithFormTarget(target);
}

export const oauthPages: FastifyPluginAsyncZod<WebDeps> = async (app, { store, limiter, assets, config, oauth }) => {
  const hide = true;
  const allowedHosts = allowedHostsFor(config);

  async function check(params: AuthorizationParams, request: FastifyRequest): Promise<AuthorizationCheck> {
    await limiter.hit(LIMITS.oauthAuthorizePerAddress, request.ip);
    return checkAuthorization(store, params, publicUrls(request, allowedHosts), oauth);
  }

  /** Errors about the client or its redirect URI stay on our page; the others go back to the client. */
  function answerFailure(reply: FastifyReply, checked: Exclude<AuthorizationCheck, { outcome: 'ask' }>, ctx: Parameters<typeof authorizationErrorView>[0]): FastifyReply {
    if (checked.outcome === 'redirect-error') return reply.redirect(checked.location, 302);
    return sendHtml(reply, authorizationErrorView(ctx, checked.message), 400);
  }

  app.get('/oauth/authorize', { schema: { hide, querystring: authorizationParams } }, async (request, reply) => {
    const checked = await check(request.query, request);
    if (checked.outcome !== 'ask') return answerFailure(reply, checked, pageContext(request, assets));
    const here = encodeURIComponent(request.url);
    if (!request.auth?.sessionToken) return reply.redirect(`/login?next=${here}`, 303);
    if (!request.auth.vault) return reply.redirect(`/unlock?next=${here}`, 303);
    reply.header('content-security-policy', consentPolicy(checked.request.redirectUri));
    return sendHtml(reply, consentView(pageContext(request, assets), { clientName: checked.client.name, redirectHost: redirectHost(checked.request.redirectUri), params: request.query }));
  });

  app.post('/oauth/authorize', {
    schema: { hide, body: authorizationParams.extend({ decision: z.enum(['approve', 'deny']), _csrf: z.string().max(200) }) },
    config: { need: 'unlocked' },
  }, async (request, reply) => {
    const urls = publicUrls(request, allowedHosts);
    // Hidden fields are the user's browser talking: every check runs again.
    const checked = await check(request.body, request);
    if (checked.outcome !== 'ask') return answerFailure(reply, checked, pageContext(request, assets));
    const user = sessionOf(request).user;
    if (request.body.decision === 'deny') {
      await store.appendAudit({ userId: user.id, action: 'oauth.consent', outcome: 'denied', at: Date.now() });
      return reply.redirect(redirectWith(checked.request.redirectUri, { error: 'access_denied', error_description: 'the user denied the request', state: checked.state, iss: urls.origin }), 302);
    }
    const code = await issueCode(store, unlockedVault(request), checked.request, oauth);
    await store.appendAudit({ userId: user.id, action: 'oauth.consent', outcome: 'ok', at: Date.now() });
    return reply.redirect(redirectWith(checked.request.redirectUri, { code, state: checked.state, iss: urls.origin }), 302);
  });

  const signedIn = { need: 'session' as const };

  app.get('/app/connections', { schema: { hide, querystring: z.object({ done: z.string().max(20).optional() }) }, config: signedIn }, async (request, reply) => {
    const grants = await store.listOAuthGrants(sessionOf(request).user.id);
    const notice = request.query.done === 'disconnected' ? { kind: 'ok' as const, text: 'Disconnected: its tokens no longer work.' } : undefined;
    return sendHtml(reply, connectionsView(pageContext(request, assets), grants, redirectHost, notice));
  });

  app.post('/app/connections/:id/disconnect', { schema: { hide, params: z.object({ id: z.uuid() }) }, config: signedIn }, async (request, reply) => {
    const user = sessionOf(request).user;
    if (!(await store.deleteOAuthGrant(user.id, request.params.id))) throw notFound('connected app');
    await store.appendAudit({ userId: user.id, action: 'oauth.disconnect', outcome: 'ok', at: Date.now() });
    return reply.redirect('/app/connections?done=disconnected', 303);
  });
};
