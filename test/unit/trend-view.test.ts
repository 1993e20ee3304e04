// The inspector's over-the-run numbers (src/components/trendView.ts) on hand-made records, each
// expected value worked out by hand in the comments; the probe set's choice and schedule
// (src/training/probe.ts: probeSet, probeDue), which are pure; and the jargon lines: the P(draw)
// column's heading, shown only where a step drew, and one help line per preset.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bump, drawColumn, goldAndAlignment, goldRankAmong, probeIds, trends } from '../../src/components/trendView';
import type { Question } from '../../src/data/datasets';
import { presetHelp, PRESETS } from '../../src/store/presets';
import { ConfigError, LOSS_LABELS, resolveConfig, type RetrieverLoss } from '../../src/training/config';
import { probeDue, probeSet } from '../../src/training/probe';
import type { CandidateRecord, QuestionRecord, StepRecord } from '../../src/training/step';
import { stepRecord } from './notebook-fixtures';

const cand = (docId: string, score: number, utility: number | null, gold = false): CandidateRecord => ({
  docId,
  score,
  scoreAfter: null,
  prob: 0.25,
  sampled: utility !== null,
  utility,
  gold,
});
const question = (id: string, candidates: CandidateRecord[], spearman: number | null = null): QuestionRecord => ({
  id,
  candidates,
  spearman,
  kendall: null,
});
const record = (step: number, questions: QuestionRecord[], probes?: QuestionRecord[]): StepRecord => ({
  ...stepRecord(step),
  questions,
  ...(probes ? { probes } : {}),
});

describe('goldRankAmong and goldAndAlignment', () => {
  it('is the rank by score of the best-ranked gold candidate, null when none is gold', () => {
    // Scores a 1, b 4, c 3, d 2: by score b 1, c 2, d 3, a 4. Gold a and d: best is d at 3.
    const q = question('q', [cand('a', 1, null, true), cand('b', 4, null), cand('c', 3, null), cand('d', 2, null, true)]);
    expect(goldRankAmong(q)).toBe(3);
    expect(goldRankAmong(question('q', [cand('a', 1, null), cand('b', 2, null)]))).toBeNull();
  });

  it('averages over questions with gold among the candidates and counts the others apart', () => {
    const qs = [
      // gold at rank 1 (score 9 > 1)
      question('q1', [cand('a', 9, 1, true), cand('b', 1, 2)], 0.5),
      // gold at rank 2 (score 1 < 5)
      question('q2', [cand('a', 5, 1), cand('b', 1, 2, true)], -0.25),
      // no gold among its candidates; no Spearman
      question('q3', [cand('a', 5, null), cand('b', 1, null)]),
    ];
    // mean rank (1 + 2) / 2 = 1.5; Spearman (0.5 - 0.25) / 2 = 0.125
    expect(goldAndAlignment(qs)).toEqual({ goldRank: 1.5, inIndex: 0, noGold: 1, of: 3, spearman: 0.125 });
    expect(goldAndAlignment([qs[2]!])).toEqual({ goldRank: null, inIndex: 0, noGold: 1, of: 1, spearman: null });
  });

  it("takes the gold passage's rank in the whole index where the record has it, even beyond the candidates", () => {
    const at = (rank: number) => ({ docId: 'g', rank, of: 480, score: 1, utility: null });
    const qs = [
      // gold not among the 2 candidates, rank 37 of 480 in the index search
      { ...question('q1', [cand('a', 9, 1), cand('b', 1, 2)]), goldRank: at(37) },
      // gold the top candidate: rank 1 both ways
      { ...question('q2', [cand('g', 9, 1, true), cand('b', 1, 2)]), goldRank: at(1) },
      // no gold passage in the index
      { ...question('q3', [cand('a', 9, 1), cand('b', 1, 2)]), goldRank: null },
    ];
    // (37 + 1) / 2 = 19, both from the index; q3 left out.
    expect(goldAndAlignment(qs)).toMatchObject({ goldRank: 19, inIndex: 2, noGold: 1, of: 3 });
  });
});

