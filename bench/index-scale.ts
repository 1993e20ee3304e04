// Index-scale bench page: the exact f32 ColBERT index against the compressed one (PLAID-style:
// centroid id + nbits residual codes, src/retrieval/compressed.ts) at N = 10k and 50k passages:
// bytes per passage, build time, queries per second, and recall@10 of the compressed search
// against the exact search's top 10.
// The corpus is the index bench's (PubMedQA contexts + MedMCQA explanations, from bench/run.ts),
// each passage encoded once by the index bench's random-weight ColBERT; past the corpus' size the
// passages are repeated with perturbation (see the notes). Queries are the questions, encoded by
// the same retriever; both searches get the same query tensor, so neither time holds encoding.
// N = passages, T = token vectors, dim = ColBERT dim, Q = queries, K = centroids, k = 10.

import { acquireGpu } from '../src/gpu/device';
import { viteKernels } from '../src/gpu/kernels-vite';
import type { Passage } from '../src/data/datasets';
import { loadColbert as loadRetriever } from '../src/models/load';
import { CompressedIndex } from '../src/retrieval/compressed';
import { buildIndex } from '../src/retrieval/index';
import { maxsimSearch, mulberry32, type Engine, type Tensor } from '../src/tensor';
import { Engine as EngineClass } from '../src/tensor/tensor';
import { adapterOf, errorMessage, round } from './common';
import { BERT_CONFIG, BUILD_BATCH, COLBERT, modelFolder, type IndexBenchInput } from './index-bench';
import type { BenchRow, PageResult } from './page';

const log = (msg: string) => console.log(`[bench index-scale] ${msg}`);
const K_TOP = 10;
/** Exact search's token vectors per GPU chunk (maxsimSearch scores chunk by chunk). */
const EXACT_CHUNK_BYTES = 64 * 2 ** 20;
/** Perturbation of a repeated passage: noise norm per token vector. */
const NOISE = 0.1;

interface Corpus {
  x: Float32Array;
  offsets: Int32Array;
  ids: string[];
}

/**
 * N passages from the encoded base corpus: the first `base` are the passages as encoded; passage
 * n >= base is a new one spliced from three (a third of the tokens of base passage n % base, then
 * of two seeded-random others), each token vector with seeded noise of norm ~NOISE, renormalized.
 */
function grow(base: Corpus, dim: number, N: number, seed: number): Corpus {
  const B = base.ids.length;
  if (N <= B) {
    const T = base.offsets[N]!;
    return { x: base.x.subarray(0, T * dim), offsets: base.offsets.slice(0, N + 1), ids: base.ids.slice(0, N) };
  }
  const rng = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(Math.max(rng(), 1e-12))) * Math.cos(2 * Math.PI * rng());
  const offsets = new Int32Array(N + 1);
  offsets.set(base.offsets);
  const rows: Array<[number, number]> = []; // [source row, noisy]
  for (let n = B; n < N; n++) {
    const parts = [n % B, Math.floor(rng() * B), Math.floor(rng() * B)];
    let L = 0;
    parts.forEach((p, i) => {
      const a = base.offsets[p]!,
        len = base.offsets[p + 1]! - a;
      const s = Math.floor((i * len) / 3),
        e = Math.max(s + 1, Math.floor(((i + 1) * len) / 3));
      for (let j = s; j < e && j < len; j++, L++) rows.push([a + j, 1]);
    });
    offsets[n + 1] = offsets[n]! + L;
  }
  const T0 = base.offsets[B]!;
  const x = new Float32Array(offsets[N]! * dim);
  x.set(base.x.subarray(0, T0 * dim));
  const sd = NOISE / Math.sqrt(dim);
  rows.forEach(([src], i) => {
    const o = (T0 + i) * dim;
    let ss = 0;
    for (let d = 0; d < dim; d++) {
      const v = base.x[src * dim + d]! + sd * gauss();
      x[o + d] = v;
      ss += v * v;
    }
    const inv = 1 / Math.sqrt(ss);
    for (let d = 0; d < dim; d++) x[o + d]! *= inv;
  });
  const ids = [...base.ids];
  for (let n = B; n < N; n++) ids.push(`${base.ids[n % B]}~${Math.floor(n / B)}`);
  return { x, offsets, ids };
}

