// The memories dashboard: list, search, tag filter, create, edit, delete
// (with a confirmation page), all through the request's Vault.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.ts';
import { cursor, memoryContent, memoryId, memoryTags } from '../../http/schemas.ts';
import { LIMITS } from '../../vault/records.ts';
import type { WebDeps } from '../deps.ts';
import { withFormErrors } from '../errors.ts';
import { pageContext, sendHtml } from '../render.ts';
import { unlockedVault } from '../session.ts';
import { type MemoryListing, deleteMemoryView, memoriesView, memoryFormView } from '../views/memories.ts';

const PAGE_SIZE = 20;
const SEARCH_RESULTS = 50;
const DONE: Record<string, string> = { created: 'Memory saved.', updated: 'Memory updated.', deleted: 'Memory deleted.' };

/** Empty form fields mean "not given". */
const optionalText = (max: number) => z.string().trim().max(max).optional().transform((v) => v || undefined);

const memoryForm = z.object({ content: z.string().max(LIMITS.contentChars * 2), tags: z.string().max(LIMITS.tags * (LIMITS.tagChars + 2) * 2).default('') });

/** The form's text as the API would take it: CRLF from the browser becomes LF, tags split on commas. */
function parseMemoryForm(form: z.infer<typeof memoryForm>): { content: string; tags: string[] } {
  const content = memoryContent.safeParse(form.content.replace(/\r\n/g, '\n'));
  if (!content.success) throw new AppError('validation_failed', `the memory must be 1 to ${LIMITS.contentChars} characters`);
  const tags = memoryTags.safeParse(form.tags.split(',').map((t) => t.trim()).filter(Boolean));
  if (!tags.success) throw new AppError('validation_failed', `give at most ${LIMITS.tags} tags of at most ${LIMITS.tagChars} characters each`);
  return { content: content.data, tags: tags.data };
}

export const memoryPages: FastifyPluginAsyncZod<WebDeps> = async (app, { assets }) => {
  const config = { need: 'unlocked' as const };
  const hide = true;
  const byId = z.object({ id: memoryId });

  app.get('/app', {
    schema: { hide, querystring: z.object({ q: optionalText(500), tag: optionalText(LIMITS.tagChars), cursor: cursor.optional(), done: z.string().max(20).optional() }) },
    config,
  }, async (request, reply) => {
    const vault = unlockedVault(request);
    const { q, tag } = request.query;
    let listing: MemoryListing;
    if (q) {
      const found = await vault.memories.search({ q, limit: SEARCH_RESULTS, ...(tag ? { tag } : {}) });
      listing = { memories: found.results.map((r) => r.memory), query: { q, tag }, nextCursor: null, unreadable: found.unreadable.length };
    } else {
      const page = await vault.memories.list({ limit: PAGE_SIZE, ...(tag ? { tag } : {}), ...(request.query.cursor ? { cursor: request.query.cursor } : {}) });
      listing = { memories: page.items, query: { tag, cursor: request.query.cursor }, nextCursor: page.next_cursor, unreadable: page.unreadable.length };
    }
    const done = DONE[request.query.done ?? ''];
    return sendHtml(reply, memoriesView(pageContext(request, assets), listing, done ? { kind: 'ok', text: done } : undefined));
  });

  app.post('/app/memories', { schema: { hide, body: memoryForm }, config }, async (request, reply) =>
    withFormErrors(reply, async () => {
      await unlockedVault(request).memories.create(parseMemoryForm(request.body));
      return reply.redirect('/app?done=created', 303);
    }, (error) => memoryFormView(pageContext(request, assets), { memory: draft(request.body), error })));

  app.get('/app/memories/:id/edit', { schema: { hide, params: byId }, config }, async (request, reply) => {
    const memory = await unlockedVault(request).memories.get(request.params.id);
    return sendHtml(reply, memoryFormView(pageContext(request, assets), { memory }));
  });

  app.post('/app/memories/:id', { schema: { hide, params: byId, body: memoryForm }, config }, async (request, reply) =>
    withFormErrors(reply, async () => {
      await unlockedVault(request).memories.update(request.params.id, parseMemoryForm(request.body));
      return reply.redirect('/app?done=updated', 303);
    }, (error) => memoryFormView(pageContext(request, assets), { memory: { ...draft(request.body), id: request.params.id }, error })));

  app.get('/app/memories/:id/delete', { schema: { hide, params: byId }, config }, async (request, reply) => {
    const memory = await unlockedVault(request).memories.get(request.params.id);
    return sendHtml(reply, deleteMemoryView(pageContext(request, assets), memory));
  });

  app.post('/app/memories/:id/delete', { schema: { hide, params: byId }, config }, async (request, reply) => {
    await unlockedVault(request).memories.delete(request.params.id);
    return reply.redirect('/app?done=deleted', 303);
  });
};

/** What the user typed, to show again in the form when it was refused. */
function draft(form: z.infer<typeof memoryForm>) {
  return { id: '', content: form.content, tags: form.tags.split(',').map((t) => t.trim()).filter(Boolean), created_at: '', updated_at: '' };
}
