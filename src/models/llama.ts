// Llama-family decoder (Llama, SmolLM, Mistral-style, Qwen2) with Hugging Face semantics:
// RMSNorm, RoPE (theta and scaling from config), grouped-query attention, SwiGLU MLP, optional
// q/k/v bias (Qwen2), tied or untied LM head. S2-Attn (LongLoRA) while training when asked; full
// causal attention otherwise; a KV cache for generation.
// B = batch, T = tokens, D = hidden size, H = query heads, Hkv = kv heads, Dh = head dim,
// F = intermediate size, V = vocab, P = cached positions.

import { matmulInto } from '../tensor';
import {
  add,
  embedding,
  rmsnorm,
  rope,
  ropeTables,
  s2attn,
  shardedEmbedding,
  shardedLinear,
  softmax,
  swapAxes12,
  swiglu,
  ShapeError,
  type Engine,
  type S2Shift,
  type Tensor,
} from '../tensor';
import type { Checkpoint, TensorSpec } from './checkpoint';
import { ropeInvFreq, type LlamaConfig } from './config';
import { attachLora, ForwardContext, Linear, type LoraAdapter, type LoraConfig } from './lora';
import type { Tokenizer } from './tokenizer';
import { Weights, type WeightsOptions } from './weights';

interface LlamaLayer {
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  gate: Linear;
  up: Linear;
  down: Linear;
  inputNorm: Tensor;
  postNorm: Tensor;
}

export function llamaSpecs(c: LlamaConfig): TensorSpec[] {
  const { hiddenSize: D, intermediateSize: F, numHeads: H, numKvHeads: Hkv, headDim: Dh } = c;
  const s: TensorSpec[] = [{ name: 'model.embed_tokens.weight', shape: [c.vocabSize, D] }];
  for (let i = 0; i < c.numLayers; i++) {
    const l = `model.layers.${i}.`;
    s.push(
      { name: `${l}self_attn.q_proj.weight`, shape: [H * Dh, D] },
      { name: `${l}self_attn.k_proj.weight`, shape: [Hkv * Dh, D] },
      { name: `${l}self_attn.v_proj.weight`, shape: [Hkv * Dh, D] },
      { name: `${l}self_attn.o_proj.weight`, shape: [D, H * Dh] },
      { name: `${l}mlp.gate_proj.weight`, shape: [F, D] },
      { name: `${l}mlp.up_proj.weight`, shape: [F, D] },
      { name: `${l}mlp.down_proj.weight`, shape: [D, F] },
      { name: `${l}input_layernorm.weight`, shape: [D] },
      { name: `${l}post_attention_layernorm.weight`, shape: [D] },
    );
    if (c.attentionBias)
      s.push(
        { name: `${l}self_attn.q_proj.bias`, shape: [H * Dh] },
        { name: `${l}self_attn.k_proj.bias`, shape: [Hkv * Dh] },
        { name: `${l}self_attn.v_proj.bias`, shape: [Hkv * Dh] },
      );
    // HF Llama's attention_bias covers o_proj too; Qwen2 biases q, k and v only.
    if (c.attentionBias && c.family === 'llama') s.push({ name: `${l}self_attn.o_proj.bias`, shape: [D] });
    if (c.mlpBias)
      s.push(
        { name: `${l}mlp.gate_proj.bias`, shape: [F] },
        { name: `${l}mlp.up_proj.bias`, shape: [F] },
        { name: `${l}mlp.down_proj.bias`, shape: [D] },
      );
  }
  s.push({ name: 'model.norm.weight', shape: [D] });
  if (!c.tieWordEmbeddings) s.push({ name: 'lm_head.weight', shape: [c.vocabSize, D] });
  return s;
}

export interface AttentionMode {
  /** S2-Attn group ratio (1 = full attention). */
  ratio: number;
  shift: S2Shift;
}

export const FULL_ATTENTION: AttentionMode = { ratio: 1, shift: 'none' };

/** The id right padding uses: the config's pad, else the tokenizer's pad, else EOS (padding is never attended). */
export function padIdOf(c: LlamaConfig, tokenizer: Tokenizer): number {
  return c.padTokenId ?? tokenizer.special.pad ?? tokenizer.special.eos ?? 0;
}

/**
 * Right-pad token sequences into ids [B, T] with T the longest length rounded up to what the
 * attention mode's groups need (S2-Attn tiles T by its groups, and by half-groups when shifted).
 * Right padding keeps real tokens' positions 0..len-1 and, under causal attention, unaffected.
 */
