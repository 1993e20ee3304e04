// config.json of the architectures MedRank implements, parsed and checked into typed configs.
// Field names follow Hugging Face's BertConfig / LlamaConfig / Qwen2Config; defaults are theirs.
// H = heads, Hkv = key/value heads, Dh = head dim, V = vocab, D = hidden size.

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

export interface LlamaConfig {
  kind: 'llama';
  /** 'llama' (Llama, SmolLM, Mistral-style) or 'qwen2' (q/k/v bias). */
  family: 'llama' | 'qwen2';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositions: number;
  rmsNormEps: number;
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
}

export type ModelConfig = BertConfig | LlamaConfig;

const BERT_TYPES = ['bert'];
const LLAMA_TYPES = ['llama', 'qwen2', 'mistral'];

export function parseConfig(text: string | object): ModelConfig {
  let raw: Record<string, unknown>;
  if (typeof text === 'string') {
    try {
      raw = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new ModelConfigError(`config.json is not valid JSON (${(e as Error).message}); re-download it or fix the file`);
    }
  } else raw = text as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ModelConfigError('config.json must be a JSON object with model_type and the model sizes');
  const type = raw.model_type;
  if (typeof type !== 'string')
    throw new ModelConfigError('config.json has no "model_type"; MedRank reads Hugging Face configs (bert, llama, qwen2)');
  if (BERT_TYPES.includes(type)) return parseBert(raw);
  if (LLAMA_TYPES.includes(type)) return parseLlama(raw, type);
  throw new UnsupportedArchitectureError(
    `model_type "${type}"${archs(raw)} is not supported. MedRank trains BERT/ColBERT retrievers (model_type bert) and ` +
      'Llama-family generators (llama, qwen2, mistral, e.g. SmolLM or Qwen2); pick a checkpoint of one of these',
  );
}

function archs(raw: Record<string, unknown>): string {
  return Array.isArray(raw.architectures) ? ` (${raw.architectures.join(', ')})` : '';
}

function int(raw: Record<string, unknown>, key: string, fallback?: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new ModelConfigError(
      v === undefined
        ? `config.json lacks "${key}"; it is required for model_type ${String(raw.model_type)}`
        : `config.json "${key}" must be a non-negative integer, got ${JSON.stringify(v)}`,
    );
  return v;
}

