// ColBERT retriever (Khattab & Zaharia 2020; ColBERTv2): a BERT encoder, a linear projection to
// `dim` without bias, and an L2 norm per token. Queries are [CLS] [unused0] text [SEP] padded with
// [MASK] to queryMaxLen (query augmentation; every position is a query vector); documents are
// [CLS] [unused1] text [SEP] up to docMaxLen with padding and punctuation dropped from the vectors.
// B = batch, T = tokens, D = hidden size, dim = ColBERT dim, Lq = query length.

import { embedding, l2normalize, linear, maxsim, type Engine, type Tensor } from '../tensor';
import { BertEncoder, type BertInput } from './bert';
import type { Checkpoint } from './checkpoint';
import type { BertConfig } from './config';
import { ModelConfigError } from './errors';
import { configureTrainable, ForwardContext, seededRandom, type Linear, type LoraConfig } from './lora';
import type { EncodedDocs, Retriever, RetrieverTraining } from './retriever';
import type { Tokenizer } from './tokenizer';
import type { WeightsOptions } from './weights';

export interface ColbertOptions {
  queryMaxLen: number;
  docMaxLen: number;
  /** ColBERTv2's attend_to_mask_tokens (default false: [MASK] padding is not attended to). */
  attendToMaskTokens: boolean;
  /** Drop punctuation tokens from document vectors (ColBERT's mask_punctuation, default true). */
  maskPunctuation: boolean;
}

export const COLBERT_DEFAULTS: ColbertOptions = {
  queryMaxLen: 32,
  docMaxLen: 180,
  attendToMaskTokens: false,
  maskPunctuation: true,
};

const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

export type { EncodedDocs } from './retriever';

/**
 * ColBERT's tokenization without any weights: the markers, [MASK] query augmentation, document
 * truncation and the punctuation mask. ColbertRetriever delegates to it; the experiment bundle
 * (src/training/bundle.ts) tokenizes with it where no model is loaded.
 */
export class ColbertTokenizer {
  readonly opts: ColbertOptions;
  /** Documents are right-padded with the encoder's pad token. */
  readonly padTokenId: number;
  private readonly qMarker: number;
  private readonly dMarker: number;
  private readonly skip: Set<number>;

  /**
   * The tokens and lengths ColBERT needs, checked before any weight is uploaded: the query and
   * document markers ([unused0], [unused1]), [MASK] for query padding, lengths within positions.
   */
  constructor(
    c: BertConfig,
    readonly tokenizer: Tokenizer,
    opts: Partial<ColbertOptions> = {},
  ) {
    // Short-context encoders (e.g. tiny test models) get doc length capped at their positions.
    const docMaxLen = Math.min(COLBERT_DEFAULTS.docMaxLen, c.maxPositions);
    const full: ColbertOptions = { ...COLBERT_DEFAULTS, docMaxLen, ...opts };
    const need = (tok: string, role: string): number => {
      const id = tokenizer.tokenId(tok);
      if (id === null)
        throw new ModelConfigError(
          `the tokenizer has no ${tok} token, which ColBERT uses as ${role}. Cased BERT vocabularies (bert-base-cased, ` +
            'cased BioBERT) lack [unused0]; use an uncased checkpoint such as bert-base-uncased or colbert-ir/colbertv2.0',
        );
      return id;
    };
    const qMarker = need('[unused0]', 'its query marker [Q]');
    const dMarker = need('[unused1]', 'its document marker [D]');
    need('[MASK]', 'query padding (query augmentation)');
    const skip = new Set<number>();
    for (const ch of PUNCTUATION) {
      const id = tokenizer.tokenId(ch);
      if (id !== null) skip.add(id);
    }
    if (full.queryMaxLen < 4 || full.docMaxLen < 4)
      throw new ModelConfigError('ColBERT query and doc max lengths must be at least 4');
    if (Math.max(full.queryMaxLen, full.docMaxLen) > c.maxPositions)
      throw new ModelConfigError(
        `ColBERT max lengths (${full.queryMaxLen}, ${full.docMaxLen}) exceed the encoder's ${c.maxPositions} positions`,
      );
    this.opts = full;
    this.padTokenId = c.padTokenId;
    this.qMarker = qMarker;
    this.dMarker = dMarker;
    this.skip = skip;
  }

