// S2-Attn (LongLoRA shifted sparse attention) as one flash-style op, forward and backward, with
// GQA. B = batch, H = query heads, Hkv = kv heads, T = tokens, Dh = head dim, G = T * ratio.
//
// Heads h < floor(H / 2) attend within groups [gG, (g+1)G); the others are shifted by G/2:
// 'roll' is LongLoRA's code (Q, K, V rolled by -G/2, output rolled back; the first G/2 tokens then
// see the last G/2, the known leak), 'split' uses group boundaries offset by G/2 without wrapping
// (no leak), 'none' keeps every head plain. Ratio 1 is full attention (G = T, shift ignored).
// causal: false plus a keyMask [B, T] gives a padded bidirectional encoder (BERT). The kernels
// (s2attn_forward / s2attn_backward) never hold a T x T or G x G matrix in global memory; the
// forward saves the per-row logsumexp for the backward when it records a tape node.
// On a software adapter full attention, and plain or rolled groups, take the scores path instead:
// Q K^T, attnProbs and P V as batched matmuls per group with their tape gradients, since the
// register-tiled matmul runs ~20x more multiply-adds per second there than the per-row kernels
// (attentionPath says which, and when).

import { packUniforms } from '../../gpu/device';
import { MedRankError } from '../../core/errors';
import { ShapeError, type Engine, type Tensor } from '../tensor';
import { attnProbs } from './attn-probs';
import { assertF32, contiguous, grid, rowPerThread, sameShape } from './common';
import { repeatHeads, rollHeads } from './concat';
import { matmul } from './matmul';
import { swapAxes12 } from './swap-axes';

export type S2Shift = 'roll' | 'split' | 'none';

export interface S2AttnOptions {
  /** Group size as a fraction of T: G = T * ratio (default 1/4; 1 = full attention). */
  ratio?: number;
  /** How the upper half of the heads is shifted (default 'roll', LongLoRA's code). */
  shift?: S2Shift;
  /** Causal mask inside each group (default true). */
  causal?: boolean;
  /** f32 0/1 [B, T]: keys with 0 get zero probability; a query left with no key outputs 0. */
  keyMask?: Tensor;
  /** Softmax scale (default 1 / sqrt(Dh)). */
  scale?: number;
}

const WG = 256;
/** Largest head dim: Gemma's 256 (the row kernels' accumulators hold 64 vec4). */
const MAX_DH = 256;
/** Largest head dim of the flash tiles (their thread layout holds two vec4 columns per lane); wider heads use the scores path or the row kernels. */
const TILE_MAX_DH = 128;
const SHIFT_CODE: Record<S2Shift, number> = { none: 0, roll: 1, split: 2 };
// Larger tiles first: fewer K/V (or Q/dout) reloads. BQ, BK <= 16 keeps one score per invocation.
const TILES: Array<[number, number]> = [
  [16, 16],
  [16, 8],
  [8, 16],
  [8, 8],
  [8, 4],
  [4, 8],
  [4, 4],
];

/** Workgroup bytes of each kernel (must match the var<workgroup> declarations). */
export const s2attnWorkgroupBytes = {
  forward: (bq: number, bk: number, dv: number): number => 16 * dv * (bq + bk) + 4 * (bq * bk + bq),
  backward: (bq: number, bk: number, dv: number): number => 16 * dv * (2 * bq + 2 * bk) + 4 * (2 * bq * bk + 2 * bq),
};

function pickTiles(e: Engine, kind: 'forward' | 'backward', dv: number): { BQ: number; BK: number } {
  const limit = e.gpu.info.limits.maxComputeWorkgroupStorageSize ?? 16384;
  const invocations = e.gpu.info.limits.maxComputeInvocationsPerWorkgroup ?? 256;
  if (invocations < WG) throw new MedRankError(`s2attn needs ${WG} invocations per workgroup; this device allows ${invocations}`);
  for (const [BQ, BK] of TILES) if (s2attnWorkgroupBytes[kind](BQ, BK, dv) <= limit) return { BQ, BK };
  throw new MedRankError(`s2attn ${kind}: head dim ${dv * 4} needs more workgroup memory than this device's ${limit} bytes`);
}

/** 'fused': the s2attn kernels; 'scores': materialised scores; 'auto' picks (attentionPath). */
export type AttentionPathSetting = 'auto' | 'fused' | 'scores';
let pathSetting: AttentionPathSetting = 'auto';

