// The PyTorch goldens in test/goldens/ load with MedRank's safetensors reader, have the names,
// shapes and dtypes the kernel tests expect, and agree with a plain float64 TypeScript loop:
// MaxSim scores and gradients for every case, S2-Attn outputs for every case (ratio 1 and the
// roll version). This proves the reader and the goldens agree before any kernel is compared.
//
// B = batch, Lq = query tokens, N = docs, H = query heads, Hkv = kv heads, T = tokens, Dh = head dim
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, type SafetensorsTensor } from '../../src/tensor/safetensors';

const DIR = new URL('../goldens/', import.meta.url);
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.safetensors'))
  .sort();

function load(file: string) {
  const { tensors, metadata } = parseSafetensors(readFileSync(new URL(file, DIR)));
  const get = (name: string, dtype: 'F32' | 'I32', shape: number[]): SafetensorsTensor => {
    const t = tensors.get(name);
    expect(t, `${file}: tensor ${name}`).toBeDefined();
    expect(t!.dtype, `${file}: ${name} dtype`).toBe(dtype);
    expect(t!.shape, `${file}: ${name} shape`).toEqual(shape);
    return t!;
  };
  return { tensors, metadata, get };
}

/** Max relative difference, relative to max(1, |want|) per element (values here are O(1..50)). */
function maxRelDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / Math.max(1, Math.abs(want[i]!)));
  return worst;
}

