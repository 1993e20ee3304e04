// Kernel runner, page side: runs one op forward and backward on this browser's WebGPU adapter
// with inputs from a safetensors file and returns the outputs as safetensors bytes.

import { acquireGpu } from '../../src/gpu/device';
import { viteKernels } from '../../src/gpu/kernels-vite';
import { Engine } from '../../src/tensor/tensor';
import { parseSafetensors, writeSafetensors } from '../../src/tensor/safetensors';
import type { RunnerOp, RunnerOptions } from './ops';
import { runOp } from './run-op';

declare global {
  interface Window {
    __runKernel?: (op: RunnerOp, input: string, opts: RunnerOptions) => Promise<{ output: string; ms: number; adapter: string }>;
  }
}

const fromB64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
function toB64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

let enginePromise: Promise<Engine> | null = null;
const engine = () => (enginePromise ??= acquireGpu({ kernels: viteKernels }).then((gpu) => new Engine(gpu)));

window.__runKernel = async (op, input, opts) => {
  const e = await engine();
  const { tensors } = parseSafetensors(fromB64(input));
  const t0 = performance.now();
  const outputs = await runOp(e, op, tensors, opts);
  const result: Parameters<typeof writeSafetensors>[0] = {};
  for (const [name, t] of Object.entries(outputs)) result[name] = { dtype: 'F32', ...t };
  const ms = performance.now() - t0;
  const info = e.gpu.info;
  return {
    output: toB64(writeSafetensors(result, { op, ratio: String(opts.ratio), shift: opts.shift })),
    ms,
    adapter: `${info.vendor}/${info.architecture}`,
  };
};
document.getElementById('out')!.textContent = 'kernel runner ready';
