// Ranked full-text search: Unicode-aware tokens, BM25 relevance, prefix
// matching. Pure functions over already-decrypted documents, so the same
// ranking serves REST search, MCP recall and the dashboard.

const WORD = /[\p{L}\p{N}\p{M}]+/gu;
/** Scripts written without spaces: indexed as single characters and bigrams. */
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
const K1 = 1.2;
const B = 0.75;
/** A prefix match counts for less than the exact word. */
const PREFIX_WEIGHT = 0.7;
const MAX_QUERY_TERMS = 32;

/** Case- and accent-folded form used on both the indexed text and the query. */
export function fold(text: string): string {
  return text.normalize('NFKD').replace(/\p{Mn}/gu, '').normalize('NFC').toLowerCase();
}

export function tokenize(text: string): string[] {
  const terms: string[] = [];
  for (const [word] of fold(text).matchAll(WORD)) {
    if (!UNSPACED.test(word)) {
      terms.push(word);
      continue;
    }
    const chars = [...word];
    for (let i = 0; i < chars.length; i++) {
      terms.push(chars[i]!);
      if (i + 1 < chars.length) terms.push(chars[i]! + chars[i + 1]!);
    }
  }
  return terms;
}

/** One document as the ranker sees it: term frequencies and length, no content. */
export interface IndexedDoc {
  id: string;
  terms: Map<string, number>;
  length: number;
  tags: string[];
}

export function indexDocument(id: string, text: string, tags: string[]): IndexedDoc {
  const terms = new Map<string, number>();
  const tokens = tokenize([text, ...tags].join(' '));
  for (const term of tokens) terms.set(term, (terms.get(term) ?? 0) + 1);
  return { id, terms, length: tokens.length, tags };
}

export function hasTag(doc: { tags: string[] }, tag: string): boolean {
  const wanted = fold(tag.trim());
  return doc.tags.some((t) => fold(t) === wanted);
}

export interface Ranked {
  id: string;
  score: number;
}

/** Ranks documents for a query; documents matching no query term are left out. */
export function rank(docs: readonly IndexedDoc[], query: string, options: { limit: number; tag?: string }): Ranked[] {
  const queryTerms = [...new Set(tokenize(query))].slice(0, MAX_QUERY_TERMS);
  const pool = options.tag === undefined ? docs : docs.filter((d) => hasTag(d, options.tag!));
  if (queryTerms.length === 0 || pool.length === 0) return [];

  const averageLength = pool.reduce((sum, d) => sum + d.length, 0) / pool.length || 1;
  // Document frequency of every indexed term a query term matches (exactly or as a prefix).
  const documentFrequency = new Map<string, number>();
  const matchesPerDoc = pool.map((doc) => {
    const matches: Array<{ queryIndex: number; term: string; tf: number }> = [];
    for (const [term, tf] of doc.terms) {
      queryTerms.forEach((q, queryIndex) => {
        if (term.startsWith(q)) matches.push({ queryIndex, term, tf });
      });
    }
    for (const { term } of new Map(matches.map((m) => [m.term, m])).values()) {
      documentFrequency.set(term, (documentFrequency.get(term) ?? 0) + 1);
    }
    return matches;
  });

  const ranked: Ranked[] = [];
  pool.forEach((doc, i) => {
    const matches = matchesPerDoc[i]!;
    if (matches.length === 0) return;
    const best = new Array<number>(queryTerms.length).fill(0);
    for (const { queryIndex, term, tf } of matches) {
      const df = documentFrequency.get(term)!;
      const idf = Math.log(1 + (pool.length - df + 0.5) / (df + 0.5));
      const saturation = (tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * doc.length) / averageLength));
      const weight = term === queryTerms[queryIndex] ? 1 : PREFIX_WEIGHT;
      best[queryIndex] = Math.max(best[queryIndex]!, weight * idf * saturation);
    }
    ranked.push({ id: doc.id, score: Number(best.reduce((a, b) => a + b, 0).toFixed(6)) });
  });
  ranked.sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
  return ranked.slice(0, options.limit);
}
