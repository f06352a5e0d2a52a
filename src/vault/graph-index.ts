// The encrypted index of a user's knowledge graph, so that search_nodes and
// open_nodes read what their answer needs instead of the whole graph:
//
// - Trigram buckets (the memory index's keyed, sealed buckets): every
//   three-character window of an entity's name, type and observations, lower-
//   cased as search_nodes compares them, posts the entity's number in the
//   bucket HMAC(lookup sub-key, trigram) mod `buckets`. A needle of three or
//   more characters occurs in a text only if each of its trigrams does, so
//   the entities posted under any of the needle's trigrams include every
//   match; a search reads the buckets of its rarest ones only (READ_BUCKETS),
//   chosen by the posting counts per cell of a sealed sizes row, and
//   intersects their lists; each candidate's record is then decrypted and
//   checked with the exact comparison, so the answer is exact. Shorter
//   needles read every entity: the documented fallback.
// - Postings are only ever added: a changed entity is posted again under a
//   new number and a deleted one is left behind, both weeded out when its
//   record is checked. When the numbers issued reach about twice the live
//   entities, the next merge asks for a rebuild.
// - A table of entity ids and creation times by number, in sealed chunks of
//   `chunk` entries (ids compact, times as gaps: a page decrypts less).
//   Numbers are issued oldest first within a merge or rebuild, so chunks
//   follow creation order but for changed entities; the
//   statistics keep each chunk's span of creation times, so a search hands
//   out its candidates in creation order reading only the chunks that can
//   hold the next ones (CandidateWalk): a page of search_nodes costs about
//   its own size, not the number of matches.
// - Recent changes: a sealed delta per created or changed entity, read by
//   every search (its entity is always a candidate), folded into the buckets
//   every `mergeAfter` deltas.
// - Adjacency: one sealed row per entity name that relations touch, found by
//   the name's keyed tag, holding those relations; written with the relations
//   in the same transaction, so open_nodes and search_nodes read only the
//   relations of the entities in their answer.
// The records stay the source of truth: every part is derived, sealed for its
// own row, rebuilt when damaged and rebuilt under the new key on rotation.
// What the layout reveals is written in docs/key-hierarchy.md.
import { randomBytes } from 'node:crypto';
import type { RecordCursor, RecordRow, Store, Transaction } from '../storage/store.ts';
import { RecordCodec, UnreadableRecord } from './codec.ts';
import { byCreation } from './creation-order.ts';
import { compactId, fullId } from './compact-id.ts';
import type { Entity, Relation } from './records.ts';
import { type FragmentFormat, SealedBuckets } from './sealed-buckets.ts';

/** One graph record as the index keeps it, with its creation time for the graph's order. */
export type GraphDoc = ({ kind: 'entity' } & Entity & { createdAt: number }) | ({ kind: 'relation' } & Relation & { createdAt: number });

export interface GraphChange {
  id: string;
  /** The record's new state; null when it was deleted. */
  doc: GraphDoc | null;
  /** For a deleted relation: what it was (its endpoints' adjacency rows drop it). */
  previous?: GraphDoc | null;
}

export interface GraphIndexShape {
  buckets: number;
  slots: number;
  mergeAfter: number;
  chunk: number;
}

export const DEFAULT_GRAPH_SHAPE: GraphIndexShape = { buckets: 512, slots: 8, mergeAfter: 64, chunk: 1024 };

/** Trigrams of a needle considered, spread over its length. */
const MAX_NEEDLE_GRAMS = 6;
/**
 * Buckets a search reads, those of its rarest trigrams: at 100,000 entities a
 * bucket is tens of kilobytes, while two rare trigrams already rule out
 * nearly every entity that does not match (and those left are checked
 * against their records anyway).
 */
const READ_BUCKETS = 2;
/** Posting counts are kept per cell, this many to a bucket: finer than a bucket, so a rare trigram's count is not drowned by a common one's. */
const CELLS_PER_BUCKET = 8;
const GRAM = 3;
const VERSION = 5;
const STATS_ID = 'g-stats';
const SIZES_ID = 'g-sizes';
const DELTA_PREFIX = 'g-dlt-';
const TABLE_PREFIX = 'g-t-';
const ADJACENCY_PREFIX = 'g-a-';

/** Trigram → the entity numbers posted under it, ascending, as base-36 gaps joined by commas. */
interface Fragment {
  v: 5;
  row: string;
  grams: Record<string, string>;
}

