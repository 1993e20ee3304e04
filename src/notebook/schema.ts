// The notebook's saved shape: a notebook (ordered cells, each with its config) and its runs
// (config, per-step records, evaluations, the latest checkpoint), declared once as schemas
// (src/core/schema.ts) from which both the types and the checked reading of files come. These are
// what IndexedDB holds (db.ts), what a notebook file carries and what a results file is (file.ts,
// which adds the rules between fields); the step records, evaluations and checkpoints are declared
// in src/training/records.ts. The files and the store are versioned, and every older version has a
// migration to the current one: a field added, removed or retyped here bumps a version (see
// test/unit/schemas.test.ts, which pins every field). Everything here is plain data: an imported
// notebook is checked field by field and never evaluated.

import * as S from '../core/schema';
import { FORMAT_NAMES, SPLITS, type DatasetFormat, type QuestionSplit } from '../data/datasets';
import { MAX_STEPS, TRAIN_CONFIG, type TrainConfig } from '../training/config';
import {
  ANY_RUN,
  DATA_ID,
  DURATION,
  EVAL_ENTRY,
  EVAL_RESULT,
  MAX_RUN_EVALS,
  PHASES,
  RUN_START,
  SAVED_CONFIG,
  STEP,
  STEP_RECORD,
  stepRecordSchema,
  type EvalEntry,
  type EvalResult,
  type PerQuestionResult,
  type Phase,
  type RecordLimits,
  type RunCheckpoint,
  type RunStart,
  type StepRecord,
} from '../training/records';

export type { EvalEntry, EvalResult, PerQuestionResult, RunCheckpoint, RunStart, StepRecord, Phase, TrainConfig, QuestionSplit };

/**
 * Version of the notebook file format (export/import). 2: a run may carry `imported`. 3: every
 * candidate has `scoreAfter` (null in the files before it).
 */
export const NOTEBOOK_FILE_VERSION = 5;
/** The `format` field of a notebook file. */
export const NOTEBOOK_FILE_FORMAT = 'medrank-notebook';

/** Longest markdown cell accepted (characters). */
export const MAX_MARKDOWN_CHARS = 2 ** 20;
/** Longest other string accepted (messages). */
export const MAX_STRING_CHARS = 64 * 2 ** 10;
/** Most step records one run may carry. */
export const MAX_RUN_STEPS = MAX_STEPS;
/** Most cells of a notebook, runs of a notebook file, runs one Compare cell shows. */
export const MAX_CELLS = 10_000;
export const MAX_RUNS = 10_000;

/** Ids MedRank makes (notebooks, cells, runs). */
const ID = S.str({ max: 200, nonEmpty: true, hint: 'an id (a non-empty string of at most 200 characters)' });
/** A name as a runner writes it: an adapter, a path, a hub id. */
const LABEL = S.str({ max: 4096, nonEmpty: true });
/** A time (Date.now()). */
const TIME = S.num();
const HTTP_URL = S.refine(
  S.str({ max: 4096, nonEmpty: true }),
  (s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'https:' || u.protocol === 'http:';
    } catch {
      return false;
    }
  },
  'an http(s) URL',
);
/** A short name of a dataset's file (corpus, queries, ...). */
const FILE_ROLE = S.str({ max: 100, pattern: /^[\w.-]{1,100}$/, hint: 'a short name (letters, digits, _ . -)' });
const kind = <const K extends string>(k: K) => S.literal([k]);

export const CELL_KINDS = ['markdown', 'data', 'models', 'index', 'train', 'evaluate', 'inspect', 'compare'] as const;
export type CellKind = (typeof CELL_KINDS)[number];

/** How a model's frozen matrices were stored on load: 'f16' halves them (absent: f32). */
const FROZEN_DTYPE = S.optional(S.literal(['f32', 'f16'] as const));

/** Where a model comes from, as a notebook remembers it (a local folder is remembered by name only), and how it was stored. */
/** Demo models beside each role's default (the demo ColBERT, the demo generator). */
export const DEMO_EXTRA_MODELS = ['dense-retriever'] as const;

export const MODEL_REF = S.tagged(
  'kind',
  {
    demo: S.object(
      {
        kind: kind('demo'),
        /** Which demo model besides the role's own: the dense retriever (public/demo/models/dense-retriever). */
        model: S.optional(S.literal(DEMO_EXTRA_MODELS)),
        frozenDtype: FROZEN_DTYPE,
      },
      'a demo model',
    ),
    hub: S.object(
      {
        kind: kind('hub'),
        repo: S.str({ max: 200, pattern: /^[\w.-]+(\/[\w.-]+)?$/, hint: 'a Hugging Face repo like "owner/name"' }),
        revision: S.optional(ID),
        frozenDtype: FROZEN_DTYPE,
      },
      'a hub model',
    ),
    url: S.object({ kind: kind('url'), url: HTTP_URL, frozenDtype: FROZEN_DTYPE }, 'a model URL'),
    folder: S.object({ kind: kind('folder'), label: S.str({ max: 1000 }), frozenDtype: FROZEN_DTYPE }, 'a model folder'),
  },
  'a model reference (a JSON object)',
);
export type ModelRef = S.Infer<typeof MODEL_REF>;

