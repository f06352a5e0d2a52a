// Switching a server-key account to end-to-end mode. The browser, holding K
// through the API key or an unlocked session, re-encrypts every record under
// a fresh K' it made and registers a password with OPAQUE; the finish is one
// transaction: the E2E account and its records appear, and every server-key
// record and index row, the API key hash, every session, the pending key and
// every OAuth grant are deleted. Backups taken before stay readable by the old key.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { badRequest, e2eAccount } from '../errors.ts';
import { authOf, requireVault } from '../http/auth.ts';
import { clearSessionCookie } from '../http/cookies.ts';
import type { E2EServices } from './plugin.ts';
import { conflictError, toStoreWrites } from './changes.ts';
import { CONVERSION_BODY_LIMIT, credentials, e2eErrors, label, MAX_CONVERSION_WRITES, opaqueMessage, requireCiphertext, stepId, uniqueIds, write } from './schemas.ts';
import { audit, newStepId, startE2ESession, STEP_TTL_MS, stepHash } from './sessions.ts';

export const conversionRoutes: FastifyPluginAsyncZod<E2EServices> = async (app, { store, opaque }) => {
  app.addHook('onRequest', requireVault(store));

  app.post('/api/v1/e2e/conversions/start', {
    schema: {
      tags: ['e2e'],
      body: z.strictObject({ registration_request: opaqueMessage }),
      response: { 200: z.object({ registration_id: z.string(), user_id: z.string(), registration_response: z.string() }), ...e2eErrors },
    },
  }, async (request) => {
    const { user } = authOf(request);
    const registrationResponse = opaque.registrationResponse(user.id, request.body.registration_request);
    const step = newStepId();
    await store.createE2EPending({ idHash: step.idHash, kind: 'conversion', userId: user.id, newUserId: null, email: null, state: null, expiresAt: Date.now() + STEP_TTL_MS });
    return { registration_id: step.id, user_id: user.id, registration_response: registrationResponse };
  });

  app.post('/api/v1/e2e/conversions/finish', {
    bodyLimit: CONVERSION_BODY_LIMIT,
    schema: {
      tags: ['e2e'],
      body: z.strictObject({
        registration_id: stepId,
        ...credentials,
        writes: z.array(write).max(MAX_CONVERSION_WRITES).superRefine(uniqueIds),
        label: label.optional(),
      }),
      response: { 200: z.object({ user_id: z.string(), token: z.string(), cursor: z.number() }), ...e2eErrors },
    },
  }, async (request, reply) => {
    const { user, via } = authOf(request);
    const body = request.body;
    requireCiphertext({ password_wrap: body.password_wrap, recovery_wrap: body.recovery_wrap });
    const writes = toStoreWrites(body.writes);
    if (writes.some((w) => w.baseVersion !== 0)) throw badRequest('every write of a conversion is a new record: base_version 0');
    const step = await store.takeE2EPending(stepHash(body.registration_id), 'conversion', Date.now());
    if (step?.userId !== user.id) throw badRequest('this conversion is unknown or has expired: start again');
    const now = Date.now();
    const { token, cursor } = await store.transaction(async (tx) => {
      await tx.lockUser(user.id);
      // Another switch of this account may have committed while this request waited.
      const current = await tx.findUserById(user.id);
      if (current?.mode !== 'server-key') throw e2eAccount();
      await tx.deleteAllRecords(user.id);
      await tx.deleteSessions(user.id);
      await tx.clearWrappedKeys(user.id); // every OAuth grant and its tokens
      await tx.convertUserToE2E(user.id, {
        registrationRecord: body.registration_record,
        passwordWrap: body.password_wrap,
        recoveryWrap: body.recovery_wrap,
        recoveryVerifier: body.recovery_verifier,
      });
      const written = writes.length > 0 ? await tx.writeE2ERecords(user.id, writes, now) : { ok: true as const, cursor: 0, applied: [] };
      if (!written.ok) throw conflictError(written);
      await audit(tx, user.id, 'e2e.convert', 'ok');
      return { token: await startE2ESession(tx, user.id, body.label, now), cursor: written.cursor };
    });
    if (via === 'session') clearSessionCookie(reply);
    return { user_id: user.id, token, cursor };
  });
};
