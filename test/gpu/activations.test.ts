import { afterAll, describe, expect, it } from 'vitest';
import { gelu, geluTanh, relu, silu, swiglu, type UnaryOp } from '../../src/tensor/ops/activations';
import { erfCpu, swigluBackwardCpu, swigluForwardCpu, unaryBackwardCpu, unaryForwardCpu } from '../../src/tensor/cpu/activations';
import { cpu } from '../../src/tensor/cpu/types';
import { ShapeError, type Tensor } from '../../src/tensor/tensor';
import { gradcheck } from './gradcheck';
import { destroyEngine, expectClose, getEngine, randn } from './helpers';

afterAll(destroyEngine);

const OPS: Record<UnaryOp, (x: Tensor) => Tensor> = { gelu, gelu_tanh: geluTanh, silu, relu };
// Rows longer than a workgroup, sizes that are not multiples of 256, and a 3-D shape.
const SHAPES = [[7], [3, 300], [2, 5, 129]];

describe('unary activations', () => {
  it('gelu matches 0.5 x (1 + erf(x / sqrt 2)) to 1e-6 over [-10, 10] (the kernel erf)', async () => {
    const e = await getEngine();
    const xs = Float32Array.from({ length: 8001 }, (_, i) => -10 + i * 0.0025);
    const out = await gelu(e.tensor(xs, [xs.length])).read();
    const ref = Array.from(xs, (v) => 0.5 * v * (1 + erfCpu(v / Math.SQRT2)));
    // 1e-6 absolute on gelu bounds the erf error by ~2e-6 / |x|; f32 rounding of gelu(10) alone is 5e-7.
    expectClose(out, ref, { atol: 1e-6, rtol: 1e-7 }, 'gelu vs f64 erf');
    // Implied erf where x is large enough for that bound to be tight.
    let worst = 0;
    for (let i = 0; i < xs.length; i++) {
      const v = xs[i]!;
      if (Math.abs(v) < 1) continue;
      worst = Math.max(worst, Math.abs((2 * out[i]!) / v - 1 - erfCpu(v / Math.SQRT2)));
    }
    expect(worst).toBeLessThan(1e-6);
  });

  for (const op of Object.keys(OPS) as UnaryOp[]) {
    for (const shape of SHAPES) {
      it(`${op} [${shape}]: forward and backward match the CPU twin`, async () => {
        const e = await getEngine();
        const n = shape.reduce((a, b) => a * b);
        const xd = randn(n, 11, 3),
          gd = randn(n, 12);
        const x = e.tensor(xd, shape, { requiresGrad: true });
        const y = OPS[op](x);
        expect(y.shape).toEqual(shape);
        expectClose(await y.read(), unaryForwardCpu(op, cpu(xd, shape)).data, { atol: 2e-6, rtol: 2e-6 }, `${op} forward`);
        e.backward(y, e.tensor(gd, shape));
        const ref = unaryBackwardCpu(op, cpu(xd, shape), cpu(gd, shape)).data;
        expectClose(await x.grad!.read(), ref, { atol: 5e-6, rtol: 5e-6 }, `${op} backward`);
      });
    }
  }

  it('handle extreme inputs without NaN (tanh and sigmoid overflow)', async () => {
    const e = await getEngine();
    const xd = Float32Array.from([-1e4, -100, -30, 30, 100, 1e4, 0]);
    for (const op of Object.keys(OPS) as UnaryOp[]) {
      const x = e.tensor(xd, [7], { requiresGrad: true });
      const y = OPS[op](x);
      e.backward(y, e.full([7], 1));
      expectClose(await y.read(), unaryForwardCpu(op, cpu(xd, [7])).data, { atol: 1e-6, rtol: 1e-6 }, `${op} extreme forward`);
      expectClose(
        await x.grad!.read(),
        unaryBackwardCpu(op, cpu(xd, [7]), cpu(new Float32Array(7).fill(1), [7])).data,
        { atol: 1e-6 },
        `${op} extreme backward`,
      );
    }
  });

  it('accumulates: two backward passes double the gradient (gelu)', async () => {
    const e = await getEngine();
    const xd = randn(300, 21, 2),
      gd = randn(300, 22);
    const x = e.tensor(xd, [300], { requiresGrad: true });
    e.backward(gelu(x), e.tensor(gd, [300]));
    const once = await x.grad!.read();
    e.backward(gelu(x), e.tensor(gd, [300]));
    const twice = await x.grad!.read();
    expectClose(once, unaryBackwardCpu('gelu', cpu(xd, [300]), cpu(gd, [300])).data, { atol: 5e-6, rtol: 5e-6 }, 'once');
    expectClose(
      twice,
      once.map((v) => 2 * v),
      { atol: 1e-6, rtol: 1e-6 },
      'twice',
    );
  });

  it('reads a transposed view and routes its gradient to the base', async () => {
    const e = await getEngine();
    const ad = randn(12, 31);
    const a = e.tensor(ad, [3, 4], { requiresGrad: true });
    const y = silu(a.T); // [4, 3]
    const aT = cpu(
      Float32Array.from({ length: 12 }, (_, k) => ad[(k % 3) * 4 + Math.floor(k / 3)]!),
      [4, 3],
    );
    expectClose(await y.read(), unaryForwardCpu('silu', aT).data, { atol: 1e-6, rtol: 1e-6 }, 'silu(a.T)');
    e.backward(y, e.full([4, 3], 1));
    const ref = unaryBackwardCpu('silu', cpu(ad, [3, 4]), cpu(new Float32Array(12).fill(1), [3, 4])).data;
    expectClose(await a.grad!.read(), ref, { atol: 1e-6, rtol: 1e-6 }, 'da');
  });

  it('relu over more than 65535 workgroups (2-D grid indexing), forward and backward', async () => {
    const e = await getEngine();
    const n = 65535 * 256 + 1000; // ~5 s on SwiftShader; the only test past the 1-D dispatch limit
    const xd = Float32Array.from({ length: n }, (_, i) => (i % 7) - 3 + (i % 1000) * 1e-3);
    const x = e.tensor(xd, [n], { requiresGrad: true });
    const y = relu(x);
    const out = await y.read();
    const g = e.tensor(
      Float32Array.from({ length: n }, (_, i) => i % 5),
      [n],
    );
    e.backward(y, g);
    const dx = await x.grad!.read();
    let bad = -1;
    for (let i = n - 1; i >= 0; i--) if (out[i] !== Math.max(xd[i]!, 0) || dx[i] !== (xd[i]! > 0 ? i % 5 : 0)) bad = i;
    expect(bad, `first wrong element ${bad}`).toBe(-1);
  });

  for (const op of Object.keys(OPS) as UnaryOp[]) {
    it(`${op}: finite-difference gradcheck`, async () => {
      const e = await getEngine();
      // Keep relu's inputs away from its kink, where central differences are meaningless.
      const d = randn(6, 41, 1.5).map((v) => (op === 'relu' && Math.abs(v) < 0.1 ? v + 0.3 : v));
      await gradcheck(e, ([x]) => OPS[op](x!), [{ data: d, shape: [2, 3] }], { label: op });
    });
  }

  it('rejects integer tensors', async () => {
    const e = await getEngine();
    expect(() => gelu(e.tensor([1, 2], [2], { dtype: 'i32' }))).toThrow(ShapeError);
    expect(() => relu(e.tensor([1, 2], [2], { dtype: 'i32' }))).toThrow(/expected an f32 tensor, got i32/);
  });
});

