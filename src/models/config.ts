// config.json of the architectures MedRank implements, parsed and checked into typed configs.
// Field names follow Hugging Face's BertConfig / DecoderConfig / Qwen2Config; defaults are theirs.
// H = heads, Hkv = key/value heads, Dh = head dim, V = vocab, D = hidden size.

import { clip, describe } from '../core/format';
import { checkDepth, JsonInputError, parseJson } from '../core/json';
import { ModelConfigError, UnsupportedArchitectureError } from './errors';

export interface BertConfig {
  kind: 'bert';
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
  hiddenAct: 'gelu' | 'gelu_new';
  hiddenDropout: number;
  attentionDropout: number;
  padTokenId: number;
  /** ColBERT projection size (colbert-ir checkpoints store it as `dim`; default 128). */
  colbertDim: number;
}

export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

/**
 * The decoder families: 'llama' (Llama, SmolLM, Mistral, BioMistral), 'qwen2' (q/k/v bias),
 * 'gpt_neox' (Pythia: fused per-head q/k/v, partial rotary, LayerNorm with biases, parallel
 * residual), 'gemma' (GeGLU, RMSNorm times (1 + w), embeddings times sqrt(hidden)).
 */
export type DecoderFamily = 'llama' | 'qwen2' | 'gpt_neox' | 'gemma';

export interface DecoderConfig {
  kind: 'decoder';
  family: DecoderFamily;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositions: number;
  normEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  tieWordEmbeddings: boolean;
  attentionBias: boolean;
  mlpBias: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  /** Mistral / Qwen2 sliding-window attention size, when on: longer inputs are refused. */
  slidingWindow: number | null;
  /** Each norm: RMSNorm (Llama), RMSNorm times (1 + w) (Gemma), or LayerNorm with a bias (GPT-NeoX). */
  norm: 'rms' | 'rms-plus-one' | 'layer';
  /** The MLP: SwiGLU (silu gate), GeGLU (gelu gate, Gemma), or two layers with a gelu between (GPT-NeoX). */
  mlp: 'swiglu' | 'geglu' | 'plain';
  /** The gelu of a GeGLU gate or a plain MLP: exact (erf) or the tanh approximation. */
  gelu: 'exact' | 'tanh';
  /** GPT-NeoX's parallel residual: x + attn(norm1 x) + mlp(norm2 x) in one step. */
  parallelResidual: boolean;
  /** The leading dims of each head that RoPE rotates (GPT-NeoX's rotary_pct of headDim; headDim elsewhere). */
  rotaryDims: number;
  /** What the embedding rows are multiplied by: sqrt(hidden_size) rounded to f32 for Gemma, else 1. */
  embedScale: number;
}

export type ModelConfig = BertConfig | DecoderConfig;

/**
 * Bounds on every size config.json may give. Each is several times the largest checkpoint of
 * these families (Llama 3.1 405B: hidden 16384, intermediate 53248, 126 layers, 128 heads of 128;
 * Llama 3 70B and Qwen2-72B: 80 layers, intermediate 28672 / 29568, vocab 128256 / 152064;
 * Mistral Large 2: 88 layers; Gemma-style vocabularies of 256k; contexts of 1M (Qwen2.5-1M) to 10M
 * (Llama 4 Scout) positions), so every real checkpoint up to ~70B and beyond passes, while a
 * hostile file cannot make the per-layer tensor lists long or the memory plan's counts inexact:
 * at these bounds a model has under 2^49 parameters (exact in a double, as are its f32 bytes) in
 * under 17k tensors, listed and summed in milliseconds, before anything is read or allocated.
 */
export const CONFIG_LIMITS = {
  /** hidden_size and ColBERT's dim (16384 at 405B). */
  hidden: 65536,
  /** intermediate_size (53248 at 405B). */
  intermediate: 262144,
  /** num_hidden_layers (126 at 405B); at most ~16 tensors each. */
  layers: 1024,
  /** num_attention_heads and num_key_value_heads (128 at 405B). */
  heads: 1024,
  /** head_dim, given or implied (64 to 256 in practice). */
  headDim: 1024,
  /** vocab_size (262144 at most in practice). */
  vocab: 2 ** 22,
  /** max_position_embeddings, sliding_window, original_max_position_embeddings (10485760 at most in practice). */
  positions: 2 ** 24,
  /** BERT's type_vocab_size (2 in practice). */
  typeVocab: 1024,
  /** Entries of an eos_token_id list (3 in Llama 3.1). */
  eosIds: 1024,
} as const;

