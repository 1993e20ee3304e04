// ColBERT MaxSim forward/backward, GPU top-k and chunked exact search against their CPU twins.
// B = queries, Lq = query tokens, dim = vector dim, N = documents, L = doc tokens (ragged).
import { afterAll, describe, expect, it } from 'vitest';
import { maxsim, maxsimSearch, maxsimWithArgmax, topk } from '../../src/tensor/ops/maxsim';
import { maxsimBackwardCpu, maxsimForwardCpu, topkCpu } from '../../src/tensor/cpu/maxsim';
import { cpu, type CpuTensor } from '../../src/tensor/cpu/types';
import { SELFTEST_CASES, runCase } from '../../src/tensor/selftest';
import { ShapeError } from '../../src/tensor/tensor';
import { destroyEngine, expectClose, getEngine, randn, rng } from './helpers';
import { gradcheck } from './gradcheck';

afterAll(destroyEngine);

const offsetsOf = (lens: number[]): Int32Array => {
  const o = new Int32Array(lens.length + 1);
  lens.forEach((l, n) => (o[n + 1] = o[n]! + l));
  return o;
};

/** Random queries and docs scaled so dot products are ~N(0, 1), like unit ColBERT vectors. */
function makeCase(B: number, Lq: number, dim: number, lens: number[], masked: number[], seed: number) {
  const offsets = offsetsOf(lens);
  const total = offsets[lens.length]!;
  const q = randn(B * Lq * dim, seed, 1 / Math.sqrt(Math.sqrt(dim)));
  const d = randn(total * dim, seed + 1, 1 / Math.sqrt(Math.sqrt(dim)));
  const mask = new Float32Array(B * Lq).fill(1);
  for (const m of masked) mask[m] = 0;
  return { q: cpu(q, [B, Lq, dim]), d: cpu(d, [total, dim]), mask: cpu(mask, [B, Lq]), offsets };
}

/** Smallest gap between the best and second-best dot over unmasked (b, n, i); finite differences need it > 2 eps |x|. */
function minGap(q: CpuTensor, d: CpuTensor, mask: CpuTensor, offsets: Int32Array): number {
  const [B, Lq, dim] = q.shape as [number, number, number];
  let gap = Infinity;
  for (let b = 0; b < B; b++)
    for (let i = 0; i < Lq; i++) {
      if (mask.data[b * Lq + i] === 0) continue;
      for (let n = 0; n + 1 < offsets.length; n++) {
        const dots: number[] = [];
        for (let j = offsets[n]!; j < offsets[n + 1]!; j++) {
          let s = 0;
          for (let k = 0; k < dim; k++) s += q.data[(b * Lq + i) * dim + k]! * d.data[j * dim + k]!;
          dots.push(s);
        }
        dots.sort((x, y) => y - x);
        if (dots.length > 1) gap = Math.min(gap, dots[0]! - dots[1]!);
      }
    }
  return gap;
}

// Ragged docs: 1-token docs, docs longer than the 64-token tile and exact multiples of it;
// Lq past the 32-token query tile; dim 128, 24 (not a multiple of the 16-wide dim step) and 7.
const cases = [
  { B: 2, Lq: 5, dim: 128, lens: [1, 70, 3, 130, 64, 65], masked: [4, 6] },
  { B: 3, Lq: 37, dim: 24, lens: [1, 2, 65, 5, 100, 1], masked: [0, 36, 40, 100, 110] },
  { B: 1, Lq: 3, dim: 7, lens: [4, 1, 9], masked: [] },
];

