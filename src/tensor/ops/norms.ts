// Row norms over the last dim, forward and backward: layernorm (HF BERT), rmsnorm (Llama),
// l2normalize (ColBERT token vectors). R = rows (every leading dim flattened), D = last dim.
// The forward saves per-row statistics (mean and rstd, or rstd) only when it records a tape
// node; the backward reads them instead of recomputing. Parameter gradients (dgamma, dbeta,
// dweight) come from one column kernel, norm_params_backward, one dispatch per parameter.

import { packUniforms } from '../../gpu/device';
import { ShapeError, type Tensor, type Engine } from '../tensor';
import { assertF32, contiguous, grid, lastDim, rowPerThread, rowWorkgroups } from './common';

function checkEps(op: string, eps: number): void {
  if (!Number.isFinite(eps) || eps < 0) throw new ShapeError(`${op}: eps must be a finite number >= 0, got ${eps}`);
}

/** Validate x and a per-column parameter ([D]); returns R and D. */
function rowsAndDim(op: string, x: Tensor, params: Array<[Tensor, string]>): { R: number; D: number } {
  assertF32(x, `${op} input`);
  if (x.rank === 0) throw new ShapeError(`${op}: x must have at least 1 dim (the normalised one), got a scalar`);
  const D = lastDim(x);
  if (D === 0) throw new ShapeError(`${op}: the last dim of x [${x.shape}] is empty; there is nothing to normalise`);
  for (const [p, name] of params) {
    assertF32(p, `${op} ${name}`);
    if (p.rank !== 1 || p.shape[0] !== D)
      throw new ShapeError(`${op}: ${name} must have shape [${D}] to match the last dim of x [${x.shape}], got [${p.shape}]`);
  }
  return { R: x.size / D, D };
}

/** dst (+)= sum over rows of g * xhat (or of g alone when bias), for a [D] parameter. */
function paramGradInto(
  e: Engine,
  x: Tensor,
  g: Tensor,
  stats: Tensor,
  dst: GPUBuffer,
  R: number,
  D: number,
  opts: { hasMean: boolean; bias: boolean; acc: boolean },
): void {
  e.gpu.dispatch({
    kernel: 'norm_params_backward',
    constants: { HAS_MEAN: opts.hasMean, GRAD_BIAS: opts.bias, ACCUMULATE: opts.acc },
    buffers: [x.buffer, g.buffer, stats.buffer, dst],
    uniforms: packUniforms([
      ['u32', R],
      ['u32', D],
    ]),
    workgroups: grid(D),
  });
}

const needsTape = (e: Engine, inputs: Tensor[]): boolean => e.recording && inputs.some((t) => t.requiresGrad);

/**
 * LayerNorm over the last dim: (x - mean) / sqrt(var + eps) * gamma + beta, biased variance,
 * as torch.nn.LayerNorm. gamma, beta: [D]. eps defaults to HF BERT's layer_norm_eps.
 */
export function layernorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-12): Tensor {
  const e = x.engine;
  const { R, D } = rowsAndDim('layernorm', x, [
    [gamma, 'gamma'],
    [beta, 'beta'],
  ]);
  checkEps('layernorm', eps);
  x = contiguous(x);
  const save = needsTape(e, [x, gamma, beta]);
  const perThread = rowPerThread(e, R, D);
  const stats = save ? e.empty([R, 2]) : e.placeholder();
  const out = e.empty(x.shape);
  e.gpu.dispatch({
    kernel: 'layernorm_forward',
    constants: { SAVE_STATS: save, ROW_PER_THREAD: perThread },
    buffers: [x.buffer, gamma.buffer, beta.buffer, out.buffer, stats.buffer],
    uniforms: packUniforms([
      ['u32', R],
      ['u32', D],
      ['f32', eps],
    ]),
    workgroups: rowWorkgroups(R, perThread),
  });
  e.record('layernorm', [x, gamma, beta], out, (g) => {
    e.addGrad(x, (dst, acc) =>
      e.gpu.dispatch({
        kernel: 'layernorm_backward',
        constants: { ACCUMULATE: acc, ROW_PER_THREAD: perThread },
        buffers: [x.buffer, gamma.buffer, stats.buffer, g.buffer, dst],
        uniforms: packUniforms([
          ['u32', R],
          ['u32', D],
        ]),
        workgroups: rowWorkgroups(R, perThread),
      }),
    );
    e.addGrad(gamma, (dst, acc) => paramGradInto(e, x, g, stats, dst, R, D, { hasMean: true, bias: false, acc }));
    e.addGrad(beta, (dst, acc) => paramGradInto(e, x, g, stats, dst, R, D, { hasMean: true, bias: true, acc }));
  });
  return out;
}

