// A model's tensors by checkpoint name: uploaded from a verified Checkpoint, switched between
// trainable and frozen, listed for the optimizer and for export.

import type { Engine, Tensor } from '../tensor';
import type { Checkpoint, TensorSpec } from './checkpoint';
import { CheckpointMismatchError } from './errors';

export class Weights {
  readonly tensors = new Map<string, Tensor>();

  constructor(readonly engine: Engine) {}

  /** Upload every spec'd tensor (the checkpoint must have been verified against the specs). */
  static fromCheckpoint(e: Engine, ckpt: Checkpoint, specs: TensorSpec[], rename: (name: string) => string = (n) => n): Weights {
    const w = new Weights(e);
    for (const s of specs) w.set(rename(s.name), e.tensor(ckpt.read(s.name), s.shape, { name: rename(s.name) }).keep());
    return w;
  }

  set(name: string, t: Tensor): void {
    t.name = name;
    this.tensors.set(name, t);
  }

  get(name: string): Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new CheckpointMismatchError(`internal: no weight "${name}" was loaded`);
    return t;
  }

  /** Mark tensors trainable (requiresGrad) by name; the rest frozen. Returns the trainable ones. */
  setTrainable(pred: (name: string) => boolean): Tensor[] {
    const out: Tensor[] = [];
    for (const [n, t] of this.tensors) {
      t.requiresGrad = pred(n);
      if (t.requiresGrad) out.push(t);
    }
    return out;
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
  }
}
