// Shared test helpers: one WebGPU device per test file, GPU-vs-CPU comparison that prints the
// max abs/rel difference (as llm.c's validate_result does), and seeded random data.

import { expect } from 'vitest';
import { acquireGpu, type Gpu } from '../../src/gpu/device';
import { viteKernels } from '../../src/gpu/kernels-vite';
import { Engine } from '../../src/tensor/tensor';
import { mulberry32 } from '../../src/tensor/random';

const VERBOSE = (import.meta.env as Record<string, unknown>).VITE_MEDRANK_VERBOSE === '1';

let shared: { gpu: Gpu; engine: Engine } | null = null;

export async function getEngine(): Promise<Engine> {
  if (!shared) {
    const gpu = await acquireGpu({ kernels: viteKernels });
    shared = { gpu, engine: new Engine(gpu) };
  }
  return shared.engine;
}

export function destroyEngine(): void {
  shared?.gpu.destroy();
  shared = null;
}

/** Mulberry32 (src/tensor/random.ts): small, seeded, good enough for test data. */
export const rng = mulberry32;

export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12),
      v = r();
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

export function maxDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): { abs: number; rel: number; at: number } {
  let abs = 0,
    rel = 0,
    at = -1;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    const r = d / Math.max(Math.abs(expected[i]!), 1e-6);
    if (d > abs || Number.isNaN(d)) {
      abs = Number.isNaN(d) ? Infinity : d;
      at = i;
    }
    if (r > rel) rel = r;
  }
  return { abs, rel, at };
}

/** Element-wise |a - e| <= atol + rtol * |e|, with the worst element in the failure message. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: { atol: number; rtol?: number },
  label = '',
): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  const rtol = tol.rtol ?? 0;
  let worst = -1,
    worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs(actual[i]! - expected[i]!) - (tol.atol + rtol * Math.abs(expected[i]!));
    if (!(excess <= worstExcess)) {
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
      worst = i;
    }
  }
  const d = maxDiff(actual, expected);
  if (VERBOSE) console.log(`${label}: max abs ${d.abs.toExponential(2)} max rel ${d.rel.toExponential(2)}`);
  expect(
    worst,
    `${label}: element ${worst} is ${actual[worst]} but expected ${expected[worst]} (max abs diff ${d.abs.toExponential(3)}, max rel ${d.rel.toExponential(3)})`,
  ).toBe(-1);
}
