// The demo report's intervals (scripts/demo-report.ts): percentile bootstrap over questions and
// seeds, paired across methods by sharing the draws.
import { describe, expect, it } from 'vitest';
import { difference, draws, interval } from '../../scripts/demo-report';
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
