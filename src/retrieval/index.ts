// The retrieval index: a corpus encoded once into packed vectors on the GPU (plus offsets): a
// ColBERT retriever's kept token vectors, or a dense retriever's one vector per passage,
// persisted in IndexedDB under (weights hash, corpus hash, head version), refreshed by
// re-projecting cached encoder states when only the projection trained, and searched with exact
// batched MaxSim top-k (maxsimSearch). See docs/index.md for how stale an index may get.
// Asked to (compress 'always', or 'auto' above COMPRESS_ABOVE_PASSAGES passages), openIndex also
// gives the index a compressed twin (src/retrieval/compressed.ts, saved beside it), and searches
// without gold ranks use it. Off by default: its recall@10 against exact search is not yet within
// the 0.01 it must hold (bench/README.md, index-scale).
// N = documents, total = kept token vectors, D = hidden size, dim = ColBERT dim.

import { CancelledError, MedRankError } from '../core/errors';
import type { Passage } from '../data/datasets';
import type { EncodedDocs, Retriever, RetrieverKind } from '../models/retriever';
import { embedding, maxsimSearch, type CorpusRank, type Tensor } from '../tensor';
import {
  COMPRESS_ABOVE_PASSAGES,
  CompressedIndex,
  type CompressedBuildOptions,
  type CompressedSearchOptions,
} from './compressed';
import {
  loadCompressedIndex,
  loadIndex,
  saveCompressedIndex,
  saveIndex,
  IndexStorageFullError,
  type DbOptions,
} from './index-db';

export type { DbOptions } from './index-db';
/** What an index was built from: hex SHA-256s of the weights and of the corpus, and a head version counter. */
export interface IndexKey {
  weights: string;
  corpus: string;
  head: number;
}

export interface ColbertIndex {
  key: IndexKey;
  /** SHA-256 of what the encoder states depend on (encoder weights, LoRA, doc options; not the projection). */
  encoderHash: string;
  dim: number;
  docIds: string[];
  /** [N + 1]: doc n owns rows offsets[n] .. offsets[n+1]. */
  offsets: Int32Array;
  /** Packed token vectors [total, dim] on the GPU, kept (dispose() frees them). */
  vectors: Tensor;
  /** Packed encoder states [total, D] (built with keepHidden), for re-projection; else null. */
  hidden: Tensor | null;
  stats: { docs: number; tokens: number; buildMs: number; fromCache: boolean; saveError?: MedRankError };
  /**
   * The same vectors compressed (centroid id + residual codes), when openIndex made one: searches
   * that ask for no gold ranks use it. Dropped when the vectors change (reproject).
   */
  compressed?: CompressedIndex | null;
  /** How searchIndex runs its compressed search. */
  compressedSearch?: CompressedSearchOptions;
  dispose(): void;
}

export function makeIndex(fields: Omit<ColbertIndex, 'dispose'>): ColbertIndex {
  const index: ColbertIndex = {
    ...fields,
    dispose() {
      index.vectors.dispose();
      index.hidden?.dispose();
      index.compressed?.dispose();
      index.compressed = null;
    },
  };
  return index;
}

export {
  saveIndex,
  loadIndex,
  deleteIndex,
  listIndexes,
  closeMedRankDb,
  IndexStorageFullError,
  DB_NAME,
  DB_VERSION,
} from './index-db';

/** buildIndex was cancelled through its AbortSignal; everything it had allocated is freed. */
export class IndexBuildCancelledError extends CancelledError {
  constructor(done: number, total: number) {
    super(`Building the index was cancelled after ${done} of ${total} documents; nothing was kept.`);
  }
}

/** The index cannot be refreshed from what it holds: it needs a rebuild. */
export class IndexStaleError extends MedRankError {}

// ---- hashes --------------------------------------------------------------------------------

const utf8 = new TextEncoder();

async function sha256(data: BufferSource): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data));
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** SHA-256 over a list of digests (each part hashed on its own: no giant concatenation). */
async function combine(parts: Uint8Array[]): Promise<Uint8Array> {
  const all = new Uint8Array(parts.length * 32);
  parts.forEach((p, i) => all.set(p, i * 32));
  return sha256(all);
}

