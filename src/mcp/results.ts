// How tool handlers answer: structured content plus the same as pretty JSON
// text (the reference memory server's shape), and failures as `isError`
// results whose text comes from the one error mapping the HTTP API uses, so
// an AppError's fixed message reaches the model and anything else is a
// generic sentence, never a stack trace or a driver's message.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { toErrorAnswer } from '../http/errors.ts';
import { describeErrorForLog } from '../logger.ts';
import type { ToolContextOfCall, ToolOperations } from './operations.ts';

export function jsonResult(structured: Record<string, unknown>, text = JSON.stringify(structured, null, 2)): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

export function errorResult(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

/**
 * Wraps a tool handler: it gets the operations of the call's context, taken
 * once when the call starts; every failure becomes an `isError` result, and
 * 5xx-class failures are logged as metadata to the same context's log.
 */
export function guarded<A>(contextOfCall: ToolContextOfCall, tool: string, handler: (args: A, operations: ToolOperations) => Promise<CallToolResult>): (args: A) => Promise<CallToolResult> {
  return async (args) => {
    const { operations, log } = contextOfCall();
    try {
      return await handler(args, operations);
    } catch (error) {
      const answer = toErrorAnswer(error);
      if (answer.status >= 500) log.error({ tool, ...describeErrorForLog(error) }, 'mcp tool failed');
      return errorResult(answer.body.error.message);
    }
  };
}
