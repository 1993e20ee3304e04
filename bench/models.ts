// Models bench page: the three costs a MedRank user pays, on bench-scale random-weight models
// loaded through the real path (config.json + tokenizer + safetensors -> folderFiles ->
// loadRetriever / loadGenerator):
//   1. encode: ColBERT document encoding (indexing), tokens/s, against onnxruntime-web (wasm and
//      webgpu EPs) running the same weights in an ONNX BERT graph built here;
//   2. prefill: Generator.answerNll (scoring), tokens/s, against onnxruntime-web (wasm) running the
//      same Llama forward, gather and NLL;
//   3. lora-step: one LoRA training step (forward, backward, AdamW) at T = 256, 512, 1024 with
//      S2-Attn (ratio 1/4, shift 'roll') and with full attention.
// B = batch, T = tokens, D = hidden size, H = heads, Hkv = kv heads, Dh = head dim,
// F = intermediate size, V = vocab, N = answer tokens, dim = ColBERT dim.

import * as ort from 'onnxruntime-web';
import { acquireGpu } from '../src/gpu/device';
import { viteKernels } from '../src/gpu/kernels-vite';
import { bertSpecs } from '../src/models/bert';
import { parseConfig, ropeInvFreq, type BertConfig, type DecoderConfig } from '../src/models/config';
import type { AnswerExample, Generator } from '../src/models/generator';
import { decoderSpecs, type AttentionMode } from '../src/models/decoder';
import { loadColbert, loadGenerator } from '../src/models/load';
import { ForwardContext } from '../src/models/lora';
import { folderFiles, type ModelFiles } from '../src/models/sources';
import { embedding, ropeTables } from '../src/tensor';
import { AdamW } from '../src/tensor/optim/adamw';
import { writeSafetensors, type WritableTensor } from '../src/tensor/safetensors';
import { Engine, type Tensor } from '../src/tensor/tensor';
import { adapterOf, errorMessage, measure, randomUniform, round, setupOrt, type Impl, type MeasureOptions } from './common';
import { graphModel, type NodeSpec } from './onnx-model';
import type { BenchRow, PageResult } from './page';

const log = (msg: string) => console.log(`[bench models] ${msg}`);

// ---- sizes ----------------------------------------------------------------------------------
// Bench-scale: SwiftShader runs ~1 GFLOP/s, and the whole page has to finish in ~10 minutes.

const BERT_CONFIG = {
  architectures: ['HF_ColBERT'],
  model_type: 'bert',
  vocab_size: 8192,
  hidden_size: 256,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  intermediate_size: 1024,
  hidden_act: 'gelu',
  max_position_embeddings: 512,
  type_vocab_size: 2,
  // ONNX LayerNormalization's default epsilon; the graph builder here writes no float attributes.
  layer_norm_eps: 1e-5,
  pad_token_id: 0,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  dim: 128,
};

const LLAMA_CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 8192,
  hidden_size: 256,
  intermediate_size: 688,
  num_hidden_layers: 4,
  num_attention_heads: 8,
  num_key_value_heads: 2,
  head_dim: 32,
  hidden_act: 'silu',
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: true, // as SmolLM
  attention_bias: false,
  mlp_bias: false,
  bos_token_id: 0,
  eos_token_id: 0,
  pad_token_id: 2,
};

const ENC_B = 8;
const ENC_T = 128;
const GEN_B = 4;
const GEN_T = 256;
const ANSWER = 16;
const TRAIN_T = [256, 512, 1024];
const LORA = { r: 8, alpha: 16, dropout: 0.05, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] };
const TRAIN_MODES: Array<[string, AttentionMode]> = [
  ['s2attn-r0.25', { ratio: 0.25, shift: 'roll' }],
  ['full', { ratio: 1, shift: 'none' }],
];
// Encoder and prefill: one untimed warm-up, then timed runs until 5 s or 10 runs (at least one).
const TIMING: MeasureOptions = { warmup: 1, budgetMs: 5000, maxIters: 10 };
// Training steps: one untimed warm-up step per attention mode at the first T only (it compiles the
// pipelines; a warm-up at every T would add ~3 minutes on SwiftShader), then 2 timed steps, their median.
const STEP_ITERS = 2;

// ---- fixture tokenizers (the configs give a larger vocab; ids are drawn below the tokenizer's) --

