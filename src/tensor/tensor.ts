// f32 (and i32 index) tensors on the GPU, the autograd tape, and memory scopes. A third dtype,
// 'f16', is a frozen weight stored two halves per u32 (layout in f16.ts): only the ops that know
// it (linear/matmul as the right operand, embedding) read it, every other op refuses it.
//
// A Tensor is a shape over a pooled GPU buffer. `t.T` is a view with the last two dims swapped
// (no copy); matmul reads such views directly through its transpose flags, every other op makes
// them contiguous first. When grad mode is on and an input requires grad, each op records a
// TapeNode whose backward() adds (+=) into its inputs' .grad, so gradient accumulation is free.

import type { Gpu } from '../gpu/device';
import { MedRankError } from '../core/errors';
import { packedBytes, packF16, packedLayout, unpackF16 } from './f16';

export type DType = 'f32' | 'i32' | 'f16';

export class ShapeError extends MedRankError {}

export interface TapeNode {
  op: string;
  inputs: Tensor[];
  output: Tensor;
  backward(gradOut: Tensor): void;
}

export class Tensor {
  readonly size: number;
  grad: Tensor | null = null;
  disposed = false;
  /** Name for error messages and debugging (parameters get theirs from the model). */
  name = '';

  constructor(
    readonly engine: Engine,
    readonly buffer: GPUBuffer,
    readonly shape: readonly number[],
    public requiresGrad = false,
    readonly dtype: DType = 'f32',
    /** Set on views: the tensor that owns the buffer. */
    readonly base: Tensor | null = null,
    /** True when the last two dims are swapped relative to storage. */
    readonly transposed = false,
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
    engine.track(this);
  }

  get rank(): number {
    return this.shape.length;
  }

  get bytes(): number {
    return this.dtype === 'f16' ? packedBytes(this.storage.shape) : this.size * 4;
  }

  /** Storage owner: the tensor whose layout `buffer` follows. */
  get storage(): Tensor {
    return this.base ?? this;
  }

  /** View with the last two dims swapped; no copy. */
  get T(): Tensor {
    if (this.rank < 2) throw new ShapeError(`.T needs at least 2 dims, got shape [${this.shape}]`);
    const s = [...this.shape];
    [s[s.length - 2], s[s.length - 1]] = [s[s.length - 1]!, s[s.length - 2]!];
    return new Tensor(this.engine, this.buffer, s, this.requiresGrad, this.dtype, this.storage, !this.transposed);
  }

  /** Same storage, new shape (contiguous tensors only). Shares the gradient with its base. */
  reshape(shape: number[]): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== this.size) throw new ShapeError(`cannot reshape [${this.shape}] (${this.size} values) to [${shape}] (${n})`);
    if (this.transposed) throw new ShapeError('reshape of a transposed view: call contiguous() first');
    if (this.dtype === 'f16' && shape.at(-1) !== this.shape.at(-1))
      throw new ShapeError(`reshape of a packed f16 tensor must keep its rows: [${this.shape}] to [${shape}]`);
    return new Tensor(this.engine, this.buffer, shape, this.requiresGrad, this.dtype, this.storage, false);
  }

  async read(): Promise<Float32Array> {
    if (this.disposed) throw new MedRankError(`read of a disposed tensor ${this.name || `[${this.shape}]`}`);
    if (this.dtype === 'i32') throw new MedRankError('read() is for f32 and f16 tensors; use readInt()');
    const data =
      this.dtype === 'f16'
        ? unpackF16(new Uint32Array(await this.engine.gpu.read(this.buffer, packedBytes(this.storage.shape))), this.storage.shape)
        : await this.engine.gpu.readF32(this.buffer, this.size);
    return this.transposed ? transposeLast2(data, this.shape) : data;
  }

  async readInt(): Promise<Int32Array> {
    return new Int32Array(await this.engine.gpu.read(this.buffer, this.size * 4));
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new ShapeError(`item() needs a single value, got shape [${this.shape}]`);
    return (await this.read())[0]!;
  }

  /** Keep this tensor alive past the current scope. */
  keep(): this {
    this.engine.untrack(this);
    return this;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.engine.untrack(this);
    // Views and reshapes share the base's buffer; only the owner returns it.
    if (!this.base) this.engine.gpu.release(this.buffer);
    if (this.grad && !this.base) this.grad.dispose();
    this.grad = null;
  }
}

