// Frozen f16 weights packed two halves per u32 (src/tensor/f16.ts): matmul_packed_forward in both
// orientations (x @ W^T and the input gradient dy @ W) and embedding_packed_forward against their
// CPU twins (src/tensor/cpu/packed.ts), on odd row lengths (a padding half) and shapes over one
// 64x64 tile; sharded packed tables; LoRA over a packed base; the refusals.
import { afterAll, describe, expect, it } from 'vitest';
import { linear, matmul } from '../../src/tensor/ops/matmul';
import { embedding } from '../../src/tensor/ops/embedding';
import { shardedEmbedding, shardedLinear, splitRows } from '../../src/tensor/ops/sharded';
import { packF16, packedBytes, roundToF16 } from '../../src/tensor/f16';
import { embeddingPackedForwardCpu, matmulPackedBackwardCpu, matmulPackedForwardCpu } from '../../src/tensor/cpu/packed';
import { cpu } from '../../src/tensor/cpu/types';
import { ShapeError } from '../../src/tensor/tensor';
import { ForwardContext, Linear, LoraAdapter } from '../../src/models/lora';
import { destroyEngine, expectClose, getEngine, randn, rng } from './helpers';

afterAll(destroyEngine);

const TOL = { atol: 1e-5, rtol: 1e-5 };

// x [..., K] @ op(W): W stored [r, c]; transB means op(W) = W^T (nn.Linear's [out, in]).
const cases: Array<{ x: number[]; w: [number, number]; transB: boolean; alpha?: number; view?: boolean }> = [
  { x: [5, 7], w: [3, 7], transB: true }, // odd K: the padding half
  { x: [70, 33], w: [65, 33], transB: true }, // over one tile in M and N, odd K over two K steps
  { x: [3, 20, 18], w: [9, 18], transB: true, alpha: 0.5 }, // batch folds into M
  { x: [4, 1], w: [3, 1], transB: true }, // K = 1: one half and its padding per row
  { x: [37, 36], w: [44, 36], transB: true }, // K % 4 = 0: x read as vec4, W two words per 4 halves
  { x: [2, 20, 42], w: [12, 42], transB: true }, // K % 4 = 2: whole-word blocks then a K tail
  { x: [6, 34], w: [34, 67], transB: false }, // [K, N] storage with odd N (padding along N)
  { x: [66, 40], w: [40, 130], transB: false }, // over tiles in every dim
  { x: [9, 21], w: [21, 17], transB: false, view: true }, // W stored [K, N], passed as W.T with transB
];

describe('matmul with a packed f16 weight', () => {
  for (const c of cases)
    it(`[${c.x}] @ [${c.w}]${c.transB ? '^T' : ''}${c.view ? ' (.T view)' : ''}: forward and dx match the twin`, async () => {
      const e = await getEngine();
      const n = c.x.reduce((a, b) => a * b);
      const xd = randn(n, 1);
      const wd = randn(c.w[0] * c.w[1], 2, 0.5);
      const words = packF16(wd, c.w);
      const W = e.tensor(wd, c.w, { dtype: 'f16', name: 'W' });
      expect(W.bytes).toBe(packedBytes(c.w));
      const x = e.tensor(xd, c.x, { requiresGrad: true });
      // With view: op(W.T) under transB = !c.transB reads the same storage in the same orientation.
      const y = c.view ? matmul(x, W.T, { transB: !c.transB, alpha: c.alpha }) : matmul(x, W, c);
      const ref = matmulPackedForwardCpu(cpu(xd, c.x), words, c.w, c);
      expect(y.shape).toEqual([...c.x.slice(0, -1), ref.shape.at(-1)]);
      expectClose(await y.read(), ref.data, TOL, 'forward');
      const g = randn(y.size, 3);
      e.backward(y, e.tensor(g, y.shape));
      const dx = matmulPackedBackwardCpu(
        cpu(xd, [n / c.x.at(-1)!, c.x.at(-1)!]),
        words,
        c.w,
        cpu(g, [y.size / ref.shape.at(-1)!, ref.shape.at(-1)!]),
        c,
      );
      expectClose(await x.grad!.read(), dx.data, TOL, 'dx');
      expect(W.grad).toBeNull();
    });

  it('holds each weight as its nearest half: read() gives the rounded values, the product uses them', async () => {
    const e = await getEngine();
    const wd = randn(12 * 9, 4);
    const W = e.tensor(wd, [12, 9], { dtype: 'f16' });
    const got = await W.read();
    expect([...got]).toEqual(Array.from(wd, roundToF16));
    let worst = 0;
    for (let i = 0; i < wd.length; i++) worst = Math.max(worst, Math.abs(got[i]! - wd[i]!) / Math.abs(wd[i]!));
    expect(worst).toBeLessThanOrEqual(2 ** -11);
    // The transposed view reads back transposed.
    const t = await W.T.read();
    expect(t[1]).toBe(got[9]);
  });

  it('refuses a trainable packed tensor, a transposed left operand, and a packed left operand', async () => {
    const e = await getEngine();
    expect(() => e.tensor(new Float32Array(4), [2, 2], { dtype: 'f16', requiresGrad: true })).toThrow(ShapeError);
    const W = e.tensor(randn(6, 5), [2, 3], { dtype: 'f16' });
    const x = e.tensor(randn(6, 6), [3, 2]);
    expect(() => matmul(x.T, W, { transB: true })).toThrow(/row-major left operand/);
    expect(() => matmul(W, e.tensor(randn(6, 6), [3, 2]))).toThrow(/f32 tensors/);
    expect(() => linear(e.tensor(randn(8, 7), [2, 4]), W)).toThrow(/K=4 vs 3/);
    W.requiresGrad = true; // as a careless setTrainable would
    expect(() => linear(e.tensor(randn(6, 7), [2, 3]), W)).toThrow(/cannot train/);
    expect(() => W.reshape([3, 2])).toThrow(/keep its rows/);
  });
});

