// /mcp's MCP servers, built once and lent to one request at a time. Building
// one (the SDK's McpServer with 14 tools registered) for every request cost
// about 0.1 ms of CPU per call, a sixth of a call that does no storage work
// (bench/cpu-per-request.ts, noop), so /mcp keeps the servers it built and
// answers each stateless POST with one of them. What keeps one request apart
// from every other:
// - A server is lent to one request at a time: two requests in flight hold
//   two different servers. Its tools take the Vault from the context of the
//   request it is lent to, cleared when it comes back, so a server waiting
//   here reaches no vault and the vault is dropped with its request.
// - Every request gets a transport of its own (the SDK's stateless transport
//   serves one request only), connected to the lent server for that request
//   alone, so JSON-RPC ids of different clients never meet in one server.
// - An initialize request leaves the client's name and capabilities in the
//   server that answered it: such a server is dropped, never lent again.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { ToolContext } from './operations.ts';
import { createMcpServer } from './server.ts';

/** Enough for every request in flight on one process (an idle server holds about 14 KiB); servers built beyond it during a burst are dropped afterwards. */
const MAX_IDLE_SERVERS = 64;

class LendableServer {
  /** The request this server is lent to, only while it is. */
  context: ToolContext | undefined;

  readonly server: McpServer = createMcpServer(() => {
    if (!this.context) throw new Error('an MCP server was called while not lent to a request');
    return this.context;
  });

  /** Nothing of the last request is left: no context, no transport, no client it was told about. */
  get unmarked(): boolean {
    const protocol = this.server.server;
    return this.context === undefined && !this.server.isConnected() && protocol.getClientVersion() === undefined && protocol.getClientCapabilities() === undefined;
  }
}

/** The answer to one POST, read in full; an empty body means none (202). */
export interface McpAnswer {
  status: number;
  headers: Headers;
  body: string;
}

export class McpServerPool {
  readonly #idle: LendableServer[] = [];

  /** Servers waiting for a request. */
  get idleServers(): number {
    return this.#idle.length;
  }

  /** Answers one stateless POST (its body already parsed) with a server lent to it alone, working on `context`. */
  async answer(request: Request, parsedBody: unknown, context: ToolContext): Promise<McpAnswer> {
    const lent = this.#idle.pop() ?? new LendableServer();
    lent.context = context;
    // JSON answers only (no event stream): the web-standard transport is used
    // directly, with no Node-to-web stream bridging on every request.
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    try {
      await lent.server.connect(transport);
      const response = await transport.handleRequest(request, { parsedBody });
      // Read before closing: the SDK has then done with the call, and closing has no call left to abort.
      return { status: response.status, headers: response.headers, body: await response.text() };
    } finally {
      await transport.close();
      lent.context = undefined;
      if (lent.unmarked && this.#idle.length < MAX_IDLE_SERVERS) this.#idle.push(lent);
    }
  }
}
