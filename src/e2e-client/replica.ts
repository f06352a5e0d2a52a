// A device's replica of an E2E account and the sync engine that keeps it in
// step with the server (docs/e2e-protocol.md §2-§4).
//
// The replica holds the decrypted live records in memory (id → {version,
// record}) and persists only ciphertext through a ReplicaCache: the rows the
// server confirmed, the feed cursor and the queue of local writes. Local
// writes apply at once and queue; sync() then
//   1. pulls the changes feed from the cursor, page by page, and believes a
//      row only if its token opens under K as exactly that id and version and
//      no version goes backwards from what this device saw (410
//      cursor_expired: it starts again from 0);
//   2. pushes the queued writes with their base versions and the manifest
//      update, in batches; on 409 it pulls, merges by the conflict rules and
//      pushes again;
//   3. checks the manifest's count and digest against the confirmed live set,
//      and throws IntegrityError, never accepting quietly, when the server
//      dropped or rolled back a record.
// An OfflineError from any step leaves the queue as it was: sync again later.
import { type E2eApi, E2eApiError, type Write } from './api.ts';
import type { CachedRow, CacheChange, ReplicaCache } from './cache.ts';
import { resolveConflict } from './conflicts.ts';
import { openRecord, sealRecord, type SealedRecord, TamperedRecord, type UserRecord } from './envelope.ts';
import type { FernetKey } from './fernet.ts';
import { type AccountKeys, type DataKey, entityId, newMemoryId, openAccountKeys, relationId } from './keys.ts';
import { MANIFEST_ID, ManifestDigest, type ManifestRecord } from './manifest.ts';

export type IntegrityFailure =
  | 'tampered' // a token that does not open as its row's id and version under K
  | 'rolled-back' // a version, or the feed's cursor, went backwards from what this device saw
  | 'dropped' // the server answered that it has no row for an id this device saw live
  | 'bad-feed' // the changes feed is out of seq order
  | 'manifest-missing' // records are live but no manifest describes them
  | 'manifest-mismatch'; // the live set is not the one the manifest names: a record was dropped or rolled back

/**
 * The server served something that K proves wrong. Nothing of the offending
 * page was applied. The message names the record id and the failure only:
 * ids are random or keyed hashes, never plaintext.
 */
export class IntegrityError extends Error {
  constructor(
    readonly failure: IntegrityFailure,
    readonly recordId: string | null,
    detail: string,
  ) {
    super(`the server's copy of this account cannot be trusted: ${detail}`);
    this.name = 'IntegrityError';
  }
}

/** A live user record as this device sees it (its own pending writes included). */
export interface LiveRecord {
  version: number;
  record: UserRecord;
}

interface Confirmed {
  version: number;
  seq: number;
  token: string;
  record: SealedRecord | null;
}

interface Pending {
  base_version: number;
  version: number;
  token: string;
  record: UserRecord | null;
}

export interface SyncReport {
  /** Rows taken from the changes feed. */
  pulled: number;
  /** Local writes the server accepted (the manifest not counted). */
  pushed: number;
  /** Ids whose writes met a newer version on the server and were merged. */
  merged: string[];
  /** New memories made to keep the losing side of a conflict (tagged "conflict"). */
  conflictCopies: string[];
  /** Ids whose live record changed here because of this sync (for a search index to refresh). */
  changed: string[];
  /** Whether the cursor was too old and the replica was rebuilt from cursor 0. */
  resynced: boolean;
}

export interface ReplicaOptions {
  api: E2eApi;
  userId: string;
  /** K as 32 raw bytes, or its non-extractable working keys (accountKeys(K, userId)), which a browser keeps instead of K. */
  dataKey: DataKey | AccountKeys;
  cache: ReplicaCache;
  /** Rows per changes-feed page, 1-1000. */
  pageSize?: number;
}

const MAX_WRITES_PER_BATCH = 499; // the server takes 500, and every batch carries the manifest too
const MAX_BATCH_CHARS = 7 * 1024 * 1024; // under the server's 8 MiB body limit
const MAX_PUSH_ATTEMPTS = 8;

export class Replica {
  readonly userId: string;
  readonly #api: E2eApi;
  readonly #cache: ReplicaCache;
  readonly #key: FernetKey;
  readonly #manifestKey: CryptoKey;
  readonly #pageSize: number;
  readonly #confirmed = new Map<string, Confirmed>();
  readonly #pending = new Map<string, Pending>();
  /** The digest of the confirmed live user records, kept as rows change. */
  #digest: ManifestDigest;
  #cursor = 0;
  #lock: Promise<unknown> = Promise.resolve();

