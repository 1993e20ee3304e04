// `npm run demo-experiments -- models|sweep|final|ablations|engine|publish [--models DIR] [--seeds N]`: the built-in
// demo's numbers, run with the PyTorch twin (python/medrank_torch) on this machine's CPU, written
// to experiments/results/ for `npm run -s demo-report` and the README.
// - models: what the demo models can do before any joint training, on the validation and test
//   splits (and the rephrased test questions): the generator's accuracy with no document, the
//   top-m retrieved and the gold passage, its answer NLL with the gold passage against the
//   look-alike's passage (medrank_torch.reading), the retriever's recall against BM25's.
// - sweep: one setting at a time from experiments/demo/jmlr.json, on validation; writes
//   experiments/demo/chosen.json. Resumable (runs already in demo-sweep.json are skipped).
// - final: every method of the table on the chosen settings, N seeds (5), on test; resumable.
// - ablations: after the table, on test (nothing chosen from them), ABLATIONS over N seeds;
//   writes experiments/results/demo-ablations.json. Resumable.
// - engine: the seed-0 JMLR and frozen-RAG runs in MedRank's own engine (headless Chromium),
//   checked against the twin's records; writes experiments/results/demo-engine.json.
// - publish: the seed-0 JMLR and frozen-RAG records to public/demo/runs (the demo notebook's
//   recorded runs).
// The runs' data: public/demo with public/demo/questions-rephrased.jsonl added to the test split
// (their ids, demo-r*, tell them apart in the per-question results).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Passage, Question } from '../src/data/datasets';
import { aggregate, questionMetrics } from '../src/data/metrics';
import { Bm25Index } from '../src/retrieval/bm25';
import type { TrainConfig } from '../src/training/config';
import type { PerQuestionResult } from '../src/training/evaluate';
import { splitOf } from '../src/training/run';
import { exportExperiment } from './export-experiment';
import { readConfig, readData, runExperiments, type ExperimentOutput, type ExperimentSpec } from './experiment';
import { log, ROOT } from './lib/browser-session';
import { compare } from './twin-parity';
import { generateDemoData } from './make-demo-data';

const RESULTS = path.join(ROOT, 'experiments/results');
const BASE = path.join(ROOT, 'experiments/demo/jmlr.json');

/** The demo set with the rephrased test questions added, in `work`/data (written once per work folder). */
function evalData(work: string): string {
  const dir = path.join(work, 'data');
  if (existsSync(path.join(dir, 'questions.jsonl'))) return dir;
  mkdirSync(dir, { recursive: true });
  const demo = path.join(ROOT, 'public/demo');
  writeFileSync(path.join(dir, 'corpus.jsonl'), readFileSync(path.join(demo, 'corpus.jsonl')));
  writeFileSync(
    path.join(dir, 'questions.jsonl'),
    readFileSync(path.join(demo, 'questions.jsonl'), 'utf8') + readFileSync(path.join(demo, 'questions-rephrased.jsonl'), 'utf8'),
  );
  return dir;
}

function py(args: string[]): void {
  const r = spawnSync('sh', [path.join(ROOT, 'scripts/py.sh'), ...args], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`python ${args.join(' ')} exited ${r.status}`);
}

export interface TwinRun {
  config: TrainConfig;
  evals: { step: number; split: string; result: Record<string, unknown> & { perQuestion?: PerQuestion } }[];
  steps: unknown[];
  phaseMs: Record<string, number>;
  wallSeconds: number;
}

/** An evaluation question by question (medrank_torch.evaluate with --per-question). */
export type PerQuestion = PerQuestionResult;

