// The encrypted search index of a user's memories: a keyed, bucketed inverted
// index, so a search decrypts only the buckets its terms fall into, plus a
// small statistics record and the recent changes, instead of the whole index.
//
// - A term's bucket is HMAC(lookup sub-key of K, its first PREFIX_CHARS
//   characters, or its first character in a script written without spaces)
//   mod `buckets`. Every term a query term is a prefix of shares that leading
//   part, so prefix matching needs one bucket per query term. A query term
//   shorter than that (a one- or two-letter word) reads every bucket: the
//   documented fallback, still exact.
// - A bucket is up to `fragmentsPerBucket` sealed fragments, each listing the
//   documents it adds or replaces (id, length, tags, and their terms in this
//   bucket) and the ids it removes; later fragments win. A merge appends one
//   fragment per touched bucket and folds a bucket's fragments into one when
//   they reach the limit, so its cost grows with the change, not the corpus.
// - BM25's corpus statistics (live count, total length, and both per folded
//   tag) are one small sealed record kept exact by every merge; a document's
//   own length and tags travel in its bucket entries. Another, read by merges
//   only, holds each fragment's size, so a merge folding a full bucket's
//   newest fragments does not read its large oldest one too.
// - A write seals a delta per changed memory (its new state, and its
//   footprint in the merged buckets: what undoing it takes); every
//   `mergeAfter` deltas are folded into the buckets, more at once during a
//   burst of creates (mergeIfDue).
// Every part is a Fernet token under K that names its own row inside, and is
// rebuilt under the new key on rotation; what the row layout reveals is in
// docs/key-hierarchy.md.
import type { RecordRow, Store, Transaction } from '../storage/store.ts';
import { RecordCodec, UnreadableRecord } from './codec.ts';
import { compactId, fullId } from './compact-id.ts';
import { createsStillToCheck } from './creates-in-flight.ts';
import type { MemoryRecord } from './records.ts';
import { type FragmentFormat, SealedBuckets } from './sealed-buckets.ts';
import { type Corpus, isUnspaced, type MemoryDoc, memoryDoc, rank, type Ranked, tagKey, tagKeys, termsOfQuery } from './search.ts';

export interface MemoryIndexShape {
  buckets: number;
  /** Deltas that make a merge due. */
  mergeAfter: number;
  fragmentsPerBucket: number;
  /**
   * During a burst of creates, a merge is due only at `mergeAfter` for the
   * create deciding and each of its user's creates still to decide, up to
   * this (see mergeIfDue). Without it, `mergeAfter` always.
   */
  mergeAfterInBurst?: number;
}

export const DEFAULT_SHAPE: MemoryIndexShape = { buckets: 1024, mergeAfter: 32, fragmentsPerBucket: 8, mergeAfterInBurst: 256 };

/** Leading characters of a term that pick its bucket (one in scripts written without spaces). */
const PREFIX_CHARS = 3;
const STATS_ID = 'm-stats';
/** Token lengths of every bucket's fragments: read and written by merges only, so a merge reads just the fragments it folds. */
const SIZES_ID = 'm-sizes';
const DELTA_PREFIX = 'm-dlt-';

/**
 * A document in one bucket: its compact id (see compactId), length, tags as
 * numbers in the statistics' tag list, and those of its terms that fall in
 * this bucket, a term that occurs once as the bare term. This compactness is
 * what keeps a memory's repeats across its buckets small; searches read
 * entries as stored and name only the tags they compare.
 */
type Entry = [id: string, len: number, tags: number[], terms: Array<string | [string, number]>];

interface Fragment {
  docs: Entry[];
  /** Compact ids. */
  removed: string[];
}

interface StoredFragment extends Fragment {
  v: 3;
  row: string;
}

function packTerms(terms: ReadonlyArray<[string, number]>): Array<string | [string, number]> {
  return terms.map((entry) => (entry[1] === 1 ? entry[0] : entry));
}

function unpackTerms(terms: ReadonlyArray<string | [string, number]>): Array<[string, number]> {
  return terms.map((t) => (typeof t === 'string' ? [t, 1] : t));
}

/** Every tag the buckets refer to, by its number (append-only until a rebuild). */
class TagNames {
  private readonly numbers: Map<string, number>;

