// The demo models' training, page side (headless Chromium's WebGPU; scripts/make-demo-models.ts
// drives it). Both models start from the seeded initial weights the CLI serves at /__files/ and
// train with MedRank's own engine:
//  - retriever: InfoNCE with in-batch negatives on inverse-cloze pairs from the demo corpus (a
//    sentence of a passage as the query, the rest of the passage as its positive; BMRetriever's
//    unsupervised stage 1 in spirit: no question is used);
//  - generator: causal LM on the corpus passages, and answer NLL of training-split questions given
//    their gold passage in the prompt format training uses (no validation or test question).
// Returns the trained weights (safetensors) and the loss curves.

import { acquireGpu } from '../../src/gpu/device';
import { viteKernels } from '../../src/gpu/kernels-vite';
import type { Passage, Question } from '../../src/data/datasets';
import { exportMergedWeights } from '../../src/models/export';
import type { AnswerExample } from '../../src/models/generator';
import { ForwardContext } from '../../src/models/lora';
import { loadGenerator, loadRetriever } from '../../src/models/load';
import { urlFiles } from '../../src/models/sources';
import { infoNceLoss } from '../../src/training/losses';
import { PromptBuilder } from '../../src/training/prompts';
import { AdamW, mul, sumAll, Engine } from '../../src/tensor';
import { mulberry32 } from '../../src/tensor/random';
import { docText } from '../../src/retrieval/index';

export interface DemoTrainSettings {
  seed: number;
  retriever: { steps: number; batch: number; lr: number; tau: number };
  generator: { steps: number; batch: number; lr: number; docMaxTokens: number };
  /** Then answers only, given the gold passage, with a fresh optimizer and its own random stream: reading practice. */
  reader: { steps: number; batch: number; lr: number };
}

export interface DemoTrainResult {
  retriever: { weights: number[]; losses: number[]; ms: number };
  generator: { weights: number[]; losses: number[]; ms: number };
  adapter: string;
}

declare global {
  interface Window {
    __trainDemoModels?: (passages: Passage[], train: Question[], s: DemoTrainSettings) => Promise<DemoTrainResult>;
  }
}

const sentences = (text: string): string[] => text.split(/(?<=\.)\s+/).filter((x) => x.trim().length > 0);

