// Retrieval metrics on hand-worked rankings.
import { describe, expect, it } from 'vitest';
import { aggregate, bootstrapIntervals, questionMetrics } from '../../src/data/metrics';

describe('retrieval metrics', () => {
  it('recall@k, MRR@10 and nDCG@10 of one ranking, worked by hand', () => {
    // Gold d2 and d5; ranked d1 d2 d3 d4 d5 ...: hits at ranks 2 and 5.
    const m = questionMetrics(['d1', 'd2', 'd3', 'd4', 'd5', 'd6'], ['d2', 'd5'], [1, 2, 5]);
    expect(m.recall).toEqual({ 1: 0, 2: 0.5, 5: 1 });
    expect(m.mrr10).toBe(0.5);
    expect(m.firstGoldRank).toBe(2);
    const dcg = 1 / Math.log2(3) + 1 / Math.log2(6);
    const idcg = 1 + 1 / Math.log2(3);
    expect(m.ndcg10).toBeCloseTo(dcg / idcg, 12);
  });

  it('gold beyond rank 10 counts for recall@100 but not MRR@10 or nDCG@10; no gold scores 0', () => {
    const ranked = Array.from({ length: 30 }, (_, i) => `d${i}`);
    const m = questionMetrics(ranked, ['d12'], [10, 100]);
    expect(m).toMatchObject({ recall: { 10: 0, 100: 1 }, mrr10: 0, ndcg10: 0, firstGoldRank: 13 });
    expect(questionMetrics(ranked, [], [10])).toMatchObject({ recall: { 10: 0 }, mrr10: 0, ndcg10: 0, firstGoldRank: null });
    expect(questionMetrics(['a'], ['a'], [1]).ndcg10).toBe(1);
  });

  it('aggregates over the questions that have gold, skipping the others', () => {
    const gold = [['a'], [], ['b']];
    const per = [
      questionMetrics(['a', 'b'], gold[0]!, [1]),
      questionMetrics(['a'], gold[1]!, [1]),
      questionMetrics(['a', 'b'], gold[2]!, [1]),
    ];
    const agg = aggregate(per, gold, [1]);
    expect(agg.questions).toBe(2);
    expect(agg.recall[1]).toBe(0.5);
    expect(agg.mrr10).toBeCloseTo((1 + 0.5) / 2, 12);
  });

  it('bootstrap intervals: contain the mean, shrink with more questions, match the binomial width, reproduce', () => {
    // 400 questions, 30 % of them hit at rank 1: recall@1's interval is about 0.3 +- 1.96 sqrt(0.3 0.7 / 400).
    const per = Array.from({ length: 400 }, (_, i) => questionMetrics(i % 10 < 3 ? ['g'] : ['x', 'g'], ['g'], [1, 2]));
    const ci = bootstrapIntervals(per, [1, 2]);
    const [lo, hi] = ci.recall[1]!;
    expect(lo).toBeLessThan(0.3);
    expect(hi).toBeGreaterThan(0.3);
    const half = 1.96 * Math.sqrt((0.3 * 0.7) / 400);
    expect((hi - lo) / 2).toBeGreaterThan(0.8 * half);
    expect((hi - lo) / 2).toBeLessThan(1.2 * half);
    expect(ci.recall[2]).toEqual([1, 1]); // every question hits by rank 2: no spread
    expect(ci.mrr10[0]).toBeLessThan(0.65);
    expect(ci.mrr10[1]).toBeGreaterThan(0.65); // mean MRR = 0.3 + 0.7 / 2
    expect(bootstrapIntervals(per, [1, 2])).toEqual(ci); // seeded
    const small = bootstrapIntervals(per.slice(0, 40), [1]);
    expect(small.recall[1]![1] - small.recall[1]![0]).toBeGreaterThan(hi - lo);
  });
});
