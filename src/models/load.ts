// From a model folder (hub, URL or local; see sources.ts) to a model on the GPU: read
// config.json, the tokenizer and the safetensors shards, verify the weights against the config,
// check the memory plan against the adapter, then upload.

import type { Engine } from '../tensor';
import { bertSpecs } from './bert';
import { Checkpoint } from './checkpoint';
import { ColbertRetriever, ColbertTokenizer, type ColbertOptions } from './colbert';
import { parseConfig, type BertConfig, type LlamaConfig, type ModelConfig } from './config';
import { UnsupportedArchitectureError } from './errors';
import { Generator } from './generator';
import { LlamaModel, llamaSpecs } from './llama';
import { checkFits, planMemory, type MemoryPlan } from './memory';
import {
  ModelFileMissingError,
  ModelFormatError,
  readAll,
  weightFileNames,
  type ModelFiles,
  type ReadAllProgress,
} from './sources';
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
}

export interface ModelFolder {
  config: ModelConfig;
  configJson: Record<string, unknown>;
  tokenizer: Tokenizer;
  checkpoint: Checkpoint;
}

const DEFAULT_BUDGET = 4 * 1024 ** 3;

async function readJson(files: ModelFiles, path: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
  const bytes = await files.read(path, { signal });
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch (e) {
    throw new ModelFormatError(path, `${files.label}: ${path} is not valid JSON (${(e as Error).message}); re-download it`);
  }
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

/** config.json and the tokenizer of a model folder, without its weights (enough to tokenize). */
export async function readModelTokenizer(
  files: ModelFiles,
  opts: { signal?: AbortSignal } = {},
): Promise<Omit<ModelFolder, 'checkpoint'>> {
  const configJson = await readJson(files, 'config.json', opts.signal);
  const config = parseConfig(configJson);
  let tokCfg = (await files.exists('tokenizer_config.json')) ? await readJson(files, 'tokenizer_config.json', opts.signal) : {};
  if (config.kind === 'bert') tokCfg = { ...BERT_TOKENIZER_DEFAULTS, ...tokCfg };
  const tokenizer = Tokenizer.fromJson(await tokenizerJson(files, config, tokCfg, opts.signal), tokCfg);
  return { config, configJson, tokenizer };
}

/** Read config, tokenizer and weights (not yet on the GPU). */
export async function readModelFolder(files: ModelFiles, opts: LoadOptions = {}): Promise<ModelFolder> {
  const head = await readModelTokenizer(files, opts);
  const weights = await weightFileNames(files, { signal: opts.signal });
  const bytes = await readAll(files, weights.files, { onProgress: opts.onProgress, signal: opts.signal });
  return { ...head, checkpoint: new Checkpoint(bytes) };
}

/** The folder's config as a retriever's: a BERT encoder, or the error loadRetriever gives. */
export function retrieverConfigOf(folder: Pick<ModelFolder, 'config'>, label: string): BertConfig {
  if (folder.config.kind !== 'bert')
    throw new UnsupportedArchitectureError(
      `${label} is a ${folder.config.family} decoder; the ColBERT retriever needs a BERT checkpoint (model_type bert)`,
    );
  return folder.config;
}

/** The folder's config as a generator's: a Llama-family decoder, or the error loadGenerator gives. */
export function generatorConfigOf(folder: Pick<ModelFolder, 'config'>, label: string): LlamaConfig {
  if (folder.config.kind !== 'llama')
    throw new UnsupportedArchitectureError(
      `${label} is a BERT encoder; the generator needs a Llama-family decoder (llama, qwen2, mistral)`,
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

export function memoryPlanFor(folder: ModelFolder, trainable: (name: string) => boolean = () => true): MemoryPlan {
  const c = folder.config;
  const specs =
    c.kind === 'bert'
      ? [
          ...bertSpecs(c, folder.checkpoint.prefixOf('embeddings.word_embeddings.weight') ?? ''),
          { name: 'linear.weight', shape: [c.colbertDim, c.hiddenSize] },
        ]
      : llamaSpecs(c);
  return planMemory(specs, trainable);
}

function fit(e: Engine, folder: ModelFolder, opts: LoadOptions, what: string): void {
  const limits = e.gpu.info.limits;
  checkFits(
    memoryPlanFor(folder, opts.trainable),
    {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize ?? 134217728,
      maxBufferSize: limits.maxBufferSize ?? 268435456,
    },
    opts.budgetBytes ?? DEFAULT_BUDGET,
    what,
  );
}

export async function loadRetriever(
  e: Engine,
  files: ModelFiles,
  opts: LoadOptions & { colbert?: Partial<ColbertOptions>; seed?: number } = {},
): Promise<ColbertRetriever> {
  const folder = await readModelFolder(files, opts);
  const config = retrieverConfigOf(folder, files.label);
  fit(e, folder, opts, files.label);
  return ColbertRetriever.load(e, config, folder.checkpoint, folder.tokenizer, opts.colbert, opts.seed, {
    splitAboveBytes: opts.splitAboveBytes,
  });
}

export async function loadGenerator(e: Engine, files: ModelFiles, opts: LoadOptions = {}): Promise<Generator> {
  const folder = await readModelFolder(files, opts);
  const config = generatorConfigOf(folder, files.label);
  fit(e, folder, opts, files.label);
  const model = LlamaModel.load(e, config, folder.checkpoint, { splitAboveBytes: opts.splitAboveBytes });
  return new Generator(model, folder.tokenizer);
}
