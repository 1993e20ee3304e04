// ColBERT late interaction: MaxSim scores with their backward, GPU top-k, and exact search over
// corpora larger than one GPU binding (scored chunk by chunk, top-k merged on the GPU).
// B = queries, Lq = query tokens, dim = vector dim, N = documents, L = doc tokens (ragged),
// total = sum of doc lengths, k = results kept per query.
//
// Documents are packed: docs [total, dim] holds every doc's token vectors back to back and the
// host-side offsets [N + 1] say where each starts (doc n is rows offsets[n] .. offsets[n+1]).
// Offsets live on the host so they can be checked before anything runs (and a bad one named).

import { packUniforms, type Binding } from '../../gpu/device';
import { ShapeError, type Engine, type Tensor } from '../tensor';
import { assertF32, contiguous, grid } from './common';

/** The most results a top-k returns per query: a search reads back k, never all N. */
export const MAX_TOPK = 100;
/** Elements one topk_forward workgroup sorts. */
const TOPK_CHUNK = 1024;

interface MaxsimDims {
  B: number;
  Lq: number;
  dim: number;
  N: number;
}

/** Checks offsets against `total` rows and returns them as an Int32Array. */
function checkOffsets(offsets: ArrayLike<number>, total: number, docsShape: string): Int32Array {
  const N = offsets.length - 1;
  if (N < 1)
    throw new ShapeError(
      `maxsim: offsets must hold N + 1 >= 2 values (doc n is rows offsets[n]..offsets[n+1]), got ${offsets.length}`,
    );
  if (offsets[0] !== 0) throw new ShapeError(`maxsim: offsets[0] must be 0, got ${offsets[0]}`);
  for (let n = 0; n < N; n++) {
    const a = offsets[n]!,
      b = offsets[n + 1]!;
    if (!Number.isInteger(b)) throw new ShapeError(`maxsim: offsets[${n + 1}] = ${b} is not an integer`);
    if (b === a)
      throw new ShapeError(
        `maxsim: document ${n} is empty (offsets[${n}] = offsets[${n + 1}] = ${a}); a document needs at least one ` +
          'token vector to match against: drop empty documents before packing the corpus',
      );
    if (b < a) throw new ShapeError(`maxsim: offsets must increase, but offsets[${n}] = ${a} > offsets[${n + 1}] = ${b}`);
  }
  if (offsets[N] !== total)
    throw new ShapeError(
      `maxsim: offsets end at row ${offsets[N]} but docs ${docsShape} has ${total} rows; offsets[N] must equal the ` +
        'number of packed token vectors',
    );
  return Int32Array.from(offsets);
}

/** Checks q [B, Lq, dim] and qMask [B, Lq] (f32) against the docs' dim. */
function checkQuery(q: Tensor, qMask: Tensor | null, dim: number, docsShape: string): { B: number; Lq: number } {
  assertF32(q, 'maxsim q');
  if (q.rank !== 3 || q.shape.some((d) => d < 1))
    throw new ShapeError(`maxsim: q must be [B, Lq, dim] with every dim >= 1, got [${q.shape}]`);
  const [B, Lq, qd] = q.shape as [number, number, number];
  if (qd !== dim)
    throw new ShapeError(
      `maxsim: q [${q.shape}] has vectors of dim ${qd} but docs ${docsShape} has dim ${dim}; encode both with the same projection`,
    );
  if (qMask) {
    assertF32(qMask, 'maxsim qMask');
    if (qMask.rank !== 2 || qMask.shape[0] !== B || qMask.shape[1] !== Lq)
      throw new ShapeError(`maxsim: qMask must be [B, Lq] = [${B}, ${Lq}] for q [${q.shape}], got [${qMask.shape}]`);
  }
  return { B, Lq };
}

function checkK(k: number, N: number, what: string): void {
  if (!Number.isInteger(k) || k < 1 || k > N || k > MAX_TOPK)
    throw new ShapeError(
      `${what}: k = ${k} must be an integer in [1, min(N, ${MAX_TOPK})] with N = ${N} documents; ` +
        `ask for at most ${Math.min(N, MAX_TOPK)} results`,
    );
}

