// The typed protocol between the page and the engine worker (which owns the GPU). Requests and
// responses are discriminated unions keyed by `kind`; every message carries the request `id` so
// the client can match replies. `EngineApi` is the interface both the worker-side engine and the
// page-side client implement, so code above this layer does not care which side it talks to.
//
// What the notebook reads from it: `train` streams every step's full StepRecord (`trainRecord`,
// every candidate with its score before and, with config.recordScoresAfter, after the update) and
// every checkpoint (`trainCheckpoint`, also one when a run stops early), and resumes from one
// (`runId`, `resume`); `lookup` gives questions and passages by id; `maxsim` opens up one
// (query, document) score token by token; `evaluate` scores a split on demand (cancellable);
// `exportWeights` gives a model's trained weights as a model.safetensors the app loads back;
// `exportBundle` gives the experiment bundle of the loaded data and models for the PyTorch twin.

import type { GpuInfo } from '../gpu/device';
import type { DatasetFormat, QuestionSplit } from '../data/datasets';
import type { DatasetSourceSpec } from '../data/sources';
import type { ModelSourceSpec } from '../models/sources';
import type { FrozenDtype } from '../models/weights';
import type { ModelRole, ModelSummary } from '../models/summary';
import type { SelfTestResult } from '../tensor';
import type { TrainConfig } from '../training/config';
import type { MaxSimExplanation } from '../retrieval/explain';
import type { BundleManifest } from '../training/bundle';
import type { EvalResult } from '../training/evaluate';
import type { LookupDoc, LookupQuestion, LookupResult } from '../training/lookup';
import type { EvalEntry, RunCheckpoint } from '../training/run';
import type { RunStart } from '../training/records';
import type { CandidateRecord, Phase, StepRecord } from '../training/step';

export type {
  RunStart,
  GpuInfo,
  SelfTestResult,
  TrainConfig,
  EvalEntry,
  EvalResult,
  Phase,
  StepRecord,
  CandidateRecord,
  RunCheckpoint,
  MaxSimExplanation,
  QuestionSplit,
  BundleManifest,
};

// ---- models -----------------------------------------------------------------------------------

export type { FrozenDtype, ModelRole, ModelSourceSpec, ModelSummary };

// ---- data and index ---------------------------------------------------------------------------

export type { DatasetSourceSpec };

export interface DatasetSummary {
  name: string;
  format: DatasetFormat;
  questions: number;
  passages: number;
  withGold: number;
  kinds: Record<string, number>;
  loadMs: number;
}

export interface IndexSummary {
  docs: number;
  tokens: number;
  fromCache: boolean;
  buildMs: number;
  /** IndexedDB refused the index (e.g. a full quota): it works for this session only. */
  saveError: string | null;
}

export interface SearchHit {
  id: string;
  score: number;
  text: string;
}

export interface GenerateResult {
  text: string;
  tokens: number;
  ms: number;
}

export interface RetrieveResult {
  /** The documents scored, in the order of the scores. */
  docs: string[];
  scores: number[];
  ms: number;
}

// ---- training ---------------------------------------------------------------------------------

/** The scalars of one training step (the worker keeps the per-candidate records). */
export interface TrainStepSummary {
  /** Steps taken once this one is done (1 for the first), as EvalEntry.step counts. */
  step: number;
  loss: { retriever: number | null; generator: number | null };
  alignment: { spearman: number | null };
  /** Recall of gold passages among the candidates, by k. */
  recall: Record<number, number>;
  /** Wall time of the step, all phases. */
  ms: number;
}

export interface TrainResult {
  evals: EvalEntry[];
  /** Set when the run stopped early (the user, a non-finite loss): at which step and why. */
  stopped: { step: number; message: string } | null;
  /** Set when every step ran but a stop skipped an evaluation still to come: which. */
  skipped: string | null;
  /** Mean milliseconds per step of each phase. */
  phaseMs: Record<Phase, number>;
  /** Steps taken. */
  steps: number;
  /** Where the run's models started (what its record keeps). */
  start: RunStart;
  /** Where the loaded models are now: as this run left them (or as loaded, when it trained nothing). */
  models: RunStart;
  /** The retriever trained: its index is reopened (IndexedDB, else built) when next needed. */
  indexMoved: boolean;
}

/**
 * Where a new run's models start: the loaded checkpoints, or the models as run `runId` left them.
 * A resume sends its run's recorded start (with `step`), which the result gives back as it was.
 */
export type StartRequest = { from: 'loaded' } | { from: 'run'; runId: string; step?: number };