describe('maxsim', () => {
  for (const c of cases)
    it(`q [${c.B},${c.Lq},${c.dim}], doc lengths [${c.lens}], ${c.masked.length} masked: forward, argmax, backward match the CPU twin`, async () => {
      const e = await getEngine();
      const { q, d, mask, offsets } = makeCase(c.B, c.Lq, c.dim, c.lens, c.masked, 11);
      const useMask = c.masked.length > 0;
      const ref = maxsimForwardCpu(q, useMask ? mask : null, d, offsets);

      const qm = useMask ? e.tensor(mask.data, mask.shape) : null;
      const raw = maxsimWithArgmax(e.tensor(q.data, q.shape), qm, e.tensor(d.data, d.shape), offsets);
      expect([...(await raw.argmax.readInt())]).toEqual([...ref.argmax]);

      const Q = e.tensor(q.data, q.shape, { requiresGrad: true });
      const D = e.tensor(d.data, d.shape, { requiresGrad: true });
      const s = maxsim(Q, qm, D, offsets);
      expect(s.shape).toEqual([c.B, c.lens.length]);
      expectClose(await s.read(), ref.scores.data, { atol: 2e-5, rtol: 1e-5 }, 'scores');

      const g = cpu(randn(s.size, 12), s.shape as number[]);
      e.backward(s, e.tensor(g.data, g.shape));
      const want = maxsimBackwardCpu(q, useMask ? mask : null, d, offsets, g);
      expectClose(await Q.grad!.read(), want.dq.data, { atol: 2e-5, rtol: 1e-5 }, 'dq');
      expectClose(await D.grad!.read(), want.ddocs.data, { atol: 2e-5, rtol: 1e-5 }, 'ddocs');
    });

  it('ties go to the first row: repeated rows, and docs whose length is not a multiple of the 8-row block', async () => {
    const e = await getEngine();
    // Docs of 5, 13 and 8 rows where every row of a doc is the same vector, plus one whose
    // last row is the best (the kernel's clamped rows past the end repeat it).
    const dim = 12;
    const lens = [5, 13, 8, 11];
    const offsets = offsetsOf(lens);
    const q = randn(2 * 9 * dim, 21);
    const d = new Float32Array(offsets[lens.length]! * dim);
    const r = randn(4 * dim, 22);
    for (let n = 0; n < 3; n++)
      for (let j = offsets[n]!; j < offsets[n + 1]!; j++) d.set(r.subarray(n * dim, (n + 1) * dim), j * dim);
    const small = randn(11 * dim, 23, 0.01);
    d.set(small, offsets[3]! * dim);
    const lastRow = offsets[4]! - 1;
    for (let k = 0; k < dim; k++) d[lastRow * dim + k] = 10 * Math.abs(r[3 * dim + k]!);
    const qa = q.map(Math.abs); // all positive: the big last row wins for every token
    const { argmax } = maxsimWithArgmax(e.tensor(qa, [2, 9, dim]), null, e.tensor(d, [offsets[4]!, dim]), offsets);
    const got = await argmax.readInt();
    const want = maxsimForwardCpu(cpu(qa, [2, 9, dim]), null, cpu(d, [offsets[4]!, dim]), offsets).argmax;
    expect(Array.from(got)).toEqual(Array.from(want));
    for (let b = 0; b < 2; b++)
      for (let i = 0; i < 9; i++) {
        expect(got[(b * 4 + 0) * 9 + i]).toBe(offsets[0]);
        expect(got[(b * 4 + 1) * 9 + i]).toBe(offsets[1]);
        expect(got[(b * 4 + 2) * 9 + i]).toBe(offsets[2]);
        expect(got[(b * 4 + 3) * 9 + i]).toBe(lastRow);
      }
  });

  it('many short docs: 2101 docs over 33 workgroups of 64 (a partial last one) match the twin', async () => {
    const e = await getEngine();
    const r = rng(8);
    const lens = Array.from({ length: 2101 }, () => 1 + Math.floor(r() * 3));
    const { q, d, mask, offsets } = makeCase(2, 3, 8, lens, [1], 9);
    const ref = maxsimForwardCpu(q, mask, d, offsets);
    const Q = e.tensor(q.data, q.shape, { requiresGrad: true });
    const D = e.tensor(d.data, d.shape, { requiresGrad: true });
    const s = maxsim(Q, e.tensor(mask.data, mask.shape), D, offsets);
    expectClose(await s.read(), ref.scores.data, { atol: 2e-5, rtol: 1e-5 }, 'scores');
    const g = cpu(randn(s.size, 10), [2, 2101]);
    e.backward(s, e.tensor(g.data, g.shape));
    const want = maxsimBackwardCpu(q, mask, d, offsets, g, ref.argmax);
    expectClose(await Q.grad!.read(), want.dq.data, { atol: 1e-4, rtol: 1e-5 }, 'dq');
    expectClose(await D.grad!.read(), want.ddocs.data, { atol: 2e-5, rtol: 1e-5 }, 'ddocs');
  });

  it('masked query tokens add nothing and get no gradient; the backward is bit-identical run to run', async () => {
    const e = await getEngine();
    const { q, d, offsets } = makeCase(2, 4, 24, [3, 1, 66], [], 21);
    const mask = e.tensor([1, 0, 1, 1, 0, 0, 0, 1], [2, 4]);
    const run = async () => {
      const Q = e.tensor(q.data, q.shape, { requiresGrad: true });
      const D = e.tensor(d.data, d.shape, { requiresGrad: true });
      const s = maxsim(Q, mask, D, offsets);
      e.backward(s, e.full(s.shape, 1));
      return { s: await s.read(), dq: await Q.grad!.read(), dd: await D.grad!.read() };
    };
    const a = await run(),
      b = await run();
    // Query 1 keeps only token 3: its score is that token's max alone.
    const only = maxsimForwardCpu(cpu(q.data.slice(7 * 24, 8 * 24), [1, 1, 24]), null, d, offsets).scores.data;
    expectClose(a.s.slice(3), only, { atol: 1e-5, rtol: 1e-5 }, 'single unmasked token');
    for (const row of [1, 4, 5, 6]) expect(a.dq.slice(row * 24, (row + 1) * 24).every((v) => v === 0)).toBe(true);
    expect([...new Uint32Array(a.dq.buffer)]).toEqual([...new Uint32Array(b.dq.buffer)]);
    expect([...new Uint32Array(a.dd.buffer)]).toEqual([...new Uint32Array(b.dd.buffer)]);
  });

  it('finite-difference gradcheck for q and docs (max gaps checked to exceed the step)', async () => {
    const e = await getEngine();
    const { q, d, mask, offsets } = makeCase(2, 3, 4, [2, 3, 1], [2], 5);
    // A step of eps = 1e-2 moves a dot by ~eps |x| (|x| < 2 here): the winner must not change.
    expect(minGap(q, d, mask, offsets)).toBeGreaterThan(0.05);
    await gradcheck(
      e,
      ([x, y]) => maxsim(x!, e.tensor(mask.data, mask.shape), y!, offsets),
      [
        { data: q.data, shape: q.shape },
        { data: d.data, shape: d.shape },
      ],
      { label: 'maxsim' },
    );
  });

  it('accumulates gradients across two backward passes (+=)', async () => {
    const e = await getEngine();
    const { q, d, mask, offsets } = makeCase(2, 6, 24, [5, 1, 70], [3], 31);
    const Q = e.tensor(q.data, q.shape, { requiresGrad: true });
    const D = e.tensor(d.data, d.shape, { requiresGrad: true });
    const qm = e.tensor(mask.data, mask.shape);
    const g = e.tensor(randn(6, 32), [2, 3]);
    e.backward(maxsim(Q, qm, D, offsets), g);
    const [dq1, dd1] = [await Q.grad!.read(), await D.grad!.read()];
    e.backward(maxsim(Q, qm, D, offsets), g);
    expectClose(
      await Q.grad!.read(),
      dq1.map((v) => 2 * v),
      { atol: 1e-6, rtol: 1e-6 },
      'dq doubled',
    );
    expectClose(
      await D.grad!.read(),
      dd1.map((v) => 2 * v),
      { atol: 1e-6, rtol: 1e-6 },
      'ddocs doubled',
    );
    expect(dq1.some((v) => v !== 0) && dd1.some((v) => v !== 0)).toBe(true);
  });

  it('rejects bad shapes and offsets with ShapeError naming them', async () => {
    const e = await getEngine();
    const q = e.zeros([2, 3, 8]);
    const D = e.zeros([6, 8]);
    const offs = [0, 2, 6];
    expect(() => maxsim(q, null, e.zeros([6, 7]), offs)).toThrow(ShapeError);
    expect(() => maxsim(q, null, e.zeros([6, 7]), offs)).toThrow(/q \[2,3,8\] has vectors of dim 8 but docs \[6,7\] has dim 7/);
    expect(() => maxsim(q, e.zeros([2, 4]), D, offs)).toThrow(/qMask must be \[B, Lq\] = \[2, 3\].*got \[2,4\]/);
    expect(() => maxsim(q, null, D, [0, 2, 5])).toThrow(/offsets end at row 5 but docs \[6,8\] has 6 rows/);
    expect(() => maxsim(q, null, D, [1, 2, 6])).toThrow(/offsets\[0\] must be 0/);
    expect(() => maxsim(q, null, D, [0, 4, 2, 6])).toThrow(/must increase/);
    expect(() => maxsim(q, null, D, [0, 2, 2, 6])).toThrow(/document 1 is empty/);
    expect(() => maxsim(q, null, D, [0])).toThrow(/N \+ 1 >= 2/);
    expect(() => maxsim(e.zeros([3, 8]), null, D, offs)).toThrow(/\[B, Lq, dim\]/);
  });
});