const tokenizerFiles = import.meta.glob('../test/fixtures/models/{tiny-colbert,tiny-llama}/tokenizer*.json', {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>;

export function fixtureTokenizer(name: 'tiny-colbert' | 'tiny-llama'): { files: Record<string, string>; vocab: number } {
  const files: Record<string, string> = {};
  for (const [path, text] of Object.entries(tokenizerFiles)) {
    const m = path.match(/models\/([^/]+)\/(tokenizer[^/]*\.json)$/);
    if (m && m[1] === name) files[m[2]!] = text;
  }
  const json = files['tokenizer.json'];
  if (!json) throw new Error(`no fixture tokenizer for ${name}`);
  const vocab = Object.keys((JSON.parse(json) as { model: { vocab: Record<string, number> } }).model.vocab).length;
  return { files, vocab };
}

// ---- random checkpoints -----------------------------------------------------------------------

export type Weights = Map<string, { shape: number[]; data: Float32Array }>;

/** Random weights for every spec: norm scales near 1, biases and matrices small (std ~0.03). */
export function randomWeights(specs: Array<{ name: string; shape: number[] }>, seed: number): Weights {
  const w: Weights = new Map();
  specs.forEach((s, k) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const u = randomUniform(n, seed * 1000 + k + 1);
    const isNorm = /(LayerNorm|norm)\.weight$/.test(s.name);
    const scale = isNorm ? 0.1 : s.name.endsWith('.bias') ? 0.02 : 0.05;
    for (let i = 0; i < n; i++) u[i] = (isNorm ? 1 : 0) + scale * u[i]!;
    w.set(s.name, { shape: s.shape, data: u });
  });
  return w;
}

/** A model folder as the app sees a local folder the user picked: config, tokenizer, one safetensors file. */
export function folder(label: string, config: object, tokenizer: Record<string, string>, weights: Weights): ModelFiles {
  const tensors: Record<string, WritableTensor> = {};
  for (const [name, t] of weights) tensors[name] = { dtype: 'F32', shape: t.shape, data: t.data };
  const st = writeSafetensors(tensors) as Uint8Array<ArrayBuffer>;
  const entries = [
    { path: 'config.json', file: new Blob([JSON.stringify(config)]) },
    { path: 'model.safetensors', file: new Blob([st]) },
    ...Object.entries(tokenizer).map(([path, text]) => ({ path, file: new Blob([text]) })),
  ];
  return folderFiles(entries, { label });
}

function get(w: Weights, name: string): { shape: number[]; data: Float32Array } {
  const t = w.get(name);
  if (!t) throw new Error(`no weight ${name}`);
  return t;
}

/** [rows, cols] -> [cols, rows]: torch Linear weights [out, in] as ONNX MatMul's [in, out]. */
function transposed(t: { shape: number[]; data: Float32Array }): { shape: number[]; data: Float32Array } {
  const [r, c] = t.shape as [number, number];
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j]!;
  return { shape: [c, r], data: out };
}

// ---- ONNX graphs --------------------------------------------------------------------------------
// graphModel (onnx-model.ts) writes the nodes, float inputs/outputs and int64 initializers. What it
// lacks (float initializers: the weights, and int64 inputs: token ids) goes into a second GraphProto
// appended to the ModelProto bytes: protobuf merges repeated occurrences of an embedded message
// field, appending their repeated fields, so ONNX Runtime sees one graph with everything.

/** Protobuf writer that keeps large payloads (weights) as chunks instead of copying byte by byte. */
class Pb {
  private chunks: Uint8Array[] = [];
  private small: number[] = [];

  private varint(v: number): void {
    while (v >= 0x80) {
      this.small.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.small.push(v);
  }

  int(field: number, v: number): this {
    this.varint(field << 3);
    this.varint(v);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.varint((field << 3) | 2);
    this.varint(b.length);
    this.chunks.push(Uint8Array.from(this.small), b);
    this.small = [];
    return this;
  }

  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  msg(field: number, m: Pb): this {
    return this.bytes(field, m.finish());
  }

  finish(): Uint8Array {
    this.chunks.push(Uint8Array.from(this.small));
    this.small = [];
    const out = new Uint8Array(this.chunks.reduce((a, c) => a + c.length, 0));
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    this.chunks = [out];
    return out;
  }
}

const ONNX_FLOAT = 1;
const ONNX_INT64 = 7;

/** Builds a graph node by node; intermediate names are generated. */
class OnnxGraph {
  readonly nodes: NodeSpec[] = [];
  readonly ints: Array<{ name: string; dims: number[]; values: number[] }> = [];
  readonly floats: Array<{ name: string; dims: number[]; data: Float32Array }> = [];
  readonly int64Inputs: Array<{ name: string; shape: number[] }> = [];
  private n = 0;
  private scalars = new Map<number, string>();

  op(opType: string, inputs: string[], attributes?: NodeSpec['attributes'], output?: string): string {
    const out = output ?? `t${this.n++}`;
    this.nodes.push({ opType, inputs, outputs: [out], attributes });
    return out;
  }

  opN(opType: string, inputs: string[], count: number, attributes?: NodeSpec['attributes']): string[] {
    const outs = Array.from({ length: count }, () => `t${this.n++}`);
    this.nodes.push({ opType, inputs, outputs: outs, attributes });
    return outs;
  }

  weight(name: string, t: { shape: number[]; data: Float32Array }): string {
    this.floats.push({ name, dims: t.shape, data: t.data });
    return name;
  }

  scalar(v: number): string {
    let name = this.scalars.get(v);
    if (!name) {
      name = `c${this.scalars.size}`;
      this.scalars.set(v, name);
      this.floats.push({ name, dims: [], data: Float32Array.of(v) });
    }
    return name;
  }

  i64(values: number[], dims = [values.length]): string {
    const name = `i${this.ints.length}`;
    this.ints.push({ name, dims, values });
    return name;
  }