/**
 * RMSNorm over the last dim (Llama): x / sqrt(mean(x^2) + eps) * (weight + weightOffset).
 * weight: [D]. Gemma stores w and scales by (1 + w): weightOffset 1 (default 0).
 */
export function rmsnorm(x: Tensor, weight: Tensor, eps = 1e-6, opts: { weightOffset?: number } = {}): Tensor {
  const e = x.engine;
  const { R, D } = rowsAndDim('rmsnorm', x, [[weight, 'weight']]);
  checkEps('rmsnorm', eps);
  const offset = opts.weightOffset ?? 0;
  if (!Number.isFinite(offset)) throw new ShapeError(`rmsnorm: weightOffset must be a finite number, got ${offset}`);
  x = contiguous(x);
  const save = needsTape(e, [x, weight]);
  const perThread = rowPerThread(e, R, D);
  const stats = save ? e.empty([R]) : e.placeholder();
  const out = e.empty(x.shape);
  e.gpu.dispatch({
    kernel: 'rmsnorm_forward',
    constants: { SAVE_STATS: save, ROW_PER_THREAD: perThread, WEIGHT_OFFSET: offset },
    buffers: [x.buffer, weight.buffer, out.buffer, stats.buffer],
    uniforms: packUniforms([
      ['u32', R],
      ['u32', D],
      ['f32', eps],
    ]),
    workgroups: rowWorkgroups(R, perThread),
  });
  e.record('rmsnorm', [x, weight], out, (g) => {
    e.addGrad(x, (dst, acc) =>
      e.gpu.dispatch({
        kernel: 'rmsnorm_backward',
        constants: { ACCUMULATE: acc, ROW_PER_THREAD: perThread, WEIGHT_OFFSET: offset },
        buffers: [x.buffer, weight.buffer, stats.buffer, g.buffer, dst],
        uniforms: packUniforms([
          ['u32', R],
          ['u32', D],
        ]),
        workgroups: rowWorkgroups(R, perThread),
      }),
    );
    e.addGrad(weight, (dst, acc) => paramGradInto(e, x, g, stats, dst, R, D, { hasMean: false, bias: false, acc }));
  });
  return out;
}

/** x / max(||x||, eps) over the last dim, as torch.nn.functional.normalize(x, dim=-1). */
export function l2normalize(x: Tensor, eps = 1e-12): Tensor {
  const e = x.engine;
  const { R, D } = rowsAndDim('l2normalize', x, []);
  checkEps('l2normalize', eps);
  x = contiguous(x);
  const out = e.empty(x.shape);
  const uniforms = () =>
    packUniforms([
      ['u32', R],
      ['u32', D],
      ['f32', eps],
    ]);
  const perThread = rowPerThread(e, R, D);
  e.gpu.dispatch({
    kernel: 'l2norm_forward',
    constants: { ROW_PER_THREAD: perThread },
    buffers: [x.buffer, out.buffer],
    uniforms: uniforms(),
    workgroups: rowWorkgroups(R, perThread),
  });
  e.record('l2normalize', [x], out, (g) =>
    e.addGrad(x, (dst, acc) =>
      e.gpu.dispatch({
        kernel: 'l2norm_backward',
        constants: { ACCUMULATE: acc, ROW_PER_THREAD: perThread },
        buffers: [x.buffer, g.buffer, dst],
        uniforms: uniforms(),
        workgroups: rowWorkgroups(R, perThread),
      }),
    ),
  );
  return out;
}
