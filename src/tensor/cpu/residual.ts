// CPU twins of the compressed index's kernels: k-means assignment (kmeans_assign_forward) and
// residual decompression (residual_decompress_forward), with the same layouts and tie rules.
// n = vectors, dim = vector dim, K = centroids, nbits = bits per residual code, W = code words per
// row (ceil(dim * nbits / 32)), B = 2^nbits buckets.

/** 32-bit words of residual codes per token vector. */
export const codeWords = (dim: number, nbits: number): number => Math.ceil((dim * nbits) / 32);

/** assign[r] = argmax_c x[r] . cents[c] (f64 dots; the lowest c on ties). x [n, dim], cents [K, dim]. */
export function kmeansAssignCpu(x: Float32Array, dim: number, cents: Float32Array): Int32Array {
  const n = x.length / dim;
  const K = cents.length / dim;
  const out = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let best = -Infinity,
      bestC = -1;
    for (let c = 0; c < K; c++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += x[r * dim + d]! * cents[c * dim + d]!;
      if (bestC < 0 || s > best) {
        best = s;
        bestC = c;
      }
    }
    out[r] = bestC;
  }
  return out;
}

/** The centroid id of stored row `row` in cids packed as 16-bit halves of 32-bit words. */
export const cidOf = (cids: Uint32Array, row: number): number => (cids[row >>> 1]! >>> (16 * (row & 1))) & 0xffff;

/**
 * out[t] = normalize(cents[cid(rows[t])] + weights[d, code(rows[t], d)]) for each t: the stored
 * rows' token vectors, [rows.length, dim]. codes [stored, W] (u32), cids packed 16-bit, weights
 * [dim, 2^nbits]. A zero sum stays zero.
 */
export function residualDecompressCpu(
  codes: Uint32Array,
  cids: Uint32Array,
  rows: ArrayLike<number>,
  cents: Float32Array,
  weights: Float32Array,
  dim: number,
  nbits: number,
): Float32Array {
  const W = codeWords(dim, nbits);
  const nb = 1 << nbits;
  const mask = nb - 1;
  const out = new Float32Array(rows.length * dim);
  const v = new Float64Array(dim);
  for (let t = 0; t < rows.length; t++) {
    const row = rows[t]!;
    const cid = cidOf(cids, row);
    let ss = 0;
    for (let d = 0; d < dim; d++) {
      const bit = d * nbits;
      const code = (codes[row * W + (bit >>> 5)]! >>> (bit & 31)) & mask;
      const x = Math.fround(cents[cid * dim + d]! + weights[d * nb + code]!);
      v[d] = x;
      ss += x * x;
    }
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 1;
    for (let d = 0; d < dim; d++) out[t * dim + d] = v[d]! * inv;
  }
  return out;
}
