// search_nodes' matching rules, shared by every place that searches a
// knowledge graph: the server (src/vault/graph.ts, for the dashboard, REST and
// /mcp) and the end-to-end clients, which search their decrypted replica on
// the device. No node: imports, so the browser bundle uses this file as is.

/** An entity matches when the query is a case-insensitive substring of its name, its type or any observation. */
export function nodeMatcher(query: string): (name: string, entityType: string, observations: readonly string[]) => boolean {
  const needle = query.toLowerCase();
  return (name, entityType, observations) =>
    name.toLowerCase().includes(needle) || entityType.toLowerCase().includes(needle) || observations.some((o) => o.toLowerCase().includes(needle));
}

/** A relation comes with a search's (or open_nodes') answer when it starts or ends at one of the entities found. */
export function touches(names: ReadonlySet<string>, from: string, to: string): boolean {
  return names.has(from) || names.has(to);
}
