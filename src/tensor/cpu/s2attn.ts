// CPU twin of S2-Attn (LongLoRA shifted sparse attention), forward and backward, written the
// plain way so that it checks the kernels' index arithmetic rather than repeating it: k and v
// are expanded to H heads (repeat_interleave by H / Hkv, as LongLoRA's PyTorch code does before
// the shift), each head's Q, K, V are materialised in its own order (rolled by -G/2 for 'roll'),
// each group's score matrix is built, soft-maxed and multiplied out in f64, and the result is
// scattered back to original positions (the roll back by +G/2).
// B = batch, H = query heads, Hkv = kv heads, T = tokens, Dh = head dim, G = group size.

import type { CpuTensor } from './types';

export type S2Shift = 'roll' | 'split' | 'none';

export interface S2AttnCpuOptions {
  ratio?: number;
  shift?: S2Shift;
  causal?: boolean;
  /** 0/1 key padding mask [B, T]. */
  keyMask?: CpuTensor;
  scale?: number;
}

interface HeadPlan {
  /** perm[x] = original position of the head's x-th token (its rolled order). */
  perm: number[];
  /** Groups as [start, end) over the head's order. */
  groups: Array<[number, number]>;
}

/** Each head's order and groups: heads h >= floor(H / 2) are the shifted ones (LongLoRA). */
function plan(T: number, H: number, opts: S2AttnCpuOptions): HeadPlan[] {
  const G = Math.round(T * (opts.ratio ?? 0.25));
  if (G < 1 || T % G !== 0) throw new Error(`s2attnCpu: G = ${G} must divide T = ${T}`);
  const shift: S2Shift = G === T ? 'none' : (opts.shift ?? 'roll');
  const s = G / 2;
  const identity = Array.from({ length: T }, (_, i) => i);
  const plain: Array<[number, number]> = Array.from({ length: T / G }, (_, g) => [g * G, (g + 1) * G]);
  return Array.from({ length: H }, (_, h) => {
    if (shift === 'none' || h < Math.floor(H / 2)) return { perm: identity, groups: plain };
    if (shift === 'roll') return { perm: identity.map((x) => (x + s) % T), groups: plain };
    const groups: Array<[number, number]> = [[0, s]];
    for (let a = s; a < T; a += G) groups.push([a, Math.min(a + G, T)]);
    return { perm: identity, groups };
  });
}

interface Ctx {
  B: number;
  H: number;
  Hkv: number;
  T: number;
  Dh: number;
  scale: number;
  causal: boolean;
  plans: HeadPlan[];
  mask?: Float32Array;
}

function context(q: CpuTensor, k: CpuTensor, opts: S2AttnCpuOptions): Ctx {
  const [B, H, T, Dh] = q.shape as [number, number, number, number];
  return {
    B,
    H,
    T,
    Dh,
    Hkv: k.shape[1]!,
    scale: opts.scale ?? 1 / Math.sqrt(Dh),
    causal: opts.causal ?? true,
    plans: plan(T, H, opts),
    mask: opts.keyMask?.data,
  };
}

/** Rows of x[b, head] in the order perm, as f64 [T][Dh]. */
function gather(x: Float32Array, heads: number, c: Ctx, b: number, head: number, perm: number[]): Float64Array[] {
  const base = (b * heads + head) * c.T;
  return perm.map((i) => Float64Array.from(x.subarray((base + i) * c.Dh, (base + i + 1) * c.Dh)));
}

const dot = (a: Float64Array, b: Float64Array): number => a.reduce((s, x, d) => s + x * b[d]!, 0);

/** Softmax of one group's scores; rows with no allowed key are all 0. */
function groupProbs(c: Ctx, b: number, perm: number[], a: number, e: number, Q: Float64Array[], K: Float64Array[]) {
  const n = e - a;
  const P = Array.from({ length: n }, () => new Float64Array(n));
  const lse = new Float64Array(n).fill(-Infinity);
  for (let x = 0; x < n; x++) {
    const allowed = (y: number) => (!c.causal || y <= x) && (!c.mask || c.mask[b * c.T + perm[a + y]!] !== 0);
    const S = Array.from({ length: n }, (_, y) => (allowed(y) ? c.scale * dot(Q[a + x]!, K[a + y]!) : -Infinity));
    const m = Math.max(...S);
    if (m === -Infinity) continue;
    const sum = S.reduce((t, v) => t + Math.exp(v - m), 0);
    for (let y = 0; y < n; y++) P[x]![y] = Math.exp(S[y]! - m) / sum;
    lse[x] = m + Math.log(sum);
  }
  return { P, lse };
}

