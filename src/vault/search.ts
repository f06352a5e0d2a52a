// Ranked full-text search: Unicode-aware tokens, BM25 relevance, prefix
// matching. Pure functions over already-decrypted documents, so the same
// ranking serves REST search, MCP recall and the dashboard.

const WORD = /[\p{L}\p{N}\p{M}]+/gu;
/**
 * Scripts written without spaces: indexed as single characters and bigrams.
 * Script_Extensions, so marks shared by two scripts (the katakana long-vowel
 * mark ー) stay inside their run.
 */
const UNSPACED_CLASS = '\\p{scx=Han}\\p{scx=Hiragana}\\p{scx=Katakana}\\p{scx=Thai}\\p{scx=Lao}\\p{scx=Khmer}\\p{scx=Myanmar}';
const UNSPACED = new RegExp(`[${UNSPACED_CLASS}]`, 'u');
/** A word such as "iphoneを買った" mixes scripts with no space: each run is tokenised on its own. */
const SCRIPT_RUN = new RegExp(`[${UNSPACED_CLASS}]+|[^${UNSPACED_CLASS}]+`, 'gu');
const K1 = 1.2;
const B = 0.75;
/** A prefix match counts for less than the exact word. */
const PREFIX_WEIGHT = 0.7;
const MAX_QUERY_TERMS = 32;

/** True for a character of a script written without spaces (a term of such a script holds only them). */
export function isUnspaced(char: string): boolean {
  return UNSPACED.test(char);
}

/** Case- and accent-folded form used on both the indexed text and the query. */
export function fold(text: string): string {
  // ß and final ς fold as Unicode full case folding does, so "strasse" finds "Straße".
  return text.normalize('NFKD').replace(/\p{Mn}/gu, '').normalize('NFC').toLowerCase().replace(/ß/g, 'ss').replace(/ς/g, 'σ');
}

export function tokenize(text: string): string[] {
  const terms: string[] = [];
  // match, not matchAll: the words alone, without a match object for each.
  for (const word of fold(text).match(WORD) ?? []) {
    // Most words hold no character of an unspaced script: one run, the word
    // itself, found without splitting it into runs (a match object each).
    if (!UNSPACED.test(word)) {
      terms.push(word);
      continue;
    }
    for (const [run] of word.matchAll(SCRIPT_RUN)) {
      if (!UNSPACED.test(run)) {
        terms.push(run);
        continue;
      }
      const chars = [...run];
      for (let i = 0; i < chars.length; i++) {
        terms.push(chars[i]!);
        if (i + 1 < chars.length) terms.push(chars[i]! + chars[i + 1]!);
      }
    }
  }
  return terms;
}

/** A memory as the search index keeps it: term frequencies, length and tags; nothing else. */
export interface MemoryDoc {
  terms: Array<[string, number]>;
  len: number;
  tags: string[];
}

export function memoryDoc(text: string, tags: string[]): MemoryDoc {
  const counts = new Map<string, number>();
  const tokens = tokenize([text, ...tags].join(' '));
  for (const term of tokens) counts.set(term, (counts.get(term) ?? 0) + 1);
  return { terms: [...counts], len: tokens.length, tags };
}

export function hasTag(tags: readonly string[], tag: string): boolean {
  const wanted = tagKey(tag);
  return tags.some((t) => fold(t) === wanted);
}

/** The distinct terms of a query that ranking looks up (at most MAX_QUERY_TERMS). */
export function termsOfQuery(query: string): string[] {
  return [...new Set(tokenize(query))].slice(0, MAX_QUERY_TERMS);
}

/** What ranking needs from an index: its live documents, found through their terms. */
export interface Corpus {
  /** How many live documents there are (those carrying `tag`, when given) and their total length. */
  stats(tag?: string): { count: number; totalLength: number };
  /** A document's number is the one forEachPrefix gave it. */
  id(doc: number): string;
  length(doc: number): number;
  tags(doc: number): readonly string[];
  /** Visits every (term, doc, tf) of a live document whose term starts with `prefix`; a document has each term once. */
  forEachPrefix(prefix: string, visit: (term: string, doc: number, tf: number) => void): void;
}

/** The folded tag keys a document counts under in per-tag statistics (hasTag's comparison). */
export function tagKeys(tags: readonly string[]): string[] {
  return [...new Set(tags.map((t) => fold(t)))];
}

export function tagKey(tag: string): string {
  return fold(tag.trim());
}

export interface Ranked {
  id: string;
  score: number;
}

/**
 * BM25 over the live documents (k1 = 1.2, b = 0.75). A query term matches
 * indexed terms it is a prefix of, a prefix match weighing PREFIX_WEIGHT of
 * an exact one; each query term counts its best match per document.
 * Documents matching no query term are left out.
 */
export function rank(corpus: Corpus, query: string, options: { limit: number; tag?: string }): Ranked[] {
  const queryTerms = termsOfQuery(query);
  if (queryTerms.length === 0) return [];
  const { count, totalLength } = corpus.stats(options.tag);
  if (count === 0) return [];
  const averageLength = totalLength / count || 1;
  const tagged = new Map<number, boolean>();
  const carriesTag = (doc: number): boolean => {
    if (options.tag === undefined) return true;
    let has = tagged.get(doc);
    if (has === undefined) tagged.set(doc, (has = hasTag(corpus.tags(doc), options.tag)));
    return has;
  };

  // Per document scored so far, its row: its best score for each query term, in one flat list.
  const rows = new Map<number, number>();
  const docs: number[] = [];
  const best: number[] = [];
  const width = queryTerms.length;
  queryTerms.forEach((q, qi) => {
    const postings = new Map<string, number[]>();
    corpus.forEachPrefix(q, (term, doc, tf) => {
      if (!carriesTag(doc)) return;
      let list = postings.get(term);
      if (!list) postings.set(term, (list = []));
      list.push(doc, tf);
    });
    for (const [term, list] of postings) {
      const df = list.length / 2;
      const idf = Math.log(1 + (count - df + 0.5) / (df + 0.5));
      const weight = term === q ? 1 : PREFIX_WEIGHT;
      for (let i = 0; i < list.length; i += 2) {
        const doc = list[i]!;
        const tf = list[i + 1]!;
        const score = (weight * idf * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * corpus.length(doc)) / averageLength));
        let row = rows.get(doc);
        if (row === undefined) {
          rows.set(doc, (row = docs.push(doc) - 1));
          for (let j = 0; j < width; j++) best.push(0);
        }
        if (score > best[row * width + qi]!) best[row * width + qi] = score;
      }
    }
  });

  // Only documents scoring at least the limit-th best can be in the answer (with all of its
  // ties, ordered by id): ids are asked for, and compared, for those alone. Scores are
  // rounded to six decimals, which never reorders them, so the limit-th best rounded score
  // is the limit-th best sum rounded, and a sum further below that sum than rounding moves
  // a number cannot round up to it: only sums near or above it are rounded at all.
  const sums = docs.map((_, row) => {
    let sum = 0;
    for (let j = 0; j < width; j++) sum += best[row * width + j]!;
    return sum;
  });
  const round = (sum: number) => Number(sum.toFixed(6));
  const kth = sums.length > options.limit ? Float64Array.from(sums).sort()[sums.length - options.limit]! : -Infinity;
  const floor = round(kth);
  const near = kth - 2e-6;
  const ranked: Ranked[] = [];
  sums.forEach((sum, i) => {
    if (sum < near) return;
    const score = round(sum);
    if (score >= floor) ranked.push({ id: corpus.id(docs[i]!), score });
  });
  ranked.sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
  return ranked.slice(0, options.limit);
}
