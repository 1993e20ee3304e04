// A training run's configuration: one JSON object, the same in the app and in the headless
// runner (`npm run experiment`). Presets ship as files in public/presets/. validateConfig names
// the field and what to put there for every bad value, before anything runs.

import { MedRankError } from '../core/errors';

export class ConfigError extends MedRankError {
  // Explicit: the page branches on the name, which a minifier may shorten on the class.
  override name = 'ConfigError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`config.${field}: ${message}`);
  }
}

export const RETRIEVER_LOSSES = [
  'llm-rank',
  'listwise',
  'jomed',
  'pdist',
  'loop',
  'emdr2',
  'replug',
  'rag-marginal',
  'infonce',
  'none',
] as const;
export type RetrieverLoss = (typeof RETRIEVER_LOSSES)[number];

/**
 * synchronous: both models every step (JMLR). staged: the reader with the retriever frozen for
 * `stagedReaderFraction` of the steps, then the retriever with the reader frozen (JOMED).
 * frozen-retriever: RAG baseline, only the generator trains. retriever-only: only the retriever.
 */
export const SCHEDULES = ['synchronous', 'staged', 'frozen-retriever', 'retriever-only'] as const;
export type Schedule = (typeof SCHEDULES)[number];

export interface TrainConfig {
  name: string;
  /** Fixes initialisation of adapters, data order, sampling and dropout. */
  seed: number;
  steps: number;
  /** Questions per step. */
  batchSize: number;
  schedule: Schedule;
  stagedReaderFraction: number;
  retrieverLoss: RetrieverLoss;
  /** K: candidates per question, top-K by MaxSim from the index. */
  candidates: number;
  /** n: documents whose utility the generator measures per question. */
  sampled: number;
  /** Draw the n documents by weighted sampling without replacement (JMLR); false: the top n. */
  sampling: boolean;
  samplingTemperature: number;
  /** LLM-Rank: leave out pairs whose answer NLLs differ by less than this (0: every pair, as JMLR's code). */
  llmRankMargin: number;
  /** Retriever and generator temperatures of the KL losses (PDist, LOOP use tauS for both). */
  tauS: number;
  tauG: number;
  jomedPrior: boolean;
  /** JOMED: a question whose documents all lead to the same prediction gets weight 0. */
  jomedWeighting: boolean;
  /** InfoNCE temperature (retriever-only contrastive training). */
  infoNceTau: number;
  /** m: documents in the generator's context for its own loss and for evaluation. */
  topM: number;
  /** The generator's loss: NLL given the top-m concatenated (JMLR) or the mean over each alone. */
  generatorContext: 'concat' | 'per-document';
  /** Document tokens kept per passage in the generator's prompt. */
  docMaxTokens: number;
  /** 'query': document vectors come from the index (fixed); 'both': candidates are re-encoded with gradient. */
  retrieverSide: 'query' | 'both';
  retrieverTraining: 'projection' | 'lora' | 'full';
  generatorLora: { r: number; alpha: number; dropout: number; targetModules: string[] };
  generatorEmbeddings: boolean;
  generatorNorms: boolean;
  lrRetriever: number;
  lrGenerator: number;
  weightDecay: number;
  maxGradNorm: number;
  /** Dropout (hidden, LoRA) while training; off makes a step a pure function of its inputs. */
  dropout: boolean;
  /** S2-Attn in the generator while training (null: full attention). */
  s2attn: { ratio: number; shift: 'roll' | 'split' } | null;
  /** Rebuild the index every this many steps when document vectors train (0: never). */
  refreshIndexEvery: number;
  /** Keep a checkpoint every this many steps (0: only at the end). */
  checkpointEvery: number;
  /** Evaluate on this split (settings are chosen on validation; test is reported once). */
  evalSplit: 'validation' | 'test';
  /** Evaluate before the first step (off when another run of the same models already did). */
  evalAtStart: boolean;
  /** Also evaluate on test at the start and the end (report it once settings are chosen on validation). */
  reportTest: boolean;
  /** Evaluate every this many steps besides the start and the end (0: only those two). */
  evalEvery: number;
  /** Questions evaluated (0: all of the split). */
  evalLimit: number;
  /** Candidates over which eval alignment (Spearman, Kendall) is measured. */
  evalAlignmentCandidates: number;
  /**
   * Re-score each step's candidates with the updated retriever (the step's own dropout masks) into
   * CandidateRecord.scoreAfter; costs one retriever forward per step, draws nothing from the step's stream.
   */
  recordScoresAfter: boolean;
}

