import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setRowLayout } from '../../src/tensor/ops/common';
import { logSoftmax, MASKED_LOG_PROB, softmax } from '../../src/tensor/ops/softmax';
import { mul } from '../../src/tensor/ops/binary';
import { logSoftmaxBackwardCpu, logSoftmaxForwardCpu, softmaxBackwardCpu, softmaxForwardCpu } from '../../src/tensor/cpu/softmax';
import { cpu, type CpuTensor } from '../../src/tensor/cpu/types';
import { ShapeError } from '../../src/tensor/tensor';
import { destroyEngine, expectClose, getEngine, randn, rng } from './helpers';
import { gradcheck } from './gradcheck';

afterAll(destroyEngine);

const TOL = { atol: 2e-6, rtol: 1e-4 };
const LOG_TOL = { atol: 2e-5, rtol: 1e-5 };

/** 0/1 mask with about `keep` of entries kept; rows listed in `full` fully masked. */
function randomMask(shape: number[], seed: number, keep = 0.6, full: number[] = []): Float32Array {
  const r = rng(seed);
  const L = shape[shape.length - 1]!;
  const m = new Float32Array(shape.reduce((a, b) => a * b)).map(() => (r() < keep ? 1 : 0));
  for (const row of full) m.fill(0, row * L, (row + 1) * L);
  return m;
}

interface Case {
  shape: number[];
  scale?: number;
  mask?: { shape: number[]; full?: number[] };
}

// Rows longer than 256 (strided loops), odd row counts, logits up to ~+-200 (exp overflows f32
// without the max subtraction), full and broadcast masks with fully masked rows.
const cases: Case[] = [
  { shape: [5, 7] },
  { shape: [13, 300], scale: 3 },
  { shape: [3, 1031] },
  { shape: [7, 40], scale: 60 },
  { shape: [9, 33], mask: { shape: [9, 33], full: [0, 4] } },
  { shape: [5, 600], scale: 60, mask: { shape: [5, 600], full: [3] } },
  { shape: [2, 3, 17], mask: { shape: [17] } }, // one mask row shared by every row
  { shape: [2, 3, 17], mask: { shape: [2, 1, 17], full: [1] } }, // key-padding style: per batch
  { shape: [2, 3, 5], mask: { shape: [1, 3, 5], full: [2] } },
];

