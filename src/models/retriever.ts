// The retriever the index, the training step, evaluation and the worker take: ColBERT (late
// interaction, a vector per kept token; colbert.ts) and the dense retriever (one vector per text,
// BMRetriever; dense.ts) both implement it. Queries are vectors [B, Lq, dim] and documents runs of
// packed rows (EncodedDocs); the score is MaxSim, which with one vector on each side (Lq = 1, one
// row per document) is the dot product. So one index layout, one search kernel and one gradient
// path serve both kinds.
// B = batch, Lq = query vectors, dim = vector size, D = encoder hidden size.

import type { Engine, Tensor } from '../tensor';
import type { ForwardContext, Linear, LoraConfig } from './lora';
import type { Tokenizer } from './tokenizer';
import type { Weights } from './weights';

export interface EncodedDocs {
  /** Packed vectors [total, dim] (or encoder states [total, D]). */
  vectors: Tensor;
  /** Doc n owns rows offsets[n] .. offsets[n+1]. */
  offsets: Int32Array;
}

export type RetrieverKind = 'colbert' | 'dense';

/** What trains: ColBERT's head only ('projection'), LoRA adapters (plus the head, if any), or every weight. */
export type RetrieverTraining = 'projection' | 'lora' | 'full';

export interface Retriever {
  readonly kind: RetrieverKind;
  readonly engine: Engine;
  readonly tokenizer: Tokenizer;
  /** Every weight: the encoder's and the head's. */
  readonly weights: Weights;
  /** Size of each vector the index holds. */
  readonly dim: number;
  /** Size of the encoder states the head reads (the index keeps them to re-project). */
  readonly hiddenSize: number;
  /** What the document vectors depend on besides the weights (lengths, templates, pooling), for the index's hash. */
  readonly docSignature: string;
  /** PEFT module names LoRA targets when a run asks for retriever LoRA. */
  readonly loraTargets: readonly string[];
  /** The encoder's linear layers (their LoRA adapters are hashed with the weights). */
  linears(): Linear[];
  /** The head's weights, outside the encoder's hash: ColBERT's projection; none for a dense retriever. */
  headTensors(): Tensor[];
  /** Query vectors [B, Lq, dim]. */
  encodeQueries(texts: string[], ctx?: ForwardContext): Tensor;
  /** How many vectors each document keeps, from its tokens alone (the index allocates by it). */
  docVectorCounts(texts: string[]): Int32Array;
  /** Encoder states [total, D] of the rows each document keeps, before the head. */
  encodeDocStates(texts: string[], ctx?: ForwardContext): EncodedDocs;
  /** The head on encoder states [..., D] -> [..., dim] (the identity for a dense retriever). */
  project(hidden: Tensor): Tensor;
  /** Document vectors: the head on encodeDocStates. */
  encodeDocs(texts: string[], ctx?: ForwardContext): EncodedDocs;
  /** MaxSim scores [Bq, N] of queries against documents. */
  score(queries: Tensor, docs: EncodedDocs): Tensor;
  /** Make `mode`'s weights trainable (and attach LoRA); returns them for the optimizer. */
  configureTraining(mode: RetrieverTraining, lora?: LoraConfig, seed?: number): Tensor[];
  /** Nothing trains (a frozen-retriever run). */
  freeze(): void;
  /** Free its weights and adapters on the GPU. */
  dispose(): void;
}
