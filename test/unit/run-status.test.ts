// How a run's state is worded (src/components/runStatus.ts) and the steps-0 rule of the config
// (src/training/config.ts): a 0-step run is an evaluation only, never an empty "done"; Resume is
// offered only with a checkpoint in this browser; a run queued behind another job says so.

import { describe, expect, it } from 'vitest';
import { canResume, runStatusText, runWaitingFor } from '../../src/components/runStatus';
import { ConfigError, DEFAULT_CONFIG, resolveConfig, STEPS_ZERO_PROBLEM } from '../../src/training/config';
import { SAVED_CONFIG } from '../../src/training/records';
import { runMeta } from './notebook-fixtures';

const origin = {
  adapter: 'pytorch/cuda',
  data: 'public/demo',
  models: { retriever: 'bundle retriever/', generator: 'bundle generator/' },
  wallSeconds: 1,
  indexMs: 1,
  fileName: 'results.json',
  importedAt: 5,
};

describe('steps 0', () => {
  it('is an evaluation only with evalAtStart, and refused at the steps field without it', () => {
    expect(resolveConfig({ steps: 0, evalAtStart: true }).steps).toBe(0);
    let err: unknown;
    try {
      resolveConfig({ steps: 0, evalAtStart: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe('steps');
    expect((err as ConfigError).message).toBe(`config.steps: ${STEPS_ZERO_PROBLEM}`);
    // One step without the evaluation is a run like any other; a saved config is held to the same rule.
    expect(resolveConfig({ steps: 1, evalAtStart: false }).steps).toBe(1);
    expect(() => SAVED_CONFIG.parse({ ...DEFAULT_CONFIG, steps: 0, evalAtStart: false }, 'config')).toThrow(
      /^config\.steps: must be at least 1; 0 means an evaluation only/,
    );
  });

  it('a finished 0-step run reads as an evaluation only, not "done"', () => {
    const evalOnly = runMeta('r1', 'nb', { config: { ...DEFAULT_CONFIG, steps: 0 }, steps: 0 });
    expect(runStatusText(evalOnly)).toBe('evaluated only (0 steps: no training)');
    expect(runStatusText({ ...evalOnly, evals: [] })).toBe('nothing ran (0 steps)');
    expect(runStatusText(runMeta('r2', 'nb'))).toBe('done');
    expect(runStatusText(runMeta('r3', 'nb', { status: 'interrupted' }))).toBe('interrupted (the tab closed)');
    // Cut short, a 0-step run says so as any run does.
    expect(runStatusText({ ...evalOnly, status: 'stopped' })).toBe('stopped');
  });
});

describe('Resume', () => {
  it('is offered for a run cut short before its last step with a checkpoint in this browser', () => {
    const cut = runMeta('r1', 'nb', { status: 'interrupted', steps: 2, checkpointStep: 2 });
    expect(canResume(cut)).toBe(true);
    expect(canResume({ ...cut, status: 'stopped' })).toBe(true);
    expect(canResume({ ...cut, status: 'error' })).toBe(true);
    expect(canResume({ ...cut, status: 'done' })).toBe(false);
    expect(canResume({ ...cut, status: 'running' })).toBe(false);
    expect(canResume({ ...cut, checkpointStep: null })).toBe(false); // the checkpoint did not come along
    expect(canResume({ ...cut, checkpointStep: 4 })).toBe(false); // nothing left to run (config.steps 4)
    expect(canResume({ ...cut, imported: origin })).toBe(false); // trained elsewhere: no checkpoint here
  });
});

describe('a run queued behind another job', () => {
  it('says what it waits for until the worker sends its first word', () => {
    const claimed = { progress: null };
    expect(runWaitingFor(claimed, { evaluating: true, exporting: false })).toBe(
      'waiting for the evaluation to finish: the GPU runs one job at a time',
    );
    expect(runWaitingFor(claimed, { evaluating: true, exporting: true })).toBe(
      'waiting for the evaluation and the cluster export to finish: the GPU runs one job at a time',
    );
    expect(runWaitingFor(claimed, { evaluating: false, exporting: false })).toBeNull();
    expect(
      runWaitingFor({ progress: { done: 0, total: 4, message: 'step 1' } }, { evaluating: true, exporting: false }),
    ).toBeNull();
    expect(runWaitingFor(null, { evaluating: true, exporting: false })).toBeNull();
  });
});