/** Output [B, H, T, Dh] and logsumexp [B, H, T] (-Infinity where a query has no key). */
export function s2attnWithLseCpu(
  q: CpuTensor,
  k: CpuTensor,
  v: CpuTensor,
  opts: S2AttnCpuOptions = {},
): { out: CpuTensor; lse: CpuTensor } {
  const c = context(q, k, opts);
  const out = new Float32Array(q.data.length);
  const lse = new Float32Array(c.B * c.H * c.T);
  for (let b = 0; b < c.B; b++)
    for (let h = 0; h < c.H; h++) {
      const { perm, groups } = c.plans[h]!;
      const kvh = Math.floor(h / (c.H / c.Hkv)); // repeat_interleave
      const Q = gather(q.data, c.H, c, b, h, perm);
      const K = gather(k.data, c.Hkv, c, b, kvh, perm);
      const V = gather(v.data, c.Hkv, c, b, kvh, perm);
      for (const [a, e] of groups) {
        const { P, lse: l } = groupProbs(c, b, perm, a, e, Q, K);
        for (let x = 0; x < e - a; x++) {
          const o = new Float64Array(c.Dh);
          for (let y = 0; y < e - a; y++) for (let d = 0; d < c.Dh; d++) o[d]! += P[x]![y]! * V[a + y]![d]!;
          const row = (b * c.H + h) * c.T + perm[a + x]!; // roll back
          out.set(o, row * c.Dh);
          lse[row] = l[x]!;
        }
      }
    }
  return { out: { data: out, shape: [...q.shape] }, lse: { data: lse, shape: [c.B, c.H, c.T] } };
}

/** S2-Attn forward: q [B, H, T, Dh], k and v [B, Hkv, T, Dh] -> [B, H, T, Dh]. */
export const s2attnForwardCpu = (q: CpuTensor, k: CpuTensor, v: CpuTensor, opts: S2AttnCpuOptions = {}): CpuTensor =>
  s2attnWithLseCpu(q, k, v, opts).out;

/** Gradients of sum(dout * s2attn(q, k, v)) with respect to q, k and v. */
export function s2attnBackwardCpu(
  q: CpuTensor,
  k: CpuTensor,
  v: CpuTensor,
  dout: CpuTensor,
  opts: S2AttnCpuOptions = {},
): { dq: CpuTensor; dk: CpuTensor; dv: CpuTensor } {
  const c = context(q, k, opts);
  const dq = new Float64Array(q.data.length);
  const dk = new Float64Array(k.data.length);
  const dv = new Float64Array(v.data.length);
  for (let b = 0; b < c.B; b++)
    for (let h = 0; h < c.H; h++) {
      const { perm, groups } = c.plans[h]!;
      const kvh = Math.floor(h / (c.H / c.Hkv));
      const Q = gather(q.data, c.H, c, b, h, perm);
      const K = gather(k.data, c.Hkv, c, b, kvh, perm);
      const V = gather(v.data, c.Hkv, c, b, kvh, perm);
      const dO = gather(dout.data, c.H, c, b, h, perm);
      for (const [a, e] of groups) {
        const n = e - a;
        const { P } = groupProbs(c, b, perm, a, e, Q, K);
        for (let x = 0; x < n; x++) {
          const dP = Array.from({ length: n }, (_, y) => dot(dO[a + x]!, V[a + y]!));
          const rowDot = P[x]!.reduce((s, pv, y) => s + pv * dP[y]!, 0);
          const qRow = ((b * c.H + h) * c.T + perm[a + x]!) * c.Dh;
          for (let y = 0; y < n; y++) {
            const pv = P[x]![y]!;
            if (pv === 0) continue;
            const dS = pv * (dP[y]! - rowDot);
            // Scatter back to original positions; the expanded kv heads sum into their kv head.
            const kRow = ((b * c.Hkv + kvh) * c.T + perm[a + y]!) * c.Dh;
            for (let d = 0; d < c.Dh; d++) {
              dq[qRow + d]! += c.scale * dS * K[a + y]![d]!;
              dk[kRow + d]! += c.scale * dS * Q[a + x]![d]!;
              dv[kRow + d]! += pv * dO[a + x]![d]!;
            }
          }
        }
      }
    }
  const t = (data: Float64Array, shape: number[]): CpuTensor => ({ data: Float32Array.from(data), shape: [...shape] });
  return { dq: t(dq, q.shape), dk: t(dk, k.shape), dv: t(dv, v.shape) };
}