describe('topk', () => {
  for (const [N, k] of [
    [2500, 1],
    [2500, 10],
    [2500, 100],
    [37, 37],
    [100, 100],
  ] as const)
    it(`scores [3, ${N}], k = ${k}: ids and values match topkCpu`, async () => {
      const e = await getEngine();
      const s = cpu(randn(3 * N, N + k), [3, N]);
      const got = topk(e.tensor(s.data, s.shape), k);
      expect(got.ids.shape).toEqual([3, k]);
      const want = topkCpu(s, k);
      expect([...(await got.ids.readInt())]).toEqual([...want.ids]);
      expect([...(await got.values.read())]).toEqual([...want.values]);
    });

  it('ties rank the lower doc id first, across chunks and merge passes', async () => {
    const e = await getEngine();
    const r = rng(3);
    const N = 2100; // three 1024-chunks
    const s = cpu(
      Float32Array.from({ length: 2 * N }, () => Math.floor(r() * 6)),
      [2, N],
    );
    const want = topkCpu(s, 100);
    const got = topk(e.tensor(s.data, s.shape), 100);
    expect([...(await got.ids.readInt())]).toEqual([...want.ids]);
    expect([...want.values.slice(0, 100)].every((v) => v === 5)).toBe(true);
  });

  it('rejects k outside [1, min(N, 100)]', async () => {
    const e = await getEngine();
    expect(() => topk(e.zeros([2, 50]), 51)).toThrow(/k = 51 must be an integer in \[1, min\(N, 100\)\] with N = 50/);
    expect(() => topk(e.zeros([2, 500]), 101)).toThrow(ShapeError);
    expect(() => topk(e.zeros([2, 500]), 0)).toThrow(ShapeError);
    expect(() => topk(e.zeros([500]), 5)).toThrow(/\[B, N\]/);
  });
});

