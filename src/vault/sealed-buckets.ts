// Keyed, sealed buckets: the machinery the memory index and the graph index
// share. A key (a word's leading part, a trigram) picks its bucket by an HMAC
// under the lookup sub-key of K, so the database never sees which key a
// bucket holds. A bucket is up to `slots` sealed fragments, oldest first; a
// change appends one fragment, and a bucket whose slots are all used folds
// its newest fragments together (size-tiered: the big oldest fragment is
// rewritten only when the newer ones have grown to about its size, so a
// merge costs about the size of the change, not of the bucket).
// Every part is a Fernet token under K that names its own row inside, so a
// token moved to another row is refused like a damaged one.
import type { RecordKind, RecordRow, Transaction } from '../storage/store.ts';
import { type RecordCodec, UnreadableRecord } from './codec.ts';

export interface BucketLayout {
  /** Row-id prefix of the index ("m", "g"): its rows never collide with records or another index. */
  prefix: string;
  /** Namespaces the keyed HMAC, so the same key falls in unrelated buckets of two indexes. */
  purpose: string;
  /** The record kind of every part of the index but its recent-changes deltas. */
  kind: RecordKind;
  buckets: number;
  /** Fragments a bucket may hold before its newest ones are folded together. */
  slots: number;
}

/** What every sealed index part carries: its format version and the row it was sealed for. */
export interface SealedPart {
  v: number;
  row: string;
}

/** How one index folds its fragments. */
export interface FragmentFormat<F> {
  /** Opens a fragment row, throwing UnreadableRecord when it is not one of this index. */
  open(row: RecordRow): F;
  /**
   * One fragment equivalent to these (oldest first). `base` is true when the
   * oldest of them is the bucket's first: nothing older remains for removals
   * to apply to. Null when nothing is left.
   */
  fold(fragments: F[], base: boolean): F | null;
  /** The sealed payload of a fragment (its version included), when it is stored in another shape than it is used. */
  store?(fragment: F): { v: number } & Record<string, unknown>;
}

export class SealedBuckets {
  /** Keyed hashes of the keys seen in this request (the vault, and so this cache, lives for one request). */
  private readonly cache = new Map<string, number>();
  private readonly fragmentPattern: RegExp;

  constructor(
    private readonly codec: RecordCodec,
    private readonly userId: string,
    readonly layout: BucketLayout,
  ) {
    this.fragmentPattern = new RegExp(`^${layout.prefix}-b(\\d+)-(\\d+)$`);
  }

  bucketOf(key: string): number {
    return this.keyHash(key) % this.layout.buckets;
  }

  /** The key's keyed hash as a 32-bit number: its bucket, and for an index that counts finer than buckets, its cell of them. */
  keyHash(key: string): number {
    let hash = this.cache.get(key);
    if (hash === undefined) {
      hash = Buffer.from(this.codec.lookup(this.layout.purpose, key), 'base64url').readUInt32BE(0);
      this.cache.set(key, hash);
    }
    return hash;
  }

  fragmentId(bucket: number, slot: number): string {
    return `${this.layout.prefix}-b${String(bucket).padStart(4, '0')}-${slot}`;
  }

  slotIds(bucket: number): string[] {
    return Array.from({ length: this.layout.slots }, (_, slot) => this.fragmentId(bucket, slot));
  }

  /** The bucket and slot of a fragment row; null for any other row. */
  locate(rowId: string): { bucket: number; slot: number } | null {
    const match = this.fragmentPattern.exec(rowId);
    return match ? { bucket: Number(match[1]), slot: Number(match[2]) } : null;
  }

  /** Seals a part of the index for its row (the row id goes inside). */
  seal(kind: RecordKind, id: string, payload: Omit<SealedPart, 'row'> & Record<string, unknown>, now: number): RecordRow {
    return { userId: this.userId, id, kind, token: this.codec.seal({ ...payload, row: id }), lookup: null, createdAt: now, updatedAt: now };
  }

  /** Opens a part, refusing one of another version or shape, or sealed for another row. */
  open<T extends SealedPart>(row: RecordRow, version: number, valid: (part: T) => boolean, what: string): T {
    const part = this.codec.open(row.id, row.token) as T;
    if (part?.v !== version || part.row !== row.id || !valid(part)) throw new UnreadableRecord(row.id, `not ${what}`);
    return part;
  }

