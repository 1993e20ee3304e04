// Finite-difference gradient check: for a scalar loss L(x) = sum(w * f(x)) with fixed random w,
// compare autograd's dL/dx with central differences (L(x + eps e_i) - L(x - eps e_i)) / 2 eps,
// evaluated on the GPU in f32. Use tiny shapes: each element costs two forward passes.

import type { Engine, Tensor } from '../../src/tensor/tensor';
import { expectClose, randn } from './helpers';

/**
 * `f` builds the op's output from the input tensors (fresh each call). Checks the gradient of
 * each input index listed in `wrt`. Tolerances default to what f32 central differences allow.
 */
export async function gradcheck(
  e: Engine,
  f: (inputs: Tensor[]) => Tensor,
  inputs: Array<{ data: Float32Array; shape: number[] }>,
  opts: { wrt?: number[]; eps?: number; atol?: number; rtol?: number; label?: string } = {},
): Promise<void> {
  const eps = opts.eps ?? 1e-2;
  const wrt = opts.wrt ?? inputs.map((_, i) => i);
  const make = (datas: Float32Array[], grad: boolean) =>
    inputs.map((inp, i) => e.tensor(datas[i]!, inp.shape, { requiresGrad: grad && wrt.includes(i) }));
  const datas = inputs.map((x) => Float32Array.from(x.data));

  // Analytic gradient.
  const xs = make(datas, true);
  const y = f(xs);
  const w = randn(y.size, 12345);
  e.backward(y, e.tensor(w, y.shape));
  const analytic = await Promise.all(wrt.map((i) => xs[i]!.grad!.read()));

  const loss = async (ds: Float32Array[]) =>
    e
      .noGrad(() => f(make(ds, false)))
      .read()
      .then((out) => out.reduce((s, v, k) => s + v * w[k]!, 0));

  for (const [j, i] of wrt.entries()) {
    const numeric = new Float32Array(datas[i]!.length);
    for (let k = 0; k < numeric.length; k++) {
      const orig = datas[i]![k]!;
      datas[i]![k] = orig + eps;
      const lp = await loss(datas);
      datas[i]![k] = orig - eps;
      const lm = await loss(datas);
      datas[i]![k] = orig;
      numeric[k] = (lp - lm) / (2 * eps);
    }
    expectClose(
      analytic[j]!,
      numeric,
      { atol: opts.atol ?? 2e-2, rtol: opts.rtol ?? 2e-2 },
      `${opts.label ?? 'gradcheck'} d/dinput${i}`,
    );
  }
}