interface Stats {
  v: 5;
  row: string;
  /** Changes with every rebuild: table chunks of another generation are not read. */
  gen: string;
  /** Entity numbers issued. */
  docs: number;
  fragments: number[];
  /** Per table chunk, the oldest and newest creation time of its entries. */
  spans: Array<[number, number]>;
  /** Records a rebuild could not read and left out: still to be reported as unreadable. */
  setAside: string[];
}

/** Postings per cell (the keyed hash of a trigram mod the cell count), stale ones included: an upper bound of each trigram's list. */
interface Sizes {
  v: 5;
  row: string;
  /** Base-36 counts joined by commas, empty for none. */
  counts: string;
}

/** A table chunk as stored: compact ids, and creation times as postings are (gaps), so a search decrypts about half the bytes. */
interface StoredChunk {
  v: 5;
  row: string;
  gen: string;
  /** The entities' ids (compactId), number for number. */
  ids: string[];
  /** Their creation times, encoded as postings are. */
  created: string;
}

/** A table chunk opened: ids still compact (fullId), only the few a search hands out are expanded. */
interface Chunk {
  gen: string;
  ids: string[];
  created: number[];
}

interface Delta {
  v: 5;
  row: string;
  id: string;
  entity: Entity;
  createdAt: number;
}

/** An entity as a merge numbers it. */
interface Dated {
  entity: Entity;
  createdAt: number;
}

/** An entity a search must check, with its place in creation order (from the index: no record is read to order it). */
export interface Candidate {
  id: string;
  createdAt: number;
}

/** A rebuild committed while a search was reading the table: the search starts again (and, if that keeps happening, the index is rebuilt). */
export class IndexMoved extends UnreadableRecord {}

/** A relation as an adjacency row holds it: id, from, to, type, creation time. */
type Adjacent = [id: string, from: string, to: string, relationType: string, createdAt: number];

interface Adjacency {
  v: 5;
  row: string;
  name: string;
  relations: Adjacent[];
}

export type TouchingRelation = Relation & { id: string; createdAt: number };

function encodePostings(numbers: readonly number[]): string {
  let previous = 0;
  return numbers.map((n) => {
    const gap = n - previous;
    previous = n;
    return gap.toString(36);
  }).join(',');
}

/** The inverse of encodePostings, read character by character: a search decodes tens of thousands of gaps at 100,000 entities. */
function decodePostings(text: string, into: number[] = []): number[] {
  if (!text) return into;
  let n = 0;
  let gap = 0;
  let sign = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44 /* , */) {
      into.push((n += sign * gap));
      gap = 0;
      sign = 1;
    } else if (c === 45 /* - */) sign = -1;
    else gap = gap * 36 + (c <= 57 ? c - 48 /* 0-9 */ : c - 87 /* a-z */);
  }
  into.push(n + sign * gap);
  return into;
}

/** Base-36 counts joined by commas (empty for none), read character by character as postings are: every search reads 4,096 of them; null when not of that form. */
function decodeCounts(text: string): number[] | null {
  const counts: number[] = [];
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44 /* , */) {
      counts.push(n);
      n = 0;
    } else if (c >= 48 && c <= 57) n = n * 36 + c - 48;
    else if (c >= 97 && c <= 122) n = n * 36 + c - 87;
    else return null;
  }
  counts.push(n);
  return counts;
}

/** The distinct trigrams of one lower-cased text. */
function addGrams(text: string, into: Set<string>): void {
  for (let i = 0; i + GRAM <= text.length; i++) into.add(text.slice(i, i + GRAM));
}

export function entityGrams(entity: Entity): Set<string> {
  const grams = new Set<string>();
  addGrams(entity.name.toLowerCase(), grams);
  addGrams(entity.entityType.toLowerCase(), grams);
  for (const observation of entity.observations) addGrams(observation.toLowerCase(), grams);
  return grams;
}

/** Up to MAX_NEEDLE_GRAMS distinct trigrams of a lower-cased needle, first and last included; null when it is too short to have one. */
function needleGrams(needle: string): string[] | null {
  if (needle.length < GRAM) return null;
  const all = [...new Set(Array.from({ length: needle.length - GRAM + 1 }, (_, i) => needle.slice(i, i + GRAM)))];
  if (all.length <= MAX_NEEDLE_GRAMS) return all;
  return [...new Set(Array.from({ length: MAX_NEEDLE_GRAMS }, (_, i) => all[Math.round((i * (all.length - 1)) / (MAX_NEEDLE_GRAMS - 1))]!))];
}

