// The generator API the training loop needs, on a Llama-family model and its tokenizer:
// answer NLL given a prompt (per token, per example sum and mean; differentiable or not),
// option scoring for multiple choice and yes/no/maybe, label-subset logits (JOMED), and
// generation with a KV cache (greedy or temperature sampling).
// B = batch, T = padded tokens, D = hidden size, V = vocab, N = answer tokens in the batch.

import { concat, crossEntropy, embedding, matmul, meanAll, shardedEmbedding, type Tensor } from '../tensor';
import { ShapeError } from '../tensor';
import { ModelConfigError } from './errors';
import { exportPeftAdapter, type PeftExport } from './export';
import { FULL_ATTENTION, KvCache, DecoderModel, padBatch, padIdOf, type AttentionMode } from './decoder';
import { configureTrainable, ForwardContext, seededRandom, type LoraConfig } from './lora';
import type { Tokenizer } from './tokenizer';

export interface AnswerExample {
  /** Prompt token ids (documents, question; with BOS when the tokenizer adds one). */
  prompt: number[];
  /** Answer token ids (typically ending with EOS). */
  answer: number[];
}

export interface AnswerForward {
  /** NLL of each answer token [N], in example order (differentiable when grad is on). */
  tokenNll: Tensor;
  /** Example b owns tokenNll[offsets[b] .. offsets[b+1]). */
  offsets: Int32Array;
}

export interface AnswerNll {
  sum: Float32Array;
  mean: Float32Array;
  perToken: Float32Array[];
}

export interface ForwardOptions {
  ctx?: ForwardContext;
  /** S2-Attn while training; full attention (the default) for scoring. */
  attention?: AttentionMode;
}

/**
 * Answer ids of a text with the generator's tokenizer alone (Generator.encodeAnswer, for code that
 * tokenizes without a model): no BOS, EOS appended when `eos` and the tokenizer has one.
 */
export function answerIds(tokenizer: Tokenizer, text: string, eos = true): number[] {
  const ids = tokenizer.encode(text, { addSpecialTokens: false });
  const e = tokenizer.special.eos;
  return eos && e !== null ? [...ids, e] : ids;
}

export class Generator {
  /** The LoRA config of configureTraining, for export. */
  private lora: LoraConfig | null = null;

  constructor(
    readonly model: DecoderModel,
    readonly tokenizer: Tokenizer,
  ) {}

  /**
   * The trained adapter as PEFT saves it (adapter_model.safetensors + adapter_config.json); every
   * other weight that trains (embeddings, LM head, norms) goes in full as modules_to_save.
   */
  async exportAdapter(baseModel: string): Promise<PeftExport> {
    if (!this.lora)
      throw new ModelConfigError('no LoRA adapter to export: configureTraining({ lora }) first, or export merged weights');
    const modules = new Set<string>();
    for (const n of this.model.weights.names())
      if (this.model.weights.rows(n).some((t) => t.requiresGrad))
        modules.add(
          n
            .replace(/\.(weight|bias)$/, '')
            .split('.')
            .at(-1)!,
        );
    // A tied head is the embedding table: PEFT would give embed_tokens its own copy and leave
    // lm_head on the untrained table, so the trained table is saved as lm_head as well.
    const tiedHead = this.model.config.tieWordEmbeddings && modules.has('embed_tokens');
    if (tiedHead) modules.add('lm_head');
    return exportPeftAdapter(this.model.linears(), this.lora, {
      baseModel,
      taskType: 'CAUSAL_LM',
      weights: this.model.weights,
      modulesToSave: [...modules].sort(),
      aliases: tiedHead ? { [this.model.layout.head]: this.model.layout.embed } : {},
    });
  }

  /**
   * What trains: LoRA adapters (when given), plus the embedding table (and an untied LM head) and
   * the RMSNorm weights when asked (JMLR trains both), or every weight with `full`. Returns the
   * trainable tensors for the optimizer; everything else is frozen.
   */
  configureTraining(opts: { lora?: LoraConfig; embeddings?: boolean; norms?: boolean; full?: boolean; seed?: number }): Tensor[] {
    if (opts.full && opts.lora)
      throw new ModelConfigError('full training and LoRA together: LoRA on layers that train in full adds nothing; choose one');
    const all = configureTrainable(
      this.model.weights,
      this.model.linears(),
      (n) =>
        opts.full === true ||
        (opts.embeddings === true && (n === this.model.layout.embed || n === this.model.layout.head)) ||
        (opts.norms === true && (n.endsWith('norm.weight') || n.endsWith('norm.bias'))),
      opts.lora,
      opts.seed ?? 0,
    );
    this.lora = opts.lora ?? null;
    if (all.length === 0) throw new ModelConfigError('nothing would train: give LoRA, embeddings, norms or full');
    return all;
  }

