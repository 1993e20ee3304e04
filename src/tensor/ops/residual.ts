// The compressed index's GPU ops: k-means assignment (kmeans_assign_forward) of host vectors in
// slices under the binding limit, and residual decompression (residual_decompress_forward) of a
// gathered list of stored rows into f32 unit vectors. CPU twins: src/tensor/cpu/residual.ts.
// n = vectors, dim = vector dim, K = centroids, nbits = bits per code, W = code words per row.

import { packUniforms, type Binding } from '../../gpu/device';
import { codeWords } from '../cpu/residual';
import { ShapeError, type Engine, type Tensor } from '../tensor';
import { grid } from './common';

/** Bytes of vectors uploaded per assignment dispatch (and the readback that follows). */
const ASSIGN_SLICE_BYTES = 32 * 2 ** 20;

/**
 * Each row's nearest centroid (largest dot, lowest id on ties) of x [n, dim] (host memory)
 * among cents [K, dim] (a GPU tensor), uploaded and assigned slice by slice.
 */
export async function kmeansAssign(
  e: Engine,
  x: Float32Array,
  dim: number,
  cents: Tensor,
  opts: { sliceBytes?: number } = {},
): Promise<Int32Array> {
  if (cents.rank !== 2 || cents.shape[1] !== dim || cents.dtype !== 'f32')
    throw new ShapeError(`kmeansAssign: centroids must be f32 [K, ${dim}], got ${cents.dtype} [${cents.shape}]`);
  if (x.length % dim !== 0) throw new ShapeError(`kmeansAssign: ${x.length} values are not rows of dim ${dim}`);
  const n = x.length / dim;
  const K = cents.shape[0]!;
  const limit = Math.min(opts.sliceBytes ?? ASSIGN_SLICE_BYTES, e.gpu.maxBindingBytes);
  const rowsPer = Math.max(1, Math.floor(limit / (dim * 4)));
  const out = new Int32Array(n);
  for (let a = 0; a < n; a += rowsPer) {
    const m = Math.min(rowsPer, n - a);
    const xs = e.tensor(x.subarray(a * dim, (a + m) * dim), [m, dim]);
    const as = e.empty([m], 'i32');
    try {
      e.gpu.dispatch({
        kernel: 'kmeans_assign_forward',
        buffers: [xs.buffer, cents.buffer, as.buffer],
        uniforms: packUniforms([
          ['u32', m],
          ['u32', dim],
          ['u32', K],
          ['u32', 0],
        ]),
        workgroups: grid(m, 64),
      });
      out.set(await as.readInt(), a);
    } finally {
      xs.dispose();
      as.dispose();
    }
  }
  return out;
}

/** The stored compressed rows decompression reads. */
export interface ResidualStore {
  /** [rows * W] code words (i32 dtype holding u32 bits). */
  codes: Tensor;
  /** [ceil(rows / 2)] words of 16-bit centroid ids. */
  cids: Tensor;
  /** [K, dim] f32. */
  centroids: Tensor;
  /** [dim * 2^nbits] f32. */
  weights: Tensor;
  dim: number;
  nbits: number;
}

/**
 * out rows out0 .. out0 + n = the decompressed stored rows rows[r0 .. r0 + n] (rows: i32 indices
 * into the store, a GPU buffer or a binding of one). Recorded, not submitted.
 */
export function residualDecompressInto(
  e: Engine,
  store: ResidualStore,
  rows: GPUBuffer | Binding,
  r0: number,
  n: number,
  out: Tensor,
  out0: number,
): void {
  if (n === 0) return;
  const { dim, nbits } = store;
  if (out.shape[1] !== dim || out.shape[0]! < out0 + n)
    throw new ShapeError(`residualDecompress: out [${out.shape}] cannot take rows ${out0}..${out0 + n} of dim ${dim}`);
  const cap = e.gpu.info.isFallbackAdapter ? 32 : 65535;
  const groups = Math.min(cap, Math.ceil(n / 64));
  e.gpu.dispatch({
    kernel: 'residual_decompress_forward',
    buffers: [store.codes.buffer, store.cids.buffer, rows, store.centroids.buffer, store.weights.buffer, out.buffer],
    uniforms: packUniforms([
      ['u32', n],
      ['u32', dim],
      ['u32', nbits],
      ['u32', codeWords(dim, nbits)],
      ['u32', out0],
      ['u32', r0],
      ['u32', groups * 64],
      ['u32', 0],
    ]),
    workgroups: [groups],
  });
}

/** The decompressed rows [rows.length, dim] of the store (a fresh tensor). */
export function residualDecompress(e: Engine, store: ResidualStore, rows: Int32Array): Tensor {
  const out = e.empty([rows.length, store.dim]);
  if (rows.length === 0) return out;
  const rt = e.tensor(rows, [rows.length], { dtype: 'i32' });
  try {
    residualDecompressInto(e, store, rt.buffer, 0, rows.length, out, 0);
  } finally {
    rt.dispose();
  }
  return out;
}
