// Real-shapes bench page: the memory plan and speed at the shapes users load, with random weights
// through the real load path (config.json + tokenizer + safetensors -> loadRetriever /
// loadGenerator), once with f32 weights and once with frozen weights stored as packed f16:
//   colbertv2.0 (BERT-base: 12 layers, hidden 768, 12 heads, intermediate 3072, vocab 30522,
//     ColBERT dim 128): planned vs measured GPU bytes, encode tokens/s;
//   SmolLM2-135M-Instruct (30 layers, hidden 576, 9 heads / 3 KV heads, intermediate 1536, vocab
//     49152, tied): planned vs measured GPU bytes, prefill tokens/s, one LoRA step at T with
//     S2-Attn (ratio 1/4, roll), LoRA r 8 on q/k/v/o plus the RMSNorm weights (as JMLR trains).
// B = batch, T = tokens. Measured bytes are the buffer pool's bytes in use after the load (the
// weights), and its peak over the LoRA step (weights, adapters, gradients, AdamW state and
// activations); the plan (src/models/memory.ts) counts weights, gradients and AdamW state only.
// Options (bench/run.ts): BENCH_REAL_T (default 512), BENCH_REAL_STEPS (default 2: the first
// compiles), BENCH_REAL_DTYPES (default f32,f16), BENCH_REAL_MODELS (default colbert,smollm).

import { acquireGpu } from '../src/gpu/device';
import { viteKernels } from '../src/gpu/kernels-vite';
import { bertSpecs } from '../src/models/bert';
import { parseConfig, type BertConfig, type DecoderConfig } from '../src/models/config';
import { decoderSpecs } from '../src/models/decoder';
import { loadColbert, loadGenerator, memoryPlanFor, readModelFolder } from '../src/models/load';
import { ForwardContext } from '../src/models/lora';
import type { FrozenDtype } from '../src/models/weights';
import { embedding } from '../src/tensor';
import { Engine } from '../src/tensor/tensor';
import { adapterOf, errorMessage, measure, round } from './common';
import { fixtureTokenizer, folder, kernelShares, randomInts, randomWeights, withLora } from './models';
import type { BenchRow, PageResult } from './page';

const log = (msg: string) => console.log(`[bench real-shapes] ${msg}`);

export interface RealShapesInput {
  T?: number;
  steps?: number;
  dtypes?: FrozenDtype[];
  models?: string[];
}

const COLBERT = {
  architectures: ['HF_ColBERT'],
  model_type: 'bert',
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'gelu',
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  dim: 128,
};

const SMOLLM = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 49152,
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  hidden_act: 'silu',
  max_position_embeddings: 8192,
  rms_norm_eps: 1e-5,
  rope_theta: 100000,
  tie_word_embeddings: true,
  attention_bias: false,
  mlp_bias: false,
  bos_token_id: 1,
  eos_token_id: 2,
  pad_token_id: 2,
};

const ENC = { B: 1, T: 128 };
const PREFILL = { B: 1, T: 128, answer: 16 };
const ONCE = { warmup: 1, maxIters: 1 };
const MB = 1024 ** 2;

const isNorm = (n: string) => n.endsWith('norm.weight');

