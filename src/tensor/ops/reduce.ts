// Reductions over the last dim (sum, mean, max) and full reductions (sumAll, meanAll), forward
// and backward. R = rows (leading dims flattened), N = length of the reduced last dim.

import { packUniforms } from '../../gpu/device';
import { ShapeError, type Engine, type Tensor } from '../tensor';
import { assertF32, contiguous, grid, rowPerThread, rowWorkgroups } from './common';

export type ReduceOp = 'sum' | 'mean' | 'max';
const OP_CODE: Record<ReduceOp, number> = { sum: 0, mean: 1, max: 2 };

export interface ReduceOptions {
  /** Keep the reduced dim as size 1 (shape [..., 1]) instead of dropping it. */
  keepdim?: boolean;
}

/**
 * out[r] = OP(src[r, :]) for `rows` rows of length n (sum and mean are multiplied by `scale`;
 * mean passes 1/n). For max, `argmax` receives the first index of each row's maximum.
 */
export function reduceRowsInto(
  e: Engine,
  op: ReduceOp,
  src: GPUBuffer,
  out: GPUBuffer,
  argmax: GPUBuffer | null,
  rows: number,
  n: number,
  scale = 1,
): void {
  // Many short rows: a thread per row. A 256-thread workgroup per 128-value row spends most of
  // its time in barriers (32k such rows took 7.6 s on SwiftShader in the MaxSim comparison).
  const perThread = rowPerThread(e, rows, n);
  e.gpu.dispatch({
    kernel: 'reduce_forward',
    constants: { OP: OP_CODE[op], WRITE_ARGMAX: argmax !== null, ROW_PER_THREAD: perThread },
    // Without an argmax buffer the kernel leaves that binding alone; a placeholder fills it
    // (not `out`: two writable bindings of one buffer are not allowed).
    buffers: [src, out, argmax ?? e.placeholder().buffer],
    uniforms: packUniforms([
      ['u32', rows],
      ['u32', n],
      ['f32', scale],
      ['u32', 0],
    ]),
    workgroups: rowWorkgroups(rows, perThread),
  });
}

function reduce(op: ReduceOp, x: Tensor, opts: ReduceOptions): Tensor {
  const e = x.engine;
  assertF32(x, op);
  if (x.rank === 0) throw new ShapeError(`${op} reduces the last dim but got a scalar; reshape it to [1] first`);
  x = contiguous(x);
  const n = x.shape[x.rank - 1]!;
  const rows = n === 0 ? x.shape.slice(0, -1).reduce((a, b) => a * b, 1) : x.size / n;
  if (n === 0 && op !== 'sum')
    throw new ShapeError(`${op} over an empty last dim (shape [${x.shape}]) is undefined; use sum or drop the empty dim`);
  const outShape = opts.keepdim ? [...x.shape.slice(0, -1), 1] : x.shape.slice(0, -1);
  const out = e.empty(outShape);
  // The argmax is only needed (and written) when a backward will run.
  const argmax = op === 'max' && e.recording && x.requiresGrad ? e.empty([rows], 'i32') : null;
  const scale = op === 'mean' ? 1 / n : 1;
  if (n === 0) e.gpu.clear(out.buffer, 0, out.bytes);
  else reduceRowsInto(e, op, x.buffer, out.buffer, argmax?.buffer ?? null, rows, n, scale);
  e.record(op, [x], out, (g) => {
    e.addGrad(x, (dst, acc) => {
      if (x.size === 0) return;
      e.gpu.dispatch({
        kernel: 'reduce_backward',
        constants: { OP: OP_CODE[op], ACCUMULATE: acc },
        // sum/mean ignore the argmax binding; g stands in.
        buffers: [g.buffer, argmax?.buffer ?? g.buffer, dst],
        uniforms: packUniforms([
          ['u32', rows],
          ['u32', n],
          ['f32', scale],
          ['u32', 0],
        ]),
        workgroups: grid(x.size),
      });
    });
  });
  return out;
}

/** Sum over the last dim. */
export const sum = (x: Tensor, opts: ReduceOptions = {}): Tensor => reduce('sum', x, opts);
/** Mean over the last dim. */
export const mean = (x: Tensor, opts: ReduceOptions = {}): Tensor => reduce('mean', x, opts);
/** Max over the last dim; the gradient goes to the first maximum of each row. */
export const max = (x: Tensor, opts: ReduceOptions = {}): Tensor => reduce('max', x, opts);

/** Sum of every element, as a scalar (shape []). */
export function sumAll(x: Tensor): Tensor {
  return sum(contiguous(x).reshape([1, x.size])).reshape([]);
}

/** Mean of every element, as a scalar (shape []). */
export function meanAll(x: Tensor): Tensor {
  if (x.size === 0) throw new ShapeError(`meanAll of an empty tensor (shape [${x.shape}]) is undefined`);
  return mean(contiguous(x).reshape([1, x.size])).reshape([]);
}
