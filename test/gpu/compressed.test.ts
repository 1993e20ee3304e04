// The compressed index: its two kernels against their CPU twins (k-means assignment, residual
// decompression), then CompressedIndex search against exact MaxSim search, add/remove without
// re-encoding, and its serialized record (round trip, and refusal of truncated or hostile records).
// n = vectors, dim = vector dim, K = centroids, N = passages, L = tokens per passage.
import { afterAll, describe, expect, it } from 'vitest';
import { encodeVectors, packCids, trainCodec } from '../../src/retrieval/codec';
import { codeWords, kmeansAssign, kmeansAssignCpu, residualDecompress, residualDecompressCpu } from '../../src/tensor';
import { destroyEngine, expectClose, getEngine, randn, rng } from './helpers';

afterAll(destroyEngine);

function unitRows(n: number, dim: number, seed: number): Float32Array {
  const x = randn(n * dim, seed);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += x[r * dim + d]! ** 2;
    for (let d = 0; d < dim; d++) x[r * dim + d]! /= Math.sqrt(s);
  }
  return x;
}

describe('compressed index kernels', () => {
  it('kmeans_assign_forward matches kmeansAssignCpu (dims past the 64-wide tile, K past the 16-wide tile, sliced uploads)', async () => {
    const e = await getEngine();
    for (const [n, dim, K] of [
      [70, 7, 5],
      [130, 72, 37],
    ] as const) {
      const x = unitRows(n, dim, n + dim);
      const cents = unitRows(K, dim, K);
      const ct = e.tensor(cents, [K, dim]);
      // Slices of 40 rows: the host loop, not only one dispatch.
      const gpu = await kmeansAssign(e, x, dim, ct, { sliceBytes: 40 * dim * 4 });
      ct.dispose();
      const ref = kmeansAssignCpu(x, dim, cents);
      let diff = 0;
      for (let r = 0; r < n; r++) if (gpu[r] !== ref[r]) diff++;
      console.log(`kmeans_assign n=${n} dim=${dim} K=${K}: ${diff} of ${n} differ`);
      expect(diff).toBe(0);
    }
  });

  it('residual_decompress_forward matches residualDecompressCpu (gathered rows, nbits 2 and 4, dim not a multiple of 16)', async () => {
    const e = await getEngine();
    const r = rng(9);
    for (const [dim, nbits] of [
      [24, 2],
      [20, 4],
    ] as const) {
      const n = 90,
        K = 6;
      const x = unitRows(n, dim, dim);
      const codec = await trainCodec(x, dim, { K, nbits, iters: 3, seed: 1 });
      const { cids, codes } = encodeVectors(x, kmeansAssignCpu(x, dim, codec.centroids), codec);
      expect(codes.length).toBe(n * codeWords(dim, nbits));
      const rows = Int32Array.from({ length: 150 }, () => Math.floor(r() * n));
      const store = {
        codes: e.empty([codes.length], 'i32'),
        cids: e.empty([cids.length], 'i32'),
        centroids: e.tensor(codec.centroids, [K, dim]),
        weights: e.tensor(codec.weights, [codec.weights.length]),
        dim,
        nbits,
      };
      e.gpu.write(store.codes.buffer, codes);
      e.gpu.write(store.cids.buffer, cids);
      const out = residualDecompress(e, store, rows);
      const got = await out.read();
      for (const t of [out, store.codes, store.cids, store.centroids, store.weights]) t.dispose();
      const ref = residualDecompressCpu(codes, cids, rows, codec.centroids, codec.weights, dim, nbits);
      expectClose(got, ref, { atol: 2e-6, rtol: 1e-5 }, `decompress dim ${dim} nbits ${nbits}`);
    }
    expect(packCids([1, 2]).length).toBe(1);
  });
});
