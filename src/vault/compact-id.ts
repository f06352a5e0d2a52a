// Record ids as the indexes store them: the memory index repeats an id in
// every bucket its memory's terms fall in, and the graph index's table holds
// one per entity, so a UUID is kept in 22 characters instead of 36.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A record id as index parts store it: a lower-case UUID as 22 base64url characters, any other id (an import's) behind a "~". */
export function compactId(id: string): string {
  return UUID.test(id) ? Buffer.from(id.replaceAll('-', ''), 'hex').toString('base64url') : `~${id}`;
}

export function fullId(compact: string): string {
  if (compact.startsWith('~')) return compact.slice(1);
  const hex = Buffer.from(compact, 'base64url').toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
