// Files the notebook reads, data only: notebook files (export/import: a notebook, its runs and their
// step records as JSON) and results files (one run's results.json from `npm run experiment --out`
// or the PyTorch twin, docs/cluster.md). parseNotebookFile and parseResultsFile check every field
// against the schema (unknown fields, wrong types, non-finite numbers, bad configs, arrays longer
// than the run could have made, checked before they are copied), migrate older notebook file
// versions through FILE_MIGRATIONS and build fresh objects from the checked values, so nothing of
// the parsed text (no `__proto__` key, no extra field) reaches the app. The first problem throws a
// NotebookFileError (ResultsFileError) that names the field's path and what to do.

import { FORMAT_NAMES, SPLITS, type DatasetFormat } from '../data/datasets';
import { MedRankError } from '../core/errors';
import { clip } from '../core/format';
import { JsonInputError, jsonTextDepth, MAX_JSON_DEPTH, parseJson } from '../core/json';
import { ConfigError, configFields as checkConfigFields, resolveConfig, type TrainConfig } from '../training/config';
import { PHASES, type CandidateRecord, type QuestionRecord } from '../training/step';
import {
  CELL_KINDS,
  NOTEBOOK_FILE_FORMAT,
  NOTEBOOK_FILE_VERSION,
  RESULTS_FILE_FORMAT,
  RESULTS_FILE_VERSION,
  type Cell,
  type DataRef,
  type EvalEntry,
  type EvalResult,
  type PerQuestionResult,
  type ExperimentResults,
  type ModelRef,
  type Notebook,
  type NotebookFile,
  type Phase,
  type RunFile,
  type RunMeta,
  type RunOrigin,
  type RunStatus,
  type StepRecord,
} from './schema';

/** Largest notebook file accepted (characters of JSON). */
export const MAX_FILE_CHARS = 256 * 2 ** 20;
/** Longest markdown cell accepted (characters). */
export const MAX_MARKDOWN_CHARS = 2 ** 20;
/** Longest other string accepted (ids, names, messages). */
export const MAX_STRING_CHARS = 64 * 2 ** 10;
/** Largest results file accepted (characters of JSON; its bytes are checked before it is read). */
export const MAX_RESULTS_CHARS = 256 * 2 ** 20;
/** Most step records one run may carry. */
export const MAX_RUN_STEPS = 100_000;
/** Most evaluations one run may carry. */
export const MAX_RUN_EVALS = 10_000;
/** validateConfig's bounds: questions per step (batchSize) and candidates per question. */
const MAX_STEP_QUESTIONS = 64;
const MAX_CANDIDATES = 100;
/** Marks a bare NaN / Infinity of a results file's text (markNonFinite); a JSON string cannot hold it unescaped. */
const NON_FINITE = '\u0000non-finite:';

const RUN_STATUSES: readonly RunStatus[] = ['running', 'done', 'stopped', 'error', 'interrupted'];
const DATASET_FORMATS = Object.keys(FORMAT_NAMES) as DatasetFormat[];

export class NotebookFileError extends MedRankError {
  constructor(
    /** Where in the file ('' for the file as a whole). */
    readonly path: string,
    /** What is wrong there, without the advice. */
    readonly problem: string,
    advice = 'The notebook was not imported: fix that field in the file (it is JSON) or export the notebook again from MedRank.',
  ) {
    super(`${path ? `${path}: ` : ''}${problem}. ${advice}`);
  }
}

const RESULTS_ADVICE =
  'The results were not imported and nothing in the notebook changed: fix that field in the file (it is JSON), or write ' +
  'it again with `npm run experiment -- CONFIG --out results.json` or the PyTorch twin (docs/cluster.md).';

/** A results file that cannot be a run: the first problem, at its path. */
export class ResultsFileError extends MedRankError {
  override name = 'ResultsFileError';
  constructor(
    /** Where in the file ('' for the file as a whole). */
    readonly path: string,
    readonly problem: string,
    advice = RESULTS_ADVICE,
  ) {
    super(`${path ? `${path}: ` : ''}${problem}. ${advice}`);
  }
}

/**
 * One file version step: FILE_MIGRATIONS[i] turns the parsed JSON of a version i + 1 file into
 * version i + 2 (before validation). The current version is FILE_MIGRATIONS.length + 1.
 */
export type FileMigration = (file: Record<string, unknown>) => Record<string, unknown>;
export const FILE_MIGRATIONS: FileMigration[] = [
  // 1 -> 2: a run may carry `imported` (a run from a results file); a version 1 file has none.
  (file) => file,
];

// ---- writing -----------------------------------------------------------------------------

export function toNotebookFile(nb: Notebook, runs: RunFile[]): NotebookFile {
  return {
    format: NOTEBOOK_FILE_FORMAT,
    version: NOTEBOOK_FILE_VERSION,
    exportedAt: Date.now(),
    notebook: nb,
    runs: runs.map((r) => ({ meta: { ...r.meta, notebookId: nb.id }, records: r.records })),
  };
}

export function serializeNotebookFile(f: NotebookFile): string {
  return JSON.stringify(f);
}

// ---- checked reading ---------------------------------------------------------------------

type Check<T> = (v: unknown, path: string) => T;

const fail = (path: string, problem: string): never => {
  throw new NotebookFileError(path, problem);
};

