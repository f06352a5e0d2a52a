// /api/v1/memories: create, list, search, get, update, delete.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { badRequest } from '../../errors.ts';
import type { Store } from '../../storage/store.ts';
import { requireVault, vaultOf } from '../auth.ts';
import { cursor, errorSchema, memoryContent, memoryId, memorySchema, memoryTags, tagFilter, unreadableIds } from '../schemas.ts';

export const memoryRoutes: FastifyPluginAsyncZod<{ store: Store }> = async (app, { store }) => {
  app.addHook('onRequest', requireVault(store));
  const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema };

  app.post('/api/v1/memories', {
    schema: { tags: ['memories'], body: z.strictObject({ content: memoryContent, tags: memoryTags.optional() }), response: { 201: memorySchema, ...errors } },
  }, async (request, reply) => reply.code(201).send(await vaultOf(request).memories.create(request.body)));

  app.get('/api/v1/memories', {
    schema: {
      tags: ['memories'],
      querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(20), cursor: cursor.optional(), tag: tagFilter.optional() }),
      response: { 200: z.object({ items: z.array(memorySchema), next_cursor: z.string().nullable(), unreadable: unreadableIds }), ...errors },
    },
  }, async (request) => vaultOf(request).memories.list(request.query));

  app.get('/api/v1/memories/search', {
    schema: {
      tags: ['memories'],
      querystring: z.strictObject({ q: z.string().trim().min(1).max(500), limit: z.coerce.number().int().min(1).max(50).default(10), tag: tagFilter.optional() }),
      response: { 200: z.object({ results: z.array(z.object({ memory: memorySchema, score: z.number() })), unreadable: unreadableIds }), ...errors },
    },
  }, async (request) => vaultOf(request).memories.search(request.query));

  const byId = z.strictObject({ id: memoryId });

  app.get('/api/v1/memories/:id', {
    schema: { tags: ['memories'], params: byId, response: { 200: memorySchema, ...errors } },
  }, async (request) => vaultOf(request).memories.get(request.params.id));

  app.patch('/api/v1/memories/:id', {
    schema: { tags: ['memories'], params: byId, body: z.strictObject({ content: memoryContent.optional(), tags: memoryTags.optional() }), response: { 200: memorySchema, ...errors } },
  }, async (request) => {
    if (request.body.content === undefined && request.body.tags === undefined) throw badRequest('give content, tags or both to change');
    return vaultOf(request).memories.update(request.params.id, request.body);
  });

  app.delete('/api/v1/memories/:id', {
    schema: { tags: ['memories'], params: byId, response: { 204: z.null(), ...errors } },
  }, async (request, reply) => {
    await vaultOf(request).memories.delete(request.params.id);
    return reply.code(204).send(null);
  });
};
