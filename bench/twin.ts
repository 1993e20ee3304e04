// The twin bench, run from Node (no bench page): MedRank in headless Chromium against the PyTorch
// twin (python/medrank_torch) on the same jmlr-code run of the demo models, then the twin's step
// at real model shapes (colbertv2.0 + SmolLM2-135M, random weights) on the CPU.
//   1. export a bundle (scripts/export-experiment.ts), run the config in the browser
//      (scripts/experiment.ts, this machine's adapter) and in the twin (medrank_torch.train
//      --device cpu); rows from both results files: seconds per step (step 0 apart) and the step-0
//      evaluation's time.
//   2. python -m medrank_torch.bench --json: its rows as they are.
// Child processes' output goes to stderr; nothing here writes to stdout (run.ts prints the result).
// BENCH_TWIN_QUICK=1: the tiny fixture models and data, 2 steps, the bench's toy shape (a smoke run).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHROMIUM_PATH } from '../scripts/lib/chromium';
import { log, ROOT } from '../scripts/lib/browser-session';
import type { PageResult } from './page';

/** The run of part 1 (over public/presets/jmlr-code.json). */
export const TWIN_CONFIG = {
  preset: 'jmlr-code',
  steps: 3,
  batchSize: 2,
  candidates: 10,
  sampled: 5,
  topM: 2,
  docMaxTokens: 64,
  evalAtStart: true,
  evalLimit: 100,
  evalSplit: 'validation',
  checkpointEvery: 0,
};

const DEMO = { data: 'public/demo', retriever: 'public/demo/models/retriever', generator: 'public/demo/models/generator' };
const TINY = {
  data: 'test/fixtures/tiny-qa',
  retriever: 'test/fixtures/models/tiny-colbert',
  generator: 'test/fixtures/models/tiny-llama',
};
const QUICK_OVERRIDES = { steps: 2, candidates: 4, sampled: 3, docMaxTokens: 24, evalLimit: 4, evalAlignmentCandidates: 4 };

export type TwinRow = Record<string, unknown>;

export interface TwinResult {
  bench: 'twin';
  adapter: PageResult['adapter'];
  browser: string;
  notes: string[];
  rows: TwinRow[];
}

interface Results {
  adapter: string;
  indexMs: number;
  wallSeconds: number;
  stopped: { step: number; message: string } | null;
  steps: { step: number; ms: Record<string, number> }[];
  evals: { step: number; split: string; result: { questions: number; ms: number } }[];
}

