// attn_probs_forward (the softmax of s2attn's scores path) and its backward (softmax_backward)
// against their CPU twins: causal rows (query at r % T), key masks per batch, rows left with no
// key, large scores, GQA-shaped rows (several heads' queries per batch row block), and ACCUMULATE.
import { afterAll, describe, expect, it } from 'vitest';
import { attnProbs } from '../../src/tensor/ops/attn-probs';
import { attnProbsForwardCpu } from '../../src/tensor/cpu/attn-probs';
import { softmaxBackwardCpu } from '../../src/tensor/cpu/softmax';
import { cpu } from '../../src/tensor/cpu/types';
import { ShapeError } from '../../src/tensor/tensor';
import { destroyEngine, expectClose, getEngine, randn, rng } from './helpers';

afterAll(destroyEngine);

const TOL = { atol: 2e-6, rtol: 1e-4 };

interface Case {
  /** [batch * kv heads, g * T, T]: B = shape[0] * shape[1] / rowsPerBatch. */
  shape: [number, number, number];
  H: number;
  causal: boolean;
  mask?: boolean;
  scale?: number;
}

const cases: Case[] = [
  { shape: [1, 8, 8], H: 1, causal: true },
  { shape: [4, 16, 16], H: 2, causal: true, scale: 40 }, // B 2, 2 heads: exp overflows without the max
  { shape: [2, 48, 24], H: 2, causal: true, mask: true }, // GQA: g = 2 query heads per kv head
  { shape: [3, 12, 12], H: 1, causal: false, mask: true },
  { shape: [2, 130, 130], H: 1, causal: true },
];

describe('attnProbs vs the CPU twin', () => {
  for (const c of cases)
    it(`[${c.shape}] H ${c.H} ${c.causal ? 'causal' : 'bidirectional'}${c.mask ? ' masked' : ''}`, async () => {
      const e = await getEngine();
      const [, rowsPer, T] = c.shape;
      const n = c.shape[0] * rowsPer * T;
      const rowsPerBatch = c.H * T;
      const B = (c.shape[0] * rowsPer) / rowsPerBatch;
      const sd = randn(n, 3, c.scale ?? 2);
      const r = rng(5);
      // Key 0 of batch 0 masked: its first causal query has no key left (an all-0 row).
      const md = c.mask ? Float32Array.from({ length: B * T }, (_, i) => (i === 0 || r() < 0.3 ? 0 : 1)) : undefined;
      const s = e.tensor(sd, c.shape, { requiresGrad: true });
      const p = attnProbs(s, { causal: c.causal, rowsPerBatch, keyMask: md && e.tensor(md, [B, T]) });
      const opts = { causal: c.causal, rowsPerBatch, keyMask: md && cpu(md, [B, T]) };
      const want = attnProbsForwardCpu(cpu(sd, c.shape), opts);
      const got = await p.read();
      expectClose(got, want.data, TOL, 'probabilities');
      if (c.mask && c.causal)
        expect(
          Array.from(got.slice(0, T)).every((x) => x === 0),
          'a row with no key is 0',
        ).toBe(true);
      const gd = randn(n, 4);
      e.backward(p, e.tensor(gd, c.shape));
      const dWant = softmaxBackwardCpu(want, cpu(gd, c.shape));
      expectClose(await s.grad!.read(), dWant.data, TOL, 'dS');
      // A second backward adds the same gradient (ACCUMULATE).
      const p2 = attnProbs(s, { causal: c.causal, rowsPerBatch, keyMask: md && e.tensor(md, [B, T]) });
      e.backward(p2, e.tensor(gd, c.shape));
      expectClose(
        await s.grad!.read(),
        dWant.data.map((x) => 2 * x),
        { atol: 4e-6, rtol: 1e-4 },
        'dS accumulated',
      );
    });

  it('refuses rows that are not whole batches and a key mask of the wrong shape', async () => {
    const e = await getEngine();
    const s = e.tensor(randn(2 * 6 * 6, 1), [2, 6, 6]);
    expect(() => attnProbs(s, { causal: true, rowsPerBatch: 5 })).toThrow(ShapeError);
    expect(() => attnProbs(s, { causal: true, rowsPerBatch: 18 })).toThrow(/whole batches/);
    expect(() => attnProbs(s, { causal: true, rowsPerBatch: 6, keyMask: e.tensor([1, 1, 1], [1, 3]) })).toThrow(/\[2, 6\]/);
  });
});
