// BERT encoder with Hugging Face BertModel semantics: word + absolute position + token-type
// embeddings, LayerNorm, then post-LN layers (self-attention with a padding mask, GELU MLP).
// B = batch, T = tokens, D = hidden size, H = heads, Dh = head dim, F = intermediate size.
//
// Attention runs through the fused s2attn kernel with ratio 1 (full, bidirectional, keyMask);
// dropout on attention probabilities is not applied (the fused kernel never materialises them),
// hidden dropout is.

import {
  add,
  dropout,
  embedding,
  gelu,
  geluTanh,
  layernorm,
  s2attn,
  shardedEmbedding,
  swapAxes12,
  type Engine,
  type Tensor,
} from '../tensor';
import type { Checkpoint, TensorSpec } from './checkpoint';
import type { BertConfig } from './config';
import { ShapeError } from '../tensor';
import { attachLora, ForwardContext, Linear, type LoraAdapter, type LoraConfig } from './lora';
import { Weights, type WeightsOptions } from './weights';

interface BertLayer {
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  ln1: [Tensor, Tensor];
  up: Linear;
  down: Linear;
  ln2: [Tensor, Tensor];
}

/** Names and shapes of a BertModel's tensors under `prefix` ('' or 'bert.'). */
export function bertSpecs(c: BertConfig, prefix: string): TensorSpec[] {
  const D = c.hiddenSize,
    F = c.intermediateSize;
  const s: TensorSpec[] = [
    { name: 'embeddings.word_embeddings.weight', shape: [c.vocabSize, D] },
    { name: 'embeddings.position_embeddings.weight', shape: [c.maxPositions, D] },
    { name: 'embeddings.token_type_embeddings.weight', shape: [c.typeVocabSize, D] },
    { name: 'embeddings.LayerNorm.weight', shape: [D] },
    { name: 'embeddings.LayerNorm.bias', shape: [D] },
  ];
  for (let i = 0; i < c.numLayers; i++) {
    const l = `encoder.layer.${i}.`;
    for (const m of ['query', 'key', 'value'])
      s.push({ name: `${l}attention.self.${m}.weight`, shape: [D, D] }, { name: `${l}attention.self.${m}.bias`, shape: [D] });
    s.push(
      { name: `${l}attention.output.dense.weight`, shape: [D, D] },
      { name: `${l}attention.output.dense.bias`, shape: [D] },
      { name: `${l}attention.output.LayerNorm.weight`, shape: [D] },
      { name: `${l}attention.output.LayerNorm.bias`, shape: [D] },
      { name: `${l}intermediate.dense.weight`, shape: [F, D] },
      { name: `${l}intermediate.dense.bias`, shape: [F] },
      { name: `${l}output.dense.weight`, shape: [D, F] },
      { name: `${l}output.dense.bias`, shape: [D] },
      { name: `${l}output.LayerNorm.weight`, shape: [D] },
      { name: `${l}output.LayerNorm.bias`, shape: [D] },
    );
  }
  return s.map((x) => ({ ...x, name: prefix + x.name }));
}

export interface BertInput {
  /** Token ids [B, T], row-major. */
  ids: Int32Array;
  /** 1 for real tokens, 0 for padding, [B, T]. */
  mask: Float32Array;
  /** Segment ids [B, T] (default all 0). */
  tokenTypes?: Int32Array;
  B: number;
  T: number;
}

export class BertEncoder {
  readonly layers: BertLayer[] = [];

  constructor(
    readonly config: BertConfig,
    readonly weights: Weights,
    /** Prefix of the encoder's names in the checkpoint ('' or 'bert.'). */
    readonly prefix: string,
  ) {
    const w = (n: string): Tensor => weights.get(prefix + n);
    const lin = (n: string): Linear => new Linear(prefix + n, w(`${n}.weight`), w(`${n}.bias`));
    for (let i = 0; i < config.numLayers; i++) {
      const l = `encoder.layer.${i}.`;
      this.layers.push({
        q: lin(`${l}attention.self.query`),
        k: lin(`${l}attention.self.key`),
        v: lin(`${l}attention.self.value`),
        o: lin(`${l}attention.output.dense`),
        ln1: [w(`${l}attention.output.LayerNorm.weight`), w(`${l}attention.output.LayerNorm.bias`)],
        up: lin(`${l}intermediate.dense`),
        down: lin(`${l}output.dense`),
        ln2: [w(`${l}output.LayerNorm.weight`), w(`${l}output.LayerNorm.bias`)],
      });
    }
  }