  /** The ModelProto: graphModel's bytes plus a second graph with float initializers and int64 inputs. */
  model(inputs: Array<{ name: string; shape: number[] }>, outputs: Array<{ name: string; shape: number[] }>): Uint8Array {
    const base = graphModel({ name: 'bench_model', opset: 17, nodes: this.nodes, inputs, outputs, int64Initializers: this.ints });
    const graph = new Pb();
    for (const f of this.floats) {
      const t = new Pb();
      for (const d of f.dims) t.int(1, d); // dims
      t.int(2, ONNX_FLOAT).str(8, f.name); // data_type, name
      t.bytes(9, new Uint8Array(f.data.buffer, f.data.byteOffset, f.data.byteLength)); // raw_data (little-endian)
      graph.msg(5, t); // initializer
    }
    for (const i of this.int64Inputs) {
      const dims = new Pb();
      for (const d of i.shape) dims.msg(1, new Pb().int(1, d));
      const tensorType = new Pb().int(1, ONNX_INT64).msg(2, dims);
      graph.msg(11, new Pb().str(1, i.name).msg(2, new Pb().msg(1, tensorType))); // input
    }
    return concat(base, new Pb().msg(7, graph).finish()); // a second ModelProto.graph, merged into the first
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * HF BertModel + ColBERT head as ONNX (opset 17): Gather embeddings, LayerNormalization,
 * per layer q/k/v MatMul+Add, Reshape/Transpose to heads, scaled scores + additive padding mask
 * ((mask - 1) * 1e9), Softmax, o-proj, residual LayerNorm, erf GELU MLP, residual LayerNorm; then
 * the projection and an L2 norm per token (x / max(|x|, 1e-12)). Inputs ids (int64) [B, T], mask [B, T];
 * output out [B, T, dim].
 */
function bertOnnx(c: BertConfig, w: Weights, B: number, T: number): Uint8Array {
  const g = new OnnxGraph();
  const { hiddenSize: D, numHeads: H } = c;
  const Dh = D / H;
  g.int64Inputs.push({ name: 'ids', shape: [B, T] });
  const pos = get(w, 'embeddings.position_embeddings.weight');
  const tt = get(w, 'embeddings.token_type_embeddings.weight');
  let x = g.op('Gather', [g.weight('word', get(w, 'embeddings.word_embeddings.weight')), 'ids']);
  x = g.op('Add', [x, g.weight('pos', { shape: [T, D], data: pos.data.slice(0, T * D) })]);
  x = g.op('Add', [x, g.weight('tt0', { shape: [D], data: tt.data.slice(0, D) })]);
  const ln = (t: string, prefix: string): string =>
    g.op('LayerNormalization', [
      t,
      g.weight(`${prefix}.w`, get(w, `${prefix}.weight`)),
      g.weight(`${prefix}.b`, get(w, `${prefix}.bias`)),
    ]);
  x = ln(x, 'embeddings.LayerNorm');
  const maskAdd = g.op('Reshape', [g.op('Mul', [g.op('Sub', ['mask', g.scalar(1)]), g.scalar(1e9)]), g.i64([B, 1, 1, T])]);
  const lin = (t: string, name: string): string =>
    g.op('Add', [
      g.op('MatMul', [t, g.weight(`${name}.wT`, transposed(get(w, `${name}.weight`)))]),
      g.weight(`${name}.b`, get(w, `${name}.bias`)),
    ]);
  const heads = g.i64([B, T, H, Dh]);
  const flat = g.i64([B, T, D]);
  for (let i = 0; i < c.numLayers; i++) {
    const l = `encoder.layer.${i}.`;
    const q = g.op('Transpose', [g.op('Reshape', [lin(x, `${l}attention.self.query`), heads])], { perm: [0, 2, 1, 3] });
    const kT = g.op('Transpose', [g.op('Reshape', [lin(x, `${l}attention.self.key`), heads])], { perm: [0, 2, 3, 1] });
    const v = g.op('Transpose', [g.op('Reshape', [lin(x, `${l}attention.self.value`), heads])], { perm: [0, 2, 1, 3] });
    const s = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, kT]), g.scalar(1 / Math.sqrt(Dh))]), maskAdd]);
    const p = g.op('Softmax', [s], { axis: 3 });
    const a = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [p, v])], { perm: [0, 2, 1, 3] }), flat]);
    x = ln(g.op('Add', [lin(a, `${l}attention.output.dense`), x]), `${l}attention.output.LayerNorm`);
    const h = lin(x, `${l}intermediate.dense`);
    const gelu = g.op('Mul', [
      g.op('Mul', [h, g.scalar(0.5)]),
      g.op('Add', [g.op('Erf', [g.op('Mul', [h, g.scalar(Math.SQRT1_2)])]), g.scalar(1)]),
    ]);
    x = ln(g.op('Add', [lin(gelu, `${l}output.dense`), x]), `${l}output.LayerNorm`);
  }
  const proj = g.op('MatMul', [x, g.weight('linT', transposed(get(w, 'linear.weight')))]);
  const ss = g.op('ReduceSum', [g.op('Mul', [proj, proj]), g.i64([2])], { keepdims: 1 });
  g.op('Div', [proj, g.op('Max', [g.op('Sqrt', [ss]), g.scalar(1e-12)])], undefined, 'out');
  return g.model([{ name: 'mask', shape: [B, T] }], [{ name: 'out', shape: [B, T, c.colbertDim] }]);
}

