// The memories dashboard: list (newest first, paged by cursor), search,
// tag filter, create, edit and the delete confirmation.
import { LIMITS } from '../../vault/records.ts';
import type { Memory } from '../../vault/records.ts';
import { html } from '../html.ts';
import { csrfField, layout, type Notice, type PageContext } from './layout.ts';

export interface MemoryListing {
  memories: Memory[];
  query: { q?: string | undefined; tag?: string | undefined; cursor?: string | undefined };
  nextCursor: string | null;
  unreadable: number;
}

function when(iso: string) {
  return html`<time datetime="${iso}">${iso.slice(0, 16).replace('T', ' ')} UTC</time>`;
}

export function tagList(tags: string[]) {
  if (tags.length === 0) return '';
  return html`<ul class="tags" aria-label="Tags">${tags.map((t) => html`<li><a class="tag" href="/app?${new URLSearchParams({ tag: t }).toString()}">${t}</a></li>`)}</ul>`;
}

function memoryItem(memory: Memory, withActions: boolean) {
  return html`<li class="memory">
  <p class="content" id="memory-${memory.id}">${memory.content}</p>
  <div class="meta">${tagList(memory.tags)}<span class="grow"></span>${when(memory.updated_at)}
    ${withActions ? html`<span class="item-actions"><a href="/app/memories/${memory.id}/edit" aria-describedby="memory-${memory.id}">Edit</a> <a href="/app/memories/${memory.id}/delete" aria-describedby="memory-${memory.id}">Delete</a></span>` : ''}
  </div>
</li>`;
}

function memoryFields(memory?: Memory) {
  return html`<label for="content">Memory</label>
    <textarea id="content" name="content" required maxlength="${LIMITS.contentChars}">${memory?.content ?? ''}</textarea>
    <label for="tags">Tags <span class="hint">Separated by commas, up to ${LIMITS.tags}.</span></label>
    <input id="tags" name="tags" type="text" autocomplete="off" maxlength="${LIMITS.tags * (LIMITS.tagChars + 2)}" value="${memory?.tags.join(', ') ?? ''}">`;
}

export function memoriesView(ctx: PageContext, listing: MemoryListing, notice?: Notice) {
  const { q, tag, cursor } = listing.query;
  const filtered = Boolean(q || tag);
  const next = listing.nextCursor ? `/app?${new URLSearchParams({ ...(tag ? { tag } : {}), cursor: listing.nextCursor }).toString()}` : null;
  return layout(ctx, {
    title: 'Memories',
    notice,
    body: html`<h1>Memories</h1>
<form class="card" method="get" action="/app" role="search">
  <div class="toolbar">
    <div><label for="q">Search</label><input id="q" name="q" type="search" maxlength="500" value="${q ?? ''}"></div>
    <div><label for="tag">Tag</label><input id="tag" name="tag" type="text" maxlength="${LIMITS.tagChars}" value="${tag ?? ''}"></div>
    <button type="submit" class="secondary">Search</button>
    ${filtered ? html`<a href="/app">Clear</a>` : ''}
  </div>
</form>

<section class="card" aria-labelledby="add-memory">
  <h2 id="add-memory">Add a memory</h2>
  <form method="post" action="/app/memories">
    ${csrfField(ctx)}
    ${memoryFields()}
    <div class="actions"><button type="submit">Save memory</button></div>
  </form>
</section>

<h2 id="results">${q ? html`Results for “${q}”` : tag ? html`Tagged “${tag}”` : 'Newest first'}${q && tag ? html` tagged “${tag}”` : ''}</h2>
${listing.unreadable > 0 ? html`<p class="notice error">${listing.unreadable} stored record(s) could not be decrypted with the current key.</p>` : ''}
${listing.memories.length === 0
  ? html`<p class="muted">${filtered ? 'Nothing matches.' : 'No memories yet. Add one above, or connect Claude and let it remember for you.'}</p>`
  : html`<ul class="list-plain" aria-labelledby="results">${listing.memories.map((m) => memoryItem(m, true))}</ul>`}
<nav class="pager" aria-label="Pages">
  ${cursor ? html`<a href="/app${tag ? `?${new URLSearchParams({ tag }).toString()}` : ''}">← Newest</a>` : html`<span></span>`}
  ${next ? html`<a href="${next}" rel="next">Older →</a>` : ''}
</nav>`,
  });
}

/** The form for a new memory (after a refused create) or an existing one. */
export function memoryFormView(ctx: PageContext, page: { memory?: Memory | undefined; error?: string | undefined }) {
  const { memory } = page;
  const title = memory?.id ? 'Edit memory' : 'Add a memory';
  return layout(ctx, {
    title,
    notice: page.error ? { kind: 'error', text: page.error } : undefined,
    body: html`<section class="card">
  <h1>${title}</h1>
  <form method="post" action="${memory?.id ? `/app/memories/${memory.id}` : '/app/memories'}">
    ${csrfField(ctx)}
    ${memoryFields(memory)}
    <div class="actions"><button type="submit">${memory?.id ? 'Save changes' : 'Save memory'}</button> <a href="/app">Cancel</a></div>
  </form>
</section>`,
  });
}

export function deleteMemoryView(ctx: PageContext, memory: Memory) {
  return layout(ctx, {
    title: 'Delete memory',
    body: html`<section class="card">
  <h1>Delete this memory?</h1>
  <ul class="list-plain">${memoryItem(memory, false)}</ul>
  <p>This cannot be undone.</p>
  <form method="post" action="/app/memories/${memory.id}/delete">
    ${csrfField(ctx)}
    <div class="actions"><button type="submit" class="danger">Delete memory</button> <a href="/app">Keep it</a></div>
  </form>
</section>`,
  });
}
