// Compiles each kernel once per set of override constants and keeps the pipeline. Compiles cost
// 150-900 ms on SwiftShader, so nothing may compile inside a loop.

import { KernelNotFoundError } from './errors';

/** Kernel name (file name without .wgsl) -> WGSL source. */
export type KernelSource = Record<string, string>;
export type KernelConstants = Record<string, number | boolean>;

export class PipelineCache {
  private cache = new Map<string, GPUComputePipeline>();
  private modules = new Map<string, GPUShaderModule>();
  compiles = 0;

  constructor(
    private device: GPUDevice,
    private source: KernelSource,
  ) {}

  private module(name: string): GPUShaderModule {
    let m = this.modules.get(name);
    if (!m) {
      const code = resolveKernel(name, this.source);
      m = this.device.createShaderModule({ code, label: name });
      this.modules.set(name, m);
    }
    return m;
  }

  private static key(name: string, constants?: KernelConstants): string {
    if (!constants) return name;
    const keys = Object.keys(constants).sort();
    return name + '|' + keys.map((k) => `${k}=${Number(constants[k])}`).join(',');
  }

  get(name: string, constants?: KernelConstants): GPUComputePipeline {
    const key = PipelineCache.key(name, constants);
    let p = this.cache.get(key);
    if (!p) {
      p = this.device.createComputePipeline({
        label: key,
        layout: 'auto',
        compute: { module: this.module(name), entryPoint: 'main', constants: toConstants(constants) },
      });
      this.cache.set(key, p);
      this.compiles++;
    }
    return p;
  }

  /** Compile ahead of time without blocking (e.g. while a model downloads). */
  async warm(name: string, constants?: KernelConstants): Promise<void> {
    const key = PipelineCache.key(name, constants);
    if (this.cache.has(key)) return;
    const p = await this.device.createComputePipelineAsync({
      label: key,
      layout: 'auto',
      compute: { module: this.module(name), entryPoint: 'main', constants: toConstants(constants) },
    });
    this.cache.set(key, p);
    this.compiles++;
  }

  get size(): number {
    return this.cache.size;
  }

  /** Compilable kernels (not the lib/ snippets they include). */
  kernelNames(): string[] {
    return Object.keys(this.source)
      .filter((n) => !n.includes('/'))
      .sort();
  }
}

const INCLUDE = /^\/\/!include\s+(\S+)\s*$/gm;

/**
 * A kernel's WGSL with its `//!include lib/NAME` lines replaced by kernels/lib/NAME.wgsl (WGSL
 * has no includes; shared helpers such as erf live once in lib/). Each snippet is inlined once.
 */
export function resolveKernel(name: string, source: KernelSource, seen = new Set<string>()): string {
  const code = source[name];
  if (code === undefined) throw new KernelNotFoundError(name, Object.keys(source));
  seen.add(name);
  return code.replace(INCLUDE, (_, inc: string) => (seen.has(inc) ? '' : resolveKernel(inc, source, seen)));
}

function toConstants(c?: KernelConstants): Record<string, number> | undefined {
  if (!c) return undefined;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(c)) out[k] = Number(v);
  return out;
}