/** scores [B, N] = MaxSim; argmax [B, N, Lq] when given. docs is read from element d0 of its binding. */
function maxsimForwardInto(
  e: Engine,
  q: GPUBuffer,
  mask: GPUBuffer,
  docs: GPUBuffer | Binding,
  d0: number,
  offsets: GPUBuffer,
  scores: GPUBuffer,
  argmax: GPUBuffer | null,
  { B, Lq, dim, N }: MaxsimDims,
): void {
  // One thread per (query, doc), 64 per workgroup. Rows are read 4 floats at a time when each
  // starts on a 16-byte boundary: dim and the chunk's first element d0 multiples of 4.
  const [x, y] = grid(N, 64);
  e.gpu.dispatch({
    kernel: 'maxsim_forward',
    constants: { SAVE_ARGMAX: argmax !== null, VEC: dim % 4 === 0 && d0 % 4 === 0 },
    buffers: [q, mask, docs, offsets, scores, argmax ?? e.placeholder().buffer],
    uniforms: packUniforms([
      ['u32', B],
      ['u32', Lq],
      ['u32', dim],
      ['u32', N],
      ['u32', d0],
    ]),
    workgroups: [x, y, B],
  });
}

function maxsimBackwardInto(
  e: Engine,
  wrt: 0 | 1,
  g: GPUBuffer,
  argmax: GPUBuffer,
  src: GPUBuffer,
  offsets: GPUBuffer,
  dst: GPUBuffer,
  { B, Lq, dim, N }: MaxsimDims,
  accumulate: boolean,
): void {
  e.gpu.dispatch({
    kernel: 'maxsim_backward',
    constants: { WRT: wrt, ACCUMULATE: accumulate },
    buffers: [g, argmax, src, offsets, dst],
    uniforms: packUniforms([
      ['u32', B],
      ['u32', Lq],
      ['u32', dim],
      ['u32', N],
    ]),
    workgroups: grid((wrt === 0 ? B * Lq : N) * dim),
  });
}

function prepare(q: Tensor, qMask: Tensor | null, docs: Tensor, offsets: ArrayLike<number>) {
  assertF32(docs, 'maxsim docs');
  if (docs.rank !== 2 || docs.shape[1]! < 1)
    throw new ShapeError(`maxsim: docs must be the packed corpus [total, dim], got [${docs.shape}]`);
  const [total, dim] = docs.shape as [number, number];
  const docsShape = `[${docs.shape}]`;
  const { B, Lq } = checkQuery(q, qMask, dim, docsShape);
  const offs = checkOffsets(offsets, total, docsShape);
  return { dims: { B, Lq, dim, N: offs.length - 1 }, offs };
}

/**
 * MaxSim scores [B, N] of queries q [B, Lq, dim] (qMask [B, Lq]: 0 drops a query token; null
 * keeps all) against the packed docs [total, dim] split by offsets [N + 1]. Recorded on the tape:
 * gradients flow to q and docs (through the argmax; ties go to the first doc token), not to qMask.
 */
export function maxsim(q: Tensor, qMask: Tensor | null, docs: Tensor, offsets: Int32Array | number[]): Tensor {
  const e = q.engine;
  const { dims, offs } = prepare(q, qMask, docs, offsets);
  q = contiguous(q);
  docs = contiguous(docs);
  const save = e.recording && (q.requiresGrad || docs.requiresGrad);
  const { scores, argmax, offsetsT } = run(e, q, qMask, docs, offs, dims, save);
  if (!save) {
    offsetsT.dispose();
    return scores;
  }
  const am = argmax!;
  e.record('maxsim', [q, docs], scores, (g) => {
    e.addGrad(q, (dst, acc) => maxsimBackwardInto(e, 0, g.buffer, am.buffer, docs.buffer, offsetsT.buffer, dst, dims, acc));
    e.addGrad(docs, (dst, acc) => maxsimBackwardInto(e, 1, g.buffer, am.buffer, q.buffer, offsetsT.buffer, dst, dims, acc));
  });
  return scores;
}

function run(e: Engine, q: Tensor, qMask: Tensor | null, docs: Tensor, offs: Int32Array, dims: MaxsimDims, save: boolean) {
  const offsetsT = e.tensor(offs, [offs.length], { dtype: 'i32' });
  const mask = qMask ? contiguous(qMask) : e.full([dims.B, dims.Lq], 1);
  const scores = e.empty([dims.B, dims.N]);
  const argmax = save ? e.empty([dims.B, dims.N, dims.Lq], 'i32') : null;
  maxsimForwardInto(e, q.buffer, mask.buffer, docs.buffer, 0, offsetsT.buffer, scores.buffer, argmax?.buffer ?? null, dims);
  if (!qMask) mask.dispose();
  return { scores, argmax, offsetsT };
}