  constructor(readonly names: string[]) {
    this.numbers = new Map(names.map((name, i) => [name, i]));
  }

  number(tag: string): number {
    let n = this.numbers.get(tag);
    if (n === undefined) {
      n = this.names.push(tag) - 1;
      this.numbers.set(tag, n);
    }
    return n;
  }

  name(n: number): string {
    const tag = this.names[n];
    if (tag === undefined) throw new TypeError('a tag number the statistics do not hold');
    return tag;
  }
}

/** Where a document stands in the merged buckets: what undoing it takes. */
interface Footprint {
  len: number;
  tags: string[];
  buckets: number[];
}

interface Delta {
  v: 2;
  id: string;
  doc: MemoryDoc | null;
  /** The document as the merged buckets hold it; null when they do not. */
  old: Footprint | null;
}

interface Stats {
  v: 3;
  row: string;
  count: number;
  length: number;
  /** Per folded tag: live documents carrying it and their total length. */
  tags: Array<[string, number, number]>;
  /** Fragments stored per bucket. */
  fragments: number[];
  /** The tags fragments refer to by number. */
  tagNames: string[];
  /** Memories a rebuild could not read and left out: still to be reported as unreadable. */
  setAside: string[];
}

/** Per bucket, its fragments' token lengths, oldest first; null where not known (an index of an earlier release). */
interface FragmentSizes {
  v: 1;
  row: string;
  sizes: Array<number[] | null>;
}

export interface MemoryChange {
  id: string;
  /** The memory's new state; null when it was deleted. */
  doc: MemoryDoc | null;
  /** Its state before this change, as its stored record held it; null for a memory not stored before. */
  previous: MemoryDoc | null;
  /** True only for a freshly minted id: no delta of it can exist, so none is looked up. */
  isNew: boolean;
}

export function memoryDocOf(record: MemoryRecord): MemoryDoc {
  return memoryDoc(record.content, record.tags);
}

/** The leading part of a term that picks its bucket. */
function bucketKey(term: string): string {
  let key = '';
  let n = 0;
  for (const char of term) {
    if (n === 0 && isUnspaced(char)) return char;
    key += char;
    if (++n === PREFIX_CHARS) break;
  }
  return key;
}

/** The key of the one bucket holding every term `prefix` starts, or null when they may lie in any bucket. */
function queryBucketKey(prefix: string): string | null {
  const key = bucketKey(prefix);
  return isUnspaced(key) || [...key].length === PREFIX_CHARS ? key : null;
}

/**
 * The documents fragments (oldest first) hold together: each document's entry
 * in the newest fragment naming it, unless a newer one removed it. Read from
 * the newest back, so the oldest and by far largest fragment is only filtered
 * by what the few newer ones settled, never put into a map entry by entry.
 */
function liveEntries(fragments: readonly Pick<Fragment, 'docs' | 'removed'>[]): Entry[] {
  const live: Entry[] = [];
  const settled = new Set<string>();
  for (let i = fragments.length - 1; i >= 0; i--) {
    const { docs, removed } = fragments[i]!;
    for (const entry of docs) if (!settled.has(entry[0])) live.push(entry);
    // Nothing older is left for the oldest fragment's own ids to settle.
    if (i === 0) break;
    for (const entry of docs) settled.add(entry[0]);
    for (const id of removed) settled.add(id);
  }
  return live;
}

/**
 * The live entries of fragments (oldest first) with a term starting with
 * `prefix`: the few a search wants are found first, then each fragment is
 * checked for the ids of those found in older ones. Looking a freshly parsed
 * id up in a Map costs a hash of it, which for a large bucket's fragments
 * would cost more than reading them; a bit per id fingerprint passes on to the
 * Map only the ids that may be an older found one's.
 */