const L = CONFIG_LIMITS;

// ---- The field rules -------------------------------------------------------------------------
// Every field MedRank reads from config.json has one rule here, checked in table order (a token
// id's rule reads the vocab_size checked before it) and before anything else is derived from the
// config; relations between checked fields (heads dividing, RoPE's factors) come next. Only the
// object's own keys are read, so inherited names (toString, constructor) are never a field.

type Value = number | boolean | string | number[] | Record<string, unknown> | null;

type Rule = {
  key: string;
  /** null counts as absent (HF resolves None to the default for these). */
  nullOk?: boolean;
} & (
  | /** An integer in [min, max] (and below the field `below` when named); dflt undefined: required. */
    { kind: 'int'; min: number; max: number; below?: string; dflt?: number | null }
    /** A finite number within the range; open ends exclude the bound. */
  | { kind: 'real'; min: number; minOpen: boolean; max: number; maxOpen: boolean; dflt: number }
  | { kind: 'bool'; dflt: boolean }
  /** A token id or a list of them (EOS); absent or null: none. */
  | { kind: 'ids'; below: string }
  /** One of the strings MedRank implements; another string is an UnsupportedArchitectureError. */
  | { kind: 'choice'; of: readonly string[]; dflt: string; hint: string }
  /** A nested object (rope_scaling), checked by its own table; absent or null: none. */
  | { kind: 'object' }
);

/** A relation between checked fields: `message` when `fails`. `field` is the one to fix. */
interface Relation {
  field: string;
  fails: (f: Fields) => boolean;
  message: (f: Fields) => string;
}

const size = (key: string, max: number, dflt?: number): Rule => ({ key, kind: 'int', min: 1, max, dflt });
/** A size that may be absent or null (HF then derives it). */
const optSize = (key: string, max: number): Rule => ({ key, kind: 'int', min: 1, max, dflt: null, nullOk: true });
const tokenId = (key: string, dflt: number | null): Rule => ({
  key,
  kind: 'int',
  min: 0,
  max: L.vocab - 1,
  below: 'vocab_size',
  dflt,
  nullOk: true,
});
const positive = (key: string, dflt: number): Rule => ({
  key,
  kind: 'real',
  min: 0,
  minOpen: true,
  max: Infinity,
  maxOpen: true,
  dflt,
});
const eps = (key: string, dflt: number): Rule => ({ key, kind: 'real', min: 0, minOpen: true, max: 1, maxOpen: true, dflt });
const probability = (key: string, dflt: number, nullOk = false): Rule => ({
  key,
  kind: 'real',
  min: 0,
  minOpen: false,
  max: 1,
  maxOpen: true,
  dflt,
  nullOk,
});
const flag = (key: string): Rule => ({ key, kind: 'bool', dflt: false, nullOk: true });

const BERT_FIELDS: readonly Rule[] = [
  size('vocab_size', L.vocab),
  size('hidden_size', L.hidden, 768),
  size('num_hidden_layers', L.layers, 12),
  size('num_attention_heads', L.heads, 12),
  size('intermediate_size', L.intermediate, 3072),
  size('max_position_embeddings', L.positions, 512),
  size('type_vocab_size', L.typeVocab, 2),
  size('dim', L.hidden, 128),
  eps('layer_norm_eps', 1e-12),
  probability('hidden_dropout_prob', 0.1),
  probability('attention_probs_dropout_prob', 0.1),
  probability('classifier_dropout', 0, true),
  tokenId('pad_token_id', 0),
  { key: 'hidden_act', kind: 'choice', of: ['gelu', 'gelu_new'], dflt: 'gelu', hint: 'MedRank implements gelu and gelu_new' },
  {
    key: 'position_embedding_type',
    kind: 'choice',
    of: ['absolute'],
    dflt: 'absolute',
    hint: 'only absolute positions are implemented',
  },
];

