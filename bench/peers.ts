// Peers bench page: MedRank against jax-js and TensorFlow.js (webgpu backends) in this one page
// on the same adapter: square f32 matmul GFLOP/s, and one full training step (forward, backward,
// AdamW) of the same small Llama-style model written in each library with the same math, from
// the same initial weights (bench/peers-model.ts), ms per step and the loss after N steps.
// MedRank runs its own model code: DecoderModel.forward + tied LM head + crossEntropy, tape
// backward, AdamW. BENCH_PEERS_* (read by bench/run.ts, handed in as the page's input) shrink it.
// B = batch, T = tokens, D = hidden size, H = heads, Dh = head dim, F = intermediate, V = vocab.

import { acquireGpu, type Gpu } from '../src/gpu/device';
import { viteKernels } from '../src/gpu/kernels-vite';
import { parseConfig, type DecoderConfig } from '../src/models/config';
import { DecoderModel } from '../src/models/decoder';
import { Weights } from '../src/models/weights';
import { crossEntropy } from '../src/tensor/ops/cross-entropy';
import { matmulInto } from '../src/tensor/ops/matmul';
import { AdamW } from '../src/tensor/optim/adamw';
import { Engine } from '../src/tensor/tensor';
import { adapterOf, errorMessage, measure, randomUniform, round, type Impl } from './common';
import type { BenchRow, PageResult } from './page';
import { initJax, jaxMatmul, jaxTrain } from './peers-jax';
import { makeProblem, type PeerProblem, type PeerShape, type TrainImpl } from './peers-model';
import { initTfjs, tfjsMatmul, tfjsTrain } from './peers-tfjs';

const log = (msg: string) => console.log(`[bench peers] ${msg}`);

/** What bench/run.ts hands in (from BENCH_PEERS_*); absent fields take the issue's shape. */
export interface PeersInput {
  sizes?: number[];
  steps?: number;
  B?: number;
  T?: number;
  /** Which train-step impls to run (default all three). */
  impls?: string[];
  /** One extra, untimed MedRank step with kernel timestamps (default true). */
  profile?: boolean;
}

const ADAM = { lr: 1e-3, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.01 };
const CHECK = 128; // matmul output entries compared with float64 dot products

/**
 * Compute dispatches and queue submits by every library in this page (all three use WebGPU), counted
 * by wrapping GPUComputePassEncoder.dispatchWorkgroups and GPUQueue.submit once.
 */
const counts = { dispatches: 0, submits: 0 };
function countGpuCalls(): void {
  const pass = GPUComputePassEncoder.prototype;
  const queue = GPUQueue.prototype;
  const dispatch = pass.dispatchWorkgroups;
  const submit = queue.submit;
  pass.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...args: Parameters<typeof dispatch>) {
    counts.dispatches++;
    return dispatch.apply(this, args);
  };
  queue.submit = function (this: GPUQueue, ...args: Parameters<typeof submit>) {
    counts.submits++;
    return submit.apply(this, args);
  };
}

/** GPU time by MedRank kernel over one extra, untimed step (timestamp-query; one pass per dispatch while on). */
async function medrankKernelShares(e: Engine, run: () => Promise<unknown>): Promise<string> {
  const timer = e.gpu.timer;
  if (!timer) return 'medrank kernel shares: the adapter has no timestamp-query.';
  await timer.collect();
  timer.enabled = true;
  try {
    await run();
  } finally {
    timer.enabled = false;
  }
  const byKernel = Object.entries(await timer.collect()).sort((a, b) => b[1].ms - a[1].ms);
  const total = byKernel.reduce((a, [, k]) => a + k.ms, 0);
  const top = byKernel.slice(0, 8).map(([name, k]) => `${name} ${((100 * k.ms) / total).toFixed(0)}% (${k.count}x)`);
  return `medrank train-step GPU time by kernel (one extra profiled step, ${total.toFixed(0)} ms of kernel time): ${top.join(', ')}.`;
}

function medrankMatmul(gpu: Gpu, engine: Engine, A: Float32Array, B: Float32Array, n: number): Impl {
  const bytes = n * n * 4;
  const [a, b, c] = [gpu.alloc(bytes), gpu.alloc(bytes), gpu.alloc(bytes)];
  gpu.write(a, A);
  gpu.write(b, B);
  return {
    async run() {
      matmulInto(
        engine,
        a,
        b,
        c,
        { M: n, N: n, K: n, batch: 1, strideA: 0, strideB: 0 },
        { transA: false, transB: false, accumulate: false, alpha: 1 },
      );
      await gpu.sync();
    },
    result: () => gpu.readF32(c, n * n),
    dispose() {
      for (const x of [a, b, c]) gpu.release(x);
    },
  };
}

