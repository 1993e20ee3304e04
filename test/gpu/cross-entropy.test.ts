import { afterAll, describe, expect, it } from 'vitest';
import { crossEntropy, type CrossEntropyOptions } from '../../src/tensor/ops/cross-entropy';
import { crossEntropyBackwardCpu, crossEntropyForwardCpu } from '../../src/tensor/cpu/cross-entropy';
import { cpu } from '../../src/tensor/cpu/types';
import { ShapeError } from '../../src/tensor/tensor';
import { destroyEngine, expectClose, getEngine, randn, rng } from './helpers';
import { gradcheck } from './gradcheck';

afterAll(destroyEngine);

/** Random targets in [0, V), with about `ignored` of them set to ignoreIndex. */
function randomTargets(R: number, V: number, seed: number, ignored = 0, ignoreIndex = -100): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: R }, () => (r() < ignored ? ignoreIndex : Math.floor(r() * V)));
}

interface Case {
  shape: number[];
  reduction: NonNullable<CrossEntropyOptions['reduction']>;
  scale?: number;
  ignored?: number;
  ignoreIndex?: number;
}

// V past 256 (strided loops), odd row counts, logits up to ~+-240 (no max subtraction would
// overflow), ignored rows, a custom ignoreIndex, and leading dims.
const cases: Case[] = [
  { shape: [5, 7], reduction: 'mean' },
  { shape: [13, 300], reduction: 'sum', ignored: 0.3 },
  { shape: [3, 1031], reduction: 'none' },
  { shape: [7, 40], reduction: 'mean', scale: 80, ignored: 0.3 },
  { shape: [11, 19], reduction: 'mean', ignored: 0.5, ignoreIndex: 3 },
  { shape: [2, 3, 11], reduction: 'none', ignored: 0.3 },
  { shape: [9, 600], reduction: 'none', scale: 80, ignored: 0.2 },
];

