// S2-Attn (LongLoRA shifted sparse attention): the flash-style kernels against the plain CPU twin
// (materialised rolled tensors and per-group score matrices), a finite-difference gradcheck, the
// roll variant's leak versus 'split', gradient accumulation, smaller tiles, and shape errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setRowLayout } from '../../src/tensor/ops/common';
import {
  attentionPath,
  s2attn,
  setAttentionPath,
  type AttentionShape,
  type S2AttnOptions,
  type S2Shift,
} from '../../src/tensor/ops/s2attn';
import { s2attnBackwardCpu, s2attnForwardCpu, type S2AttnCpuOptions } from '../../src/tensor/cpu/s2attn';
import { cpu } from '../../src/tensor/cpu/types';
import { SELFTEST_CASES, runCase } from '../../src/tensor/selftest';
import { ShapeError, type Engine } from '../../src/tensor/tensor';
import { gradcheck } from './gradcheck';
import { destroyEngine, expectClose, getEngine, randn, rng } from './helpers';

afterAll(destroyEngine);

const FWD_TOL = { atol: 5e-6, rtol: 1e-4 };
const GRAD_TOL = { atol: 2e-5, rtol: 1e-3 };
const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

interface Case {
  B?: number;
  H: number;
  Hkv: number;
  T: number;
  Dh: number;
  ratio: number;
  shift?: S2Shift;
  causal?: boolean;
  /** 0/1 key mask [B, T]. */
  mask?: number[];
  scale?: number;
}

const label = (c: Case) =>
  `B${c.B ?? 1} H${c.H}/Hkv${c.Hkv} T${c.T} Dh${c.Dh} ratio 1/${1 / c.ratio} ${c.shift ?? 'roll'}` +
  `${c.causal === false ? ' bidirectional' : ''}${c.mask ? ' masked' : ''}${c.scale ? ` scale ${c.scale}` : ''}`;

/** Forward and dq/dk/dv on the GPU against the CPU twin. */
async function checkCase(e: Engine, c: Case, seed = 1): Promise<void> {
  const B = c.B ?? 1;
  const qs = [B, c.H, c.T, c.Dh];
  const ks = [B, c.Hkv, c.T, c.Dh];
  const [qd, kd, vd, gd] = [
    randn(numel(qs), seed),
    randn(numel(ks), seed + 1),
    randn(numel(ks), seed + 2),
    randn(numel(qs), seed + 3),
  ];
  const cpuOpts: S2AttnCpuOptions = { ratio: c.ratio, shift: c.shift, causal: c.causal, scale: c.scale };
  const opts: S2AttnOptions = { ratio: c.ratio, shift: c.shift, causal: c.causal, scale: c.scale };
  if (c.mask) {
    cpuOpts.keyMask = cpu(c.mask, [B, c.T]);
    opts.keyMask = e.tensor(c.mask, [B, c.T]);
  }
  const q = e.tensor(qd, qs, { requiresGrad: true });
  const k = e.tensor(kd, ks, { requiresGrad: true });
  const v = e.tensor(vd, ks, { requiresGrad: true });
  const out = s2attn(q, k, v, opts);
  expect(out.shape).toEqual(qs);
  const [cq, ck, cv] = [cpu(qd, qs), cpu(kd, ks), cpu(vd, ks)];
  const od = await out.read();
  expect(od.every(Number.isFinite), 'outputs finite').toBe(true);
  expectClose(od, s2attnForwardCpu(cq, ck, cv, cpuOpts).data, FWD_TOL, `${label(c)} forward`);
  e.backward(out, e.tensor(gd, qs));
  const ref = s2attnBackwardCpu(cq, ck, cv, cpu(gd, qs), cpuOpts);
  expectClose(await q.grad!.read(), ref.dq.data, GRAD_TOL, `${label(c)} dq`);
  expectClose(await k.grad!.read(), ref.dk.data, GRAD_TOL, `${label(c)} dk`);
  expectClose(await v.grad!.read(), ref.dv.data, GRAD_TOL, `${label(c)} dv`);
}

/** 0/1 mask [B, T] with about `keep` kept; batches in `full` fully masked. */
function keyMask(B: number, T: number, seed: number, full: number[] = [], keep = 0.6): number[] {
  const r = rng(seed);
  return Array.from({ length: B * T }, (_, i) => (r() < keep && !full.includes(Math.floor(i / T)) ? 1 : 0));
}

