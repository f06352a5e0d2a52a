// Conflict rules (docs/e2e-protocol.md §4), applied when the server holds a
// newer version of an id this device also changed. Neither side is lost:
// - a memory edited on both keeps the later edit (by updated_at) in place and
//   the other side becomes a new memory tagged "conflict";
// - an edit beats a delete, whichever side made it;
// - entities merge: observations are the union (the server's order, then this
//   device's new ones) and the entityType of the edit that reached the server
//   last (this device's);
// - a relation is present if either side has it.
import { normaliseTags, type EntityRecord, type MemoryRecord } from '../vault/records.ts';
import type { UserRecord } from './envelope.ts';

export const CONFLICT_TAG = 'conflict';

export interface Resolution {
  /** What the id should hold: `keep-server` drops this device's write, otherwise it is rewritten over the server's version. */
  outcome: { keep: 'server' } | { keep: 'merged'; record: UserRecord | null };
  /** Memories to add beside it: the losing side of a memory edited on both. */
  copies: MemoryRecord[];
}

const KEEP_SERVER: Resolution = { outcome: { keep: 'server' }, copies: [] };

function sameMemory(a: MemoryRecord, b: MemoryRecord): boolean {
  return a.content === b.content && a.tags.length === b.tags.length && a.tags.every((t, i) => t === b.tags[i]);
}

function conflictCopy(loser: MemoryRecord, newId: string): MemoryRecord {
  return { ...loser, id: newId, tags: normaliseTags([...loser.tags, CONFLICT_TAG]) };
}

function mergeEntities(server: EntityRecord, local: EntityRecord): EntityRecord {
  const observations = [...server.observations];
  const seen = new Set(observations);
  for (const o of local.observations) {
    if (!seen.has(o)) {
      seen.add(o);
      observations.push(o);
    }
  }
  return { ...server, ...local, name: server.name, observations };
}

/**
 * How to reconcile this device's write (`local`, null for a delete) with the
 * server's current record (`server`, null for a tombstone or no row).
 * `newId` makes the id of a conflict copy.
 */
export function resolveConflict(server: UserRecord | null, local: UserRecord | null, newId: () => string): Resolution {
  if (local === null) return KEEP_SERVER; // both deleted, or the server's edit beats this delete
  if (server === null) return { outcome: { keep: 'merged', record: local }, copies: [] }; // this edit beats the server's delete
  if (server.kind === 'memory' && local.kind === 'memory') {
    if (sameMemory(server, local)) return KEEP_SERVER;
    // The later edit stays in place; on a tie the server's (it arrived first).
    const localIsLater = Date.parse(local.updated_at) > Date.parse(server.updated_at);
    return localIsLater
      ? { outcome: { keep: 'merged', record: local }, copies: [conflictCopy(server, newId())] }
      : { outcome: { keep: 'server' }, copies: [conflictCopy(local, newId())] };
  }
  if (server.kind === 'entity' && local.kind === 'entity') {
    const merged = mergeEntities(server, local);
    const unchanged = merged.entityType === server.entityType && merged.observations.length === server.observations.length;
    return unchanged ? KEEP_SERVER : { outcome: { keep: 'merged', record: merged }, copies: [] };
  }
  // Relations (their id is their content), or kinds that differ on one id, which ids derived from content rule out: the server's stands.
  return KEEP_SERVER;
}