describe('trends', () => {
  it('has one point per record for the batch and one per probed record for the probe set', () => {
    const p = (score: number): QuestionRecord => question('p1', [cand('x', score, 1, true), cand('y', 2, 2)], score > 2 ? 1 : -1);
    const records = [
      record(0, [question('q1', [cand('a', 1, 1, true), cand('b', 2, 2)], -1)], [p(1)]),
      record(1, [question('q2', [cand('a', 3, 1, true), cand('b', 2, 2)], 1)]),
      record(2, [question('q1', [cand('a', 3, 1, true), cand('b', 2, 2)], 1)], [p(3)]),
    ];
    const t = trends(records);
    expect(t.step).toEqual([1, 2, 3]);
    expect(t.hasProbes).toBe(true);
    expect(t.batch.map((b) => b.goldRank)).toEqual([2, 1, 1]);
    expect(t.batch.map((b) => b.spearman)).toEqual([-1, 1, 1]);
    // The probe ran at steps 0 and 2: the gold x climbs from 2 (score 1 < 2) to 1 (3 > 2).
    expect(t.probe.map((x) => x?.goldRank ?? null)).toEqual([2, null, 1]);
    expect(t.probe.map((x) => x?.spearman ?? null)).toEqual([-1, null, 1]);
    expect(probeIds(records)).toEqual(['p1']);
  });

  it('says a run without probes has none (records saved before probes parse without the field)', () => {
    const t = trends([record(0, [])]);
    expect(t.hasProbes).toBe(false);
    expect(t.probe).toEqual([null]);
    expect(t.batch).toEqual([{ goldRank: null, inIndex: 0, noGold: 0, of: 0, spearman: null }]);
    expect(probeIds([record(0, [])])).toEqual([]);
  });
});

describe('bump', () => {
  // The probe question p at three steps. Step 0: scores g 1, a 3, b 2 -> ranks a 1, b 2, g 3;
  // NLLs g 0.5, a 2, b 1 -> utility ranks g 1, b 2, a 3. Step 3: g 5, a 3, c 4 (b dropped out) ->
  // g 1, c 2, a 3; NLLs g 0.4, a 2.2, c 1 -> g 1, c 2, a 3. Step 6: g 5, a 1, b 4 -> g 1, b 2, a 3;
  // b not judged (null NLL) -> utility g 1, a 2.
  const p0 = question('p', [cand('g', 1, 0.5, true), cand('a', 3, 2), cand('b', 2, 1)]);
  const p3 = question('p', [cand('g', 5, 0.4, true), cand('a', 3, 2.2), cand('c', 4, 1)]);
  const p6 = question('p', [cand('g', 5, 0.3, true), cand('a', 1, 2.5), cand('b', 4, null)]);
  const records = [record(0, [], [p0]), record(1, []), record(2, []), record(3, [], [p3]), record(6, [], [p6])];

  it('follows each candidate through the probed steps, gold first, then by mean retriever rank', () => {
    const b = bump(records, 'p', 'probe');
    expect(b.steps).toEqual([0, 3, 6]);
    // Mean retriever rank with an absent step counted as K + 1 = 4: a (1 + 3 + 3) / 3 = 2.33,
    // b (2 + 4 + 2) / 3 = 2.67, c (4 + 2 + 4) / 3 = 3.33.
    expect(b.lines.map((l) => l.docId)).toEqual(['g', 'a', 'b', 'c']);
    expect(b.lines.map((l) => [l.gold, l.retriever, l.utility])).toEqual([
      [true, [3, 1, 1], [1, 1, 1]],
      [false, [1, 3, 3], [3, 3, 2]],
      [false, [2, null, 2], [2, null, null]],
      [false, [null, 2, null], [null, 2, null]],
    ]);
    expect(b.hidden).toBe(0);
    // Records without goldRank (saved before it): not recorded.
    expect(b.goldRank).toEqual([null, null, null]);
    expect(b.of).toBeNull();
  });

  it("carries the gold passage's rank in the index at each point, for a gold passage that is no candidate", () => {
    const g = (rank: number) => ({ docId: 'gg', rank, of: 480, score: 1, utility: null });
    const rs = [record(0, [], [{ ...p0, goldRank: g(37) }]), record(4, [], [{ ...p3, goldRank: g(12) }])];
    expect(bump(rs, 'p', 'probe')).toMatchObject({ steps: [0, 4], goldRank: [37, 12], of: 480 });
  });

  it('keeps the gold passages and the best `limit` others, and counts the rest', () => {
    const b = bump(records, 'p', 'probe', 2);
    expect(b.lines.map((l) => l.docId)).toEqual(['g', 'a']);
    expect(b.hidden).toBe(2);
  });

  it('reads the batch instead of the probes when asked, and is empty for a question never scored', () => {
    const rs = [record(0, [p0]), record(1, [p3], [p6])];
    expect(bump(rs, 'p', 'batch').steps).toEqual([0, 1]);
    expect(bump(rs, 'p', 'probe').steps).toEqual([1]);
    expect(bump(rs, 'nope', 'probe')).toEqual({ steps: [], lines: [], hidden: 0, goldRank: [], of: null });
  });
});

