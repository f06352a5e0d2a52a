// The knowledge-graph tools of the MCP reference memory server
// (@modelcontextprotocol/server-memory), with its names, titles,
// descriptions, input and output schemas, annotations and answers, so a user
// can swap that server for this one and their prompts keep working.
// test/mcp/reference-parity.test.ts runs both side by side.
//
// Deliberate differences (docs/mcp.md lists them):
// - read_graph takes optional `limit` and `cursor` and pages large graphs; a
//   graph that fits one page answers exactly as the reference does.
// - search_nodes takes optional `limit` and `cursor` too and pages large
//   answers (matching entities in creation order, each page with the
//   relations touching its entities); an answer that fits one page is exactly
//   the reference's.
// - A name repeated within ONE create_entities (or a relation repeated within
//   one create_relations) call is created once; the reference stores both
//   copies, leaving a graph with two entities of one name.
// - Names, types and observations have length limits, and an entity at most
//   1,000 observations (those of the import).
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { badRequest } from '../errors.ts';
import type { Graph } from '../vault/graph.ts';
import { LIMITS, requireObservationRoom } from '../vault/records.ts';
import type { ToolContextOfCall } from './operations.ts';
import { guarded, jsonResult } from './results.ts';

export const READ_GRAPH_DEFAULT_LIMIT = 200;
export const READ_GRAPH_MAX_LIMIT = 1000;
export const SEARCH_NODES_DEFAULT_LIMIT = 50;
export const SEARCH_NODES_MAX_LIMIT = 1000;

// Exactly the reference's schemas (descriptions included): clients see the same tool list.
const EntitySchema = z.object({
  name: z.string().describe('The name of the entity'),
  entityType: z.string().describe('The type of the entity'),
  observations: z.array(z.string()).describe('An array of observation contents associated with the entity'),
});
const RelationSchema = z.object({
  from: z.string().describe('The name of the entity where the relation starts'),
  to: z.string().describe('The name of the entity where the relation ends'),
  relationType: z.string().describe('The type of the relation'),
});

const graphOutput = {
  entities: z.array(EntitySchema),
  relations: z.array(RelationSchema),
  unreadable: z.array(z.string()).optional().describe('ids of stored records that could not be decrypted'),
};
const deletionOutput = { success: z.boolean(), message: z.string() };

const writes = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };
const deletes = { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false };
const reads = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

function deleted(message: string) {
  return jsonResult({ success: true, message }, message);
}

/** The reference's answer: the graph as JSON; unreadable records are mentioned only when there are some. */
function graphResult(graph: Graph & { unreadable: string[] }, extra: Record<string, unknown> = {}, note = '') {
  const structured: Record<string, unknown> = { entities: graph.entities, relations: graph.relations, ...extra };
  if (graph.unreadable.length > 0) structured.unreadable = graph.unreadable;
  return jsonResult(structured, JSON.stringify(structured, null, 2) + note);
}

function checkText(value: string, max: number, what: string): void {
  if (value.length > max) throw badRequest(`${what} is longer than ${max} characters`);
}

function checkEntity(entity: z.infer<typeof EntitySchema>): void {
  checkText(entity.name, LIMITS.nameChars, 'an entity name');
  checkText(entity.entityType, LIMITS.nameChars, 'an entity type');
  requireObservationRoom(entity.observations.length);
  for (const o of entity.observations) checkText(o, LIMITS.observationChars, 'an observation');
}

function checkRelation(relation: z.infer<typeof RelationSchema>): void {
  checkText(relation.from, LIMITS.nameChars, 'a relation\'s from');
  checkText(relation.to, LIMITS.nameChars, 'a relation\'s to');
  checkText(relation.relationType, LIMITS.nameChars, 'a relation type');
}

