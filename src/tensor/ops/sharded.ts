// Tables kept as row shards, for weights larger than one storage binding may be: Qwen2-0.5B's
// [151936, 896] f32 embedding is 545 MB, and WebGPU's default maxStorageBufferBindingSize is
// 128 MiB. A [V, D] table becomes shards [V_i, D] stacked along rows, each in its own buffer.
// V = vocabulary (rows of the whole table), D = embedding dim, P = number of ids, S = shards.
//
// The two ops a decoder needs on such a table, the input embedding and the (possibly tied) LM
// head, are built from recorded ops (embedding, linear, concat), so their gradients are those of
// the ops they are made of. With one shard they are exactly embedding and linear. Shards of a
// frozen table may be packed f16 (dtype 'f16'; half the bytes per row, so half as many shards).

import { packedAs, ShapeError, type Engine, type Tensor } from '../tensor';
import { packedBytes } from '../f16';
import { assertF32 } from './common';
import { concat } from './concat';
import { embedding } from './embedding';
import { linear } from './matmul';

export interface SplitRowsOptions {
  requiresGrad?: boolean;
  /** Shards are named `${name}[r0:r1]` (their rows of the whole table). */
  name?: string;
  /** Every shard but the last has a multiple of this many rows (default 64). */
  align?: number;
  /** 'f16': frozen shards packed two halves per u32 (requiresGrad must be false). Default 'f32'. */
  dtype?: 'f32' | 'f16';
}

/**
 * Row shards of a [V, D] table, each at most maxBytes (rows a multiple of `align`, default 64,
 * except the last); one shard when the whole table fits. Shards are kept past any scope (they are
 * weights): dispose them when done.
 */
export function splitRows(
  e: Engine,
  data: Float32Array,
  shape: [number, number],
  maxBytes: number,
  opts: SplitRowsOptions = {},
): Tensor[] {
  const [V, D] = shape;
  const align = opts.align ?? 64;
  if (![V, D, align].every((n) => Number.isInteger(n) && n >= 0) || align === 0)
    throw new ShapeError(`splitRows: shape [${shape}] and align ${align} must be non-negative integers (align > 0)`);
  if (!(maxBytes > 0)) throw new ShapeError(`splitRows: maxBytes must be positive, got ${maxBytes}`);
  if (data.length !== V * D)
    throw new ShapeError(`splitRows: ${data.length} values do not fill shape [${shape}] (${V * D} values)`);
  const dtype = opts.dtype ?? 'f32';
  const rowBytes = dtype === 'f16' ? packedBytes([1, D]) : D * 4;
  let rows = V;
  if (V * rowBytes > maxBytes) {
    rows = Math.floor(maxBytes / rowBytes);
    rows -= rows % align;
    if (rows === 0)
      throw new ShapeError(
        `splitRows: ${align} rows of the [${shape}] table take ${align * rowBytes} bytes, more than maxBytes ${maxBytes}; ` +
          'pass a smaller align (or a larger maxBytes)',
      );
  }
  const shards: Tensor[] = [];
  try {
    for (let r0 = 0; r0 < V || shards.length === 0; r0 += rows) {
      const r1 = Math.min(V, r0 + rows);
      const t = e.empty([r1 - r0, D], dtype, opts.requiresGrad ?? false).keep();
      shards.push(t);
      if (opts.name) t.name = r0 === 0 && r1 === V ? opts.name : `${opts.name}[${r0}:${r1}]`;
      // Written from a view of the caller's data: no host copy of a table that may be hundreds of MB
      // (a packed shard is converted one shard at a time).
      const part = data.subarray(r0 * D, r1 * D);
      if (r1 > r0 && D > 0) e.gpu.write(t.buffer, dtype === 'f16' ? packedAs('f16', part, [r1 - r0, D], t.name) : part);
    }
  } catch (err) {
    // Kept tensors outlive scopes: free what was made before, e.g., a shard over the binding limit.
    for (const t of shards) t.dispose();
    throw err;
  }
  return shards;
}