export function padBatch(seqs: number[][], attention: AttentionMode, pad: number): { ids: Int32Array; B: number; T: number } {
  if (seqs.length === 0) throw new ShapeError('an empty batch: give at least one sequence');
  seqs.forEach((s, i) => {
    if (s.length === 0) throw new ShapeError(`sequence ${i} of the batch is empty; every sequence needs at least one token`);
  });
  let T = Math.max(...seqs.map((s) => s.length));
  if (attention.ratio < 1) {
    const groups = Math.round(1 / attention.ratio);
    const need = attention.shift === 'none' ? groups : 2 * groups;
    T = Math.ceil(T / need) * need;
  }
  const B = seqs.length;
  const ids = new Int32Array(B * T).fill(pad);
  seqs.forEach((s, b) => ids.set(s, b * T));
  return { ids, B, T };
}

/** Per-layer keys (after RoPE) and values [B, Hkv, P, Dh] for incremental decoding. */
export class KvCache {
  readonly k: Tensor[] = [];
  readonly v: Tensor[] = [];
  length = 0;

  constructor(
    e: Engine,
    c: LlamaConfig,
    readonly B: number,
    readonly capacity: number,
  ) {
    for (let i = 0; i < c.numLayers; i++) {
      this.k.push(e.zeros([B, c.numKvHeads, capacity, c.headDim]).keep());
      this.v.push(e.zeros([B, c.numKvHeads, capacity, c.headDim]).keep());
    }
  }

  dispose(): void {
    for (const t of [...this.k, ...this.v]) t.dispose();
  }
}

/**
 * Where the tokens of a forward over a filled cache sit, row by row: RoPE positions [B, T]
 * (flat), and visible [B, T, len] (flat, 1 = may attend) over the cache's slots 0 .. len-1,
 * len = cache length + T. Several answers to one prompt share its cached prefix this way, each
 * seeing the prompt and its own earlier tokens, at the positions it would have on its own.
 */
export interface RowLayout {
  positions: Int32Array;
  visible: Float32Array;
}

export class LlamaModel {
  readonly layers: LlamaLayer[] = [];
  private rope: { cos: Tensor; sin: Tensor; P: number } | null = null;
  /** Outgrown RoPE tables that a pending backward may still read; freed once the tape is empty. */
  private retired: Tensor[] = [];

  constructor(
    readonly config: LlamaConfig,
    readonly weights: Weights,
  ) {
    const w = (n: string): Tensor => weights.get(n);
    const opt = (n: string): Tensor | null => weights.tensors.get(n) ?? null;
    const lin = (n: string): Linear => new Linear(n, w(`${n}.weight`), opt(`${n}.bias`));
    for (let i = 0; i < config.numLayers; i++) {
      const l = `model.layers.${i}.`;
      this.layers.push({
        q: lin(`${l}self_attn.q_proj`),
        k: lin(`${l}self_attn.k_proj`),
        v: lin(`${l}self_attn.v_proj`),
        o: lin(`${l}self_attn.o_proj`),
        gate: lin(`${l}mlp.gate_proj`),
        up: lin(`${l}mlp.up_proj`),
        down: lin(`${l}mlp.down_proj`),
        inputNorm: w(`${l}input_layernorm.weight`),
        postNorm: w(`${l}post_attention_layernorm.weight`),
      });
    }
  }

  static load(e: Engine, c: LlamaConfig, ckpt: Checkpoint, opts: WeightsOptions = {}): LlamaModel {
    const specs = llamaSpecs(c);
    ckpt.verify(specs, `the ${c.family} generator`);
    return new LlamaModel(c, Weights.fromCheckpoint(e, ckpt, specs, opts));
  }

  get engine(): Engine {
    return this.weights.engine;
  }

