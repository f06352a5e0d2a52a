// Sign-up, log-in, unlock, log-out, sessions, account deletion.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { normaliseEmail } from '../../accounts/accounts.ts';
import { sessionLabel, startSession } from '../../accounts/sessions.ts';
import { notFound } from '../../errors.ts';
import { authOf, requireSession, requireVault } from '../auth.ts';
import { clearSessionCookie, setSessionCookie } from '../cookies.ts';
import { LIMITS } from '../rate-limit.ts';
import { apiKey, email, errorSchema, password } from '../schemas.ts';
import type { Services } from '../services.ts';

const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema, 429: errorSchema };
const credentials = z.strictObject({ email, password });

export const publicAccountRoutes: FastifyPluginAsyncZod<Services> = async (app, { store, accounts, limiter }) => {
  app.post('/api/v1/accounts', {
    schema: { tags: ['accounts'], body: credentials, response: { 201: z.object({ user_id: z.string(), api_key: z.string() }), ...errors } },
  }, async (request, reply) => {
    await limiter.hit(LIMITS.signupPerAddress, request.ip);
    const { user, apiKey: key, vault } = await accounts.signUp(request.body);
    const { token } = await startSession(store, user.id, sessionLabel(request.headers['user-agent']), vault);
    setSessionCookie(reply, token);
    return reply.code(201).send({ user_id: user.id, api_key: key });
  });

  app.post('/api/v1/sessions', {
    schema: { tags: ['sessions'], body: credentials, response: { 200: z.object({ user_id: z.string(), unlocked: z.boolean() }), ...errors } },
  }, async (request, reply) => {
    await limiter.hit(LIMITS.loginPerAddress, request.ip);
    await limiter.hit(LIMITS.loginPerAccount, normaliseEmail(request.body.email));
    const user = await accounts.logIn(request.body);
    const { token } = await startSession(store, user.id, sessionLabel(request.headers['user-agent']), null);
    setSessionCookie(reply, token);
    return { user_id: user.id, unlocked: false };
  });
};

export const sessionAccountRoutes: FastifyPluginAsyncZod<Services> = async (app, { store, accounts, limiter }) => {
  app.addHook('onRequest', requireSession(store));

  app.post('/api/v1/sessions/unlock', {
    schema: { tags: ['sessions'], body: z.strictObject({ api_key: apiKey }), response: { 200: z.object({ unlocked: z.literal(true) }), ...errors } },
  }, async (request) => {
    const auth = authOf(request);
    await limiter.hit(LIMITS.unlockPerAddress, request.ip);
    await limiter.hit(LIMITS.unlockPerAccount, auth.user.id);
    const vault = await accounts.unlock(auth.user, request.body.api_key);
    await store.setSessionWrappedKey(auth.session!.id, vault.wrapFor(auth.sessionToken!));
    return { unlocked: true as const };
  });

  app.delete('/api/v1/sessions/current', {
    schema: { tags: ['sessions'], response: { 204: z.null(), ...errors } },
  }, async (request, reply) => {
    const auth = authOf(request);
    await store.deleteSession(auth.user.id, auth.session!.id);
    clearSessionCookie(reply);
    return reply.code(204).send(null);
  });

  app.get('/api/v1/sessions', {
    schema: {
      tags: ['sessions'],
      response: {
        200: z.object({ sessions: z.array(z.object({ id: z.string(), label: z.string(), created_at: z.string(), last_seen_at: z.string(), expires_at: z.string(), unlocked: z.boolean(), current: z.boolean() })) }),
        ...errors,
      },
    },
  }, async (request) => {
    const auth = authOf(request);
    const sessions = await store.listSessions(auth.user.id);
    return {
      sessions: sessions.map((s) => ({
        id: s.id,
        label: s.label,
        created_at: new Date(s.createdAt).toISOString(),
        last_seen_at: new Date(s.lastSeenAt).toISOString(),
        expires_at: new Date(s.expiresAt).toISOString(),
        unlocked: s.wrappedKey !== null,
        current: s.id === auth.session!.id,
      })),
    };
  });

  app.delete('/api/v1/sessions/:id', {
    schema: { tags: ['sessions'], params: z.strictObject({ id: z.uuid() }), response: { 204: z.null(), ...errors } },
  }, async (request, reply) => {
    const auth = authOf(request);
    if (!(await store.deleteSession(auth.user.id, request.params.id))) throw notFound('session');
    if (request.params.id === auth.session!.id) clearSessionCookie(reply);
    return reply.code(204).send(null);
  });

  app.delete('/api/v1/accounts/current', {
    schema: { tags: ['accounts'], body: z.strictObject({ password }), response: { 204: z.null(), ...errors } },
  }, async (request, reply) => {
    const auth = authOf(request);
    await limiter.hit(LIMITS.passwordCheckPerAccount, auth.user.id);
    await accounts.deleteAccount(auth.user, request.body.password);
    clearSessionCookie(reply);
    return reply.code(204).send(null);
  });

  app.post('/api/v1/keys/reset', {
    schema: {
      tags: ['keys'],
      body: z.strictObject({ password, confirm: z.string().max(100) }),
      response: { 200: z.object({ api_key: z.string(), deleted_records: z.number() }), ...errors },
    },
  }, async (request) => {
    const auth = authOf(request);
    await limiter.hit(LIMITS.passwordCheckPerAccount, auth.user.id);
    const { apiKey: key, vault, deleted } = await accounts.startOverWithNewKey(auth.user, request.body);
    await store.setSessionWrappedKey(auth.session!.id, vault.wrapFor(auth.sessionToken!));
    return { api_key: key, deleted_records: deleted };
  });
};

export const vaultAccountRoutes: FastifyPluginAsyncZod<Services> = async (app, { store }) => {
  app.addHook('onRequest', requireVault(store));

  app.get('/api/v1/accounts/current', {
    schema: { tags: ['accounts'], response: { 200: z.object({ user_id: z.string(), email: z.string(), created_at: z.string(), via: z.enum(['api-key', 'session']) }), ...errors } },
  }, async (request) => {
    const auth = authOf(request);
    return { user_id: auth.user.id, email: auth.user.email, created_at: new Date(auth.user.createdAt).toISOString(), via: auth.via };
  });
};
