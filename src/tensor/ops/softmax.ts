// softmax and logSoftmax over the last dim with an optional 0/1 mask, forward and backward.
// R = rows (leading dims flattened), L = row length.
//
// Masked entries get probability 0; their log-probability is MASKED_LOG_PROB (-1e30), a finite
// stand-in for -inf so that `0 * logp` and sums stay finite downstream. A fully masked row is all
// 0 (softmax) or all -1e30 (logSoftmax), never NaN. No gradient flows to the mask.

import { packUniforms } from '../../gpu/device';
import { ShapeError, type Engine, type Tensor } from '../tensor';
import { assertF32, contiguous, rowPerThread, rowWorkgroups } from './common';

/** What logSoftmax writes for masked entries (exp of it is exactly 0). */
export const MASKED_LOG_PROB = -1e30;

const MAX_LEAD = 8;

/**
 * Uniform words describing how x's rows map to the mask's rows: x's leading dims and the mask's
 * row strides over them (0 where the mask broadcasts). Throws if the mask does not broadcast.
 */
function maskLayout(x: Tensor, mask: Tensor | undefined, what: string): Array<['u32', number]> {
  const lead = x.shape.slice(0, -1);
  const strides = new Array<number>(lead.length).fill(0);
  if (mask) {
    const L = x.shape[x.rank - 1]!;
    const bad = () =>
      new ShapeError(
        `${what}: mask of shape [${mask.shape}] does not fit x of shape [${x.shape}]; it must be [..., ${L}] ` +
          `and broadcast over x's leading dims (same shape, or 1 / missing on dims the mask shares)`,
      );
    if (mask.rank === 0 || mask.shape[mask.rank - 1] !== L) throw bad();
    const mLead = mask.shape.slice(0, -1);
    // Extra leading mask dims are allowed only when they are 1.
    const extra = mLead.length - lead.length;
    if (extra > 0 && mLead.slice(0, extra).some((d) => d !== 1)) throw bad();
    let s = 1;
    for (let i = lead.length - 1; i >= 0; i--) {
      const md = mLead[mLead.length - lead.length + i] ?? 1;
      if (md === lead[i]) strides[i] = md === 1 ? 0 : s;
      else if (md === 1) strides[i] = 0;
      else throw bad();
      s *= md;
    }
  }
  if (lead.length > MAX_LEAD) throw new ShapeError(`${what}: rank ${x.rank} is over the maximum of ${MAX_LEAD + 1}`);
  const pad = (v: number[]) => Array.from({ length: MAX_LEAD }, (_, i) => ['u32', v[i] ?? 1] as ['u32', number]);
  return [...pad(lead), ...pad(strides)];
}

function softmaxImpl(log: boolean, x: Tensor, mask?: Tensor): Tensor {
  const e = x.engine;
  const what = log ? 'logSoftmax' : 'softmax';
  assertF32(x, what);
  if (x.rank === 0) throw new ShapeError(`${what} works over the last dim but got a scalar; reshape it to [1] first`);
  if (mask) assertF32(mask, `${what} mask`);
  const layout = maskLayout(x, mask, what);
  x = contiguous(x);
  const m = mask ? contiguous(mask) : undefined;
  const L = x.shape[x.rank - 1]!;
  const R = L === 0 ? 0 : x.size / L;
  const uniforms = packUniforms([['u32', R], ['u32', L], ['u32', x.rank - 1], ['u32', 0], ...layout]);
  const hasMask = m !== undefined;
  const y = e.empty(x.shape);
  const perThread = rowPerThread(e, R, L);
  e.gpu.dispatch({
    kernel: 'softmax_forward',
    constants: { LOG: log, HAS_MASK: hasMask, ROW_PER_THREAD: perThread },
    buffers: [x.buffer, m?.buffer ?? x.buffer, y.buffer],
    uniforms,
    workgroups: rowWorkgroups(R, perThread),
  });
  e.record(what, [x], y, (g) => {
    e.addGrad(x, (dst, acc) =>
      softmaxBackwardInto(e, log, y.buffer, g.buffer, m?.buffer ?? null, dst, R, acc, uniforms, perThread),
    );
  });
  return y;
}

/**
 * dx (+)= the softmax backward y * (g - rowsum(g * y)) over R unmasked rows of L, from the
 * output y: for ops whose forward is a softmax of their own (attnProbs), a row layout per call.
 */
export function softmaxGradInto(e: Engine, y: GPUBuffer, g: GPUBuffer, dx: GPUBuffer, R: number, L: number, acc: boolean): void {
  // No mask: rank 0, and the lead / mask-stride words (never read) as 1s.
  const unused = Array.from({ length: 2 * MAX_LEAD }, () => ['u32', 1] as ['u32', number]);
  const uniforms = packUniforms([['u32', R], ['u32', L], ['u32', 0], ['u32', 0], ...unused]);
  softmaxBackwardInto(e, false, y, g, null, dx, R, acc, uniforms, rowPerThread(e, R, L));
}

function softmaxBackwardInto(
  e: Engine,
  log: boolean,
  y: GPUBuffer,
  g: GPUBuffer,
  mask: GPUBuffer | null,
  dx: GPUBuffer,
  rows: number,
  accumulate: boolean,
  uniforms: ArrayBuffer,
  perThread: boolean,
): void {
  e.gpu.dispatch({
    kernel: 'softmax_backward',
    constants: { LOG: log, HAS_MASK: mask !== null, ACCUMULATE: accumulate, ROW_PER_THREAD: perThread },
    buffers: [y, g, mask ?? y, dx],
    uniforms,
    workgroups: rowWorkgroups(rows, perThread),
  });
}

/**
 * Softmax over the last dim. `mask` (f32 0/1, shape [..., L] broadcast over x's leading dims)
 * zeroes the probability of masked entries; a fully masked row is all zeros.
 */
export const softmax = (x: Tensor, mask?: Tensor): Tensor => softmaxImpl(false, x, mask);

/**
 * Log-softmax over the last dim. Masked entries are MASKED_LOG_PROB (-1e30, finite) and take no
 * gradient; a fully masked row is all -1e30.
 */
export const logSoftmax = (x: Tensor, mask?: Tensor): Tensor => softmaxImpl(true, x, mask);
