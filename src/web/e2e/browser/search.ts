// Search in the browser: src/vault/search.ts rank(), the ranking the server
// uses for the dashboard, REST and /mcp, over the decrypted memories held in
// this page. A plain corpus rebuilt when the memories change: the page holds
// one account's memories, and a search walks them once per query term.
import type { Memory } from '../../../vault/records.ts';
import { type Corpus, hasTag, type MemoryDoc, memoryDoc, rank } from '../../../vault/search.ts';

export class MemorySearch implements Corpus {
  readonly #memories: Memory[];
  readonly #docs: MemoryDoc[];

  constructor(memories: readonly Memory[]) {
    this.#memories = [...memories];
    this.#docs = this.#memories.map((m) => memoryDoc(m.content, m.tags));
  }

  search(query: string, limit: number): Array<{ memory: Memory; score: number }> {
    const byId = new Map(this.#memories.map((m) => [m.id, m]));
    return rank(this, query, { limit }).map((hit) => ({ memory: byId.get(hit.id)!, score: hit.score }));
  }

  stats(tag?: string): { count: number; totalLength: number } {
    let count = 0;
    let totalLength = 0;
    this.#docs.forEach((doc) => {
      if (tag !== undefined && !hasTag(doc.tags, tag)) return;
      count++;
      totalLength += doc.len;
    });
    return { count, totalLength };
  }

  id(doc: number): string {
    return this.#memories[doc]!.id;
  }

  length(doc: number): number {
    return this.#docs[doc]!.len;
  }

  tags(doc: number): readonly string[] {
    return this.#docs[doc]!.tags;
  }

  forEachPrefix(prefix: string, visit: (term: string, doc: number, tf: number) => void): void {
    this.#docs.forEach((doc, n) => {
      for (const [term, tf] of doc.terms) if (term.startsWith(prefix)) visit(term, n, tf);
    });
  }
}
