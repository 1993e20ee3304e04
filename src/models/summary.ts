// What the notebook shows of a loaded model: its architecture, sizes and what training it with
// AdamW would hold in memory.

import type { ColbertRetriever } from './colbert';
import type { DenseRetriever } from './dense';
import type { Generator } from './generator';
import type { Weights } from './weights';

export type ModelRole = 'retriever' | 'generator';

export interface ModelSummary {
  role: ModelRole;
  label: string;
  /** e.g. 'bert + ColBERT head', 'llama', 'qwen2'. */
  architecture: string;
  tokenizer: string;
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  params: number;
  /** 'f16': the frozen matrices are stored as packed halves (loaded with half-size frozen weights). */
  weightsDtype: 'f32' | 'f16';
  /** Bytes of the weights as stored; then what training every weight with AdamW would add (f32 gradients and two moments). */
  memory: { paramBytes: number; gradBytes: number; optimizerBytes: number };
  loadMs: number;
}

/** Parameters in a set of weights. */
export function paramCount(weights: Weights): number {
  let params = 0;
  for (const n of weights.names()) params += weights.shape(n).reduce((a, b) => a * b, 1);
  return params;
}

function summaryOf(
  role: ModelRole,
  label: string,
  arch: {
    architecture: string;
    tokenizer: string;
    layers: number;
    hidden: number;
    heads: number;
    kvHeads: number;
    vocab: number;
  },
  weights: Weights,
  loadMs: number,
): ModelSummary {
  const params = paramCount(weights);
  return {
    role,
    label,
    ...arch,
    params,
    weightsDtype: weights.hasPacked ? 'f16' : 'f32',
    memory: { paramBytes: weights.bytes, gradBytes: params * 4, optimizerBytes: params * 8 },
    loadMs,
  };
}

export function retrieverSummary(r: ColbertRetriever | DenseRetriever, label: string, loadMs: number): ModelSummary {
  if (r.kind === 'colbert') {
    const c = r.encoder.config;
    return summaryOf(
      'retriever',
      label,
      {
        architecture: 'bert + ColBERT head',
        tokenizer: r.tokenizer.className,
        layers: c.numLayers,
        hidden: c.hiddenSize,
        heads: c.numHeads,
        kvHeads: c.numHeads,
        vocab: c.vocabSize,
      },
      r.weights,
      loadMs,
    );
  }
  const c = r.model.config;
  return summaryOf(
    'retriever',
    label,
    {
      architecture: `${c.family} dense (${r.opts.pooling} pooling)`,
      tokenizer: r.tokenizer.className,
      layers: c.numLayers,
      hidden: c.hiddenSize,
      heads: c.numHeads,
      kvHeads: c.numKvHeads,
      vocab: c.vocabSize,
    },
    r.weights,
    loadMs,
  );
}

export function generatorSummary(g: Generator, label: string, loadMs: number): ModelSummary {
  const c = g.model.config;
  return summaryOf(
    'generator',
    label,
    {
      architecture: c.family,
      tokenizer: g.tokenizer.className,
      layers: c.numLayers,
      hidden: c.hiddenSize,
      heads: c.numHeads,
      kvHeads: c.numKvHeads,
      vocab: c.vocabSize,
    },
    g.model.weights,
    loadMs,
  );
}