/** A list of numbers ascending; postings read oldest fragment first already are. */
function ascending(list: number[]): number[] {
  for (let i = 1; i < list.length; i++) if (list[i]! < list[i - 1]!) return list.sort((a, b) => a - b);
  return list;
}

/** Entity numbers in every one of these lists, ascending, each once: merged in step, shortest list first. */
function intersect(lists: number[][]): number[] {
  if (lists.length === 0) return [];
  const sorted = lists.map(ascending).sort((a, b) => a.length - b.length);
  let result = sorted[0]!;
  for (const list of sorted.slice(1)) {
    const next: number[] = [];
    for (let i = 0, j = 0; i < result.length && j < list.length; ) {
      if (result[i]! < list[j]!) i++;
      else if (result[i]! > list[j]!) j++;
      else {
        if (next.at(-1) !== result[i]) next.push(result[i]!);
        i++;
        j++;
      }
    }
    result = next;
  }
  return sorted.length === 1 ? [...new Set(result)] : result;
}

/**
 * A gram's postings decoded only when its list is at most this many times
 * the length of the needle's rarest: a common trigram ("the", "ing") would
 * cost more to decode and intersect, in step with the user's history, than
 * the few extra candidates it would have ruled out, which are checked
 * against their records anyway, and only as far as a page reaches.
 */
const SELECTIVE_RATIO = 8;

/** The posting lists worth intersecting, decoded: the rarest gram's, and those not much longer (`encoded`: each gram's texts from its fragments). */
function selectiveLists(encoded: string[][]): number[][] {
  const sizes = encoded.map((texts) => texts.reduce((sum, text) => sum + text.length, 0));
  const rarest = Math.min(...sizes);
  return encoded.filter((_, i) => sizes[i]! <= SELECTIVE_RATIO * Math.max(rarest, 1)).map((texts) => {
    const list: number[] = [];
    for (const text of texts) decodePostings(text, list);
    return list;
  });
}

/** Entity numbers grouped by the buckets of their trigrams: the fragments one merge or rebuild writes. */
class Postings {
  private readonly buckets = new Map<number, Map<string, number[]>>();

  constructor(private readonly bucketOf: (gram: string) => number) {}

  add(number: number, entity: Entity): void {
    for (const gram of entityGrams(entity)) {
      const bucket = this.bucketOf(gram);
      let grams = this.buckets.get(bucket);
      if (!grams) this.buckets.set(bucket, (grams = new Map()));
      const list = grams.get(gram);
      if (list) list.push(number);
      else grams.set(gram, [number]);
    }
  }

  /** Adds each trigram's count of postings to its cell. */
  count(cells: number[], cellOf: (gram: string) => number): void {
    for (const grams of this.buckets.values()) for (const [gram, list] of grams) cells[cellOf(gram)] = (cells[cellOf(gram)] ?? 0) + list.length;
  }

  fragments(): Map<number, Fragment> {
    return new Map([...this.buckets].map(([bucket, grams]) => [bucket, { v: VERSION, grams: Object.fromEntries([...grams].map(([gram, list]) => [gram, encodePostings(list)])) } as Fragment]));
  }
}

/** Fragments only add postings, so folding them is a union. */
function foldPostings(fragments: Fragment[]): Fragment | null {
  const grams = new Map<string, number[]>();
  for (const fragment of fragments) {
    for (const [gram, text] of Object.entries(fragment.grams)) {
      const list = grams.get(gram) ?? [];
      grams.set(gram, decodePostings(text, list));
    }
  }
  if (grams.size === 0) return null;
  const out: Record<string, string> = {};
  for (const [gram, list] of grams) out[gram] = encodePostings([...new Set(list)].sort((a, b) => a - b));
  return { v: VERSION, grams: out } as Fragment;
}

/** Widens a table chunk's span of creation times to take in one more entry. */
function widen(spans: Array<[number, number]>, chunk: number, createdAt: number): void {
  const span = spans[chunk];
  spans[chunk] = span ? [Math.min(span[0], createdAt), Math.max(span[1], createdAt)] : [createdAt, createdAt];
}

/** Candidate numbers of one table chunk not read yet, and the chunk's span of creation times. */
interface UnreadChunk {
  chunk: number;
  numbers: number[];
  oldest: number;
}

/**
 * The candidates of one search, handed out in creation order after a
 * position. A candidate is handed out once no unread chunk can hold an older
 * one (its oldest entry is newer); chunks are read in the order of their
 * oldest entry, only as many as the candidates still wanted need.
 */
export class CandidateWalk {
  private ready: Candidate[] = [];
  private readonly handedOut = new Set<string>();