/** SHA-256 (hex) over the passages' ids, titles and texts, in order. */
export async function corpusHash(passages: Passage[]): Promise<string> {
  const parts: Uint8Array[] = [await sha256(utf8.encode(`medrank-corpus-v1:${passages.length}`))];
  for (let i = 0; i < passages.length; i += 4096) {
    const s = passages
      .slice(i, i + 4096)
      .map((p) => JSON.stringify([p.id, p.title ?? null, p.text]))
      .join('\n');
    parts.push(await sha256(utf8.encode(s)));
  }
  return hex(await combine(parts));
}

async function tensorDigest(name: string, t: Tensor | Tensor[]): Promise<Uint8Array> {
  const list = Array.isArray(t) ? t : [t];
  const parts = [await sha256(utf8.encode(`${name}:${list.map((x) => `[${x.shape}]`).join(',')}`))];
  for (const x of list) parts.push(await sha256((await x.read()) as Float32Array<ArrayBuffer>));
  return combine(parts);
}

/**
 * The two hashes of a retriever: `encoder` covers what the encoder states depend on (every
 * weight but the head, LoRA adapters, and its docSignature: ColBERT's docMaxLen and
 * maskPunctuation, the dense retriever's pooling and template); `weights` adds the head
 * (ColBERT's projection). Reads every weight back from the GPU.
 */
export async function retrieverHashes(r: Retriever): Promise<{ encoder: string; weights: string }> {
  const w = r.weights;
  const head = r.headTensors();
  const names = w
    .names()
    .filter((n) => !head.includes(w.tensors.get(n)!))
    .sort();
  const parts = [await sha256(utf8.encode(r.docSignature))];
  for (const n of names) parts.push(await tensorDigest(n, w.rows(n)));
  for (const l of r.linears())
    if (l.lora) {
      parts.push(await tensorDigest(`${l.name}.lora_A`, l.lora.A));
      parts.push(await tensorDigest(`${l.name}.lora_B`, l.lora.B));
      parts.push(await sha256(utf8.encode(`${l.name}.scaling:${l.lora.scaling}`)));
    }
  const encoder = await combine(parts);
  // ColBERT's head is its projection (named so since v1: saved indexes keep their keys).
  const heads = await Promise.all(head.map((t) => tensorDigest('projection', t)));
  const weights = await combine([encoder, ...heads]);
  return { encoder: hex(encoder), weights: hex(weights) };
}

/** SHA-256 (hex) over the encoder weights, LoRA adapters and head (name-sorted), and what the document vectors depend on (docSignature). */
export async function weightsHash(r: Retriever): Promise<string> {
  return (await retrieverHashes(r)).weights;
}

/** The key an index of `passages` built by `r` has now. */
export async function indexKey(r: Retriever, passages: Passage[], head = 0): Promise<IndexKey> {
  return { weights: await weightsHash(r), corpus: await corpusHash(passages), head };
}

// ---- build -------------------------------------------------------------------------------

export interface BuildProgress {
  done: number;
  total: number;
  tokens: number;
}

export interface BuildOptions {
  /** Documents per encoder forward (default 16). */
  batchSize?: number;
  /** Keep the packed encoder states too (for reproject); costs total * D * 4 bytes. */
  keepHidden?: boolean;
  onProgress?: (p: BuildProgress) => void;
  /** Checked between batches; an abort rejects with IndexBuildCancelledError. */
  signal?: AbortSignal;
  /** Head version counter stored in the key (default 0). */
  head?: number;
}

/** Encode `passages` (title and text, as BM25 reads them) into a packed index, batch by batch. */
export async function buildIndex(r: Retriever, passages: Passage[], opts: BuildOptions = {}): Promise<ColbertIndex> {
  const t0 = performance.now();
  const hashes = await retrieverHashes(r);
  const key: IndexKey = { weights: hashes.weights, corpus: await corpusHash(passages), head: opts.head ?? 0 };
  return build(r, passages, key, hashes.encoder, opts, t0);
}

/** The text ColBERT encodes for a passage (the index and the training step must agree). */
export const docText = (p: Passage): string => (p.title ? `${p.title} ${p.text}` : p.text);

