// Import of a reference memory.jsonl from a form (exports are plain links to
// the JSON API's GET /api/v1/export, which accepts the unlocked session).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { IMPORT_BODY_LIMIT } from '../../http/routes/transfer.ts';
import type { WebDeps } from '../deps.ts';
import { withAllOrNothing } from '../errors.ts';
import { pageContext, sendHtml } from '../render.ts';
import { unlockedVault } from '../session.ts';
import { dataView, importResult } from '../views/data.ts';

/** Form encoding can triple a file's size (every quote becomes %22): room for a file at the API's limit. */
const IMPORT_FORM_BODY_LIMIT = 3 * IMPORT_BODY_LIMIT;

export const dataPages: FastifyPluginAsyncZod<WebDeps> = async (app, { assets }) => {
  const config = { need: 'unlocked' as const };

  app.get('/app/data', { schema: { hide: true }, config }, async (request, reply) => sendHtml(reply, dataView(pageContext(request, assets))));

  app.post('/app/data/import', {
    bodyLimit: IMPORT_FORM_BODY_LIMIT,
    schema: { hide: true, body: z.object({ jsonl: z.string().max(IMPORT_BODY_LIMIT) }) },
    config,
  }, async (request, reply) =>
    withAllOrNothing(request, reply, async () => {
      const report = await unlockedVault(request).transfer.importMcpMemoryJsonl(request.body.jsonl);
      return sendHtml(reply, dataView(pageContext(request, assets), importResult(report)));
    }, (message) => dataView(pageContext(request, assets), { kind: 'error', text: `The import failed and nothing was imported: your data is as it was. ${message}` })));
};
