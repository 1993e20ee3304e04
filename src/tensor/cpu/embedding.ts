// CPU twin of the embedding gather and its scatter-add backward, in f64 accumulation.
// V = vocabulary, D = embedding dim, P = number of ids.

import type { CpuTensor } from './types';

/** weight [V, D] gathered at ids (shape idsShape) -> [...idsShape, D]. */
export function embeddingForwardCpu(weight: CpuTensor, ids: ArrayLike<number>, idsShape: number[] = [ids.length]): CpuTensor {
  const D = weight.shape[1]!;
  const out = new Float32Array(ids.length * D);
  for (let p = 0; p < ids.length; p++) for (let d = 0; d < D; d++) out[p * D + d] = weight.data[ids[p]! * D + d]!;
  return { data: out, shape: [...idsShape, D] };
}

/** dL/dweight [V, D] given g = dL/dout ([P, D] flattened). */
export function embeddingBackwardCpu(weightShape: number[], ids: ArrayLike<number>, g: CpuTensor): CpuTensor {
  const [V, D] = weightShape as [number, number];
  const acc = new Float64Array(V * D);
  for (let p = 0; p < ids.length; p++) for (let d = 0; d < D; d++) acc[ids[p]! * D + d]! += g.data[p * D + d]!;
  return { data: Float32Array.from(acc), shape: [V, D] };
}
