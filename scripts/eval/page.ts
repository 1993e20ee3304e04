// Retrieval evaluation, page side: loads the retriever of the model folder the CLI serves at
// /__model/ (ColBERT for a BERT folder, the dense retriever for a decoder folder), indexes the
// passages on this browser's WebGPU adapter and ranks every scored question's top k with MaxSim
// (the dot product for a dense retriever); the CLI computes the metrics from the rankings.

import { acquireGpu } from '../../src/gpu/device';
import { viteKernels } from '../../src/gpu/kernels-vite';
import type { Passage } from '../../src/data/datasets';
import { loadRetriever } from '../../src/models/load';
import { urlFiles } from '../../src/models/sources';
import { buildIndex, searchIndex } from '../../src/retrieval/index';
import { Engine } from '../../src/tensor/tensor';

export interface EvalPageResult {
  /** 'colbert' or 'dense': the key the CLI prints the metrics under. */
  kind: string;
  /** The loaded retriever in words (architecture, pooling). */
  retriever: string;
  rankings: string[][];
  adapter: string;
  indexMs: number;
  searchMs: number;
  tokens: number;
}

declare global {
  interface Window {
    __evalRetriever?: (passages: Passage[], queries: string[], k: number) => Promise<EvalPageResult>;
  }
}

window.__evalRetriever = async (passages, queries, k) => {
  const e = new Engine(await acquireGpu({ kernels: viteKernels }));
  const r = await loadRetriever(e, urlFiles(`${location.origin}/__model`, { cache: false }));
  const t0 = performance.now();
  const index = await buildIndex(r, passages, {
    batchSize: 16,
    onProgress: (p) => p.done % 256 < 16 && console.log(`indexed ${p.done}/${p.total} passages`),
  });
  const t1 = performance.now();
  const { ids } = await searchIndex(index, r, queries, Math.min(k, passages.length));
  const t2 = performance.now();
  const info = e.gpu.info;
  return {
    kind: r.kind,
    retriever: r.kind === 'dense' ? `${r.model.config.family} dense, ${r.opts.pooling} pooling` : 'BERT + ColBERT head',
    rankings: ids,
    adapter: `${info.vendor}/${info.architecture}`,
    indexMs: t1 - t0,
    searchMs: t2 - t1,
    tokens: index.stats.tokens,
  };
};