describe('crossEntropy (fused from logits)', () => {
  for (const c of cases) {
    const label = `${c.reduction} [${c.shape}]${c.scale ? ` x${c.scale}` : ''}${c.ignored ? ` ${c.ignored * 100}% ignored` : ''}${c.ignoreIndex !== undefined ? ` ignoreIndex ${c.ignoreIndex}` : ''}`;
    it(`${label}: forward and backward match the CPU twin`, async () => {
      const e = await getEngine();
      const V = c.shape[c.shape.length - 1]!;
      const R = c.shape.reduce((a, b) => a * b) / V;
      const ld = randn(R * V, 41, c.scale ?? 2);
      const ii = c.ignoreIndex ?? -100;
      let tg = randomTargets(R, V, 42, c.ignored ?? 0, ii);
      // With ignoreIndex 3, targets of 3 mean "ignored", so draw real ones elsewhere.
      if (ii >= 0) tg = tg.map((t, r) => (t === ii && r % 2 === 0 ? (ii + 1) % V : t));
      const opts = { reduction: c.reduction, ignoreIndex: ii };
      const logits = e.tensor(ld, c.shape, { requiresGrad: true });
      const loss = crossEntropy(logits, tg, opts);
      const ref = crossEntropyForwardCpu(cpu(ld, c.shape), tg, opts);
      expect(loss.shape).toEqual(ref.shape);
      const lv = await loss.read();
      expectClose(lv, ref.data, { atol: 1e-4, rtol: 1e-5 }, `${label} loss`);
      const nIgnored = tg.filter((t) => t === ii).length;
      if (c.ignored) expect(nIgnored, 'the case has ignored rows').toBeGreaterThan(0);
      if (c.reduction === 'none') tg.forEach((t, r) => t === ii && expect(lv[r], `ignored row ${r}`).toBe(0));
      // A non-trivial upstream gradient, read on the GPU.
      const g = c.reduction === 'none' ? randn(R, 43) : Float32Array.of(1.7);
      e.backward(loss, e.tensor(g, loss.shape));
      const d = crossEntropyBackwardCpu(cpu(ld, c.shape), tg, cpu(g, ref.shape), opts);
      expectClose(await logits.grad!.read(), d.data, { atol: 1e-6, rtol: 1e-4 }, `${label} dlogits`);
    });
  }

  it("'mean' with every target ignored is 0 (not NaN) with a zero gradient", async () => {
    const e = await getEngine();
    const logits = e.tensor(randn(4 * 6, 1), [4, 6], { requiresGrad: true });
    const loss = crossEntropy(logits, [-100, -100, -100, -100]);
    expect(await loss.item()).toBe(0);
    e.backward(loss);
    expectClose(await logits.grad!.read(), new Float32Array(24), { atol: 0 }, 'dlogits');
  });

  it('ignored rows give 0 loss and a zero gradient row', async () => {
    const e = await getEngine();
    const ld = randn(3 * 5, 2);
    const logits = e.tensor(ld, [3, 5], { requiresGrad: true });
    const loss = crossEntropy(logits, [2, -100, 4], { reduction: 'none' });
    const lv = await loss.read();
    expect(lv[1]).toBe(0);
    const lse = (r: number) => Math.log([0, 1, 2, 3, 4].reduce((s, v) => s + Math.exp(ld[r * 5 + v]!), 0));
    expectClose([lv[0]!, lv[2]!], [lse(0) - ld[2]!, lse(2) - ld[14]!], { atol: 1e-5 }, 'hand-computed losses');
    e.backward(loss, e.tensor([1, 1, 1], [3]));
    const d = await logits.grad!.read();
    expectClose(d.slice(5, 10), new Float32Array(5), { atol: 0 }, 'ignored row gradient');
  });

  it('accepts an i32 targets tensor together with hostTargets', async () => {
    const e = await getEngine();
    const ld = randn(6 * 9, 5);
    const tg = Int32Array.from([0, 8, -100, 3, 3, 7]);
    const t = e.tensor(tg, [6], { dtype: 'i32' });
    const loss = crossEntropy(e.tensor(ld, [6, 9]), t, { hostTargets: tg });
    expectClose([await loss.item()], crossEntropyForwardCpu(cpu(ld, [6, 9]), tg).data, { atol: 1e-5 }, 'loss');
  });

  it('never reads out of bounds: a bad target that reaches the GPU gives NaN loss and a zero gradient row', async () => {
    const e = await getEngine();
    const logits = e.tensor(randn(2 * 4, 6), [2, 4], { requiresGrad: true });
    // The tensor disagrees with what the host was told; the kernel must still stay in bounds.
    const t = e.tensor([1, 1000000], [2], { dtype: 'i32' });
    const loss = crossEntropy(logits, t, { hostTargets: [1, 2], reduction: 'none' });
    const lv = await loss.read();
    expect(Number.isFinite(lv[0])).toBe(true);
    expect(Number.isNaN(lv[1])).toBe(true);
    e.backward(loss, e.tensor([1, 1], [2]));
    expectClose((await logits.grad!.read()).slice(4), new Float32Array(4), { atol: 0 }, 'bad row gradient');
  });

  it('accumulates gradients across two backward passes (+=)', async () => {
    const e = await getEngine();
    const logits = e.tensor(randn(5 * 300, 7), [5, 300], { requiresGrad: true });
    const tg = [4, 299, -100, 0, 17];
    e.backward(crossEntropy(logits, tg));
    const once = await logits.grad!.read();
    e.backward(crossEntropy(logits, tg));
    expectClose(
      await logits.grad!.read(),
      once.map((v) => 2 * v),
      { atol: 1e-7, rtol: 1e-6 },
      'accumulated',
    );
  });

  for (const reduction of ['mean', 'sum', 'none'] as const)
    it(`${reduction}: finite-difference gradcheck`, async () => {
      const e = await getEngine();
      const tg = [2, -100, 0, 4];
      await gradcheck(e, ([x]) => crossEntropy(x!, tg, { reduction }), [{ data: randn(4 * 5, 51), shape: [4, 5] }], {
        label: `crossEntropy ${reduction}`,
      });
    });

  it('rejects bad targets and shapes with ShapeError', async () => {
    const e = await getEngine();
    const logits = e.zeros([3, 5]);
    expect(() => crossEntropy(logits, [0, 5, 1])).toThrow(ShapeError);
    expect(() => crossEntropy(logits, [0, 5, 1])).toThrow(/target 5 at row 1 is outside \[0, 5\)/);
    expect(() => crossEntropy(logits, [0, -1, 1])).toThrow(/target -1/);
    expect(() => crossEntropy(logits, [0, 1.5, 1])).toThrow(ShapeError);
    expect(() => crossEntropy(logits, [0, 1])).toThrow(/3 rows but 2 targets/);
    expect(() => crossEntropy(logits, [0, 1, 7], { ignoreIndex: 7 })).not.toThrow();
    expect(() => crossEntropy(logits, e.tensor([0, 1, 2], [3], { dtype: 'i32' }))).toThrow(/hostTargets/);
    expect(() => crossEntropy(logits, e.tensor([0, 1, 2], [3]), { hostTargets: [0, 1, 2] })).toThrow(/i32/);
    expect(() => crossEntropy(e.tensor([0, 1], [1, 2], { dtype: 'i32' }), [0])).toThrow(/f32/);
  });
});