// T in {16, 64}, ratio 1/4 and 1, every shift, MHA and GQA (Hkv 2 and 1, so a kv head serves
// both plain and shifted q heads), Dh in {8, 64}; plus tiles that straddle groups (T 40, G 10)
// and wrap onto the same group twice (G 2), bidirectional groups, and a custom scale.
const cases: Case[] = [
  { H: 4, Hkv: 4, T: 16, Dh: 8, ratio: 1 / 4, shift: 'roll' },
  { H: 4, Hkv: 2, T: 16, Dh: 8, ratio: 1 / 4, shift: 'split' },
  { H: 4, Hkv: 1, T: 16, Dh: 8, ratio: 1 / 4, shift: 'none' },
  { H: 4, Hkv: 1, T: 16, Dh: 8, ratio: 1 / 4, shift: 'roll' },
  { H: 4, Hkv: 2, T: 16, Dh: 64, ratio: 1, shift: 'roll' },
  { H: 4, Hkv: 4, T: 64, Dh: 64, ratio: 1 / 4, shift: 'roll' },
  { H: 4, Hkv: 2, T: 64, Dh: 64, ratio: 1 / 4, shift: 'split' },
  { H: 4, Hkv: 1, T: 64, Dh: 64, ratio: 1 / 4, shift: 'roll' },
  { H: 4, Hkv: 2, T: 64, Dh: 64, ratio: 1 / 4, shift: 'none' },
  { H: 4, Hkv: 2, T: 64, Dh: 64, ratio: 1 },
  { B: 2, H: 4, Hkv: 4, T: 64, Dh: 8, ratio: 1 / 4, shift: 'split' },
  { B: 2, H: 2, Hkv: 1, T: 64, Dh: 8, ratio: 1, shift: 'none' },
  { H: 4, Hkv: 2, T: 40, Dh: 8, ratio: 1 / 4, shift: 'roll' },
  { H: 4, Hkv: 2, T: 40, Dh: 8, ratio: 1 / 4, shift: 'split' },
  { H: 4, Hkv: 1, T: 16, Dh: 8, ratio: 1 / 8, shift: 'roll' },
  { H: 4, Hkv: 1, T: 64, Dh: 8, ratio: 1 / 8, shift: 'split' },
  { H: 4, Hkv: 2, T: 16, Dh: 8, ratio: 1 / 4, shift: 'roll', causal: false },
  { H: 3, Hkv: 1, T: 16, Dh: 12, ratio: 1 / 2, shift: 'roll', scale: 0.7 },
  // Gemma's 256-wide heads (wider than the flash tiles): the scores path or the row kernels.
  { H: 2, Hkv: 1, T: 16, Dh: 256, ratio: 1 },
  { H: 2, Hkv: 1, T: 16, Dh: 256, ratio: 1 / 4, shift: 'roll' },
  { H: 2, Hkv: 2, T: 16, Dh: 256, ratio: 1 / 4, shift: 'split' },
];

