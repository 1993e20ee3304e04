// Embedding lookup (a row gather) and its deterministic scatter-add backward.
// V = vocabulary (rows of the weight), D = embedding dim, P = number of ids, U = unique ids.
//
// Ids come from the host (an Int32Array or number[]; or an i32 tensor with `hostIds`): the host
// checks them against V and, for the backward, groups positions by id into a CSR (sorted unique
// ids, offsets, positions) so one GPU thread per (unique id, d) sums its rows in a fixed order.
// No float atomics, so gradients are identical run to run. A frozen f16 table (packed two halves
// per u32, src/tensor/f16.ts) is gathered by embedding_packed_forward and has no gradient.

import { packUniforms } from '../../gpu/device';
import { ShapeError, Tensor, type Engine } from '../tensor';
import { assertF32, contiguous, grid } from './common';

export interface EmbeddingOptions {
  /** Shape of the ids when they are given as an array (default [ids.length]). */
  shape?: readonly number[];
  /** The ids on the host, required when `ids` is a tensor. */
  hostIds?: ArrayLike<number>;
}

/** The CSR of positions per unique id, packed as the backward kernel reads it. */
export function buildEmbeddingCsr(ids: ArrayLike<number>): { unique: number; packed: Int32Array } {
  const P = ids.length;
  const order = Array.from({ length: P }, (_, i) => i);
  // Stable by position within an id: the summation order is fixed.
  order.sort((a, b) => ids[a]! - ids[b]! || a - b);
  const uniq: number[] = [];
  const offsets: number[] = [];
  for (let k = 0; k < P; k++) {
    const id = ids[order[k]!]!;
    if (k === 0 || id !== ids[order[k - 1]!]) {
      uniq.push(id);
      offsets.push(k);
    }
  }
  offsets.push(P);
  const U = uniq.length;
  const packed = new Int32Array(2 * U + 1 + P);
  packed.set(uniq, 0);
  packed.set(offsets, U);
  packed.set(order, 2 * U + 1);
  return { unique: U, packed };
}

/** weight[ids]: weight [V, D], ids [...] -> [..., D]. */
export function embedding(weight: Tensor, ids: Tensor | ArrayLike<number>, opts: EmbeddingOptions = {}): Tensor {
  const e = weight.engine;
  const packed = weight.dtype === 'f16';
  if (!packed) assertF32(weight, 'embedding weight');
  else if (weight.transposed || weight.storage.requiresGrad)
    throw new ShapeError(
      `embedding: a packed f16 table ${weight.name || `[${weight.shape}]`} must be a frozen [V, D] tensor (not a .T view, no gradient)`,
    );
  if (weight.rank !== 2) throw new ShapeError(`embedding weight must be [V, D], got [${weight.shape}]`);
  const [V, D] = weight.shape as [number, number];

  let host: ArrayLike<number>;
  let idsShape: readonly number[];
  let idsT: Tensor | null = null;
  if (ids instanceof Tensor) {
    if (ids.dtype !== 'i32') throw new ShapeError(`embedding ids must be an i32 tensor, got ${ids.dtype}`);
    if (!opts.hostIds)
      throw new ShapeError(
        'embedding: pass the ids as an Int32Array (or number[]), or give the i32 tensor together with opts.hostIds, ' +
          'so they can be checked against the vocabulary and grouped for the backward on the host',
      );
    host = opts.hostIds;
    idsShape = ids.shape;
    if (host.length !== ids.size)
      throw new ShapeError(`embedding: ids tensor [${ids.shape}] holds ${ids.size} values but hostIds has ${host.length}`);
    idsT = ids;
  } else {
    host = ids;
    idsShape = opts.shape ?? [ids.length];
    const n = idsShape.reduce((a, b) => a * b, 1);
    if (n !== ids.length) throw new ShapeError(`embedding: ${ids.length} ids do not fill shape [${idsShape}] (${n} values)`);
  }
  const P = host.length;
  for (let i = 0; i < P; i++) {
    const id = host[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= V)
      throw new ShapeError(
        `embedding: id ${id} at position ${i} is outside the vocabulary [0, ${V}) of weight [${weight.shape}]`,
      );
  }

  if (!packed) weight = contiguous(weight);
  const ownIds = idsT === null;
  if (!idsT) {
    idsT = e.tensor(Int32Array.from(host), [P], { dtype: 'i32' });
  }
  const out = e.empty([...idsShape, D]);
  if (packed) {
    e.gpu.dispatch({
      kernel: 'embedding_packed_forward',
      buffers: [weight.buffer, idsT.buffer, out.buffer],
      uniforms: packUniforms([
        ['u32', P],
        ['u32', D],
        ['u32', V],
        ['u32', Math.ceil(D / 2)],
      ]),
      workgroups: grid(P * D),
    });
    if (ownIds) idsT.dispose();
    return out;
  }
  e.gpu.dispatch({
    kernel: 'embedding_forward',
    buffers: [weight.buffer, idsT.buffer, out.buffer],
    uniforms: packUniforms([
      ['u32', P],
      ['u32', D],
      ['u32', V],
      ['u32', 0],
    ]),
    workgroups: grid(P * D),
  });

  // The backward needs only the host ids (as the CSR), not the uploaded ones.
  const hostCopy = Int32Array.from(host);
  e.record('embedding', [weight], out, (g) => {
    e.addGrad(weight, (dst, acc) => embeddingBackwardInto(e, g.buffer, hostCopy, dst, V, D, acc));
  });
  if (ownIds) {
    idsT.dispose();
  }
  return out;
}

/** dweight (+)= scatter-add of g [P, D] into rows ids[p]; rows without ids are 0 unless accumulating. */
function embeddingBackwardInto(
  e: Engine,
  g: GPUBuffer,
  ids: Int32Array,
  dst: GPUBuffer,
  V: number,
  D: number,
  accumulate: boolean,
): void {
  if (!accumulate) e.gpu.clear(dst, 0, V * D * 4);
  if (ids.length === 0 || D === 0) return;
  const { unique, packed } = buildEmbeddingCsr(ids);
  const csr = e.tensor(packed, [packed.length], { dtype: 'i32' });
  e.gpu.dispatch({
    kernel: 'embedding_backward',
    constants: { ACCUMULATE: accumulate },
    buffers: [g, csr.buffer, dst],
    uniforms: packUniforms([
      ['u32', unique],
      ['u32', D],
      ['u32', 0],
      ['u32', 0],
    ]),
    workgroups: grid(unique * D),
  });
  csr.dispose();
}
