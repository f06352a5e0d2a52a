// Logging in to an end-to-end account with OPAQUE: the client proves it
// knows the password without sending it; the server answers with a session
// token and K wrapped under a key only that password's OPAQUE run yields.
// An unknown email (or a server-key account's) gets an answer of the same
// shape from OPAQUE's fake record, and fails at the second message alike.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { normaliseEmail } from '../accounts/accounts.ts';
import { AppError } from '../errors.ts';
import { LIMITS } from '../http/rate-limit.ts';
import { email } from '../http/schemas.ts';
import type { Services } from '../http/services.ts';
import type { E2EServices } from './plugin.ts';
import { E2E_BEARER, e2eErrors, label, opaqueMessage, PUBLIC, stepId } from './schemas.ts';
import { e2eAuthOf, requireE2ESession } from './auth.ts';
import { audit, e2eAccountByEmail, newStepId, NO_ACCOUNT, startE2ESession, STEP_TTL_MS, stepHash } from './sessions.ts';

const invalidCredentials = () => new AppError('invalid_credentials', 'the email or password is not right');

export const loginRoutes: FastifyPluginAsyncZod<E2EServices> = async (app, { store, limiter, opaque, sweep }) => {
  app.post('/api/v1/e2e/sessions/start', {
    schema: {
      ...PUBLIC,
      body: z.strictObject({ email, start_login_request: opaqueMessage }),
      response: { 200: z.object({ login_id: z.string(), login_response: z.string() }), ...e2eErrors },
    },
  }, async (request) => {
    const address = normaliseEmail(request.body.email);
    await limiter.hit(LIMITS.loginPerAddress, request.ip);
    await limiter.hit(LIMITS.loginPerAccount, address);
    await sweep();
    const account = await e2eAccountByEmail(store, address);
    // The fake record is derived from the identifier: the same email always gets the same fake.
    const identifier = account ? account.userId : `unknown:${address}`;
    const started = opaque.startLogin(identifier, account?.registrationRecord ?? null, request.body.start_login_request);
    const step = newStepId();
    await store.createE2EPending({ idHash: step.idHash, kind: 'login', userId: account?.userId ?? null, newUserId: null, email: null, state: started.state, expiresAt: Date.now() + STEP_TTL_MS });
    return { login_id: step.id, login_response: started.response };
  });

  app.post('/api/v1/e2e/sessions/finish', {
    schema: {
      ...PUBLIC,
      body: z.strictObject({ login_id: stepId, finish_login_request: opaqueMessage, label: label.optional() }),
      response: { 200: z.object({ user_id: z.string(), token: z.string(), password_wrap: z.string() }), ...e2eErrors },
    },
  }, async (request) => {
    const step = await store.takeE2EPending(stepHash(request.body.login_id), 'login', Date.now());
    if (!step?.state) throw invalidCredentials();
    const proved = opaque.finishLogin(step.state, request.body.finish_login_request);
    const account = await store.findE2EAccount(step.userId ?? NO_ACCOUNT);
    if (!proved || !account) {
      // As the classic log-in: a denied attempt on an unknown email is audited without a user.
      await audit(store, account?.userId ?? null, 'e2e.session.login', 'denied');
      throw invalidCredentials();
    }
    const token = await startE2ESession(store, account.userId, request.body.label);
    await audit(store, account.userId, 'e2e.session.login', 'ok');
    return { user_id: account.userId, token, password_wrap: account.passwordWrap };
  });
};

/** Ending the session the request is made with. */
export const logoutRoute: FastifyPluginAsyncZod<Services> = async (app, { store }) => {
  app.addHook('onRequest', requireE2ESession(store));
  app.delete('/api/v1/e2e/sessions/current', {
    schema: { ...E2E_BEARER, response: { 204: z.null(), ...e2eErrors } },
  }, async (request, reply) => {
    const { user, session } = e2eAuthOf(request);
    await store.deleteE2ESession(user.id, session.id);
    return reply.code(204).send(null);
  });
};