const BERT_RELATIONS: readonly Relation[] = [
  {
    field: 'num_attention_heads',
    fails: (f) => f.int('hidden_size') % f.int('num_attention_heads') !== 0,
    message: (f) => `hidden_size ${f.int('hidden_size')} is not divisible by num_attention_heads ${f.int('num_attention_heads')}`,
  },
];

const LLAMA_FIELDS: readonly Rule[] = [
  size('vocab_size', L.vocab),
  size('hidden_size', L.hidden),
  size('intermediate_size', L.intermediate),
  size('num_hidden_layers', L.layers),
  size('num_attention_heads', L.heads),
  optSize('num_key_value_heads', L.heads),
  optSize('head_dim', L.headDim),
  size('max_position_embeddings', L.positions, 2048),
  optSize('sliding_window', L.positions),
  eps('rms_norm_eps', 1e-6),
  positive('rope_theta', 10000),
  probability('attention_dropout', 0),
  tokenId('bos_token_id', null),
  tokenId('pad_token_id', null),
  { key: 'eos_token_id', kind: 'ids', below: 'vocab_size' },
  flag('tie_word_embeddings'), // HF's default is false for both families
  flag('attention_bias'),
  flag('mlp_bias'),
  flag('use_sliding_window'),
  { key: 'hidden_act', kind: 'choice', of: ['silu'], dflt: 'silu', hint: "MedRank's MLP is SwiGLU (silu)" },
  { key: 'rope_scaling', kind: 'object' },
];

/** A flag whose default is true (Gemma ties its head; GPT-NeoX biases attention). */
const flagOn = (key: string): Rule => ({ key, kind: 'bool', dflt: true, nullOk: true });

/** GPTNeoXConfig's fields (Pythia; BMRetriever-410M and -1B). rope_theta is the newer name of rotary_emb_base. */
const GPT_NEOX_FIELDS: readonly Rule[] = [
  size('vocab_size', L.vocab),
  size('hidden_size', L.hidden),
  size('intermediate_size', L.intermediate),
  size('num_hidden_layers', L.layers),
  size('num_attention_heads', L.heads),
  size('max_position_embeddings', L.positions, 2048),
  eps('layer_norm_eps', 1e-5),
  probability('rotary_pct', 0.25),
  { key: 'rotary_emb_base', kind: 'real', min: 0, minOpen: true, max: Infinity, maxOpen: true, dflt: 10000, nullOk: true },
  { key: 'rope_theta', kind: 'real', min: 0, minOpen: true, max: Infinity, maxOpen: true, dflt: 0, nullOk: true },
  probability('attention_dropout', 0),
  probability('hidden_dropout', 0),
  tokenId('bos_token_id', null),
  tokenId('pad_token_id', null),
  { key: 'eos_token_id', kind: 'ids', below: 'vocab_size' },
  flag('tie_word_embeddings'),
  flagOn('use_parallel_residual'),
  flagOn('attention_bias'),
  {
    key: 'hidden_act',
    kind: 'choice',
    of: ['gelu', 'gelu_new', 'gelu_pytorch_tanh'],
    dflt: 'gelu',
    hint: "MedRank's GPT-NeoX MLP implements gelu (exact) and its tanh approximation (gelu_new, gelu_pytorch_tanh)",
  },
  { key: 'rope_scaling', kind: 'object' },
];

/** GemmaConfig's fields (Gemma 1; BMRetriever-2B). HF uses hidden_activation, and the tanh gelu when it is unset. */
const GEMMA_FIELDS: readonly Rule[] = [
  size('vocab_size', L.vocab),
  size('hidden_size', L.hidden),
  size('intermediate_size', L.intermediate),
  size('num_hidden_layers', L.layers),
  size('num_attention_heads', L.heads),
  optSize('num_key_value_heads', L.heads),
  size('head_dim', L.headDim, 256),
  size('max_position_embeddings', L.positions, 8192),
  eps('rms_norm_eps', 1e-6),
  positive('rope_theta', 10000),
  probability('attention_dropout', 0),
  tokenId('bos_token_id', 2),
  tokenId('pad_token_id', 0),
  { key: 'eos_token_id', kind: 'ids', below: 'vocab_size' },
  flagOn('tie_word_embeddings'),
  flag('attention_bias'),
  {
    key: 'hidden_activation',
    kind: 'choice',
    of: ['gelu_pytorch_tanh', 'gelu_new', 'gelu'],
    dflt: 'gelu_pytorch_tanh',
    hint: "MedRank's GeGLU implements gelu_pytorch_tanh (Gemma's) and exact gelu",
    nullOk: true,
  },
  { key: 'rope_scaling', kind: 'object' },
];