describe('maxsimSearch', () => {
  const r = rng(77);
  const lens = Array.from({ length: 40 }, () => 1 + Math.floor(r() * 12));
  const { q, d, mask, offsets } = makeCase(2, 6, 24, lens, [5, 9], 41);
  const total = offsets[40]!;

  it('chunked search (3+ chunks, some smaller than k) equals unchunked search and the CPU twin', async () => {
    const e = await getEngine();
    const Q = e.tensor(q.data, q.shape);
    const qm = e.tensor(mask.data, mask.shape);
    const D = e.tensor(d.data, d.shape);
    const ref = maxsimForwardCpu(q, mask, d, offsets).scores;
    for (const k of [1, 10, 40]) {
      const want = topkCpu(ref, k);
      const whole = await maxsimSearch(e, Q, qm, { vectors: D, offsets }, k);
      expect(whole.chunks).toBe(1);
      const chunked = await maxsimSearch(e, Q, qm, { vectors: D, offsets }, k, { maxChunkBytes: 40 * 24 * 4 });
      expect(chunked.chunks).toBeGreaterThanOrEqual(3);
      expect([...chunked.ids]).toEqual([...whole.ids]);
      expect([...chunked.scores]).toEqual([...whole.scores]);
      expect([...whole.ids]).toEqual([...want.ids]);
      expectClose(whole.scores, want.values, { atol: 2e-5, rtol: 1e-5 }, `k ${k} scores`);
    }
  });

  it('takes the corpus as chunk tensors split at doc boundaries, and splits them further', async () => {
    const e = await getEngine();
    const cut = offsets[17]!;
    const parts = [e.tensor(d.data.slice(0, cut * 24), [cut, 24]), e.tensor(d.data.slice(cut * 24), [total - cut, 24])];
    const Q = e.tensor(q.data, q.shape);
    const qm = e.tensor(mask.data, mask.shape);
    const whole = await maxsimSearch(e, Q, qm, { vectors: e.tensor(d.data, d.shape), offsets }, 10);
    const two = await maxsimSearch(e, Q, qm, { vectors: parts, offsets }, 10);
    expect(two.chunks).toBe(2);
    const many = await maxsimSearch(e, Q, qm, { vectors: parts, offsets }, 10, { maxChunkBytes: 30 * 24 * 4 });
    expect(many.chunks).toBeGreaterThanOrEqual(4);
    for (const x of [two, many]) {
      expect([...x.ids]).toEqual([...whole.ids]);
      expect([...x.scores]).toEqual([...whole.scores]);
    }
  });

  it('rankOf: the rank of any document over the whole corpus, beyond k too, chunked or not, as the CPU twin ranks it', async () => {
    const e = await getEngine();
    const Q = e.tensor(q.data, q.shape);
    const qm = e.tensor(mask.data, mask.shape);
    const D = e.tensor(d.data, d.shape);
    const ref = maxsimForwardCpu(q, mask, d, offsets).scores;
    // The CPU order of all 40 documents per query (higher first, ties lower id): rank = place + 1.
    const order = topkCpu(ref, 40).ids;
    const last = [order[39]!, order[40 + 39]!]; // each query's worst document, far below k = 3
    const rankOf = [[last[0]!, order[0]!, 7], [order[40 + 20]!]];
    for (const maxChunkBytes of [undefined, 40 * 24 * 4]) {
      const res = await maxsimSearch(e, Q, qm, { vectors: D, offsets }, 3, { rankOf, maxChunkBytes });
      expect(res.ranks!.map((r) => r.map((x) => x.doc))).toEqual(rankOf);
      expect(res.ranks![0]!.map((x) => x.rank)).toEqual([40, 1, [...order.subarray(0, 40)].indexOf(7) + 1]);
      expect(res.ranks![1]![0]!.rank).toBe(21);
      expect(res.ranks![0]![1]!.score).toBe(res.scores[0]); // the top document: the very number search returned
      expectClose(
        Float32Array.from(res.ranks![0]!, (x) => x.score),
        Float32Array.from(rankOf[0]!, (n) => ref.data[n]!),
        { atol: 2e-5, rtol: 1e-5 },
        'ranked scores',
      );
    }
    await expect(maxsimSearch(e, Q, qm, { vectors: D, offsets }, 3, { rankOf: [[0]] })).rejects.toThrow(/1 lists for 2 queries/);
    await expect(maxsimSearch(e, Q, qm, { vectors: D, offsets }, 3, { rankOf: [[0], [40]] })).rejects.toThrow(/document 40/);
  });

  it('rejects bad corpora and k with ShapeError', async () => {
    const e = await getEngine();
    const Q = e.tensor(q.data, q.shape);
    const D = e.tensor(d.data, d.shape);
    const n = lens.findIndex((l, i) => i > 0 && l > 1);
    const cut = offsets[n]! + 1; // inside doc n
    const parts = [e.tensor(d.data.slice(0, cut * 24), [cut, 24]), e.tensor(d.data.slice(cut * 24), [total - cut, 24])];
    await expect(maxsimSearch(e, Q, null, { vectors: parts, offsets }, 5)).rejects.toThrow(
      new RegExp(`chunk 0 ends at row ${cut} inside document ${n} `),
    );
    await expect(maxsimSearch(e, Q, null, { vectors: D, offsets }, 5, { maxChunkBytes: 100 })).rejects.toThrow(
      /raise maxChunkBytes/,
    );
    await expect(maxsimSearch(e, Q, null, { vectors: D, offsets }, 41)).rejects.toThrow(/k = 41/);
    await expect(maxsimSearch(e, Q, null, { vectors: D, offsets: offsets.slice(0, 40) }, 5)).rejects.toThrow(
      /offsets end at row/,
    );
    await expect(maxsimSearch(e, e.zeros([2, 6, 16]), null, { vectors: D, offsets }, 5)).rejects.toThrow(/dim 16/);
  });
});

it('self-test maxsim cases pass', async () => {
  const e = await getEngine();
  const mine = SELFTEST_CASES.filter((c) => c.name.startsWith('maxsim'));
  expect(mine.length).toBeGreaterThan(0);
  for (const [i, c] of mine.entries()) {
    const res = await runCase(e, c, 500 + i);
    expect(res.detail, c.name).toBeUndefined();
    expect(res.pass).toBe(true);
  }
});