  constructor(
    private readonly after: RecordCursor | undefined,
    recent: readonly Candidate[],
    private readonly unread: UnreadChunk[],
    private readonly read: (chunks: readonly UnreadChunk[]) => Promise<Candidate[]>,
  ) {
    this.take(recent);
  }

  private take(candidates: readonly Candidate[]): void {
    for (const candidate of candidates) if (!this.after || byCreation(this.after, candidate) < 0) this.ready.push(candidate);
    this.ready.sort(byCreation);
  }

  /** Up to `count` more candidates, oldest first; fewer only when none are left. */
  async next(count: number): Promise<Candidate[]> {
    const out: Candidate[] = [];
    for (;;) {
      const bound = this.unread[0]?.oldest ?? Infinity;
      while (out.length < count && this.ready.length > 0 && this.ready[0]!.createdAt < bound) {
        const candidate = this.ready.shift()!;
        // An entity changed since it was numbered is posted under two numbers.
        if (this.handedOut.has(candidate.id)) continue;
        this.handedOut.add(candidate.id);
        out.push(candidate);
      }
      if (out.length === count || this.unread.length === 0) return out;
      const batch: UnreadChunk[] = [];
      let numbers = 0;
      while (this.unread.length > 0 && (batch.length === 0 || numbers < count - out.length)) {
        const chunk = this.unread.shift()!;
        batch.push(chunk);
        numbers += chunk.numbers.length;
      }
      this.take(await this.read(batch));
    }
  }
}

export class GraphIndex {
  private readonly buckets: SealedBuckets;
  private readonly fragments: FragmentFormat<Fragment>;

  constructor(
    private readonly codec: RecordCodec,
    private readonly userId: string,
    private readonly shape: GraphIndexShape = DEFAULT_GRAPH_SHAPE,
  ) {
    this.buckets = new SealedBuckets(codec, userId, { prefix: 'g', purpose: 'graph-bucket', kind: 'graph-index', buckets: shape.buckets, slots: shape.slots });
    this.fragments = {
      open: (row) => this.buckets.open<Fragment>(row, VERSION, (f) => typeof f.grams === 'object' && f.grams !== null && !Array.isArray(f.grams), 'a graph index fragment'),
      fold: (fragments) => foldPostings(fragments),
    };
  }

  private adjacencyId(name: string): string {
    return ADJACENCY_PREFIX + this.codec.lookup('graph-adjacency', name);
  }

  private cellOf(gram: string): number {
    return this.buckets.keyHash(gram) % (this.shape.buckets * CELLS_PER_BUCKET);
  }

  private openSizes(row: RecordRow): number[] {
    const cells = this.shape.buckets * CELLS_PER_BUCKET;
    const counts = decodeCounts(this.buckets.open<Sizes>(row, VERSION, (s) => typeof s.counts === 'string', 'graph index posting counts').counts);
    if (counts?.length !== cells) throw new UnreadableRecord(row.id, 'not graph index posting counts');
    return counts;
  }

  private sizesRow(counts: readonly number[], now: number): RecordRow {
    return this.buckets.seal('graph-index', SIZES_ID, { v: VERSION, counts: counts.map((n) => (n ? n.toString(36) : '')).join(',') }, now);
  }

  private emptyCounts(): number[] {
    return new Array<number>(this.shape.buckets * CELLS_PER_BUCKET).fill(0);
  }

  /**
   * The needle's trigrams whose buckets a search reads, in at most
   * READ_BUCKETS buckets: first those about as rare as the rarest by the
   * posting counts (at most twice its count), smallest bucket first, since
   * they rule out about as much; then the next rarest, while not much more
   * common (SELECTIVE_RATIO).
   * Any of its trigrams' entities include every match, so the choice only
   * steers cost: counts from before the search's snapshot are good enough.
   */
  private readGrams(grams: readonly string[], counts: readonly number[] | null): string[] {
    if (!counts) return [...grams];
    const estimate = (gram: string) => counts[this.cellOf(gram)]!;
    const weight = (bucket: number) => {
      let sum = 0;
      for (let cell = bucket; cell < counts.length; cell += this.shape.buckets) sum += counts[cell]!;
      return sum;
    };
    const rarest = Math.max(Math.min(...grams.map(estimate)), 1);
    const rank = (gram: string) => (estimate(gram) <= 2 * rarest ? weight(this.buckets.bucketOf(gram)) : Number.MAX_SAFE_INTEGER / 2 + estimate(gram));
    const ranked = [...grams].sort((a, b) => rank(a) - rank(b));
    const most = SELECTIVE_RATIO * rarest;
    const buckets = new Set<number>();
    return ranked.filter((gram) => {
      const bucket = this.buckets.bucketOf(gram);
      if (estimate(gram) > most || (!buckets.has(bucket) && buckets.size === READ_BUCKETS)) return false;
      buckets.add(bucket);
      return true;
    });
  }

