// The headless runner's page: loads the retriever and generator the CLI serves at
// /__models/<run>/retriever/ and .../generator/, builds the index with the retriever's initial weights, and runs
// runTraining (src/training/run.ts), the same code the app runs. Step records, evaluations and
// checkpoints go back to the CLI through functions it exposes on the page.

import { acquireGpu } from '../../src/gpu/device';
import { viteKernels } from '../../src/gpu/kernels-vite';
import type { Passage, Question } from '../../src/data/datasets';
import { loadGenerator, loadRetriever } from '../../src/models/load';
import { urlFiles } from '../../src/models/sources';
import { buildIndex } from '../../src/retrieval/index';
import type { TrainConfig } from '../../src/training/config';
import { runTraining, type EvalEntry, type RunCheckpoint, type RunResult } from '../../src/training/run';
import type { StepRecord } from '../../src/training/step';
import { Engine } from '../../src/tensor';

/** A checkpoint with its arrays as plain number lists (what crosses page.evaluate). */
export type WireCheckpoint = Omit<RunCheckpoint, 'params' | 'optimizers'> & {
  params: number[][];
  optimizers: Record<'retriever' | 'generator', { t: number; moments: ({ m: number[]; v: number[] } | null)[] } | null>;
};

export interface ExperimentPageResult {
  result: RunResult;
  adapter: string;
  indexMs: number;
}

declare global {
  interface Window {
    __runExperiment?: (
      config: TrainConfig,
      passages: Passage[],
      questions: Question[],
      opts: { resume: WireCheckpoint | null; stopAfter?: number; profileStep?: number; models: string },
    ) => Promise<ExperimentPageResult>;
    __medrankStep?: (r: StepRecord) => Promise<void>;
    __medrankEval?: (e: EvalEntry) => Promise<void>;
    __medrankCheckpoint?: (c: WireCheckpoint) => Promise<void>;
  }
}

export function toWire(c: RunCheckpoint): WireCheckpoint {
  const opt = (o: RunCheckpoint['optimizers']['retriever']) =>
    o && { t: o.t, moments: o.moments.map((mv) => mv && { m: Array.from(mv.m), v: Array.from(mv.v) }) };
  return {
    ...c,
    params: c.params.map((p) => Array.from(p)),
    optimizers: { retriever: opt(c.optimizers.retriever), generator: opt(c.optimizers.generator) },
  };
}

export function fromWire(c: WireCheckpoint): RunCheckpoint {
  const opt = (o: WireCheckpoint['optimizers']['retriever']) =>
    o && { t: o.t, moments: o.moments.map((mv) => mv && { m: Float32Array.from(mv.m), v: Float32Array.from(mv.v) }) };
  return {
    ...c,
    params: c.params.map((p) => Float32Array.from(p)),
    optimizers: { retriever: opt(c.optimizers.retriever), generator: opt(c.optimizers.generator) },
  };
}

// One engine for every run of the page: its pipelines compile once (runExperiments runs several).
let engine: Promise<Engine> | null = null;

window.__runExperiment = async (config, passages, questions, opts) => {
  engine ??= acquireGpu({ kernels: viteKernels }).then((gpu) => new Engine(gpu));
  const e = await engine;
  const retriever = await loadRetriever(e, urlFiles(`${location.origin}${opts.models}/retriever`, { cache: false }));
  const generator = await loadGenerator(e, urlFiles(`${location.origin}${opts.models}/generator`, { cache: false }));
  const t0 = performance.now();
  const index = await buildIndex(retriever, passages, { batchSize: 32 });
  const indexMs = performance.now() - t0;
  const result = await runTraining(
    { retriever, generator, passages, questions, index },
    config,
    {
      onStep: (r) => {
        void window.__medrankStep?.(r);
        // --profile-step N: GPU time by kernel over step N (timestamp queries, where the adapter has them).
        const timer = e.gpu.timer;
        if (timer && opts.profileStep !== undefined && r.step === opts.profileStep - 1) {
          void timer.collect();
          timer.enabled = true;
        }
        if (timer && opts.profileStep !== undefined && r.step === opts.profileStep) {
          timer.enabled = false;
          void timer.collect().then((k) => {
            const rows = Object.entries(k).sort((a, b) => b[1].ms - a[1].ms);
            const total = rows.reduce((a, [, v]) => a + v.ms, 0);
            console.log(
              `profile of step ${r.step}: ${total.toFixed(0)} ms GPU over ${rows.reduce((a, [, v]) => a + v.count, 0)} timed dispatches: ` +
                rows
                  .slice(0, 12)
                  .map(([n, v]) => `${n} ${v.ms.toFixed(0)} ms (${v.count}x)`)
                  .join(', '),
            );
          });
        }
      },
      onEval: (ev) => void window.__medrankEval?.(ev),
      saveCheckpoint: async (c) => window.__medrankCheckpoint?.(toWire(c)),
      stopAfter: opts.stopAfter,
    },
    opts.resume ? fromWire(opts.resume) : null,
  );
  // The next run loads its own models: free these (and the run's final index) on the device.
  result.index.dispose();
  retriever.dispose();
  generator.model.dispose();
  const info = e.gpu.info;
  return { result: { ...result, index: undefined as never }, adapter: `${info.vendor}/${info.architecture}`, indexMs };
};