describe('the probe set', () => {
  const train: Question[] = Array.from({ length: 20 }, (_, i) => ({
    id: `t${i}`,
    question: `question ${i}`,
    kind: 'open',
    answer: 'yes',
    goldDocIds: [],
  }));

  it('is a fixed, seeded choice of training questions in their order; a smaller set is a subset of a larger one', () => {
    const a = probeSet(train, { seed: 4, probeQuestions: 5 }).map((q) => q.id);
    expect(a).toHaveLength(5);
    expect(new Set(a).size).toBe(5);
    expect(probeSet(train, { seed: 4, probeQuestions: 5 }).map((q) => q.id)).toEqual(a);
    const order = a.map((id) => Number(id.slice(1)));
    expect(order).toEqual([...order].sort((x, y) => x - y));
    // Another seed chooses another set (20 choose 5 = 15504 sets: a repeat would be a bug, not chance).
    expect(probeSet(train, { seed: 5, probeQuestions: 5 }).map((q) => q.id)).not.toEqual(a);
    const three = probeSet(train, { seed: 4, probeQuestions: 3 }).map((q) => q.id);
    for (const id of three) expect(a).toContain(id);
    expect(probeSet(train, { seed: 4, probeQuestions: 0 })).toEqual([]);
    expect(probeSet(train, { seed: 4, probeQuestions: 20 }).map((q) => q.id)).toEqual(train.map((q) => q.id));
  });

  it('refuses more probe questions than the run trains on, naming the field', () => {
    const err = (() => {
      try {
        probeSet(train.slice(0, 3), { seed: 0, probeQuestions: 4 });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe('probeQuestions');
    expect((err as Error).message).toMatch(/4 probe questions, but the run has 3 training questions/);
  });

  it('runs every probeEvery steps from the first and before the last step; never when off', () => {
    const c = resolveConfig({ steps: 7, probeQuestions: 2, probeEvery: 3 });
    expect([...Array(7).keys()].filter((t) => probeDue(c, t))).toEqual([0, 3, 6]);
    const d = resolveConfig({ steps: 8, probeQuestions: 2, probeEvery: 3 });
    expect([...Array(8).keys()].filter((t) => probeDue(d, t))).toEqual([0, 3, 6, 7]);
    const off = resolveConfig({ steps: 8, probeEvery: 1 });
    expect(off.probeQuestions).toBe(0);
    expect([...Array(8).keys()].filter((t) => probeDue(off, t))).toEqual([]);
  });

  it('is off by default, so existing configs and their records are unchanged', () => {
    const c = resolveConfig({});
    expect(c.probeQuestions).toBe(0);
    expect(() => resolveConfig({ probeEvery: 0 })).toThrow(/probeEvery/);
    expect(() => resolveConfig({ probeQuestions: 65 })).toThrow(/probeQuestions/);
  });
});

describe('jargon where it appears', () => {
  it("names P(draw)'s temperature, and hides the column where a step drew nothing", () => {
    const jmlr = resolveConfig({ samplingTemperature: 0.5 });
    expect(drawColumn(jmlr, { retriever: true })).toMatchObject({ label: 'P(draw), T = 0.5' });
    expect(drawColumn(jmlr, { retriever: true })!.title).toMatch(/sampling temperature T = 0.5 \(samplingTemperature\)/);
    // A staged run's reader steps freeze the retriever: no draw.
    expect(drawColumn(jmlr, { retriever: false })).toBeNull();
    expect(drawColumn({ ...jmlr, sampling: false }, { retriever: true })).toBeNull();
    expect(drawColumn(resolveConfig({ retrieverLoss: 'infonce', schedule: 'retriever-only' }), { retriever: true })).toBeNull();
    expect(drawColumn(resolveConfig({ retrieverLoss: 'none', schedule: 'frozen-retriever' }), { retriever: false })).toBeNull();
  });

  it('gives every preset a line that names the retriever loss its file sets', () => {
    for (const name of PRESETS) {
      const preset = JSON.parse(readFileSync(`public/presets/${name}.json`, 'utf8')) as { retrieverLoss: RetrieverLoss };
      const line = presetHelp(name);
      expect(line.toLowerCase(), name).toContain(LOSS_LABELS[preset.retrieverLoss].toLowerCase());
    }
    expect(presetHelp(null)).toMatch(/defaults/);
    // A notebook may name a preset this MedRank has none of (or a prototype key): no line, no crash.
    expect(presetHelp('toString')).toBe('');
    expect(presetHelp('my-preset')).toBe('');
  });
});