/** Force one attention path where both apply (tests cover each); returns the previous setting. */
export function setAttentionPath(p: AttentionPathSetting): AttentionPathSetting {
  const prev = pathSetting;
  pathSetting = p;
  return prev;
}

/** Largest score matrix the scores path materialises (it holds it and the probabilities, twice in backward). */
export const SCORES_MAX_BYTES = 32 * 1024 ** 2;

/** What attentionPath needs of a call: its sizes, the effective shift (s2attnGroup) and whether a key mask is given. */
export interface AttentionShape {
  B: number;
  H: number;
  Hkv: number;
  T: number;
  G: number;
  shift: S2Shift;
  masked: boolean;
  /** Head dim (default 64): heads wider than the flash tiles take the scores path wherever it fits. */
  Dh?: number;
}

/**
 * Which path attention of this shape takes. 'scores' where the [B, H, T, G] scores fit
 * SCORES_MAX_BYTES and the binding limit, and the groups can be batched: full attention (G = T,
 * with or without a key mask), or groups with no mask that are plain ('none') or rolled ('roll').
 * 'split' and masked groups keep the fused kernels. By default only on a software adapter, where
 * barriers and per-row loops cost most (a GPU keeps the flash tiles, which never hold the scores
 * in memory), and for heads wider than the tiles take (Dh > 128, Gemma's 256) on any adapter.
 */
export function attentionPath(e: Engine, a: AttentionShape): 'fused' | 'scores' {
  if (pathSetting === 'fused') return 'fused';
  const grouped = a.G !== a.T;
  if (grouped && (a.masked || a.shift === 'split')) return 'fused';
  const bytes = a.B * a.H * a.T * a.G * 4;
  if (bytes > Math.min(SCORES_MAX_BYTES, e.gpu.info.limits.maxStorageBufferBindingSize ?? 134217728)) return 'fused';
  const wide = (a.Dh ?? 64) > TILE_MAX_DH;
  return pathSetting === 'scores' || e.gpu.info.isFallbackAdapter || wide ? 'scores' : 'fused';
}

/**
 * Attention through materialised scores, one batch per (batch, kv head, group): the rolled heads
 * (h >= floor(H / 2) under 'roll', and the kv heads they read; a kv head read from both sides is
 * repeated per query head first) are rolled by -G/2; q is laid
 * out as [B * Hkv * nG, g * G, Dh] (the g query heads of a kv head side by side within each
 * group, via swapAxes12 when g > 1 and there are several groups); S = scale * q k^T, P =
 * attnProbs(S) (causal within the group, the key mask when G = T), out = P v, rolled back. Each
 * op records its own tape node, so gradients come from their backward kernels.
 */
function scoresAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  o: AttentionShape & { Dh: number; causal: boolean; scale: number; mask?: Tensor },
): Tensor {
  const { B, H, T, G, Dh } = o;
  const plain = o.shift === 'roll' ? Math.floor(H / 2) : H; // q heads before this one are not rolled
  const half = G / 2;
  const rolled = plain < H;
  // A kv head read by query heads on both sides of the shift is repeated to one per query head.
  if (rolled && plain % (H / o.Hkv) !== 0) {
    const g0 = H / o.Hkv;
    return scoresAttention(q, repeatHeads(k, g0), repeatHeads(v, g0), { ...o, Hkv: H });
  }
  const Hkv = o.Hkv;
  const g = H / Hkv;
  const nG = T / G;
  const [qr, kr, vr] = rolled
    ? [rollHeads(q, plain, half), rollHeads(k, plain / g, half), rollHeads(v, plain / g, half)]
    : [q, k, v];
  // [B, Hkv, g, nG, G, Dh] -> [B, Hkv, nG, g, G, Dh]: a group's g * G query rows together.
  const spread = g > 1 && nG > 1;
  const rows = [B * Hkv * nG, g * G, Dh];
  const qg = spread ? swapAxes12(qr.reshape([B * Hkv, g, nG, G * Dh])).reshape(rows) : qr.reshape(rows);
  const kv = [B * Hkv * nG, G, Dh];
  const s = matmul(qg, kr.reshape(kv), { transB: true, alpha: o.scale });
  // rowsPerBatch picks the key-mask row; a mask comes only with one group (G = T).
  const p = attnProbs(s, { causal: o.causal, rowsPerBatch: H * G, keyMask: o.mask });
  const out = matmul(p, vr.reshape(kv));
  const back = spread ? swapAxes12(out.reshape([B * Hkv, nG, g, G * Dh])) : out;
  const o4 = back.reshape([B, H, T, Dh]);
  return rolled ? rollHeads(o4, plain, T - half) : o4;
}