function medrankTrain(e: Engine, p: PeerProblem): TrainImpl {
  const { B, T, D, H, Dh, F, V, L, eps, theta } = p.shape;
  const config = parseConfig({
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: V,
    hidden_size: D,
    intermediate_size: F,
    num_hidden_layers: L,
    num_attention_heads: H,
    num_key_value_heads: H,
    head_dim: Dh,
    hidden_act: 'silu',
    max_position_embeddings: 2048,
    rms_norm_eps: eps,
    rope_theta: theta,
    tie_word_embeddings: true,
    attention_bias: false,
    mlp_bias: false,
  }) as DecoderConfig;
  const weights = new Weights(e);
  for (const [name, w] of p.weights) weights.set(name, e.tensor(w.data, w.shape, { name }).keep());
  const model = new DecoderModel(config, weights);
  const params = weights.setTrainable(() => true);
  const opt = new AdamW(e, params, { lr: ADAM.lr, betas: [ADAM.b1, ADAM.b2], eps: ADAM.eps, weightDecay: ADAM.wd });
  return {
    async step() {
      const l = e.scope(() => {
        const hidden = model.forward(p.ids, B, T).reshape([B * T, D]);
        const loss = crossEntropy(model.logits(hidden), p.targets);
        e.backward(loss);
        opt.step();
        opt.zeroGrad();
        return loss;
      });
      const out = await l.item();
      l.dispose();
      return out;
    },
    dispose() {
      opt.dispose();
      model.dispose();
    },
  };
}

function reference(A: Float32Array, B: Float32Array, n: number): Array<{ idx: number; want: number }> {
  return Array.from({ length: CHECK }, (_, t) => {
    const i = (t * 7919) % n,
      j = (t * 104729 + 13) % n;
    let acc = 0;
    for (let k = 0; k < n; k++) acc += A[i * n + k]! * B[k * n + j]!;
    return { idx: i * n + j, want: acc };
  });
}

