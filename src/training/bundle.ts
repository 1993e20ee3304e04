// The experiment bundle (docs/cluster.md, format version 1): a run's inputs tokenized exactly as
// the browser's training tokenizes them, for the PyTorch twin on a cluster. buildBundle makes the
// files that are not model files (inputs.safetensors, ids.json, README.md) and the manifest;
// readBundleManifest checks a manifest before anything trusts it; verifyBundleFiles checks sizes
// and sha256 (crypto.subtle: Node 20 and browsers). Pure: no Node APIs, usable in the worker.
// P = passages, Q = questions, O = options of all questions in order, Lq = queryMaxLen.

import type { Passage, Question, QuestionSplit } from '../data/datasets';
import { MedRankError } from '../core/errors';
import { formatBytes } from '../core/format';
import type { ColbertTokenizer } from '../models/colbert';
import { docText } from '../retrieval/index';
import { writeSafetensors, type WritableTensor } from '../tensor';
import { ConfigError, resolveConfig, type TrainConfig } from './config';
import { contextBudgetProblem, optionsOf, PromptBuilder, type PromptTokens } from './prompts';
import { splitOf } from './run';

export const BUNDLE_FORMAT = 'medrank-experiment';
export const BUNDLE_FORMAT_VERSION = 1;
/** Largest file buildBundle writes (inputs.safetensors, ids.json): one allocation, in a browser tab too. */
export const MAX_BUNDLE_FILE_BYTES = 2 ** 30;
/** Most files a manifest may list (the Python reader's bound as well). */
export const MAX_BUNDLE_FILES = 10_000;
/** A manifest.json over this is not one MedRank wrote. */
export const MAX_MANIFEST_BYTES = 64 * 2 ** 20;
/** The files of a bundle besides the model folders, and the folders the exporter writes models to. */
export const BUNDLE_FILES = ['manifest.json', 'inputs.safetensors', 'ids.json', 'README.md'] as const;
export const BUNDLE_MODEL_DIRS = { retriever: 'retriever', generator: 'generator' } as const;
/** The tokenizer files a model folder may have (a loader reads one of them); the exporters copy those present. */
export const BUNDLE_TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'vocab.txt',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
] as const;
/** question.split's codes. */
export const SPLIT_CODES: Record<QuestionSplit, number> = { train: 0, validation: 1, test: 2 };

const I32_MAX = 2 ** 31 - 1;
/** Keys that would reach an object's prototype if code copied them: refused anywhere in a manifest. */
const PROTO_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** A bundle that cannot be built or read as it is; the message says what to do. */
export class BundleError extends MedRankError {
  // Explicit: errors cross the worker by name, which a minifier may shorten on the class.
  override name = 'BundleError';
}

export type BundleModelRef = { dir: string } | { hub: string; revision: string };

export interface BundleFileEntry {
  bytes: number;
  /** Lowercase hex. */
  sha256: string;
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  formatVersion: number;
  medrankVersion: string;
  /** The resolved TrainConfig, every field. */
  config: TrainConfig;
  data: { passages: number; questions: number; source: string };
  models: { retriever: BundleModelRef; generator: BundleModelRef };
  retriever: { queryMaxLen: number; docMaxLen: number; padTokenId: number };
  generator: { padTokenId: number };
  /** Every file but manifest.json, by path relative to the bundle folder, in path order. */
  files: Record<string, BundleFileEntry>;
}

/** The generator's side of the inputs: prompt tokens (a Generator, or a tokenizer + answerIds) and its pad id. */
export interface BundleGenerator extends PromptTokens {
  padTokenId: number;
  /** When given, a config whose prompts cannot fit is refused here, as the Trainer refuses it. */
  maxPositions?: number;
}

export interface BundleInput {
  /** The resolved config (resolveConfig). */
  config: TrainConfig;
  passages: readonly Passage[];
  questions: readonly Question[];
  /** The retriever's tokenization, with the options loadRetriever gives it (retrieverTokenizer in src/models/load.ts). */
  retriever: ColbertTokenizer;
  generator: BundleGenerator;
  medrankVersion: string;
  /** Where the data came from, for the manifest and README (e.g. 'public/demo'). */
  source: string;
  /** Default: the folders `retriever/` and `generator/` of the bundle. */
  models?: { retriever: BundleModelRef; generator: BundleModelRef };
  /** Where the model folders were copied from, for the README only. */
  modelSources?: { retriever: string; generator: string };
  /** Default MAX_BUNDLE_FILE_BYTES (tests lower it). */
  maxFileBytes?: number;
}

