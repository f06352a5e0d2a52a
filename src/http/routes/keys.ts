// Two-step API-key rotation.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { beginRotation, confirmRotation } from '../../accounts/key-rotation.ts';
import { unauthorized } from '../../errors.ts';
import { BEARER_CHALLENGE, bearerCredential, requireVault, vaultOf } from '../auth.ts';
import { LIMITS } from '../rate-limit.ts';
import { errorSchema } from '../schemas.ts';
import type { Services } from '../services.ts';

const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 409: errorSchema, 429: errorSchema };

export const rotateRoute: FastifyPluginAsyncZod<Services> = async (app, { store }) => {
  app.addHook('onRequest', requireVault(store));
  app.post('/api/v1/keys/rotate', {
    schema: { tags: ['keys'], response: { 200: z.object({ api_key: z.string(), expires_at: z.string() }), ...errors } },
  }, async (request) => {
    const { apiKey, expiresAt } = await beginRotation(store, vaultOf(request));
    return { api_key: apiKey, expires_at: expiresAt };
  });
};

export const confirmRotationRoute: FastifyPluginAsyncZod<Services> = async (app, { store, limiter }) => {
  app.post('/api/v1/keys/rotate/confirm', {
    schema: { tags: ['keys'], response: { 200: z.object({ status: z.enum(['rotated', 'already_rotated']), records: z.number() }), ...errors } },
  }, async (request, reply) => {
    await limiter.hit(LIMITS.rotateConfirmPerAddress, request.ip);
    const pendingKey = bearerCredential(request);
    if (!pendingKey) {
      reply.header('www-authenticate', BEARER_CHALLENGE);
      throw unauthorized('send the pending key as Authorization: Bearer');
    }
    return confirmRotation(store, pendingKey);
  });
};
