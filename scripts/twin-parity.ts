// `npm run -s twin-parity [-- --models tiny|demo|all] [--presets a,b] [--json]`
// The browser and the PyTorch twin on the same bundle, step for step. For each model set and
// preset: export a bundle (npm run export-experiment), run it in headless Chromium (npm run
// experiment, MedRank's WGSL kernels on this machine's adapter) and in PyTorch
// (python -m medrank_torch.train), then compare every step: candidate ids and sampled flags must be
// identical; losses, scores and utilities within 1e-4 relative; evaluations equal. Prints one row
// per run (max relative difference of each quantity) and exits 1 when any run differs.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, log } from './lib/browser-session';

const TOL = 1e-4;

interface ModelSet {
  data: string;
  retriever: string;
  generator: string;
  /** Size overrides so five steps of every preset fit this machine's software adapter. */
  overrides: Record<string, unknown>;
}

export const MODEL_SETS: Record<string, ModelSet> = {
  tiny: {
    data: 'test/fixtures/tiny-qa',
    retriever: 'test/fixtures/models/tiny-colbert',
    generator: 'test/fixtures/models/tiny-llama',
    overrides: { batchSize: 2, candidates: 4, sampled: 3, topM: 2, docMaxTokens: 24, evalLimit: 0, evalAlignmentCandidates: 4 },
  },
  demo: {
    data: 'public/demo',
    retriever: 'public/demo/models/retriever',
    generator: 'public/demo/models/generator',
    overrides: { batchSize: 2, candidates: 8, sampled: 4, topM: 2, docMaxTokens: 48, evalLimit: 6, evalAlignmentCandidates: 4 },
  },
};

export const PRESETS = ['jmlr-code', 'jomed', 'atlas-pdist', 'replug', 'rag-frozen', 'infonce'];

