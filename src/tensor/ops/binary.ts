// Elementwise add/sub/mul/div with NumPy broadcasting, scale, and the broadcast backward
// (summing a gradient down to an input's shape). Forward and backward.

import { packUniforms } from '../../gpu/device';
import { ShapeError, type Tensor, type Engine } from '../tensor';
import { contiguous, grid, sameShape } from './common';

const MAX_RANK = 8;
/** 'first' ignores b: with alpha it is a scaled copy (scale's forward and backward). */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'first';
const OP_CODE: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3, first: 4 };

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1)
      throw new ShapeError(`shapes [${a}] and [${b}] do not broadcast (dim ${i}: ${da} vs ${db})`);
    out.push(da === 1 ? db : da);
  }
  if (rank > MAX_RANK) throw new ShapeError(`rank ${rank} is over the maximum of ${MAX_RANK}`);
  return out;
}

/** Strides of `shape` (right-aligned to `rank`) with 0 on broadcast dims. */
function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const rank = out.length;
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    const d = shape[shape.length - rank + i] ?? 1;
    strides[i] = d === 1 && out[i] !== 1 ? 0 : s;
    s *= d;
  }
  return strides;
}

const pad8 = (v: number[]): Array<['u32', number]> =>
  Array.from({ length: MAX_RANK }, (_, i) => ['u32', v[i] ?? 1] as ['u32', number]);

/** b's element count when b (leading 1s dropped) equals outShape's trailing dims, else 0. */
function tailSize(b: readonly number[], outShape: readonly number[]): number {
  const core = b.slice(b.findIndex((d) => d !== 1));
  if (b.every((d) => d === 1) || core.length > outShape.length) return 0;
  const tail = outShape.slice(outShape.length - core.length);
  const n = core.reduce((x, y) => x * y, 1);
  return sameShape(core, tail) && n > 0 ? n : 0;
}

/** out (+)= alpha * (a op b), with a, b broadcast to outShape. */
export function binaryInto(
  e: Engine,
  op: BinaryOp,
  a: { buffer: GPUBuffer; shape: readonly number[] },
  b: { buffer: GPUBuffer; shape: readonly number[] },
  out: GPUBuffer,
  outShape: readonly number[],
  accumulate = false,
  alpha = 1,
): void {
  const n = outShape.reduce((x, y) => x * y, 1);
  const same = sameShape(a.shape, outShape) && sameShape(b.shape, outShape);
  const tail = !same && sameShape(a.shape, outShape) ? tailSize(b.shape, outShape) : 0;
  e.gpu.dispatch({
    kernel: 'binary_forward',
    constants: { OP: OP_CODE[op], SAME: same, B_TAIL: tail > 0, ACCUMULATE: accumulate },
    buffers: [a.buffer, b.buffer, out],
    uniforms: packUniforms([
      ['u32', n],
      ['u32', outShape.length],
      ['f32', alpha],
      ['u32', tail],
      ...pad8([...outShape]),
      ...pad8(broadcastStrides(a.shape, outShape)),
      ...pad8(broadcastStrides(b.shape, outShape)),
    ]),
    workgroups: grid(n),
  });
}

/** out (+)= alpha * (g summed down from gShape to target, a shape g broadcast from). */
export function sumToShapeInto(
  e: Engine,
  g: GPUBuffer,
  gShape: readonly number[],
  out: GPUBuffer,
  target: readonly number[],
  accumulate = false,
  alpha = 1,
): void {
  const rank = gShape.length;
  const t = Array.from({ length: rank }, (_, i) => target[target.length - rank + i] ?? 1);
  const strides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    strides[i] = s;
    s *= gShape[i]!;
  }
  const red = gShape.map((d, i) => (t[i] === 1 && d !== 1 ? d : 1));
  const count = red.reduce((x, y) => x * y, 1);
  const n = t.reduce((x, y) => x * y, 1);
  e.gpu.dispatch({
    kernel: 'broadcast_backward',
    constants: { ACCUMULATE: accumulate },
    buffers: [g, out],
    uniforms: packUniforms([
      ['u32', n],
      ['u32', rank],
      ['u32', count],
      ['f32', alpha],
      ...pad8(t),
      ...pad8(red),
      ...pad8(strides),
    ]),
    workgroups: grid(n),
  });
}