describe('embedding from a packed f16 table', () => {
  for (const [V, D] of [
    [97, 5],
    [301, 300],
    [10, 1],
  ] as [number, number][])
    it(`[${V}, ${D}]: the gather matches the twin exactly`, async () => {
      const e = await getEngine();
      const wd = randn(V * D, 5);
      const r = rng(6);
      const ids = Int32Array.from({ length: 37 }, () => Math.floor(r() * V));
      ids[0] = V - 1;
      const W = e.tensor(wd, [V, D], { dtype: 'f16' });
      const out = embedding(W, ids, { shape: [37] });
      const ref = embeddingPackedForwardCpu(packF16(wd, [V, D]), [V, D], ids);
      expectClose(await out.read(), ref.data, { atol: 0 }, 'gather');
    });
});

describe('packed row shards', () => {
  it('split at half the f32 bytes per row; shardedEmbedding and shardedLinear (with dx) match the whole table', async () => {
    const e = await getEngine();
    const V = 300,
      D = 23;
    const wd = randn(V * D, 7);
    const words = packF16(wd, [V, D]);
    const maxBytes = 128 * packedBytes([1, D]);
    const shards = splitRows(e, wd, [V, D], maxBytes, { dtype: 'f16', name: 'embed' });
    expect(shards.map((t) => [t.shape[0], t.dtype])).toEqual([
      [128, 'f16'],
      [128, 'f16'],
      [44, 'f16'],
    ]);
    for (const t of shards) expect(t.bytes).toBeLessThanOrEqual(maxBytes);
    const ids = Int32Array.from([0, 127, 128, 255, 256, 299, 5, 5]);
    const emb = shardedEmbedding(shards, ids);
    expectClose(await emb.read(), embeddingPackedForwardCpu(words, [V, D], ids).data, { atol: 0 }, 'embedding');
    const xd = randn(4 * D, 8);
    const x = e.tensor(xd, [4, D], { requiresGrad: true });
    const logits = shardedLinear(x, shards);
    expectClose(
      await logits.read(),
      matmulPackedForwardCpu(cpu(xd, [4, D]), words, [V, D], { transB: true }).data,
      TOL,
      'logits',
    );
    const g = randn(4 * V, 9);
    e.backward(logits, e.tensor(g, logits.shape));
    const dx = matmulPackedBackwardCpu(cpu(xd, [4, D]), words, [V, D], cpu(g, [4, V]), { transB: true });
    expectClose(await x.grad!.read(), dx.data, TOL, 'dx');
    for (const t of shards) t.dispose();
  });
});

describe('LoRA over a packed base', () => {
  it('output and the adapter and input gradients equal those over an f32 base holding the same halves', async () => {
    const e = await getEngine();
    const inF = 37,
      outF = 70;
    const wd = Float32Array.from(randn(outF * inF, 10, 0.3), roundToF16); // exactly representable
    const bias = randn(outF, 11);
    const xd = randn(3 * 5 * inF, 12);
    const run = async (dtype: 'f32' | 'f16') => {
      const l = new Linear('layer.q_proj', e.tensor(wd, [outF, inF], { dtype }), e.tensor(bias, [outF]));
      const A = e.param(randn(4 * inF, 13, 0.2), [4, inF], 'A');
      const B = e.param(randn(outF * 4, 14, 0.2), [outF, 4], 'B');
      l.lora = new LoraAdapter(A, B, 2, 0);
      const x = e.tensor(xd, [3, 5, inF], { requiresGrad: true });
      const y = l.forward(x, new ForwardContext(true));
      e.backward(y, e.tensor(randn(y.size, 15), y.shape));
      return Promise.all([y.read(), x.grad!.read(), A.grad!.read(), B.grad!.read()]);
    };
    const [f32, f16] = [await run('f32'), await run('f16')];
    for (const [i, label] of ['y', 'dx', 'dA', 'dB'].entries()) expectClose(f16[i]!, f32[i]!, TOL, label);
  });
});
