// LoRA (Hu et al. 2021) with PEFT's conventions: y = x W^T + b + (alpha / r) * dropout(x) A^T B^T,
// A [r, in] drawn like PEFT's kaiming_uniform_(a = sqrt 5), i.e. U(-1/sqrt(in), 1/sqrt(in)), and
// B [out, r] zero, so a fresh adapter leaves the model unchanged. r = rank, in/out = the wrapped
// layer's input and output sizes.

import { add, dropout, linear, scale, type Engine, type Tensor } from '../tensor';
import { mulberry32 } from '../tensor';
import { ModelConfigError } from './errors';
import type { Weights } from './weights';

export interface LoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  /** Module names as in PEFT's target_modules: the last component of the layer name (q_proj, query, ...). */
  targetModules: string[];
}

export function checkLoraConfig(c: LoraConfig): void {
  if (!Number.isInteger(c.r) || c.r < 1) throw new ModelConfigError(`LoRA rank r must be a positive integer, got ${c.r}`);
  if (!(c.alpha > 0)) throw new ModelConfigError(`LoRA alpha must be positive, got ${c.alpha}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new ModelConfigError(`LoRA dropout must be in [0, 1), got ${c.dropout}`);
  if (c.targetModules.length === 0) throw new ModelConfigError('LoRA needs at least one target module (e.g. q_proj, v_proj)');
}

export class LoraAdapter {
  constructor(
    readonly A: Tensor,
    readonly B: Tensor,
    readonly scaling: number,
    readonly dropout: number,
  ) {}

  dispose(): void {
    this.A.dispose();
    this.B.dispose();
  }

  static create(e: Engine, inF: number, outF: number, c: LoraConfig, rand: () => number, name: string): LoraAdapter {
    const bound = 1 / Math.sqrt(inF);
    const a = new Float32Array(c.r * inF);
    for (let i = 0; i < a.length; i++) a[i] = (2 * rand() - 1) * bound;
    const A = e.param(a, [c.r, inF], `${name}.lora_A`);
    const B = e.param(new Float32Array(outF * c.r), [outF, c.r], `${name}.lora_B`);
    return new LoraAdapter(A, B, c.alpha / c.r, c.dropout);
  }
}

/**
 * Fresh adapters (seeded) on the linears whose module name is in c.targetModules. Throws when a
 * target matches nothing, naming the modules the model has (a typo would otherwise train nothing).
 */
export function attachLora(e: Engine, linears: Linear[], c: LoraConfig, seed: number): LoraAdapter[] {
  checkLoraConfig(c);
  const have = [...new Set(linears.map((l) => l.moduleName))];
  const unknown = c.targetModules.filter((t) => !have.includes(t));
  if (unknown.length)
    throw new ModelConfigError(
      `LoRA target module(s) ${unknown.join(', ')} match no layer; this model's linear modules are ${have.join(', ')}`,
    );
  const rand = seededRandom(seed);
  const out: LoraAdapter[] = [];
  for (const l of linears)
    if (c.targetModules.includes(l.moduleName)) {
      l.lora?.dispose(); // a second attach replaces, it does not stack
      l.lora = LoraAdapter.create(e, l.inFeatures, l.outFeatures, c, rand, l.name);
      out.push(l.lora);
    }
  return out;
}

/** Drop every adapter of these linears (disposed; none stays in the forward pass). */
export function detachLora(linears: readonly Linear[]): void {
  for (const l of linears) {
    l.lora?.dispose();
    l.lora = null;
  }
}

/**
 * A new training configuration of a model: the adapters from before dropped, the weights `trains`
 * names trainable and the rest frozen, then fresh adapters (seeded) when `lora` is given. Returns
 * the trainable weights, then each adapter's A and B (the optimizer's order).
 */
export function configureTrainable(
  weights: Weights,
  linears: Linear[],
  trains: (name: string) => boolean,
  lora: LoraConfig | undefined,
  seed: number,
): Tensor[] {
  detachLora(linears);
  const params = weights.setTrainable(trains);
  if (!lora) return params;
  return [...params, ...attachLora(weights.engine, linears, lora, seed).flatMap((a) => [a.A, a.B])];
}

/** W + scaling * B A of a linear with an adapter (its weight's values when it has none), on the CPU. */
export async function mergedWeight(l: Linear): Promise<Float32Array> {
  const W = await l.weight.read();
  if (!l.lora) return W;
  const [A, B] = await Promise.all([l.lora.A.read(), l.lora.B.read()]);
  const out = l.outFeatures,
    inF = l.inFeatures,
    r = l.lora.A.shape[0]!;
  for (let o = 0; o < out; o++)
    for (let k = 0; k < r; k++) {
      const b = l.lora.scaling * B[o * r + k]!;
      if (b === 0) continue;
      for (let i = 0; i < inF; i++) W[o * inF + i]! += b * A[k * inF + i]!;
    }
  return W;
}

/** A linear layer with its checkpoint name, optional bias and optional LoRA adapter. */
export class Linear {
  lora: LoraAdapter | null = null;

  constructor(
    readonly name: string,
    readonly weight: Tensor,
    readonly bias: Tensor | null = null,
  ) {}

  get inFeatures(): number {
    return this.weight.shape[1]!;
  }

  get outFeatures(): number {
    return this.weight.shape[0]!;
  }

  /** The module name PEFT matches target_modules against (last component). */
  get moduleName(): string {
    return this.name.split('.').at(-1)!;
  }

  /**
   * x W^T + b (+ the adapter). A frozen weight loaded packed (dtype 'f16', weights.ts) goes through
   * the packed kernel inside linear(), which also gives x its gradient; the adapter is f32.
   */
  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const y = linear(x, this.weight, this.bias ?? undefined);
    const l = this.lora;
    if (!l) return y;
    const xin = ctx.training && l.dropout > 0 ? dropout(x, l.dropout, ctx.nextSeed()) : x;
    return add(y, scale(linear(linear(xin, l.A), l.B), l.scaling));
  }
}

/** Per-forward state: training flag (dropout) and a seeded counter for dropout masks. */
export class ForwardContext {
  private counter = 0;

  constructor(
    readonly training: boolean,
    private readonly seed = 0,
  ) {}

  nextSeed(): number {
    return (this.seed * 1000003 + ++this.counter * 7919) >>> 0;
  }
}

/** Seeded uniform [0, 1) draws (Mulberry32): LoRA init and other model-side randomness. */
export const seededRandom = mulberry32;
