import { afterAll, describe, expect, it } from 'vitest';
import { buildEmbeddingCsr, embedding } from '../../src/tensor/ops/embedding';
import { embeddingBackwardCpu, embeddingForwardCpu } from '../../src/tensor/cpu/embedding';
import { cpu } from '../../src/tensor/cpu/types';
import { ShapeError } from '../../src/tensor/tensor';
import { destroyEngine, expectClose, getEngine, randn, rng } from './helpers';
import { gradcheck } from './gradcheck';

afterAll(destroyEngine);

const randomIds = (n: number, V: number, seed: number): Int32Array => {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => Math.floor(r() * V));
};

// Heavy repetition (many positions per id), D past 256, odd sizes, unused vocabulary rows.
const cases: Array<{ V: number; D: number; ids: number[] }> = [
  { V: 50, D: 8, ids: [2, 7] },
  { V: 10, D: 33, ids: [40, 25] }, // 1000 ids over 10 rows: ~100 positions per id
  { V: 301, D: 300, ids: [13] },
  { V: 97, D: 5, ids: [3, 4, 7] },
];

describe('embedding', () => {
  for (const c of cases)
    it(`weight [${c.V}, ${c.D}], ids [${c.ids}]: forward and backward match the CPU twin`, async () => {
      const e = await getEngine();
      const P = c.ids.reduce((a, b) => a * b);
      const wd = randn(c.V * c.D, 61);
      const ids = randomIds(P, c.V, 62);
      const W = e.tensor(wd, [c.V, c.D], { requiresGrad: true });
      const out = embedding(W, ids, { shape: c.ids });
      expect(out.shape).toEqual([...c.ids, c.D]);
      const ref = embeddingForwardCpu(cpu(wd, [c.V, c.D]), ids, c.ids);
      expectClose(await out.read(), ref.data, { atol: 0 }, 'forward (a gather is exact)');
      const g = randn(P * c.D, 63);
      e.backward(out, e.tensor(g, out.shape));
      const dW = embeddingBackwardCpu([c.V, c.D], ids, cpu(g, ref.shape));
      expectClose(await W.grad!.read(), dW.data, { atol: 1e-5, rtol: 1e-5 }, 'dWeight');
    });

  it('repeated ids sum their rows; unused rows are exactly 0 even in a recycled buffer', async () => {
    const e = await getEngine();
    const V = 6,
      D = 4;
    // Leave garbage in a pooled buffer of the gradient's size, so the gradient may reuse it.
    e.full([V, D], 7).dispose();
    const W = e.tensor(randn(V * D, 1), [V, D], { requiresGrad: true });
    const ids = [3, 1, 3, 3];
    const g = Float32Array.from({ length: 16 }, (_, i) => i + 1);
    e.backward(embedding(W, ids), e.tensor(g, [4, D]));
    const dW = await W.grad!.read();
    const row = (r: number) => [...dW.slice(r * D, (r + 1) * D)];
    expect(row(3)).toEqual([1 + 9 + 13, 2 + 10 + 14, 3 + 11 + 15, 4 + 12 + 16]);
    expect(row(1)).toEqual([5, 6, 7, 8]);
    for (const r of [0, 2, 4, 5]) expect(row(r)).toEqual([0, 0, 0, 0]);
  });

  it('the backward is deterministic: bit-identical across runs and to an f32 sum in position order', async () => {
    const e = await getEngine();
    const V = 7,
      D = 37,
      P = 500;
    const ids = randomIds(P, V, 5);
    const gd = randn(P * D, 6, 10);
    const g = e.tensor(gd, [P, D]);
    const run = async () => {
      const W = e.tensor(new Float32Array(V * D), [V, D], { requiresGrad: true });
      e.backward(embedding(W, ids), g);
      return W.grad!.read();
    };
    const a = await run(),
      b = await run();
    expect([...new Uint32Array(a.buffer)]).toEqual([...new Uint32Array(b.buffer)]);
    // The fixed order: positions ascending, accumulated in f32.
    const want = new Float32Array(V * D);
    for (let p = 0; p < P; p++)
      for (let d = 0; d < D; d++) want[ids[p]! * D + d] = Math.fround(want[ids[p]! * D + d]! + gd[p * D + d]!);
    expect([...new Uint32Array(a.buffer)]).toEqual([...new Uint32Array(want.buffer)]);
  });

  it('accumulates gradients across two backward passes (+=)', async () => {
    const e = await getEngine();
    const W = e.tensor(randn(20 * 9, 2), [20, 9], { requiresGrad: true });
    const ids = [5, 5, 19, 0, 5, 7];
    const g = e.tensor(randn(6 * 9, 3), [6, 9]);
    e.backward(embedding(W, ids), g);
    const once = await W.grad!.read();
    e.backward(embedding(W, ids), g);
    expectClose(
      await W.grad!.read(),
      once.map((v) => 2 * v),
      { atol: 1e-6 },
      'accumulated',
    );
    expect(once.some((v) => v !== 0)).toBe(true);
  });

  it('accepts an i32 ids tensor together with hostIds', async () => {
    const e = await getEngine();
    const wd = randn(12 * 3, 4);
    const ids = Int32Array.from([11, 0, 4, 4, 9, 1]);
    const out = embedding(e.tensor(wd, [12, 3]), e.tensor(ids, [2, 3], { dtype: 'i32' }), { hostIds: ids });
    expect(out.shape).toEqual([2, 3, 3]);
    expectClose(await out.read(), embeddingForwardCpu(cpu(wd, [12, 3]), ids).data, { atol: 0 }, 'forward');
  });

  it('builds the CSR grouped by sorted id with positions ascending', () => {
    const { unique, packed } = buildEmbeddingCsr([4, 1, 4, 0, 1, 4]);
    expect(unique).toBe(3);
    expect([...packed]).toEqual([0, 1, 4, /* offsets */ 0, 1, 3, 6, /* positions */ 3, 1, 4, 0, 2, 5]);
  });

  it('weight: finite-difference gradcheck with repeated ids', async () => {
    const e = await getEngine();
    const ids = [1, 3, 1, 1, 0];
    await gradcheck(e, ([w]) => embedding(w!, ids), [{ data: randn(4 * 3, 71), shape: [4, 3] }], { label: 'embedding' });
  });

  it('rejects out-of-range ids and bad shapes with ShapeError naming the id and V', async () => {
    const e = await getEngine();
    const W = e.zeros([10, 4]);
    expect(() => embedding(W, [1, 10, 2])).toThrow(ShapeError);
    expect(() => embedding(W, [1, 10, 2])).toThrow(/id 10 at position 1 is outside the vocabulary \[0, 10\)/);
    expect(() => embedding(W, [-3])).toThrow(/id -3/);
    expect(() => embedding(W, [1.5])).toThrow(ShapeError);
    expect(() => embedding(W, [1, 2, 3], { shape: [2, 2] })).toThrow(/do not fill shape/);
    expect(() => embedding(e.zeros([10]), [1])).toThrow(/\[V, D\]/);
    expect(() => embedding(W, e.tensor([1, 2], [2], { dtype: 'i32' }))).toThrow(/hostIds/);
    expect(() => embedding(W, e.tensor([1, 2], [2]), { hostIds: [1, 2] })).toThrow(/i32/);
  });
});
