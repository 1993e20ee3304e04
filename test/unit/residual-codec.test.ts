// The compressed index's residual codec (src/retrieval/codec.ts) on the CPU: code and centroid-id
// packing round trips exactly, bucket values encode back to their own codes, k-means finds
// well-separated clusters, and decoding reconstructs unit token vectors within bounds that shrink
// with nbits. n = vectors, dim = vector dim, K = centroids.
import { describe, expect, it } from 'vitest';
import {
  bucketize,
  decodeRows,
  encodeVectors,
  fitBuckets,
  kmeans,
  packCids,
  packCodes,
  trainCodec,
  unpackCids,
  unpackCodes,
} from '../../src/retrieval/codec';
import { kmeansAssignCpu } from '../../src/tensor';
import { mulberry32 } from '../../src/tensor/random';

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
}

/** n unit vectors around K random unit centers (noise sigma per dimension), and their true cluster. */
function clustered(n: number, dim: number, K: number, sigma: number, seed: number) {
  const r = mulberry32(seed);
  const centers = new Float32Array(K * dim);
  for (let i = 0; i < centers.length; i++) centers[i] = gauss(r);
  const unit = (v: Float32Array, o: number) => {
    let s = 0;
    for (let d = 0; d < dim; d++) s += v[o + d]! ** 2;
    for (let d = 0; d < dim; d++) v[o + d]! /= Math.sqrt(s);
  };
  for (let c = 0; c < K; c++) unit(centers, c * dim);
  const x = new Float32Array(n * dim);
  const truth = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * K);
    truth[i] = c;
    for (let d = 0; d < dim; d++) x[i * dim + d] = centers[c * dim + d]! + sigma * gauss(r);
    unit(x, i * dim);
  }
  return { x, truth, centers };
}

const cosines = (a: Float32Array, b: Float32Array, dim: number): number[] => {
  const out: number[] = [];
  for (let i = 0; i < a.length / dim; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += a[i * dim + d]! * b[i * dim + d]!;
    out.push(s);
  }
  return out;
};

describe('residual codec', () => {
  it('packs codes and centroid ids with exact round trips', () => {
    const r = mulberry32(3);
    for (const [dim, nbits] of [
      [7, 1],
      [32, 2],
      [24, 4],
      [5, 8],
      [130, 2],
    ] as const) {
      const n = 9;
      const codes = Uint8Array.from({ length: n * dim }, () => Math.floor(r() * (1 << nbits)));
      const packed = packCodes(codes, dim, nbits);
      expect(packed.length).toBe(n * Math.ceil((dim * nbits) / 32));
      expect(Array.from(unpackCodes(packed, n, dim, nbits))).toEqual(Array.from(codes));
    }
    const ids = [0, 65535, 1, 40000, 7, 12345, 9];
    expect(Array.from(unpackCids(packCids(ids), ids.length))).toEqual(ids);
  });

  it('fits per-dimension buckets: each bucket value encodes back to its own code, and buckets split evenly', () => {
    const dim = 6,
      n = 4000,
      r = mulberry32(5);
    const res = Float32Array.from({ length: n * dim }, (_, i) => (1 + (i % dim)) * 0.01 * gauss(r));
    for (const nbits of [2, 4]) {
      const B = 1 << nbits;
      const { cutoffs, weights } = fitBuckets(res, dim, nbits);
      // The bucket values themselves, as residuals: [B, dim] with row b = bucket b's value.
      const probe = new Float32Array(B * dim);
      for (let b = 0; b < B; b++) for (let d = 0; d < dim; d++) probe[b * dim + d] = weights[d * B + b]!;
      const codes = bucketize(probe, { dim, nbits, cutoffs });
      for (let b = 0; b < B; b++) for (let d = 0; d < dim; d++) expect(codes[b * dim + d]).toBe(b);
      // Quantile cutoffs: every bucket of every dimension holds 1/B of the residuals, +-1%.
      const all = bucketize(res, { dim, nbits, cutoffs });
      const counts = new Float64Array(dim * B);
      all.forEach((c, i) => counts[(i % dim) * B + c]!++);
      for (const c of counts) expect(Math.abs(c / n - 1 / B)).toBeLessThan(0.01);
      // Wider dimensions get wider buckets (per-dimension scales: dim 5 is 6x dim 0).
      expect(weights[5 * B + B - 1]! / weights[B - 1]!).toBeGreaterThan(4);
    }
  });

  it('k-means recovers well-separated clusters (seeded, deterministic)', async () => {
    const { x, truth } = clustered(1200, 16, 8, 0.05, 11);
    const cents = await kmeans(x, 16, 16, { iters: 10, seed: 2 });
    const again = await kmeans(x, 16, 16, { iters: 10, seed: 2 });
    expect(Array.from(again)).toEqual(Array.from(cents));
    const a = kmeansAssignCpu(x, 16, cents);
    // 16 centroids over 8 clusters: every centroid is pure (its rows come from one true cluster),
    // and every cluster is covered.
    const owner = new Map<number, number>();
    a.forEach((c, i) => {
      if (!owner.has(c)) owner.set(c, truth[i]!);
      expect(owner.get(c)).toBe(truth[i]);
    });
    expect(new Set(owner.values()).size).toBe(8);
    for (let c = 0; c < 16; c++) {
      let s = 0;
      for (let d = 0; d < 16; d++) s += cents[c * 16 + d]! ** 2;
      expect(Math.abs(Math.sqrt(s) - 1)).toBeLessThan(1e-5);
    }
  });

  it('reconstructs unit vectors within bounds that shrink with nbits', async () => {
    const dim = 32;
    const { x } = clustered(3000, dim, 24, 0.08, 21);
    const meanCos: Record<number, number> = {};
    let centroidOnly = 0;
    for (const nbits of [2, 4]) {
      const codec = await trainCodec(x, dim, { K: 32, nbits, iters: 6, seed: 1 });
      const a = kmeansAssignCpu(x, dim, codec.centroids);
      const { cids, codes } = encodeVectors(x, a, codec);
      expect(codes.length).toBe((3000 * (dim * nbits)) / 32);
      const rows = Array.from({ length: 3000 }, (_, i) => i);
      const y = decodeRows(codes, cids, rows, codec);
      const cs = cosines(x, y, dim);
      meanCos[nbits] = cs.reduce((s, c) => s + c, 0) / cs.length;
      const worst = Math.min(...cs);
      console.log(`nbits ${nbits}: mean cos ${meanCos[nbits]!.toFixed(4)}, worst ${worst.toFixed(4)}`);
      expect(worst).toBeGreaterThan(nbits === 2 ? 0.93 : 0.97);
      if (nbits === 2)
        centroidOnly =
          cosines(
            x,
            Float32Array.from(Array.from(a).flatMap((c) => Array.from(codec.centroids.subarray(c * dim, (c + 1) * dim)))),
            dim,
          ).reduce((s, c) => s + c, 0) / 3000;
    }
    console.log(`centroid only: mean cos ${centroidOnly.toFixed(4)}`);
    expect(meanCos[2]!).toBeGreaterThan(0.98);
    expect(meanCos[4]!).toBeGreaterThan(0.995);
    expect(meanCos[4]!).toBeGreaterThan(meanCos[2]!);
    expect(meanCos[2]!).toBeGreaterThan(centroidOnly + 0.05);
  });
});
