// Bench driver: `tsx bench/run.ts NAME [--json]`. Serves the repo with Vite (cross-origin
// isolated, so onnxruntime-web's wasm gets threads), opens bench/index.html?bench=NAME in the
// system Chromium, waits for the page's result, prints it and writes bench/results/NAME-DATE.json.
// Benches in NODE_BENCHES run from Node instead (twin: child processes, each with its own Chromium
// or Python) and are printed and written the same way.
// Only the JSON goes to stdout with --json; progress and page logs go to stderr.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { log as err, ROOT as root, withChromiumPage } from '../scripts/lib/browser-session';
import { mergeCorpora, parseMedMCQA, parsePubMedQA } from '../src/data/datasets';
import { mulberry32 } from '../src/tensor/random';
import type { IndexBenchInput } from './index-bench';
import type { PageResult } from './page';
import type { PeersInput } from './peers';
import type { RealShapesInput } from './real-shapes';
import type { TwinResult } from './twin';

// Each has a page module registered in bench/page.ts (bench/NAME.ts; index: bench/index-bench.ts).
const BENCHES = ['eval', 'index', 'index-scale', 'matmul', 'maxsim', 'models', 'peers', 'real-shapes', 's2attn', 'step'];
/** Benches that run from Node, not in a page; each returns the result with its browser version. */
const NODE_BENCHES: Record<string, () => Promise<TwinResult>> = { twin: async () => (await import('./twin')).run() };
/** Benches that need data from Node: made here, handed to the page through window.__benchInput. */
const INPUTS: Record<string, () => Promise<unknown>> = {
  index: indexInput,
  'index-scale': indexScaleInput,
  peers: async () => peersInput(),
  eval: async () => ({ questions: Number(process.env.BENCH_EVAL_Q ?? 32) }),
  'real-shapes': async () => realShapesInput(),
};
const PAGE_TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MIN ?? 15) * 60_000; // BENCH_TIMEOUT_MIN: a longer run

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const rng = mulberry32(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * The index bench's corpus: PubMedQA contexts + MedMCQA explanations from ../shared/data, merged;
 * Q questions with gold passages (seeded shuffle), and for each N a subset of N passages that holds
 * every gold passage of those questions, filled up with other passages in a seeded order (the
 * smaller subsets are prefixes of the larger ones' fill). BENCH_INDEX_N (e.g. 200,400) and
 * BENCH_INDEX_Q override the sizes for a quick run.
 */
async function indexInput(
  sizes = (process.env.BENCH_INDEX_N ?? '1000,5000').split(',').map(Number),
  Q = Number(process.env.BENCH_INDEX_Q ?? 64),
): Promise<IndexBenchInput> {
  const dir = path.resolve(root, '../shared/data');
  const ds = mergeCorpora(
    parsePubMedQA(await readFile(path.join(dir, 'pubmedqa/ori_pqal.json'), 'utf8')),
    parseMedMCQA(await readFile(path.join(dir, 'medmcqa/dev.jsonl'), 'utf8')),
  );
  const questions = shuffled(
    ds.questions.filter((q) => q.goldDocIds.length > 0),
    1,
  ).slice(0, Q);
  const goldIds = new Set(questions.flatMap((q) => q.goldDocIds));
  const gold = ds.passages.filter((p) => goldIds.has(p.id));
  const rest = shuffled(
    ds.passages.filter((p) => !goldIds.has(p.id)),
    2,
  );
  const maxN = Math.min(Math.max(...sizes), ds.passages.length);
  const passages = [...gold, ...rest.slice(0, maxN - gold.length)];
  const notes: string[] = [];
  const subsets = sizes.map((want) => {
    const N = Math.min(want, ds.passages.length);
    if (N < want) notes.push(`N = ${want} asked, but the corpus has ${N} passages: all of them.`);
    if (N < gold.length) throw new Error(`N = ${N} is below the ${gold.length} gold passages of the ${Q} questions`);
    // Gold and fill interleaved in a seeded order, so a subset is not gold first.
    return { N, indices: shuffled([...Array(N).keys()], 3 + N) };
  });
  const pubmed = questions.filter((q) => q.kind === 'yes-no-maybe').length; // PubMedQA's; MedMCQA's are multiple choice
  notes.push(
    `Questions: ${questions.length} with gold passages (seeded shuffle of the ${ds.questions.filter((q) => q.goldDocIds.length > 0).length} that have any; ` +
      `${pubmed} PubMedQA, ${questions.length - pubmed} MedMCQA), ${gold.length} gold passages, all inside every subset; ` +
      'the rest of each subset is other passages of the corpus in a seeded order (the N = 1000 subset is inside the N = 5000 one).',
  );
  return {
    corpus: `PubMedQA ori_pqal contexts + MedMCQA dev explanations (../shared/data, ${ds.passages.length} passages merged), subsets of N = ${subsets.map((s) => s.N).join(', ')}`,
    passages,
    subsets,
    questions: questions.map((q) => ({ id: q.id, question: q.question, goldDocIds: q.goldDocIds })),
    notes,
  };
}

/** The real-shapes bench's options: BENCH_REAL_T, _STEPS, _DTYPES (f32,f16), _MODELS (colbert,smollm); unset: the issue's. */
function realShapesInput(): RealShapesInput {
  const env = process.env;
  const num = (k: string) => (env[k] ? Number(env[k]) : undefined);
  return {
    T: num('BENCH_REAL_T'),
    steps: num('BENCH_REAL_STEPS'),
    dtypes: env.BENCH_REAL_DTYPES?.split(',') as RealShapesInput['dtypes'],
    models: env.BENCH_REAL_MODELS?.split(','),
  };
}

/** The peers bench's sizes: BENCH_PEERS_SIZES (e.g. 256,512), _STEPS, _B, _T, _IMPLS, _PROFILE=0 (no profiled step); unset: the issue's shape. */
function peersInput(): PeersInput {
  const env = process.env;
  const num = (k: string): number | undefined => (env[k] ? Number(env[k]) : undefined);
  return {
    sizes: env.BENCH_PEERS_SIZES?.split(',').map(Number),
    steps: num('BENCH_PEERS_STEPS'),
    B: num('BENCH_PEERS_B'),
    T: num('BENCH_PEERS_T'),
    impls: env.BENCH_PEERS_IMPLS?.split(','),
    profile: env.BENCH_PEERS_PROFILE !== '0',
  };
}

/**
 * The index-scale bench's input: the index bench's corpus, every passage once (gold first), its
 * questions (BENCH_SCALE_Q, default 16), and the sizes to grow it to (BENCH_SCALE_N, default
 * 10000,50000; the page repeats passages with perturbation past the corpus' size), and the
 * compressed indexes built, as nbits[:K] (BENCH_SCALE_NBITS, default 2); BENCH_SCALE_BASE (e.g. 500)
 * encodes only that many passages (the gold ones first) for a quick run; BENCH_SCALE_SEARCH
 * (default 2:256,4:1024) the compressed searches' nprobe:ndocs settings, one row each.
 */
async function indexScaleInput(): Promise<
  IndexBenchInput & { sizes: number[]; nbits: string[]; search: { nprobe: number; ndocs: number }[] }
> {
  const sizes = (process.env.BENCH_SCALE_N ?? '10000,50000').split(',').map(Number);
  // nbits[:K] per compressed index built (K 0 or absent: defaultCentroids).
  const nbits = (process.env.BENCH_SCALE_NBITS ?? '2').split(',');
  // nprobe:ndocs pairs, each searched on the same compressed index.
  const search = (process.env.BENCH_SCALE_SEARCH ?? '2:256,4:1024').split(',').map((p) => {
    const [nprobe, ndocs] = p.split(':').map(Number);
    return { nprobe: nprobe!, ndocs: ndocs! };
  });
  const base = await indexInput([Infinity], Number(process.env.BENCH_SCALE_Q ?? 16));
  // BENCH_SCALE_BASE: encode only the first passages (gold first) for a quick run.
  const keep = Number(process.env.BENCH_SCALE_BASE ?? Infinity);
  return {
    ...base,
    passages: base.passages.slice(0, keep),
    notes: base.notes.filter((n) => !n.startsWith('N = ')),
    sizes,
    nbits,
    search,
  };
}

type Printable = Pick<PageResult, 'bench' | 'adapter' | 'notes'> & { browser: string; rows: Record<string, unknown>[] };

/** A plain-text table: one column per row field (in first-seen order), then the notes. */
function table(r: Printable): string {
  const cols = [...new Set(r.rows.flatMap((row) => Object.keys(row)))].filter((c) => c !== 'op' && c !== 'error');
  const cell = (v: unknown, c: string): string => {
    if (v === undefined || v === null) return '';
    if (typeof v === 'string') return v;
    if (typeof v !== 'number') return JSON.stringify(v);
    if (c === 'maxAbsDiff') return v.toExponential(2);
    return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) >= 100 ? 1 : 3);
  };
  const cells = r.rows.map((row) => cols.map((c) => cell(row[c], c)));
  const widths = cols.map((c, k) => Math.max(c.length, ...cells.map((line) => line[k]!.length)));
  const fmt = (line: string[]) =>
    line.map((s, k) => (k === cols.indexOf('impl') ? s.padEnd(widths[k]!) : s.padStart(widths[k]!))).join('  ');
  const lines = [
    `${r.bench} on ${r.adapter.vendor}/${r.adapter.architecture}${r.adapter.description ? ` (${r.adapter.description})` : ''}, Chromium ${r.browser}`,
    fmt(cols),
  ];
  r.rows.forEach((row, k) => lines.push(fmt(cells[k]!) + (row.error ? `  error: ${row.error}` : '')));
  for (const note of r.notes) lines.push(`note: ${note}`);
  return lines.join('\n');
}