/** A short description of a JSON value for messages: "abc", 12, null, an array, an object. */
function describe(v: unknown): string {
  if (typeof v === 'string' && v.startsWith(NON_FINITE)) return v.slice(NON_FINITE.length);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (v === null || typeof v !== 'object') return String(v);
  return 'an object';
}

const at = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${clip(key, 60)}` : clip(key, 60);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The `kind` of a tagged object (a cell, a model or data reference). */
function kindOf<K extends string>(v: unknown, path: string, what: string, kinds: readonly K[]): K {
  if (!isRecord(v)) fail(path, `expected ${what} (a JSON object), got ${describe(v)}`);
  return oneOf(Object.hasOwn(v as object, 'kind') ? (v as Record<string, unknown>).kind : undefined, at(path, 'kind'), kinds);
}

/**
 * An object with exactly these fields (the optional ones may be left out). Returns a reader that
 * only ever looks up own properties, so nothing inherited (or planted through `__proto__`) is read.
 */
function fields(
  v: unknown,
  path: string,
  what: string,
  required: readonly string[],
  optional: readonly string[] = [],
): (key: string) => unknown {
  if (!isRecord(v)) fail(path, `expected ${what} (a JSON object), got ${describe(v)}`);
  const o = v as Record<string, unknown>;
  const known = [...required, ...optional];
  for (const k of Object.keys(o))
    if (!known.includes(k)) fail(at(path, k), `unknown field; ${what} has only ${known.join(', ')}`);
  for (const k of required) if (!Object.hasOwn(o, k)) fail(at(path, k), `missing; ${what} needs it`);
  return (k) => (Object.hasOwn(o, k) ? o[k] : undefined);
}

const has = (get: (k: string) => unknown, k: string): boolean => get(k) !== undefined;

function str(v: unknown, path: string, opts: { max?: number; nonEmpty?: boolean } = {}): string {
  if (typeof v !== 'string' || v.startsWith(NON_FINITE)) fail(path, `expected a string, got ${describe(v)}`);
  const s = v as string;
  const max = opts.max ?? MAX_STRING_CHARS;
  if (s.length > max) fail(path, `text of ${s.length} characters is longer than the ${max} allowed`);
  if (opts.nonEmpty && !s.trim()) fail(path, 'expected a non-empty string');
  return s;
}
/** Ids MedRank makes (notebooks, cells, runs). */
const id: Check<string> = (v, path) => str(v, path, { max: 200, nonEmpty: true });
/** Ids a dataset brings (questions, passages): as long as the file had them. */
const dataId: Check<string> = (v, path) => str(v, path, { max: 4096 });

function num(v: unknown, path: string): number {
  if (typeof v === 'string' && v.startsWith(NON_FINITE))
    fail(path, `expected a finite number, got ${v.slice(NON_FINITE.length)} (JSON has no NaN or Infinity)`);
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, `expected a number, got ${describe(v)}`);
  return v as number;
}
function int(v: unknown, path: string, min = 0): number {
  const n = num(v, path);
  if (!Number.isInteger(n) || n < min) fail(path, `expected an integer from ${min} up, got ${n}`);
  return n;
}
const count: Check<number> = (v, path) => int(v, path, 0);
function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, `expected true or false, got ${describe(v)}`);
  return v as boolean;
}
function oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !allowed.includes(v as T))
    fail(path, `expected one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describe(v)}`);
  return v as T;
}
const nullable =
  <T>(check: Check<T>): Check<T | null> =>
  (v, path) =>
    v === null ? null : check(v, path);
const optNum: Check<number | null> = nullable(num);
/** An array of at most `max` items (counted before any is checked or copied), each passing `each`. */
function arr<T>(v: unknown, path: string, each: Check<T>, max = Infinity, why = ''): T[] {
  if (!Array.isArray(v)) fail(path, `expected an array, got ${describe(v)}`);
  const a = v as unknown[];
  if (a.length > max) fail(path, `${a.length} items, more than the ${max} allowed${why ? ` (${why})` : ''}`);
  return a.map((x, i) => each(x, at(path, i)));
}
/** A JSON object used as a map: every key passes `key`, every value passes `value`. */
function map<K extends string, T>(
  v: unknown,
  path: string,
  key: (k: string, path: string) => K,
  value: Check<T>,
): Partial<Record<K, T>> {
  if (!isRecord(v)) fail(path, `expected a JSON object, got ${describe(v)}`);
  const out: Partial<Record<K, T>> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (k === '__proto__') fail(at(path, k), 'this key is not allowed');
    out[key(k, at(path, k))] = value(x, at(path, k));
  }
  return out;
}
const kKey = (k: string, path: string): string => (/^[1-9]\d{0,3}$/.test(k) ? k : fail(path, 'expected a k (1, 5, 10...)'));
const nameKey = (k: string, path: string): string =>
  /^[\w.-]{1,100}$/.test(k) ? k : fail(path, 'expected a short name (letters, digits, _ . -)');
const recall: Check<Record<number, number>> = (v, path) => map(v, path, kKey, num) as Record<number, number>;

function httpUrl(v: unknown, path: string): string {
  const s = str(v, path, { max: 4096, nonEmpty: true });
  let ok = false;
  try {
    const u = new URL(s);
    ok = u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    ok = false;
  }
  if (!ok) fail(path, `expected an http(s) URL, got ${describe(s)}`);
  return s;
}

// ---- configs -----------------------------------------------------------------------------

/** The first bare NaN / Infinity (marked by markNonFinite) inside `v`, as [path, what], or null. */
function firstNonFinite(v: unknown, path: string): [string, string] | null {
  const stack: [unknown, string][] = [[v, path]];
  while (stack.length) {
    const [x, p] = stack.pop()!;
    if (typeof x === 'string' && x.startsWith(NON_FINITE)) return [p, x.slice(NON_FINITE.length)];
    if (Array.isArray(x)) x.forEach((y, i) => stack.push([y, at(p, i)]));
    else if (isRecord(x)) for (const k of Object.keys(x)) stack.push([x[k], at(p, k)]);
  }
  return null;
}

/** Runs a config check of src/training/config.ts, its ConfigError moved to this file's path. */
function configAt<T>(v: unknown, path: string, check: (v: unknown) => T): T {
  const bad = firstNonFinite(v, path);
  if (bad) fail(bad[0], `expected a finite number, got ${bad[1]} (JSON has no NaN or Infinity)`);
  try {
    return check(v);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return fail(err.field ? at(path, err.field) : path, err.problem);
  }
}

/** The fields of a (partial) config, each checked by the config's schema, copied into a fresh object. */
const configFields = (v: unknown, path: string): Partial<TrainConfig> => configAt(v, path, checkConfigFields);
/** resolveConfig at this file's path. */
const resolveAt = (partial: Partial<TrainConfig>, path: string): TrainConfig => configAt(partial, path, resolveConfig);

const runConfig: Check<TrainConfig> = (v, path) => resolveAt(configFields(v, path), path);

/**
 * A Train cell's overrides. Without a preset they are the whole config, checked as one. With a
 * preset (a file fetched at run time) each field is checked alone, on a base where the rules
 * between fields (sampled <= candidates, ...) cannot fail, since the preset may be what satisfies them.
 */
function overrides(v: unknown, path: string, preset: string | null): Partial<TrainConfig> {
  const o = configFields(v, path);
  if (preset === null) {
    resolveAt(o, path);
    return o;
  }
  for (const [k, x] of Object.entries(o)) {
    const base: Partial<TrainConfig> = { candidates: 100, sampled: 1, topM: 1, refreshIndexEvery: 0, checkpointEvery: 0 };
    if (k === 'retrieverLoss')
      base.schedule = x === 'infonce' ? 'retriever-only' : x === 'none' ? 'frozen-retriever' : 'synchronous';
    resolveAt({ ...base, [k]: x }, path);
  }
  return o;
}

// ---- references --------------------------------------------------------------------------

const modelRef: Check<ModelRef> = (v, path) => {
  const kind = kindOf(v, path, 'a model reference', ['demo', 'hub', 'url', 'folder'] as const);
  switch (kind) {
    case 'demo':
      fields(v, path, 'a demo model', ['kind']);
      return { kind };
    case 'hub': {
      const get = fields(v, path, 'a hub model', ['kind', 'repo'], ['revision']);
      const repo = str(get('repo'), at(path, 'repo'));
      if (!/^[\w.-]+(\/[\w.-]+)?$/.test(repo))
        fail(at(path, 'repo'), `expected a Hugging Face repo like "owner/name", got ${describe(repo)}`);
      return has(get, 'revision') ? { kind, repo, revision: id(get('revision'), at(path, 'revision')) } : { kind, repo };
    }
    case 'url': {
      const get = fields(v, path, 'a model URL', ['kind', 'url']);
      return { kind, url: httpUrl(get('url'), at(path, 'url')) };
    }
    case 'folder': {
      const get = fields(v, path, 'a model folder', ['kind', 'label']);
      return { kind, label: str(get('label'), at(path, 'label'), { max: 1000 }) };
    }
  }
};

const dataRef: Check<DataRef> = (v, path) => {
  const kind = kindOf(v, path, 'a data reference', ['demo', 'url', 'files'] as const);
  switch (kind) {
    case 'demo':
      fields(v, path, 'the demo data set', ['kind']);
      return { kind };
    case 'url': {
      const get = fields(v, path, 'a data set by URL', ['kind', 'format', 'urls']);
      const format = oneOf(get('format'), at(path, 'format'), DATASET_FORMATS);
      return { kind, format, urls: map(get('urls'), at(path, 'urls'), nameKey, httpUrl) as Record<string, string> };
    }
    case 'files': {
      const get = fields(v, path, 'a data set from files', ['kind', 'format', 'names']);
      const format = oneOf(get('format'), at(path, 'format'), DATASET_FORMATS);
      const label: Check<string> = (x, p) => str(x, p, { max: 1000 });
      return { kind, format, names: map(get('names'), at(path, 'names'), nameKey, label) as Record<string, string> };
    }
  }
};

// ---- cells -------------------------------------------------------------------------------

const PRESET_NAME = /^[\w.-]{1,100}$/;

const cell: Check<Cell> = (v, path) => {
  const kind = kindOf(v, path, 'a cell', CELL_KINDS);
  const what = `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind} cell`;
  const get = (required: string[]): ((k: string) => unknown) => fields(v, path, what, ['id', 'kind', ...required]);
  const base = (g: (k: string) => unknown): { id: string } => ({ id: id(g('id'), at(path, 'id')) });
  switch (kind) {
    case 'markdown': {
      const g = get(['text']);
      return { ...base(g), kind, text: str(g('text'), at(path, 'text'), { max: MAX_MARKDOWN_CHARS }) };
    }
    case 'data': {
      const g = get(['source']);
      return { ...base(g), kind, source: dataRef(g('source'), at(path, 'source')) };
    }
    case 'models': {
      const g = get(['retriever', 'generator']);
      return {
        ...base(g),
        kind,
        retriever: modelRef(g('retriever'), at(path, 'retriever')),
        generator: modelRef(g('generator'), at(path, 'generator')),
      };
    }
    case 'index':
      return { ...base(get([])), kind };
    case 'train': {
      const g = get(['preset', 'overrides']);
      const preset = nullable((x, p) => {
        const s = str(x, p);
        return PRESET_NAME.test(s) ? s : fail(p, `expected a preset name like "jmlr-code", got ${describe(s)}`);
      })(g('preset'), at(path, 'preset'));
      return { ...base(g), kind, preset, overrides: overrides(g('overrides'), at(path, 'overrides'), preset) };
    }
    case 'evaluate': {
      const g = get(['split', 'limit', 'last']);
      const last = nullable((x, p) => {
        const l = fields(x, p, 'the last evaluation', ['at', 'runId', 'result']);
        return {
          at: num(l('at'), at(p, 'at')),
          runId: nullable(id)(l('runId'), at(p, 'runId')),
          result: evalResult(l('result'), at(p, 'result')),
        };
      })(g('last'), at(path, 'last'));
      return {
        ...base(g),
        kind,
        split: oneOf(g('split'), at(path, 'split'), SPLITS),
        limit: count(g('limit'), at(path, 'limit')),
        last,
      };
    }
    case 'inspect': {
      const g = get(['runId', 'questionId', 'step']);
      return {
        ...base(g),
        kind,
        runId: nullable(id)(g('runId'), at(path, 'runId')),
        questionId: nullable(dataId)(g('questionId'), at(path, 'questionId')),
        step: nullable(count)(g('step'), at(path, 'step')),
      };
    }
    case 'compare': {
      const g = get(['runIds']);
      return { ...base(g), kind, runIds: arr(g('runIds'), at(path, 'runIds'), id) };
    }
  }
};

function unique<T>(items: T[], path: string, key: (t: T) => string | number, field: string, what: string): void {
  const seen = new Map<string | number, number>();
  items.forEach((t, i) => {
    const k = key(t);
    const first = seen.get(k);
    if (first !== undefined)
      fail(at(at(path, i), field), `${JSON.stringify(k)} is used by ${at(path, first)} too; ${what} must be unique`);
    seen.set(k, i);
  });
}

const notebook: Check<Notebook> = (v, path) => {
  const get = fields(v, path, 'a notebook', ['id', 'title', 'cells', 'updatedAt']);
  const cells = arr(get('cells'), at(path, 'cells'), cell);
  unique(cells, at(path, 'cells'), (c) => c.id, 'id', 'cell ids');
  return {
    id: id(get('id'), at(path, 'id')),
    title: str(get('title'), at(path, 'title'), { max: 1000 }),
    cells,
    updatedAt: num(get('updatedAt'), at(path, 'updatedAt')),
  };
};

// ---- runs --------------------------------------------------------------------------------

const candidate: Check<CandidateRecord> = (v, path) => {
  const get = fields(v, path, 'a candidate', ['docId', 'score', 'prob', 'sampled', 'utility', 'gold'], ['scoreAfter']);
  return {
    docId: dataId(get('docId'), at(path, 'docId')),
    score: num(get('score'), at(path, 'score')),
    // Records made before scoreAfter existed leave it out: null, as for a step that did not re-score.
    scoreAfter: has(get, 'scoreAfter') ? optNum(get('scoreAfter'), at(path, 'scoreAfter')) : null,
    prob: num(get('prob'), at(path, 'prob')),
    sampled: bool(get('sampled'), at(path, 'sampled')),
    utility: optNum(get('utility'), at(path, 'utility')),
    gold: bool(get('gold'), at(path, 'gold')),
  };
};

/** How long a step record's lists may be: a run's batch size and candidates (validateConfig's bounds by default). */
interface StepLimits {
  questions: number;
  candidates: number;
  why: { questions: string; candidates: string };
}
const ANY_RUN: StepLimits = {
  questions: MAX_STEP_QUESTIONS,
  candidates: MAX_CANDIDATES,
  why: { questions: 'the largest batchSize', candidates: 'the most candidates a run takes' },
};
const limitsOf = (c: TrainConfig): StepLimits => ({
  questions: c.batchSize,
  candidates: c.candidates,
  why: { questions: `the run's config.batchSize`, candidates: `the run's config.candidates` },
});

const questionWith =
  (lim: StepLimits): Check<QuestionRecord> =>
  (v, path) => {
    const get = fields(v, path, 'a question record', ['id', 'candidates', 'spearman', 'kendall']);
    return {
      id: dataId(get('id'), at(path, 'id')),
      candidates: arr(get('candidates'), at(path, 'candidates'), candidate, lim.candidates, lim.why.candidates),
      spearman: optNum(get('spearman'), at(path, 'spearman')),
      kendall: optNum(get('kendall'), at(path, 'kendall')),
    };
  };

/** An object of exactly these keys, each checked by `check`. */
function record<K extends string, T>(v: unknown, path: string, what: string, keys: readonly K[], check: Check<T>): Record<K, T> {
  const get = fields(v, path, what, keys);
  const out = {} as Record<K, T>;
  for (const k of keys) out[k] = check(get(k), at(path, k));
  return out;
}

const phaseKey = (k: string, path: string): Phase => oneOf(k, path, PHASES);

const stepRecordWith =
  (lim: StepLimits): Check<StepRecord> =>
  (v, path) => {
    const get = fields(v, path, 'a step record', [
      'step',
      'trains',
      'loss',
      'questions',
      'alignment',
      'recall',
      'ms',
      'gpuBytes',
    ]);
    return {
      step: count(get('step'), at(path, 'step')),
      trains: record(get('trains'), at(path, 'trains'), 'trains', ['retriever', 'generator'], bool),
      loss: record(get('loss'), at(path, 'loss'), 'loss', ['retriever', 'generator'], optNum),
      questions: arr(get('questions'), at(path, 'questions'), questionWith(lim), lim.questions, lim.why.questions),
      alignment: record(get('alignment'), at(path, 'alignment'), 'alignment', ['spearman', 'kendall'], optNum),
      recall: recall(get('recall'), at(path, 'recall')),
      ms: record(get('ms'), at(path, 'ms'), 'ms (one entry per phase)', PHASES, num),
      gpuBytes: count(get('gpuBytes'), at(path, 'gpuBytes')),
    };
  };

/** The most questions one evaluation's per-question lists may hold. */
const MAX_EVAL_QUESTIONS = 100_000;

/** An evaluation's per-question lists: as many entries as ids in each, 0/1 flags, rates in [0, 1]. */
const perQuestion = (v: unknown, path: string, questions: number): PerQuestionResult => {
  const get = fields(v, path, "an evaluation's per-question results", ['ids', 'correct', 'recall', 'rr10', 'spearman']);
  const max = Math.min(questions, MAX_EVAL_QUESTIONS);
  const ids = arr(get('ids'), at(path, 'ids'), dataId, max, "the evaluation's question count");
  const n = ids.length;
  const list = <T>(x: unknown, p: string, each: Check<T>): T[] => {
    const out = arr(x, p, each, n, 'one per id');
    if (out.length !== n) fail(p, `${out.length} items, expected ${n} (one per id)`);
    return out;
  };
  const flag: Check<number | null> = nullable((x, p) => {
    const k = num(x, p);
    return k === 0 || k === 1 ? k : fail(p, `expected 0, 1 or null, got ${k}`);
  });
  const unit: Check<number> = (x, p) => {
    const r = num(x, p);
    return r >= 0 && r <= 1 ? r : fail(p, `expected a number in [0, 1], got ${r}`);
  };
  return {
    ids,
    correct: record(get('correct'), at(path, 'correct'), 'correct', ['none', 'retrieved', 'oracle'], (x, p) => list(x, p, flag)),
    recall: map(get('recall'), at(path, 'recall'), kKey, (x, p) => list(x, p, unit)) as Record<string, number[]>,
    rr10: list(get('rr10'), at(path, 'rr10'), unit),
    spearman: list(get('spearman'), at(path, 'spearman'), optNum),
  };
};

const evalResult: Check<EvalResult> = (v, path) => {
  const get = fields(
    v,
    path,
    'an evaluation result',
    ['questions', 'accuracy', 'scored', 'recall', 'mrr10', 'alignment', 'ms'],
    ['perQuestion'],
  );
  const questions = count(get('questions'), at(path, 'questions'));
  const pq = get('perQuestion');
  return {
    questions,
    accuracy: record(get('accuracy'), at(path, 'accuracy'), 'accuracy', ['none', 'retrieved', 'oracle'], num),
    scored: count(get('scored'), at(path, 'scored')),
    recall: recall(get('recall'), at(path, 'recall')),
    mrr10: num(get('mrr10'), at(path, 'mrr10')),
    alignment: record(get('alignment'), at(path, 'alignment'), 'alignment', ['spearman', 'kendall'], num),
    ms: num(get('ms'), at(path, 'ms')),
    ...(pq === undefined ? {} : { perQuestion: perQuestion(pq, at(path, 'perQuestion'), questions) }),
  };
};

const evalEntry: Check<EvalEntry> = (v, path) => {
  const get = fields(v, path, 'an evaluation', ['step', 'split', 'result']);
  return {
    step: count(get('step'), at(path, 'step')),
    split: oneOf(get('split'), at(path, 'split'), SPLITS),
    result: evalResult(get('result'), at(path, 'result')),
  };
};

/** A non-negative number (times, sizes). */
function nonNeg(v: unknown, path: string): number {
  const n = num(v, path);
  if (n < 0) fail(path, `expected a number from 0 up, got ${n}`);
  return n;
}

/** A name as a runner writes it: an adapter, a path, a hub id. */
const label: Check<string> = (v, path) => str(v, path, { max: 4096, nonEmpty: true });

const modelLabels: Check<RunOrigin['models']> = (v, path) => {
  const get = fields(v, path, 'the models (their paths or hub ids)', ['retriever', 'generator']);
  return { retriever: label(get('retriever'), at(path, 'retriever')), generator: label(get('generator'), at(path, 'generator')) };
};

/** A results file's model: the runner's path, or the twin's bundle reference ({dir} or {hub, revision}), as a label. */
const modelInResults: Check<string> = (v, path) => {
  if (typeof v === 'string') return label(v, path);
  if (isRecord(v) && Object.hasOwn(v, 'dir')) {
    const get = fields(v, path, 'a model folder of the bundle', ['dir']);
    return `bundle ${label(get('dir'), at(path, 'dir'))}/`;
  }
  const get = fields(v, path, 'a model (a path, {"dir": folder} or {"hub": id, "revision": commit})', ['hub', 'revision']);
  return `hub:${label(get('hub'), at(path, 'hub'))}@${label(get('revision'), at(path, 'revision'))}`;
};

const resultsModels: Check<ExperimentResults['models']> = (v, path) => {
  const get = fields(v, path, 'the models', ['retriever', 'generator']);
  return {
    retriever: modelInResults(get('retriever'), at(path, 'retriever')),
    generator: modelInResults(get('generator'), at(path, 'generator')),
  };
};

const engineOf: Check<NonNullable<ExperimentResults['engine']>> = (v, path) => {
  const get = fields(v, path, 'the engine that trained the run', ['name', 'version'], ['torch', 'processes']);
  return {
    name: str(get('name'), at(path, 'name'), { max: 200, nonEmpty: true }),
    version: str(get('version'), at(path, 'version'), { max: 200 }),
    ...(has(get, 'torch') ? { torch: str(get('torch'), at(path, 'torch'), { max: 200 }) } : {}),
    ...(has(get, 'processes') ? { processes: int(get('processes'), at(path, 'processes'), 1) } : {}),
  };
};

/** How the runs lists name the engine: 'medrank_torch 0.1.0, torch 2.3.1, 8 processes'. */
export function engineLabel(e: NonNullable<ExperimentResults['engine']>): string {
  const p = e.processes;
  return [`${e.name} ${e.version}`, e.torch && `torch ${e.torch}`, p && `${p} process${p === 1 ? '' : 'es'}`]
    .filter(Boolean)
    .join(', ');
}

const runOrigin: Check<RunOrigin> = (v, path) => {
  const get = fields(
    v,
    path,
    'where an imported run was trained',
    ['adapter', 'data', 'models', 'wallSeconds', 'indexMs', 'fileName', 'importedAt'],
    ['engine'],
  );
  return {
    adapter: str(get('adapter'), at(path, 'adapter'), { max: 200, nonEmpty: true }),
    data: label(get('data'), at(path, 'data')),
    models: modelLabels(get('models'), at(path, 'models')),
    wallSeconds: nonNeg(get('wallSeconds'), at(path, 'wallSeconds')),
    indexMs: nonNeg(get('indexMs'), at(path, 'indexMs')),
    ...(has(get, 'engine') ? { engine: str(get('engine'), at(path, 'engine'), { max: 1000 }) } : {}),
    fileName: str(get('fileName'), at(path, 'fileName'), { max: 1000 }),
    importedAt: num(get('importedAt'), at(path, 'importedAt')),
  };
};

const models: Check<RunMeta['models']> = nullable((v, path) => {
  const get = fields(v, path, 'the run models', ['retriever', 'generator']);
  return {
    retriever: modelRef(get('retriever'), at(path, 'retriever')),
    generator: modelRef(get('generator'), at(path, 'generator')),
  };
});

const RUN_META_FIELDS = [
  'id',
  'notebookId',
  'cellId',
  'name',
  'createdAt',
  'config',
  'models',
  'data',
  'status',
  'steps',
  'evals',
  'phaseMs',
  'message',
  'checkpointStep',
  'updatedAt',
] as const;

const runMeta: Check<RunMeta> = (v, path) => {
  const get = fields(v, path, 'a run', RUN_META_FIELDS, ['imported']);
  const status = oneOf(get('status'), at(path, 'status'), RUN_STATUSES);
  const imported = has(get, 'imported') ? { imported: runOrigin(get('imported'), at(path, 'imported')) } : {};
  return {
    id: id(get('id'), at(path, 'id')),
    notebookId: id(get('notebookId'), at(path, 'notebookId')),
    cellId: id(get('cellId'), at(path, 'cellId')),
    name: str(get('name'), at(path, 'name'), { max: 1000 }),
    createdAt: num(get('createdAt'), at(path, 'createdAt')),
    config: runConfig(get('config'), at(path, 'config')),
    models: models(get('models'), at(path, 'models')),
    data: nullable(dataRef)(get('data'), at(path, 'data')),
    // The tab that ran it is gone: a run saved mid-way can only resume.
    status: status === 'running' ? 'interrupted' : status,
    steps: count(get('steps'), at(path, 'steps')),
    evals: arr(get('evals'), at(path, 'evals'), evalEntry, MAX_RUN_EVALS),
    phaseMs: map(get('phaseMs'), at(path, 'phaseMs'), phaseKey, num),
    message: nullable(str)(get('message'), at(path, 'message')),
    checkpointStep: nullable(count)(get('checkpointStep'), at(path, 'checkpointStep')),
    updatedAt: num(get('updatedAt'), at(path, 'updatedAt')),
    ...imported,
  };
};

const runFile: Check<RunFile> = (v, path) => {
  const get = fields(v, path, 'a run', ['meta', 'records']);
  const records = arr(get('records'), at(path, 'records'), stepRecordWith(ANY_RUN), MAX_RUN_STEPS);
  unique(records, at(path, 'records'), (r) => r.step, 'step', 'steps of a run');
  return { meta: runMeta(get('meta'), at(path, 'meta')), records };
};

// ---- the file ----------------------------------------------------------------------------

export interface ParseOptions {
  /** The file version steps (tests inject their own); default FILE_MIGRATIONS. */
  migrations?: FileMigration[];
  /** Largest text accepted, in characters; default MAX_FILE_CHARS. */
  maxChars?: number;
}

/** A notebook file from its JSON text: every field checked, older versions migrated, fresh objects built. */
export function parseNotebookFile(text: string, opts: ParseOptions = {}): NotebookFile {
  const migrations = opts.migrations ?? FILE_MIGRATIONS;
  const maxChars = opts.maxChars ?? MAX_FILE_CHARS;
  const current = migrations.length + 1;
  if (typeof text !== 'string') fail('', 'a notebook file is JSON text');
  if (text.length > maxChars)
    throw new NotebookFileError(
      '',
      `the file is ${(text.length / 2 ** 20).toFixed(1)} MB, more than the ${(maxChars / 2 ** 20).toFixed(1)} MB allowed`,
      'Export the notebook with fewer runs, or delete runs before exporting it.',
    );
  let raw: unknown;
  try {
    raw = parseJson(text, 'the file');
  } catch (err) {
    if (!(err instanceof JsonInputError)) throw err;
    throw new NotebookFileError(
      '',
      `this is not a MedRank notebook file: it is ${err.reason === 'depth' ? 'nested too deeply' : 'not valid JSON'} (${err.message})`,
      'Choose a .json file that MedRank exported ("Export notebook").',
    );
  }
  if (!isRecord(raw)) fail('', `expected a notebook file (a JSON object), got ${describe(raw)}`);
  let file = raw as Record<string, unknown>;
  if (file.format !== NOTEBOOK_FILE_FORMAT)
    throw new NotebookFileError(
      'format',
      `expected "${NOTEBOOK_FILE_FORMAT}", got ${describe(file.format)}: this is not a MedRank notebook file`,
      'Choose a .json file that MedRank exported ("Export notebook").',
    );
  const version = int(file.version, 'version', 1);
  if (version > current)
    throw new NotebookFileError(
      'version',
      `this file was made by a newer MedRank (file version ${version}; this page reads up to ${current})`,
      'Reload the page to get the newest MedRank, then import it again.',
    );
  for (let v = version; v < current; v++) file = { ...migrations[v - 1]!(file), version: v + 1 };

  const get = fields(file, '', 'a notebook file', ['format', 'version', 'exportedAt', 'notebook', 'runs']);
  const nb = notebook(get('notebook'), 'notebook');
  const runs = arr(get('runs'), 'runs', runFile);
  unique(runs, 'runs', (r) => r.meta.id, 'meta.id', 'run ids');
  runs.forEach((r, i) => {
    if (r.meta.notebookId !== nb.id)
      fail(
        at(at('runs', i), 'meta.notebookId'),
        `expected the notebook's id ${JSON.stringify(nb.id)}, got ${describe(r.meta.notebookId)}`,
      );
  });
  return {
    format: NOTEBOOK_FILE_FORMAT,
    version: current,
    exportedAt: num(get('exportedAt'), 'exportedAt'),
    notebook: nb,
    runs,
  };
}