function sh(cmd: string, args: string[], capture = false): string {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', capture ? 'pipe' : 2, 'inherit'], encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}`);
  return r.stdout ?? '';
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

/** The jmlr-step and eval-100 rows of one results.json (npm run experiment --out or medrank_torch.train --out). */
export function rowsOf(impl: string, r: Results, split: string, extra: TwinRow = {}): TwinRow[] {
  if (r.stopped) throw new Error(`${impl}: the run stopped at step ${r.stopped.step}: ${r.stopped.message}`);
  const stepS = r.steps.map((s) => sum(Object.values(s.ms)) / 1000);
  if (stepS.length < 2) throw new Error(`${impl}: ${stepS.length} steps; the mean after step 0 needs at least 2`);
  const later = stepS.slice(1);
  const ev = r.evals.find((e) => e.step === 0 && e.split === split);
  if (!ev) throw new Error(`${impl}: no ${split} evaluation at step 0`);
  return [
    {
      impl,
      what: 'jmlr-step',
      seconds: round(sum(later) / later.length),
      firstStepSeconds: round(stepS[0]!),
      steps: later.length,
      adapter: r.adapter,
      ...extra,
    },
    { impl, what: 'eval-100', questions: ev.result.questions, seconds: round(ev.result.ms / 1000), adapter: r.adapter, ...extra },
  ];
}

function chromiumVersion(): string {
  const r = spawnSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8' });
  return /(\d+(?:\.\d+)+)/.exec(r.stdout ?? '')?.[1] ?? 'unknown';
}

export async function run(): Promise<TwinResult> {
  const quick = process.env.BENCH_TWIN_QUICK === '1';
  const models = quick ? TINY : DEMO;
  const config = { ...TWIN_CONFIG, ...(quick ? QUICK_OVERRIDES : {}) };
  const shapes = quick ? 'toy' : 'colbertv2-smollm2-135m';
  const work = mkdtempSync(path.join(os.tmpdir(), 'medrank-bench-twin-'));
  try {
    const cfg = path.join(work, 'config.json');
    writeFileSync(cfg, JSON.stringify(config));
    const flags = ['--data', models.data, '--format', 'jsonl', '--retriever', models.retriever, '--generator', models.generator];
    const bundle = path.join(work, 'bundle');
    sh('npx', ['tsx', 'scripts/export-experiment.ts', cfg, '--out', bundle, ...flags]);
    const browserOut = path.join(work, 'medrank.json');
    sh('npx', ['tsx', 'scripts/experiment.ts', cfg, '--out', browserOut, ...flags]);
    const twinOut = path.join(work, 'twin.json');
    sh('sh', ['scripts/py.sh', '-m', 'medrank_torch.train', bundle, '--out', twinOut, '--device', 'cpu']);
    // train.py leaves torch's thread count alone: say what it was.
    const twinThreads = Number(sh('sh', ['scripts/py.sh', '-c', 'import torch; print(torch.get_num_threads())'], true).trim());
    const read = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as Results;
    const browser = read(browserOut),
      twin = read(twinOut);
    const rows = [
      ...rowsOf('medrank', browser, config.evalSplit),
      ...rowsOf('pytorch-twin', twin, config.evalSplit, { threads: twinThreads }),
    ];
    const stepRows = sh('sh', ['scripts/py.sh', '-m', 'medrank_torch.bench', '--json', '--shapes', shapes], true)
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as TwinRow);
    rows.push(...stepRows);
    const [vendor = browser.adapter, architecture = ''] = browser.adapter.split('/');
    const c = config as typeof config & Partial<typeof QUICK_OVERRIDES>;
    return {
      bench: 'twin',
      adapter: { vendor, architecture, description: '' },
      browser: chromiumVersion(),
      notes: [
        `jmlr-step / eval-100: {"preset":"jmlr-code"} with steps ${c.steps}, batchSize ${c.batchSize}, candidates ${c.candidates}, ` +
          `sampled ${c.sampled}, topM ${c.topM}, docMaxTokens ${c.docMaxTokens}, evalLimit ${c.evalLimit} (${c.evalSplit}), ` +
          `checkpointEvery 0 on ${models.data} with ${models.retriever} + ${models.generator}. medrank: npm run experiment ` +
          `(headless Chromium, adapter ${browser.adapter}); pytorch-twin: medrank_torch.train --device cpu on the exported bundle.`,
        'jmlr-step seconds: the mean over steps 1.. of the sum of the step record\u2019s phase times (ms); firstStepSeconds: step 0 ' +
          '(pipeline compilation in the browser, allocator warm-up in torch). eval-100 seconds: the step-0 evaluation\u2019s result.ms ' +
          `(questions: how many the split had, at most evalLimit). The final evaluation after step ${c.steps} is not reported.`,
        `Index build before step 0: medrank ${round(browser.indexMs / 1000, 1)} s, twin ${round(twin.indexMs / 1000, 1)} s; ` +
          `wall of the whole run: medrank ${browser.wallSeconds} s (with model loading and Chromium start), twin ${twin.wallSeconds} s.`,
        `step-* rows: python -m medrank_torch.bench --json --shapes ${shapes} (random weights at the models\u2019 real shapes, ` +
          'a synthetic bundle; 1 untimed warm-up step then 3 timed Trainer.step calls; seconds = mean wall per step, ' +
          'phases = mean ms per phase; the index is random unit vectors, see bench/README.md).',
        ...(quick ? ['BENCH_TWIN_QUICK=1: tiny fixture models, toy shape; a smoke run, not a measurement.'] : []),
      ],
      rows,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
