// A derived, encrypted index kept as a few large sealed segments plus one
// small sealed delta per recently changed document. Why this shape:
// - a search decrypts a handful of big tokens instead of one per record
//   (per-token overhead, not bytes, dominates decryption of small records);
// - a write seals one small delta and never rewrites the whole index, so its
//   cost does not grow with the number of records; every `mergeAfter` deltas
//   are folded into the segments (amortised).
// Deltas are keyed by document id, so the latest state of a document always
// wins without relying on clocks. Segments and deltas are Fernet tokens under
// K like any record and are rebuilt under the new key on rotation.
import type { RecordKind, RecordRow, Store, Transaction } from '../storage/store.ts';
import { RecordCodec, UnreadableRecord } from './codec.ts';

/** How one index stores a segment and reads it back for queries. */
export interface SegmentFormat<Doc, View> {
  /** The sealed payload of a segment holding these documents, in order. */
  encode(entries: ReadonlyArray<readonly [string, Doc]>): unknown;
  /** A query-ready view of a payload; throws on a payload of the wrong shape. */
  view(payload: unknown): View;
  /** The documents a view holds, in order, for rewriting its segment. */
  entries(view: View): Array<[string, Doc]>;
}

export interface IndexKinds {
  segment: RecordKind;
  delta: RecordKind;
  /** Row-id prefix, unique per index, so its rows never collide with records. */
  prefix: string;
}

export interface IndexChange<Doc> {
  id: string;
  /** The document's new state; null when it was deleted. */
  doc: Doc | null;
  /**
   * True only for an id never indexed before (a freshly minted one), which
   * lets the write skip looking for older copies. An id that may have existed,
   * even if since deleted (an import of exported records), is not new.
   */
  isNew: boolean;
}

/** What a query sees: segment views, and the latest state of recently changed documents. */
export interface IndexSnapshot<Doc, View> {
  segments: View[];
  /** Documents changed since the last merge: their segment copies are stale. */
  changed: Map<string, Doc | null>;
  /** Records a rebuild could not read and left out: still to be reported as unreadable. */
  setAside: string[];
}

/** A stored segment: the index's own payload, and (in the first segment) the records a rebuild set aside. */
interface SegmentEnvelope {
  v: 1;
  data: unknown;
  setAside?: string[];
}

interface DeltaPayload<Doc> {
  id: string;
  new: boolean;
  doc: Doc | null;
}

export const DEFAULT_SEGMENT_SIZE = 1024;
export const DEFAULT_MERGE_AFTER = 64;

export class SegmentedIndex<Doc, View> {
  constructor(
    private readonly codec: RecordCodec,
    private readonly userId: string,
    private readonly kinds: IndexKinds,
    private readonly format: SegmentFormat<Doc, View>,
    private readonly segmentSize = DEFAULT_SEGMENT_SIZE,
    private readonly mergeAfter = DEFAULT_MERGE_AFTER,
  ) {}

  private segmentId(n: number): string {
    return `${this.kinds.prefix}seg-${String(n).padStart(6, '0')}`;
  }

  private segmentNumber(segmentId: string): number {
    return Number(segmentId.slice(segmentId.lastIndexOf('-') + 1));
  }

  private deltaId(docId: string): string {
    return `${this.kinds.prefix}dlt-${docId}`;
  }

  private row(kind: RecordKind, id: string, payload: unknown, now: number): RecordRow {
    return { userId: this.userId, id, kind, token: this.codec.seal(payload), lookup: null, createdAt: now, updatedAt: now };
  }

  private openDelta(row: RecordRow): DeltaPayload<Doc> {
    const payload = this.codec.open(row.id, row.token) as DeltaPayload<Doc>;
    if (typeof payload?.id !== 'string' || typeof payload.new !== 'boolean') throw new UnreadableRecord(row.id, 'not an index delta');
    return payload;
  }

  private openSegment(row: RecordRow): { view: View; setAside: string[] } {
    try {
      const envelope = this.codec.open(row.id, row.token) as SegmentEnvelope;
      if (envelope?.v !== 1) throw new TypeError('not a segment envelope');
      return { view: this.format.view(envelope.data), setAside: Array.isArray(envelope.setAside) ? envelope.setAside : [] };
    } catch (error) {
      if (error instanceof UnreadableRecord) throw error;
      throw new UnreadableRecord(row.id, 'not an index segment');
    }
  }

  private segmentRow(n: number, entries: ReadonlyArray<readonly [string, Doc]>, setAside: readonly string[], now: number): RecordRow {
    const envelope: SegmentEnvelope = { v: 1, data: this.format.encode(entries), ...(setAside.length ? { setAside: [...setAside] } : {}) };
    return this.row(this.kinds.segment, this.segmentId(n), envelope, now);
  }

  /** One read (a consistent snapshot even while another request merges). */
  async snapshot(store: Pick<Store, 'allRecords'>): Promise<IndexSnapshot<Doc, View>> {
    const rows = await store.allRecords(this.userId, [this.kinds.segment, this.kinds.delta]);
    const snapshot: IndexSnapshot<Doc, View> = { segments: [], changed: new Map(), setAside: [] };
    for (const row of rows) {
      if (row.kind === this.kinds.segment) {
        const { view, setAside } = this.openSegment(row);
        snapshot.segments.push(view);
        snapshot.setAside.push(...setAside);
      } else {
        const delta = this.openDelta(row);
        snapshot.changed.set(delta.id, delta.doc);
      }
    }
    return snapshot;
  }