describe('swiglu', () => {
  for (const shape of [[5], [3, 300], [2, 3, 257]]) {
    it(`[${shape}]: forward and both gradients match the CPU twin`, async () => {
      const e = await getEngine();
      const n = shape.reduce((a, b) => a * b);
      const gd = randn(n, 51, 3),
        ud = randn(n, 52),
        od = randn(n, 53);
      const gate = e.tensor(gd, shape, { requiresGrad: true });
      const up = e.tensor(ud, shape, { requiresGrad: true });
      const y = swiglu(gate, up);
      expectClose(await y.read(), swigluForwardCpu(cpu(gd, shape), cpu(ud, shape)).data, { atol: 2e-6, rtol: 2e-6 }, 'forward');
      e.backward(y, e.tensor(od, shape));
      const ref = swigluBackwardCpu(cpu(gd, shape), cpu(ud, shape), cpu(od, shape));
      expectClose(await gate.grad!.read(), ref.dgate.data, { atol: 5e-6, rtol: 5e-6 }, 'dgate');
      expectClose(await up.grad!.read(), ref.dup.data, { atol: 5e-6, rtol: 5e-6 }, 'dup');
    });
  }

  it('accumulates both gradients over two backward passes, and only where asked', async () => {
    const e = await getEngine();
    const gd = randn(40, 61),
      ud = randn(40, 62);
    const gate = e.tensor(gd, [40], { requiresGrad: true });
    const up = e.tensor(ud, [40]); // frozen: must get no gradient
    e.backward(swiglu(gate, up), e.full([40], 1));
    const once = await gate.grad!.read();
    e.backward(swiglu(gate, up), e.full([40], 1));
    expectClose(
      await gate.grad!.read(),
      once.map((v) => 2 * v),
      { atol: 1e-6, rtol: 1e-6 },
      'dgate twice',
    );
    expect(up.grad).toBeNull();
  });

  it('swiglu(x, x) sums both paths into one gradient', async () => {
    const e = await getEngine();
    const xd = randn(10, 71);
    const x = e.tensor(xd, [10], { requiresGrad: true });
    e.backward(swiglu(x, x), e.full([10], 1));
    const ref = swigluBackwardCpu(cpu(xd, [10]), cpu(xd, [10]), cpu(new Float32Array(10).fill(1), [10]));
    expectClose(
      await x.grad!.read(),
      ref.dgate.data.map((v, i) => v + ref.dup.data[i]!),
      { atol: 1e-5, rtol: 1e-5 },
      'd(x silu(x))',
    );
  });

  it('finite-difference gradcheck on gate and up', async () => {
    const e = await getEngine();
    await gradcheck(
      e,
      ([g, u]) => swiglu(g!, u!),
      [
        { data: randn(6, 81, 1.5), shape: [2, 3] },
        { data: randn(6, 82), shape: [2, 3] },
      ],
      { label: 'swiglu' },
    );
  });

  it('rejects mismatched shapes with both shapes in the message', async () => {
    const e = await getEngine();
    expect(() => swiglu(e.zeros([2, 8]), e.zeros([2, 4]))).toThrow(ShapeError);
    expect(() => swiglu(e.zeros([2, 8]), e.zeros([2, 4]))).toThrow(/gate \[2,8\] and up \[2,4\]/);
    expect(() => swiglu(e.zeros([4]), e.zeros([1, 4]))).toThrow(/does not broadcast/);
  });
});
