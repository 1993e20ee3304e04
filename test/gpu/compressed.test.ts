// The compressed index: its two kernels against their CPU twins (k-means assignment, residual
// decompression), then CompressedIndex search against exact MaxSim search, add/remove without
// re-encoding, and its serialized record (round trip, and refusal of truncated or hostile records).
// n = vectors, dim = vector dim, K = centroids, N = passages, L = tokens per passage.
import { afterAll, describe, expect, it } from 'vitest';
import { decodeRows, encodeVectors, packCids, trainCodec } from '../../src/retrieval/codec';
import { CompressedIndex, CompressedIndexRecordError } from '../../src/retrieval/compressed';
import {
  deleteCompressedIndex,
  listIndexes,
  loadCompressedIndex,
  openMedRankDb,
  saveCompressedIndex,
} from '../../src/retrieval/index-db';
import { maxsimForwardCpu, topkCpu } from '../../src/tensor/cpu/maxsim';
import { cpu } from '../../src/tensor/cpu/types';
import { maxsimSearch } from '../../src/tensor';
import { codeWords, kmeansAssign, kmeansAssignCpu, residualDecompress, residualDecompressCpu } from '../../src/tensor';
import { loadColbert } from '../../src/models/load';
import { openIndex, reproject, searchIndex } from '../../src/retrieval/index';
import { fixtureFiles } from './fixtures';
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

/** N passages of 2..9 tokens drawn around 10 topic centers (unit rows), and B queries near passages' tokens. */
function corpus(N: number, dim: number, seed: number) {
  const r = rng(seed);
  const centers = unitRows(10, dim, seed + 1);
  const noise = randn(N * 9 * dim, seed + 2, 0.25);
  const offsets = new Int32Array(N + 1);
  const rows: number[] = [];
  for (let n = 0; n < N; n++) {
    const L = 2 + Math.floor(r() * 8);
    for (let j = 0; j < L; j++) {
      const c = Math.floor(r() * 10);
      const v: number[] = [];
      for (let d = 0; d < dim; d++) v.push(centers[c * dim + d]! + noise[(offsets[n]! + j) * dim + d]!);
      const s = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
      rows.push(...v.map((x) => x / s));
    }
    offsets[n + 1] = offsets[n]! + L;
  }
  return { x: Float32Array.from(rows), offsets, ids: Array.from({ length: N }, (_, n) => `p${n}`) };
}

function queriesFrom(x: Float32Array, dim: number, B: number, Lq: number, seed: number): Float32Array {
  const r = rng(seed);
  const T = x.length / dim;
  const q = new Float32Array(B * Lq * dim);
  const noise = randn(q.length, seed + 1, 0.1);
  for (let i = 0; i < B * Lq; i++) {
    const t = Math.floor(r() * T);
    let s = 0;
    for (let d = 0; d < dim; d++) s += (q[i * dim + d] = x[t * dim + d]! + noise[i * dim + d]!) ** 2;
    for (let d = 0; d < dim; d++) q[i * dim + d]! /= Math.sqrt(s);
  }
  return q;
}

