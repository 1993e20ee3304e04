// Pieces every bench page shares: the timing loop, onnxruntime-web setup, reproducible random
// data and rounding.

import * as ort from 'onnxruntime-web';
import type { Gpu } from '../src/gpu/device';
import type { PageResult } from './page';

/** One implementation at one size: prepare once, then run() computes the result. */
export interface Impl<R = Float32Array> {
  run(): Promise<void>;
  /** The last output, read back to the CPU (only called once, after timing). */
  result(): Promise<R>;
  dispose(): Promise<void> | void;
}

export interface MeasureOptions {
  /** Timed iterations stop once this much time has passed... */
  budgetMs?: number;
  /** ...or after this many; there is always at least one. */
  maxIters?: number;
  /** Untimed warm-up runs first (pipeline compilation, session init, JIT). */
  warmup?: number;
}

/** Untimed warm-up(s), then timed iterations; ms is the mean of the timed ones. */
export async function measure(
  run: () => Promise<void>,
  { budgetMs = 2000, maxIters = 10, warmup = 1 }: MeasureOptions = {},
): Promise<{ ms: number; iterations: number }> {
  for (let i = 0; i < warmup; i++) await run();
  let iterations = 0;
  const start = performance.now();
  do {
    await run();
    iterations++;
  } while (iterations < maxIters && performance.now() - start < budgetMs);
  return { ms: (performance.now() - start) / iterations, iterations };
}

/** Points onnxruntime-web at its .wasm files (Vite serves node_modules) and returns its thread count. */
export function setupOrt(): number {
  const threads = self.crossOriginIsolated ? 2 : 1;
  ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
  return threads;
}

export function adapterOf(gpu: Gpu): PageResult['adapter'] {
  return { vendor: gpu.info.vendor, architecture: gpu.info.architecture, description: gpu.info.description };
}

/** Uniform in [-1, 1), reproducible: an LCG, fast and good enough here. */
export function randomUniform(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function errorMessage(e: unknown): string {
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return msg.length > 300 ? `${msg.slice(0, 300)}...` : msg;
}
