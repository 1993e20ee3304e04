// The CPU twins are the reference every kernel is checked against, so they are checked too:
// against hand-computed values and against the defining identities.
import { describe, expect, it } from 'vitest';
import { matmulBackwardCpu, matmulForwardCpu } from '../../src/tensor/cpu/matmul';
import { binaryForwardCpu, sumToShapeCpu } from '../../src/tensor/cpu/binary';
import { adamwStepCpu, gradNormCpu } from '../../src/tensor/cpu/adamw';
import { cpu } from '../../src/tensor/cpu/types';
import { transposeLast2 } from '../../src/tensor/tensor';
import { topkCpu } from '../../src/tensor/cpu/maxsim';
import { rankInRow } from '../../src/tensor/ops/maxsim';

describe('CPU twins', () => {
  it("rankInRow: a document's place in search order, as top-k orders (higher first, ties lower id first)", () => {
    const row = [0.5, 2, 2, -1, 3, 2];
    // By hand: 3 (doc 4), then the three 2s in id order (docs 1, 2, 5), then 0.5, then -1.
    expect([0, 1, 2, 3, 4, 5].map((n) => rankInRow(row, n))).toEqual([5, 2, 3, 6, 1, 4]);
    const order = topkCpu(cpu(row, [1, 6]), 6).ids;
    order.forEach((n, place) => expect(rankInRow(row, n)).toBe(place + 1));
  });

  it('matmul: a 2x3 @ 3x2 product by hand, with transposes and alpha', () => {
    const a = cpu([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = cpu([7, 8, 9, 10, 11, 12], [3, 2]);
    expect(Array.from(matmulForwardCpu(a, b).data)).toEqual([58, 64, 139, 154]);
    const aT = cpu([1, 4, 2, 5, 3, 6], [3, 2]);
    expect(Array.from(matmulForwardCpu(aT, b, { transA: true, alpha: 0.5 }).data)).toEqual([29, 32, 69.5, 77]);
    const bT = cpu([7, 9, 11, 8, 10, 12], [2, 3]);
    expect(Array.from(matmulForwardCpu(a, bT, { transB: true }).data)).toEqual([58, 64, 139, 154]);
  });

  it('matmul backward: dA = G B^T and dB = A^T G, summed over a broadcast batch', () => {
    const a = cpu([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
    const b = cpu([1, 0, 0, 2], [2, 2]);
    const g = cpu([1, 1, 1, 1, 1, 1, 1, 1], [2, 2, 2]);
    const { da, db } = matmulBackwardCpu(a, b, g);
    expect(Array.from(da.data)).toEqual([1, 2, 1, 2, 1, 2, 1, 2]);
    // A^T G summed over both batches: column sums of A stacked.
    expect(Array.from(db.data)).toEqual([1 + 3 + 5 + 7, 1 + 3 + 5 + 7, 2 + 4 + 6 + 8, 2 + 4 + 6 + 8]);
  });

  it('broadcasting and its backward are adjoint: <f(a), g> = <a, sumToShape(g)>', () => {
    const out = binaryForwardCpu('add', cpu([1, 2, 3], [3, 1]), cpu([10, 20], [2]));
    expect(out.shape).toEqual([3, 2]);
    expect(Array.from(out.data)).toEqual([11, 21, 12, 22, 13, 23]);
    const g = cpu([1, 2, 3, 4, 5, 6], [3, 2]);
    expect(Array.from(sumToShapeCpu(g, [3, 1]).data)).toEqual([3, 7, 11]);
    expect(Array.from(sumToShapeCpu(g, [2]).data)).toEqual([9, 12]);
    expect(() => binaryForwardCpu('mul', cpu([1, 2], [2]), cpu([1, 2, 3], [3]))).toThrow(/do not broadcast/);
  });

  it('AdamW: the first step moves each weight by about lr against its gradient sign, plus decay', () => {
    const p = [Float32Array.from([1, -1, 0.5])];
    const g = [Float32Array.from([0.3, -2, 0])];
    const m = [new Float32Array(3)],
      v = [new Float32Array(3)];
    adamwStepCpu(p, g, m, v, 1, { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, maxGradNorm: 0 });
    expect(p[0]![0]).toBeCloseTo(1 * (1 - 0.001) - 0.1, 5);
    expect(p[0]![1]).toBeCloseTo(-1 * (1 - 0.001) + 0.1, 5);
    expect(p[0]![2]).toBeCloseTo(0.5 * (1 - 0.001), 6); // zero gradient: decay only
    expect(gradNormCpu([Float32Array.from([3]), Float32Array.from([4])])).toBe(5);
  });

  it('transposeLast2 turns storage of a transposed view into logical order', () => {
    // Logical [2, 3] stored as its transpose [3, 2].
    expect(Array.from(transposeLast2(Float32Array.from([1, 4, 2, 5, 3, 6]), [2, 3]))).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
