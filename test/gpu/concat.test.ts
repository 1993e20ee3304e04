// concat runs block_copy_forward once per input; its backward copies each input's slot of the
// gradient back out (adding into an existing .grad). The CPU twin is concatCpu. Copies are exact,
// so forward and backward are compared at atol 0.
import { afterAll, describe, expect, it } from 'vitest';
import { concat, repeatHeads, rollHeads } from '../../src/tensor/ops/concat';
import { concatBackwardCpu, concatCpu } from '../../src/tensor/cpu/concat';
import { cpu } from '../../src/tensor/cpu/types';
import { mul } from '../../src/tensor/ops/binary';
import { SELFTEST_CASES, runCase } from '../../src/tensor/selftest';
import { ShapeError } from '../../src/tensor/tensor';
import { destroyEngine, expectClose, getEngine, randn } from './helpers';
import { gradcheck } from './gradcheck';

afterAll(destroyEngine);

describe('concat', () => {
  it('small cases by hand: rows (axis 0) and columns (axis -1)', async () => {
    const e = await getEngine();
    const a = e.tensor([1, 2, 3, 4], [2, 2]);
    const b = e.tensor([5, 6], [1, 2]);
    expect([...(await concat([a, b], 0).read())]).toEqual([1, 2, 3, 4, 5, 6]);
    const c = e.tensor([7, 8], [2, 1]);
    const y = concat([a, c], -1);
    expect(y.shape).toEqual([2, 3]);
    expect([...(await y.read())]).toEqual([1, 2, 7, 3, 4, 8]);
    // The twin agrees with the hand values.
    expect([...concatCpu([cpu([1, 2, 3, 4], [2, 2]), cpu([7, 8], [2, 1])], -1).data]).toEqual([1, 2, 7, 3, 4, 8]);
  });

  // Three inputs of different sizes along the axis, with odd dims; the middle axis too.
  const cases: Array<{ shapes: number[][]; axis: number }> = [
    {
      shapes: [
        [3, 5, 7],
        [1, 5, 7],
        [4, 5, 7],
      ],
      axis: 0,
    },
    {
      shapes: [
        [2, 3, 5],
        [2, 3, 1],
        [2, 3, 9],
      ],
      axis: -1,
    },
    {
      shapes: [
        [2, 3, 5],
        [2, 3, 1],
        [2, 3, 9],
      ],
      axis: 2,
    },
    {
      shapes: [
        [2, 3, 4],
        [2, 1, 4],
        [2, 6, 4],
      ],
      axis: 1,
    },
    { shapes: [[37], [300], [2]], axis: 0 },
  ];
  for (const [ci, c] of cases.entries())
    it(`${c.shapes.map((s) => `[${s}]`).join(', ')} along axis ${c.axis}: forward and backward match the twin exactly`, async () => {
      const e = await getEngine();
      // Garbage in pooled buffers of the sizes the gradients will take: a first (non-accumulating)
      // backward copy must overwrite every element.
      for (const s of c.shapes) e.full(s, 7).dispose();
      const datas = c.shapes.map((s, i) =>
        randn(
          s.reduce((a, b) => a * b, 1),
          100 * ci + i,
        ),
      );
      const xs = c.shapes.map((s, i) => e.tensor(datas[i]!, s, { requiresGrad: true }));
      const y = concat(xs, c.axis);
      const ref = concatCpu(
        c.shapes.map((s, i) => cpu(datas[i]!, s)),
        c.axis,
      );
      expect(y.shape).toEqual(ref.shape);
      expectClose(await y.read(), ref.data, { atol: 0 }, 'forward');
      const g = randn(y.size, 100 * ci + 50);
      e.backward(y, e.tensor(g, y.shape));
      const want = concatBackwardCpu(c.shapes, c.axis, cpu(g, ref.shape));
      for (const [i, x] of xs.entries()) expectClose(await x.grad!.read(), want[i]!.data, { atol: 0 }, `d input ${i}`);
    });

  it('a tensor used twice gets the sum of its two slots; other grads accumulate into existing ones', async () => {
    const e = await getEngine();
    const ad = randn(2 * 3, 1),
      bd = randn(2 * 4, 2);
    const a = e.tensor(ad, [2, 3], { requiresGrad: true });
    const b = e.tensor(bd, [2, 4], { requiresGrad: true });
    const y = concat([a, b, a], -1);
    expectClose(await y.read(), concatCpu([cpu(ad, [2, 3]), cpu(bd, [2, 4]), cpu(ad, [2, 3])], -1).data, { atol: 0 }, 'forward');
    const g = randn(y.size, 3);
    const [ga1, gb, ga2] = concatBackwardCpu(
      [
        [2, 3],
        [2, 4],
        [2, 3],
      ],
      -1,
      cpu(g, [2, 10]),
    );
    // The f32 sum of two f32 values, rounded once: what the kernel's `+=` gives.
    const wantA = ga1!.data.map((v, i) => Math.fround(v + ga2!.data[i]!));
    e.backward(y, e.tensor(g, y.shape));
    expectClose(await a.grad!.read(), wantA, { atol: 0 }, 'd a (two slots)');
    expectClose(await b.grad!.read(), gb!.data, { atol: 0 }, 'd b');
    // A second backward adds into the existing gradients.
    e.backward(concat([a, b, a], -1), e.tensor(g, y.shape));
    expectClose(
      await b.grad!.read(),
      gb!.data.map((v) => 2 * v),
      { atol: 0 },
      'd b after two backwards',
    );
  });

  it('a transposed view and an empty input: gradients reach the base, the empty one gets an empty grad', async () => {
    const e = await getEngine();
    const ad = randn(4 * 3, 4);
    const a = e.tensor(ad, [4, 3], { requiresGrad: true }); // a.T is [3, 4]
    const z = e.tensor([], [0, 4], { requiresGrad: true });
    const b = e.tensor(randn(2 * 4, 5), [2, 4], { requiresGrad: true });
    const y = concat([z, a.T, b], 0);
    expect(y.shape).toEqual([5, 4]);
    const aT = cpu(
      Array.from({ length: 12 }, (_, k) => ad[(k % 4) * 3 + Math.floor(k / 4)]!),
      [3, 4],
    );
    expectClose((await y.read()).slice(0, 12), aT.data, { atol: 0 }, 'forward (transposed rows)');
    const g = randn(y.size, 6);
    e.backward(y, e.tensor(g, y.shape));
    // d a = (first 3 rows of g)^T.
    const want = Array.from({ length: 12 }, (_, k) => g[(k % 3) * 4 + Math.floor(k / 3)]!);
    expectClose(await a.grad!.read(), want, { atol: 0 }, 'd a through the view');
    expect(z.grad!.shape).toEqual([0, 4]);
  });

  it('gradcheck: concat feeding a product, with an input used twice', async () => {
    const e = await getEngine();
    await gradcheck(
      e,
      ([a, b]) => {
        const c = concat([a!, b!, a!], 0);
        return mul(c, c);
      },
      [
        { data: randn(2 * 3, 7), shape: [2, 3] },
        { data: randn(1 * 3, 8), shape: [1, 3] },
      ],
      { label: 'concat rows' },
    );
    await gradcheck(e, ([a, b]) => mul(concat([a!, b!], -1), concat([b!, a!], -1)), [
      { data: randn(2 * 2, 9), shape: [2, 2] },
      { data: randn(2 * 2, 10), shape: [2, 2] },
    ]);
  });

  it('rejects mismatched shapes with the shapes in the message', async () => {
    const e = await getEngine();
    const a = e.zeros([2, 3]);
    expect(() => concat([a, e.zeros([2, 4])], 0)).toThrow(ShapeError);
    expect(() => concat([a, e.zeros([2, 4])], 0)).toThrow(
      /axis 0: tensor 1 differs from tensor 0 in dim 1 \(shapes \[2,3\], \[2,4\]\)/,
    );
    expect(() => concat([a, e.zeros([2, 3, 1])], 0)).toThrow(
      /tensor 1 has rank 3, tensor 0 rank 2 \(shapes \[2,3\], \[2,3,1\]\)/,
    );
    expect(() => concat([a, a], 2)).toThrow(/axis 2 is out of range for rank 2 \(shapes \[2,3\], \[2,3\]\)/);
    expect(() => concat([a, a], -3)).toThrow(/axis -3 is out of range/);
    expect(() => concat([], 0)).toThrow(/at least one tensor/);
    expect(() => concat([e.zeros([]), e.zeros([])], 0)).toThrow(/rank 1 or more/);
    expect(() => concat([a, e.tensor([1, 2, 3, 4, 5, 6], [2, 3], { dtype: 'i32' })], 0)).toThrow(
      /concat tensor 1: expected an f32/,
    );
  });

  it('self-test concat case passes', async () => {
    const e = await getEngine();
    const mine = SELFTEST_CASES.filter((c) => c.name.startsWith('concat'));
    expect(mine.length).toBeGreaterThan(0);
    for (const [i, c] of mine.entries()) {
      const res = await runCase(e, c, 700 + i);
      expect(res.detail, c.name).toBeUndefined();
      expect(res.pass).toBe(true);
      expect(res.maxAbsDiff).toBe(0);
    }
  });
});

