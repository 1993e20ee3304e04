// MaxSim bench page: documents scored per second by ColBERT late interaction, for MedRank's fused
// maxsim kernel, the same computation composed from MedRank's matmul and reduce ops,
// onnxruntime-web (webgpu and wasm EPs) running MatMul + ReduceMax + ReduceSum, and a plain JS loop.
// N = documents, L = tokens per document, LQ = query tokens, DIM = vector dim; one query (B = 1),
// every query token unmasked, all vectors random unit vectors.
// score[n] = sum_i max_t <q_i, d_{n,t}>.

import * as ort from 'onnxruntime-web';
import { acquireGpu } from '../src/gpu/device';
import { viteKernels } from '../src/gpu/kernels-vite';
import { maxsim } from '../src/tensor/ops/maxsim';
import { matmul } from '../src/tensor/ops/matmul';
import { max as reduceMax } from '../src/tensor/ops/reduce';
import { Engine, Tensor } from '../src/tensor/tensor';
import { adapterOf, errorMessage, measure, randomUniform, round, setupOrt, type Impl } from './common';
import { graphModel } from './onnx-model';
import type { BenchRow, PageResult } from './page';

const SIZES = [1000, 10000];
const L = 128;
const LQ = 32;
const DIM = 128;
const CHECK_DOCS = 64; // scores compared with a float64 reference

const log = (msg: string) => console.log(`[bench maxsim] ${msg}`);

/** `rows` random unit vectors of DIM, row-major. */
function unitVectors(rows: number, seed: number): Float32Array {
  const v = randomUniform(rows * DIM, seed);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let j = 0; j < DIM; j++) ss += v[r * DIM + j]! ** 2;
    const inv = 1 / Math.sqrt(ss);
    for (let j = 0; j < DIM; j++) v[r * DIM + j]! *= inv;
  }
  return v;
}

/** float64 MaxSim scores of the first `count` documents. */
function reference(q: Float32Array, docs: Float32Array, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let n = 0; n < count; n++) {
    let score = 0;
    for (let i = 0; i < LQ; i++) {
      let best = -Infinity;
      for (let t = 0; t < L; t++) {
        const d = (n * L + t) * DIM;
        let dot = 0;
        for (let j = 0; j < DIM; j++) dot += q[i * DIM + j]! * docs[d + j]!;
        best = Math.max(best, dot);
      }
      score += best;
    }
    out[n] = score;
  }
  return out;
}