function liveEntriesWith(fragments: readonly Pick<Fragment, 'docs' | 'removed'>[], prefix: string): Entry[] {
  const found: Entry[] = [];
  const foundIn: number[] = [];
  for (let i = 0; i < fragments.length; i++) {
    for (const entry of fragments[i]!.docs) {
      for (const t of entry[3]) {
        if ((typeof t === 'string' ? t : t[0]).startsWith(prefix)) {
          found.push(entry);
          foundIn.push(i);
          break;
        }
      }
    }
  }
  const last = fragments.length - 1;
  const first = foundIn[0] ?? last;
  if (first === last) return found;
  // Ids a fragment names that may be those of entries found in older fragments, with the newest fragment naming them.
  const olderFound = new IdBits();
  const named = new Map<string, number>();
  const suspects = new IdBits();
  const check = (id: string, j: number) => {
    if (!olderFound.has(id)) return;
    named.set(id, j);
    suspects.add(id);
  };
  for (let j = first, k = 0; j < last; j++) {
    for (; k < found.length && foundIn[k] === j; k++) olderFound.add(found[k]![0]);
    for (const entry of fragments[j + 1]!.docs) check(entry[0], j + 1);
    for (const id of fragments[j + 1]!.removed) check(id, j + 1);
  }
  return found.filter((entry, k) => !suspects.has(entry[0]) || (named.get(entry[0]) ?? -1) <= foundIn[k]!);
}

/** A set of ids that may answer "yes" for an id never added (rarely), never "no" for one added. */
class IdBits {
  private readonly bits = new Uint32Array(2048);

  /** Mixes the id's outer characters: random in a compact UUID, the varying end of an import's id. */
  private static slot(id: string): number {
    const n = id.length;
    return (Math.imul(id.charCodeAt(0) ^ (id.charCodeAt(1) << 7) ^ (id.charCodeAt(2) << 14), 0x9e3779b1) ^ Math.imul(id.charCodeAt(n - 1) ^ (id.charCodeAt(n - 2) << 8) ^ (n << 16), 0x85ebca6b)) >>> 16;
  }

  add(id: string): void {
    const slot = IdBits.slot(id);
    this.bits[slot >>> 5]! |= 1 << (slot & 31);
  }

  has(id: string): boolean {
    const slot = IdBits.slot(id);
    return (this.bits[slot >>> 5]! & (1 << (slot & 31))) !== 0;
  }
}

/** Removals still to apply to older fragments when newer ones are folded together. */
function foldRemovals(fragments: readonly Pick<Fragment, 'removed'>[]): string[] {
  return [...new Set(fragments.flatMap((fragment) => fragment.removed))];
}

/** BM25 statistics of the live documents, in total and per folded tag; also kept by the local MCP server's in-memory corpus. */
export class CorpusStats {
  private readonly tags: Map<string, [number, number]>;

  constructor(
    public count: number,
    public length: number,
    tags: ReadonlyArray<readonly [string, number, number]>,
  ) {
    this.tags = new Map(tags.map(([tag, n, len]) => [tag, [n, len]]));
  }

  add(len: number, tags: readonly string[], sign: 1 | -1): void {
    this.count += sign;
    this.length += sign * len;
    for (const key of tagKeys(tags)) {
      const entry = this.tags.get(key) ?? [0, 0];
      entry[0] += sign;
      entry[1] += sign * len;
      if (entry[0] === 0) this.tags.delete(key);
      else this.tags.set(key, entry);
    }
  }

  of(tag?: string): { count: number; totalLength: number } {
    if (tag === undefined) return { count: this.count, totalLength: this.length };
    const [count, totalLength] = this.tags.get(tagKey(tag)) ?? [0, 0];
    return { count, totalLength };
  }

  entries(): Array<[string, number, number]> {
    return [...this.tags].map(([tag, [n, len]]) => [tag, n, len]);
  }
}

/** What one search sees: the buckets it read, the statistics, and the latest state of recently changed memories. */
class IndexView implements Corpus {
  /**
   * Document numbers by compact id, for the documents before `indexed`: the
   * first bucket a search reads lists each document once, so those are
   * numbered without hashing their ids, and indexed only if a later read
   * could meet them again.
   */
  private readonly numbers = new Map<string, number>();
  private indexed = 0;
  private bucketsRead = 0;
  /** Changed memories' numbers by id: never met in a bucket (their stale entries are skipped). */
  private readonly changedNumbers = new Map<string, number>();
  /** Per document number: its compact id, and its full id once asked for (a changed memory's from the start). */
  private readonly compacts: string[] = [];
  private readonly ids: Array<string | undefined> = [];
  private readonly lengths: number[] = [];
  /** Tags as stored (numbers) or a delta's (names), named when first asked for. */
  private readonly tagLists: Array<readonly number[] | readonly string[]> = [];
  private readonly stats_: CorpusStats;
  private readonly changedCompact: Set<string>;

