// Retrieval evaluation: `npm run eval-retrieval -- --data PATH --format beir|pubmedqa|medmcqa|medqa|jsonl
// [--bm25] [--model DIR] [--split train|validation|test] [--k 1,5,10,20,100] [--limit N]` prints one JSON object: recall@k, MRR@10
// and nDCG@10 against the gold passages (with 95 % bootstrap intervals, ci95), per retriever asked for (BM25 by default; --model's under
// "colbert" for a BERT folder, "dense" for a decoder folder). --data is the
// file (pubmedqa, medmcqa, medqa) or the folder (beir: corpus.jsonl, queries.jsonl, qrels/test.tsv;
// jsonl: questions.jsonl and corpus.jsonl). Questions without gold passages are not scored.
// Only the JSON goes to stdout; messages go to stderr.

import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { DatasetError, parseDataset, SPLITS, type Dataset, type DatasetFormat, type QuestionSplit } from '../src/data/datasets';
import { aggregate, bootstrapIntervals, questionMetrics, type MetricIntervals, type RetrievalMetrics } from '../src/data/metrics';
import { Bm25Index } from '../src/retrieval/bm25';
import { splitOf } from '../src/training/run';
import { log as logLine, serveFolder, withChromiumPage } from './lib/browser-session';
import type {} from './eval/page';

const FORMATS: DatasetFormat[] = ['beir', 'pubmedqa', 'medmcqa', 'medqa', 'jsonl'];
const log = (msg: string): void => logLine(`[eval-retrieval] ${msg}`);

function usage(msg: string): never {
  log(`error: ${msg}`);
  log(
    `usage: npm run eval-retrieval -- --data PATH --format <${FORMATS.join('|')}> [--bm25] [--model DIR] [--split S] [--k 1,5,10] [--limit N]`,
  );
  process.exit(2);
}

export interface EvalArgs {
  data: string;
  /** Only the questions of this split (the file's "split", else the seeded split of seed 0); null: every question. */
  split: QuestionSplit | null;
  format: DatasetFormat;
  bm25: boolean;
  model: string | null;
  ks: number[];
  limit: number | null;
}

export function parseArgs(argv: string[]): EvalArgs {
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const data = flag('data') ?? usage('--data is required');
  const format = (flag('format') ?? usage('--format is required')) as DatasetFormat;
  if (!FORMATS.includes(format)) usage(`--format must be one of ${FORMATS.join(', ')}, got "${format}"`);
  const model = flag('model') ?? null;
  const ks = (flag('k') ?? '1,5,10,20,100').split(',').map(Number);
  if (ks.some((k) => !Number.isInteger(k) || k < 1))
    usage(`--k must be positive integers separated by commas, got "${flag('k')}"`);
  const split = (flag('split') ?? null) as QuestionSplit | null;
  if (split !== null && !SPLITS.includes(split)) usage(`--split must be one of ${SPLITS.join(', ')}, got "${split}"`);
  const limit = flag('limit') === undefined ? null : Number(flag('limit'));
  if (limit !== null && !(Number.isInteger(limit) && limit > 0))
    usage(`--limit must be a positive integer, got "${flag('limit')}"`);
  return { data, split, format, bm25: argv.includes('--bm25') || model === null, model, ks, limit };
}

/** The dataset's files as parseDataset wants them, from a file or a folder. */
export function readDataset(data: string, format: DatasetFormat): Dataset {
  if (!existsSync(data)) usage(`--data ${data} does not exist`);
  const dir = statSync(data).isDirectory();
  const read = (p: string): string => readFileSync(p, 'utf8');
  const files: Record<string, string> = {};
  if (format === 'beir') {
    if (!dir) usage('--format beir needs --data to be the folder with corpus.jsonl, queries.jsonl and qrels/');
    files.corpus = read(path.join(data, 'corpus.jsonl'));
    files.queries = read(path.join(data, 'queries.jsonl'));
    const qrels = ['test.tsv', 'dev.tsv', 'train.tsv'].map((f) => path.join(data, 'qrels', f)).find(existsSync);
    if (!qrels) usage(`no qrels/test.tsv (or dev.tsv, train.tsv) in ${data}`);
    files.qrels = read(qrels);
  } else if (format === 'jsonl') {
    const q = dir ? path.join(data, 'questions.jsonl') : data;
    files.questions = read(q);
    const corpus = dir ? path.join(data, 'corpus.jsonl') : path.join(path.dirname(data), 'corpus.jsonl');
    if (existsSync(corpus)) files.corpus = read(corpus);
  } else {
    if (dir) usage(`--format ${format} needs --data to be the file itself`);
    files.data = read(data);
  }
  return parseDataset(format, files, path.basename(data).replace(/\.(jsonl?|json)$/, ''));
}

