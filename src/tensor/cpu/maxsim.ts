// CPU twins of ColBERT MaxSim (forward with argmax, backward) and of top-k, in f64 accumulation.
// B = queries, Lq = query tokens, dim = vector dim, N = documents, L = doc tokens (ragged),
// total = sum of doc lengths, k = results kept per query.

import type { CpuTensor } from './types';

/**
 * scores[b, n] = sum over unmasked i of max_j Q[b, i] . D[j] over doc n's rows
 * offsets[n] .. offsets[n+1]; argmax [B, N, Lq] is the winning row (first on ties), -1 if masked.
 * q [B, Lq, dim], qMask [B, Lq] (0 = masked; null = none masked), docs [total, dim].
 */
export function maxsimForwardCpu(
  q: CpuTensor,
  qMask: CpuTensor | null,
  docs: CpuTensor,
  offsets: ArrayLike<number>,
): { scores: CpuTensor; argmax: Int32Array } {
  const [B, Lq, dim] = q.shape as [number, number, number];
  const N = offsets.length - 1;
  const scores = new Float32Array(B * N);
  const argmax = new Int32Array(B * N * Lq);
  for (let b = 0; b < B; b++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let i = 0; i < Lq; i++) {
        const at = (b * N + n) * Lq + i;
        if (qMask && qMask.data[b * Lq + i] === 0) {
          argmax[at] = -1;
          continue;
        }
        let best = -Infinity,
          bestJ = -1;
        for (let j = offsets[n]!; j < offsets[n + 1]!; j++) {
          let dot = 0;
          for (let d = 0; d < dim; d++) dot += q.data[(b * Lq + i) * dim + d]! * docs.data[j * dim + d]!;
          if (bestJ < 0 || dot > best) {
            best = dot;
            bestJ = j;
          }
        }
        argmax[at] = bestJ;
        s += best;
      }
      scores[b * N + n] = s;
    }
  return { scores: { data: scores, shape: [B, N] }, argmax };
}

/** dL/dq and dL/ddocs given g = dL/dscores [B, N]; the argmax is recomputed unless given. */
export function maxsimBackwardCpu(
  q: CpuTensor,
  qMask: CpuTensor | null,
  docs: CpuTensor,
  offsets: ArrayLike<number>,
  g: CpuTensor,
  argmax: Int32Array = maxsimForwardCpu(q, qMask, docs, offsets).argmax,
): { dq: CpuTensor; ddocs: CpuTensor } {
  const [B, Lq, dim] = q.shape as [number, number, number];
  const N = offsets.length - 1;
  const dq = new Float64Array(q.data.length);
  const dd = new Float64Array(docs.data.length);
  for (let b = 0; b < B; b++)
    for (let n = 0; n < N; n++) {
      const gb = g.data[b * N + n]!;
      for (let i = 0; i < Lq; i++) {
        const j = argmax[(b * N + n) * Lq + i]!;
        if (j < 0) continue;
        for (let d = 0; d < dim; d++) {
          dq[(b * Lq + i) * dim + d]! += gb * docs.data[j * dim + d]!;
          dd[j * dim + d]! += gb * q.data[(b * Lq + i) * dim + d]!;
        }
      }
    }
  return {
    dq: { data: Float32Array.from(dq), shape: [...q.shape] },
    ddocs: { data: Float32Array.from(dd), shape: [...docs.shape] },
  };
}

/** The k best of each row of scores [B, N]: value descending, the lower id first on ties. */
export function topkCpu(scores: CpuTensor, k: number): { ids: Int32Array; values: Float32Array } {
  const [B, N] = scores.shape as [number, number];
  const ids = new Int32Array(B * k);
  const values = new Float32Array(B * k);
  for (let b = 0; b < B; b++) {
    const row = scores.data.subarray(b * N, (b + 1) * N);
    const order = Array.from({ length: N }, (_, j) => j).sort((x, y) => row[y]! - row[x]! || x - y);
    for (let t = 0; t < k; t++) {
      ids[b * k + t] = order[t]!;
      values[b * k + t] = row[order[t]!]!;
    }
  }
  return { ids, values };
}
