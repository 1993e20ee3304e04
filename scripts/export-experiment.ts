// `npm run export-experiment -- <config.json> --out DIR [--data DIR --format F] [--retriever DIR] [--generator DIR]`
// Writes an experiment bundle (docs/cluster.md) for the PyTorch twin: the run's inputs tokenized
// as the browser's training tokenizes them (src/training/bundle.ts), the two model folders, a
// README, and manifest.json last with the size and sha256 of every file. The config, data and
// model defaults are `npm run experiment`'s (readConfig, readData; the demo set and demo models).
// Runs in Node alone: tokenizing needs no GPU. Exporting twice gives byte-identical files.

import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { DatasetFormat } from '../src/data/datasets';
import { generatorConfigOf, readModelTokenizer, retrieverTokenizer } from '../src/models/load';
import { answerIds } from '../src/models/generator';
import { padIdOf } from '../src/models/decoder';
import { ModelFileMissingError, SAFETENSORS_INDEX, weightFileNames, type ModelFiles } from '../src/models/sources';
import {
  BUNDLE_FILES,
  BUNDLE_FORMAT,
  BUNDLE_MODEL_DIRS,
  BUNDLE_TOKENIZER_FILES,
  BundleError,
  buildBundle,
  bundleManifestJson,
  readBundleManifest,
  withBundleFiles,
  type BundleFileEntry,
  type BundleManifest,
} from '../src/training/bundle';
import type { TrainConfig } from '../src/training/config';
import { readConfig, readData } from './experiment';
import { log, ROOT } from './lib/browser-session';

const USAGE =
  'usage: npm run export-experiment -- <config.json> --out DIR [--data DIR --format jsonl|pubmedqa|medmcqa|medqa|beir] ' +
  '[--retriever DIR] [--generator DIR]';
const FLAGS = ['out', 'data', 'format', 'retriever', 'generator'] as const;
const FORMATS: readonly DatasetFormat[] = ['jsonl', 'pubmedqa', 'medmcqa', 'medqa', 'beir'];

/** A usage problem: the message and the usage line, exit code 2. */
function fail(msg: string): never {
  log(`error: ${msg}\n${USAGE}`);
  process.exit(2);
}

/** What exportExperiment refuses before it writes anything (the CLI exits 2 with it). */
export class ExportRefusedError extends Error {
  override name = 'ExportRefusedError';
}

const refuse = (msg: string): never => {
  throw new ExportRefusedError(msg);
};

const label = (dir: string): string => path.relative(ROOT, dir) || '.';

/** A model folder on disk as ModelFiles, for readModelTokenizer and weightFileNames (which read small files only). */
export function nodeModelFiles(dir: string): ModelFiles {
  const name = label(dir);
  return {
    label: name,
    kind: 'folder',
    async read(p) {
      const full = path.join(dir, p);
      if (!existsSync(full)) throw new ModelFileMissingError(p, name, `${name} has no ${p}`);
      return new Uint8Array(readFileSync(full)); // a copy: spans its whole ArrayBuffer
    },
    async exists(p) {
      return existsSync(path.join(dir, p));
    },
  };
}

/** The files of a model folder that go in a bundle: config.json, the weights MedRank loads (with their index), the tokenizer files. */
export async function modelFilesToCopy(dir: string): Promise<string[]> {
  const files = nodeModelFiles(dir);
  const weights = await weightFileNames(files);
  const out = ['config.json', ...weights.files];
  if (weights.weightMap) out.push(SAFETENSORS_INDEX);
  for (const f of BUNDLE_TOKENIZER_FILES) if (existsSync(path.join(dir, f))) out.push(f);
  for (const f of out)
    if (!existsSync(path.join(dir, f)))
      throw new ModelFileMissingError(f, label(dir), `${label(dir)} has no ${f}, which the bundle needs; add it to the folder`);
  return [...new Set(out)].sort();
}

