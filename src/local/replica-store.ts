// The local operations' store over the client core's Replica: the replica
// seals, queues and syncs; LocalRecords holds the same live records indexed
// for the tools (creation order, names, the search corpus), refreshed with
// every change the replica reports.
import type { Replica, UserRecord } from '../e2e-client/index.ts';
import type { LocalStore } from './operations.ts';
import { type Change, type LocalRecord, LocalRecords } from './records.ts';

/** The replica's live records, indexed for the tools. */
export function recordsOf(replica: Replica): LocalRecords {
  const records = new LocalRecords();
  // Records are sealed with every field they carry (the core's shapes are loose), so an entity's created_at comes back.
  records.apply([...replica.records()].map(([id, live]) => ({ id, record: live.record as LocalRecord })));
  return records;
}

/** Brings `records` in step with the replica for the ids a sync changed. */
export function refresh(records: LocalRecords, replica: Replica, ids: readonly string[]): void {
  records.apply(ids.map((id) => ({ id, record: (replica.get(id)?.record as LocalRecord | undefined) ?? null })));
}

export function replicaStore(replica: Replica, records: LocalRecords, afterWrite: () => void = () => {}): LocalStore {
  return {
    records,
    ids: {
      entity: (name) => replica.entityId(name),
      relation: (r) => replica.relationId(r.from, r.to, r.relationType),
    },
    async commit(changes: Change[]) {
      const puts = changes.flatMap((c) => (c.record ? [c.record as UserRecord] : []));
      const deletions = changes.flatMap((c) => (c.record ? [] : [c.id]));
      // The operations never mix the two in one call: each is one cache transaction.
      if (puts.length > 0) await replica.put(...puts);
      if (deletions.length > 0) await replica.delete(...deletions);
      records.apply(changes);
      if (changes.length > 0) afterWrite();
    },
  };
}
