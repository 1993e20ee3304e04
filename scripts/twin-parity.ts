// `npm run -s twin-parity [-- --models tiny|demo|all] [--presets a,b] [--variants] [--keep] [--json]`
// The browser and the PyTorch twin on the same bundle, step for step. For each model set and
// preset: export a bundle (npm run export-experiment's code), run it in headless Chromium (npm run
// experiment's code, MedRank's WGSL kernels on this machine's adapter; all runs in one page, so
// kernels compile once) and in PyTorch (python -m medrank_torch.train), then compare every step:
// candidate ids and sampled flags must be identical; losses, scores and utilities within 1e-4
// relative (1e-5 absolute near 0), probabilities within 1e-4; evaluations equal. Prints one row
// per run (max relative difference of each quantity) and exits 1 when any run differs. --variants
// adds VARIANTS on the tiny models: the losses and settings no preset uses.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportExperiment } from './export-experiment';
import { readConfig, readData, runExperiments, type ExperimentOutput, type ExperimentSpec } from './experiment';
import { ROOT, log } from './lib/browser-session';

/**
 * Agreement as numpy.isclose: |a - b| <= ATOL + RTOL |b|. The absolute part is for values near 0:
 * an answer NLL of 0.005 (the demo generator on a training answer) carries f32 rounding of about
 * 1e-6 in both engines. Probabilities get PROB_ATOL times the question's stretch
 * max|s| / (max s - min s): they are softmax of min-max scaled scores, and the scaling stretches
 * each score's f32 rounding (relative 1e-7 of |s|, about 30 for the demo's MaxSim) by that much,
 * which is large when the top K nearly tie (candidates and draws are compared exactly besides).
 */
const RTOL = 1e-4,
  ATOL = 1e-5,
  PROB_ATOL = 1e-4;

/** |a - b| over its allowance (<= 1 agrees); `stretch` widens a probability's. */
const ratio = (k: string, a: number, b: number, stretch = 1): number =>
  Math.abs(a - b) / (k === 'prob' ? PROB_ATOL * Math.max(1, stretch) : ATOL + RTOL * Math.abs(b));
const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-12);

interface ModelSet {
  data: string;
  /** Keep the first this many passages and the questions whose gold passages are all among them. */
  passages?: number;
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
    // 80 of the 1,500 passages and the questions whose gold passage is among them, and document
    // vectors from the index (query-side training): on SwiftShader the whole corpus's index takes
    // 2.5 minutes and re-encoding the candidates with gradient 10-20 s a step. The tiny models run
    // every preset as it is ('both' sides where the preset says so).
    data: 'public/demo',
    passages: 80,
    retriever: 'public/demo/models/retriever',
    generator: 'public/demo/models/generator',
    overrides: {
      batchSize: 2,
      candidates: 8,
      sampled: 4,
      topM: 2,
      docMaxTokens: 48,
      evalLimit: 2,
      evalAlignmentCandidates: 4,
      retrieverSide: 'query',
    },
  },
};

export const PRESETS = ['jmlr-code', 'jomed', 'atlas-pdist', 'replug', 'rag-frozen', 'infonce'];

/**
 * What the presets leave out, on the tiny models: the other retriever losses, query-side and LoRA
 * retriever training, S2-Attn's split shift, the generator loss per document, a staged schedule
 * whose retriever phase has JOMED's prior.
 */
export const VARIANTS: Record<string, Record<string, unknown>> = {
  listwise: { preset: 'jmlr-code', retrieverLoss: 'listwise', tauS: 0.5 },
  loop: { preset: 'atlas-pdist', retrieverLoss: 'loop' },
  emdr2: { preset: 'atlas-pdist', retrieverLoss: 'emdr2' },
  'rag-marginal': { preset: 'replug', retrieverLoss: 'rag-marginal' },
  'query-lora-split': {
    preset: 'jmlr-code',
    retrieverSide: 'query',
    retrieverTraining: 'lora',
    s2attn: { ratio: 0.25, shift: 'split' },
    generatorContext: 'per-document',
  },
  'jomed-prior': { preset: 'jomed', jomedPrior: true, jomedWeighting: false, stagedReaderFraction: 0.2 },
};

