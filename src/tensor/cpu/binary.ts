// CPU twins of the broadcasting elementwise ops and the broadcast backward (sum to shape).

import { numel, type CpuTensor } from './types';

export type BinaryOpCpu = 'add' | 'sub' | 'mul' | 'div';

function bshape(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => {
    const x = a[a.length - r + i] ?? 1,
      y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`shapes [${a}] and [${b}] do not broadcast`);
    return Math.max(x, y);
  });
}

/** Index into `shape` (right-aligned, broadcast) for the output multi-index of flat i. */
function srcIndex(i: number, out: number[], shape: number[]): number {
  let idx = 0,
    stride = 1,
    rem = i;
  const coords = new Array<number>(out.length);
  for (let d = out.length - 1; d >= 0; d--) {
    coords[d] = rem % out[d]!;
    rem = Math.floor(rem / out[d]!);
  }
  for (let d = out.length - 1; d >= 0; d--) {
    const sd = shape[shape.length - out.length + d] ?? 1;
    if (sd !== 1) idx += coords[d]! * stride;
    stride *= sd;
  }
  return idx;
}

export function binaryForwardCpu(op: BinaryOpCpu, a: CpuTensor, b: CpuTensor): CpuTensor {
  const shape = bshape(a.shape, b.shape);
  const n = numel(shape);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = a.data[srcIndex(i, shape, a.shape)]!,
      y = b.data[srcIndex(i, shape, b.shape)]!;
    out[i] = op === 'add' ? x + y : op === 'sub' ? x - y : op === 'mul' ? x * y : x / y;
  }
  return { data: out, shape };
}

/** Sum g (of a broadcast output shape) down to `target`. */
export function sumToShapeCpu(g: CpuTensor, target: number[]): CpuTensor {
  const out = new Float32Array(numel(target));
  for (let i = 0; i < g.data.length; i++) out[srcIndex(i, g.shape, target)]! += g.data[i]!;
  return { data: out, shape: [...target] };
}

export function binaryBackwardCpu(op: BinaryOpCpu, a: CpuTensor, b: CpuTensor, g: CpuTensor): { da: CpuTensor; db: CpuTensor } {
  const shape = g.shape;
  const n = numel(shape);
  const ga = new Float32Array(n),
    gb = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = a.data[srcIndex(i, shape, a.shape)]!,
      y = b.data[srcIndex(i, shape, b.shape)]!,
      gi = g.data[i]!;
    ga[i] = op === 'mul' ? gi * y : op === 'div' ? gi / y : gi;
    gb[i] = op === 'add' ? gi : op === 'sub' ? -gi : op === 'mul' ? gi * x : (-gi * x) / (y * y);
  }
  return { da: sumToShapeCpu({ data: ga, shape }, a.shape), db: sumToShapeCpu({ data: gb, shape }, b.shape) };
}
