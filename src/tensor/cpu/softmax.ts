// CPU twins of the masked softmax / logSoftmax over the last dim and their backward, in f64.
// R = rows (leading dims flattened), L = row length. The mask (0/1, shape [..., L]) broadcasts
// over x's leading dims. Masked entries: probability 0, log-probability -1e30; a fully masked
// row is all 0 (all -1e30 for log). Masked entries take no gradient.

import { numel, type CpuTensor } from './types';

export const MASKED_LOG_PROB_CPU = -1e30;

/** For each of x's rows, the offset of the mask row it uses (or null without a mask). */
function maskRows(xShape: number[], mask?: CpuTensor): ((r: number) => number) | null {
  if (!mask) return null;
  const lead = xShape.slice(0, -1);
  const L = xShape[xShape.length - 1]!;
  const mLead = mask.shape.slice(0, -1);
  const strides: number[] = new Array<number>(lead.length).fill(0);
  let s = 1;
  for (let i = lead.length - 1; i >= 0; i--) {
    const md = mLead[mLead.length - lead.length + i] ?? 1;
    strides[i] = md === 1 ? 0 : s;
    s *= md;
  }
  return (r) => {
    let m = 0,
      rem = r;
    for (let d = lead.length - 1; d >= 0; d--) {
      m += (rem % lead[d]!) * strides[d]!;
      rem = Math.floor(rem / lead[d]!);
    }
    return m * L;
  };
}

function forward(log: boolean, x: CpuTensor, mask?: CpuTensor): CpuTensor {
  const L = x.shape[x.shape.length - 1]!;
  const R = L === 0 ? 0 : numel(x.shape) / L;
  const mrow = maskRows(x.shape, mask);
  const y = new Float32Array(x.data.length);
  for (let r = 0; r < R; r++) {
    const mb = mrow ? mrow(r) : 0;
    const keep = (j: number) => !mask || mask.data[mb + j] !== 0;
    let m = -Infinity;
    for (let j = 0; j < L; j++) if (keep(j)) m = Math.max(m, x.data[r * L + j]!);
    let s = 0;
    for (let j = 0; j < L; j++) if (keep(j)) s += Math.exp(x.data[r * L + j]! - m);
    for (let j = 0; j < L; j++) {
      const v = x.data[r * L + j]! - m;
      if (!keep(j)) y[r * L + j] = log ? MASKED_LOG_PROB_CPU : 0;
      else y[r * L + j] = log ? v - Math.log(s) : Math.exp(v) / s;
    }
  }
  return { data: y, shape: [...x.shape] };
}

function backward(log: boolean, y: CpuTensor, g: CpuTensor, mask?: CpuTensor): CpuTensor {
  const L = y.shape[y.shape.length - 1]!;
  const R = L === 0 ? 0 : numel(y.shape) / L;
  const mrow = maskRows(y.shape, mask);
  const dx = new Float32Array(y.data.length);
  for (let r = 0; r < R; r++) {
    const mb = mrow ? mrow(r) : 0;
    const keep = (j: number) => !mask || mask.data[mb + j] !== 0;
    let s = 0;
    for (let j = 0; j < L; j++) {
      const i = r * L + j;
      if (keep(j)) s += log ? g.data[i]! : g.data[i]! * y.data[i]!;
    }
    for (let j = 0; j < L; j++) {
      const i = r * L + j;
      if (!keep(j)) dx[i] = 0;
      else dx[i] = log ? g.data[i]! - Math.exp(y.data[i]!) * s : y.data[i]! * (g.data[i]! - s);
    }
  }
  return { data: dx, shape: [...y.shape] };
}

export const softmaxForwardCpu = (x: CpuTensor, mask?: CpuTensor): CpuTensor => forward(false, x, mask);
export const logSoftmaxForwardCpu = (x: CpuTensor, mask?: CpuTensor): CpuTensor => forward(true, x, mask);
/** dL/dx from the forward's output y and g = dL/dy. */
export const softmaxBackwardCpu = (y: CpuTensor, g: CpuTensor, mask?: CpuTensor): CpuTensor => backward(false, y, g, mask);
export const logSoftmaxBackwardCpu = (y: CpuTensor, g: CpuTensor, mask?: CpuTensor): CpuTensor => backward(true, y, g, mask);