  private tableId(n: number): string {
    return `${TABLE_PREFIX}${n}`;
  }

  private emptyStats(): Stats {
    return { v: VERSION, row: STATS_ID, gen: randomBytes(9).toString('base64url'), docs: 0, fragments: [], spans: [], setAside: [] };
  }

  private openStats(row: RecordRow): Stats {
    return this.buckets.open<Stats>(row, VERSION, (s) => typeof s.gen === 'string' && Number.isInteger(s.docs) && Array.isArray(s.fragments) && Array.isArray(s.spans) && Array.isArray(s.setAside), 'graph index statistics');
  }

  private openDelta(row: RecordRow): Delta {
    return this.buckets.open<Delta>(row, VERSION, (d) => DELTA_PREFIX + d.id === row.id && Array.isArray(d.entity?.observations) && Number.isFinite(d.createdAt), 'a graph index delta');
  }

  private openChunk(row: RecordRow): Chunk {
    const stored = this.buckets.open<StoredChunk>(row, VERSION, (c) => typeof c.gen === 'string' && Array.isArray(c.ids) && typeof c.created === 'string', 'a graph index table chunk');
    const created = decodePostings(stored.created);
    if (created.length !== stored.ids.length) throw new UnreadableRecord(row.id, 'not a graph index table chunk');
    return { gen: stored.gen, ids: stored.ids, created };
  }

  /** Opens an adjacency row; `names` maps the row ids asked for to their names (the row must hold the relations of its own name). */
  private openAdjacency(row: RecordRow, names: ReadonlyMap<string, string>): Adjacency {
    return this.buckets.open<Adjacency>(row, VERSION, (a) => typeof a.name === 'string' && Array.isArray(a.relations) && names.get(row.id) === a.name, 'a graph adjacency row');
  }

  private adjacencyIds(names: Iterable<string>): Map<string, string> {
    return new Map([...new Set(names)].map((name) => [this.adjacencyId(name), name]));
  }

  /** The statistics among `rows`; when there are none, empty ones unless index parts are stored (an older format, or a lost part). */
  private async statsOf(store: Pick<Store, 'countRecords'>, rows: readonly RecordRow[]): Promise<Stats> {
    const row = rows.find((r) => r.id === STATS_ID);
    if (row) return this.openStats(row);
    if ((await store.countRecords(this.userId, 'graph-index')) > 0) throw new UnreadableRecord(STATS_ID, 'missing');
    return this.emptyStats();
  }

  /**
   * The entities that may contain `needle` (lower-cased), after `after` in
   * creation order: a walk over a superset of the matches, to be checked
   * against their records; null when the needle is too short for trigrams and
   * every entity must be checked. Also the records a rebuild set aside.
   * Throws UnreadableRecord when a part it reads does not open (IndexMoved
   * when a rebuild replaced the table while the walk read it).
   */
  async walk(store: Pick<Store, 'snapshotRecords' | 'getRecords' | 'countRecords'>, needle: string, after?: RecordCursor): Promise<{ walk: CandidateWalk | null; setAside: string[] }> {
    const needleTrigrams = needleGrams(needle);
    // Read before the snapshot, only to choose the buckets; a missing one (a lost part, or no index yet) means reading them all, and the next merge rebuilds.
    const [sizes] = needleTrigrams ? await store.getRecords(this.userId, [SIZES_ID]) : [];
    const grams = needleTrigrams && this.readGrams(needleTrigrams, sizes ? this.openSizes(sizes) : null);
    const buckets = grams ? [...new Set(grams.map((gram) => this.buckets.bucketOf(gram)))] : [];
    // Statistics, fragments and deltas in one snapshot: the numbers and the spans agree.
    const rows = await store.snapshotRecords(this.userId, [STATS_ID, ...buckets.flatMap((b) => this.buckets.slotIds(b))], grams ? ['graph-delta'] : []);
    const stats = await this.statsOf(store, rows);
    if (!grams) return { walk: null, setAside: stats.setAside };
    const recent = rows.filter((row) => row.kind === 'graph-delta').map((row): Candidate => {
      const delta = this.openDelta(row);
      return { id: delta.id, createdAt: delta.createdAt };
    });
    const fragments = this.buckets.group(rows.filter((row) => row.kind === 'graph-index' && row.id !== STATS_ID), this.fragments);
    const encoded = grams.map((gram) => (fragments.get(this.buckets.bucketOf(gram)) ?? []).flatMap((fragment) => fragment.grams[gram] ?? []));
    // Ascending numbers, so each table chunk's run is contiguous.
    const byChunk: Array<[number, number[]]> = [];
    for (const n of intersect(selectiveLists(encoded))) {
      const chunk = Math.floor(n / this.shape.chunk);
      const last = byChunk.at(-1);
      if (last?.[0] === chunk) last[1].push(n);
      else byChunk.push([chunk, [n]]);
    }
    const unread: UnreadChunk[] = [];
    for (const [chunk, numbers] of byChunk) {
      const span = stats.spans[chunk];
      if (!span) throw new UnreadableRecord(STATS_ID, 'a table chunk without its span');
      // A chunk whose newest entry is older than the position holds nothing after it.
      if (!after || span[1] >= after.createdAt) unread.push({ chunk, numbers, oldest: span[0] });
    }
    unread.sort((a, b) => a.oldest - b.oldest || a.chunk - b.chunk);
    return { walk: new CandidateWalk(after, recent, unread, (chunks) => this.readCandidates(store, stats.gen, chunks)), setAside: stats.setAside };
  }

