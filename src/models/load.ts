// From a model folder (hub, URL or local; see sources.ts) to a model on the GPU: read and check
// config.json (every field bounded before anything is derived from it) and the tokenizer, check
// that the weights the config implies fit the adapter before reading them, read the safetensors
// shards, verify them against the config, check the full memory plan, then upload.

import type { Engine } from '../tensor';
import { bertSpecs } from './bert';
import { clip, describe } from '../core/format';
import { JsonInputError, parseJson } from '../core/json';
import { Checkpoint, type TensorSpec } from './checkpoint';
import { ColbertRetriever, ColbertTokenizer, type ColbertOptions } from './colbert';
import { parseConfig, type BertConfig, type DecoderConfig, type ModelConfig } from './config';
import { checkDenseOptions, DenseRetriever, POOLINGS, type DenseOptions, type Pooling } from './dense';
import { ModelConfigError, UnsupportedArchitectureError } from './errors';
import { Generator } from './generator';
import { DecoderModel, decoderSpecs, layoutOf } from './decoder';
import { checkFits, planMemory, type MemoryPlan } from './memory';
import type { FrozenDtype, WeightsOptions } from './weights';
import { ModelFileMissingError, readAll, weightFileNames, type ModelFiles, type ReadAllProgress } from './sources';
import { BERT_TOKENIZER_DEFAULTS, Tokenizer, wordPieceTokenizerJson } from './tokenizer';

export interface LoadOptions {
  onProgress?: (p: ReadAllProgress) => void;
  signal?: AbortSignal;
  /** Which weights will train (for the memory plan); default: all of them (the worst case). */
  trainable?: (name: string) => boolean;
  /** GPU memory the model may use, bytes (default 4 GiB). */
  budgetBytes?: number;
  /** Split [V, D] tables above this many bytes into row shards (default: the adapter's binding limit). */
  splitAboveBytes?: number;
  /**
   * 'f16': store every matrix that `trainable` rejects as packed halves (half the bytes; see
   * weights.ts), for a generator under LoRA or a frozen retriever. With 'f16', `trainable`
   * defaults to none (only adapters train), since a packed weight cannot train. Default 'f32'.
   */
  frozenDtype?: FrozenDtype;
}

export interface ModelFolder {
  config: ModelConfig;
  configJson: Record<string, unknown>;
  tokenizer: Tokenizer;
  checkpoint: Checkpoint;
}

const DEFAULT_BUDGET = 4 * 1024 ** 3;

/**
 * A JSON file of the model folder (config.json, tokenizer_config.json, tokenizer.json) as an
 * object, depth-bounded before anything walks it (parseJson); a file that is not valid JSON, nests
 * too deep or is not an object is a ModelConfigError naming the file.
 */
