// The knowledge graph, browsable: pages from readGraph, or pages of searchNodes results.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { cursor } from '../../http/schemas.ts';
import type { WebDeps } from '../deps.ts';
import { pageContext, sendHtml } from '../render.ts';
import { unlockedVault } from '../session.ts';
import { graphView } from '../views/graph.ts';

/** Entities and relations together per page of the graph; entities per page of search results. */
const GRAPH_PAGE_SIZE = 50;

export const graphPages: FastifyPluginAsyncZod<WebDeps> = async (app, { assets }) => {
  app.get('/app/graph', {
    schema: { hide: true, querystring: z.object({ q: z.string().trim().max(500).optional().transform((v) => v || undefined), cursor: cursor.optional() }) },
    config: { need: 'unlocked' },
  }, async (request, reply) => {
    const graph = unlockedVault(request).graph;
    const { q, cursor } = request.query;
    const ctx = pageContext(request, assets);
    const options = { limit: GRAPH_PAGE_SIZE, ...(cursor ? { cursor } : {}) };
    const page = q ? await graph.searchNodes(q, options) : await graph.readGraph(options);
    return sendHtml(reply, graphView(ctx, { ...page, q, cursor, nextCursor: page.next_cursor, unreadable: page.unreadable.length }));
  });
};
