// Files the notebook reads, data only: notebook files (export/import: a notebook, its runs and their
// step records as JSON) and results files (one run's results.json from `npm run experiment --out`
// or the PyTorch twin, docs/cluster.md). parseNotebookFile and parseResultsFile migrate older
// versions (FILE_MIGRATIONS, RESULTS_MIGRATIONS), then read the file through its schema
// (NOTEBOOK_FILE, resultsFileSchema in schema.ts: unknown fields, wrong types, non-finite
// numbers, bad configs, lists longer than the run could have made, refused before they are
// copied, fresh objects built, so nothing of the parsed text, no `__proto__` key, no extra field,
// reaches the app), then check the rules between fields (unique ids and steps, a Train cell's
// overrides with its preset, per-question lists one entry per id). The first problem throws a
// NotebookFileError (ResultsFileError) with the field's path and what to do.

import { MedRankError } from '../core/errors';
import { describe } from '../core/format';
import { JsonInputError, jsonTextDepth, MAX_JSON_DEPTH, parseJson } from '../core/json';
import * as S from '../core/schema';
import { ConfigError, resolveConfig, type TrainConfig } from '../training/config';
import { addScoreAfter, checkPerQuestion, limitsOf, SAVED_CONFIG, type EvalEntry } from '../training/records';
import {
  ANY_RESULTS,
  NOTEBOOK_FILE,
  NOTEBOOK_FILE_FORMAT,
  NOTEBOOK_FILE_VERSION,
  RESULTS_FILE_FORMAT,
  RESULTS_FILE_VERSION,
  resultsFileSchema,
  resultsLimitsOf,
  type ExperimentResults,
  type Notebook,
  type NotebookFile,
  type RunFile,
  type RunMeta,
} from './schema';

export { MAX_MARKDOWN_CHARS, MAX_RUN_STEPS, MAX_STRING_CHARS } from './schema';
export { MAX_RUN_EVALS } from '../training/records';

/** Largest notebook file accepted (characters of JSON). */
export const MAX_FILE_CHARS = 256 * 2 ** 20;
/** Largest results file accepted (characters of JSON; its bytes are checked before it is read). */
export const MAX_RESULTS_CHARS = 256 * 2 ** 20;
/** Marks a bare NaN / Infinity of a results file's text (markNonFinite); a JSON string cannot hold it unescaped. */
const NON_FINITE = '\u0000non-finite:';
const NON_FINITE_VALUES: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

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
 * One file version step: a migration list's entry i turns the parsed JSON of a version i + 1 file
 * into version i + 2 (before it is checked). The current version is the list's length + 1.
 */
export type FileMigration = (file: Record<string, unknown>) => Record<string, unknown>;

/** `file` with its own field `key` replaced by f(its value) (a file without it is left for the schema to refuse). */
const withField = (file: Record<string, unknown>, key: string, f: (v: unknown) => unknown): Record<string, unknown> =>
  Object.hasOwn(file, key) ? { ...file, [key]: f(file[key]) } : file;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const FILE_MIGRATIONS: FileMigration[] = [
  // 1 -> 2: a run may carry `imported` (a run from a results file); a version 1 file has none.
  (file) => file,
  // 2 -> 3: every candidate has scoreAfter; records made before it leave it out: null, as for a
  // step that did not re-score.
  (file) =>
    withField(file, 'runs', (runs) =>
      Array.isArray(runs) ? runs.map((r) => (isRecord(r) ? withField(r, 'records', addScoreAfter) : r)) : runs,
    ),
  // 3 -> 4: a model reference may carry frozenDtype (half-size frozen weights); a version 3 file has none (f32).
  (file) => file,
  // 4 -> 5: a demo model reference may name the demo dense retriever (model); a version 4 file names none.
  (file) => file,
];

