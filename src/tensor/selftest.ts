// The in-page kernel self-test: each case runs one op on small seeded random inputs on the GPU,
// forward and (where the case gives a CPU backward) backward, and compares every output with its
// CPU twin under an explicit tolerance. The app runs it in the engine worker so a user can see
// that the kernels are right on *their* adapter, not only on the CI's.
//
// Adding an op is one object in SELFTEST_CASES: input shapes, the GPU call, the CPU twin, and
// optionally the CPU backward (which returns one gradient per input that requires grad).

import { mulberry32 } from './random';
import { matmul } from './ops/matmul';
import { add, bias, mul, scale, sub } from './ops/binary';
import { gelu, geluTanh, relu, silu, swiglu, type UnaryOp } from './ops/activations';
import { max, mean, sum, type ReduceOp } from './ops/reduce';
import { logSoftmax, softmax } from './ops/softmax';
import { crossEntropy } from './ops/cross-entropy';
import { embedding } from './ops/embedding';
import { concat } from './ops/concat';
import { maxsim } from './ops/maxsim';
import { l2normalize, layernorm, rmsnorm } from './ops/norms';
import { rope, ropeTables } from './ops/rope';
import { dropout } from './ops/dropout';
import { s2attn } from './ops/s2attn';
import { AdamW } from './optim/adamw';
import { matmulBackwardCpu, matmulForwardCpu, type MatmulCpuOptions } from './cpu/matmul';
import { binaryBackwardCpu, binaryForwardCpu } from './cpu/binary';
import { swigluBackwardCpu, swigluForwardCpu, unaryBackwardCpu, unaryForwardCpu } from './cpu/activations';
import { reduceBackwardCpu, reduceForwardCpu } from './cpu/reduce';
import { logSoftmaxBackwardCpu, logSoftmaxForwardCpu, softmaxBackwardCpu, softmaxForwardCpu } from './cpu/softmax';
import { crossEntropyBackwardCpu, crossEntropyForwardCpu, type CrossEntropyCpuOptions } from './cpu/cross-entropy';
import { embeddingBackwardCpu, embeddingForwardCpu } from './cpu/embedding';
import { concatBackwardCpu, concatCpu } from './cpu/concat';
import { maxsimBackwardCpu, maxsimForwardCpu } from './cpu/maxsim';
import {
  l2normalizeBackwardCpu,
  l2normalizeForwardCpu,
  layernormBackwardCpu,
  layernormForwardCpu,
  rmsnormBackwardCpu,
  rmsnormForwardCpu,
} from './cpu/norms';
import { ropeBackwardCpu, ropeForwardCpu } from './cpu/rope';
import { dropoutBackwardCpu, dropoutForwardCpu } from './cpu/dropout';
import { s2attnBackwardCpu, s2attnForwardCpu, type S2AttnCpuOptions } from './cpu/s2attn';
import { adamwStepCpu, type AdamWCpuOptions } from './cpu/adamw';
import type { CpuTensor } from './cpu/types';
import type { Engine, Tensor } from './tensor';

/** One input: a shape of N(0,1) values, or integers in [0, int) (indices, targets; never require grad). */
export type SelfTestInput = number[] | { shape: number[]; int?: number; scale?: number; grad?: boolean };

export interface Tolerance {
  atol: number;
  rtol?: number;
}

export interface SelfTestCase {
  name: string;
  inputs: SelfTestInput[];
  /** Forward tolerance; also the gradients' unless gradTol is given. */
  tol: Tolerance;
  gradTol?: Tolerance;
  gpu: (x: Tensor[], e: Engine) => Tensor;
  cpu: (x: CpuTensor[]) => CpuTensor;
  /** Gradients of sum(g * out) with respect to each input that requires grad, in input order. */
  cpuBackward?: (x: CpuTensor[], g: CpuTensor) => CpuTensor[];
}

export interface SelfTestResult {
  name: string;
  pass: boolean;
  /** Largest |gpu - cpu| over the forward output and all gradients. */
  maxAbsDiff: number;
  /** GPU wall time for the case (upload, forward, backward, readback; first use includes pipeline compiles). */
  ms: number;
  /** Which comparison failed first, or the error thrown. */
  detail?: string;
}

