// The transport of one stateless /mcp POST, its JSON body already parsed by
// Fastify: the SDK's Transport interface, answering exactly as the SDK's
// WebStandardStreamableHTTPServerTransport does with no session and JSON
// answers (the same statuses and JSON-RPC errors, the same checks in the same
// order, the SDK's own schemas and limits; test/mcp/json-transport.test.ts
// sends every case to both and compares). It exists for speed: the SDK's
// transport wants a web Request built for every call and answers with a web
// Response read back through a stream, about 0.1 ms of CPU per call under
// load (bench/cpu-per-request.ts); here the answer is the JSON text itself.
import { isJsonContentType } from '@modelcontextprotocol/sdk/shared/mediaType.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { MAX_BATCH_SIZE } from '@modelcontextprotocol/sdk/server/requestBody.js';
import { isInitializeRequest, isJSONRPCRequest, type JSONRPCMessage, JSONRPCMessageSchema, type RequestId, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';

/** The headers the answer depends on. */
export interface McpPostHeaders {
  accept: string | undefined;
  contentType: string | undefined;
  protocolVersion: string | undefined;
}

/** The answer to one POST: JSON text, or '' for none (202). */
export interface McpAnswer {
  status: number;
  body: string;
}

function refusal(status: number, code: number, message: string): McpAnswer {
  return { status, body: JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }) };
}

/** The body's messages checked as the SDK checks them, or the SDK's refusal. */
function messagesOf(headers: McpPostHeaders, body: unknown): JSONRPCMessage[] | McpAnswer {
  if (!headers.accept?.includes('application/json') || !headers.accept.includes('text/event-stream')) {
    return refusal(406, -32000, 'Not Acceptable: Client must accept both application/json and text/event-stream');
  }
  if (!isJsonContentType(headers.contentType)) return refusal(415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
  if (Array.isArray(body) && body.length > MAX_BATCH_SIZE) return refusal(400, -32600, `Invalid Request: Batch must not exceed ${MAX_BATCH_SIZE} messages`);
  let messages: JSONRPCMessage[];
  try {
    messages = (Array.isArray(body) ? body : [body]).map((message) => JSONRPCMessageSchema.parse(message));
  } catch {
    return refusal(400, -32700, 'Parse error: Invalid JSON-RPC message');
  }
  if (messages.some(isInitializeRequest)) {
    if (messages.length > 1) return refusal(400, -32600, 'Invalid Request: Only one initialization request is allowed');
  } else if (headers.protocolVersion !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(headers.protocolVersion)) {
    const message = `Bad Request: Unsupported protocol version: ${headers.protocolVersion} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`;
    return refusal(400, -32000, message);
  }
  return messages;
}

export class StatelessJsonTransport implements Transport {
  onmessage?: Transport['onmessage'];
  onclose?: Transport['onclose'];
  onerror?: Transport['onerror'];
  /** The POST's requests, in order, and their responses as they come. */
  readonly #responses = new Map<RequestId, JSONRPCMessage | undefined>();
  #answered: ((answer: McpAnswer) => void) | undefined;

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.onclose?.();
  }

  /**
   * The server's messages: responses to this POST's requests are kept until
   * all are there. With no event stream, notifications (and requests to the
   * client) have nowhere to go, as with the SDK's transport in JSON mode.
   */
  async send(message: JSONRPCMessage): Promise<void> {
    // The server sends only messages it built: one with an id and a result or an error is a response.
    if (!('result' in message || 'error' in message) || message.id === undefined || !this.#responses.has(message.id)) return;
    this.#responses.set(message.id, message);
    const responses = [...this.#responses.values()];
    if (responses.includes(undefined)) return;
    this.#answered?.({ status: 200, body: JSON.stringify(responses.length === 1 ? responses[0] : responses) });
  }

  /** Hands the POST's messages to the connected server; resolves with the answer once every request has its response. */
  answer(headers: McpPostHeaders, body: unknown): Promise<McpAnswer> {
    const messages = messagesOf(headers, body);
    if (!Array.isArray(messages)) return Promise.resolve(messages);
    if (!messages.some(isJSONRPCRequest)) {
      for (const message of messages) this.onmessage?.(message);
      return Promise.resolve({ status: 202, body: '' });
    }
    return new Promise((resolve) => {
      this.#answered = resolve;
      for (const message of messages) if (isJSONRPCRequest(message)) this.#responses.set(message.id, undefined);
      for (const message of messages) this.onmessage?.(message);
    });
  }
}
