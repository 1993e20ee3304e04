// What the notebook's views show, computed from a run's step records (pure functions, unit
// tested): per-step series for the charts, the inspector's rows for one question at one step
// (rank by retriever, by utility, after the update), a document's rank across the steps the
// question was trained on, the LLM-Rank loss of one question split into its pairs, where a run was
// trained, and which of a shown step's ids the loaded dataset lacks (a run imported from elsewhere).
// For one question at one step: its alignment before and after the update, where its gold passage
// ranked in the whole index, how much each document helps against no document, and the scatter of
// score against utility with its axes.
// From a run's evaluations with per-question results: one held-out question across the
// evaluations, and the questions whose gold passage climbed into the top m.

import type { EvalEntry, RunMeta } from '../notebook/schema';
import type { CandidateRecord, QuestionRecord, StepRecord } from '../training/step';
import { spearman } from '../data/metrics';
import { llmRankLoss, llmRankPairs as rankPairs, minMaxScale } from '../training/losses';

export interface StepSeries {
  step: number[];
  retrieverLoss: (number | null)[];
  generatorLoss: (number | null)[];
  spearman: (number | null)[];
  /** By k, the recall of gold among the candidates. */
  recall: Record<number, (number | null)[]>;
  /** Wall time of the step, all phases. */
  ms: number[];
}

export function stepSeries(records: readonly StepRecord[]): StepSeries {
  const ks = [...new Set(records.flatMap((r) => Object.keys(r.recall).map(Number)))].sort((a, b) => a - b);
  return {
    step: records.map((r) => r.step + 1),
    retrieverLoss: records.map((r) => r.loss.retriever),
    generatorLoss: records.map((r) => r.loss.generator),
    spearman: records.map((r) => r.alignment.spearman),
    recall: Object.fromEntries(ks.map((k) => [k, records.map((r) => r.recall[k] ?? null)])),
    ms: records.map((r) => Object.values(r.ms).reduce((a, b) => a + b, 0)),
  };
}

/** The questions a run trained on, with the steps (record indices) each appeared in. */
export function questionsOf(records: readonly StepRecord[]): { id: string; steps: number[] }[] {
  const seen = new Map<string, number[]>();
  for (const r of records) for (const q of r.questions) seen.set(q.id, [...(seen.get(q.id) ?? []), r.step]);
  return [...seen].map(([id, steps]) => ({ id, steps }));
}

/** 1-based ranks of `values` (higher first when `desc`); nulls get null. Ties keep list order. */
export function ranksOf(values: readonly (number | null)[], desc: boolean): (number | null)[] {
  const order = values
    .map((v, i) => ({ v, i }))
    .filter((x): x is { v: number; i: number } => x.v !== null)
    .sort((a, b) => (desc ? b.v - a.v : a.v - b.v) || a.i - b.i);
  const out: (number | null)[] = values.map(() => null);
  order.forEach((x, r) => (out[x.i] = r + 1));
  return out;
}

export interface CandidateRow extends CandidateRecord {
  /** Rank among the K candidates by retriever score at this step (1 = top). */
  rankRetriever: number;
  /** Rank among the judged documents by utility (1 = lowest answer NLL), null if not judged. */
  rankUtility: number | null;
  /** Rank by the score after this step's update (null when not recorded). */
  rankAfter: number | null;
  /** How much this document lowers the answer NLL against no document: nllNoDoc - utility (null: either not recorded). */
  helps: number | null;
}

/** One question at one step: its candidates in retriever order, with their ranks. */
export function candidateRows(q: QuestionRecord): CandidateRow[] {
  const byScore = ranksOf(
    q.candidates.map((c) => c.score),
    true,
  );
  const byUtility = ranksOf(
    q.candidates.map((c) => c.utility),
    false,
  );
  const after = q.candidates.every((c) => c.scoreAfter !== null && c.scoreAfter !== undefined)
    ? ranksOf(
        q.candidates.map((c) => c.scoreAfter ?? null),
        true,
      )
    : q.candidates.map(() => null);
  return q.candidates
    .map((c, i) => ({
      ...c,
      rankRetriever: byScore[i]!,
      rankUtility: byUtility[i]!,
      rankAfter: after[i]!,
      helps: helpsBy(c.utility, q.nllNoDoc),
    }))
    .sort((a, b) => a.rankRetriever - b.rankRetriever);
}

/** nllNoDoc - utility: how much a document lowers the answer NLL (negative: it hurts); null when either is missing. */
export function helpsBy(utility: number | null, nllNoDoc: number | null | undefined): number | null {
  return utility === null || nllNoDoc === null || nllNoDoc === undefined ? null : nllNoDoc - utility;
}

