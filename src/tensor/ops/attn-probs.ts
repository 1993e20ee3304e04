// Attention probabilities over materialised scores, forward and backward: the softmax step of
// s2attn's scores path (ops/s2attn.ts), where attention is three batched matmuls around it.
// S: [..., rows, T] scores (already scaled); each row is one (batch, head, query) with the query
// at position r % T of its sequence and its batch floor(r / rowsPerBatch). Keys after the query
// (causal) or with keyMask 0 get probability 0; a row with no key left is all 0. A thread per row.
// The backward is softmax's (softmax_backward), since P is a softmax whose dropped keys are 0.

import { packUniforms } from '../../gpu/device';
import { ShapeError, type Tensor } from '../tensor';
import { assertF32, contiguous, grid, sameShape } from './common';
import { softmaxGradInto } from './softmax';

const WG = 64; // threads per workgroup of attn_probs_forward

export interface AttnProbsOptions {
  causal: boolean;
  /** Score rows per batch (H * T): which row of keyMask a score row reads. */
  rowsPerBatch: number;
  /** f32 0/1 [B, T]. */
  keyMask?: Tensor;
}

export function attnProbs(s: Tensor, opts: AttnProbsOptions): Tensor {
  const e = s.engine;
  assertF32(s, 'attnProbs scores');
  if (s.rank < 2) throw new ShapeError(`attnProbs: scores must be [..., rows, T], got [${s.shape}]`);
  const T = s.shape[s.rank - 1]!;
  const R = T === 0 ? 0 : s.size / T;
  if (opts.rowsPerBatch <= 0 || R % opts.rowsPerBatch !== 0 || opts.rowsPerBatch % T !== 0)
    throw new ShapeError(
      `attnProbs: ${R} score rows of [${s.shape}] must be whole batches of rowsPerBatch = ${opts.rowsPerBatch} (a multiple of T = ${T})`,
    );
  let mask = opts.keyMask;
  if (mask) {
    assertF32(mask, 'attnProbs keyMask');
    const B = R / opts.rowsPerBatch;
    if (!sameShape(mask.shape, [B, T]))
      throw new ShapeError(`attnProbs: keyMask must be [B, T] = [${B}, ${T}] for scores [${s.shape}], got [${mask.shape}]`);
    mask = contiguous(mask);
  }
  s = contiguous(s);
  const uniforms = packUniforms([
    ['u32', R],
    ['u32', T],
    ['u32', opts.rowsPerBatch],
    ['u32', 0],
  ]);
  const out = e.empty(s.shape);
  e.gpu.dispatch({
    kernel: 'attn_probs_forward',
    constants: { CAUSAL: opts.causal, HAS_MASK: mask !== undefined },
    buffers: [s.buffer, mask?.buffer ?? s.buffer, out.buffer],
    uniforms,
    workgroups: grid(R, WG),
  });
  // P is a softmax over the kept keys (the rest are 0 and take no gradient): softmax's backward.
  e.record('attnProbs', [s], out, (g) => e.addGrad(s, (dst, acc) => softmaxGradInto(e, out.buffer, g.buffer, dst, R, T, acc)));
  return out;
}
