import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setRowLayout } from '../../src/tensor/ops/common';
import { l2normalize, layernorm, rmsnorm } from '../../src/tensor/ops/norms';
import {
  l2normalizeBackwardCpu,
  l2normalizeForwardCpu,
  layernormBackwardCpu,
  layernormForwardCpu,
  rmsnormBackwardCpu,
  rmsnormForwardCpu,
} from '../../src/tensor/cpu/norms';
import { cpu } from '../../src/tensor/cpu/types';
import { ShapeError } from '../../src/tensor/tensor';
import { gradcheck } from './gradcheck';
import { destroyEngine, expectClose, getEngine, randn } from './helpers';

afterAll(destroyEngine);

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
// D below, at and above the 256-thread workgroup (strided loops, partial last stride), and a
// 3-D input.
const SHAPES = [
  [4, 8],
  [3, 256],
  [5, 300],
  [2, 3, 1000],
];
// More rows than one grid dimension holds (2-D row indexing) costs ~0.5 ms per row on
// SwiftShader, about 4 minutes for the three ops: run with VITE_MEDRANK_SLOW=1.
const SLOW = (import.meta.env as Record<string, unknown>).VITE_MEDRANK_SLOW === '1';

// Both layouts of the row kernels: a workgroup per row (GPUs) and a thread per row (software
// adapters, many short rows). 'auto' would test only the one this adapter picks.
for (const layout of ['workgroup', 'thread'] as const)
  describe(`row layout: ${layout}`, () => {
    beforeAll(() => void setRowLayout(layout));
    afterAll(() => void setRowLayout('auto'));

    describe('layernorm', () => {
      for (const shape of SHAPES) {
        it(`[${shape}]: forward and dx, dgamma, dbeta match the CPU twin`, async () => {
          const e = await getEngine();
          const D = shape.at(-1)!,
            n = numel(shape);
          const xd = randn(n, 1, 2).map((v, i) => v + (i % 3)); // nonzero row means
          const gd = randn(D, 2).map((v) => 1 + 0.5 * v),
            bd = randn(D, 3),
            od = randn(n, 4);
          const x = e.tensor(xd, shape, { requiresGrad: true });
          const gamma = e.tensor(gd, [D], { requiresGrad: true });
          const beta = e.tensor(bd, [D], { requiresGrad: true });
          const y = layernorm(x, gamma, beta, 1e-5);
          const ref = layernormForwardCpu(cpu(xd, shape), cpu(gd, [D]), cpu(bd, [D]), 1e-5);
          expectClose(await y.read(), ref.out.data, { atol: 2e-5, rtol: 1e-5 }, 'forward');
          e.backward(y, e.tensor(od, shape));
          const b = layernormBackwardCpu(cpu(xd, shape), cpu(gd, [D]), cpu(od, shape), 1e-5);
          expectClose(await x.grad!.read(), b.dx.data, { atol: 5e-5, rtol: 1e-4 }, 'dx');
          expectClose(await gamma.grad!.read(), b.dgamma.data, { atol: 1e-4, rtol: 1e-4 }, 'dgamma');
          expectClose(await beta.grad!.read(), b.dbeta.data, { atol: 1e-4, rtol: 1e-4 }, 'dbeta');
        });
      }

      it('stays accurate when |mean| >> std (two-pass variance)', async () => {
        const e = await getEngine();
        const xd = randn(2 * 500, 5, 0.01).map((v) => v + 100);
        const ones = new Float32Array(500).fill(1);
        const y = layernorm(e.tensor(xd, [2, 500]), e.tensor(ones, [500]), e.zeros([500]), 1e-12);
        const ref = layernormForwardCpu(cpu(xd, [2, 500]), cpu(ones, [500]), cpu(new Float32Array(500), [500]), 1e-12);
        // An f32 mean near 100 is good to ~1 ulp (8e-6 = 8e-4 std), which shifts every output by as
        // much. E[x^2] - mean^2 would lose everything: E[x^2] = 1e4 has ulp 1e-3, ten times the variance.
        expectClose(await y.read(), ref.out.data, { atol: 2e-3, rtol: 1e-3 }, 'offset rows');
      });

      it('gives the same output with and without a tape (the no-stats inference variant)', async () => {
        const e = await getEngine();
        const xd = randn(3 * 40, 6),
          gd = randn(40, 7),
          bd = randn(40, 8);
        const withTape = await layernorm(
          e.tensor(xd, [3, 40], { requiresGrad: true }),
          e.tensor(gd, [40]),
          e.tensor(bd, [40]),
        ).read();
        e.clearTape();
        const without = await e.noGrad(() => layernorm(e.tensor(xd, [3, 40]), e.tensor(gd, [40]), e.tensor(bd, [40]))).read();
        expect(Array.from(without)).toEqual(Array.from(withTape));
      });

      it('accumulates dx, dgamma and dbeta over two backward passes', async () => {
        const e = await getEngine();
        const xd = randn(3 * 300, 9),
          gd = randn(300, 10),
          bd = randn(300, 11),
          od = randn(900, 12);
        const x = e.tensor(xd, [3, 300], { requiresGrad: true });
        const gamma = e.tensor(gd, [300], { requiresGrad: true });
        const beta = e.tensor(bd, [300], { requiresGrad: true });
        e.backward(layernorm(x, gamma, beta), e.tensor(od, [3, 300]));
        const once = await Promise.all([x, gamma, beta].map((t) => t.grad!.read()));
        e.backward(layernorm(x, gamma, beta), e.tensor(od, [3, 300]));
        const twice = await Promise.all([x, gamma, beta].map((t) => t.grad!.read()));
        const b = layernormBackwardCpu(cpu(xd, [3, 300]), cpu(gd, [300]), cpu(od, [3, 300]), 1e-12);
        expectClose(once[0]!, b.dx.data, { atol: 5e-5, rtol: 1e-4 }, 'dx once');
        for (let k = 0; k < 3; k++)
          expectClose(
            twice[k]!,
            once[k]!.map((v) => 2 * v),
            { atol: 1e-6, rtol: 1e-6 },
            `grad ${k} twice`,
          );
      });

      it('finite-difference gradcheck on x, gamma and beta', async () => {
        const e = await getEngine();
        await gradcheck(
          e,
          ([x, g, b]) => layernorm(x!, g!, b!, 1e-5),
          [
            { data: randn(10, 13), shape: [2, 5] },
            { data: randn(5, 14).map((v) => 1 + 0.3 * v), shape: [5] },
            { data: randn(5, 15), shape: [5] },
          ],
          { label: 'layernorm' },
        );
      });

      it('rejects parameters that do not match the last dim, naming the shapes', async () => {
        const e = await getEngine();
        const x = e.zeros([2, 8]);
        expect(() => layernorm(x, e.zeros([7]), e.zeros([8]))).toThrow(ShapeError);
        expect(() => layernorm(x, e.zeros([7]), e.zeros([8]))).toThrow(
          /gamma must have shape \[8\] to match the last dim of x \[2,8\], got \[7\]/,
        );
        expect(() => layernorm(x, e.zeros([8]), e.zeros([1, 8]))).toThrow(/beta must have shape \[8\].*got \[1,8\]/);
        expect(() => layernorm(e.zeros([2, 0]), e.zeros([0]), e.zeros([0]))).toThrow(/last dim of x \[2,0\] is empty/);
        expect(() => layernorm(x, e.zeros([8]), e.zeros([8]), -1)).toThrow(/eps must be/);
      });
    });

    describe('rmsnorm', () => {
      for (const shape of SHAPES) {
        it(`[${shape}]: forward and dx, dweight match the CPU twin`, async () => {
          const e = await getEngine();
          const D = shape.at(-1)!,
            n = numel(shape);
          const xd = randn(n, 21, 2),
            wd = randn(D, 22).map((v) => 1 + 0.5 * v),
            od = randn(n, 23);
          const x = e.tensor(xd, shape, { requiresGrad: true });
          const w = e.tensor(wd, [D], { requiresGrad: true });
          const y = rmsnorm(x, w, 1e-6);
          expectClose(
            await y.read(),
            rmsnormForwardCpu(cpu(xd, shape), cpu(wd, [D]), 1e-6).out.data,
            { atol: 2e-5, rtol: 1e-5 },
            'forward',
          );
          e.backward(y, e.tensor(od, shape));
          const b = rmsnormBackwardCpu(cpu(xd, shape), cpu(wd, [D]), cpu(od, shape), 1e-6);
          expectClose(await x.grad!.read(), b.dx.data, { atol: 5e-5, rtol: 1e-4 }, 'dx');
          expectClose(await w.grad!.read(), b.dweight.data, { atol: 1e-4, rtol: 1e-4 }, 'dweight');
        });
      }

      it("Gemma's (1 + w), weightOffset 1: forward and dx, dweight match the twin, and equal a stored 1 + w", async () => {
        const e = await getEngine();
        const shape = [3, 40];
        const xd = randn(120, 31, 2),
          wd = randn(40, 32).map((v) => 0.2 * v),
          od = randn(120, 33);
        const x = e.tensor(xd, shape, { requiresGrad: true });
        const w = e.tensor(wd, [40], { requiresGrad: true });
        const y = rmsnorm(x, w, 1e-6, { weightOffset: 1 });
        const want = rmsnormForwardCpu(cpu(xd, shape), cpu(wd, [40]), 1e-6, 1).out.data;
        expectClose(await y.read(), want, { atol: 2e-5, rtol: 1e-5 }, 'forward');
        const plusOne = rmsnormForwardCpu(
          cpu(xd, shape),
          cpu(
            wd.map((v) => 1 + v),
            [40],
          ),
          1e-6,
        ).out.data;
        expectClose(want, plusOne, { atol: 1e-6, rtol: 1e-6 }, 'twin: offset = stored 1 + w');
        e.backward(y, e.tensor(od, shape));
        const b = rmsnormBackwardCpu(cpu(xd, shape), cpu(wd, [40]), cpu(od, shape), 1e-6, 1);
        expectClose(await x.grad!.read(), b.dx.data, { atol: 5e-5, rtol: 1e-4 }, 'dx');
        expectClose(await w.grad!.read(), b.dweight.data, { atol: 1e-4, rtol: 1e-4 }, 'dweight');
        expect(() => rmsnorm(x, w, 1e-6, { weightOffset: NaN })).toThrow(/weightOffset must be a finite number/);
      });

      it('accumulates dx and dweight over two backward passes; no-tape output is identical', async () => {
        const e = await getEngine();
        const xd = randn(2 * 300, 24),
          wd = randn(300, 25),
          od = randn(600, 26);
        const x = e.tensor(xd, [2, 300], { requiresGrad: true });
        const w = e.tensor(wd, [300], { requiresGrad: true });
        const first = await rmsnorm(x, w).read();
        e.backward(rmsnorm(x, w), e.tensor(od, [2, 300]));
        e.clearTape();
        const once = await Promise.all([x.grad!.read(), w.grad!.read()]);
        e.backward(rmsnorm(x, w), e.tensor(od, [2, 300]));
        const twice = await Promise.all([x.grad!.read(), w.grad!.read()]);
        expectClose(
          twice[0]!,
          once[0]!.map((v) => 2 * v),
          { atol: 1e-6, rtol: 1e-6 },
          'dx twice',
        );
        expectClose(
          twice[1]!,
          once[1]!.map((v) => 2 * v),
          { atol: 1e-6, rtol: 1e-6 },
          'dweight twice',
        );
        const inference = await e.noGrad(() => rmsnorm(x, w)).read();
        expect(Array.from(inference)).toEqual(Array.from(first));
      });

      it('finite-difference gradcheck on x and weight', async () => {
        const e = await getEngine();
        await gradcheck(
          e,
          ([x, w]) => rmsnorm(x!, w!, 1e-6),
          [
            { data: randn(10, 27), shape: [2, 5] },
            { data: randn(5, 28).map((v) => 1 + 0.3 * v), shape: [5] },
          ],
          { label: 'rmsnorm' },
        );
      });

      it('rejects a weight that does not match the last dim', async () => {
        const e = await getEngine();
        expect(() => rmsnorm(e.zeros([3, 4, 16]), e.zeros([4]))).toThrow(ShapeError);
        expect(() => rmsnorm(e.zeros([3, 4, 16]), e.zeros([4]))).toThrow(
          /weight must have shape \[16\] to match the last dim of x \[3,4,16\], got \[4\]/,
        );
        expect(() => rmsnorm(e.zeros([3, 16]), e.zeros([16, 1]))).toThrow(/got \[16,1\]/);
      });
    });
  });

