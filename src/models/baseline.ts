// A loaded model's starting point, kept so runs can start from it: the checkpoint's values of every
// weight a run has changed, copied to the CPU the first time a run is about to change it (only
// those: a LoRA run of the generator keeps nothing but its embeddings and norms when they train),
// and put back on reset, with every LoRA adapter dropped. Continuing from a run merges its adapters
// into their weights first (the next run's configuration would otherwise drop them), keeping
// those weights' loaded values too, so a reset still reaches the checkpoint.

import { packedAs, type Tensor } from '../tensor';
import { ModelConfigError } from './errors';
import { detachLora, mergedWeight, type Linear } from './lora';
import type { Weights } from './weights';

export class Baseline {
  /** Loaded values of the tensors a run changed, by tensor (a sharded table's rows are separate tensors). */
  private readonly saved = new Map<Tensor, Float32Array>();

  constructor(
    private readonly weights: Weights,
    private readonly linears: () => Linear[],
  ) {}

  /** True when some weight differs from the checkpoint (a run trained it, or an adapter is attached). */
  get changed(): boolean {
    return this.saved.size > 0 || this.linears().some((l) => l.lora !== null);
  }

  /** The model's own tensors among `params` (LoRA adapters are not: they are made fresh by each run). */
  private own(params: Tensor[]): Tensor[] {
    const mine = new Set(this.weights.names().flatMap((n) => this.weights.rows(n)));
    return params.filter((p) => mine.has(p));
  }

  /** Copy the current values of those of `params` that are the model's and not kept yet; call before they change. */
  async keep(params: Tensor[]): Promise<void> {
    const fresh = this.own(params).filter((p) => !this.saved.has(p));
    const values = await Promise.all(fresh.map((p) => p.read()));
    fresh.forEach((p, i) => this.saved.set(p, values[i]!));
  }

  /**
   * Fold every attached adapter into its weight (W += scaling B A) and drop it: the model computes
   * the same function, with no adapter a next run's configuration could drop.
   */
  async mergeAdapters(): Promise<void> {
    const withAdapter = this.linears().filter((l) => l.lora !== null);
    // A half-size frozen base would round the adapter's small update away: refused, not merged.
    const packed = withAdapter.filter((l) => l.weight.dtype !== 'f32').map((l) => l.name);
    if (packed.length)
      throw new ModelConfigError(
        `cannot fold LoRA adapters into weights stored as f16 (${packed.slice(0, 3).join(', ')}${packed.length > 3 ? ', ...' : ''}): ` +
          'start the run from the loaded checkpoints, or load the model with f32 weights to continue a run',
      );
    await this.keep(withAdapter.map((l) => l.weight));
    for (const l of withAdapter) {
      const W = await mergedWeight(l);
      this.weights.engine.gpu.write(l.weight.buffer, W);
      l.lora!.dispose();
      l.lora = null;
    }
  }

  /** The model as loaded: every kept tensor's values back, every adapter dropped, nothing trainable. */
  async restore(): Promise<void> {
    detachLora(this.linears());
    // Saved values are f32; a packed tensor takes them back packed (exactly: they came from it).
    for (const [t, v] of this.saved)
      this.weights.engine.gpu.write(t.buffer, t.dtype === 'f32' ? v : packedAs(t.dtype, v, t.shape));
    this.saved.clear();
    this.weights.setTrainable(() => false);
    await this.weights.engine.gpu.sync();
  }
}
