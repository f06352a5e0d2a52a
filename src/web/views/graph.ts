// The knowledge graph (the MCP reference memory server's entities and
// relations), a page at a time or as search results.
import type { Entity, Relation } from '../../vault/records.ts';
import { html } from '../html.ts';
import { layout, type PageContext } from './layout.ts';

export interface GraphListing {
  entities: Entity[];
  relations: Relation[];
  q?: string | undefined;
  cursor?: string | undefined;
  nextCursor: string | null;
  unreadable: number;
}

/** The graph page, or a search's, from its start or from a cursor. */
function graphHref(q: string | undefined, cursor?: string): string {
  const params = new URLSearchParams({ ...(q ? { q } : {}), ...(cursor ? { cursor } : {}) }).toString();
  return params ? `/app/graph?${params}` : '/app/graph';
}

const nodeLink = (name: string) => html`<a href="/app/graph?${new URLSearchParams({ q: name }).toString()}">${name}</a>`;

function entityCard(entity: Entity) {
  return html`<li class="card entity">
  <h3>${entity.name}</h3>
  <div class="type">${entity.entityType}</div>
  ${entity.observations.length > 0 ? html`<ul aria-label="Observations">${entity.observations.map((o) => html`<li>${o}</li>`)}</ul>` : html`<p class="muted small">No observations.</p>`}
</li>`;
}

function relationRow(relation: Relation) {
  return html`<li class="relation">${nodeLink(relation.from)} <span class="arrow">— ${relation.relationType} →</span> ${nodeLink(relation.to)}</li>`;
}

export function graphView(ctx: PageContext, listing: GraphListing) {
  const { q, cursor, nextCursor } = listing;
  const empty = listing.entities.length === 0 && listing.relations.length === 0;
  return layout(ctx, {
    title: 'Knowledge graph',
    body: html`<h1>Knowledge graph</h1>
<p class="muted">Entities, their observations and the relations between them, as Claude stores them through the memory tools (or as imported from a reference <code>memory.jsonl</code>).</p>
<form class="card" method="get" action="/app/graph" role="search">
  <div class="toolbar">
    <div><label for="graph-q">Search names, types and observations</label><input id="graph-q" name="q" type="search" maxlength="500" value="${q ?? ''}"></div>
    <button type="submit" class="secondary">Search</button>
    ${q ? html`<a href="/app/graph">Show all</a>` : ''}
  </div>
</form>
${listing.unreadable > 0 ? html`<p class="notice error">${listing.unreadable} stored record(s) could not be decrypted with the current key.</p>` : ''}
${empty
  ? html`<p class="muted">${q ? 'Nothing matches.' : html`The graph is empty. <a href="/app/data">Import a memory.jsonl</a> or let Claude build it.`}</p>`
  : html`${listing.entities.length > 0 ? html`<h2 id="entities">Entities</h2><ul class="list-plain entities" aria-labelledby="entities">${listing.entities.map(entityCard)}</ul>` : ''}
${listing.relations.length > 0 ? html`<h2 id="relations">Relations</h2><ul class="card" aria-labelledby="relations">${listing.relations.map(relationRow)}</ul>` : ''}`}
<nav class="pager" aria-label="Pages">
  ${cursor ? html`<a href="${graphHref(q)}">← First page</a>` : html`<span></span>`}
  ${nextCursor ? html`<a href="${graphHref(q, nextCursor)}" rel="next">${q ? 'More matches →' : 'Next page →'}</a>` : ''}
</nav>`,
  });
}