for (const layout of ['workgroup', 'thread'] as const)
  describe(`l2normalize, row layout: ${layout}`, () => {
    beforeAll(() => void setRowLayout(layout));
    afterAll(() => void setRowLayout('auto'));

    describe('l2normalize', () => {
      for (const shape of SHAPES) {
        it(`[${shape}]: forward and backward match the CPU twin`, async () => {
          const e = await getEngine();
          const n = numel(shape);
          const xd = randn(n, 31, 3),
            od = randn(n, 32);
          const x = e.tensor(xd, shape, { requiresGrad: true });
          const y = l2normalize(x);
          expectClose(await y.read(), l2normalizeForwardCpu(cpu(xd, shape)).data, { atol: 1e-6, rtol: 1e-5 }, 'forward');
          e.backward(y, e.tensor(od, shape));
          expectClose(
            await x.grad!.read(),
            l2normalizeBackwardCpu(cpu(xd, shape), cpu(od, shape)).data,
            { atol: 1e-5, rtol: 1e-4 },
            'dx',
          );
        });
      }

      it('rows give unit norm; a row below eps is divided by eps and its gradient is g / eps', async () => {
        const e = await getEngine();
        const eps = 1e-3;
        const xd = Float32Array.from([3, 4, 0, 0, 1e-4, -2e-4, 0, 0, 0, 0, 0, 0]); // rows: normal, tiny, zero
        const gd = Float32Array.from([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4]);
        const x = e.tensor(xd, [3, 4], { requiresGrad: true });
        const y = l2normalize(x, eps);
        expectClose(await y.read(), [0.6, 0.8, 0, 0, 0.1, -0.2, 0, 0, 0, 0, 0, 0], { atol: 1e-6, rtol: 1e-5 }, 'forward');
        e.backward(y, e.tensor(gd, [3, 4]));
        const dx = await x.grad!.read();
        // Row 0: (g - y (y . g)) / 5 with y . g = 2.2.
        const row0 = [1 - 0.6 * 2.2, 2 - 0.8 * 2.2, 3, 4].map((v) => v / 5);
        expectClose(dx, [...row0, 1000, 2000, 3000, 4000, 1000, 2000, 3000, 4000], { atol: 1e-5, rtol: 1e-5 }, 'dx');
      });

      it('accumulates over two backward passes', async () => {
        const e = await getEngine();
        const x = e.tensor(randn(600, 33), [2, 300], { requiresGrad: true });
        const g = e.tensor(randn(600, 34), [2, 300]);
        e.backward(l2normalize(x), g);
        const once = await x.grad!.read();
        e.backward(l2normalize(x), g);
        expectClose(
          await x.grad!.read(),
          once.map((v) => 2 * v),
          { atol: 1e-6, rtol: 1e-6 },
          'twice',
        );
      });

      it('finite-difference gradcheck on x', async () => {
        const e = await getEngine();
        await gradcheck(e, ([x]) => l2normalize(x!), [{ data: randn(10, 35), shape: [2, 5] }], { label: 'l2normalize' });
      });

      it('rejects scalars, empty rows and a negative eps', async () => {
        const e = await getEngine();
        expect(() => l2normalize(e.zeros([]))).toThrow(ShapeError);
        expect(() => l2normalize(e.zeros([3, 0]))).toThrow(/\[3,0\] is empty/);
        expect(() => l2normalize(e.zeros([3, 2]), -1)).toThrow(/eps must be/);
      });
    });
  });

