// `npm run experiment -- <config.json> --out <results.json> [--data DIR] [--format F]
//   [--retriever DIR] [--generator DIR] [--checkpoints DIR] [--resume FILE] [--steps N] [--stop-after N]`
// Runs one training run headless and writes its step records, evaluations and per-phase times as
// JSON. The config file is a TrainConfig (src/training/config.ts), optionally {"preset": "jmlr-code",
// ...overrides} naming a file in public/presets/. Defaults: the built-in demo set and demo models.
// GPU work runs in headless Chromium's WebGPU (Node's Dawn is not stable on this machine kind,
// docs/testing.md); the page runs src/training/run.ts, the code the app runs.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseDataset, parseJsonlQA, type Dataset, type DatasetFormat } from '../src/data/datasets';
import { resolveConfig, type TrainConfig } from '../src/training/config';
import type { RunResult } from '../src/training/run';
import type { StepRecord } from '../src/training/step';
import { log, ROOT, serveFolder, withChromiumPage } from './lib/browser-session';
import type { ExperimentPageResult, WireCheckpoint } from './experiment/page';

const USAGE =
  'usage: npm run experiment -- <config.json> --out <results.json> [--data DIR --format jsonl|pubmedqa|medmcqa|medqa|beir] ' +
  '[--retriever DIR] [--generator DIR] [--checkpoints DIR] [--resume CHECKPOINT.json] [--steps N] [--stop-after N] [--profile-step N]';

function fail(msg: string): never {
  log(`error: ${msg}\n${USAGE}`);
  process.exit(2);
}

/**
 * A config file: a TrainConfig, or {"preset": name, ...overrides} over public/presets/<name>.json.
 * A file that cannot be read goes to `bad` (default: this CLI's usage and exit 2).
 */
export function readConfig(file: string, bad: (msg: string) => never = fail): TrainConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    bad(`${file}: ${(e as Error).message}`);
  }
  if (typeof raw.preset === 'string') {
    const presetFile = path.join(ROOT, 'public/presets', `${raw.preset}.json`);
    if (!existsSync(presetFile)) bad(`${file}: preset "${raw.preset}" is not in public/presets/`);
    const { preset: _, ...over } = raw;
    void _;
    raw = { ...(JSON.parse(readFileSync(presetFile, 'utf8')) as object), ...over };
  }
  return resolveConfig(raw as Partial<TrainConfig>);
}

/** A dataset folder in one of the formats (jsonl: questions.jsonl and an optional corpus.jsonl). */
export function readData(dir: string, format: string): Dataset {
  if (format === 'jsonl')
    return parseJsonlQA({
      questions: readFileSync(path.join(dir, 'questions.jsonl'), 'utf8'),
      corpus: existsSync(path.join(dir, 'corpus.jsonl')) ? readFileSync(path.join(dir, 'corpus.jsonl'), 'utf8') : undefined,
    });
  const files: Record<string, string> = {};
  for (const f of ['ori_pqal.json', 'dev.json', 'train.json', 'corpus.jsonl', 'queries.jsonl']) {
    const p = path.join(dir, f);
    if (existsSync(p)) files[f] = readFileSync(p, 'utf8');
  }
  return parseDataset(format as DatasetFormat, files);
}