/**
 * HF LlamaForCausalLM forward plus the answer-token NLL, as ONNX (opset 17): Gather embeddings;
 * per layer RMSNorm decomposed (x / sqrt(mean(x^2) + eps) * w), q/k/v MatMul, RoPE (rotate_half) from
 * precomputed cos/sin [T, 1, Dh/2] via Split/Mul/Sub/Add/Concat, GQA by Reshape + Expand of the kv
 * heads, scaled scores + additive causal mask, Softmax, o-proj, residual, SwiGLU MLP (g * sigmoid(g)
 * * u), residual; final RMSNorm; Gather of the N rows before each answer token, Gemm with the tied
 * embedding (transB), LogSoftmax, GatherElements of the targets, Neg. Input ids (int64) [B, T];
 * output nll [N, 1].
 */
function llamaOnnx(c: DecoderConfig, w: Weights, B: number, T: number, rows: number[], targets: number[]): Uint8Array {
  const g = new OnnxGraph();
  const { hiddenSize: D, numHeads: H, numKvHeads: Hkv, headDim: Dh } = c;
  const G = H / Hkv;
  const half = Dh / 2;
  g.int64Inputs.push({ name: 'ids', shape: [B, T] });
  const emb = g.weight('emb', get(w, 'model.embed_tokens.weight'));
  const tables = ropeTables(T, Dh, c.ropeTheta, ropeInvFreq(c));
  const cos = g.weight('cos', { shape: [T, 1, half], data: tables.cos });
  const sin = g.weight('sin', { shape: [T, 1, half], data: tables.sin });
  const causal = new Float32Array(T * T);
  for (let i = 0; i < T; i++) causal.fill(-1e9, i * T + i + 1, (i + 1) * T);
  const mask = g.weight('causal', { shape: [T, T], data: causal });
  const rms = (t: string, name: string): string => {
    const ms = g.op('ReduceMean', [g.op('Mul', [t, t])], { axes: [2], keepdims: 1 });
    return g.op('Mul', [g.op('Div', [t, g.op('Sqrt', [g.op('Add', [ms, g.scalar(c.normEps)])])]), g.weight(name, get(w, name))]);
  };
  const mm = (t: string, name: string): string => g.op('MatMul', [t, g.weight(`${name}T`, transposed(get(w, name)))]);
  const halves = g.i64([half, half]);
  const rope = (t: string): string => {
    const [a, b] = g.opN('Split', [t, halves], 2, { axis: 3 }) as [string, string];
    const o1 = g.op('Sub', [g.op('Mul', [a, cos]), g.op('Mul', [b, sin])]);
    const o2 = g.op('Add', [g.op('Mul', [b, cos]), g.op('Mul', [a, sin])]);
    return g.op('Concat', [o1, o2], { axis: 3 });
  };
  const qShape = g.i64([B, T, H, Dh]);
  const kvShape = g.i64([B, T, Hkv, Dh]);
  const flat = g.i64([B, T, H * Dh]);
  // GQA: [B, Hkv, X, Y] -> [B, Hkv, 1, X, Y] -> expand [B, Hkv, G, X, Y] -> [B, H, X, Y] (head h reads kv h / G).
  const repeat = (t: string, X: number, Y: number): string =>
    g.op('Reshape', [
      g.op('Expand', [g.op('Reshape', [t, g.i64([B, Hkv, 1, X, Y])]), g.i64([B, Hkv, G, X, Y])]),
      g.i64([B, H, X, Y]),
    ]);
  let x = g.op('Gather', [emb, 'ids']);
  for (let i = 0; i < c.numLayers; i++) {
    const l = `model.layers.${i}.`;
    const h = rms(x, `${l}input_layernorm.weight`);
    const q = g.op('Transpose', [rope(g.op('Reshape', [mm(h, `${l}self_attn.q_proj.weight`), qShape]))], { perm: [0, 2, 1, 3] });
    const kT = g.op('Transpose', [rope(g.op('Reshape', [mm(h, `${l}self_attn.k_proj.weight`), kvShape]))], {
      perm: [0, 2, 3, 1],
    });
    const v = g.op('Transpose', [g.op('Reshape', [mm(h, `${l}self_attn.v_proj.weight`), kvShape])], { perm: [0, 2, 1, 3] });
    const s = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, repeat(kT, Dh, T)]), g.scalar(1 / Math.sqrt(Dh))]), mask]);
    const p = g.op('Softmax', [s], { axis: 3 });
    const a = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [p, repeat(v, T, Dh)])], { perm: [0, 2, 1, 3] }), flat]);
    x = g.op('Add', [x, mm(a, `${l}self_attn.o_proj.weight`)]);
    const m = rms(x, `${l}post_attention_layernorm.weight`);
    const gate = mm(m, `${l}mlp.gate_proj.weight`);
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), mm(m, `${l}mlp.up_proj.weight`)]);
    x = g.op('Add', [x, mm(act, `${l}mlp.down_proj.weight`)]);
  }
  const N = rows.length;
  const hN = g.op('Gather', [g.op('Reshape', [rms(x, 'model.norm.weight'), g.i64([B * T, D])]), g.i64(rows)]);
  const lp = g.op('LogSoftmax', [g.op('Gemm', [hN, emb], { transB: 1 })], { axis: 1 });
  g.op('Neg', [g.op('GatherElements', [lp, g.i64(targets, [N, 1])], { axis: 1 })], undefined, 'nll');
  return g.model([], [{ name: 'nll', shape: [N, 1] }]);
}