/** Every run: five steps, evaluated before and after, nothing saved on the way. */
const COMMON = { steps: 5, checkpointEvery: 0, evalAtStart: true, evalEvery: 0, recordScoresAfter: true };

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr.slice(-3000)}`);
}

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-3);

interface Candidate {
  docId: string;
  score: number;
  scoreAfter: number | null;
  prob: number;
  sampled: boolean;
  utility: number | null;
}
interface Step {
  step: number;
  loss: { retriever: number | null; generator: number | null };
  questions: { id: string; candidates: Candidate[] }[];
}
interface Results {
  steps: Step[];
  evals: {
    step: number;
    split: string;
    result: {
      accuracy: Record<string, number>;
      recall: Record<string, number>;
      mrr10: number;
      alignment: Record<string, number>;
    };
  }[];
}

export interface ParityRow {
  models: string;
  preset: string;
  steps: number;
  candidatesEqual: boolean;
  sampledEqual: boolean;
  evalsEqual: boolean;
  maxRel: { retrieverLoss: number; generatorLoss: number; score: number; scoreAfter: number; prob: number; utility: number };
  problems: string[];
}

/** Compare two results files step by step. */
export function compare(models: string, preset: string, a: Results, b: Results): ParityRow {
  const row: ParityRow = {
    models,
    preset,
    steps: a.steps.length,
    candidatesEqual: true,
    sampledEqual: true,
    evalsEqual: true,
    maxRel: { retrieverLoss: 0, generatorLoss: 0, score: 0, scoreAfter: 0, prob: 0, utility: 0 },
    problems: [],
  };
  const bump = (k: keyof ParityRow['maxRel'], x: number | null, y: number | null, where: string): void => {
    if (x === null || y === null) {
      if (x !== y) row.problems.push(`${where}: ${k} ${x} vs ${y}`);
      return;
    }
    row.maxRel[k] = Math.max(row.maxRel[k], rel(x, y));
  };
  if (a.steps.length !== b.steps.length) row.problems.push(`steps: ${a.steps.length} vs ${b.steps.length}`);
  a.steps.forEach((sa, t) => {
    const sb = b.steps[t];
    if (!sb) return;
    bump('retrieverLoss', sa.loss.retriever, sb.loss.retriever, `step ${t}`);
    bump('generatorLoss', sa.loss.generator, sb.loss.generator, `step ${t}`);
    sa.questions.forEach((qa, i) => {
      const qb = sb.questions[i];
      if (!qb || qa.id !== qb.id) {
        row.problems.push(`step ${t}: question ${i} is ${qa.id} vs ${qb?.id}`);
        return;
      }
      const ida = qa.candidates.map((c) => c.docId).join(','),
        idb = qb.candidates.map((c) => c.docId).join(',');
      if (ida !== idb) {
        row.candidatesEqual = false;
        row.problems.push(`step ${t} ${qa.id}: candidates ${ida} vs ${idb}`);
        return;
      }
      if (qa.candidates.some((c, j) => c.sampled !== qb.candidates[j]!.sampled)) {
        row.sampledEqual = false;
        row.problems.push(`step ${t} ${qa.id}: sampled flags differ`);
      }
      qa.candidates.forEach((c, j) => {
        const d = qb.candidates[j]!;
        const where = `step ${t} ${qa.id} ${c.docId}`;
        bump('score', c.score, d.score, where);
        bump('scoreAfter', c.scoreAfter, d.scoreAfter, where);
        bump('prob', c.prob, d.prob, where);
        bump('utility', c.utility, d.utility, where);
      });
    });
  });
  const evalKey = (r: Results) =>
    r.evals.map((e) => JSON.stringify([e.step, e.split, e.result.accuracy, e.result.recall, e.result.mrr10]));
  const ea = evalKey(a),
    eb = evalKey(b);
  if (ea.join('|') !== eb.join('|')) {
    row.evalsEqual = false;
    row.problems.push(`evaluations differ: ${ea.join(' ')} vs ${eb.join(' ')}`);
  }
  a.evals.forEach((e, i) => {
    const f = b.evals[i];
    if (f && Math.abs(e.result.alignment.spearman! - f.result.alignment.spearman!) > 1e-6) {
      row.evalsEqual = false;
      row.problems.push(`eval ${i}: alignment ${e.result.alignment.spearman} vs ${f.result.alignment.spearman}`);
    }
  });
  for (const [k, v] of Object.entries(row.maxRel))
    if (!(v <= TOL)) row.problems.push(`${k}: max relative difference ${v.toExponential(2)} > ${TOL}`);
  return row;
}

export function runParity(models: string, preset: string, work: string): ParityRow {
  const set = MODEL_SETS[models]!;
  const dir = path.join(work, `${models}-${preset}`);
  mkdirSync(dir, { recursive: true });
  const config = path.join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ preset, ...set.overrides, ...COMMON, name: `parity-${models}-${preset}` }));
  const flags = ['--data', set.data, '--format', 'jsonl', '--retriever', set.retriever, '--generator', set.generator];
  const bundle = path.join(dir, 'bundle');
  sh('npx', ['tsx', 'scripts/export-experiment.ts', config, '--out', bundle, ...flags]);
  const browser = path.join(dir, 'browser.json');
  sh('npx', ['tsx', 'scripts/experiment.ts', config, '--out', browser, ...flags]);
  const twin = path.join(dir, 'twin.json');
  sh('sh', ['scripts/py.sh', '-m', 'medrank_torch.train', bundle, '--out', twin]);
  const read = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as Results;
  return compare(models, preset, read(browser), read(twin));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const arg = (n: string) => {
    const i = argv.indexOf(`--${n}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const which = arg('models') ?? 'all';
  const sets = which === 'all' ? Object.keys(MODEL_SETS) : which.split(',');
  const presets = arg('presets')?.split(',') ?? PRESETS;
  for (const s of sets) if (!MODEL_SETS[s]) throw new Error(`--models ${s}: one of ${Object.keys(MODEL_SETS).join(', ')}, all`);
  const work = mkdtempSync(path.join(os.tmpdir(), 'medrank-parity-'));
  const rows: ParityRow[] = [];
  try {
    for (const s of sets)
      for (const p of presets) {
        const t0 = Date.now();
        const row = runParity(s, p, work);
        rows.push(row);
        const m = row.maxRel;
        log(
          `${s} ${p}: ${row.problems.length ? 'DIFFERS' : 'same'} in ${Math.round((Date.now() - t0) / 1000)} s; max rel: ` +
            `L_ret ${m.retrieverLoss.toExponential(1)} L_gen ${m.generatorLoss.toExponential(1)} score ${m.score.toExponential(1)} ` +
            `utility ${m.utility.toExponential(1)}${row.problems.length ? `\n  ${row.problems.slice(0, 8).join('\n  ')}` : ''}`,
        );
      }
  } finally {
    if (!argv.includes('--keep')) rmSync(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
  if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(rows)}\n`);
  if (rows.some((r) => r.problems.length)) process.exit(1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname))
  main().catch((e: Error) => {
    log(`error: ${e.message}`);
    process.exit(1);
  });
