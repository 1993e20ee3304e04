// Rotary position embedding (HF rotate_half convention: dim i pairs with i + R/2 over the first
// R dims of each head, the rest passed through: partial rotary, GPT-NeoX),
// forward and backward, plus the cos/sin tables. B = batch, T = tokens, H = heads,
// Dh = head dim, P = table rows (max position). The backward is the same kernel rotating by
// -angle. Only x gets a gradient: the tables are constants and positions are integers.

import { packUniforms } from '../../gpu/device';
import { ShapeError, type Tensor } from '../tensor';
import { assertF32, contiguous, grid, sameShape } from './common';

/**
 * cos and sin of pos * theta^(-2i/Dh) for pos < maxPos, i < Dh/2, each [maxPos, Dh/2]
 * row-major. The angle is rounded to f32 the way HF's LlamaRotaryEmbedding computes it in
 * float32 (inv_freq, then pos * inv_freq), so long positions see the same angles the
 * checkpoint was trained with, not the exact ones.
 */
export function ropeTables(
  maxPos: number,
  Dh: number,
  theta = 10000,
  /** Precomputed inverse frequencies [Dh/2] (a checkpoint's rope scaling); default from theta. */
  invFreqOverride?: ArrayLike<number>,
): { cos: Float32Array; sin: Float32Array } {
  if (!Number.isInteger(maxPos) || maxPos < 1)
    throw new ShapeError(`ropeTables: maxPos must be a positive integer, got ${maxPos}`);
  if (!Number.isInteger(Dh) || Dh < 2 || Dh % 2 !== 0)
    throw new ShapeError(`ropeTables: head dim Dh must be a positive even integer (dims pair up as i, i + Dh/2), got ${Dh}`);
  const half = Dh / 2;
  const f = Math.fround;
  if (invFreqOverride && invFreqOverride.length !== half)
    throw new ShapeError(
      `ropeTables: ${invFreqOverride.length} inverse frequencies given for head dim ${Dh}; need Dh/2 = ${half}`,
    );
  const invFreq = invFreqOverride
    ? Array.from(invFreqOverride, f)
    : Array.from({ length: half }, (_, i) => f(1 / f(theta ** f((2 * i) / Dh))));
  const cos = new Float32Array(maxPos * half),
    sin = new Float32Array(maxPos * half);
  for (let p = 0; p < maxPos; p++)
    for (let i = 0; i < half; i++) {
      const angle = f(p * invFreq[i]!);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  return { cos, sin };
}

/**
 * Rotate x: [B, T, H, Dh] by the angles of `positions` (i32, [T] shared by the batch or
 * [B, T]). cos, sin: [P, R/2] from ropeTables(P, R), where R = opts.rotaryDims (default Dh) is
 * how many leading dims of each head rotate; the other Dh - R pass through (GPT-NeoX's partial
 * rotary). Positions must lie in [0, P); the kernel clamps any outside (checking them here would
 * need a GPU readback).
 */
export function rope(x: Tensor, cos: Tensor, sin: Tensor, positions: Tensor, opts: { rotaryDims?: number } = {}): Tensor {
  const e = x.engine;
  assertF32(x, 'rope x');
  assertF32(cos, 'rope cos');
  assertF32(sin, 'rope sin');
  if (x.rank !== 4)
    throw new ShapeError(`rope: x must be [B, T, H, Dh], got [${x.shape}]; reshape heads out of the hidden dim first`);
  const [B, T, H, Dh] = x.shape as [number, number, number, number];
  const R = opts.rotaryDims ?? Dh;
  if (R % 2 !== 0 || R > Dh || R < 2)
    throw new ShapeError(
      `rope: the rotary dims must be even, from 2 to the head dim ${Dh} (dims pair up as i, i + R/2), got ${R} in x [${x.shape}]`,
    );
  const half = R / 2;
  if (cos.rank !== 2 || cos.shape[1] !== half || !sameShape(cos.shape, sin.shape))
    throw new ShapeError(
      `rope: cos and sin must both be [maxPos, R/2] = [P, ${half}] for x [${x.shape}] rotating ${R} dims, got cos [${cos.shape}] and sin [${sin.shape}]; build them with ropeTables(maxPos, ${R})`,
    );
  if (positions.dtype !== 'i32')
    throw new ShapeError(`rope: positions must be an i32 tensor, got ${positions.dtype}; create it with { dtype: 'i32' }`);
  const batched = positions.rank === 2;
  if (!(sameShape(positions.shape, [T]) || sameShape(positions.shape, [B, T])))
    throw new ShapeError(
      `rope: positions must be [T] = [${T}] or [B, T] = [${B}, ${T}] for x [${x.shape}], got [${positions.shape}]`,
    );
  const P = cos.shape[0]!;
  if (P === 0) throw new ShapeError('rope: the cos/sin tables have no rows');

  x = contiguous(x);
  cos = contiguous(cos);
  sin = contiguous(sin);
  const n = B * T * H * (Dh - half);
  const rotate = (src: GPUBuffer, dst: GPUBuffer, inverse: boolean, acc: boolean) =>
    e.gpu.dispatch({
      kernel: 'rope_forward',
      constants: { INVERSE: inverse, ACCUMULATE: acc },
      buffers: [src, cos.buffer, sin.buffer, positions.buffer, dst],
      uniforms: packUniforms([
        ['u32', n],
        ['u32', T],
        ['u32', H],
        ['u32', half],
        ['u32', P],
        ['u32', batched ? T : 0],
        ['u32', Dh],
        ['u32', 0],
      ]),
      workgroups: grid(n),
    });
  const out = e.empty(x.shape);
  rotate(x.buffer, out.buffer, false, false);
  e.record('rope', [x], out, (g) => e.addGrad(x, (dst, acc) => rotate(g.buffer, dst, true, acc)));
  return out;
}