/** Copy src to dst, hashing as it streams (model shards can be larger than one buffer). */
async function copyHashed(src: string, dst: string): Promise<BundleFileEntry> {
  const hash = createHash('sha256');
  const out = await open(dst, 'w');
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(src, { highWaterMark: 1 << 22 })) {
      const b = chunk as Buffer;
      hash.update(b);
      await out.write(b);
      bytes += b.byteLength;
    }
  } finally {
    await out.close();
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** Whether `inner` is `outer` or inside it. */
const within = (inner: string, outer: string): boolean => {
  const rel = path.relative(path.resolve(outer), path.resolve(inner));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

/**
 * What is in `out` now: 'empty' (or absent), 'bundle' (a previous export, or one cut off before
 * its manifest), or the names of files that are not a bundle's.
 */
function outState(out: string): 'empty' | 'bundle' | { foreign: string[] } {
  if (!existsSync(out)) return 'empty';
  if (!statSync(out).isDirectory()) return { foreign: [path.basename(out)] };
  const names = readdirSync(out);
  if (names.length === 0) return 'empty';
  const ours = new Set<string>([...BUNDLE_FILES, BUNDLE_MODEL_DIRS.retriever, BUNDLE_MODEL_DIRS.generator]);
  const foreign = names.filter((n) => !ours.has(n));
  if (foreign.length) return { foreign };
  const manifest = path.join(out, 'manifest.json');
  if (existsSync(manifest)) {
    try {
      const m = JSON.parse(readFileSync(manifest, 'utf8')) as { format?: unknown };
      if (m.format === BUNDLE_FORMAT) return 'bundle';
    } catch {
      // not a manifest: fall through
    }
    return { foreign: ['manifest.json (not a MedRank manifest)'] };
  }
  // An export cut off before its manifest (written last) left its inputs.
  return names.includes('inputs.safetensors') || names.includes('ids.json') ? 'bundle' : { foreign: names };
}

export interface ExportOptions {
  config: TrainConfig;
  out: string;
  dataDir: string;
  format: DatasetFormat;
  retrieverDir: string;
  generatorDir: string;
}

/**
 * Build the bundle in memory, then replace `out`'s contents with it, manifest.json last. An `out`
 * that holds anything but a previous bundle, or holds an input folder, is an ExportRefusedError.
 */
export async function exportExperiment(o: ExportOptions): Promise<BundleManifest> {
  const out = path.resolve(o.out);
  for (const [what, dir] of [
    ['--data', o.dataDir],
    ['--retriever', o.retrieverDir],
    ['--generator', o.generatorDir],
  ] as const)
    if (within(dir, out))
      refuse(`the ${what} folder ${dir} is inside --out ${o.out}, which the export replaces; choose another --out`);
  const state = outState(out);
  if (typeof state === 'object')
    refuse(
      `--out ${o.out} is not empty and is not a MedRank bundle (it holds ${state.foreign.slice(0, 5).join(', ')}` +
        `${state.foreign.length > 5 ? ', ...' : ''}); give an empty or new folder, or delete that one first`,
    );

  const ds = readData(o.dataDir, o.format);
  const rHead = await readModelTokenizer(nodeModelFiles(o.retrieverDir));
  const gHead = await readModelTokenizer(nodeModelFiles(o.generatorDir));
  const gConfig = generatorConfigOf(gHead, label(o.generatorDir));
  const copies = {
    retriever: await modelFilesToCopy(o.retrieverDir),
    generator: await modelFilesToCopy(o.generatorDir),
  };
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const bundle = await buildBundle({
    config: o.config,
    passages: ds.passages,
    questions: ds.questions,
    retriever: retrieverTokenizer(rHead, label(o.retrieverDir)),
    generator: {
      tokenizer: gHead.tokenizer,
      encodeAnswer: (text) => answerIds(gHead.tokenizer, text),
      padTokenId: padIdOf(gConfig, gHead.tokenizer),
      maxPositions: gConfig.maxPositions,
    },
    medrankVersion: pkg.version,
    source: label(o.dataDir),
    modelSources: { retriever: label(o.retrieverDir), generator: label(o.generatorDir) },
  });

  // Everything is checked: now replace the old bundle, its manifest first (a half-replaced
  // folder never carries a manifest that vouches for it).
  if (state === 'bundle') {
    rmSync(path.join(out, 'manifest.json'), { force: true });
    for (const n of readdirSync(out)) rmSync(path.join(out, n), { recursive: true, force: true });
  }
  mkdirSync(out, { recursive: true });
  for (const [p, bytes] of bundle.files) writeFileSync(path.join(out, p), bytes);
  const entries: Record<string, BundleFileEntry> = {};
  for (const which of ['retriever', 'generator'] as const) {
    const src = which === 'retriever' ? o.retrieverDir : o.generatorDir;
    const dir = BUNDLE_MODEL_DIRS[which];
    mkdirSync(path.join(out, dir), { recursive: true });
    for (const f of copies[which]) entries[`${dir}/${f}`] = await copyHashed(path.join(src, f), path.join(out, dir, f));
  }
  const manifest = withBundleFiles(bundle.manifest, entries);
  const json = bundleManifestJson(manifest);
  readBundleManifest(json); // what the notebook and the twin will check, checked before it is written
  writeFileSync(path.join(out, 'manifest.json'), json);
  return manifest;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const values: Partial<Record<(typeof FLAGS)[number], string>> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const name = a.slice(2) as (typeof FLAGS)[number];
    if (!FLAGS.includes(name)) fail(`unknown flag ${a}`);
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) fail(`${a} needs a value`);
    if (values[name] !== undefined) fail(`${a} is given twice`);
    values[name] = v;
    i++;
  }
  if (positional.length === 0) fail('give a config file first');
  if (positional.length > 1) fail(`one config file, got ${positional.length}: ${positional.join(' ')}`);
  const out = values.out ?? fail('--out DIR is required');
  const format = (values.format ?? 'jsonl') as DatasetFormat;
  if (!FORMATS.includes(format)) fail(`--format ${format}: use one of ${FORMATS.join(', ')}`);
  const config = readConfig(positional[0]!, fail);
  const dataDir = path.resolve(values.data ?? path.join(ROOT, 'public/demo'));
  const retrieverDir = path.resolve(values.retriever ?? path.join(ROOT, 'public/demo/models/retriever'));
  const generatorDir = path.resolve(values.generator ?? path.join(ROOT, 'public/demo/models/generator'));
  if (!existsSync(dataDir)) fail(`--data ${dataDir}: no such folder`);
  for (const d of [retrieverDir, generatorDir]) if (!existsSync(path.join(d, 'config.json'))) fail(`${d} has no config.json`);

  let m: BundleManifest;
  try {
    m = await exportExperiment({ config, out, dataDir, format, retrieverDir, generatorDir });
  } catch (e) {
    // A bundle the run would refuse (too few questions, a gold id not in the corpus, a file over
    // the limit) is bad input, like a bad flag.
    if (e instanceof ExportRefusedError || e instanceof BundleError) fail(e.message);
    throw e;
  }
  const bytes = Object.values(m.files).reduce((a, f) => a + f.bytes, 0);
  log(
    `wrote ${out}: ${m.data.passages} passages, ${m.data.questions} questions, ${Object.keys(m.files).length} files ` +
      `(${(bytes / 2 ** 20).toFixed(1)} MiB) and manifest.json; train it with: PYTHONPATH=python python3 -m medrank_torch.train ${out} --out results.json --device cuda`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname))
  main().catch((e: Error) => {
    log(`error: ${e.message}`);
    process.exit(1);
  });