/** The results file's version steps (RESULTS_FILE_VERSION is their length + 1). */
export const RESULTS_MIGRATIONS: FileMigration[] = [
  // 1 -> 2: every candidate has scoreAfter; the browser's runner wrote none before it: null.
  (file) => withField(file, 'steps', addScoreAfter),
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

// ---- importing ---------------------------------------------------------------------------

/**
 * The title an imported notebook gets beside the notebooks already here: its own when no other
 * has it, else marked as imported ("MedRank demo (imported)", then "(imported 2)", ...), so the
 * Storage list tells the copy from the original.
 */
export function importedTitle(title: string, taken: readonly string[]): string {
  const have = new Set(taken);
  if (!have.has(title)) return title;
  const base = title.replace(/ \(imported(?: \d+)?\)$/, '');
  for (let n = 1; ; n++) {
    const t = `${base} (imported${n === 1 ? '' : ` ${n}`})`;
    if (!have.has(t)) return t;
  }
}

/**
 * A notebook file as this browser takes it in at `now`: titled apart from the notebooks here
 * (importedTitle), changed now (the Storage list's time is the import's, not the export's), and
 * its runs without a checkpoint (a file carries none: nothing to resume from), a run the
 * exporting tab was still training marked interrupted.
 */
export function asImported(file: NotebookFile, now: number, taken: readonly string[]): NotebookFile {
  return {
    ...file,
    notebook: { ...file.notebook, title: importedTitle(file.notebook.title, taken), updatedAt: now },
    runs: file.runs.map((r) => ({
      ...r,
      meta: { ...r.meta, status: r.meta.status === 'running' ? 'interrupted' : r.meta.status, checkpointStep: null },
    })),
  };
}

// ---- the rules between fields ------------------------------------------------------------

const fail = (path: string, problem: string): never => {
  throw new S.SchemaError(path, problem);
};

function unique<T>(items: T[], path: string, key: (t: T) => string | number, field: string, what: string): void {
  const seen = new Map<string | number, number>();
  items.forEach((t, i) => {
    const k = key(t);
    const first = seen.get(k);
    if (first !== undefined)
      fail(S.at(S.at(path, i), field), `${JSON.stringify(k)} is used by ${S.at(path, first)} too; ${what} must be unique`);
    seen.set(k, i);
  });
}

/** resolveConfig on a checked partial config, its ConfigError at this file's path. */
function resolveAt(partial: Partial<TrainConfig>, path: string): TrainConfig {
  try {
    return resolveConfig(partial);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return fail(err.field ? S.at(path, err.field) : path, err.problem);
  }
}

/**
 * A Train cell's overrides (each field already checked by the schema). Without a preset they are
 * the whole config, checked as one. With a preset (a file fetched at run time) each field is
 * checked alone, on a base where the rules between fields (sampled <= candidates, ...) cannot
 * fail, since the preset may be what satisfies them.
 */
function checkOverrides(o: Partial<TrainConfig>, path: string, preset: string | null): void {
  if (preset === null) {
    resolveAt(o, path);
    return;
  }
  for (const [k, x] of Object.entries(o)) {
    const base: Partial<TrainConfig> = { candidates: 100, sampled: 1, topM: 1, refreshIndexEvery: 0, checkpointEvery: 0 };
    if (k === 'retrieverLoss')
      base.schedule = x === 'infonce' ? 'retriever-only' : x === 'none' ? 'frozen-retriever' : 'synchronous';
    resolveAt({ ...base, [k]: x }, path);
  }
}

function checkEvals(evals: EvalEntry[], path: string, steps: number | null): void {
  evals.forEach((e, i) => {
    if (steps !== null && e.step > steps) fail(S.at(S.at(path, i), 'step'), `step ${e.step} is past the run's ${steps} steps`);
    const bad = checkPerQuestion(e.result, S.at(S.at(path, i), 'result'));
    if (bad) fail(bad.path, bad.problem);
  });
}

function checkNotebook(nb: Notebook, path: string): void {
  nb.cells.forEach((c, i) => {
    const at = S.at(S.at(path, 'cells'), i);
    if (c.kind === 'train') checkOverrides(c.overrides, S.at(at, 'overrides'), c.preset);
    if (c.kind === 'evaluate' && c.last) {
      const bad = checkPerQuestion(c.last.result, S.at(S.at(at, 'last'), 'result'));
      if (bad) fail(bad.path, bad.problem);
    }
  });
  unique(nb.cells, S.at(path, 'cells'), (c) => c.id, 'id', 'cell ids');
}

/** Runs `parse`, a SchemaError (of the schema or of a rule between fields) becoming the file's error. */
function asFileError<T>(parse: () => T, error: (path: string, problem: string) => Error): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof S.SchemaError) throw error(err.path, err.problem);
    throw err;
  }
}

/** A file's version (`version`, `formatVersion`): an integer from 1 up. */
const VERSION = S.int({ min: 1, max: Infinity });

// ---- notebook files ----------------------------------------------------------------------

export interface ParseOptions {
  /** The file version steps (tests inject their own); default FILE_MIGRATIONS. */
  migrations?: FileMigration[];
  /** Largest text accepted, in characters; default MAX_FILE_CHARS. */
  maxChars?: number;
}