  constructor(
    stats: Stats,
    /** Fragments per bucket read, oldest first (stale copies of changed memories still in). */
    private readonly buckets: Map<number, Fragment[]>,
    /** Null when every bucket was read. */
    private readonly bucketOfPrefix: ((prefix: string) => number) | null,
    private readonly changed: Map<string, Delta>,
    private readonly tagNames: TagNames,
  ) {
    this.changedCompact = new Set([...changed.keys()].map(compactId));
    this.stats_ = new CorpusStats(stats.count, stats.length, stats.tags);
    for (const delta of changed.values()) {
      if (delta.old) this.stats_.add(delta.old.len, delta.old.tags, -1);
      if (delta.doc) this.stats_.add(delta.doc.len, delta.doc.tags, 1);
    }
  }

  stats(tag?: string): { count: number; totalLength: number } {
    return this.stats_.of(tag);
  }

  /** The next document number, for a document not numbered before. */
  private add(compact: string, len: number, tags: readonly number[] | readonly string[], id?: string): number {
    this.ids.push(id);
    this.lengths.push(len);
    this.tagLists.push(tags);
    return this.compacts.push(compact) - 1;
  }

  /** A bucket document's number in this view. */
  private number(compact: string, len: number, tags: readonly number[]): number {
    for (; this.indexed < this.compacts.length; this.indexed++) this.numbers.set(this.compacts[this.indexed]!, this.indexed);
    let n = this.numbers.get(compact);
    if (n === undefined) {
      this.numbers.set(compact, (n = this.add(compact, len, tags)));
      this.indexed++;
    }
    return n;
  }

  private changedNumber(id: string, doc: MemoryDoc): number {
    let n = this.changedNumbers.get(id);
    if (n === undefined) this.changedNumbers.set(id, (n = this.add(compactId(id), doc.len, doc.tags, id)));
    return n;
  }

  id(doc: number): string {
    return (this.ids[doc] ??= fullId(this.compacts[doc]!));
  }

  length(doc: number): number {
    return this.lengths[doc]!;
  }

  tags(doc: number): readonly string[] {
    const tags = this.tagLists[doc]!;
    if (tags.some((t) => typeof t === 'number')) this.tagLists[doc] = tags.map((t) => (typeof t === 'number' ? this.tagNames.name(t) : t));
    return this.tagLists[doc] as readonly string[];
  }

  forEachPrefix(prefix: string, visit: (term: string, doc: number, tf: number) => void): void {
    const scope = this.bucketOfPrefix ? [this.buckets.get(this.bucketOfPrefix(prefix))] : [...this.buckets.values()];
    const firstRead = this.bucketsRead === 0 && scope.length === 1;
    this.bucketsRead += scope.length;
    for (const fragments of scope) {
      if (!fragments) continue;
      for (const [compact, len, tags, terms] of liveEntriesWith(fragments, prefix)) {
        if (this.changedCompact.size > 0 && this.changedCompact.has(compact)) continue;
        const doc = firstRead ? this.add(compact, len, tags) : this.number(compact, len, tags);
        for (const t of terms) {
          const term = typeof t === 'string' ? t : t[0];
          if (term.startsWith(prefix)) visit(term, doc, typeof t === 'string' ? 1 : t[1]);
        }
      }
    }
    for (const { id, doc } of this.changed.values()) {
      if (!doc) continue;
      for (const [term, tf] of doc.terms) if (term.startsWith(prefix)) visit(term, this.changedNumber(id, doc), tf);
    }
  }

  /** Every live document with all its terms (only meaningful when every bucket was read). */
  documents(): Map<string, MemoryDoc> {
    const docs = new Map<string, MemoryDoc>();
    for (const fragments of this.buckets.values()) {
      for (const [compact, len, tags, terms] of liveEntries(fragments)) {
        if (this.changedCompact.has(compact)) continue;
        const id = fullId(compact);
        const doc = docs.get(id) ?? { terms: [], len, tags: tags.map((t) => this.tagNames.name(t)) };
        doc.terms.push(...unpackTerms(terms));
        docs.set(id, doc);
      }
    }
    for (const { id, doc } of this.changed.values()) if (doc) docs.set(id, doc);
    return docs;
  }
}

