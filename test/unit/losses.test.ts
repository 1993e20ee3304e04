// The retriever losses (src/training/losses.ts) against PyTorch autograd goldens
// (scripts/goldens/make_loss_goldens.py -> test/goldens/losses.json): values and gradients
// with respect to the raw scores; plus finite differences on the analytic gradients.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as L from '../../src/training/losses';

interface Case {
  name: string;
  loss: string;
  inputs: Record<string, unknown>;
  value: number;
  grad: number[] | number[][];
  weight?: number;
}

const golden = JSON.parse(readFileSync(new URL('../goldens/losses.json', import.meta.url), 'utf8')) as { cases: Case[] };

function compute(c: Case): L.LossGrad & { weight?: number } {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- golden inputs vary by loss kind
  const i = c.inputs as Record<string, any>;
  const s = i.scores as number[];
  switch (c.loss) {
    case 'llmRank':
      return L.llmRankLoss(s, i.sampled, i.nll, (i.margin as number | undefined) ?? 0);
    case 'listwise':
      return L.listwiseLoss(s, i.sampled, i.nll, i.tauS, i.tauG);
    case 'jomed': {
      const { g, weight } = L.jomedGold(i.labelLogits, i.gold);
      return { ...L.jomedLoss(s, g, i.tauS, i.tauG, i.prior), weight };
    }
    case 'pdist':
      return L.pdistLoss(s, i.nllMean, i.tau);
    case 'loop':
      return L.loopLoss(s, i.nllWithout, i.tau);
    case 'replug':
      return L.replugLoss(s, i.loglik, i.tauS, i.tauG);
    case 'emdr2':
      return L.emdr2Loss(s, i.tokenLogProbs);
    case 'ragMarginal':
      return L.ragMarginalLoss(s, i.loglik);
    case 'infoNce': {
      const rows = i.scores as number[][];
      return L.infoNceLoss(rows.flat(), rows.length, rows[0]!.length, i.positive, i.tau);
    }
    default:
      throw new Error(`unknown loss kind ${c.loss}`);
  }
}

describe('retriever losses match PyTorch autograd', () => {
  const kinds = new Set(golden.cases.map((c) => c.loss));
  it('covers every loss kind', () => {
    expect([...kinds].sort()).toEqual([
      'emdr2',
      'infoNce',
      'jomed',
      'listwise',
      'llmRank',
      'loop',
      'pdist',
      'ragMarginal',
      'replug',
    ]);
  });
  for (const c of golden.cases)
    it(`${c.loss}: ${c.name}`, () => {
      const r = compute(c);
      const want = (c.grad as (number | number[])[]).flat();
      let maxAbs = 0;
      want.forEach((w, k) => (maxAbs = Math.max(maxAbs, Math.abs(r.grad[k]! - w))));
      expect(r.grad.length).toBe(want.length);
      expect(Math.abs(r.loss - c.value)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(c.value)));
      expect(maxAbs).toBeLessThanOrEqual(1e-9 * Math.max(1, ...want.map(Math.abs)));
      if (c.weight !== undefined) expect(r.weight).toBe(c.weight);
    });
});

describe('analytic gradients agree with central differences', () => {
  const s = [2.5, -1.25, 0.75, 3.5, -2, 1.1];
  const h = 1e-6;
  const cases: [string, (x: number[]) => L.LossGrad][] = [
    ['llmRank (min and max among the sampled)', (x) => L.llmRankLoss(x, [3, 4, 0, 2], [1.5, 0.7, 2.2, 0.9])],
    ['llmRank (min and max not sampled)', (x) => L.llmRankLoss(x, [0, 2, 5], [1.5, 0.7, 2.2])],
    ['listwise', (x) => L.listwiseLoss(x, [1, 2, 5], [1.1, 0.4, 3], 0.5, 2)],
    [
      'emdr2',
      (x) =>
        L.emdr2Loss(
          x,
          x.map((_, i) => [-0.3 * (i + 1), -1.7 + 0.2 * i]),
        ),
    ],
  ];
  for (const [name, f] of cases)
    it(name, () => {
      const g = f(s).grad;
      s.forEach((_, k) => {
        const up = [...s],
          dn = [...s];
        up[k]! += h;
        dn[k]! -= h;
        expect(g[k]).toBeCloseTo((f(up).loss - f(dn).loss) / (2 * h), 5);
      });
    });
});

describe('LLM-Rank margin (llmRankMargin)', () => {
  const scores = [0.4, -1.2, 2.0, 0.3, -0.5];
  const sampled = [2, 0, 4, 1];
  const nll = [1.0, 1.04, 2.5, 0.9];
  it('leaves out exactly the pairs whose NLLs differ by less than the margin, and 0 keeps all', () => {
    const { scaled } = L.minMaxScale(scores);
    const all = L.llmRankPairs(scaled, sampled, nll);
    expect(all).toHaveLength(6);
    const kept = L.llmRankPairs(scaled, sampled, nll, 0.2);
    // |1.0-1.04| and |1.0-0.9| and |1.04-0.9| are under 0.2: three pairs go.
    expect(kept.map((p) => [p.a, p.b])).toEqual([
      [2, 4],
      [0, 4],
      [4, 1],
    ]);
    expect(L.llmRankLoss(scores, sampled, nll, 0).loss).toBe(L.llmRankLoss(scores, sampled, nll).loss);
    const none = L.llmRankLoss(scores, sampled, nll, 10);
    expect(none.loss).toBe(0);
    expect([...none.grad].every((g) => g === 0)).toBe(true);
  });
});