/**
 * MaxSim scores together with the argmax [B, N, Lq] (i32 doc row per query token, -1 where
 * masked), without recording a tape: for tests and for callers that route gradients themselves.
 */
export function maxsimWithArgmax(
  q: Tensor,
  qMask: Tensor | null,
  docs: Tensor,
  offsets: Int32Array | number[],
): { scores: Tensor; argmax: Tensor } {
  const e = q.engine;
  const { dims, offs } = prepare(q, qMask, docs, offsets);
  const { scores, argmax, offsetsT } = e.noGrad(() => run(e, contiguous(q), qMask, contiguous(docs), offs, dims, true));
  offsetsT.dispose();
  return { scores, argmax: argmax! };
}

interface TopkDest {
  values: GPUBuffer;
  ids: GPUBuffer;
  /** Row stride of the destination, in elements. */
  stride: number;
  /** First column written. */
  col0: number;
}

/**
 * Top-k of `rows` rows of n candidates (row stride inStride) into dst, k <= MAX_TOPK: one pass of
 * 1024-element chunks per workgroup, then passes over the chunks' top-ks until one chunk remains.
 * Without `ids`, a candidate's id is idBase + its column.
 */
function topkInto(
  e: Engine,
  values: GPUBuffer,
  ids: GPUBuffer | null,
  rows: number,
  n: number,
  inStride: number,
  k: number,
  idBase: number,
  dst: TopkDest,
): void {
  const temps: Tensor[] = [];
  for (;;) {
    const chunks = Math.ceil(n / TOPK_CHUNK);
    const last = chunks === 1;
    let out: TopkDest = dst;
    if (!last) {
      const v = e.empty([rows, chunks * k]);
      const i = e.empty([rows, chunks * k], 'i32');
      temps.push(v, i);
      out = { values: v.buffer, ids: i.buffer, stride: chunks * k, col0: 0 };
    }
    e.gpu.dispatch({
      kernel: 'topk_forward',
      constants: { IDS_IN: ids !== null },
      // A pass over raw scores never reads ids_in; the scores (also read-only) stand in.
      buffers: [values, ids ?? values, out.values, out.ids],
      uniforms: packUniforms([
        ['u32', n],
        ['u32', k],
        ['u32', inStride],
        ['u32', out.stride],
        ['u32', out.col0],
        ['i32', idBase],
      ]),
      workgroups: [chunks, rows],
    });
    if (last) break;
    values = out.values;
    ids = out.ids;
    n = inStride = chunks * k;
    idBase = 0;
  }
  for (const t of temps) t.dispose();
}

/**
 * The k best documents per query of scores [B, N] (k <= min(N, 100)): ids i32 [B, k] and values
 * [B, k], best first; equal scores rank the lower doc id first. Not differentiable.
 */
export function topk(scores: Tensor, k: number): { ids: Tensor; values: Tensor } {
  const e = scores.engine;
  assertF32(scores, 'topk scores');
  if (scores.rank !== 2) throw new ShapeError(`topk: scores must be [B, N], got [${scores.shape}]`);
  const [B, N] = scores.shape as [number, number];
  checkK(k, N, `topk over scores [${scores.shape}]`);
  const s = contiguous(scores);
  const values = e.empty([B, k]);
  const ids = e.empty([B, k], 'i32');
  topkInto(e, s.buffer, null, B, N, N, k, 0, { values: values.buffer, ids: ids.buffer, stride: k, col0: 0 });
  return { ids, values };
}

export interface MaxsimCorpus {
  /** Packed token vectors [total, dim], or consecutive chunks of them, each [rows, dim], split at doc boundaries. */
  vectors: Tensor | Tensor[];
  /** [N + 1] row offsets over the whole corpus (the concatenation of the chunks). */
  offsets: Int32Array;
}

export interface MaxsimSearchOptions {
  /**
   * Most bytes of token vectors scored in one dispatch (default and cap: the adapter's
   * maxStorageBufferBindingSize, less one offset alignment). Tests lower it to force chunking.
   */
  maxChunkBytes?: number;
  /**
   * Per query, documents (indices into the corpus) whose rank over the whole corpus to report,
   * wherever they rank (beyond k too): every document's score is then read back, [B, N] floats.
   */
  rankOf?: readonly (readonly number[])[];
}

/** A document's place in one query's ranking over the whole corpus. */
export interface CorpusRank {
  doc: number;
  /** 1-based, in search order: higher score first, equal scores lower doc id first (as top-k). */
  rank: number;
  score: number;
}

