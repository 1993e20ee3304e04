import { afterAll, describe, expect, it } from 'vitest';
import { matmul } from '../../src/tensor/ops/matmul';
import { matmulBackwardCpu, matmulForwardCpu } from '../../src/tensor/cpu/matmul';
import { cpu } from '../../src/tensor/cpu/types';
import { ShapeError } from '../../src/tensor/tensor';
import { destroyEngine, expectClose, getEngine, randn } from './helpers';
import { gradcheck } from './gradcheck';

afterAll(destroyEngine);

// Shapes straddle the 32x32 workgroup tile, the 4x4 thread block and the 4-step K loop (with a
// K tail), and cover each transpose pair with operands read 4 at a time (contiguous dim and
// batch stride multiples of 4: VEC_A/VEC_B) and scalar, so every load path is exercised.
const cases: Array<{ a: number[]; b: number[]; transA?: boolean; transB?: boolean; alpha?: number; views?: boolean }> = [
  { a: [5, 7], b: [7, 3] },
  { a: [70, 33], b: [33, 65] },
  { a: [33, 70], b: [33, 65], transA: true },
  { a: [70, 33], b: [65, 33], transB: true },
  { a: [17, 66], b: [19, 17], transA: true, transB: true, alpha: 0.5 },
  { a: [3, 20, 18], b: [18, 9] }, // shared weight: batch folds into M
  { a: [3, 18, 20], b: [18, 9], transA: true }, // shared weight, no fold: batch reduce in dB
  { a: [20, 18], b: [2, 18, 9] }, // shared left operand
  { a: [2, 3, 9, 12], b: [2, 3, 12, 10] }, // two batch dims
  { a: [40, 24], b: [24, 30], views: true }, // pass .T views of transposed storage
  { a: [36, 40], b: [40, 44] }, // both vec4
  { a: [40, 36], b: [40, 44], transA: true }, // both vec4, A stored [K, M]
  { a: [36, 40], b: [44, 40], transB: true }, // both vec4, B stored [N, K]
  { a: [40, 36], b: [44, 40], transA: true, transB: true }, // both vec4, both transposed
  { a: [36, 42], b: [42, 44] }, // A scalar (K % 4 = 2, so a K tail), B vec4
  { a: [37, 40], b: [44, 40], transB: true }, // A vec4 with a partial last row block, B vec4
  { a: [2, 12, 8], b: [2, 8, 16], transB: false }, // batched, strides multiples of 4
  { a: [2, 8, 12], b: [2, 16, 8], transA: true, transB: true }, // batched, both transposed
];

describe('matmul', () => {
  for (const c of cases) {
    it(`[${c.a}]${c.transA ? 'T' : ''} @ [${c.b}]${c.transB ? 'T' : ''}${c.views ? ' (views)' : ''}: forward and backward match the CPU twin`, async () => {
      const e = await getEngine();
      const an = c.a.reduce((x, y) => x * y),
        bn = c.b.reduce((x, y) => x * y);
      const ad = randn(an, 1),
        bd = randn(bn, 2);
      const opts = { transA: c.transA, transB: c.transB, alpha: c.alpha };
      {
        let A, B, out;
        if (c.views) {
          // Store A^T and B^T, then view them back: matmul must read the views in place.
          const aT = transpose2(ad, c.a),
            bT = transpose2(bd, c.b);
          A = e.tensor(aT, [c.a[1]!, c.a[0]!], { requiresGrad: true });
          B = e.tensor(bT, [c.b[1]!, c.b[0]!], { requiresGrad: true });
          out = matmul(A.T, B.T, opts);
        } else {
          A = e.tensor(ad, c.a, { requiresGrad: true });
          B = e.tensor(bd, c.b, { requiresGrad: true });
          out = matmul(A, B, opts);
        }
        const ref = matmulForwardCpu(cpu(ad, c.a), cpu(bd, c.b), opts);
        expect(out.shape).toEqual(ref.shape);
        expectClose(await out.read(), ref.data, { atol: 1e-4, rtol: 1e-4 }, 'forward');
        const g = randn(out.size, 3);
        e.backward(out, e.tensor(g, out.shape));
        const { da, db } = matmulBackwardCpu(cpu(ad, c.a), cpu(bd, c.b), cpu(g, ref.shape), opts);
        const ga = await A.grad!.read(),
          gb = await B.grad!.read();
        expectClose(c.views ? transpose2(ga, [c.a[1]!, c.a[0]!]) : ga, da.data, { atol: 1e-4, rtol: 1e-4 }, 'dA');
        expectClose(c.views ? transpose2(gb, [c.b[1]!, c.b[0]!]) : gb, db.data, { atol: 1e-4, rtol: 1e-4 }, 'dB');
      }
    });
  }

  it('accumulates gradients across two backward passes (+=)', async () => {
    const e = await getEngine();
    const A = e.tensor(randn(12, 4), [3, 4], { requiresGrad: true });
    const B = e.tensor(randn(8, 5), [4, 2]);
    e.backward(matmul(A, B), e.full([3, 2], 1));
    const once = await A.grad!.read();
    e.backward(matmul(A, B), e.full([3, 2], 1));
    const twice = await A.grad!.read();
    expectClose(
      twice,
      once.map((x) => 2 * x),
      { atol: 1e-5 },
      'accumulated',
    );
  });

  it('finite differences agree with autograd (batched, transposed B, broadcast)', async () => {
    const e = await getEngine();
    await gradcheck(
      e,
      ([a, b]) => matmul(a!, b!, { transB: true }),
      [
        { data: randn(2 * 3 * 4, 7), shape: [2, 3, 4] },
        { data: randn(5 * 4, 8), shape: [5, 4] },
      ],
      { label: 'matmul' },
    );
  });

  it('rejects mismatched inner dims with the shapes in the message', async () => {
    const e = await getEngine();
    expect(() => matmul(e.zeros([3, 4]), e.zeros([5, 2]))).toThrow(ShapeError);
    expect(() => matmul(e.zeros([3, 4]), e.zeros([5, 2]))).toThrow(/K=4 vs 5/);
    expect(() => matmul(e.zeros([2, 3, 4]), e.zeros([3, 4, 2]))).toThrow(/batch dims differ/);
  });
});

function transpose2(d: Float32Array, shape: number[]): Float32Array {
  const [r, c] = shape as [number, number];
  const out = new Float32Array(d.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = d[i * c + j]!;
  return out;
}
