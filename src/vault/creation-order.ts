// Lists and the graph are shown in creation order, and rows written in the
// same millisecond would otherwise be ordered by their random ids. New rows
// of a kind are stamped after the newest one already committed, so a
// client's writes one after the other keep their order.
import type { RecordCursor, RecordKind, Store } from '../storage/store.ts';

/** The creation time for the first of a write's new rows, given the newest stored one's; the i-th gets this plus i. */
export function createdAtAfter(newestCreatedAt: number | null, now = Date.now()): number {
  return newestCreatedAt === null ? now : Math.max(now, newestCreatedAt + 1);
}

/** The creation time for the first of a write's new rows of `kind`, read from the store. */
export async function nextCreatedAt(tx: Pick<Store, 'listRecords'>, userId: string, kind: RecordKind, now = Date.now()): Promise<number> {
  const [newest] = await tx.listRecords(userId, { kind, limit: 1 });
  return createdAtAfter(newest?.createdAt ?? null, now);
}

/** Creation order, as a sort comparator: by creation time, then by id. */
export function byCreation(a: RecordCursor, b: RecordCursor): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
