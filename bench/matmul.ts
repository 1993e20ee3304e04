// Matmul bench page: GFLOP/s of square f32 matmul (M = N = K = n) for MedRank's kernel,
// onnxruntime-web (webgpu and wasm EPs) and a plain JS loop, all in this one page.
// n = matrix size; A, B, C are [n, n] row-major.

import * as ort from 'onnxruntime-web';
import { acquireGpu, type Gpu } from '../src/gpu/device';
import { viteKernels } from '../src/gpu/kernels-vite';
import { Engine } from '../src/tensor/tensor';
import { matmulInto } from '../src/tensor/ops/matmul';
import { adapterOf, measure, randomUniform, round, setupOrt, type Impl } from './common';
import { oneNodeModel } from './onnx-model';
import type { BenchRow, PageResult } from './page';

const SIZES = [256, 512, 1024];
const CHECK_ENTRIES = 256; // output entries compared with a float64 dot product

const log = (msg: string) => console.log(`[bench matmul] ${msg}`);

const randomMatrix = (n: number, seed: number): Float32Array => randomUniform(n * n, seed);

/** Entries to check, and their float64 reference values. */
function reference(A: Float32Array, B: Float32Array, n: number): Array<{ idx: number; want: number }> {
  const out = [];
  for (let t = 0; t < CHECK_ENTRIES; t++) {
    const i = (t * 7919) % n;
    const j = (t * 104729 + 13) % n;
    let acc = 0;
    for (let k = 0; k < n; k++) acc += A[i * n + k]! * B[k * n + j]!;
    out.push({ idx: i * n + j, want: acc });
  }
  return out;
}

function maxAbsDiff(C: Float32Array, ref: Array<{ idx: number; want: number }>): number {
  let m = 0;
  for (const { idx, want } of ref) {
    const d = Math.abs(C[idx]! - want);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

function medrankImpl(gpu: Gpu, engine: Engine, A: Float32Array, B: Float32Array, n: number): Impl {
  const bytes = n * n * 4;
  const [a, b, c] = [gpu.alloc(bytes), gpu.alloc(bytes), gpu.alloc(bytes)];
  gpu.write(a, A);
  gpu.write(b, B);
  const dims = { M: n, N: n, K: n, batch: 1, strideA: 0, strideB: 0 };
  const flags = { transA: false, transB: false, accumulate: false, alpha: 1 };
  return {
    async run() {
      matmulInto(engine, a, b, c, dims, flags);
      await gpu.sync();
    },
    result: () => gpu.readF32(c, n * n),
    dispose() {
      for (const buf of [a, b, c]) gpu.release(buf);
    },
  };
}

async function ortImpl(ep: 'webgpu' | 'wasm', A: Float32Array, B: Float32Array, n: number): Promise<Impl> {
  const model = oneNodeModel({
    opType: 'MatMul',
    inputs: [
      { name: 'A', shape: [n, n] },
      { name: 'B', shape: [n, n] },
    ],
    outputs: [{ name: 'C', shape: [n, n] }],
  });
  const session = await ort.InferenceSession.create(model, { executionProviders: [ep], graphOptimizationLevel: 'all' });
  // Inputs stay on the CPU and the output comes back to it: ORT's upload and download are timed.
  const feeds = { A: new ort.Tensor('float32', A, [n, n]), B: new ort.Tensor('float32', B, [n, n]) };
  let last: Float32Array | null = null;
  return {
    async run() {
      const out = await session.run(feeds);
      last = (await out.C!.getData()) as Float32Array;
    },
    result: async () => last!,
    dispose: () => session.release(),
  };
}

function jsImpl(A: Float32Array, B: Float32Array, n: number): Impl {
  const C = new Float32Array(n * n);
  return {
    async run() {
      C.fill(0);
      // i-k-j: the inner loop walks B and C rows contiguously.
      for (let i = 0; i < n; i++) {
        const ci = i * n;
        for (let k = 0; k < n; k++) {
          const aik = A[ci + k]!;
          const bk = k * n;
          for (let j = 0; j < n; j++) C[ci + j]! += aik * B[bk + j]!;
        }
      }
    },
    result: async () => C,
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
    for (const n of SIZES) {
      const [A, B] = [randomMatrix(n, 1), randomMatrix(n, 2)];
      const ref = reference(A, B, n);
      const makers: Array<[string, () => Impl | Promise<Impl>]> = [
        ['medrank', () => medrankImpl(gpu, engine, A, B, n)],
        ['ort-webgpu', () => ortImpl('webgpu', A, B, n)],
        ['ort-wasm', () => ortImpl('wasm', A, B, n)],
        ['js', () => jsImpl(A, B, n)],
      ];
      for (const [name, make] of makers) {
        const impl = await make();
        try {
          const { ms, iterations } = await measure(() => impl.run());
          const diff = maxAbsDiff(await impl.result(), ref);
          const gflops = (2 * n ** 3) / (ms / 1000) / 1e9;
          rows.push({
            op: 'matmul',
            size: n,
            impl: name,
            gflops: round(gflops, 3),
            ms: round(ms, 2),
            iterations,
            maxAbsDiff: diff,
          });
          log(
            `n=${n} ${name}: ${gflops.toFixed(3)} GFLOP/s, ${ms.toFixed(1)} ms x${iterations}, maxAbsDiff ${diff.toExponential(2)}`,
          );
        } finally {
          await impl.dispose();
        }
      }
    }
  } finally {
    gpu.destroy();
  }

  return {
    bench: 'matmul',
    adapter: adapterOf(gpu),
    crossOriginIsolated: self.crossOriginIsolated,
    notes: [
      'medrank: matmul_forward kernel via matmulInto on preallocated GPU buffers; ms includes submit and gpu.sync(), no transfers.',
      'ort-webgpu, ort-wasm: onnxruntime-web session.run of a one-node MatMul model with CPU inputs and outputs; ms includes ORT upload and download.',
      `ort-wasm threads: ${threads}.`,
      `maxAbsDiff: against float64 dot products at ${CHECK_ENTRIES} sampled output entries; inputs uniform in [-1, 1).`,
      'On a software adapter (SwiftShader) GPU numbers are CPU numbers: compare ratios within one run.',
    ],
    rows,
  };
}