/** Per-step scalars (the full records, with every candidate, stay in --out). */
export function stepSummary(r: StepRecord) {
  return {
    step: r.step,
    lossRetriever: r.loss.retriever,
    lossGenerator: r.loss.generator,
    spearman: r.alignment.spearman,
    kendall: r.alignment.kendall,
    recall: r.recall,
    ms: r.ms,
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) fail(`--${name} needs a value`);
    return v;
  };
  const configFile = argv[0];
  if (!configFile || configFile.startsWith('--')) fail('give a config file first');
  const out = flag('out') ?? fail('--out <results.json> is required');
  const config = readConfig(configFile);
  if (flag('steps')) config.steps = Number(flag('steps'));
  const stopAfter = flag('stop-after') ? Number(flag('stop-after')) : undefined;
  const profileStep = flag('profile-step') ? Number(flag('profile-step')) : undefined;
  const dataDir = flag('data') ?? path.join(ROOT, 'public/demo');
  const ds = readData(dataDir, flag('format') ?? 'jsonl');
  const retrieverDir = flag('retriever') ?? path.join(ROOT, 'public/demo/models/retriever');
  const generatorDir = flag('generator') ?? path.join(ROOT, 'public/demo/models/generator');
  for (const d of [retrieverDir, generatorDir]) if (!existsSync(path.join(d, 'config.json'))) fail(`${d} has no config.json`);
  const ckptDir = flag('checkpoints');
  const resumeFile = flag('resume');
  const resume = resumeFile ? (JSON.parse(readFileSync(resumeFile, 'utf8')) as WireCheckpoint) : null;
  log(
    `${config.name}: ${config.steps} steps, ${config.schedule}, loss ${config.retrieverLoss}, ${ds.questions.length} questions, ${ds.passages.length} passages${resume ? `, resuming at step ${resume.step}` : ''}`,
  );

  const [output] = await runExperiments([{ config, ds, dataDir, retrieverDir, generatorDir, resume, stopAfter, ckptDir }], {
    quiet: profileStep === undefined,
    profileStep,
  });
  const result = output!;
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result)}\n`);
  if (result.stopped) log(`stopped at step ${result.stopped.step}: ${result.stopped.message}`);
  log(`wrote ${out} (${result.steps.length} steps, ${result.wallSeconds} s)`);
  if (result.stopped && stopAfter === undefined) process.exit(1);
}

/** One run for runExperiments: a resolved config, its data, its two model folders. */
export interface ExperimentSpec {
  config: TrainConfig;
  ds: Dataset;
  dataDir: string;
  retrieverDir: string;
  generatorDir: string;
  resume?: WireCheckpoint | null;
  stopAfter?: number;
  ckptDir?: string;
}

/** What `--out` holds: the run's config, where it ran, its evaluations and every step record. */
export interface ExperimentOutput {
  config: TrainConfig;
  data: string;
  models: { retriever: string; generator: string };
  adapter: string;
  indexMs: number;
  wallSeconds: number;
  stopped: RunResult['stopped'];
  phaseMs: RunResult['phaseMs'];
  evals: RunResult['evals'];
  steps: StepRecord[];
}

/**
 * Runs one after another in one headless Chromium page: one GPU device, so kernels compile once
 * for all of them (a 5-step run on the tiny models spends most of its time compiling). Each run
 * loads its models afresh and frees them after, so runs do not see each other's training.
 */
export async function runExperiments(
  specs: ExperimentSpec[],
  opts: { quiet?: boolean; profileStep?: number } = {},
): Promise<ExperimentOutput[]> {
  let current: ExperimentSpec | null = null;
  return withChromiumPage(
    '/scripts/experiment/index.html',
    async ({ page, url }) => {
      for (const [i, s] of specs.entries()) {
        await serveFolder(page, url, `/__models/${i}/retriever`, s.retrieverDir);
        await serveFolder(page, url, `/__models/${i}/generator`, s.generatorDir);
      }
      await page.exposeFunction('__medrankStep', (r: StepRecord) => {
        const s = stepSummary(r);
        const ms = Object.values(r.ms).reduce((a, b) => a + b, 0);
        log(
          `step ${s.step + 1}/${current?.config.steps}: L_ret ${s.lossRetriever?.toFixed(4) ?? '-'} L_gen ${s.lossGenerator?.toFixed(4) ?? '-'} ` +
            `rho ${s.spearman?.toFixed(3) ?? '-'} (${(ms / 1000).toFixed(1)} s)`,
        );
      });
      await page.exposeFunction('__medrankEval', (e: { step: number; result: { accuracy: object; recall: object } }) =>
        log(`eval at step ${e.step}: accuracy ${JSON.stringify(e.result.accuracy)} recall ${JSON.stringify(e.result.recall)}`),
      );
      await page.exposeFunction('__medrankCheckpoint', (c: WireCheckpoint) => {
        const dir = current?.ckptDir;
        if (!dir) return;
        mkdirSync(dir, { recursive: true });
        const file = path.join(dir, `step-${String(c.step).padStart(5, '0')}.json`);
        writeFileSync(file, JSON.stringify(c));
        writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(c));
        log(`checkpoint: ${file}`);
      });
      await page.waitForFunction(() => window.__runExperiment !== undefined, null, { timeout: 120_000 });
      const outputs: ExperimentOutput[] = [];
      for (const [i, s] of specs.entries()) {
        current = s;
        if (specs.length > 1) log(`${s.config.name}: run ${i + 1} of ${specs.length}`);
        const t0 = Date.now();
        const res = (await page.evaluate(([c, p, q, o]) => window.__runExperiment!(c, p, q, o), [
          s.config,
          s.ds.passages,
          s.ds.questions,
          { resume: s.resume ?? null, stopAfter: s.stopAfter, profileStep: opts.profileStep, models: `/__models/${i}` },
        ] as const)) as ExperimentPageResult;
        const { result } = res;
        outputs.push({
          config: s.config,
          data: path.relative(ROOT, s.dataDir) || '.',
          models: { retriever: path.relative(ROOT, s.retrieverDir), generator: path.relative(ROOT, s.generatorDir) },
          adapter: res.adapter,
          indexMs: Math.round(res.indexMs),
          wallSeconds: Math.round((Date.now() - t0) / 1000),
          stopped: result.stopped,
          phaseMs: result.phaseMs,
          evals: result.evals,
          steps: result.records,
        });
      }
      return outputs;
    },
    { quiet: opts.quiet },
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname))
  main().catch((e: Error) => {
    log(`error: ${e.message.replace(/^page\.evaluate: /, '')}`);
    process.exit(1);
  });
