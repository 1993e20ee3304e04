// Runs one runner op (forward and backward) on an engine from named host tensors; returns the
// named outputs. Shared by the runner page and the golden tests, so both check the same path.

import type { Engine, Tensor } from '../../src/tensor/tensor';
import { maxsim } from '../../src/tensor/ops/maxsim';
import { s2attn } from '../../src/tensor/ops/s2attn';
import type { RunnerOp, RunnerOptions } from './ops';

export interface HostTensor {
  shape: number[];
  data: Float32Array | Int32Array | ArrayLike<number>;
}

export async function runOp(
  e: Engine,
  op: RunnerOp,
  tensors: Map<string, HostTensor>,
  opts: RunnerOptions,
): Promise<Record<string, { shape: number[]; data: Float32Array }>> {
  const get = (name: string) => tensors.get(name)!;
  const f32 = (name: string, grad = false) => e.tensor(get(name).data, get(name).shape, { requiresGrad: grad });
  const outputs: Record<string, Tensor> = {};
  if (op === 'maxsim') {
    const Q = f32('Q', true);
    const D = f32('D', true);
    const scores = maxsim(Q, f32('Q_mask'), D, Int32Array.from(get('D_offsets').data));
    e.backward(scores, f32('dScores'));
    Object.assign(outputs, { scores, dQ: Q.grad!, dD: D.grad! });
  } else {
    const q = f32('q', true);
    const k = f32('k', true);
    const v = f32('v', true);
    const out = s2attn(q, k, v, { ratio: opts.ratio, shift: opts.shift });
    e.backward(out, f32('dout'));
    Object.assign(outputs, { out, dq: q.grad!, dk: k.grad!, dv: v.grad! });
  }
  const result: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of Object.entries(outputs)) result[name] = { shape: [...t.shape], data: await t.read() };
  return result;
}
