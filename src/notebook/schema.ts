// The notebook's saved shape: a notebook (ordered cells, each with its config) and its runs
// (config, per-step records, evaluations, the latest checkpoint). These types are what IndexedDB
// holds (db.ts) and what a notebook file carries (file.ts); both are versioned, and every older
// version has a migration to the current one. Everything here is plain data: an imported notebook
// is validated field by field and never evaluated.

import type { DatasetFormat } from '../data/datasets';
import type { QuestionSplit } from '../data/datasets';
import type { TrainConfig } from '../training/config';
import type { EvalResult, PerQuestionResult } from '../training/evaluate';
import type { EvalEntry, RunCheckpoint } from '../training/run';
import type { Phase, StepRecord } from '../training/step';

export type { EvalEntry, EvalResult, PerQuestionResult, RunCheckpoint, StepRecord, Phase, TrainConfig, QuestionSplit };

/** Version of the notebook file format (export/import). 2: a run may carry `imported`. */
export const NOTEBOOK_FILE_VERSION = 2;
/** The `format` field of a notebook file. */
export const NOTEBOOK_FILE_FORMAT = 'medrank-notebook';

export const CELL_KINDS = ['markdown', 'data', 'models', 'index', 'train', 'evaluate', 'inspect', 'compare'] as const;
export type CellKind = (typeof CELL_KINDS)[number];

/** Where a model comes from, as a notebook remembers it (a local folder is remembered by name only). */
export type ModelRef =
  | { kind: 'demo' }
  | { kind: 'hub'; repo: string; revision?: string }
  | { kind: 'url'; url: string }
  | { kind: 'folder'; label: string };

/** Where a dataset comes from, as a notebook remembers it (local files by name only). */
export type DataRef =
  | { kind: 'demo' }
  | { kind: 'url'; format: DatasetFormat; urls: Record<string, string> }
  | { kind: 'files'; format: DatasetFormat; names: Record<string, string> };

interface CellBase {
  /** Stable within a notebook: 'c1', 'c2', ... */
  id: string;
}
export interface MarkdownCell extends CellBase {
  kind: 'markdown';
  text: string;
}
export interface DataCell extends CellBase {
  kind: 'data';
  source: DataRef;
}
export interface ModelsCell extends CellBase {
  kind: 'models';
  retriever: ModelRef;
  generator: ModelRef;
}
export interface IndexCell extends CellBase {
  kind: 'index';
}
export interface TrainCell extends CellBase {
  kind: 'train';
  /** A preset name from public/presets (or null), and the fields the user changed. */
  preset: string | null;
  overrides: Partial<TrainConfig>;
}
export interface EvaluateCell extends CellBase {
  kind: 'evaluate';
  split: QuestionSplit;
  /** At most this many questions (0: all of the split). */
  limit: number;
  /** The last evaluation this cell ran (null: not run yet). */
  last: { at: number; runId: string | null; result: EvalResult } | null;
}
export interface InspectCell extends CellBase {
  kind: 'inspect';
  /** The run, question and step shown (null: the latest run, its first question, its last step). */
  runId: string | null;
  questionId: string | null;
  step: number | null;
}
export interface CompareCell extends CellBase {
  kind: 'compare';
  runIds: string[];
}
export type Cell = MarkdownCell | DataCell | ModelsCell | IndexCell | TrainCell | EvaluateCell | InspectCell | CompareCell;

export interface Notebook {
  id: string;
  title: string;
  cells: Cell[];
  /** Date.now() of the last change. */
  updatedAt: number;
}

export type RunStatus = 'running' | 'done' | 'stopped' | 'error' | 'interrupted';

/**
 * Where an imported run was trained: a results.json of `npm run experiment --out` or of the
 * PyTorch twin (docs/cluster.md), as the file says it. Such a run has no checkpoint.
 */
export interface RunOrigin {
  /** The adapter it trained on, as the file names it: 'google/swiftshader', 'pytorch/cuda'. */
  adapter: string;
  /** The data and models as the file names them (paths, bundle folders or hub ids, for the record). */
  data: string;
  models: { retriever: string; generator: string };
  /** The program that trained it, when the file says ('medrank_torch 0.1.0, torch 2.3.1, 8 processes'). */
  engine?: string;
  wallSeconds: number;
  indexMs: number;
  /** The file's name on the computer it was imported from. */
  fileName: string;
  importedAt: number;
}

/** A training run as saved: everything but its step records and checkpoint (stored apart, by run id). */
export interface RunMeta {
  id: string;
  notebookId: string;
  /** The Train cell that started it (its charts show this run). */
  cellId: string;
  /** Shown in charts and lists: 'jmlr-code #3'. */
  name: string;
  createdAt: number;
  config: TrainConfig;
  /** Models and data it ran on, for the record. */
  models: { retriever: ModelRef; generator: ModelRef } | null;
  data: DataRef | null;
  /** 'running' on disk after a reload means the tab closed mid-run: it loads as 'interrupted'. */
  status: RunStatus;
  /** Steps recorded. */
  steps: number;
  evals: EvalEntry[];
  /** Mean ms per step of each phase (at the end). */
  phaseMs: Partial<Record<Phase, number>>;
  /** Why it stopped or failed. */
  message: string | null;
  /** Step of the saved checkpoint (null: none). */
  checkpointStep: number | null;
  updatedAt: number;
  /** Set on a run imported from a results file: where it was trained (absent: in this browser). */
  imported?: RunOrigin;
}

/** One run as a notebook file carries it: no checkpoint (weights export as safetensors). */
export interface RunFile {
  meta: RunMeta;
  records: StepRecord[];
}

/** The `format` a results file may name (`npm run experiment --out` writes none: version 1). */
export const RESULTS_FILE_FORMAT = 'medrank-experiment-results';
/** The results file version this page reads (a file's optional `formatVersion`; absent: 1). */
export const RESULTS_FILE_VERSION = 1;

/**
 * One run's results as `npm run experiment --out` (scripts/experiment.ts) and the PyTorch twin
 * (docs/cluster.md) write them: what it ran, where, and every step record and evaluation.
 */
export interface ExperimentResults {
  config: TrainConfig;
  /** The dataset as the runner names it (a path, the bundle's data source). */
  data: string;
  /**
   * The models as labels: the runner's paths, or the twin's bundle references as 'bundle
   * retriever/' and 'hub:owner/name@<commit>'.
   */
  models: { retriever: string; generator: string };
  /** The adapter it ran on: 'google/swiftshader' (headless Chromium), 'pytorch/cuda', 'pytorch/cuda x8'. */
  adapter: string;
  /** The twin names itself: its name and version, torch's version, the processes (null: the browser's runner). */
  engine: { name: string; version: string; torch?: string; processes?: number } | null;
  indexMs: number;
  wallSeconds: number;
  stopped: { step: number; message: string } | null;
  phaseMs: Partial<Record<Phase, number>>;
  evals: EvalEntry[];
  steps: StepRecord[];
}

/** The notebook file (export/import): data only. */
export interface NotebookFile {
  format: typeof NOTEBOOK_FILE_FORMAT;
  version: number;
  exportedAt: number;
  notebook: Notebook;
  runs: RunFile[];
}
