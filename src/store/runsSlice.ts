// The `runs` slice: training runs and evaluations started from the notebook's cells. A run is
// saved in IndexedDB as it goes (its meta at the start and after each evaluation, every step's
// record as it streams in, each checkpoint the worker sends), so a reload shows it and a run the
// tab lost resumes from its last checkpoint. A full quota stops the saving, not the run: what is
// on screen is kept and the message says to delete old runs or export.

import type { StateCreator } from 'zustand';
import type { EvaluateCell, RunMeta, StepRecord, TrainCell } from '../notebook/schema';
import { resolveConfig, type TrainConfig } from '../training/config';
import type { ModelRole } from '../worker/protocol';
import type { Progress } from './dataSlice';
import { engineClient } from './engine';
import type { AppState } from './index';
import { notebookDb } from './notebookDb';
import { cellConfig } from './presets';

export interface StorageUsage {
  runs: { id: string; name: string; bytes: number }[];
  totalBytes: number;
  quota: number | null;
  usage: number | null;
}

export interface ActiveRun {
  id: string;
  cellId: string;
  startedAt: number;
  totalSteps: number;
  progress: Progress | null;
}

export interface RunsSlice {
  runs: {
    /** This notebook's runs, oldest first. */
    list: RunMeta[];
    /** Step records by run id, loaded when first shown (or streamed in while a run goes). */
    records: Record<string, StepRecord[]>;
    active: ActiveRun | null;
    /** The last failure to start or finish a run, per cell, and the config field it names. */
    errors: Record<string, { message: string; field: string | null }>;
    /** Set when saving a run failed (a full quota): the run goes on, unsaved. */
    saveError: string | null;
    evaluating: { cellId: string; progress: Progress | null } | null;
    usage: StorageUsage | null;
    /** The run that last trained the loaded models (null: as loaded). */
    trainedBy: string | null;
  };
  loadRuns: (notebookId: string, interrupted: string[]) => Promise<void>;
  startRun: (cellId: string) => Promise<void>;
  /** Continue an interrupted or stopped run from its last checkpoint. */
  resumeRun: (runId: string) => Promise<void>;
  stopRun: () => void;
  loadRecords: (runId: string) => Promise<StepRecord[]>;
  deleteRun: (runId: string) => Promise<void>;
  refreshUsage: () => Promise<void>;
  runEvaluate: (cellId: string) => Promise<void>;
  cancelEvaluate: () => void;
  /** The loaded model's current weights as a safetensors download. */
  exportWeights: (role: ModelRole) => Promise<{ fileName: string; blob: Blob }>;
}

