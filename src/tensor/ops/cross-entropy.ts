// Cross-entropy from logits, fused (the softmax is never materialised in the forward), forward
// and backward. R = rows (leading dims of the logits flattened), V = classes (vocabulary).
//
// Targets are class indices known on the host (an Int32Array or number[]; or an i32 tensor
// together with `hostTargets`): the host checks them against V, counts the non-ignored ones for
// 'mean', and uploads them. The upstream gradient is read on the GPU, never read back.

import { packUniforms } from '../../gpu/device';
import { ShapeError, Tensor } from '../tensor';
import { assertF32, contiguous, grid } from './common';
import { reduceRowsInto } from './reduce';

export interface CrossEntropyOptions {
  /** Rows whose target equals this give 0 loss, 0 gradient, and do not count for 'mean'. */
  ignoreIndex?: number;
  /** 'mean' over non-ignored rows (0 when there are none), 'sum', or 'none' (per-row losses). */
  reduction?: 'mean' | 'sum' | 'none';
  /** The targets on the host, required when `targets` is a tensor. */
  hostTargets?: ArrayLike<number>;
}

/**
 * Cross-entropy of `logits` [..., V] against integer `targets` [...] (R values). Returns a scalar
 * (shape []) for 'mean' and 'sum', and the per-row losses (shape of the leading dims) for 'none'.
 */
export function crossEntropy(logits: Tensor, targets: Tensor | ArrayLike<number>, opts: CrossEntropyOptions = {}): Tensor {
  const e = logits.engine;
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const reduction = opts.reduction ?? 'mean';
  assertF32(logits, 'crossEntropy logits');
  if (logits.rank < 1) throw new ShapeError(`crossEntropy needs logits of shape [R, V], got a scalar`);
  if (!Number.isInteger(ignoreIndex)) throw new ShapeError(`crossEntropy: ignoreIndex must be an integer, got ${ignoreIndex}`);
  const V = logits.shape[logits.rank - 1]!;
  const lead = logits.shape.slice(0, -1);
  const R = lead.reduce((a, b) => a * b, 1);

  let host: ArrayLike<number>;
  let tgt: Tensor | null = null;
  if (targets instanceof Tensor) {
    if (targets.dtype !== 'i32') throw new ShapeError(`crossEntropy targets must be an i32 tensor, got ${targets.dtype}`);
    if (targets.size !== R)
      throw new ShapeError(
        `crossEntropy: logits [${logits.shape}] have ${R} rows but targets [${targets.shape}] hold ${targets.size} values`,
      );
    if (!opts.hostTargets)
      throw new ShapeError(
        'crossEntropy: pass the targets as an Int32Array (or number[]), or give the i32 tensor together with opts.hostTargets, ' +
          'so they can be checked against the number of classes and counted on the host',
      );
    host = opts.hostTargets;
    tgt = targets;
  } else host = targets;
  if (host.length !== R)
    throw new ShapeError(
      `crossEntropy: logits [${logits.shape}] have ${R} rows but ${host.length} targets were given; pass one target per row`,
    );

  let count = 0;
  for (let i = 0; i < R; i++) {
    const t = host[i]!;
    if (t === ignoreIndex) continue;
    if (!Number.isInteger(t) || t < 0 || t >= V)
      throw new ShapeError(
        `crossEntropy: target ${t} at row ${i} is outside [0, ${V}) for logits [${logits.shape}]; ` +
          `use a class index below ${V}, or ignoreIndex (${ignoreIndex}) to skip the row`,
      );
    count++;
  }

  logits = contiguous(logits);
  const ownTargets = tgt === null;
  if (!tgt) {
    tgt = e.tensor(Int32Array.from(host), [R], { dtype: 'i32' });
  }

  const perRow = e.empty(lead);
  const lse = e.empty([R]);
  if (R > 0 && V > 0)
    e.gpu.dispatch({
      kernel: 'cross_entropy_forward',
      buffers: [logits.buffer, tgt.buffer, perRow.buffer, lse.buffer],
      uniforms: packUniforms([
        ['u32', R],
        ['u32', V],
        ['i32', ignoreIndex],
        ['u32', 0],
      ]),
      workgroups: grid(R, 1),
    });
  else e.gpu.clear(perRow.buffer, 0, perRow.bytes);

  let out = perRow;
  // 'mean' divides by the non-ignored count; with none, the sum is 0 and so is the loss.
  const scale = reduction === 'mean' ? (count > 0 ? 1 / count : 0) : 1;
  if (reduction !== 'none') {
    out = e.empty([]);
    if (R > 0) reduceRowsInto(e, 'sum', perRow.buffer, out.buffer, null, 1, R, scale);
    else e.gpu.clear(out.buffer, 0, 4);
  }

  const targetsBuf = tgt.buffer;
  e.record('cross_entropy', [logits], out, (g) => {
    e.addGrad(logits, (dst, acc) => {
      if (logits.size === 0) return;
      e.gpu.dispatch({
        kernel: 'cross_entropy_backward',
        constants: { PER_ROW: reduction === 'none', ACCUMULATE: acc },
        buffers: [logits.buffer, targetsBuf, lse.buffer, g.buffer, dst],
        uniforms: packUniforms([
          ['u32', R],
          ['u32', V],
          ['i32', ignoreIndex],
          ['f32', scale],
        ]),
        workgroups: grid(logits.size),
      });
    });
  });
  const temps: Tensor[] = reduction !== 'none' ? [perRow] : [];
  if (!out.requiresGrad) temps.push(lse, ...(ownTargets ? [tgt] : []));
  if (temps.length) {
    for (const t of temps) t.dispose();
  }
  return out;
}
