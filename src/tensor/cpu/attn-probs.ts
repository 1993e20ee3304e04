// CPU twin of attn_probs_forward in f64 (its backward is softmax's: softmaxBackwardCpu): the attention probabilities of
// materialised scores S [R, T] (rows are (batch, head, query); t = r % T the query position,
// b = floor(r / rowsPerBatch) the batch) under a causal mask and an optional 0/1 key mask [B, T].

import type { CpuTensor } from './types';

export interface AttnProbsCpuOptions {
  causal: boolean;
  /** Rows per batch (H * T): which key-mask row a score row reads. */
  rowsPerBatch: number;
  keyMask?: CpuTensor;
}

export function attnProbsForwardCpu(s: CpuTensor, opts: AttnProbsCpuOptions): CpuTensor {
  const T = s.shape[s.shape.length - 1]!;
  const R = T === 0 ? 0 : s.data.length / T;
  const out = new Float32Array(s.data.length);
  for (let r = 0; r < R; r++) {
    const b = Math.floor(r / opts.rowsPerBatch);
    const keep = (j: number) => (!opts.causal || j <= r % T) && (!opts.keyMask || opts.keyMask.data[b * T + j] !== 0);
    let m = -Infinity;
    for (let j = 0; j < T; j++) if (keep(j)) m = Math.max(m, s.data[r * T + j]!);
    let total = 0;
    for (let j = 0; j < T; j++) if (keep(j)) total += Math.exp(s.data[r * T + j]! - m);
    for (let j = 0; j < T; j++) out[r * T + j] = keep(j) ? Math.exp(s.data[r * T + j]! - m) / total : 0;
  }
  return { data: out, shape: [...s.shape] };
}
