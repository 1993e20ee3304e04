// JMLR's sampler: weighted sampling without replacement from softmax(s' / T). The ordered pairs
// of a two-document draw must follow p_i * p_j / (1 - p_i) (chi-square over many seeded draws).

import { describe, expect, it } from 'vitest';
import { drawWithoutReplacement, sampleDocuments, samplingProbs } from '../../src/training/sampler';
import { mulberry32 } from '../../src/tensor/random';
import { kendall, spearman } from '../../src/data/metrics';

describe('sampler', () => {
  it('probabilities are the softmax of the min-max scaled scores', () => {
    const p = samplingProbs([10, 20, 15], 0.5); // scaled: -1, 1, 0 -> softmax([-2, 2, 0])
    const z = Math.exp(-2) + Math.exp(2) + 1;
    expect(p[0]).toBeCloseTo(Math.exp(-2) / z, 12);
    expect(p[1]).toBeCloseTo(Math.exp(2) / z, 12);
    expect(p[2]).toBeCloseTo(1 / z, 12);
  });

  it('ordered pairs follow the without-replacement distribution (chi-square, df 19, p = 0.001)', () => {
    const probs = samplingProbs([0.3, 2.1, -1.4, 1.2, 0.9]);
    const K = probs.length,
      N = 40_000;
    const counts = new Map<string, number>();
    const rand = mulberry32(12345);
    for (let t = 0; t < N; t++) {
      const [a, b] = drawWithoutReplacement(probs, 2, rand);
      expect(a).not.toBe(b);
      const key = `${a},${b}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    let chi2 = 0;
    for (let i = 0; i < K; i++)
      for (let j = 0; j < K; j++) {
        if (i === j) continue;
        const expected = (N * probs[i]! * probs[j]!) / (1 - probs[i]!);
        chi2 += ((counts.get(`${i},${j}`) ?? 0) - expected) ** 2 / expected;
      }
    expect(chi2).toBeLessThan(43.82);
    // With replacement-style draws (no renormalisation) the same test fails by a wide margin:
    // the statistic is sensitive to the bug it guards against.
    let bad = 0;
    for (let i = 0; i < K; i++)
      for (let j = 0; j < K; j++) {
        if (i === j) continue;
        const wrong = N * probs[i]! * probs[j]!;
        const expected = (N * probs[i]! * probs[j]!) / (1 - probs[i]!);
        bad += (wrong - expected) ** 2 / expected;
      }
    expect(bad).toBeGreaterThan(1000);
  });

  it('draws every candidate when n = K, each once, and is reproducible from a seed', () => {
    const a = sampleDocuments([1, 2, 3, 4], 4, mulberry32(7));
    const b = sampleDocuments([1, 2, 3, 4], 4, mulberry32(7));
    expect([...a.drawn].sort()).toEqual([0, 1, 2, 3]);
    expect(a.drawn).toEqual(b.drawn);
    expect(() => drawWithoutReplacement([0.5, 0.5], 3, Math.random)).toThrow(/cannot draw 3 of 2/);
  });
});

describe('alignment correlations', () => {
  it('Spearman and Kendall on known cases, with ties', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    expect(kendall([1, 2, 3, 4], [1, 3, 2, 4])).toBeCloseTo(4 / 6, 12);
    // scipy.stats: spearmanr([1,2,2,3],[1,3,2,4]) = 0.9486832980505138, kendalltau = 0.9128709291752769
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(0.9486832980505138, 10);
    expect(kendall([1, 2, 2, 3], [1, 3, 2, 4])).toBeCloseTo(0.9128709291752769, 10);
    expect(spearman([1, 1, 1], [1, 2, 3])).toBe(0);
  });
});
