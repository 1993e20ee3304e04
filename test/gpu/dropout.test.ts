import { afterAll, describe, expect, it } from 'vitest';
import { dropout } from '../../src/tensor/ops/dropout';
import { dropoutBackwardCpu, dropoutForwardCpu, dropoutMaskCpu } from '../../src/tensor/cpu/dropout';
import { cpu } from '../../src/tensor/cpu/types';
import { ShapeError } from '../../src/tensor/tensor';
import { gradcheck } from './gradcheck';
import { destroyEngine, expectClose, getEngine, randn } from './helpers';

afterAll(destroyEngine);

const N = 10_000;
// Nonzero inputs, so a zero in the output always means "dropped".
const XD = randn(N, 1).map((v) => (Math.abs(v) < 1e-3 ? 1 : v));
const keptMask = (d: Float32Array): number[] => Array.from(d, (v) => (v !== 0 ? 1 : 0));

describe('dropout', () => {
  for (const p of [0.1, 0.5, 0.9]) {
    it(`p = ${p}: keeps ~${1 - p} of ${N} values, scaled by 1 / (1 - p), bit for bit as the CPU twin`, async () => {
      const e = await getEngine();
      const out = await dropout(e.tensor(XD, [100, 100]), p, 1234).read();
      const kept = keptMask(out).reduce((a, b) => a + b, 0) / N;
      expect(Math.abs(kept - (1 - p))).toBeLessThan(0.02); // binomial sd is <= 0.005 here
      const scale = Math.fround(1 / (1 - p));
      for (let i = 0; i < N; i++) if (out[i] !== 0) expect(out[i]).toBe(Math.fround(XD[i]! * scale));
      // The CPU twin reproduces the hash: identical mask and identical f32 values.
      expect(Array.from(out)).toEqual(Array.from(dropoutForwardCpu(cpu(XD, [100, 100]), p, 1234).data));
    });
  }

  it('same seed gives the same mask; different seeds give unrelated masks', async () => {
    const e = await getEngine();
    const x = e.tensor(XD, [N]);
    const a = keptMask(await dropout(x, 0.5, 7).read());
    const b = keptMask(await dropout(x, 0.5, 7).read());
    const c = keptMask(await dropout(x, 0.5, 8).read());
    expect(b).toEqual(a);
    // Independent p = 0.5 masks agree on half the elements.
    const agree = a.reduce((s, v, i) => s + (v === c[i] ? 1 : 0), 0) / N;
    expect(Math.abs(agree - 0.5)).toBeLessThan(0.03);
    expect(Array.from(dropoutMaskCpu(N, 0.5, 8))).toEqual(c);
    // No structure along the index: each half keeps about half.
    const firstHalf = a.slice(0, N / 2).reduce((s, v) => s + v, 0) / (N / 2);
    expect(Math.abs(firstHalf - 0.5)).toBeLessThan(0.03);
  });

  it('handles the largest seed (u32 arithmetic in JS and WGSL agree)', async () => {
    const e = await getEngine();
    const out = await dropout(e.tensor(XD.subarray(0, 1000), [1000]), 0.3, 2 ** 32 - 1).read();
    expect(Array.from(out)).toEqual(Array.from(dropoutForwardCpu(cpu(XD.subarray(0, 1000), [1000]), 0.3, 2 ** 32 - 1).data));
  });

  it('backward applies the same mask and scale to the gradient', async () => {
    const e = await getEngine();
    const x = e.tensor(XD, [N], { requiresGrad: true });
    const y = dropout(x, 0.4, 99);
    const fwd = keptMask(await y.read());
    const gd = randn(N, 2).map((v) => (Math.abs(v) < 1e-3 ? 1 : v));
    e.backward(y, e.tensor(gd, [N]));
    const dx = await x.grad!.read();
    expect(keptMask(dx)).toEqual(fwd);
    expect(Array.from(dx)).toEqual(Array.from(dropoutBackwardCpu(cpu(gd, [N]), 0.4, 99).data));
  });

  it('accumulates over two backward passes', async () => {
    const e = await getEngine();
    const x = e.tensor(XD.subarray(0, 999), [999], { requiresGrad: true });
    e.backward(dropout(x, 0.2, 5), e.full([999], 1));
    const once = await x.grad!.read();
    e.backward(dropout(x, 0.2, 5), e.full([999], 1));
    expectClose(
      await x.grad!.read(),
      once.map((v) => 2 * v),
      { atol: 0 },
      'twice',
    );
  });

  it('p = 0 and eval mode return x itself, recording nothing', async () => {
    const e = await getEngine();
    const x = e.tensor(XD.subarray(0, 10), [10], { requiresGrad: true });
    const before = e.tapeLength;
    expect(dropout(x, 0, 1)).toBe(x);
    expect(dropout(x, 0.5, 1, false)).toBe(x);
    expect(e.tapeLength).toBe(before);
  });

  it('finite-difference gradcheck', async () => {
    const e = await getEngine();
    await gradcheck(e, ([x]) => dropout(x!, 0.5, 3), [{ data: randn(8, 3), shape: [2, 4] }], { label: 'dropout' });
  });

  it('rejects p outside [0, 1) and seeds that are not u32', async () => {
    const e = await getEngine();
    const x = e.zeros([2, 3]);
    for (const p of [-0.1, 1, 1.5, NaN]) expect(() => dropout(x, p, 1)).toThrow(ShapeError);
    expect(() => dropout(x, 1, 1)).toThrow(/p must be in \[0, 1\).*\[2,3\]\), got 1/);
    for (const seed of [-1, 1.5, 2 ** 32]) expect(() => dropout(x, 0.5, seed)).toThrow(/seed must be an integer in \[0, 2\^32\)/);
  });
});
