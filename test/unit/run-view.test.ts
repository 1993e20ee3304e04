// The notebook's pure views over step records (src/components/runView.ts) and the progress bar's
// ETA (src/components/cells/ProgressLine.tsx): ranks, the inspector's rows, rank history, chart
// series, and the LLM-Rank loss split into pairs, checked against losses.ts and by hand.

import { describe, expect, it } from 'vitest';
import {
  candidateRows,
  goldLine,
  heldOutClimbs,
  helpsBy,
  niceTicks,
  paddedRange,
  questionAlignment,
  scatterView,
  heldOutHistory,
  llmRankPairs,
  questionAt,
  questionsOf,
  rankHistory,
  ranksOf,
  stepSeries,
} from '../../src/components/runView';
import { etaSeconds, formatEta } from '../../src/components/cells/ProgressLine';
import { llmRankLoss } from '../../src/training/losses';
import { mulberry32 } from '../../src/tensor/random';
import type { CandidateRecord, QuestionRecord, StepRecord } from '../../src/training/step';
import type { EvalEntry } from '../../src/training/run';
import { stepRecord } from './notebook-fixtures';

const cand = (docId: string, over: Partial<CandidateRecord> = {}): CandidateRecord => ({
  docId,
  score: 0,
  scoreAfter: null,
  prob: 0.25,
  sampled: true,
  utility: null,
  gold: false,
  ...over,
});
const question = (id: string, candidates: CandidateRecord[]): QuestionRecord => ({
  id,
  candidates,
  spearman: null,
  kendall: null,
});

describe('ranksOf', () => {
  it('ranks descending and ascending, 1-based, nulls stay null', () => {
    expect(ranksOf([3, null, 5, 1], true)).toEqual([2, null, 1, 3]);
    expect(ranksOf([3, null, 5, 1], false)).toEqual([2, null, 3, 1]);
  });

  it('keeps list order among ties in both directions', () => {
    expect(ranksOf([2, 7, 2, 7, 2], true)).toEqual([3, 1, 4, 2, 5]);
    expect(ranksOf([2, 7, 2, 7, 2], false)).toEqual([1, 4, 2, 5, 3]);
  });

  it('handles empty and all-null lists, and negative values', () => {
    expect(ranksOf([], true)).toEqual([]);
    expect(ranksOf([null, null], false)).toEqual([null, null]);
    expect(ranksOf([-1, -10, 0], true)).toEqual([2, 3, 1]);
  });
});

describe('candidateRows', () => {
  // Candidates in record order; by score: B (5) > D (4) > C (3) > A (1).
  const q = question('q', [
    cand('A', { score: 1, utility: 2.0, scoreAfter: 1.5, gold: true }),
    cand('B', { score: 5, utility: null, scoreAfter: 4, sampled: false }),
    cand('C', { score: 3, utility: 0.5, scoreAfter: 6 }),
    cand('D', { score: 4, utility: 1.0, scoreAfter: 2 }),
  ]);

  it('sorts by retriever rank and ranks utility (lowest NLL first) among the judged only', () => {
    const rows = candidateRows(q);
    expect(rows.map((r) => r.docId)).toEqual(['B', 'D', 'C', 'A']);
    expect(rows.map((r) => r.rankRetriever)).toEqual([1, 2, 3, 4]);
    expect(rows.map((r) => r.rankUtility)).toEqual([null, 2, 1, 3]);
    // The record's own fields come along unchanged.
    expect(rows[3]).toMatchObject({ docId: 'A', score: 1, utility: 2.0, gold: true, sampled: true });
    expect(rows[0]).toMatchObject({ docId: 'B', sampled: false, utility: null });
  });

  it('ranks by scoreAfter when every candidate has one', () => {
    // After: C (6) > B (4) > D (2) > A (1.5).
    expect(candidateRows(q).map((r) => [r.docId, r.rankAfter])).toEqual([
      ['B', 2],
      ['D', 3],
      ['C', 1],
      ['A', 4],
    ]);
  });

  it('gives no rank after when any candidate lacks scoreAfter (null or missing in old records)', () => {
    const oneNull = question(
      'q',
      q.candidates.map((c, i) => (i === 2 ? { ...c, scoreAfter: null } : c)),
    );
    expect(candidateRows(oneNull).map((r) => r.rankAfter)).toEqual([null, null, null, null]);
    const missing = question(
      'q',
      q.candidates.map((c, i) => {
        if (i !== 0) return c;
        const { scoreAfter: _drop, ...rest } = c;
        return rest as CandidateRecord;
      }),
    );
    expect(candidateRows(missing).map((r) => r.rankAfter)).toEqual([null, null, null, null]);
  });

  it('does not reorder or mutate the record', () => {
    const before = JSON.stringify(q);
    candidateRows(q);
    expect(JSON.stringify(q)).toBe(before);
  });
});