  /** The ids and creation times of these candidate numbers, from their table chunks. */
  private async readCandidates(store: Pick<Store, 'getRecords'>, gen: string, chunks: readonly UnreadChunk[]): Promise<Candidate[]> {
    const rows = new Map((await store.getRecords(this.userId, chunks.map(({ chunk }) => this.tableId(chunk)))).map((row) => [row.id, row]));
    const out: Candidate[] = [];
    for (const { chunk, numbers } of chunks) {
      const row = rows.get(this.tableId(chunk));
      if (!row) throw new IndexMoved(this.tableId(chunk), 'missing');
      const table = this.openChunk(row);
      if (table.gen !== gen) throw new IndexMoved(row.id, 'not of this index');
      for (const n of numbers) {
        const id = table.ids[n % this.shape.chunk];
        if (id === undefined) throw new UnreadableRecord(row.id, 'too short');
        out.push({ id: fullId(id), createdAt: table.created[n % this.shape.chunk]! });
      }
    }
    return out;
  }

  /**
   * Relations that start or end at one of `names`, oldest first: their
   * adjacency rows alone are read. Throws UnreadableRecord when one does not
   * open.
   */
  async relationsTouching(store: Pick<Store, 'getRecords'>, names: Iterable<string>): Promise<TouchingRelation[]> {
    const ids = this.adjacencyIds(names);
    if (ids.size === 0) return [];
    const byId = new Map<string, TouchingRelation>();
    for (const row of await store.getRecords(this.userId, [...ids.keys()])) {
      for (const [id, from, to, relationType, createdAt] of this.openAdjacency(row, ids).relations) byId.set(id, { id, from, to, relationType, createdAt });
    }
    return [...byId.values()].sort(byCreation);
  }

  /** The records a rebuild set aside, to be reported as unreadable while stored. Throws UnreadableRecord when the statistics do not open. */
  async setAside(store: Pick<Store, 'getRecords' | 'countRecords'>): Promise<string[]> {
    return (await this.statsOf(store, await store.getRecords(this.userId, [STATS_ID]))).setAside;
  }

  /**
   * Records changes inside the caller's transaction, which holds the user
   * lock. True when the index has gathered enough stale postings that the
   * caller should rebuild it.
   */
  async apply(tx: Transaction, changes: ReadonlyArray<GraphChange>): Promise<boolean> {
    if (changes.length === 0) return false;
    const now = Date.now();
    const entities = new Map<string, Dated>();
    const added: Array<[string, GraphDoc & { kind: 'relation' }]> = [];
    const removed: Array<[string, GraphDoc & { kind: 'relation' }]> = [];
    const deleted: string[] = [];
    for (const { id, doc, previous } of changes) {
      if (doc?.kind === 'entity') entities.set(id, { entity: { name: doc.name, entityType: doc.entityType, observations: doc.observations }, createdAt: doc.createdAt });
      else if (doc?.kind === 'relation') added.push([id, doc]);
      else {
        deleted.push(DELTA_PREFIX + id);
        entities.delete(id);
        if (previous?.kind === 'relation') removed.push([id, previous]);
      }
    }
    // A deleted entity's pending delta goes with it; its postings are weeded out when checked.
    if (deleted.length) await tx.deleteRecords(this.userId, deleted);
    if (added.length || removed.length) await this.updateAdjacency(tx, added, removed, now);
    if (entities.size === 0) return false;
    // A bulk change (an import) goes straight into the buckets instead of through thousands of deltas.
    if (entities.size >= this.shape.mergeAfter) return this.merge(tx, entities);
    await tx.putRecords([...entities].map(([id, { entity, createdAt }]) => this.buckets.seal('graph-delta', DELTA_PREFIX + id, { v: VERSION, id, entity, createdAt }, now)));
    if ((await tx.countRecords(this.userId, 'graph-delta')) >= this.shape.mergeAfter) return this.merge(tx, new Map());
    return false;
  }