/** Row offsets of the shards (S + 1 entries, the last being V) and their common D. */
function checkShards(shards: readonly Tensor[], what: string): { offsets: number[]; D: number } {
  if (shards.length === 0) throw new ShapeError(`${what}: no shards given`);
  const list = shards.map((t) => `[${t.shape}]`).join(', ');
  for (const [i, t] of shards.entries()) {
    if (t.dtype !== 'f16') assertF32(t, `${what} shard ${i}`);
    if (t.rank !== 2 || t.shape[1] !== shards[0]!.shape[1])
      throw new ShapeError(`${what}: shards must be [V_i, D] with one D, got ${list}`);
  }
  const offsets = [0];
  for (const t of shards) offsets.push(offsets.at(-1)! + t.shape[0]!);
  return { offsets, D: shards[0]!.shape[1]! };
}

/** weight[ids] over a table given as row shards: [P] ids -> [P, D]. Gradients flow into each shard. */
export function shardedEmbedding(
  shards: readonly Tensor[],
  ids: ArrayLike<number>,
  opts: { shape?: readonly number[] } = {},
): Tensor {
  const { offsets } = checkShards(shards, 'shardedEmbedding');
  if (shards.length === 1) return embedding(shards[0]!, ids, opts);
  const S = shards.length;
  const V = offsets[S]!;
  const P = ids.length;
  const shape = opts.shape ?? [P];
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== P) throw new ShapeError(`shardedEmbedding: ${P} ids do not fill shape [${shape}] (${n} values)`);

  // Group positions by shard, keeping position order within a shard (so each shard's backward
  // sums repeated ids in the same order as the unsharded embedding would).
  const shardOf = new Int32Array(P);
  const counts = new Array<number>(S).fill(0);
  for (let p = 0; p < P; p++) {
    const id = ids[p]!;
    if (!Number.isInteger(id) || id < 0 || id >= V)
      throw new ShapeError(
        `shardedEmbedding: id ${id} at position ${p} is outside the vocabulary [0, ${V}) of ${S} row shards ` +
          `(${shards.map((t) => `[${t.shape}]`).join(', ')})`,
      );
    let s = 0;
    while (id >= offsets[s + 1]!) s++;
    shardOf[p] = s;
    counts[s]!++;
  }
  const used = counts.flatMap((c, s) => (c > 0 ? [s] : []));
  const local = counts.map((c) => new Int32Array(c));
  const rowOf = new Int32Array(P); // where position p lands in the concatenated groups
  const startOf = new Array<number>(S).fill(0);
  for (let s = 1; s < S; s++) startOf[s] = startOf[s - 1]! + counts[s - 1]!;
  const filled = new Array<number>(S).fill(0);
  for (let p = 0; p < P; p++) {
    const s = shardOf[p]!;
    const k = filled[s]!++;
    local[s]![k] = ids[p]! - offsets[s]!;
    rowOf[p] = startOf[s]! + k;
  }
  // All ids in one shard (or none): one gather, already in position order.
  if (used.length <= 1) {
    const s = used[0] ?? 0;
    return embedding(shards[s]!, local[s]!, { shape });
  }
  const stacked = concat(
    used.map((s) => embedding(shards[s]!, local[s]!)),
    0,
  );
  // Restore position order: out[p] = stacked[rowOf[p]] (a permutation, so its backward is exact).
  return embedding(stacked, rowOf, { shape });
}

/** x @ W^T for W = the row shards stacked: x [..., D] -> [..., V]. Gradients to x and to each shard. */
export function shardedLinear(x: Tensor, shards: readonly Tensor[]): Tensor {
  const { D } = checkShards(shards, 'shardedLinear');
  if (x.rank === 0 || x.shape[x.rank - 1] !== D)
    throw new ShapeError(
      `shardedLinear: x [${x.shape}] must end in D = ${D}, the width of the shards (${shards.map((t) => `[${t.shape}]`).join(', ')})`,
    );
  if (shards.length === 1) return linear(x, shards[0]!);
  return concat(
    shards.map((w) => linear(x, w)),
    -1,
  );
}
