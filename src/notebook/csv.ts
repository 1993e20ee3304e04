// Results export: step records and evaluations as CSV (RFC 4180: CRLF rows, fields with a comma,
// quote or line break quoted, quotes doubled; null as an empty field), and runs as JSON. Text
// fields that a spreadsheet would run as a formula (=, +, -, @ first) get a leading apostrophe.

import { PHASES } from '../training/step';
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

/** Every k of these recall maps, ascending. */
function ksOf(recalls: Record<number, number>[]): number[] {
  const ks = new Set<number>();
  for (const r of recalls) for (const k of Object.keys(r)) ks.add(Number(k));
  return [...ks].sort((a, b) => a - b);
}

/** One row per run per step: losses, alignment, recall@k, time per phase, GPU bytes. */
export function recordsToCsv(runs: { meta: RunMeta; records: StepRecord[] }[]): string {
  const ks = ksOf(runs.flatMap((r) => r.records.map((s) => s.recall)));
  const header = [
    'run_id',
    'run_name',
    'step',
    'retriever_loss',
    'generator_loss',
    'spearman',
    'kendall',
    ...ks.map((k) => `recall@${k}`),
    'ms_total',
    ...PHASES.map((p) => `ms_${p}`),
    'gpu_bytes',
  ];
  const rows = runs.flatMap(({ meta, records }) =>
    records.map((r): Field[] => [
      meta.id,
      meta.name,
      r.step,
      r.loss.retriever,
      r.loss.generator,
      r.alignment.spearman,
      r.alignment.kendall,
      ...ks.map((k) => r.recall[k]),
      PHASES.reduce((a, p) => a + (r.ms[p] ?? 0), 0),
      ...PHASES.map((p) => r.ms[p]),
      r.gpuBytes,
    ]),
  );
  return csv(header, rows);
}

/** One row per evaluation of each run. */
export function evalsToCsv(runs: RunMeta[]): string {
  const ks = ksOf(runs.flatMap((r) => r.evals.map((e) => e.result.recall)));
  const header = [
    'run_id',
    'run_name',
    'step',
    'split',
    'questions',
    'accuracy_none',
    'accuracy_retrieved',
    'accuracy_oracle',
    ...ks.map((k) => `recall@${k}`),
    'mrr10',
    'spearman',
    'kendall',
  ];
  const rows = runs.flatMap((meta) =>
    meta.evals.map(({ step, split, result: e }): Field[] => [
      meta.id,
      meta.name,
      step,
      split,
      e.questions,
      e.accuracy.none,
      e.accuracy.retrieved,
      e.accuracy.oracle,
      ...ks.map((k) => e.recall[k]),
      e.mrr10,
      e.alignment.spearman,
      e.alignment.kendall,
    ]),
  );
  return csv(header, rows);
}

/** Runs with their step records as one JSON document (for analysis outside MedRank). */
export function resultsJson(runs: { meta: RunMeta; records: StepRecord[] }[]): string {
  return JSON.stringify({ format: 'medrank-results', runs: runs.map(({ meta, records }) => ({ meta, records })) });
}