async function readJson(files: ModelFiles, path: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
  const bytes = await files.read(path, { signal });
  let value: unknown;
  try {
    value = parseJson(new TextDecoder().decode(bytes), path);
  } catch (e) {
    if (e instanceof JsonInputError)
      throw new ModelConfigError(`${clip(files.label)}: ${e.message}; re-download it or fix the file`);
    throw e;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ModelConfigError(`${clip(files.label)}: ${path} must hold a JSON object, found ${describe(value)}`);
  return value as Record<string, unknown>;
}

/**
 * tokenizer.json, or for a BERT checkpoint with only vocab.txt the file it implies. Other
 * slow-only checkpoints (sentencepiece tokenizer.model, vocab.json + merges.txt) are refused with
 * the Python one-liner that writes tokenizer.json.
 */
async function tokenizerJson(
  files: ModelFiles,
  config: ModelConfig,
  tokCfg: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<object> {
  if (await files.exists('tokenizer.json')) return readJson(files, 'tokenizer.json', signal);
  if (config.kind === 'bert' && (await files.exists('vocab.txt'))) {
    const vocab = new TextDecoder().decode(await files.read('vocab.txt', { signal }));
    const lower = tokCfg.do_lower_case;
    const strip = tokCfg.strip_accents;
    return wordPieceTokenizerJson(vocab, {
      lowercase: typeof lower === 'boolean' ? lower : true,
      stripAccents: typeof strip === 'boolean' ? strip : null,
    });
  }
  throw new ModelFileMissingError(
    'tokenizer.json',
    files.label,
    `${files.label} has no tokenizer.json (the fast-tokenizer file MedRank loads through @huggingface/transformers). ` +
      'Write it in Python with AutoTokenizer.from_pretrained(NAME).save_pretrained(FOLDER) and add it to the folder',
  );
}

/** config.json of a model folder, read and checked (parseConfig), without anything else. */
export async function readModelConfig(
  files: ModelFiles,
  opts: { signal?: AbortSignal } = {},
): Promise<Pick<ModelFolder, 'config' | 'configJson'>> {
  const configJson = await readJson(files, 'config.json', opts.signal);
  return { config: parseConfig(configJson), configJson };
}

/** config.json and the tokenizer of a model folder, without its weights (enough to tokenize). */
export async function readModelTokenizer(
  files: ModelFiles,
  opts: { signal?: AbortSignal } = {},
): Promise<Omit<ModelFolder, 'checkpoint'>> {
  const { config, configJson } = await readModelConfig(files, opts);
  let tokCfg = (await files.exists('tokenizer_config.json')) ? await readJson(files, 'tokenizer_config.json', opts.signal) : {};
  const cls = Object.hasOwn(tokCfg, 'tokenizer_class') ? tokCfg.tokenizer_class : undefined;
  if (cls !== undefined && cls !== null && typeof cls !== 'string')
    throw new ModelConfigError(
      `${clip(files.label)}: tokenizer_config.json "tokenizer_class" must be a class name such as "LlamaTokenizerFast", ` +
        `found ${describe(cls)}`,
      'tokenizer_class',
    );
  if (config.kind === 'bert') tokCfg = { ...BERT_TOKENIZER_DEFAULTS, ...tokCfg };
  const tokenizer = Tokenizer.fromJson(await tokenizerJson(files, config, tokCfg, opts.signal), tokCfg);
  return { config, configJson, tokenizer };
}

/** Read config, tokenizer and weights (not yet on the GPU). */
export async function readModelFolder(files: ModelFiles, opts: LoadOptions = {}): Promise<ModelFolder> {
  return readWeights(files, await readModelTokenizer(files, opts), opts);
}

/** The weights of a folder whose config and tokenizer were read. */
async function readWeights(files: ModelFiles, head: Omit<ModelFolder, 'checkpoint'>, opts: LoadOptions): Promise<ModelFolder> {
  const weights = await weightFileNames(files, { signal: opts.signal });
  // No download may hold more than the memory plan allows the whole model.
  const bytes = await readAll(files, weights.files, {
    onProgress: opts.onProgress,
    signal: opts.signal,
    maxBytes: opts.budgetBytes ?? DEFAULT_BUDGET,
  });
  return { ...head, checkpoint: new Checkpoint(bytes) };
}

/** The folder's config as a ColBERT retriever's: a BERT encoder, or the error saying what is. */
export function retrieverConfigOf(folder: Pick<ModelFolder, 'config'>, label: string): BertConfig {
  if (folder.config.kind !== 'bert')
    throw new UnsupportedArchitectureError(
      `${clip(label)} is a ${folder.config.family} decoder, which MedRank runs as a dense retriever; ` +
        'the ColBERT retriever (and the exported cluster bundle, for now) needs a BERT checkpoint (model_type bert)',
    );
  return folder.config;
}

/** The folder's config as a generator's: a Llama-family decoder, or the error loadGenerator gives. */
export function generatorConfigOf(folder: Pick<ModelFolder, 'config'>, label: string): DecoderConfig {
  if (folder.config.kind !== 'decoder')
    throw new UnsupportedArchitectureError(
      `${clip(label)} is a BERT encoder; the generator needs a decoder (llama, qwen2, mistral, gpt_neox or gemma)`,
    );
  return folder.config;
}

/**
 * The ColBERT tokenization loadRetriever gives the retriever of this folder with these options
 * (the same defaults: docMaxLen capped at the encoder's positions), without loading any weight.
 */
export function retrieverTokenizer(
  folder: Omit<ModelFolder, 'checkpoint'>,
  label: string,
  colbert: Partial<ColbertOptions> = {},
): ColbertTokenizer {
  return new ColbertTokenizer(retrieverConfigOf(folder, label), folder.tokenizer, colbert);
}

/**
 * The tensors a config implies, names under `prefix` (BERT checkpoints may nest the encoder, e.g.
 * "bert."). The list is as long as num_hidden_layers, which parseConfig bounded (CONFIG_LIMITS).
 */
function specsOf(c: ModelConfig, ckpt: Checkpoint | null, head: boolean): TensorSpec[] {
  if (c.kind === 'bert') {
    const prefix = ckpt?.prefixOf('embeddings.word_embeddings.weight') ?? '';
    return [...bertSpecs(c, prefix), { name: 'linear.weight', shape: [c.colbertDim, c.hiddenSize] }];
  }
  return decoderSpecs(c, { layout: ckpt ? layoutOf(c, ckpt) : undefined, head });
}

/** The memory plan of a read folder; `head: false` leaves a decoder's untied LM head out (a dense retriever's). */
export function memoryPlanFor(
  folder: ModelFolder,
  trainable: (name: string) => boolean = () => true,
  frozenDtype: FrozenDtype = 'f32',
  head = true,
): MemoryPlan {
  return planMemory(specsOf(folder.config, folder.checkpoint, head), trainable, { frozenDtype });
}

/** What trains as the plan and the upload see it: opts.trainable, else all (f32) or none (f16, see LoadOptions). */
const trainableOf = (opts: LoadOptions): ((name: string) => boolean) =>
  opts.trainable ?? (opts.frozenDtype === 'f16' ? () => false : () => true);

/** How Weights stores the model for these load options. */
const weightsOptions = (opts: LoadOptions): WeightsOptions => ({
  splitAboveBytes: opts.splitAboveBytes,
  frozenDtype: opts.frozenDtype,
  trainable: trainableOf(opts),
});

function fitPlan(e: Engine, plan: MemoryPlan, opts: LoadOptions, what: string): void {
  const limits = e.gpu.info.limits;
  checkFits(
    plan,
    {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize ?? 134217728,
      maxBufferSize: limits.maxBufferSize ?? 268435456,
    },
    opts.budgetBytes ?? DEFAULT_BUDGET,
    clip(what),
  );
}

/**
 * Before any weight is read: the weights alone must fit (their bytes and largest tensor depend on
 * the config only). Which weights train, and so the gradient and AdamW bytes, is checked after
 * reading, when the checkpoint's names are known; this check never refuses what that one accepts.
 */
function fitWeights(e: Engine, config: ModelConfig, opts: LoadOptions, what: string, head = true): void {
  fitPlan(
    e,
    planMemory(specsOf(config, null, head), () => false, { frozenDtype: opts.frozenDtype }),
    opts,
    what,
  );
}

function fit(e: Engine, folder: ModelFolder, opts: LoadOptions, what: string, head = true): void {
  fitPlan(e, memoryPlanFor(folder, trainableOf(opts), opts.frozenDtype, head), opts, what);
}

export type LoadedRetriever = ColbertRetriever | DenseRetriever;

export interface RetrieverLoadOptions extends LoadOptions {
  colbert?: Partial<ColbertOptions>;
  /** A dense retriever's pooling and templates (pooling defaults to the folder's 1_Pooling/config.json, else last). */
  dense?: Partial<DenseOptions>;
  seed?: number;
}

/**
 * A retriever from a model folder: ColBERT on a BERT checkpoint, a dense retriever (BMRetriever
 * style) on a decoder checkpoint of any family MedRank loads, with or without its LM head.
 */
export async function loadRetriever(e: Engine, files: ModelFiles, opts: RetrieverLoadOptions = {}): Promise<LoadedRetriever> {
  return loadRetrieverOf(e, files, opts, 'any');
}

/** loadRetriever for callers that need ColBERT itself (its encoder and projection): a decoder folder is refused before its weights are read. */
export async function loadColbert(e: Engine, files: ModelFiles, opts: RetrieverLoadOptions = {}): Promise<ColbertRetriever> {
  return (await loadRetrieverOf(e, files, opts, 'colbert')) as ColbertRetriever;
}

async function loadRetrieverOf(
  e: Engine,
  files: ModelFiles,
  opts: RetrieverLoadOptions,
  want: 'any' | 'colbert',
): Promise<LoadedRetriever> {
  const head = await readModelTokenizer(files, opts);
  const config = want === 'colbert' ? retrieverConfigOf(head, files.label) : head.config;
  if (config.kind === 'decoder') {
    const dense = { pooling: await poolingOf(files, opts.signal), ...opts.dense };
    checkDenseOptions(config, head.tokenizer, dense); // before any weight is read
    fitWeights(e, config, opts, files.label, false);
    const folder = await readWeights(files, head, opts);
    fit(e, folder, opts, files.label, false);
    const model = DecoderModel.load(e, config, folder.checkpoint, { ...weightsOptions(opts), head: false });
    return new DenseRetriever(model, folder.tokenizer, dense);
  }
  fitWeights(e, config, opts, files.label);
  const folder = await readWeights(files, head, opts);
  fit(e, folder, opts, files.label);
  return ColbertRetriever.load(e, config, folder.checkpoint, folder.tokenizer, opts.colbert, opts.seed, weightsOptions(opts));
}

/**
 * The pooling a sentence-transformers folder declares (1_Pooling/config.json: lasttoken, mean or
 * cls), else 'last' (BMRetriever's). A declared mode MedRank lacks (max, weighted mean) is refused by name.
 */
async function poolingOf(files: ModelFiles, signal?: AbortSignal): Promise<Pooling> {
  const path = '1_Pooling/config.json';
  if (!(await files.exists(path))) return 'last';
  const c = await readJson(files, path, signal);
  const on = (k: string) => Object.hasOwn(c, k) && c[k] === true;
  if (on('pooling_mode_lasttoken')) return 'last';
  if (on('pooling_mode_mean_tokens')) return 'mean';
  if (on('pooling_mode_cls_token')) return 'first';
  const other = ['pooling_mode_max_tokens', 'pooling_mode_mean_sqrt_len_tokens', 'pooling_mode_weightedmean_tokens'].find(on);
  throw new UnsupportedArchitectureError(
    `${clip(files.label)}: ${path} asks for ${other ?? 'no pooling mode'}; MedRank's dense retriever pools by ${POOLINGS.join(', ')} ` +
      '(pooling_mode_lasttoken, _mean_tokens, _cls_token)',
  );
}

export async function loadGenerator(e: Engine, files: ModelFiles, opts: LoadOptions = {}): Promise<Generator> {
  const head = await readModelTokenizer(files, opts);
  const config = generatorConfigOf(head, files.label);
  fitWeights(e, config, opts, files.label);
  const folder = await readWeights(files, head, opts);
  fit(e, folder, opts, files.label);
  const model = DecoderModel.load(e, config, folder.checkpoint, weightsOptions(opts));
  return new Generator(model, folder.tokenizer);
}