/** Head dim as HF computes it: head_dim when given, else hidden_size / num_attention_heads. */
const headDimOf = (f: Fields): number => f.opt('head_dim') ?? f.int('hidden_size') / f.int('num_attention_heads');

const KV_HEADS_DIVIDE: Relation = {
  field: 'num_key_value_heads',
  fails: (f) => f.int('num_attention_heads') % (f.opt('num_key_value_heads') ?? f.int('num_attention_heads')) !== 0,
  message: (f) =>
    `num_attention_heads ${f.int('num_attention_heads')} must be a multiple of num_key_value_heads ` +
    `${f.opt('num_key_value_heads')}`,
};

const LLAMA_RELATIONS: readonly Relation[] = [
  {
    field: 'num_attention_heads',
    fails: (f) => f.opt('head_dim') === null && f.int('hidden_size') % f.int('num_attention_heads') !== 0,
    message: (f) =>
      `hidden_size ${f.int('hidden_size')} is not divisible by num_attention_heads ${f.int('num_attention_heads')} ` +
      '(and no head_dim is given)',
  },
  {
    field: 'head_dim',
    fails: (f) => headDimOf(f) % 2 !== 0 || headDimOf(f) > L.headDim,
    message: (f) =>
      `the head dim ${headDimOf(f)}${f.opt('head_dim') === null ? ' (hidden_size / num_attention_heads)' : ''} must be ` +
      `even (RoPE rotates pairs of values) and at most ${L.headDim}`,
  },
  KV_HEADS_DIVIDE,
];

const GPT_NEOX_RELATIONS: readonly Relation[] = [
  {
    field: 'num_attention_heads',
    fails: (f) => f.int('hidden_size') % f.int('num_attention_heads') !== 0,
    message: (f) => `hidden_size ${f.int('hidden_size')} is not divisible by num_attention_heads ${f.int('num_attention_heads')}`,
  },
  {
    field: 'rotary_pct',
    fails: (f) => neoxRotaryDims(f) % 2 !== 0 || f.int('hidden_size') / f.int('num_attention_heads') > L.headDim,
    message: (f) =>
      `the rotary dims int(head dim ${f.int('hidden_size') / f.int('num_attention_heads')} * rotary_pct ${f.num('rotary_pct')}) = ` +
      `${neoxRotaryDims(f)} must be even (RoPE rotates pairs of values), with the head dim at most ${L.headDim}`,
  },
];

/** GPT-NeoX's rotary dims: int(head_size * rotary_pct), as HF truncates it. */
const neoxRotaryDims = (f: Fields): number =>
  Math.trunc((f.int('hidden_size') / f.int('num_attention_heads')) * f.num('rotary_pct'));

const GEMMA_RELATIONS: readonly Relation[] = [
  {
    field: 'head_dim',
    fails: (f) => f.int('head_dim') % 2 !== 0,
    message: (f) => `the head dim ${f.int('head_dim')} must be even (RoPE rotates pairs of values)`,
  },
  KV_HEADS_DIVIDE,
];

interface RopeKind {
  rules: readonly Rule[];
  relations: readonly Relation[];
  build: (f: Fields) => RopeScaling;
}

