import { afterAll, describe, expect, it } from 'vitest';
import { rope, ropeTables } from '../../src/tensor/ops/rope';
import { ropeBackwardCpu, ropeForwardCpu } from '../../src/tensor/cpu/rope';
import { cpu } from '../../src/tensor/cpu/types';
import { ShapeError, type Engine } from '../../src/tensor/tensor';
import { gradcheck } from './gradcheck';
import { destroyEngine, expectClose, getEngine, randn } from './helpers';

afterAll(destroyEngine);

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

function tables(e: Engine, maxPos: number, Dh: number, theta = 10000) {
  const t = ropeTables(maxPos, Dh, theta);
  const shape = [maxPos, Dh / 2];
  return { cos: e.tensor(t.cos, shape), sin: e.tensor(t.sin, shape), cpuCos: cpu(t.cos, shape), cpuSin: cpu(t.sin, shape) };
}

describe('ropeTables', () => {
  it('holds cos and sin of pos * theta^(-2i/Dh), [maxPos, Dh/2] row-major', () => {
    const { cos, sin } = ropeTables(4096, 8, 10000);
    expect(cos.length).toBe(4096 * 4);
    for (const [p, i] of [
      [0, 0],
      [1, 0],
      [3, 1],
      [7, 3],
      [15, 2],
    ] as const) {
      const angle = p * 10000 ** (-(2 * i) / 8);
      expect(cos[p * 4 + i]).toBeCloseTo(Math.cos(angle), 6);
      expect(sin[p * 4 + i]).toBeCloseTo(Math.sin(angle), 6);
    }
    // Far positions carry HF's float32 angle rounding (|p * inv_freq| error up to ~p * 6e-8).
    const angle = 4000 * 10000 ** (-2 / 8);
    expect(Math.abs(cos[4000 * 4 + 1]! - Math.cos(angle))).toBeLessThan(1e-3);
  });

  it('rejects an odd head dim or an empty table', () => {
    expect(() => ropeTables(16, 7)).toThrow(ShapeError);
    expect(() => ropeTables(16, 7)).toThrow(/must be a positive even integer/);
    expect(() => ropeTables(0, 8)).toThrow(/maxPos/);
  });
});