/** G and the effective shift for T and the options; throws a ShapeError naming what T needs. */
export function s2attnGroup(T: number, ratio = 0.25, shift: S2Shift = 'roll'): { G: number; shift: S2Shift } {
  if (!(ratio > 0 && ratio <= 1))
    throw new ShapeError(`s2attn: ratio must be in (0, 1] (the group size as a fraction of T), got ${ratio}`);
  const n = 1 / ratio;
  const G = Math.round(T * ratio);
  if (Math.abs(n - Math.round(n)) > 1e-9)
    throw new ShapeError(`s2attn: ratio must be 1/n for a whole n so that groups tile T, got ${ratio}`);
  const groups = Math.round(n);
  const effective: S2Shift = groups === 1 ? 'none' : shift; // one group: full attention, nothing to shift
  const need = effective === 'none' ? groups : 2 * groups;
  if (T % need !== 0 || G < 1)
    throw new ShapeError(
      `s2attn: T = ${T} must be divisible by ${need} for ratio 1/${groups}` +
        (effective === 'none' ? '' : ` with shift '${shift}' (G = T/${groups} must be even to shift by G/2)`) +
        `; pad the sequence to a multiple of ${need}`,
    );
  return { G, shift: effective };
}

/**
 * Shifted sparse attention. q: [B, H, T, Dh]; k, v: [B, Hkv, T, Dh] with H % Hkv == 0 (query head
 * h reads kv head floor(h / (H / Hkv))). Returns [B, H, T, Dh]; gradients flow to q, k and v.
 */
