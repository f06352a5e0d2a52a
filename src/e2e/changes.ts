// Sync: the changes feed (every record after a cursor, in seq order, each id
// once at its latest seq) and writes with a base version, all or nothing;
// 409 with the server's current rows on a conflict, 410 for a cursor whose
// tombstones were purged.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, notFound } from '../errors.ts';
import type { Services } from '../http/services.ts';
import type { E2ERecordRow, E2EWriteResult } from '../storage/store.ts';
import { CHANGES_BODY_LIMIT, changeSchema, E2E_BEARER, e2eErrors, MAX_WRITES, requireCiphertext, uniqueIds, write } from './schemas.ts';
import { e2eAuthOf, requireE2ESession } from './auth.ts';

const DAY_MS = 24 * 3600_000;

export const toChange = (r: E2ERecordRow) => ({ id: r.id, seq: r.seq, version: r.version, token: r.token, deleted: r.deleted });

/** Writes as the store takes them, after refusing any value that is not ciphertext. */
export function toStoreWrites(writes: readonly z.infer<typeof write>[]) {
  requireCiphertext(Object.fromEntries(writes.map((w, i) => [`writes.${i}.token`, w.token])));
  return writes.map((w) => ({ id: w.id, baseVersion: w.base_version, version: w.version, token: w.token, deleted: w.deleted ?? false }));
}

/** 409 conflict with the server's current rows (version 0 and token null for an id it does not have). */
export function conflictError(result: Extract<E2EWriteResult, { ok: false }>): AppError {
  return new AppError('conflict', 'some records changed on the server since your base version: nothing was written', {
    conflicts: result.conflicts.map(({ id, current }) =>
      current ? toChange(current) : { id, seq: 0, version: 0, token: null, deleted: false }),
  });
}

export const changesRoutes: FastifyPluginAsyncZod<Services> = async (app, { store, config }) => {
  app.addHook('onRequest', requireE2ESession(store));

  app.get('/api/v1/e2e/changes', {
    schema: {
      ...E2E_BEARER,
      querystring: z.strictObject({
        cursor: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
        limit: z.coerce.number().int().min(1).max(1000).default(500),
      }),
      response: { 200: z.object({ changes: z.array(changeSchema), cursor: z.number(), more: z.boolean() }), ...e2eErrors },
    },
  }, async (request) => {
    const { user } = e2eAuthOf(request);
    const { cursor, limit } = request.query;
    await store.purgeE2ETombstones(user.id, Date.now() - config.e2eTombstoneDays * DAY_MS);
    const account = await store.findE2EAccount(user.id);
    if (!account) throw notFound('account');
    // Tombstones after the cursor are gone, or the cursor is from a future this server does not have (a restored backup).
    if ((cursor > 0 && cursor < account.purgedThroughSeq) || cursor > account.lastSeq) {
      throw new AppError('cursor_expired', 'this cursor is too old (or not from this server): sync again from cursor 0', { purged_through: account.purgedThroughSeq });
    }
    const page = await store.listE2EChanges(user.id, cursor, limit);
    return { changes: page.changes.map(toChange), cursor: page.cursor, more: page.more };
  });

  app.post('/api/v1/e2e/changes', {
    bodyLimit: CHANGES_BODY_LIMIT,
    schema: {
      ...E2E_BEARER,
      body: z.strictObject({ writes: z.array(write).min(1).max(MAX_WRITES).superRefine(uniqueIds) }),
      response: {
        200: z.object({ cursor: z.number(), applied: z.array(z.object({ id: z.string(), version: z.number(), seq: z.number() })) }),
        ...e2eErrors,
      },
    },
  }, async (request) => {
    const { user } = e2eAuthOf(request);
    const writes = toStoreWrites(request.body.writes);
    const result = await store.writeE2ERecords(user.id, writes, Date.now());
    if (!result.ok) throw conflictError(result);
    return { cursor: result.cursor, applied: result.applied };
  });
};