/** The exact index's vectors as GPU chunks of whole passages under EXACT_CHUNK_BYTES. */
function uploadExact(e: Engine, c: Corpus, dim: number): Tensor[] {
  const out: Tensor[] = [];
  const N = c.ids.length;
  let n = 0;
  while (n < N) {
    const n0 = n;
    while (n < N && (c.offsets[n + 1]! - c.offsets[n0]!) * dim * 4 <= EXACT_CHUNK_BYTES) n++;
    const a = c.offsets[n0]!,
      b = c.offsets[n]!;
    out.push(e.tensor(c.x.subarray(a * dim, b * dim), [b - a, dim]).keep());
  }
  return out;
}

export async function run(input?: Promise<unknown>): Promise<PageResult> {
  if (!input) throw new Error('the index-scale bench needs its corpus from bench/run.ts');
  const data = (await input) as IndexBenchInput & {
    sizes: number[];
    nbits: string[];
    search: { nprobe: number; ndocs: number }[];
  };
  const gpu = await acquireGpu({ kernels: viteKernels });
  const e = new EngineClass(gpu);
  const rows: BenchRow[] = [];
  // Each row is logged as it is made, so a run cut off by the page timeout keeps what it measured.
  const push = (row: BenchRow): void => {
    rows.push(row);
    log(`row ${JSON.stringify(row)}`);
  };
  const notes: string[] = [];
  const nbitsList = data.nbits;
  const t0 = performance.now();
  const Q = data.questions.length;
  let baseN = 0;
  try {
    const r = await loadRetriever(e, modelFolder(), { colbert: COLBERT });
    const dim = r.dim;
    let base: Corpus;
    let q: Tensor;
    try {
      const passages: Passage[] = data.passages;
      const b0 = performance.now();
      const idx = await buildIndex(r, passages, { batchSize: BUILD_BATCH });
      base = { x: await idx.vectors.read(), offsets: idx.offsets, ids: idx.docIds };
      baseN = passages.length;
      idx.dispose();
      log(`encoded ${baseN} passages (${base.offsets[baseN]} vectors) in ${((performance.now() - b0) / 1000).toFixed(0)} s`);
      q = e.scope(() => e.noGrad(() => r.encodeQueries(data.questions.map((x) => x.question)))).keep();
    } finally {
      r.encoder.weights.dispose();
    }
    const Lq = q.shape[1]!;
    // Warm-up of both paths' pipelines on a small corpus (untimed).
    {
      const small = grow(base, dim, 200, 1);
      const ch = uploadExact(e, small, dim);
      await maxsimSearch(e, q, null, { vectors: ch, offsets: small.offsets }, K_TOP);
      ch.forEach((t) => t.dispose());
      const ci = await CompressedIndex.build(e, small.x, dim, small.offsets, small.ids, { centroids: 16, iters: 1 });
      await ci.search(q, K_TOP, data.search[0]);
      ci.dispose();
    }
    for (const N of data.sizes) {
      const c = grow(base, dim, N, 7 + N);
      const T = c.offsets[N]!;
      log(`N = ${N}: ${T} token vectors`);
      // ---- exact
      let exactIds: Int32Array | null = null;
      try {
        const b0 = performance.now();
        const chunks = uploadExact(e, c, dim);
        await gpu.sync();
        const buildMs = performance.now() - b0;
        try {
          const s0 = performance.now();
          const res = await maxsimSearch(e, q, null, { vectors: chunks, offsets: c.offsets }, K_TOP);
          const ms = performance.now() - s0;
          exactIds = res.ids;
          push({
            op: 'index-scale',
            N,
            impl: 'exact',
            tokens: T,
            dim,
            bytesPerPassage: round((T * dim * 4 + (N + 1) * 4) / N, 1),
            buildMs: round(buildMs, 1),
            Q,
            ms: round(ms, 1),
            iterations: 1,
            queriesPerSec: round(Q / (ms / 1000), 3),
            recall10VsExact: 1,
            chunks: res.chunks,
          });
          log(`exact N=${N}: ${(ms / 1000).toFixed(1)} s for ${Q} queries`);
        } finally {
          chunks.forEach((t) => t.dispose());
          gpu.pool.trim();
        }
      } catch (err) {
        push({ op: 'index-scale', N, impl: 'exact', error: errorMessage(err) });
        log(`exact N=${N} failed: ${errorMessage(err)}`);
      }
      // ---- compressed
      for (const spec of nbitsList) {
        const [nbits, Kask] = spec.split(':').map(Number) as [number, number | undefined];
        try {
          const b0 = performance.now();
          const ci = await CompressedIndex.build(e, c.x, dim, c.offsets, c.ids, { nbits, centroids: Kask || undefined });
          const buildMs = performance.now() - b0;
          try {
            for (const SEARCH of data.search) {
              const s0 = performance.now();
              const res = await ci.search(q, K_TOP, SEARCH);
              const ms = performance.now() - s0;
              let recall = NaN;
              if (exactIds) {
                let hit = 0;
                for (let b = 0; b < Q; b++) {
                  const want = Array.from(exactIds.subarray(b * K_TOP, (b + 1) * K_TOP), (n) => c.ids[n]!);
                  hit += want.filter((id) => res.ids[b]!.includes(id)).length / K_TOP;
                }
                recall = hit / Q;
              }
              push({
                op: 'index-scale',
                N,
                impl: 'compressed',
                tokens: T,
                dim,
                nbits,
                K: ci.K,
                nprobe: SEARCH.nprobe,
                ndocs: SEARCH.ndocs,
                bytesPerPassage: round(ci.bytesPerPassage(), 1),
                buildMs: round(buildMs, 1),
                Q,
                ms: round(ms, 1),
                iterations: 1,
                queriesPerSec: round(Q / (ms / 1000), 3),
                recall10VsExact: Number.isNaN(recall) ? 'n/a' : round(recall, 4),
                candidates: Math.round(res.candidates.reduce((a, x) => a + x, 0) / Q),
              });
              log(
                `compressed N=${N} nbits ${nbits} nprobe ${SEARCH.nprobe} ndocs ${SEARCH.ndocs}: build ${(buildMs / 1000).toFixed(1)} s, search ${(ms / 1000).toFixed(2)} s, recall ${recall}`,
              );
            }
          } finally {
            ci.dispose();
            gpu.pool.trim();
          }
        } catch (err) {
          push({ op: 'index-scale', N, impl: 'compressed', nbits, error: errorMessage(err) });
          log(`compressed N=${N} failed: ${errorMessage(err)}`);
        }
      }
    }
    q.dispose();
    notes.push(
      `Corpus: ${data.corpus}; all ${baseN} passages encoded once (title + text, docMaxLen ${COLBERT.docMaxLen}, punctuation and padding dropped) by the index bench's random-weight ColBERT (BERT hidden ${BERT_CONFIG.hidden_size}, ${BERT_CONFIG.num_hidden_layers} layer, dim ${dim}): ${base.offsets[baseN]} token vectors.`,
      `Past ${baseN} passages, passage n is new: a third of the token vectors of passage n mod ${baseN}, then a third of each of two seeded-random passages, each with Gaussian noise of norm ~${NOISE} and renormalized (no near-duplicates of one passage; encoding 50k passages on SwiftShader would take ~18 min at the index bench's 47 passages/s).`,
      `Queries: the first ${Q} questions (seeded shuffle, as the index bench), encoded once (queryMaxLen ${Lq}); both searches take the same query tensor: queriesPerSec is search only. k = ${K_TOP}.`,
      `exact: the f32 vectors uploaded as chunks of <= ${EXACT_CHUNK_BYTES / 2 ** 20} MiB (buildMs = upload), one maxsimSearch over all Q queries (exact MaxSim top-${K_TOP}, chunked, merged on the GPU). bytesPerPassage = (T dim 4 + offsets) / N.`,
      `compressed: CompressedIndex.build (k-means on a sample of 64 K token vectors, 8 Lloyd iterations with the assignment on the GPU, every token assigned on the GPU, residual buckets per dimension, codes packed on the CPU, uploaded); K = defaultCentroids(T) = pow2 <= sqrt(T) / 2. search: query-centroid scores on the GPU, top nprobe centroids per query token, candidates from the inverted lists (candidates = their mean count), centroid interaction on the CPU keeping ndocs (nprobe and ndocs per row; buildMs is the same index's on each), decompression on the GPU and exact MaxSim over them. bytesPerPassage = (codes + 16-bit centroid ids + offsets + centroids, cutoffs and bucket values shared over N) / N.`,
      'recall10VsExact: per query, the fraction of the exact search\u2019s top 10 found in the compressed top 10, averaged over the queries.',
      'On a software adapter (SwiftShader) GPU numbers are CPU numbers: compare within one run.',
    );
  } finally {
    gpu.destroy();
  }
  log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return { bench: 'index-scale', adapter: adapterOf(gpu), crossOriginIsolated: self.crossOriginIsolated, notes, rows };
}