// rollHeads (S2-Attn's rolled heads on the scores path): block copies, so exact; against
// torch.roll's definition written out, and its gradient (the inverse roll) with accumulation.
describe('rollHeads', () => {
  /** out[b, h, t] = x[b, h, (t + s) mod T] for h >= from, else x[b, h, t]. */
  const rollRef = (x: Float32Array, [B, H, T, Dh]: number[], from: number, s: number): Float32Array => {
    const out = new Float32Array(x.length);
    for (let b = 0; b < B!; b++)
      for (let h = 0; h < H!; h++)
        for (let t = 0; t < T!; t++) {
          const src = h >= from ? (((t + s) % T!) + T!) % T! : t;
          for (let d = 0; d < Dh!; d++) out[((b * H! + h) * T! + t) * Dh! + d] = x[((b * H! + h) * T! + src) * Dh! + d]!;
        }
    return out;
  };
  for (const [shape, from, shift] of [
    [[2, 4, 8, 3], 2, 2],
    [[1, 3, 6, 2], 1, -2],
    [[2, 2, 5, 4], 0, 7],
    [[1, 2, 4, 2], 2, 1],
  ] as Array<[number[], number, number]>)
    it(`[${shape}] heads >= ${from} by ${shift}: forward, and the gradient rolls back (accumulating)`, async () => {
      const e = await getEngine();
      const n = shape.reduce((a, b) => a * b, 1);
      const xd = randn(n, 71);
      const x = e.tensor(xd, shape, { requiresGrad: true });
      const y = rollHeads(x, from, shift);
      expectClose(await y.read(), rollRef(xd, shape, from, shift), { atol: 0 }, 'forward');
      const gd = randn(n, 72);
      e.backward(y, e.tensor(gd, shape));
      const want = rollRef(gd, shape, from, -shift);
      expectClose(await x.grad!.read(), want, { atol: 0 }, 'gradient');
      e.backward(rollHeads(x, from, shift), e.tensor(gd, shape));
      expectClose(
        await x.grad!.read(),
        want.map((v) => 2 * v),
        { atol: 0 },
        'accumulated gradient',
      );
    });
});

