// The `training` slice: one joint training run in the worker (runTraining), its per-step scalars
// and evaluations as they stream in, and how it ended. The full per-candidate records stay in the
// worker; the page holds only what the panel shows.

import type { StateCreator } from 'zustand';
import type { EvalEntry, TrainConfig, TrainResult, TrainStepSummary } from '../worker/protocol';
import type { Progress } from './dataSlice';
import { engineClient } from './engine';
import type { AppState } from './index';

export type TrainingStatus = 'idle' | 'running' | 'done' | 'error' | 'stopped';

export interface TrainingSlice {
  training: {
    status: TrainingStatus;
    progress: Progress | null;
    /** performance.now() when the run started, for the ETA. */
    startedAt: number | null;
    /** config.steps of the run (progress totals also count passages while the index is rebuilt). */
    totalSteps: number | null;
    steps: TrainStepSummary[];
    evals: EvalEntry[];
    error: string | null;
    /** The config field a ConfigError named (the form marks it). */
    errorField: string | null;
    result: TrainResult | null;
  };
  /** Start a run with this config (a no-op while one runs). */
  train: (config: Partial<TrainConfig>) => Promise<void>;
  /** Stop the run after its current step; it resolves as `stopped` with what it did. */
  stopTraining: () => void;
}

export const createTrainingSlice: StateCreator<AppState, [], [], TrainingSlice> = (set, get) => {
  const IDLE: TrainingSlice['training'] = {
    status: 'idle',
    progress: null,
    startedAt: null,
    totalSteps: null,
    steps: [],
    evals: [],
    error: null,
    errorField: null,
    result: null,
  };
  const patch = (p: Partial<TrainingSlice['training']>): void => set((s) => ({ training: { ...s.training, ...p } }));
  return {
    training: IDLE,
    train: async (config) => {
      if (get().training.status === 'running') return;
      patch({ ...IDLE, status: 'running', startedAt: performance.now() });
      try {
        const result = await engineClient().train(config, (p) => {
          const t = get().training;
          patch({
            progress: { done: p.done, total: p.total, message: p.message },
            ...(p.trainStep || p.trainEval ? { totalSteps: p.total } : {}),
            ...(p.trainStep ? { steps: [...t.steps, p.trainStep] } : {}),
            ...(p.trainEval ? { evals: [...t.evals, p.trainEval] } : {}),
          });
        });
        patch({ status: result.stopped ? 'stopped' : 'done', progress: null, result, evals: result.evals });
        // The worker rebuilt the index with the trained retriever: the Data panel shows that one.
        if (result.index)
          set((s) => ({ data: { ...s.data, index: { ...s.data.index, status: 'ready', summary: result.index } } }));
      } catch (err) {
        const e = err as Error;
        // ConfigError's message starts with `config.<field>:`; its `field` does not cross the
        // worker boundary, so it is read back from the message.
        const field = /^config\.([A-Za-z0-9]*):/.exec(e.message)?.[1] ?? null;
        patch({ status: 'error', error: e.message, errorField: field || null });
        // A run that failed after it started may have moved the retriever: the worker dropped its index.
        const started = e.name !== 'ConfigError' && e.name !== 'TrainingNotReadyError' && e.name !== 'WorkerCrashedError';
        if (started && (config.schedule ?? 'synchronous') !== 'frozen-retriever')
          set((s) => ({
            data: { ...s.data, hits: null, index: { status: 'none', progress: null, summary: null, error: null } },
          }));
      }
    },
    stopTraining: () => engineClient().cancel?.('train'),
  };
};
