// Small, real-shaped notebook data for the notebook tests: step records, run metas, checkpoints and
// a notebook with one cell of every kind.

import { DEFAULT_CONFIG } from '../../src/training/config';
import { PHASES, type Phase, type StepRecord } from '../../src/training/step';
import type { Notebook, RunCheckpoint, RunMeta } from '../../src/notebook/schema';
import type { EvalResult } from '../../src/training/evaluate';

/** A step record with two questions of three candidates; numbers vary with the step. */
export function stepRecord(step: number, over: Partial<StepRecord> = {}): StepRecord {
  const ms = Object.fromEntries(PHASES.map((p, i) => [p, step + i / 4])) as Record<Phase, number>;
  return {
    step,
    trains: { retriever: true, generator: step % 2 === 0 },
    loss: { retriever: 1.5 - step / 10, generator: step === 1 ? null : 2.25 + step },
    questions: ['q1', 'q2'].map((id, qi) => ({
      id,
      candidates: [0, 1, 2].map((d) => ({
        docId: `d${qi}${d}`,
        score: 10 - d + step / 8,
        scoreAfter: d === 2 ? null : 10.5 - d,
        prob: [0.5, 0.3, 0.2][d]!,
        sampled: d < 2,
        utility: d === 2 ? null : 1.25 * (d + 1),
        gold: d === 0,
      })),
      spearman: qi === 0 ? 0.5 : null,
      kendall: qi === 0 ? 1 / 3 : null,
    })),
    alignment: { spearman: 0.5, kendall: 1 / 3 },
    recall: { 1: 0.5, 5: 1 },
    ms,
    gpuBytes: 1024 * (step + 1),
    ...over,
  };
}

export function evalResult(over: Partial<EvalResult> = {}): EvalResult {
  return {
    questions: 8,
    accuracy: { none: 0.25, retrieved: 0.5, oracle: 0.875 },
    scored: 8,
    recall: { 1: 0.25, 5: 0.5, 10: 0.75 },
    mrr10: 0.4,
    alignment: { spearman: 0.1, kendall: 0.05 },
    ms: 1234.5,
    ...over,
  };
}

export function runMeta(id: string, notebookId: string, over: Partial<RunMeta> = {}): RunMeta {
  return {
    id,
    notebookId,
    cellId: 'c5',
    name: `jmlr-code #${id}`,
    createdAt: 1000,
    config: { ...DEFAULT_CONFIG, steps: 4, evalLimit: 8 },
    models: { retriever: { kind: 'demo' }, generator: { kind: 'hub', repo: 'owner/gen', revision: 'main' } },
    data: { kind: 'url', format: 'jsonl', urls: { corpus: 'https://example.org/c.jsonl' } },
    status: 'done',
    steps: 2,
    evals: [
      { step: 0, split: 'validation', result: evalResult() },
      { step: 4, split: 'validation', result: evalResult({ recall: { 1: 0.5, 20: 1 } }) },
    ],
    phaseMs: { retrieve: 3.5, utility: 12 },
    message: null,
    checkpointStep: null,
    updatedAt: 2000,
    ...over,
  };
}

export function checkpoint(step: number, seed = 1): RunCheckpoint {
  const f = (n: number, k: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.fround(seed * k + i / 7));
  return {
    step,
    config: { ...DEFAULT_CONFIG, steps: 4 },
    params: [f(5, 1), f(3, 2)],
    optimizers: {
      retriever: { t: step, moments: [{ m: f(5, 3), v: f(5, 4) }] },
      generator: { t: step, moments: [null] },
    },
    records: [stepRecord(0)],
    evals: [],
  };
}

/** A notebook with one cell of every kind (run references to r1, r2). */
export function fullNotebook(id = 'nb1'): Notebook {
  return {
    id,
    title: 'Test notebook, "quoted"',
    updatedAt: 5,
    cells: [
      { id: 'c1', kind: 'markdown', text: '# Hi\n\n- a list' },
      { id: 'c2', kind: 'data', source: { kind: 'files', format: 'beir', names: { corpus: 'corpus.jsonl' } } },
      {
        id: 'c3',
        kind: 'models',
        retriever: { kind: 'url', url: 'https://example.org/r/' },
        generator: { kind: 'folder', label: 'gen' },
      },
      { id: 'c4', kind: 'index' },
      { id: 'c5', kind: 'train', preset: 'jomed', overrides: { sampled: 40, lrRetriever: 2e-5, s2attn: null } },
      { id: 'c6', kind: 'evaluate', split: 'test', limit: 20, last: { at: 7, runId: 'r1', result: evalResult() } },
      { id: 'c7', kind: 'inspect', runId: 'r1', questionId: 'q2', step: 1 },
      { id: 'c8', kind: 'compare', runIds: ['r1', 'r2'] },
    ],
  };
}