export const DEFAULT_CONFIG: TrainConfig = {
  name: 'jmlr-code',
  seed: 0,
  steps: 200,
  batchSize: 2,
  schedule: 'synchronous',
  stagedReaderFraction: 0.5,
  retrieverLoss: 'llm-rank',
  candidates: 20,
  sampled: 10,
  sampling: true,
  samplingTemperature: 1,
  llmRankMargin: 0,
  tauS: 1,
  tauG: 1,
  jomedPrior: false,
  jomedWeighting: true,
  infoNceTau: 0.05,
  topM: 5,
  generatorContext: 'concat',
  docMaxTokens: 180,
  retrieverSide: 'both',
  retrieverTraining: 'full',
  generatorLora: { r: 8, alpha: 16, dropout: 0.05, targetModules: ['q_proj', 'v_proj'] },
  generatorEmbeddings: true,
  generatorNorms: true,
  lrRetriever: 3e-6,
  lrGenerator: 1e-5,
  weightDecay: 0,
  maxGradNorm: 1,
  dropout: true,
  s2attn: { ratio: 0.25, shift: 'roll' },
  refreshIndexEvery: 50,
  checkpointEvery: 50,
  evalSplit: 'validation',
  evalAtStart: true,
  reportTest: false,
  evalEvery: 0,
  evalLimit: 0,
  evalAlignmentCandidates: 10,
  recordScoresAfter: false,
};

/** A config from JSON: defaults for what is left out, every field checked. */
export function resolveConfig(partial: Partial<TrainConfig>): TrainConfig {
  if (typeof partial !== 'object' || partial === null || Array.isArray(partial))
    throw new ConfigError('', 'a config is a JSON object of fields (see public/presets/)');
  for (const k of Object.keys(partial))
    if (!(k in DEFAULT_CONFIG))
      throw new ConfigError(k, `unknown field. Known fields: ${Object.keys(DEFAULT_CONFIG).join(', ')}`);
  const c: TrainConfig = { ...DEFAULT_CONFIG, ...partial };
  validateConfig(c);
  return c;
}

