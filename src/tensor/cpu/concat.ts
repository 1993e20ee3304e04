// CPU twin of concat (block_copy_forward) and its backward, a split of the gradient.
// O = product of the dims before the axis, A = sizes along the axis, I = product after it.

import { numel, type CpuTensor } from './types';

/** The axis in [0, rank) and the output shape (checked independently of the GPU op's checks). */
function outShape(shapes: number[][], axis: number): { axis: number; shape: number[] } {
  const rank = shapes[0]?.length ?? 0;
  const ax = axis < 0 ? axis + rank : axis;
  if (rank === 0 || ax < 0 || ax >= rank) throw new Error(`concat: axis ${axis} does not fit shapes ${JSON.stringify(shapes)}`);
  for (const s of shapes)
    if (s.length !== rank || s.some((n, k) => k !== ax && n !== shapes[0]![k]))
      throw new Error(`concat along axis ${ax}: shapes ${JSON.stringify(shapes)} disagree`);
  const shape = [...shapes[0]!];
  shape[ax] = shapes.reduce((a, s) => a + s[ax]!, 0);
  return { axis: ax, shape };
}

/** Join xs along `axis` (negative counts from the end). */
export function concatCpu(xs: CpuTensor[], axis = 0): CpuTensor {
  const { axis: ax, shape } = outShape(
    xs.map((x) => x.shape),
    axis,
  );
  const O = numel(shape.slice(0, ax));
  const I = numel(shape.slice(ax + 1));
  const A = shape[ax]!;
  const out = new Float32Array(numel(shape));
  // Walk the output's axis and find which input each position belongs to.
  for (let o = 0; o < O; o++) {
    let t = 0,
      start = 0;
    for (let a = 0; a < A; a++) {
      while (a - start >= xs[t]!.shape[ax]!) start += xs[t++]!.shape[ax]!;
      const Ai = xs[t]!.shape[ax]!;
      for (let k = 0; k < I; k++) out[(o * A + a) * I + k] = xs[t]!.data[(o * Ai + (a - start)) * I + k]!;
    }
  }
  return { data: out, shape };
}

/** dL/dx_i for each input shape, given g = dL/dout; a tensor used twice gets the sum of its slots (caller's job). */
export function concatBackwardCpu(shapes: number[][], axis: number, g: CpuTensor): CpuTensor[] {
  const { axis: ax, shape } = outShape(shapes, axis);
  const O = numel(shape.slice(0, ax));
  const I = numel(shape.slice(ax + 1));
  const A = shape[ax]!;
  let start = 0;
  return shapes.map((s) => {
    const Ai = s[ax]!;
    const d = new Float32Array(numel(s));
    for (let o = 0; o < O; o++)
      for (let a = 0; a < Ai; a++) for (let k = 0; k < I; k++) d[(o * Ai + a) * I + k] = g.data[(o * A + start + a) * I + k]!;
    start += Ai;
    return { data: d, shape: [...s] };
  });
}
