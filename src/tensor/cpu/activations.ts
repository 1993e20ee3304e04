// CPU twins of the elementwise activations (gelu, gelu_tanh, silu, relu) and SwiGLU, forward
// and backward, in f64 with an f64 erf, so they measure the GPU's f32 erf approximation too.

import type { CpuTensor } from './types';

export type UnaryOpCpu = 'gelu' | 'gelu_tanh' | 'silu' | 'relu';

const GELU_K = Math.sqrt(2 / Math.PI);

/** erf in f64 to ~1e-15: Maclaurin series below 3, Laplace's continued fraction for erfc above. */
export function erfCpu(x: number): number {
  const a = Math.abs(x);
  if (a < 3) {
    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = a,
      sum = a;
    for (let n = 1; n < 80; n++) {
      term *= (-a * a) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * sum * (2 / Math.sqrt(Math.PI));
  }
  // erfc(a) = exp(-a^2)/sqrt(pi) * 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + ...))))), evaluated bottom-up.
  let f = a;
  for (let k = 60; k >= 1; k--) f = a + k / 2 / f;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

function fwd(op: UnaryOpCpu, v: number): number {
  switch (op) {
    case 'gelu':
      return 0.5 * v * (1 + erfCpu(v / Math.SQRT2));
    case 'gelu_tanh':
      return 0.5 * v * (1 + Math.tanh(GELU_K * (v + 0.044715 * v ** 3)));
    case 'silu':
      return v * sigmoid(v);
    case 'relu':
      return v > 0 ? v : 0;
  }
}

function deriv(op: UnaryOpCpu, v: number): number {
  switch (op) {
    case 'gelu':
      return 0.5 * (1 + erfCpu(v / Math.SQRT2)) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI);
    case 'gelu_tanh': {
      const t = Math.tanh(GELU_K * (v + 0.044715 * v ** 3));
      return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_K * (1 + 3 * 0.044715 * v * v);
    }
    case 'silu': {
      const s = sigmoid(v);
      return s * (1 + v * (1 - s));
    }
    case 'relu':
      return v > 0 ? 1 : 0;
  }
}

export function unaryForwardCpu(op: UnaryOpCpu, x: CpuTensor): CpuTensor {
  return { data: x.data.map((v) => fwd(op, v)), shape: [...x.shape] };
}

/** dx = g * f'(x). */
export function unaryBackwardCpu(op: UnaryOpCpu, x: CpuTensor, g: CpuTensor): CpuTensor {
  return { data: x.data.map((v, i) => g.data[i]! * deriv(op, v)), shape: [...x.shape] };
}

export const geluForwardCpu = (x: CpuTensor): CpuTensor => unaryForwardCpu('gelu', x);
export const geluBackwardCpu = (x: CpuTensor, g: CpuTensor): CpuTensor => unaryBackwardCpu('gelu', x, g);
export const geluTanhForwardCpu = (x: CpuTensor): CpuTensor => unaryForwardCpu('gelu_tanh', x);
export const geluTanhBackwardCpu = (x: CpuTensor, g: CpuTensor): CpuTensor => unaryBackwardCpu('gelu_tanh', x, g);
export const siluForwardCpu = (x: CpuTensor): CpuTensor => unaryForwardCpu('silu', x);
export const siluBackwardCpu = (x: CpuTensor, g: CpuTensor): CpuTensor => unaryBackwardCpu('silu', x, g);
export const reluForwardCpu = (x: CpuTensor): CpuTensor => unaryForwardCpu('relu', x);
export const reluBackwardCpu = (x: CpuTensor, g: CpuTensor): CpuTensor => unaryBackwardCpu('relu', x, g);

/** silu(gate) * up. */
export function swigluForwardCpu(gate: CpuTensor, up: CpuTensor): CpuTensor {
  return { data: gate.data.map((a, i) => a * sigmoid(a) * up.data[i]!), shape: [...gate.shape] };
}

export function swigluBackwardCpu(gate: CpuTensor, up: CpuTensor, g: CpuTensor): { dgate: CpuTensor; dup: CpuTensor } {
  const dgate = gate.data.map((a, i) => g.data[i]! * up.data[i]! * deriv('silu', a));
  const dup = gate.data.map((a, i) => g.data[i]! * a * sigmoid(a));
  return { dgate: { data: dgate, shape: [...gate.shape] }, dup: { data: dup, shape: [...up.shape] } };
}
