// One MCP server for one request, bound to that request's Vault: /mcp is
// stateless, so the server (and the key inside the vault) is dropped with
// the response. The local MCP server of an end-to-end account (src/local/)
// builds the same server over its replica, so both list the same tools.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { registerGraphTools } from './graph-tools.ts';
import { registerMemoryTools } from './memory-tools.ts';
import type { ToolLog, ToolOperations } from './operations.ts';

export const MCP_SERVER_INFO = { name: 'anamnesis', version: '1.0.0' };

const INSTRUCTIONS =
  'Anamnesis is the user\'s long-term memory, kept encrypted across conversations. Two stores: free-text memories ' +
  '(remember, recall, list_memories, update_memory, forget) and a knowledge graph of entities, relations and observations ' +
  '(create_entities, create_relations, add_observations, search_nodes, open_nodes, read_graph and the delete tools), ' +
  'compatible with the reference MCP memory server. Recall (or search_nodes) early when the user\'s history, preferences ' +
  'or projects may matter; remember durable facts as they come up, without asking each time, unless the user objects.';

/**
 * One JSON-schema validator for the process: the SDK would otherwise build a
 * new Ajv instance for every request's server. It holds compiled schemas
 * only, nothing of any user.
 */
const jsonSchemaValidator = new AjvJsonSchemaValidator();

/** A server over a request's vault (or any other ToolOperations); `info` names a server other than /mcp's. */
export function createMcpServer(operations: ToolOperations, log: ToolLog, info: { name: string; version: string } = MCP_SERVER_INFO): McpServer {
  const server = new McpServer(info, { instructions: INSTRUCTIONS, jsonSchemaValidator });
  registerMemoryTools(server, operations.memories, log);
  registerGraphTools(server, operations.graph, log);
  return server;
}