// ---- helpers ------------------------------------------------------------------------------------

/** Seeded integers in [lo, hi). */
export function randomInts(n: number, lo: number, hi: number, seed: number): number[] {
  return Array.from(randomUniform(n, seed), (u) => lo + Math.min(hi - lo - 1, Math.floor(((u + 1) / 2) * (hi - lo))));
}

function maxAbsDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const k = s.length >> 1;
  return s.length % 2 ? s[k]! : (s[k - 1]! + s[k]!) / 2;
}

/** `warmup` untimed runs, then `iters` timed ones; the median and every timed run. */
async function medianRuns(run: () => Promise<void>, warmup: number, iters: number): Promise<{ ms: number; times: number[] }> {
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return { ms: median(times), times };
}

/**
 * Where the GPU time of one run goes, from timestamp queries (KernelTimer, one pass per dispatch
 * while on): the kernels with the largest shares, and how many dispatches got a timestamp (a batch
 * times at most 512). Untimed: the rows never include a profiled run.
 */
export async function kernelShares(e: Engine, what: string, run: () => Promise<void>): Promise<string> {
  const timer = e.gpu.timer;
  if (!timer) return `${what}: no kernel shares (the adapter has no timestamp-query).`;
  await timer.collect(); // drop anything left over
  const before = e.gpu.dispatches;
  timer.enabled = true;
  let byKernel: Array<[string, { ms: number; count: number }]>;
  try {
    await run();
    timer.enabled = false;
    byKernel = Object.entries(await timer.collect()).sort((a, b) => b[1].ms - a[1].ms);
  } catch (err) {
    return `${what}: kernel profile failed: ${errorMessage(err)}`;
  } finally {
    timer.enabled = false;
  }
  const total = byKernel.reduce((a, [, k]) => a + k.ms, 0);
  const timed = byKernel.reduce((a, [, k]) => a + k.count, 0);
  const top = byKernel
    .slice(0, 6)
    .map(([name, k]) => `${name} ${((100 * k.ms) / total).toFixed(0)}% (${k.count}x)`)
    .join(', ');
  return `${what}: GPU time by kernel (one profiled run, ${total.toFixed(0)} ms over ${timed} of ${e.gpu.dispatches - before} dispatches timed): ${top}.`;
}

async function ortSession(model: Uint8Array, ep: 'webgpu' | 'wasm'): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, { executionProviders: [ep], graphOptimizationLevel: 'all' });
}

/** Runs each impl (warm-up + measure), compares its result with `ref` (or makes it the reference), one row each. */
async function runImpls(
  rows: BenchRow[],
  base: { op: string; [field: string]: string | number },
  tokens: number,
  makers: Array<[string, () => Promise<Impl>]>,
): Promise<void> {
  let ref: Float32Array | null = null;
  for (const [impl, make] of makers) {
    let made: Impl | null = null;
    try {
      made = await make();
      const it = made;
      const { ms, iterations } = await measure(() => it.run(), TIMING);
      const out = await it.result();
      const diff = ref ? maxAbsDiff(out, ref) : undefined;
      ref ??= out;
      const tokensPerSec = tokens / (ms / 1000);
      rows.push({ ...base, impl, tokensPerSec: round(tokensPerSec, 1), ms: round(ms, 2), iterations, maxAbsDiff: diff });
      log(
        `${base.op} ${impl}: ${tokensPerSec.toFixed(0)} tokens/s, ${ms.toFixed(1)} ms x${iterations}, maxAbsDiff ${diff ?? '(reference)'}`,
      );
    } catch (err) {
      rows.push({ ...base, impl, error: errorMessage(err) });
      log(`${base.op} ${impl}: failed: ${errorMessage(err)}`);
    } finally {
      try {
        await made?.dispose();
      } catch (err) {
        log(`${base.op} ${impl}: dispose failed: ${errorMessage(err)}`);
      }
    }
  }
}

// ---- 1. encoder (indexing) ------------------------------------------------------------------------