export interface Bundle {
  /** files lists the files of `files`; the caller adds the model files' entries (withBundleFiles). */
  manifest: BundleManifest;
  /** inputs.safetensors, ids.json and README.md, by path. */
  files: Map<string, Uint8Array>;
}

/** SHA-256 of bytes as lowercase hex, through crypto.subtle (Node 20+, browsers in secure contexts). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Ids of many items as one flat I32 list and n + 1 offsets, bounded as they grow. */
class RaggedIds {
  private readonly parts: Int32Array[] = [];
  private readonly offsets: number[] = [0];
  private total = 0;

  constructor(
    readonly name: string,
    private readonly budget: ByteBudget,
  ) {}

  push(ids: ArrayLike<number>): void {
    this.total += ids.length;
    if (this.total > I32_MAX)
      throw new BundleError(
        `${this.name} would hold ${this.total} ids, more than its I32 offsets can address (${I32_MAX}); export a smaller corpus or fewer questions`,
      );
    this.budget.add(4 * (ids.length + 1), this.name);
    this.parts.push(Int32Array.from(ids));
    this.offsets.push(this.total);
  }

  get length(): number {
    return this.offsets.length - 1;
  }

  flat(): Int32Array {
    const flat = new Int32Array(this.total);
    let at = 0;
    for (const p of this.parts) {
      flat.set(p, at);
      at += p.length;
    }
    return flat;
  }

  /** The flat ids and the offsets under these names. */
  tensors(flatName: string, offsetsName: string): Record<string, WritableTensor> {
    return { [flatName]: i32(this.flat()), [offsetsName]: i32(Int32Array.from(this.offsets)) };
  }
}

/** Running size of a file being built, refused before it passes the limit (not after allocating it). */
class ByteBudget {
  private used = 0;

  constructor(
    readonly file: string,
    readonly limit: number,
  ) {}

  add(bytes: number, what: string): void {
    this.used += bytes;
    if (this.used > this.limit)
      throw new BundleError(
        `${this.file} would pass ${formatBytes(this.limit)} (at ${what}), the most a bundle file may hold; ` +
          'export a smaller corpus or fewer questions (or lower docMaxTokens)',
      );
  }
}

const i32 = (data: Int32Array, shape: number[] = [data.length]): WritableTensor => ({ dtype: 'I32', shape, data });

function uniqueIds(items: readonly { id: string }[], what: string): Map<string, number> {
  const at = new Map<string, number>();
  items.forEach((x, i) => {
    if (typeof x.id !== 'string' || x.id === '') throw new BundleError(`${what} ${i} has no id; give every ${what} an id`);
    const prev = at.get(x.id);
    if (prev !== undefined)
      throw new BundleError(`${what} id "${x.id}" appears twice (items ${prev} and ${i}); ids must be unique in a bundle`);
    at.set(x.id, i);
  });
  return at;
}

/**
 * The bundle's inputs and manifest. Every id is what the browser's training uses: ColBERT queries
 * and documents as ColbertRetriever tokenizes them (documents unpadded), the generator's pieces as
 * PromptBuilder builds prompts, answers and options from them, splits by splitOf(q, config.seed).
 */