// Every path: 'workgroup' = the flash-style tiles (s2attn_forward), 'thread' = a thread per query
// row (s2attn_rows_forward), 'scores' = materialised scores through matmul and attnProbs per group
// (the software adapter's default where attentionPath allows; 'split' and masked groups still
// take the rows there).
type Path = 'workgroup' | 'thread' | 'scores';
function usePath(path: Path): void {
  setAttentionPath(path === 'scores' ? 'scores' : 'fused');
  setRowLayout(path === 'scores' ? 'auto' : path);
}
function autoPaths(): void {
  setAttentionPath('auto');
  setRowLayout('auto');
}
for (const layout of ['workgroup', 'thread', 'scores'] as const) {
  describe(`s2attn vs the CPU twin (forward: ${layout})`, () => {
    beforeAll(() => usePath(layout));
    afterAll(autoPaths);
    for (const c of cases)
      it(`${label(c)}: forward and dq/dk/dv`, async () => {
        await checkCase(await getEngine(), c);
      });

    it('bidirectional with a key padding mask (BERT): fully masked batch outputs 0, never NaN', async () => {
      const e = await getEngine();
      const mask = keyMask(3, 16, 9, [1]);
      await checkCase(e, { B: 3, H: 2, Hkv: 2, T: 16, Dh: 8, ratio: 1, causal: false, mask });
      await checkCase(e, { B: 2, H: 4, Hkv: 4, T: 64, Dh: 64, ratio: 1, causal: false, mask: keyMask(2, 64, 10, [1]) });
      // Fully masked rows: exactly 0 out, 0 gradients.
      const q = e.tensor(randn(3 * 2 * 16 * 8, 3), [3, 2, 16, 8], { requiresGrad: true });
      const kv = [1, 2].map((s) => e.tensor(randn(3 * 2 * 16 * 8, s + 10), [3, 2, 16, 8], { requiresGrad: true }));
      const out = s2attn(q, kv[0]!, kv[1]!, { ratio: 1, causal: false, keyMask: e.tensor(mask, [3, 16]) });
      const od = await out.read();
      expect(Array.from(od.slice(256, 512)).every((x) => x === 0)).toBe(true);
      e.backward(out, e.tensor(randn(od.length, 4), out.shape));
      const dq = await q.grad!.read();
      expect(dq.every(Number.isFinite)).toBe(true);
      expect(Array.from(dq.slice(256, 512)).every((x) => x === 0)).toBe(true);
    });

    it('causal groups with a key mask that empties some rows (roll and split)', async () => {
      const e = await getEngine();
      // Key 0 masked: under 'none' heads query 0 has no key; masked keys elsewhere empty more rows.
      const mask = keyMask(2, 16, 11).map((m, i) => (i % 16 === 0 || i % 16 === 12 ? 0 : m));
      for (const shift of ['roll', 'split'] as const)
        await checkCase(e, { B: 2, H: 4, Hkv: 2, T: 16, Dh: 8, ratio: 1 / 4, shift, mask });
    });
  });

  describe(`s2attn: gradients and variants (forward: ${layout})`, () => {
    beforeAll(() => usePath(layout));
    afterAll(autoPaths);
    it('finite-difference gradcheck (T 8, G 4, roll, GQA Hkv 1; and split with a mask)', async () => {
      const e = await getEngine();
      const inputs = [
        { data: randn(2 * 8 * 4, 41), shape: [1, 2, 8, 4] },
        { data: randn(8 * 4, 42), shape: [1, 1, 8, 4] },
        { data: randn(8 * 4, 43), shape: [1, 1, 8, 4] },
      ];
      await gradcheck(e, ([q, k, v]) => s2attn(q!, k!, v!, { ratio: 1 / 2, shift: 'roll' }), inputs, { label: 's2attn roll' });
      const mask = e.tensor([1, 1, 0, 1, 1, 1, 1, 0], [1, 8]);
      await gradcheck(e, ([q, k, v]) => s2attn(q!, k!, v!, { ratio: 1 / 2, shift: 'split', keyMask: mask }), inputs, {
        label: 's2attn split masked',
      });
    });

    it('finite-difference gradcheck of full attention (causal GQA; bidirectional with a key mask)', async () => {
      const e = await getEngine();
      const inputs = [
        { data: randn(2 * 2 * 6 * 4, 44), shape: [2, 2, 6, 4] },
        { data: randn(2 * 6 * 4, 45), shape: [2, 1, 6, 4] },
        { data: randn(2 * 6 * 4, 46), shape: [2, 1, 6, 4] },
      ];
      await gradcheck(e, ([q, k, v]) => s2attn(q!, k!, v!, { ratio: 1 }), inputs, { label: 's2attn full causal' });
      const mask = e.tensor([1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0], [2, 6]);
      await gradcheck(e, ([q, k, v]) => s2attn(q!, k!, v!, { ratio: 1, causal: false, keyMask: mask, scale: 0.3 }), inputs, {
        label: 's2attn full bidirectional masked',
      });
    });

    it('backward twice doubles the gradients (ACCUMULATE) and is deterministic', async () => {
      const e = await getEngine();
      const qs = [1, 4, 32, 8],
        ks = [1, 2, 32, 8];
      const q = e.tensor(randn(numel(qs), 51), qs, { requiresGrad: true });
      const k = e.tensor(randn(numel(ks), 52), ks, { requiresGrad: true });
      const v = e.tensor(randn(numel(ks), 53), ks, { requiresGrad: true });
      const g = e.tensor(randn(numel(qs), 54), qs);
      e.backward(s2attn(q, k, v), g);
      const once = await Promise.all([q, k, v].map((t) => t.grad!.read()));
      e.backward(s2attn(q, k, v), g);
      const twice = await Promise.all([q, k, v].map((t) => t.grad!.read()));
      for (const [i, n] of ['dq', 'dk', 'dv'].entries())
        expectClose(
          twice[i]!,
          once[i]!.map((x) => 2 * x),
          { atol: 1e-6, rtol: 1e-6 },
          `${n} accumulated`,
        );
      // Same inputs, fresh gradients: bit-identical (no atomics).
      for (const t of [q, k, v]) {
        t.grad!.dispose();
        t.grad = null;
      }
      e.backward(s2attn(q, k, v), g);
      const again = await Promise.all([q, k, v].map((t) => t.grad!.read()));
      for (const i of [0, 1, 2]) expect(Array.from(again[i]!)).toEqual(Array.from(once[i]!));
    });

    it('only some inputs require grad: k alone, and v alone', async () => {
      const e = await getEngine();
      const qs = [1, 2, 16, 8];
      const [qd, kd, vd, gd] = [61, 62, 63, 64].map((s) => randn(numel(qs), s));
      const ref = s2attnBackwardCpu(cpu(qd!, qs), cpu(kd!, qs), cpu(vd!, qs), cpu(gd!, qs), { shift: 'split' });
      for (const which of ['k', 'v'] as const) {
        const q = e.tensor(qd!, qs);
        const k = e.tensor(kd!, qs, { requiresGrad: which === 'k' });
        const v = e.tensor(vd!, qs, { requiresGrad: which === 'v' });
        e.backward(s2attn(q, k, v, { shift: 'split' }), e.tensor(gd!, qs));
        const t = which === 'k' ? k : v;
        expectClose(await t.grad!.read(), (which === 'k' ? ref.dk : ref.dv).data, GRAD_TOL, `d${which} alone`);
        expect(q.grad).toBeNull();
      }
    });

    it("roll leaks: a shifted head's first tokens see the last G/2 tokens; split does not", async () => {
      const e = await getEngine();
      // T 16, G 4, s 2. Rolled order of head 1: [2..15, 0, 1]; its last group is tokens 14, 15, 0, 1.
      const T = 16,
        Dh = 8;
      const q = e.tensor(randn(2 * T * Dh, 71), [1, 2, T, Dh]);
      const k = e.tensor(randn(T * Dh, 72), [1, 1, T, Dh]);
      const vd = new Float32Array(T * Dh);
      vd.fill(1, (T - 1) * Dh); // only the last token carries a value
      const v = e.tensor(vd, [1, 1, T, Dh]);
      const seers = async (shift: S2Shift, head: number) => {
        const out = await s2attn(q, k, v, { ratio: 1 / 4, shift }).read();
        return Array.from({ length: T }, (_, i) => i).filter((i) => out[(head * T + i) * Dh] !== 0);
      };
      // Plain head 0: only token 15 (same group, causal) sees token 15.
      expect(await seers('roll', 0)).toEqual([15]);
      // Shifted head 1 under roll: tokens 0 and 1 (the start) see token 15 (the end): the leak.
      expect(await seers('roll', 1)).toEqual([0, 1, 15]);
      // Under split the shifted groups are [0,2), [2,6), ..., [14,16): no wrap, no leak.
      expect(await seers('split', 1)).toEqual([15]);
      // And the leak is in the CPU reference of the roll variant as well.
      const ref = s2attnForwardCpu(
        cpu(await q.read(), [1, 2, T, Dh]),
        cpu(await k.read(), [1, 1, T, Dh]),
        cpu(vd, [1, 1, T, Dh]),
        {
          ratio: 1 / 4,
          shift: 'roll',
        },
      );
      expect(ref.data[(T + 0) * Dh]).toBeGreaterThan(0);
    });

    it('ratio 1 ignores the shift: roll, split and none all give full causal attention', async () => {
      const e = await getEngine();
      const s = [1, 4, 16, 8];
      const [q, k, v] = [81, 82, 83].map((seed) => e.tensor(randn(numel(s), seed), s));
      const outs = await Promise.all(
        (['roll', 'split', 'none'] as const).map((shift) => s2attn(q!, k!, v!, { ratio: 1, shift }).read()),
      );
      expect(Array.from(outs[0]!)).toEqual(Array.from(outs[2]!));
      expect(Array.from(outs[1]!)).toEqual(Array.from(outs[2]!));
    });

    it('smaller tiles (devices with less workgroup memory) and Dh 128 give the same results', async () => {
      const e = await getEngine();
      const limits = e.gpu.info.limits;
      const saved = limits.maxComputeWorkgroupStorageSize;
      try {
        // 8 KiB: fwd 16x8, bwd 8x4 tiles at Dh 64; 4400 bytes: fwd 8x8, bwd 4x4 (s2attnWorkgroupBytes).
        for (const limit of [8192, 4400]) {
          limits.maxComputeWorkgroupStorageSize = limit;
          await checkCase(e, { H: 4, Hkv: 2, T: 40, Dh: 64, ratio: 1 / 4, shift: 'roll' }, limit);
        }
      } finally {
        limits.maxComputeWorkgroupStorageSize = saved!;
      }
      // Dh 128 at the default limit (32 KiB on SwiftShader): fwd 16x16, bwd 16x8.
      await checkCase(e, { H: 2, Hkv: 2, T: 16, Dh: 128, ratio: 1 / 4, shift: 'roll' });
    });
  });

  it('self-test s2attn cases pass', async () => {
    const e = await getEngine();
    const mine = SELFTEST_CASES.filter((c) => c.name.startsWith('s2attn'));
    expect(mine.length).toBe(2);
    for (const [i, c] of mine.entries()) {
      const res = await runCase(e, c, 700 + i);
      expect(res.detail, c.name).toBeUndefined();
      expect(res.pass).toBe(true);
    }
  });
}

