// Index bench page: what building and searching a ColBERT index costs on a real medical corpus
// (PubMedQA contexts + MedMCQA explanations, read and subset by bench/run.ts in Node and handed to
// the page), beside BM25 on the same passages and questions:
//   index-build: medrank buildIndex (tokenize, encode, project, pack) vs bm25-build (Bm25Index);
//   search: medrank searchIndex (encode queries, exact MaxSim top-k) vs bm25-search;
//   recall@10 / MRR@10 of both on the questions' gold passages.
// The ColBERT model is a bench-scale random-weight checkpoint built in memory and loaded through
// folderFiles + loadRetriever (as bench/models.ts does): its recall is chance level, only its
// timings mean anything. N = passages, Q = questions, k = top-k depth.

import { acquireGpu } from '../src/gpu/device';
import { viteKernels } from '../src/gpu/kernels-vite';
import type { Passage } from '../src/data/datasets';
import { aggregate, questionMetrics } from '../src/data/metrics';
import { bertSpecs } from '../src/models/bert';
import { parseConfig, type BertConfig } from '../src/models/config';
import { loadColbert as loadRetriever } from '../src/models/load';
import { folderFiles, type ModelFiles } from '../src/models/sources';
import { buildIndex, searchIndex, type ColbertIndex } from '../src/retrieval/index';
import { Bm25Index } from '../src/retrieval/bm25';
import { writeSafetensors, type WritableTensor } from '../src/tensor/safetensors';
import { Engine } from '../src/tensor/tensor';
import { adapterOf, errorMessage, measure, randomUniform, round } from './common';
import type { BenchRow, PageResult } from './page';

/** What bench/run.ts hands the page: one passage list, the subsets by index, the questions. */
export interface IndexBenchInput {
  corpus: string;
  passages: Passage[];
  /** Each subset holds every gold passage of every question. */
  subsets: Array<{ N: number; indices: number[] }>;
  questions: Array<{ id: string; question: string; goldDocIds: string[] }>;
  notes: string[];
}

const log = (msg: string) => console.log(`[bench index] ${msg}`);

// ---- sizes ----------------------------------------------------------------------------------
// Bench-scale: SwiftShader runs ~1 GFLOP/s, and the whole page has to finish in ~10 minutes.

export const BERT_CONFIG = {
  architectures: ['HF_ColBERT'],
  model_type: 'bert',
  vocab_size: 8192,
  hidden_size: 64,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 256,
  hidden_act: 'gelu',
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  dim: 32,
};
export const COLBERT = { queryMaxLen: 32, docMaxLen: 64 };
export const BUILD_BATCH = 64;
const K = 10;
const WARMUP_DOCS = 32;
const WARMUP_QUERIES = 8;
// BM25: one untimed warm-up, then timed runs until 2 s or 10 runs (at least one).
const BM25_TIMING = { warmup: 1, budgetMs: 2000, maxIters: 10 };

// ---- random checkpoint (as bench/models.ts) ----------------------------------------------------

const tokenizerFiles = import.meta.glob('../test/fixtures/models/tiny-colbert/tokenizer*.json', {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>;

function fixtureTokenizer(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [path, text] of Object.entries(tokenizerFiles)) files[path.slice(path.lastIndexOf('/') + 1)] = text;
  if (!files['tokenizer.json']) throw new Error('no fixture tokenizer tiny-colbert');
  return files;
}

/** Random weights for every spec: LayerNorm scales near 1, biases and matrices small. */
function checkpoint(specs: Array<{ name: string; shape: number[] }>, seed: number): Uint8Array {
  const tensors: Record<string, WritableTensor> = {};
  specs.forEach((s, k) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const u = randomUniform(n, seed * 1000 + k + 1);
    const isNorm = /(LayerNorm|norm)\.weight$/.test(s.name);
    const scale = isNorm ? 0.1 : s.name.endsWith('.bias') ? 0.02 : 0.05;
    for (let i = 0; i < n; i++) u[i] = (isNorm ? 1 : 0) + scale * u[i]!;
    tensors[s.name] = { dtype: 'F32', shape: s.shape, data: u };
  });
  return writeSafetensors(tensors);
}