  private constructor(options: ReplicaOptions, key: FernetKey, manifest: CryptoKey) {
    this.userId = options.userId;
    this.#api = options.api;
    this.#cache = options.cache;
    this.#key = key;
    this.#manifestKey = manifest;
    this.#pageSize = options.pageSize ?? 500;
    this.#digest = new ManifestDigest(manifest);
  }

  /** Opens the replica from its cache, checking every cached token as if the server had just sent it. */
  static async open(options: ReplicaOptions): Promise<Replica> {
    const keys = await openAccountKeys(options.dataKey, options.userId);
    const replica = new Replica(options, keys.fernet, keys.manifest);
    const snapshot = await options.cache.load();
    const opened = await Promise.all(snapshot.rows.map((row) => replica.#open(row)));
    await replica.#setConfirmed(snapshot.rows.map((row, i): [string, Confirmed] => [row.id, { ...row, record: opened[i]!.record }]));
    for (const write of snapshot.pending) {
      const { record } = await replica.#open(write);
      if (record?.kind === 'manifest' || write.id === MANIFEST_ID) throw new IntegrityError('tampered', write.id, 'a queued write names the manifest');
      replica.#pending.set(write.id, { ...write, record });
    }
    replica.#cursor = snapshot.cursor;
    return replica;
  }

  // ---- reading ---------------------------------------------------------------

  /** The live record of an id (this device's pending writes included), or undefined. */
  get(id: string): LiveRecord | undefined {
    const pending = this.#pending.get(id);
    if (pending) return pending.record ? { version: pending.version, record: pending.record } : undefined;
    const row = this.#confirmed.get(id);
    return row?.record && row.record.kind !== 'manifest' ? { version: row.version, record: row.record } : undefined;
  }

  /** Every live user record, by id. */
  *records(): IterableIterator<[string, LiveRecord]> {
    for (const id of new Set([...this.#confirmed.keys(), ...this.#pending.keys()])) {
      const live = this.get(id);
      if (live) yield [id, live];
    }
  }

  get size(): number {
    let n = 0;
    for (const _ of this.records()) n += 1;
    return n;
  }

  /** Local writes not yet accepted by the server. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  get cursor(): number {
    return this.#cursor;
  }

  /** The id an entity of this name has in this account. */
  entityId(name: string): Promise<string> {
    return entityId(this.#manifestKey, name);
  }

  /** The id a relation has in this account. */
  relationId(from: string, to: string, relationType: string): Promise<string> {
    return relationId(this.#manifestKey, from, to, relationType);
  }

  /** The id a record is stored under: a memory's own id, an entity's or relation's keyed id. */
  idOf(record: UserRecord): Promise<string> {
    if (record.kind === 'memory') return Promise.resolve(record.id);
    if (record.kind === 'entity') return this.entityId(record.name);
    return this.relationId(record.from, record.to, record.relationType);
  }

  // ---- local writes ----------------------------------------------------------

  /** Creates or replaces records here and now (queued for the next sync); returns their ids. */
  async put(...records: UserRecord[]): Promise<string[]> {
    const ids = await Promise.all(records.map((record) => this.idOf(record)));
    const changes = records.map((record, i): [string, UserRecord | null] => [ids[i]!, record]);
    await this.#exclusive(() => this.#write(changes));
    return changes.map(([id]) => id);
  }

  /** Deletes records here and now (a sealed tombstone is queued); ids that are not live are ignored. */
  async delete(...ids: string[]): Promise<void> {
    await this.#exclusive(() => this.#write(ids.filter((id) => this.get(id) !== undefined).map((id) => [id, null])));
  }

  /** A fresh memory id (a random UUID). */
  newMemoryId(): string {
    return newMemoryId();
  }

  async #write(changes: Array<[string, UserRecord | null]>): Promise<void> {
    // id → the queued write, or null when the queue should forget the id.
    const next = new Map<string, Pending | null>();
    if (changes.some(([id]) => id === MANIFEST_ID)) throw new RangeError('the manifest is written by sync only');
    // Sealed concurrently; a later change of the same id in the list wins.
    const sealed = await Promise.all(
      changes.map(async ([id, record]): Promise<Pending | null> => {
        const server = this.#confirmed.get(id);
        // Deleting what the server does not hold live needs no tombstone: forgetting the queued write is enough.
        if (record === null && !server?.record) return null;
        const base = server?.version ?? 0;
        return { base_version: base, version: base + 1, token: await sealRecord(this.#key, id, base + 1, record), record };
      }),
    );
    changes.forEach(([id], i) => next.set(id, sealed[i] ?? null));
    await this.#queue(next);
  }

  /** Persists, then applies, a change to the queue: id → its queued write, or null to forget it. */
  async #queue(updates: Map<string, Pending | null>): Promise<void> {
    const change: CacheChange = { putPending: [], removePending: [] };
    for (const [id, p] of updates) {
      if (p) change.putPending!.push({ id, base_version: p.base_version, version: p.version, token: p.token });
      else change.removePending!.push(id);
    }
    await this.#cache.apply(change);
    for (const [id, p] of updates) {
      if (p) this.#pending.set(id, p);
      else this.#pending.delete(id);
    }
  }

  // ---- sync ------------------------------------------------------------------

  /**
   * Pull, push, verify (see the top of this file). `full` re-reads the whole
   * feed from cursor 0, an audit that also notices a row dropped before this
   * device last synced.
   */
  sync(options: { full?: boolean } = {}): Promise<SyncReport> {
    return this.#exclusive(async () => {
      const report: SyncReport = { pulled: 0, pushed: 0, merged: [], conflictCopies: [], changed: [], resynced: false };
      const changed = new Set<string>();
      await this.#pull(options.full ?? false, report, changed);
      for (let attempt = 0; this.#pending.size > 0; attempt++) {
        try {
          await this.#push(report);
        } catch (error) {
          if (!(error instanceof E2eApiError) || error.code !== 'conflict' || attempt + 1 >= MAX_PUSH_ATTEMPTS) throw error;
          await this.#absorbConflicts(error, changed);
          await this.#pull(false, report, changed);
          await this.#rebase(report, changed);
        }
      }
      await this.#verifyManifest();
      report.changed = [...changed];
      return report;
    });
  }

  async #pull(full: boolean, report: SyncReport, changed: Set<string>): Promise<void> {
    const startCursor = this.#cursor;
    let cursor = full ? 0 : startCursor;
    const served = full ? new Set<string>() : null;
    for (;;) {
      let page;
      try {
        page = await this.#api.changes(cursor, this.#pageSize);
      } catch (error) {
        if (!full && error instanceof E2eApiError && error.code === 'cursor_expired') {
          report.resynced = true;
          return this.#pull(true, report, changed);
        }
        throw error;
      }
      // Verify the whole page before any of it is applied.
      let last = cursor;
      for (const change of page.changes) {
        if (!(change.seq > last)) throw new IntegrityError('bad-feed', change.id, `the changes feed went back to seq ${change.seq} after ${last}`);
        last = change.seq;
      }
      const opened = await Promise.all(page.changes.map((change) => this.#open(change)));
      const rows: Array<[CachedRow, SealedRecord | null]> = page.changes.map((change, i) => {
        this.#checkNotBackwards(change.id, change.version);
        return [{ id: change.id, version: change.version, seq: change.seq, token: change.token }, opened[i]!.record];
      });
      // The cursor never goes back: not within the feed, and not below what this device had before a full read ended.
      const floor = Math.max(last, cursor, page.more ? 0 : startCursor);
      if (page.cursor < floor) throw new IntegrityError('rolled-back', null, `the feed's cursor went back to ${page.cursor} from ${floor}`);
      const stale: string[] = [];
      if (served) {
        for (const [row] of rows) served.add(row.id);
        // The last page of a full read: rows the server no longer serves are gone (purged tombstones,
        // or records deleted and purged since); the manifest check below says whether that was honest.
        if (!page.more) for (const id of this.#confirmed.keys()) if (!served.has(id)) stale.push(id);
      }
      // A full read that stops half-way (offline) must not leave the device's cursor lower than it was:
      // the next sync then starts where it stood, and the cursor's floor keeps guarding against a rollback.
      const kept = full ? Math.max(startCursor, page.cursor) : page.cursor;
      await this.#cache.apply({ rows: rows.map(([row]) => row), removeRows: stale, cursor: kept });
      for (const [row] of rows) {
        if (this.#confirmed.get(row.id)?.version !== row.version) {
          if (!this.#pending.has(row.id)) changed.add(row.id);
          report.pulled += 1;
        }
      }
      for (const id of stale) if (this.#confirmed.get(id)?.record && !this.#pending.has(id)) changed.add(id);
      await this.#setConfirmed([...rows.map(([row, record]): [string, Confirmed] => [row.id, { ...row, record }]), ...stale.map((id): [string, null] => [id, null])]);
      this.#cursor = kept;
      cursor = page.cursor;
      if (!page.more) break;
      if (page.changes.length === 0) throw new IntegrityError('bad-feed', null, 'the changes feed said there is more but sent nothing');
    }
    // Whatever was pulled may leave queued writes behind the server's versions: merge them now, not on a 409.
    await this.#rebase(report, changed);
  }

  /** A version lower than one this device already saw for the id is a rollback, unless the id was deleted (its tombstone may be purged and the id made anew). */
  #checkNotBackwards(id: string, version: number): void {
    const seen = this.#confirmed.get(id);
    if (seen && version < seen.version && seen.record !== null) {
      throw new IntegrityError('rolled-back', id, `record ${id} went back from version ${seen.version} to ${version}`);
    }
  }

  /** The server's rows in a 409: verified like feed rows and taken as confirmed, so the merge sees them even before the feed does. */
  async #absorbConflicts(error: E2eApiError, changed: Set<string>): Promise<void> {
    const rows: CachedRow[] = [];
    const purged: string[] = [];
    for (const c of error.conflicts) {
      if (c.token === null || c.version === 0) {
        const seen = this.#confirmed.get(c.id);
        // The server has no row for an id this device saw live: it dropped it.
        if (seen?.record) throw new IntegrityError('dropped', c.id, `the server no longer has record ${c.id}, which this device saw at version ${seen.version}`);
        // A tombstone the server purged: the next write of the id starts again from version 1.
        if (seen) purged.push(c.id);
        continue;
      }
      const row = { id: c.id, version: c.version, seq: c.seq, token: c.token };
      const { record } = await this.#open(row);
      this.#checkNotBackwards(c.id, c.version);
      if ((this.#confirmed.get(c.id)?.version ?? 0) >= c.version) continue;
      rows.push(row);
      await this.#setConfirmed([[c.id, { ...row, record }]]);
      if (!this.#pending.has(c.id)) changed.add(c.id);
    }
    // The cursor is not moved: the feed still serves these rows, in order, on the next pull.
    if (rows.length > 0 || purged.length > 0) await this.#cache.apply({ rows, removeRows: purged });
    await this.#setConfirmed(purged.map((id): [string, null] => [id, null]));
  }

  /** Re-bases every queued write whose base is no longer the server's version, by the conflict rules. */
  async #rebase(report: SyncReport, changed: Set<string>): Promise<void> {
    const updates = new Map<string, Pending | null>();
    for (const [id, pending] of this.#pending) {
      const server = this.#confirmed.get(id);
      const serverVersion = server?.version ?? 0;
      if (pending.base_version === serverVersion) continue;
      if (!report.merged.includes(id)) report.merged.push(id);
      changed.add(id); // the live record becomes the server's, or the merge of both
      const serverRecord = server?.record && server.record.kind !== 'manifest' ? server.record : null;
      const resolution = resolveConflict(serverRecord, pending.record, newMemoryId);
      if (resolution.outcome.keep === 'server') {
        updates.set(id, null);
      } else {
        const record = resolution.outcome.record;
        const version = serverVersion + 1;
        updates.set(id, { base_version: serverVersion, version, token: await sealRecord(this.#key, id, version, record), record });
      }
      for (const copy of resolution.copies) {
        updates.set(copy.id, { base_version: 0, version: 1, token: await sealRecord(this.#key, copy.id, 1, copy), record: copy });
        report.conflictCopies.push(copy.id);
        changed.add(copy.id);
      }
    }
    if (updates.size > 0) await this.#queue(updates);
  }

  /** Pushes the queue in batches, each with the manifest of what the server will hold after it. */
  async #push(report: SyncReport): Promise<void> {
    const queue = [...this.#pending.entries()];
    while (queue.length > 0) {
      const batch: Array<[string, Pending]> = [];
      let chars = 0;
      while (queue.length > 0 && batch.length < MAX_WRITES_PER_BATCH && (batch.length === 0 || chars + queue[0]![1].token.length < MAX_BATCH_CHARS)) {
        const next = queue.shift()!;
        chars += next[1].token.length;
        batch.push(next);
      }
      const digest = this.#digest.clone();
      await digest.update(
        batch.flatMap(([id]): Array<[string, number]> => {
          const before = this.#confirmed.get(id);
          return before?.record ? [[id, before.version]] : [];
        }),
        batch.flatMap(([id, p]): Array<[string, number]> => (p.record ? [[id, p.version]] : [])),
      );
      const manifestBase = this.#confirmed.get(MANIFEST_ID)?.version ?? 0;
      const manifest: ManifestRecord = digest.record();
      const manifestToken = await sealRecord(this.#key, MANIFEST_ID, manifestBase + 1, manifest);
      const writes: Write[] = batch.map(([id, p]) => ({ id, base_version: p.base_version, version: p.version, token: p.token, deleted: p.record === null }));
      writes.push({ id: MANIFEST_ID, base_version: manifestBase, version: manifestBase + 1, token: manifestToken });

      const result = await this.#api.write(writes);

      const applied = new Map(result.applied.map((a) => [a.id, a]));
      const rows: CachedRow[] = [];
      for (const w of writes) {
        const a = applied.get(w.id);
        if (!a || a.version !== w.version) throw new IntegrityError('bad-feed', w.id, `the server did not confirm record ${w.id} at version ${w.version}`);
        rows.push({ id: w.id, version: w.version, seq: a.seq, token: w.token });
      }
      // Move the cursor over our own writes only when nothing else came between (their seqs follow it directly);
      // otherwise the next pull reads them back along with whatever did.
      const seqs = rows.map((r) => r.seq).sort((a, b) => a - b);
      const contiguous = seqs.every((s, i) => s === this.#cursor + 1 + i) && result.cursor === seqs.at(-1);
      const cursor = contiguous ? result.cursor : this.#cursor;
      await this.#cache.apply({ rows, cursor, removePending: batch.map(([id]) => id) });
      await this.#setConfirmed(rows.map((row): [string, Confirmed] => [row.id, { ...row, record: row.id === MANIFEST_ID ? manifest : (this.#pending.get(row.id)?.record ?? null) }]));
      for (const row of rows) this.#pending.delete(row.id);
      this.#cursor = cursor;
      report.pushed += batch.length;
    }
  }

  async #verifyManifest(): Promise<void> {
    const manifest = this.#confirmed.get(MANIFEST_ID);
    if (!manifest?.record || manifest.record.kind !== 'manifest') {
      if (this.#digest.count > 0) throw new IntegrityError('manifest-missing', MANIFEST_ID, `${this.#digest.count} records are live but the server serves no manifest`);
      return;
    }
    if (!this.#digest.matches(manifest.record)) {
      throw new IntegrityError(
        'manifest-mismatch',
        MANIFEST_ID,
        `the manifest names ${manifest.record.count} live records and this device holds ${this.#digest.count}, or their versions differ: a record was dropped or rolled back`,
      );
    }
  }

  // ---- state -----------------------------------------------------------------

  async #open(row: { id: string; version: number; token: string }): Promise<{ record: SealedRecord | null }> {
    try {
      return await openRecord(this.#key, row);
    } catch (error) {
      if (error instanceof TamperedRecord) throw new IntegrityError(error.reason === 'wrong-version' ? 'rolled-back' : 'tampered', row.id, `record ${row.id} was refused: ${error.reason}`);
      throw error;
    }
  }

  /** Sets (or, with null, forgets) confirmed rows, keeping the digest of the confirmed live user records in step. */
  async #setConfirmed(entries: ReadonlyArray<readonly [string, Confirmed | null]>): Promise<void> {
    const removed: Array<[string, number]> = [];
    const added: Array<[string, number]> = [];
    const isUserRecord = (row: Confirmed | null | undefined): row is Confirmed => !!row?.record && row.record.kind !== 'manifest';
    for (const [id, row] of entries) {
      const before = this.#confirmed.get(id);
      if (isUserRecord(before)) removed.push([id, before.version]);
      if (row) this.#confirmed.set(id, row);
      else this.#confirmed.delete(id);
      if (isUserRecord(row)) added.push([id, row.version]);
    }
    await this.#digest.update(removed, added);
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }
}
