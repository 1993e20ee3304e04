// The typed protocol between the page and the engine worker (which owns the GPU). Requests and
// responses are discriminated unions keyed by `kind`; every message carries the request `id` so
// the client can match replies. `EngineApi` is the interface both the worker-side engine and the
// page-side client implement, so code above this layer does not care which side it talks to.

import type { GpuInfo } from '../gpu/device';
import type { DatasetFormat } from '../data/datasets';
import type { FolderEntry } from '../models/sources';
import type { SelfTestResult } from '../tensor/selftest';
import type { TrainConfig } from '../training/config';
import type { EvalEntry } from '../training/run';
import type { Phase } from '../training/step';

export type { GpuInfo, SelfTestResult, TrainConfig, EvalEntry, Phase };

// ---- models -----------------------------------------------------------------------------------

export type ModelRole = 'retriever' | 'generator';

/** Where a model's files are: structured-cloneable, so File objects and directory handles pass to the worker. */
export type ModelSourceSpec =
  | { kind: 'hub'; repo: string; revision?: string; endpoint?: string; token?: string }
  | { kind: 'url'; url: string }
  | { kind: 'folder'; entries: FolderEntry[] | FileSystemDirectoryHandle; label?: string };

export interface ModelSummary {
  role: ModelRole;
  label: string;
  /** e.g. 'bert + ColBERT head', 'llama', 'qwen2'. */
  architecture: string;
  tokenizer: string;
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  params: number;
  /** Bytes if every weight trained with AdamW: weights, gradients, optimizer state. */
  memory: { paramBytes: number; gradBytes: number; optimizerBytes: number };
  loadMs: number;
}

// ---- data and index ---------------------------------------------------------------------------

/** Where a dataset's files are: the built-in demo, URLs, or File objects, by the keys of DATASET_FILES. */
export type DatasetSourceSpec =
  | { kind: 'demo' }
  | { kind: 'url'; format: DatasetFormat; urls: Record<string, string> }
  | { kind: 'files'; format: DatasetFormat; files: Record<string, Blob> };

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
  /** Mean milliseconds per step of each phase. */
  phaseMs: Record<Phase, number>;
  /** Steps taken. */
  steps: number;
  /** The index rebuilt with the trained retriever after the run; null when the retriever did not train. */
  index: IndexSummary | null;
}

// ---- requests ---------------------------------------------------------------------------------

export type EngineRequest =
  | { kind: 'init'; id: number }
  | { kind: 'selftest'; id: number }
  | { kind: 'dispose'; id: number }
  | { kind: 'loadModel'; id: number; role: ModelRole; source: ModelSourceSpec }
  | { kind: 'generate'; id: number; prompt: string; maxNewTokens: number; temperature: number; seed: number }
  | { kind: 'retrieve'; id: number; query: string; docs: string[] }
  | { kind: 'loadDataset'; id: number; source: DatasetSourceSpec }
  | { kind: 'buildIndex'; id: number }
  | { kind: 'search'; id: number; query: string; k: number }
  | { kind: 'train'; id: number; config: Partial<TrainConfig> }
  /** Handled at once, not queued: aborts request `target` if it can be cancelled (loadDataset, buildIndex, train). */
  | { kind: 'cancel'; id: number; target: number };

export type RequestKind = EngineRequest['kind'];

/** The requests a `cancel` can stop. */
export type CancellableKind = 'loadDataset' | 'buildIndex' | 'train';

/** The fields a request of kind K carries besides kind and id. */
export type PayloadOf<K extends RequestKind> = Omit<Extract<EngineRequest, { kind: K }>, 'kind' | 'id'>;

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
  /** ...and each evaluation as it finishes. */
  trainEval?: EvalEntry;
}

export type ResultResponse = {
  [K in RequestKind]: { kind: 'result'; id: number; request: K; value: ResultOf[K] };
}[RequestKind];

export interface ErrorResponse {
  kind: 'error';
  id: number;
  /** The thrown error's class name (e.g. 'WebGpuUnavailableError', 'DeviceLostError'). */
  errorClass: string;
  message: string;
}

export type EngineResponse = ProgressResponse | ResultResponse | ErrorResponse;

export type ProgressCallback = (p: Omit<ProgressResponse, 'kind' | 'id'>) => void;

/** Implemented by the engine in the worker and by EngineClient on the page. */
export interface EngineApi {
  init(): Promise<GpuInfo>;
  selftest(onProgress?: ProgressCallback): Promise<SelfTestResult[]>;
  dispose(): Promise<null>;
  /** Download or read a model and put it on the GPU; progress in bytes. */
  loadModel(role: ModelRole, source: ModelSourceSpec, onProgress?: ProgressCallback): Promise<ModelSummary>;
  /** Greedy (temperature 0) or sampled continuation of `prompt` with the loaded generator. */
  generate(p: PayloadOf<'generate'>): Promise<GenerateResult>;
  /** MaxSim scores of the query against each document with the loaded retriever. */
  retrieve(p: PayloadOf<'retrieve'>): Promise<RetrieveResult>;
  /** Read (streamed, progress in bytes) and validate a dataset; it replaces the loaded one. */
  loadDataset(source: DatasetSourceSpec, onProgress?: ProgressCallback): Promise<DatasetSummary>;
  /** Index the dataset's passages with the retriever (IndexedDB first); progress in passages. */
  buildIndex(onProgress?: ProgressCallback): Promise<IndexSummary>;
  /** Top-k passages for a query from the index. */
  search(query: string, k: number): Promise<SearchHit[]>;
  /**
   * Train the loaded retriever and generator jointly (runTraining) on the dataset's training split,
   * starting from the built index; progress per step, with its scalars, and per evaluation. The
   * models stay trained; the index is rebuilt with the trained retriever when it trained.
   */
  train(config: Partial<TrainConfig>, onProgress?: ProgressCallback): Promise<TrainResult>;
  /** Page side only: abort the pending requests of this kind. */
  cancel?(kind: CancellableKind): void;
}

/** Serialize any thrown value as an error response. */
export function errorResponse(id: number, err: unknown): ErrorResponse {
  if (err instanceof Error) return { kind: 'error', id, errorClass: err.name || err.constructor.name, message: err.message };
  return { kind: 'error', id, errorClass: 'Error', message: String(err) };
}
