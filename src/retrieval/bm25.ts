// BM25 baseline over a passage corpus: the one door to MiniSearch (npm `minisearch`), a
// well-kept full-text engine, configured for classic Okapi BM25 (k1 = 0.9, b = 0.4 as Pyserini's
// BEIR baselines; delta 0 turns MiniSearch's BM25+ into BM25), lowercase terms and Lucene's
// English stopwords. Title and text are one field, as BEIR's BM25 indexes them.

import MiniSearch from 'minisearch';
import type { Passage } from '../data/datasets';

/** Lucene's default English stop set (StandardAnalyzer / EnglishAnalyzer). */
const STOPWORDS = new Set(
  'a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with'.split(
    ' ',
  ),
);

export interface Bm25Options {
  k1?: number;
  b?: number;
}

export interface Bm25Hit {
  id: string;
  score: number;
}

export class Bm25Index {
  private readonly engine: MiniSearch<{ id: string; body: string }>;

  constructor(passages: readonly Passage[], opts: Bm25Options = {}) {
    this.engine = new MiniSearch({
      fields: ['body'],
      storeFields: [],
      processTerm: (t) => {
        const term = t.toLowerCase();
        return STOPWORDS.has(term) ? null : term;
      },
      searchOptions: { bm25: { k: opts.k1 ?? 0.9, b: opts.b ?? 0.4, d: 0 }, combineWith: 'OR' },
    });
    this.engine.addAll(passages.map((p) => ({ id: p.id, body: p.title ? `${p.title} ${p.text}` : p.text })));
  }

  get size(): number {
    return this.engine.documentCount;
  }

  /** The top k passages for a query, best first (fewer when fewer share a term with it). */
  search(query: string, k: number): Bm25Hit[] {
    return this.engine
      .search(query)
      .slice(0, k)
      .map((r) => ({ id: String(r.id), score: r.score }));
  }
}