  /** Query token ids [B, queryMaxLen] with [MASK] augmentation, and the attention mask. */
  tokenizeQueries(texts: string[]): BertInput {
    const L = this.opts.queryMaxLen;
    const mask = this.tokenizer.special.mask!;
    const B = texts.length;
    const ids = new Int32Array(B * L).fill(mask);
    const att = new Float32Array(B * L).fill(this.opts.attendToMaskTokens ? 1 : 0);
    texts.forEach((text, b) => {
      const seq = this.marked(text, this.qMarker, L);
      ids.set(seq, b * L);
      att.fill(1, b * L, b * L + seq.length);
    });
    return { ids, mask: att, B, T: L };
  }

  /** Doc token ids [B, T] (T = longest doc, at most docMaxLen), attention mask, and which vectors to keep. */
  tokenizeDocs(texts: string[]): BertInput & { keep: Uint8Array } {
    const seqs = texts.map((t) => this.marked(t, this.dMarker, this.opts.docMaxLen));
    const B = texts.length;
    const T = Math.max(1, ...seqs.map((s) => s.length));
    const ids = new Int32Array(B * T).fill(this.padTokenId);
    const att = new Float32Array(B * T);
    const keep = new Uint8Array(B * T);
    seqs.forEach((s, b) => {
      ids.set(s, b * T);
      att.fill(1, b * T, b * T + s.length);
      s.forEach((id, t) => (keep[b * T + t] = this.opts.maskPunctuation && this.skip.has(id) ? 0 : 1));
    });
    return { ids, mask: att, keep, B, T };
  }

  /** [CLS] marker tokens... [SEP], truncated to maxLen. */
  private marked(text: string, marker: number, maxLen: number): number[] {
    const body = this.tokenizer.encode(text, { addSpecialTokens: false }).slice(0, maxLen - 3);
    return [this.tokenizer.special.cls!, marker, ...body, this.tokenizer.special.sep!];
  }
}

export class ColbertRetriever implements Retriever {
  readonly kind = 'colbert' as const;
  readonly loraTargets = ['query', 'value'];
  readonly opts: ColbertOptions;
  /** The tokenization, shared with the code that tokenizes without weights. */
  readonly tokens: ColbertTokenizer;

  constructor(
    readonly encoder: BertEncoder,
    /** The projection, [dim, D], stored as `linear.weight` in colbert-ir checkpoints. */
    readonly projection: Tensor,
    readonly tokenizer: Tokenizer,
    opts: Partial<ColbertOptions> = {},
  ) {
    this.tokens = new ColbertTokenizer(encoder.config, tokenizer, opts);
    this.opts = this.tokens.opts;
  }

  /** ColBERT's tokens and lengths checked against the config (ColbertTokenizer), before any weight is uploaded. */
  static check(c: BertConfig, tokenizer: Tokenizer, opts: Partial<ColbertOptions> = {}): ColbertTokenizer {
    return new ColbertTokenizer(c, tokenizer, opts);
  }

  /**
   * From a checkpoint: colbert-ir style (`linear.weight` present) or a plain BERT checkpoint,
   * whose projection is initialised from `seed` as nn.Linear does (U(-1/sqrt D, 1/sqrt D)).
   */
  static load(
    e: Engine,
    c: BertConfig,
    ckpt: Checkpoint,
    tokenizer: Tokenizer,
    opts: Partial<ColbertOptions> = {},
    seed = 0,
    weights: WeightsOptions = {},
  ): ColbertRetriever {
    ColbertRetriever.check(c, tokenizer, opts); // before uploading anything
    const prefix = ckpt.prefixOf('embeddings.word_embeddings.weight') ?? '';
    const hasHead = ckpt.has('linear.weight');
    const head = { name: 'linear.weight', shape: [c.colbertDim, c.hiddenSize] };
    const encoder = BertEncoder.load(e, c, ckpt, prefix, hasHead ? [head] : [], weights);
    if (!hasHead) {
      const rand = seededRandom(seed);
      const bound = 1 / Math.sqrt(c.hiddenSize);
      const init = Float32Array.from({ length: c.colbertDim * c.hiddenSize }, () => (2 * rand() - 1) * bound);
      encoder.weights.set('linear.weight', e.tensor(init, head.shape).keep());
    }
    return new ColbertRetriever(encoder, encoder.weights.get('linear.weight'), tokenizer, opts);
  }