// ---- results files -----------------------------------------------------------------------

/**
 * The text with every bare NaN, Infinity and -Infinity outside strings (what Python's json.dump
 * writes unless allow_nan=False) turned into a marked string, so that the check of the field it
 * sits in names its path. Null when there is none (the text is broken some other way).
 */
function markNonFinite(text: string): string | null {
  const parts: string[] = [];
  let from = 0,
    inString = false,
    found = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c)
        i++; // a backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
      continue;
    }
    if (ch === 0x22) {
      inString = true;
      continue;
    }
    const token = text.startsWith('NaN', i)
      ? 'NaN'
      : text.startsWith('Infinity', i)
        ? 'Infinity'
        : text.startsWith('-Infinity', i)
          ? '-Infinity'
          : null;
    if (!token) continue;
    parts.push(text.slice(from, i), JSON.stringify(NON_FINITE + token));
    i += token.length - 1;
    from = i + 1;
    found = true;
  }
  if (!found) return null;
  parts.push(text.slice(from));
  return parts.join('');
}

const RESULTS_FIELDS = [
  'config',
  'data',
  'models',
  'adapter',
  'indexMs',
  'wallSeconds',
  'stopped',
  'phaseMs',
  'evals',
  'steps',
] as const;

const stopped: Check<ExperimentResults['stopped']> = nullable((v, path) => {
  const get = fields(v, path, 'where the run stopped', ['step', 'message']);
  return { step: count(get('step'), at(path, 'step')), message: str(get('message'), at(path, 'message')) };
});