export class MemoryIndex {
  private readonly buckets: SealedBuckets;

  constructor(
    private readonly codec: RecordCodec,
    private readonly userId: string,
    private readonly shape: MemoryIndexShape = DEFAULT_SHAPE,
  ) {
    this.buckets = new SealedBuckets(codec, userId, { prefix: 'm', purpose: 'memory-bucket', kind: 'memory-index', buckets: shape.buckets, slots: shape.fragmentsPerBucket });
  }

  private readonly fragments: FragmentFormat<Fragment> = {
    open: (row) => {
      const { docs, removed } = this.buckets.open<StoredFragment>(row, 3, (f) => Array.isArray(f.docs) && Array.isArray(f.removed), 'an index fragment');
      return { docs, removed };
    },
    fold: (fragments, base) => {
      const docs = liveEntries(fragments);
      const removed = base ? [] : foldRemovals(fragments);
      return docs.length || removed.length ? { docs, removed } : null;
    },
    store: (fragment) => ({ v: 3, ...fragment }),
  };

  /**
   * A document's entry in each bucket its terms fall in, its tags numbered in
   * `tagNames` (which this may extend). Its compact id and tag numbers are
   * worked out once for all its buckets (tens of them), not once per bucket.
   */
  private entries(id: string, doc: MemoryDoc, tagNames: TagNames): Array<[bucket: number, entry: Entry]> {
    const compact = compactId(id);
    const tags = doc.tags.map((tag) => tagNames.number(tag));
    return Array.from(this.split(doc), ([bucket, terms]) => [bucket, [compact, doc.len, tags, packTerms(terms)]]);
  }

  private bucketOf(key: string): number {
    return this.buckets.bucketOf(key);
  }

  private row(kind: 'memory-index' | 'memory-delta', id: string, payload: unknown, now: number): RecordRow {
    return { userId: this.userId, id, kind, token: this.codec.seal(payload), lookup: null, createdAt: now, updatedAt: now };
  }

  /** A document's terms grouped by the bucket each falls in. */
  private split(doc: MemoryDoc): Map<number, Array<[string, number]>> {
    const byBucket = new Map<number, Array<[string, number]>>();
    for (const entry of doc.terms) {
      const bucket = this.bucketOf(bucketKey(entry[0]));
      const list = byBucket.get(bucket);
      if (list) list.push(entry);
      else byBucket.set(bucket, [entry]);
    }
    return byBucket;
  }

  private footprint(doc: MemoryDoc): Footprint {
    return { len: doc.len, tags: doc.tags, buckets: [...this.split(doc).keys()] };
  }

  private emptyStats(): Stats {
    return { v: 3, row: STATS_ID, count: 0, length: 0, tags: [], fragments: [], tagNames: [], setAside: [] };
  }

  private openStats(row: RecordRow): Stats {
    const stats = this.codec.open(row.id, row.token) as Stats;
    if (stats?.v !== 3 || stats.row !== row.id || !Array.isArray(stats.tags) || !Array.isArray(stats.fragments) || !Array.isArray(stats.tagNames)) throw new UnreadableRecord(row.id, 'not index statistics');
    return stats;
  }

  /**
   * The fragment sizes, which only steer which fragments a merge folds: a
   * bucket's list that does not match its fragment count, or a row that is
   * missing or does not open (an earlier release's index, or a damaged row),
   * is treated as unknown, and the merge reads such buckets whole.
   */
  private openSizes(row: RecordRow | undefined, counts: readonly number[]): Array<number[] | null> {
    let stored: unknown[] = [];
    try {
      if (row) stored = this.buckets.open<FragmentSizes>(row, 1, (p) => Array.isArray(p.sizes), 'fragment sizes').sizes;
    } catch (error) {
      if (!(error instanceof UnreadableRecord)) throw error;
    }
    return Array.from({ length: this.shape.buckets }, (_, bucket) => {
      const count = counts[bucket] ?? 0;
      const list = stored[bucket];
      if (count === 0) return [];
      return Array.isArray(list) && list.length === count && list.every((n) => Number.isInteger(n)) ? (list as number[]) : null;
    });
  }

  private sizesRow(sizes: Array<number[] | null>, now: number): RecordRow {
    return this.buckets.seal('memory-index', SIZES_ID, { v: 1, sizes } satisfies Omit<FragmentSizes, 'row'>, now);
  }

