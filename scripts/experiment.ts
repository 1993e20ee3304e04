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
  if (ckptDir) mkdirSync(ckptDir, { recursive: true });
  const resumeFile = flag('resume');
  const resume = resumeFile ? (JSON.parse(readFileSync(resumeFile, 'utf8')) as WireCheckpoint) : null;
  log(
    `${config.name}: ${config.steps} steps, ${config.schedule}, loss ${config.retrieverLoss}, ${ds.questions.length} questions, ${ds.passages.length} passages${resume ? `, resuming at step ${resume.step}` : ''}`,
  );

  const t0 = Date.now();
  const res = await withChromiumPage(
    '/scripts/experiment/index.html',
    async ({ page, url }) => {
      await serveFolder(page, url, '/__retriever', retrieverDir);
      await serveFolder(page, url, '/__generator', generatorDir);
      await page.exposeFunction('__medrankStep', (r: StepRecord) => {
        const s = stepSummary(r);
        const ms = Object.values(r.ms).reduce((a, b) => a + b, 0);
        log(
          `step ${s.step + 1}/${config.steps}: L_ret ${s.lossRetriever?.toFixed(4) ?? '-'} L_gen ${s.lossGenerator?.toFixed(4) ?? '-'} ` +
            `rho ${s.spearman?.toFixed(3) ?? '-'} (${(ms / 1000).toFixed(1)} s)`,
        );
      });
      await page.exposeFunction('__medrankEval', (e: { step: number; result: { accuracy: object; recall: object } }) =>
        log(`eval at step ${e.step}: accuracy ${JSON.stringify(e.result.accuracy)} recall ${JSON.stringify(e.result.recall)}`),
      );
      await page.exposeFunction('__medrankCheckpoint', (c: WireCheckpoint) => {
        if (!ckptDir) return;
        const file = path.join(ckptDir, `step-${String(c.step).padStart(5, '0')}.json`);
        writeFileSync(file, JSON.stringify(c));
        writeFileSync(path.join(ckptDir, 'latest.json'), JSON.stringify(c));
        log(`checkpoint: ${file}`);
      });
      await page.waitForFunction(() => window.__runExperiment !== undefined, null, { timeout: 120_000 });
      return page.evaluate(([c, p, q, o]) => window.__runExperiment!(c, p, q, o), [
        config,
        ds.passages,
        ds.questions,
        { resume, stopAfter },
      ] as const) as Promise<ExperimentPageResult>;
    },
    { quiet: profileStep === undefined },
  );
  const { result } = res;
  const output = {
    config,
    data: path.relative(ROOT, dataDir) || '.',
    models: { retriever: path.relative(ROOT, retrieverDir), generator: path.relative(ROOT, generatorDir) },
    adapter: res.adapter,
    indexMs: Math.round(res.indexMs),
    wallSeconds: Math.round((Date.now() - t0) / 1000),
    stopped: result.stopped,
    phaseMs: result.phaseMs,
    evals: result.evals,
    steps: result.records,
  };
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileSync(out, `${JSON.stringify(output)}\n`);
  if (result.stopped) log(`stopped at step ${result.stopped.step}: ${result.stopped.message}`);
  log(`wrote ${out} (${result.records.length} steps, ${output.wallSeconds} s)`);
  if (result.stopped && stopAfter === undefined) process.exit(1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname))
  main().catch((e: Error) => {
    log(`error: ${e.message.replace(/^page\.evaluate: /, '')}`);
    process.exit(1);
  });
