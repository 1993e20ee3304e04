// Test page for e2e/index.spec.ts: opens (builds or loads) the ColBERT index of the demo corpus's
// first passages with the tiny fixture retriever, and reports whether it came from IndexedDB, how
// many encoder forwards ran, and a checksum of the vectors, so a real page reload can be compared.

import { acquireGpu } from '../../src/gpu/device';
import { viteKernels } from '../../src/gpu/kernels-vite';
import { parseJsonlQA } from '../../src/data/datasets';
import { loadColbert } from '../../src/models/load';
import { urlFiles } from '../../src/models/sources';
import { openIndex, searchIndex } from '../../src/retrieval/index';
import { Engine } from '../../src/tensor/tensor';

export interface ProbeResult {
  fromCache: boolean;
  encoderForwards: number;
  docs: number;
  tokens: number;
  checksum: number;
  top: string[];
}

declare global {
  interface Window {
    __openDemoIndex?: (n: number) => Promise<ProbeResult>;
  }
}

window.__openDemoIndex = async (n) => {
  const e = new Engine(await acquireGpu({ kernels: viteKernels }));
  const r = await loadColbert(e, urlFiles(`${location.origin}/test/fixtures/models/tiny-colbert`, { cache: false }));
  const corpus = await (await fetch('/demo/corpus.jsonl')).text();
  const questions = await (await fetch('/demo/questions.jsonl')).text();
  const demo = parseJsonlQA({ questions, corpus }, 'demo');
  const passages = demo.passages.slice(0, n);
  let encoderForwards = 0;
  const forward = r.encoder.forward.bind(r.encoder);
  r.encoder.forward = (...args) => {
    encoderForwards++;
    return forward(...args);
  };
  const index = await openIndex(r, passages, { batchSize: 16 });
  const forwardsToOpen = encoderForwards; // the search below encodes the query too
  const vectors = await index.vectors.read();
  let checksum = 0;
  for (let i = 0; i < vectors.length; i++) checksum += vectors[i]! * ((i % 7) + 1);
  const { ids } = await searchIndex(index, r, [demo.questions[0]!.question], 3);
  return {
    fromCache: index.stats.fromCache,
    encoderForwards: forwardsToOpen,
    docs: index.docIds.length,
    tokens: index.stats.tokens,
    checksum,
    top: ids[0]!,
  };
};