export function validateConfig(c: TrainConfig): void {
  const int = (f: keyof TrainConfig, min: number, max = Infinity): void => {
    const v = c[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      throw new ConfigError(
        f,
        `must be an integer from ${min}${max < Infinity ? ` to ${max}` : ' up'} (got ${JSON.stringify(v)})`,
      );
  };
  const pos = (f: keyof TrainConfig, allowZero = false): void => {
    const v = c[f];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0))
      throw new ConfigError(f, `must be a ${allowZero ? 'non-negative' : 'positive'} number (got ${JSON.stringify(v)})`);
  };
  const oneOf = <T extends string>(f: keyof TrainConfig, allowed: readonly T[]): void => {
    if (!allowed.includes(c[f] as T))
      throw new ConfigError(f, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(c[f])})`);
  };
  if (typeof c.name !== 'string' || !c.name.trim()) throw new ConfigError('name', 'give the run a name');
  int('seed', 0, 2 ** 32 - 1);
  int('steps', 0);
  int('batchSize', 1, 64);
  oneOf('schedule', SCHEDULES);
  oneOf('retrieverLoss', RETRIEVER_LOSSES);
  int('candidates', 2, 100);
  int('sampled', 1, 100);
  if (c.sampled > c.candidates) throw new ConfigError('sampled', `cannot exceed candidates (${c.sampled} > ${c.candidates})`);
  for (const f of [
    'sampling',
    'dropout',
    'reportTest',
    'jomedPrior',
    'jomedWeighting',
    'generatorEmbeddings',
    'generatorNorms',
    'evalAtStart',
    'recordScoresAfter',
  ] as const)
    if (typeof c[f] !== 'boolean') throw new ConfigError(f, `must be true or false (got ${JSON.stringify(c[f])})`);
  for (const f of ['samplingTemperature', 'tauS', 'tauG', 'infoNceTau', 'lrRetriever', 'lrGenerator'] as const)
    pos(f, f.startsWith('lr'));
  pos('weightDecay', true);
  pos('llmRankMargin', true);
  pos('maxGradNorm', true);
  if (!(c.stagedReaderFraction > 0 && c.stagedReaderFraction < 1))
    throw new ConfigError('stagedReaderFraction', `must be between 0 and 1 (got ${c.stagedReaderFraction})`);
  int('topM', 1, 20);
  if (c.topM > c.candidates) throw new ConfigError('topM', `cannot exceed candidates (${c.topM} > ${c.candidates})`);
  oneOf('generatorContext', ['concat', 'per-document'] as const);
  int('docMaxTokens', 4, 4096);
  oneOf('retrieverSide', ['query', 'both'] as const);
  oneOf('retrieverTraining', ['projection', 'lora', 'full'] as const);
  const l = c.generatorLora;
  if (!l || !Number.isInteger(l.r) || l.r < 1 || !(l.alpha > 0) || !(l.dropout >= 0 && l.dropout < 1) || !l.targetModules?.length)
    throw new ConfigError(
      'generatorLora',
      'needs { r: integer >= 1, alpha > 0, dropout in [0, 1), targetModules: ["q_proj", ...] }',
    );
  if (c.s2attn !== null && (!(c.s2attn.ratio > 0 && c.s2attn.ratio <= 1) || !['roll', 'split'].includes(c.s2attn.shift)))
    throw new ConfigError('s2attn', 'must be null or { ratio in (0, 1], shift: "roll" | "split" }');
  int('refreshIndexEvery', 0);
  int('checkpointEvery', 0);
  if (
    c.retrieverSide === 'both' &&
    c.refreshIndexEvery > 0 &&
    c.checkpointEvery > 0 &&
    c.checkpointEvery % c.refreshIndexEvery !== 0
  )
    throw new ConfigError(
      'checkpointEvery',
      `must be a multiple of refreshIndexEvery (${c.refreshIndexEvery}) so a resumed run rebuilds the index where the uninterrupted one did`,
    );
  oneOf('evalSplit', ['validation', 'test'] as const);
  int('evalEvery', 0);
  int('evalLimit', 0);
  int('evalAlignmentCandidates', 2, 100);
  if (c.retrieverLoss === 'infonce' && c.schedule !== 'retriever-only')
    throw new ConfigError('retrieverLoss', "infonce trains the retriever alone: use it with schedule 'retriever-only'");
  if (c.retrieverLoss === 'none' && (c.schedule === 'synchronous' || c.schedule === 'staged' || c.schedule === 'retriever-only'))
    throw new ConfigError('retrieverLoss', `'none' leaves the retriever untrained: use schedule 'frozen-retriever'`);
}

/** Does the retriever / generator train at this step? */
export function phaseAt(c: TrainConfig, step: number): { retriever: boolean; generator: boolean } {
  switch (c.schedule) {
    case 'synchronous':
      return { retriever: true, generator: true };
    case 'frozen-retriever':
      return { retriever: false, generator: true };
    case 'retriever-only':
      return { retriever: true, generator: false };
    case 'staged': {
      const reader = step < Math.round(c.steps * c.stagedReaderFraction);
      return { retriever: !reader, generator: reader };
    }
  }
}