/** Every run: five steps, evaluated before and after, nothing saved on the way. */
const COMMON = { steps: 5, checkpointEvery: 0, evalAtStart: true, evalEvery: 0, recordScoresAfter: true };

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr.slice(-3000)}`);
}

/** What both sides write (`npm run experiment --out` and the twin): the records and evaluations compared. */
type Results = Pick<ExperimentOutput, 'steps' | 'evals'>;

type Quantities = Record<'retrieverLoss' | 'generatorLoss' | 'score' | 'scoreAfter' | 'prob' | 'utility', number>;

export interface ParityRow {
  models: string;
  preset: string;
  steps: number;
  candidatesEqual: boolean;
  sampledEqual: boolean;
  evalsEqual: boolean;
  /** Largest |a - b| / max(|a|, |b|) of each quantity over every step and candidate. */
  maxRel: Quantities;
  /** Largest |a - b| of each. */
  maxAbs: Quantities;
  /** Largest |a - b| over its allowance (<= 1 agrees). */
  worst: Quantities;
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
    maxAbs: { retrieverLoss: 0, generatorLoss: 0, score: 0, scoreAfter: 0, prob: 0, utility: 0 },
    worst: { retrieverLoss: 0, generatorLoss: 0, score: 0, scoreAfter: 0, prob: 0, utility: 0 },
    problems: [],
  };
  const bump = (k: keyof Quantities, x: number | null, y: number | null, where: string, stretch = 1): void => {
    if (x === null || y === null) {
      if (x !== y) row.problems.push(`${where}: ${k} ${x} vs ${y}`);
      return;
    }
    row.maxRel[k] = Math.max(row.maxRel[k], rel(x, y));
    row.maxAbs[k] = Math.max(row.maxAbs[k], Math.abs(x - y));
    const r = ratio(k, x, y, stretch);
    if (r > row.worst[k]) row.worst[k] = r;
    if (!(r <= 1)) row.problems.push(`${where}: ${k} ${x} vs ${y}`);
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
      const sc = qa.candidates.map((c) => c.score);
      const stretch = Math.max(...sc.map(Math.abs)) / (Math.max(...sc) - Math.min(...sc));
      qa.candidates.forEach((c, j) => {
        const d = qb.candidates[j]!;
        const where = `step ${t} ${qa.id} ${c.docId}`;
        bump('score', c.score, d.score, where);
        bump('scoreAfter', c.scoreAfter, d.scoreAfter, where);
        bump('prob', c.prob, d.prob, where, stretch);
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
  return row;
}

/** The model set's data folder: its own, or a subset of it written under `work` (JSONL). */
function dataFor(models: string, work: string): string {
  const set = MODEL_SETS[models]!;
  const src = path.join(ROOT, set.data);
  if (!set.passages) return src;
  const dir = path.join(work, `${models}-data`);
  if (existsSync(dir)) return dir;
  mkdirSync(dir, { recursive: true });
  const lines = (f: string) =>
    readFileSync(path.join(src, f), 'utf8')
      .split('\n')
      .filter((l) => l.trim());
  const corpus = lines('corpus.jsonl').slice(0, set.passages);
  const keep = new Set(corpus.map((l) => (JSON.parse(l) as { id: string }).id));
  const questions = lines('questions.jsonl').filter((l) => {
    const gold = (JSON.parse(l) as { gold_doc_ids?: string[] }).gold_doc_ids ?? [];
    return gold.length > 0 && gold.every((g) => keep.has(g));
  });
  writeFileSync(path.join(dir, 'corpus.jsonl'), `${corpus.join('\n')}\n`);
  writeFileSync(path.join(dir, 'questions.jsonl'), `${questions.join('\n')}\n`);
  return dir;
}

/** Every (model set, preset) run: bundles exported, then all browser runs in one page, then the twin's. */
export async function runParity(cases: { models: string; preset: string }[], work: string): Promise<ParityRow[]> {
  const specs: ExperimentSpec[] = [];
  const bundles: string[] = [];
  for (const { models, preset } of cases) {
    const set = MODEL_SETS[models]!;
    const dir = path.join(work, `${models}-${preset}`);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'config.json');
    const base = VARIANTS[preset] ?? { preset };
    writeFileSync(file, JSON.stringify({ ...base, ...set.overrides, ...COMMON, name: `parity-${models}-${preset}` }));
    const config = readConfig(file);
    const paths = {
      dataDir: dataFor(models, work),
      retrieverDir: path.join(ROOT, set.retriever),
      generatorDir: path.join(ROOT, set.generator),
    };
    const bundle = path.join(dir, 'bundle');
    await exportExperiment({ config, out: bundle, format: 'jsonl', ...paths });
    bundles.push(bundle);
    specs.push({ config, ds: readData(paths.dataDir, 'jsonl'), ...paths });
  }
  const t0 = Date.now();
  const browser = await runExperiments(specs);
  log(`browser: ${specs.length} runs in ${Math.round((Date.now() - t0) / 1000)} s`);
  return cases.map(({ models, preset }, i) => {
    const t1 = Date.now();
    const twin = path.join(work, `${models}-${preset}`, 'twin.json');
    writeFileSync(path.join(work, `${models}-${preset}`, 'browser.json'), JSON.stringify(browser[i]));
    sh('sh', ['scripts/py.sh', '-m', 'medrank_torch.train', bundles[i]!, '--out', twin]);
    const row = compare(models, preset, browser[i]!, JSON.parse(readFileSync(twin, 'utf8')) as Results);
    const m = row.maxRel;
    log(
      `${models} ${preset}: ${row.problems.length ? 'DIFFERS' : 'same'} (browser ${browser[i]!.wallSeconds} s, twin ` +
        `${Math.round((Date.now() - t1) / 1000)} s); max rel: L_ret ${m.retrieverLoss.toExponential(1)} L_gen ` +
        `${m.generatorLoss.toExponential(1)} score ${m.score.toExponential(1)} utility ${m.utility.toExponential(1)}; ` +
        `worst/allowed ${Math.max(...Object.values(row.worst)).toFixed(2)}` +
        `${row.problems.length ? `\n  ${row.problems.slice(0, 8).join('\n  ')}` : ''}`,
    );
    return row;
  });
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
  let rows: ParityRow[] = [];
  try {
    rows = await runParity(
      [
        ...sets.flatMap((models) => presets.map((preset) => ({ models, preset }))),
        ...(argv.includes('--variants') ? Object.keys(VARIANTS).map((preset) => ({ models: 'tiny', preset })) : []),
      ],
      work,
    );
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