/**
 * One question's Spearman(score, -NLL) over its judged documents, before the update (the
 * record's) and after it (scoreAfter against the same utilities; null when the scores after were
 * not recorded or fewer than two documents were judged).
 */
export function questionAlignment(q: QuestionRecord): { before: number | null; after: number | null } {
  const judged = q.candidates.filter((c) => c.utility !== null);
  const afterOk = judged.length >= 2 && judged.every((c) => c.scoreAfter !== null && c.scoreAfter !== undefined);
  return {
    before: q.spearman,
    after: afterOk
      ? spearman(
          judged.map((c) => c.scoreAfter!),
          judged.map((c) => -c.utility!),
        )
      : null,
  };
}

export type GoldLine =
  /** The record predates goldRank (or came from the PyTorch twin): only the candidates say where gold is. */
  | { kind: 'not-recorded'; candidateRank: number | null; text: string }
  /** The question has no gold passage in the index. */
  | { kind: 'none'; text: string }
  | { kind: 'ranked'; docId: string; rank: number; of: number; candidate: boolean; text: string };

/** Where the question's gold passage ranked at this step, in words ("gold at rank 37 of 480 ..."). */
export function goldLine(q: QuestionRecord): GoldLine {
  const K = q.candidates.length;
  const g = q.goldRank;
  if (g === undefined) {
    const rows = candidateRows(q);
    const r = rows.find((x) => x.gold)?.rankRetriever ?? null;
    return {
      kind: 'not-recorded',
      candidateRank: r,
      text:
        r === null
          ? `No gold passage among the ${K} candidates; this run's records do not say where it ranked in the index.`
          : `Gold passage: candidate ${r} of ${K} (its rank in the whole index was not recorded).`,
    };
  }
  if (g === null) return { kind: 'none', text: 'This question has no gold passage in the index.' };
  const candidate = q.candidates.some((c) => c.docId === g.docId);
  return {
    kind: 'ranked',
    docId: g.docId,
    rank: g.rank,
    of: g.of,
    candidate,
    text: `Gold at rank ${g.rank} of ${g.of} in the index search${candidate ? `, among the top K = ${K} candidates` : `: not among the top K = ${K} candidates`}.`,
  };
}

export interface ScatterPoint {
  docId: string;
  /** Retriever score at the step (for a gold passage that was not a candidate: its score in the index search). */
  x: number;
  /** Score after the update (null: not recorded, or not a candidate). */
  xAfter: number | null;
  /** Utility: mean answer NLL given the document alone (null: not judged). */
  y: number | null;
  gold: boolean;
  /** Among this step's K candidates. */
  candidate: boolean;
}

export interface ScatterView {
  points: ScatterPoint[];
  /** Axis ranges covering every point, arrow end and the no-document line, padded. */
  x: [number, number];
  y: [number, number];
  /** The answer NLL with no document (a reference line), when recorded. */
  noDoc: number | null;
}

/** [lo, hi] of the values padded by `pad` of the span on each side (a span of 0 gets +-0.5). */
export function paddedRange(values: readonly number[], pad = 0.08): [number, number] {
  if (values.length === 0) return [0, 1];
  const lo = Math.min(...values),
    hi = Math.max(...values);
  const d = hi > lo ? (hi - lo) * pad : 0.5;
  return [lo - d, hi + d];
}

/**
 * The inspector's scatter of score against utility: every judged candidate (with its score after
 * the update, for the arrow), and the gold passage always, judged or not, candidate or not (from
 * goldRank when it was not a candidate). Axes scaled to the data, not to zero.
 */
export function scatterView(q: QuestionRecord): ScatterView {
  const points: ScatterPoint[] = q.candidates
    .filter((c) => c.utility !== null || c.gold)
    .map((c) => ({
      docId: c.docId,
      x: c.score,
      xAfter: c.scoreAfter ?? null,
      y: c.utility ?? (c.gold && q.goldRank?.docId === c.docId ? q.goldRank.utility : null),
      gold: c.gold,
      candidate: true,
    }));
  const g = q.goldRank;
  if (g && !points.some((p) => p.docId === g.docId))
    points.push({ docId: g.docId, x: g.score, xAfter: null, y: g.utility, gold: true, candidate: false });
  points.sort((a, b) => a.x - b.x);
  const noDoc = q.nllNoDoc ?? null;
  const xs = points.flatMap((p) => (p.xAfter === null ? [p.x] : [p.x, p.xAfter]));
  const ys = [...points.flatMap((p) => (p.y === null ? [] : [p.y])), ...(noDoc === null ? [] : [noDoc])];
  return { points, x: paddedRange(xs), y: paddedRange(ys), noDoc };
}

