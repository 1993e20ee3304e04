import { afterAll, describe, expect, it } from 'vitest';
import { add, div, mul, scale, sub, bias } from '../../src/tensor/ops/binary';
import { binaryBackwardCpu, binaryForwardCpu, type BinaryOpCpu } from '../../src/tensor/cpu/binary';
import { cpu } from '../../src/tensor/cpu/types';
import { ShapeError } from '../../src/tensor/tensor';
import { destroyEngine, expectClose, getEngine, randn } from './helpers';
import { gradcheck } from './gradcheck';

afterAll(destroyEngine);

const OPS = { add, sub, mul, div } as const;
const shapes: Array<[number[], number[]]> = [
  [[300], [300]], // same shape: the SAME fast path
  [[4, 70], [70]], // bias-style row broadcast: the B_TAIL fast path
  [
    [2, 5, 3, 8],
    [1, 3, 8],
  ], // trailing block repeated over two leading dims (B_TAIL, leading 1 dropped)
  [
    [5, 6],
    [5, 1],
  ], // a column: not a tail, the general path
  [[3, 4], [1]], // a single value: the general path
  [
    [4, 1, 5],
    [3, 1],
  ], // both sides broadcast
  [
    [2, 3, 4],
    [2, 1, 4],
  ], // middle dim
  [[1], [6, 7]], // scalar-like left operand
];

describe('binary ops with broadcasting', () => {
  for (const op of Object.keys(OPS) as BinaryOpCpu[])
    for (const [sa, sb] of shapes)
      it(`${op} [${sa}] with [${sb}]: forward and both gradients match the CPU twin`, async () => {
        const e = await getEngine();
        const ad = randn(
          sa.reduce((x, y) => x * y),
          10,
        );
        // Keep divisors away from zero so div's gradient is well conditioned.
        const bd = randn(
          sb.reduce((x, y) => x * y),
          11,
        ).map((x) => (op === 'div' ? Math.sign(x || 1) * (0.5 + Math.abs(x)) : x));
        const A = e.tensor(ad, sa, { requiresGrad: true });
        const B = e.tensor(bd, sb, { requiresGrad: true });
        const out = OPS[op](A, B);
        const ref = binaryForwardCpu(op, cpu(ad, sa), cpu(bd, sb));
        expect(out.shape).toEqual(ref.shape);
        expectClose(await out.read(), ref.data, { atol: 1e-6, rtol: 1e-5 }, `${op} forward`);
        const g = randn(out.size, 12);
        e.backward(out, e.tensor(g, out.shape));
        const { da, db } = binaryBackwardCpu(op, cpu(ad, sa), cpu(bd, sb), cpu(g, ref.shape));
        expectClose(await A.grad!.read(), da.data, { atol: 1e-5, rtol: 1e-4 }, `${op} dA`);
        expectClose(await B.grad!.read(), db.data, { atol: 1e-5, rtol: 1e-4 }, `${op} dB`);
      });

  it('a tensor used on both sides (x * x) gets both contributions', async () => {
    const e = await getEngine();
    const xd = randn(10, 20);
    const x = e.tensor(xd, [10], { requiresGrad: true });
    e.backward(mul(x, x), e.full([10], 1));
    expectClose(
      await x.grad!.read(),
      xd.map((v) => 2 * v),
      { atol: 1e-6 },
      'd(x*x)/dx',
    );
  });

  it('finite differences agree for mul and div with broadcasting', async () => {
    const e = await getEngine();
    const a = { data: randn(6, 30), shape: [2, 3] };
    const b = { data: randn(3, 31).map((v) => 1 + Math.abs(v)), shape: [3] };
    await gradcheck(e, ([x, y]) => mul(x!, y!), [a, b], { label: 'mul' });
    await gradcheck(e, ([x, y]) => div(x!, y!), [a, b], { label: 'div' });
  });

  it('scale and bias: values and gradients', async () => {
    const e = await getEngine();
    const xd = randn(12, 40);
    const x = e.tensor(xd, [3, 4], { requiresGrad: true });
    const bvals = [1, 2, 3, 4];
    const b = e.tensor(bvals, [4], { requiresGrad: true });
    const y = bias(scale(x, -2.5), b);
    expectClose(
      await y.read(),
      xd.map((v, i) => -2.5 * v + bvals[i % 4]!),
      { atol: 1e-6 },
      'scale+bias',
    );
    e.backward(y, e.full([3, 4], 1));
    expectClose(await x.grad!.read(), new Float32Array(12).fill(-2.5), { atol: 1e-6 }, 'dx');
    expectClose(await b.grad!.read(), [3, 3, 3, 3], { atol: 1e-6 }, 'dbias sums rows');
    expect(() => bias(x, e.zeros([3]))).toThrow(/bias must have shape \[4\]/);
  });

  it('rejects shapes that do not broadcast', async () => {
    const e = await getEngine();
    expect(() => add(e.zeros([2, 3]), e.zeros([4]))).toThrow(ShapeError);
    expect(() => sub(e.zeros([2, 3]), e.zeros([3, 3]))).toThrow(/do not broadcast/);
  });
});
