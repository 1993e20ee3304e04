// CPU twins of the packed-f16 kernels: matmul_packed_forward (x @ W^T and, the other orientation,
// the input gradient dy @ W) and embedding_packed_forward, reading the same packed words
// (src/tensor/f16.ts) the GPU reads. M = rows of x, N = outputs, K = inner dim, V/D = table rows/width.

import { unpackF16 } from '../f16';
import { embeddingForwardCpu } from './embedding';
import { matmulBackwardCpu, matmulForwardCpu } from './matmul';
import { cpu, type CpuTensor } from './types';

/** The packed weight as the f32 values the kernels see (each the nearest half of the original). */
export const unpackedCpu = (words: Uint32Array, shape: [number, number]): CpuTensor => cpu(unpackF16(words, shape), shape);

/** a @ op(W) for W packed with storage shape `wShape` ([N, K] with transB, as nn.Linear's weight). */
export function matmulPackedForwardCpu(
  a: CpuTensor,
  words: Uint32Array,
  wShape: [number, number],
  opts: { transB?: boolean; alpha?: number } = {},
): CpuTensor {
  return matmulForwardCpu(a, unpackedCpu(words, wShape), opts);
}

/** The gradient of a under a @ op(W) for upstream g; W is frozen and has none. */
export function matmulPackedBackwardCpu(
  a: CpuTensor,
  words: Uint32Array,
  wShape: [number, number],
  g: CpuTensor,
  opts: { transB?: boolean; alpha?: number } = {},
): CpuTensor {
  return matmulBackwardCpu(a, unpackedCpu(words, wShape), g, opts).da;
}

/** weight[ids] from a packed [V, D] table. */
export function embeddingPackedForwardCpu(
  words: Uint32Array,
  shape: [number, number],
  ids: ArrayLike<number>,
  idsShape: number[] = [ids.length],
): CpuTensor {
  return embeddingForwardCpu(unpackedCpu(words, shape), ids, idsShape);
}