/** About `n` round tick values (1, 2 or 5 times a power of ten apart) inside [lo, hi]. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) return Number.isFinite(lo) ? [lo] : [];
  const span = hi - lo;
  const p = 10 ** Math.floor(Math.log10(span / n));
  // The round step whose tick count comes closest to n.
  const step = [1, 2, 5, 10].map((m) => m * p).reduce((a, b) => (Math.abs(span / b - n) < Math.abs(span / a - n) ? b : a));
  const out: number[] = [];
  for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9; i++) out.push(Number((i * step).toPrecision(12)));
  return out;
}

export function questionAt(records: readonly StepRecord[], step: number, questionId: string): QuestionRecord | null {
  return records.find((r) => r.step === step)?.questions.find((q) => q.id === questionId) ?? null;
}

/** Each document's rank (by retriever score) at every step the question was in, and after the update. */
export function rankHistory(
  records: readonly StepRecord[],
  questionId: string,
): { steps: number[]; docs: Map<string, { before: (number | null)[]; after: (number | null)[] }> } {
  const at = records.filter((r) => r.questions.some((q) => q.id === questionId));
  const docs = new Map<string, { before: (number | null)[]; after: (number | null)[] }>();
  at.forEach((r, t) => {
    const rows = candidateRows(r.questions.find((q) => q.id === questionId)!);
    for (const row of rows) {
      const h = docs.get(row.docId) ?? { before: at.map(() => null), after: at.map(() => null) };
      h.before[t] = row.rankRetriever;
      h.after[t] = row.rankAfter;
      docs.set(row.docId, h);
    }
  });
  return { steps: at.map((r) => r.step), docs };
}

/** A gold passage's rank from its reciprocal rank at 10 (null: not in the top 10). */
export const rankFromRr = (rr: number): number | null => (rr > 0 ? Math.round(1 / rr) : null);

/** A run's evaluations that carry per-question results, of the split its last such evaluation used, by step. */
export function perQuestionEvals(evals: readonly EvalEntry[]): EvalEntry[] {
  const withPq = evals.filter((e) => e.result.perQuestion);
  const split = withPq.at(-1)?.split;
  return withPq.filter((e) => e.split === split).sort((a, b) => a.step - b.step);
}

export interface HeldOutPoint {
  step: number;
  /** The first gold passage's rank among the retrieved (null: not in the top 10). */
  rank: number | null;
  /** 1 right, 0 wrong, null not scored; with no document, the top m retrieved, the gold passages. */
  correct: Record<'none' | 'retrieved' | 'oracle', number | null>;
}

/** One held-out question at each of the run's evaluations with per-question results. */
export function heldOutHistory(evals: readonly EvalEntry[], questionId: string): HeldOutPoint[] {
  return perQuestionEvals(evals).flatMap((e) => {
    const pq = e.result.perQuestion!;
    const i = pq.ids.indexOf(questionId);
    if (i < 0) return [];
    return [
      {
        step: e.step,
        rank: rankFromRr(pq.rr10[i]!),
        correct: { none: pq.correct.none[i]!, retrieved: pq.correct.retrieved[i]!, oracle: pq.correct.oracle[i]! },
      },
    ];
  });
}

export interface Climb {
  id: string;
  /** The gold passage's rank at the first evaluation (null: below the top 10). */
  from: number | null;
  /** Its rank at the last (null: below the top 10). */
  to: number | null;
  /** The first evaluation step at which it was in the top m (a climb) or out of it (a fall). */
  byStep: number;
}

/**
 * Held-out questions worth opening: those whose gold passage climbed into the top m between the
 * run's first and last evaluation and whose answer with the top m went from wrong to right; the
 * longest climbs first, then the earliest. `falls` turns it around (out of the top m, right to
 * wrong), so a view can show both. `skip` leaves questions out (the demo's rephrased ones).
 */
