// The encrypted search index of a user's memories. Each segment is an
// inverted index of up to DEFAULT_SEGMENT_SIZE memories (sorted terms, packed
// postings), sealed as one Fernet token; recent changes are small sealed
// deltas (see segmented-index.ts). A search opens the segments and deltas,
// ranks, and decrypts only the memories it returns. The stored bytes are
// tokens under K: no term, tag or length is visible without the key.
import type { Store, Transaction } from '../storage/store.ts';
import { RecordCodec } from './codec.ts';
import type { MemoryRecord } from './records.ts';
import { type Corpus, type MemoryDoc, memoryDoc, rank, type Ranked } from './search.ts';
import { type IndexChange, type IndexSnapshot, type SegmentFormat, SegmentedIndex } from './segmented-index.ts';

/** A posting packs the document's position in its segment and the term frequency into one uint32. */
const TF_BITS = 12;
const TF_MAX = (1 << TF_BITS) - 1;

interface MemorySegmentPayload {
  v: 1;
  ids: string[];
  lens: number[];
  tags: string[][];
  /** Sorted unique terms joined by newlines (a term never holds one). */
  terms: string;
  /** base64 Uint32Array: postings of terms[i] are postings[offsets[i] .. offsets[i+1]). */
  offsets: string;
  /** base64 Uint32Array of (document << TF_BITS | tf). */
  postings: string;
}

interface MemorySegment {
  ids: string[];
  lens: number[];
  tags: string[][];
  terms: string[];
  offsets: Uint32Array;
  postings: Uint32Array;
}

function uint32Base64(values: Uint32Array): string {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
}

