// The BM25 baseline: ranking on a small corpus worked by hand, and (with the real files) recall
// of PubMedQA questions against their own abstracts' passages.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePubMedQA } from '../../src/data/datasets';
import { aggregate, questionMetrics } from '../../src/data/metrics';
import { Bm25Index } from '../../src/retrieval/bm25';

describe('BM25 baseline (MiniSearch)', () => {
  const passages = [
    { id: 'p1', text: 'Insulin lowers blood glucose in diabetes.' },
    { id: 'p2', text: 'Fever is a raised body temperature, often from infection.' },
    { id: 'p3', title: 'Diabetes', text: 'Metformin is a first-line drug for type 2 diabetes; insulin is added later.' },
    { id: 'p4', text: 'The the the of of and and.' },
  ];

  it('ranks by term overlap with IDF and length normalisation; stopwords match nothing', () => {
    const bm = new Bm25Index(passages);
    expect(bm.size).toBe(4);
    const hits = bm.search('insulin diabetes', 10);
    expect(
      hits
        .map((h) => h.id)
        .slice(0, 2)
        .sort(),
    ).toEqual(['p1', 'p3']);
    expect(hits.every((h, i) => i === 0 || h.score <= hits[i - 1]!.score)).toBe(true);
    expect(bm.search('fever', 10).map((h) => h.id)).toEqual(['p2']);
    expect(bm.search('the of and', 10)).toEqual([]);
    // The title is indexed with the text: "metformin" and the title's "diabetes" both count for p3.
    expect(bm.search('metformin', 1)[0]!.id).toBe('p3');
  });

  it('PubMedQA: questions find their own abstract among 3,358 passages (recall@k against gold)', () => {
    const data = parsePubMedQA(readFileSync('../shared/data/pubmedqa/ori_pqal.json', 'utf8'));
    const bm = new Bm25Index(data.passages);
    const sample = data.questions.slice(0, 200);
    const per = sample.map((q) =>
      questionMetrics(
        bm.search(q.question, 100).map((h) => h.id),
        q.goldDocIds,
        [1, 5, 10, 100],
      ),
    );
    const m = aggregate(
      per,
      sample.map((q) => q.goldDocIds),
      [1, 5, 10, 100],
    );
    console.log(`BM25 on PubMedQA (first 200 questions): ${JSON.stringify(m)}`);
    // Each question has several gold passages (its abstract's sections), so recall@1 is at most
    // 1 / their count; the baseline finds most of them in the top 100.
    expect(m.questions).toBe(200);
    expect(m.mrr10).toBeGreaterThan(0.5);
    expect(m.recall[100]!).toBeGreaterThan(0.8);
    expect(m.recall[1]!).toBeLessThan(m.recall[5]!);
  });
});