describe('rankHistory, questionsOf, questionAt', () => {
  // q1 is in steps 0 and 2 only; doc 'x' only at step 2, doc 'z' only at step 0.
  const records: StepRecord[] = [
    stepRecord(0, {
      questions: [
        question('q1', [
          cand('y', { score: 2, scoreAfter: 3 }),
          cand('z', { score: 1, scoreAfter: 4 }),
          cand('w', { score: 0.5, scoreAfter: 0 }),
        ]),
      ],
    }),
    stepRecord(1, { questions: [question('q2', [cand('y', { score: 9 })])] }),
    stepRecord(2, {
      questions: [
        question('q2', [cand('w', { score: 1 })]),
        question('q1', [cand('x', { score: 7 }), cand('w', { score: 8 }), cand('y', { score: 6, scoreAfter: null })]),
      ],
    }),
    stepRecord(3, { questions: [question('q3', [cand('y', { score: 1 })])] }),
  ];

  it('gives each document its rank before and after at every step the question was in', () => {
    const h = rankHistory(records, 'q1');
    expect(h.steps).toEqual([0, 2]);
    expect([...h.docs.keys()].sort()).toEqual(['w', 'x', 'y', 'z']);
    expect(h.docs.get('y')).toEqual({ before: [1, 3], after: [2, null] });
    expect(h.docs.get('z')).toEqual({ before: [2, null], after: [1, null] });
    expect(h.docs.get('x')).toEqual({ before: [null, 2], after: [null, null] });
    expect(h.docs.get('w')).toEqual({ before: [3, 1], after: [3, null] });
  });

  it('is empty for a question no step trained on', () => {
    const h = rankHistory(records, 'nope');
    expect(h.steps).toEqual([]);
    expect(h.docs.size).toBe(0);
  });

  it('lists the questions with their steps, and finds one question at one step', () => {
    expect(questionsOf(records)).toEqual([
      { id: 'q1', steps: [0, 2] },
      { id: 'q2', steps: [1, 2] },
      { id: 'q3', steps: [3] },
    ]);
    expect(questionAt(records, 2, 'q1')?.candidates.map((c) => c.docId)).toEqual(['x', 'w', 'y']);
    expect(questionAt(records, 1, 'q1')).toBeNull();
    expect(questionAt(records, 9, 'q1')).toBeNull();
  });
});

describe('stepSeries', () => {
  it('takes the union of recall keys in numeric order (null where a step lacks one) and sums phase times', () => {
    const r0 = stepRecord(0, { recall: { 5: 0.5, 1: 0.25 } });
    const r1 = stepRecord(1, { recall: { 10: 1, 5: 0.75 } });
    const r2 = stepRecord(2, { recall: {}, alignment: { spearman: null, kendall: null } });
    const s = stepSeries([r0, r1, r2]);
    expect(s.step).toEqual([1, 2, 3]);
    expect(Object.keys(s.recall).map(Number)).toEqual([1, 5, 10]);
    expect(s.recall[1]).toEqual([0.25, null, null]);
    expect(s.recall[5]).toEqual([0.5, 0.75, null]);
    expect(s.recall[10]).toEqual([null, 1, null]);
    expect(s.retrieverLoss).toEqual([1.5, 1.4, 1.3]);
    expect(s.generatorLoss).toEqual([2.25, null, 4.25]);
    expect(s.spearman).toEqual([0.5, 0.5, null]);
    // stepRecord's phases take step + i/4 ms for i = 0..7: 8 * step + 7.
    expect(s.ms).toEqual([7, 15, 23]);
  });

  it('is empty for no records', () => {
    expect(stepSeries([])).toEqual({ step: [], retrieverLoss: [], generatorLoss: [], spearman: [], recall: {}, ms: [] });
  });
});