const mm = (name: string, a: number[], b: number[], opts: MatmulCpuOptions = {}): SelfTestCase => ({
  name,
  inputs: [a, b],
  tol: { atol: 1e-4, rtol: 1e-4 },
  gpu: ([x, y]) => matmul(x!, y!, opts),
  cpu: ([x, y]) => matmulForwardCpu(x!, y!, opts),
  cpuBackward: ([x, y], g) => {
    const { da, db } = matmulBackwardCpu(x!, y!, g, opts);
    return [da, db];
  },
});

const BINARY = { add, sub, mul };

const bin = (name: string, op: keyof typeof BINARY, a: number[], b: number[]): SelfTestCase => ({
  name,
  inputs: [a, b],
  tol: { atol: 1e-5, rtol: 1e-5 },
  gpu: ([x, y]) => BINARY[op](x!, y!),
  cpu: ([x, y]) => binaryForwardCpu(op, x!, y!),
  cpuBackward: ([x, y], g) => {
    const { da, db } = binaryBackwardCpu(op, x!, y!, g);
    return [da, db];
  },
});

const REDUCE = { sum, mean, max };

const red = (op: ReduceOp, shape: number[]): SelfTestCase => ({
  name: `${op} [${shape}] (last dim)`,
  inputs: [shape],
  tol: { atol: 1e-4, rtol: 1e-4 },
  gpu: ([x]) => REDUCE[op](x!),
  cpu: ([x]) => reduceForwardCpu(op, x!).out,
  cpuBackward: ([x], g) => [reduceBackwardCpu(op, x!, g)],
});

// Activation tolerances from test/gpu/activations.test.ts (the CPU twins are f64 with an f64 erf).
const ACT_TOL: Tolerance = { atol: 2e-6, rtol: 2e-6 };
const ACT_GRAD_TOL: Tolerance = { atol: 5e-6, rtol: 5e-6 };
const UNARY: Record<UnaryOp, (x: Tensor) => Tensor> = { gelu, gelu_tanh: geluTanh, silu, relu };

const unary = (op: UnaryOp, shape: number[]): SelfTestCase => ({
  name: `${op} [${shape}]`,
  inputs: [shape],
  tol: ACT_TOL,
  gradTol: ACT_GRAD_TOL,
  gpu: ([x]) => UNARY[op](x!),
  cpu: ([x]) => unaryForwardCpu(op, x!),
  cpuBackward: ([x], g) => [unaryBackwardCpu(op, x!, g)],
});

const ce = (name: string, shape: number[], targets: number[], opts: CrossEntropyCpuOptions = {}): SelfTestCase => ({
  name,
  inputs: [{ shape, scale: 2 }],
  tol: { atol: 1e-4, rtol: 1e-5 },
  gradTol: { atol: 1e-6, rtol: 1e-4 },
  gpu: ([x]) => crossEntropy(x!, targets, opts),
  cpu: ([x]) => crossEntropyForwardCpu(x!, targets, opts),
  cpuBackward: ([x], g) => [crossEntropyBackwardCpu(x!, targets, g, opts)],
});

