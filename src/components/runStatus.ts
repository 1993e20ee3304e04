// How the runs lists and the Train cell word a run's state (pure, unit tested): its status (a run
// of 0 steps is an evaluation only), whether it offers Resume, and what a run that has the run
// slot but no word from the worker yet is waiting for.

import type { RunMeta } from '../notebook/schema';

/** What a run's status reads as. */
export const RUN_STATUS: Record<RunMeta['status'], string> = {
  running: 'training…',
  done: 'done',
  stopped: 'stopped',
  error: 'failed',
  interrupted: 'interrupted (the tab closed)',
};

/** A run's status in words; a run of 0 steps is an evaluation of the models as they were, not an empty 'done'. */
export function runStatusText(m: Pick<RunMeta, 'status' | 'config' | 'evals'>): string {
  if (m.config.steps === 0 && m.status === 'done')
    return m.evals.length ? 'evaluated only (0 steps: no training)' : 'nothing ran (0 steps)';
  return RUN_STATUS[m.status];
}

/**
 * Whether a run offers Resume: cut short (stopped, failed, interrupted) with a checkpoint in this
 * browser before its last step. A run that came in a file (a notebook or results file) has none.
 */
export function canResume(m: Pick<RunMeta, 'status' | 'checkpointStep' | 'config' | 'imported'>): boolean {
  return (
    (m.status === 'interrupted' || m.status === 'stopped' || m.status === 'error') &&
    !m.imported &&
    m.checkpointStep !== null &&
    m.checkpointStep < m.config.steps
  );
}

/**
 * What a run that has the run slot but no word from the worker yet waits for: the worker takes
 * one request at a time, so a run started during an evaluation or a cluster export starts after
 * it. Null when it waits for nothing (or has started).
 */
export function runWaitingFor(
  active: { progress: unknown } | null,
  busy: { evaluating: boolean; exporting: boolean },
): string | null {
  if (!active || active.progress !== null) return null;
  const what = [busy.evaluating && 'the evaluation', busy.exporting && 'the cluster export'].filter(Boolean).join(' and ');
  return what ? `waiting for ${what} to finish: the GPU runs one job at a time` : null;
}
