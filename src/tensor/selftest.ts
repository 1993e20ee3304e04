// The in-page kernel self-test: each case runs one op on small seeded random inputs on the GPU,
// forward and (where the case gives a CPU backward) backward, and compares every output with its
// CPU twin under an explicit tolerance. The app runs it in the engine worker so a user can see
// that the kernels are right on *their* adapter, not only on the CI's.
//
// Adding an op is one object in SELFTEST_CASES: input shapes, the GPU call, the CPU twin, and
// optionally the CPU backward (which returns one gradient per input that requires grad).

import { matmul } from './ops/matmul';
import { add, mul } from './ops/binary';
import { matmulBackwardCpu, matmulForwardCpu, type MatmulCpuOptions } from './cpu/matmul';
import { binaryBackwardCpu, binaryForwardCpu } from './cpu/binary';
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
  tol: Tolerance;
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

const bin = (name: string, op: 'add' | 'mul', a: number[], b: number[]): SelfTestCase => ({
  name,
  inputs: [a, b],
  tol: { atol: 1e-5, rtol: 1e-5 },
  gpu: ([x, y]) => (op === 'add' ? add : mul)(x!, y!),
  cpu: ([x, y]) => binaryForwardCpu(op, x!, y!),
  cpuBackward: ([x, y], g) => {
    const { da, db } = binaryBackwardCpu(op, x!, y!, g);
    return [da, db];
  },
});

// Shapes straddle the matmul's 64x64 tile so edge handling runs, yet stay small: SwiftShader
// (no GPU) runs about 1 GFLOP/s.
export const SELFTEST_CASES: SelfTestCase[] = [
  mm('matmul [33,70] @ [70,65]', [33, 70], [70, 65]),
  mm('matmul [70,33]^T @ [70,65]^T', [70, 33], [65, 70], { transA: true, transB: true }),
  mm('matmul [3,20,18] @ [3,18,9] (batched)', [3, 20, 18], [3, 18, 9]),
  mm('matmul [2,9,12] @ [12,10] (shared weight)', [2, 9, 12], [12, 10]),
  bin('add [4,5] + [4,5]', 'add', [4, 5], [4, 5]),
  bin('add [3,4,5] + [5] (broadcast)', 'add', [3, 4, 5], [5]),
  bin('mul [3,1,5] * [4,1] (broadcast both)', 'mul', [3, 1, 5], [4, 1]),
  bin('mul [2,3,4] * [2,1,4] (broadcast middle)', 'mul', [2, 3, 4], [2, 1, 4]),
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
    const check = (label: string, actual: Float32Array, want: CpuTensor, shape: readonly number[]): void => {
      if (!sameShape(shape, want.shape)) {
        detail ??= `${label}: shape [${shape}] but the CPU twin gives [${want.shape}]`;
        maxAbs = Infinity;
        return;
      }
      const d = compare(actual, want.data, c.tol);
      maxAbs = Math.max(maxAbs, d.maxAbs);
      if (d.worst >= 0)
        detail ??= `${label}: element ${d.worst} is ${actual[d.worst]} but expected ${want.data[d.worst]} (atol ${c.tol.atol}, rtol ${c.tol.rtol ?? 0})`;
    };
    check('forward', await out!.read(), ref, out!.shape);
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
        check(`d input ${i}`, await x.grad.read(), want, x.shape);
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
  let s = seed >>> 0;
  const r = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (int !== undefined) out[i] = Math.floor(r() * int);
    else out[i] = scale * Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r());
  }
  return out;
}