/** Export a bundle of `config` on the eval data and train it with the twin. */
export async function twinRun(
  config: TrainConfig,
  work: string,
  models: { retriever: string; generator: string },
): Promise<TwinRun> {
  const bundle = path.join(work, `bundle-${config.name}`);
  await exportExperiment({
    config,
    out: bundle,
    dataDir: evalData(work),
    format: 'jsonl',
    retrieverDir: models.retriever,
    generatorDir: models.generator,
  });
  const out = path.join(work, `${config.name}.json`);
  py(['-m', 'medrank_torch.train', bundle, '--out', out, '--per-question', '--threads', '2']);
  const res = JSON.parse(readFileSync(out, 'utf8')) as TwinRun;
  rmSync(bundle, { recursive: true, force: true });
  return res;
}

const mean = (xs: readonly (number | null)[]): number => {
  const v = xs.filter((x): x is number => x !== null);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0;
};

/** Metrics of the questions `keep` selects from a per-question record. */
export function summarise(pq: PerQuestion, keep: (id: string) => boolean) {
  const at = pq.ids.map((id, i) => (keep(id) ? i : -1)).filter((i) => i >= 0);
  const pickOf = <T>(xs: T[]): T[] => at.map((i) => xs[i]!);
  return {
    questions: at.length,
    accuracy: {
      none: mean(pickOf(pq.correct.none)),
      retrieved: mean(pickOf(pq.correct.retrieved)),
      oracle: mean(pickOf(pq.correct.oracle)),
    },
    recall5: mean(pickOf(pq.recall['5']!)),
    recall10: mean(pickOf(pq.recall['10']!)),
    mrr10: mean(pickOf(pq.rr10)),
    spearman: mean(pickOf(pq.spearman)),
  };
}

export const isRephrased = (id: string): boolean => id.startsWith('demo-r');

function bm25(questions: readonly Question[], passages: readonly Passage[]) {
  const bm = new Bm25Index(passages);
  const per = questions.map((q) =>
    questionMetrics(
      bm.search(q.question, 10).map((h) => h.id),
      q.goldDocIds,
      [1, 5, 10],
    ),
  );
  const m = aggregate(
    per,
    questions.map((q) => q.goldDocIds),
    [1, 5, 10],
  );
  return { questions: m.questions, recall1: m.recall[1]!, recall5: m.recall[5]!, recall10: m.recall[10]!, mrr10: m.mrr10 };
}