export async function buildBundle(input: BundleInput): Promise<Bundle> {
  const { config, passages, questions, retriever, generator } = input;
  const limit = input.maxFileBytes ?? MAX_BUNDLE_FILE_BYTES;
  if (passages.length === 0) throw new BundleError('the corpus has no passages: a run retrieves from at least one');
  if (questions.length === 0) throw new BundleError('the dataset has no questions to train or evaluate on');
  if (passages.length >= I32_MAX || questions.length >= I32_MAX)
    throw new BundleError(`${passages.length} passages and ${questions.length} questions: more than I32 indices address`);
  const passageAt = uniqueIds(passages, 'passage');
  uniqueIds(questions, 'question');
  const splits = questions.map((q) => splitOf(q, config.seed));
  const train = splits.filter((s) => s === 'train').length;
  // The run would refuse these on the cluster; refuse them here, with the Trainer's words.
  if (train < config.batchSize) throw new BundleError(`${train} training questions cannot fill a batch of ${config.batchSize}`);
  const need = config.candidates + (config.retrieverLoss === 'infonce' ? 1 : 0);
  if (passages.length < need)
    throw new BundleError(`${passages.length} passages cannot give ${need} candidates per question: lower candidates`);
  const tooLong =
    generator.maxPositions === undefined ? null : contextBudgetProblem(config.topM, config.docMaxTokens, generator.maxPositions);
  if (tooLong) throw new BundleError(tooLong);

  const budget = new ByteBudget('inputs.safetensors', limit);
  const tensors: Record<string, WritableTensor> = {};

  // ColBERT: queries [Q, Lq] as tokenizeQueries gives them; documents unpadded from tokenizeDocs.
  const Lq = retriever.opts.queryMaxLen;
  budget.add(8 * questions.length * Lq, 'colbert.query_ids');
  const queryIds = new Int32Array(questions.length * Lq);
  const queryMask = new Int32Array(questions.length * Lq);
  const BATCH = 256;
  for (let b0 = 0; b0 < questions.length; b0 += BATCH) {
    const inp = retriever.tokenizeQueries(questions.slice(b0, b0 + BATCH).map((q) => q.question));
    queryIds.set(inp.ids, b0 * Lq);
    queryMask.set(Int32Array.from(inp.mask), b0 * Lq);
  }
  tensors['colbert.query_ids'] = i32(queryIds, [questions.length, Lq]);
  tensors['colbert.query_mask'] = i32(queryMask, [questions.length, Lq]);
  const docIds = new RaggedIds('colbert.doc_ids', budget);
  const docKeep = new RaggedIds('colbert.doc_keep', budget);
  for (let b0 = 0; b0 < passages.length; b0 += BATCH) {
    const inp = retriever.tokenizeDocs(passages.slice(b0, b0 + BATCH).map(docText));
    for (let b = 0; b < inp.B; b++) {
      const row = b * inp.T;
      let n = 0;
      while (n < inp.T && inp.mask[row + n] === 1) n++;
      docIds.push(inp.ids.subarray(row, row + n));
      docKeep.push(inp.keep.subarray(row, row + n));
    }
  }
  Object.assign(tensors, docIds.tensors('colbert.doc_ids', 'colbert.doc_offsets'));
  tensors['colbert.doc_keep'] = i32(docKeep.flat()); // its offsets are colbert.doc_offsets

  // Generator: the pieces PromptBuilder concatenates into prompts.
  const prompts = new PromptBuilder(generator, new Map(passages.map((p) => [p.id, p])), config.docMaxTokens);
  tensors['gen.bos'] = i32(Int32Array.from(prompts.bos));
  tensors['gen.context'] = i32(Int32Array.from(prompts.contextIds));
  const genDocs = new RaggedIds('gen.doc_ids', budget);
  for (const p of passages) genDocs.push(prompts.passageTokens(p));
  Object.assign(tensors, genDocs.tensors('gen.doc_ids', 'gen.doc_offsets'));
  const qWith = new RaggedIds('gen.question_ids', budget);
  const qWithout = new RaggedIds('gen.question_nodoc_ids', budget);
  const answers = new RaggedIds('gen.answer_ids', budget);
  const options = new RaggedIds('gen.option_ids', budget);
  const goldDocs = new RaggedIds('question.gold_docs', budget);
  const optionOffsets = new Int32Array(questions.length + 1);
  const goldOption = new Int32Array(questions.length);
  questions.forEach((q, i) => {
    qWith.push(prompts.questionTokens(q, true));
    qWithout.push(prompts.questionTokens(q, false));
    answers.push(prompts.answer(q.answer));
    const o = optionsOf(q);
    for (const text of o?.options ?? []) options.push(prompts.answer(text));
    optionOffsets[i + 1] = options.length;
    goldOption[i] = o ? o.gold : -1;
    goldDocs.push(
      q.goldDocIds.map((id) => {
        const at = passageAt.get(id);
        if (at === undefined)
          throw new BundleError(
            `question "${q.id}" names gold passage "${id}", which is not in the corpus; add the passage or drop it from the question's gold ids`,
          );
        return at;
      }),
    );
  });
  Object.assign(tensors, qWith.tensors('gen.question_ids', 'gen.question_offsets'));
  Object.assign(tensors, qWithout.tensors('gen.question_nodoc_ids', 'gen.question_nodoc_offsets'));
  Object.assign(tensors, answers.tensors('gen.answer_ids', 'gen.answer_offsets'));
  Object.assign(tensors, options.tensors('gen.option_ids', 'gen.option_offsets'));
  budget.add(12 * questions.length, 'question.*');
  tensors['question.option_offsets'] = i32(optionOffsets);
  tensors['question.gold_option'] = i32(goldOption);
  tensors['question.split'] = i32(Int32Array.from(splits, (s) => SPLIT_CODES[s]));
  Object.assign(tensors, goldDocs.tensors('question.gold_docs', 'question.gold_offsets'));

  const enc = new TextEncoder();
  const idsJson = enc.encode(
    `${JSON.stringify({ passages: passages.map((p) => p.id), questions: questions.map((q) => q.id) })}\n`,
  );
  if (idsJson.byteLength > limit)
    throw new BundleError(
      `ids.json would be ${formatBytes(idsJson.byteLength)}, over the ${formatBytes(limit)} a bundle file may hold`,
    );
  const inputs = writeSafetensors(tensors, {
    format: 'medrank-experiment-inputs',
    formatVersion: String(BUNDLE_FORMAT_VERSION),
  });
  // The estimate above stops a big bundle early; this is the exact size, header included.
  if (inputs.byteLength > limit)
    throw new BundleError(
      `inputs.safetensors would be ${formatBytes(inputs.byteLength)}, over the ${formatBytes(limit)} a bundle file may hold; ` +
        'export a smaller corpus or fewer questions (or lower docMaxTokens)',
    );
  const files = new Map<string, Uint8Array>([
    ['inputs.safetensors', inputs],
    ['ids.json', idsJson],
  ]);
  const models = input.models ?? {
    retriever: { dir: BUNDLE_MODEL_DIRS.retriever },
    generator: { dir: BUNDLE_MODEL_DIRS.generator },
  };
  const counts = {
    train,
    validation: splits.filter((s) => s === 'validation').length,
    test: splits.filter((s) => s === 'test').length,
  };
  files.set('README.md', enc.encode(readme(input, models, counts)));

  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    formatVersion: BUNDLE_FORMAT_VERSION,
    medrankVersion: input.medrankVersion,
    config: resolveConfig(config),
    data: { passages: passages.length, questions: questions.length, source: input.source },
    models,
    retriever: { queryMaxLen: Lq, docMaxLen: retriever.opts.docMaxLen, padTokenId: retriever.padTokenId },
    generator: { padTokenId: generator.padTokenId },
    files: {},
  };
  const entries: Record<string, BundleFileEntry> = {};
  for (const [p, bytes] of files) entries[p] = { bytes: bytes.byteLength, sha256: await sha256Hex(bytes) };
  return { manifest: withBundleFiles(manifest, entries), files };
}

