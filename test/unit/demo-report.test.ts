// The demo report's intervals (scripts/demo-report.ts): percentile bootstrap over questions and
// seeds, paired across methods by sharing the draws.
import { describe, expect, it } from 'vitest';
import { climbs, difference, draws, interval } from '../../scripts/demo-report';
import { mulberry32 } from '../../src/tensor/random';

describe('demo-report bootstrap', () => {
  it('a constant metric has a zero-width interval at its value', () => {
    const v = [Array.from({ length: 50 }, () => 0.75)];
    const r = interval(v, draws(1, 50, 200));
    expect(r).toEqual({ mean: 0.75, lo: 0.75, hi: 0.75 });
  });

  it('the mean is the mean over seeds of the mean over scored questions (null is not scored)', () => {
    const v = [
      [1, 0, null, 1],
      [0, 0, 1, 1],
    ];
    expect(interval(v, draws(2, 4, 10)).mean).toBeCloseTo((2 / 3 + 2 / 4) / 2, 12);
  });

  it('a 0/1 metric with p = 0.5 over 400 questions: the interval is about +-1.96 sqrt(p(1-p)/n) and holds the mean', () => {
    const r0 = mulberry32(1);
    const v = [Array.from({ length: 400 }, () => (r0() < 0.5 ? 1 : 0))];
    const r = interval(v, draws(1, 400));
    expect(r.lo).toBeLessThan(r.mean);
    expect(r.hi).toBeGreaterThan(r.mean);
    const half = (r.hi - r.lo) / 2;
    expect(half).toBeGreaterThan(0.8 * 1.96 * Math.sqrt(0.25 / 400));
    expect(half).toBeLessThan(1.2 * 1.96 * Math.sqrt(0.25 / 400));
  });

  it('resamples seeds too: seeds that disagree widen the interval', () => {
    const same = [Array(100).fill(0.5), Array(100).fill(0.5)];
    const apart = [Array(100).fill(0.2), Array(100).fill(0.8)];
    const d = draws(2, 100, 500);
    const a = interval(same, d),
      b = interval(apart, d);
    expect(a.hi - a.lo).toBe(0);
    expect(b.mean).toBeCloseTo(0.5, 12);
    expect(b.lo).toBeCloseTo(0.2, 12);
    expect(b.hi).toBeCloseTo(0.8, 12);
  });

  it('draws are deterministic and shared (paired)', () => {
    expect(draws(3, 20, 5)).toEqual(draws(3, 20, 5));
  });

  it('paired differences: a method that wins on the same questions by a constant has a zero-width interval, unpaired noise does not hide it', () => {
    const r0 = mulberry32(3);
    const b = [Array.from({ length: 300 }, () => (r0() < 0.4 ? 1 : 0))];
    const a = [b[0]!.map((v, i) => (i % 10 === 0 ? 1 : v))]; // a fixes every tenth question b got wrong
    const d = draws(1, 300, 500);
    const diff = difference(a, b, d);
    const gain = a[0]!.reduce((s: number, v, i) => s + v - b[0]![i]!, 0) / 300;
    expect(diff.mean).toBeCloseTo(gain, 12);
    expect(diff.lo).toBeGreaterThan(0); // paired: the gain is clear
    const ia = interval(a, d),
      ib = interval(b, d);
    expect(ia.lo).toBeLessThan(ib.hi); // unpaired, the two intervals overlap
    expect(difference(b, b, d)).toEqual({ mean: 0, lo: 0, hi: 0 });
  });
});

describe("demo-report climbs (the Note cell's questions)", () => {
  const pq = (rr10: number[], right: (0 | 1)[]) => ({
    ids: ['demo-q1', 'demo-q2', 'demo-q3', 'demo-r1', 'demo-q4'],
    correct: { none: right.map(() => 0), retrieved: right, oracle: right.map(() => 1) },
    recall: {},
    rr10,
    spearman: right.map(() => 0),
  });
  const at = (step: number, rr10: number[], right: (0 | 1)[]) => ({
    step,
    split: 'test',
    result: { perQuestion: pq(rr10, right) },
  });
  it('keeps questions whose gold passage entered the top m and whose answer flipped, with the first step that shows it', () => {
    const evals = [
      at(0, [0, 1 / 7, 1 / 3, 0, 1], [0, 0, 0, 0, 1]),
      at(50, [1 / 4, 1 / 2, 1 / 3, 1, 1], [0, 1, 0, 1, 1]),
      { step: 50, split: 'validation', result: { perQuestion: pq([1, 1, 1, 1, 1], [1, 1, 1, 1, 1]) } },
      at(100, [1, 1, 1 / 3, 1, 1], [1, 1, 0, 1, 1]),
    ];
    // q1: not in the top 10 -> 1 by step 100; q2: 7 -> 1, in the top 2 at step 50; q3 never
    // climbs; r1 is a rephrasing (reported apart); q4 was already first.
    expect(climbs(evals, 2)).toEqual([
      { id: 'demo-q1', from: null, to: 1, byStep: 100 },
      { id: 'demo-q2', from: 7, to: 1, byStep: 50 },
    ]);
    expect(climbs(evals, 2, 1)).toHaveLength(1);
    expect(climbs(evals.slice(0, 1), 2)).toEqual([]);
  });
});