async function build(
  r: Retriever,
  passages: Passage[],
  key: IndexKey,
  encoderHash: string,
  opts: BuildOptions,
  t0: number,
): Promise<ColbertIndex> {
  const e = r.engine;
  const N = passages.length;
  if (N === 0) throw new MedRankError('cannot build an index of an empty corpus');
  const bs = opts.batchSize ?? 16;
  if (!Number.isInteger(bs) || bs < 1) throw new MedRankError(`index batchSize must be a positive integer, got ${bs}`);
  const texts = passages.map(docText);
  const D = r.hiddenSize;
  const dim = r.dim;

  // Pass 1: vectors per document (kept tokens; one for a dense retriever), so the packed buffers
  // can be allocated once.
  const offsets = new Int32Array(N + 1);
  for (let b0 = 0; b0 < N; b0 += bs) {
    const counts = r.docVectorCounts(texts.slice(b0, b0 + bs));
    counts.forEach((n, b) => (offsets[b0 + b + 1] = offsets[b0 + b]! + n));
  }
  const total = offsets[N]!;
  const check = (): void => {
    if (opts.signal?.aborted) throw new IndexBuildCancelledError(done, N);
  };
  let done = 0;
  check();

  const vectors = e.empty([total, dim]).keep();
  let hidden: Tensor | null = null;
  try {
    hidden = opts.keepHidden ? e.empty([total, D]).keep() : null;
    for (let b0 = 0; b0 < N; b0 += bs) {
      check();
      const row0 = offsets[b0]!;
      e.scope(() =>
        e.noGrad(() => {
          const states = r.encodeDocStates(texts.slice(b0, b0 + bs));
          const n = states.offsets[states.offsets.length - 1]!;
          if (n !== offsets[Math.min(N, b0 + bs)]! - row0)
            throw new MedRankError(
              `the retriever encoded ${n} vectors for documents ${b0}.. but counted ${offsets[Math.min(N, b0 + bs)]! - row0}`,
            );
          const v = r.project(states.vectors);
          e.gpu.copy(v.buffer, 0, vectors.buffer, row0 * dim * 4, n * dim * 4);
          if (hidden) e.gpu.copy(states.vectors.buffer, 0, hidden.buffer, row0 * D * 4, n * D * 4);
        }),
      );
      await e.gpu.sync(); // one batch at a time: progress is real and an abort is seen
      done = Math.min(N, b0 + bs);
      opts.onProgress?.({ done, total: N, tokens: offsets[done]! });
    }
  } catch (err) {
    vectors.dispose();
    hidden?.dispose();
    throw err;
  }
  return makeIndex({
    key,
    encoderHash,
    dim,
    docIds: passages.map((p) => p.id),
    offsets,
    vectors,
    hidden,
    stats: { docs: N, tokens: total, buildMs: performance.now() - t0, fromCache: false },
  });
}

// ---- refresh -----------------------------------------------------------------------------

/** Rows of the encoder states projected per step in reproject. */
const REPROJECT_ROWS = 4096;

/**
 * Replace the index's vectors with r.project(index.hidden): exact when only the projection (or
 * only the query side) changed since the build. The key's weights hash is cleared (the index
 * cannot be saved until refreshIndex gives it the new one); prefer refreshIndex, which also
 * checks that the encoder is unchanged.
 */
export function reproject(index: ColbertIndex, r: Retriever): void {
  const hidden = index.hidden;
  if (!hidden)
    throw new IndexStaleError(
      'this index holds no encoder states (build it with keepHidden: true to refresh it by re-projection); rebuild it instead',
    );
  const e = hidden.engine;
  const [total, D] = hidden.shape as [number, number];
  if (D !== r.hiddenSize)
    throw new IndexStaleError(`the index's encoder states have D = ${D} but the retriever's encoder has ${r.hiddenSize}`);
  const dim = r.dim;
  const out = e.empty([total, dim]).keep();
  try {
    for (let a = 0; a < total; a += REPROJECT_ROWS) {
      const n = Math.min(REPROJECT_ROWS, total - a);
      e.scope(() =>
        e.noGrad(() => {
          const part = e.empty([n, D]);
          e.gpu.copy(hidden.buffer, a * D * 4, part.buffer, 0, n * D * 4);
          const v = r.project(part);
          e.gpu.copy(v.buffer, 0, out.buffer, a * dim * 4, n * dim * 4);
        }),
      );
    }
  } catch (err) {
    out.dispose();
    throw err;
  }
  index.vectors.dispose();
  index.vectors = out;
  index.compressed?.dispose(); // compressed from the vectors before: stale
  index.compressed = null;
  index.dim = dim;
  index.key = { ...index.key, weights: '' };
}

/**
 * Re-project the index for r's current projection and give it r's weights hash. Throws
 * IndexStaleError when the encoder (weights, LoRA, doc options) changed since the build: then
 * only a rebuild is exact.
 */
