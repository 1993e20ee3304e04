// Dense retriever in the BMRetriever style: a decoder backbone (Llama family), the final hidden
// state of the last real token as the embedding, a task instruction prepended to each query,
// and the dot product as the score. Documents end with EOS so the last token has read them all.
// B = batch, T = tokens, D = hidden size.

import { embedding, matmul, type Tensor } from '../tensor';
import { FULL_ATTENTION, padBatch, padIdOf, type AttentionMode, type LlamaModel } from './llama';
import { ForwardContext } from './lora';
import type { Tokenizer } from './tokenizer';

export const BMRETRIEVER_INSTRUCTION = 'Represent this biomedical question for retrieving relevant passages: ';

export class DenseRetriever {
  constructor(
    readonly model: LlamaModel,
    readonly tokenizer: Tokenizer,
    readonly instruction = BMRETRIEVER_INSTRUCTION,
    readonly maxLen = 256,
  ) {}

  private ids(text: string): number[] {
    const ids = this.tokenizer.encode(text).slice(0, this.maxLen - 1);
    const eos = this.tokenizer.special.eos;
    return eos !== null && ids.at(-1) !== eos ? [...ids, eos] : ids;
  }

  /** Last-token embeddings [B, D] of texts (right-padded batch; full causal attention by default). */
  embed(texts: string[], ctx = new ForwardContext(false), attention: AttentionMode = FULL_ATTENTION): Tensor {
    const seqs = texts.map((t) => this.ids(t));
    const { ids, B, T } = padBatch(seqs, attention, padIdOf(this.model.config, this.tokenizer));
    const h = this.model.forward(ids, B, T, { ctx, attention });
    return embedding(
      h.reshape([B * T, this.model.config.hiddenSize]),
      seqs.map((s, b) => b * T + s.length - 1),
    );
  }

  embedQueries(questions: string[], ctx?: ForwardContext): Tensor {
    return this.embed(
      questions.map((q) => this.instruction + q),
      ctx,
    );
  }

  embedDocs(passages: string[], ctx?: ForwardContext): Tensor {
    return this.embed(passages, ctx);
  }

  /** Dot-product scores [Bq, N]. */
  score(queries: Tensor, docs: Tensor): Tensor {
    return matmul(queries, docs, { transB: true });
  }
}