export function s2attn(q: Tensor, k: Tensor, v: Tensor, opts: S2AttnOptions = {}): Tensor {
  const e = q.engine;
  for (const [t, n] of [
    [q, 'q'],
    [k, 'k'],
    [v, 'v'],
  ] as const) {
    assertF32(t, `s2attn ${n}`);
    if (t.rank !== 4)
      throw new ShapeError(
        `s2attn: ${n} must be [B, ${n === 'q' ? 'H' : 'Hkv'}, T, Dh], got [${t.shape}]; move heads before tokens first`,
      );
  }
  const [B, H, T, Dh] = q.shape as [number, number, number, number];
  const Hkv = k.shape[1]!;
  if (!sameShape(k.shape, [B, Hkv, T, Dh]) || !sameShape(v.shape, k.shape))
    throw new ShapeError(
      `s2attn: k and v must both be [B, Hkv, T, Dh] = [${B}, Hkv, ${T}, ${Dh}] for q [${q.shape}], got k [${k.shape}] and v [${v.shape}]`,
    );
  if (Hkv === 0 || H % Hkv !== 0)
    throw new ShapeError(
      `s2attn: the ${H} query heads of q [${q.shape}] must be a multiple of the ${Hkv} kv heads of k [${k.shape}] (GQA)`,
    );
  if (Dh % 4 !== 0 || Dh > MAX_DH || Dh === 0)
    throw new ShapeError(
      `s2attn: head dim Dh = ${Dh} (q [${q.shape}]) must be a multiple of 4 and at most ${MAX_DH}; pad the head dim`,
    );
  const { G, shift } = s2attnGroup(T, opts.ratio ?? 0.25, opts.shift ?? 'roll');
  const causal = opts.causal ?? true;
  const scale = opts.scale ?? 1 / Math.sqrt(Dh);
  if (!Number.isFinite(scale)) throw new ShapeError(`s2attn: scale must be a finite number, got ${scale}`);
  let mask = opts.keyMask;
  if (mask) {
    assertF32(mask, 's2attn keyMask');
    if (!sameShape(mask.shape, [B, T]))
      throw new ShapeError(`s2attn: keyMask must be [B, T] = [${B}, ${T}] for q [${q.shape}], got [${mask.shape}]`);
    mask = contiguous(mask);
  }
  q = contiguous(q);
  k = contiguous(k);
  v = contiguous(v);
  if (B * H * T === 0) return e.zeros([B, H, T, Dh]);
  const shape: AttentionShape = { B, H, Hkv, T, G, shift, masked: mask !== undefined, Dh };
  if (attentionPath(e, shape) === 'scores') return scoresAttention(q, k, v, { ...shape, Dh, causal, scale, mask });

  const DV = Dh / 4;
  const rows = B * H * T;
  const uniforms = packUniforms([
    ['u32', B],
    ['u32', H],
    ['u32', Hkv],
    ['u32', T],
    ['u32', G],
    ['u32', G / 2],
    ['u32', SHIFT_CODE[shift]],
    ['u32', shift === 'none' ? H : Math.floor(H / 2)],
    ['f32', scale],
    ['u32', rows],
  ]);
  const hasMask = mask !== undefined;
  const maskBuf = mask?.buffer ?? q.buffer; // never read without HAS_MASK
  const save = e.recording && [q, k, v].some((t) => t.requiresGrad);
  // dk and dv are written by one dispatch into two read_write bindings, which must not alias.
  if (save && k.requiresGrad && v.requiresGrad && k.storage === v.storage)
    throw new MedRankError('s2attn: k and v are the same tensor; pass a copy of one so their gradients can be written apart');
  // [2, B, H, T]: the forward's logsumexp, then the backward's delta.
  const stats = save ? e.empty([2, B, H, T]) : e.placeholder();
  const out = e.empty([B, H, T, Dh]);
  const buffers = [q.buffer, k.buffer, v.buffer, maskBuf, out.buffer, stats.buffer];
  const flags = { DV, CAUSAL: causal, HAS_MASK: hasMask, SAVE_LSE: save };
  // A thread per query row on a software adapter (barriers there are fiber switches), the
  // flash-style tiles on a GPU; tests force each (setRowLayout).
  const perRow = Dh > TILE_MAX_DH || rowPerThread(e, B * H * T, Infinity);
  if (perRow)
    e.gpu.dispatch({ kernel: 's2attn_rows_forward', constants: flags, buffers, uniforms, workgroups: [Math.ceil(T / 64), H, B] });
  else {
    const fwd = pickTiles(e, 'forward', DV);
    e.gpu.dispatch({
      kernel: 's2attn_forward',
      constants: { ...fwd, ...flags },
      buffers,
      uniforms,
      workgroups: [Math.ceil(T / fwd.BQ), H, B],
    });
  }

  e.record('s2attn', [q, k, v], out, (g) => {
    // The row kernel (s2attn_rows_backward) goes with the row forward for dq and dk/dv; delta
    // is a thread per row in s2attn_backward either way.
    // delta reads no tile memory: the row path binds the smallest tiles (wide heads fit no others).
    const tiles = perRow ? { BQ: 1, BK: 1 } : pickTiles(e, 'backward', DV);
    const [rowsQ, rowsK] = perRow ? [64, 64] : [tiles.BQ, tiles.BK]; // query / key rows per workgroup
    const run = (
      mode: number,
      ga: GPUBuffer,
      gb: GPUBuffer,
      acc: boolean,
      accDv: boolean,
      workgroups: [number, number?, number?],
    ) =>
      e.gpu.dispatch({
        kernel: perRow && mode > 0 ? 's2attn_rows_backward' : 's2attn_backward',
        constants: {
          ...(perRow && mode > 0 ? {} : tiles),
          DV,
          CAUSAL: causal,
          HAS_MASK: hasMask,
          MODE: mode,
          ACCUMULATE: acc,
          ACCUMULATE_DV: accDv,
        },
        label: `s2attn_backward ${['delta', 'dq', 'dkdv'][mode]}`,
        buffers: [q.buffer, k.buffer, v.buffer, maskBuf, g.buffer, stats.buffer, ga, gb],
        uniforms,
        workgroups,
      });
    // delta = rowsum(dout * out) into stats[1]; ga is unused there (bound to a buffer no other
    // binding writes).
    run(0, e.placeholder().buffer, out.buffer, false, false, grid(rows, WG));
    e.addGrad(q, (dq, acc) => run(1, dq, out.buffer, acc, false, [Math.ceil(T / rowsQ), H, B]));
    if (k.requiresGrad || v.requiresGrad) {
      const scratch: Tensor[] = [];
      const into = (t: Tensor, fn: (buf: GPUBuffer, acc: boolean) => void) => {
        if (t.requiresGrad) e.addGrad(t, fn);
        else {
          const s = e.empty(t.shape);
          scratch.push(s);
          fn(s.buffer, false);
        }
      };
      into(k, (dk, accK) => into(v, (dv, accV) => run(2, dk, dv, accK, accV, [Math.ceil(T / rowsK), Hkv, B])));
      for (const s of scratch) s.dispose(); // safe: later uses of the pooled buffer run after this dispatch
    }
  });
  return out;
}
