// Where runs started, in words (src/components/lineage.ts): the runs list's Start column, the
// models' state by the Run button, and Compare's warning when the runs shown started apart.
import { describe, expect, it } from 'vitest';
import { modelsText, runNamesOf, startsWarning, startText } from '../../src/components/lineage';

const names = runNamesOf([
  { id: 'a', name: 'LLM-Rank #1' },
  { id: 'b', name: 'PDist #1' },
]);

describe('run lineage in words', () => {
  it('names starts and the models state, a deleted run by its id', () => {
    expect(startText({ from: 'loaded' }, names)).toBe('loaded checkpoints');
    expect(startText({ from: 'run', runId: 'a', step: 4 }, names)).toBe('LLM-Rank #1 after step 4');
    expect(startText({ from: 'run', runId: 'gone', step: 1 }, names)).toBe('run gone after step 1');
    expect(startText(undefined, names)).toBe('not recorded');
    // A run of another notebook, named by what the store kept.
    expect(startText({ from: 'run', runId: 'x', step: 3 }, runNamesOf([], { x: 'PDist #4' }))).toBe('PDist #4 after step 3');
    expect(modelsText({ from: 'loaded' }, names)).toBe('The models are as loaded.');
    expect(modelsText({ from: 'run', runId: 'b', step: 2 }, names)).toBe('The models are as PDist #1 left them (after step 2).');
  });

  it('warns in Compare only when the runs shown started from different (or unrecorded) models', () => {
    const loaded = { from: 'loaded' as const };
    expect(startsWarning([{ name: 'x', start: loaded }], names)).toBeNull();
    expect(
      startsWarning(
        [
          { name: 'x', start: loaded },
          { name: 'y', start: loaded },
        ],
        names,
      ),
    ).toBeNull();
    // Both continued the same run at the same step: the same start.
    const cont = { from: 'run' as const, runId: 'a', step: 4 };
    expect(
      startsWarning(
        [
          { name: 'x', start: cont },
          { name: 'y', start: { ...cont } },
        ],
        names,
      ),
    ).toBeNull();
    // The same run continued at another step is another start.
    expect(
      startsWarning(
        [
          { name: 'x', start: cont },
          { name: 'y', start: { ...cont, step: 2 } },
        ],
        names,
      ),
    ).toMatch(/did not all start from the same models \(x: LLM-Rank #1 after step 4; y: LLM-Rank #1 after step 2\)/);
    expect(
      startsWarning(
        [
          { name: 'x', start: loaded },
          { name: 'y', start: cont },
          { name: 'z', start: loaded },
        ],
        names,
      ),
    ).toBe(
      'These runs did not all start from the same models (x, z: loaded checkpoints; y: LLM-Rank #1 after step 4): ' +
        'differences may come from where they started, not only from how they trained.',
    );
    expect(
      startsWarning(
        [
          { name: 'x', start: undefined },
          { name: 'y', start: undefined },
        ],
        names,
      ),
    ).toMatch(/^Where x, y started is not recorded/);
    expect(
      startsWarning(
        [
          { name: 'x', start: undefined },
          { name: 'y', start: loaded },
        ],
        names,
      ),
    ).toMatch(/x: an unrecorded start; y: loaded checkpoints/);
  });
});