const ROPE_KINDS = new Map<string, RopeKind>([
  ['default', { rules: [], relations: [], build: () => ({ type: 'default' }) }],
  // Dynamic NTK only changes the frequencies beyond max_position_embeddings, which MedRank's
  // contexts never reach (the model refuses longer inputs), so it equals the default here.
  ['dynamic', { rules: [positive('factor', 1)], relations: [], build: () => ({ type: 'default' }) }],
  ['linear', { rules: [positive('factor', 1)], relations: [], build: (f) => ({ type: 'linear', factor: f.num('factor') }) }],
  [
    'llama3',
    {
      rules: [
        positive('factor', 8),
        positive('low_freq_factor', 1),
        positive('high_freq_factor', 4),
        size('original_max_position_embeddings', L.positions, 8192),
      ],
      relations: [
        {
          field: 'rope_scaling.low_freq_factor',
          fails: (f) => f.num('low_freq_factor') === f.num('high_freq_factor'),
          message: (f) =>
            `rope_scaling low_freq_factor and high_freq_factor are both ${f.num('low_freq_factor')}; llama3 scaling ` +
            'divides by their difference, so they must differ (Llama 3.1 uses 1 and 4)',
        },
      ],
      build: (f) => ({
        type: 'llama3',
        factor: f.num('factor'),
        lowFreqFactor: f.num('low_freq_factor'),
        highFreqFactor: f.num('high_freq_factor'),
        originalMaxPositions: f.int('original_max_position_embeddings'),
      }),
    },
  ],
]);

const ROPE_NAMES = 'default, linear, dynamic (within max_position_embeddings) and llama3';
const ROPE_CHOICES = 'default, linear, dynamic or llama3';

/** The checked values of one table, by key. */
class Fields {
  constructor(private readonly values: ReadonlyMap<string, Value>) {}

  private get(key: string): Value {
    if (!this.values.has(key)) throw new Error(`internal: config field "${key}" has no rule`);
    return this.values.get(key)!;
  }

  int(key: string): number {
    return this.get(key) as number;
  }
  num(key: string): number {
    return this.get(key) as number;
  }
  opt(key: string): number | null {
    return this.get(key) as number | null;
  }
  bool(key: string): boolean {
    return this.get(key) as boolean;
  }
  str(key: string): string {
    return this.get(key) as string;
  }
  ids(key: string): number[] {
    return this.get(key) as number[];
  }
  obj(key: string): Record<string, unknown> | null {
    return this.get(key) as Record<string, unknown> | null;
  }
}

const own = (o: Record<string, unknown>, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads and checks every rule of `rules` from `raw`; throws at the first field that breaks its rule. */
function readFields(raw: Record<string, unknown>, rules: readonly Rule[], at: string, modelType: string): Fields {
  const got = new Map<string, Value>();
  for (const r of rules) got.set(r.key, readField(raw, r, got, at, modelType));
  return new Fields(got);
}

function readField(raw: Record<string, unknown>, r: Rule, got: Map<string, Value>, at: string, modelType: string): Value {
  const field = at + r.key;
  const name = `config.json "${field}"`;
  const fail = (expected: string, v: unknown): never => {
    throw new ModelConfigError(`${name} must be ${expected}, found ${describe(v)}`, field);
  };
  let v = own(raw, r.key);
  if (v === null && (r.nullOk || r.kind === 'ids' || r.kind === 'object')) v = undefined;
  if (v === undefined) {
    if (r.kind === 'ids') return [];
    if (r.kind === 'object') return null;
    if (r.dflt === undefined)
      throw new ModelConfigError(`config.json lacks "${field}"; it is required for model_type ${modelType}`, field);
    return r.dflt;
  }
  /** A token id below the already-checked field `below` (vocab_size). */
  const idIn = (x: unknown, below: string, what: string, label = name): number => {
    const vocab = got.get(below) as number;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= vocab)
      throw new ModelConfigError(
        `${label} must be ${what} from 0 to ${vocab - 1} (${below} is ${vocab}), found ${describe(x)}`,
        field,
      );
    return x + 0; // -0 as 0
  };
  switch (r.kind) {
    case 'int': {
      if (r.below !== undefined) return idIn(v, r.below, 'a token id');
      if (typeof v !== 'number' || !Number.isInteger(v) || v < r.min || v > r.max)
        fail(`an integer from ${r.min} to ${r.max}`, v);
      return v as number;
    }
    case 'real': {
      const ok =
        typeof v === 'number' &&
        Number.isFinite(v) &&
        (r.minOpen ? v > r.min : v >= r.min) &&
        (r.maxOpen ? v < r.max : v <= r.max);
      if (!ok) {
        const lo = `${r.minOpen ? 'above' : 'at least'} ${r.min}`;
        const hi = r.max === Infinity ? '' : ` and ${r.maxOpen ? 'below' : 'at most'} ${r.max}`;
        fail(`a finite number ${lo}${hi}`, v);
      }
      return (v as number) + 0;
    }
    case 'bool':
      if (typeof v !== 'boolean') fail('true or false', v);
      return v as boolean;
    case 'ids': {
      if (!Array.isArray(v)) return [idIn(v, r.below, 'a token id (or a list of them)')];
      if (v.length > L.eosIds) fail(`a token id or a list of at most ${L.eosIds} of them`, v);
      return v.map((x, i) => idIn(x, r.below, 'a token id', `${name} entry ${i}`));
    }
    case 'choice':
      if (typeof v !== 'string') fail(`a string (${r.of.map((s) => `"${s}"`).join(' or ')})`, v);
      if (!r.of.includes(v as string))
        throw new UnsupportedArchitectureError(
          `config.json ${field} ${describe(v)} is not supported for model_type ${modelType}; ${r.hint}`,
        );
      return v as string;
    case 'object':
      if (!isObject(v)) fail('an object or null', v);
      return v as Record<string, unknown>;
  }
}

