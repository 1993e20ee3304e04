// CPU twin of dropout: the same counter-based hash as kernels/dropout_forward.wgsl, so masks
// match the GPU's bit for bit, and the same f32 rounding of the kept values.

import type { CpuTensor } from './types';

/** PCG-RXS-M-XS 32-bit output permutation, in u32 arithmetic exactly as the kernel. */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The kernel's keep test works on u32: keep element i iff hash(seed, i) >= floor(p * 2^32). */
export const dropoutThreshold = (p: number): number => Math.min(Math.floor(p * 2 ** 32), 2 ** 32 - 1);
export const dropoutScale = (p: number): number => Math.fround(1 / (1 - p));

/** 1 where element i is kept, 0 where dropped. */
export function dropoutMaskCpu(n: number, p: number, seed: number): Uint8Array {
  const thr = dropoutThreshold(p);
  const key = pcgHash((seed ^ 0x9e3779b9) >>> 0);
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = pcgHash((pcgHash(i) ^ key) >>> 0) >= thr ? 1 : 0;
  return mask;
}

/** mask * x / (1 - p), rounded to f32 as the kernel does (f32 product, correctly rounded). */
export function dropoutForwardCpu(x: CpuTensor, p: number, seed: number): CpuTensor {
  const mask = dropoutMaskCpu(x.data.length, p, seed);
  const scale = dropoutScale(p);
  return { data: x.data.map((v, i) => (mask[i] ? Math.fround(v * scale) : 0)), shape: [...x.shape] };
}

/** The backward applies the same mask and scale to the output gradient. */
export function dropoutBackwardCpu(g: CpuTensor, p: number, seed: number): CpuTensor {
  return dropoutForwardCpu(g, p, seed);
}