export interface MaxsimSearchResult {
  /** [B, k] doc ids, best first (ties: lower id first). */
  ids: Int32Array;
  /** [B, k] their MaxSim scores. */
  scores: Float32Array;
  /** How many chunks the corpus was scored in. */
  chunks: number;
  /** With opts.rankOf: per query, each asked document's rank, in the order asked. */
  ranks?: CorpusRank[][];
}

/** The rank of doc `n` in `row` (one query's scores of every document) by search order: higher first, ties lower id first. */
export function rankInRow(row: ArrayLike<number>, n: number): number {
  const s = row[n]!;
  let above = 0;
  for (let j = 0; j < row.length; j++) if (row[j]! > s || (row[j] === s && j < n)) above++;
  return above + 1;
}

interface Piece {
  source: Tensor;
  /** Row of `source` where the piece starts. */
  row0: number;
  /** Docs n0 .. n1 - 1. */
  n0: number;
  n1: number;
}

/** Splits the corpus into runs of whole docs whose vectors fit `limit` bytes, inside one source tensor each. */
function planChunks(sources: Tensor[], offs: Int32Array, dim: number, limit: number): Piece[] {
  const N = offs.length - 1;
  const rowBytes = dim * 4;
  const pieces: Piece[] = [];
  let s = 0,
    srcRow0 = 0,
    n = 0;
  while (n < N) {
    const srcEnd = srcRow0 + sources[s]!.shape[0]!;
    if (offs[n]! >= srcEnd) {
      srcRow0 = srcEnd;
      s++;
      continue;
    }
    const n0 = n;
    while (n < N && offs[n + 1]! <= srcEnd && (offs[n + 1]! - offs[n0]!) * rowBytes <= limit) n++;
    if (n === n0) {
      if (offs[n0 + 1]! > srcEnd)
        throw new ShapeError(
          `maxsimSearch: corpus chunk ${s} ends at row ${srcEnd} inside document ${n0} (rows ${offs[n0]}..${offs[n0 + 1]}); ` +
            'split the vectors at document boundaries',
        );
      throw new ShapeError(
        `maxsimSearch: document ${n0} has ${offs[n0 + 1]! - offs[n0]!} token vectors (${(offs[n0 + 1]! - offs[n0]!) * rowBytes} bytes), ` +
          `more than one chunk may hold (${limit} bytes); raise maxChunkBytes or truncate the document`,
      );
    }
    pieces.push({ source: sources[s]!, row0: offs[n0]! - srcRow0, n0, n1: n });
  }
  return pieces;
}

/**
 * Exact MaxSim search: the k best documents per query over the whole corpus (k <= min(N, 100)).
 * Corpora whose vectors exceed one binding are scored in chunks of whole documents; each chunk's
 * top-k lands in a [B, chunks * k] candidate list on the GPU, which one more top-k merges. Only
 * the final [B, k] ids and scores are read back.
 */