function checkRelations(f: Fields, relations: readonly Relation[]): void {
  for (const r of relations) if (r.fails(f)) throw new ModelConfigError(`config.json: ${r.message(f)}`, r.field);
}

// ---- Parsing ---------------------------------------------------------------------------------

const DECODER_TYPES = ['llama', 'qwen2', 'mistral', 'gpt_neox', 'gemma'];
const DECODER_NAMES = 'llama, qwen2, mistral, gpt_neox (Pythia) or gemma';
/** Kin of the supported types that differ in ways MedRank does not implement, and what does. */
const NOT_YET: Record<string, string> = {
  gemma2:
    'Gemma 2 adds logit soft-capping, sliding-window layers and extra norms, which MedRank does not implement; Gemma 1 (model_type gemma) is supported',
  gemma3: 'Gemma 3 is not implemented; Gemma 1 (model_type gemma) is supported',
  gpt_neo: 'GPT-Neo is not GPT-NeoX; Pythia and other gpt_neox checkpoints are supported',
  gpt2: 'GPT-2 is not implemented; gpt_neox (Pythia) is',
};

/** config.json (its text, or the object it parsed to) as a typed config; every field checked first. */
export function parseConfig(text: string | object): ModelConfig {
  const raw = configObject(text);
  const type = own(raw, 'model_type');
  if (type === undefined || type === null)
    throw new ModelConfigError(
      'config.json has no "model_type"; MedRank reads Hugging Face configs (bert, llama, qwen2, mistral, gpt_neox, gemma)',
      'model_type',
    );
  if (typeof type !== 'string')
    throw new ModelConfigError(
      `config.json "model_type" must be a string (bert, llama, qwen2, mistral, gpt_neox, gemma), found ${describe(type)}`,
      'model_type',
    );
  if (type === 'bert') return parseBert(raw);
  if (type === 'gpt_neox') return parseGptNeox(raw);
  if (type === 'gemma') return parseGemma(raw);
  if (DECODER_TYPES.includes(type)) return parseLlama(raw, type);
  const why = Object.hasOwn(NOT_YET, type) ? `: ${NOT_YET[type]}` : '';
  throw new UnsupportedArchitectureError(
    `model_type ${describe(type)}${archs(raw)} is not supported${why}. MedRank runs bert (ColBERT) and the decoders ` +
      `${DECODER_NAMES} (generators, or dense retrievers as BMRetriever's); pick one of these`,
  );
}

/** The config as an object, depth-bounded: text through parseJson, an object through checkDepth. */
function configObject(text: string | object): Record<string, unknown> {
  let raw: unknown;
  try {
    if (typeof text === 'string') raw = parseJson(text, 'config.json');
    else {
      checkDepth(text, 'config.json');
      raw = text;
    }
  } catch (e) {
    if (e instanceof JsonInputError) throw new ModelConfigError(`${e.message}; re-download it or fix the file`);
    throw e;
  }
  if (!isObject(raw))
    throw new ModelConfigError(`config.json must be a JSON object with model_type and the model sizes, found ${describe(raw)}`);
  return raw;
}

