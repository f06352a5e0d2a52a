// The end-to-end account as its owner sees it, and deleting it.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../errors.ts';
import type { Services } from '../http/services.ts';
import { E2E_BEARER, e2eErrors } from './schemas.ts';
import { e2eAuthOf, requireE2ESession } from './auth.ts';
import { audit } from './sessions.ts';

export const accountRoutes: FastifyPluginAsyncZod<Services> = async (app, { store }) => {
  app.addHook('onRequest', requireE2ESession(store));

  app.get('/api/v1/e2e/account', {
    schema: { ...E2E_BEARER, response: { 200: z.object({ user_id: z.string(), email: z.string(), cursor: z.number(), records: z.number() }), ...e2eErrors } },
  }, async (request) => {
    const { user } = e2eAuthOf(request);
    const account = await store.findE2EAccount(user.id);
    if (!account) throw notFound('account');
    return { user_id: user.id, email: user.email, cursor: account.lastSeq, records: await store.countLiveE2ERecords(user.id) };
  });

  app.delete('/api/v1/e2e/account', {
    schema: { ...E2E_BEARER, response: { 204: z.null(), ...e2eErrors } },
  }, async (request, reply) => {
    const { user } = e2eAuthOf(request);
    await store.transaction(async (tx) => {
      await tx.lockUser(user.id);
      await tx.deleteUser(user.id);
    });
    // The user's own audit rows went with the account; this one names no one.
    await audit(store, null, 'e2e.account.delete', 'ok');
    return reply.code(204).send(null);
  });
};
