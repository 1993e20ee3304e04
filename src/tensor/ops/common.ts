// Helpers every op shares: grid sizing, shape checks, and making views contiguous.

import { packUniforms } from '../../gpu/device';
import { ShapeError, type Tensor, type Engine } from '../tensor';

export const WG = 256;

/** Workgroups for `n` threads of `wg` each, split over x and y to stay under the per-dim limit. */
export function grid(n: number, wg = WG): [number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= 65535) return [Math.max(groups, 0), 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

/** How row kernels (norms, reductions) lay rows out: 'auto' picks per call; tests force one. */
export type RowLayout = 'auto' | 'thread' | 'workgroup';
let rowLayout: RowLayout = 'auto';

/** Force one layout of the row kernels (tests cover both); returns the previous setting. */
export function setRowLayout(l: RowLayout): RowLayout {
  const prev = rowLayout;
  rowLayout = l;
  return prev;
}

/**
 * Whether a row kernel gives each row one thread (no barriers) instead of a 256-thread workgroup.
 * Many short rows: yes anywhere, barriers would dominate. On a software adapter (SwiftShader,
 * lavapipe) every workgroup barrier is a round of fiber switches, so any batch of rows goes a
 * thread each: a [1024, 256] layernorm took 390 ms as workgroups there, against a few ms.
 */
export function rowPerThread(e: Engine, rows: number, n: number): boolean {
  if (rowLayout !== 'auto') return rowLayout === 'thread';
  if (n <= 256 && rows >= 256) return true;
  return e.gpu.info.isFallbackAdapter && rows >= 32;
}

/** Workgroups for a row kernel: a thread per row, or a workgroup per row (x and y past 65535). */
export const rowWorkgroups = (rows: number, perThread: boolean): [number, number] => (perThread ? grid(rows) : grid(rows, 1));

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function assertShape(t: Tensor, shape: readonly number[], what: string): void {
  if (!sameShape(t.shape, shape)) throw new ShapeError(`${what}: expected shape [${shape}], got [${t.shape}]`);
}

export function assertF32(t: Tensor, what: string): void {
  if (t.dtype !== 'f32') throw new ShapeError(`${what}: expected an f32 tensor, got ${t.dtype}`);
}

export function lastDim(t: Tensor): number {
  if (t.rank === 0) throw new ShapeError(`expected at least 1 dim, got a scalar`);
  return t.shape[t.rank - 1]!;
}

/** Copy a transposed view into fresh storage (recorded for autograd); plain tensors pass through. */
export function contiguous(t: Tensor): Tensor {
  if (!t.transposed) return t;
  const e = t.engine;
  const rows = t.shape[t.rank - 2]!;
  const cols = t.shape[t.rank - 1]!;
  const batch = t.size / Math.max(1, rows * cols);
  const out = e.empty(t.shape);
  // Storage of the view is [batch, cols, rows]; out is [batch, rows, cols].
  transposeInto(e, t.buffer, out.buffer, batch, cols, rows, false);
  e.record('contiguous', [t], out, (g) => {
    e.addGrad(t.storage, (dst, acc) => transposeInto(e, g.buffer, dst, batch, rows, cols, acc));
  });
  return out;
}

/** dst[b, c, r] (+)= src[b, r, c] for src of shape [batch, rows, cols]. */
export function transposeInto(
  e: Engine,
  src: GPUBuffer,
  dst: GPUBuffer,
  batch: number,
  rows: number,
  cols: number,
  accumulate: boolean,
): void {
  e.gpu.dispatch({
    kernel: 'transpose_forward',
    constants: { ACCUMULATE: accumulate },
    buffers: [src, dst],
    uniforms: packUniforms([
      ['u32', rows],
      ['u32', cols],
      ['u32', batch],
    ]),
    workgroups: [Math.ceil(cols / 16), Math.ceil(rows / 16), batch],
  });
}