async function colbertRows(e: Engine, dtype: FrozenDtype, rows: BenchRow[], notes: string[]): Promise<void> {
  const tok = fixtureTokenizer('tiny-colbert');
  const config = parseConfig(COLBERT) as BertConfig;
  const specs = [...bertSpecs(config, ''), { name: 'linear.weight', shape: [config.colbertDim, config.hiddenSize] }];
  const files = folder('colbertv2.0-shape', COLBERT, tok.files, randomWeights(specs, 1));
  // A frozen retriever (the index's encoder): nothing trains.
  const plan = memoryPlanFor(await readModelFolder(files), () => false, dtype);
  const before = e.gpu.pool.inUseBytes;
  const t0 = performance.now();
  const r = await loadColbert(e, files, { frozenDtype: dtype, trainable: () => false });
  const loadMs = performance.now() - t0;
  const measured = e.gpu.pool.inUseBytes - before;
  try {
    const { B, T } = ENC;
    const ids = new Int32Array(B * T);
    const random = randomInts(B * T, 1, tok.vocab, 11);
    for (let i = 0; i < B * T; i++) ids[i] = i % T === 0 ? r.tokenizer.special.cls! : random[i]!;
    const mask = new Float32Array(B * T).fill(1);
    const kept = Array.from({ length: B * T }, (_, i) => i);
    const encode = async () => {
      const out = e.noGrad(() =>
        e.scope(() => r.project(embedding(r.encoder.forward({ ids, mask, B, T }).reshape([B * T, config.hiddenSize]), kept))),
      );
      await e.gpu.sync();
      out.dispose();
    };
    const { ms } = await measure(encode, ONCE);
    rows.push({
      op: 'encode',
      model: 'colbertv2.0',
      impl: `medrank-${dtype}`,
      B,
      T,
      params: plan.totalParams,
      plannedBytes: plan.totalBytes,
      measuredBytes: measured,
      loadMs: round(loadMs, 0),
      ms: round(ms, 1),
      tokensPerSec: round((B * T) / (ms / 1000), 1),
    });
    log(
      `colbert ${dtype}: planned ${(plan.totalBytes / MB).toFixed(1)} MB, measured ${(measured / MB).toFixed(1)} MB, encode ${ms.toFixed(0)} ms`,
    );
    if (dtype === 'f32') notes.push(await kernelShares(e, 'colbert encode f32', encode));
  } finally {
    r.encoder.weights.dispose();
    e.gpu.pool.trim();
  }
}

async function smollmRows(
  e: Engine,
  dtype: FrozenDtype,
  T: number,
  steps: number,
  rows: BenchRow[],
  notes: string[],
): Promise<void> {
  const tok = fixtureTokenizer('tiny-llama');
  const config = parseConfig(SMOLLM) as DecoderConfig;
  const files = folder('SmolLM2-135M-shape', SMOLLM, tok.files, randomWeights(decoderSpecs(config), 2));
  // Under LoRA the base is frozen but its norms train (as JMLR's generator).
  const plan = memoryPlanFor(await readModelFolder(files), isNorm, dtype);
  const before = e.gpu.pool.inUseBytes;
  const t0 = performance.now();
  const gen = await loadGenerator(e, files, { frozenDtype: dtype, trainable: isNorm });
  const loadMs = performance.now() - t0;
  const measured = e.gpu.pool.inUseBytes - before;
  const base = {
    model: 'SmolLM2-135M-Instruct',
    impl: `medrank-${dtype}`,
    params: plan.totalParams,
    plannedBytes: plan.totalBytes,
  };
  log(`smollm ${dtype}: planned ${(plan.totalBytes / MB).toFixed(1)} MB, measured weights ${(measured / MB).toFixed(1)} MB`);
  const example = (len: number, seed: number) => ({
    prompt: [SMOLLM.bos_token_id, ...randomInts(len - PREFILL.answer - 1, 3, tok.vocab, seed)],
    answer: randomInts(PREFILL.answer, 3, tok.vocab, seed + 1),
  });
  try {
    try {
      const ex = [example(PREFILL.T, 21)];
      const { ms } = await measure(() => gen.answerNll(ex).then(() => {}), ONCE);
      rows.push({
        ...base,
        op: 'prefill',
        B: PREFILL.B,
        T: PREFILL.T,
        paramBytes: plan.paramBytes,
        measuredBytes: measured,
        loadMs: round(loadMs, 0),
        ms: round(ms, 1),
        tokensPerSec: round(PREFILL.T / (ms / 1000), 1),
      });
      log(`smollm ${dtype} prefill T=${PREFILL.T}: ${ms.toFixed(0)} ms`);
    } catch (err) {
      rows.push({ ...base, op: 'prefill', error: errorMessage(err) });
      log(`smollm ${dtype} prefill failed: ${errorMessage(err)}`);
    }

    await withLora(gen, async (opt, info) => {
      try {
        const ex = [example(T, 31)];
        const times: number[] = [];
        let loss = NaN;
        let peak = 0;
        for (let s = 0; s < steps; s++) {
          const t1 = performance.now();
          const l = e.scope(() => {
            const out = gen.meanAnswerLoss(ex, {
              ctx: new ForwardContext(true, 100 + s),
              attention: { ratio: 0.25, shift: 'roll' },
            });
            e.backward(out);
            peak = Math.max(peak, e.gpu.pool.inUseBytes - before);
            opt.step();
            opt.zeroGrad();
            return out;
          });
          loss = await l.item();
          l.dispose();
          times.push(performance.now() - t1);
          log(`smollm ${dtype} lora-step T=${T} step ${s + 1}: ${times[s]!.toFixed(0)} ms, loss ${loss.toFixed(4)}`);
        }
        const timed = times.length > 1 ? times.slice(1) : times;
        const ms = timed.reduce((a, b) => a + b, 0) / timed.length;
        rows.push({
          ...base,
          op: 'lora-step',
          B: 1,
          T,
          attention: 's2attn-r0.25',
          trainableParams: info.trainable,
          peakBytes: peak,
          poolTotalBytes: e.gpu.pool.totalBytes,
          firstMs: round(times[0]!, 0),
          ms: round(ms, 0),
          iterations: timed.length,
          tokensPerSec: round(T / (ms / 1000), 2),
          loss: round(loss, 4),
        });
        if (dtype === 'f32')
          notes.push(`SmolLM2-135M LoRA step T=${T} f32 steps (ms): ${times.map((t) => t.toFixed(0)).join(', ')}.`);
      } catch (err) {
        rows.push({ ...base, op: 'lora-step', T, error: errorMessage(err) });
        log(`smollm ${dtype} lora-step failed: ${errorMessage(err)}`);
        e.clearTape();
      }
    });
  } finally {
    gen.model.weights.dispose();
    e.gpu.pool.trim();
  }
}

