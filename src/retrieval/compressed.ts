// The compressed ColBERT index (PLAID-style, ColBERTv2's residual compression): each token vector
// kept as its centroid id (16 bits) plus an nbits bucket code per dimension (src/retrieval/codec.ts),
// centroids from k-means on the GPU (kmeans_assign_forward, the update on the CPU). Search in three
// stages: (1) query tokens x centroids on the GPU, the top nprobe centroids of each query token, the
// passages owning tokens of those centroids (an inverted list, on the CPU) as candidates; (2) the
// candidates' centroid-interaction scores (MaxSim with every token replaced by its centroid, from
// the query-centroid scores, on the CPU), keeping the best ndocs; (3) those passages' tokens
// decompressed on the GPU (residual_decompress_forward) and scored by exact MaxSim (maxsimSearch).
// Passages are added (encoded with the existing codec) and removed without touching the others'
// codes. serialize / deserialize give the IndexedDB record, every count validated before use.
// N = passages, T = stored token vectors, dim = vector dim, K = centroids, nbits = bits per code,
// W = code words per token, B = queries, Lq = query tokens.

import { MedRankError } from '../core/errors';
import { describe } from '../core/format';
import {
  codeWords,
  kmeansAssign,
  matmul,
  maxsimSearch,
  MAX_TOPK,
  residualDecompressInto,
  type Engine,
  type Tensor,
} from '../tensor';
import { encodeVectors, MAX_CENTROIDS, NBITS, packCids, trainCodec, type ResidualCodec } from './codec';

/** A compressed index record that cannot be read: truncated, damaged or not one of ours. */
export class CompressedIndexRecordError extends MedRankError {}

export interface CompressedBuildOptions {
  /** Bits per residual code: 2 (default; 16x smaller than f32 at dim 128) or 4. */
  nbits?: number;
  /** Centroids (default defaultCentroids(T)). */
  centroids?: number;
  /** Lloyd iterations (default 8). */
  iters?: number;
  seed?: number;
  /** Token vectors k-means and the buckets are fitted on (default min(T, 64 K)). */
  sample?: number;
  /** Most bytes of codes per GPU chunk (default: the binding limit); tests lower it. */
  maxChunkBytes?: number;
}

export interface CompressedSearchOptions {
  /** Centroids probed per query token (default 2). */
  nprobe?: number;
  /** Candidates scored exactly after the centroid-interaction stage (default max(256, 16 k)). */
  ndocs?: number;
}

/**
 * The default number of centroids for T token vectors: the power of two at or below sqrt(T) / 2,
 * in [16, 65536], at most T. PLAID uses 16 sqrt(T); this one is 32x fewer, so that k-means and the
 * assignment of every token fit a software adapter's minutes (the bench's 50k passages: 512).
 */
export function defaultCentroids(T: number): number {
  const k = 2 ** Math.floor(Math.log2(Math.max(1, Math.sqrt(T) / 2)));
  return Math.min(T, Math.max(16, Math.min(MAX_CENTROIDS, k)));
}

/** Below this many passages the worker keeps the exact f32 index (see docs/index.md). */
export const COMPRESS_ABOVE_PASSAGES = 20_000;

interface Chunk {
  /** First stored row and passage of the chunk; rows row0 .. row0 + rows, passages n0 .. n1. */
  row0: number;
  rows: number;
  n0: number;
  n1: number;
  codes: Tensor;
  cids: Tensor;
}

/** Stored rows decompressed per query before its exact MaxSim is awaited (bytes in flight). */
const IN_FLIGHT_BYTES = 128 * 2 ** 20;
const QUERY_BATCH = 32;
/** Bytes of query-centroid scores read back per batch. */
const SCORE_BYTES = 32 * 2 ** 20;

export class CompressedIndex {
  docIds: string[];
  /** [N + 1]: passage n owns stored rows offsets[n] .. offsets[n+1]. */
  offsets: Int32Array;
  /** [T] centroid ids. */
  cids: Uint16Array;
  /** [T * W] packed codes. */
  codes: Uint32Array;
  stats: { docs: number; tokens: number; buildMs: number; fromCache: boolean };