/** The first architectures, bounded, for a message. */
function archs(raw: Record<string, unknown>): string {
  const a = own(raw, 'architectures');
  if (!Array.isArray(a) || a.length === 0) return '';
  const names = a.slice(0, 3).map((x) => (typeof x === 'string' ? clip(x, 40) : describe(x)));
  return ` (${names.join(', ')}${a.length > 3 ? `, and ${a.length - 3} more` : ''})`;
}

function parseBert(raw: Record<string, unknown>): BertConfig {
  const f = readFields(raw, BERT_FIELDS, '', 'bert');
  checkRelations(f, BERT_RELATIONS);
  return {
    kind: 'bert',
    vocabSize: f.int('vocab_size'),
    hiddenSize: f.int('hidden_size'),
    numLayers: f.int('num_hidden_layers'),
    numHeads: f.int('num_attention_heads'),
    intermediateSize: f.int('intermediate_size'),
    maxPositions: f.int('max_position_embeddings'),
    typeVocabSize: f.int('type_vocab_size'),
    layerNormEps: f.num('layer_norm_eps'),
    hiddenAct: f.str('hidden_act') as BertConfig['hiddenAct'],
    hiddenDropout: f.num('hidden_dropout_prob'),
    attentionDropout: f.num('attention_probs_dropout_prob'),
    padTokenId: f.int('pad_token_id'),
    colbertDim: f.int('dim'),
  };
}

/** rope_scaling by its type's own table; a type MedRank does not implement is refused by name. */
function parseRopeScaling(s: Record<string, unknown> | null, modelType: string): RopeScaling {
  if (s === null) return { type: 'default' };
  const key = own(s, 'rope_type') != null ? 'rope_type' : 'type';
  const type = own(s, key);
  if (type == null)
    throw new ModelConfigError(
      `config.json "rope_scaling" names no "rope_type" (nor "type"); set it to ${ROPE_CHOICES}, or remove rope_scaling`,
      'rope_scaling',
    );
  if (typeof type !== 'string')
    throw new ModelConfigError(
      `config.json "rope_scaling.${key}" must be a string (${ROPE_CHOICES}), found ${describe(type)}`,
      `rope_scaling.${key}`,
    );
  const kind = ROPE_KINDS.get(type);
  if (!kind)
    throw new UnsupportedArchitectureError(
      `rope_scaling type ${describe(type)} is not supported; MedRank implements ${ROPE_NAMES}`,
    );
  const f = readFields(s, kind.rules, 'rope_scaling.', modelType);
  checkRelations(f, kind.relations);
  return kind.build(f);
}

function parseLlama(raw: Record<string, unknown>, type: string): DecoderConfig {
  const f = readFields(raw, LLAMA_FIELDS, '', type);
  checkRelations(f, LLAMA_RELATIONS);
  const qwen = type === 'qwen2';
  return {
    ...decoderBase(f, type),
    family: qwen ? 'qwen2' : 'llama',
    numKvHeads: f.opt('num_key_value_heads') ?? f.int('num_attention_heads'),
    headDim: headDimOf(f),
    normEps: f.num('rms_norm_eps'),
    ropeTheta: f.num('rope_theta'),
    attentionBias: qwen || f.bool('attention_bias'),
    mlpBias: f.bool('mlp_bias'),
    // Qwen2 configs carry a window that is off unless use_sliding_window; Mistral's is on when set.
    // Within the window, windowed attention equals full attention, so only longer inputs differ.
    slidingWindow: (qwen ? f.bool('use_sliding_window') : true) ? f.opt('sliding_window') : null,
    norm: 'rms',
    mlp: 'swiglu',
    gelu: 'exact',
    parallelResidual: false,
    rotaryDims: headDimOf(f),
    embedScale: 1,
  };
}