function readme(input: BundleInput, models: NonNullable<BundleInput['models']>, counts: Record<QuestionSplit, number>): string {
  const c = input.config;
  const model = (which: 'retriever' | 'generator'): string => {
    const m = models[which];
    const from = input.modelSources?.[which];
    return 'dir' in m
      ? `\`${m.dir}/\`${from ? ` (copied from \`${from}\`)` : ''}`
      : `${m.hub} at revision ${m.revision} (not in the bundle)`;
  };
  return `# MedRank experiment: ${c.name}

A MedRank experiment bundle (format ${BUNDLE_FORMAT} version ${BUNDLE_FORMAT_VERSION}, MedRank ${input.medrankVersion}), written by
\`npm run export-experiment\`. Its inputs are tokenized as the browser tokenizes them; docs/cluster.md
in MedRank describes every file.

- run: ${c.steps} steps, retriever loss ${c.retrieverLoss}, schedule ${c.schedule}, seed ${c.seed} (manifest.json's config)
- data: ${input.source}: ${input.passages.length} passages, ${input.questions.length} questions (${counts.train} train, ${counts.validation} validation, ${counts.test} test)
- retriever: ${model('retriever')}
- generator: ${model('generator')}

## Run it

From a MedRank checkout (the twin is \`python/medrank_torch/\`: PyTorch 1.13 to 2.x and numpy), with
this folder as BUNDLE:

\`\`\`sh
PYTHONPATH=python python3 -m medrank_torch.train BUNDLE --out results.json --device cuda          # one GPU
PYTHONPATH=python torchrun --nproc_per_node 8 -m medrank_torch.train BUNDLE --out results.json --device cuda
\`\`\`

Without \`--device\` it trains on the CPU. The twin checks the size and sha256 of every file
against manifest.json before it starts; copy the folder whole. results.json has the schema of
\`npm run experiment --out\`: tabulate it with \`npm run -s experiment-table -- results.json\`, or
import it into the notebook as a run.
`;
}

/** The manifest with more file entries, all files in path order (so a manifest's bytes do not depend on copy order). */
export function withBundleFiles(manifest: BundleManifest, more: Record<string, BundleFileEntry>): BundleManifest {
  const all = { ...manifest.files };
  for (const [p, e] of Object.entries(more)) {
    checkBundlePath(p, 'a bundle file');
    all[p] = { bytes: e.bytes, sha256: e.sha256 };
  }
  const files: Record<string, BundleFileEntry> = {};
  for (const p of Object.keys(all).sort()) files[p] = all[p]!;
  return { ...manifest, files };
}

/** manifest.json's text: two-space JSON and a newline, nothing that changes between exports. */
export function bundleManifestJson(manifest: BundleManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/**
 * A path inside the bundle folder: relative, '/'-separated, no '.', '..' or empty segments, no
 * backslash, drive colon or control character, and not manifest.json itself.
 */
export function checkBundlePath(p: string, where: string): void {
  const segments = p.split('/');
  const control = [...p].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f);
  const bad = control || /[\\:]/.test(p) || p.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..');
  if (p === '' || bad)
    throw new BundleError(
      `${where}: the path ${JSON.stringify(p)} leaves the bundle folder or is not a plain relative path; re-export the bundle`,
    );
  if (p === 'manifest.json') throw new BundleError(`${where}: manifest.json cannot list itself; re-export the bundle`);
  if (PROTO_KEYS.has(segments[0]!)) throw new BundleError(`${where}: the path ${JSON.stringify(p)} is not allowed`);
}

// ---------------------------------------------------------------------------------------------
// Reading

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min = 0): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= min;

