// The numbers of the inspector's over-the-run views (pure, unit tested): per step, the gold
// passage's mean rank (in the whole index search where recorded, else among the candidates) and
// the mean Spearman(score, -NLL), for the step's batch and for the probe set (StepRecord.probes,
// src/training/probe.ts); and for one question followed across steps, each candidate's retriever
// rank and utility rank at every step it was scored (a bump chart). Ranks are candidateRows' (runView.ts): 1 = highest score, 1 = lowest NLL.
// Also the heading of the inspector's P(draw) column, which names the run's sampling temperature.

import { drawsDocuments, type TrainConfig } from '../training/config';
import type { QuestionRecord, StepRecord } from '../training/step';
import { candidateRows } from './runView';

/**
 * The inspector's P(draw) column at a step: its heading with the sampling temperature named, and
 * what it is; null where the step drew nothing (sampling off, a loss or a phase without
 * utilities), so the column is hidden rather than showing probabilities no draw used.
 */
export function drawColumn(
  c: Pick<TrainConfig, 'sampling' | 'retrieverLoss' | 'samplingTemperature'>,
  trains: { retriever: boolean },
): { label: string; title: string } | null {
  if (!drawsDocuments(c, trains)) return null;
  const T = String(c.samplingTemperature);
  return {
    label: `P(draw), T = ${T}`,
    title:
      `the chance of being drawn first for the generator to judge: softmax of the min-max scaled scores ` +
      `divided by the sampling temperature T = ${T} (samplingTemperature); n are drawn without replacement`,
  };
}

/** Rank by score (1 = top) of the best-ranked gold passage among the question's candidates; null when none is. */
export function goldRankAmong(q: QuestionRecord): number | null {
  const ranks = candidateRows(q).flatMap((r) => (r.gold ? [r.rankRetriever] : []));
  return ranks.length ? Math.min(...ranks) : null;
}

/**
 * The gold passage's rank for the trend: in the whole index search where the record has it
 * (goldRank; null there: no gold passage in the index), else among the candidates (records from
 * before goldRank, the PyTorch twin's; null: none of the candidates is gold).
 */
export function goldRankOf(q: QuestionRecord): { rank: number | null; inIndex: boolean } {
  return q.goldRank !== undefined
    ? { rank: q.goldRank?.rank ?? null, inIndex: true }
    : { rank: goldRankAmong(q), inIndex: false };
}

export interface GoldAndAlignment {
  /** Mean of the questions' gold ranks (goldRankOf) over those with one (null: none had one). */
  goldRank: number | null;
  /** How many of those ranks are in the whole index search (the rest: among the candidates). */
  inIndex: number;
  /** Questions without a gold rank, left out of the mean: no gold passage in the index, or (not recorded) none among the candidates. */
  noGold: number;
  /** Questions scored. */
  of: number;
  /** Mean of the questions' Spearman(score, -NLL) over those with one (null: none). */
  spearman: number | null;
}

const mean = (xs: number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** Gold rank and alignment over a list of question records (a step's batch, or its probe set). */
export function goldAndAlignment(qs: readonly QuestionRecord[]): GoldAndAlignment {
  const ranks = qs.map(goldRankOf);
  const found = ranks.filter((r) => r.rank !== null);
  return {
    goldRank: mean(found.map((r) => r.rank!)),
    inIndex: found.filter((r) => r.inIndex).length,
    noGold: ranks.length - found.length,
    of: qs.length,
    spearman: mean(qs.flatMap((q) => (q.spearman === null ? [] : [q.spearman]))),
  };
}

export interface Trends {
  /** Per record: its step, 1-based as the views count. */
  step: number[];
  batch: GoldAndAlignment[];
  /** Per record: the probe set's numbers, null at the steps the probe did not run. */
  probe: (GoldAndAlignment | null)[];
  /** Did any record carry probes. */
  hasProbes: boolean;
}

export function trends(records: readonly StepRecord[]): Trends {
  return {
    step: records.map((r) => r.step + 1),
    batch: records.map((r) => goldAndAlignment(r.questions)),
    probe: records.map((r) => (r.probes ? goldAndAlignment(r.probes) : null)),
    hasProbes: records.some((r) => r.probes !== undefined),
  };
}

/** The probe set's question ids, in the order the run recorded them (empty: a run without probes). */
export function probeIds(records: readonly StepRecord[]): string[] {
  const ids = new Set<string>();
  for (const r of records) for (const q of r.probes ?? []) ids.add(q.id);
  return [...ids];
}

export interface BumpLine {
  docId: string;
  gold: boolean;
  /** Per point of `steps`: its rank by retriever score among the candidates (null: not a candidate then). */
  retriever: (number | null)[];
  /** Per point: its rank by utility among the judged documents (null: not a candidate, or not judged). */
  utility: (number | null)[];
}

export interface Bump {
  /** Steps (0-based, as recorded) at which the question was scored. */
  steps: number[];
  /** Gold passages first, then by best mean retriever rank; at most `limit` (all gold passages kept). */
  lines: BumpLine[];
  /** Documents that were candidates at some step but are left out by `limit`. */
  hidden: number;
  /** Per point: the gold passage's rank in the whole index search (null: not recorded, or no gold in the index). */
  goldRank: (number | null)[];
  /** How many documents that search ranked (null: not recorded). */
  of: number | null;
}

/**
 * One question followed across the steps: where `from` is 'probe', the steps its probe ran (every
 * candidate judged); 'batch', the steps it was trained in (only the sampled ones judged).
 */
export function bump(records: readonly StepRecord[], questionId: string, from: 'probe' | 'batch', limit = 8): Bump {
  const at = records.flatMap((r) => {
    const q = (from === 'probe' ? (r.probes ?? []) : r.questions).find((x) => x.id === questionId);
    return q ? [{ step: r.step, q }] : [];
  });
  const byDoc = new Map<string, BumpLine>();
  at.forEach(({ q }, t) => {
    for (const row of candidateRows(q)) {
      const line = byDoc.get(row.docId) ?? {
        docId: row.docId,
        gold: false,
        retriever: at.map(() => null),
        utility: at.map(() => null),
      };
      line.gold ||= row.gold;
      line.retriever[t] = row.rankRetriever;
      line.utility[t] = row.rankUtility;
      byDoc.set(row.docId, line);
    }
  });
  // A document that dropped out of the candidates ranks below all of them: K + 1 in the ordering.
  const K = Math.max(0, ...at.map(({ q }) => q.candidates.length));
  const meanRank = (l: BumpLine): number => l.retriever.reduce<number>((a, r) => a + (r ?? K + 1), 0) / Math.max(1, at.length);
  const all = [...byDoc.values()].sort(
    (a, b) => Number(b.gold) - Number(a.gold) || meanRank(a) - meanRank(b) || a.docId.localeCompare(b.docId),
  );
  const keep = Math.max(limit, all.filter((l) => l.gold).length);
  return {
    steps: at.map((x) => x.step),
    lines: all.slice(0, keep),
    hidden: Math.max(0, all.length - keep),
    goldRank: at.map(({ q }) => q.goldRank?.rank ?? null),
    of: at.find(({ q }) => q.goldRank)?.q.goldRank?.of ?? null,
  };
}
