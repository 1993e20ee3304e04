// Node-only entry to the GPU layer: Dawn through the npm `webgpu` package, kernels read from
// kernels/*.wgsl with fs. Tests, the kernel runner and benchmarks' drivers use this; the app never
// imports it.

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireGpu, type Gpu } from './device';
import type { KernelSource } from './pipelines';

export const KERNEL_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'kernels');

/** kernels/*.wgsl and the snippets in kernels/lib/ (named 'lib/NAME'), as the Vite loader names them. */
export function loadKernelsFromDisk(dir = KERNEL_DIR): KernelSource {
  const out: KernelSource = {};
  for (const sub of ['', 'lib/'])
    for (const f of readdirSync(join(dir, sub)))
      if (f.endsWith('.wgsl')) out[sub + f.slice(0, -5)] = readFileSync(join(dir, sub, f), 'utf8');
  return out;
}

/**
 * A device on Dawn. On a machine without a GPU, point Vulkan at SwiftShader
 * (VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json; see docs/testing.md).
 */
export async function acquireNodeGpu(): Promise<Gpu> {
  const webgpu = (await import('webgpu')) as unknown as { create: (o: string[]) => GPU; globals: object };
  Object.assign(globalThis, webgpu.globals);
  const gpu = webgpu.create([]);
  return acquireGpu({ gpu, kernels: loadKernelsFromDisk() });
}
