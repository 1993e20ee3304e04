// Row-sharded tables (ops/sharded.ts): a [300, 24] table split into 128-row shards must behave
// exactly like the whole table under embedding and linear, forward and backward, alone and tied
// (one set of shards as both the input embedding and the LM head).
import { afterAll, describe, expect, it } from 'vitest';
import { shardedEmbedding, shardedLinear, splitRows } from '../../src/tensor/ops/sharded';
import { embedding } from '../../src/tensor/ops/embedding';
import { linear } from '../../src/tensor/ops/matmul';
import { crossEntropy } from '../../src/tensor/ops/cross-entropy';
import { ShapeError, type Engine, type Tensor } from '../../src/tensor/tensor';
import { destroyEngine, expectClose, getEngine, randn, rng } from './helpers';

afterAll(destroyEngine);

const V = 300,
  D = 24;
const MAX = 64 * D * 4 * 2; // 128 rows of 24 f32
const table = randn(V * D, 1);

/** The rows [r0, r1) of a [V, D] array. */
const rows = (a: Float32Array, r0: number, r1: number): Float32Array => a.slice(r0 * D, r1 * D);

/** Ids that repeat and touch every shard, including each shard's first and last rows. */
const IDS = (() => {
  const r = rng(7);
  const edges = [0, 127, 128, 255, 256, 299, 128, 0, 299, 5, 5, 5];
  return Int32Array.from([...edges, ...Array.from({ length: 28 }, () => Math.floor(r() * V))]);
})();

const shardsOf = (e: Engine, opts = {}): Tensor[] =>
  splitRows(e, table, [V, D], MAX, { requiresGrad: true, name: 'embed', ...opts });

async function expectShardGrads(shards: Tensor[], full: Float32Array, atol: number, label: string): Promise<void> {
  let r0 = 0;
  for (const [s, t] of shards.entries()) {
    const r1 = r0 + t.shape[0]!;
    expectClose(await t.grad!.read(), rows(full, r0, r1), { atol, rtol: atol }, `${label}: shard ${s} rows ${r0}..${r1}`);
    r0 = r1;
  }
}

describe('splitRows', () => {
  it('128-row shards (a multiple of 64) under maxBytes, the last shorter, holding the table', async () => {
    const e = await getEngine();
    const shards = shardsOf(e);
    expect(shards.map((t) => t.shape)).toEqual([
      [128, D],
      [128, D],
      [44, D],
    ]);
    expect(shards.map((t) => t.name)).toEqual(['embed[0:128]', 'embed[128:256]', 'embed[256:300]']);
    for (const t of shards) expect(t.bytes).toBeLessThanOrEqual(MAX);
    expect(shards.every((t) => t.requiresGrad)).toBe(true);
    for (const [s, t] of shards.entries())
      expect([...(await t.read())]).toEqual([...rows(table, 128 * s, 128 * s + t.shape[0]!)]);
    // A limit that is not a multiple of 64 rows rounds down to one; align changes the multiple.
    expect(splitRows(e, table, [V, D], MAX + 64 * D * 4 - 4).map((t) => t.shape[0])).toEqual([128, 128, 44]);
    expect(splitRows(e, table, [V, D], 100 * D * 4, { align: 10 }).map((t) => t.shape[0])).toEqual([100, 100, 100]);
    // A table that fits is one shard, named as the table.
    const one = splitRows(e, table, [V, D], V * D * 4, { name: 'embed' });
    expect(one.map((t) => [t.shape, t.name])).toEqual([[[V, D], 'embed']]);
    expect(() => splitRows(e, table, [V, D], 63 * D * 4)).toThrow(
      /64 rows of the \[300,24\] table take 6144 bytes, more than maxBytes 6048/,
    );
    expect(() => splitRows(e, table, [V, D + 1], MAX)).toThrow(/7200 values do not fill shape \[300,25\]/);
  });
});