  /** The LM head [V, D] as row shards: lm_head.weight, or the embedding table when tied. */
  get lmHead(): Tensor[] {
    return this.weights.rows(this.config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight');
  }

  linears(): Linear[] {
    return this.layers.flatMap((l) => [l.q, l.k, l.v, l.o, l.gate, l.up, l.down]);
  }

  /** Free everything on the GPU: weights, LoRA adapters, RoPE tables. */
  dispose(): void {
    for (const l of this.linears()) l.lora?.dispose();
    for (const t of this.retired.splice(0)) t.dispose();
    this.rope?.cos.dispose();
    this.rope?.sin.dispose();
    this.rope = null;
    this.weights.dispose();
  }

  addLora(c: LoraConfig, seed: number): LoraAdapter[] {
    return attachLora(this.engine, this.linears(), c, seed);
  }

  private ropeFor(P: number): { cos: Tensor; sin: Tensor } {
    const e = this.engine;
    if (e.tapeLength === 0) for (const t of this.retired.splice(0)) t.dispose();
    if (!this.rope || this.rope.P < P) {
      if (this.rope) this.retired.push(this.rope.cos, this.rope.sin);
      const size = Math.min(this.config.maxPositions, Math.max(64, 2 ** Math.ceil(Math.log2(P))));
      const t = ropeTables(size, this.config.headDim, this.config.ropeTheta, ropeInvFreq(this.config));
      const half = this.config.headDim / 2;
      this.rope = {
        cos: this.engine.tensor(t.cos, [size, half]).keep(),
        sin: this.engine.tensor(t.sin, [size, half]).keep(),
        P: size,
      };
    }
    return this.rope;
  }

  /**
   * Final hidden states [B, T, D] (after the last RMSNorm; [keep.length, D] with `keep`) of right-padded ids [B, T] at
   * positions start .. start+T-1. With a cache, keys and values are stored at those positions and
   * attention covers the cached prefix (inference only). `rows` (with a cache that already holds
   * a prefix) gives each row its own RoPE positions and which cache slots each query may see:
   * how several continuations of one prompt run side by side from its cache (see RowLayout).
   */
  forward(
    ids: Int32Array,
    B: number,
    T: number,
    opts: {
      ctx?: ForwardContext;
      attention?: AttentionMode;
      cache?: KvCache;
      rows?: RowLayout;
      /** Only these rows (b * T + t) of the output are wanted: the result is [keep.length, D], in this order. */
      keep?: readonly number[];
    } = {},
  ): Tensor {
    const c = this.config;
    const e = this.engine;
    const ctx = opts.ctx ?? new ForwardContext(false);
    const attention = opts.attention ?? FULL_ATTENTION;
    const cache = opts.cache;
    const rows = opts.rows;
    const keep = opts.keep;
    const start = cache?.length ?? 0;
    if (ids.length !== B * T) throw new ShapeError(`llama forward: ${ids.length} ids do not fill [B, T] = [${B}, ${T}]`);
    if (keep?.some((r) => !Number.isInteger(r) || r < 0 || r >= B * T))
      throw new ShapeError(`llama forward: kept rows must lie in [0, B * T) = [0, ${B * T})`);
    if (rows && (!cache || start === 0))
      throw new ShapeError('llama forward: a row layout needs a KV cache that already holds the prompts');
    if (rows && (rows.positions.length !== B * T || rows.visible.length !== B * T * (start + T)))
      throw new ShapeError(
        `llama forward: the row layout must give [B, T] = [${B}, ${T}] positions and [B, T, ${start + T}] visible slots, ` +
          `got ${rows.positions.length} and ${rows.visible.length}`,
      );
    // The furthest position a token takes: the cache slot, unless the rows place tokens themselves.
    let reach = start + T;
    if (rows) {
      reach = 0;
      for (const p of rows.positions) {
        if (!Number.isInteger(p) || p < 0) throw new ShapeError(`llama forward: row position ${p} is not a position`);
        reach = Math.max(reach, p + 1);
      }
    }
    if (reach > c.maxPositions)
      throw new ShapeError(`${reach} tokens exceed max_position_embeddings ${c.maxPositions}; shorten the prompt or documents`);
    if (c.slidingWindow !== null && reach > c.slidingWindow)
      throw new ShapeError(
        `${reach} tokens exceed this model's sliding attention window of ${c.slidingWindow}, which MedRank does not implement; shorten the input`,
      );
    if (cache && (cache.B !== B || start + T > cache.capacity))
      throw new ShapeError(
        `KV cache of batch ${cache.B} and capacity ${cache.capacity} cannot take [${B}, ${T}] at position ${start}`,
      );
    const { numHeads: H, numKvHeads: Hkv, headDim: Dh, hiddenSize: D } = c;
    const { cos, sin } = this.ropeFor(reach);
    const positions = rows
      ? e.tensor(rows.positions, [B, T], { dtype: 'i32' })
      : e.tensor(
          Int32Array.from({ length: T }, (_, t) => start + t),
          [T],
          { dtype: 'i32' },
        );
    // Which cached slots each query row sees, the same in every layer: built once per forward.
    const visible = cache && start > 0 ? attentionMask(e, H / Hkv, B, T, start + T, rows?.visible) : null;
    let x = shardedEmbedding(this.weights.rows('model.embed_tokens.weight'), ids, { shape: [B, T] });
    this.layers.forEach((l, i) => {
      const h = rmsnorm(x, l.inputNorm, c.rmsNormEps);
      const q = swapAxes12(rope(l.q.forward(h, ctx).reshape([B, T, H, Dh]), cos, sin, positions));
      const k = swapAxes12(rope(l.k.forward(h, ctx).reshape([B, T, Hkv, Dh]), cos, sin, positions));
      const v = swapAxes12(l.v.forward(h, ctx).reshape([B, T, Hkv, Dh]));
      let a: Tensor;
      if (cache) {
        writeCache(e, cache.k[i]!, k, start);
        writeCache(e, cache.v[i]!, v, start);
        a =
          start === 0
            ? s2attn(q, k, v, { ratio: 1, causal: true })
            : cachedAttention(q, cache.k[i]!, cache.v[i]!, visible, start + T);
      } else a = s2attn(q, k, v, { ratio: attention.ratio, shift: attention.shift, causal: true });
      let heads = swapAxes12(a).reshape([B, T, H * Dh]);
      // The last layer's output projection and MLP act on each row alone: only the kept rows go on.
      if (keep && i === this.layers.length - 1) {
        heads = embedding(heads.reshape([B * T, H * Dh]), keep);
        x = embedding(x.reshape([B * T, D]), keep);
      }
      x = add(x, l.o.forward(heads, ctx));
      const m = rmsnorm(x, l.postNorm, c.rmsNormEps);
      x = add(x, l.down.forward(swiglu(l.gate.forward(m, ctx), l.up.forward(m, ctx)), ctx));
    });
    if (cache) cache.length = start + T;
    return rmsnorm(x, this.weights.get('model.norm.weight'), c.rmsNormEps);
  }

  /** Logits [R, V] of hidden rows [R, D]. */
  logits(hidden: Tensor): Tensor {
    return shardedLinear(hidden, this.lmHead);
  }
}

/** cache[:, :, start:start+T] = x, for x [B, Hkv, T, Dh] (one buffer copy per (b, head)). */
function writeCache(e: Engine, cache: Tensor, x: Tensor, start: number): void {
  const [B, Hkv, T, Dh] = x.shape as [number, number, number, number];
  const P = cache.shape[2]!;
  for (let bh = 0; bh < B * Hkv; bh++) e.gpu.copy(x.buffer, bh * T * Dh * 4, cache.buffer, (bh * P + start) * Dh * 4, T * Dh * 4);
}

/**
 * The 0/1 mask [B or 1, 1, g * T, len] of cachedAttention's score rows (head j of a kv group,
 * token t: row j * T + t): `visible` [B, T, len] when given (a row layout), else causal over the
 * cache (token t sees slots <= len - T + t), shared by the batch.
 */
function attentionMask(e: Engine, g: number, B: number, T: number, len: number, visible?: Float32Array): Tensor | null {
  if (T === 1 && !visible) return null; // one new token sees every cached slot: no mask (generation's hot path)
  const rowsB = visible ? B : 1;
  const rows = g * T;
  const mask = new Float32Array(rowsB * rows * len);
  for (let b = 0; b < rowsB; b++)
    for (let t = 0; t < T; t++) {
      const src = visible ? visible.subarray((b * T + t) * len, (b * T + t + 1) * len) : null;
      for (let j = 0; j < g; j++) {
        const at = (b * rows + j * T + t) * len;
        if (src) mask.set(src, at);
        else mask.fill(1, at, at + len - T + t + 1);
      }
    }
  return e.tensor(mask, [rowsB, 1, rows, len]);
}

/**
 * Attention of new queries q [B, H, T, Dh] over the first `len` cached positions, masked by
 * `mask` from attentionMask (none: every slot). Inference only. Query heads sharing a kv
 * head form one matmul.
 */
function cachedAttention(q: Tensor, kc: Tensor, vc: Tensor, mask: Tensor | null, len: number): Tensor {
  const e = q.engine;
  const [B, H, T, Dh] = q.shape as [number, number, number, number];
  const Hkv = kc.shape[1]!,
    P = kc.shape[2]!;
  const g = H / Hkv;
  const rows = g * T; // query rows per kv head: [g, T] heads of one group are contiguous
  const scores = e.empty([B * Hkv, rows, len]);
  matmulInto(
    e,
    q.buffer,
    kc.buffer,
    scores.buffer,
    { M: rows, N: len, K: Dh, batch: B * Hkv, strideA: rows * Dh, strideB: P * Dh },
    {
      transA: false,
      transB: true,
      accumulate: false,
      alpha: 1 / Math.sqrt(Dh),
    },
  );
  const probs = mask ? softmax(scores.reshape([B, Hkv, rows, len]), mask) : softmax(scores);
  const out = e.empty([B, H, T, Dh]);
  matmulInto(
    e,
    probs.buffer,
    vc.buffer,
    out.buffer,
    { M: rows, N: Dh, K: len, batch: B * Hkv, strideA: rows * len, strideB: P * Dh },
    {
      transA: false,
      transB: false,
      accumulate: false,
      alpha: 1,
    },
  );
  return out;
}
