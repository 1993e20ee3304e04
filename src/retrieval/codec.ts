// The residual codec of the compressed index (ColBERTv2 / PLAID): spherical k-means centroids of
// the token vectors (seeded init, Lloyd iterations), per-dimension bucket cutoffs and bucket values
// from the quantiles of the residuals (vector - its centroid), and the encoding of a vector as its
// centroid id plus one nbits bucket code per dimension. Pure functions on the CPU; the assignment
// step is a parameter, so the index runs it on the GPU (kmeansAssign) and tests on the CPU twin.
// n = vectors, dim = vector dim, K = centroids, nbits = bits per code, B = 2^nbits buckets,
// W = code words per vector.

import { MedRankError } from '../core/errors';
import { codeWords, kmeansAssignCpu, mulberry32, residualDecompressCpu } from '../tensor';

/** What decodes a compressed vector: the centroids and each dimension's buckets. */
export interface ResidualCodec {
  dim: number;
  nbits: number;
  /** [K, dim], L2-normalized. */
  centroids: Float32Array;
  /** [dim, B - 1] ascending: a residual r falls in bucket #(cutoffs < r). */
  cutoffs: Float32Array;
  /** [dim, B]: the value bucket b decodes to, ascending. */
  weights: Float32Array;
}

/** Nearest centroid (largest dot) of each of the n vectors x [n, dim] among cents [K, dim]. */
export type AssignFn = (x: Float32Array, dim: number, cents: Float32Array) => Int32Array | Promise<Int32Array>;

export const NBITS = [1, 2, 4, 8] as const;
/** Centroid ids are stored in 16 bits. */
export const MAX_CENTROIDS = 65536;

function normalizeRow(v: Float32Array | Float64Array, out: Float32Array, o: number, dim: number): boolean {
  let ss = 0;
  for (let d = 0; d < dim; d++) ss += v[d]! * v[d]!;
  if (!(ss > 0)) return false;
  const inv = 1 / Math.sqrt(ss);
  for (let d = 0; d < dim; d++) out[o + d] = v[d]! * inv;
  return true;
}

