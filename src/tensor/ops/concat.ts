// Concatenation along one axis, forward and backward, with one strided block copy per input.
// Seen around the axis, every input is [O, A_i, I] (O = product of the dims before the axis,
// I = product of those after it) and the output is [O, sum A_i, I]: input i is an O x (A_i * I)
// block at column offset (A_0 + ... + A_{i-1}) * I of an O x (sum A_i * I) matrix.
// Row-sharded tables use it (ops/sharded.ts): a tensor over the binding limit is kept as pieces.

import { packUniforms } from '../../gpu/device';
import { ShapeError, type Engine, type Tensor } from '../tensor';
import { assertF32, contiguous, grid } from './common';

export interface BlockCopy {
  /** Rows and contiguous columns of the block. */
  R: number;
  C: number;
  srcStride: number;
  srcOffset: number;
  dstStride: number;
  dstOffset: number;
}

/** dst[r * dstStride + dstOffset + c] (+)= src[r * srcStride + srcOffset + c] for r < R, c < C. */
export function blockCopyInto(e: Engine, src: GPUBuffer, dst: GPUBuffer, b: BlockCopy, accumulate: boolean): void {
  if (b.R * b.C === 0) return;
  e.gpu.dispatch({
    kernel: 'block_copy_forward',
    constants: { ACCUMULATE: accumulate },
    buffers: [src, dst],
    uniforms: packUniforms([
      ['u32', b.R],
      ['u32', b.C],
      ['u32', b.srcStride],
      ['u32', b.srcOffset],
      ['u32', b.dstStride],
      ['u32', b.dstOffset],
    ]),
    workgroups: grid(b.R * b.C),
  });
}

/** The axis in [0, rank) and the output shape; throws a ShapeError naming the shapes. */
function concatShape(shapes: ReadonlyArray<readonly number[]>, axis: number): { axis: number; shape: number[] } {
  const list = shapes.map((s) => `[${s}]`).join(', ');
  if (shapes.length === 0) throw new ShapeError('concat needs at least one tensor, got none');
  const rank = shapes[0]!.length;
  if (rank === 0) throw new ShapeError(`concat needs tensors of rank 1 or more, got ${list}`);
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank)
    throw new ShapeError(`concat: axis ${axis} is out of range for rank ${rank} (shapes ${list})`);
  const ax = axis < 0 ? axis + rank : axis;
  for (const [i, s] of shapes.entries()) {
    if (s.length !== rank)
      throw new ShapeError(`concat: tensor ${i} has rank ${s.length}, tensor 0 rank ${rank} (shapes ${list})`);
    const d = s.findIndex((n, k) => k !== ax && n !== shapes[0]![k]);
    if (d >= 0) throw new ShapeError(`concat along axis ${ax}: tensor ${i} differs from tensor 0 in dim ${d} (shapes ${list})`);
  }
  const shape = [...shapes[0]!];
  shape[ax] = shapes.reduce((a, s) => a + s[ax]!, 0);
  return { axis: ax, shape };
}

/**
 * Join tensors along `axis` (negative counts from the end): all have the same rank (>= 1) and
 * agree on every other dim. Transposed views are made contiguous first. A tensor may appear more
 * than once; its gradient is the sum of its slots.
 */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  for (const [i, t] of tensors.entries()) assertF32(t, `concat tensor ${i}`);
  const { axis: ax, shape } = concatShape(
    tensors.map((t) => t.shape),
    axis,
  );
  const e = tensors[0]!.engine;
  const xs = tensors.map((t) => contiguous(t));
  const O = shape.slice(0, ax).reduce((a, b) => a * b, 1);
  const I = shape.slice(ax + 1).reduce((a, b) => a * b, 1);
  const W = shape[ax]! * I; // one output row
  // Input i is O rows of C_i = A_i * I values, at column offset_i = (A_0 + ... + A_{i-1}) * I.
  let offset = 0;
  const slots = xs.map((x) => {
    const C = x.shape[ax]! * I;
    offset += C;
    return { C, offset: offset - C };
  });
  type Slot = { C: number; offset: number };
  const into = (s: Slot): BlockCopy => ({ R: O, C: s.C, srcStride: s.C, srcOffset: 0, dstStride: W, dstOffset: s.offset });
  const outOf = (s: Slot): BlockCopy => ({ R: O, C: s.C, srcStride: W, srcOffset: s.offset, dstStride: s.C, dstOffset: 0 });

  const out = e.empty(shape);
  for (const [i, x] of xs.entries()) blockCopyInto(e, x.buffer, out.buffer, into(slots[i]!), false);
  e.record('concat', xs, out, (g) => {
    for (const [i, x] of xs.entries()) e.addGrad(x, (dst, acc) => blockCopyInto(e, g.buffer, dst, outOf(slots[i]!), acc));
  });
  return out;
}

