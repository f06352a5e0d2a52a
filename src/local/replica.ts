// The local replica of an end-to-end account: the ciphertext cache opened
// with K into the live records the tools read, local writes sealed and
// queued, and sync with the server (push the queue, pull the changes feed,
// check the manifest). Built on the client core's primitives
// (src/e2e-client/: envelope, manifest, API client); the conflict rules are
// those of docs/e2e-protocol.md §4, never losing either side.
import {
  type ConflictRow,
  E2eApi,
  E2eApiError,
  FernetKey,
  type DataKey,
  entityId,
  ManifestDigest,
  MANIFEST_ID,
  type ManifestRecord,
  manifestKey,
  OfflineError,
  openRecord,
  relationId,
  sealRecord,
  TamperedRecord,
  type Write,
} from '../e2e-client/index.ts';
import type { RecordIds } from './operations.ts';
import { type CachedRow, type PendingWrite, SqliteCache } from './cache.ts';
import { type Change, type LocalRecord, localRecordSchema, LocalRecords } from './records.ts';

const MAX_BATCH = 499; // a write batch is at most 500 writes, one of them the manifest

export interface SyncReport {
  pushed: number;
  pulled: number;
  conflicts: number;
  /** Ids the server served that do not open or go backwards: shown, never believed. */
  refused: string[];
  /** False when the server's manifest does not describe the records it served (something dropped or rolled back). */
  manifestOk: boolean;
  offline: boolean;
}

export class Replica {
  readonly records = new LocalRecords();
  /** Ids whose rows could not be opened (tampered or corrupt) or went backwards: shown to no tool, reported by sync. */
  readonly refused = new Set<string>();
  /** What the server holds as far as this device knows: each id's version and whether it is live (not a tombstone). */
  private readonly acked = new Map<string, { version: number; live: boolean }>();
  /** Whether each queued write is a live record (false: a deletion). */
  private readonly queuedLive = new Map<string, boolean>();
  private syncing: Promise<SyncReport> | null = null;

  private constructor(
    private readonly api: E2eApi,
    private readonly key: FernetKey,
    private readonly manifest: CryptoKey,
    readonly cache: SqliteCache,
  ) {}

  static async open(options: { api: E2eApi; dataKey: DataKey; userId: string; cache: SqliteCache }): Promise<Replica> {
    options.cache.bindTo(options.userId);
    const replica = new Replica(options.api, await FernetKey.import(options.dataKey), await manifestKey(options.dataKey, options.userId), options.cache);
    await replica.load();
    return replica;
  }

  get ids(): RecordIds {
    return {
      entity: (name) => entityId(this.manifest, name),
      relation: (r) => relationId(this.manifest, r.from, r.to, r.relationType),
    };
  }

  /** Opens a token for `id` at `version`; null for a tombstone or the manifest, undefined when it must not be believed. */
  private async open(row: { id: string; version: number; token: string }): Promise<LocalRecord | null | undefined> {
    try {
      const { record } = await openRecord(this.key, row);
      if (record === null || row.id === MANIFEST_ID) return null;
      const parsed = localRecordSchema.safeParse(record);
      return parsed.success ? parsed.data : undefined;
    } catch (error) {
      if (error instanceof TamperedRecord) return undefined;
      throw error;
    }
  }

  /** Cached rows, then the queued writes over them: what this device last knew. */
  private async load(): Promise<void> {
    const changes = new Map<string, LocalRecord | null>();
    for (const row of this.cache.rows()) {
      const record = await this.open(row);
      this.acked.set(row.id, { version: row.version, live: record !== null && row.id !== MANIFEST_ID });
      if (row.id === MANIFEST_ID) continue;
      if (record === undefined) this.refused.add(row.id);
      else changes.set(row.id, record);
    }
    for (const write of this.cache.pending()) {
      const record = await this.open(write);
      if (record === undefined) continue; // sealed here, so only a damaged cache gets here: the server's version stands
      this.queuedLive.set(write.id, record !== null);
      changes.set(write.id, record);
    }
    this.records.apply([...changes].map(([id, record]) => ({ id, record })));
  }

  /** The version the server holds for `id` as far as this device knows (0: none). */
  private ackedVersion(id: string): number {
    return this.acked.get(id)?.version ?? 0;
  }