  private chunks: Chunk[] = [];
  private centroidsT: Tensor;
  private weightsT: Tensor;
  /** Each passage's distinct centroids (CSR) and each centroid's passages (the inverted list). */
  private docCentOff = new Int32Array(1);
  private docCents = new Uint16Array(0);
  private ivfOff = new Int32Array(1);
  private ivfDocs = new Int32Array(0);
  private pos = new Map<string, number>();

  private constructor(
    readonly engine: Engine,
    readonly codec: ResidualCodec,
    docIds: string[],
    offsets: Int32Array,
    cids: Uint16Array,
    codes: Uint32Array,
    private readonly maxChunkBytes: number | undefined,
    buildMs: number,
    fromCache: boolean,
  ) {
    const K = codec.centroids.length / codec.dim;
    this.centroidsT = engine.tensor(codec.centroids, [K, codec.dim]).keep();
    this.weightsT = engine.tensor(codec.weights, [codec.weights.length]).keep();
    this.docIds = docIds;
    this.offsets = offsets;
    this.cids = cids;
    this.codes = codes;
    this.stats = { docs: docIds.length, tokens: cids.length, buildMs, fromCache };
    this.refresh();
  }

  get dim(): number {
    return this.codec.dim;
  }
  get nbits(): number {
    return this.codec.nbits;
  }
  get K(): number {
    return this.codec.centroids.length / this.codec.dim;
  }

  /**
   * Compress token vectors x [T, dim] (unit rows, passage n = rows offsets[n] .. offsets[n+1]):
   * k-means on a sample, every token assigned on the GPU, residuals bucketed on the CPU.
   */
  static async build(
    e: Engine,
    x: Float32Array,
    dim: number,
    offsets: Int32Array,
    docIds: string[],
    opts: CompressedBuildOptions = {},
  ): Promise<CompressedIndex> {
    const t0 = performance.now();
    checkLayout(x, dim, offsets, docIds);
    const T = x.length / dim;
    const K = opts.centroids ?? defaultCentroids(T);
    const nbits = opts.nbits ?? 2;
    const assignOn = async (rows: Float32Array, d: number, cents: Float32Array): Promise<Int32Array> => {
      const ct = e.tensor(cents, [cents.length / d, d]);
      try {
        return await kmeansAssign(e, rows, d, ct);
      } finally {
        ct.dispose();
      }
    };
    const codec = await trainCodec(x, dim, {
      K,
      nbits,
      iters: opts.iters,
      seed: opts.seed,
      sample: opts.sample,
      assign: assignOn,
    });
    const assign = await assignOn(x, dim, codec.centroids);
    const { codes } = encodeVectors(x, assign, codec);
    return new CompressedIndex(
      e,
      codec,
      [...docIds],
      Int32Array.from(offsets),
      Uint16Array.from(assign),
      codes,
      opts.maxChunkBytes,
      performance.now() - t0,
      false,
    );
  }

  /** Bytes this index keeps per passage: codes, centroid ids (16 bits), offsets, and its share of the codec. */
  bytesPerPassage(): number {
    const c = this.codec;
    const shared = (c.centroids.length + c.cutoffs.length + c.weights.length) * 4;
    return (this.codes.byteLength + this.cids.byteLength + this.offsets.byteLength + shared) / Math.max(1, this.docIds.length);
  }

  /** Add passages x [T', dim] split by offsets: assigned to the existing centroids and encoded; no other passage changes. */
  async add(x: Float32Array, offsets: Int32Array, docIds: string[]): Promise<void> {
    checkLayout(x, this.dim, offsets, docIds);
    const dup = docIds.find((id, i) => this.pos.has(id) || docIds.indexOf(id) !== i);
    if (dup !== undefined) throw new MedRankError(`passage ${describe(dup)} is already in the index (or given twice)`);
    const ct = this.centroidsT;
    const assign = await kmeansAssign(this.engine, x, this.dim, ct);
    const { codes } = encodeVectors(x, assign, this.codec);
    const T0 = this.cids.length;
    const cids = new Uint16Array(T0 + assign.length);
    cids.set(this.cids);
    cids.set(assign, T0);
    const all = new Uint32Array(this.codes.length + codes.length);
    all.set(this.codes);
    all.set(codes, this.codes.length);
    const offs = new Int32Array(this.offsets.length + docIds.length);
    offs.set(this.offsets);
    for (let n = 1; n <= docIds.length; n++) offs[this.offsets.length - 1 + n] = T0 + offsets[n]!;
    this.cids = cids;
    this.codes = all;
    this.offsets = offs;
    this.docIds = [...this.docIds, ...docIds];
    this.refresh();
  }