const newRunId = (): string => `run-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;

export const createRunsSlice: StateCreator<AppState, [], [], RunsSlice> = (set, get) => {
  const patch = (p: Partial<RunsSlice['runs']>): void => set((s) => ({ runs: { ...s.runs, ...p } }));
  const patchMeta = (id: string, p: Partial<RunMeta>): RunMeta => {
    let out: RunMeta | undefined;
    set((s) => ({
      runs: {
        ...s.runs,
        list: s.runs.list.map((m) => (m.id === id ? (out = { ...m, ...p, updatedAt: Date.now() }) : m)),
      },
    }));
    return out!;
  };
  const setError = (cellId: string, message: string | null, field: string | null = null): void =>
    set((s) => {
      const errors = { ...s.runs.errors };
      if (message === null) delete errors[cellId];
      else errors[cellId] = { message, field };
      return { runs: { ...s.runs, errors } };
    });
  /** Run a save; a failure (quota) is shown once and the run goes on in memory. */
  const persist = async (what: string, f: () => Promise<void>): Promise<void> => {
    if (get().notebook.storageProblem) return;
    try {
      await f();
    } catch (err) {
      patch({ saveError: `could not save ${what}: ${(err as Error).message}` });
    }
  };

  /** One run in the worker, fresh or resumed, with everything it streams saved as it comes. */
  const drive = async (meta: RunMeta, config: TrainConfig, resumeStep: number | null): Promise<void> => {
    const db = get().notebook.storageProblem ? null : await notebookDb().catch(() => null);
    const checkpoint = resumeStep !== null ? await db?.getCheckpoint(meta.id) : null;
    if (resumeStep !== null && !checkpoint) throw new Error('this run has no saved checkpoint to resume from');
    patch({
      active: { id: meta.id, cellId: meta.cellId, startedAt: performance.now(), totalSteps: config.steps, progress: null },
      saveError: null,
    });
    setError(meta.cellId, null);
    if (checkpoint) {
      // Records after the checkpoint are recomputed by the resumed run (same seeds, same numbers).
      const kept = (get().runs.records[meta.id] ?? (await get().loadRecords(meta.id))).filter((r) => r.step < checkpoint.step);
      set((s) => ({ runs: { ...s.runs, records: { ...s.runs.records, [meta.id]: kept } } }));
      await persist('the run', async () => db!.truncateRecords(meta.id, checkpoint.step));
      patchMeta(meta.id, { status: 'running', steps: kept.length, evals: checkpoint.evals, message: null });
    }
    await persist('the run', async () => db?.putRun(get().runs.list.find((m) => m.id === meta.id)!));
    // What the worker streams is saved in the order it came, one write after another, and the
    // final meta only after them all: worker messages can arrive faster than a transaction commits,
    // and a step's meta saved late would turn a finished run back into 'running' on disk.
    let saves: Promise<void> = Promise.resolve();
    const save = (what: string, f: () => Promise<void>): void => {
      saves = saves.then(() => persist(what, f));
    };
    try {
      const result = await engineClient().train(
        config,
        (p) => {
          const active = get().runs.active;
          if (active) patch({ active: { ...active, progress: { done: p.done, total: p.total, message: p.message } } });
          if (p.trainRecord) {
            const rec = p.trainRecord;
            set((s) => ({
              runs: { ...s.runs, records: { ...s.runs.records, [meta.id]: [...(s.runs.records[meta.id] ?? []), rec] } },
            }));
            const m = patchMeta(meta.id, { steps: rec.step + 1 });
            save('a step record', async () => {
              await db?.appendRecords(meta.id, [rec]);
              await db?.putRun(m);
            });
          }
          if (p.trainEval) {
            const ev = p.trainEval;
            const m = patchMeta(meta.id, { evals: [...(get().runs.list.find((x) => x.id === meta.id)?.evals ?? []), ev] });
            save('an evaluation', async () => db?.putRun(m));
          }
          if (p.trainCheckpoint) {
            const cp = p.trainCheckpoint;
            patchMeta(meta.id, { checkpointStep: cp.step });
            save('a checkpoint', async () => db?.putCheckpoint(meta.id, cp));
          }
        },
        { runId: meta.id, resume: checkpoint ?? undefined },
      );
      const m = patchMeta(meta.id, {
        status: result.stopped ? 'stopped' : 'done',
        message: result.stopped?.message ?? null,
        evals: result.evals,
        phaseMs: result.phaseMs,
      });
      await saves;
      await persist('the run', async () => db?.putRun(m));
      patch({ trainedBy: meta.id });
      // The worker rebuilt the index with the trained retriever: the Index cell shows that one.
      if (result.index) set((s) => ({ data: { ...s.data, index: { ...s.data.index, status: 'ready', summary: result.index } } }));
    } catch (err) {
      await saves;
      const e = err as Error;
      const field = /^config\.([A-Za-z0-9]*):/.exec(e.message)?.[1] ?? null;
      const refused = e.name === 'ConfigError' || e.name === 'TrainingNotReadyError';
      if (refused && resumeStep === null) {
        // Refused before its first step (models or index missing): no run to keep.
        set((s) => ({ runs: { ...s.runs, list: s.runs.list.filter((x) => x.id !== meta.id) } }));
        await persist('the run', async () => db?.deleteRun(meta.id));
      } else {
        const m = patchMeta(meta.id, { status: 'error', message: e.message });
        await persist('the run', async () => db?.putRun(m));
      }
      setError(meta.cellId, e.message, field || null);
      // A run that failed after it started may have moved the retriever: the worker dropped its index.
      const started = !refused && e.name !== 'WorkerCrashedError';
      if (started && config.schedule !== 'frozen-retriever')
        set((s) => ({ data: { ...s.data, hits: null, index: { status: 'none', progress: null, summary: null, error: null } } }));
    } finally {
      patch({ active: null });
      void get().refreshUsage();
    }
  };

  return {
    runs: { list: [], records: {}, active: null, errors: {}, saveError: null, evaluating: null, usage: null, trainedBy: null },

    loadRuns: async (notebookId, interrupted) => {
      const db = await notebookDb();
      const list = await db.listRuns(notebookId);
      patch({ list, records: {} });
      if (interrupted.length) patch({ saveError: null });
      void get().refreshUsage();
    },

    startRun: async (cellId) => {
      if (get().runs.active) return;
      const cell = get().notebook.doc.cells.find((c): c is TrainCell => c.id === cellId && c.kind === 'train');
      if (!cell) return;
      let config: TrainConfig;
      try {
        // recordScoresAfter: the inspector shows how each step's update moved the candidates.
        config = resolveConfig({ ...(await cellConfig(cell)), recordScoresAfter: true });
        if (!(config.checkpointEvery > 0)) config = { ...config, checkpointEvery: Math.max(1, Math.floor(config.steps / 10)) };
      } catch (err) {
        const e = err as Error;
        setError(cellId, e.message, /^config\.([A-Za-z0-9]*):/.exec(e.message)?.[1] ?? null);
        return;
      }
      const nb = get().notebook.doc;
      const models = nb.cells.find((c) => c.kind === 'models');
      const data = nb.cells.find((c) => c.kind === 'data');
      const n = get().runs.list.filter((m) => m.cellId === cellId).length + 1;
      const now = Date.now();
      const meta: RunMeta = {
        id: newRunId(),
        notebookId: nb.id,
        cellId,
        name: `${cell.preset ?? 'custom'} #${n}`,
        createdAt: now,
        config,
        models: models?.kind === 'models' ? { retriever: models.retriever, generator: models.generator } : null,
        data: data?.kind === 'data' ? data.source : null,
        status: 'running',
        steps: 0,
        evals: [],
        phaseMs: {},
        message: null,
        checkpointStep: null,
        updatedAt: now,
      };
      set((s) => ({ runs: { ...s.runs, list: [...s.runs.list, meta], records: { ...s.runs.records, [meta.id]: [] } } }));
      await drive(meta, config, null);
    },

    resumeRun: async (runId) => {
      if (get().runs.active) return;
      const meta = get().runs.list.find((m) => m.id === runId);
      if (!meta || meta.checkpointStep === null) return;
      await drive(meta, meta.config, meta.checkpointStep);
    },

    stopRun: () => engineClient().cancel?.('train'),

    loadRecords: async (runId) => {
      const have = get().runs.records[runId];
      if (have) return have;
      let records: StepRecord[] = [];
      try {
        records = await (await notebookDb()).getRecords(runId);
      } catch {
        // Storage unavailable: nothing saved to show.
      }
      set((s) => ({ runs: { ...s.runs, records: { ...s.runs.records, [runId]: s.runs.records[runId] ?? records } } }));
      return get().runs.records[runId]!;
    },

    deleteRun: async (runId) => {
      if (get().runs.active?.id === runId) return;
      await persist('the deletion', async () => (await notebookDb()).deleteRun(runId));
      set((s) => {
        const records = { ...s.runs.records };
        delete records[runId];
        return { runs: { ...s.runs, list: s.runs.list.filter((m) => m.id !== runId), records } };
      });
      // Cells that pointed at the run point at nothing now.
      for (const c of get().notebook.doc.cells) {
        if (c.kind === 'inspect' && c.runId === runId) get().updateCell(c.id, { runId: null, questionId: null, step: null });
        if (c.kind === 'compare' && c.runIds.includes(runId))
          get().updateCell(c.id, { runIds: c.runIds.filter((r) => r !== runId) });
      }
      void get().refreshUsage();
    },

    refreshUsage: async () => {
      try {
        patch({ usage: await (await notebookDb()).usage(get().notebook.doc.id) });
      } catch {
        patch({ usage: null });
      }
    },

    runEvaluate: async (cellId) => {
      if (get().runs.evaluating || get().runs.active) return;
      const cell = get().notebook.doc.cells.find((c): c is EvaluateCell => c.id === cellId && c.kind === 'evaluate');
      if (!cell) return;
      patch({ evaluating: { cellId, progress: null } });
      setError(cellId, null);
      try {
        const result = await engineClient().evaluate({ split: cell.split, limit: cell.limit }, (p) =>
          patch({ evaluating: { cellId, progress: { done: p.done, total: p.total, message: p.message } } }),
        );
        // What it measured: the models as the last run left them, or as loaded.
        get().updateCell(cellId, { last: { at: Date.now(), runId: get().runs.trainedBy, result } });
      } catch (err) {
        setError(cellId, (err as Error).message);
      } finally {
        patch({ evaluating: null });
      }
    },
    cancelEvaluate: () => engineClient().cancel?.('evaluate'),

    exportWeights: async (role) => {
      const { fileName, bytes } = await engineClient().exportWeights({ role });
      return { fileName, blob: new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }) };
    },
  };
};