describe.runIf(SLOW)('more rows than one grid dimension (slow on SwiftShader)', () => {
  const R = 65600,
    D = 3;
  // Well-conditioned rows (spread ~1 in every row): a near-constant row would amplify f32
  // error through rstd and test conditioning instead of indexing.
  const xd = randn(R * D, 91, 0.1).map((v, i) => v + (i % D));
  const od = randn(R * D, 92);
  const wd = Float32Array.from([0.5, 1, 1.5]),
    bd = Float32Array.from([0.1, -0.2, 0.3]);

  it(`layernorm [${R}, ${D}]`, async () => {
    const e = await getEngine();
    const x = e.tensor(xd, [R, D], { requiresGrad: true });
    const gamma = e.tensor(wd, [D], { requiresGrad: true });
    const y = layernorm(x, gamma, e.tensor(bd, [D]), 1e-5);
    expectClose(
      await y.read(),
      layernormForwardCpu(cpu(xd, [R, D]), cpu(wd, [D]), cpu(bd, [D]), 1e-5).out.data,
      { atol: 2e-5, rtol: 1e-5 },
      'forward',
    );
    e.backward(y, e.tensor(od, [R, D]));
    const b = layernormBackwardCpu(cpu(xd, [R, D]), cpu(wd, [D]), cpu(od, [R, D]), 1e-5);
    expectClose(await x.grad!.read(), b.dx.data, { atol: 1e-4, rtol: 1e-4 }, 'dx');
    // A column sum over 65600 rows in f32.
    expectClose(await gamma.grad!.read(), b.dgamma.data, { atol: 2e-3, rtol: 1e-4 }, 'dgamma');
  });

  it(`rmsnorm [${R}, ${D}]`, async () => {
    const e = await getEngine();
    const x = e.tensor(xd, [R, D], { requiresGrad: true });
    const y = rmsnorm(x, e.tensor(wd, [D]));
    expectClose(
      await y.read(),
      rmsnormForwardCpu(cpu(xd, [R, D]), cpu(wd, [D]), 1e-6).out.data,
      { atol: 2e-5, rtol: 1e-5 },
      'forward',
    );
    e.backward(y, e.tensor(od, [R, D]));
    expectClose(
      await x.grad!.read(),
      rmsnormBackwardCpu(cpu(xd, [R, D]), cpu(wd, [D]), cpu(od, [R, D]), 1e-6).dx.data,
      { atol: 1e-4, rtol: 1e-4 },
      'dx',
    );
  });

  it(`l2normalize [${R}, ${D}]`, async () => {
    const e = await getEngine();
    const x = e.tensor(xd, [R, D], { requiresGrad: true });
    const y = l2normalize(x);
    expectClose(await y.read(), l2normalizeForwardCpu(cpu(xd, [R, D])).data, { atol: 1e-6, rtol: 1e-5 }, 'forward');
    e.backward(y, e.tensor(od, [R, D]));
    expectClose(
      await x.grad!.read(),
      l2normalizeBackwardCpu(cpu(xd, [R, D]), cpu(od, [R, D])).data,
      { atol: 1e-4, rtol: 1e-4 },
      'dx',
    );
  });
});
