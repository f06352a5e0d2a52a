// The rules of the MCP reference memory server's knowledge graph, as pure
// functions over records already decrypted: the server's KnowledgeGraph
// (sealed rows, keyed lookups, an encrypted index), the local MCP server's
// replica (src/local/) and the browser client (src/web/e2e/) all apply
// exactly these, so one rule has one implementation. No node: imports at run
// time: the browser bundle includes this file.
import { AppError } from '../errors.ts';
import { type Entity, type Relation, requireObservationRoom, toEntity, toRelation } from './records.ts';

export interface Graph {
  entities: Entity[];
  relations: Relation[];
}

/** A relation's identity: the same from, to and type is the same relation. */
export function relationKey(r: Relation): string {
  return JSON.stringify([r.from, r.to, r.relationType]);
}

/** The items whose key is not taken yet (by a stored record or an earlier item), in order; `taken` grows with them. */
export function freshItems<T>(items: readonly T[], keyOf: (item: T) => string, taken: Set<string>): T[] {
  return items.filter((item) => {
    const key = keyOf(item);
    if (taken.has(key)) return false;
    taken.add(key);
    return true;
  });
}

/**
 * Adds each entity's new observations (the ones it does not hold yet) to the
 * entities found by name, in place. All or nothing: an unknown entity fails
 * the whole call before anything is written, as in the reference server.
 */
export function addObservationsTo(
  additions: ReadonlyArray<{ entityName: string; contents: string[] }>,
  entities: ReadonlyMap<string, { observations: string[] }>,
): Array<{ entityName: string; addedObservations: string[] }> {
  return additions.map(({ entityName, contents }) => {
    const entity = entities.get(entityName);
    if (!entity) throw new AppError('not_found', `Entity with name ${entityName} not found`);
    const added = contents.filter((c) => !entity.observations.includes(c));
    entity.observations.push(...added);
    requireObservationRoom(entity.observations.length);
    return { entityName, addedObservations: added };
  });
}

/** Removes the named observations, in place; missing entities and observations are ignored, as in the reference server. */
export function removeObservationsFrom(
  deletions: ReadonlyArray<{ entityName: string; observations: string[] }>,
  entities: ReadonlyMap<string, { observations: string[] }>,
): void {
  for (const { entityName, observations } of deletions) {
    const entity = entities.get(entityName);
    if (entity) entity.observations = entity.observations.filter((o) => !observations.includes(o));
  }
}

/** search_nodes: a case-insensitive substring of the name, the type or any observation. */
export function nodeMatcher(query: string): (name: string, entityType: string, observations: readonly string[]) => boolean {
  const needle = query.toLowerCase();
  return (name, entityType, observations) =>
    name.toLowerCase().includes(needle) || entityType.toLowerCase().includes(needle) || observations.some((o) => o.toLowerCase().includes(needle));
}

/** What withTouchingRelations needs of a graph; structural, so this file imports nothing that needs Node (the browser bundle uses it). */
export interface TouchingRelations {
  relationsTouching(names: ReadonlySet<string>): Relation[];
}

/** A whole graph held decrypted (the local MCP server's replica), each kind in creation order. */
export interface GraphView extends TouchingRelations {
  /** Entities passing `keep`, in creation order. */
  entities(keep: (name: string, entityType: string, observations: readonly string[]) => boolean): Entity[];
}

/** A relation comes with a search's (or open_nodes') answer when it starts or ends at one of the entities found. */
export function touches(names: ReadonlySet<string>, from: string, to: string): boolean {
  return names.has(from) || names.has(to);
}

/** The entities with every relation that starts or ends at one of them (the answer of search_nodes and open_nodes). */
export function withTouchingRelations(entities: Entity[], view: TouchingRelations): Graph {
  return {
    entities: entities.map((e) => toEntity({ kind: 'entity', ...e })),
    relations: view.relationsTouching(new Set(entities.map((e) => e.name))).map((r) => toRelation({ kind: 'relation', ...r })),
  };
}