/**
 * dst = src [B, H, T, Dh] with heads h >= from rolled along T: dst[b, h, t] = src[b, h, (t + s) mod T]
 * (torch.roll by -s); heads before `from` as they are. Every value of dst is written.
 */
function rollHeadsInto(e: Engine, src: GPUBuffer, dst: GPUBuffer, dims: readonly number[], from: number, s: number): void {
  const [B, H, T, Dh] = dims as [number, number, number, number];
  const C = T * Dh;
  if (s === 0 || from >= H) {
    blockCopyInto(e, src, dst, { R: 1, C: B * H * C, srcStride: 0, srcOffset: 0, dstStride: 0, dstOffset: 0 }, false);
    return;
  }
  // Every head rolled (two copies), then the plain heads written over as they are.
  const rows = B * H;
  blockCopyInto(e, src, dst, { R: rows, C: (T - s) * Dh, srcStride: C, srcOffset: s * Dh, dstStride: C, dstOffset: 0 }, false);
  blockCopyInto(e, src, dst, { R: rows, C: s * Dh, srcStride: C, srcOffset: 0, dstStride: C, dstOffset: (T - s) * Dh }, false);
  if (from > 0)
    blockCopyInto(e, src, dst, { R: B, C: from * C, srcStride: H * C, srcOffset: 0, dstStride: H * C, dstOffset: 0 }, false);
}

/**
 * x [B, H, T, Dh] with heads h >= from rolled along tokens by -shift (as torch.roll(x, -shift, 2)
 * on those heads: out[.., t, :] = x[.., (t + shift) mod T, :]); the other heads copied. S2-Attn's
 * shifted heads (ops/s2attn.ts). The gradient is the inverse roll.
 */
export function rollHeads(x: Tensor, from: number, shift: number): Tensor {
  const e = x.engine;
  assertF32(x, 'rollHeads');
  if (x.rank !== 4) throw new ShapeError(`rollHeads needs [B, H, T, Dh], got [${x.shape}]`);
  x = contiguous(x);
  const T = x.shape[2]!;
  const s = T === 0 ? 0 : ((shift % T) + T) % T;
  const out = e.empty(x.shape);
  if (x.size === 0) return out;
  rollHeadsInto(e, x.buffer, out.buffer, x.shape, from, s);
  e.record('rollHeads', [x], out, (g) =>
    e.addGrad(x, (dst, acc) => {
      if (!acc) return rollHeadsInto(e, g.buffer, dst, x.shape, from, (T - s) % T);
      const tmp = e.empty(x.shape);
      rollHeadsInto(e, g.buffer, tmp.buffer, x.shape, from, (T - s) % T);
      blockCopyInto(e, tmp.buffer, dst, { R: 1, C: x.size, srcStride: 0, srcOffset: 0, dstStride: 0, dstOffset: 0 }, true);
      tmp.dispose(); // safe: later uses of the pooled buffer run after this dispatch
    }),
  );
  return out;
}

/**
 * k [B, Hkv, T, Dh] with each head repeated g times: [B, Hkv * g, T, Dh], head h a copy of head
 * floor(h / g) (repeat_interleave over heads, as LongLoRA does before the shift). The gradient of a
 * head is the sum of its copies'. S2-Attn's scores path uses it when a kv head is read by query
 * heads on both sides of the shift.
 */
export function repeatHeads(k: Tensor, g: number): Tensor {
  const e = k.engine;
  assertF32(k, 'repeatHeads');
  if (k.rank !== 4) throw new ShapeError(`repeatHeads needs [B, Hkv, T, Dh], got [${k.shape}]`);
  if (!Number.isInteger(g) || g < 1) throw new ShapeError(`repeatHeads: the repeat count must be a whole number >= 1, got ${g}`);
  k = contiguous(k);
  const [B, Hkv, T, Dh] = k.shape as [number, number, number, number];
  const C = T * Dh;
  const out = e.empty([B, Hkv * g, T, Dh]);
  // Copy j of every head: rows (b, kv) of C values, to slot kv * g + j.
  const slot = (j: number): BlockCopy => ({ R: B * Hkv, C, srcStride: C, srcOffset: 0, dstStride: g * C, dstOffset: j * C });
  for (let j = 0; j < g; j++) blockCopyInto(e, k.buffer, out.buffer, slot(j), false);
  e.record('repeatHeads', [k], out, (grad) =>
    e.addGrad(k, (dst, acc) => {
      for (let j = 0; j < g; j++) {
        const s = slot(j);
        blockCopyInto(
          e,
          grad.buffer,
          dst,
          { ...s, srcStride: s.dstStride, srcOffset: s.dstOffset, dstStride: C, dstOffset: 0 },
          acc || j > 0,
        );
      }
    }),
  );
  return out;
}