/** Refuses prototype keys at any depth, without recursion (a deeply nested file cannot overflow the stack). */
function refuseProtoKeys(root: unknown): void {
  const stack: [unknown, string][] = [[root, '']];
  while (stack.length) {
    const [v, at] = stack.pop()!;
    if (Array.isArray(v)) v.forEach((x, i) => stack.push([x, `${at}[${i}]`]));
    else if (isObject(v))
      for (const k of Object.keys(v)) {
        if (PROTO_KEYS.has(k))
          throw new BundleError(
            `manifest.json: the key "${k}" (at ${at || 'the top level'}) is not allowed; re-export the bundle`,
          );
        stack.push([v[k], at ? `${at}.${k}` : k]);
      }
  }
}

function modelRef(v: unknown, which: string): BundleModelRef {
  const bad = (): never => {
    throw new BundleError(
      `manifest.json: models.${which} must be {"dir": "<folder in the bundle>"} or {"hub": id, "revision": sha}`,
    );
  };
  if (!isObject(v)) return bad();
  if (typeof v.dir === 'string') {
    checkBundlePath(v.dir, `manifest.json: models.${which}.dir`);
    return { dir: v.dir };
  }
  if (typeof v.hub === 'string' && v.hub !== '' && typeof v.revision === 'string' && v.revision !== '')
    return { hub: v.hub, revision: v.revision };
  return bad();
}

/**
 * A manifest.json (its text, or already parsed) checked field by field: the format and version (a
 * newer version asks to update MedRank), the config (as resolveConfig checks it), the models, the
 * tokenization settings and the files map (safe relative paths, sizes, sha256). Nothing else in it
 * is trusted; an unknown field is left out of the result.
 */