describe('repeatHeads', () => {
  it('[2, 3, 4, 2] x 3: head h copies head floor(h / 3); the gradient sums the copies (accumulating)', async () => {
    const e = await getEngine();
    const [B, Hkv, T, Dh, g] = [2, 3, 4, 2, 3];
    const C = T * Dh;
    const kd = randn(B * Hkv * C, 81);
    const k = e.tensor(kd, [B, Hkv, T, Dh], { requiresGrad: true });
    const y = repeatHeads(k, g);
    expect(y.shape).toEqual([B, Hkv * g, T, Dh]);
    const want = new Float32Array(B * Hkv * g * C);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < Hkv * g; h++)
        want.set(kd.subarray((b * Hkv + Math.floor(h / g)) * C, (b * Hkv + Math.floor(h / g) + 1) * C), (b * Hkv * g + h) * C);
    expectClose(await y.read(), want, { atol: 0 }, 'forward');
    const gd = randn(want.length, 82);
    e.backward(y, e.tensor(gd, y.shape));
    const dk = new Float32Array(kd.length);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < Hkv * g; h++)
        for (let i = 0; i < C; i++) dk[(b * Hkv + Math.floor(h / g)) * C + i]! += gd[(b * Hkv * g + h) * C + i]!;
    expectClose(await k.grad!.read(), dk, { atol: 1e-6 }, 'gradient');
    e.backward(repeatHeads(k, g), e.tensor(gd, y.shape));
    expectClose(
      await k.grad!.read(),
      dk.map((v) => 2 * v),
      { atol: 2e-6 },
      'accumulated gradient',
    );
    expect(() => repeatHeads(k, 0)).toThrow(ShapeError);
  });
});
