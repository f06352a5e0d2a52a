// API-key rotation from the browser, in the API's two steps: rotate issues a
// pending key and shows it (the old key still works); confirm, with the key
// pasted back, re-encrypts everything in one transaction and re-wraps this
// browser's session under the new key so it stays unlocked.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { beginRotation, confirmRotation, countSealed } from '../../accounts/key-rotation.ts';
import { isApiKey, secretLookupHash, secretsEqual } from '../../crypto/keys.ts';
import { AppError } from '../../errors.ts';
import { LIMITS } from '../../http/rate-limit.ts';
import { apiKey } from '../../http/schemas.ts';
import { Vault } from '../../vault/vault.ts';
import type { WebDeps } from '../deps.ts';
import { withAllOrNothing } from '../errors.ts';
import { pageContext, sendHtml } from '../render.ts';
import { sessionOf, unlockedVault } from '../session.ts';
import { confirmRotationView, keyView, rotatedView } from '../views/key.ts';

export const keyPages: FastifyPluginAsyncZod<WebDeps> = async (app, { store, limiter, assets }) => {
  const config = { need: 'unlocked' as const };
  const hide = true;

  app.get('/app/key', { schema: { hide }, config }, async (request, reply) => sendHtml(reply, keyView(pageContext(request, assets))));

  app.post('/app/key/rotate', { schema: { hide }, config }, async (request, reply) => {
    const vault = unlockedVault(request);
    const pending = await beginRotation(store, vault);
    const records = await countSealed(store, vault.userId);
    return sendHtml(reply, confirmRotationView(pageContext(request, assets), { apiKey: pending.apiKey, records }));
  });

  app.post('/app/key/confirm', { schema: { hide, body: z.object({ new_key: apiKey }) }, config }, async (request, reply) => {
    const auth = sessionOf(request);
    const newKey = request.body.new_key.trim();
    return withAllOrNothing(request, reply, async () => {
      await limiter.hit(LIMITS.rotateConfirmPerAddress, request.ip);
      // Only this account's own pending key: pasting the current key back proves nothing was saved.
      if (!isApiKey(newKey) || !secretsEqual(secretLookupHash(newKey), auth.user.pendingKeyHash ?? '')) {
        throw new AppError('forbidden', 'this is not the new key shown on the previous page');
      }
      const result = await confirmRotation(store, newKey);
      await store.setSessionWrappedKey(auth.session.id, Vault.forApiKey(store, auth.user.id, newKey).wrapFor(auth.sessionToken));
      return sendHtml(reply, rotatedView(pageContext(request, assets), result.records));
    }, async (message) => confirmRotationView(pageContext(request, assets), {
      records: await countSealed(store, auth.user.id),
      error: `Nothing changed: your memories are still under your current key, which still works. ${message}`,
    }));
  });
};