  private async updateAdjacency(tx: Transaction, added: Array<[string, Relation & { createdAt: number }]>, removed: Array<[string, Relation]>, now: number): Promise<void> {
    const names = new Set([...added, ...removed].flatMap(([, r]) => [r.from, r.to]));
    const ids = this.adjacencyIds(names);
    const rows = await tx.getRecords(this.userId, [STATS_ID, ...ids.keys()]);
    const hasStats = rows.some((row) => row.id === STATS_ID);
    const stats = await this.statsOf(tx, rows);
    const lists = new Map<string, Map<string, Adjacent>>([...names].map((name) => [name, new Map()]));
    for (const row of rows) {
      if (row.id === STATS_ID) continue;
      const adjacency = this.openAdjacency(row, ids);
      lists.set(adjacency.name, new Map(adjacency.relations.map((entry) => [entry[0], entry])));
    }
    for (const [id, r] of removed) for (const name of [r.from, r.to]) lists.get(name)!.delete(id);
    for (const [id, r] of added) for (const name of [r.from, r.to]) lists.get(name)!.set(id, [id, r.from, r.to, r.relationType, r.createdAt]);
    const writes: RecordRow[] = hasStats ? [] : [this.buckets.seal('graph-index', STATS_ID, { ...stats }, now), this.sizesRow(this.emptyCounts(), now)];
    const emptied: string[] = [];
    for (const [name, list] of lists) {
      if (list.size) writes.push(this.buckets.seal('graph-index', this.adjacencyId(name), { v: VERSION, name, relations: [...list.values()] }, now));
      else emptied.push(this.adjacencyId(name));
    }
    await tx.putRecords(writes);
    if (emptied.length) await tx.deleteRecords(this.userId, emptied);
  }

  /**
   * Folds every stored delta, then `unsaved` changes, into the buckets and
   * the table, numbered oldest first. True when the numbers issued have
   * outgrown the live entities enough that a rebuild is due.
   */
  private async merge(tx: Transaction, unsaved: ReadonlyMap<string, Dated>): Promise<boolean> {
    const rows = await tx.snapshotRecords(this.userId, [STATS_ID, SIZES_ID], ['graph-delta']);
    const stats = await this.statsOf(tx, rows);
    const sizes = rows.find((row) => row.id === SIZES_ID);
    // Statistics without counts: a lost part, rebuilt like a damaged one.
    if (!sizes && rows.some((row) => row.id === STATS_ID)) throw new UnreadableRecord(SIZES_ID, 'missing');
    const counts = sizes ? this.openSizes(sizes) : this.emptyCounts();
    const latest = new Map<string, Dated>();
    const storedDeltas: string[] = [];
    for (const row of rows) {
      if (row.kind !== 'graph-delta') continue;
      const delta = this.openDelta(row);
      latest.set(delta.id, { entity: delta.entity, createdAt: delta.createdAt });
      storedDeltas.push(row.id);
    }
    for (const [id, dated] of unsaved) latest.set(id, dated);
    if (latest.size === 0) return false;

    const now = Date.now();
    const first = stats.docs;
    const entries = [...latest].map(([id, { createdAt }]): Candidate => ({ id, createdAt })).sort(byCreation);
    const postings = new Postings((gram) => this.buckets.bucketOf(gram));
    entries.forEach(({ id }, i) => postings.add(first + i, latest.get(id)!.entity));
    postings.count(counts, (gram) => this.cellOf(gram));
    const fragmentCounts = [...stats.fragments];
    const { writes, deletes } = await this.buckets.append(tx, postings.fragments(), fragmentCounts, this.fragments, now);

    // The table's last chunk is read only when it has room left.
    let last: Candidate[] = [];
    if (first % this.shape.chunk !== 0) {
      const id = this.tableId(Math.floor(first / this.shape.chunk));
      const [row] = await tx.getRecords(this.userId, [id]);
      if (!row) throw new UnreadableRecord(id, 'missing');
      const stored = this.openChunk(row);
      if (stored.gen !== stats.gen || stored.ids.length !== first % this.shape.chunk) throw new UnreadableRecord(row.id, 'not of this index');
      last = stored.ids.map((id, i) => ({ id: fullId(id), createdAt: stored.created[i]! }));
    }
    const spans = [...stats.spans];
    writes.push(...this.tableRows(stats.gen, first, last, entries, spans, now));
    const docs = first + entries.length;
    writes.push(this.buckets.seal('graph-index', STATS_ID, { ...stats, docs, fragments: fragmentCounts.map((c) => c ?? 0), spans }, now), this.sizesRow(counts, now));
    await tx.putRecords(writes);
    await tx.deleteRecords(this.userId, [...storedDeltas, ...deletes]);
    return docs > 2 * (await tx.countRecords(this.userId, 'entity')) + 4 * this.shape.chunk;
  }