describe('llmRankPairs', () => {
  const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

  /** K candidates with distinct random scores; `judged` of them sampled with distinct random NLLs. */
  function randomQuestion(seed: number, k: number, judged: number): QuestionRecord {
    const rand = mulberry32(seed);
    const order = Array.from({ length: k }, (_, i) => i).sort(() => rand() - 0.5);
    const isJudged = new Set(order.slice(0, judged));
    const candidates = Array.from({ length: k }, (_, i) =>
      cand(`d${i}`, {
        score: 20 * rand() - 5,
        sampled: isJudged.has(i) || i === order[judged], // one sampled document without a utility
        utility: isJudged.has(i) ? 0.1 + 4 * rand() : null,
      }),
    );
    return question(`q${seed}`, candidates);
  }

  for (const [seed, k, judged] of [
    [1, 6, 2],
    [2, 8, 5],
    [3, 12, 7],
    [4, 20, 10],
  ] as const)
    it(`splits the loss into pairs that sum to llmRankLoss (seed ${seed}, K=${k}, n=${judged})`, () => {
      const q = randomQuestion(seed, k, judged);
      const out = llmRankPairs(q)!;
      expect(out).not.toBeNull();
      const sampled = q.candidates.flatMap((c, i) => (c.sampled && c.utility !== null ? [i] : []));
      expect(sampled).toHaveLength(judged);
      const scores = q.candidates.map((c) => c.score);
      const nll = sampled.map((i) => q.candidates[i]!.utility!);
      const ref = llmRankLoss(scores, sampled, nll);

      const pairCount = (judged * (judged - 1)) / 2;
      expect(out.pairs).toHaveLength(pairCount);
      expect(out.total).toBeCloseTo(ref.loss, 12);
      const sum = out.pairs.reduce((a, p) => a + p.loss, 0);
      expect(Math.abs(sum - out.total)).toBeLessThan(1e-12);
      expect(Array.from(out.grad)).toEqual(Array.from(ref.grad));

      // Each pair by hand: scores min-max scaled to [-1, 1] (methods.md), y from the NLLs, BCE over (1 + #pairs).
      const lo = Math.min(...scores),
        hi = Math.max(...scores);
      const scale = (s: number): number => (2 * (s - lo)) / (hi - lo) - 1;
      const seen = new Set<string>();
      for (const p of out.pairs) {
        expect(sampled).toContain(p.a);
        expect(sampled).toContain(p.b);
        expect(p.a).not.toBe(p.b);
        seen.add(`${Math.min(p.a, p.b)},${Math.max(p.a, p.b)}`);
        const x = scale(scores[p.a]!) - scale(scores[p.b]!);
        expect(p.x).toBeCloseTo(x, 12);
        const aLower = q.candidates[p.a]!.utility! < q.candidates[p.b]!.utility!;
        expect(p.y).toBe(aLower ? 1 : 0);
        const bce = -(p.y * Math.log(sigmoid(x)) + (1 - p.y) * Math.log(1 - sigmoid(x)));
        expect(p.loss).toBeCloseTo(bce / (1 + pairCount), 10);
      }
      expect(seen.size).toBe(pairCount); // every unordered pair once
    });

  it('stays finite for large score gaps (no overflow in the softplus)', () => {
    const q = question('q', [
      cand('a', { score: 0, utility: 1 }),
      cand('b', { score: 1e6, utility: 2 }),
      cand('c', { score: -1e6, utility: 3 }),
    ]);
    const out = llmRankPairs(q)!;
    for (const p of out.pairs) expect(Number.isFinite(p.loss)).toBe(true);
    expect(out.pairs.reduce((a, p) => a + p.loss, 0)).toBeCloseTo(out.total, 12);
  });

  it('is null with fewer than two judged documents', () => {
    // Two with utilities but only one sampled; two sampled but only one with a utility.
    expect(
      llmRankPairs(
        question('q', [
          cand('a', { score: 1, utility: 1, sampled: true }),
          cand('b', { score: 2, utility: 2, sampled: false }),
          cand('c', { score: 3, utility: null, sampled: true }),
        ]),
      ),
    ).toBeNull();
    expect(llmRankPairs(question('q', [cand('a', { score: 1, utility: 1 })]))).toBeNull();
    expect(llmRankPairs(question('q', []))).toBeNull();
  });

  it('counts only sampled documents with a utility, and equal scores scale to 0', () => {
    const q = question('q', [
      cand('a', { score: 2, utility: 3 }),
      cand('b', { score: 2, utility: 1, sampled: false }),
      cand('c', { score: 2, utility: 1 }),
    ]);
    const out = llmRankPairs(q)!;
    expect(out.pairs).toHaveLength(1);
    expect(out.pairs[0]).toMatchObject({ a: 0, b: 2, x: 0, y: 0 });
    expect(out.pairs[0]!.loss).toBeCloseTo(Math.log(2) / 2, 12);
    expect(out.total).toBeCloseTo(Math.log(2) / 2, 12);
  });
});