/** The fields every decoder family reads the same way (each table has their rules). */
function decoderBase(
  f: Fields,
  type: string,
): Pick<
  DecoderConfig,
  | 'kind'
  | 'vocabSize'
  | 'hiddenSize'
  | 'intermediateSize'
  | 'numLayers'
  | 'numHeads'
  | 'maxPositions'
  | 'ropeScaling'
  | 'tieWordEmbeddings'
  | 'bosTokenId'
  | 'eosTokenIds'
  | 'padTokenId'
> {
  return {
    kind: 'decoder',
    vocabSize: f.int('vocab_size'),
    hiddenSize: f.int('hidden_size'),
    intermediateSize: f.int('intermediate_size'),
    numLayers: f.int('num_hidden_layers'),
    numHeads: f.int('num_attention_heads'),
    maxPositions: f.int('max_position_embeddings'),
    ropeScaling: parseRopeScaling(f.obj('rope_scaling'), type),
    tieWordEmbeddings: f.bool('tie_word_embeddings'),
    bosTokenId: f.opt('bos_token_id'),
    eosTokenIds: f.ids('eos_token_id'),
    padTokenId: f.opt('pad_token_id'),
  };
}

function parseGptNeox(raw: Record<string, unknown>): DecoderConfig {
  const type = 'gpt_neox';
  const f = readFields(raw, GPT_NEOX_FIELDS, '', type);
  checkRelations(f, GPT_NEOX_RELATIONS);
  const numHeads = f.int('num_attention_heads');
  return {
    ...decoderBase(f, type),
    family: type,
    numKvHeads: numHeads,
    headDim: f.int('hidden_size') / numHeads,
    normEps: f.num('layer_norm_eps'),
    ropeTheta: f.num('rope_theta') > 0 ? f.num('rope_theta') : f.num('rotary_emb_base'),
    attentionBias: f.bool('attention_bias'),
    mlpBias: true,
    slidingWindow: null,
    norm: 'layer',
    mlp: 'plain',
    gelu: f.str('hidden_act') === 'gelu' ? 'exact' : 'tanh',
    parallelResidual: f.bool('use_parallel_residual'),
    rotaryDims: neoxRotaryDims(f),
    embedScale: 1,
  };
}

function parseGemma(raw: Record<string, unknown>): DecoderConfig {
  const type = 'gemma';
  const f = readFields(raw, GEMMA_FIELDS, '', type);
  checkRelations(f, GEMMA_RELATIONS);
  return {
    ...decoderBase(f, type),
    family: type,
    numKvHeads: f.opt('num_key_value_heads') ?? f.int('num_attention_heads'),
    headDim: f.int('head_dim'),
    normEps: f.num('rms_norm_eps'),
    ropeTheta: f.num('rope_theta'),
    attentionBias: f.bool('attention_bias'),
    mlpBias: false,
    slidingWindow: null,
    norm: 'rms-plus-one',
    mlp: 'geglu',
    gelu: f.str('hidden_activation') === 'gelu' ? 'exact' : 'tanh',
    parallelResidual: false,
    rotaryDims: f.int('head_dim'),
    // HF multiplies by sqrt(hidden_size) cast to the activations' dtype: f32 here.
    embedScale: Math.fround(Math.sqrt(f.int('hidden_size'))),
  };
}

/** Inverse RoPE frequencies [rotaryDims/2] with the config's scaling, in f32 as HF computes them. */
export function ropeInvFreq(c: DecoderConfig): Float32Array {
  const f = Math.fround;
  const rd = c.rotaryDims;
  const half = rd / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = f(1 / f(c.ropeTheta ** f((2 * i) / rd)));
  const s = c.ropeScaling;
  if (s.type === 'linear') for (let i = 0; i < half; i++) inv[i] = f(inv[i]! / s.factor);
  if (s.type === 'llama3') {
    const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
    const highWavelen = s.originalMaxPositions / s.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const base = inv[i]!;
      const wavelen = f((2 * Math.PI) / base);
      const scaled = wavelen > lowWavelen ? f(base / s.factor) : base;
      if (wavelen < highWavelen || wavelen > lowWavelen) inv[i] = scaled;
      else {
        const smooth = f((f(s.originalMaxPositions / wavelen) - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor));
        inv[i] = f(f(f(1 - smooth) * f(scaled / s.factor)) + f(smooth * scaled));
      }
    }
  }
  return inv;
}