  /** Records changes inside the caller's transaction (which holds the user lock). */
  async apply(tx: Transaction, changes: ReadonlyArray<IndexChange<Doc>>): Promise<void> {
    if (changes.length === 0) return;
    const now = Date.now();
    // A document still only in a delta has never reached a segment: it stays "new",
    // and deleting it needs no tombstone.
    const pending = new Map<string, DeltaPayload<Doc>>();
    const existing = await tx.getRecords(this.userId, changes.filter((c) => !c.isNew).map((c) => this.deltaId(c.id)));
    for (const row of existing) {
      const delta = this.openDelta(row);
      pending.set(delta.id, delta);
    }
    const payloads: DeltaPayload<Doc>[] = [];
    const dropped: string[] = [];
    for (const change of changes) {
      const isNew = pending.get(change.id)?.new ?? change.isNew;
      if (isNew && change.doc === null) dropped.push(this.deltaId(change.id));
      else payloads.push({ id: change.id, new: isNew, doc: change.doc });
    }
    if (dropped.length) await tx.deleteRecords(this.userId, dropped);
    // A bulk change (an import) goes straight into the segments instead of through thousands of deltas.
    if (payloads.length >= this.mergeAfter) return this.merge(tx, payloads);
    await tx.putRecords(payloads.map((payload) => this.row(this.kinds.delta, this.deltaId(payload.id), payload, now)));
    if ((await tx.countRecords(this.userId, this.kinds.delta)) >= this.mergeAfter) await this.merge(tx);
  }

  /**
   * Folds every stored delta, then `unsaved` ones, into the segments. Only the
   * last segment is read unless a delta replaces a document in an older one.
   */
  async merge(tx: Transaction, unsaved: readonly DeltaPayload<Doc>[] = []): Promise<void> {
    const deltaRows = await tx.allRecords(this.userId, [this.kinds.delta]);
    const latest = new Map<string, DeltaPayload<Doc>>();
    for (const delta of [...deltaRows.map((row) => this.openDelta(row)), ...unsaved]) latest.set(delta.id, delta);
    const deltas = [...latest.values()];
    if (deltas.length === 0) return;
    const segmentCount = await tx.countRecords(this.userId, this.kinds.segment);
    const needsAll = deltas.some((d) => !d.new);
    const rows = needsAll
      ? await tx.allRecords(this.userId, [this.kinds.segment])
      : segmentCount > 0 ? await tx.getRecords(this.userId, [this.segmentId(segmentCount - 1)]) : [];
    const segments = new Map<string, { entries: Map<string, Doc>; setAside: string[]; dirty: boolean }>();
    for (const row of rows) {
      const { view, setAside } = this.openSegment(row);
      segments.set(row.id, { entries: new Map(this.format.entries(view)), setAside, dirty: false });
    }

    const replaced = new Set(deltas.filter((d) => !d.new).map((d) => d.id));
    if (replaced.size) {
      for (const segment of segments.values()) {
        for (const id of segment.entries.keys()) {
          if (replaced.has(id)) {
            segment.entries.delete(id);
            segment.dirty = true;
          }
        }
      }
    }

    let lastNumber = Math.max(segmentCount - 1, 0);
    let last = segments.get(this.segmentId(lastNumber));
    if (!last) {
      last = { entries: new Map(), setAside: [], dirty: true };
      segments.set(this.segmentId(lastNumber), last);
    }
    for (const delta of deltas) {
      if (delta.doc === null) continue;
      if (last.entries.size >= this.segmentSize) {
        lastNumber++;
        last = { entries: new Map(), setAside: [], dirty: true };
        segments.set(this.segmentId(lastNumber), last);
      }
      last.entries.set(delta.id, delta.doc);
      last.dirty = true;
    }

    const now = Date.now();
    const writes = [...segments].filter(([, s]) => s.dirty).map(([id, s]) => this.segmentRow(this.segmentNumber(id), [...s.entries], s.setAside, now));
    await tx.putRecords(writes);
    if (deltaRows.length) await tx.deleteRecords(this.userId, deltaRows.map((row) => row.id));
  }

  /**
   * Replaces the whole index with these documents (rotation, repair). Records
   * that could not be read are named in `setAside`, so queries keep reporting
   * them as unreadable while they are stored.
   */
  async rebuild(tx: Transaction, entries: ReadonlyArray<readonly [string, Doc]>, setAside: readonly string[] = []): Promise<void> {
    const stale = await tx.allRecords(this.userId, [this.kinds.segment, this.kinds.delta]);
    await tx.deleteRecords(this.userId, stale.map((row) => row.id));
    const now = Date.now();
    const writes: RecordRow[] = [];
    for (let start = 0, n = 0; start < entries.length || (n === 0 && setAside.length > 0); start += this.segmentSize, n++) {
      writes.push(this.segmentRow(n, entries.slice(start, start + this.segmentSize), n === 0 ? setAside : [], now));
    }
    await tx.putRecords(writes);
  }
}