  private openDelta(row: RecordRow): Delta {
    const delta = this.codec.open(row.id, row.token) as Delta;
    if (delta?.v !== 2 || DELTA_PREFIX + delta.id !== row.id) throw new UnreadableRecord(row.id, 'not an index delta');
    return delta;
  }

  /**
   * Reads the statistics, recent changes and the given buckets' fragments
   * (every bucket when `buckets` is null) in one statement, so a merge
   * committing meanwhile is seen whole or not at all.
   */
  private async view(store: Pick<Store, 'snapshotRecords' | 'countRecords'>, buckets: Set<number> | null): Promise<{ view: IndexView; setAside: string[] }> {
    const rows = buckets
      ? await store.snapshotRecords(this.userId, [STATS_ID, ...[...buckets].flatMap((b) => this.buckets.slotIds(b))], ['memory-delta'])
      : await store.snapshotRecords(this.userId, [], ['memory-index', 'memory-delta']);
    let stats: Stats | null = null;
    const changed = new Map<string, Delta>();
    const fragmentRows: RecordRow[] = [];
    for (const row of rows) {
      if (row.kind === 'memory-delta') {
        const delta = this.openDelta(row);
        changed.set(delta.id, delta);
      } else if (row.id === STATS_ID) {
        stats = this.openStats(row);
      } else if (row.id !== SIZES_ID) fragmentRows.push(row);
    }
    // No statistics yet is an index never merged, unless parts of an older format are stored.
    if (!stats && (await store.countRecords(this.userId, 'memory-index')) > 0) throw new UnreadableRecord(STATS_ID, 'missing');
    const base = stats ?? this.emptyStats();
    const bucketOfPrefix = buckets ? (prefix: string) => this.bucketOf(queryBucketKey(prefix)!) : null;
    return { view: new IndexView(base, this.buckets.group(fragmentRows, this.fragments), bucketOfPrefix, changed, new TagNames(base.tagNames)), setAside: base.setAside };
  }

  /** The buckets a query's terms fall in; null when one of them may match terms in any bucket. */
  private bucketsOfQuery(query: string): Set<number> | null {
    const buckets = new Set<number>();
    for (const term of termsOfQuery(query)) {
      const key = queryBucketKey(term);
      if (key === null) return null;
      buckets.add(this.bucketOf(key));
    }
    return buckets;
  }

  /**
   * Ranked ids, and the memories a rebuild set aside as unreadable; throws
   * UnreadableRecord when a part it reads does not open.
   */
  async search(store: Pick<Store, 'snapshotRecords' | 'countRecords'>, query: string, options: { limit: number; tag?: string }): Promise<{ ranked: Ranked[]; setAside: string[] }> {
    const { view, setAside } = await this.view(store, this.bucketsOfQuery(query));
    return { ranked: rank(view, query, options), setAside };
  }

  /** Every live document the index holds, read from every bucket (for checks of the index itself). */
  async documents(store: Pick<Store, 'snapshotRecords' | 'countRecords'>): Promise<Map<string, MemoryDoc>> {
    return (await this.view(store, null)).view.documents();
  }

  /** Delta rows for memories just created under fresh ids, to be written with the memories in one statement. */
  createdRows(records: readonly MemoryRecord[], now = Date.now()): RecordRow[] {
    return records.map((record) => this.row('memory-delta', DELTA_PREFIX + record.id, { v: 2, id: record.id, doc: memoryDocOf(record), old: null } satisfies Delta, now));
  }

  /**
   * After a create committed without the user lock, with `deltas` waiting as
   * far as it knows (counted before it wrote, plus its own): folds the deltas
   * into the buckets once enough have gathered, unless another request holds
   * the lock (it is merging, or writing and will merge). The write itself is
   * done: a damaged index part is left for the next search to rebuild. The
   * caller has marked its create checked (creates-in-flight.ts), so a create
   * counts only the ones that will decide after it.
   */
  async mergeIfDue(store: Store, deltas: number): Promise<void> {
    if (deltas < this.mergeThreshold()) return;
    try {
      // Writers that found the lock taken left their deltas to the merge
      // holding it: once it commits, it merges again while enough have
      // gathered, so a burst of writes does not end with its last deltas
      // waiting (and read by every search) until the next write. Counted
      // first outside a transaction: when too few have, that is one
      // statement instead of a transaction of four.
      for (let due = true; due; ) {
        const merged = await store.transaction(async (tx) => {
          // Writers that counted before another's merge committed find too few deltas left, and skip.
          return (await tx.tryLockUser(this.userId)) && (await this.merge(tx, [], this.mergeThreshold()));
        });
        due = merged && (await store.countRecords(this.userId, 'memory-delta')) >= this.mergeThreshold();
      }
    } catch (error) {
      if (!(error instanceof UnreadableRecord)) throw error;
    }
  }

