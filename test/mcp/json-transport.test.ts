// /mcp's transport (src/mcp/json-transport.ts) answers every POST exactly as
// the SDK's WebStandardStreamableHTTPServerTransport does without sessions
// and with JSON answers: each case goes to a fresh server of ours behind
// each transport, and the status and the JSON-RPC answer must be the same.
// The tools' operations are a plain object: what is under test is the
// transport around the real SDK server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { StatelessJsonTransport } from '../../src/mcp/json-transport.ts';
import type { ToolContext, ToolOperations } from '../../src/mcp/operations.ts';
import { createMcpServer } from '../../src/mcp/server.ts';
import { MCP_POST_HEADERS } from './helpers.ts';

const memory = { id: 'm1', content: 'Ada keeps her notes in pencil', tags: ['habit'], created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z' };
const operations = { memories: { search: async () => ({ results: [{ memory, score: 2.5 }], unreadable: [] }) }, graph: {} } as unknown as ToolOperations;
const context: ToolContext = { operations, log: { error: () => undefined } };

interface Answer {
  status: number;
  contentType: string | null;
  message: unknown;
}

async function viaSdk(headers: Record<string, string>, body: unknown): Promise<Answer> {
  const server = createMcpServer(() => context);
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  await server.connect(transport);
  const response = await transport.handleRequest(new Request('http://127.0.0.1/mcp', { method: 'POST', headers }), { parsedBody: body });
  const text = await response.text();
  await transport.close();
  return { status: response.status, contentType: response.headers.get('content-type'), message: text === '' ? null : JSON.parse(text) };
}

async function viaOurs(headers: Record<string, string>, body: unknown): Promise<Answer> {
  const server = createMcpServer(() => context);
  const transport = new StatelessJsonTransport();
  await server.connect(transport);
  const answer = await transport.answer({ accept: headers.accept, contentType: headers['content-type'], protocolVersion: headers['mcp-protocol-version'] }, body);
  await transport.close();
  // /mcp sends a non-empty answer as application/json (src/mcp/routes.ts).
  return { status: answer.status, contentType: answer.body === '' ? null : 'application/json', message: answer.body === '' ? null : JSON.parse(answer.body) };
}

const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
const ping = { jsonrpc: '2.0', id: 'p', method: 'ping' };
const toolsList = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
const recall = { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'recall', arguments: { query: 'pencil' } } };
const badArguments = { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'recall', arguments: { query: '' } } };
const initialized = { jsonrpc: '2.0', method: 'notifications/initialized' };
const versioned = { 'mcp-protocol-version': LATEST_PROTOCOL_VERSION };

const CASES: Array<[what: string, headers: Record<string, string>, body: unknown]> = [
  ['initialize', MCP_POST_HEADERS, initialize],
  ['initialize asking for a version the server does not know (negotiated, not refused)', { ...MCP_POST_HEADERS, 'mcp-protocol-version': '1999-01-01' }, { ...initialize, params: { ...initialize.params, protocolVersion: '1999-01-01' } }],
  ['tools/list with the protocol version header', { ...MCP_POST_HEADERS, ...versioned }, toolsList],
  ['tools/call', MCP_POST_HEADERS, recall],
  ['tools/call with arguments the input schema refuses', MCP_POST_HEADERS, badArguments],
  ['an unknown method', MCP_POST_HEADERS, { jsonrpc: '2.0', id: 5, method: 'resources/list' }],
  ['a notification alone', MCP_POST_HEADERS, initialized],
  ['a response from the client, alone', MCP_POST_HEADERS, { jsonrpc: '2.0', id: 7, result: {} }],
  ['a batch of requests and a notification', MCP_POST_HEADERS, [ping, initialized, toolsList, recall]],
  ['a batch of one', MCP_POST_HEADERS, [ping]],
  ['a batch with one id twice', MCP_POST_HEADERS, [ping, { ...toolsList, id: ping.id }]],
  ['initialize in a batch', MCP_POST_HEADERS, [initialize, ping]],
  ['a batch over the limit', MCP_POST_HEADERS, Array.from({ length: 101 }, (_, i) => ({ ...ping, id: i }))],
  ['a message that is not JSON-RPC', MCP_POST_HEADERS, { id: 8, method: 'ping' }],
  ['a batch with one message that is not JSON-RPC', MCP_POST_HEADERS, [ping, { jsonrpc: '1.0', id: 9, method: 'ping' }]],
  ['an unsupported protocol version', { ...MCP_POST_HEADERS, 'mcp-protocol-version': '1999-01-01' }, toolsList],
  ['an empty protocol version', { ...MCP_POST_HEADERS, 'mcp-protocol-version': '' }, toolsList],
  ['Accept without text/event-stream', { ...MCP_POST_HEADERS, accept: 'application/json' }, toolsList],
  ['Accept without application/json', { ...MCP_POST_HEADERS, accept: 'text/event-stream' }, toolsList],
  ['no Accept', { 'content-type': 'application/json' }, toolsList],
  ['a Content-Type that is not JSON', { ...MCP_POST_HEADERS, 'content-type': 'text/plain; a=application/json' }, toolsList],
  ['JSON with parameters', { ...MCP_POST_HEADERS, 'content-type': 'application/json; charset=utf-8' }, ping],
];

describe('/mcp\'s stateless JSON transport', () => {
  for (const [what, headers, body] of CASES) {
    it(`answers as the SDK's transport does: ${what}`, async () => {
      const [ours, sdk] = [await viaOurs(headers, body), await viaSdk(headers, body)];
      assert.deepEqual(ours, sdk);
    });
  }

  it('answers a tool call with the tool\'s result', async () => {
    const { status, message } = await viaOurs(MCP_POST_HEADERS, recall);
    assert.equal(status, 200);
    assert.deepEqual((message as { result: { structuredContent: unknown } }).result.structuredContent, { results: [{ memory, score: 2.5 }] });
  });
});