  /**
   * The table rows that add `entries`, numbered from `first`, after `last`
   * (the entries already in the table's last chunk); widens `spans` to match.
   */
  private tableRows(gen: string, first: number, last: readonly Candidate[], entries: readonly Candidate[], spans: Array<[number, number]>, now: number): RecordRow[] {
    const size = this.shape.chunk;
    const rows: RecordRow[] = [];
    let open = [...last];
    entries.forEach((entry, i) => {
      const chunk = Math.floor((first + i) / size);
      widen(spans, chunk, entry.createdAt);
      open.push(entry);
      if (open.length === size) {
        rows.push(this.chunkRow(chunk, gen, open, now));
        open = [];
      }
    });
    if (open.length) rows.push(this.chunkRow(Math.floor((first + entries.length - 1) / size), gen, open, now));
    return rows;
  }

  private chunkRow(n: number, gen: string, entries: readonly Candidate[], now: number): RecordRow {
    return this.buckets.seal('graph-index', this.tableId(n), { v: VERSION, gen, ids: entries.map((e) => compactId(e.id)), created: encodePostings(entries.map((e) => e.createdAt)) }, now);
  }

  /**
   * Replaces the whole index with these records (rotation, repair, too many
   * stale postings). Records that could not be read are named in `setAside`,
   * so queries keep reporting them as unreadable while they are stored.
   */
  async rebuild(tx: Transaction, entries: ReadonlyArray<readonly [string, GraphDoc]>, setAside: readonly string[] = []): Promise<void> {
    const stale = await tx.allRecords(this.userId, ['graph-index', 'graph-delta']);
    await tx.deleteRecords(this.userId, stale.map((row) => row.id));
    const now = Date.now();
    const stats = { ...this.emptyStats(), setAside: [...setAside] };
    const entities: Array<Candidate & { entity: Entity }> = [];
    const adjacency = new Map<string, Adjacent[]>();
    for (const [id, doc] of entries) {
      if (doc.kind === 'entity') {
        entities.push({ id, createdAt: doc.createdAt, entity: doc });
        continue;
      }
      const entry: Adjacent = [id, doc.from, doc.to, doc.relationType, doc.createdAt];
      for (const name of new Set([doc.from, doc.to])) {
        const list = adjacency.get(name);
        if (list) list.push(entry);
        else adjacency.set(name, [entry]);
      }
    }
    // Numbered oldest first, so the table's chunks follow creation order.
    entities.sort(byCreation);
    const postings = new Postings((gram) => this.buckets.bucketOf(gram));
    entities.forEach(({ entity }, n) => postings.add(n, entity));
    const counts = this.emptyCounts();
    postings.count(counts, (gram) => this.cellOf(gram));
    const writes: RecordRow[] = [this.sizesRow(counts, now)];
    for (const [bucket, fragment] of postings.fragments()) {
      writes.push(this.buckets.fragmentRow(bucket, 0, fragment, now));
      stats.fragments[bucket] = 1;
    }
    writes.push(...this.tableRows(stats.gen, 0, [], entities, stats.spans, now));
    for (const [name, relations] of adjacency) writes.push(this.buckets.seal('graph-index', this.adjacencyId(name), { v: VERSION, name, relations }, now));
    writes.push(this.buckets.seal('graph-index', STATS_ID, { ...stats, docs: entities.length, fragments: Array.from({ length: this.shape.buckets }, (_, b) => stats.fragments[b] ?? 0) }, now));
    await tx.putRecords(writes);
  }
}