function num(raw: Record<string, unknown>, key: string, fallback: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new ModelConfigError(`config.json "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function optInt(v: unknown): number | null {
  return typeof v === 'number' && Number.isInteger(v) ? v : null;
}

function parseBert(raw: Record<string, unknown>): BertConfig {
  const act = raw.hidden_act ?? 'gelu';
  if (act !== 'gelu' && act !== 'gelu_new')
    throw new UnsupportedArchitectureError(
      `BERT hidden_act "${String(act)}" is not supported; MedRank implements gelu and gelu_new`,
    );
  if (raw.position_embedding_type !== undefined && raw.position_embedding_type !== 'absolute')
    throw new UnsupportedArchitectureError(
      `BERT position_embedding_type "${String(raw.position_embedding_type)}" is not supported; only absolute positions are`,
    );
  const c: BertConfig = {
    kind: 'bert',
    vocabSize: int(raw, 'vocab_size'),
    hiddenSize: int(raw, 'hidden_size', 768),
    numLayers: int(raw, 'num_hidden_layers', 12),
    numHeads: int(raw, 'num_attention_heads', 12),
    intermediateSize: int(raw, 'intermediate_size', 3072),
    maxPositions: int(raw, 'max_position_embeddings', 512),
    typeVocabSize: int(raw, 'type_vocab_size', 2),
    layerNormEps: num(raw, 'layer_norm_eps', 1e-12),
    hiddenAct: act,
    hiddenDropout: num(raw, 'hidden_dropout_prob', 0.1),
    attentionDropout: num(raw, 'attention_probs_dropout_prob', 0.1),
    padTokenId: int(raw, 'pad_token_id', 0),
    colbertDim: int(raw, 'dim', 128),
  };
  if (c.hiddenSize % c.numHeads !== 0)
    throw new ModelConfigError(`hidden_size ${c.hiddenSize} is not divisible by num_attention_heads ${c.numHeads}`);
  return c;
}

function parseRopeScaling(raw: Record<string, unknown>): RopeScaling {
  const s = raw.rope_scaling as Record<string, unknown> | null | undefined;
  if (!s) return { type: 'default' };
  const type = (s.rope_type ?? s.type) as string;
  if (type === 'default') return { type: 'default' };
  // Dynamic NTK only changes the frequencies beyond max_position_embeddings, which MedRank's
  // contexts never reach (the model refuses longer inputs), so it equals the default here.
  if (type === 'dynamic') return { type: 'default' };
  if (type === 'linear') return { type: 'linear', factor: num(s, 'factor', 1) };
  if (type === 'llama3')
    return {
      type: 'llama3',
      factor: num(s, 'factor', 8),
      lowFreqFactor: num(s, 'low_freq_factor', 1),
      highFreqFactor: num(s, 'high_freq_factor', 4),
      originalMaxPositions: int(s, 'original_max_position_embeddings', 8192),
    };
  throw new UnsupportedArchitectureError(
    `rope_scaling type "${type}" is not supported; MedRank implements default, linear, dynamic (within max_position_embeddings) and llama3`,
  );
}

function parseLlama(raw: Record<string, unknown>, type: string): LlamaConfig {
  const act = raw.hidden_act ?? 'silu';
  if (act !== 'silu')
    throw new UnsupportedArchitectureError(
      `hidden_act "${String(act)}" is not supported for ${type}; MedRank's MLP is SwiGLU (silu)`,
    );
  const hiddenSize = int(raw, 'hidden_size');
  const numHeads = int(raw, 'num_attention_heads');
  const numKvHeads = int(raw, 'num_key_value_heads', numHeads);
  if (numHeads === 0 || (hiddenSize % numHeads !== 0 && raw.head_dim === undefined))
    throw new ModelConfigError(`hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  const headDim = int(raw, 'head_dim', Math.floor(hiddenSize / Math.max(1, numHeads)));
  if (numKvHeads === 0 || numHeads % numKvHeads !== 0)
    throw new ModelConfigError(`num_attention_heads ${numHeads} must be a multiple of num_key_value_heads ${numKvHeads}`);
  const eos = raw.eos_token_id;
  const qwen = type === 'qwen2';
  return {
    kind: 'llama',
    family: qwen ? 'qwen2' : 'llama',
    vocabSize: int(raw, 'vocab_size'),
    hiddenSize,
    intermediateSize: int(raw, 'intermediate_size'),
    numLayers: int(raw, 'num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    maxPositions: int(raw, 'max_position_embeddings', 2048),
    rmsNormEps: num(raw, 'rms_norm_eps', 1e-6),
    ropeTheta: num(raw, 'rope_theta', 10000),
    ropeScaling: parseRopeScaling(raw),
    tieWordEmbeddings: raw.tie_word_embeddings === true, // HF's default is false for both families
    attentionBias: qwen || raw.attention_bias === true,
    mlpBias: raw.mlp_bias === true,
    bosTokenId: optInt(raw.bos_token_id),
    eosTokenIds: Array.isArray(eos)
      ? eos.filter((x): x is number => typeof x === 'number')
      : optInt(eos) !== null
        ? [eos as number]
        : [],
    padTokenId: optInt(raw.pad_token_id),
    // Qwen2 configs carry a window that is off unless use_sliding_window; Mistral's is on when set.
    // Within the window, windowed attention equals full attention, so only longer inputs differ.
    slidingWindow: (qwen ? raw.use_sliding_window === true : true) ? optInt(raw.sliding_window) : null,
  };
}

/** Inverse RoPE frequencies [Dh/2] with the config's scaling, in f32 as HF computes them. */
export function ropeInvFreq(c: LlamaConfig): Float32Array {
  const f = Math.fround;
  const half = c.headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = f(1 / f(c.ropeTheta ** f((2 * i) / c.headDim)));
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