/** The checked fields of a results file (config first: it bounds the steps' lists). */
function results(file: Record<string, unknown>): ExperimentResults {
  const get = fields(file, '', 'a results file', RESULTS_FIELDS, ['format', 'formatVersion', 'engine']);
  const config = runConfig(get('config'), 'config');
  const steps = arr(
    get('steps'),
    'steps',
    stepRecordWith(limitsOf(config)),
    Math.min(config.steps, MAX_RUN_STEPS),
    config.steps <= MAX_RUN_STEPS ? "the run's config.steps" : 'the most steps a run may carry',
  );
  unique(steps, 'steps', (r) => r.step, 'step', 'steps of a run');
  steps.forEach((r, i) => {
    if (r.step >= config.steps) fail(at(at('steps', i), 'step'), `step ${r.step} is past the run's ${config.steps} steps`);
  });
  const evals = arr(get('evals'), 'evals', evalEntry, MAX_RUN_EVALS);
  evals.forEach((e, i) => {
    if (e.step > config.steps) fail(at(at('evals', i), 'step'), `step ${e.step} is past the run's ${config.steps} steps`);
  });
  return {
    config,
    data: label(get('data'), 'data'),
    models: resultsModels(get('models'), 'models'),
    adapter: str(get('adapter'), 'adapter', { max: 200, nonEmpty: true }),
    engine: nullable(engineOf)(get('engine') ?? null, 'engine'),
    indexMs: nonNeg(get('indexMs'), 'indexMs'),
    wallSeconds: nonNeg(get('wallSeconds'), 'wallSeconds'),
    stopped: stopped(get('stopped'), 'stopped'),
    phaseMs: map(get('phaseMs'), 'phaseMs', phaseKey, nonNeg),
    evals,
    steps: [...steps].sort((a, b) => a.step - b.step),
  };
}