/** Values as the buffer holds them for a dtype: f32, i32, or f16 halves packed two per u32 (refusing overflow). */
export function packedAs(dtype: DType, data: ArrayLike<number>, shape: readonly number[], name = ''): ArrayBufferView {
  if (dtype === 'f16') return packF16(data, shape, name);
  return dtype === 'f32' ? Float32Array.from(data) : Int32Array.from(data);
}

/** Transpose the last two dims of row-major data with the given (logical) shape. */
export function transposeLast2(data: Float32Array, shape: readonly number[]): Float32Array {
  const r = shape[shape.length - 2]!;
  const c = shape[shape.length - 1]!;
  const batch = data.length / (r * c);
  const out = new Float32Array(data.length);
  // Storage is [batch, c, r]; logical is [batch, r, c].
  for (let b = 0; b < batch; b++)
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[b * r * c + i * c + j] = data[b * r * c + j * r + i]!;
  return out;
}

export class Engine {
  private tape: TapeNode[] = [];
  private gradEnabled = true;
  private scopes: Set<Tensor>[] = [];
  private spare: Tensor | null = null;

  constructor(readonly gpu: Gpu) {}

  // ---- creation -------------------------------------------------------------------------

  empty(shape: readonly number[], dtype: DType = 'f32', requiresGrad = false): Tensor {
    for (const d of shape)
      if (!Number.isInteger(d) || d < 0) throw new ShapeError(`invalid shape [${shape}]: dims must be non-negative integers`);
    if (dtype === 'f16' && requiresGrad)
      throw new ShapeError('f16 tensors are frozen weights (no gradient); a trainable tensor is f32');
    const n = dtype === 'f16' ? packedLayout(shape).words : shape.reduce((a, b) => a * b, 1);
    const buf = this.gpu.alloc(Math.max(4, n * 4), `A tensor of shape [${shape}]`);
    return new Tensor(this, buf, [...shape], requiresGrad, dtype);
  }