export async function refreshIndex(index: ColbertIndex, r: Retriever): Promise<void> {
  const h = await retrieverHashes(r);
  if (h.encoder !== index.encoderHash)
    throw new IndexStaleError(
      'the encoder changed since this index was built (LoRA or full training, or other weights); re-projection ' +
        'would be wrong: rebuild the index',
    );
  reproject(index, r);
  index.key = { ...index.key, weights: h.weights };
}

// ---- search ------------------------------------------------------------------------------

/** Queries encoded per maxsimSearch call. */
const QUERY_BATCH = 32;

/** Each index's document positions by id, made on first use. */
const positions = new WeakMap<ColbertIndex, Map<string, number>>();

function positionsOf(index: ColbertIndex): Map<string, number> {
  let pos = positions.get(index);
  if (!pos) positions.set(index, (pos = new Map(index.docIds.map((d, i) => [d, i]))));
  return pos;
}

/**
 * The index's vectors of these documents, as encodeDocs packs them: each document's rows in order,
 * with offsets (a gather on the GPU, no encoding). An id the index does not hold is an error.
 */
export function indexedDocs(index: ColbertIndex, docIds: readonly string[]): EncodedDocs {
  const pos = positionsOf(index);
  const rows: number[] = [];
  const offsets = new Int32Array(docIds.length + 1);
  docIds.forEach((id, n) => {
    const i = pos.get(id);
    if (i === undefined) throw new MedRankError(`document "${id}" is not in the index: build the index again`);
    for (let j = index.offsets[i]!; j < index.offsets[i + 1]!; j++) rows.push(j);
    offsets[n + 1] = rows.length;
  });
  return { vectors: embedding(index.vectors, rows), offsets };
}

/** Where a query's best-ranked target document (its gold passage) ranks among all the index's documents. */
export interface IndexRank {
  docId: string;
  /** 1-based rank in the search's order over the whole index. */
  rank: number;
  /** How many documents the index holds. */
  of: number;
  /** Its MaxSim score in the search. */
  score: number;
}

/**
 * The top k documents of each query by exact MaxSim over the index. With `opts.targets` (per query
 * a list of document ids, e.g. its gold passages), also where the best-ranked of them ranks among
 * all the index's documents, found in the same search (null: none of them is in the index).
 */
export async function searchIndex(
  index: ColbertIndex,
  r: Retriever,
  queries: string[],
  k: number,
  opts: { targets?: readonly (readonly string[])[] } = {},
): Promise<{ ids: string[][]; scores: number[][]; targets?: (IndexRank | null)[] }> {
  const e = index.vectors.engine;
  if (r.dim !== index.dim)
    throw new IndexStaleError(`the index holds ${index.dim}-dim vectors but the retriever projects to ${r.dim}; rebuild it`);
  const kk = Math.min(k, index.docIds.length);
  const N = index.docIds.length;
  const pos = positionsOf(index);
  const want = opts.targets?.map((ts) => [...new Set(ts.flatMap((id) => (pos.has(id) ? [pos.get(id)!] : [])))]);
  if (index.compressed && !want) return searchCompressed(index.compressed, r, queries, kk, index.compressedSearch);
  const ids: string[][] = [];
  const scores: number[][] = [];
  const targets: (IndexRank | null)[] = [];
  for (let a = 0; a < queries.length; a += QUERY_BATCH) {
    const batch = queries.slice(a, a + QUERY_BATCH);
    const q = e.scope(() => e.noGrad(() => r.encodeQueries(batch)));
    try {
      // Every score is read back only when some query of the batch has a target in the index.
      const rankOf = want?.slice(a, a + batch.length);
      const ask = rankOf?.some((l) => l.length > 0) ? rankOf : undefined;
      const res = await maxsimSearch(e, q, null, { vectors: index.vectors, offsets: index.offsets }, kk, { rankOf: ask });
      for (let b = 0; b < batch.length; b++) {
        ids.push(Array.from(res.ids.subarray(b * kk, (b + 1) * kk), (i) => index.docIds[i]!));
        scores.push(Array.from(res.scores.subarray(b * kk, (b + 1) * kk)));
        if (!want) continue;
        const best = (res.ranks?.[b] ?? []).reduce<CorpusRank | null>((x, y) => (!x || y.rank < x.rank ? y : x), null);
        targets.push(best && { docId: index.docIds[best.doc]!, rank: best.rank, of: N, score: best.score });
      }
    } finally {
      q.dispose();
    }
  }
  return want ? { ids, scores, targets } : { ids, scores };
}

