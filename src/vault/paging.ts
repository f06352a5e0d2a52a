// How lists are cut into pages, over any source of rows in creation order:
// the server's store (sealed rows) and the local MCP server's replica
// (src/local/) page by these same functions, so a cursor means the same
// thing to both and the pages break at the same places.
import type { RecordCursor } from '../storage/store.ts';
import { UnreadableRecord } from './codec.ts';
import { byCreation } from './creation-order.ts';
import { decodeCursor, encodeCursor, type SearchCursors } from './cursor.ts';
import type { Graph } from './graph-rules.ts';
import { type Entity, type Memory, type MemoryRecord, type Relation, toEntity, toMemory, toRelation } from './records.ts';
import { hasTag } from './search.ts';

/** A row's place in creation order: (createdAt, id). */
export interface Positioned {
  id: string;
  createdAt: number;
}

export interface MemoryPage {
  items: Memory[];
  next_cursor: string | null;
  /** Ids of records on this page that could not be decrypted (tampered or corrupt). */
  unreadable: string[];
}

export interface GraphPage extends Graph {
  next_cursor: string | null;
  unreadable: string[];
}

/** Where a read_graph page stopped: metadata only (kind, creation time, record id). */
export interface GraphPosition {
  phase: 'entity' | 'relation';
  createdAt: number;
  id: string;
}

/**
 * Memories newest first. With a tag, pages are filled by reading on until
 * enough memories carry it. `list` gives up to `limit` rows after `after`,
 * newest first; `open` throws UnreadableRecord for a row it cannot read.
 */
export async function pageMemories<R extends Positioned>(
  options: { limit: number; cursor?: string; tag?: string },
  list: (after: RecordCursor | undefined, limit: number) => Promise<R[]> | R[],
  open: (row: R) => MemoryRecord,
): Promise<MemoryPage> {
  let after: RecordCursor | undefined = options.cursor ? decodeCursor(options.cursor) : undefined;
  const items: Memory[] = [];
  const unreadable: string[] = [];
  const batch = options.tag ? Math.max(options.limit * 4, 100) : options.limit + 1;
  for (;;) {
    const rows = await list(after, batch);
    for (const row of rows) {
      if (items.length === options.limit) {
        return { items, next_cursor: encodeCursor(after!), unreadable };
      }
      after = { createdAt: row.createdAt, id: row.id };
      try {
        const record = open(row);
        if (!options.tag || hasTag(record.tags, options.tag)) items.push(toMemory(record));
      } catch (error) {
        if (!(error instanceof UnreadableRecord)) throw error;
        unreadable.push(row.id);
      }
    }
    if (rows.length < batch) return { items, next_cursor: null, unreadable };
  }
}

/**
 * The graph a page at a time: entities first, then relations, each oldest
 * first as the reference file lists them. `limit` counts both together.
 * A page reads only its own rows, in creation order from the cursor (`list`
 * gives up to `limit` rows of a kind after `after`, oldest first); a row that
 * cannot be read takes its place in the page and is named in `unreadable`.
 */
export async function pageGraph<R extends Positioned>(
  options: { limit: number; cursor?: string },
  list: (phase: GraphPosition['phase'], after: RecordCursor | undefined, limit: number) => Promise<R[]> | R[],
  open: { entity: (row: R) => Entity; relation: (row: R) => Relation },
): Promise<GraphPage> {
  const cursor = options.cursor ? decodeCursor(options.cursor) : undefined;
  const after: GraphPosition | undefined = cursor && { phase: cursor.phase === 'relation' ? 'relation' : 'entity', createdAt: cursor.createdAt, id: cursor.id };
  const page: GraphPage = { entities: [], relations: [], next_cursor: null, unreadable: [] };
  let last: GraphPosition | null = null;
  let room = options.limit;
  const phases = [
    { phase: 'entity' as const, take: (row: R) => void page.entities.push(open.entity(row)) },
    { phase: 'relation' as const, take: (row: R) => void page.relations.push(open.relation(row)) },
  ].filter(({ phase }) => !(after?.phase === 'relation' && phase === 'entity'));
  for (const { phase, take } of phases) {
    // One more than there is room for: whether anything follows the page.
    const rows = await list(phase, after?.phase === phase ? after : undefined, room + 1);
    for (const row of rows.slice(0, room)) {
      try {
        take(row);
      } catch (error) {
        if (!(error instanceof UnreadableRecord)) throw error;
        page.unreadable.push(row.id);
      }
      last = { phase, createdAt: row.createdAt, id: row.id };
    }
    if (rows.length > room) {
      if (last) page.next_cursor = encodeCursor(last);
      return page;
    }
    room -= rows.length;
  }
  return page;
}

/** An entity a search found, with its place in creation order. */
export interface Match extends Positioned {
  entity: Entity;
}

/** Matches in creation order, and the records that could not be read on the way to them. */
export interface Found {
  matches: Match[];
  unreadable: Positioned[];
}

/**
 * search_nodes a page at a time: the matching entities in creation order
 * after the cursor, at most `limit`, with every relation that starts or ends
 * at one of them (so a relation between entities on two pages comes with
 * both). `find` gives up to `wanted` matches after a position, oldest first;
 * it is asked for one more than the page holds, to know whether another
 * follows. A record that cannot be read is named on the page it falls in.
 */
export async function pageSearch(
  options: { limit: number; cursor?: string },
  cursors: SearchCursors,
  find: (after: RecordCursor | undefined, wanted: number) => Promise<Found> | Found,
  relationsTouching: (names: string[]) => Promise<Relation[]> | Relation[],
): Promise<GraphPage> {
  const after = options.cursor ? cursors.open(options.cursor) : undefined;
  const { matches, unreadable } = await find(after, options.limit + 1);
  const shown = matches.slice(0, options.limit);
  const last = matches.length > options.limit ? shown.at(-1)! : null;
  const names = [...new Set(shown.map((m) => m.entity.name))];
  return {
    entities: shown.map((m) => toEntity({ kind: 'entity', ...m.entity })),
    relations: names.length ? (await relationsTouching(names)).map((r) => toRelation({ kind: 'relation', ...r })) : [],
    next_cursor: last ? cursors.seal({ createdAt: last.createdAt, id: last.id }) : null,
    unreadable: unreadable.filter((u) => !last || byCreation(u, last) < 0).map((u) => u.id),
  };
}

/**
 * Matches found by reading every entity in creation order after `after`
 * (for a needle too short for the trigram index), until `wanted` are found:
 * `list` gives up to `limit` rows after a position, oldest first; `open`
 * throws UnreadableRecord for a row it cannot read.
 */
export async function scanMatches<R extends Positioned>(
  after: RecordCursor | undefined,
  wanted: number,
  list: (after: RecordCursor | undefined, limit: number) => Promise<R[]> | R[],
  open: (row: R) => Entity,
  keep: (name: string, entityType: string, observations: readonly string[]) => boolean,
): Promise<Found> {
  const found: Found = { matches: [], unreadable: [] };
  const batch = Math.max(wanted, 100);
  for (;;) {
    const rows = await list(after, batch);
    for (const row of rows) {
      try {
        const entity = open(row);
        if (keep(entity.name, entity.entityType, entity.observations)) found.matches.push({ id: row.id, createdAt: row.createdAt, entity });
      } catch (error) {
        if (!(error instanceof UnreadableRecord)) throw error;
        found.unreadable.push({ id: row.id, createdAt: row.createdAt });
      }
      if (found.matches.length === wanted) return found;
    }
    if (rows.length < batch) return found;
    after = rows.at(-1)!;
  }
}
