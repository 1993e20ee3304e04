// CPU twin of the fused cross-entropy from logits, forward and backward, in f64.
// R = rows (leading dims flattened), V = classes.

import { numel, type CpuTensor } from './types';

export interface CrossEntropyCpuOptions {
  ignoreIndex?: number;
  reduction?: 'mean' | 'sum' | 'none';
}

function rowLse(logits: CpuTensor, r: number, V: number): number {
  let m = -Infinity;
  for (let v = 0; v < V; v++) m = Math.max(m, logits.data[r * V + v]!);
  let s = 0;
  for (let v = 0; v < V; v++) s += Math.exp(logits.data[r * V + v]! - m);
  return m + Math.log(s);
}

/** Per-row losses for 'none' (shape of the leading dims), else a scalar (shape []). */
export function crossEntropyForwardCpu(
  logits: CpuTensor,
  targets: ArrayLike<number>,
  opts: CrossEntropyCpuOptions = {},
): CpuTensor {
  const ignore = opts.ignoreIndex ?? -100;
  const V = logits.shape[logits.shape.length - 1]!;
  const lead = logits.shape.slice(0, -1);
  const R = numel(lead);
  const loss = new Float64Array(R);
  let count = 0;
  for (let r = 0; r < R; r++) {
    const t = targets[r]!;
    if (t === ignore) continue;
    loss[r] = rowLse(logits, r, V) - logits.data[r * V + t]!;
    count++;
  }
  if (opts.reduction === 'none') return { data: Float32Array.from(loss), shape: lead };
  const total = loss.reduce((a, b) => a + b, 0);
  const v = (opts.reduction ?? 'mean') === 'sum' ? total : count > 0 ? total / count : 0;
  return { data: Float32Array.of(v), shape: [] };
}

/** dL/dlogits given g = dL/dloss (per row for 'none', one value otherwise). */
export function crossEntropyBackwardCpu(
  logits: CpuTensor,
  targets: ArrayLike<number>,
  g: CpuTensor,
  opts: CrossEntropyCpuOptions = {},
): CpuTensor {
  const ignore = opts.ignoreIndex ?? -100;
  const reduction = opts.reduction ?? 'mean';
  const V = logits.shape[logits.shape.length - 1]!;
  const R = numel(logits.shape.slice(0, -1));
  let count = 0;
  for (let r = 0; r < R; r++) if (targets[r] !== ignore) count++;
  const scale = reduction === 'mean' ? (count > 0 ? 1 / count : 0) : 1;
  const d = new Float32Array(logits.data.length);
  for (let r = 0; r < R; r++) {
    const t = targets[r]!;
    if (t === ignore) continue;
    const gs = (reduction === 'none' ? g.data[r]! : g.data[0]!) * scale;
    const lse = rowLse(logits, r, V);
    for (let v = 0; v < V; v++) d[r * V + v] = (Math.exp(logits.data[r * V + v]! - lse) - (v === t ? 1 : 0)) * gs;
  }
  return { data: d, shape: [...logits.shape] };
}