  /** Fragment rows grouped by bucket, opened, oldest slot first; throws UnreadableRecord for a row that is not a fragment. */
  group<F>(rows: readonly RecordRow[], format: FragmentFormat<F>): Map<number, F[]> {
    const slotted = new Map<number, Array<[number, F]>>();
    for (const row of rows) {
      const at = this.locate(row.id);
      // Anything else is a part of an older index format: rebuilt like a damaged part.
      if (!at) throw new UnreadableRecord(row.id, 'an index part of an older format');
      const list = slotted.get(at.bucket) ?? [];
      list.push([at.slot, format.open(row)]);
      slotted.set(at.bucket, list);
    }
    return new Map([...slotted].map(([bucket, list]) => [bucket, list.sort((a, b) => a[0] - b[0]).map(([, f]) => f)]));
  }

  /**
   * The rows that add one change fragment to each bucket: in its next free
   * slot, or, in a bucket whose slots are all used, folded with its newest
   * fragments (as many as together weigh at least half the next older one)
   * into the lowest of their slots. `counts` (fragments per bucket) is
   * updated in place, and so is `sizes` when given: each bucket's fragment
   * token lengths, oldest first, null where not known. A full bucket whose
   * sizes are known has only the fragments it folds read, not its large
   * oldest one as well; any other full bucket is read whole.
   */
  async append<F extends object>(
    tx: Pick<Transaction, 'getRecords'>,
    changes: ReadonlyMap<number, F>,
    counts: number[],
    format: FragmentFormat<F>,
    now: number,
    sizes?: Array<number[] | null>,
  ): Promise<{ writes: RecordRow[]; deletes: string[] }> {
    const slots = this.layout.slots;
    const known = (bucket: number): number[] | null => {
      const list = sizes?.[bucket];
      return list && list.length === (counts[bucket] ?? 0) ? list : null;
    };
    const full = [...changes.keys()].filter((bucket) => (counts[bucket] ?? 0) >= slots);
    const wanted = full.flatMap((bucket) => {
      const list = known(bucket);
      return this.slotIds(bucket).slice(list ? foldStart(list) : 0);
    });
    const stored = new Map<string, RecordRow>();
    for (const row of wanted.length ? await tx.getRecords(this.userId, wanted) : []) stored.set(row.id, row);
    const writes: RecordRow[] = [];
    const deletes: string[] = [];
    for (const [bucket, change] of changes) {
      const used = counts[bucket] ?? 0;
      const before = known(bucket);
      if (used < slots) {
        const row = this.fragmentRow(bucket, used, format.store ? format.store(change) : change, now);
        writes.push(row);
        counts[bucket] = used + 1;
        if (sizes) sizes[bucket] = before || used === 0 ? [...(before ?? []), row.token.length] : null;
        continue;
      }
      const ids = this.slotIds(bucket);
      const missing = ids.slice(before ? foldStart(before) : 0).find((id) => !stored.has(id));
      if (missing) throw new UnreadableRecord(missing, 'missing');
      const current = before ?? ids.map((id) => stored.get(id)!.token.length);
      const first = foldStart(current);
      const folded = format.fold([...ids.slice(first).map((id) => format.open(stored.get(id)!)), change], first === 0);
      deletes.push(...ids.slice(folded ? first + 1 : first));
      const kept = current.slice(0, first);
      if (folded) {
        const row = this.fragmentRow(bucket, first, format.store ? format.store(folded) : folded, now);
        writes.push(row);
        kept.push(row.token.length);
      }
      counts[bucket] = kept.length;
      if (sizes) sizes[bucket] = kept;
    }
    return { writes, deletes };
  }

  fragmentRow<F extends object>(bucket: number, slot: number, fragment: F, now: number): RecordRow {
    return this.seal(this.layout.kind, this.fragmentId(bucket, slot), fragment as unknown as Omit<SealedPart, 'row'> & Record<string, unknown>, now);
  }
}

/** The first slot a full bucket folds: its newest fragments, as many as together weigh at least half the next older one. */
function foldStart(sizes: readonly number[]): number {
  let first = sizes.length - 1;
  let weight = sizes[first]!;
  while (first > 0 && sizes[first - 1]! <= 2 * weight) weight += sizes[--first]!;
  return first;
}
