// Dense retriever in the BMRetriever style: a decoder backbone (any family decoder.ts loads),
// one pooled hidden state per text as its vector (the last token's by default: BMRetriever
// appends EOS so that token has read the whole text; or the mean, or the first token's), a task
// instruction around each query and a passage template around each document, and the dot
// product as the score. It implements the Retriever interface with one vector per query and per
// document, so MaxSim over the index is exactly q . d.
// B = batch, T = tokens, D = hidden size (= the vector size).

import { matmul, maxsim, ShapeError, type Engine, type Tensor } from '../tensor';
import type { DecoderConfig } from './config';
import { defaultLoraTargets, FULL_ATTENTION, padBatch, padIdOf, type DecoderModel } from './decoder';
import { ModelConfigError } from './errors';
import { configureTrainable, ForwardContext, type Linear, type LoraConfig } from './lora';
import type { EncodedDocs, Retriever, RetrieverTraining } from './retriever';
import type { Tokenizer } from './tokenizer';
import type { Weights } from './weights';

export type Pooling = 'last' | 'mean' | 'first';
export const POOLINGS: readonly Pooling[] = ['last', 'mean', 'first'];

/**
 * Query instructions per task, in BMRetriever's format (the task sentence, a newline, then
 * "Query: " and the text). The instruction is part of what the model was tuned on: use the one
 * its card gives for the task when it has one.
 */
export const DENSE_TASKS = {
  medqa: 'Given a medical question, retrieve passages that help answer it',
  claim: 'Given a scientific claim, retrieve documents that support or refute the claim',
  search: 'Given a query, retrieve relevant passages that answer the query',
} as const;
export type DenseTask = keyof typeof DENSE_TASKS;

/** The query template of a task: `{text}` is replaced by the question. */
export const taskTemplate = (task: DenseTask): string => `${DENSE_TASKS[task]}\nQuery: {text}`;

export interface DenseOptions {
  pooling: Pooling;
  /** The text a query is encoded as: `{text}` is replaced by the question. */
  queryTemplate: string;
  /** The text a document is encoded as: `{text}` is replaced by the passage. */
  docTemplate: string;
  /** Tokens per text, EOS included (longer texts are cut before it). */
  maxLen: number;
  /** Append EOS to every text (BMRetriever; its last-token pooling reads that position). */
  appendEos: boolean;
}

export const DENSE_DEFAULTS: DenseOptions = {
  pooling: 'last',
  queryTemplate: taskTemplate('medqa'),
  docTemplate: 'Represent this passage\npassage: {text}',
  maxLen: 256,
  appendEos: true,
};

const fill = (template: string, text: string): string => template.split('{text}').join(text);

/** Options checked against the backbone before any weight moves; a bad one is a ModelConfigError naming it. */
export function checkDenseOptions(c: DecoderConfig, tokenizer: Tokenizer, opts: Partial<DenseOptions> = {}): DenseOptions {
  const o: DenseOptions = { ...DENSE_DEFAULTS, maxLen: Math.min(DENSE_DEFAULTS.maxLen, c.maxPositions), ...opts };
  if (!POOLINGS.includes(o.pooling))
    throw new ModelConfigError(`dense retriever pooling must be one of ${POOLINGS.join(', ')}, got ${String(o.pooling)}`);
  if (!Number.isInteger(o.maxLen) || o.maxLen < 2 || o.maxLen > c.maxPositions)
    throw new ModelConfigError(
      `dense retriever maxLen must be an integer from 2 to the backbone's ${c.maxPositions} positions, got ${o.maxLen}`,
    );
  for (const [name, t] of [
    ['queryTemplate', o.queryTemplate],
    ['docTemplate', o.docTemplate],
  ] as const)
    if (typeof t !== 'string' || !t.includes('{text}'))
      throw new ModelConfigError(`dense retriever ${name} must contain {text}, where the text goes`);
  if (o.appendEos && tokenizer.special.eos === null && c.eosTokenIds.length === 0)
    throw new ModelConfigError(
      'this tokenizer has no EOS token, which the dense retriever appends for last-token pooling; set appendEos to false, or use mean pooling',
    );
  return o;
}

/**
 * The dense retriever's tokenization without any weights: templates, truncation, EOS. The
 * retriever delegates to it; the demo's pretraining inputs (scripts/make-demo-dense.ts) are
 * tokenized with it where no model is loaded.
 */
export class DenseTokenizer {
  readonly opts: DenseOptions;
  readonly eos: number | null;
  /** Right padding's id (never attended: causal attention). */
  readonly padTokenId: number;

  constructor(
    c: DecoderConfig,
    readonly tokenizer: Tokenizer,
    opts: Partial<DenseOptions> = {},
  ) {
    this.opts = checkDenseOptions(c, tokenizer, opts);
    this.eos = tokenizer.special.eos ?? c.eosTokenIds[0] ?? null;
    this.padTokenId = padIdOf(c, tokenizer);
  }

  /** Token ids of a text as BMRetriever feeds it: the tokenizer's specials (BOS), cut to maxLen - 1, then EOS. */
  ids(text: string): number[] {
    const o = this.opts;
    const ids = this.tokenizer.encode(text).slice(0, o.appendEos ? o.maxLen - 1 : o.maxLen);
    if (ids.length === 0 && !o.appendEos) throw new ShapeError('the dense retriever got a text with no tokens');
    return o.appendEos ? [...ids, this.eos!] : ids;
  }