  /** Prompt ids of a text, with the tokenizer's special tokens (BOS for Llama-3 style). */
  encodePrompt(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  /** Answer ids of a text: no BOS, EOS appended when `eos` (default true) and the tokenizer has one. */
  encodeAnswer(text: string, eos = true): number[] {
    return answerIds(this.tokenizer, text, eos);
  }

  private get padId(): number {
    return padIdOf(this.model.config, this.tokenizer);
  }

  /** Prompt + answer of each example, right-padded to one T (see padBatch). */
  private pack(examples: AnswerExample[], attention: AttentionMode): { ids: Int32Array; B: number; T: number } {
    for (const [i, x] of examples.entries())
      if (x.prompt.length === 0 || x.answer.length === 0)
        throw new ShapeError(
          `generator: example ${i} needs a non-empty prompt and answer (got ${x.prompt.length} and ${x.answer.length} tokens)`,
        );
    return padBatch(
      examples.map((x) => [...x.prompt, ...x.answer]),
      attention,
      this.padId,
    );
  }

  /**
   * Per-token answer NLL [N]: the hidden state before each answer token is gathered first, so
   * the LM head runs on N rows, not B * T (a 150k vocabulary makes that matter).
   */
  answerTokens(examples: AnswerExample[], opts: ForwardOptions = {}): AnswerForward {
    const attention = opts.attention ?? FULL_ATTENTION;
    const { ids, B, T } = this.pack(examples, attention);
    const rows: number[] = [];
    const targets: number[] = [];
    const offsets = new Int32Array(B + 1);
    examples.forEach((x, b) => {
      const P = x.prompt.length;
      for (let j = 0; j < x.answer.length; j++) {
        rows.push(b * T + P - 1 + j);
        targets.push(x.answer[j]!);
      }
      offsets[b + 1] = rows.length;
    });
    // Only the rows before answer tokens leave the last layer: [N, D], in `rows` order.
    const hidden = this.model.forward(ids, B, T, { ctx: opts.ctx, attention, keep: rows });
    return { tokenNll: this.rowsNll(hidden, null, targets), offsets };
  }

  /**
   * NLL [targets.length] of targets[i] given hidden row rows[i] of `flat` [R, D] (row i when rows is null): the rows are
   * gathered first and their logits made `chunk` rows at a time, so [rows, V] stays within one
   * storage binding (a 150k vocab at 4 bytes is 600 KB a row).
   */
  private rowsNll(flat: Tensor, rows: number[] | null, targets: number[]): Tensor {
    const e = this.model.engine;
    const limit = e.gpu.info.limits.maxStorageBufferBindingSize ?? 2 ** 27;
    const chunk = Math.max(1, Math.floor(limit / (4 * this.model.config.vocabSize)));
    const parts: Tensor[] = [];
    for (let at = 0; at < targets.length; at += chunk) {
      // Rows already in target order (rows null) are used as they are when they fit one chunk.
      const h =
        rows === null && targets.length <= chunk
          ? flat
          : embedding(
              flat,
              rows ? rows.slice(at, at + chunk) : Array.from({ length: Math.min(chunk, targets.length - at) }, (_, i) => at + i),
            );
      parts.push(crossEntropy(this.model.logits(h), targets.slice(at, at + chunk), { reduction: 'none' }));
    }
    return parts.length === 1 ? parts[0]! : concat(parts, 0);
  }

  /**
   * Answer NLLs of several answers to each of several prompts, without gradient, each prompt run
   * once: its tokens fill a KV cache (one row per prompt, right-padded), then every answer of it
   * runs from that cache in one more pass, the answers of a prompt laid end to end in its row, each
   * at the positions it would have after the prompt alone and seeing only the prompt and its own
   * earlier tokens. The same numbers as answerNll on each (prompt, answer) (to float rounding), for
   * the prompt's tokens once instead of once per answer. Returns per-token NLLs per answer.
   */
  async sharedPromptNll(groups: { prompt: number[]; answers: number[][] }[]): Promise<Float32Array[][]> {
    const e = this.model.engine;
    const c = this.model.config;
    const B = groups.length;
    if (B === 0) return [];
    groups.forEach((gr, i) => {
      if (gr.prompt.length === 0 || gr.answers.length === 0 || gr.answers.some((a) => a.length === 0))
        throw new ShapeError(`generator: prompt ${i} needs tokens and at least one non-empty answer`);
    });
    // Answer o of a group enters the second pass as its tokens but the last (nothing is predicted
    // from the last), at offset off[o] of its row; its first token is predicted from the prompt's
    // last hidden state.
    const offs = groups.map((gr) => {
      const o = [0];
      for (const a of gr.answers) o.push(o.at(-1)! + a.length - 1);
      return o;
    });
    const P = Math.max(...groups.map((gr) => gr.prompt.length));
    const S = Math.max(...offs.map((o) => o.at(-1)!));
    const pad = this.padId;
    const cache = new KvCache(e, c, B, P + Math.max(S, 1));
    try {
      const nll = e.scope(() =>
        e.noGrad(() => {
          // Only each prompt's last row leaves the last layer: [B, D], predicting every answer's first token.
          const prompts = padBatch(
            groups.map((gr) => gr.prompt),
            FULL_ATTENTION,
            pad,
          ).ids;
          const last = groups.map((gr, b) => b * P + gr.prompt.length - 1);
          const first = this.model.forward(prompts, B, P, { cache, keep: last });
          const rows: number[] = [],
            targets: number[] = [];
          groups.forEach((gr, b) => gr.answers.forEach((a) => (rows.push(b), targets.push(a[0]!))));
          const parts = [this.rowsNll(first, rows, targets)];
          if (S > 0) {
            const len = P + S;
            const ids = new Int32Array(B * S).fill(pad);
            const positions = new Int32Array(B * S);
            const visible = new Float32Array(B * S * len);
            const rows2: number[] = [],
              targets2: number[] = [];
            groups.forEach((gr, b) => {
              const Pb = gr.prompt.length;
              positions.fill(Pb, b * S, (b + 1) * S); // padding: any position, seeing slot 0 only
              for (let t = offs[b]!.at(-1)!; t < S; t++) visible[(b * S + t) * len] = 1;
              gr.answers.forEach((a, o) => {
                const off = offs[b]![o]!;
                for (let j = 0; j < a.length - 1; j++) {
                  const t = off + j;
                  ids[b * S + t] = a[j]!;
                  positions[b * S + t] = Pb + j;
                  const row = (b * S + t) * len;
                  visible.fill(1, row, row + Pb); // the prompt
                  visible.fill(1, row + P + off, row + P + t + 1); // this answer up to here
                  rows2.push(b * S + t);
                  targets2.push(a[j + 1]!);
                }
              });
            });
            // S > 0: some answer has a second token, so rows2 is not empty.
            const second = this.model.forward(ids, B, S, { cache, rows: { positions, visible }, keep: rows2 });
            parts.push(this.rowsNll(second, null, targets2));
          }
          return parts.length === 1 ? parts[0]! : concat(parts, 0);
        }),
      );
      const all = await nll.read();
      nll.dispose();
      // Back to answer order: first tokens come first (group by group), then the rest in row order.
      let firstAt = 0;
      let restAt = groups.reduce((n, gr) => n + gr.answers.length, 0);
      return groups.map((gr) =>
        gr.answers.map((a) => {
          const out = new Float32Array(a.length);
          out[0] = all[firstAt++]!;
          out.set(all.subarray(restAt, restAt + a.length - 1), 1);
          restAt += a.length - 1;
          return out;
        }),
      );
    } finally {
      cache.dispose();
    }
  }

  /** Mean NLL over every answer token of the batch: the generator's training loss (scalar). */
  meanAnswerLoss(examples: AnswerExample[], opts: ForwardOptions = {}): Tensor {
    return meanAll(this.answerTokens(examples, opts).tokenNll);
  }

  /** Differentiable per-example NLL sums [B] (or means when `mean`), for losses over documents. */
  exampleNll(examples: AnswerExample[], opts: ForwardOptions & { mean?: boolean } = {}): Tensor {
    const e = this.model.engine;
    const { tokenNll, offsets } = this.answerTokens(examples, opts);
    const B = examples.length,
      N = tokenNll.size;
    const seg = new Float32Array(B * N);
    for (let b = 0; b < B; b++) {
      const w = opts.mean ? 1 / (offsets[b + 1]! - offsets[b]!) : 1;
      seg.fill(w, b * N + offsets[b]!, b * N + offsets[b + 1]!);
    }
    return matmul(e.tensor(seg, [B, N]), tokenNll.reshape([N, 1])).reshape([B]);
  }

  /** Answer NLL without gradient, read back: per-token values, sums and means per example. */
  async answerNll(examples: AnswerExample[], opts: ForwardOptions = {}): Promise<AnswerNll> {
    const e = this.model.engine;
    const t = e.scope(() => e.noGrad(() => this.answerTokens(examples, opts).tokenNll));
    const all = await t.read();
    t.dispose();
    const offsets = answerOffsets(examples);
    const perToken = examples.map((_, b) => all.slice(offsets[b]!, offsets[b + 1]!));
    const sum = Float32Array.from(perToken, (p) => p.reduce((a, v) => a + v, 0));
    return { perToken, sum, mean: sum.map((v, b) => v / perToken[b]!.length) };
  }

  /**
   * Score answer options given one prompt (multiple choice, yes/no/maybe): NLL sum and mean of
   * each option's tokens; `best` is the option with the lowest mean NLL.
   */
  async scoreOptions(prompt: number[], options: number[][]): Promise<{ sum: Float32Array; mean: Float32Array; best: number }> {
    const r = await this.answerNll(options.map((answer) => ({ prompt, answer })));
    let best = 0;
    for (let i = 1; i < r.mean.length; i++) if (r.mean[i]! < r.mean[best]!) best = i;
    return { sum: r.sum, mean: r.mean, best };
  }

  /**
   * Logits [B, L] of the next token after each prompt, restricted to `labelIds` (e.g. the first
   * tokens of " A", " B", " C", " D"): JOMED's label-subset distribution. Differentiable.
   */
  labelLogits(prompts: number[][], labelIds: number[], opts: ForwardOptions = {}): Tensor {
    const V = this.model.config.vocabSize;
    for (const id of labelIds)
      if (!Number.isInteger(id) || id < 0 || id >= V)
        throw new ShapeError(`label token id ${id} is outside the vocabulary of ${V}`);
    const attention = opts.attention ?? FULL_ATTENTION;
    const { ids, B, T } = padBatch(prompts, attention, this.padId);
    const hidden = this.model.forward(ids, B, T, { ctx: opts.ctx, attention });
    const rows = prompts.map((p, b) => b * T + p.length - 1);
    const h = embedding(hidden.reshape([B * T, this.model.config.hiddenSize]), rows); // [B, D]
    const heads = shardedEmbedding(this.model.lmHead, labelIds); // [L, D]: only the label rows of the head
    return matmul(h, heads, { transB: true });
  }

  /** Generate up to maxNewTokens after the prompt; stops at EOS. Greedy when temperature is 0. */
  async generate(
    prompt: number[],
    opts: { maxNewTokens?: number; temperature?: number; seed?: number; stopAtEos?: boolean } = {},
  ): Promise<number[]> {
    const e = this.model.engine;
    const c = this.model.config;
    const maxNew = opts.maxNewTokens ?? 32;
    const temperature = opts.temperature ?? 0;
    if (prompt.length === 0) throw new ShapeError('generate needs a prompt of at least one token (e.g. BOS)');
    if (!(temperature >= 0)) throw new ModelConfigError(`temperature must be >= 0, got ${temperature}`);
    const limit = Math.min(c.maxPositions, c.slidingWindow ?? Infinity);
    const capacity = Math.min(limit, prompt.length + maxNew);
    if (prompt.length >= limit)
      throw new ShapeError(`the prompt has ${prompt.length} tokens; this model takes at most ${limit - 1} before generating`);
    const rand = seededRandom(opts.seed ?? 0);
    const eos = new Set(
      c.eosTokenIds.length ? c.eosTokenIds : this.tokenizer.special.eos !== null ? [this.tokenizer.special.eos] : [],
    );
    const cache = new KvCache(e, c, 1, capacity);
    const out: number[] = [];
    try {
      let input = prompt;
      while (out.length < maxNew && cache.length + input.length <= capacity) {
        const step = e.scope(() =>
          e.noGrad(() => {
            const h = this.model.forward(Int32Array.from(input), 1, input.length, { cache });
            const last = embedding(h.reshape([input.length, c.hiddenSize]), [input.length - 1]);
            return this.model.logits(last);
          }),
        );
        const logits = await step.read();
        step.dispose(); // the scope hands it back alive: one [1, V] buffer per token otherwise
        const next = temperature === 0 ? argmax(logits) : sample(logits, temperature, rand);
        out.push(next);
        if ((opts.stopAtEos ?? true) && eos.has(next)) break;
        input = [next];
      }
    } finally {
      cache.dispose();
    }
    return out;
  }
}

function answerOffsets(examples: AnswerExample[]): Int32Array {
  const o = new Int32Array(examples.length + 1);
  examples.forEach((x, b) => (o[b + 1] = o[b]! + x.answer.length));
  return o;
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

function sample(logits: Float32Array, temperature: number, rand: () => number): number {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const p = Float64Array.from(logits, (v) => Math.exp((v - max) / temperature));
  let total = 0;
  for (const v of p) total += v;
  let u = rand() * total;
  for (let i = 0; i < p.length; i++) {
    u -= p[i]!;
    if (u <= 0) return i;
  }
  return p.length - 1;
}