/** A seeded sample of `m` distinct rows of x [n, dim] (all of them, in order, when m >= n). */
export function sampleRows(x: Float32Array, dim: number, m: number, seed: number): Float32Array {
  const n = x.length / dim;
  if (m >= n) return x.slice();
  const rng = mulberry32(seed);
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rng() * (n - i));
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  const sel = idx.subarray(0, m).sort();
  const out = new Float32Array(m * dim);
  sel.forEach((r, i) => out.set(x.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}

export interface KmeansOptions {
  iters?: number;
  seed?: number;
  assign?: AssignFn;
}

/**
 * Spherical k-means on x [n, dim] (unit rows): K centroids initialized from K distinct rows (a
 * seeded draw), then `iters` Lloyd steps: assign each row to its largest-dot centroid, move each
 * centroid to the normalized mean of its rows; an emptied centroid restarts at a random row.
 */
export async function kmeans(x: Float32Array, dim: number, K: number, opts: KmeansOptions = {}): Promise<Float32Array> {
  const n = Math.floor(x.length / dim);
  if (!Number.isInteger(K) || K < 1 || K > MAX_CENTROIDS)
    throw new MedRankError(`k-means: K = ${K} centroids must be an integer in [1, ${MAX_CENTROIDS}]`);
  if (n < K) throw new MedRankError(`k-means: ${n} vectors cannot make ${K} centroids; use K <= ${n}`);
  const { iters = 8, seed = 0, assign = kmeansAssignCpu } = opts;
  const rng = mulberry32(seed + 1);
  const cents = sampleRows(x, dim, K, seed);
  const sums = new Float64Array(K * dim);
  const counts = new Int32Array(K);
  for (let it = 0; it < iters; it++) {
    const a = await assign(x, dim, cents);
    sums.fill(0);
    counts.fill(0);
    for (let r = 0; r < n; r++) {
      const c = a[r]!;
      counts[c]!++;
      for (let d = 0; d < dim; d++) sums[c * dim + d]! += x[r * dim + d]!;
    }
    for (let c = 0; c < K; c++) {
      const ok = counts[c]! > 0 && normalizeRow(sums.subarray(c * dim, (c + 1) * dim), cents, c * dim, dim);
      if (!ok) {
        const r = Math.floor(rng() * n);
        cents.set(x.subarray(r * dim, (r + 1) * dim), c * dim);
      }
    }
  }
  return cents;
}

/** Linear-interpolated quantile q of sorted values (as torch.quantile). */
function quantile(sorted: Float32Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Per-dimension buckets from residuals [n, dim]: cutoffs at the quantiles b / B (b = 1 .. B - 1)
 * and bucket values at (b + 0.5) / B, so every bucket holds about 1 / B of the residuals and
 * decodes to its median.
 */
export function fitBuckets(
  residuals: Float32Array,
  dim: number,
  nbits: number,
): { cutoffs: Float32Array; weights: Float32Array } {
  if (!(NBITS as readonly number[]).includes(nbits))
    throw new MedRankError(`nbits = ${nbits} must be one of ${NBITS.join(', ')}`);
  const n = residuals.length / dim;
  if (n < 1) throw new MedRankError('fitBuckets: no residuals');
  const B = 1 << nbits;
  const cutoffs = new Float32Array(dim * (B - 1));
  const weights = new Float32Array(dim * B);
  const col = new Float32Array(n);
  for (let d = 0; d < dim; d++) {
    for (let r = 0; r < n; r++) col[r] = residuals[r * dim + d]!;
    col.sort();
    for (let b = 1; b < B; b++) cutoffs[d * (B - 1) + b - 1] = quantile(col, b / B);
    for (let b = 0; b < B; b++) weights[d * B + b] = quantile(col, (b + 0.5) / B);
  }
  return { cutoffs, weights };
}

/** The residuals x - cents[assign] [n, dim]. */
export function residualsOf(x: Float32Array, dim: number, cents: Float32Array, assign: Int32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < assign.length; r++) {
    const c = assign[r]! * dim;
    for (let d = 0; d < dim; d++) out[r * dim + d] = x[r * dim + d]! - cents[c + d]!;
  }
  return out;
}

export interface TrainOptions extends KmeansOptions {
  K: number;
  nbits: number;
  /** Rows k-means and the buckets are fitted on (a seeded sample; default min(n, 64 K)). */
  sample?: number;
}

/** Fit a codec to token vectors x [n, dim] (unit rows). */
export async function trainCodec(x: Float32Array, dim: number, opts: TrainOptions): Promise<ResidualCodec> {
  if (!(NBITS as readonly number[]).includes(opts.nbits))
    throw new MedRankError(`nbits = ${opts.nbits} must be one of ${NBITS.join(', ')}`);
  const n = x.length / dim;
  const m = Math.min(n, opts.sample ?? 64 * opts.K);
  const sample = sampleRows(x, dim, m, (opts.seed ?? 0) + 7);
  const centroids = await kmeans(sample, dim, opts.K, opts);
  const a = await (opts.assign ?? kmeansAssignCpu)(sample, dim, centroids);
  const { cutoffs, weights } = fitBuckets(residualsOf(sample, dim, centroids, a), dim, opts.nbits);
  return { dim, nbits: opts.nbits, centroids, cutoffs, weights };
}

/** Centroid ids as 16-bit halves of 32-bit words (row r in the low half of word r / 2 when even). */
export function packCids(ids: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(Math.ceil(ids.length / 2));
  for (let r = 0; r < ids.length; r++) out[r >>> 1]! |= (ids[r]! & 0xffff) << (16 * (r & 1));
  return out;
}

export function unpackCids(cids: Uint32Array, n: number): Uint16Array {
  const out = new Uint16Array(n);
  for (let r = 0; r < n; r++) out[r] = (cids[r >>> 1]! >>> (16 * (r & 1))) & 0xffff;
  return out;
}

/** Bucket codes [n, dim] packed nbits each into W words per row (dimension d at bit d * nbits). */
export function packCodes(codes: Uint8Array, dim: number, nbits: number): Uint32Array {
  const n = codes.length / dim;
  const W = codeWords(dim, nbits);
  const out = new Uint32Array(n * W);
  for (let r = 0; r < n; r++)
    for (let d = 0; d < dim; d++) {
      const bit = d * nbits;
      out[r * W + (bit >>> 5)]! |= codes[r * dim + d]! << (bit & 31);
    }
  return out;
}

export function unpackCodes(words: Uint32Array, n: number, dim: number, nbits: number): Uint8Array {
  const W = codeWords(dim, nbits);
  const mask = (1 << nbits) - 1;
  const out = new Uint8Array(n * dim);
  for (let r = 0; r < n; r++)
    for (let d = 0; d < dim; d++) {
      const bit = d * nbits;
      out[r * dim + d] = (words[r * W + (bit >>> 5)]! >>> (bit & 31)) & mask;
    }
  return out;
}

/** Each residual's bucket: how many of its dimension's cutoffs lie strictly below it. */
export function bucketize(residuals: Float32Array, codec: Pick<ResidualCodec, 'dim' | 'nbits' | 'cutoffs'>): Uint8Array {
  const { dim, nbits, cutoffs } = codec;
  const C = (1 << nbits) - 1;
  const out = new Uint8Array(residuals.length);
  for (let i = 0; i < residuals.length; i++) {
    const d = i % dim;
    const r = residuals[i]!;
    let lo = 0,
      hi = C; // first cutoff >= r, by bisection
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cutoffs[d * C + mid]! < r) lo = mid + 1;
      else hi = mid;
    }
    out[i] = lo;
  }
  return out;
}

/** Encode x [n, dim] given each row's centroid: packed cids and packed codes. */
export function encodeVectors(
  x: Float32Array,
  assign: Int32Array,
  codec: ResidualCodec,
): { cids: Uint32Array; codes: Uint32Array } {
  const res = residualsOf(x, codec.dim, codec.centroids, assign);
  return { cids: packCids(assign), codes: packCodes(bucketize(res, codec), codec.dim, codec.nbits) };
}

/** Decode stored rows (CPU): the twin of the GPU decompression. */
export function decodeRows(codes: Uint32Array, cids: Uint32Array, rows: ArrayLike<number>, codec: ResidualCodec): Float32Array {
  return residualDecompressCpu(codes, cids, rows, codec.centroids, codec.weights, codec.dim, codec.nbits);
}
