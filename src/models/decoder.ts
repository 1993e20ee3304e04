// Decoders with Hugging Face semantics, one class for every family MedRank loads (config.ts's
// DecoderConfig says which): Llama, SmolLM, Mistral, Qwen2 (RMSNorm, SwiGLU, grouped-query
// attention, optional q/k/v bias), GPT-NeoX / Pythia (LayerNorm with biases, fused per-head q/k/v,
// partial rotary, gelu MLP, parallel residual) and Gemma (RMSNorm times (1 + w), GeGLU, embeddings
// times sqrt(hidden), wide heads). RoPE with theta and scaling from config; tied or untied LM head.
// S2-Attn (LongLoRA) while training when asked; full causal attention otherwise; a KV cache for
// generation. The generator and the dense retriever both run on it.
// B = batch, T = tokens, D = hidden size, H = query heads, Hkv = kv heads, Dh = head dim,
// F = intermediate size, V = vocab, P = cached positions.

import { matmulInto } from '../tensor';
import {
  add,
  embedding,
  gelu,
  geluTanh,
  layernorm,
  mul,
  rmsnorm,
  rope,
  scale,
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
import { ropeInvFreq, type DecoderConfig } from './config';
import { attachLora, ForwardContext, Linear, type LoraAdapter, type LoraConfig } from './lora';
import type { Tokenizer } from './tokenizer';
import { Weights, type WeightsOptions } from './weights';

/** A norm's parameters: RMSNorm has a weight, GPT-NeoX's LayerNorm a weight and a bias. */
interface Norm {
  weight: Tensor;
  bias: Tensor | null;
}

interface DecoderLayer {
  /** GPT-NeoX's fused projection: per head, Dh values each of q, k, v. Null where q, k, v are apart. */
  qkv: Linear | null;
  q: Linear | null;
  k: Linear | null;
  v: Linear | null;
  o: Linear;
  /** The gate of a gated MLP (SwiGLU, GeGLU); null for GPT-NeoX's plain MLP. */
  gate: Linear | null;
  /** The MLP's first projection (up_proj, or GPT-NeoX's dense_h_to_4h). */
  up: Linear;
  down: Linear;
  inputNorm: Norm;
  postNorm: Norm;
}

/**
 * Where a family keeps its tensors. `root` is what its CausalLM wraps the bare model in
 * ('model.', GPT-NeoX's 'gpt_neox.'); a checkpoint saved from the bare model (AutoModel, as
 * embedding models often are) has root '' and no head.
 */
export interface DecoderLayout {
  root: string;
  embed: string;
  finalNorm: string;
  head: string;
  layer: (i: number) => string;
  /** Module names (PEFT's target_modules) of the attention and MLP projections. */
  modules: { q: string; k: string; v: string; qkv: string; o: string; gate: string; up: string; down: string };
}

const NEOX = (c: DecoderConfig) => c.family === 'gpt_neox';

/** The tensor names of config `c` under `root` (default: the CausalLM's, 'model.' or 'gpt_neox.'). */
export function decoderLayout(c: DecoderConfig, root = NEOX(c) ? 'gpt_neox.' : 'model.'): DecoderLayout {
  if (NEOX(c))
    return {
      root,
      embed: `${root}embed_in.weight`,
      finalNorm: `${root}final_layer_norm`,
      head: 'embed_out.weight',
      layer: (i) => `${root}layers.${i}.`,
      modules: {
        q: '',
        k: '',
        v: '',
        qkv: 'attention.query_key_value',
        o: 'attention.dense',
        gate: '',
        up: 'mlp.dense_h_to_4h',
        down: 'mlp.dense_4h_to_h',
      },
    };
  return {
    root,
    embed: `${root}embed_tokens.weight`,
    finalNorm: `${root}norm`,
    head: 'lm_head.weight',
    layer: (i) => `${root}layers.${i}.`,
    modules: {
      q: 'self_attn.q_proj',
      k: 'self_attn.k_proj',
      v: 'self_attn.v_proj',
      qkv: '',
      o: 'self_attn.o_proj',
      gate: 'mlp.gate_proj',
      up: 'mlp.up_proj',
      down: 'mlp.down_proj',
    },
  };
}

/** The layout a checkpoint of config `c` uses: the CausalLM's names, or the bare model's (root ''). */
export function layoutOf(c: DecoderConfig, ckpt: Checkpoint): DecoderLayout {
  const standard = decoderLayout(c);
  if (ckpt.has(standard.embed)) return standard;
  const bare = decoderLayout(c, '');
  return ckpt.has(bare.embed) ? bare : standard;
}

/** PEFT's usual LoRA targets for the family (its attention's query and value projections). */
export function defaultLoraTargets(c: DecoderConfig): string[] {
  return NEOX(c) ? ['query_key_value'] : ['q_proj', 'v_proj'];
}

/**
 * The tensors config `c` implies, named as `layout` says. The LM head is listed when untied and
 * `head` is true (a generator needs it; a dense retriever reads hidden states only).
 */
export function decoderSpecs(c: DecoderConfig, opts: { layout?: DecoderLayout; head?: boolean } = {}): TensorSpec[] {
  const { hiddenSize: D, intermediateSize: F, numHeads: H, numKvHeads: Hkv, headDim: Dh } = c;
  const n = opts.layout ?? decoderLayout(c);
  const m = n.modules;
  const s: TensorSpec[] = [{ name: n.embed, shape: [c.vocabSize, D] }];
  const norm = (name: string) => {
    s.push({ name: `${name}.weight`, shape: [D] });
    if (c.norm === 'layer') s.push({ name: `${name}.bias`, shape: [D] });
  };
  const lin = (name: string, out: number, inF: number, bias: boolean) => {
    s.push({ name: `${name}.weight`, shape: [out, inF] });
    if (bias) s.push({ name: `${name}.bias`, shape: [out] });
  };
  for (let i = 0; i < c.numLayers; i++) {
    const l = n.layer(i);
    if (NEOX(c)) {
      lin(l + m.qkv, 3 * H * Dh, D, c.attentionBias);
      lin(l + m.o, D, H * Dh, c.attentionBias);
    } else {
      // HF Llama's attention_bias covers o_proj too; Qwen2 biases q, k and v only.
      lin(l + m.q, H * Dh, D, c.attentionBias);
      lin(l + m.k, Hkv * Dh, D, c.attentionBias);
      lin(l + m.v, Hkv * Dh, D, c.attentionBias);
      lin(l + m.o, D, H * Dh, c.attentionBias && c.family !== 'qwen2');
    }
    if (c.mlp !== 'plain') lin(l + m.gate, F, D, c.mlpBias);
    lin(l + m.up, F, D, c.mlpBias);
    lin(l + m.down, D, F, c.mlpBias);
    norm(`${l}input_layernorm`);
    norm(`${l}post_attention_layernorm`);
  }
  norm(n.finalNorm);
  if (!c.tieWordEmbeddings && opts.head !== false) s.push({ name: n.head, shape: [c.vocabSize, D] });
  return s;
}

export interface AttentionMode {
  /** S2-Attn group ratio (1 = full attention). */
  ratio: number;
  shift: S2Shift;
}

export const FULL_ATTENTION: AttentionMode = { ratio: 1, shift: 'none' };

/** The id right padding uses: the config's pad, else the tokenizer's pad, else EOS (padding is never attended). */
export function padIdOf(c: DecoderConfig, tokenizer: Tokenizer): number {
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
    c: DecoderConfig,
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

export class DecoderModel {
  readonly layers: DecoderLayer[] = [];
  private rope: { cos: Tensor; sin: Tensor; P: number } | null = null;
  /** Outgrown RoPE tables that a pending backward may still read; freed once the tape is empty. */
  private retired: Tensor[] = [];
  readonly finalNorm: Norm;

  constructor(
    readonly config: DecoderConfig,
    readonly weights: Weights,
    readonly layout: DecoderLayout = decoderLayout(config),
  ) {
    const w = (n: string): Tensor => weights.get(n);
    const opt = (n: string): Tensor | null => weights.tensors.get(n) ?? null;
    const lin = (n: string): Linear => new Linear(n, w(`${n}.weight`), opt(`${n}.bias`));
    const linIf = (l: string, m: string): Linear | null => (m ? lin(l + m) : null);
    const norm = (n: string): Norm => ({ weight: w(`${n}.weight`), bias: opt(`${n}.bias`) });
    const m = layout.modules;
    for (let i = 0; i < config.numLayers; i++) {
      const l = layout.layer(i);
      this.layers.push({
        qkv: linIf(l, m.qkv),
        q: linIf(l, m.q),
        k: linIf(l, m.k),
        v: linIf(l, m.v),
        o: lin(l + m.o),
        gate: config.mlp === 'plain' ? null : lin(l + m.gate),
        up: lin(l + m.up),
        down: lin(l + m.down),
        inputNorm: norm(`${l}input_layernorm`),
        postNorm: norm(`${l}post_attention_layernorm`),
      });
    }
    this.finalNorm = norm(layout.finalNorm);
  }

  /**
   * From a verified checkpoint, named as its layout says (layoutOf). `head: false` (a dense
   * retriever) neither needs nor uploads an untied LM head.
   */
  static load(e: Engine, c: DecoderConfig, ckpt: Checkpoint, opts: WeightsOptions & { head?: boolean } = {}): DecoderModel {
    const layout = layoutOf(c, ckpt);
    const specs = decoderSpecs(c, { layout, head: opts.head });
    ckpt.verify(specs, `the ${c.family} ${opts.head === false ? 'decoder' : 'generator'}`);
    return new DecoderModel(c, Weights.fromCheckpoint(e, ckpt, specs, opts), layout);
  }

  get engine(): Engine {
    return this.weights.engine;
  }

  /** The LM head [V, D] as row shards: lm_head.weight (embed_out.weight), or the embedding table when tied. */
  get lmHead(): Tensor[] {
    if (
      !this.config.tieWordEmbeddings &&
      !this.weights.tensors.has(this.layout.head) &&
      !this.weights.shards.has(this.layout.head)
    )
      throw new ShapeError(
        `this ${this.config.family} model was loaded without its LM head (${this.layout.head}): it cannot give logits`,
      );
    return this.weights.rows(this.config.tieWordEmbeddings ? this.layout.embed : this.layout.head);
  }

  linears(): Linear[] {
    return this.layers.flatMap((l) => [l.qkv, l.q, l.k, l.v, l.o, l.gate, l.up, l.down].filter((x): x is Linear => x !== null));
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
      const R = Math.max(2, this.config.rotaryDims); // no rotary (0 dims): the tables go unused
      const t = ropeTables(size, R, this.config.ropeTheta, R === this.config.rotaryDims ? ropeInvFreq(this.config) : undefined);
      const half = R / 2;
      this.rope = {
        cos: this.engine.tensor(t.cos, [size, half]).keep(),
        sin: this.engine.tensor(t.sin, [size, half]).keep(),
        P: size,
      };
    }
    return this.rope;
  }

  /**
   * Final hidden states [B, T, D] (after the final norm; [keep.length, D] with `keep`) of right-padded ids [B, T] at
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
    if (ids.length !== B * T) throw new ShapeError(`${c.family} forward: ${ids.length} ids do not fill [B, T] = [${B}, ${T}]`);
    if (keep?.some((r) => !Number.isInteger(r) || r < 0 || r >= B * T))
      throw new ShapeError(`${c.family} forward: kept rows must lie in [0, B * T) = [0, ${B * T})`);
    if (rows && (!cache || start === 0))
      throw new ShapeError(`${c.family} forward: a row layout needs a KV cache that already holds the prompts`);
    if (rows && (rows.positions.length !== B * T || rows.visible.length !== B * T * (start + T)))
      throw new ShapeError(
        `${c.family} forward: the row layout must give [B, T] = [${B}, ${T}] positions and [B, T, ${start + T}] visible slots, ` +
          `got ${rows.positions.length} and ${rows.visible.length}`,
      );
    // The furthest position a token takes: the cache slot, unless the rows place tokens themselves.
    let reach = start + T;
    if (rows) {
      reach = 0;
      for (const p of rows.positions) {
        if (!Number.isInteger(p) || p < 0) throw new ShapeError(`${c.family} forward: row position ${p} is not a position`);
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
    let x = shardedEmbedding(this.weights.rows(this.layout.embed), ids, { shape: [B, T] });
    if (c.embedScale !== 1) x = scale(x, c.embedScale);
    const split = this.layers[0]?.qkv ? fusedHeadRows(e, B * T, H, 3) : null;
    const rotate = (t: Tensor): Tensor => (c.rotaryDims > 0 ? rope(t, cos, sin, positions, { rotaryDims: c.rotaryDims }) : t);
    this.layers.forEach((l, i) => {
      const h = this.norm(x, l.inputNorm);
      let q: Tensor, k: Tensor, v: Tensor;
      if (l.qkv && split) {
        // [B, T, H, 3 * Dh] -> rows [B * T * H * 3, Dh]: q, k, v are rows 0, 1, 2 of each head.
        const rows = l.qkv.forward(h, ctx).reshape([B * T * H * 3, Dh]);
        [q, k, v] = split.map((at) => embedding(rows, at.ids, { hostIds: at.host }).reshape([B, T, H, Dh])) as [
          Tensor,
          Tensor,
          Tensor,
        ];
      } else {
        q = l.q!.forward(h, ctx).reshape([B, T, H, Dh]);
        k = l.k!.forward(h, ctx).reshape([B, T, Hkv, Dh]);
        v = l.v!.forward(h, ctx).reshape([B, T, Hkv, Dh]);
      }
      q = swapAxes12(rotate(q));
      k = swapAxes12(rotate(k));
      v = swapAxes12(v);
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
      const attended = l.o.forward(heads, ctx);
      if (c.parallelResidual) {
        // GPT-NeoX: attention and MLP both read the layer's input.
        x = add(add(x, attended), this.mlp(l, this.norm(x, l.postNorm), ctx));
      } else {
        x = add(x, attended);
        x = add(x, this.mlp(l, this.norm(x, l.postNorm), ctx));
      }
    });
    if (cache) cache.length = start + T;
    return this.norm(x, this.finalNorm);
  }

  /** The family's norm: RMSNorm, RMSNorm times (1 + w) (Gemma), or LayerNorm with its bias (GPT-NeoX). */
  private norm(x: Tensor, n: Norm): Tensor {
    const c = this.config;
    if (c.norm === 'layer') return layernorm(x, n.weight, n.bias!, c.normEps);
    return rmsnorm(x, n.weight, c.normEps, { weightOffset: c.norm === 'rms-plus-one' ? 1 : 0 });
  }

  /** The family's MLP on normed rows: SwiGLU, GeGLU, or up -> gelu -> down (GPT-NeoX). */
  private mlp(l: DecoderLayer, m: Tensor, ctx: ForwardContext): Tensor {
    const c = this.config;
    const act = (t: Tensor): Tensor => (c.gelu === 'tanh' ? geluTanh(t) : gelu(t));
    const up = l.up.forward(m, ctx);
    if (c.mlp === 'swiglu') return l.down.forward(swiglu(l.gate!.forward(m, ctx), up), ctx);
    if (c.mlp === 'geglu') return l.down.forward(mul(act(l.gate!.forward(m, ctx)), up), ctx);
    return l.down.forward(act(up), ctx);
  }

  /** Logits [R, V] of hidden rows [R, D]. */
  logits(hidden: Tensor): Tensor {
    return shardedLinear(hidden, this.lmHead);
  }
}

/**
 * Row indices into a fused projection viewed as [rows * H * parts, Dh] (GPT-NeoX's
 * query_key_value: per head, q then k then v): for each part, the rows of that part in
 * (row, head) order, as i32 tensors for embedding() with their host copies (its backward groups by them).
 */
function fusedHeadRows(e: Engine, rows: number, H: number, parts: number): { ids: Tensor; host: Int32Array }[] {
  return Array.from({ length: parts }, (_, p) => {
    const host = new Int32Array(rows * H);
    for (let r = 0; r < rows * H; r++) host[r] = r * parts + p;
    return { ids: e.tensor(host, [rows * H], { dtype: 'i32' }), host };
  });
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