// Host-side constants some cases share between the GPU call and the CPU twin.
/** 0/1 key-padding mask over x [4, 3, 300]; batch 2 is fully masked. */
const SOFTMAX_MASK: CpuTensor = { data: randomInput([4, 1, 300], 7, 2).fill(0, 600, 900), shape: [4, 1, 300] };
/** 12 ids over a 10-row table: ids 3 and 1 repeat, rows 2, 4, 5, 6, 8 get no gradient. */
const EMBEDDING_IDS = [3, 1, 3, 3, 0, 9, 1, 3, 7, 9, 3, 1];
const ROPE = ropeTables(64, 16);
const ROPE_COS: CpuTensor = { data: ROPE.cos, shape: [64, 8] };
const ROPE_SIN: CpuTensor = { data: ROPE.sin, shape: [64, 8] };
/** MaxSim: ragged docs (a 1-token doc, docs past the 64-token tile) and masked query tokens. */
const maxsimCase = (name: string, q: number[], lens: number[], masked: number[], scale: number): SelfTestCase => {
  const offsets = lens.reduce((o, l) => [...o, o.at(-1)! + l], [0]);
  const mask: CpuTensor = { data: new Float32Array(q[0]! * q[1]!).fill(1), shape: [q[0]!, q[1]!] };
  for (const m of masked) mask.data[m] = 0;
  return {
    name,
    inputs: [
      { shape: q, scale },
      { shape: [offsets.at(-1)!, q[2]!], scale },
    ],
    tol: { atol: 2e-5, rtol: 1e-5 },
    gpu: ([x, d], e) => maxsim(x!, e.tensor(mask.data, mask.shape), d!, offsets),
    cpu: ([x, d]) => maxsimForwardCpu(x!, mask, d!, offsets).scores,
    cpuBackward: ([x, d], g) => {
      const { dq, ddocs } = maxsimBackwardCpu(x!, mask, d!, offsets, g);
      return [dq, ddocs];
    },
  };
};
/** S2-Attn: GPU options and the CPU twin's (same, with the key mask as a CpuTensor). */
const s2Case = (name: string, q: number[], kv: number[], opts: S2AttnCpuOptions): SelfTestCase => ({
  name,
  inputs: [q, kv, kv],
  tol: { atol: 5e-6, rtol: 1e-4 },
  gradTol: { atol: 2e-5, rtol: 1e-3 },
  gpu: ([a, b, c], e) =>
    s2attn(a!, b!, c!, { ...opts, keyMask: opts.keyMask && e.tensor(opts.keyMask.data, opts.keyMask.shape) }),
  cpu: ([a, b, c]) => s2attnForwardCpu(a!, b!, c!, opts),
  cpuBackward: ([a, b, c], g) => {
    const { dq, dk, dv } = s2attnBackwardCpu(a!, b!, c!, g, opts);
    return [dq, dk, dv];
  },
});
/** Key padding mask [2, 24]: batch 0 drops every third key, batch 1 is fully masked. */
const S2_MASK: CpuTensor = { data: Float32Array.from({ length: 48 }, (_, i) => (i < 24 && i % 3 !== 2 ? 1 : 0)), shape: [2, 24] };
const ADAMW: AdamWCpuOptions = { lr: 1e-2, betas: [0.9, 0.99], eps: 1e-8, weightDecay: 0.1, maxGradNorm: 0.5 };

