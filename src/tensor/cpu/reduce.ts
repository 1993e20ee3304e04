// CPU twins of the last-dim reductions (sum, mean, max) and their backward, in f64 accumulation.
// R = rows (leading dims flattened), N = length of the reduced last dim.

import { numel, type CpuTensor } from './types';

export type ReduceOpCpu = 'sum' | 'mean' | 'max';

/** OP over the last dim; for max also the first index of each row's maximum. */
export function reduceForwardCpu(
  op: ReduceOpCpu,
  x: CpuTensor,
  opts: { keepdim?: boolean } = {},
): { out: CpuTensor; argmax: Int32Array } {
  const N = x.shape[x.shape.length - 1]!;
  const lead = x.shape.slice(0, -1);
  const R = numel(lead);
  const out = new Float32Array(R);
  const argmax = new Int32Array(R);
  for (let r = 0; r < R; r++) {
    if (op === 'max') {
      let best = -Infinity,
        at = 0;
      for (let j = 0; j < N; j++) {
        const v = x.data[r * N + j]!;
        if (v > best) {
          best = v;
          at = j;
        }
      }
      out[r] = best;
      argmax[r] = at;
    } else {
      let s = 0;
      for (let j = 0; j < N; j++) s += x.data[r * N + j]!;
      out[r] = op === 'mean' ? s / N : s;
    }
  }
  return { out: { data: out, shape: opts.keepdim ? [...lead, 1] : lead }, argmax };
}

/** dL/dx for out = OP(x) given g = dL/dout (one value per row). */
export function reduceBackwardCpu(op: ReduceOpCpu, x: CpuTensor, g: CpuTensor): CpuTensor {
  const N = x.shape[x.shape.length - 1]!;
  const R = numel(x.shape.slice(0, -1));
  const dx = new Float32Array(x.data.length);
  const { argmax } = op === 'max' ? reduceForwardCpu('max', x) : { argmax: null };
  for (let r = 0; r < R; r++)
    for (let j = 0; j < N; j++) {
      const gr = g.data[r]!;
      dx[r * N + j] = op === 'sum' ? gr : op === 'mean' ? gr / N : j === argmax![r] ? gr : 0;
    }
  return { data: dx, shape: [...x.shape] };
}