const DATASET_FORMATS = Object.keys(FORMAT_NAMES) as DatasetFormat[];

/** Where a dataset comes from, as a notebook remembers it (local files by name only). */
export const DATA_REF = S.tagged(
  'kind',
  {
    demo: S.object({ kind: kind('demo') }, 'the demo data set'),
    url: S.object(
      { kind: kind('url'), format: S.literal(DATASET_FORMATS), urls: S.record(FILE_ROLE, HTTP_URL, { max: 100 }) },
      'a data set by URL',
    ),
    files: S.object(
      { kind: kind('files'), format: S.literal(DATASET_FORMATS), names: S.record(FILE_ROLE, S.str({ max: 1000 }), { max: 100 }) },
      'a data set from files',
    ),
  },
  'a data reference (a JSON object)',
);
export type DataRef = S.Infer<typeof DATA_REF>;

// ---- cells -------------------------------------------------------------------------------

/** Cell ids are stable within a notebook: 'c1', 'c2', ... */
export const MARKDOWN_CELL = S.object(
  { id: ID, kind: kind('markdown'), text: S.str({ max: MAX_MARKDOWN_CHARS }) },
  'a markdown cell',
);
export const DATA_CELL = S.object({ id: ID, kind: kind('data'), source: DATA_REF }, 'a data cell');
export const MODELS_CELL = S.object(
  { id: ID, kind: kind('models'), retriever: MODEL_REF, generator: MODEL_REF },
  'a models cell',
);
export const INDEX_CELL = S.object({ id: ID, kind: kind('index') }, 'an index cell');
export const TRAIN_CELL = S.object(
  {
    id: ID,
    kind: kind('train'),
    /** A preset name from public/presets (or null), and the fields the user changed. */
    preset: S.nullable(S.str({ max: 100, pattern: /^[\w.-]{1,100}$/, hint: 'a preset name like "jmlr-code"' })),
    /** Each field checked here; whether they make a config with the preset is checked after (file.ts). */
    overrides: TRAIN_CONFIG.partial(),
  },
  'a train cell',
);
/** An Evaluate cell's last evaluation: when, of which run (null: the models as loaded), and its result. */
export const LAST_EVALUATION = S.object({ at: TIME, runId: S.nullable(ID), result: EVAL_RESULT }, 'the last evaluation');
export const EVALUATE_CELL = S.object(
  {
    id: ID,
    kind: kind('evaluate'),
    split: S.literal(SPLITS),
    /** At most this many questions (0: all of the split). */
    limit: S.int({ min: 0, max: TRAIN_CONFIG.shape.evalLimit.max }),
    /** The last evaluation this cell ran (null: not run yet). */
    last: S.nullable(LAST_EVALUATION),
  },
  'an evaluate cell',
);
export const INSPECT_CELL = S.object(
  {
    id: ID,
    kind: kind('inspect'),
    /** The run, question and step shown (null: the latest run, its first question, its last step). */
    runId: S.nullable(ID),
    questionId: S.nullable(DATA_ID),
    step: S.nullable(STEP),
  },
  'an inspect cell',
);
export const COMPARE_CELL = S.object({ id: ID, kind: kind('compare'), runIds: S.list(ID, { max: MAX_RUNS }) }, 'a compare cell');

export const CELL = S.tagged(
  'kind',
  {
    markdown: MARKDOWN_CELL,
    data: DATA_CELL,
    models: MODELS_CELL,
    index: INDEX_CELL,
    train: TRAIN_CELL,
    evaluate: EVALUATE_CELL,
    inspect: INSPECT_CELL,
    compare: COMPARE_CELL,
  } satisfies Record<CellKind, S.Schema<unknown>>,
  'a cell (a JSON object)',
);
export type MarkdownCell = S.Infer<typeof MARKDOWN_CELL>;
export type DataCell = S.Infer<typeof DATA_CELL>;
export type ModelsCell = S.Infer<typeof MODELS_CELL>;
export type IndexCell = S.Infer<typeof INDEX_CELL>;
export type TrainCell = S.Infer<typeof TRAIN_CELL>;
export type EvaluateCell = S.Infer<typeof EVALUATE_CELL>;
export type InspectCell = S.Infer<typeof INSPECT_CELL>;
export type CompareCell = S.Infer<typeof COMPARE_CELL>;
export type Cell = S.Infer<typeof CELL>;