  /** Remove passages by id (unknown ids are an error); the others keep their codes as stored. */
  remove(ids: readonly string[]): void {
    const drop = new Set<number>();
    for (const id of ids) {
      const n = this.pos.get(id);
      if (n === undefined) throw new MedRankError(`passage ${describe(id)} is not in the index`);
      drop.add(n);
    }
    if (drop.size === this.docIds.length) throw new MedRankError('removing every passage would leave an empty index');
    const W = codeWords(this.dim, this.nbits);
    const keep = this.docIds.map((_, n) => n).filter((n) => !drop.has(n));
    let T = 0;
    for (const n of keep) T += this.offsets[n + 1]! - this.offsets[n]!;
    const cids = new Uint16Array(T);
    const codes = new Uint32Array(T * W);
    const offs = new Int32Array(keep.length + 1);
    keep.forEach((n, i) => {
      const a = this.offsets[n]!,
        b = this.offsets[n + 1]!;
      cids.set(this.cids.subarray(a, b), offs[i]!);
      codes.set(this.codes.subarray(a * W, b * W), offs[i]! * W);
      offs[i + 1] = offs[i]! + b - a;
    });
    this.cids = cids;
    this.codes = codes;
    this.offsets = offs;
    this.docIds = keep.map((n) => this.docIds[n]!);
    this.refresh();
  }

  /** Rebuild what derives from the stored arrays: positions, inverted lists, GPU chunks. */
  private refresh(): void {
    const N = this.docIds.length;
    const K = this.K;
    this.stats.docs = N;
    this.stats.tokens = this.cids.length;
    this.pos = new Map(this.docIds.map((d, i) => [d, i]));
    // Each passage's distinct centroids, with a stamp per centroid.
    const stamp = new Int32Array(K).fill(-1);
    const dc: number[] = [];
    const dOff = new Int32Array(N + 1);
    for (let n = 0; n < N; n++) {
      for (let j = this.offsets[n]!; j < this.offsets[n + 1]!; j++) {
        const c = this.cids[j]!;
        if (stamp[c] !== n) {
          stamp[c] = n;
          dc.push(c);
        }
      }
      dOff[n + 1] = dc.length;
    }
    this.docCentOff = dOff;
    this.docCents = Uint16Array.from(dc);
    // The inverted list: a counting sort of (centroid, passage) pairs, passages ascending.
    const iOff = new Int32Array(K + 1);
    for (const c of this.docCents) iOff[c + 1]!++;
    for (let c = 0; c < K; c++) iOff[c + 1]! += iOff[c]!;
    const fill = iOff.slice(0, K);
    const docs = new Int32Array(this.docCents.length);
    for (let n = 0; n < N; n++) for (let i = dOff[n]!; i < dOff[n + 1]!; i++) docs[fill[this.docCents[i]!]!++] = n;
    this.ivfOff = iOff;
    this.ivfDocs = docs;
    this.upload();
  }

  private upload(): void {
    for (const c of this.chunks) {
      c.codes.dispose();
      c.cids.dispose();
    }
    this.chunks = [];
    const e = this.engine;
    const W = codeWords(this.dim, this.nbits);
    const align = e.gpu.info.limits.minStorageBufferOffsetAlignment ?? 256;
    const limit = Math.min(this.maxChunkBytes ?? Infinity, e.gpu.maxBindingBytes - align);
    const N = this.docIds.length;
    let n = 0;
    while (n < N) {
      const n0 = n;
      const row0 = this.offsets[n0]!;
      while (n < N && (this.offsets[n + 1]! - row0) * W * 4 <= limit) n++;
      if (n === n0) throw new MedRankError(`passage ${n0} alone has more codes than one GPU chunk holds (${limit} bytes)`);
      const rows = this.offsets[n]! - row0;
      const codes = e.empty([rows * W], 'i32').keep();
      const cids = e.empty([Math.ceil(rows / 2)], 'i32').keep();
      e.gpu.write(codes.buffer, this.codes.subarray(row0 * W, (row0 + rows) * W));
      e.gpu.write(cids.buffer, packCids(this.cids.subarray(row0, row0 + rows)));
      this.chunks.push({ row0, rows, n0, n1: n, codes, cids });
    }
  }