  tensor(
    data: ArrayLike<number>,
    shape: readonly number[],
    opts: { requiresGrad?: boolean; dtype?: DType; name?: string } = {},
  ): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new ShapeError(`${data.length} values do not fill shape [${shape}] (${n} values)`);
    const dtype = opts.dtype ?? 'f32';
    const t = this.empty(shape, dtype, opts.requiresGrad ?? false);
    if (opts.name) t.name = opts.name;
    if (n > 0) this.gpu.write(t.buffer, packedAs(dtype, data, shape, opts.name));
    return t;
  }

  zeros(shape: readonly number[], requiresGrad = false): Tensor {
    const t = this.empty(shape, 'f32', requiresGrad);
    this.gpu.clear(t.buffer);
    return t;
  }

  full(shape: readonly number[], value: number): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    return this.tensor(new Float32Array(n).fill(value), shape);
  }

  /** A trainable leaf. */
  param(data: ArrayLike<number>, shape: readonly number[], name = ''): Tensor {
    return this.tensor(data, shape, { requiresGrad: true, name }).keep();
  }

  /**
   * A small kept buffer to bind where a kernel variant writes nothing (stats or argmax when no
   * backward will run): a binding must exist, and allocating a real one would cost memory.
   * Never bind it twice in one dispatch.
   */
  placeholder(): Tensor {
    if (!this.spare || this.spare.disposed) this.spare = this.empty([4]).keep();
    return this.spare;
  }

  // ---- autograd --------------------------------------------------------------------------

  get recording(): boolean {
    return this.gradEnabled;
  }

  /** Run fn without recording a tape (inference, utilities, optimizer updates). */
  noGrad<T>(fn: () => T): T {
    const prev = this.gradEnabled;
    this.gradEnabled = false;
    try {
      return fn();
    } finally {
      this.gradEnabled = prev;
    }
  }

  /** Called by ops: records a node if any input needs a gradient. Returns whether it did. */
  record(op: string, inputs: Tensor[], output: Tensor, backward: (g: Tensor) => void): void {
    if (!this.gradEnabled || !inputs.some((t) => t.requiresGrad)) return;
    output.requiresGrad = true;
    this.tape.push({ op, inputs, output, backward });
  }

  /**
   * Backpropagate from `loss` (a single value unless `gradOut` is given). Gradients add into
   * .grad of every tensor that requires grad; the tape is cleared afterwards.
   */
  backward(loss: Tensor, gradOut?: Tensor): void {
    if (!loss.requiresGrad)
      throw new MedRankError('backward() on a tensor that does not require grad: no parameter contributed to it');
    if (!gradOut && loss.size !== 1)
      throw new ShapeError(`backward() without gradOut needs a single value, got shape [${loss.shape}]`);
    const seed = gradOut ?? this.full(loss.shape, 1);
    this.addGrad(loss, (out, acc) => {
      if (acc) throw new MedRankError('loss already has a gradient');
      this.gpu.copy(seed.buffer, 0, out, 0, loss.bytes);
    });
    const tape = this.tape;
    this.tape = [];
    this.noGrad(() => {
      for (let i = tape.length - 1; i >= 0; i--) {
        const node = tape[i]!;
        const g = gradOf(node.output);
        if (g) node.backward(g);
      }
    });
  }

  /** Drop the tape without backpropagating (e.g. after an evaluation forward with grad on). */
  clearTape(): void {
    this.tape = [];
  }

  get tapeLength(): number {
    return this.tape.length;
  }

  /**
   * Give `t` a gradient contribution. `write(buffer, accumulate)` must add into the buffer when
   * accumulate is true and overwrite it otherwise. Views route into their base's gradient.
   */
  addGrad(t: Tensor, write: (out: GPUBuffer, accumulate: boolean) => void): void {
    if (!t.requiresGrad) return;
    const owner = t.storage;
    if (t.transposed) throw new MedRankError('internal: gradient of a transposed view must go through matmul or contiguous()');
    if (owner.grad) write(owner.grad.buffer, true);
    else {
      owner.grad = this.empty(owner.shape).keep();
      write(owner.grad.buffer, false);
    }
  }

  // ---- memory scopes ---------------------------------------------------------------------

  /** Dispose every tensor created inside fn except those returned (or kept). */
  scope<T>(fn: () => T): T {
    const created = new Set<Tensor>();
    this.scopes.push(created);
    let result: T;
    try {
      result = fn();
    } finally {
      this.scopes.pop();
    }
    this.closeScope(created, result);
    return result;
  }

  /** Dispose what a scope created, except what its result holds; a pending tape defers it all. */
  private closeScope(created: Set<Tensor>, result: unknown): void {
    const keep = new Set<Tensor>();
    collectTensors(result, keep);
    // While a tape is pending, its closures still hold this scope's tensors: hand them to the
    // outer scope (a training step wraps forward, backward and update in one scope).
    const deferred = this.tape.length > 0 && this.scopes.length > 0;
    for (const t of created) {
      if (deferred || keep.has(t) || keep.has(t.storage)) this.scopes.at(-1)?.add(t);
      else t.dispose();
    }
  }

  /**
   * scope() across awaits: a training step reads values back (scores for sampling, utilities)
   * between its forward and its backward. Only one async scope may be open at a time: tensors
   * made by other work while it awaits would land in it.
   */
  async scopeAsync<T>(fn: () => Promise<T>): Promise<T> {
    const created = new Set<Tensor>();
    this.scopes.push(created);
    const depth = this.scopes.length;
    let result: T;
    try {
      result = await fn();
    } finally {
      // Another scope left open across the await would swallow this one's tensors.
      const interleaved = this.scopes.length !== depth || this.scopes.at(-1) !== created;
      this.scopes.splice(this.scopes.indexOf(created), 1);
      if (interleaved) console.error('MedRank: engine scopes interleaved across an await (two async scopes at once?)');
    }
    this.closeScope(created, result);
    return result;
  }

  track(t: Tensor): void {
    this.scopes.at(-1)?.add(t);
  }

  untrack(t: Tensor): void {
    for (const s of this.scopes) s.delete(t);
  }
}

function gradOf(t: Tensor): Tensor | null {
  if (!t.storage.grad) return null;
  if (t.base) return t.storage.grad.reshape([...t.shape]);
  return t.grad;
}

function collectTensors(v: unknown, out: Set<Tensor>): void {
  if (v instanceof Tensor) {
    out.add(v);
    out.add(v.storage);
  } else if (Array.isArray(v)) for (const x of v) collectTensors(x, out);
  else if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype)
    for (const x of Object.values(v)) collectTensors(x, out);
}
