import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { setRowLayout } from '../../src/tensor/ops/common';
import { max, mean, meanAll, sum, sumAll, type ReduceOp } from '../../src/tensor/ops/reduce';
import { reduceBackwardCpu, reduceForwardCpu } from '../../src/tensor/cpu/reduce';
import { cpu } from '../../src/tensor/cpu/types';
import { ShapeError, type Tensor } from '../../src/tensor/tensor';
import { destroyEngine, expectClose, getEngine, randn } from './helpers';
import { gradcheck } from './gradcheck';

afterAll(destroyEngine);

const OPS: Record<ReduceOp, (x: Tensor, o?: { keepdim?: boolean }) => Tensor> = { sum, mean, max };
const TOL = { atol: 1e-4, rtol: 1e-4 };

// Row lengths straddle the 256-thread workgroup (strided loop) and row counts are odd primes.
const shapes: number[][] = [[5, 7], [13, 300], [3, 1031], [2, 3, 17], [11], [300, 7], [257, 256]];

describe('reductions over the last dim', () => {
  // Each shape in both row layouts ('auto' would test only what this adapter picks).
  for (const layout of ['workgroup', 'thread'] as const)
    for (const op of ['sum', 'mean', 'max'] as const)
      for (const shape of shapes)
        it(`${op} [${shape}] (${layout} per row): forward and backward match the CPU twin`, async () => {
          const prev = setRowLayout(layout);
          onTestFinished(() => void setRowLayout(prev));
          const e = await getEngine();
          const n = shape.reduce((a, b) => a * b);
          const xd = randn(n, 7, 3);
          const x = e.tensor(xd, shape, { requiresGrad: true });
          const out = OPS[op](x);
          const ref = reduceForwardCpu(op, cpu(xd, shape));
          expect(out.shape).toEqual(ref.out.shape);
          expectClose(await out.read(), ref.out.data, TOL, `${op} forward`);
          const g = randn(out.size, 8);
          e.backward(out, e.tensor(g, out.shape));
          const dx = reduceBackwardCpu(op, cpu(xd, shape), cpu(g, ref.out.shape));
          expectClose(await x.grad!.read(), dx.data, TOL, `${op} backward`);
        });

  it('keepdim keeps a size-1 last dim', async () => {
    const e = await getEngine();
    const x = e.tensor(randn(24, 1), [2, 3, 4]);
    expect(sum(x, { keepdim: true }).shape).toEqual([2, 3, 1]);
    expect(max(x, { keepdim: true }).shape).toEqual([2, 3, 1]);
    expect(mean(x).shape).toEqual([2, 3]);
  });

  it('max sends the gradient to the FIRST maximum on ties, also across the strided loop', async () => {
    const e = await getEngine();
    const L = 600;
    const xd = new Float32Array(3 * L).map((_, i) => -1 - (i % 7) * 0.1);
    // Row 0: ties at 300 and 10 and 522 (first is 10, found by different threads).
    xd[300] = xd[10] = xd[522] = 5;
    // Row 1: all equal: index 0. Row 2: ties at 599 and 256: 256.
    for (let j = 0; j < L; j++) xd[L + j] = 2;
    xd[2 * L + 599] = xd[2 * L + 256] = 9;
    const x = e.tensor(xd, [3, L], { requiresGrad: true });
    const out = max(x);
    expectClose(await out.read(), [5, 2, 9], { atol: 0 }, 'max values');
    e.backward(out, e.tensor([1, 2, 3], [3]));
    const dx = await x.grad!.read();
    const nz = [...dx.entries()].filter(([, v]) => v !== 0);
    expect(nz).toEqual([
      [10, 1],
      [L, 2],
      [2 * L + 256, 3],
    ]);
  });

  it('handles more rows than one grid dim holds (2D dispatch)', async () => {
    const e = await getEngine();
    // Rows longer than 256 keep the workgroup-per-row path, whose grid goes 2D past 65535.
    const R = 66000,
      N = 257;
    const xd = randn(R * N, 11);
    const x = e.tensor(xd, [R, N]);
    // One op only: 66000 workgroups take ~20 s on SwiftShader. Exact values catch a wrong row.
    const ref = reduceForwardCpu('max', cpu(xd, [R, N]));
    expectClose(await max(x).read(), ref.out.data, { atol: 0 }, 'max, 66000 rows');
  });

  it('sumAll and meanAll reduce everything to a scalar, with gradients', async () => {
    const e = await getEngine();
    const xd = randn(3 * 5 * 7, 3);
    const x = e.tensor(xd, [3, 5, 7], { requiresGrad: true });
    const s = sumAll(x);
    expect(s.shape).toEqual([]);
    const ref = xd.reduce((a, b) => a + b, 0);
    expectClose([await s.item()], [ref], TOL, 'sumAll');
    expectClose([await meanAll(x).item()], [ref / xd.length], TOL, 'meanAll');
    e.clearTape();
    e.backward(meanAll(x));
    expectClose(await x.grad!.read(), new Float32Array(xd.length).fill(1 / xd.length), { atol: 1e-7 }, 'dmeanAll');
  });

  it('accumulates gradients across two backward passes (+=)', async () => {
    const e = await getEngine();
    const x = e.tensor(randn(2 * 300, 5), [2, 300], { requiresGrad: true });
    const g = e.tensor([0.5, -2], [2]);
    e.backward(max(x), g);
    e.backward(mean(x), g);
    const once = await x.grad!.read();
    e.backward(max(x), g);
    e.backward(mean(x), g);
    expectClose(
      await x.grad!.read(),
      once.map((v) => 2 * v),
      { atol: 1e-6 },
      'accumulated',
    );
    // Sanity: the max rows got more than the mean's share.
    expect(Math.max(...once.map(Math.abs))).toBeGreaterThan(0.5);
  });

  for (const op of ['sum', 'mean', 'max'] as const)
    it(`${op}: finite-difference gradcheck`, async () => {
      const e = await getEngine();
      // Well-separated values so max has no near-ties within eps.
      const xd = Float32Array.from([0.3, -1.2, 2.5, 0.9, -0.4, 1.7, -2.2, 0.1, 1.1, -0.8, 2.9, -1.9]);
      await gradcheck(e, ([x]) => OPS[op](x!), [{ data: xd, shape: [3, 4] }], { label: op });
    });

  it('rejects bad input with ShapeError', async () => {
    const e = await getEngine();
    expect(() => sum(e.tensor([1], []))).toThrow(ShapeError);
    expect(() => max(e.zeros([3, 0]))).toThrow(/empty last dim/);
    expect(() => mean(e.zeros([3, 0]))).toThrow(ShapeError);
    expect(() => sum(e.tensor([1, 2], [2], { dtype: 'i32' }))).toThrow(/f32/);
    expectClose(await sum(e.zeros([3, 0])).read(), [0, 0, 0], { atol: 0 }, 'sum over an empty dim');
  });
});