  /** A question as the query template encodes it. */
  queryIds(question: string): number[] {
    return this.ids(fill(this.opts.queryTemplate, question));
  }

  /** A passage's text (docText) as the passage template encodes it. */
  docIds(text: string): number[] {
    return this.ids(fill(this.opts.docTemplate, text));
  }
}

export class DenseRetriever implements Retriever {
  readonly kind = 'dense' as const;
  readonly opts: DenseOptions;
  readonly loraTargets: readonly string[];
  /** The tokenization, shared with the code that tokenizes without weights. */
  readonly tokens: DenseTokenizer;

  constructor(
    readonly model: DecoderModel,
    readonly tokenizer: Tokenizer,
    opts: Partial<DenseOptions> = {},
  ) {
    this.tokens = new DenseTokenizer(model.config, tokenizer, opts);
    this.opts = this.tokens.opts;
    this.loraTargets = defaultLoraTargets(model.config);
  }

  get engine(): Engine {
    return this.model.engine;
  }

  get weights(): Weights {
    return this.model.weights;
  }

  get dim(): number {
    return this.model.config.hiddenSize;
  }

  get hiddenSize(): number {
    return this.model.config.hiddenSize;
  }

  get docSignature(): string {
    const o = this.opts;
    return `medrank-dense-v1:${o.pooling}:${o.maxLen}:${o.appendEos}:${JSON.stringify(o.docTemplate)}`;
  }

  linears(): Linear[] {
    return this.model.linears();
  }

  headTensors(): Tensor[] {
    return [];
  }

  /** Token ids of a text as BMRetriever feeds it (DenseTokenizer.ids). */
  ids(text: string): number[] {
    return this.tokens.ids(text);
  }

  /** Pooled hidden states [B, D] of texts (right-padded batch, full causal attention). */
  embed(texts: string[], ctx = new ForwardContext(false)): Tensor {
    return this.embedIds(
      texts.map((t) => this.ids(t)),
      ctx,
    );
  }

  /** Pooled hidden states [B, D] of token sequences as given (no template, no EOS added). */
  embedIds(seqs: number[][], ctx = new ForwardContext(false)): Tensor {
    const { ids, B, T } = padBatch(seqs, FULL_ATTENTION, this.tokens.padTokenId);
    const D = this.model.config.hiddenSize;
    const pooling = this.opts.pooling;
    if (pooling !== 'mean') {
      // Only the pooled rows go through the last layer's output projection and MLP.
      const keep = seqs.map((s, b) => b * T + (pooling === 'last' ? s.length - 1 : 0));
      return this.model.forward(ids, B, T, { ctx, keep });
    }
    const h = this.model.forward(ids, B, T, { ctx }).reshape([B * T, D]);
    // The mean over each text's own tokens: an averaging matrix [B, B * T] times the states.
    const avg = new Float32Array(B * B * T);
    seqs.forEach((s, b) => avg.fill(1 / s.length, b * B * T + b * T, b * B * T + b * T + s.length));
    return matmul(this.engine.tensor(avg, [B, B * T]), h);
  }

  /** Query vectors [B, 1, D]: the pooled state of each question in the query template. */
  encodeQueries(questions: string[], ctx?: ForwardContext): Tensor {
    return this.embedIds(
      questions.map((q) => this.tokens.queryIds(q)),
      ctx,
    ).reshape([questions.length, 1, this.dim]);
  }

  docVectorCounts(texts: string[]): Int32Array {
    return new Int32Array(texts.length).fill(1);
  }

  /** One pooled state per document (the head is the identity: these are the vectors). */
  encodeDocStates(texts: string[], ctx?: ForwardContext): EncodedDocs {
    return {
      vectors: this.embedIds(
        texts.map((t) => this.tokens.docIds(t)),
        ctx,
      ),
      offsets: Int32Array.from({ length: texts.length + 1 }, (_, i) => i),
    };
  }

  project(hidden: Tensor): Tensor {
    return hidden;
  }

  encodeDocs(texts: string[], ctx?: ForwardContext): EncodedDocs {
    return this.encodeDocStates(texts, ctx);
  }

  /** Dot-product scores [Bq, N] (MaxSim of one vector against one). */
  score(queries: Tensor, docs: EncodedDocs): Tensor {
    return maxsim(queries, null, docs.vectors, docs.offsets);
  }

  /** 'lora': adapters on the family's query/value projections (or lora.targetModules); 'full': every weight. */
  configureTraining(mode: RetrieverTraining, lora?: LoraConfig, seed = 0): Tensor[] {
    if (mode === 'projection')
      throw new ModelConfigError(
        "a dense retriever has no projection head to train alone: set retriever training to 'lora' or 'full'",
      );
    if (mode === 'lora' && !lora)
      throw new ModelConfigError("retriever training mode 'lora' needs a LoRA config (r, alpha, dropout, targetModules)");
    return configureTrainable(this.weights, this.linears(), () => mode === 'full', mode === 'lora' ? lora : undefined, seed);
  }

  freeze(): void {
    this.weights.setTrainable(() => false);
  }

  dispose(): void {
    this.model.dispose();
  }
}