// Both layouts: a workgroup per row (barrier reductions) and a thread per row (software adapters).
for (const layout of ['workgroup', 'thread'] as const)
  describe(`softmax / logSoftmax over the last dim (${layout} per row)`, () => {
    beforeAll(() => void setRowLayout(layout));
    afterAll(() => void setRowLayout('auto'));
    for (const log of [false, true])
      for (const c of cases) {
        const name = log ? 'logSoftmax' : 'softmax';
        const label = `${name} [${c.shape}]${c.scale ? ` x${c.scale}` : ''}${c.mask ? ` mask [${c.mask.shape}]` : ''}`;
        it(`${label}: forward and backward match the CPU twin`, async () => {
          const e = await getEngine();
          const n = c.shape.reduce((a, b) => a * b);
          const xd = randn(n, 21, c.scale ?? 1);
          const md = c.mask ? randomMask(c.mask.shape, 22, 0.6, c.mask.full) : undefined;
          const mc: CpuTensor | undefined = md ? cpu(md, c.mask!.shape) : undefined;
          const x = e.tensor(xd, c.shape, { requiresGrad: true });
          const mask = md ? e.tensor(md, c.mask!.shape) : undefined;
          const y = log ? logSoftmax(x, mask) : softmax(x, mask);
          const ref = (log ? logSoftmaxForwardCpu : softmaxForwardCpu)(cpu(xd, c.shape), mc);
          expect(y.shape).toEqual(c.shape);
          const yd = await y.read();
          expect(yd.every(Number.isFinite), 'all outputs finite').toBe(true);
          expectClose(yd, ref.data, log ? LOG_TOL : TOL, `${label} forward`);
          const g = randn(n, 23);
          e.backward(y, e.tensor(g, c.shape));
          const dx = (log ? logSoftmaxBackwardCpu : softmaxBackwardCpu)(ref, cpu(g, c.shape), mc);
          expectClose(await x.grad!.read(), dx.data, { atol: 1e-5, rtol: 1e-4 }, `${label} backward`);
        });
      }

    it('masked entries: probability exactly 0, log-prob -1e30; fully masked rows are all 0 with 0 gradient', async () => {
      const e = await getEngine();
      const xd = Float32Array.from([1, 2, 3, 4, /**/ 5, 6, 7, 8, /**/ 80, -80, 80, 0]);
      const md = Float32Array.from([1, 0, 1, 0, /**/ 0, 0, 0, 0, /**/ 1, 1, 0, 1]);
      const x = e.tensor(xd, [3, 4], { requiresGrad: true });
      const mask = e.tensor(md, [3, 4]);
      const p = await softmax(x, mask).read();
      const e2 = Math.exp(2);
      expectClose(
        p,
        [1 / (1 + e2), 0, e2 / (1 + e2), 0, 0, 0, 0, 0, 1, Math.exp(-160), 0, Math.exp(-80)],
        { atol: 1e-7 },
        'probs',
      );
      expect(p[1]).toBe(0);
      const lp = await logSoftmax(x, mask).read();
      for (const i of [1, 3, 4, 5, 6, 7, 10]) expect(lp[i]).toBe(Math.fround(MASKED_LOG_PROB));
      expectClose([lp[8]!, lp[9]!], [0, -160], { atol: 1e-5 }, 'log-probs at +-80');
      // Gradient of a fully masked row is 0 for both (and never NaN).
      e.clearTape();
      for (const f of [softmax, logSoftmax]) {
        x.grad?.dispose();
        x.grad = null;
        e.backward(f(x, mask), e.tensor(randn(12, 5), [3, 4]));
        const dx = await x.grad!.read();
        expectClose(dx.slice(4, 8), [0, 0, 0, 0], { atol: 0 }, 'gradient of a fully masked row');
        expect(dx.every(Number.isFinite)).toBe(true);
      }
    });

    it('accumulates gradients across two backward passes (+=)', async () => {
      const e = await getEngine();
      const x = e.tensor(randn(3 * 300, 3), [3, 300], { requiresGrad: true });
      const g = e.tensor(randn(3 * 300, 4), [3, 300]);
      e.backward(softmax(x), g);
      e.backward(logSoftmax(x), g);
      const once = await x.grad!.read();
      e.backward(softmax(x), g);
      e.backward(logSoftmax(x), g);
      expectClose(
        await x.grad!.read(),
        once.map((v) => 2 * v),
        { atol: 1e-6, rtol: 1e-6 },
        'accumulated',
      );
    });

    it('softmax: finite-difference gradcheck, with and without a mask', async () => {
      const e = await getEngine();
      const xd = randn(3 * 5, 31);
      const md = Float32Array.from([1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0]);
      await gradcheck(e, ([x]) => softmax(x!), [{ data: xd, shape: [3, 5] }], { label: 'softmax' });
      await gradcheck(e, ([x]) => softmax(x!, e.tensor(md, [3, 5])), [{ data: xd, shape: [3, 5] }], { label: 'masked softmax' });
    });

    it('logSoftmax: finite-difference gradcheck, with and without a mask', async () => {
      const e = await getEngine();
      const xd = randn(3 * 5, 32);
      const md = Float32Array.from([1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0]);
      await gradcheck(e, ([x]) => logSoftmax(x!), [{ data: xd, shape: [3, 5] }], { label: 'logSoftmax' });
      // Multiplying by the mask zeroes the constant -1e30 entries, as a masked NLL would.
      await gradcheck(
        e,
        ([x]) => {
          const m = e.tensor(md, [3, 5]);
          return mul(logSoftmax(x!, m), m);
        },
        [{ data: xd, shape: [3, 5] }],
        { label: 'masked logSoftmax' },
      );
    });

    it('rejects bad input with ShapeError', async () => {
      const e = await getEngine();
      const x = e.zeros([2, 3, 4]);
      expect(() => softmax(x, e.zeros([2, 3, 5]))).toThrow(ShapeError);
      expect(() => softmax(x, e.zeros([2, 3, 5]))).toThrow(/mask of shape \[2,3,5\] does not fit x of shape \[2,3,4\]/);
      expect(() => softmax(x, e.zeros([3, 3, 4]))).toThrow(ShapeError);
      expect(() => logSoftmax(x, e.zeros([2, 2, 3, 4]))).toThrow(ShapeError);
      expect(() => softmax(e.tensor([1, 2], [2], { dtype: 'i32' }))).toThrow(/f32/);
      expect(() => softmax(x, e.tensor([1, 0, 1, 1], [4], { dtype: 'i32' }))).toThrow(/mask/);
      expect(() => softmax(e.tensor([1], []))).toThrow(ShapeError);
    });
  });