  /**
   * What trains (the three choices): 'projection' (the ColBERT head only), 'lora' (the head
   * plus LoRA adapters on the encoder's targetModules), or 'full' (every weight). Returns the
   * trainable tensors for the optimizer; everything else is frozen.
   */
  configureTraining(mode: RetrieverTraining, lora?: LoraConfig, seed = 0): Tensor[] {
    if (mode === 'lora' && !lora)
      throw new ModelConfigError("retriever training mode 'lora' needs a LoRA config (r, alpha, dropout, targetModules)");
    return configureTrainable(
      this.encoder.weights,
      this.encoder.linears(),
      (n) => mode === 'full' || n === 'linear.weight',
      mode === 'lora' ? lora : undefined,
      seed,
    );
  }

  freeze(): void {
    this.encoder.weights.setTrainable(() => false);
  }

  dispose(): void {
    this.encoder.dispose();
  }

  get engine(): Engine {
    return this.projection.engine;
  }

  get weights() {
    return this.encoder.weights;
  }

  get dim(): number {
    return this.projection.shape[0]!;
  }

  get hiddenSize(): number {
    return this.encoder.config.hiddenSize;
  }

  get docSignature(): string {
    return `medrank-colbert-v1:${this.opts.docMaxLen}:${this.opts.maskPunctuation}`;
  }

  linears(): Linear[] {
    return this.encoder.linears();
  }

  headTensors(): Tensor[] {
    return [this.projection];
  }

  /** Query token ids [B, queryMaxLen] with [MASK] augmentation, and the attention mask. */
  tokenizeQueries(texts: string[]): BertInput {
    return this.tokens.tokenizeQueries(texts);
  }

  /** Doc token ids [B, T] (T = longest doc, at most docMaxLen), attention mask, and which vectors to keep. */
  tokenizeDocs(texts: string[]): BertInput & { keep: Uint8Array } {
    return this.tokens.tokenizeDocs(texts);
  }

  /** Per-token ColBERT vectors: L2-normalised projection of the encoder output. [..., dim] */
  project(hidden: Tensor): Tensor {
    return l2normalize(linear(hidden, this.projection));
  }

  /** Query vectors [B, queryMaxLen, dim]. */
  encodeQueries(texts: string[], ctx = new ForwardContext(false)): Tensor {
    return this.project(this.encoder.forward(this.tokenizeQueries(texts), ctx));
  }

  /** Kept tokens per document (padding and punctuation dropped). */
  docVectorCounts(texts: string[]): Int32Array {
    const inp = this.tokenizeDocs(texts);
    const counts = new Int32Array(inp.B);
    for (let b = 0; b < inp.B; b++) for (let t = 0; t < inp.T; t++) counts[b]! += inp.keep[b * inp.T + t]!;
    return counts;
  }

  /** Encoder states [total, D] of each document's kept tokens, and their offsets. */
  encodeDocStates(texts: string[], ctx = new ForwardContext(false)): EncodedDocs {
    const inp = this.tokenizeDocs(texts);
    const hidden = this.encoder.forward(inp, ctx);
    const rows: number[] = [];
    const offsets = new Int32Array(inp.B + 1);
    for (let b = 0; b < inp.B; b++) {
      for (let t = 0; t < inp.T; t++) if (inp.keep[b * inp.T + t]) rows.push(b * inp.T + t);
      offsets[b + 1] = rows.length;
    }
    // Gather the kept rows first: projecting padding would be wasted work.
    return { vectors: embedding(hidden.reshape([inp.B * inp.T, hidden.shape[2]!]), rows), offsets };
  }

  /** Packed document vectors (padding and punctuation dropped) and their offsets. */
  encodeDocs(texts: string[], ctx = new ForwardContext(false)): EncodedDocs {
    const states = this.encodeDocStates(texts, ctx);
    return { vectors: this.project(states.vectors), offsets: states.offsets };
  }

  /** MaxSim scores [Bq, N] of queries against encoded documents. */
  score(queries: Tensor, docs: EncodedDocs): Tensor {
    return maxsim(queries, null, docs.vectors, docs.offsets);
  }
}
