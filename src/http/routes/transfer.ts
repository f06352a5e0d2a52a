// Export (encrypted JSONL or plaintext JSON) and import (our exports and the
// reference server's memory.jsonl).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { badRequest } from '../../errors.ts';
import { requireVault, vaultOf } from '../auth.ts';
import { errorSchema } from '../schemas.ts';
import type { Services } from '../services.ts';

export const IMPORT_BODY_LIMIT = 32 * 1024 * 1024;

const importReportSchema = z.object({
  imported: z.object({ memories: z.number(), entities: z.number(), relations: z.number(), observations: z.number() }),
  skipped: z.object({ memories: z.number(), entities: z.number(), relations: z.number() }),
  errors: z.array(z.object({ line: z.number(), message: z.string() })),
});

export const transferRoutes: FastifyPluginAsyncZod<Services> = async (app, { store }) => {
  app.addHook('onRequest', requireVault(store));

  app.get('/api/v1/export', {
    // No response schema: the body is a file (JSONL or pretty-printed JSON), sent as text.
    schema: { tags: ['export'], querystring: z.strictObject({ format: z.enum(['encrypted', 'json']) }) },
  }, async (request, reply) => {
    const vault = vaultOf(request);
    const day = new Date().toISOString().slice(0, 10);
    if (request.query.format === 'encrypted') {
      reply.header('content-disposition', `attachment; filename="anamnesis-${day}.encrypted.jsonl"`);
      return reply.type('application/x-ndjson; charset=utf-8').send(await vault.transfer.exportEncrypted());
    }
    reply.header('content-disposition', `attachment; filename="anamnesis-${day}.json"`);
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(await vault.transfer.exportJson(), null, 2));
  });

  app.post('/api/v1/import', {
    bodyLimit: IMPORT_BODY_LIMIT,
    schema: {
      tags: ['export'],
      querystring: z.strictObject({ format: z.enum(['mcp-memory-jsonl', 'encrypted', 'json']) }),
      response: { 200: importReportSchema, 400: errorSchema, 401: errorSchema, 403: errorSchema, 413: errorSchema },
    },
  }, async (request) => {
    const transfer = vaultOf(request).transfer;
    const body = request.body;
    if (request.query.format === 'json') {
      return transfer.importJson(typeof body === 'string' ? parseJson(body) : body);
    }
    if (typeof body !== 'string') throw badRequest('send the file as the raw body (Content-Type: application/x-ndjson or text/plain)');
    return request.query.format === 'encrypted' ? transfer.importEncrypted(body) : transfer.importMcpMemoryJsonl(body);
  });
};

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest('the body is not valid JSON');
  }
}