  static load(
    e: Engine,
    c: BertConfig,
    ckpt: Checkpoint,
    prefix: string,
    extra: TensorSpec[] = [],
    opts: WeightsOptions = {},
  ): BertEncoder {
    const specs = [...bertSpecs(c, prefix), ...extra];
    ckpt.verify(specs, 'the BERT encoder');
    return new BertEncoder(c, Weights.fromCheckpoint(e, ckpt, specs, opts), prefix);
  }

  /** Every linear layer, for LoRA targeting. */
  linears(): Linear[] {
    return this.layers.flatMap((l) => [l.q, l.k, l.v, l.o, l.up, l.down]);
  }

  /** Free everything on the GPU: weights (the ColBERT head included) and LoRA adapters. */
  dispose(): void {
    for (const l of this.linears()) l.lora?.dispose();
    this.weights.dispose();
  }

  /** Attach fresh LoRA adapters (seeded) to the linears whose module name is in targetModules. */
  addLora(c: LoraConfig, seed: number): LoraAdapter[] {
    return attachLora(this.weights.engine, this.linears(), c, seed);
  }

  /** last_hidden_state [B, T, D]. */
  forward(inp: BertInput, ctx = new ForwardContext(false)): Tensor {
    const c = this.config;
    const { B, T } = inp;
    if (T > c.maxPositions)
      throw new ShapeError(`BERT input of ${T} tokens exceeds max_position_embeddings ${c.maxPositions}; truncate it`);
    const e = this.weights.engine;
    const w = (n: string): Tensor => this.weights.get(this.prefix + n);
    const D = c.hiddenSize,
      H = c.numHeads,
      Dh = D / H;
    const pos = Int32Array.from({ length: T }, (_, t) => t);
    let x = add(
      add(
        shardedEmbedding(this.weights.rows(this.prefix + 'embeddings.word_embeddings.weight'), inp.ids, { shape: [B, T] }),
        embedding(w('embeddings.position_embeddings.weight'), pos),
      ),
      embedding(w('embeddings.token_type_embeddings.weight'), inp.tokenTypes ?? new Int32Array(B * T), { shape: [B, T] }),
    );
    x = this.drop(layernorm(x, w('embeddings.LayerNorm.weight'), w('embeddings.LayerNorm.bias'), c.layerNormEps), ctx);
    const keyMask = e.tensor(inp.mask, [B, T]);
    const act = c.hiddenAct === 'gelu' ? gelu : geluTanh;
    const heads = (t: Tensor): Tensor => swapAxes12(t.reshape([B, T, H, Dh]));
    for (const l of this.layers) {
      const q = heads(l.q.forward(x, ctx));
      const k = heads(l.k.forward(x, ctx));
      const v = heads(l.v.forward(x, ctx));
      const a = swapAxes12(s2attn(q, k, v, { ratio: 1, causal: false, keyMask })).reshape([B, T, D]);
      x = layernorm(add(this.drop(l.o.forward(a, ctx), ctx), x), l.ln1[0], l.ln1[1], c.layerNormEps);
      const h = l.down.forward(act(l.up.forward(x, ctx)), ctx);
      x = layernorm(add(this.drop(h, ctx), x), l.ln2[0], l.ln2[1], c.layerNormEps);
    }
    return x;
  }

  private drop(x: Tensor, ctx: ForwardContext): Tensor {
    const p = this.config.hiddenDropout;
    return ctx.training && p > 0 ? dropout(x, p, ctx.nextSeed()) : x;
  }
}