  /**
   * The deltas that make a merge due for a create: `mergeAfter`, times one
   * more for each of the user's creates still to decide, up to
   * `mergeAfterInBurst`. Each merge appends a fragment to every bucket it
   * touches and folds full buckets (hot words' large fragments included), so
   * fewer, larger merges rewrite less: with 50 clients of one user writing
   * at once, merges of the 100 or so deltas that gathered while the last one
   * ran took a quarter of the server's time; in batches of up to 256, a
   * create costs a fifth fewer fragment bytes written and read and about a
   * quarter less server CPU. A later create of the burst merges what this
   * one leaves, and the last sees none after it, so a burst ends with fewer
   * than `mergeAfter` deltas waiting, as a quiet user's index always has.
   * While it lasts, a search reads up to a few hundred more deltas (about
   * 11 µs each); 512 would make that twice as long for no clear gain.
   */
  private mergeThreshold(): number {
    const cap = this.shape.mergeAfterInBurst ?? this.shape.mergeAfter;
    return Math.min(Math.max(cap, this.shape.mergeAfter), this.shape.mergeAfter * (1 + createsStillToCheck(this.userId)));
  }

  /** Records changes inside the caller's transaction, which holds the user lock. */
  async apply(tx: Transaction, changes: ReadonlyArray<MemoryChange>): Promise<void> {
    if (changes.length === 0) return;
    const latest = new Map<string, Delta | null>();
    const maybeStored = changes.filter((c) => !c.isNew).map((c) => DELTA_PREFIX + c.id);
    const stored = new Set<string>();
    for (const row of maybeStored.length ? await tx.getRecords(this.userId, maybeStored) : []) {
      const delta = this.openDelta(row);
      latest.set(delta.id, delta);
      stored.add(delta.id);
    }
    for (const change of changes) {
      const prior = latest.get(change.id);
      // The buckets still hold the state before the first unmerged change.
      const old = prior !== undefined ? (prior?.old ?? null) : change.previous ? this.footprint(change.previous) : null;
      latest.set(change.id, old === null && change.doc === null ? null : { v: 2, id: change.id, doc: change.doc, old });
    }
    const deltas = [...latest.values()].filter((d): d is Delta => d !== null);
    const dropped = [...latest].filter(([id, d]) => d === null && stored.has(id)).map(([id]) => DELTA_PREFIX + id);
    if (dropped.length) await tx.deleteRecords(this.userId, dropped);
    // A bulk change (an import) goes straight into the buckets instead of through thousands of deltas.
    if (deltas.length >= this.shape.mergeAfter) {
      await this.merge(tx, deltas);
      return;
    }
    const now = Date.now();
    await tx.putRecords(deltas.map((delta) => this.row('memory-delta', DELTA_PREFIX + delta.id, delta, now)));
    if ((await tx.countRecords(this.userId, 'memory-delta')) >= this.shape.mergeAfter) await this.merge(tx);
  }

