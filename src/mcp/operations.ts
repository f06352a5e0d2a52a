// What the MCP tools call, and nothing more: the server's request-scoped
// MemoryBook and KnowledgeGraph satisfy these unchanged, and so does the local
// MCP server's replica of an end-to-end account (src/local/), so both faces
// register the very same tools (names, schemas, descriptions, answers).
import type { FastifyBaseLogger } from 'fastify';
import type { Graph, GraphPage } from '../vault/graph.ts';
import type { MemoryPage, SearchHit } from '../vault/memories.ts';
import type { Entity, Memory, Relation } from '../vault/records.ts';

export interface MemoryOperations {
  create(input: { content: string; tags?: string[] }): Promise<Memory>;
  get(id: string): Promise<Memory>;
  update(id: string, patch: { content?: string; tags?: string[] }): Promise<Memory>;
  delete(id: string): Promise<void>;
  list(options: { limit: number; cursor?: string; tag?: string }): Promise<MemoryPage>;
  search(options: { q: string; limit: number; tag?: string }): Promise<{ results: SearchHit[]; unreadable: string[] }>;
}

export interface GraphOperations {
  createEntities(entities: Entity[]): Promise<Entity[]>;
  createRelations(relations: Relation[]): Promise<Relation[]>;
  addObservations(additions: Array<{ entityName: string; contents: string[] }>): Promise<Array<{ entityName: string; addedObservations: string[] }>>;
  deleteEntities(names: string[]): Promise<void>;
  deleteObservations(deletions: Array<{ entityName: string; observations: string[] }>): Promise<void>;
  deleteRelations(relations: Relation[]): Promise<void>;
  readGraph(options: { limit: number; cursor?: string }): Promise<GraphPage>;
  searchNodes(query: string, options: { limit: number; cursor?: string }): Promise<GraphPage>;
  openNodes(names: string[]): Promise<Graph & { unreadable: string[] }>;
}

/** The two stores the tools work on. */
export interface ToolOperations {
  memories: MemoryOperations;
  graph: GraphOperations;
}

/** Where a tool failure of the 5xx kind is logged (metadata only): a request's logger, or the local server's stderr logger. */
export type ToolLog = Pick<FastifyBaseLogger, 'error'>;

/** What one tool call works on and logs to: the request an /mcp server is lent to, or the local server's replica. */
export interface ToolContext {
  operations: ToolOperations;
  log: ToolLog;
}

/** Asked at the start of every tool call, so a server built once can serve one request after another. */
export type ToolContextOfCall = () => ToolContext;