export function readBundleManifest(json: string | unknown): BundleManifest {
  let m: unknown = json;
  if (typeof json === 'string') {
    if (json.length > MAX_MANIFEST_BYTES)
      throw new BundleError(
        `manifest.json is over ${formatBytes(MAX_MANIFEST_BYTES)}, which no export writes; re-export the bundle`,
      );
    try {
      m = JSON.parse(json);
    } catch (e) {
      throw new BundleError(
        `manifest.json is not valid JSON (${(e as Error).message}); the file is cut off or altered: export the bundle again`,
      );
    }
  }
  if (!isObject(m) || m.format !== BUNDLE_FORMAT)
    throw new BundleError(`manifest.json is not a MedRank experiment manifest (its "format" must be "${BUNDLE_FORMAT}")`);
  refuseProtoKeys(m);
  const v = m.formatVersion;
  if (!isInt(v, -Infinity)) throw new BundleError('manifest.json: formatVersion must be an integer');
  if (v > BUNDLE_FORMAT_VERSION)
    throw new BundleError(
      `manifest.json: the bundle is format version ${v}, newer than this MedRank reads (${BUNDLE_FORMAT_VERSION}); ` +
        'update MedRank (git pull && npm ci) to open it, or export it again with this version',
    );
  if (v < 1) throw new BundleError(`manifest.json: formatVersion ${v} is not a version MedRank wrote; re-export the bundle`);
  if (typeof m.medrankVersion !== 'string') throw new BundleError('manifest.json: medrankVersion must be a string');
  if (!isObject(m.config)) throw new BundleError("manifest.json: config must be the run's TrainConfig, a JSON object");
  let config: TrainConfig;
  try {
    config = resolveConfig(m.config as Partial<TrainConfig>);
  } catch (e) {
    if (e instanceof ConfigError) throw new BundleError(`manifest.json: ${e.message}`);
    throw e;
  }
  const d = m.data;
  if (!isObject(d) || !isInt(d.passages) || !isInt(d.questions) || typeof d.source !== 'string')
    throw new BundleError('manifest.json: data must be {"passages": count, "questions": count, "source": text}');
  if (!isObject(m.models)) throw new BundleError('manifest.json: models must be {"retriever": ..., "generator": ...}');
  const models = { retriever: modelRef(m.models.retriever, 'retriever'), generator: modelRef(m.models.generator, 'generator') };
  const r = m.retriever;
  if (!isObject(r) || !isInt(r.queryMaxLen, 4) || !isInt(r.docMaxLen, 4) || !isInt(r.padTokenId))
    throw new BundleError('manifest.json: retriever must be {"queryMaxLen": n >= 4, "docMaxLen": n >= 4, "padTokenId": id}');
  const g = m.generator;
  if (!isObject(g) || !isInt(g.padTokenId)) throw new BundleError('manifest.json: generator must be {"padTokenId": id}');
  if (!isObject(m.files)) throw new BundleError('manifest.json: files must map each file\'s path to {"bytes": n, "sha256": hex}');
  const paths = Object.keys(m.files);
  if (paths.length > MAX_BUNDLE_FILES)
    throw new BundleError(`manifest.json lists ${paths.length} files, more than the ${MAX_BUNDLE_FILES} a bundle may hold`);
  const files: Record<string, BundleFileEntry> = {};
  for (const p of paths.sort()) {
    checkBundlePath(p, 'manifest.json: files');
    const e = m.files[p];
    if (!isObject(e) || !isInt(e.bytes) || typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(e.sha256))
      throw new BundleError(`manifest.json: files["${p}"] must be {"bytes": n, "sha256": 64 hex digits}; re-export the bundle`);
    files[p] = { bytes: e.bytes, sha256: e.sha256.toLowerCase() };
  }
  const need = ['inputs.safetensors', 'ids.json'];
  for (const ref of Object.values(models)) if ('dir' in ref) need.push(`${ref.dir}/config.json`);
  for (const p of need)
    if (!(p in files)) throw new BundleError(`manifest.json does not list ${p}; the bundle is incomplete: re-export it`);
  return {
    format: BUNDLE_FORMAT,
    formatVersion: v,
    medrankVersion: m.medrankVersion,
    config,
    data: { passages: d.passages, questions: d.questions, source: d.source },
    models,
    retriever: { queryMaxLen: r.queryMaxLen, docMaxLen: r.docMaxLen, padTokenId: r.padTokenId },
    generator: { padTokenId: g.padTokenId },
    files,
  };
}

/**
 * Every file the manifest lists is there with its size and sha256. `read` gives a file's bytes
 * by its bundle path, or null when it is missing.
 */
export async function verifyBundleFiles(
  manifest: BundleManifest,
  read: (path: string) => Promise<Uint8Array | null>,
): Promise<void> {
  for (const [p, e] of Object.entries(manifest.files)) {
    const bytes = await read(p);
    if (bytes === null) throw new BundleError(`${p} is missing from the bundle; copy the whole folder again or re-export it`);
    if (bytes.byteLength !== e.bytes)
      throw new BundleError(`${p} has ${bytes.byteLength} bytes where the manifest says ${e.bytes} (cut off?); copy it again`);
    if ((await sha256Hex(bytes)) !== e.sha256)
      throw new BundleError(`${p}: its sha256 differs from the manifest's (altered or corrupt); copy it again or re-export`);
  }
}