/** searchIndex's result from a compressed index: the same shape, scores over the decompressed vectors. */
async function searchCompressed(
  c: CompressedIndex,
  r: Retriever,
  queries: string[],
  k: number,
  opts: CompressedSearchOptions = {},
): Promise<{ ids: string[][]; scores: number[][] }> {
  const e = c.engine;
  const ids: string[][] = [];
  const scores: number[][] = [];
  for (let a = 0; a < queries.length; a += QUERY_BATCH) {
    const q = e.scope(() => e.noGrad(() => r.encodeQueries(queries.slice(a, a + QUERY_BATCH)))).keep();
    try {
      const res = await c.search(q, k, opts);
      ids.push(...res.ids);
      scores.push(...res.scores);
    } finally {
      q.dispose();
    }
  }
  return { ids, scores };
}

// ---- open --------------------------------------------------------------------------------

export interface OpenOptions extends BuildOptions, DbOptions {
  /** Save a freshly built index (default true). */
  save?: boolean;
  /**
   * Give the index a compressed twin: 'never' (default, until its recall holds), 'auto' from
   * COMPRESS_ABOVE_PASSAGES passages on, or 'always'. It is loaded from IndexedDB under the same key, else built and saved.
   */
  compress?: 'auto' | 'always' | 'never';
  compressOptions?: CompressedBuildOptions;
}

/** Load or build (and save) the compressed twin of an index, as opts.compress asks. */
async function withCompressed(index: ColbertIndex, opts: OpenOptions, kind: RetrieverKind): Promise<ColbertIndex> {
  const mode = opts.compress ?? 'never';
  if (mode === 'never' || (mode === 'auto' && index.docIds.length < COMPRESS_ABOVE_PASSAGES)) return index;
  // The codec's centroids and residuals assume unit-length token vectors (ColBERT's); a dense
  // retriever's pooled states are not normalised, so 'auto' keeps them exact and 'always' refuses.
  if (kind === 'dense') {
    if (mode === 'auto') return index;
    index.dispose();
    throw new MedRankError(
      "the compressed index is built for ColBERT's unit-length token vectors; a dense retriever's vectors are not normalised: open it with compress 'never' or 'auto'",
    );
  }
  const e = index.vectors.engine;
  let c = await loadCompressedIndex(e, index.key, opts);
  if (c && (c.dim !== index.dim || c.docIds.length !== index.docIds.length)) {
    c.dispose();
    c = null;
  }
  if (!c) {
    try {
      c = await CompressedIndex.build(
        e,
        await index.vectors.read(),
        index.dim,
        index.offsets,
        index.docIds,
        opts.compressOptions,
      );
    } catch (err) {
      index.dispose();
      throw err;
    }
    if (opts.save !== false)
      await saveCompressedIndex(index.key, c, index.encoderHash, opts).catch((err: unknown) => {
        if (!(err instanceof IndexStorageFullError)) throw err;
        index.stats.saveError = err;
      });
  }
  index.compressed = c;
  return index;
}

/**
 * The index of `passages` for r's current weights: loaded from IndexedDB when one was saved under
 * the same key (stats.fromCache), otherwise built and saved. A full quota does not lose the build:
 * the index comes back with stats.saveError set.
 */
export async function openIndex(r: Retriever, passages: Passage[], opts: OpenOptions = {}): Promise<ColbertIndex> {
  const t0 = performance.now();
  const hashes = await retrieverHashes(r);
  const key: IndexKey = { weights: hashes.weights, corpus: await corpusHash(passages), head: opts.head ?? 0 };
  const cached = await loadIndex(r.engine, key, opts);
  if (cached) {
    // Built with or without encoder states: a caller that wants them gets a rebuild.
    if (!opts.keepHidden || cached.hidden) return withCompressed(cached, opts, r.kind);
    cached.dispose();
  }
  const index = await build(r, passages, key, hashes.encoder, opts, t0);
  if (opts.save === false) return withCompressed(index, opts, r.kind);
  try {
    await saveIndex(index, opts);
  } catch (err) {
    if (!(err instanceof IndexStorageFullError)) {
      index.dispose();
      throw err;
    }
    index.stats.saveError = err;
  }
  return withCompressed(index, opts, r.kind);
}