  /** Rows the server holds, as this device now knows them. */
  private async learn(rows: readonly CachedRow[], cursor: number, live: ReadonlyMap<string, boolean>): Promise<void> {
    this.cache.applyServerRows(rows, cursor);
    for (const row of rows) {
      const known = this.acked.get(row.id);
      if (!known || known.version <= row.version) this.acked.set(row.id, { version: row.version, live: live.get(row.id) ?? false });
    }
  }

  /** Seals the changes, queues them in the cache (one transaction), then makes them live. */
  async commit(changes: Change[]): Promise<void> {
    if (changes.length === 0) return;
    const writes: PendingWrite[] = [];
    for (const { id, record } of changes) {
      const base = this.ackedVersion(id);
      writes.push({ id, base_version: base, version: base + 1, token: await sealRecord(this.key, id, base + 1, record) });
    }
    this.cache.queue(writes);
    for (const { id, record } of changes) this.queuedLive.set(id, record !== null);
    this.records.apply(changes);
  }

  /** How many writes wait for the server. */
  get queued(): number {
    return this.queuedLive.size;
  }

  /** One sync at a time; a call during a sync waits for it. */
  sync(): Promise<SyncReport> {
    this.syncing ??= this.runSync().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  private async runSync(): Promise<SyncReport> {
    const report: SyncReport = { pushed: 0, pulled: 0, conflicts: 0, refused: [], manifestOk: true, offline: false };
    try {
      await this.push(report);
      await this.pull(report);
      // What the pull brought may meet queued writes: push what remains.
      await this.push(report);
    } catch (error) {
      if (!(error instanceof OfflineError)) throw error;
      report.offline = true;
    }
    report.refused = [...this.refused];
    return report;
  }

  /** The manifest of the live set the server holds once `writes` are applied over what it holds now. */
  private async manifestWith(writes: readonly PendingWrite[]): Promise<ManifestRecord> {
    const live = new Map<string, number>();
    for (const [id, { version, live: isLive }] of this.acked) if (isLive && id !== MANIFEST_ID) live.set(id, version);
    for (const w of writes) {
      if (this.queuedLive.get(w.id)) live.set(w.id, w.version);
      else live.delete(w.id);
    }
    return (await ManifestDigest.of(this.manifest, live)).record();
  }

  private async push(report: SyncReport): Promise<void> {
    for (let round = 0; round < 20; round++) {
      const batch = this.cache.pending().slice(0, MAX_BATCH);
      if (batch.length === 0) return;
      const manifestBase = this.ackedVersion(MANIFEST_ID);
      const manifestWrite: Write = { id: MANIFEST_ID, base_version: manifestBase, version: manifestBase + 1, token: await sealRecord(this.key, MANIFEST_ID, manifestBase + 1, await this.manifestWith(batch)) };
      const writes = [...batch, manifestWrite];
      try {
        const result = await this.api.write(writes);
        const byId = new Map(writes.map((w) => [w.id, w]));
        const applied = result.applied.map((a) => ({ id: a.id, version: a.version, seq: a.seq, token: byId.get(a.id)!.token }));
        this.cache.acknowledge(applied, 0);
        // The cursor stays where the changes feed left it: other devices' changes may lie before these seqs.
        await this.learn(applied, 0, new Map(batch.map((w) => [w.id, this.queuedLive.get(w.id) ?? false])));
        for (const w of batch) this.queuedLive.delete(w.id);
        report.pushed += batch.length;
      } catch (error) {
        if (!(error instanceof E2eApiError) || error.code !== 'conflict') throw error;
        report.conflicts += await this.resolve(error.conflicts);
      }
    }
  }

  /**
   * A write made on a version the server no longer holds: take the server's
   * row, merge this device's change into it by the rules of
   * docs/e2e-protocol.md §4, and queue the result on the server's version.
   */
  private async resolve(conflicts: readonly ConflictRow[]): Promise<number> {
    const queued = new Map(this.cache.pending().map((w) => [w.id, w]));
    const rows: CachedRow[] = [];
    const live = new Map<string, boolean>();
    const merged: Change[] = [];
    const theirsLive: Change[] = [];
    for (const conflict of conflicts) {
      const theirs = conflict.token === null ? null : conflict.id === MANIFEST_ID ? null : await this.open({ id: conflict.id, version: conflict.version, token: conflict.token });
      if (theirs === undefined) {
        this.refused.add(conflict.id);
        continue;
      }
      if (conflict.token !== null) rows.push({ id: conflict.id, version: conflict.version, seq: conflict.seq, token: conflict.token });
      else this.acked.delete(conflict.id);
      live.set(conflict.id, theirs !== null);
      if (conflict.id === MANIFEST_ID) continue;
      const mine = queued.get(conflict.id);
      const ours = mine ? await this.open(mine) : undefined;
      this.cache.unqueue([conflict.id]);
      this.queuedLive.delete(conflict.id);
      theirsLive.push({ id: conflict.id, record: theirs });
      if (ours !== undefined) merged.push(...mergeConflict(conflict.id, ours, theirs));
    }
    await this.learn(rows, 0, live);
    // The server's version is live now; whatever of ours the merge keeps is queued on top of it.
    this.records.apply(theirsLive);
    await this.commit(merged);
    return conflicts.filter((c) => c.id !== MANIFEST_ID).length;
  }

  private async pull(report: SyncReport): Promise<void> {
    let cursor = this.cache.cursor();
    for (;;) {
      let page;
      try {
        page = await this.api.changes(cursor, 500);
      } catch (error) {
        if (error instanceof E2eApiError && error.code === 'cursor_expired') {
          this.cache.resetRows();
          this.acked.clear();
          cursor = 0;
          continue;
        }
        throw error;
      }
      const accepted: CachedRow[] = [];
      const live = new Map<string, boolean>();
      const changes: Change[] = [];
      for (const change of page.changes) {
        // A version older than one this device already saw: a rollback, refused.
        if (change.version < this.ackedVersion(change.id)) {
          this.refused.add(change.id);
          continue;
        }
        const record = change.id === MANIFEST_ID ? null : await this.open(change);
        if (record === undefined) {
          this.refused.add(change.id);
          continue;
        }
        this.refused.delete(change.id);
        accepted.push(change);
        live.set(change.id, record !== null && change.id !== MANIFEST_ID);
        // A queued write of this id stays what this device shows; the push meets the conflict and merges.
        if (change.id !== MANIFEST_ID && !this.queuedLive.has(change.id)) changes.push({ id: change.id, record });
      }
      await this.learn(accepted, page.cursor, live);
      this.records.apply(changes);
      report.pulled += accepted.length;
      cursor = page.cursor;
      if (!page.more) break;
    }
    report.manifestOk = await this.checkManifest();
  }

  /** Whether the server's manifest describes exactly the live records it served (an empty account has none). */
  private async checkManifest(): Promise<boolean> {
    const row = this.cache.row(MANIFEST_ID);
    const live: Array<[string, number]> = [];
    for (const [id, known] of this.acked) if (known.live && id !== MANIFEST_ID) live.push([id, known.version]);
    if (!row) return live.length === 0;
    let manifest: ManifestRecord;
    try {
      manifest = (await openRecord(this.key, row)).record as ManifestRecord;
    } catch {
      return false;
    }
    return (await ManifestDigest.of(this.manifest, live)).matches(manifest);
  }
}

function sameRecord(a: LocalRecord | null, b: LocalRecord | null): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The conflict rules of docs/e2e-protocol.md §4, for one id: this device's
 * change (`ours`, null for a deletion) against the server's current record
 * (`theirs`, null for a tombstone). Returns the changes to queue on top of
 * the server's version (none: the server's version stands).
 */