describe('shardedEmbedding', () => {
  it('3 shards: forward equals the whole-table embedding, and each shard gets its rows of the gradient', async () => {
    const e = await getEngine();
    const W = e.tensor(table, [V, D], { requiresGrad: true });
    const ref = embedding(W, IDS, { shape: [4, 10] });
    const g = randn(ref.size, 2);
    // backward() runs and clears the whole tape: one backward per graph, before building the next.
    e.backward(ref, e.tensor(g, ref.shape));
    const shards = shardsOf(e);
    const out = shardedEmbedding(shards, IDS, { shape: [4, 10] });
    expect(out.shape).toEqual([4, 10, D]);
    expectClose(await out.read(), await ref.read(), { atol: 0 }, 'forward');
    e.backward(out, e.tensor(g, out.shape));
    // Each shard sums its repeated ids in position order, as the whole table does: exact.
    await expectShardGrads(shards, await W.grad!.read(), 0, 'dshard');
  });

  it('ids all in one shard take one gather; one shard is plain embedding', async () => {
    const e = await getEngine();
    const W = e.tensor(table, [V, D], { requiresGrad: true });
    const shards = shardsOf(e);
    const ids = [130, 255, 130, 200];
    const g = randn(ids.length * D, 3);
    const ref = embedding(W, ids);
    e.backward(ref, e.tensor(g, ref.shape));
    const t0 = e.tapeLength;
    const out = shardedEmbedding(shards, ids);
    expect(e.tapeLength - t0).toBe(1);
    expectClose(await out.read(), await ref.read(), { atol: 0 }, 'forward (one shard touched)');
    e.backward(out, e.tensor(g, out.shape));
    expect(shards[0]!.grad).toBeNull();
    expect(shards[2]!.grad).toBeNull();
    expectClose(await shards[1]!.grad!.read(), rows(await W.grad!.read(), 128, 256), { atol: 0 }, 'dshard 1');

    const one = splitRows(e, table, [V, D], V * D * 4, { requiresGrad: true });
    const t1 = e.tapeLength;
    const y = shardedEmbedding(one, IDS);
    expect(e.tapeLength - t1).toBe(1);
    expectClose(await y.read(), await embedding(W, IDS).read(), { atol: 0 }, 'forward (one shard)');
    e.clearTape();
  });

  it('rejects ids outside the whole vocabulary, naming the shards', async () => {
    const e = await getEngine();
    const shards = shardsOf(e, { requiresGrad: false });
    expect(() => shardedEmbedding(shards, [3, 300])).toThrow(ShapeError);
    expect(() => shardedEmbedding(shards, [3, 300])).toThrow(
      /id 300 at position 1 is outside the vocabulary \[0, 300\) of 3 row shards \(\[128,24\], \[128,24\], \[44,24\]\)/,
    );
    expect(() => shardedEmbedding(shards, [-1])).toThrow(/id -1 at position 0/);
    expect(() => shardedEmbedding(shards, [1.5])).toThrow(/id 1.5/);
    expect(() => shardedEmbedding(shards, [1, 2, 3], { shape: [2, 2] })).toThrow(/3 ids do not fill shape \[2,2\]/);
    expect(() => shardedEmbedding([shards[0]!, e.zeros([5, D + 1])], [1])).toThrow(/shards must be \[V_i, D\] with one D/);
    expect(() => shardedEmbedding([], [1])).toThrow(/no shards/);
  });
});

describe('shardedLinear', () => {
  it('3 shards: x @ W^T and the gradients of x and of each shard match the whole table', async () => {
    const e = await getEngine();
    const xd = randn(2 * 5 * D, 4);
    const W = e.tensor(table, [V, D], { requiresGrad: true });
    const x1 = e.tensor(xd, [2, 5, D], { requiresGrad: true });
    const ref = linear(x1, W);
    const g = randn(ref.size, 5);
    e.backward(ref, e.tensor(g, ref.shape));
    const shards = shardsOf(e);
    const x2 = e.tensor(xd, [2, 5, D], { requiresGrad: true });
    const out = shardedLinear(x2, shards);
    expect(out.shape).toEqual([2, 5, V]);
    expectClose(await out.read(), await ref.read(), { atol: 1e-5 }, 'forward');
    e.backward(out, e.tensor(g, out.shape));
    // dx sums over V in three pieces instead of one: f32 rounding differs.
    expectClose(await x2.grad!.read(), await x1.grad!.read(), { atol: 1e-4, rtol: 1e-5 }, 'dx');
    await expectShardGrads(shards, await W.grad!.read(), 1e-5, 'dshard');
  });

  it('one shard is plain linear; x must end in D', async () => {
    const e = await getEngine();
    const one = splitRows(e, table, [V, D], V * D * 4);
    const x = e.tensor(randn(3 * D, 6), [3, D], { requiresGrad: true });
    const t0 = e.tapeLength;
    const y = shardedLinear(x, one);
    expect(e.tapeLength - t0).toBe(1);
    expectClose(await y.read(), await linear(x, one[0]!).read(), { atol: 0 }, 'forward (one shard)');
    e.clearTape();
    expect(() => shardedLinear(e.zeros([3, D + 1]), shardsOf(e))).toThrow(/x \[3,25\] must end in D = 24/);
  });
});

it('tied embedding and LM head on the same shards: loss and gradients match the whole table', async () => {
  const e = await getEngine();
  const ids = IDS.slice(0, 24);
  const targets = Array.from(IDS.slice(16, 40));
  const W = e.tensor(table, [V, D], { requiresGrad: true });
  const lossRef = crossEntropy(linear(embedding(W, ids, { shape: [2, 12] }), W).reshape([24, V]), targets);
  e.backward(lossRef);
  const shards = shardsOf(e);
  const loss = crossEntropy(shardedLinear(shardedEmbedding(shards, ids, { shape: [2, 12] }), shards).reshape([24, V]), targets);
  expectClose([await loss.item()], [await lossRef.item()], { atol: 1e-5, rtol: 1e-6 }, 'loss');
  e.backward(loss);
  await expectShardGrads(shards, await W.grad!.read(), 1e-6, 'dshard (embedding + head)');
});