describe('CompressedIndex', () => {
  const dim = 16,
    N = 40,
    B = 3,
    Lq = 5,
    k = 5;

  it('searches like exact MaxSim over its decompressed vectors, chunked or not, and close to exact f32 search', async () => {
    const e = await getEngine();
    const { x, offsets, ids } = corpus(N, dim, 31);
    const qv = queriesFrom(x, dim, B, Lq, 41);
    const q = e.tensor(qv, [B, Lq, dim]);
    const idx = await CompressedIndex.build(e, x, dim, offsets, ids, { centroids: 8, nbits: 4, iters: 4 });
    // Codes of a passage at most 20 rows' worth per chunk: several chunks.
    const chunked = CompressedIndex.deserialize(e, idx.serialize(), { maxChunkBytes: 20 * 4 * 2 });
    expect(chunked.chunkCount).toBeGreaterThan(2);
    expect(idx.chunkCount).toBe(1);
    // Every passage a candidate: the result is exact MaxSim over the decompressed vectors.
    const all = await idx.search(q, k, { nprobe: 8, ndocs: N });
    const allChunked = await chunked.search(q, k, { nprobe: 8, ndocs: N });
    const T = offsets[N]!;
    const dec = decodeRows(
      idx.codes,
      packCids(idx.cids),
      Array.from({ length: T }, (_, i) => i),
      idx.codec,
    );
    const ref = maxsimForwardCpu(cpu(qv, [B, Lq, dim]), null, cpu(dec, [T, dim]), offsets).scores;
    const top = topkCpu(ref, k);
    for (let b = 0; b < B; b++) {
      expect(all.ids[b]).toEqual(Array.from(top.ids.slice(b * k, (b + 1) * k), (n) => `p${n}`));
      expectClose(all.scores[b]!, top.values.slice(b * k, (b + 1) * k), { atol: 1e-4 }, `query ${b} scores`);
      expect(allChunked.ids[b]).toEqual(all.ids[b]);
    }
    // The default pruning, against exact search on the f32 vectors.
    const xt = e.tensor(x, [T, dim]);
    const exact = await maxsimSearch(e, q, null, { vectors: xt, offsets }, k);
    xt.dispose();
    const pruned = await idx.search(q, k, { nprobe: 2, ndocs: 12 });
    let hit = 0;
    for (let b = 0; b < B; b++) {
      const want = Array.from(exact.ids.subarray(b * k, (b + 1) * k), (n) => `p${n}`);
      hit += want.filter((id) => pruned.ids[b]!.includes(id)).length;
    }
    console.log(`compressed (nbits 4, K 8, nprobe 2, ndocs 12) recall@${k} vs exact: ${hit / (B * k)}`);
    expect(hit / (B * k)).toBeGreaterThanOrEqual(0.5); // 0.6 when written: 12 of 40 passages kept by centroid interaction
    q.dispose();
    idx.dispose();
    chunked.dispose();
  });

  it('adds and removes passages without re-encoding the others', async () => {
    const e = await getEngine();
    const { x, offsets, ids } = corpus(N, dim, 51);
    const cut = 30;
    const idx = await CompressedIndex.build(
      e,
      x.subarray(0, offsets[cut]! * dim),
      dim,
      offsets.slice(0, cut + 1),
      ids.slice(0, cut),
      {
        centroids: 8,
        nbits: 2,
        iters: 3,
      },
    );
    const before = { codes: idx.codes.slice(), cids: idx.cids.slice() };
    const addOffs = Int32Array.from(offsets.subarray(cut), (o) => o - offsets[cut]!);
    await idx.add(x.subarray(offsets[cut]! * dim), addOffs, ids.slice(cut));
    expect(idx.docIds.length).toBe(N);
    expect(Array.from(idx.codes.subarray(0, before.codes.length))).toEqual(Array.from(before.codes));
    expect(Array.from(idx.cids.subarray(0, before.cids.length))).toEqual(Array.from(before.cids));
    await expect(idx.add(x.subarray(0, offsets[1]! * dim), offsets.slice(0, 2), ['p3'])).rejects.toThrow(/already in the index/);
    // An added passage's own vectors as the query find it first.
    const n = 35;
    const L = offsets[n + 1]! - offsets[n]!;
    const q = e.tensor(x.subarray(offsets[n]! * dim, offsets[n + 1]! * dim), [1, L, dim]);
    expect((await idx.search(q, 3, { nprobe: 8, ndocs: N })).ids[0]![0]).toBe('p35');
    // Remove three: gone from results, every other passage's codes as stored.
    const W = (dim * 2) / 32;
    const slice = (ix: CompressedIndex, id: string) => {
      const m = ix.docIds.indexOf(id);
      return Array.from(ix.codes.subarray(ix.offsets[m]! * W, ix.offsets[m + 1]! * W));
    };
    const kept = ids.filter((id) => !['p35', 'p0', 'p17'].includes(id));
    const codesBefore = kept.map((id) => slice(idx, id));
    idx.remove(['p35', 'p0', 'p17']);
    expect(idx.docIds).toEqual(kept);
    expect(kept.map((id) => slice(idx, id))).toEqual(codesBefore);
    const after = await idx.search(q, 10, { nprobe: 8, ndocs: N });
    expect(after.ids[0]).not.toContain('p35');
    expect(after.ids[0]!.length).toBe(10);
    expect(() => idx.remove(['nope'])).toThrow(/not in the index/);
    q.dispose();
    idx.dispose();
  });

  it('round-trips its record and refuses truncated or hostile ones before allocating', async () => {
    const e = await getEngine();
    const { x, offsets, ids } = corpus(12, dim, 61);
    const idx = await CompressedIndex.build(e, x, dim, offsets, ids, { centroids: 4, nbits: 2, iters: 2 });
    const rec = idx.serialize();
    const back = CompressedIndex.deserialize(e, structuredClone(rec));
    expect(back.stats.fromCache).toBe(true);
    expect(Array.from(back.codes)).toEqual(Array.from(idx.codes));
    expect(back.docIds).toEqual(idx.docIds);
    back.dispose();
    const bad: Array<[string, unknown]> = [
      ['truncated codes', { ...rec, codes: rec.codes.slice(0, rec.codes.byteLength - 4) }],
      ['huge token count', { ...rec, tokens: 2 ** 40 }],
      ['tokens not matching', { ...rec, tokens: rec.tokens + 1 }],
      ['centroid id out of range', { ...rec, cids: new Uint16Array(rec.tokens).fill(9).buffer }],
      ['non-finite weights', { ...rec, weights: new Float32Array(rec.weights.byteLength / 4).fill(NaN).buffer }],
      ['decreasing offsets', { ...rec, offsets: new Int32Array(13).fill(0).buffer }],
      ['duplicate ids', { ...rec, docIds: rec.docIds.map(() => 'same') }],
      ['wrong format', { ...rec, format: 2 }],
      ['nbits 3', { ...rec, nbits: 3 }],
      ['not an object', 'index'],
    ];
    for (const [what, r] of bad) expect(() => CompressedIndex.deserialize(e, r), what).toThrow(CompressedIndexRecordError);
    idx.dispose();
  });
});