/** Print a result and write it to bench/results/NAME-DATE.json. */
async function emit(name: string, result: Omit<Printable, 'browser'>, browser: string, json: boolean): Promise<void> {
  const date = new Date().toISOString();
  const { bench, adapter, ...rest } = result; // key order: the fields a reader looks for first
  const out = { bench, adapter, browser, date, ...rest };
  const file = path.join(root, 'bench/results', `${name}-${date.slice(0, 10)}.json`);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(out, null, 2)}\n`);
  err(`wrote ${path.relative(root, file)}`);
  process.stdout.write(json ? `${JSON.stringify(out, null, 2)}\n` : `${table(out)}\n`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const name = args.find((a) => !a.startsWith('-'));
  const names = [...BENCHES, ...Object.keys(NODE_BENCHES)].sort();
  if (!name || !names.includes(name)) {
    err(`usage: npm run bench -- <${names.join('|')}> [--json]`);
    process.exit(2);
  }
  const fromNode = NODE_BENCHES[name];
  if (fromNode) {
    err(`bench ${name} (from Node)`);
    const { browser, ...result } = await fromNode();
    await emit(name, result, browser, json);
    return;
  }

  const input = await INPUTS[name]?.();
  err(`bench ${name}: /bench/index.html?bench=${name}`);
  await withChromiumPage(`/bench/index.html?bench=${name}`, async ({ page, browser }) => {
    if (input !== undefined) {
      await page.waitForFunction(() => window.__benchInput !== undefined, null, { timeout: 60_000 });
      await page.evaluate((x) => window.__benchInput!(x), input);
    }
    await page.waitForFunction(() => window.__benchResult !== undefined, null, { timeout: 60_000 });
    const result = await Promise.race([
      page.evaluate(() => window.__benchResult!),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`bench ${name} took over ${PAGE_TIMEOUT_MS / 60_000} min`)), PAGE_TIMEOUT_MS).unref(),
      ),
    ]);
    await emit(name, result, browser.version(), json);
  });
}

main().catch((e) => {
  err(String(e?.stack ?? e));
  process.exit(1);
});
