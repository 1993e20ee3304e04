// AdamW with decoupled weight decay and global-norm gradient clipping, all on the GPU: the grad
// norm is reduced on the device and read by the update kernel, so a step never waits for the CPU.
// Parameter groups carry their own learning rate and weight decay (JMLR trains the retriever and
// the generator at different rates).

import { packUniforms } from '../../gpu/device';
import { MedRankError } from '../../core/errors';
import { grid } from '../ops/common';
import type { Engine, Tensor } from '../tensor';

export interface ParamGroup {
  params: Tensor[];
  lr: number;
  weightDecay?: number;
}

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** Clip the global gradient norm (over every group) to this; 0 or undefined: no clipping. */
  maxGradNorm?: number;
}

const CHUNK = 4096; // elements per workgroup in the first sum-of-squares pass

export class AdamW {
  readonly groups: Required<ParamGroup>[];
  readonly betas: [number, number];
  readonly eps: number;
  maxGradNorm: number;
  /** Steps taken; bias correction uses it. */
  t = 0;
  private state = new Map<Tensor, { m: GPUBuffer; v: GPUBuffer }>();
  private partials: GPUBuffer | null = null;
  private normBuf: GPUBuffer;

  constructor(
    private engine: Engine,
    params: Tensor[] | ParamGroup[],
    opts: AdamWOptions = {},
  ) {
    const wd = opts.weightDecay ?? 0.01;
    const lr = opts.lr ?? 1e-3;
    const groups: ParamGroup[] =
      params.length > 0 && !('params' in params[0]!) ? [{ params: params as Tensor[], lr }] : (params as ParamGroup[]);
    this.groups = groups.map((g) => ({ params: g.params, lr: g.lr, weightDecay: g.weightDecay ?? wd }));
    for (const g of this.groups)
      for (const p of g.params) {
        if (!p.requiresGrad)
          throw new MedRankError(`AdamW got a parameter that does not require grad: ${p.name || `[${p.shape}]`}`);
        if (p.base)
          throw new MedRankError(`AdamW needs parameters that own their storage, not views: ${p.name || `[${p.shape}]`}`);
      }
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.maxGradNorm = opts.maxGradNorm ?? 0;
    this.normBuf = engine.gpu.alloc(16, 'grad norm');
  }

  get params(): Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }

  /** Global L2 norm of every gradient, on the GPU (written to the norm buffer). */
  private computeGradNorm(): void {
    const gpu = this.engine.gpu;
    const withGrad = this.params.filter((p) => p.grad);
    const counts = withGrad.map((p) => Math.ceil(p.size / CHUNK));
    const total = counts.reduce((a, b) => a + b, 0);
    if (!this.partials || this.partials.size < total * 4) {
      if (this.partials) gpu.release(this.partials);
      this.partials = gpu.alloc(Math.max(total, 1) * 4, 'grad-norm partials');
    }
    let offset = 0;
    withGrad.forEach((p, i) => {
      gpu.dispatch({
        kernel: 'sumsq_forward',
        constants: { FINAL: false },
        buffers: [p.grad!.buffer, this.partials!],
        uniforms: packUniforms([
          ['u32', p.size],
          ['u32', offset],
          ['u32', CHUNK],
          ['u32', 0],
        ]),
        workgroups: grid(counts[i]!, 1),
      });
      offset += counts[i]!;
    });
    gpu.dispatch({
      kernel: 'sumsq_forward',
      constants: { FINAL: true },
      buffers: [this.partials!, this.normBuf],
      uniforms: packUniforms([
        ['u32', total],
        ['u32', 0],
        ['u32', CHUNK],
        ['u32', 0],
      ]),
      workgroups: [1],
    });
  }

  /** The global gradient norm of the last step (before clipping). Reads back: for logging. */
  async lastGradNorm(): Promise<number> {
    return (await this.engine.gpu.readF32(this.normBuf, 1))[0]!;
  }

  step(): void {
    const gpu = this.engine.gpu;
    this.t++;
    const [b1, b2] = this.betas;
    // The norm is always computed: it costs two small passes and the caller may log it.
    this.computeGradNorm();
    for (const group of this.groups)
      for (const p of group.params) {
        if (!p.grad) continue; // unused in this step's graph: PyTorch skips it too
        let s = this.state.get(p);
        if (!s) {
          s = { m: gpu.alloc(p.bytes, `AdamW state of ${p.name}`), v: gpu.alloc(p.bytes, `AdamW state of ${p.name}`) };
          gpu.clear(s.m, 0, p.bytes);
          gpu.clear(s.v, 0, p.bytes);
          this.state.set(p, s);
        }
        gpu.dispatch({
          kernel: 'adamw_step',
          buffers: [p.buffer, p.grad.buffer, s.m, s.v, this.normBuf],
          uniforms: packUniforms([
            ['u32', p.size],
            ['f32', group.lr],
            ['f32', b1],
            ['f32', b2],
            ['f32', this.eps],
            ['f32', group.weightDecay],
            ['f32', 1 - b1 ** this.t],
            ['f32', 1 - b2 ** this.t],
            ['f32', this.maxGradNorm],
          ]),
          workgroups: grid(p.size),
        });
      }
  }

  /** Drop gradients (the next backward writes fresh ones instead of adding). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /**
   * The optimizer state for a checkpoint: step count and, per parameter (in `params` order), its
   * first and second moments, or null for a parameter that has not had a gradient yet.
   */
  async saveState(): Promise<{ t: number; moments: ({ m: Float32Array; v: Float32Array } | null)[] }> {
    const gpu = this.engine.gpu;
    const moments = await Promise.all(
      this.params.map(async (p) => {
        const s = this.state.get(p);
        return s ? { m: await gpu.readF32(s.m, p.size), v: await gpu.readF32(s.v, p.size) } : null;
      }),
    );
    return { t: this.t, moments };
  }

  /** Restore saveState()'s output onto the same parameter list (resume from a checkpoint). */
  loadState(saved: { t: number; moments: ({ m: Float32Array; v: Float32Array } | null)[] }): void {
    const params = this.params;
    if (saved.moments.length !== params.length)
      throw new MedRankError(
        `optimizer state has ${saved.moments.length} parameters, this run trains ${params.length}: the checkpoint belongs to another configuration`,
      );
    const gpu = this.engine.gpu;
    saved.moments.forEach((mv, i) => {
      const p = params[i]!;
      const old = this.state.get(p);
      if (old) {
        gpu.release(old.m);
        gpu.release(old.v);
        this.state.delete(p);
      }
      if (!mv) return;
      if (mv.m.length !== p.size || mv.v.length !== p.size)
        throw new MedRankError(
          `optimizer state for ${p.name || `[${p.shape}]`} has the wrong size: the checkpoint belongs to another configuration`,
        );
      const s = { m: gpu.alloc(p.bytes, `AdamW state of ${p.name}`), v: gpu.alloc(p.bytes, `AdamW state of ${p.name}`) };
      gpu.write(s.m, mv.m);
      gpu.write(s.v, mv.v);
      this.state.set(p, s);
    });
    this.t = saved.t;
  }

  /** Bytes of optimizer state (m and v) held on the GPU. */
  get stateBytes(): number {
    let n = 0;
    for (const s of this.state.values()) n += s.m.size + s.v.size;
    return n;
  }

  dispose(): void {
    for (const s of this.state.values()) {
      this.engine.gpu.release(s.m);
      this.engine.gpu.release(s.v);
    }
    this.state.clear();
    if (this.partials) this.engine.gpu.release(this.partials);
    this.engine.gpu.release(this.normBuf);
  }
}