describe('CompressedIndex in IndexedDB', () => {
  it('saves and loads as a second record kind; a damaged record reads as none and is deleted', async () => {
    const e = await getEngine();
    const { x, offsets, ids } = corpus(10, 16, 71);
    const idx = await CompressedIndex.build(e, x, 16, offsets, ids, { centroids: 4, nbits: 2, iters: 2 });
    const key = { weights: 'a'.repeat(64), corpus: 'b'.repeat(64), head: 0 };
    await saveCompressedIndex(key, idx, 'c'.repeat(64));
    const listed = (await listIndexes()).filter((l) => l.kind === 'compressed');
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ key, docs: 10, tokens: offsets[10] });
    const back = await loadCompressedIndex(e, key);
    expect(back?.stats.fromCache).toBe(true);
    expect(Array.from(back!.codes)).toEqual(Array.from(idx.codes));
    expect(back!.docIds).toEqual(ids);
    back!.dispose();
    // Truncate the stored codes: the load refuses it, deletes it, and reports none.
    const db = await openMedRankDb();
    const id = `compressed:${key.weights}:${key.corpus}:${key.head}`;
    const rec = (await db.get('index-data', id)) as { codes: ArrayBuffer };
    await db.put('index-data', { ...rec, codes: rec.codes.slice(4) } as never, id);
    expect(await loadCompressedIndex(e, key)).toBeNull();
    expect((await listIndexes()).filter((l) => l.kind === 'compressed')).toHaveLength(0);
    await deleteCompressedIndex(key);
    idx.dispose();
  });
});

describe('openIndex with a compressed twin', () => {
  it('searches through it when no gold ranks are asked, exactly when they are, and drops it on reproject', async () => {
    const e = await getEngine();
    const r = await loadColbert(e, await fixtureFiles('tiny-colbert'));
    const words = 'fever pain chest heart blood pressure sugar diabetes insulin cancer tumor lung liver kidney brain'.split(' ');
    const passages = Array.from({ length: 16 }, (_, i) => ({
      id: `d${i}`,
      text: `the ${Array.from({ length: 3 + (i % 5) }, (_, j) => words[(i * 5 + j * 3) % words.length]).join(' ')}`,
    }));
    const qs = ['fever and pain', 'blood sugar insulin', 'lung tumor'];
    const index = await openIndex(r, passages, {
      save: false,
      compress: 'always',
      compressOptions: { centroids: 8, nbits: 4, iters: 3 },
    });
    expect(index.compressed).toBeInstanceOf(CompressedIndex);
    index.compressedSearch = { nprobe: 8, ndocs: 16 };
    const viaIndex = await searchIndex(index, r, qs, 4);
    const q = e.scope(() => e.noGrad(() => r.encodeQueries(qs))).keep();
    const direct = await index.compressed!.search(q, 4, { nprobe: 8, ndocs: 16 });
    q.dispose();
    expect(viaIndex.ids).toEqual(direct.ids);
    // With gold targets the search is exact: the same as with no compressed twin.
    const withTargets = await searchIndex(index, r, qs, 4, { targets: qs.map(() => ['d0']) });
    const c = index.compressed!;
    index.compressed = null;
    const exact = await searchIndex(index, r, qs, 4);
    index.compressed = c;
    expect(withTargets.ids).toEqual(exact.ids);
    expect(withTargets.targets).toHaveLength(3);
    // 4-bit codes over all candidates: the top passage agrees with exact search on most queries.
    const agree = qs.filter((_, b) => viaIndex.ids[b]![0] === exact.ids[b]![0]).length;
    expect(agree).toBeGreaterThanOrEqual(2);
    index.hidden = null;
    expect(() => reproject(index, r)).toThrow(); // no encoder states: nothing changes
    expect(index.compressed).toBe(c);
    index.dispose();
    expect(index.compressed).toBeNull();
    r.encoder.weights.dispose();
  });
});
