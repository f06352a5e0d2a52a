// Free-text memories for a model: remember, recall (ranked exactly as the
// REST search, by the same vault call), list, update, forget. The
// descriptions are the model's only manual, so they say what is worth
// keeping and when to look.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { badRequest } from '../errors.ts';
import { cursor, memoryContent, memoryId, memoryTags, tagFilter } from '../http/schemas.ts';
import type { ToolContextOfCall } from './operations.ts';
import { guarded, jsonResult } from './results.ts';

export const LIST_MEMORIES_DEFAULT_LIMIT = 50;
export const LIST_MEMORIES_MAX_LIMIT = 1000;
export const RECALL_DEFAULT_LIMIT = 10;
export const RECALL_MAX_LIMIT = 50;

const memoryOutput = {
  id: z.string(),
  content: z.string(),
  tags: z.array(z.string()),
  created_at: z.string(),
  updated_at: z.string(),
};
const memory = z.object(memoryOutput);
const unreadable = z.array(z.string()).describe('ids of stored memories that could not be decrypted (tampered or corrupt)');

/** `unreadable` is part of the answer only when something could not be read. */
function withoutEmptyUnreadable(value: { unreadable: string[] }): Record<string, unknown> {
  if (value.unreadable.length > 0) return { ...value };
  const { unreadable: _none, ...rest } = value;
  return rest;
}

// Tool definitions (schemas, descriptions) are built once per process; each
// server registers them with handlers that take their operations from the
// call's context (the request an /mcp server is lent to, or the local MCP
// server's replica).
const REMEMBER_TOOL = {
  title: 'Remember',
  description:
    'Store one memory for the long term, to be recalled in later conversations. Worth remembering: facts about the user ' +
    '(name, role, projects, preferences, people they mention), decisions and their reasons, conventions of their codebase or ' +
    'work, and anything they ask you to remember. Write one self-contained fact per memory in plain sentences that will make ' +
    'sense months from now without this conversation (say who and what, not "he" or "this"). Not worth remembering: passing ' +
    'small talk, things already stored (recall first), and secrets such as passwords or API keys. Tags (optional, a few short ' +
    'words such as "preference" or a project name) help filter later.',
  inputSchema: z.object({
    content: memoryContent.describe('The memory: one self-contained fact or note, in plain text'),
    tags: memoryTags.optional().describe('Optional short labels, e.g. ["preference", "project-x"]'),
  }),
  outputSchema: z.object(memoryOutput),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
};

const RECALL_TOOL = {
  title: 'Recall',
  description:
    'Search the user\'s long-term memories by keywords, best matches first. Recall at the start of a conversation or task ' +
    'and whenever the user refers to something from before ("as I said", "my project", "the usual way"), asks what you know ' +
    'about them, or when their preferences would change your answer. Use a few distinctive keywords rather than a whole ' +
    'question; words match by prefix and ignore case and accents. Also recall before remembering, to avoid storing duplicates.',
  inputSchema: z.object({
    query: z.string().trim().min(1).max(500).describe('Keywords to look for, e.g. "coffee preference" or "deploy staging"'),
    limit: z.number().int().min(1).max(RECALL_MAX_LIMIT).optional().describe(`How many memories to return at most (default ${RECALL_DEFAULT_LIMIT})`),
    tag: tagFilter.optional().describe('Only memories carrying this tag'),
  }),
  outputSchema: z.object({
    results: z.array(z.object({ memory, score: z.number().describe('Relevance: higher is better') })),
    unreadable: unreadable.optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
};

const LIST_MEMORIES_TOOL = {
  title: 'List Memories',
  description:
    'List the user\'s memories, newest first, a page at a time. Use it to review or tidy what is stored, or when the user asks ' +
    'to see everything; to find something specific, use recall instead. When next_cursor is not null, call again with it to read on.',
  inputSchema: z.object({
    limit: z.number().int().min(1).max(LIST_MEMORIES_MAX_LIMIT).optional().describe(`Page size (default ${LIST_MEMORIES_DEFAULT_LIMIT})`),
    cursor: cursor.optional().describe('The next_cursor of the previous page, to read on'),
    tag: tagFilter.optional().describe('Only memories carrying this tag'),
  }),
  outputSchema: z.object({
    items: z.array(memory),
    next_cursor: z.string().nullable().describe('Null on the last page; otherwise pass it as cursor to read on'),
    unreadable: unreadable.optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
};

const UPDATE_MEMORY_TOOL = {
  title: 'Update Memory',
  description:
    'Correct or replace a stored memory, found by its id (from recall or list_memories): use it when a remembered fact has ' +
    'changed (a new job, a changed preference) instead of storing a contradicting second memory. Give the new content, new ' +
    'tags, or both; what you give replaces the old value.',
  inputSchema: z.object({
    id: memoryId.describe('The memory\'s id'),
    content: memoryContent.optional().describe('The new content, replacing the old'),
    tags: memoryTags.optional().describe('The new tags, replacing the old'),
  }),
  outputSchema: z.object(memoryOutput),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
};

const FORGET_TOOL = {
  title: 'Forget',
  description:
    'Delete a stored memory for good, found by its id (from recall or list_memories). Use it when the user asks you to forget ' +
    'something, or a memory is wrong and cannot be corrected with update_memory. It cannot be undone.',
  inputSchema: z.object({ id: memoryId.describe('The memory\'s id') }),
  outputSchema: z.object({ deleted: z.boolean(), id: z.string() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
};

export function registerMemoryTools(server: McpServer, contextOfCall: ToolContextOfCall): void {

  server.registerTool('remember', REMEMBER_TOOL, guarded(contextOfCall, 'remember', async ({ content, tags }, { memories }) => jsonResult({ ...(await memories.create({ content, ...(tags ? { tags } : {}) })) })));

  server.registerTool('recall', RECALL_TOOL, guarded(contextOfCall, 'recall', async ({ query, limit, tag }, { memories }) => {
    const found = await memories.search({ q: query, limit: limit ?? RECALL_DEFAULT_LIMIT, ...(tag ? { tag } : {}) });
    return jsonResult(withoutEmptyUnreadable(found));
  }));

  server.registerTool('list_memories', LIST_MEMORIES_TOOL, guarded(contextOfCall, 'list_memories', async ({ limit, cursor: after, tag }, { memories }) => {
    const page = await memories.list({ limit: limit ?? LIST_MEMORIES_DEFAULT_LIMIT, ...(after ? { cursor: after } : {}), ...(tag ? { tag } : {}) });
    const structured = withoutEmptyUnreadable(page);
    const note = page.next_cursor ? `\n\nMore memories remain: call list_memories with cursor "${page.next_cursor}" to read the next page.` : '';
    return jsonResult(structured, JSON.stringify(structured, null, 2) + note);
  }));

  server.registerTool('update_memory', UPDATE_MEMORY_TOOL, guarded(contextOfCall, 'update_memory', async ({ id, content, tags }, { memories }) => {
    if (content === undefined && tags === undefined) throw badRequest('give content, tags or both to change');
    return jsonResult({ ...(await memories.update(id, { ...(content !== undefined ? { content } : {}), ...(tags ? { tags } : {}) })) });
  }));

  server.registerTool('forget', FORGET_TOOL, guarded(contextOfCall, 'forget', async ({ id }, { memories }) => {
    await memories.delete(id);
    return jsonResult({ deleted: true, id });
  }));
}
