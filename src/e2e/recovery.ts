// Recovery when every device is lost: the recovery code proves itself by
// `recovery_auth` (the server keeps only its SHA-256), the client gets K
// wrapped under the code back and registers a new password; every other
// session of the account ends.
import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { normaliseEmail } from '../accounts/accounts.ts';
import { secretsEqual } from '../crypto/keys.ts';
import { AppError, badRequest } from '../errors.ts';
import { LIMITS } from '../http/rate-limit.ts';
import { email } from '../http/schemas.ts';
import type { E2EServices } from './plugin.ts';
import { credentials, e2eErrors, label, opaqueMessage, PUBLIC, recoveryAuth, requireCiphertext, stepId } from './schemas.ts';
import { audit, e2eAccountByEmail, newStepId, startE2ESession, STEP_TTL_MS, stepHash } from './sessions.ts';

/** Compared against when the email is unknown, so both answers take the same work. */
const NO_VERIFIER = '0'.repeat(64);

export const recoveryRoutes: FastifyPluginAsyncZod<E2EServices> = async (app, { store, limiter, opaque, sweep }) => {
  app.post('/api/v1/e2e/recovery/start', {
    schema: {
      ...PUBLIC,
      body: z.strictObject({ email, recovery_auth: recoveryAuth, registration_request: opaqueMessage }),
      response: { 200: z.object({ reset_id: z.string(), user_id: z.string(), recovery_wrap: z.string(), registration_response: z.string() }), ...e2eErrors },
    },
  }, async (request) => {
    const address = normaliseEmail(request.body.email);
    await limiter.hit(LIMITS.unlockPerAddress, request.ip);
    await limiter.hit(LIMITS.unlockPerAccount, address);
    await sweep();
    const account = await e2eAccountByEmail(store, address);
    const offered = createHash('sha256').update(request.body.recovery_auth, 'utf8').digest('hex');
    const matches = secretsEqual(offered, account?.recoveryVerifier ?? NO_VERIFIER);
    if (!account || !matches) {
      await audit(store, account?.userId ?? null, 'e2e.recovery', 'denied');
      throw new AppError('invalid_credentials', 'the email or recovery code is not right');
    }
    const registrationResponse = opaque.registrationResponse(account.userId, request.body.registration_request);
    const step = newStepId();
    await store.createE2EPending({ idHash: step.idHash, kind: 'recovery', userId: account.userId, newUserId: null, email: null, state: null, expiresAt: Date.now() + STEP_TTL_MS });
    return { reset_id: step.id, user_id: account.userId, recovery_wrap: account.recoveryWrap, registration_response: registrationResponse };
  });

  app.post('/api/v1/e2e/recovery/finish', {
    schema: {
      ...PUBLIC,
      body: z.strictObject({ reset_id: stepId, ...credentials, label: label.optional() }),
      response: { 200: z.object({ user_id: z.string(), token: z.string() }), ...e2eErrors },
    },
  }, async (request) => {
    const body = request.body;
    requireCiphertext({ password_wrap: body.password_wrap, recovery_wrap: body.recovery_wrap });
    const step = await store.takeE2EPending(stepHash(body.reset_id), 'recovery', Date.now());
    const userId = step?.userId;
    if (!userId) throw badRequest('this recovery is unknown or has expired: start again');
    const token = await store.transaction(async (tx) => {
      await tx.lockUser(userId);
      const replaced = await tx.replaceE2ECredentials(userId, {
        registrationRecord: body.registration_record,
        passwordWrap: body.password_wrap,
        recoveryWrap: body.recovery_wrap,
        recoveryVerifier: body.recovery_verifier,
      });
      if (!replaced) throw badRequest('this recovery is unknown or has expired: start again');
      await tx.deleteE2ESessions(userId);
      await audit(tx, userId, 'e2e.recovery', 'ok');
      return startE2ESession(tx, userId, body.label);
    });
    return { user_id: userId, token };
  });
};