export const NOTEBOOK = S.object(
  {
    id: ID,
    title: S.str({ max: 1000 }),
    cells: S.list(CELL, { max: MAX_CELLS }),
    /** Date.now() of the last change. */
    updatedAt: TIME,
  },
  'a notebook',
);
export type Notebook = S.Infer<typeof NOTEBOOK>;

// ---- runs --------------------------------------------------------------------------------

export const RUN_STATUSES = ['running', 'done', 'stopped', 'error', 'interrupted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const MODEL_LABELS = S.object({ retriever: LABEL, generator: LABEL }, 'the models (their paths or hub ids)');

/**
 * Where an imported run was trained: a results.json of `npm run experiment --out` or of the
 * PyTorch twin (docs/cluster.md), as the file says it. Such a run has no checkpoint.
 */
export const RUN_ORIGIN = S.object(
  {
    /** The adapter it trained on, as the file names it: 'google/swiftshader', 'pytorch/cuda'. */
    adapter: S.str({ max: 200, nonEmpty: true }),
    /** The data and models as the file names them (paths, bundle folders or hub ids, for the record). */
    data: LABEL,
    models: MODEL_LABELS,
    /** The program that trained it, when the file says ('medrank_torch 0.1.0, torch 2.3.1, 8 processes'). */
    engine: S.optional(S.str({ max: 1000 })),
    wallSeconds: DURATION,
    indexMs: DURATION,
    /** The file's name on the computer it was imported from. */
    fileName: S.str({ max: 1000 }),
    importedAt: TIME,
  },
  'where an imported run was trained',
);
export type RunOrigin = S.Infer<typeof RUN_ORIGIN>;

/** Mean ms per step of each phase (at the end). */
const PHASE_MS = S.record(S.literal(PHASES), DURATION, { max: PHASES.length });

/** The models a run was trained on. */
export const RUN_MODELS = S.object({ retriever: MODEL_REF, generator: MODEL_REF }, 'the run models');

/** A training run as saved: everything but its step records and checkpoint (stored apart, by run id). */
export const RUN_META = S.object(
  {
    id: ID,
    notebookId: ID,
    /** The Train cell that started it (its charts show this run). */
    cellId: ID,
    /** Shown in charts and lists: 'jmlr-code #3'. */
    name: S.str({ max: 1000 }),
    createdAt: TIME,
    config: SAVED_CONFIG,
    /** Models and data it ran on, for the record. */
    models: S.nullable(RUN_MODELS),
    data: S.nullable(DATA_REF),
    /** 'running' on disk after a reload means the tab closed mid-run: it loads as 'interrupted'. */
    status: S.literal(RUN_STATUSES),
    /** Steps recorded. */
    steps: STEP,
    evals: S.list(EVAL_ENTRY, { max: MAX_RUN_EVALS }),
    phaseMs: PHASE_MS,
    /** Why it stopped or failed. */
    message: S.nullable(S.str({ max: MAX_STRING_CHARS })),
    /** Step of the saved checkpoint (null: none). */
    checkpointStep: S.nullable(STEP),
    updatedAt: TIME,
    /** Set on a run imported from a results file: where it was trained (absent: in this browser). */
    imported: S.optional(RUN_ORIGIN),
    /** Where its models started (absent: a run saved before starts were recorded, or an imported one). */
    start: S.optional(RUN_START),
  },
  'a run',
);
export type RunMeta = S.Infer<typeof RUN_META>;

/** One run as a notebook file carries it: no checkpoint (weights export as safetensors). */
export const RUN_FILE = S.object(
  { meta: RUN_META, records: S.list(STEP_RECORD, { max: MAX_RUN_STEPS, why: 'the most steps a run may carry' }) },
  'a run',
);
export type RunFile = S.Infer<typeof RUN_FILE>;

/** The notebook file (export/import): data only. `version` is checked and migrated before (file.ts). */
export const NOTEBOOK_FILE = S.object(
  {
    format: S.literal([NOTEBOOK_FILE_FORMAT]),
    version: S.int({ min: 1, max: NOTEBOOK_FILE_VERSION }),
    exportedAt: TIME,
    notebook: NOTEBOOK,
    runs: S.list(RUN_FILE, { max: MAX_RUNS }),
  },
  'a notebook file (a JSON object)',
);
export type NotebookFile = S.Infer<typeof NOTEBOOK_FILE>;

// ---- results files -----------------------------------------------------------------------

/** The `format` a results file may name (`npm run experiment --out` writes none). */
export const RESULTS_FILE_FORMAT = 'medrank-experiment-results';
/**
 * The results file version this page reads (a file's optional `formatVersion`; absent: 1). 2:
 * every candidate has `scoreAfter` (a version 1 file's candidates may leave it out: null).
 */
export const RESULTS_FILE_VERSION = 2;

/** A results file's model: the runner's path, or the twin's bundle reference ({dir} or {hub, revision}), as a label. */
export const BUNDLE_DIR = S.object({ dir: LABEL }, 'a model folder of the bundle');
export const HUB_AT = S.object(
  { hub: LABEL, revision: LABEL },
  'a model (a path, {"dir": folder} or {"hub": id, "revision": commit})',
);
export const MODEL_IN_RESULTS: S.Schema<string> = {
  expects: HUB_AT.expects,
  parse: (v, path = '') => {
    if (typeof v === 'string') return LABEL.parse(v, path);
    if (typeof v === 'object' && v !== null && Object.hasOwn(v, 'dir')) return `bundle ${BUNDLE_DIR.parse(v, path).dir}/`;
    const h = HUB_AT.parse(v, path);
    return `hub:${h.hub}@${h.revision}`;
  },
};

/** The twin names itself: its name and version, torch's version, the processes. */
export const ENGINE = S.object(
  {
    name: S.str({ max: 200, nonEmpty: true }),
    version: S.str({ max: 200 }),
    torch: S.optional(S.str({ max: 200 })),
    processes: S.optional(S.int({ min: 1, max: 1_000_000 })),
  },
  'the engine that trained the run',
);

export const RESULTS_MODELS = S.object({ retriever: MODEL_IN_RESULTS, generator: MODEL_IN_RESULTS }, 'the models');
/** Where a run stopped early, and why. */
export const STOPPED = S.object({ step: STEP, message: S.str() }, 'where the run stopped');

/** How long a results file's lists may be: its steps, and its records' (its config's, once that is read). */
export interface ResultsLimits extends RecordLimits {
  steps: number;
  stepsWhy: string;
}
export const ANY_RESULTS: ResultsLimits = { ...ANY_RUN, steps: MAX_RUN_STEPS, stepsWhy: 'the most steps a run may carry' };
export const resultsLimitsOf = (c: TrainConfig, records: RecordLimits): ResultsLimits => ({
  ...records,
  steps: Math.min(c.steps, MAX_RUN_STEPS),
  stepsWhy: c.steps <= MAX_RUN_STEPS ? "the run's config.steps" : 'the most steps a run may carry',
});

/**
 * One run's results as `npm run experiment --out` (scripts/experiment.ts) and the PyTorch twin
 * (docs/cluster.md) write them, its lists bounded by `lim` (RESULTS_FILE: any run's): what it ran,
 * where, and every step record and evaluation. The config comes first: it bounds the steps.
 */
export function resultsFileSchema(lim: ResultsLimits) {
  return S.object(
    {
      config: SAVED_CONFIG,
      /** The dataset as the runner names it (a path, the bundle's data source). */
      data: LABEL,
      /**
       * The models as labels: the runner's paths, or the twin's bundle references as 'bundle
       * retriever/' and 'hub:owner/name@<commit>'.
       */
      models: RESULTS_MODELS,
      /** The adapter it ran on: 'google/swiftshader' (headless Chromium), 'pytorch/cuda', 'pytorch/cuda x8'. */
      adapter: S.str({ max: 200, nonEmpty: true }),
      /** Absent or null: the browser's runner. */
      engine: S.optional(S.nullable(ENGINE)),
      indexMs: DURATION,
      wallSeconds: DURATION,
      stopped: S.nullable(STOPPED),
      phaseMs: PHASE_MS,
      evals: S.list(EVAL_ENTRY, { max: MAX_RUN_EVALS }),
      steps: S.list(stepRecordSchema(lim), { max: lim.steps, why: lim.stepsWhy }),
      format: S.optional(S.literal([RESULTS_FILE_FORMAT])),
      /** Checked and migrated before (file.ts); absent: 1. */
      formatVersion: S.optional(S.int({ min: 1, max: RESULTS_FILE_VERSION })),
    },
    'a results file (a JSON object)',
  );
}
export const RESULTS_FILE = resultsFileSchema(ANY_RESULTS);
export type ResultsFile = S.Infer<typeof RESULTS_FILE>;

/** A results file as the notebook reads it: without its format fields, `engine` null when it has none. */
export type ExperimentResults = Omit<ResultsFile, 'engine' | 'format' | 'formatVersion'> & {
  engine: S.Infer<typeof ENGINE> | null;
};
