// A run's time left (src/training/eta.ts): the evaluations and checkpoints its schedule still
// holds, and the milliseconds they and the steps left cost, counted by hand here.
import { describe, expect, it } from 'vitest';
import { checkpointsAfter, evalsAfter, remainingMs } from '../../src/training/eta';

const base = { steps: 6, evalEvery: 2, evalSplit: 'validation' as const, reportTest: true, checkpointEvery: 3, batchSize: 4 };

describe('run ETA', () => {
  it('lists the evaluations still to come: every evalEvery before the end, then the final one with test', () => {
    expect(evalsAfter(base, 0)).toEqual([
      ['validation', 2],
      ['validation', 4],
      ['validation', 6],
      ['test', 6],
    ]);
    expect(evalsAfter(base, 4)).toEqual([
      ['validation', 6],
      ['test', 6],
    ]);
    expect(evalsAfter({ ...base, reportTest: false, evalEvery: 0 }, 1)).toEqual([['validation', 6]]);
    expect(evalsAfter({ ...base, evalSplit: 'test' }, 5)).toEqual([['test', 6]]);
    expect(evalsAfter(base, 6)).toEqual([]);
  });

  it('counts checkpoints every checkpointEvery and at the last step, once', () => {
    expect(checkpointsAfter(base, 0)).toBe(2); // 3, 6
    expect(checkpointsAfter(base, 3)).toBe(1); // 6
    expect(checkpointsAfter({ ...base, checkpointEvery: 0 }, 0)).toBe(1);
    expect(checkpointsAfter({ ...base, checkpointEvery: 4 }, 0)).toBe(2); // 4, 6
  });

  it('adds the steps, questions and checkpoints left at their measured costs', () => {
    const sizes = { validation: 10, test: 5 };
    // After 2 steps: 4 steps x 100 ms; evaluations at 4 (10 q) and 6 (10 + 5 q) at 3 ms; checkpoints at 3 and 6 at 7 ms.
    expect(remainingMs(base, 2, { step: 100, evalQuestion: 3, checkpoint: 7 }, sizes)).toBe(400 + 25 * 3 + 2 * 7);
    // With 4 questions of the evaluation in flight still to score.
    expect(remainingMs(base, 2, { step: 100, evalQuestion: 3, checkpoint: 7 }, sizes, 4)).toBe(400 + 29 * 3 + 14);
    // No evaluation measured yet: a step's cost per question (100 / 4) stands in; no checkpoint cost yet: 0.
    expect(remainingMs(base, 2, { step: 100, evalQuestion: null, checkpoint: null }, sizes)).toBe(400 + 25 * 25);
    // Nothing measured: no estimate.
    expect(remainingMs(base, 0, { step: null, evalQuestion: 3, checkpoint: 7 }, sizes)).toBeNull();
    // At the end: nothing left.
    expect(remainingMs(base, 6, { step: 100, evalQuestion: 3, checkpoint: 7 }, sizes)).toBe(0);
  });
});