window.__trainDemoModels = async (passages, train, s) => {
  const e = new Engine(await acquireGpu({ kernels: viteKernels }));
  const rand = mulberry32(s.seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;

  // ---- retriever: InfoNCE on inverse-cloze pairs -----------------------------------------------
  const r = await loadRetriever(e, urlFiles(`${location.origin}/__files/retriever`, { cache: false }));
  const rParams = r.configureTraining('full');
  const optR = new AdamW(e, rParams, { lr: s.retriever.lr, weightDecay: 0.01, maxGradNorm: 1 });
  const rLosses: number[] = [];
  let t0 = performance.now();
  for (let step = 0; step < s.retriever.steps; step++) {
    const batch: { q: string; d: string }[] = [];
    const used = new Set<string>();
    while (batch.length < s.retriever.batch) {
      const p = pick(passages);
      if (used.has(p.title ?? p.id)) continue; // one passage per condition: no false negatives in the batch
      used.add(p.title ?? p.id);
      const sents = sentences(p.text);
      const i = Math.floor(rand() * sents.length);
      const rest = sents.filter((_, j) => j !== i).join(' ');
      batch.push({ q: sents[i]!, d: docText({ ...p, text: rest || p.text }) });
    }
    const B = batch.length;
    const loss = await e.scopeAsync(async () => {
      const ctx = new ForwardContext(true, s.seed * 7919 + step);
      const q = r.encodeQueries(
        batch.map((x) => x.q),
        ctx,
      );
      const docs = r.encodeDocs(
        batch.map((x) => x.d),
        ctx,
      );
      const scores = r.score(q, docs); // [B, B], positives on the diagonal
      const sv = await scores.read();
      const { loss, grad } = infoNceLoss(
        sv,
        B,
        B,
        batch.map((_, b) => b),
        s.retriever.tau,
      );
      optR.zeroGrad();
      e.backward(sumAll(mul(scores, e.tensor(Float32Array.from(grad), [B, B]))));
      optR.step();
      optR.zeroGrad();
      return loss;
    });
    rLosses.push(loss);
    if (step % 25 === 0) console.log(`retriever step ${step} InfoNCE ${loss.toFixed(4)}`);
  }
  const rWeights = await exportMergedWeights(r.encoder.weights, r.encoder.linears());
  const rMs = performance.now() - t0;

  // ---- generator: causal LM on passages + answers given the gold passage -------------------------
  const g = await loadGenerator(e, urlFiles(`${location.origin}/__files/generator`, { cache: false }));
  const gParams = g.configureTraining({ full: true });
  const optG = new AdamW(e, gParams, { lr: s.generator.lr, weightDecay: 0.01, maxGradNorm: 1 });
  const byId = new Map(passages.map((p) => [p.id, p]));
  const prompts = new PromptBuilder(g, byId, s.generator.docMaxTokens);
  const bos = g.tokenizer.special.bos;
  const qa = train.filter((q) => q.goldDocIds.length > 0);
  const gLosses: number[] = [];
  /** One step of answer NLL (forward, zero grad, backward, update); returns the loss. */
  const lmStep = (opt: AdamW, examples: AnswerExample[], dropoutSeed: number): Promise<number> =>
    e.scopeAsync(async () => {
      const l = g.meanAnswerLoss(examples, { ctx: new ForwardContext(true, dropoutSeed) });
      const v = (await l.read())[0]!;
      opt.zeroGrad();
      e.backward(l);
      opt.step();
      opt.zeroGrad();
      return v;
    });
  t0 = performance.now();
  for (let step = 0; step < s.generator.steps; step++) {
    const examples = Array.from({ length: s.generator.batch }, (_, i) => {
      if (i % 2 === 0) {
        const p = pick(passages);
        return { prompt: bos === null ? [] : [bos], answer: prompts.docTokens(p.id) };
      }
      const q = pick(qa);
      return prompts.example(q, [pick(q.goldDocIds)]);
    }).map((x) => (x.prompt.length ? x : { prompt: x.answer.slice(0, 1), answer: x.answer.slice(1) }));
    const loss = await lmStep(optG, examples, s.seed * 104729 + step);
    gLosses.push(loss);
    if (step % 25 === 0) console.log(`generator step ${step} NLL ${loss.toFixed(4)}`);
  }
  // Phase 2: answers given the gold passage only. Its draws come from their own stream, so this
  // phase gives the same weights whether it follows phase 1 in one run or resumes from its files.
  const readRand = mulberry32(s.seed + 2);
  const optRead = new AdamW(e, gParams, { lr: s.reader.lr, weightDecay: 0.01, maxGradNorm: 1 });
  for (let step = 0; step < s.reader.steps; step++) {
    const examples = Array.from({ length: s.reader.batch }, () => {
      const q = qa[Math.floor(readRand() * qa.length)]!;
      return prompts.example(q, [q.goldDocIds[Math.floor(readRand() * q.goldDocIds.length)]!]);
    });
    const loss = await lmStep(optRead, examples, s.seed * 15485863 + step);
    gLosses.push(loss);
    if (step % 25 === 0) console.log(`reader step ${step} answer NLL ${loss.toFixed(4)}`);
  }
  const gWeights = await exportMergedWeights(g.model.weights, g.model.linears());
  const gMs = performance.now() - t0;
  const info = e.gpu.info;
  return {
    retriever: { weights: Array.from(rWeights), losses: rLosses, ms: rMs },
    generator: { weights: Array.from(gWeights), losses: gLosses, ms: gMs },
    adapter: `${info.vendor}/${info.architecture}`,
  };
};