  /**
   * Folds every stored delta, then `unsaved` ones, into the buckets: one new
   * fragment per touched bucket, or one folded fragment for a bucket whose
   * fragments reached the limit, unless fewer than `minimum` deltas are
   * waiting. Runs under the user lock. True when it merged.
   */
  private async merge(tx: Transaction, unsaved: readonly Delta[] = [], minimum = 1): Promise<boolean> {
    // Counting is cheap; reading the deltas means decrypting them.
    if (minimum > 1 && (await tx.countRecords(this.userId, 'memory-delta')) < minimum) return false;
    const rows = await tx.snapshotRecords(this.userId, [STATS_ID, SIZES_ID], ['memory-delta']);
    let stats: Stats | null = null;
    let sizesRow: RecordRow | undefined;
    const latest = new Map<string, Delta>();
    const storedDeltas: string[] = [];
    for (const row of rows) {
      if (row.id === STATS_ID) stats = this.openStats(row);
      else if (row.id === SIZES_ID) sizesRow = row;
      else {
        const delta = this.openDelta(row);
        latest.set(delta.id, delta);
        storedDeltas.push(row.id);
      }
    }
    if (!stats && (await tx.countRecords(this.userId, 'memory-index')) > 0) throw new UnreadableRecord(STATS_ID, 'missing');
    stats ??= this.emptyStats();
    for (const delta of unsaved) latest.set(delta.id, delta);
    if (latest.size < minimum) return false;

    const corpus = new CorpusStats(stats.count, stats.length, stats.tags);
    const tagNames = new TagNames([...stats.tagNames]);
    const changes = new Map<number, { docs: Map<string, Entry>; removed: Set<string> }>();
    const changeOf = (bucket: number) => {
      let change = changes.get(bucket);
      if (!change) changes.set(bucket, (change = { docs: new Map(), removed: new Set() }));
      return change;
    };
    for (const { id, doc, old } of latest.values()) {
      if (old) {
        corpus.add(old.len, old.tags, -1);
        const compact = compactId(id);
        for (const bucket of old.buckets) changeOf(bucket).removed.add(compact);
      }
      if (doc) {
        corpus.add(doc.len, doc.tags, 1);
        for (const [bucket, entry] of this.entries(id, doc, tagNames)) changeOf(bucket).docs.set(id, entry);
      }
    }

    const fragmentCounts = [...stats.fragments];
    const now = Date.now();
    const fragmentsOf = new Map([...changes].map(([bucket, change]): [number, Fragment] => [bucket, { docs: [...change.docs.values()], removed: [...change.removed] }]));
    const sizes = this.openSizes(sizesRow, fragmentCounts);
    const { writes, deletes } = await this.buckets.append(tx, fragmentsOf, fragmentCounts, this.fragments, now, sizes);
    const next: Stats = { ...stats, count: corpus.count, length: corpus.length, tags: corpus.entries(), fragments: fragmentCounts.map((n) => n ?? 0), tagNames: tagNames.names };
    writes.push(this.row('memory-index', STATS_ID, next, now), this.sizesRow(sizes, now));
    await tx.putRecords(writes);
    await tx.deleteRecords(this.userId, [...storedDeltas, ...deletes]);
    return true;
  }

  /**
   * Replaces the whole index with these memories (rotation, repair). Memories
   * that could not be read are named in `setAside`, so searches keep
   * reporting them as unreadable while they are stored.
   */
  async rebuild(tx: Transaction, records: readonly MemoryRecord[], setAside: readonly string[] = []): Promise<void> {
    const stale = await tx.allRecords(this.userId, ['memory-index', 'memory-delta']);
    await tx.deleteRecords(this.userId, stale.map((row) => row.id));
    const corpus = new CorpusStats(0, 0, []);
    const tagNames = new TagNames([]);
    const buckets = new Map<number, Entry[]>();
    for (const record of records) {
      const doc = memoryDocOf(record);
      corpus.add(doc.len, doc.tags, 1);
      for (const [bucket, entry] of this.entries(record.id, doc, tagNames)) {
        const entries = buckets.get(bucket);
        if (entries) entries.push(entry);
        else buckets.set(bucket, [entry]);
      }
    }
    const now = Date.now();
    const fragments = Array.from({ length: this.shape.buckets }, (_, bucket) => (buckets.has(bucket) ? 1 : 0));
    const rows = [...buckets].map(([bucket, docs]) => this.buckets.fragmentRow(bucket, 0, { v: 3, docs, removed: [] }, now));
    const sizes = fragments.map((): number[] => []);
    for (const row of rows) sizes[this.buckets.locate(row.id)!.bucket] = [row.token.length];
    const stats: Stats = { v: 3, row: STATS_ID, count: corpus.count, length: corpus.length, tags: corpus.entries(), fragments, tagNames: tagNames.names, setAside: [...setAside] };
    await tx.putRecords([...rows, this.row('memory-index', STATS_ID, stats, now), this.sizesRow(sizes, now)]);
  }
}