/** Which run a `train` request is, where it starts, and the checkpoint to resume from. */
export interface TrainRunOptions {
  /** The notebook's id of the run (the worker remembers which run last trained the loaded models). */
  runId?: string;
  /** The run's name, for messages ("the retriever as LLM-Rank #2 left it"). */
  runName?: string;
  /** Where it starts (default: the loaded checkpoints). A resume gives the start its run had. */
  start?: StartRequest;
  /** Continue this checkpoint's run (its config must match the request's but for steps and recordScoresAfter). */
  resume?: RunCheckpoint;
}

// ---- inspecting ---------------------------------------------------------------------------------

export type { LookupQuestion, LookupDoc, LookupResult };

export interface ExportedWeights {
  /** 'model.safetensors': put it beside the model's config.json and tokenizer files. */
  fileName: string;
  bytes: Uint8Array;
}

/** An experiment bundle (docs/cluster.md): manifest.json's content and every file it lists, by path in the bundle folder. */
export interface ExportedBundle {
  manifest: BundleManifest;
  files: Record<string, Uint8Array>;
}

// ---- requests ---------------------------------------------------------------------------------

/** What each request carries besides its kind and id. */
export interface Payloads {
  init: Record<string, never>;
  selftest: Record<string, never>;
  dispose: Record<string, never>;
  /**
   * Download or read a model and put it on the GPU; progress in bytes. frozenDtype 'f16' stores the
   * matrices that cannot train under LoRA as packed halves (half the memory; see models/weights.ts):
   * the retriever's projection stays f32, so 'projection' and 'lora' training still work.
   */
  loadModel: { role: ModelRole; source: ModelSourceSpec; frozenDtype?: FrozenDtype };
  /** Greedy (temperature 0) or sampled continuation of `prompt` with the loaded generator. */
  generate: { prompt: string; maxNewTokens: number; temperature: number; seed: number };
  /** MaxSim scores of the query against each document with the loaded retriever. */
  retrieve: { query: string; docs: string[] };
  /** Read (streamed, progress in bytes) and validate a dataset; it replaces the loaded one. Cancellable. */
  loadDataset: { source: DatasetSourceSpec };
  /** Index the dataset's passages with the retriever (IndexedDB first); progress in passages. Cancellable. */
  buildIndex: Record<string, never>;
  /** Top-k passages for a query from the index. */
  search: { query: string; k: number };
  /**
   * Train the loaded retriever and generator jointly (runTraining) on the dataset's training split,
   * from `start`: the loaded checkpoints (default; models a run trained are put back first) or,
   * asked for, the models as run `start.runId` left them (refused with code 'resume-refused' and
   * field 'start' when they are no longer). Progress per step (its scalars in trainStep, its full
   * record in trainRecord), per evaluation (trainEval) and per checkpoint (trainCheckpoint), each
   * with its phase and the run's ETA. The models stay trained; when the retriever trained, its
   * index is reopened when next needed. `resume` continues a checkpoint from the start its run
   * had: refused when that start cannot be had (another run's models were continued and are gone)
   * or when the config differs from the checkpoint's but for steps and recordScoresAfter (then
   * `field` names the first). Cancelling ends it after the step in flight.
   */
  train: { config: Partial<TrainConfig> } & TrainRunOptions;
  /** Put both loaded models back as their checkpoints were loaded (adapters dropped); the index is reopened when next needed. */
  resetModels: Record<string, never>;
  /** Questions and passages of the loaded dataset by id; splits as splitOf with `seed` (default 0) gives them. */
  lookup: { questionIds: string[]; docIds: string[]; seed?: number };
  /**
   * MaxSim of a query against one passage of the loaded dataset, token by token (document vectors
   * from the index when it is built with the loaded retriever); the score equals search's.
   */
  maxsim: { query: string; docId: string };
  /**
   * Evaluate the loaded models on the questions of `split` (splitOf with `seed`, default 0), the
   * first `limit` of them (0: all), with the top `topM` passages (default DEFAULT_CONFIG.topM),
   * each cut to `docMaxTokens` generator tokens (default DEFAULT_CONFIG.docMaxTokens, lowered to
   * fit the generator's positions) and alignment over `alignmentCandidates` (default
   * DEFAULT_CONFIG.evalAlignmentCandidates): what runTraining's evaluations measure. Progress per
   * chunk of questions; cancellable.
   */
  evaluate: {
    split: QuestionSplit;
    limit: number;
    seed?: number;
    topM?: number;
    docMaxTokens?: number;
    alignmentCandidates?: number;
  };
  /** The loaded model's current weights (LoRA merged) as one model.safetensors, loadable with its original config and tokenizer. */
  exportWeights: { role: ModelRole };
  /**
   * The experiment bundle of the loaded dataset and models under `config` (resolved in the worker,
   * as `train` resolves it): the tokenized inputs, and each model's folder with its current weights
   * (or a hub reference when loaded from the hub at a commit and not trained since). `source` names
   * the data in the manifest and README ('public/demo', URLs). Progress by stage.
   */
  exportBundle: { config: Partial<TrainConfig>; source: string };
}

