// A training run's configuration: one JSON object, the same in the app and in the headless
// runner (`npm run experiment`). Presets ship as files in public/presets/. validateConfig names
// the field and what to put there for every bad value, before anything runs.

import { MedRankError } from '../core/errors';
import * as S from '../core/schema';

export class ConfigError extends MedRankError {
  // Explicit: the page branches on the name, which a minifier may shorten on the class.
  override name = 'ConfigError';
  constructor(
    /** The field's path ('generatorLora.r'; '' for the config as a whole). */
    readonly field: string,
    /** What is wrong there, without the prefix. */
    readonly problem: string,
  ) {
    super(`config${field ? `.${field}` : ''}: ${problem}`);
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
export const PRETRAIN_PAIRS = ['none', 'title', 'ict'] as const;
export type PretrainPairs = (typeof PRETRAIN_PAIRS)[number];
export type Schedule = (typeof SCHEDULES)[number];

/** Most steps a run may take (a run carries one record per step; notebook files bound them the same). */
export const MAX_STEPS = 100_000;

/**
 * Every field of a training config, declared once: the type (TrainConfig) and the checked reading
 * (resolveConfig, the notebook and results importers) both come from here. The rules between
 * fields (sampled <= candidates, ...) are in validateConfig.
 */
export const TRAIN_CONFIG = S.object(
  {
    name: S.str({ max: 200, nonEmpty: true, hint: 'a run name (up to 200 characters)' }),
    /** Fixes initialisation of adapters, data order, sampling and dropout. */
    seed: S.int({ min: 0, max: 2 ** 32 - 1 }),
    /**
     * Updates to apply. 0 is an evaluation only (the models as they are, before any update): it
     * needs evalAtStart, or the run would do nothing (validateConfig refuses that).
     */
    steps: S.int({ min: 0, max: MAX_STEPS }),
    /** Questions per step. */
    batchSize: S.int({ min: 1, max: 64 }),
    schedule: S.literal(SCHEDULES),
    stagedReaderFraction: S.num({ min: 0, max: 1, minExclusive: true, maxExclusive: true }),
    retrieverLoss: S.literal(RETRIEVER_LOSSES),
    /** K: candidates per question, top-K by MaxSim from the index. */
    candidates: S.int({ min: 2, max: 100 }),
    /** n: documents whose utility the generator measures per question. */
    sampled: S.int({ min: 1, max: 100 }),
    /** Draw the n documents by weighted sampling without replacement (JMLR); false: the top n. */
    sampling: S.bool(),
    samplingTemperature: S.num({ min: 0, minExclusive: true }),
    /** LLM-Rank: leave out pairs whose answer NLLs differ by less than this (0: every pair, as JMLR's code). */
    llmRankMargin: S.num({ min: 0 }),
    /** Retriever and generator temperatures of the KL losses (PDist, LOOP use tauS for both). */
    tauS: S.num({ min: 0, minExclusive: true }),
    tauG: S.num({ min: 0, minExclusive: true }),
    jomedPrior: S.bool(),
    /** JOMED: a question whose documents all lead to the same prediction gets weight 0. */
    jomedWeighting: S.bool(),
    /** InfoNCE temperature (retriever-only contrastive training). */
    infoNceTau: S.num({ min: 0, minExclusive: true }),
    /** InfoNCE also against the batch's other questions' candidates (in-batch negatives, BMRetriever). */
    inBatchNegatives: S.bool(),
    /**
     * Unsupervised contrastive pretraining (BMRetriever's first stage): the step's queries come from
     * the corpus, not the questions. 'title': a passage's title against its text; 'ict' (inverse
     * cloze): one sentence of a passage against the passage without it. 'none': the questions.
     */
    pretrainPairs: S.literal(PRETRAIN_PAIRS),
    /** m: documents in the generator's context for its own loss and for evaluation. */
    topM: S.int({ min: 1, max: 20 }),
    /** The generator's loss: NLL given the top-m concatenated (JMLR) or the mean over each alone. */
    generatorContext: S.literal(['concat', 'per-document'] as const),
    /** Document tokens kept per passage in the generator's prompt. */
    docMaxTokens: S.int({ min: 4, max: 4096 }),
    /** 'query': document vectors come from the index (fixed); 'both': candidates are re-encoded with gradient. */
    retrieverSide: S.literal(['query', 'both'] as const),
    retrieverTraining: S.literal(['projection', 'lora', 'full'] as const),
    /** LoRA on the generator: rank up to 1,024 (far above any useful rank; bounds what the worker allocates). */
    generatorLora: S.object(
      {
        r: S.int({ min: 1, max: 1024 }),
        alpha: S.num({ min: 0, max: 1e6, minExclusive: true }),
        dropout: S.num({ min: 0, max: 1, maxExclusive: true }),
        targetModules: S.list(S.str({ max: 100, pattern: /^[A-Za-z_][\w.]*$/, hint: 'a module name like "q_proj"' }), {
          min: 1,
          max: 64,
        }),
      },
      '{ r, alpha, dropout, targetModules }',
    ),
    generatorEmbeddings: S.bool(),
    generatorNorms: S.bool(),
    lrRetriever: S.num({ min: 0, max: 1 }),
    lrGenerator: S.num({ min: 0, max: 1 }),
    weightDecay: S.num({ min: 0, max: 10 }),
    maxGradNorm: S.num({ min: 0 }),
    /** Dropout (hidden, LoRA) while training; off makes a step a pure function of its inputs. */
    dropout: S.bool(),
    /** S2-Attn in the generator while training (null: full attention). */
    s2attn: S.nullable(
      S.object(
        { ratio: S.num({ min: 0, max: 1, minExclusive: true }), shift: S.literal(['roll', 'split'] as const) },
        '{ ratio in (0, 1], shift: "roll" | "split" }',
      ),
    ),
    /** Rebuild the index every this many steps when document vectors train (0: never). */
    refreshIndexEvery: S.int({ min: 0, max: MAX_STEPS }),
    /** Keep a checkpoint every this many steps (0: only at the end). */
    checkpointEvery: S.int({ min: 0, max: MAX_STEPS }),
    /** Evaluate on this split (settings are chosen on validation; test is reported once). */
    evalSplit: S.literal(['validation', 'test'] as const),
    /** Evaluate before the first step (off when another run of the same models already did). */
    evalAtStart: S.bool(),
    /** Also evaluate on test at the start and the end (report it once settings are chosen on validation). */
    reportTest: S.bool(),
    /** Evaluate every this many steps besides the start and the end (0: only those two). */
    evalEvery: S.int({ min: 0, max: MAX_STEPS }),
    /** Questions evaluated (0: all of the split). */
    evalLimit: S.int({ min: 0, max: 10_000_000 }),
    /** Candidates over which eval alignment (Spearman, Kendall) is measured. */
    evalAlignmentCandidates: S.int({ min: 2, max: 100 }),
    /**
     * Re-score each step's candidates with the updated retriever (the step's own dropout masks) into
     * CandidateRecord.scoreAfter; costs one retriever forward per step, draws nothing from the step's stream.
     */
    recordScoresAfter: S.bool(),
    /**
     * Training questions in the probe set (0: no probes): a fixed, seeded choice scored every
     * probeEvery steps without an update (src/training/probe.ts), so a question can be followed
     * through a run that trains on it only now and then. Costs probeQuestions x candidates answer NLLs per probe.
     */
    probeQuestions: S.int({ min: 0, max: 64 }),
    /** Score the probe set before every this many steps' update (and before the last step's). */
    probeEvery: S.int({ min: 1, max: MAX_STEPS }),
  },
  'a config (a JSON object of fields, see public/presets/)',
);
export type TrainConfig = S.Infer<typeof TRAIN_CONFIG>;

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
  inBatchNegatives: false,
  pretrainPairs: 'none',
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
  probeQuestions: 0,
  probeEvery: 5,
};

/** The fields of a partial config, each checked alone, copied into a fresh object (own keys only). */
export function configFields(partial: unknown): Partial<TrainConfig> {
  try {
    return TRAIN_CONFIG.partial().parse(partial);
  } catch (err) {
    if (err instanceof S.SchemaError) throw new ConfigError(err.path, err.problem);
    throw err;
  }
}

/** A config from JSON: defaults for what is left out, every field checked. */
export function resolveConfig(partial: unknown): TrainConfig {
  const c: TrainConfig = { ...DEFAULT_CONFIG, ...configFields(partial) };
  validateConfig(c);
  return c;
}

/** Why steps 0 without evalAtStart is refused (the Train cell's Steps field shows it). */
export const STEPS_ZERO_PROBLEM =
  'must be at least 1; 0 means an evaluation only, which needs evalAtStart ("Evaluate before the first step") on';

/** Every field checked, then the rules between fields. */
export function validateConfig(c: TrainConfig): void {
  try {
    TRAIN_CONFIG.parse(c);
  } catch (err) {
    if (err instanceof S.SchemaError) throw new ConfigError(err.path, err.problem);
    throw err;
  }
  if (c.steps === 0 && !c.evalAtStart) throw new ConfigError('steps', STEPS_ZERO_PROBLEM);
  if (c.sampled > c.candidates) throw new ConfigError('sampled', `cannot exceed candidates (${c.sampled} > ${c.candidates})`);
  if (c.topM > c.candidates) throw new ConfigError('topM', `cannot exceed candidates (${c.topM} > ${c.candidates})`);
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
  if (c.retrieverLoss === 'infonce' && c.schedule !== 'retriever-only')
    throw new ConfigError('retrieverLoss', "infonce trains the retriever alone: use it with schedule 'retriever-only'");
  if (c.inBatchNegatives && c.retrieverLoss !== 'infonce')
    throw new ConfigError(
      'inBatchNegatives',
      "in-batch negatives are InfoNCE's: set retrieverLoss to 'infonce', or turn them off",
    );
  if (c.pretrainPairs !== 'none' && c.retrieverLoss !== 'infonce')
    throw new ConfigError(
      'pretrainPairs',
      "pretraining pairs train with InfoNCE: set retrieverLoss to 'infonce' (schedule 'retriever-only')",
    );
  if (c.pretrainPairs !== 'none' && c.retrieverSide !== 'both')
    throw new ConfigError(
      'pretrainPairs',
      "a pretraining pair's positive is not the indexed passage (no title, or a sentence taken out): set retrieverSide to 'both'",
    );
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

/**
 * Does a step of this config draw the documents the generator judges at random (JMLR's sampling),
 * so that each candidate's chance of being drawn means something? Not when sampling is off (the
 * top n are judged), nor where the retriever does not train on utilities (InfoNCE, 'none', and the
 * steps a schedule freezes it).
 */
export function drawsDocuments(c: Pick<TrainConfig, 'sampling' | 'retrieverLoss'>, trains: { retriever: boolean }): boolean {
  return c.sampling && trains.retriever && c.retrieverLoss !== 'infonce' && c.retrieverLoss !== 'none';
}

/** Each retriever loss as a run's name says it. */
export const LOSS_LABELS: Record<RetrieverLoss, string> = {
  'llm-rank': 'LLM-Rank',
  listwise: 'listwise',
  jomed: 'JOMED',
  pdist: 'PDist',
  loop: 'LOOP',
  emdr2: 'EMDR2',
  replug: 'REPLUG',
  'rag-marginal': 'RAG marginal',
  infonce: 'InfoNCE',
  none: 'frozen retriever',
};

/** The schedule a loss runs with unless told otherwise (named in a run's name only when it differs). */
const USUAL_SCHEDULE: Partial<Record<RetrieverLoss, Schedule>> = { infonce: 'retriever-only', none: 'frozen-retriever' };

/** What a run ran, for its name: the retriever loss, and the schedule when it is not the loss's usual one. */
export function methodName(c: Pick<TrainConfig, 'retrieverLoss' | 'schedule'>): string {
  const usual = USUAL_SCHEDULE[c.retrieverLoss] ?? 'synchronous';
  return c.schedule === usual ? LOSS_LABELS[c.retrieverLoss] : `${LOSS_LABELS[c.retrieverLoss]}, ${c.schedule}`;
}

/** One line per retriever loss: what it optimises and whose it is (the Train cell and the step explainer show it). */
export const LOSS_HELP: Record<RetrieverLoss, string> = {
  'llm-rank':
    'JMLR: for each pair of judged documents, the one with the lower answer NLL should score higher (BCE on min-max scaled scores).',
  listwise: "The retriever's softmax over the judged documents fit to the softmax of their negative answer NLLs (KL).",
  jomed: 'JOMED: KL towards the documents that let the generator pick the gold option, weighted by how much they disagree.',
  pdist: "Atlas PDist: the retriever's distribution distilled from the softmax of the negative answer NLLs.",
  loop: 'Atlas LOOP: distilled from how much worse the answer gets when each document is left out.',
  emdr2: "EMDR²: the answer's likelihood marginalised over the documents, token by token, the retriever as the latent choice.",
  replug: "REPLUG LSR: KL towards the LM's (summed) answer likelihood given each document.",
  'rag-marginal': "RAG: the answer's likelihood marginalised over the judged documents.",
  infonce: "Contrastive (BMRetriever, ColBERT): the gold passage against the step's other candidates as hard negatives.",
  none: 'No retriever loss: the retriever stays frozen, only the generator trains (the RAG baseline).',
};

/** One line per schedule. */
export const SCHEDULE_HELP: Record<Schedule, string> = {
  synchronous: 'Both models every step (JMLR).',
  staged: 'The generator first with the retriever frozen, then the retriever with the generator frozen (JOMED).',
  'frozen-retriever': 'Only the generator trains (the RAG baseline).',
  'retriever-only': 'Only the retriever trains (REPLUG with a frozen LM, InfoNCE).',
};
