// `npm run -s experiment-table -- results/a.json results/b.json ...`: the README's tables from
// `npm run experiment` results files, as Markdown on stdout: held-out metrics at step 0 and at the
// end of each run, and the mean time per step of each phase.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { EvalEntry } from '../src/training/run';

interface Results {
  config: { name: string; steps: number; schedule: string; retrieverLoss: string };
  evals: EvalEntry[];
  phaseMs: Record<string, number>;
  steps: unknown[];
  stopped: { message: string } | null;
  adapter: string;
}

const pct = (v: number): string => (100 * v).toFixed(1);
const arrow = (a: number, b: number, f: (v: number) => string): string => `${f(a)} → **${f(b)}**`;

export function tables(files: string[]): string {
  const runs = files.map((f) => ({ file: f, r: JSON.parse(readFileSync(f, 'utf8')) as Results }));
  const lines: string[] = [];
  const splits = [...new Set(runs.flatMap(({ r }) => r.evals.map((e) => e.split)))].sort().reverse(); // test first
  for (const split of splits) {
    const first = runs.map(({ r }) => r.evals.find((e) => e.split === split)).filter((e) => e !== undefined);
    lines.push(
      `**${split}** (${first[0]?.result.questions ?? 0} questions; at step 0 → after training):`,
      '',
      `| run | schedule, retriever loss | steps | accuracy, top-m retrieved (%) | no retrieval | gold passage (oracle) | recall@5 (%) | alignment (Spearman) |`,
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    // A run made with evalAtStart off shares its step-0 evaluation with a run of the same models.
    const start = runs.map(({ r }) => r.evals.find((e) => e.split === split && e.step === 0)).find((e) => e !== undefined);
    for (const { r } of runs) {
      const evs = r.evals.filter((e) => e.split === split);
      if (evs.length === 0) continue;
      const a = (evs[0]!.step === 0 ? evs[0]! : (start ?? evs[0]!)).result,
        b = evs.at(-1)!.result;
      lines.push(
        `| ${r.config.name} | ${r.config.schedule}, ${r.config.retrieverLoss} | ${r.steps.length}${r.stopped ? ' (stopped)' : ''} | ${arrow(a.accuracy.retrieved, b.accuracy.retrieved, pct)} | ${arrow(a.accuracy.none, b.accuracy.none, pct)} | ${arrow(a.accuracy.oracle, b.accuracy.oracle, pct)} | ${arrow(a.recall[5] ?? 0, b.recall[5] ?? 0, pct)} | ${arrow(a.alignment.spearman, b.alignment.spearman, (v) => v.toFixed(3))} |`,
      );
    }
    lines.push('');
  }
  const phases = Object.keys(runs[0]?.r.phaseMs ?? {});
  lines.push(`| run | ${phases.join(' | ')} | total s/step |`, `| --- | ${phases.map(() => '---').join(' | ')} | --- |`);
  for (const { r } of runs) {
    const total = Object.values(r.phaseMs).reduce((x, y) => x + y, 0);
    lines.push(
      `| ${r.config.name} | ${phases.map((p) => (r.phaseMs[p]! / 1000).toFixed(2)).join(' | ')} | ${(total / 1000).toFixed(2)} |`,
    );
  }
  lines.push('', `Seconds per step by phase (mean over the run), adapter ${runs[0]?.r.adapter ?? '?'}.`);
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write('usage: npm run -s experiment-table -- results1.json [results2.json ...]\n');
    process.exit(2);
  }
  process.stdout.write(`${tables(files)}\n`);
}