  /** How many GPU chunks the codes are split in. */
  get chunkCount(): number {
    return this.chunks.length;
  }

  /**
   * The k best passages of each query q [B, Lq, dim] (every query token counts), best first, as
   * searchIndex returns them: ids and their MaxSim scores over the decompressed vectors.
   */
  async search(
    q: Tensor,
    k: number,
    opts: CompressedSearchOptions = {},
  ): Promise<{ ids: string[][]; scores: number[][]; candidates: number[] }> {
    const e = this.engine;
    if (q.rank !== 3 || q.shape[2] !== this.dim)
      throw new MedRankError(`compressed search: queries must be [B, Lq, ${this.dim}], got [${q.shape}]`);
    const [B, Lq] = q.shape as [number, number, number];
    const N = this.docIds.length;
    const kk = Math.min(k, N, MAX_TOPK);
    if (!Number.isInteger(k) || k < 1) throw new MedRankError(`k = ${describe(k)} must be a positive integer`);
    const nprobe = Math.min(this.K, opts.nprobe ?? 2);
    const ndocs = Math.max(kk, opts.ndocs ?? Math.max(256, 16 * kk));
    const ids: string[][] = [];
    const scores: number[][] = [];
    const candidates: number[] = [];
    const per = Math.max(1, Math.min(QUERY_BATCH, Math.floor(SCORE_BYTES / (Lq * this.K * 4))));
    for (let b0 = 0; b0 < B; b0 += per) {
      const nb = Math.min(per, B - b0);
      const S = await this.centroidScores(q, b0, nb);
      const jobs: Promise<void>[] = [];
      let inFlight = 0;
      const owned: Tensor[] = [];
      const res: { ids: string[]; scores: number[] }[] = new Array(nb);
      try {
        for (let b = 0; b < nb; b++) {
          const Sb = S.subarray(b * Lq * this.K, (b + 1) * Lq * this.K);
          const sel = this.candidatesOf(Sb, Lq, nprobe, ndocs, kk);
          candidates.push(sel.probed);
          const { outs, local } = this.decompress(sel.docs, owned);
          const qb = e.empty([1, Lq, this.dim]);
          owned.push(qb);
          e.gpu.copy(q.buffer, (b0 + b) * Lq * this.dim * 4, qb.buffer, 0, Lq * this.dim * 4);
          const want = Math.min(kk, sel.docs.length);
          jobs.push(
            maxsimSearch(e, qb, null, { vectors: outs, offsets: local }, want).then((r) => {
              res[b] = {
                ids: Array.from(r.ids, (i) => this.docIds[sel.docs[i]!]!),
                scores: Array.from(r.scores),
              };
            }),
          );
          inFlight += local[local.length - 1]! * this.dim * 4;
          if (inFlight > IN_FLIGHT_BYTES) {
            await Promise.all(jobs.splice(0));
            inFlight = 0;
          }
        }
        await Promise.all(jobs);
      } finally {
        for (const t of owned) t.dispose();
      }
      for (const r of res) {
        ids.push(r.ids);
        scores.push(r.scores);
      }
    }
    return { ids, scores, candidates };
  }

  /** Query tokens x centroids [nb * Lq, K] for queries b0 .. b0 + nb, read back. */
  private async centroidScores(q: Tensor, b0: number, nb: number): Promise<Float32Array> {
    const e = this.engine;
    const Lq = q.shape[1]!;
    const part = e.empty([nb * Lq, this.dim]);
    try {
      e.gpu.copy(q.buffer, b0 * Lq * this.dim * 4, part.buffer, 0, nb * Lq * this.dim * 4);
      const s = e.noGrad(() => matmul(part, this.centroidsT.T));
      try {
        return await s.read();
      } finally {
        s.dispose();
      }
    } finally {
      part.dispose();
    }
  }

