// MCP clients for both sides of the comparison, through the official SDK:
// ours over Streamable HTTP with the Bearer key, the reference
// @modelcontextprotocol/server-memory over stdio on its own memory.jsonl.
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { REPO_ROOT } from './server.ts';

export const REFERENCE_SERVER = path.join(REPO_ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');

export async function connectOurs(url: string, apiKey: string): Promise<Client> {
  const client = new Client({ name: 'anamnesis-bench', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', url), { requestInit: { headers: { authorization: `Bearer ${apiKey}` } } }));
  return client;
}

/** Starts the reference server as a child process serving `memoryFile`; closing the client ends it. */
export async function connectReference(memoryFile: string): Promise<{ client: Client; pid: number }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [REFERENCE_SERVER],
    env: { PATH: process.env.PATH ?? '', MEMORY_FILE_PATH: memoryFile },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'anamnesis-bench', version: '1.0.0' });
  await client.connect(transport);
  return { client, pid: transport.pid! };
}

export interface ToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

/** Calls a tool and fails loudly on a tool error, so a broken call is never timed as a fast one. */
export async function callTool(client: Client, call: ToolCall): Promise<Record<string, unknown>> {
  const result = await client.callTool(call);
  if (result.isError) {
    const text = Array.isArray(result.content) ? result.content.map((c) => ('text' in c ? c.text : '')).join(' ') : '';
    throw new Error(`${call.name} answered an error: ${text.slice(0, 300)}`);
  }
  if (result.structuredContent) return result.structuredContent as Record<string, unknown>;
  // The reference answers text only in older versions: its JSON is the text.
  const first = (result.content as Array<{ type: string; text?: string }>)[0];
  return first?.text ? (JSON.parse(first.text) as Record<string, unknown>) : {};
}