// Shapes straddle the matmul's 64x64 tile so edge handling runs, and row kernels see rows longer
// than a 256-thread workgroup and row counts that are not multiples of 4, yet stay small: SwiftShader
// (no GPU) runs about 1 GFLOP/s. Tolerances are those of the op's test in test/gpu/.
export const SELFTEST_CASES: SelfTestCase[] = [
  mm('matmul [33,70] @ [70,65]', [33, 70], [70, 65]),
  mm('matmul [70,33]^T @ [70,65]^T', [70, 33], [65, 70], { transA: true, transB: true }),
  mm('matmul [3,20,18] @ [3,18,9] (batched)', [3, 20, 18], [3, 18, 9]),
  mm('matmul [2,9,12] @ [12,10] (shared weight)', [2, 9, 12], [12, 10]),
  bin('add [4,5] + [4,5]', 'add', [4, 5], [4, 5]),
  bin('add [3,4,5] + [5] (broadcast)', 'add', [3, 4, 5], [5]),
  bin('mul [3,1,5] * [4,1] (broadcast both)', 'mul', [3, 1, 5], [4, 1]),
  bin('mul [2,3,4] * [2,1,4] (broadcast middle)', 'mul', [2, 3, 4], [2, 1, 4]),
  bin('sub [3,300] - [3,1] (broadcast rows)', 'sub', [3, 300], [3, 1]),
  {
    name: 'scale [7,300] x -0.37',
    inputs: [[7, 300]],
    tol: { atol: 1e-6, rtol: 1e-5 },
    gradTol: { atol: 1e-5, rtol: 1e-4 },
    gpu: ([x]) => scale(x!, -0.37),
    cpu: ([x]) => binaryForwardCpu('mul', x!, { data: Float32Array.of(-0.37), shape: [1] }),
    cpuBackward: ([x], g) => [binaryBackwardCpu('mul', x!, { data: Float32Array.of(-0.37), shape: [1] }, g).da],
  },
  {
    name: 'bias [13,300] + [300]',
    inputs: [[13, 300], [300]],
    tol: { atol: 1e-6, rtol: 1e-5 },
    gradTol: { atol: 1e-5, rtol: 1e-4 },
    gpu: ([x, b]) => bias(x!, b!),
    cpu: ([x, b]) => binaryForwardCpu('add', x!, b!),
    cpuBackward: ([x, b], g) => {
      const { da, db } = binaryBackwardCpu('add', x!, b!, g);
      return [da, db];
    },
  },
  red('sum', [13, 300]),
  red('mean', [2, 3, 17]),
  red('max', [3, 1031]),
  {
    name: 'softmax [4,3,300], mask [4,1,300] (one batch fully masked)',
    inputs: [[4, 3, 300]],
    tol: { atol: 2e-6, rtol: 1e-4 },
    gradTol: { atol: 1e-5, rtol: 1e-4 },
    gpu: ([x], e) => softmax(x!, e.tensor(SOFTMAX_MASK.data, SOFTMAX_MASK.shape)),
    cpu: ([x]) => softmaxForwardCpu(x!, SOFTMAX_MASK),
    cpuBackward: ([x], g) => [softmaxBackwardCpu(softmaxForwardCpu(x!, SOFTMAX_MASK), g, SOFTMAX_MASK)],
  },
  {
    name: 'logSoftmax [3,1031] x4',
    inputs: [{ shape: [3, 1031], scale: 4 }],
    tol: { atol: 2e-5, rtol: 1e-5 },
    gradTol: { atol: 1e-5, rtol: 1e-4 },
    gpu: ([x]) => logSoftmax(x!),
    cpu: ([x]) => logSoftmaxForwardCpu(x!),
    cpuBackward: ([x], g) => [logSoftmaxBackwardCpu(logSoftmaxForwardCpu(x!), g)],
  },
  ce('crossEntropy [13,300] mean, 3 rows ignored', [13, 300], [4, 299, -100, 0, 17, -100, 123, 0, 5, 250, -100, 9, 77]),
  ce('crossEntropy [2,3,11] none, ignoreIndex 3', [2, 3, 11], [3, 0, 10, 3, 7, 2], { reduction: 'none', ignoreIndex: 3 }),
  {
    name: 'embedding [10,33] at ids [3,4] (repeated ids)',
    inputs: [[10, 33]],
    tol: { atol: 0 },
    gradTol: { atol: 1e-5, rtol: 1e-5 },
    gpu: ([w]) => embedding(w!, EMBEDDING_IDS, { shape: [3, 4] }),
    cpu: ([w]) => embeddingForwardCpu(w!, EMBEDDING_IDS, [3, 4]),
    cpuBackward: ([w], g) => [embeddingBackwardCpu(w!.shape, EMBEDDING_IDS, g)],
  },
  {
    // atol 0: a copy must be exact, forward and backward.
    name: 'concat [2,3,5], [2,3,1], [2,3,300] along the last axis',
    inputs: [
      [2, 3, 5],
      [2, 3, 1],
      [2, 3, 300],
    ],
    tol: { atol: 0 },
    gpu: (xs) => concat(xs, -1),
    cpu: (xs) => concatCpu(xs, -1),
    cpuBackward: (xs, g) =>
      concatBackwardCpu(
        xs.map((x) => x.shape),
        -1,
        g,
      ),
  },
  maxsimCase('maxsim q [2,5,128] x docs of [1,70,3,65] tokens, 2 masked', [2, 5, 128], [1, 70, 3, 65], [4, 6], 0.3),
  maxsimCase('maxsim q [2,37,24] x docs of [2,66,1,9] tokens, 3 masked', [2, 37, 24], [2, 66, 1, 9], [0, 36, 40], 0.45),
  unary('gelu', [3, 300]),
  unary('gelu_tanh', [7]),
  unary('silu', [2, 5, 129]),
  unary('relu', [5, 67]),
  {
    name: 'swiglu [2,3,257]',
    inputs: [
      [2, 3, 257],
      [2, 3, 257],
    ],
    tol: ACT_TOL,
    gradTol: ACT_GRAD_TOL,
    gpu: ([a, b]) => swiglu(a!, b!),
    cpu: ([a, b]) => swigluForwardCpu(a!, b!),
    cpuBackward: ([a, b], g) => {
      const { dgate, dup } = swigluBackwardCpu(a!, b!, g);
      return [dgate, dup];
    },
  },
  {
    name: 'layernorm [5,300], eps 1e-5',
    inputs: [{ shape: [5, 300], scale: 2 }, [300], [300]],
    tol: { atol: 2e-5, rtol: 1e-5 },
    gradTol: { atol: 1e-4, rtol: 1e-4 },
    gpu: ([x, w, b]) => layernorm(x!, w!, b!, 1e-5),
    cpu: ([x, w, b]) => layernormForwardCpu(x!, w!, b!, 1e-5).out,
    cpuBackward: ([x, w], g) => {
      const { dx, dgamma, dbeta } = layernormBackwardCpu(x!, w!, g, 1e-5);
      return [dx, dgamma, dbeta];
    },
  },
  {
    name: 'rmsnorm [2,3,1000], eps 1e-6',
    inputs: [[2, 3, 1000], [1000]],
    tol: { atol: 2e-5, rtol: 1e-5 },
    gradTol: { atol: 1e-4, rtol: 1e-4 },
    gpu: ([x, w]) => rmsnorm(x!, w!, 1e-6),
    cpu: ([x, w]) => rmsnormForwardCpu(x!, w!, 1e-6).out,
    cpuBackward: ([x, w], g) => {
      const { dx, dweight } = rmsnormBackwardCpu(x!, w!, g, 1e-6);
      return [dx, dweight];
    },
  },
  {
    name: 'l2normalize [7,300]',
    inputs: [[7, 300]],
    tol: { atol: 1e-6, rtol: 1e-5 },
    gradTol: { atol: 1e-5, rtol: 1e-4 },
    gpu: ([x]) => l2normalize(x!),
    cpu: ([x]) => l2normalizeForwardCpu(x!),
    cpuBackward: ([x], g) => [l2normalizeBackwardCpu(x!, g)],
  },
  {
    name: 'rope [2,5,3,16], positions [2,5] in [0,64)',
    inputs: [[2, 5, 3, 16], { shape: [2, 5], int: 64 }],
    tol: { atol: 1e-6, rtol: 1e-5 },
    gpu: ([x, pos], e) => rope(x!, e.tensor(ROPE_COS.data, ROPE_COS.shape), e.tensor(ROPE_SIN.data, ROPE_SIN.shape), pos!),
    cpu: ([x, pos]) => ropeForwardCpu(x!, ROPE_COS, ROPE_SIN, pos!.data),
    cpuBackward: ([, pos], g) => [ropeBackwardCpu(g, ROPE_COS, ROPE_SIN, pos!.data)],
  },
  s2Case('s2attn q [1,4,40,16], kv [1,2,40,16]: ratio 1/4, roll shift, causal', [1, 4, 40, 16], [1, 2, 40, 16], {
    ratio: 0.25,
    shift: 'roll',
  }),
  s2Case('s2attn [2,2,24,8] bidirectional, key mask (batch 1 fully masked)', [2, 2, 24, 8], [2, 2, 24, 8], {
    ratio: 1,
    causal: false,
    keyMask: S2_MASK,
  }),
  {
    // atol 0: the kept/dropped mask and the scaled values must match the CPU twin bit for bit.
    name: 'dropout [7,300] p 0.3 (bit-exact mask)',
    inputs: [[7, 300]],
    tol: { atol: 0 },
    gpu: ([x]) => dropout(x!, 0.3, 1234),
    cpu: ([x]) => dropoutForwardCpu(x!, 0.3, 1234),
    cpuBackward: (_, g) => [dropoutBackwardCpu(g, 0.3, 1234)],
  },
  {
    // Two steps, the first unclipped (norm ~0.35) and the second clipped (~1.7 to 0.5): a single
    // Adam step is invariant to the gradient's scale, so it could not show the clipping.
    name: 'AdamW 2 steps on [300], 2nd clipped to norm 0.5, wd 0.1',
    inputs: [[300], { shape: [300], scale: 0.02 }, { shape: [300], scale: 0.1 }],
    tol: { atol: 2e-6, rtol: 1e-5 },
    gpu: ([p, g1, g2], e) => {
      p!.requiresGrad = true; // the optimizer updates this leaf in place
      const opt = new AdamW(e, [p!], ADAMW);
      for (const g of [g1!, g2!]) {
        p!.grad = g;
        opt.step();
      }
      p!.grad = null;
      opt.dispose();
      return p!;
    },
    cpu: ([p, g1, g2]) => {
      const out = Float32Array.from(p!.data);
      const [m, v] = [new Float32Array(out.length), new Float32Array(out.length)];
      [g1!, g2!].forEach((g, t) => adamwStepCpu([out], [g.data], [m], [v], t + 1, ADAMW));
      return { data: out, shape: [...p!.shape] };
    },
  },
];