export async function run(input?: Promise<unknown>): Promise<PageResult> {
  const opts = ((await input) ?? {}) as PeersInput;
  const sizes = opts.sizes ?? [256, 512, 1024];
  const steps = opts.steps ?? 20;
  const shape: PeerShape = {
    B: opts.B ?? 8,
    T: opts.T ?? 128,
    D: 256,
    H: 4,
    Dh: 64,
    F: 688,
    V: 8192,
    L: 4,
    eps: 1e-5,
    theta: 10000,
  };
  const trainImpls = opts.impls ?? ['medrank', 'jax-js', 'tfjs-webgpu'];

  const gpu = await acquireGpu({ kernels: viteKernels });
  const e = new Engine(gpu);
  await initJax();
  await initTfjs();
  countGpuCalls();
  log(`adapter ${gpu.info.vendor}/${gpu.info.architecture}; sizes ${sizes}; steps ${steps}; B ${shape.B} T ${shape.T}`);
  const rows: BenchRow[] = [];
  const notes: string[] = [];

  try {
    for (const n of sizes) {
      const [A, Bm] = [randomUniform(n * n, 1), randomUniform(n * n, 2)];
      const ref = reference(A, Bm, n);
      const makers: Array<[string, () => Impl]> = [
        ['medrank', () => medrankMatmul(gpu, e, A, Bm, n)],
        ['jax-js', () => jaxMatmul(A, Bm, n)],
        ['tfjs-webgpu', () => tfjsMatmul(A, Bm, n)],
      ];
      for (const [impl, make] of makers) {
        try {
          const m = make();
          try {
            const { ms, iterations } = await measure(() => m.run());
            const C = await m.result();
            const maxAbsDiff = Math.max(...ref.map(({ idx, want }) => Math.abs(C[idx]! - want)));
            const gflops = (2 * n ** 3) / (ms / 1000) / 1e9;
            rows.push({ op: 'matmul', size: n, impl, gflops: round(gflops, 3), ms: round(ms, 2), iterations, maxAbsDiff });
            log(`matmul n=${n} ${impl}: ${gflops.toFixed(3)} GFLOP/s, ${ms.toFixed(1)} ms x${iterations}`);
          } finally {
            m.dispose();
          }
        } catch (err) {
          rows.push({ op: 'matmul', size: n, impl, error: errorMessage(err) });
          log(`matmul n=${n} ${impl}: failed: ${errorMessage(err)}`);
        }
      }
    }

    const problem = makeProblem(shape, ADAM);
    const makers: Record<string, () => TrainImpl> = {
      medrank: () => medrankTrain(e, problem),
      'jax-js': () => jaxTrain(problem),
      'tfjs-webgpu': () => tfjsTrain(problem),
    };
    const losses = new Map<string, number[]>();
    for (const impl of trainImpls) {
      try {
        const t = makers[impl]!();
        try {
          const curve: number[] = [];
          const times: number[] = [];
          let perStep = { dispatches: 0, submits: 0 };
          for (let s = 0; s < steps; s++) {
            const before = { ...counts };
            const t0 = performance.now();
            curve.push(await t.step());
            times.push(performance.now() - t0);
            perStep = { dispatches: counts.dispatches - before.dispatches, submits: counts.submits - before.submits };
            log(`train-step ${impl} step ${s + 1}: ${times.at(-1)!.toFixed(0)} ms, loss ${curve.at(-1)!.toFixed(5)}`);
          }
          // Step 1 compiles pipelines (and jax-js's jit); the mean is over the rest.
          const timed = times.length > 1 ? times.slice(1) : times;
          const ms = timed.reduce((a, b) => a + b, 0) / timed.length;
          losses.set(impl, curve);
          rows.push({
            op: 'train-step',
            impl,
            B: shape.B,
            T: shape.T,
            steps,
            ms: round(ms, 1),
            firstMs: round(times[0]!, 1),
            iterations: timed.length,
            loss0: round(curve[0]!, 5),
            loss: round(curve.at(-1)!, 5),
            dispatches: perStep.dispatches,
            submits: perStep.submits,
          });
          if (impl === 'medrank' && opts.profile !== false) notes.push(await medrankKernelShares(e, () => t.step()));
        } finally {
          t.dispose();
        }
      } catch (err) {
        rows.push({ op: 'train-step', impl, B: shape.B, T: shape.T, error: errorMessage(err) });
        log(`train-step ${impl}: failed: ${errorMessage(err)}`);
      }
    }
    // The check that the math is the same: every step's loss, across impls.
    const curves = [...losses.values()];
    let maxLossDiff = 0;
    for (let s = 0; s < steps; s++) {
      const at = curves.map((c) => c[s]!);
      maxLossDiff = Math.max(maxLossDiff, Math.max(...at) - Math.min(...at));
    }
    for (const r of rows) if (r.op === 'train-step' && r.error === undefined && curves.length > 1) r.maxLossDiff = maxLossDiff;
    notes.push(
      `train-step maxLossDiff: the largest spread between impls of the loss at any of the ${steps} steps: ${maxLossDiff.toExponential(2)}.`,
    );
    for (const [impl, c] of losses) notes.push(`train-step ${impl} losses: ${c.map((x) => x.toFixed(5)).join(', ')}.`);
    const best = (op: string, size?: number): string => {
      const rs = rows.filter((r) => r.op === op && r.size === size && r.error === undefined);
      const mr = rs.find((r) => r.impl === 'medrank');
      const peers = rs.filter((r) => r.impl !== 'medrank');
      if (!mr || peers.length === 0) return `${op}${size ? ` ${size}` : ''}: no comparison`;
      if (op === 'matmul') {
        const top = peers.reduce((a, b) => ((a.gflops as number) > (b.gflops as number) ? a : b));
        return `matmul ${size}: medrank / fastest peer (${top.impl}) = ${((mr.gflops as number) / (top.gflops as number)).toFixed(2)}x`;
      }
      const top = peers.reduce((a, b) => ((a.ms as number) < (b.ms as number) ? a : b));
      return `train-step: fastest peer (${top.impl}) ms / medrank ms = ${((top.ms as number) / (mr.ms as number)).toFixed(2)}x`;
    };
    notes.push(`speedups (goal 1.5x): ${[...sizes.map((n) => best('matmul', n)), best('train-step')].join('; ')}.`);
  } finally {
    gpu.destroy();
  }
  notes.push(
    'matmul: inputs uploaded once; medrank times matmulInto + gpu.sync(); jax-js times a jit-compiled np.matmul + blockUntilReady(); ' +
      'tfjs times tf.matMul + reading a 1-element slice of C (await data()). One warm-up, then up to 10 runs or 2 s; maxAbsDiff at ' +
      `${CHECK} sampled entries against float64 dot products.`,
    `train-step: Llama, ${shape.L} layers, hidden ${shape.D}, ${shape.H} heads (= kv heads), head dim ${shape.Dh}, intermediate ${shape.F}, vocab ${shape.V}, ` +
      `tied embeddings, RMSNorm (eps 1e-5), RoPE (theta 1e4, rotate_half), SwiGLU, f32; B = ${shape.B}, T = ${shape.T}; ` +
      'loss = mean next-token cross-entropy over all B·T tokens; AdamW lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01 on every weight, no clipping. ' +
      `Same initial weights and tokens (mulberry32) in each. ms: mean of steps 2..${steps} (step 1, which compiles, is firstMs); a step ends when its loss is read back. ` +
      `loss0: step 1's loss (the initial weights); loss: step ${steps}'s loss (after ${steps - 1} updates).`,
    'dispatches, submits: compute dispatches and queue submits of the last timed step, counted by wrapping GPUComputePassEncoder.dispatchWorkgroups and GPUQueue.submit.',
    'On a software adapter (SwiftShader) GPU numbers are CPU numbers: compare ratios within one run.',
  );
  return { bench: 'peers', adapter: adapterOf(gpu), crossOriginIsolated: self.crossOriginIsolated, notes, rows };
}
