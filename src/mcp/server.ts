// The MCP server with every tool of Anamnesis. /mcp builds a few and lends
// each to one request at a time (server-pool.ts): the tools then work on
// that request's Vault, which is dropped with the response. The local MCP
// server of an end-to-end account (src/local/) builds one over its replica,
// so both list the same tools.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { registerGraphTools } from './graph-tools.ts';
import { registerMemoryTools } from './memory-tools.ts';
import type { ToolContextOfCall } from './operations.ts';

export const MCP_SERVER_INFO = { name: 'anamnesis', version: '1.0.0' };

const INSTRUCTIONS =
  'Anamnesis is the user\'s long-term memory, kept encrypted across conversations. Two stores: free-text memories ' +
  '(remember, recall, list_memories, update_memory, forget) and a knowledge graph of entities, relations and observations ' +
  '(create_entities, create_relations, add_observations, search_nodes, open_nodes, read_graph and the delete tools), ' +
  'compatible with the reference MCP memory server. Recall (or search_nodes) early when the user\'s history, preferences ' +
  'or projects may matter; remember durable facts as they come up, without asking each time, unless the user objects.';

/**
 * One JSON-schema validator for the process: the SDK would otherwise build a
 * new Ajv instance for every server. It holds compiled schemas only, nothing
 * of any user.
 */
const jsonSchemaValidator = new AjvJsonSchemaValidator();

/**
 * A server whose tools work on what `contextOfCall` answers when a call
 * starts: the request the server is lent to, or the local server's replica.
 * `info` names a server other than /mcp's.
 */
export function createMcpServer(contextOfCall: ToolContextOfCall, info: { name: string; version: string } = MCP_SERVER_INFO): McpServer {
  const server = new McpServer(info, { instructions: INSTRUCTIONS, jsonSchemaValidator });
  registerMemoryTools(server, contextOfCall);
  registerGraphTools(server, contextOfCall);
  return server;
}