describe('ProgressLine ETA', () => {
  it('is null before any progress, without a total, and when done', () => {
    expect(etaSeconds(null, 0, 1000)).toBeNull();
    expect(etaSeconds({ done: 0, total: 10, message: '' }, 0, 1000)).toBeNull();
    expect(etaSeconds({ done: 3, total: 0, message: '' }, 0, 1000)).toBeNull();
    expect(etaSeconds({ done: 3, total: NaN, message: '' }, 0, 1000)).toBeNull();
    expect(etaSeconds({ done: 10, total: 10, message: '' }, 0, 1000)).toBeNull();
    expect(etaSeconds({ done: 12, total: 10, message: '' }, 0, 1000)).toBeNull();
  });

  it('extrapolates the mean rate since the start, in seconds', () => {
    // 25 of 100 in 5 s: 200 ms each, 75 left.
    expect(etaSeconds({ done: 25, total: 100, message: '' }, 1000, 6000)).toBeCloseTo(15, 12);
    expect(etaSeconds({ done: 1, total: 3, message: '' }, 500, 2500)).toBeCloseTo(4, 12);
  });

  it('formats seconds, then minutes, rounding up', () => {
    expect(formatEta(null)).toBe('');
    expect(formatEta(0)).toBe('about done');
    expect(formatEta(0.99)).toBe('about done');
    expect(formatEta(1)).toBe('about 1 s left');
    expect(formatEta(1.2)).toBe('about 2 s left');
    expect(formatEta(89.5)).toBe('about 90 s left');
    expect(formatEta(90)).toBe('about 2 min left');
    expect(formatEta(600)).toBe('about 10 min left');
    expect(formatEta(601)).toBe('about 11 min left');
  });
});

