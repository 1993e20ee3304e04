// Matrix multiply with transpose flags and batch broadcasting, forward and backward.
// B = batch, M = rows of the output, N = cols of the output, K = inner dim.

import { packUniforms } from '../../gpu/device';
import { ShapeError, type Tensor, type Engine } from '../tensor';
import { sameShape } from './common';
import { bias as addBias, sumToShapeInto } from './binary';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
}

const TILE = 64;

/** out (+)= alpha * op(A) @ op(B) over `batch` matrices; flags are relative to storage. */
export function matmulInto(
  e: Engine,
  a: GPUBuffer,
  b: GPUBuffer,
  out: GPUBuffer,
  dims: { M: number; N: number; K: number; batch: number; strideA: number; strideB: number },
  flags: { transA: boolean; transB: boolean; accumulate: boolean; alpha: number },
): void {
  const { M, N, K, batch } = dims;
  e.gpu.dispatch({
    kernel: 'matmul_forward',
    constants: { TRANS_A: flags.transA, TRANS_B: flags.transB, ACCUMULATE: flags.accumulate },
    buffers: [a, b, out],
    uniforms: packUniforms([
      ['u32', M],
      ['u32', N],
      ['u32', K],
      ['u32', batch],
      ['u32', dims.strideA],
      ['u32', dims.strideB],
      ['u32', M * N],
      ['f32', flags.alpha],
    ]),
    workgroups: [Math.ceil(N / TILE), Math.ceil(M / TILE), batch],
  });
}

/**
 * op(a) @ op(b). a: [...batch, M, K] (or [..., K, M] with transA), b: [...batch, K, N] (or
 * [..., N, K] with transB). Batch dims must match or one side must have none (broadcast).
 * Transposed views (`x.T`) are read in place.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const e = a.engine;
  if (a.rank < 2 || b.rank < 2) throw new ShapeError(`matmul needs 2+ dims on both sides, got [${a.shape}] and [${b.shape}]`);
  if (a.dtype !== 'f32' || b.dtype !== 'f32') throw new ShapeError('matmul needs f32 tensors');
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const alpha = opts.alpha ?? 1;
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const [M, K] = transA ? [ac, ar] : [ar, ac];
  const [K2, N] = transB ? [bc, br] : [br, bc];
  if (K !== K2)
    throw new ShapeError(
      `matmul inner dims differ: [${a.shape}]${transA ? '^T' : ''} @ [${b.shape}]${transB ? '^T' : ''} has K=${K} vs ${K2}`,
    );
  const batchShapeA = a.shape.slice(0, -2);
  const batchShapeB = b.shape.slice(0, -2);
  const batchA = batchShapeA.reduce((x, y) => x * y, 1);
  const batchB = batchShapeB.reduce((x, y) => x * y, 1);
  if (batchA > 1 && batchB > 1 && !sameShape(batchShapeA, batchShapeB))
    throw new ShapeError(`matmul batch dims differ: [${a.shape}] vs [${b.shape}] (they must match, or one side has none)`);
  const batchShape = batchA >= batchB ? batchShapeA : batchShapeB;
  const batch = Math.max(batchA, batchB);

  // Flags relative to storage: a transposed view flips the requested transpose.
  const tA = a.transposed !== transA;
  const tB = b.transposed !== transB;
  const sA = a.storage;
  const sB = b.storage;

  // A shared right operand with row-major A folds the batch into M: one big GEMM instead of
  // `batch` small ones, and its weight gradient needs no batch reduction.
  const fold = batchB === 1 && batchA > 1 && !tA;
  const dims = fold
    ? { M: M * batchA, N, K, batch: 1, strideA: 0, strideB: 0 }
    : { M, N, K, batch, strideA: batchA > 1 ? M * K : 0, strideB: batchB > 1 ? K * N : 0 };

  const out = e.empty([...batchShape, M, N]);
  matmulInto(e, a.buffer, b.buffer, out.buffer, dims, { transA: tA, transB: tB, accumulate: false, alpha });

  e.record('matmul', [a, b], out, (g) => {
    const Mf = dims.M;
    const bt = dims.batch;
    // dA in A's storage layout; see docs/architecture.md for the derivation of the flags.
    if (sA.requiresGrad) {
      const broadcastA = !fold && batchA === 1 && batch > 1;
      const gradA = (dst: GPUBuffer, acc: boolean) => {
        const d = { batch: bt, strideB: dims.strideB, strideA: M * N };
        if (!tA)
          matmulInto(
            e,
            g.buffer,
            b.buffer,
            dst,
            { M: Mf, N: K, K: N, batch: bt, strideA: d.strideA, strideB: d.strideB },
            { transA: false, transB: !tB, accumulate: acc, alpha },
          );
        else
          matmulInto(
            e,
            b.buffer,
            g.buffer,
            dst,
            { M: K, N: M, K: N, batch: bt, strideA: d.strideB, strideB: M * N },
            { transA: tB, transB: true, accumulate: acc, alpha },
          );
      };
      if (!broadcastA) e.addGrad(sA, gradA);
      else {
        const tmp = e.empty([batch, sA.size]);
        gradA(tmp.buffer, false);
        e.addGrad(sA, (dst, acc) => sumToShapeInto(e, tmp.buffer, [batch, sA.size], dst, [1, sA.size], acc));
        tmp.dispose();
      }
    }
    if (sB.requiresGrad) {
      const broadcastB = !fold && batchB === 1 && batch > 1;
      const gradB = (dst: GPUBuffer, acc: boolean) => {
        const sa = fold ? 0 : dims.strideA;
        if (!tB)
          matmulInto(
            e,
            a.buffer,
            g.buffer,
            dst,
            { M: K, N, K: Mf, batch: bt, strideA: sa, strideB: Mf * N },
            { transA: !tA, transB: false, accumulate: acc, alpha },
          );
        else
          matmulInto(
            e,
            g.buffer,
            a.buffer,
            dst,
            { M: N, N: K, K: Mf, batch: bt, strideA: Mf * N, strideB: sa },
            { transA: true, transB: tA, accumulate: acc, alpha },
          );
      };
      if (!broadcastB) e.addGrad(sB, gradB);
      else {
        const tmp = e.empty([batch, sB.size]);
        gradB(tmp.buffer, false);
        e.addGrad(sB, (dst, acc) => sumToShapeInto(e, tmp.buffer, [batch, sB.size], dst, [1, sB.size], acc));
        tmp.dispose();
      }
    }
  });
  return out;
}

/** x @ W^T + bias with W stored [out, in] as in PyTorch's nn.Linear. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const y = matmul(x, weight, { transB: true });
  return bias ? addBias(y, bias) : y;
}
