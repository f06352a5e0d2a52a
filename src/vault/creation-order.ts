// Lists and the graph are shown in creation order, and rows written in the
// same millisecond would otherwise be ordered by their random ids. Under the
// user's lock, new rows of a kind are stamped after the newest existing one.
import type { RecordKind, Transaction } from '../storage/store.ts';

/** The creation time for the first of a write's new rows; the i-th gets this plus i. */
export async function nextCreatedAt(tx: Transaction, userId: string, kind: RecordKind, now = Date.now()): Promise<number> {
  const [newest] = await tx.listRecords(userId, { kind, limit: 1 });
  return newest ? Math.max(now, newest.createdAt + 1) : now;
}