  /**
   * One query's candidates: the passages of its tokens' top nprobe centroids (more probes while
   * fewer than k), ranked by centroid interaction, the best ndocs in passage order.
   */
  private candidatesOf(
    S: Float32Array,
    Lq: number,
    nprobe: number,
    ndocs: number,
    k: number,
  ): { docs: Int32Array; probed: number } {
    const K = this.K;
    const N = this.docIds.length;
    let cand: number[] = [];
    for (let probe = nprobe; ; probe = Math.min(K, probe * 2)) {
      const mark = new Uint8Array(K);
      for (let i = 0; i < Lq; i++) {
        const row = S.subarray(i * K, (i + 1) * K);
        for (const c of topIndices(row, probe)) mark[c] = 1;
      }
      const seen = new Uint8Array(N);
      cand = [];
      for (let c = 0; c < K; c++) {
        if (!mark[c]) continue;
        for (let j = this.ivfOff[c]!; j < this.ivfOff[c + 1]!; j++) {
          const n = this.ivfDocs[j]!;
          if (!seen[n]) {
            seen[n] = 1;
            cand.push(n);
          }
        }
      }
      if (cand.length >= k || probe === K) break;
    }
    const probed = cand.length;
    if (cand.length > ndocs) {
      // Centroid interaction: sum over query tokens of the best centroid among the passage's.
      const approx = new Float64Array(N);
      const best = new Float32Array(Lq);
      for (const n of cand) {
        best.fill(-Infinity);
        for (let j = this.docCentOff[n]!; j < this.docCentOff[n + 1]!; j++) {
          const c = this.docCents[j]!;
          for (let i = 0; i < Lq; i++) {
            const v = S[i * K + c]!;
            if (v > best[i]!) best[i] = v;
          }
        }
        let s = 0;
        for (let i = 0; i < Lq; i++) s += best[i]!;
        approx[n] = s;
      }
      cand.sort((a, b) => approx[b]! - approx[a]! || a - b);
      cand = cand.slice(0, ndocs);
    }
    return { docs: Int32Array.from(cand).sort(), probed };
  }

  /** The passages' decompressed vectors (split under the binding limit) and their local offsets. */
  private decompress(docs: Int32Array, owned: Tensor[]): { outs: Tensor[]; local: Int32Array } {
    const e = this.engine;
    const dim = this.dim;
    const local = new Int32Array(docs.length + 1);
    docs.forEach((n, i) => (local[i + 1] = local[i]! + this.offsets[n + 1]! - this.offsets[n]!));
    const rows = new Int32Array(local[docs.length]!);
    // Rows as indices into their chunk; docs ascend, so each chunk's rows are one run.
    let c = 0;
    const runs: { chunk: Chunk; r0: number; n: number }[] = [];
    docs.forEach((n, i) => {
      while (n >= this.chunks[c]!.n1) c++;
      const ch = this.chunks[c]!;
      for (let j = this.offsets[n]!; j < this.offsets[n + 1]!; j++) rows[local[i]! + j - this.offsets[n]!] = j - ch.row0;
      const last = runs[runs.length - 1];
      if (last && last.chunk === ch) last.n += local[i + 1]! - local[i]!;
      else runs.push({ chunk: ch, r0: local[i]!, n: local[i + 1]! - local[i]! });
    });
    const rowsT = e.tensor(rows, [rows.length], { dtype: 'i32' });
    owned.push(rowsT);
    // Output pieces of whole passages under the binding limit.
    const limit = e.gpu.maxBindingBytes;
    const outs: Tensor[] = [];
    const starts: number[] = [];
    let i = 0;
    while (i < docs.length) {
      const i0 = i;
      while (i < docs.length && (local[i + 1]! - local[i0]!) * dim * 4 <= limit) i++;
      if (i === i0) i++;
      starts.push(local[i0]!);
      const t = e.empty([local[i]! - local[i0]!, dim]);
      owned.push(t);
      outs.push(t);
    }
    starts.push(local[docs.length]!);
    const store = (ch: Chunk) => ({
      codes: ch.codes,
      cids: ch.cids,
      centroids: this.centroidsT,
      weights: this.weightsT,
      dim,
      nbits: this.nbits,
    });
    for (const run of runs)
      for (let p = 0; p < outs.length; p++) {
        const a = Math.max(run.r0, starts[p]!),
          b = Math.min(run.r0 + run.n, starts[p + 1]!);
        if (a < b) residualDecompressInto(e, store(run.chunk), rowsT.buffer, a, b - a, outs[p]!, a - starts[p]!);
      }
    return { outs, local };
  }

