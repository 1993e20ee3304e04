// `npm run -s demo-report [-- --json]`: the built-in demo's numbers from the committed results
// (experiments/results/demo-models.json and demo-final.json, written by `npm run
// demo-experiments`), test split. Every interval is a 95 % percentile bootstrap (2,000 draws,
// seeded) that resamples the test questions and, where a method has several seeds, the seeds:
// one draw takes the same questions for every seed and every method, so differences between
// methods are paired. Without --json, a Markdown table for the README.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { mulberry32 } from '../src/tensor/random';
import { ROOT } from './lib/browser-session';
import { heldOutClimbs } from '../src/components/runView';
import { parseResultsFile } from '../src/notebook/file';
import { ABLATION_PAIRS, isRephrased, type PerQuestion } from './demo-experiments';

const RESULTS = path.join(ROOT, 'experiments/results');
const DRAWS = 2000;
/** The method every other is compared with, paired (JMLR's claim is against frozen-retriever RAG). */
const BASELINE = 'rag-frozen';

export interface Interval {
  mean: number;
  lo: number;
  hi: number;
}

interface FinalRun {
  config: { seed: number };
  perQuestion: PerQuestion;
}

/** Per question values of one metric (null: not scored), for a per-question record. */
type Metric = (pq: PerQuestion, i: number) => number | null;

export const METRICS: Record<string, Metric> = {
  accuracy: (pq, i) => pq.correct.retrieved[i] ?? null,
  recall5: (pq, i) => pq.recall['5']![i]!,
  recall10: (pq, i) => pq.recall['10']![i]!,
  mrr10: (pq, i) => pq.rr10[i]!,
  alignment: (pq, i) => pq.spearman[i] ?? null,
  oracleGap: (pq, i) => {
    const o = pq.correct.oracle[i],
      r = pq.correct.retrieved[i];
    return o === null || o === undefined || r === null || r === undefined ? null : o - r;
  },
};

/** [seed][question] values of a metric over the questions `keep` selects (same order in every seed). */
function table(runs: FinalRun[], metric: Metric, keep: (id: string) => boolean): (number | null)[][] {
  return runs.map((r) => r.perQuestion.ids.flatMap((id, i) => (keep(id) ? [metric(r.perQuestion, i)] : [])));
}

function meanOf(values: (number | null)[][], seeds: number[], qs: number[]): number {
  let total = 0,
    n = 0;
  for (const s of seeds) {
    let sum = 0,
      k = 0;
    for (const q of qs) {
      const v = values[s]![q];
      if (v !== null && v !== undefined) {
        sum += v;
        k++;
      }
    }
    if (k) {
      total += sum / k;
      n++;
    }
  }
  return n ? total / n : 0;
}

/** The draws every interval shares: seed and question indices, from one seeded stream. */
export function draws(seeds: number, questions: number, count = DRAWS): { seeds: number[]; qs: number[] }[] {
  const r = mulberry32(20261202);
  return Array.from({ length: count }, () => ({
    seeds: Array.from({ length: seeds }, () => Math.floor(r() * seeds)),
    qs: Array.from({ length: questions }, () => Math.floor(r() * questions)),
  }));
}

export function interval(values: (number | null)[][], d: ReturnType<typeof draws>): Interval {
  const all = {
    seeds: values.map((_, i) => i),
    qs: values[0]!.map((_, i) => i),
  };
  const stats = d.map((x) => meanOf(values, x.seeds, x.qs)).sort((a, b) => a - b);
  return {
    mean: meanOf(values, all.seeds, all.qs),
    lo: stats[Math.floor(0.025 * stats.length)]!,
    hi: stats[Math.ceil(0.975 * stats.length) - 1]!,
  };
}

/** The interval of a - b, question by question and seed by seed on the same draws (paired); null where either is. */
export function difference(a: (number | null)[][], b: (number | null)[][], d: ReturnType<typeof draws>): Interval {
  return interval(
    a.map((row, s) => row.map((v, q) => (v === null || b[s]![q] === null || b[s]![q] === undefined ? null : v - b[s]![q]!))),
    d,
  );
}

/** A results file's runs (experiments/results/NAME, written by demo-experiments), by method, seeds in order. */
function runsByMethod(file: string): Map<string, FinalRun[]> {
  const f = path.join(RESULTS, file);
  const all = existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Record<string, FinalRun>) : {};
  const byMethod = new Map<string, FinalRun[]>();
  for (const [name, run] of Object.entries(all)) {
    const method = name.replace(/-s\d+$/, '');
    byMethod.set(method, [...(byMethod.get(method) ?? []), run]);
  }
  for (const runs of byMethod.values()) runs.sort((a, b) => a.config.seed - b.config.seed);
  return byMethod;
}

/** Each method's metrics with intervals, on the original test questions and apart on the rephrased ones. */
function summaries(byMethod: Map<string, FinalRun[]>) {
  return [...byMethod].map(([name, runs]) => {
    const out: Record<string, unknown> = { name, seeds: runs.length };
    for (const [which, keep] of [
      ['original', (id: string) => !isRephrased(id)],
      ['rephrased', isRephrased],
    ] as const) {
      const n = runs[0]!.perQuestion.ids.filter(keep).length;
      const d = draws(runs.length, n);
      const res: Record<string, Interval> = {};
      for (const [k, f] of Object.entries(METRICS)) res[k] = interval(table(runs, f, keep), d);
      if (which === 'original') Object.assign(out, res);
      else out.rephrased = res;
    }
    return out;
  });
}

