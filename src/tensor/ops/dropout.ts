// Dropout with a counter-based mask: element i is dropped iff hash(seed, i) < p * 2^32, kept
// values are scaled by 1 / (1 - p). The mask is a pure function of (seed, index), so nothing is
// stored for the backward: it reruns the same kernel on the gradient. Callers pick the seed
// (e.g. from the step and the layer), so two dropouts in one step need different seeds.

import { packUniforms } from '../../gpu/device';
import { ShapeError, type Tensor } from '../tensor';
import { assertF32, contiguous, grid } from './common';

/**
 * Inverted dropout with drop probability p in [0, 1). With p = 0 or training = false, returns
 * x itself (no copy, no tape node). seed: an integer in [0, 2^32).
 */
export function dropout(x: Tensor, p: number, seed: number, training = true): Tensor {
  const e = x.engine;
  assertF32(x, 'dropout');
  if (!(Number.isFinite(p) && p >= 0 && p < 1))
    throw new ShapeError(`dropout: p must be in [0, 1) (the probability of dropping each element of [${x.shape}]), got ${p}`);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
    throw new ShapeError(`dropout: seed must be an integer in [0, 2^32), got ${seed}`);
  if (p === 0 || !training) return x;
  x = contiguous(x);
  const n = x.size;
  const threshold = Math.min(Math.floor(p * 2 ** 32), 2 ** 32 - 1);
  const apply = (src: GPUBuffer, dst: GPUBuffer, acc: boolean) =>
    e.gpu.dispatch({
      kernel: 'dropout_forward',
      constants: { ACCUMULATE: acc },
      buffers: [src, dst],
      uniforms: packUniforms([
        ['u32', n],
        ['u32', seed],
        ['u32', threshold],
        ['f32', 1 / (1 - p)],
      ]),
      workgroups: grid(n),
    });
  const out = e.empty(x.shape);
  apply(x.buffer, out.buffer, false);
  e.record('dropout', [x], out, (g) => e.addGrad(x, (dst, acc) => apply(g.buffer, dst, acc)));
  return out;
}