export function mergeConflict(id: string, ours: LocalRecord | null, theirs: LocalRecord | null): Change[] {
  // Edit beats delete, on either side.
  if (ours === null) return [];
  if (theirs === null) return [{ id, record: ours }];
  if (ours.kind === 'memory' && theirs.kind === 'memory') {
    if (sameRecord(ours, theirs)) return [];
    // The later edit stays in place; the other is kept as a new memory tagged "conflict".
    const [winner, loser] = ours.updated_at >= theirs.updated_at ? [ours, theirs] : [theirs, ours];
    const copyId = globalThis.crypto.randomUUID();
    const tags = loser.tags.some((t) => t.toLowerCase() === 'conflict') ? loser.tags : [...loser.tags, 'conflict'];
    return [
      ...(winner === ours ? [{ id, record: ours }] : []),
      { id: copyId, record: { ...loser, id: copyId, tags } },
    ];
  }
  if (ours.kind === 'entity' && theirs.kind === 'entity') {
    // Observations: the union, the server's order first; the entity type of this (the later) write.
    const observations = [...theirs.observations, ...ours.observations.filter((o) => !theirs.observations.includes(o))];
    const record = { ...theirs, entityType: ours.entityType, observations };
    return sameRecord(record, theirs) ? [] : [{ id, record }];
  }
  // Relations (present if either side has them) and anything else: the server's record stands.
  return [];
}
