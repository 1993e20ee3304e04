// How long a run has left, every phase counted: the steps still to take, the evaluations its
// schedule still holds (config.evalEvery, the final one with the test split when reportTest) and
// its checkpoints, each at the cost measured so far in the run (an evaluation's per question; before
// any, a step's cost per question stands in). Pure, so the numbers are tested without a GPU.

import type { QuestionSplit } from '../data/datasets';
import type { TrainConfig } from './config';

/** Measured costs, in milliseconds (null: not measured yet). */
export interface RunCosts {
  step: number | null;
  evalQuestion: number | null;
  checkpoint: number | null;
}

/** The evaluations the schedule still holds after step `t` (t steps taken), as [split, step] pairs. */
export function evalsAfter(
  c: Pick<TrainConfig, 'steps' | 'evalEvery' | 'evalSplit' | 'reportTest'>,
  t: number,
): [QuestionSplit, number][] {
  const out: [QuestionSplit, number][] = [];
  for (let s = t + 1; s <= c.steps; s++) {
    if (s === c.steps) {
      out.push([c.evalSplit, s]);
      if (c.reportTest && c.evalSplit !== 'test') out.push(['test', s]);
    } else if (c.evalEvery > 0 && s % c.evalEvery === 0) out.push([c.evalSplit, s]);
  }
  return out;
}

/** Checkpoints the schedule still holds after step t (every checkpointEvery and the last step). */
export function checkpointsAfter(c: Pick<TrainConfig, 'steps' | 'checkpointEvery'>, t: number): number {
  let n = 0;
  for (let s = t + 1; s <= c.steps; s++) if (s === c.steps || (c.checkpointEvery > 0 && s % c.checkpointEvery === 0)) n++;
  return n;
}

/**
 * Milliseconds left after `t` steps, with `inEval` questions of an evaluation still to score now;
 * null before a step has been measured (nothing to go by). `evalSizes` is the questions of each split's set.
 */
export function remainingMs(
  c: Pick<TrainConfig, 'steps' | 'evalEvery' | 'evalSplit' | 'reportTest' | 'checkpointEvery' | 'batchSize'>,
  t: number,
  costs: RunCosts,
  evalSizes: Partial<Record<QuestionSplit, number>>,
  inEval = 0,
): number | null {
  if (costs.step === null) return null;
  const perQuestion = costs.evalQuestion ?? costs.step / c.batchSize;
  const questions = inEval + evalsAfter(c, t).reduce((a, [split]) => a + (evalSizes[split] ?? 0), 0);
  return (c.steps - t) * costs.step + questions * perQuestion + checkpointsAfter(c, t) * (costs.checkpoint ?? 0);
}