/** a minus b, paired by question and seed; null unless both have the same number of seeds. */
function paired(byMethod: Map<string, FinalRun[]>, a: string, b: string) {
  const ra = byMethod.get(a),
    rb = byMethod.get(b);
  if (!ra || !rb || ra.length !== rb.length) return null;
  const keep = (id: string): boolean => !isRephrased(id);
  const d = draws(ra.length, ra[0]!.perQuestion.ids.filter(keep).length);
  const res = {} as Record<'accuracy' | 'recall5' | 'mrr10', Interval>;
  for (const k of ['accuracy', 'recall5', 'mrr10'] as const)
    res[k] = difference(table(ra, METRICS[k]!, keep), table(rb, METRICS[k]!, keep), d);
  return { name: a, minus: b, ...res };
}

export function report() {
  const modelsFile = path.join(RESULTS, 'demo-models.json');
  if (!existsSync(modelsFile))
    throw new Error(`${path.relative(ROOT, modelsFile)} is missing: run npm run demo-experiments -- models`);
  const m = JSON.parse(readFileSync(modelsFile, 'utf8')) as {
    chance: number;
    test: { accuracy: { none: number; retrieved: number; oracle: number }; recall5: number };
    testRephrased: { accuracy: { none: number; retrieved: number; oracle: number }; recall5: number };
    bm25: { test: { recall5: number }; testRephrased: { recall5: number } };
    reading: { medianGap: number; medianNll: Record<string, number>; distractorAccuracy: number };
  };
  const byMethod = runsByMethod('demo-final.json');
  const methods = summaries(byMethod);
  // JMLR's hypothesis, paired: each method minus frozen-retriever RAG, question by question and
  // seed by seed (the same draws), so an interval that excludes 0 is a difference the data shows.
  const differences = [...byMethod.keys()]
    .filter((name) => name !== BASELINE)
    .flatMap((name) => paired(byMethod, name, BASELINE) ?? []);
  // The ablations (after the table, on test, nothing chosen from them), each against its own base.
  const ablationRuns = runsByMethod('demo-ablations.json');
  const ablations = {
    methods: summaries(ablationRuns),
    differences: ABLATION_PAIRS.flatMap(([a, b]) => paired(ablationRuns, a, b) ?? []),
  };
  return {
    split: 'test',
    generator: {
      gold: m.test.accuracy.oracle,
      closedBook: m.test.accuracy.none,
      topM: m.test.accuracy.retrieved,
      chance: m.chance,
      medianNllGap: m.reading.medianGap,
      distractorAccuracy: m.reading.distractorAccuracy,
      rephrased: {
        gold: m.testRephrased.accuracy.oracle,
        closedBook: m.testRephrased.accuracy.none,
        topM: m.testRephrased.accuracy.retrieved,
      },
    },
    retriever: {
      recall5: m.test.recall5,
      bm25Recall5: m.bm25.test.recall5,
      rephrased: { recall5: m.testRephrased.recall5, bm25Recall5: m.bm25.testRephrased.recall5 },
    },
    methods,
    differences,
    ablations,
  };
}

function markdown(r: ReturnType<typeof report>): string {
  const pct = (v: number): string => (100 * v).toFixed(1);
  const iv = (x: Interval, f = pct): string => `${f(x.mean)} [${f(x.lo)}, ${f(x.hi)}]`;
  const header =
    '| method | seeds | accuracy, top-m (%) | recall@5 (%) | recall@10 (%) | MRR@10 (%) | alignment (Spearman) | gap to gold passage (points) |';
  const row = (m: Record<string, unknown>): string => {
    const g = (k: string): Interval => m[k] as Interval;
    return `| ${m.name as string} | ${m.seeds as number} | ${iv(g('accuracy'))} | ${iv(g('recall5'))} | ${iv(g('recall10'))} | ${iv(g('mrr10'))} | ${iv(g('alignment'), (v) => v.toFixed(3))} | ${iv(g('oracleGap'))} |`;
  };
  const lines = [header, '| --- | --- | --- | --- | --- | --- | --- | --- |'];
  for (const m of r.methods) lines.push(row(m));
  if (r.differences.length) {
    lines.push(
      '',
      `Paired differences against ${BASELINE} (points; 95 % interval):`,
      '',
      '| method | accuracy | recall@5 | MRR@10 |',
      '| --- | --- | --- | --- |',
    );
    for (const d of r.differences) lines.push(`| ${d.name} | ${iv(d.accuracy)} | ${iv(d.recall5)} | ${iv(d.mrr10)} |`);
  }
  if (r.ablations.methods.length) {
    lines.push(
      '',
      'Ablations (test split; chosen after the table, nothing is chosen from them):',
      '',
      header,
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const m of r.ablations.methods) lines.push(row(m));
    if (r.ablations.differences.length) {
      lines.push(
        '',
        'Paired differences (points; 95 % interval):',
        '',
        '| run | minus | accuracy | recall@5 | MRR@10 |',
        '| --- | --- | --- | --- | --- |',
      );
      for (const d of r.ablations.differences)
        lines.push(`| ${d.name} | ${d.minus} | ${iv(d.accuracy)} | ${iv(d.recall5)} | ${iv(d.mrr10)} |`);
    }
  }
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  if (process.argv.includes('--climbs')) {
    const rec = parseResultsFile(readFileSync(path.join(RESULTS, 'records/jmlr-llm-rank-s0.json'), 'utf8'));
    console.log(JSON.stringify(heldOutClimbs(rec.evals, rec.config.topM, { limit: 3, skip: isRephrased }), null, 1));
  } else {
    const r = report();
    console.log(process.argv.includes('--json') ? JSON.stringify(r) : markdown(r));
  }
}