function maxAbsDiff(got: Float32Array, want: Float64Array): number {
  if (got.length < want.length) return Infinity;
  let m = 0;
  for (let n = 0; n < want.length; n++) {
    const d = Math.abs(got[n]! - want[n]!);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

/** An f32 tensor holding `data`, uploaded without the extra host copy engine.tensor() makes. */
function upload(e: Engine, data: Float32Array, shape: number[]): Tensor {
  const t = e.empty(shape);
  e.gpu.write(t.buffer, data);
  return t;
}

/** The token matrix from MedRank's pool (eight buckets per power of two: 655 MB takes a 671 MB buffer). */
function uploadDocs(e: Engine, docs: Float32Array, N: number): Tensor {
  return upload(e, docs, [N * L, DIM]);
}

/** Shared by both MedRank impls: free the tensors, then hand pooled buffers back to the driver. */
function release(e: Engine, tensors: Array<Tensor | null>, docs: Tensor): void {
  for (const t of tensors) t?.dispose();
  docs.dispose();
  e.gpu.pool.trim();
}

function fusedImpl(e: Engine, q: Float32Array, docs: Float32Array, N: number): Impl {
  const qT = upload(e, q, [1, LQ, DIM]);
  const mask = e.full([1, LQ], 1);
  const docsT = uploadDocs(e, docs, N);
  const offsets = Int32Array.from({ length: N + 1 }, (_, n) => n * L);
  let last: Tensor | null = null;
  return {
    async run() {
      last?.dispose();
      last = e.noGrad(() => maxsim(qT, mask, docsT, offsets));
      await e.gpu.sync();
    },
    result: () => last!.read(),
    dispose: () => release(e, [qT, mask, last], docsT),
  };
}

function unfusedImpl(e: Engine, q: Float32Array, docs: Float32Array, N: number): Impl {
  const qT = upload(e, q, [LQ, DIM]);
  const ones = e.full([1, LQ], 1);
  const docsT = uploadDocs(e, docs, N);
  let last: Tensor | null = null;
  return {
    async run() {
      last?.dispose();
      last = e.noGrad(() =>
        e.scope(() => {
          const sim = matmul(qT, docsT.T); // [LQ, N * L], docs read transposed in place
          const best = reduceMax(sim.reshape([LQ, N, L])); // [LQ, N]
          return matmul(ones, best); // [1, N]: the sum over query tokens
        }),
      );
      await e.gpu.sync();
    },
    result: () => last!.read(),
    dispose: () => release(e, [qT, ones, last], docsT),
  };
}

/**
 * S [N, L, LQ] = D [N, L, DIM] @ Qt [DIM, LQ]; ReduceMax over L; ReduceSum over LQ. Opset 17:
 * ReduceMax takes axes as an attribute, ReduceSum (opset 13+) as an int64 input.
 */
function maxsimModel(N: number): Uint8Array {
  return graphModel({
    name: 'maxsim',
    opset: 17,
    inputs: [
      { name: 'D', shape: [N, L, DIM] },
      { name: 'Qt', shape: [DIM, LQ] },
    ],
    outputs: [{ name: 'scores', shape: [N] }],
    int64Initializers: [{ name: 'axis1', dims: [1], values: [1] }],
    nodes: [
      { opType: 'MatMul', inputs: ['D', 'Qt'], outputs: ['S'] },
      { opType: 'ReduceMax', inputs: ['S'], outputs: ['M'], attributes: { axes: [1], keepdims: 0 } },
      { opType: 'ReduceSum', inputs: ['M', 'axis1'], outputs: ['scores'], attributes: { keepdims: 0 } },
    ],
  });
}

async function ortImpl(ep: 'webgpu' | 'wasm', q: Float32Array, docs: Float32Array, N: number): Promise<Impl> {
  const qt = new Float32Array(DIM * LQ);
  for (let i = 0; i < LQ; i++) for (let j = 0; j < DIM; j++) qt[j * LQ + i] = q[i * DIM + j]!;
  const session = await ort.InferenceSession.create(maxsimModel(N), { executionProviders: [ep], graphOptimizationLevel: 'all' });
  // Inputs stay on the CPU and the output comes back to it: ORT's upload and download are timed.
  const feeds = { D: new ort.Tensor('float32', docs, [N, L, DIM]), Qt: new ort.Tensor('float32', qt, [DIM, LQ]) };
  let last: Float32Array | null = null;
  return {
    async run() {
      const out = await session.run(feeds);
      last = (await out.scores!.getData()) as Float32Array;
      out.scores!.dispose();
    },
    result: async () => last!,
    dispose: () => session.release(),
  };
}

function jsImpl(q: Float32Array, docs: Float32Array, N: number): Impl {
  const scores = new Float32Array(N);
  const best = new Float32Array(LQ);
  return {
    async run() {
      for (let n = 0; n < N; n++) {
        best.fill(-Infinity);
        for (let t = 0; t < L; t++) {
          const d = (n * L + t) * DIM;
          for (let i = 0; i < LQ; i++) {
            const qi = i * DIM;
            let dot = 0;
            for (let j = 0; j < DIM; j++) dot += q[qi + j]! * docs[d + j]!;
            if (dot > best[i]!) best[i] = dot;
          }
        }
        let s = 0;
        for (let i = 0; i < LQ; i++) s += best[i]!;
        scores[n] = s;
      }
    },
    result: async () => scores,
    dispose() {},
  };
}

export async function run(): Promise<PageResult> {
  const gpu = await acquireGpu({ kernels: viteKernels });
  const engine = new Engine(gpu);
  const threads = setupOrt();
  log(`adapter ${gpu.info.vendor}/${gpu.info.architecture}, crossOriginIsolated=${self.crossOriginIsolated}`);

  const rows: BenchRow[] = [];
  try {
    for (const N of SIZES) {
      // One copy of the data per N, shared by every impl (655 MB of f32 at N = 10000).
      const q = unitVectors(LQ, 1);
      const docs = unitVectors(N * L, 2);
      const ref = reference(q, docs, CHECK_DOCS);
      const makers: Array<[string, () => Impl | Promise<Impl>]> = [
        ['medrank-fused', () => fusedImpl(engine, q, docs, N)],
        ['medrank-unfused', () => unfusedImpl(engine, q, docs, N)],
        ['ort-webgpu', () => ortImpl('webgpu', q, docs, N)],
        ['ort-wasm', () => ortImpl('wasm', q, docs, N)],
        ['js', () => jsImpl(q, docs, N)],
      ];
      for (const [impl, make] of makers) {
        let made: Impl | null = null;
        try {
          made = await make();
          const it = made;
          // One untimed warm-up at every N: even with compiled pipelines, the first run over a fresh
          // 655 MB buffer is ~1.5x slower on SwiftShader (measured: 10.8 s vs 7.3 s at N = 10000).
          const { ms, iterations } = await measure(() => it.run());
          const diff = maxAbsDiff(await it.result(), ref);
          const docsPerSec = N / (ms / 1000);
          rows.push({ op: 'maxsim', N, impl, docsPerSec: round(docsPerSec, 1), ms: round(ms, 2), iterations, maxAbsDiff: diff });
          log(
            `N=${N} ${impl}: ${docsPerSec.toFixed(0)} docs/s, ${ms.toFixed(1)} ms x${iterations}, maxAbsDiff ${diff.toExponential(2)}`,
          );
        } catch (e) {
          // A failure (e.g. a buffer limit at N = 10000) is a result too; the other impls still run.
          rows.push({ op: 'maxsim', N, impl, error: errorMessage(e) });
          log(`N=${N} ${impl}: failed: ${errorMessage(e)}`);
        } finally {
          try {
            await made?.dispose();
          } catch (e) {
            log(`N=${N} ${impl}: dispose failed: ${errorMessage(e)}`);
          }
        }
      }
    }
  } finally {
    gpu.destroy();
  }

  return {
    bench: 'maxsim',
    adapter: adapterOf(gpu),
    crossOriginIsolated: self.crossOriginIsolated,
    notes: [
      `Shapes: one query of Lq = ${LQ} tokens (all unmasked), N documents of L = ${L} tokens each, dim = ${DIM}; random unit vectors. ` +
        `Work per query: 2 * Lq * dim * N * L flops (${((2 * LQ * DIM * L) / 1e6).toFixed(2)} MFLOP per document).`,
      'docsPerSec = N / (ms / 1000); ms is the mean of timed iterations (until 2 s have passed or 10 runs, at least one) after one untimed warm-up per impl and N.',
      "medrank-*: every tensor, the 655 MB token matrix included, comes from MedRank's buffer pool.",
      'medrank-fused: maxsim() (kernels/maxsim_forward.wgsl) under engine.noGrad, inputs already on the GPU; ms includes gpu.sync(), no readback.',
      'medrank-unfused: MedRank ops composed: matmul(Q [Lq, dim], D^T) -> [Lq, N*L], reshape [Lq, N, L], max over L (reduce.ts), ' +
        'then ones [1, Lq] @ [Lq, N] for the sum over query tokens; inputs on the GPU, ms includes gpu.sync().',
      'ort-webgpu, ort-wasm: onnxruntime-web session.run of MatMul(D [N, L, dim], Qt [dim, Lq]) -> ReduceMax(axis 1) -> ReduceSum(axis 1), opset 17, ' +
        'inputs and output on the CPU: ms includes ORT copying the 4*N*L*dim-byte token matrix in (and to the GPU for webgpu) on every run, and the scores out.',
      `ort-wasm threads: ${threads}.`,
      'js: plain Float32Array loops, single thread.',
      `maxAbsDiff: the first ${CHECK_DOCS} scores against a float64 JS reference.`,
      'A row with an error field records an impl that failed at that size (e.g. a buffer limit) instead of timings.',
      'On a software adapter (SwiftShader) GPU numbers are CPU numbers: compare ratios within one run.',
    ],
    rows,
  };
}
