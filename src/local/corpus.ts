// The local MCP server's search index: the decrypted memories of the replica
// as an in-memory inverted index, kept up to date change by change, which
// src/vault/search.ts rank() reads exactly as it reads the server's encrypted
// index, so recall ranks the same on the device as on /mcp.
import { CorpusStats } from '../vault/memory-index.ts';
import { type Corpus, type MemoryDoc } from '../vault/search.ts';

export class LocalCorpus implements Corpus {
  private readonly numbers = new Map<string, number>();
  private readonly ids: string[] = [];
  private readonly docs: Array<MemoryDoc | null> = [];
  /** term → document number → term frequency */
  private readonly postings = new Map<string, Map<number, number>>();
  /** Every term, sorted, so the terms a prefix starts are one run; null after a new term until the next search. */
  private sorted: string[] | null = [];
  private readonly totals = new CorpusStats(0, 0, []);

  /** Puts a memory's document (null: removes it). */
  set(id: string, doc: MemoryDoc | null): void {
    const old = this.numbers.get(id);
    if (old !== undefined) {
      const previous = this.docs[old]!;
      for (const [term] of previous.terms) {
        const list = this.postings.get(term)!;
        list.delete(old);
        if (list.size === 0) this.postings.delete(term);
      }
      this.totals.add(previous.len, previous.tags, -1);
      this.docs[old] = null;
      this.numbers.delete(id);
    }
    if (!doc) return;
    const n = this.ids.length;
    this.ids.push(id);
    this.docs.push(doc);
    this.numbers.set(id, n);
    for (const [term, tf] of doc.terms) {
      let list = this.postings.get(term);
      if (!list) {
        this.postings.set(term, (list = new Map()));
        this.sorted = null;
      }
      list.set(n, tf);
    }
    this.totals.add(doc.len, doc.tags, 1);
  }

  stats(tag?: string): { count: number; totalLength: number } {
    return this.totals.of(tag);
  }

  id(doc: number): string {
    return this.ids[doc]!;
  }

  length(doc: number): number {
    return this.docs[doc]!.len;
  }

  tags(doc: number): readonly string[] {
    return this.docs[doc]!.tags;
  }

  forEachPrefix(prefix: string, visit: (term: string, doc: number, tf: number) => void): void {
    const terms = (this.sorted ??= [...this.postings.keys()].sort());
    let lo = 0;
    let hi = terms.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (terms[mid]! < prefix) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < terms.length && terms[i]!.startsWith(prefix); i++) {
      // A term whose last document went is still in the sorted list until it is rebuilt.
      const list = this.postings.get(terms[i]!);
      if (list) for (const [doc, tf] of list) visit(terms[i]!, doc, tf);
    }
  }
}