export function heldOutClimbs(
  evals: readonly EvalEntry[],
  topM: number,
  opts: { limit?: number; skip?: (id: string) => boolean; falls?: boolean } = {},
): Climb[] {
  const ev = perQuestionEvals(evals);
  if (ev.length < 2) return [];
  const first = ev[0]!.result.perQuestion!,
    last = ev.at(-1)!.result.perQuestion!;
  const lastAt = new Map(last.ids.map((id, i) => [id, i]));
  const inTop = (r: number | null): boolean => r !== null && r <= topM;
  const up = !opts.falls;
  const out: Climb[] = [];
  first.ids.forEach((id, i) => {
    const j = lastAt.get(id);
    if (j === undefined || opts.skip?.(id)) return;
    const from = rankFromRr(first.rr10[i]!),
      to = rankFromRr(last.rr10[j]!);
    if (inTop(to) !== up || inTop(from) === up) return;
    if (first.correct.retrieved[i] !== (up ? 0 : 1) || last.correct.retrieved[j] !== (up ? 1 : 0)) return;
    const at = ev.find((e) => {
      const pq = e.result.perQuestion!;
      const k = pq.ids.indexOf(id);
      return k >= 0 && inTop(rankFromRr(pq.rr10[k]!)) === up;
    })!;
    out.push({ id, from, to, byStep: at.step });
  });
  const far = (r: number | null): number => r ?? 11;
  return out
    .sort((a, b) => (up ? far(b.from) - far(a.from) : far(b.to) - far(a.to)) || a.byStep - b.byStep)
    .slice(0, opts.limit ?? Infinity);
}

export interface PairTerm {
  /** Candidate indices (into QuestionRecord.candidates) of the two judged documents. */
  a: number;
  b: number;
  /** Min-max scaled scores' difference s'_a - s'_b (the logit; s' in [-1, 1], as losses.ts scales). */
  x: number;
  /** 1 when a's answer NLL is lower than b's (a should rank above b). */
  y: 0 | 1;
  /** This pair's share of the loss: BCE(sigmoid(x), y) / (1 + #pairs). */
  loss: number;
}

/**
 * The LLM-Rank loss of one question, pair by pair, recomputed from the record's scores, sampled
 * flags and utilities. `total` is losses.ts's llmRankLoss on the same inputs (it equals the sum of
 * the pairs: BCE of a pair does not depend on which of the two was drawn first, unless NLLs tie).
 */
export function llmRankPairs(q: QuestionRecord, margin = 0): { pairs: PairTerm[]; total: number; grad: Float64Array } | null {
  const sampled = q.candidates.flatMap((c, i) => (c.sampled && c.utility !== null ? [i] : []));
  if (sampled.length < 2) return null;
  const scores = q.candidates.map((c) => c.score);
  // The loss's own scaling (to [-1, 1]), so the pairs add up to `total`.
  const { scaled } = minMaxScale(scores);
  const nll = sampled.map((i) => q.candidates[i]!.utility!);
  const terms = rankPairs(scaled, sampled, nll, margin);
  const pairs = terms.map(({ a, b, x, y, bce }): PairTerm => ({ a, b, x, y, loss: bce / (1 + terms.length) }));
  const { loss, grad } = llmRankLoss(scores, sampled, nll, margin);
  return { pairs, total: loss, grad };
}

export const fmt = (v: number | null | undefined, digits = 3): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);
export const pct = (v: number | null | undefined): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : `${(v * 100).toFixed(0)}%`;

/** Where a run was trained, as the runs lists say it: 'this browser', or the adapter of an imported run. */
export function runOrigin(m: Pick<RunMeta, 'imported'>): string {
  return m.imported ? `imported: ${m.imported.adapter}` : 'this browser';
}

/** Which of a shown question and its candidates the loaded dataset does not have (ids looked up already). */
export function corpusGaps(
  q: QuestionRecord,
  missing: { questions: Record<string, true>; docs: Record<string, true> },
): { question: boolean; docs: string[]; of: number } {
  return {
    question: Object.hasOwn(missing.questions, q.id),
    docs: q.candidates.filter((c) => Object.hasOwn(missing.docs, c.docId)).map((c) => c.docId),
    of: q.candidates.length,
  };
}

/** The inspector's plain word on those gaps (null when the loaded dataset has them all). */
export function corpusGapMessage(g: ReturnType<typeof corpusGaps>, questionId: string): string | null {
  if (!g.question && g.docs.length === 0) return null;
  const n = g.docs.length;
  const shown = `${g.docs.slice(0, 3).join(', ')}${n > 3 ? ', …' : ''}`;
  const docs = (whose: string): string => `${n === g.of ? 'any' : n} of ${whose} ${g.of} candidates (${shown})`;
  const what =
    g.question && n
      ? `has neither the question ${questionId} nor ${docs('its')}`
      : g.question
        ? `does not have the question ${questionId}`
        : `does not have ${docs("this step's")}`;
  return (
    `The loaded dataset ${what}: the run was trained on other data than the loaded set. ` +
    "The scores, utilities and ranks are the run's own; texts and MaxSim token matches show only for what the loaded dataset has."
  );
}
