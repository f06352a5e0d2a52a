// One MCP server for one request, bound to that request's Vault: /mcp is
// stateless, so the server (and the key inside the vault) is dropped with
// the response.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { FastifyBaseLogger } from 'fastify';
import type { Vault } from '../vault/vault.ts';
import { registerGraphTools } from './graph-tools.ts';
import { registerMemoryTools } from './memory-tools.ts';

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

export function createMcpServer(vault: Vault, log: FastifyBaseLogger): McpServer {
  const server = new McpServer(MCP_SERVER_INFO, { instructions: INSTRUCTIONS, jsonSchemaValidator });
  registerMemoryTools(server, vault, log);
  registerGraphTools(server, vault, log);
  return server;
}