export function modelFolder(): ModelFiles {
  const config = parseConfig(BERT_CONFIG) as BertConfig;
  const st = checkpoint(
    [...bertSpecs(config, ''), { name: 'linear.weight', shape: [config.colbertDim, config.hiddenSize] }],
    1,
  ) as Uint8Array<ArrayBuffer>;
  const entries = [
    { path: 'config.json', file: new Blob([JSON.stringify(BERT_CONFIG)]) },
    { path: 'model.safetensors', file: new Blob([st]) },
    ...Object.entries(fixtureTokenizer()).map(([path, text]) => ({ path, file: new Blob([text]) })),
  ];
  return folderFiles(entries, { label: 'bench-colbert' });
}

// ---- page ----------------------------------------------------------------------------------------

function quality(rankings: string[][], gold: string[][]): { recall10: number; mrr10: number } {
  const m = aggregate(
    rankings.map((r, i) => questionMetrics(r, gold[i]!, [K])),
    gold,
    [K],
  );
  return { recall10: round(m.recall[K]!, 4), mrr10: round(m.mrr10, 4) };
}

export async function run(input?: Promise<unknown>): Promise<PageResult> {
  if (!input) throw new Error('the index bench needs its corpus from bench/run.ts');
  const data = (await input) as IndexBenchInput;
  const gpu = await acquireGpu({ kernels: viteKernels });
  const e = new Engine(gpu);
  log(
    `adapter ${gpu.info.vendor}/${gpu.info.architecture}; ${data.passages.length} passages, ${data.questions.length} questions`,
  );
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const queries = data.questions.map((q) => q.question);
  const gold = data.questions.map((q) => q.goldDocIds);
  const Q = queries.length;
  const t0 = performance.now();
  try {
    const r = await loadRetriever(e, modelFolder(), { colbert: COLBERT });
    try {
      // Untimed warm-up: compiles the encoder and MaxSim pipelines once for every N.
      const warm = await buildIndex(r, data.passages.slice(0, WARMUP_DOCS), { batchSize: BUILD_BATCH });
      await searchIndex(warm, r, queries.slice(0, WARMUP_QUERIES), K);
      warm.vectors.dispose();
      warm.hidden?.dispose();
      log(`warm-up done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

      for (const { N, indices } of data.subsets) {
        const passages = indices.map((i) => data.passages[i]!);
        // ---- build
        let index: ColbertIndex | null = null;
        try {
          const b0 = performance.now();
          index = await buildIndex(r, passages, { batchSize: BUILD_BATCH });
          const ms = performance.now() - b0;
          const tokens = index.stats.tokens;
          rows.push({
            op: 'index-build',
            N,
            impl: 'medrank',
            ms: round(ms, 1),
            iterations: 1,
            passagesPerSec: round(N / (ms / 1000), 2),
            tokensPerSec: round(tokens / (ms / 1000), 1),
            tokens,
          });
          log(
            `index-build N=${N} medrank: ${(ms / 1000).toFixed(1)} s, ${tokens} vectors, ${(tokens / (ms / 1000)).toFixed(0)} tokens/s`,
          );
        } catch (err) {
          rows.push({ op: 'index-build', N, impl: 'medrank', error: errorMessage(err) });
          log(`index-build N=${N} medrank failed: ${errorMessage(err)}`);
        }
        let bm25 = null as Bm25Index | null; // set in the timed closure
        const bb = await measure(async () => {
          bm25 = new Bm25Index(passages);
        }, BM25_TIMING);
        rows.push({
          op: 'index-build',
          N,
          impl: 'bm25',
          ms: round(bb.ms, 2),
          iterations: bb.iterations,
          passagesPerSec: round(N / (bb.ms / 1000), 1),
        });
        log(`index-build N=${N} bm25: ${bb.ms.toFixed(1)} ms x${bb.iterations}`);

        // ---- search
        if (index) {
          try {
            const s0 = performance.now();
            const res = await searchIndex(index, r, queries, K);
            const ms = performance.now() - s0;
            rows.push({
              op: 'search',
              N,
              impl: 'medrank',
              Q,
              k: K,
              ms: round(ms, 1),
              iterations: 1,
              queriesPerSec: round(Q / (ms / 1000), 2),
              ...quality(res.ids, gold),
            });
            log(`search N=${N} medrank: ${(ms / 1000).toFixed(1)} s for ${Q} queries`);
          } catch (err) {
            rows.push({ op: 'search', N, impl: 'medrank', Q, k: K, error: errorMessage(err) });
            log(`search N=${N} medrank failed: ${errorMessage(err)}`);
          } finally {
            index.vectors.dispose();
            index.hidden?.dispose();
            gpu.pool.trim();
          }
        }
        const idx = bm25!;
        let ranked: string[][] = [];
        const bs = await measure(async () => {
          ranked = queries.map((q) => idx.search(q, K).map((h) => h.id));
        }, BM25_TIMING);
        rows.push({
          op: 'search',
          N,
          impl: 'bm25',
          Q,
          k: K,
          ms: round(bs.ms, 2),
          iterations: bs.iterations,
          queriesPerSec: round(Q / (bs.ms / 1000), 1),
          ...quality(ranked, gold),
        });
        log(`search N=${N} bm25: ${bs.ms.toFixed(1)} ms x${bs.iterations} for ${Q} queries`);
      }
    } finally {
      r.encoder.weights.dispose();
    }
  } finally {
    gpu.destroy();
  }
  log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  return {
    bench: 'index',
    adapter: adapterOf(gpu),
    crossOriginIsolated: self.crossOriginIsolated,
    notes: [
      `Corpus: ${data.corpus}.`,
      ...data.notes,
      `medrank: bench-scale random-weight ColBERT (BERT hidden ${BERT_CONFIG.hidden_size}, ${BERT_CONFIG.num_hidden_layers} layers, ` +
        `${BERT_CONFIG.num_attention_heads} heads, intermediate ${BERT_CONFIG.intermediate_size}, vocab ${BERT_CONFIG.vocab_size}; ColBERT dim ` +
        `${BERT_CONFIG.dim}, queryMaxLen ${COLBERT.queryMaxLen}, docMaxLen ${COLBERT.docMaxLen}) written as safetensors in memory and loaded through ` +
        'folderFiles + loadRetriever with the fixture tokenizer (test/fixtures/models/tiny-colbert: a tiny vocab, so real text splits into many ' +
        'sub-word pieces and most passages reach docMaxLen). colbertv2 is 12 layers of hidden 768, dim 128, docMaxLen 180: ~1000x the encoder FLOPs per token. Sizes were cut from hidden 128, 2 layers, dim 128, ' +
        'docMaxLen 128 (365 tokens/s, 1.4 queries/s at N = 500 in a smoke run) so that N = 5000 fits in minutes on SwiftShader.',
      `index-build medrank: buildIndex (hashes, tokenization, encoder, projection + L2 norm, packing; batchSize ${BUILD_BATCH}), one timed run after an ` +
        `untimed warm-up build of ${WARMUP_DOCS} passages (pipeline compilation); tokens = kept document vectors (padding and punctuation dropped); ` +
        'tokensPerSec = tokens / seconds. bm25: new Bm25Index(passages) (MiniSearch, BM25 k1 0.9, b 0.4).',
      `search medrank: searchIndex (query encoding + exact MaxSim top-${K} over the whole index, 32 queries per batch, ids and scores read back), ` +
        `one timed run over the Q questions after an untimed warm-up of ${WARMUP_QUERIES}. bm25: Bm25Index.search(question, ${K}) for each question.`,
      `BM25 timings: ${BM25_TIMING.warmup} untimed warm-up, then timed runs until ${BM25_TIMING.budgetMs / 1000} s or ${BM25_TIMING.maxIters} runs; ms is the mean.`,
      `recall10 / mrr10: recall@${K} and MRR@10 against the questions' gold passages (src/data/metrics.ts). The medrank retriever has random ` +
        'weights: its recall is chance level and meaningless; only BM25\u2019s says something about the corpus.',
      ...notes,
      'On a software adapter (SwiftShader) GPU numbers are CPU numbers: compare within one run; BM25 runs on the CPU in any case.',
    ],
    rows,
  };
}