describe('rope', () => {
  it('rotates pairs (i, i + Dh/2) as HF rotate_half does (hand-computed)', async () => {
    const e = await getEngine();
    const { cos, sin } = tables(e, 8, 4); // inv_freq = [1, 0.01]
    const positions = [0, 1, 5];
    const xd = Float32Array.from(positions.flatMap(() => [1, 2, 3, 4])); // [B=1, T=3, H=1, Dh=4]
    const y = rope(e.tensor(xd, [1, 3, 1, 4]), cos, sin, e.tensor(positions, [3], { dtype: 'i32' }));
    const expected = positions.flatMap((p) => {
      const [c0, s0, c1, s1] = [Math.cos(p), Math.sin(p), Math.cos(0.01 * p), Math.sin(0.01 * p)];
      return [1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 3 * c0 + 1 * s0, 4 * c1 + 2 * s1];
    });
    expectClose(await y.read(), expected, { atol: 1e-6, rtol: 1e-6 }, 'rotate_half');
  });

  it('partial rotary (GPT-NeoX): rotates pairs (i, i + R/2) of the first R dims and passes the rest (hand-computed)', async () => {
    const e = await getEngine();
    const { cos, sin } = tables(e, 8, 4); // R = 4 of Dh = 6: inv_freq = [1, 0.01]
    const positions = [0, 2];
    const xd = Float32Array.from(positions.flatMap(() => [1, 2, 3, 4, 5, 6])); // [1, 2, 1, 6]
    const x = e.tensor(xd, [1, 2, 1, 6], { requiresGrad: true });
    const y = rope(x, cos, sin, e.tensor(positions, [2], { dtype: 'i32' }), { rotaryDims: 4 });
    const expected = positions.flatMap((p) => {
      const [c0, s0, c1, s1] = [Math.cos(p), Math.sin(p), Math.cos(0.01 * p), Math.sin(0.01 * p)];
      return [1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 3 * c0 + 1 * s0, 4 * c1 + 2 * s1, 5, 6];
    });
    expectClose(await y.read(), expected, { atol: 1e-6, rtol: 1e-6 }, 'partial rotate_half');
    // The passed-through dims' gradient is the upstream gradient itself.
    const g = Float32Array.from({ length: 12 }, (_, i) => i + 1);
    e.backward(y, e.tensor(g, [1, 2, 1, 6]));
    const dx = await x.grad!.read();
    expectClose([dx[4]!, dx[5]!, dx[10]!, dx[11]!], [5, 6, 11, 12], { atol: 0 }, 'pass-through gradient');
  });

  const cases: Array<{ shape: number[]; batchedPos?: boolean; rotaryDims?: number }> = [
    { shape: [2, 5, 3, 8] },
    { shape: [2, 4, 2, 6], batchedPos: true },
    { shape: [1, 3, 2, 600] }, // Dh/2 = 300 pairs per head; 1800 pairs in all, not a multiple of 256
    { shape: [2, 5, 3, 16], rotaryDims: 4 }, // Pythia's rotary_pct 0.25
    { shape: [1, 4, 2, 256], batchedPos: true, rotaryDims: 64 }, // Gemma-sized heads, partial
  ];
  for (const c of cases) {
    it(`[${c.shape}]${c.rotaryDims ? ` rotating ${c.rotaryDims} dims` : ''} with positions ${c.batchedPos ? '[B, T]' : '[T]'}: forward and backward match the CPU twin`, async () => {
      const e = await getEngine();
      const [B, T, , Dh] = c.shape as [number, number, number, number];
      const P = 64;
      const t = tables(e, P, c.rotaryDims ?? Dh);
      const pos = Array.from({ length: c.batchedPos ? B * T : T }, (_, k) => (k * 37 + 11) % P); // non-monotone
      const positions = e.tensor(pos, c.batchedPos ? [B, T] : [T], { dtype: 'i32' });
      const n = numel(c.shape);
      const xd = randn(n, 1),
        gd = randn(n, 2);
      const x = e.tensor(xd, c.shape, { requiresGrad: true });
      const y = rope(x, t.cos, t.sin, positions, { rotaryDims: c.rotaryDims });
      expect(y.shape).toEqual(c.shape);
      expectClose(
        await y.read(),
        ropeForwardCpu(cpu(xd, c.shape), t.cpuCos, t.cpuSin, pos).data,
        { atol: 1e-6, rtol: 1e-5 },
        'forward',
      );
      e.backward(y, e.tensor(gd, c.shape));
      expectClose(
        await x.grad!.read(),
        ropeBackwardCpu(cpu(gd, c.shape), t.cpuCos, t.cpuSin, pos).data,
        { atol: 1e-6, rtol: 1e-5 },
        'dx',
      );
    });
  }

  it('is a rotation: position 0 is the identity, norms are kept, and the backward undoes it', async () => {
    const e = await getEngine();
    const shape = [2, 3, 2, 16];
    const t = tables(e, 32, 16);
    const xd = randn(numel(shape), 3);
    const x = e.tensor(xd, shape, { requiresGrad: true });
    const y0 = await rope(x, t.cos, t.sin, e.tensor([0, 0, 0], [3], { dtype: 'i32' })).read();
    e.clearTape();
    expectClose(y0, xd, { atol: 0 }, 'position 0');
    const y = rope(x, t.cos, t.sin, e.tensor([3, 17, 31], [3], { dtype: 'i32' }));
    const yd = await y.read();
    const norm = (d: Float32Array) => Math.hypot(...d);
    expect(norm(yd)).toBeCloseTo(norm(xd), 4);
    // dL/dx for L = <y, y> / 2 is R^T R x = x.
    e.backward(y, y);
    expectClose(await x.grad!.read(), xd, { atol: 2e-6, rtol: 1e-5 }, 'R^T R x');
  });

  it('accumulates over two backward passes', async () => {
    const e = await getEngine();
    const t = tables(e, 16, 8);
    const x = e.tensor(randn(48, 4), [1, 3, 2, 8], { requiresGrad: true });
    const pos = e.tensor([2, 9, 4], [3], { dtype: 'i32' });
    const g = e.tensor(randn(48, 5), [1, 3, 2, 8]);
    e.backward(rope(x, t.cos, t.sin, pos), g);
    const once = await x.grad!.read();
    e.backward(rope(x, t.cos, t.sin, pos), g);
    expectClose(
      await x.grad!.read(),
      once.map((v) => 2 * v),
      { atol: 1e-6, rtol: 1e-6 },
      'twice',
    );
  });

  it('clamps positions past the table to its last row', async () => {
    const e = await getEngine();
    const t = tables(e, 8, 4);
    const xd = randn(8, 6);
    const far = await rope(e.tensor(xd, [1, 2, 1, 4]), t.cos, t.sin, e.tensor([100, -3], [2], { dtype: 'i32' })).read();
    expectClose(far, ropeForwardCpu(cpu(xd, [1, 2, 1, 4]), t.cpuCos, t.cpuSin, [7, 0]).data, { atol: 1e-6 }, 'clamped');
  });

  it('finite-difference gradcheck on x', async () => {
    const e = await getEngine();
    const t = tables(e, 8, 4);
    const pos = e.tensor([5, 2], [2], { dtype: 'i32' });
    await gradcheck(e, ([x]) => rope(x!, t.cos, t.sin, pos), [{ data: randn(16, 7), shape: [1, 2, 2, 4] }], { label: 'rope' });
  });

  it('rejects bad shapes with the shapes and the fix in the message', async () => {
    const e = await getEngine();
    const t = tables(e, 8, 4);
    const pos = e.tensor([0, 1], [2], { dtype: 'i32' });
    expect(() => rope(e.zeros([1, 2, 1, 5]), t.cos, t.sin, pos)).toThrow(ShapeError);
    expect(() => rope(e.zeros([1, 2, 1, 5]), t.cos, t.sin, pos)).toThrow(/rotary dims must be even.*got 5 in x \[1,2,1,5\]/);
    expect(() => rope(e.zeros([1, 2, 1, 8]), t.cos, t.sin, pos, { rotaryDims: 10 })).toThrow(/from 2 to the head dim 8/);
    expect(() => rope(e.zeros([2, 1, 4]), t.cos, t.sin, pos)).toThrow(/must be \[B, T, H, Dh\], got \[2,1,4\]/);
    expect(() => rope(e.zeros([1, 2, 1, 8]), t.cos, t.sin, pos)).toThrow(
      /cos and sin must both be \[maxPos, R\/2\] = \[P, 4\].*got cos \[8,2\]/,
    );
    expect(() => rope(e.zeros([1, 2, 1, 4]), t.cos, e.zeros([8, 1]), pos)).toThrow(/sin \[8,1\]/);
    expect(() => rope(e.zeros([1, 2, 1, 4]), t.cos, t.sin, e.tensor([0, 1, 2], [3], { dtype: 'i32' }))).toThrow(
      /positions must be \[T\] = \[2\] or \[B, T\] = \[1, 2\].*got \[3\]/,
    );
    expect(() => rope(e.zeros([1, 2, 1, 4]), t.cos, t.sin, e.tensor([0, 1], [2]))).toThrow(/positions must be an i32 tensor/);
  });
});
