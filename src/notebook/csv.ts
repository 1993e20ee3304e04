// Results export: step records, their candidates and evaluations as CSV (RFC 4180: CRLF rows,
// fields with a comma, quote or line break quoted, quotes doubled; null as an empty field), and
// runs as JSON. Text fields that a spreadsheet would run as a formula (=, +, -, @ first) get a
// leading apostrophe. The columns come from the records' schemas (src/training/records.ts): each
// table below is keyed by a schema's fields and walked in the schema's order, so a field added to
// a record does not compile until it is given its columns here (or a reason to leave it out).
// Step numbers are the page's: a step record's `step` is its 0-based index, and its rows say
// step t + 1, the number of updates applied once it ran, as the charts and tables do; an
// evaluation's `step` is already the number of updates before it. So step 4's row and the
// evaluation at step 4 see the same models (docs/data-formats.md, "Results as CSV").

import type * as S from '../core/schema';
import {
  CANDIDATE_RECORD,
  EVAL_ENTRY,
  EVAL_RESULT,
  GOLD_RANK_FIELDS,
  QUESTION_RECORD,
  STEP_RECORD,
  type GoldRank,
} from '../training/records';
import type { RunMeta, StepRecord } from './schema';

type Field = string | number | boolean | null | undefined;

/** One CSV field. Numbers are written in full precision; text is guarded against formula injection. */
function field(v: Field): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csv(header: string[], rows: Field[][]): string {
  return [header, ...rows].map((r) => r.map(field).join(',')).join('\r\n') + '\r\n';
}

// ---- columns from the schemas ------------------------------------------------------------

/** A field's columns, given all of its values (recall@k has one per k any of them has). */
interface Columns<V> {
  names: string[];
  cells: (v: V) => Field[];
}
type Spec<V> = (all: V[]) => Columns<V>;
/** A field left out of a table, and why (it has its own rows, or is too long for a cell). */
interface Omitted {
  omit: string;
}
/** How each field of a record becomes columns: every field of the schema, required or optional. */
type Table<T> = { [K in keyof T]-?: Spec<T[K]> | Omitted };

const one =
  (name: string): Spec<Field> =>
  () => ({ names: [name], cells: (v) => [v] });

/** One column per field of a keyed object's schema (loss: retriever, generator), in the schema's order. */
const each =
  <K extends string>(schema: { shape: Record<K, unknown> }, name: (k: K) => string): Spec<Partial<Record<K, Field>>> =>
  () => {
    const keys = Object.keys(schema.shape) as K[];
    return { names: keys.map(name), cells: (v) => keys.map((k) => v[k]) };
  };

/** Every k of these recall maps, ascending: one column each. */
const byK =
  (prefix: string): Spec<Record<number, number>> =>
  (all) => {
    const seen = new Set<number>();
    for (const r of all) for (const k of Object.keys(r)) seen.add(Number(k));
    const ks = [...seen].sort((a, b) => a - b);
    return { names: ks.map((k) => `${prefix}@${k}`), cells: (v) => ks.map((k) => v[k]) };
  };

/** The columns of a record's fields, walked in its schema's order. */
function columnsOf<T>(schema: S.ObjectSchema<Record<string, S.Schema<unknown>>>, table: Table<T>, rows: T[]): Columns<T> {
  const parts: Columns<T>[] = [];
  for (const k of Object.keys(schema.shape) as (keyof T)[]) {
    const spec = table[k];
    if ('omit' in spec) continue;
    const cols = spec(rows.map((r) => r[k]));
    parts.push({ names: cols.names, cells: (r) => cols.cells(r[k]) });
  }
  return { names: parts.flatMap((p) => p.names), cells: (r) => parts.flatMap((p) => p.cells(r)) };
}

/** The phases of ms, from the schema: their total first, then one column each. */
const phaseColumns: Spec<StepRecord['ms']> = () => {
  const phases = Object.keys(STEP_RECORD.shape.ms.shape) as (keyof StepRecord['ms'])[];
  return {
    names: ['ms_total', ...phases.map((p) => `ms_${p}`)],
    cells: (ms) => [phases.reduce((a, p) => a + (ms[p] ?? 0), 0), ...phases.map((p) => ms[p])],
  };
};

/** A step record's 0-based index as the page numbers steps: 1 for the first (updates applied once it ran). */
const stepNumber: Spec<number> = () => ({ names: ['step'], cells: (t) => [stepLabel(t)] });
export const stepLabel = (t: number): number => t + 1;