/** A notebook file from its JSON text: older versions migrated, every field checked, fresh objects built. */
export function parseNotebookFile(text: string, opts: ParseOptions = {}): NotebookFile {
  const migrations = opts.migrations ?? FILE_MIGRATIONS;
  const maxChars = opts.maxChars ?? MAX_FILE_CHARS;
  const current = migrations.length + 1;
  if (typeof text !== 'string') throw new NotebookFileError('', 'a notebook file is JSON text');
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
  const error = (path: string, problem: string) => new NotebookFileError(path, problem);
  let file = raw;
  if (isRecord(raw)) {
    const format = Object.hasOwn(raw, 'format') ? raw.format : undefined;
    if (format !== NOTEBOOK_FILE_FORMAT)
      throw new NotebookFileError(
        'format',
        `expected "${NOTEBOOK_FILE_FORMAT}", got ${describe(format)}: this is not a MedRank notebook file`,
        'Choose a .json file that MedRank exported ("Export notebook").',
      );
    const version = asFileError(() => VERSION.parse(Object.hasOwn(raw, 'version') ? raw.version : undefined, 'version'), error);
    if (version > current)
      throw new NotebookFileError(
        'version',
        `this file was made by a newer MedRank (file version ${version}; this page reads up to ${current})`,
        'Reload the page to get the newest MedRank, then import it again.',
      );
    let f = raw;
    for (let v = version; v < current; v++) f = { ...migrations[v - 1]!(f), version: v + 1 };
    file = f;
  }
  return asFileError(() => {
    const f = NOTEBOOK_FILE.parse(file);
    checkNotebook(f.notebook, 'notebook');
    unique(f.runs, 'runs', (r) => r.meta.id, 'meta.id', 'run ids');
    f.runs.forEach((r, i) => {
      const at = S.at('runs', i);
      if (r.meta.notebookId !== f.notebook.id)
        fail(
          S.at(at, 'meta.notebookId'),
          `expected the notebook's id ${JSON.stringify(f.notebook.id)}, got ${describe(r.meta.notebookId)}`,
        );
      checkEvals(r.meta.evals, S.at(at, 'meta.evals'), null);
      unique(r.records, S.at(at, 'records'), (s) => s.step, 'step', 'steps of a run');
    });
    // The tab that ran it is gone: a run saved mid-way can only resume.
    const runs = f.runs.map((r) =>
      r.meta.status === 'running' ? { ...r, meta: { ...r.meta, status: 'interrupted' as const } } : r,
    );
    return { ...f, runs };
  }, error);
}

// ---- results files -----------------------------------------------------------------------

/**
 * The text with every bare NaN, Infinity and -Infinity outside strings (what Python's json.dump
 * writes unless allow_nan=False) turned into a marked string, which the reading turns back into
 * that number, so that the check of the field it sits in names its path. Null when there is none
 * (the text is broken some other way).
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

/** A marked string back to its number (a number check then refuses it at its path: "got NaN"). */
const unmark = (_key: string, v: unknown): unknown =>
  typeof v === 'string' && v.startsWith(NON_FINITE) ? (NON_FINITE_VALUES[v.slice(NON_FINITE.length)] ?? v) : v;

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
 * One run's results.json (`npm run experiment --out`, the PyTorch twin): older versions migrated,
 * every field checked, the lists bounded by the run's own config before they are copied, fresh
 * objects built, steps in order.
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
      raw = marked === null ? undefined : JSON.parse(marked, unmark);
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
  const error = (path: string, problem: string) => new ResultsFileError(path, problem);
  let file = raw;
  let lim = ANY_RESULTS;
  if (isRecord(raw)) {
    const own = (k: string): unknown => (Object.hasOwn(raw, k) ? raw[k] : undefined);
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
    const version =
      own('formatVersion') === undefined ? 1 : asFileError(() => VERSION.parse(own('formatVersion'), 'formatVersion'), error);
    if (version > RESULTS_FILE_VERSION)
      throw new ResultsFileError(
        'formatVersion',
        `this file was written by a newer MedRank or twin (results version ${version}; this page reads up to ${RESULTS_FILE_VERSION})`,
        'Reload the page to get the newest MedRank, then import it again.',
      );
    let f = raw;
    for (let v = version; v < RESULTS_FILE_VERSION; v++) f = { ...RESULTS_MIGRATIONS[v - 1]!(f), formatVersion: v + 1 };
    file = f;
    // The config bounds the steps' lists; a config that cannot be read is reported in its turn by the file's schema.
    try {
      const config = SAVED_CONFIG.parse(own('config'), 'config');
      lim = resultsLimitsOf(config, limitsOf(config));
    } catch (err) {
      if (!(err instanceof S.SchemaError)) throw err;
    }
  }
  return asFileError(() => {
    const { format: _format, formatVersion: _version, engine = null, ...r } = resultsFileSchema(lim).parse(file);
    const steps = r.config.steps;
    unique(r.steps, 'steps', (s) => s.step, 'step', 'steps of a run');
    r.steps.forEach((s, i) => {
      if (s.step >= steps) fail(S.at(S.at('steps', i), 'step'), `step ${s.step} is past the run's ${steps} steps`);
    });
    checkEvals(r.evals, 'evals', steps);
    return { ...r, engine, steps: [...r.steps].sort((a, b) => a.step - b.step) };
  }, error);
}

/** How the runs lists name the engine: 'medrank_torch 0.1.0, torch 2.3.1, 8 processes'. */
export function engineLabel(e: NonNullable<ExperimentResults['engine']>): string {
  const p = e.processes;
  return [`${e.name} ${e.version}`, e.torch && `torch ${e.torch}`, p && `${p} process${p === 1 ? '' : 'es'}`]
    .filter(Boolean)
    .join(', ');
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