  // ---- the stored record ----------------------------------------------------------------------

  serialize(): CompressedRecord {
    const c = this.codec;
    return {
      format: COMPRESSED_FORMAT,
      dim: c.dim,
      nbits: c.nbits,
      K: this.K,
      docs: this.docIds.length,
      tokens: this.cids.length,
      buildMs: this.stats.buildMs,
      docIds: [...this.docIds],
      offsets: this.offsets.slice().buffer,
      cids: this.cids.slice().buffer,
      codes: this.codes.slice().buffer,
      centroids: c.centroids.slice().buffer,
      cutoffs: c.cutoffs.slice().buffer,
      weights: c.weights.slice().buffer,
    };
  }

  /** An index from its record; a record that is not exactly one is refused before anything is allocated. */
  static deserialize(e: Engine, rec: unknown, opts: { maxChunkBytes?: number } = {}): CompressedIndex {
    const r = checkRecord(rec);
    const codec: ResidualCodec = {
      dim: r.dim,
      nbits: r.nbits,
      centroids: new Float32Array(r.centroids),
      cutoffs: new Float32Array(r.cutoffs),
      weights: new Float32Array(r.weights),
    };
    return new CompressedIndex(
      e,
      codec,
      [...r.docIds],
      new Int32Array(r.offsets),
      new Uint16Array(r.cids),
      new Uint32Array(r.codes),
      opts.maxChunkBytes,
      r.buildMs,
      true,
    );
  }

  dispose(): void {
    for (const c of this.chunks) {
      c.codes.dispose();
      c.cids.dispose();
    }
    this.chunks = [];
    this.centroidsT.dispose();
    this.weightsT.dispose();
  }
}

/** The k largest entries' indices of row (ties: lower index first). */
function topIndices(row: Float32Array, k: number): number[] {
  if (k >= row.length) return Array.from(row.keys());
  const best: number[] = [];
  for (let c = 0; c < row.length; c++) {
    const v = row[c]!;
    if (best.length === k && v <= row[best[k - 1]!]!) continue;
    let i = best.length === k ? k - 1 : best.length;
    if (best.length < k) best.push(c);
    while (i > 0 && row[best[i - 1]!]! < v) {
      best[i] = best[i - 1]!;
      i--;
    }
    best[i] = c;
  }
  return best;
}

function checkLayout(x: Float32Array, dim: number, offsets: Int32Array, docIds: string[]): void {
  if (!Number.isInteger(dim) || dim < 1) throw new MedRankError(`dim = ${describe(dim)} must be a positive integer`);
  const N = offsets.length - 1;
  if (N < 1 || docIds.length !== N)
    throw new MedRankError(`offsets [${offsets.length}] must be one more than the ${docIds.length} passage ids (and >= 2)`);
  if (offsets[0] !== 0 || offsets[N]! * dim !== x.length)
    throw new MedRankError(`offsets must run from 0 to the ${x.length / dim} token vectors, got ${offsets[0]}..${offsets[N]}`);
  for (let n = 0; n < N; n++)
    if (!(offsets[n + 1]! > offsets[n]!)) throw new MedRankError(`passage ${n} has no token vectors (offsets must increase)`);
}

// ---- record ------------------------------------------------------------------------------------

export const COMPRESSED_FORMAT = 1;
/** Bounds a record's counts are checked against before anything is allocated. */
const LIMITS = { dim: 4096, docs: 50_000_000, tokens: 2 ** 31 - 1, idChars: 4096 };

