// Matrix multiply with transpose flags and batch broadcasting, forward and backward.
// B = batch, M = rows of the output, N = cols of the output, K = inner dim.
// A frozen f16 right operand (a packed weight, src/tensor/f16.ts) goes through
// matmul_packed_forward instead: gradient to the left operand only.

import { packUniforms } from '../../gpu/device';
import { ShapeError, type Tensor, type Engine } from '../tensor';
import { sameShape } from './common';
import { bias as addBias, sumToShapeInto } from './binary';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
}

const BLOCK = 8; // rows and cols of C per thread (kernels/lib/matmul_tile.wgsl)

const pow2AtLeast = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** lib/matmul_tile's launch: up to 8x8 threads per workgroup, fewer (a power of two) for a thin C. */
function tileGrid(M: number, N: number, batch: number) {
  const WG_X = Math.min(8, pow2AtLeast(Math.ceil(N / BLOCK)));
  const WG_Y = Math.min(8, pow2AtLeast(Math.ceil(M / BLOCK)));
  const workgroups: [number, number, number] = [Math.ceil(N / (BLOCK * WG_X)), Math.ceil(M / (BLOCK * WG_Y)), batch];
  return { constants: { WG_X, WG_Y }, workgroups };
}

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
  // An operand is read 4 floats at a time when its contiguous dim and batch stride are multiples
  // of 4 (buffers are bound whole from offset 0 and sized in 16-byte steps, see gpu/buffers.ts).
  const vecA = (flags.transA ? M : K) % 4 === 0 && dims.strideA % 4 === 0;
  const vecB = (flags.transB ? K : N) % 4 === 0 && dims.strideB % 4 === 0;
  const grid = tileGrid(M, N, batch);
  e.gpu.dispatch({
    kernel: 'matmul_forward',
    constants: {
      TRANS_A: flags.transA,
      TRANS_B: flags.transB,
      ACCUMULATE: flags.accumulate,
      VEC_A: vecA,
      VEC_B: vecB,
      ...grid.constants,
    },
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
    workgroups: grid.workgroups,
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
  if (b.dtype === 'f16' && a.dtype === 'f32') return matmulPacked(a, b, opts);
  if (a.dtype !== 'f32' || b.dtype !== 'f32')
    throw new ShapeError(`matmul needs f32 tensors (or a frozen f16 weight as the right operand), got ${a.dtype} @ ${b.dtype}`);
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

/** out (+)= alpha * A @ op(W): A f32 [M, K] row-major, W packed f16 stored [N, K] (transB) or [K, N]. */
export function matmulPackedInto(
  e: Engine,
  a: GPUBuffer,
  w: GPUBuffer,
  out: GPUBuffer,
  dims: { M: number; N: number; K: number },
  flags: { transB: boolean; accumulate: boolean; alpha: number },
): void {
  const { M, N, K } = dims;
  const grid = tileGrid(M, N, 1);
  e.gpu.dispatch({
    kernel: 'matmul_packed_forward',
    constants: { TRANS_B: flags.transB, ACCUMULATE: flags.accumulate, VEC_A: K % 4 === 0, ...grid.constants },
    buffers: [a, w, out],
    uniforms: packUniforms([
      ['u32', M],
      ['u32', N],
      ['u32', K],
      ['u32', Math.ceil((flags.transB ? K : N) / 2)],
      ['f32', flags.alpha],
    ]),
    workgroups: grid.workgroups,
  });
}

/**
 * a @ op(w) for a frozen f16 weight w [R, C] (a `.T` view flips transB, as for f32): a [..., M, K]
 * row-major with its batch folded into M. The backward gives a its gradient, g @ op(w)^T, with the
 * same kernel in the other orientation; w has none (it is frozen: trainable weights are f32).
 */
function matmulPacked(a: Tensor, w: Tensor, opts: MatmulOptions): Tensor {
  const e = a.engine;
  if (w.rank !== 2) throw new ShapeError(`matmul: a packed f16 weight must be 2-D, got [${w.shape}]`);
  if (w.storage.requiresGrad)
    throw new ShapeError(`matmul: packed f16 weight ${w.name || `[${w.shape}]`} cannot train; trainable weights are f32`);
  if (a.rank < 2) throw new ShapeError(`matmul needs 2+ dims on both sides, got [${a.shape}] and [${w.shape}]`);
  if (opts.transA || a.transposed)
    throw new ShapeError('matmul with a packed f16 weight needs a row-major left operand (no transA, no .T view)');
  const tB = w.transposed !== (opts.transB ?? false);
  const alpha = opts.alpha ?? 1;
  const K = a.shape[a.rank - 1]!;
  const [wr, wc] = w.storage.shape as [number, number];
  // Storage [wr, wc]: op(w) is [wc, wr] with tB, [wr, wc] without.
  const [K2, N] = tB ? [wc, wr] : [wr, wc];
  if (K !== K2)
    throw new ShapeError(
      `matmul inner dims differ: [${a.shape}] @ [${w.shape}]${opts.transB ? '^T' : ''} (packed f16) has K=${K} vs ${K2}`,
    );
  const M = a.size / K;
  const out = e.empty([...a.shape.slice(0, -1), N]);
  matmulPackedInto(e, a.buffer, w.buffer, out.buffer, { M, N, K }, { transB: tB, accumulate: false, alpha });
  e.record('matmul', [a], out, (g) => {
    // dA [M, K] = alpha * g [M, N] @ op(w)^T, i.e. the other orientation of the same storage.
    e.addGrad(a.storage, (dst, acc) =>
      matmulPackedInto(e, g.buffer, w.buffer, dst, { M, N: K, K: N }, { transB: !tB, accumulate: acc, alpha }),
    );
  });
  return out;
}

/** x @ W^T + bias with W stored [out, in] as in PyTorch's nn.Linear. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const y = matmul(x, weight, { transB: true });
  return bias ? addBias(y, bias) : y;
}