// Tool definitions (schemas, descriptions) are built once per process; each
// server registers them with handlers that take their operations from the
// call's context (the request an /mcp server is lent to, or the local MCP
// server's replica).
const CREATE_ENTITIES_TOOL = {
  title: 'Create Entities',
  description: 'Create multiple new entities in the knowledge graph',
  inputSchema: z.object({ entities: z.array(EntitySchema) }),
  outputSchema: z.object({ entities: z.array(EntitySchema) }),
  annotations: writes,
};

const CREATE_RELATIONS_TOOL = {
  title: 'Create Relations',
  description: 'Create multiple new relations between entities in the knowledge graph. Relations should be in active voice',
  inputSchema: z.object({ relations: z.array(RelationSchema) }),
  outputSchema: z.object({ relations: z.array(RelationSchema) }),
  annotations: writes,
};

const ADD_OBSERVATIONS_TOOL = {
  title: 'Add Observations',
  description: 'Add new observations to existing entities in the knowledge graph',
  inputSchema: z.object({
    observations: z.array(z.object({
      entityName: z.string().describe('The name of the entity to add the observations to'),
      contents: z.array(z.string()).describe('An array of observation contents to add'),
    })),
  }),
  outputSchema: z.object({ results: z.array(z.object({ entityName: z.string(), addedObservations: z.array(z.string()) })) }),
  annotations: writes,
};

const DELETE_ENTITIES_TOOL = {
  title: 'Delete Entities',
  description: 'Delete multiple entities and their associated relations from the knowledge graph',
  inputSchema: z.object({ entityNames: z.array(z.string()).describe('An array of entity names to delete') }),
  outputSchema: z.object(deletionOutput),
  annotations: deletes,
};

const DELETE_OBSERVATIONS_TOOL = {
  title: 'Delete Observations',
  description: 'Delete specific observations from entities in the knowledge graph',
  inputSchema: z.object({
    deletions: z.array(z.object({
      entityName: z.string().describe('The name of the entity containing the observations'),
      observations: z.array(z.string()).describe('An array of observations to delete'),
    })),
  }),
  outputSchema: z.object(deletionOutput),
  annotations: deletes,
};

const DELETE_RELATIONS_TOOL = {
  title: 'Delete Relations',
  description: 'Delete multiple relations from the knowledge graph',
  inputSchema: z.object({ relations: z.array(RelationSchema).describe('An array of relations to delete') }),
  outputSchema: z.object(deletionOutput),
  annotations: deletes,
};

const READ_GRAPH_TOOL = {
  title: 'Read Graph',
  description:
    `Read the entire knowledge graph. Large graphs come a page at a time (${READ_GRAPH_DEFAULT_LIMIT} entities and relations by default): ` +
    'when next_cursor is present, call again with that cursor to read on.',
  inputSchema: z.object({
    limit: z.number().int().min(1).max(READ_GRAPH_MAX_LIMIT).optional().describe(`How many entities and relations to return at most (default ${READ_GRAPH_DEFAULT_LIMIT})`),
    cursor: z.string().min(1).max(512).optional().describe('The next_cursor of the previous page, to read on'),
  }),
  outputSchema: z.object({ ...graphOutput, next_cursor: z.string().optional().describe('Present when more of the graph remains: pass it as cursor') }),
  annotations: reads,
};

const SEARCH_NODES_TOOL = {
  title: 'Search Nodes',
  description:
    `Search for nodes in the knowledge graph based on a query. Many matches come a page at a time (${SEARCH_NODES_DEFAULT_LIMIT} entities by default, ` +
    'each page with the relations touching its entities, so a relation between entities on two pages comes with both): ' +
    'when next_cursor is present, call again with the same query and that cursor to read on.',
  inputSchema: z.object({
    query: z.string().describe('The search query to match against entity names, types, and observation content'),
    limit: z.number().int().min(1).max(SEARCH_NODES_MAX_LIMIT).optional().describe(`How many matching entities to return at most (default ${SEARCH_NODES_DEFAULT_LIMIT})`),
    cursor: z.string().min(1).max(512).optional().describe('The next_cursor of the previous page of this same query, to read on'),
  }),
  outputSchema: z.object({ ...graphOutput, next_cursor: z.string().optional().describe('Present when more matches remain: pass it as cursor with the same query') }),
  annotations: reads,
};