async function models(dir: string): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'medrank-demo-exp-'));
  try {
    const m = { retriever: path.join(dir, 'retriever'), generator: path.join(dir, 'generator') };
    const config = { ...readConfig(BASE), name: 'demo-models', steps: 0, evalAtStart: true, reportTest: true };
    const res = await twinRun(config, work, m);
    const val = res.evals.find((e) => e.split === 'validation')!.result.perQuestion!;
    const test = res.evals.find((e) => e.split === 'test')!.result.perQuestion!;
    // The generator reading the gold passage against the look-alike's.
    const demo = generateDemoData();
    const distractors: Record<string, string> = {};
    demo.questions.forEach((q, i) => (distractors[q.id] = demo.meta[i]!.distractor));
    const rephraseOf = new Map(demo.rephrased.map((q) => [q.id, q.rephrase_of!]));
    for (const [r, q] of rephraseOf) distractors[r] = distractors[q]!;
    writeFileSync(path.join(work, 'distractors.json'), JSON.stringify(distractors));
    const bundle = path.join(work, 'bundle-reading');
    await exportExperiment({
      config,
      out: bundle,
      dataDir: evalData(work),
      format: 'jsonl',
      retrieverDir: m.retriever,
      generatorDir: m.generator,
    });
    py([
      '-m',
      'medrank_torch.reading',
      bundle,
      '--distractors',
      path.join(work, 'distractors.json'),
      '--split',
      'test',
      '--out',
      path.join(work, 'reading.json'),
    ]);
    const reading = JSON.parse(readFileSync(path.join(work, 'reading.json'), 'utf8')) as Record<string, unknown>;
    delete reading.perQuestion;
    const data = readData(evalData(work), 'jsonl');
    const split = (s: string, reph: boolean) => data.questions.filter((q) => q.split === s && isRephrased(q.id) === reph);
    const mc = split('test', false).filter((q) => q.kind === 'multiple-choice').length;
    const yn = split('test', false).length - mc;
    const out = {
      what: 'the demo models before joint training (npm run demo-experiments -- models)',
      models: path.relative(ROOT, dir),
      config: { topM: config.topM, docMaxTokens: config.docMaxTokens, alignmentCandidates: config.evalAlignmentCandidates },
      // Chance: 1 of 4 options for multiple choice; yes/no is scored over yes, no and maybe, and
      // its answers are yes or no, so 1 of 2 for a model that never says maybe.
      chance: (mc * 0.25 + yn * 0.5) / (mc + yn),
      validation: summarise(val, (id) => !isRephrased(id)),
      test: summarise(test, (id) => !isRephrased(id)),
      testRephrased: summarise(test, isRephrased),
      reading,
      bm25: {
        validation: bm25(split('validation', false), data.passages),
        test: bm25(split('test', false), data.passages),
        testRephrased: bm25(split('test', true), data.passages),
      },
      seconds: res.wallSeconds,
    };
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(path.join(RESULTS, 'demo-models.json'), `${JSON.stringify(out, null, 1)}\n`);
    console.log(JSON.stringify(out, null, 1));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The sweep: one setting changed at a time from experiments/demo/jmlr.json, scored on validation. */
export const SWEEP: Record<string, Partial<TrainConfig>> = {
  base: {},
  'lrRetriever=3e-5': { lrRetriever: 3e-5 },
  'lrRetriever=3e-4': { lrRetriever: 3e-4 },
  'lrRetriever=1e-3': { lrRetriever: 1e-3 },
  'samplingTemperature=0.5': { samplingTemperature: 0.5 },
  'samplingTemperature=2': { samplingTemperature: 2 },
  'K=20': { candidates: 20 },
  'n=3': { sampled: 3 },
  'm=1': { topM: 1 },
  'retrieverSide=both': { retrieverSide: 'both', refreshIndexEvery: 50 },
  'llmRankMargin=0.05': { llmRankMargin: 0.05 },
  'llmRankMargin=0.2': { llmRankMargin: 0.2 },
};

/** What the sweep maximises on validation: accuracy with the top-m retrieved, then recall@5. */
export const sweepScore = (s: { accuracy: { retrieved: number }; recall5: number }): number =>
  s.accuracy.retrieved + 1e-3 * s.recall5;

/**
 * The chosen settings: the base config with the one sweep change that scored best on validation
 * (the base itself when none beat it). One factor at a time: changes are never combined untested.
 */
export function chooseSetting(sweep: Record<string, { original: { accuracy: { retrieved: number }; recall5: number } }>): {
  name: string;
  score: number;
} {
  let best = { name: 'base', score: -Infinity };
  for (const name of Object.keys(SWEEP)) {
    const r = sweep[name];
    if (!r) throw new Error(`the sweep has no result for ${name}: run \`npm run demo-experiments -- sweep\` to finish it`);
    const score = sweepScore(r.original);
    if (score > best.score + 1e-12) best = { name, score };
  }
  return best;
}

/** What a peer's preset takes from the chosen demo settings: sizes, rates, steps, evaluation. */
function pickSizes(c: TrainConfig): Partial<TrainConfig> {
  const keys = [
    'steps',
    'batchSize',
    'candidates',
    'sampled',
    'topM',
    'docMaxTokens',
    'retrieverSide',
    'refreshIndexEvery',
    's2attn',
    'checkpointEvery',
    'lrRetriever',
    'lrGenerator',
    'generatorLora',
    'evalAlignmentCandidates',
    'evalAtStart',
    'evalLimit',
    'samplingTemperature',
  ] as const;
  return Object.fromEntries(keys.map((k) => [k, c[k]])) as Partial<TrainConfig>;
}

/** The methods of the table, each on the chosen settings. */
export const METHODS: Record<string, Partial<TrainConfig> & { preset?: string }> = {
  'jmlr-llm-rank': {},
  'rag-frozen': { schedule: 'frozen-retriever', retrieverLoss: 'none' },
  'jomed-staged': { preset: 'jomed' },
  pdist: { retrieverLoss: 'pdist' },
  loop: { retrieverLoss: 'loop' },
  emdr2: { retrieverLoss: 'emdr2' },
  replug: { retrieverLoss: 'replug' },
  listwise: { retrieverLoss: 'listwise' },
};

/**
 * Ablations, run after the table on its test split (nothing is chosen from them), on what the
 * JMLR-vs-RAG records point at: the generator losing reading accuracy as it trains on its top
 * retrieved passage (LLM-Rank with the reader fixed, against the untrained models), and 200 steps
 * being too few for LLM-Rank's pairwise signal (both at 600 steps).
 */
export const ABLATIONS: Record<string, { method: string; over: Partial<TrainConfig> }> = {
  untrained: { method: 'rag-frozen', over: { steps: 0, evalAtStart: true } },
  'jmlr-fixed-reader': { method: 'jmlr-llm-rank', over: { schedule: 'retriever-only' } },
  'jmlr-600-steps': { method: 'jmlr-llm-rank', over: { steps: 600 } },
  'rag-frozen-600-steps': { method: 'rag-frozen', over: { steps: 600 } },
};
/** The paired differences the ablations report: [run, minus]. */
export const ABLATION_PAIRS: [string, string][] = [
  ['jmlr-fixed-reader', 'untrained'],
  ['jmlr-600-steps', 'rag-frozen-600-steps'],
];

/** The methods whose seed-0 runs are kept as records (the demo notebook opens with them). */
export const RECORDED = ['jmlr-llm-rank', 'rag-frozen'];
const RECORDED_NAMES: Record<string, string> = { 'jmlr-llm-rank': 'JMLR LLM-Rank', 'rag-frozen': 'frozen-retriever RAG' };

/** A method's config in the final table: its preset (if any) sized by the chosen settings, on test. */
function finalConfig(name: string, seed: number, chosen: TrainConfig): TrainConfig {
  const { preset, ...over } = METHODS[name]!;
  const presetCfg = preset ? readConfig(path.join(ROOT, 'public/presets', `${preset}.json`)) : null;
  const sized = presetCfg ? { ...presetCfg, ...pickSizes(chosen) } : chosen;
  const cfg: TrainConfig = { ...sized, ...over, seed, evalSplit: 'test', reportTest: false };
  // The runs the demo notebook opens with also evaluate at step 0 and every 50 steps, so Compare
  // and the Note can say when a question's gold passage climbed (an evaluation draws nothing from
  // the training stream, so the steps are the same as without it).
  if (seed === 0 && RECORDED.includes(name)) Object.assign(cfg, { evalAtStart: true, evalEvery: 50 });
  if (!cfg.sampling) cfg.sampled = cfg.candidates; // JOMED scores every candidate
  return cfg;
}

const readJson = <T>(f: string): T => JSON.parse(readFileSync(f, 'utf8')) as T;

/** Run each named config (skipping those already in `file`, so a stopped sweep resumes) and save after each. */
async function runAll(
  file: string,
  configs: [string, TrainConfig][],
  models: { retriever: string; generator: string },
  keepRecords: (name: string) => boolean,
): Promise<void> {
  const done: Record<string, unknown> = existsSync(file) ? readJson(file) : {};
  const work = mkdtempSync(path.join(os.tmpdir(), 'medrank-demo-exp-'));
  try {
    for (const [name, config] of configs) {
      if (done[name]) continue;
      log(`${name}: ${config.steps} steps`);
      const res = await twinRun({ ...config, name }, work, models);
      const last = res.evals.at(-1)!;
      const pq = last.result.perQuestion!;
      done[name] = {
        config: res.config,
        split: last.split,
        original: summarise(pq, (id) => !isRephrased(id)),
        rephrased: summarise(pq, isRephrased),
        perQuestion: pq,
        losses: res.steps.map((r) => (r as { loss: { retriever: number | null; generator: number | null } }).loss),
        phaseMs: res.phaseMs,
        wallSeconds: res.wallSeconds,
      };
      if (keepRecords(name)) writeFileSync(path.join(RESULTS, 'records', `${name}.json`), `${JSON.stringify(res)}\n`);
      mkdirSync(RESULTS, { recursive: true });
      writeFileSync(file, `${JSON.stringify(done)}\n`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The seed-0 runs of RECORDED in MedRank's own engine (WGSL kernels in headless Chromium), checked
 * against the twin's committed records: the same candidates and draws at every step, losses,
 * scores and utilities as twin-parity allows (1e-4 relative), and the final evaluation of the
 * first `evalLimit` test questions equal to the twin's per-question results for those questions
 * (the whole test split takes the software adapter too long; intermediate evaluations are left
 * out, they draw nothing from the training stream). Writes experiments/results/demo-engine.json.
 */
async function engine(models: { retriever: string; generator: string }, evalLimit: number, rerun: boolean): Promise<void> {
  const chosen = readConfig(path.join(ROOT, 'experiments/demo/chosen.json'));
  const work = mkdtempSync(path.join(os.tmpdir(), 'medrank-demo-engine-'));
  try {
    const dataDir = evalData(work);
    const ds = readData(dataDir, 'jsonl');
    const specs: ExperimentSpec[] = RECORDED.map((name) => ({
      config: { ...finalConfig(name, 0, chosen), name: `${name}-s0-engine`, evalAtStart: false, evalEvery: 0, evalLimit },
      ds,
      dataDir,
      retrieverDir: models.retriever,
      generatorDir: models.generator,
    }));
    // The engine's records are kept beside the twin's (records/NAME-s0-engine.json), so the
    // comparison can be redone without the 20 minutes of software-adapter training (--rerun to train).
    const saved = RECORDED.map((name) => path.join(RESULTS, 'records', `${name}-s0-engine.json`));
    const browser: ExperimentOutput[] =
      !rerun && saved.every((f) => existsSync(f)) ? saved.map((f) => readJson<ExperimentOutput>(f)) : await runExperiments(specs);
    browser.forEach((b, i) => writeFileSync(saved[i]!, `${JSON.stringify(b)}\n`));
    const evalIds = ds.questions
      .filter((q) => splitOf(q, 0) === 'test')
      .slice(0, evalLimit)
      .map((q) => q.id);
    const rows = RECORDED.map((name, i) => {
      const b = browser[i]!;
      const twin = readJson<TwinRun>(path.join(RESULTS, 'records', `${name}-s0.json`));
      const row = compare('demo', name, { steps: b.steps, evals: [] }, { steps: twin.steps as typeof b.steps, evals: [] });
      // The final evaluation against the twin's per-question results for the same questions.
      const last = twin.evals.at(-1)!;
      const ids = new Set(evalIds);
      const t = summarise(last.result.perQuestion!, (id) => ids.has(id));
      const e = b.evals.at(-1)!.result;
      const pairs: [string, number, number][] = [
        ['accuracy.none', e.accuracy.none, t.accuracy.none],
        ['accuracy.retrieved', e.accuracy.retrieved, t.accuracy.retrieved],
        ['accuracy.oracle', e.accuracy.oracle, t.accuracy.oracle],
        ['recall5', e.recall[5]!, t.recall5],
        ['recall10', e.recall[10]!, t.recall10],
        ['mrr10', e.mrr10, t.mrr10],
        ['spearman', e.alignment.spearman, t.spearman],
      ];
      // Accuracy and recall are counts over the same questions: equal. MRR and Spearman are means
      // of f32-computed ranks: equal unless a near-tie flips, which would show here as > 1e-6.
      const evalDiffs = pairs.filter(([, x, y]) => Math.abs(x - y) > 1e-6).map(([k, x, y]) => `eval ${k}: ${x} vs ${y}`);
      if (t.questions !== evalIds.length)
        evalDiffs.push(`the twin's record has ${t.questions} of the ${evalIds.length} questions`);
      row.problems.push(...evalDiffs);
      row.evalsEqual = evalDiffs.length === 0;
      // Step by step: the last step through which every record agrees, and how far apart the
      // scores and losses are at each step (the drift of two f32 trainings).
      const perStep = b.steps.map((r, t) =>
        compare('demo', name, { steps: [r], evals: [] }, { steps: [twin.steps[t] as typeof r], evals: [] }),
      );
      const firstOff = perStep.findIndex((p) => p.problems.length > 0);
      const agreeThrough = firstOff < 0 ? b.steps.length : firstOff;
      const drift = perStep.map((p) =>
        Number(Math.max(p.maxRel.score, p.maxRel.retrieverLoss, p.maxRel.generatorLoss).toPrecision(2)),
      );
      const ms = b.steps.map((r) => Object.values(r.ms).reduce((x, y) => x + y, 0)).sort((x, y) => x - y);
      log(
        `${name}: ${row.problems.length ? 'DIFFERS' : 'same as the twin'}; max rel L_ret ${row.maxRel.retrieverLoss.toExponential(1)} ` +
          `L_gen ${row.maxRel.generatorLoss.toExponential(1)} score ${row.maxRel.score.toExponential(1)} utility ` +
          `${row.maxRel.utility.toExponential(1)}; every record agrees through step ${agreeThrough}; median step ${(ms[ms.length >> 1]! / 1000).toFixed(2)} s` +
          `${row.problems.length ? `\n  ${row.problems.slice(0, 8).join('\n  ')}` : ''}`,
      );
      return {
        name,
        steps: b.steps.length,
        adapter: b.adapter,
        wallSeconds: b.wallSeconds,
        indexMs: b.indexMs,
        medianStepMs: Math.round(ms[ms.length >> 1]!),
        /** Steps 1..agreeThrough agree in every record (candidates, draws, 1e-4); the rest may not. */
        agreeThrough,
        stepsDiffering: perStep.filter((p) => p.problems.length > 0).length,
        /** Each step's largest relative difference of a score or a loss. */
        drift,
        candidatesEqual: row.candidatesEqual,
        sampledEqual: row.sampledEqual,
        evalsEqual: row.evalsEqual,
        maxRel: row.maxRel,
        maxAbs: row.maxAbs,
        worst: row.worst,
        problems: row.problems.slice(0, 50),
        eval: { questions: evalIds.length, engine: e, twin: t },
      };
    });
    const out = {
      what: "seed 0 of JMLR and frozen RAG in MedRank's engine against the twin's records (npm run demo-experiments -- engine)",
      evalLimit,
      runs: rows,
    };
    writeFileSync(path.join(RESULTS, 'demo-engine.json'), `${JSON.stringify(out, null, 1)}\n`);
    if (rows.some((r) => r.problems.length)) process.exitCode = 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  const dirAt = rest.indexOf('--models');
  const dir = path.resolve(dirAt >= 0 ? rest[dirAt + 1]! : path.join(ROOT, 'public/demo/models'));
  const m = { retriever: path.join(dir, 'retriever'), generator: path.join(dir, 'generator') };
  if (cmd === 'models') return models(dir);
  if (cmd === 'sweep') {
    const base = readConfig(BASE);
    const configs = Object.entries(SWEEP).map(([k, v]): [string, TrainConfig] => [k, { ...base, ...v, evalSplit: 'validation' }]);
    const file = path.join(RESULTS, 'demo-sweep.json');
    await runAll(file, configs, m, () => false);
    const best = chooseSetting(readJson(file));
    const chosen = { ...readJson<Record<string, unknown>>(BASE), ...SWEEP[best.name], name: 'demo-chosen' };
    writeFileSync(path.join(ROOT, 'experiments/demo/chosen.json'), `${JSON.stringify(chosen, null, 2)}\n`);
    log(
      `chose ${best.name} (validation accuracy with the top-m + 0.001 x recall@5 = ${best.score.toFixed(4)}): experiments/demo/chosen.json`,
    );
    return;
  }
  if (cmd === 'final') {
    const seeds = Number(rest[rest.indexOf('--seeds') + 1] ?? 5) || 5;
    const chosen = readConfig(path.join(ROOT, 'experiments/demo/chosen.json'));
    mkdirSync(path.join(RESULTS, 'records'), { recursive: true });
    const configs: [string, TrainConfig][] = [];
    // JMLR and frozen RAG (the hypothesis) over every seed first, then the other methods seed by
    // seed, so a stopped run has the comparison that matters most.
    const order = [
      ...RECORDED.flatMap((name) => Array.from({ length: seeds }, (_, seed) => [name, seed] as const)),
      ...Array.from({ length: seeds }, (_, seed) =>
        Object.keys(METHODS)
          .filter((n) => !RECORDED.includes(n))
          .map((name) => [name, seed] as const),
      ).flat(),
    ];
    for (const [name, seed] of order) configs.push([`${name}-s${seed}`, finalConfig(name, seed, chosen)]);
    return runAll(path.join(RESULTS, 'demo-final.json'), configs, m, (n) => RECORDED.some((r) => n === `${r}-s0`));
  }
  if (cmd === 'ablations') {
    const seeds = Number(rest[rest.indexOf('--seeds') + 1] ?? 5) || 5;
    const chosen = readConfig(path.join(ROOT, 'experiments/demo/chosen.json'));
    const configs = Array.from({ length: seeds }, (_, seed) =>
      Object.entries(ABLATIONS).map(([name, a]): [string, TrainConfig] => [
        `${name}-s${seed}`,
        { ...finalConfig(a.method, seed, chosen), evalAtStart: false, evalEvery: 0, ...a.over },
      ]),
    ).flat();
    return runAll(path.join(RESULTS, 'demo-ablations.json'), configs, m, () => false);
  }
  if (cmd === 'engine') {
    const at = rest.indexOf('--eval-limit');
    return engine(m, at >= 0 ? Number(rest[at + 1]) : 100, rest.includes('--rerun'));
  }
  if (cmd === 'publish') {
    // The recorded runs the demo notebook opens with (src/notebook/demo.ts RECORDED_RUNS).
    const dir = path.join(ROOT, 'public/demo/runs');
    mkdirSync(dir, { recursive: true });
    const index = RECORDED.map((name) => {
      const file = `${name}-s0.json`;
      const src = path.join(RESULTS, 'records', file);
      if (!existsSync(src)) throw new Error(`${path.relative(ROOT, src)} is missing: run npm run demo-experiments -- final`);
      writeFileSync(path.join(dir, file), readFileSync(src));
      return { file, name: `recorded: ${RECORDED_NAMES[name]} (seed 0, npm run demo-experiments -- final)` };
    });
    writeFileSync(path.join(dir, 'index.json'), `${JSON.stringify(index, null, 1)}\n`);
    log(`wrote ${index.length} recorded runs to ${path.relative(ROOT, dir)}`);
    return;
  }
  log(
    'usage: npm run demo-experiments -- models|sweep|final|ablations|engine|publish [--models DIR] [--seeds N] [--eval-limit N]',
  );
  process.exit(2);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname))
  main().catch((e: Error) => {
    log(`error: ${e.message}`);
    process.exit(1);
  });
