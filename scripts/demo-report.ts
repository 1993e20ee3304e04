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
import { isRephrased, type PerQuestion } from './demo-experiments';

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
  const finalFile = path.join(RESULTS, 'demo-final.json');
  const final = existsSync(finalFile) ? (JSON.parse(readFileSync(finalFile, 'utf8')) as Record<string, FinalRun>) : {};
  const byMethod = new Map<string, FinalRun[]>();
  for (const [name, run] of Object.entries(final)) {
    const method = name.replace(/-s\d+$/, '');
    byMethod.set(method, [...(byMethod.get(method) ?? []), run]);
  }
  const methods = [...byMethod].map(([name, runs]) => {
    runs.sort((a, b) => a.config.seed - b.config.seed);
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
  // JMLR's hypothesis, paired: each method minus frozen-retriever RAG, question by question and
  // seed by seed (the same draws), so an interval that excludes 0 is a difference the data shows.
  const base = byMethod.get(BASELINE);
  const differences = base
    ? [...byMethod]
        .filter(([name, runs]) => name !== BASELINE && runs.length === base.length)
        .map(([name, runs]) => {
          const keep = (id: string): boolean => !isRephrased(id);
          const d = draws(runs.length, runs[0]!.perQuestion.ids.filter(keep).length);
          const res = {} as Record<'accuracy' | 'recall5' | 'mrr10', Interval>;
          for (const k of ['accuracy', 'recall5', 'mrr10'] as const) {
            const a = table(runs, METRICS[k]!, keep),
              b = table(base, METRICS[k]!, keep);
            res[k] = difference(a, b, d);
          }
          return { name, minus: BASELINE, ...res };
        })
    : [];
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
  };
}

function markdown(r: ReturnType<typeof report>): string {
  const pct = (v: number): string => (100 * v).toFixed(1);
  const iv = (x: Interval, f = pct): string => `${f(x.mean)} [${f(x.lo)}, ${f(x.hi)}]`;
  const lines = [
    '| method | seeds | accuracy, top-m (%) | recall@5 (%) | recall@10 (%) | MRR@10 (%) | alignment (Spearman) | gap to gold passage (points) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const m of r.methods as Record<string, Interval & never>[]) {
    const g = (k: string): Interval => m[k] as unknown as Interval;
    lines.push(
      `| ${m.name as unknown as string} | ${m.seeds as unknown as number} | ${iv(g('accuracy'))} | ${iv(g('recall5'))} | ${iv(g('recall10'))} | ${iv(g('mrr10'))} | ${iv(g('alignment'), (v) => v.toFixed(3))} | ${iv(g('oracleGap'))} |`,
    );
  }
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
  return lines.join('\n');
}

interface RecordEval {
  step: number;
  split: string;
  result: { perQuestion?: PerQuestion };
}

/** A gold passage's rank from a reciprocal rank at 10 (null: not in the top 10). */
const rankOf = (rr: number): number | null => (rr > 0 ? Math.round(1 / rr) : null);

/**
 * Questions worth opening in the recorded JMLR run: test questions whose gold passage climbed to
 * the top m and whose answer went from wrong to right, with the first evaluation step that shows it
 * (the run evaluates every 50 steps), best climbs first.
 */
export function climbs(evals: RecordEval[], topM: number, limit = 3) {
  const ev = evals.filter((e) => e.split === 'test' && e.result.perQuestion).sort((a, b) => a.step - b.step);
  if (ev.length < 2) return [];
  const first = ev[0]!.result.perQuestion!,
    last = ev.at(-1)!.result.perQuestion!;
  const out: { id: string; from: number | null; to: number; byStep: number }[] = [];
  first.ids.forEach((id, i) => {
    if (isRephrased(id)) return;
    const from = rankOf(first.rr10[i]!),
      to = rankOf(last.rr10[i]!);
    if (to === null || to > topM || (from !== null && from <= topM)) return;
    if (first.correct.retrieved[i] !== 0 || last.correct.retrieved[i] !== 1) return;
    const at = ev.find((e) => {
      const r = rankOf(e.result.perQuestion!.rr10[i]!);
      return r !== null && r <= topM;
    })!;
    out.push({ id, from, to, byStep: at.step });
  });
  return out.sort((a, b) => (b.from ?? 11) - (a.from ?? 11) || a.byStep - b.byStep).slice(0, limit);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  if (process.argv.includes('--climbs')) {
    const rec = JSON.parse(readFileSync(path.join(RESULTS, 'records/jmlr-llm-rank-s0.json'), 'utf8')) as {
      config: { topM: number };
      evals: RecordEval[];
    };
    console.log(JSON.stringify(climbs(rec.evals, rec.config.topM), null, 1));
  } else {
    const r = report();
    console.log(process.argv.includes('--json') ? JSON.stringify(r) : markdown(r));
  }
}