const OPEN_NODES_TOOL = {
  title: 'Open Nodes',
  description: 'Open specific nodes in the knowledge graph by their names',
  inputSchema: z.object({ names: z.array(z.string()).describe('An array of entity names to retrieve') }),
  outputSchema: z.object(graphOutput),
  annotations: reads,
};

export function registerGraphTools(server: McpServer, contextOfCall: ToolContextOfCall): void {

  server.registerTool('create_entities', CREATE_ENTITIES_TOOL, guarded(contextOfCall, 'create_entities', async ({ entities }, { graph }) => {
    entities.forEach(checkEntity);
    const created = await graph.createEntities(entities);
    return jsonResult({ entities: created }, JSON.stringify(created, null, 2));
  }));

  server.registerTool('create_relations', CREATE_RELATIONS_TOOL, guarded(contextOfCall, 'create_relations', async ({ relations }, { graph }) => {
    relations.forEach(checkRelation);
    const created = await graph.createRelations(relations);
    return jsonResult({ relations: created }, JSON.stringify(created, null, 2));
  }));

  server.registerTool('add_observations', ADD_OBSERVATIONS_TOOL, guarded(contextOfCall, 'add_observations', async ({ observations }, { graph }) => {
    for (const o of observations) o.contents.forEach((c) => checkText(c, LIMITS.observationChars, 'an observation'));
    const results = await graph.addObservations(observations);
    return jsonResult({ results }, JSON.stringify(results, null, 2));
  }));

  server.registerTool('delete_entities', DELETE_ENTITIES_TOOL, guarded(contextOfCall, 'delete_entities', async ({ entityNames }, { graph }) => {
    await graph.deleteEntities(entityNames);
    return deleted('Entities deleted successfully');
  }));

  server.registerTool('delete_observations', DELETE_OBSERVATIONS_TOOL, guarded(contextOfCall, 'delete_observations', async ({ deletions }, { graph }) => {
    await graph.deleteObservations(deletions);
    return deleted('Observations deleted successfully');
  }));

  server.registerTool('delete_relations', DELETE_RELATIONS_TOOL, guarded(contextOfCall, 'delete_relations', async ({ relations }, { graph }) => {
    await graph.deleteRelations(relations);
    return deleted('Relations deleted successfully');
  }));

  server.registerTool('read_graph', READ_GRAPH_TOOL, guarded(contextOfCall, 'read_graph', async ({ limit, cursor }, { graph }) => {
    const page = await graph.readGraph({ limit: limit ?? READ_GRAPH_DEFAULT_LIMIT, ...(cursor ? { cursor } : {}) });
    if (!page.next_cursor) return graphResult(page);
    const note = `\n\nMore of the graph remains: call read_graph with cursor "${page.next_cursor}" to read the next page.`;
    return graphResult(page, { next_cursor: page.next_cursor }, note);
  }));

  server.registerTool('search_nodes', SEARCH_NODES_TOOL, guarded(contextOfCall, 'search_nodes', async ({ query, limit, cursor }, { graph }) => {
    const page = await graph.searchNodes(query, { limit: limit ?? SEARCH_NODES_DEFAULT_LIMIT, ...(cursor ? { cursor } : {}) });
    if (!page.next_cursor) return graphResult(page);
    const note = `\n\nMore matches remain: call search_nodes with the same query and cursor "${page.next_cursor}" to read the next page.`;
    return graphResult(page, { next_cursor: page.next_cursor }, note);
  }));

  server.registerTool('open_nodes', OPEN_NODES_TOOL, guarded(contextOfCall, 'open_nodes', async ({ names }, { graph }) => graphResult(await graph.openNodes(names))));
}