export function evalBm25(ds: Dataset, ks: number[]): RetrievalMetrics & { ci95: MetricIntervals; ms: number } {
  const t0 = performance.now();
  const bm = new Bm25Index(ds.passages);
  const depth = Math.max(10, ...ks);
  const scored = ds.questions.filter((q) => q.goldDocIds.length > 0);
  const per = scored.map((q) =>
    questionMetrics(
      bm.search(q.question, depth).map((h) => h.id),
      q.goldDocIds,
      ks,
    ),
  );
  return {
    ...aggregate(
      per,
      scored.map((q) => q.goldDocIds),
      ks,
    ),
    ci95: bootstrapIntervals(per, ks),
    ms: Math.round(performance.now() - t0),
  };
}

/**
 * The retriever of a local model folder (ColBERT for BERT, the dense retriever for a decoder), in
 * headless Chromium (WebGPU; Node's Dawn is not stable on every machine, docs/testing.md): the
 * folder is served to the page at /__model/. Returns its kind beside the metrics.
 */
export async function evalModel(
  ds: Dataset,
  modelDir: string,
  ks: number[],
): Promise<{ kind: string; metrics: RetrievalMetrics & Record<string, unknown> }> {
  if (!existsSync(path.join(modelDir, 'config.json'))) usage(`--model ${modelDir} has no config.json`);
  const scored = ds.questions.filter((q) => q.goldDocIds.length > 0);
  const depth = Math.min(100, Math.max(10, ...ks));
  return withChromiumPage(
    '/scripts/eval/index.html',
    async ({ page, url }) => {
      await serveFolder(page, url, '/__model', modelDir);
      await page.waitForFunction(() => window.__evalRetriever !== undefined, null, { timeout: 60_000 });
      const res = await page.evaluate(([p, q, k]) => window.__evalRetriever!(p, q, k), [
        ds.passages,
        scored.map((x) => x.question),
        depth,
      ] as const);
      log(
        `${res.retriever} on ${res.adapter}: indexed ${ds.passages.length} passages (${res.tokens} vectors) in ${(res.indexMs / 1000).toFixed(1)} s`,
      );
      const per = scored.map((q, i) => questionMetrics(res.rankings[i]!, q.goldDocIds, ks));
      const metrics = {
        ...aggregate(
          per,
          scored.map((q) => q.goldDocIds),
          ks,
        ),
        ci95: bootstrapIntervals(per, ks),
        retriever: res.retriever,
        adapter: res.adapter,
        indexMs: Math.round(res.indexMs),
        searchMs: Math.round(res.searchMs),
      };
      return { kind: res.kind, metrics };
    },
    { quiet: true },
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  let ds: Dataset;
  try {
    ds = readDataset(args.data, args.format);
  } catch (e) {
    if (e instanceof DatasetError) usage(e.message);
    throw e;
  }
  if (args.split !== null) {
    const split = args.split;
    // The file's split where it gives one, else the seeded split a run with seed 0 uses (splitOf).
    ds = { ...ds, questions: ds.questions.filter((q) => splitOf(q, 0) === split) };
  }
  if (args.limit !== null) ds = { ...ds, questions: ds.questions.slice(0, args.limit) };
  const withGold = ds.questions.filter((q) => q.goldDocIds.length > 0).length;
  log(`${ds.name}: ${ds.questions.length} questions (${withGold} with gold passages), ${ds.passages.length} passages`);
  if (withGold === 0) usage(`${ds.name} has no questions with gold passages to score retrieval against (MedQA has none)`);
  if (ds.passages.length === 0) usage(`${ds.name} has no passages to retrieve from`);
  const out: Record<string, unknown> = {
    dataset: ds.name,
    format: args.format,
    questions: ds.questions.length,
    passages: ds.passages.length,
  };
  if (args.bm25) out.bm25 = evalBm25(ds, args.ks);
  if (args.model) {
    const { kind, metrics } = await evalModel(ds, args.model, args.ks);
    out[kind] = metrics;
  }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname))
  main().catch((e: Error) => {
    log(`error: ${e.message.replace(/^page\.evaluate: /, '')}`);
    process.exit(1);
  });