export const STEP_COLUMNS: Table<StepRecord> = {
  step: stepNumber,
  trains: each(STEP_RECORD.shape.trains, (k) => `trains_${k}`),
  loss: each(STEP_RECORD.shape.loss, (k) => `${k}_loss`),
  questions: { omit: 'one row per candidate: candidatesToCsv' },
  alignment: each(STEP_RECORD.shape.alignment, (k) => k),
  recall: byK('recall'),
  ms: phaseColumns,
  gpuBytes: one('gpu_bytes'),
  probes: { omit: "the probe set's questions, at the steps it ran: in the results JSON and the notebook" },
};

type QuestionRecord = StepRecord['questions'][number];
type CandidateRecord = QuestionRecord['candidates'][number];

/** The gold passage's rank in the index search: one column per field, all empty when null or not recorded. */
const goldRankColumns: Spec<QuestionRecord['goldRank']> = () => {
  const keys = Object.keys(GOLD_RANK_FIELDS.shape) as (keyof GoldRank)[];
  const name = (k: string): string => `gold_${k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
  return { names: keys.map(name), cells: (g) => keys.map((k) => g?.[k]) };
};

export const QUESTION_COLUMNS: Table<QuestionRecord> = {
  id: one('question_id'),
  candidates: { omit: 'one row each' },
  spearman: one('question_spearman'),
  kendall: one('question_kendall'),
  goldRank: goldRankColumns,
  nllNoDoc: one('nll_no_doc'),
};

export const CANDIDATE_COLUMNS: Table<CandidateRecord> = {
  docId: one('doc_id'),
  score: one('score'),
  scoreAfter: one('score_after'),
  prob: one('prob'),
  sampled: one('sampled'),
  utility: one('utility'),
  gold: one('gold'),
};

type EvalEntry = RunMeta['evals'][number];
type EvalResult = EvalEntry['result'];

export const EVAL_RESULT_COLUMNS: Table<EvalResult> = {
  questions: one('questions'),
  accuracy: each(EVAL_RESULT.shape.accuracy, (k) => `accuracy_${k}`),
  scored: one('scored'),
  recall: byK('recall'),
  mrr10: one('mrr10'),
  alignment: each(EVAL_RESULT.shape.alignment, (k) => k),
  ms: one('ms'),
  perQuestion: { omit: "lists as long as the evaluation's questions: in the results JSON" },
};

export const EVAL_COLUMNS: Table<EvalEntry> = {
  step: one('step'),
  split: one('split'),
  result: (all) => columnsOf(EVAL_RESULT, EVAL_RESULT_COLUMNS, all),
};

const RUN_HEADER = ['run_id', 'run_name'];
const runCells = (meta: RunMeta): Field[] => [meta.id, meta.name];

// ---- the exports -------------------------------------------------------------------------

/** One row per run per step: every field of the step record but its questions (losses, alignment, recall@k, ms per phase...). */
export function recordsToCsv(runs: { meta: RunMeta; records: StepRecord[] }[]): string {
  const cols = columnsOf(
    STEP_RECORD,
    STEP_COLUMNS,
    runs.flatMap((r) => r.records),
  );
  const rows = runs.flatMap(({ meta, records }) => records.map((r): Field[] => [...runCells(meta), ...cols.cells(r)]));
  return csv([...RUN_HEADER, ...cols.names], rows);
}

/** One row per candidate of every question of every step of each run, with its question's fields. */
export function candidatesToCsv(runs: { meta: RunMeta; records: StepRecord[] }[]): string {
  const questions = runs.flatMap((r) => r.records.flatMap((s) => s.questions));
  const q = columnsOf(QUESTION_RECORD, QUESTION_COLUMNS, questions);
  const c = columnsOf(
    CANDIDATE_RECORD,
    CANDIDATE_COLUMNS,
    questions.flatMap((x) => x.candidates),
  );
  const rows = runs.flatMap(({ meta, records }) =>
    records.flatMap((s) =>
      s.questions.flatMap((x) =>
        x.candidates.map((cand): Field[] => [...runCells(meta), stepLabel(s.step), ...q.cells(x), ...c.cells(cand)]),
      ),
    ),
  );
  return csv([...RUN_HEADER, 'step', ...q.names, ...c.names], rows);
}

/** One row per evaluation of each run: every field of the evaluation but its per-question lists. */
export function evalsToCsv(runs: RunMeta[]): string {
  const cols = columnsOf(
    EVAL_ENTRY,
    EVAL_COLUMNS,
    runs.flatMap((r) => r.evals),
  );
  const rows = runs.flatMap((meta) => meta.evals.map((e): Field[] => [...runCells(meta), ...cols.cells(e)]));
  return csv([...RUN_HEADER, ...cols.names], rows);
}

/** Runs with their step records as one JSON document (for analysis outside MedRank). */
export function resultsJson(runs: { meta: RunMeta; records: StepRecord[] }[]): string {
  return JSON.stringify({ format: 'medrank-results', runs: runs.map(({ meta, records }) => ({ meta, records })) });
}
