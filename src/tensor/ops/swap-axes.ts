// Swap axes 1 and 2 of a 4-D tensor ([B, T, H, Dh] <-> [B, H, T, Dh]), forward and backward.
// Attention kernels want heads before tokens; linear layers produce tokens before heads.

import { packUniforms } from '../../gpu/device';
import { ShapeError, type Engine, type Tensor } from '../tensor';
import { assertF32, contiguous, grid } from './common';

function swapInto(e: Engine, src: GPUBuffer, dst: GPUBuffer, dims: [number, number, number, number], acc: boolean): void {
  const [A, X, Y, Z] = dims;
  const n = A * X * Y * Z;
  if (n === 0) return;
  e.gpu.dispatch({
    kernel: 'swap_axes_forward',
    constants: { ACCUMULATE: acc },
    buffers: [src, dst],
    uniforms: packUniforms([
      ['u32', A],
      ['u32', X],
      ['u32', Y],
      ['u32', Z],
    ]),
    workgroups: grid(n),
  });
}

/** x: [A, X, Y, Z] -> [A, Y, X, Z] (a copy). */
export function swapAxes12(x: Tensor): Tensor {
  const e = x.engine;
  assertF32(x, 'swapAxes12');
  if (x.rank !== 4) throw new ShapeError(`swapAxes12 needs a 4-D tensor [A, X, Y, Z], got [${x.shape}]`);
  x = contiguous(x);
  const [A, X, Y, Z] = x.shape as [number, number, number, number];
  const out = e.empty([A, Y, X, Z]);
  swapInto(e, x.buffer, out.buffer, [A, X, Y, Z], false);
  e.record('swapAxes12', [x], out, (g) => e.addGrad(x, (dst, acc) => swapInto(e, g.buffer, dst, [A, Y, X, Z], acc)));
  return out;
}