async function encoderRows(e: Engine, rows: BenchRow[], notes: string[]): Promise<void> {
  const tok = fixtureTokenizer('tiny-colbert');
  const config = parseConfig(BERT_CONFIG) as BertConfig;
  const weights = randomWeights(
    [...bertSpecs(config, ''), { name: 'linear.weight', shape: [config.colbertDim, config.hiddenSize] }],
    1,
  );
  const r = await loadColbert(e, folder('bench-colbert', BERT_CONFIG, tok.files, weights));
  const B = ENC_B,
    T = ENC_T,
    D = config.hiddenSize;
  // Docs of 97..128 tokens, right-padded: [CLS] then random ids below the tokenizer's vocab.
  const ids = new Int32Array(B * T).fill(config.padTokenId);
  const mask = new Float32Array(B * T);
  const kept: number[] = [];
  const random = randomInts(B * T, 1, tok.vocab, 11);
  for (let b = 0; b < B; b++) {
    const len = T - ((b * 7) % 32);
    for (let t = 0; t < len; t++) {
      ids[b * T + t] = t === 0 ? r.tokenizer.special.cls! : random[b * T + t]!;
      mask[b * T + t] = 1;
      kept.push(b * T + t);
    }
  }
  try {
    const medrank = async (): Promise<Impl> => {
      let last: Tensor | null = null;
      return {
        async run() {
          last?.dispose();
          // encodeDocs without the tokenizer: encoder, gather the kept rows, project + L2 norm.
          last = e.noGrad(() =>
            e.scope(() => r.project(embedding(r.encoder.forward({ ids, mask, B, T }).reshape([B * T, D]), kept))),
          );
          await e.gpu.sync();
        },
        result: () => last!.read(),
        dispose: () => last?.dispose(),
      };
    };
    const ortImpl = (ep: 'webgpu' | 'wasm') => async (): Promise<Impl> => {
      const session = await ortSession(bertOnnx(config, weights, B, T), ep);
      const feeds = {
        ids: new ort.Tensor(
          'int64',
          BigInt64Array.from(ids, (v) => BigInt(v)),
          [B, T],
        ),
        mask: new ort.Tensor('float32', mask, [B, T]),
      };
      const dim = config.colbertDim;
      let last: Float32Array | null = null;
      return {
        async run() {
          const out = await session.run(feeds);
          last = (await out.out!.getData()) as Float32Array;
          out.out!.dispose();
        },
        // The kept rows, as MedRank packs them.
        async result() {
          const packed = new Float32Array(kept.length * dim);
          kept.forEach((row, k) => packed.set(last!.subarray(row * dim, (row + 1) * dim), k * dim));
          return packed;
        },
        dispose: () => session.release(),
      };
    };
    await runImpls(rows, { op: 'encode', B, T }, B * T, [
      ['medrank', medrank],
      ['ort-webgpu', ortImpl('webgpu')],
      ['ort-wasm', ortImpl('wasm')],
    ]);
    const it = await medrank();
    notes.push(await kernelShares(e, 'encode medrank', () => it.run()));
    await it.dispose();
  } finally {
    r.encoder.weights.dispose();
    e.gpu.pool.trim();
  }
}

// ---- 2. generator prefill (scoring) and 3. LoRA training step ------------------------------------

function examples(B: number, T: number, tokVocab: number, seed: number): AnswerExample[] {
  return Array.from({ length: B }, (_, b) => ({
    prompt: [LLAMA_CONFIG.bos_token_id, ...randomInts(T - ANSWER - 1, 3, tokVocab, seed + 2 * b)],
    answer: randomInts(ANSWER, 3, tokVocab, seed + 2 * b + 1),
  }));
}

async function prefillRows(gen: Generator, weights: Weights, tokVocab: number, rows: BenchRow[], notes: string[]): Promise<void> {
  const e = gen.model.engine;
  const c = gen.model.config;
  const B = GEN_B,
    T = GEN_T;
  const ex = examples(B, T, tokVocab, 21);
  const ids = new Int32Array(B * T);
  const answerRows: number[] = [];
  const targets: number[] = [];
  ex.forEach((x, b) => {
    ids.set([...x.prompt, ...x.answer], b * T);
    x.answer.forEach((id, j) => {
      answerRows.push(b * T + x.prompt.length - 1 + j);
      targets.push(id);
    });
  });
  const scoring = async (): Promise<Impl> => {
    let last: Float32Array | null = null;
    return {
      async run() {
        const r = await gen.answerNll(ex); // reads the N per-token NLLs back: the scoring API
        const all = new Float32Array(r.perToken.reduce((a, p) => a + p.length, 0));
        let at = 0;
        for (const p of r.perToken) {
          all.set(p, at);
          at += p.length;
        }
        last = all;
      },
      result: async () => last!,
      dispose() {},
    };
  };
  // The same forward, then the LM head on all B * T rows (no gather, no readback of the logits).
  const allLogits = async (): Promise<Impl> => {
    let nll: Float32Array | null = null;
    return {
      async run() {
        const logits = e.noGrad(() =>
          e.scope(() => gen.model.logits(gen.model.forward(ids, B, T).reshape([B * T, c.hiddenSize]))),
        );
        await e.gpu.sync();
        if (!nll) {
          // Once, untimed (the warm-up): the NLLs from the full logits, to show they match.
          const rowsOf = await logits.read();
          nll = Float32Array.from(answerRows, (row, k) => {
            const z = rowsOf.subarray(row * c.vocabSize, (row + 1) * c.vocabSize);
            let m = -Infinity;
            for (const v of z) m = Math.max(m, v);
            let s = 0;
            for (const v of z) s += Math.exp(v - m);
            return m + Math.log(s) - z[targets[k]!]!;
          });
        }
        logits.dispose();
      },
      result: async () => nll!,
      dispose() {},
    };
  };
  const ortImpl = (ep: 'webgpu' | 'wasm') => async (): Promise<Impl> => {
    const session = await ortSession(llamaOnnx(c, weights, B, T, answerRows, targets), ep);
    const feeds = {
      ids: new ort.Tensor(
        'int64',
        BigInt64Array.from(ids, (v) => BigInt(v)),
        [B, T],
      ),
    };
    let last: Float32Array | null = null;
    return {
      async run() {
        const out = await session.run(feeds);
        last = (await out.nll!.getData()) as Float32Array;
        out.nll!.dispose();
      },
      result: async () => last!,
      dispose: () => session.release(),
    };
  };
  await runImpls(rows, { op: 'prefill', B, T }, B * T, [
    ['medrank', scoring],
    ['medrank-all-logits', allLogits],
    ['ort-wasm', ortImpl('wasm')],
  ]);
  notes.push(await kernelShares(e, 'prefill medrank', () => gen.answerNll(ex).then(() => {})));
  e.gpu.pool.trim();
}