describe('s2attn: shape errors', () => {
  it('attentionPath: scores for full attention and batchable groups that fit, by default only on a software adapter', async () => {
    const e = await getEngine();
    const at = (o: Partial<AttentionShape>) =>
      attentionPath(e, { B: 8, H: 4, Hkv: 4, T: 128, G: 128, shift: 'none', masked: false, ...o });
    try {
      setAttentionPath('scores');
      expect(at({})).toBe('scores');
      expect(at({ masked: true }), 'full attention with a key mask (BERT)').toBe('scores');
      expect(at({ G: 32, shift: 'roll' }), 'rolled groups, MHA').toBe('scores');
      expect(at({ G: 32, shift: 'none', Hkv: 1 }), 'plain groups, GQA').toBe('scores');
      expect(at({ G: 32, shift: 'roll', Hkv: 2 }), 'each kv head on one side of the shift').toBe('scores');
      expect(at({ G: 32, shift: 'roll', Hkv: 1 }), 'a kv head read by plain and rolled heads: repeated').toBe('scores');
      expect(at({ G: 32, shift: 'split' }), 'split groups').toBe('fused');
      expect(at({ G: 32, shift: 'roll', masked: true }), 'groups with a key mask').toBe('fused');
      expect(at({ B: 1, H: 16, T: 2048, G: 2048 }), '256 MiB of scores: over SCORES_MAX_BYTES').toBe('fused');
      setAttentionPath('fused');
      expect(at({})).toBe('fused');
      setAttentionPath('auto');
      expect(at({})).toBe(e.gpu.info.isFallbackAdapter ? 'scores' : 'fused');
      expect(at({ Dh: 256 }), 'heads wider than the tiles: scores on any adapter').toBe('scores');
      expect(at({ Dh: 256, G: 32, shift: 'split' }), 'wide heads in split groups: the row kernels').toBe('fused');
    } finally {
      setAttentionPath('auto');
    }
  });

  it('names the shapes and what to do', async () => {
    const e = await getEngine();
    const t = (s: number[]) => e.zeros(s);
    const q = t([1, 4, 16, 8]);
    const kv = t([1, 2, 16, 8]);
    // T = 20 with ratio 1/4: G = 5 is odd, cannot shift by G/2.
    const q20 = t([1, 4, 20, 8]),
      kv20 = t([1, 2, 20, 8]);
    expect(() => s2attn(q20, kv20, kv20)).toThrow(ShapeError);
    expect(() => s2attn(q20, kv20, kv20)).toThrow(/T = 20 must be divisible by 8/);
    expect(() => s2attn(q20, kv20, kv20, { shift: 'none' })).not.toThrow();
    const q18 = t([1, 4, 18, 8]),
      kv18 = t([1, 2, 18, 8]);
    expect(() => s2attn(q18, kv18, kv18, { shift: 'none' })).toThrow(/T = 18 must be divisible by 4/);
    expect(() => s2attn(q, kv, kv, { ratio: 0.3 })).toThrow(/ratio must be 1\/n/);
    // H % Hkv != 0.
    const kv3 = t([1, 3, 16, 8]);
    expect(() => s2attn(q, kv3, kv3)).toThrow(ShapeError);
    expect(() => s2attn(q, kv3, kv3)).toThrow(/4 query heads .* multiple of the 3 kv heads/);
    // k / v mismatch, rank, head dim, mask shape.
    expect(() => s2attn(q, kv, t([1, 2, 16, 4]))).toThrow(/k and v must both be \[B, Hkv, T, Dh\]/);
    expect(() => s2attn(t([4, 16, 8]), kv, kv)).toThrow(/q must be \[B, H, T, Dh\]/);
    const q6 = t([1, 4, 16, 6]),
      kv6 = t([1, 2, 16, 6]);
    expect(() => s2attn(q6, kv6, kv6)).toThrow(/multiple of 4 and at most 256/);
    expect(() => s2attn(q, kv, kv, { causal: false, keyMask: t([16]) })).toThrow(/keyMask must be \[B, T\] = \[1, 16\]/);
  });
});