function base64Uint32(text: string): Uint32Array {
  const bytes = Buffer.from(text, 'base64');
  // Copied into an aligned buffer: a Buffer's offset in Node's pool need not be a multiple of 4.
  return new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

export const memorySegmentFormat: SegmentFormat<MemoryDoc, MemorySegment> = {
  encode(entries) {
    const byTerm = new Map<string, number[]>();
    entries.forEach(([, doc], position) => {
      for (const [term, tf] of doc.terms) {
        let list = byTerm.get(term);
        if (!list) byTerm.set(term, (list = []));
        list.push((position << TF_BITS) | Math.min(tf, TF_MAX));
      }
    });
    const terms = [...byTerm.keys()].sort();
    const offsets = new Uint32Array(terms.length + 1);
    const postings: number[] = [];
    terms.forEach((term, i) => {
      offsets[i] = postings.length;
      postings.push(...byTerm.get(term)!);
    });
    offsets[terms.length] = postings.length;
    const payload: MemorySegmentPayload = {
      v: 1,
      ids: entries.map(([id]) => id),
      lens: entries.map(([, doc]) => doc.len),
      tags: entries.map(([, doc]) => doc.tags),
      terms: terms.join('\n'),
      offsets: uint32Base64(offsets),
      postings: uint32Base64(Uint32Array.from(postings)),
    };
    return payload;
  },

  view(payload) {
    const p = payload as MemorySegmentPayload;
    if (p?.v !== 1 || !Array.isArray(p.ids) || typeof p.terms !== 'string') throw new TypeError('not a memory index segment');
    return { ids: p.ids, lens: p.lens, tags: p.tags, terms: p.terms === '' ? [] : p.terms.split('\n'), offsets: base64Uint32(p.offsets), postings: base64Uint32(p.postings) };
  },

  entries(segment) {
    const docs: MemoryDoc[] = segment.ids.map((_, i) => ({ terms: [], len: segment.lens[i]!, tags: segment.tags[i]! }));
    segment.terms.forEach((term, t) => {
      for (let p = segment.offsets[t]!; p < segment.offsets[t + 1]!; p++) {
        const packed = segment.postings[p]!;
        docs[packed >>> TF_BITS]!.terms.push([term, packed & TF_MAX]);
      }
    });
    return segment.ids.map((id, i) => [id, docs[i]!] as [string, MemoryDoc]);
  },
};

/** First index in sorted `terms` whose term is >= prefix. */
function lowerBound(terms: readonly string[], prefix: string): number {
  let lo = 0;
  let hi = terms.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (terms[mid]! < prefix) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The segments and recent changes of one snapshot, numbered as one corpus for ranking. */
class SnapshotCorpus implements Corpus {
  readonly size: number;
  private readonly bases: number[] = [];
  private readonly recent: Array<[string, MemoryDoc]>;
  private readonly recentBase: number;
  /** Per document number, flattened once so ranking's per-document lookups are array reads. */
  private readonly lengths: Uint32Array;
  private readonly live: Uint8Array;
  private readonly tagLists: Array<readonly string[]>;

  constructor(private readonly snapshot: IndexSnapshot<MemoryDoc, MemorySegment>) {
    let base = 0;
    for (const segment of snapshot.segments) {
      this.bases.push(base);
      base += segment.ids.length;
    }
    this.recentBase = base;
    this.recent = [...snapshot.changed].filter((entry): entry is [string, MemoryDoc] => entry[1] !== null);
    this.size = base + this.recent.length;
    this.lengths = new Uint32Array(this.size);
    this.live = new Uint8Array(this.size).fill(1);
    this.tagLists = new Array(this.size);
    snapshot.segments.forEach((segment, s) => {
      const b = this.bases[s]!;
      for (let i = 0; i < segment.ids.length; i++) {
        this.lengths[b + i] = segment.lens[i]!;
        this.tagLists[b + i] = segment.tags[i]!;
        if (snapshot.changed.has(segment.ids[i]!)) this.live[b + i] = 0;
      }
    });
    this.recent.forEach(([, doc], i) => {
      this.lengths[base + i] = doc.len;
      this.tagLists[base + i] = doc.tags;
    });
  }

  isLive(doc: number): boolean {
    return this.live[doc] === 1;
  }

  id(doc: number): string {
    if (doc >= this.recentBase) return this.recent[doc - this.recentBase]![0];
    let s = this.bases.length - 1;
    while (this.bases[s]! > doc) s--;
    return this.snapshot.segments[s]!.ids[doc - this.bases[s]!]!;
  }

  length(doc: number): number {
    return this.lengths[doc]!;
  }

  tags(doc: number): readonly string[] {
    return this.tagLists[doc]!;
  }

  forEachPrefix(prefix: string, visit: (term: string, doc: number, tf: number) => void): void {
    this.snapshot.segments.forEach((segment, s) => {
      const base = this.bases[s]!;
      for (let t = lowerBound(segment.terms, prefix); t < segment.terms.length && segment.terms[t]!.startsWith(prefix); t++) {
        for (let p = segment.offsets[t]!; p < segment.offsets[t + 1]!; p++) {
          const packed = segment.postings[p]!;
          visit(segment.terms[t]!, base + (packed >>> TF_BITS), packed & TF_MAX);
        }
      }
    });
    this.recent.forEach(([, doc], i) => {
      for (const [term, tf] of doc.terms) if (term.startsWith(prefix)) visit(term, this.recentBase + i, tf);
    });
  }
}

export function memoryDocOf(record: MemoryRecord): MemoryDoc {
  return memoryDoc(record.content, record.tags);
}

export class MemoryIndex {
  private readonly index: SegmentedIndex<MemoryDoc, MemorySegment>;

  constructor(codec: RecordCodec, userId: string) {
    this.index = new SegmentedIndex(codec, userId, { segment: 'memory-index', delta: 'memory-delta', prefix: 'm' }, memorySegmentFormat);
  }

  /**
   * Ranked ids, and the memories a rebuild set aside as unreadable; throws
   * UnreadableRecord when a segment or delta does not open.
   */
  async search(store: Pick<Store, 'allRecords'>, query: string, options: { limit: number; tag?: string }): Promise<{ ranked: Ranked[]; setAside: string[] }> {
    const snapshot = await this.index.snapshot(store);
    return { ranked: rank(new SnapshotCorpus(snapshot), query, options), setAside: snapshot.setAside };
  }

  /** Inside the write's transaction, after the memory rows are written. */
  async record(tx: Transaction, changes: ReadonlyArray<{ record: MemoryRecord; isNew: boolean }>): Promise<void> {
    await this.index.apply(tx, changes.map(({ record, isNew }): IndexChange<MemoryDoc> => ({ id: record.id, doc: memoryDocOf(record), isNew })));
  }

  async forget(tx: Transaction, ids: readonly string[]): Promise<void> {
    await this.index.apply(tx, ids.map((id): IndexChange<MemoryDoc> => ({ id, doc: null, isNew: false })));
  }

  async rebuild(tx: Transaction, records: readonly MemoryRecord[], setAside: readonly string[] = []): Promise<void> {
    await this.index.rebuild(tx, records.map((record) => [record.id, memoryDocOf(record)] as const), setAside);
  }
}