/**
 * Runs `body` with LoRA (LORA) on the generator and its RMSNorm weights training, as JMLR trains,
 * under one AdamW; afterwards the adapters and the optimizer are freed and the model is as loaded.
 */
export async function withLora<R>(
  gen: Generator,
  body: (opt: AdamW, info: { trainable: number; adapters: number; norms: number }) => Promise<R>,
): Promise<R> {
  const m = gen.model;
  const adapters = m.addLora(LORA, 5);
  const norms = m.weights.setTrainable((n) => n.endsWith('norm.weight'));
  const params = [...adapters.flatMap((a) => [a.A, a.B]), ...norms];
  const opt = new AdamW(m.engine, params, { lr: 1e-4, weightDecay: 0, maxGradNorm: 1 });
  try {
    const trainable = params.reduce((a, p) => a + p.size, 0);
    return await body(opt, { trainable, adapters: adapters.length, norms: norms.length });
  } finally {
    opt.dispose();
    for (const a of adapters) {
      a.A.dispose();
      a.B.dispose();
    }
    for (const l of m.linears()) l.lora = null;
  }
}

async function trainRows(gen: Generator, tokVocab: number, rows: BenchRow[], notes: string[]): Promise<void> {
  const e = gen.model.engine;
  await withLora(gen, async (opt, info) => {
    notes.push(
      `lora-step trains ${info.trainable} parameters (${info.adapters} LoRA adapters of r = ${LORA.r} + ${info.norms} RMSNorm weights).`,
    );
    let seed = 100;
    for (const T of TRAIN_T) {
      const ex = examples(1, T, tokVocab, 31 + T);
      const byMode = new Map<string, number>();
      for (const [impl, attention] of TRAIN_MODES) {
        try {
          let loss = NaN;
          const step = async (): Promise<void> => {
            // Forward, backward and update in one scope; the loss read waits for the whole step.
            const l = e.scope(() => {
              const out = gen.meanAnswerLoss(ex, { ctx: new ForwardContext(true, seed++), attention });
              e.backward(out);
              opt.step();
              opt.zeroGrad();
              return out;
            });
            loss = await l.item();
            l.dispose();
          };
          const warmup = T === TRAIN_T[0] ? 1 : 0;
          const { ms, times } = await medianRuns(step, warmup, STEP_ITERS);
          // The forward alone, with the tape recorded (as in training) and then dropped.
          const fwd = await measure(
            async () => {
              const l = e.scope(() => {
                const out = gen.meanAnswerLoss(ex, { ctx: new ForwardContext(true, seed++), attention });
                e.clearTape();
                return out;
              });
              await l.item();
              l.dispose();
            },
            { warmup: 0, maxIters: 1 },
          );
          if (T === TRAIN_T[0]) notes.push(await kernelShares(e, `lora-step T=${T} ${impl}`, step));
          byMode.set(impl, ms);
          const runs = times.map((t) => t.toFixed(0)).join(', ');
          rows.push({
            op: 'lora-step',
            B: 1,
            T,
            impl,
            tokensPerSec: round(T / (ms / 1000), 1),
            ms: round(ms, 2),
            fwdMs: round(fwd.ms, 2),
            bwdMs: round(ms - fwd.ms, 2),
            iterations: times.length,
            warmup,
            loss: round(loss, 4),
          });
          log(
            `lora-step T=${T} ${impl}: ${ms.toFixed(1)} ms (median of ${runs}), fwd ${fwd.ms.toFixed(1)} ms, loss ${loss.toFixed(4)}`,
          );
          notes.push(`lora-step T=${T} ${impl}: timed steps ${runs} ms.`);
        } catch (err) {
          rows.push({ op: 'lora-step', B: 1, T, impl, error: errorMessage(err) });
          log(`lora-step T=${T} ${impl}: failed: ${errorMessage(err)}`);
          e.clearTape();
          opt.zeroGrad();
        }
      }
      const s2 = byMode.get('s2attn-r0.25');
      const full = byMode.get('full');
      if (s2 && full) {
        const row = rows.find((r) => r.op === 'lora-step' && r.T === T && r.impl === 's2attn-r0.25');
        if (row) row.speedup = round(full / s2, 3);
        notes.push(
          `T=${T}: LoRA step speedup of S2-Attn (ratio 1/4, roll) over full attention: ${(full / s2).toFixed(2)}x (full ms / s2attn ms).`,
        );
      }
    }
  });
}

// ---- page ----------------------------------------------------------------------------------------

