// The knowledge graph, browsable: pages from readGraph, or searchNodes results.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { cursor } from '../../http/schemas.ts';
import type { WebDeps } from '../deps.ts';
import { pageContext, sendHtml } from '../render.ts';
import { unlockedVault } from '../session.ts';
import { graphView } from '../views/graph.ts';

/** Entities and relations together per page. */
const GRAPH_PAGE_SIZE = 50;

export const graphPages: FastifyPluginAsyncZod<WebDeps> = async (app, { assets }) => {
  app.get('/app/graph', {
    schema: { hide: true, querystring: z.object({ q: z.string().trim().max(500).optional().transform((v) => v || undefined), cursor: cursor.optional() }) },
    config: { need: 'unlocked' },
  }, async (request, reply) => {
    const graph = unlockedVault(request).graph;
    const { q } = request.query;
    const ctx = pageContext(request, assets);
    if (q) {
      const found = await graph.searchNodes(q);
      return sendHtml(reply, graphView(ctx, { ...found, q, nextCursor: null, unreadable: found.unreadable.length }));
    }
    const page = await graph.readGraph({ limit: GRAPH_PAGE_SIZE, ...(request.query.cursor ? { cursor: request.query.cursor } : {}) });
    return sendHtml(reply, graphView(ctx, { ...page, cursor: request.query.cursor, nextCursor: page.next_cursor, unreadable: page.unreadable.length }));
  });
};