export async function run(input?: Promise<unknown>): Promise<PageResult> {
  const opts = ((await input) ?? {}) as RealShapesInput;
  const T = opts.T ?? 512;
  const steps = opts.steps ?? 2;
  const dtypes = opts.dtypes ?? ['f32', 'f16'];
  const models = opts.models ?? ['colbert', 'smollm'];
  const gpu = await acquireGpu({ kernels: viteKernels });
  const e = new Engine(gpu);
  const l = gpu.info.limits;
  log(`adapter ${gpu.info.vendor}/${gpu.info.architecture}; T ${T}; steps ${steps}; ${dtypes}; ${models}`);
  const rows: BenchRow[] = [];
  const notes: string[] = [
    `Adapter limits: maxStorageBufferBindingSize ${l.maxStorageBufferBindingSize}, maxBufferSize ${l.maxBufferSize}. Tables over the binding limit are split into row shards (weights.ts).`,
    'plannedBytes: memoryPlanFor (weights as stored + gradients + AdamW state of what trains: nothing for the encoder, the RMSNorm weights for SmolLM); measuredBytes: buffer-pool bytes in use after the load; peakBytes: the most in use during a LoRA step (after its backward, before AdamW frees the tape), including activations and LoRA adapters, which the plan does not count.',
    `Timing: encode and prefill one warm-up then one timed run; lora-step ${steps} steps, ms the mean of all but the first (firstMs, which compiles). Random weights (std ~0.03), random token ids below the fixture tokenizer's vocabulary.`,
  ];
  try {
    for (const dtype of dtypes) {
      if (models.includes('colbert'))
        try {
          await colbertRows(e, dtype, rows, notes);
        } catch (err) {
          rows.push({ op: 'encode', model: 'colbertv2.0', impl: `medrank-${dtype}`, error: errorMessage(err) });
          log(`colbert ${dtype} failed: ${errorMessage(err)}`);
        }
      if (models.includes('smollm'))
        try {
          await smollmRows(e, dtype, T, steps, rows, notes);
        } catch (err) {
          rows.push({ op: 'load', model: 'SmolLM2-135M-Instruct', impl: `medrank-${dtype}`, error: errorMessage(err) });
          log(`smollm ${dtype} failed: ${errorMessage(err)}`);
        }
    }
  } finally {
    gpu.destroy();
  }
  return { bench: 'real-shapes', adapter: adapterOf(gpu), crossOriginIsolated: self.crossOriginIsolated, notes, rows };
}