export interface SelfTestProgress {
  done: number;
  total: number;
  result: SelfTestResult;
}

/** Run the cases one after another; onResult sees each result as it lands. Never throws per case. */
export async function runSelfTest(
  e: Engine,
  onResult?: (p: SelfTestProgress) => void,
  cases: SelfTestCase[] = SELFTEST_CASES,
): Promise<SelfTestResult[]> {
  const results: SelfTestResult[] = [];
  for (const [i, c] of cases.entries()) {
    const r = await runCase(e, c, 1000 + i * 17);
    results.push(r);
    onResult?.({ done: i + 1, total: cases.length, result: r });
  }
  return results;
}

export async function runCase(e: Engine, c: SelfTestCase, seed: number): Promise<SelfTestResult> {
  const t0 = performance.now();
  const specs = c.inputs.map((s) => (Array.isArray(s) ? { shape: s } : s));
  const data = specs.map((s, i) => randomInput(s.shape, seed + i, s.int, s.scale));
  const cpuIn: CpuTensor[] = specs.map((s, i) => ({ data: data[i]!, shape: [...s.shape] }));
  const wantsGrad = specs.map((s) => s.int === undefined && s.grad !== false && c.cpuBackward !== undefined);
  let owned: Tensor[] = [];
  try {
    const ref = c.cpu(cpuIn);
    const g = c.cpuBackward ? randomInput(ref.shape, seed + 101) : null;
    // Sync part in a scope so intermediates are freed; inputs and output are returned to be read.
    const [out, ...xs] = e.scope(() => {
      const xs = specs.map((s, i) =>
        e.tensor(data[i]!, s.shape, { requiresGrad: wantsGrad[i], dtype: s.int !== undefined ? 'i32' : 'f32' }),
      );
      const out = c.gpu(xs, e);
      if (g && out.requiresGrad) e.backward(out, e.tensor(g, out.shape));
      else e.clearTape();
      return [out, ...xs];
    });
    owned = [out!, ...xs];
    let maxAbs = 0;
    let detail: string | undefined;
    const check = (label: string, actual: Float32Array, want: CpuTensor, shape: readonly number[], tol: Tolerance): void => {
      if (!sameShape(shape, want.shape)) {
        detail ??= `${label}: shape [${shape}] but the CPU twin gives [${want.shape}]`;
        maxAbs = Infinity;
        return;
      }
      const d = compare(actual, want.data, tol);
      maxAbs = Math.max(maxAbs, d.maxAbs);
      if (d.worst >= 0)
        detail ??= `${label}: element ${d.worst} is ${actual[d.worst]} but expected ${want.data[d.worst]} (atol ${tol.atol}, rtol ${tol.rtol ?? 0})`;
    };
    check('forward', await out!.read(), ref, out!.shape, c.tol);
    if (g && c.cpuBackward) {
      const grads = c.cpuBackward(cpuIn, { data: g, shape: ref.shape });
      let k = 0;
      for (const [i, x] of xs.entries()) {
        if (!wantsGrad[i]) continue;
        const want = grads[k++];
        if (!want) continue;
        if (!x.grad) {
          detail ??= `d input ${i}: the GPU op produced no gradient`;
          maxAbs = Infinity;
          continue;
        }
        check(`d input ${i}`, await x.grad.read(), want, x.shape, c.gradTol ?? c.tol);
      }
    }
    return { name: c.name, pass: detail === undefined, maxAbsDiff: maxAbs, ms: performance.now() - t0, detail };
  } catch (err) {
    e.clearTape();
    return {
      name: c.name,
      pass: false,
      maxAbsDiff: Infinity,
      ms: performance.now() - t0,
      detail: String((err as Error)?.message ?? err),
    };
  } finally {
    for (const t of owned) t.dispose();
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Element-wise |a - e| <= atol + rtol * |e|; NaN always fails. Returns the worst failing index or -1. */
export function compare(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance,
): { maxAbs: number; worst: number } {
  const rtol = tol.rtol ?? 0;
  let maxAbs = actual.length === expected.length ? 0 : Infinity;
  let worst = actual.length === expected.length ? -1 : 0;
  let worstExcess = 0;
  for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    const excess = Number.isNaN(d) ? Infinity : d - (tol.atol + rtol * Math.abs(expected[i]!));
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  return { maxAbs, worst };
}

/** Seeded inputs (mulberry32 + Box-Muller): N(0, scale^2), or integers in [0, int). */
export function randomInput(shape: readonly number[], seed: number, int?: number, scale = 1): Float32Array {
  const r = mulberry32(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (int !== undefined) out[i] = Math.floor(r() * int);
    else out[i] = scale * Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
  }
  return out;
}