/** Every request kind the engine answers (cancel is the protocol's own). */
export type CallKind = keyof Payloads;
export const CALL_KINDS = [
  'init',
  'selftest',
  'dispose',
  'loadModel',
  'generate',
  'retrieve',
  'loadDataset',
  'buildIndex',
  'search',
  'train',
  'lookup',
  'maxsim',
  'evaluate',
  'exportWeights',
  'exportBundle',
  'resetModels',
] as const satisfies readonly CallKind[];

/** A request as posted: its kind, its id and its payload; `cancel` aborts request `target` (handled at once, not queued). */
export type EngineRequest =
  { [K in CallKind]: { kind: K; id: number } & Payloads[K] }[CallKind] | { kind: 'cancel'; id: number; target: number };

export type RequestKind = EngineRequest['kind'];

/** The fields a request of kind K carries besides kind and id. */
export type PayloadOf<K extends CallKind> = Payloads[K];

/** What each request resolves to. */
export interface ResultOf {
  init: GpuInfo;
  selftest: SelfTestResult[];
  dispose: null;
  loadModel: ModelSummary;
  generate: GenerateResult;
  retrieve: RetrieveResult;
  loadDataset: DatasetSummary;
  buildIndex: IndexSummary;
  search: SearchHit[];
  train: TrainResult;
  lookup: LookupResult;
  maxsim: MaxSimExplanation;
  evaluate: EvalResult;
  exportWeights: ExportedWeights;
  exportBundle: ExportedBundle;
  resetModels: RunStart;
  cancel: boolean;
}

// ---- responses --------------------------------------------------------------------------------

export interface ProgressResponse {
  kind: 'progress';
  id: number;
  done: number;
  total: number;
  message: string;
  /** The self-test streams each case's result with its progress message. */
  case?: SelfTestResult;
  /** Training streams each step's scalars with its progress message... */
  trainStep?: TrainStepSummary;
  /** ...the same step's full record (every question and candidate) beside them... */
  trainRecord?: StepRecord;
  /** ...each evaluation as it finishes... */
  trainEval?: EvalEntry;
  /**
   * ...and each checkpoint: every config.checkpointEvery steps, at the end, and where the run
   * stopped early (so a stopped run resumes from where it stopped). Its own message, no trainStep.
   */
  trainCheckpoint?: RunCheckpoint;
  /** What a run is doing now: a step, an evaluation, a checkpoint, or reopening the index. */
  phase?: RunProgressPhase;
  /** A run's estimate of the milliseconds left, every phase still to come counted (absent: no estimate yet). */
  etaMs?: number;
  /** The index was (re)built or reopened during this request: its summary (the Index cell shows it). */
  index?: IndexSummary;
}

export type RunProgressPhase = 'step' | 'evaluate' | 'checkpoint' | 'index';

export type ResultResponse = {
  [K in RequestKind]: { kind: 'result'; id: number; request: K; value: ResultOf[K] };
}[RequestKind];

/**
 * What kind of failure an error response is, for the page to branch on (never on the message):
 * config (a bad config field: `field` names it), not-ready (models, data or index missing),
 * resume-refused (the checkpoint cannot continue on the loaded models; `field` names a differing
 * config field when that is why), cancelled, model-not-loaded, device-lost, no-webgpu, no-adapter,
 * failed (anything else; the message says what to do).
 */
export const ERROR_CODES = [
  'config',
  'not-ready',
  'resume-refused',
  'cancelled',
  'model-not-loaded',
  'device-lost',
  'no-webgpu',
  'no-adapter',
  'failed',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorResponse {
  kind: 'error';
  id: number;
  code: ErrorCode;
  /** The config field at fault (code 'config', or 'resume-refused' for a differing field); else null. */
  field: string | null;
  /** The thrown error's class name, for the console and bug reports only. */
  errorClass: string;
  message: string;
}

export type EngineResponse = ProgressResponse | ResultResponse | ErrorResponse;

export type ProgressCallback = (p: Omit<ProgressResponse, 'kind' | 'id'>) => void;

/** How a call is watched and stopped: progress messages, and a signal that cancels it. */
export interface CallOptions {
  onProgress?: ProgressCallback;
  /** Aborting it cancels the request (loadDataset, buildIndex, train, evaluate honour it; others finish). */
  signal?: AbortSignal;
}

/**
 * Implemented by the engine in the worker and by EngineClient on the page: one method per request
 * kind, each `(payload, { onProgress, signal })`, so both sides are table-driven (see Payloads).
 */
export type EngineApi = { [K in CallKind]: (payload: Payloads[K], opts?: CallOptions) => Promise<ResultOf[K]> };