/** Refuse a results file by its size in bytes, before it is read (a byte is at most one character). */
export function checkResultsFileSize(bytes: number, maxChars = MAX_RESULTS_CHARS): void {
  if (bytes > maxChars) throw tooLarge(bytes, maxChars);
}

const tooLarge = (size: number, maxChars: number): ResultsFileError =>
  new ResultsFileError(
    '',
    `the file is ${(size / 2 ** 20).toFixed(1)} MB, more than the ${(maxChars / 2 ** 20).toFixed(1)} MB allowed`,
    'Import a run with fewer steps, or split the run into shorter ones (--steps, --resume).',
  );

/**
 * One run's results.json (`npm run experiment --out`, the PyTorch twin): every field checked, the
 * lists bounded by the run's own config before they are copied, fresh objects built, steps in order.
 */
export function parseResultsFile(text: string, opts: { maxChars?: number } = {}): ExperimentResults {
  const maxChars = opts.maxChars ?? MAX_RESULTS_CHARS;
  if (typeof text !== 'string') throw new ResultsFileError('', 'a results file is JSON text');
  if (text.length > maxChars) throw tooLarge(text.length, maxChars);
  let raw: unknown;
  if (jsonTextDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH)
    throw new ResultsFileError('', `this is not a results file: it nests deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // NaN and Infinity are not JSON, but a number field that holds one is worth its path.
    const marked = markNonFinite(text);
    try {
      raw = marked === null ? undefined : JSON.parse(marked);
    } catch {
      raw = undefined;
    }
    if (raw === undefined)
      throw new ResultsFileError(
        '',
        `this is not a results file: it is not valid JSON (${(err as Error).message}); a file cut short while it was written or copied reads like this`,
        'Choose the results.json that `npm run experiment --out` or the PyTorch twin wrote, copied whole.',
      );
  }
  if (!isRecord(raw)) throw new ResultsFileError('', `expected a results file (a JSON object), got ${describe(raw)}`);
  const file = raw as Record<string, unknown>;
  const own = (k: string): unknown => (Object.hasOwn(file, k) ? file[k] : undefined);
  if (own('format') === NOTEBOOK_FILE_FORMAT)
    throw new ResultsFileError('format', "this is a notebook file, not one run's results", 'Import it with "Import notebook".');
  if (own('format') === 'medrank-results')
    throw new ResultsFileError(
      'format',
      'this is the notebook\'s "Results as JSON" export (every run of a notebook), not one run\'s results.json',
      'Import the notebook file itself ("Import notebook"), or a results.json from `npm run experiment --out` or the PyTorch twin.',
    );
  if (own('format') !== undefined && own('format') !== RESULTS_FILE_FORMAT)
    throw new ResultsFileError('format', `expected "${RESULTS_FILE_FORMAT}" or no format, got ${describe(own('format'))}`);
  try {
    if (own('formatVersion') !== undefined) {
      const version = int(own('formatVersion'), 'formatVersion', 1);
      if (version > RESULTS_FILE_VERSION)
        throw new ResultsFileError(
          'formatVersion',
          `this file was written by a newer MedRank or twin (results version ${version}; this page reads up to ${RESULTS_FILE_VERSION})`,
          'Reload the page to get the newest MedRank, then import it again.',
        );
    }
    return results(file);
  } catch (err) {
    if (err instanceof NotebookFileError) throw new ResultsFileError(err.path, err.problem);
    throw err;
  }
}

/** What a results file becomes in a notebook: a finished (or stopped) run with no checkpoint, marked as imported. */
export function resultsToRun(
  r: ExperimentResults,
  opts: { id: string; notebookId: string; cellId: string; name: string; fileName: string; now: number },
): RunFile {
  const meta: RunMeta = {
    id: opts.id,
    notebookId: opts.notebookId,
    cellId: opts.cellId,
    name: opts.name,
    createdAt: opts.now,
    config: r.config,
    // Where it ran is the file's business (paths or hub ids on another machine): kept in `imported`.
    models: null,
    data: null,
    status: r.stopped ? 'stopped' : 'done',
    steps: r.steps.length,
    evals: r.evals,
    phaseMs: r.phaseMs,
    message: r.stopped?.message ?? null,
    checkpointStep: null,
    updatedAt: opts.now,
    imported: {
      adapter: r.adapter,
      data: r.data,
      models: r.models,
      ...(r.engine ? { engine: engineLabel(r.engine) } : {}),
      wallSeconds: r.wallSeconds,
      indexMs: r.indexMs,
      fileName: opts.fileName,
      importedAt: opts.now,
    },
  };
  return { meta, records: r.steps };
}
