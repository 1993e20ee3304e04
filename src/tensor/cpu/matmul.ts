// CPU twins of matmul: forward and the two input gradients, in f64 accumulation.
// B = batch, M = rows, N = cols, K = inner dim.

import { numel, type CpuTensor } from './types';

export interface MatmulCpuOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
}

function mat(
  t: CpuTensor,
  trans: boolean,
): { rows: number; cols: number; batch: number; get(b: number, i: number, j: number): number } {
  const [r, c] = t.shape.slice(-2) as [number, number];
  const batch = numel(t.shape.slice(0, -2));
  const rows = trans ? c : r;
  const cols = trans ? r : c;
  return {
    rows,
    cols,
    batch,
    get: (b, i, j) => {
      const bb = batch === 1 ? 0 : b;
      return trans ? t.data[bb * r * c + j * c + i]! : t.data[bb * r * c + i * c + j]!;
    },
  };
}

export function matmulForwardCpu(a: CpuTensor, b: CpuTensor, opts: MatmulCpuOptions = {}): CpuTensor {
  const A = mat(a, opts.transA ?? false);
  const B = mat(b, opts.transB ?? false);
  const alpha = opts.alpha ?? 1;
  const batch = Math.max(A.batch, B.batch);
  const M = A.rows,
    K = A.cols,
    N = B.cols;
  const out = new Float32Array(batch * M * N);
  for (let bt = 0; bt < batch; bt++)
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A.get(bt, i, k) * B.get(bt, k, j);
        out[bt * M * N + i * N + j] = alpha * s;
      }
  const batchShape = (A.batch >= B.batch ? a.shape : b.shape).slice(0, -2);
  return { data: out, shape: [...batchShape, M, N] };
}

/** Gradients of sum(g * matmul(a, b)) with respect to a and b, in a's and b's own shapes. */
export function matmulBackwardCpu(
  a: CpuTensor,
  b: CpuTensor,
  g: CpuTensor,
  opts: MatmulCpuOptions = {},
): { da: CpuTensor; db: CpuTensor } {
  const tA = opts.transA ?? false,
    tB = opts.transB ?? false,
    alpha = opts.alpha ?? 1;
  const A = mat(a, tA),
    B = mat(b, tB);
  const batch = Math.max(A.batch, B.batch);
  const M = A.rows,
    K = A.cols,
    N = B.cols;
  const da = new Float32Array(a.data.length);
  const db = new Float32Array(b.data.length);
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  for (let bt = 0; bt < batch; bt++) {
    const ba = A.batch === 1 ? 0 : bt,
      bb = B.batch === 1 ? 0 : bt;
    for (let i = 0; i < M; i++)
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let j = 0; j < N; j++) s += g.data[bt * M * N + i * N + j]! * B.get(bt, k, j);
        da[ba * ar * ac + (tA ? k * ac + i : i * ac + k)]! += alpha * s;
      }
    for (let k = 0; k < K; k++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let i = 0; i < M; i++) s += A.get(bt, i, k) * g.data[bt * M * N + i * N + j]!;
        db[bb * br * bc + (tB ? j * bc + k : k * bc + j)]! += alpha * s;
      }
  }
  return { da: { data: da, shape: [...a.shape] }, db: { data: db, shape: [...b.shape] } };
}