/** Add the gradient g (of outShape) into x's grad, reducing over broadcast dims. */
function gradBroadcast(e: Engine, x: Tensor, g: GPUBuffer, outShape: readonly number[], alpha = 1): void {
  e.addGrad(x, (dst, acc) => {
    if (!sameShape(x.shape, outShape)) sumToShapeInto(e, g, outShape, dst, x.shape, acc, alpha);
    else if (alpha === 1 && !acc) e.gpu.copy(g, 0, dst, 0, x.bytes);
    else scaleInto(e, g, dst, x.size, alpha, acc);
  });
}

/** out (+)= alpha * x over n elements. */
export function scaleInto(e: Engine, x: GPUBuffer, out: GPUBuffer, n: number, alpha: number, accumulate: boolean): void {
  binaryInto(e, 'first', { buffer: x, shape: [n] }, { buffer: x, shape: [n] }, out, [n], accumulate, alpha);
}

/** alpha * x. */
export function scale(x: Tensor, alpha: number): Tensor {
  const e = x.engine;
  x = contiguous(x);
  const out = e.empty(x.shape);
  scaleInto(e, x.buffer, out.buffer, x.size, alpha, false);
  e.record('scale', [x], out, (g) => e.addGrad(x, (dst, acc) => scaleInto(e, g.buffer, dst, x.size, alpha, acc)));
  return out;
}

/** x + bias over the last dim (bias: [D]); the bias gradient sums over all rows. */
export function bias(x: Tensor, b: Tensor): Tensor {
  if (b.rank !== 1 || b.shape[0] !== x.shape[x.rank - 1])
    throw new ShapeError(`bias must have shape [${x.shape[x.rank - 1]}] to match [${x.shape}], got [${b.shape}]`);
  return add(x, b);
}

function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const e = a.engine;
  if (a.dtype !== 'f32' || b.dtype !== 'f32') throw new ShapeError(`${op} needs f32 tensors`);
  a = contiguous(a);
  b = contiguous(b);
  const shape = broadcastShape(a.shape, b.shape);
  const out = e.empty(shape);
  binaryInto(e, op, a, b, out.buffer, shape);
  e.record(op, [a, b], out, (g) => {
    const gt = { buffer: g.buffer, shape };
    if (op === 'add' || op === 'sub') {
      gradBroadcast(e, a, g.buffer, shape);
      gradBroadcast(e, b, g.buffer, shape, op === 'sub' ? -1 : 1);
      return;
    }
    // mul: da = g * b, db = g * a. div: da = g / b, db = -g * out / b.
    for (const [x, other] of [
      [a, b],
      [b, a],
    ] as const) {
      if (!x.requiresGrad) continue;
      const isB = x === b && a !== b;
      const direct = sameShape(x.shape, shape);
      const tmpShape = direct ? x.shape : shape;
      const compute = (dst: GPUBuffer, acc: boolean) => {
        if (op === 'mul') binaryInto(e, 'mul', gt, other, dst, shape, acc);
        else if (!isB) binaryInto(e, 'div', gt, b, dst, shape, acc);
        else {
          const t = e.empty(shape);
          binaryInto(e, 'mul', gt, { buffer: out.buffer, shape }, t.buffer, shape);
          binaryInto(e, 'div', { buffer: t.buffer, shape }, b, dst, shape, acc, -1);
          t.dispose();
        }
      };
      if (direct) e.addGrad(x, compute);
      else {
        const tmp = e.empty(tmpShape);
        compute(tmp.buffer, false);
        e.addGrad(x, (dst, acc) => sumToShapeInto(e, tmp.buffer, shape, dst, x.shape, acc));
        tmp.dispose();
      }
    }
  });
  return out;
}

export const add = (a: Tensor, b: Tensor): Tensor => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary('mul', a, b);
export const div = (a: Tensor, b: Tensor): Tensor => binary('div', a, b);