describe("held-out questions across evaluations (the demo Note's climbs)", () => {
  const pq = (rr10: number[], right: (0 | 1)[]) => ({
    ids: ['demo-q1', 'demo-q2', 'demo-q3', 'demo-r1', 'demo-q4'],
    correct: { none: right.map(() => 0), retrieved: right, oracle: right.map(() => 1) },
    recall: {},
    rr10,
    spearman: right.map(() => 0),
  });
  const result = { questions: 5, scored: 5, accuracy: { none: 0, retrieved: 0, oracle: 0 }, recall: {}, mrr10: 0 };
  const rest = { ...result, alignment: { spearman: 0, kendall: 0 }, ms: 0 };
  const at = (step: number, rr10: number[], right: (0 | 1)[], split: 'test' | 'validation' = 'test'): EvalEntry => ({
    step,
    split,
    result: { ...rest, perQuestion: pq(rr10, right) },
  });
  it('keeps questions whose gold passage entered the top m and whose answer flipped, with the first step that shows it', () => {
    const evals = [
      at(0, [0, 1 / 7, 1 / 3, 0, 1], [0, 0, 0, 0, 1]),
      at(50, [1 / 4, 1 / 2, 1 / 3, 1, 1], [0, 1, 0, 1, 1]),
      at(50, [1, 1, 1, 1, 1], [1, 1, 1, 1, 1], 'validation'),
      at(100, [1, 1, 1 / 3, 1, 1], [1, 1, 0, 1, 1]),
    ];
    // q1: not in the top 10 -> 1 by step 100; q2: 7 -> 1, in the top 2 at step 50; q3 never
    // climbs; r1 is a rephrasing (reported apart); q4 was already first.
    const skip = (id: string) => id.startsWith('demo-r');
    expect(heldOutClimbs(evals, 2, { skip })).toEqual([
      { id: 'demo-q1', from: null, to: 1, byStep: 100 },
      { id: 'demo-q2', from: 7, to: 1, byStep: 50 },
    ]);
    expect(heldOutClimbs(evals, 2, { skip, limit: 1 })).toHaveLength(1);
    expect(heldOutClimbs(evals, 2).map((c) => c.id)).toContain('demo-r1');
    expect(heldOutClimbs(evals.slice(0, 1), 2)).toEqual([]);
    // One question across the test evaluations (the validation one is another split).
    expect(heldOutHistory(evals, 'demo-q2')).toEqual([
      { step: 0, rank: 7, correct: { none: 0, retrieved: 0, oracle: 1 } },
      { step: 50, rank: 2, correct: { none: 0, retrieved: 1, oracle: 1 } },
      { step: 100, rank: 1, correct: { none: 0, retrieved: 1, oracle: 1 } },
    ]);
    expect(heldOutHistory(evals, 'demo-q1')[0]!.rank).toBeNull();
    expect(heldOutHistory(evals, 'nope')).toEqual([]);
    expect(heldOutClimbs(evals, 2, { falls: true })).toEqual([]);
    // A fall: q4 was first and right, and at the last evaluation it is out of the top 10 and wrong.
    const fell = [...evals.slice(0, 3), at(100, [1, 1, 1 / 3, 1, 0], [1, 1, 0, 1, 0])];
    expect(heldOutClimbs(fell, 2, { falls: true })).toEqual([{ id: 'demo-q4', from: 1, to: null, byStep: 100 }]);
    expect(heldOutClimbs(fell, 2, { skip }).map((c) => c.id)).toEqual(['demo-q1', 'demo-q2']);
  });
});