export interface CompressedRecord {
  format: number;
  dim: number;
  nbits: number;
  K: number;
  docs: number;
  tokens: number;
  buildMs: number;
  docIds: string[];
  /** Int32 [docs + 1]. */
  offsets: ArrayBuffer;
  /** Uint16 [tokens]. */
  cids: ArrayBuffer;
  /** Uint32 [tokens * W]. */
  codes: ArrayBuffer;
  /** Float32 [K * dim], [dim * (2^nbits - 1)], [dim * 2^nbits]. */
  centroids: ArrayBuffer;
  cutoffs: ArrayBuffer;
  weights: ArrayBuffer;
}

function checkRecord(rec: unknown): CompressedRecord {
  const bad = (why: string): never => {
    throw new CompressedIndexRecordError(`this compressed index record cannot be read: ${why}; rebuild the index`);
  };
  if (typeof rec !== 'object' || rec === null) bad(`it is ${describe(rec)}, not a record`);
  const r = rec as Record<string, unknown>;
  const int = (name: string, lo: number, hi: number): number => {
    const v = r[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
      bad(`${name} = ${describe(v)} must be an integer in [${lo}, ${hi}]`);
    return v as number;
  };
  if (r.format !== COMPRESSED_FORMAT) bad(`format ${describe(r.format)} is not ${COMPRESSED_FORMAT}`);
  const dim = int('dim', 1, LIMITS.dim);
  const nbits = int('nbits', 1, 8);
  if (!(NBITS as readonly number[]).includes(nbits)) bad(`nbits = ${nbits} must be one of ${NBITS.join(', ')}`);
  const K = int('K', 1, MAX_CENTROIDS);
  const docs = int('docs', 1, LIMITS.docs);
  const tokens = int('tokens', docs, LIMITS.tokens);
  if (typeof r.buildMs !== 'number' || !Number.isFinite(r.buildMs)) bad(`buildMs = ${describe(r.buildMs)} is not a number`);
  const buf = (name: string, bytes: number): ArrayBuffer => {
    const v = r[name];
    if (!(v instanceof ArrayBuffer)) return bad(`${name} is ${describe(v)}, not an ArrayBuffer`);
    if (v.byteLength !== bytes) bad(`${name} holds ${v.byteLength} bytes where ${bytes} were expected (truncated?)`);
    return v;
  };
  const B = 1 << nbits;
  const W = codeWords(dim, nbits);
  const offsets = buf('offsets', (docs + 1) * 4);
  const cids = buf('cids', tokens * 2);
  buf('codes', tokens * W * 4);
  const centroids = buf('centroids', K * dim * 4);
  const cutoffs = buf('cutoffs', dim * (B - 1) * 4);
  const weights = buf('weights', dim * B * 4);
  const ids = r.docIds;
  if (!Array.isArray(ids) || ids.length !== docs) bad(`docIds must be an array of ${docs} ids`);
  const seen = new Set<string>();
  for (const id of ids as unknown[]) {
    if (typeof id !== 'string' || id.length > LIMITS.idChars) bad(`a passage id is ${describe(id)}`);
    if (seen.has(id as string)) bad(`passage id ${describe(id)} appears twice`);
    seen.add(id as string);
  }
  const offs = new Int32Array(offsets);
  if (offs[0] !== 0 || offs[docs] !== tokens) bad(`offsets run ${offs[0]}..${offs[docs]}, not 0..${tokens}`);
  for (let n = 0; n < docs; n++) if (!(offs[n + 1]! > offs[n]!)) bad(`offsets do not increase at passage ${n}`);
  const cs = new Uint16Array(cids);
  for (let t = 0; t < tokens; t++) if (cs[t]! >= K) bad(`token ${t} names centroid ${cs[t]}, but there are ${K}`);
  for (const [name, b] of [
    ['centroids', centroids],
    ['cutoffs', cutoffs],
    ['weights', weights],
  ] as const)
    if (new Float32Array(b).some((v) => !Number.isFinite(v))) bad(`${name} hold a value that is not finite`);
  return r as unknown as CompressedRecord;
}
