// Signing up for an end-to-end account: the client sends an OPAQUE
// registration request, then its registration record with K wrapped under
// the password and under the recovery code. The account exists only after
// the second message; the first holds nothing but a short-lived step.
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { validEmail } from '../accounts/accounts.ts';
import { AppError, badRequest } from '../errors.ts';
import { LIMITS } from '../http/rate-limit.ts';
import { email } from '../http/schemas.ts';
import { UniqueViolation } from '../storage/store.ts';
import type { E2EServices } from './plugin.ts';
import { credentials, e2eErrors, label, opaqueMessage, PUBLIC, requireCiphertext, stepId } from './schemas.ts';
import { audit, newStepId, startE2ESession, STEP_TTL_MS, stepHash } from './sessions.ts';

const emailTaken = () => new AppError('email_taken', 'an account with this email already exists');

export const registrationRoutes: FastifyPluginAsyncZod<E2EServices> = async (app, { store, limiter, opaque, sweep }) => {
  app.post('/api/v1/e2e/registrations', {
    schema: {
      ...PUBLIC,
      body: z.strictObject({ email, registration_request: opaqueMessage }),
      response: { 200: z.object({ registration_id: z.string(), user_id: z.string(), registration_response: z.string() }), ...e2eErrors },
    },
  }, async (request) => {
    await limiter.hit(LIMITS.signupPerAddress, request.ip);
    await sweep();
    const address = validEmail(request.body.email);
    if (await store.findUserByEmail(address)) throw emailTaken();
    const userId = randomUUID();
    const registrationResponse = opaque.registrationResponse(userId, request.body.registration_request);
    const step = newStepId();
    await store.createE2EPending({ idHash: step.idHash, kind: 'registration', userId: null, newUserId: userId, email: address, state: null, expiresAt: Date.now() + STEP_TTL_MS });
    return { registration_id: step.id, user_id: userId, registration_response: registrationResponse };
  });

  app.post('/api/v1/e2e/accounts', {
    schema: {
      ...PUBLIC,
      body: z.strictObject({ registration_id: stepId, ...credentials, label: label.optional() }),
      response: { 201: z.object({ user_id: z.string(), token: z.string() }), ...e2eErrors },
    },
  }, async (request, reply) => {
    const body = request.body;
    requireCiphertext({ password_wrap: body.password_wrap, recovery_wrap: body.recovery_wrap });
    const now = Date.now();
    const step = await store.takeE2EPending(stepHash(body.registration_id), 'registration', now);
    if (!step?.newUserId || !step.email) throw badRequest('this registration is unknown or has expired: start again');
    const userId = step.newUserId;
    const token = await store.transaction(async (tx) => {
      try {
        await tx.createE2EAccount({ mode: 'e2e', id: userId, email: step.email!, createdAt: now }, {
          registrationRecord: body.registration_record,
          passwordWrap: body.password_wrap,
          recoveryWrap: body.recovery_wrap,
          recoveryVerifier: body.recovery_verifier,
        });
      } catch (error) {
        if (error instanceof UniqueViolation && error.what === 'email') throw emailTaken();
        throw error;
      }
      await audit(tx, userId, 'e2e.account.create', 'ok');
      return startE2ESession(tx, userId, body.label, now);
    });
    return reply.code(201).send({ user_id: userId, token });
  });
};