describe('kernel goldens', () => {
  it('are all present and under 200 KB each', () => {
    expect(files.filter((f) => f.startsWith('maxsim_')).length).toBe(2);
    expect(files.filter((f) => f.startsWith('s2attn_')).length).toBe(5);
    for (const f of files) expect(readFileSync(new URL(f, DIR)).byteLength).toBeLessThan(200 * 1024);
  });

  for (const file of files.filter((f) => f.startsWith('maxsim_'))) {
    it(`${file}: shapes, and scores / dQ / dD recomputed in float64`, () => {
      const { tensors, get } = load(file);
      expect([...tensors.keys()]).toEqual(['Q', 'Q_mask', 'D', 'D_offsets', 'dScores', 'scores', 'dQ', 'dD']);
      const [B, Lq, dim] = tensors.get('Q')!.shape as [number, number, number];
      const offsets = get('D_offsets', 'I32', [tensors.get('D_offsets')!.shape[0]!]).data;
      const N = offsets.length - 1;
      const total = offsets[N]!;
      const Q = get('Q', 'F32', [B, Lq, dim]).data;
      const mask = get('Q_mask', 'F32', [B, Lq]).data;
      const D = get('D', 'F32', [total, dim]).data;
      const dScores = get('dScores', 'F32', [B, N]).data;
      const scores = get('scores', 'F32', [B, N]).data;
      const dQ = get('dQ', 'F32', [B, Lq, dim]).data;
      const dD = get('dD', 'F32', [total, dim]).data;
      expect(offsets[0]).toBe(0);
      expect(Array.from(mask).every((m) => m === 0 || m === 1)).toBe(true);

      const s = new Float64Array(B * N);
      const gQ = new Float64Array(B * Lq * dim);
      const gD = new Float64Array(total * dim);
      for (let b = 0; b < B; b++) {
        for (let n = 0; n < N; n++) {
          for (let i = 0; i < Lq; i++) {
            if (mask[b * Lq + i] === 0) continue;
            let best = -Infinity;
            let arg = -1;
            for (let j = offsets[n]!; j < offsets[n + 1]!; j++) {
              let dot = 0;
              for (let d = 0; d < dim; d++) dot += Q[(b * Lq + i) * dim + d]! * D[j * dim + d]!;
              if (dot > best) [best, arg] = [dot, j];
            }
            s[b * N + n]! += best;
            const g = dScores[b * N + n]!;
            for (let d = 0; d < dim; d++) {
              gQ[(b * Lq + i) * dim + d]! += g * D[arg * dim + d]!;
              gD[arg * dim + d]! += g * Q[(b * Lq + i) * dim + d]!;
            }
          }
        }
      }
      const diffs = { scores: maxRelDiff(scores, s), dQ: maxRelDiff(dQ, gQ), dD: maxRelDiff(dD, gD) };
      console.log(`${file}: max rel diff vs f64 loop ${JSON.stringify(diffs)}`);
      for (const v of Object.values(diffs)) expect(v).toBeLessThan(1e-6);
      // Masked query tokens get no gradient.
      for (let b = 0; b < B; b++)
        for (let i = 0; i < Lq; i++)
          if (mask[b * Lq + i] === 0)
            expect(dQ.subarray((b * Lq + i) * dim, (b * Lq + i + 1) * dim).every((x) => x === 0)).toBe(true);
    });
  }

  for (const file of files.filter((f) => f.startsWith('s2attn_'))) {
    it(`${file}: shapes, metadata, and out recomputed in float64`, () => {
      const { tensors, metadata, get } = load(file);
      expect([...tensors.keys()]).toEqual(['q', 'k', 'v', 'dout', 'out', 'dq', 'dk', 'dv']);
      expect(metadata.shift).toBe('roll');
      expect(metadata.causal).toBe('true');
      const ratio = Number(metadata.ratio);
      const [B, H, T, Dh] = tensors.get('q')!.shape as [number, number, number, number];
      const Hkv = tensors.get('k')!.shape[1]!;
      const q = get('q', 'F32', [B, H, T, Dh]).data;
      const k = get('k', 'F32', [B, Hkv, T, Dh]).data;
      const v = get('v', 'F32', [B, Hkv, T, Dh]).data;
      get('dout', 'F32', [B, H, T, Dh]);
      const out = get('out', 'F32', [B, H, T, Dh]).data;
      get('dq', 'F32', [B, H, T, Dh]);
      get('dk', 'F32', [B, Hkv, T, Dh]);
      get('dv', 'F32', [B, Hkv, T, Dh]);

      // Roll version written as index arithmetic: a shifted head's position t sits at
      // p = (t - G/2) mod T in the rolled sequence, attends causally within p's group of the
      // rolled sequence, and rolled position r maps back to time (r + G/2) mod T.
      const G = ratio === 1 ? T : T * ratio;
      expect(Number(metadata.group_size)).toBe(G);
      const ref = new Float64Array(B * H * T * Dh);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          const kvh = Math.floor(h / (H / Hkv));
          const shift = ratio !== 1 && h >= H / 2 ? G / 2 : 0;
          const qa = (t: number, d: number) => q[((b * H + h) * T + t) * Dh + d]!;
          const kva = (x: Float32Array | Int32Array | Uint8Array, t: number, d: number) => x[((b * Hkv + kvh) * T + t) * Dh + d]!;
          for (let t = 0; t < T; t++) {
            const p = (t - shift + T) % T;
            const g0 = p - (p % G);
            const logits: number[] = [];
            for (let r = g0; r <= p; r++) {
              const tk = (r + shift) % T;
              let dot = 0;
              for (let d = 0; d < Dh; d++) dot += qa(t, d) * kva(k, tk, d);
              logits.push(dot / Math.sqrt(Dh));
            }
            const m = Math.max(...logits);
            const w = logits.map((x) => Math.exp(x - m));
            const z = w.reduce((a, x) => a + x, 0);
            for (let r = g0; r <= p; r++) {
              const tk = (r + shift) % T;
              for (let d = 0; d < Dh; d++) ref[((b * H + h) * T + t) * Dh + d]! += (w[r - g0]! / z) * kva(v, tk, d);
            }
          }
        }
      }
      const diff = maxRelDiff(out, ref);
      console.log(`${file}: out max rel diff vs f64 loop ${diff.toExponential(2)}`);
      expect(diff).toBeLessThan(1e-6);
    });
  }
});