export async function maxsimSearch(
  e: Engine,
  q: Tensor,
  qMask: Tensor | null,
  corpus: MaxsimCorpus,
  k: number,
  opts: MaxsimSearchOptions = {},
): Promise<MaxsimSearchResult> {
  const sources = Array.isArray(corpus.vectors) ? corpus.vectors : [corpus.vectors];
  if (sources.length === 0) throw new ShapeError('maxsimSearch: the corpus has no vector chunks');
  for (const t of sources) {
    assertF32(t, 'maxsimSearch corpus vectors');
    if (t.rank !== 2 || t.transposed)
      throw new ShapeError(`maxsimSearch: each vector chunk must be a plain [rows, dim] tensor, got [${t.shape}]`);
  }
  const dim = sources[0]!.shape[1]!;
  const bad = sources.find((t) => t.shape[1] !== dim);
  if (bad) throw new ShapeError(`maxsimSearch: vector chunks differ in dim: [${sources[0]!.shape}] vs [${bad.shape}]`);
  const total = sources.reduce((a, t) => a + t.shape[0]!, 0);
  const docsShape = sources.length === 1 ? `[${sources[0]!.shape}]` : `(${sources.length} chunks, [${total}, ${dim}] together)`;
  const { B, Lq } = checkQuery(q, qMask, dim, docsShape);
  const offs = checkOffsets(corpus.offsets, total, docsShape);
  const N = offs.length - 1;
  checkK(k, N, 'maxsimSearch');
  const rankOf = opts.rankOf;
  if (rankOf) {
    if (rankOf.length !== B) throw new ShapeError(`maxsimSearch: rankOf has ${rankOf.length} lists for ${B} queries`);
    const bad = rankOf.flat().find((n) => !Number.isInteger(n) || n < 0 || n >= N);
    if (bad !== undefined) throw new ShapeError(`maxsimSearch: rankOf asks for document ${bad}, not in [0, ${N})`);
  }

  const align = e.gpu.info.limits.minStorageBufferOffsetAlignment ?? 256;
  const limit = Math.min(opts.maxChunkBytes ?? Infinity, e.gpu.maxBindingBytes - align);
  const pieces = planChunks(sources, offs, dim, limit);

  const owned: Tensor[] = [];
  const own = <T extends Tensor>(t: T): T => (owned.push(t), t);
  /** With rankOf: each chunk's scores [B, Nc], kept to be read back. */
  const kept: { scores: Tensor; n0: number; n1: number }[] = [];
  try {
    const [outV, outI] = e.noGrad(() => {
      // contiguous() hands back the caller's own tensor when it is already contiguous: not ours to free.
      const mine = (x: Tensor, from: Tensor): Tensor => (x === from ? x : own(x));
      const qc = mine(contiguous(q), q);
      const mask = qMask ? mine(contiguous(qMask), qMask) : own(e.full([B, Lq], 1));
      const outV = own(e.empty([B, k]));
      const outI = own(e.empty([B, k], 'i32'));
      const P = pieces.length;
      const candV = P > 1 ? own(e.empty([B, P * k])) : outV;
      const candI = P > 1 ? own(e.empty([B, P * k], 'i32')) : outI;
      for (const [c, pc] of pieces.entries()) {
        const Nc = pc.n1 - pc.n0;
        const local = new Int32Array(Nc + 1);
        for (let n = 0; n <= Nc; n++) local[n] = offs[pc.n0 + n]! - offs[pc.n0]!;
        const offsetsT = e.tensor(local, [Nc + 1], { dtype: 'i32' });
        // Bind from an aligned offset at or before the piece; the kernel skips the first d0 floats.
        const startByte = pc.row0 * dim * 4;
        const aligned = Math.floor(startByte / align) * align;
        // The kernel binds docs as vec4s: the size goes up to whole 16 bytes (the pool's buffers
        // are sized in 16-byte steps, so this stays inside the buffer).
        const end = Math.min(pc.source.buffer.size, Math.ceil((startByte + local[Nc]! * dim * 4) / 16) * 16);
        const binding: Binding = { buffer: pc.source.buffer, offset: aligned, size: end - aligned };
        const scores = e.empty([B, Nc]);
        maxsimForwardInto(e, qc.buffer, mask.buffer, binding, (startByte - aligned) / 4, offsetsT.buffer, scores.buffer, null, {
          B,
          Lq,
          dim,
          N: Nc,
        });
        // A chunk with fewer than k docs fills its tail with sentinels that rank last in the merge.
        topkInto(e, scores.buffer, null, B, Nc, Nc, k, pc.n0, {
          values: candV.buffer,
          ids: candI.buffer,
          stride: P * k,
          col0: c * k,
        });
        if (rankOf) kept.push({ scores: own(scores), n0: pc.n0, n1: pc.n1 });
        else scores.dispose();
        offsetsT.dispose();
      }
      if (P > 1)
        topkInto(e, candV.buffer, candI.buffer, B, P * k, P * k, k, 0, {
          values: outV.buffer,
          ids: outI.buffer,
          stride: k,
          col0: 0,
        });
      return [outV, outI];
    });
    const [scores, ids, ...parts] = await Promise.all([outV.read(), outI.readInt(), ...kept.map((c) => c.scores.read())]);
    if (!rankOf) return { ids, scores, chunks: pieces.length };
    const all = new Float32Array(B * N);
    kept.forEach((c, i) => {
      const Nc = c.n1 - c.n0;
      for (let b = 0; b < B; b++) all.set(parts[i]!.subarray(b * Nc, (b + 1) * Nc), b * N + c.n0);
    });
    const ranks = rankOf.map((docs, b) => {
      const row = all.subarray(b * N, (b + 1) * N);
      return docs.map((doc): CorpusRank => ({ doc, rank: rankInRow(row, doc), score: row[doc]! }));
    });
    return { ids, scores, chunks: pieces.length, ranks };
  } finally {
    for (const t of owned) t.dispose();
  }
}