describe('one question at one step: alignment before and after, gold rank, help against no document, scatter', () => {
  // Judged A, B, C (D drawn out); by score before: B 5 > C 3 > A 1, after: A 4 > C 3 > B 2; by NLL: B 1 < A 2 < C 3.
  const q: QuestionRecord = {
    ...question('q', [
      cand('A', { score: 1, scoreAfter: 4, utility: 2 }),
      cand('B', { score: 5, scoreAfter: 2, utility: 1 }),
      cand('C', { score: 3, scoreAfter: 3, utility: 3 }),
      cand('D', { score: 0.8, scoreAfter: 0.9, sampled: false }),
    ]),
    spearman: 0.5,
    goldRank: { docId: 'G', rank: 37, of: 480, score: 0.5, utility: 1.5 },
    nllNoDoc: 4,
  };

  it('Spearman(score after, -NLL) from the scores after the update; before is the record', () => {
    // Ranks by score after (A 3, B 1, C 2) against by -NLL (A 2, B 3, C 1): d = 1, -2, 1, 1 - 6*6/(3*8) = -0.5.
    expect(questionAlignment(q)).toEqual({ before: 0.5, after: -0.5 });
    // Scores after not recorded: no after.
    const noAfter = { ...q, candidates: q.candidates.map((c) => ({ ...c, scoreAfter: null })) };
    expect(questionAlignment(noAfter).after).toBeNull();
    // Fewer than two judged: undefined.
    const one = { ...q, candidates: q.candidates.map((c) => (c.docId === 'A' ? c : { ...c, utility: null })) };
    expect(questionAlignment(one).after).toBeNull();
  });

  it('helps by = NLL with no document - utility, per candidate; null where either is missing', () => {
    expect(helpsBy(2, 4)).toBe(2);
    expect(helpsBy(5, 4)).toBe(-1); // a document that hurts
    expect(helpsBy(null, 4)).toBeNull();
    expect(helpsBy(2, undefined)).toBeNull();
    expect(candidateRows(q).map((r) => [r.docId, r.helps])).toEqual([
      ['B', 3],
      ['C', 1],
      ['A', 2],
      ['D', null],
    ]);
  });

  it('the gold rank in words: beyond the candidates, among them, none, not recorded', () => {
    expect(goldLine(q)).toEqual({
      kind: 'ranked',
      docId: 'G',
      rank: 37,
      of: 480,
      candidate: false,
      text: 'Gold at rank 37 of 480 in the index search: not among the top K = 4 candidates.',
    });
    const inside = {
      ...q,
      candidates: q.candidates.map((c) => (c.docId === 'C' ? { ...c, gold: true } : c)),
      goldRank: { docId: 'C', rank: 2, of: 480, score: 3, utility: 3 },
    };
    expect(goldLine(inside)).toMatchObject({ kind: 'ranked', rank: 2, candidate: true });
    expect(goldLine(inside).text).toBe('Gold at rank 2 of 480 in the index search, among the top K = 4 candidates.');
    expect(goldLine({ ...q, goldRank: null })).toEqual({ kind: 'none', text: 'This question has no gold passage in the index.' });
    const old = { ...inside, goldRank: undefined };
    expect(goldLine(old)).toMatchObject({ kind: 'not-recorded', candidateRank: 2 });
    expect(goldLine(old).text).toMatch(/candidate 2 of 4 \(its rank in the whole index was not recorded\)/);
    expect(goldLine({ ...q, goldRank: undefined })).toMatchObject({ kind: 'not-recorded', candidateRank: null });
  });

  it('scatter: judged candidates with their score after, the gold passage always, axes over all of it', () => {
    const v = scatterView(q);
    expect(v.points.map((p) => [p.docId, p.x, p.xAfter, p.y, p.gold, p.candidate])).toEqual([
      ['G', 0.5, null, 1.5, true, false], // not a candidate: from goldRank
      ['A', 1, 4, 2, false, true],
      ['C', 3, 3, 3, false, true],
      ['B', 5, 2, 1, false, true],
    ]);
    // x over 0.5 .. 5 (before and after), y over 1 .. 4 (the no-document line too), 8% of the span each side.
    expect(v.x[0]).toBeCloseTo(0.5 - 0.36, 12);
    expect(v.x[1]).toBeCloseTo(5 + 0.36, 12);
    expect(v.y[0]).toBeCloseTo(1 - 0.24, 12);
    expect(v.y[1]).toBeCloseTo(4 + 0.24, 12);
    expect(v.noDoc).toBe(4);
    // A gold candidate that was not judged is plotted at its goldRank utility; not recorded at all: y null.
    const notJudged = {
      ...q,
      candidates: q.candidates.map((c) => (c.docId === 'D' ? { ...c, gold: true } : c)),
      goldRank: { docId: 'D', rank: 4, of: 480, score: 0.8, utility: 2.5 },
    };
    expect(scatterView(notJudged).points.find((p) => p.docId === 'D')).toMatchObject({ y: 2.5, gold: true, candidate: true });
    expect(scatterView({ ...notJudged, goldRank: undefined }).points.find((p) => p.docId === 'D')!.y).toBeNull();
  });

  it('paddedRange and niceTicks', () => {
    expect(paddedRange([2, 2])).toEqual([1.5, 2.5]);
    expect(paddedRange([])).toEqual([0, 1]);
    expect(paddedRange([0, 10], 0.1)).toEqual([-1, 11]);
    expect(niceTicks(0.14, 5.36)).toEqual([1, 2, 3, 4, 5]);
    expect(niceTicks(0.76, 4.24)).toEqual([1, 2, 3, 4]);
    expect(niceTicks(30.9, 31.3)).toEqual([30.9, 31, 31.1, 31.2, 31.3]); // both ends are round: both ticks
    expect(niceTicks(-0.05, 0.32)).toEqual([0, 0.1, 0.2, 0.3]);
    expect(niceTicks(3, 3)).toEqual([3]);
  });
});