export async function run(): Promise<PageResult> {
  const gpu = await acquireGpu({ kernels: viteKernels });
  const e = new Engine(gpu);
  const threads = setupOrt();
  log(`adapter ${gpu.info.vendor}/${gpu.info.architecture}, crossOriginIsolated=${self.crossOriginIsolated}`);
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const t0 = performance.now();
  try {
    await encoderRows(e, rows, notes);
    const tok = fixtureTokenizer('tiny-llama');
    const config = parseConfig(LLAMA_CONFIG) as DecoderConfig;
    const weights = randomWeights(decoderSpecs(config), 2);
    const gen = await loadGenerator(e, folder('bench-llama', LLAMA_CONFIG, tok.files, weights));
    try {
      await prefillRows(gen, weights, tok.vocab, rows, notes);
      await trainRows(gen, tok.vocab, rows, notes);
    } finally {
      gen.model.weights.dispose();
    }
  } finally {
    gpu.destroy();
  }
  log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  return {
    bench: 'models',
    adapter: adapterOf(gpu),
    crossOriginIsolated: self.crossOriginIsolated,
    notes: [
      'Models (bench-scale; SmolLM-135M/colbertv2 are 2-10x larger per layer): random weights written as safetensors in memory and loaded ' +
        'through folderFiles + loadRetriever / loadGenerator with the fixture tokenizers (tiny-colbert, tiny-llama); token ids drawn below the tokenizer vocab.',
      `Encoder: BERT hidden ${BERT_CONFIG.hidden_size}, ${BERT_CONFIG.num_hidden_layers} layers, ${BERT_CONFIG.num_attention_heads} heads, ` +
        `intermediate ${BERT_CONFIG.intermediate_size}, vocab ${BERT_CONFIG.vocab_size}, erf GELU, layer_norm_eps 1e-5; ColBERT dim ${BERT_CONFIG.dim}.`,
      `Generator: Llama hidden ${LLAMA_CONFIG.hidden_size}, ${LLAMA_CONFIG.num_hidden_layers} layers, ${LLAMA_CONFIG.num_attention_heads} heads, ` +
        `${LLAMA_CONFIG.num_key_value_heads} kv heads (head_dim ${LLAMA_CONFIG.head_dim}), intermediate ${LLAMA_CONFIG.intermediate_size}, ` +
        `vocab ${LLAMA_CONFIG.vocab_size}, tied embeddings.`,
      `encode: ${ENC_B} docs x ${ENC_T} tokens (97..128 real tokens each, right-padded, with an attention mask; 8 docs rather than 16 so the bench ` +
        'fits in ~10 minutes on SwiftShader); tokensPerSec = B * T / seconds (padded positions count). ' +
        'medrank: encoder.forward + gather of the real tokens + projection + L2 norm (encodeDocs without the tokenizer) under noGrad, ' +
        'ids and mask uploaded each run, then gpu.sync(); no readback. ort-*: onnxruntime-web session.run of the same weights in an ONNX BERT graph ' +
        '(opset 17; weights are initializers, uploaded once; ids and mask in, [B, T, dim] out to the CPU each run; projects padding too). ' +
        'maxAbsDiff: the real tokens\u2019 ColBERT vectors against medrank\u2019s.',
      `prefill: ${GEN_B} examples of ${GEN_T} tokens (${GEN_T - ANSWER} prompt + ${ANSWER} answer), full causal attention; tokensPerSec = B * T / seconds. ` +
        'medrank: Generator.answerNll (forward, gather of the N answer rows, LM head and cross-entropy on them, readback of the N NLLs). ' +
        'medrank-all-logits: model.forward + LM head on all B * T rows (no gather), then gpu.sync(), no readback; its maxAbsDiff compares NLLs ' +
        'computed in JS from those logits. ort-wasm: the same forward, gather, LM head (Gemm on the tied embedding), LogSoftmax and target gather in ONNX ' +
        '(RMSNorm decomposed, RoPE from precomputed cos/sin, GQA by Expand); ids in, N NLLs out. maxAbsDiff: the N answer-token NLLs against medrank\u2019s. ' +
        'The same graph runs on the webgpu EP too, but costs ~25 s a run on SwiftShader, so it is left out of prefill to keep the bench near 10 minutes.',
      `Encoder and prefill timing: ${TIMING.warmup} untimed warm-up (pipelines, session init), then timed runs until ${TIMING.budgetMs! / 1000} s or ` +
        `${TIMING.maxIters} runs (at least one); ms is the mean.`,
      `lora-step: B = 1, T in ${TRAIN_T.join(', ')} (prompt T - ${ANSWER}, answer ${ANSWER}); LoRA r ${LORA.r}, alpha ${LORA.alpha}, dropout ${LORA.dropout} on ` +
        `${LORA.targetModules.join(', ')} + trainable RMSNorm weights; Generator.meanAnswerLoss with attention {ratio: 0.25, shift: 'roll'} (s2attn-r0.25) ` +
        "or {ratio: 1, shift: 'none'} (full); engine.backward; AdamW (lr 1e-4, clip 1) step; zeroGrad; all in one engine.scope; the loss read ends the timing. " +
        `ms: median of ${STEP_ITERS} timed steps; warmup: untimed steps before them (one per attention mode at T = ${TRAIN_T[0]}, which compiles the pipelines; ` +
        'none at larger T, to fit the time budget). fwdMs: one forward with the tape recorded, then dropped. ' +
        'bwdMs = ms - fwdMs (backward + AdamW). speedup (on the s2attn row) = full ms / s2attn ms.',
      ...notes,
      `ort-wasm threads: ${threads}. ORT rows include their own host-device transfers; medrank rows keep weights on the GPU.`,
      'A row with an error field records an impl that failed (e.g. an op the EP lacks) instead of timings.',
      'On a software adapter (SwiftShader) GPU numbers are CPU numbers: compare ratios within one run.',
    ],
    rows,
  };
}
