// A model's tensors by checkpoint name: uploaded from a verified Checkpoint, switched between
// trainable and frozen, listed for the optimizer and for export. A [V, D] table larger than one
// storage binding (maxStorageBufferBindingSize; e.g. Qwen2-0.5B's 545 MB embedding against the
// 128 MiB default) is kept as row shards, each under the limit, and used through the sharded ops.
// With frozenDtype 'f16' every matrix that will not train (the base under LoRA, a frozen retriever
// or index encoder) is stored as IEEE halves two per u32, half its f32 bytes; the matmul and
// embedding ops read such a tensor directly. Trained weights and vectors (norms, biases) stay f32.

import { packedBytes, splitRows, type Engine, type Tensor } from '../tensor';
import type { Checkpoint, TensorSpec } from './checkpoint';
import { CheckpointMismatchError, ModelConfigError } from './errors';

export type FrozenDtype = 'f32' | 'f16';

export interface WeightsOptions {
  /** Tables above this many bytes are split into row shards (default: the adapter's binding limit). */
  splitAboveBytes?: number;
  /** How the frozen matrices are stored: 'f32' (default) or 'f16' (packed; see storedDtype). */
  frozenDtype?: FrozenDtype;
  /** With frozenDtype 'f16': the weights that will train, kept f32 (default: none will). */
  trainable?: (name: string) => boolean;
}

/**
 * How a weight is held: 'f16' for a 2-D weight (a linear's matrix or an embedding table) that will
 * not train when frozenDtype is 'f16'; 'f32' otherwise (vectors are a few KB: not worth a kernel).
 */
export function storedDtype(s: { name: string; shape: readonly number[] }, opts: WeightsOptions): FrozenDtype {
  if (opts.frozenDtype !== 'f16' || s.shape.length !== 2) return 'f32';
  return opts.trainable?.(s.name) ? 'f32' : 'f16';
}

/** Bytes a weight takes on the GPU as stored (f16 rows padded to a whole u32), before the pool's rounding. */
export function storedBytes(s: { name: string; shape: readonly number[] }, opts: WeightsOptions): number {
  return storedDtype(s, opts) === 'f16' ? packedBytes(s.shape) : s.shape.reduce((a, b) => a * b, 4);
}

/** The [V, D] tables the models read through rows() (sharded ops); only these may be split. */
export const SPLITTABLE = /(^|\.)(embed_tokens|embed_in|word_embeddings)\.weight$|^(lm_head|embed_out)\.weight$/;
export const isSplittable = (name: string): boolean => SPLITTABLE.test(name);

export class Weights {
  readonly tensors = new Map<string, Tensor>();
  /** Row shards of the tables that did not fit one buffer, in row order. */
  readonly shards = new Map<string, Tensor[]>();

  constructor(readonly engine: Engine) {}

  /** Upload every spec'd tensor (the checkpoint must have been verified against the specs). */
  static fromCheckpoint(e: Engine, ckpt: Checkpoint, specs: TensorSpec[], opts: WeightsOptions = {}): Weights {
    const w = new Weights(e);
    try {
      w.upload(ckpt, specs, opts);
    } catch (err) {
      w.dispose(); // a failure halfway (e.g. out of memory) leaves nothing behind
      throw err;
    }
    return w;
  }

  private upload(ckpt: Checkpoint, specs: TensorSpec[], opts: WeightsOptions): void {
    const e = this.engine;
    const limits = e.gpu.info.limits;
    const limit =
      opts.splitAboveBytes ?? Math.min(limits.maxStorageBufferBindingSize ?? 2 ** 27, limits.maxBufferSize ?? 2 ** 28);
    for (const s of specs) {
      const dtype = storedDtype(s, opts);
      const bytes = storedBytes(s, opts);
      if (bytes <= limit || !isSplittable(s.name)) {
        this.set(s.name, e.tensor(ckpt.read(s.name), s.shape, { name: s.name, dtype }).keep());
        continue;
      }
      // 64-row shards unless the limit is tiny (tests split small tables to exercise the path).
      const rowBytes = bytes / s.shape[0]!;
      const align = Math.max(1, Math.min(64, Math.floor(limit / rowBytes)));
      this.shards.set(
        s.name,
        splitRows(e, ckpt.read(s.name), s.shape as [number, number], limit, { name: s.name, align, dtype }),
      );
    }
  }

  set(name: string, t: Tensor): void {
    t.name = name;
    this.tensors.set(name, t);
  }

  /** A tensor held in one buffer. */
  get(name: string): Tensor {
    const t = this.tensors.get(name);
    if (!t)
      throw new CheckpointMismatchError(
        this.shards.has(name)
          ? `internal: "${name}" is split into row shards; use rows()`
          : `internal: no weight "${name}" was loaded`,
      );
    return t;
  }

  /** A [V, D] table as its row shards (one element when it fits one buffer). */
  rows(name: string): Tensor[] {
    const s = this.shards.get(name);
    return s ?? [this.get(name)];
  }

  has(name: string): boolean {
    return this.tensors.has(name) || this.shards.has(name);
  }

  names(): string[] {
    return [...this.tensors.keys(), ...this.shards.keys()];
  }

  shape(name: string): number[] {
    const s = this.shards.get(name);
    if (s) return [s.reduce((a, t) => a + t.shape[0]!, 0), s[0]!.shape[1]!];
    return [...this.get(name).shape];
  }

  /** Values of a weight (shards concatenated). */
  async read(name: string): Promise<Float32Array> {
    return joined(await Promise.all(this.rows(name).map((t) => t.read())));
  }

  /** Gradient of a weight (shards concatenated; a shard no id touched counts as zeros), or null when it has none. */
  async readGrad(name: string): Promise<Float32Array | null> {
    const parts = this.rows(name);
    if (parts.every((t) => !t.grad)) return null;
    return joined(await Promise.all(parts.map((t) => (t.grad ? t.grad.read() : new Float32Array(t.size)))));
  }

  /** Whether any weight is stored as packed f16 (loaded with frozenDtype 'f16'). */
  get hasPacked(): boolean {
    return this.names().some((n) => this.rows(n)[0]!.dtype === 'f16');
  }

  /** GPU bytes of every weight as stored (packed ones at 2 bytes per value), before the pool's rounding. */
  get bytes(): number {
    let b = 0;
    for (const n of this.names()) for (const t of this.rows(n)) b += t.bytes;
    return b;
  }

  /**
   * Mark tensors trainable (requiresGrad) by name; the rest frozen. Returns the trainable ones.
   * A weight stored packed f16 cannot train (its values are rounded, and a trained weight is f32):
   * asking for it throws before anything changes.
   */
  setTrainable(pred: (name: string) => boolean): Tensor[] {
    const packed = this.names().filter((n) => pred(n) && this.rows(n)[0]!.dtype === 'f16');
    if (packed.length)
      throw new ModelConfigError(
        `${packed.length} weight(s) to train are stored as frozen f16 (${packed.slice(0, 3).join(', ')}` +
          `${packed.length > 3 ? ', ...' : ''}): load the model with frozenDtype 'f32', or with a trainable list that ` +
          'includes them so they stay f32',
      );
    const out: Tensor[] = [];
    for (const n of this.names())
      for (const t of this.rows(n)) {
        t.requiresGrad = pred(n);
        if (t.requiresGrad) out.push(t);
      }
    return out;
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
    for (const s of this.shards.values()) for (const t of s) t.dispose();
    this.tensors.clear();
    this.shards.clear();
  }
}

function joined(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
