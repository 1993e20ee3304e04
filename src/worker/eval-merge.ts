// Evaluation in chunks of questions (the worker's evaluate request: progress and cancellation
// between chunks) merged into the one EvalResult that evaluate() over all of them gives.

import type { Question } from '../data/datasets';
import type { EvalResult } from '../training/evaluate';

/**
 * One EvalResult from evaluations of consecutive chunks of the questions, as evaluate() on all of
 * them gives it: accuracies weighted by the questions scored, recall and MRR by the questions with
 * gold passages (metrics' aggregate), alignment by the questions (each has the same number of
 * alignment candidates). ms is the chunks' sum.
 */
export function mergeEvalResults(parts: { result: EvalResult; questions: Pick<Question, 'goldDocIds'>[] }[]): EvalResult {
  const wsum = (w: (p: (typeof parts)[number]) => number, v: (r: EvalResult) => number): number => {
    let num = 0,
      den = 0;
    for (const p of parts) {
      num += w(p) * v(p.result);
      den += w(p);
    }
    return den ? num / den : 0;
  };
  const scored = (p: (typeof parts)[number]) => p.result.scored;
  const withGold = (p: (typeof parts)[number]) => p.questions.filter((q) => q.goldDocIds.length > 0).length;
  const count = (p: (typeof parts)[number]) => p.result.questions;
  const ks = [...new Set(parts.flatMap((p) => Object.keys(p.result.recall).map(Number)))].sort((a, b) => a - b);
  return {
    questions: parts.reduce((a, p) => a + p.result.questions, 0),
    scored: parts.reduce((a, p) => a + p.result.scored, 0),
    accuracy: {
      none: wsum(scored, (r) => r.accuracy.none),
      retrieved: wsum(scored, (r) => r.accuracy.retrieved),
      oracle: wsum(scored, (r) => r.accuracy.oracle),
    },
    recall: Object.fromEntries(ks.map((k) => [k, wsum(withGold, (r) => r.recall[k] ?? 0)])),
    mrr10: wsum(withGold, (r) => r.mrr10),
    alignment: { spearman: wsum(count, (r) => r.alignment.spearman), kendall: wsum(count, (r) => r.alignment.kendall) },
    ms: parts.reduce((a, p) => a + p.result.ms, 0),
  };
}
