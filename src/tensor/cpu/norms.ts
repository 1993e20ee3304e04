// CPU twins of layernorm, rmsnorm and l2normalize over the last dim, forward and backward,
// accumulating in f64. R = rows (leading dims flattened), D = last dim.

import type { CpuTensor } from './types';

function rowsOf(x: CpuTensor): { R: number; D: number } {
  const D = x.shape[x.shape.length - 1]!;
  return { R: D === 0 ? 0 : x.data.length / D, D };
}

/** y = (x - mean) * rstd * gamma + beta; also returns mean and rstd per row ([R]). */
export function layernormForwardCpu(
  x: CpuTensor,
  gamma: CpuTensor,
  beta: CpuTensor,
  eps: number,
): { out: CpuTensor; mean: Float32Array; rstd: Float32Array } {
  const { R, D } = rowsOf(x);
  const out = new Float32Array(x.data.length),
    mean = new Float32Array(R),
    rstd = new Float32Array(R);
  for (let r = 0; r < R; r++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += x.data[r * D + j]!;
    const m = s / D;
    let q = 0;
    for (let j = 0; j < D; j++) q += (x.data[r * D + j]! - m) ** 2;
    const rs = 1 / Math.sqrt(q / D + eps);
    for (let j = 0; j < D; j++) out[r * D + j] = (x.data[r * D + j]! - m) * rs * gamma.data[j]! + beta.data[j]!;
    mean[r] = m;
    rstd[r] = rs;
  }
  return { out: { data: out, shape: [...x.shape] }, mean, rstd };
}

export function layernormBackwardCpu(
  x: CpuTensor,
  gamma: CpuTensor,
  g: CpuTensor,
  eps: number,
): { dx: CpuTensor; dgamma: CpuTensor; dbeta: CpuTensor } {
  const { R, D } = rowsOf(x);
  const dx = new Float32Array(x.data.length);
  const dgamma = new Float64Array(D),
    dbeta = new Float64Array(D);
  const xhat = new Float64Array(D);
  for (let r = 0; r < R; r++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += x.data[r * D + j]!;
    const m = s / D;
    let q = 0;
    for (let j = 0; j < D; j++) q += (x.data[r * D + j]! - m) ** 2;
    const rs = 1 / Math.sqrt(q / D + eps);
    let a = 0,
      b = 0;
    for (let j = 0; j < D; j++) {
      xhat[j] = (x.data[r * D + j]! - m) * rs;
      const gv = g.data[r * D + j]!,
        dxhat = gv * gamma.data[j]!;
      a += dxhat;
      b += dxhat * xhat[j]!;
      dgamma[j]! += gv * xhat[j]!;
      dbeta[j]! += gv;
    }
    a /= D;
    b /= D;
    for (let j = 0; j < D; j++) dx[r * D + j] = rs * (g.data[r * D + j]! * gamma.data[j]! - a - xhat[j]! * b);
  }
  return {
    dx: { data: dx, shape: [...x.shape] },
    dgamma: { data: Float32Array.from(dgamma), shape: [D] },
    dbeta: { data: Float32Array.from(dbeta), shape: [D] },
  };
}

/** y = x * rstd * (weight + offset), rstd = 1 / sqrt(mean(x^2) + eps); also returns rstd per row. Gemma's offset is 1. */
export function rmsnormForwardCpu(
  x: CpuTensor,
  weight: CpuTensor,
  eps: number,
  offset = 0,
): { out: CpuTensor; rstd: Float32Array } {
  const { R, D } = rowsOf(x);
  const out = new Float32Array(x.data.length),
    rstd = new Float32Array(R);
  for (let r = 0; r < R; r++) {
    let q = 0;
    for (let j = 0; j < D; j++) q += x.data[r * D + j]! ** 2;
    const rs = 1 / Math.sqrt(q / D + eps);
    for (let j = 0; j < D; j++) out[r * D + j] = x.data[r * D + j]! * rs * (weight.data[j]! + offset);
    rstd[r] = rs;
  }
  return { out: { data: out, shape: [...x.shape] }, rstd };
}

export function rmsnormBackwardCpu(
  x: CpuTensor,
  weight: CpuTensor,
  g: CpuTensor,
  eps: number,
  offset = 0,
): { dx: CpuTensor; dweight: CpuTensor } {
  const { R, D } = rowsOf(x);
  const dx = new Float32Array(x.data.length);
  const dweight = new Float64Array(D);
  for (let r = 0; r < R; r++) {
    let q = 0;
    for (let j = 0; j < D; j++) q += x.data[r * D + j]! ** 2;
    const rs = 1 / Math.sqrt(q / D + eps);
    let b = 0;
    for (let j = 0; j < D; j++) {
      const xhat = x.data[r * D + j]! * rs,
        gv = g.data[r * D + j]!;
      b += gv * (weight.data[j]! + offset) * xhat;
      dweight[j]! += gv * xhat;
    }
    b /= D;
    for (let j = 0; j < D; j++)
      dx[r * D + j] = rs * (g.data[r * D + j]! * (weight.data[j]! + offset) - x.data[r * D + j]! * rs * b);
  }
  return { dx: { data: dx, shape: [...x.shape] }, dweight: { data: Float32Array.from(dweight), shape: [D] } };
}

/** y = x / max(||x||, eps) per row. */
export function l2normalizeForwardCpu(x: CpuTensor, eps = 1e-12): CpuTensor {
  const { R, D } = rowsOf(x);
  const out = new Float32Array(x.data.length);
  for (let r = 0; r < R; r++) {
    let q = 0;
    for (let j = 0; j < D; j++) q += x.data[r * D + j]! ** 2;
    const n = Math.max(Math.sqrt(q), eps);
    for (let j = 0; j < D; j++) out[r * D + j] = x.data[r * D + j]! / n;
  }
  return { data: out, shape: [...x.shape] };
}

/** dx = (g - x (x.g) / n^2) / n for n = ||x|| >= eps, else g / eps (PyTorch's clamp_min). */
export function l2normalizeBackwardCpu(x: CpuTensor, g: CpuTensor, eps = 1e-12): CpuTensor {
  const { R, D } = rowsOf(x);
  const dx = new Float32Array(x.data.length);
  for (let r = 0; r < R; r++) {
    let q = 0,
      dot = 0;
    for (let j = 0; j < D; j++) {
      q += x.data[r * D + j]! ** 2;
      dot += x.data[r * D + j]! * g.data[r * D + j]!;
    }
    const n = Math.sqrt(q);
    const clamped = n < eps;
    const inv = 1 / (clamped ? eps : n);
    const proj = clamped ? 0 : dot * inv * inv;
    for (let j = 0; j < D; j++) dx[r * D + j] = (g.data[r * D + j]! - x.data[r * D + j]! * proj) * inv;
  }
  return { data: dx, shape: [...x.shape] };
}
