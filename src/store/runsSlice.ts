// The `runs` slice: training runs and evaluations started from the notebook's cells. A run is
// saved in IndexedDB as it goes (its meta at the start and after each evaluation, every step's
// record as it streams in, each checkpoint the worker sends), so a reload shows it and a run the
// tab lost resumes from its last checkpoint. A full quota stops the saving, not the run: what is
// on screen is kept and the message says to delete old runs or export. A results.json from
// `npm run experiment --out` or the PyTorch twin imports as a run of a Train cell (validated field
// by field first, saved in one transaction, marked with where it was trained). "Export for a
// cluster" asks the worker for the experiment bundle of the loaded data and models under the
// cell's config and zips it for download.

import type { StateCreator } from 'zustand';
import { checkResultsFileSize, parseResultsFile, resultsToRun } from '../notebook/file';
import type { DataRef, EvaluateCell, RunCheckpoint, RunMeta, StepRecord, TrainCell } from '../notebook/schema';
import { zipBundle } from '../notebook/zip';
import { ConfigError, methodName, type TrainConfig } from '../training/config';
import type { ModelRole, RunStart, StartRequest } from '../worker/protocol';
import type { Progress } from './dataSlice';
import { engineClient, failureCode, failureField, type FailureCode } from './engine';
import type { AppState } from './index';
import { holdRunLock, whenRunReleased } from '../notebook/locks';
import { notebookDb } from './notebookDb';
import { runConfigOf } from './presets';

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
    errors: Record<string, { message: string; field: string | null; code?: FailureCode }>;
    /** Set when saving a run failed (a full quota): the run goes on, unsaved. */
    saveError: string | null;
    evaluating: { cellId: string; progress: Progress | null } | null;
    usage: StorageUsage | null;
    /** The run that last trained the loaded models (null: as loaded). */
    trainedBy: string | null;
    /** Where the loaded models are: as loaded, or as run `runId` left them after `step` steps (what "continue" continues). */
    models: RunStart;
    /** The name of the run the models are at (it may be of a notebook no longer open). */
    modelsName: string | null;
    /** A reset of the models to their checkpoints under way, or why it failed. */
    reset: { busy: boolean; error: string | null };
    /** The last results import of each Train cell: what it imported, or why not. */
    imports: Record<string, { error: string | null; message: string | null }>;
    /** Runs another tab is training now (it holds their lock: notebook/locks.ts); they come back here when it lets go. */
    elsewhere: string[];
    /** The cluster export of each Train cell: under way (with progress), done, or why not. */
    bundles: Record<string, { busy: boolean; progress: Progress | null; error: string | null; message: string | null }>;
  };
  /** The runs of a notebook (runs the tab lost mid-way come back 'interrupted': db.ts). */
  loadRuns: (notebookId: string) => Promise<void>;
  /** A new run of Train cell `cellId`, from the loaded checkpoints (default) or continuing the run the models are at. */
  startRun: (cellId: string, start?: StartRequest) => Promise<void>;
  /** Put the loaded models back as their checkpoints were loaded (what runs trained is dropped from them). */
  resetModels: () => Promise<void>;
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
  /**
   * A results.json (`npm run experiment --out`, the PyTorch twin) as a run, asked for by cell
   * `cellId`: a Train cell's run, or from a Compare cell a run of the notebook's first Train cell,
   * added to the comparison. Validated before anything changes (a bad file leaves the notebook as
   * it was and says where it is wrong), then saved with its records in one transaction. The
   * outcome is runs.imports[cellId]; returns the new run's id, or null.
   */
  /** Import one run's results.json into the Train cell `cellId` (or the first one, asked from a Compare cell); `as` names the run. */
  importResults: (cellId: string, file: Blob, fileName?: string, as?: string) => Promise<string | null>;
  /**
   * The experiment bundle (docs/cluster.md) of the loaded data and models under Train cell
   * `cellId`'s config, as one .zip whose root is the bundle folder; null when it failed (the
   * reason is on the cell: runs.bundles).
   */
  exportBundle: (cellId: string) => Promise<{ fileName: string; blob: Blob } | null>;
}

/** How a bundle's manifest names the data: the demo as `npm run export-experiment` names it, else the URLs or file names. */
export function dataLabel(ref: DataRef | null): string {
  if (!ref || ref.kind === 'demo') return 'public/demo';
  if (ref.kind === 'url') return Object.values(ref.urls).join(' ');
  return `${ref.format} files: ${Object.values(ref.names).join(', ')}`;
}

/** The steps the models had taken at a start (0 as loaded). */
const stepOf = (m: RunStart): number => (m.from === 'run' ? m.step : 0);

const newRunId = (): string => `run-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;

export const createRunsSlice: StateCreator<AppState, [], [], RunsSlice> = (set, get) => {
  /** The running training run's and evaluation's signals (stopRun, cancelEvaluate abort them). */
  let runAbort: AbortController | null = null;
  let evalAbort: AbortController | null = null;
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
  const setError = (cellId: string, message: string | null, field: string | null = null, code?: FailureCode): void =>
    set((s) => {
      const errors = { ...s.runs.errors };
      if (message === null) delete errors[cellId];
      else errors[cellId] = code ? { message, field, code } : { message, field };
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

  /**
   * One run in the worker, fresh or resumed, with everything it streams saved as it comes. The
   * caller has claimed `active` already (synchronously, so a double click cannot start two).
   */
  const drive = async (meta: RunMeta, config: TrainConfig, resume: RunCheckpoint | null, start: StartRequest): Promise<void> => {
    // While this tab trains the run it holds the run's lock: another tab shows it as running there.
    const release = await holdRunLock(meta.id).catch(() => () => {});
    if (!release) {
      patch({ active: null });
      setError(meta.cellId, `“${meta.name}” is being trained in another tab: stop it there, or wait for it to finish`);
      return;
    }
    try {
      await driveHeld(meta, config, resume, start);
    } finally {
      release();
    }
  };

  const driveHeld = async (
    meta: RunMeta,
    config: TrainConfig,
    resume: RunCheckpoint | null,
    start: StartRequest,
  ): Promise<void> => {
    const db = get().notebook.storageProblem ? null : await notebookDb().catch(() => null);
    const before = { meta, records: resume ? await get().loadRecords(meta.id) : [] };
    if (resume) {
      // The records after the checkpoint are recomputed by the resumed run (same seeds, same
      // numbers); on disk they go only when the first new one arrives, so a refused resume loses nothing.
      const kept = before.records.filter((r) => r.step < resume.step);
      set((s) => ({ runs: { ...s.runs, records: { ...s.runs.records, [meta.id]: kept } } }));
      patchMeta(meta.id, { status: 'running', steps: kept.length, evals: resume.evals, message: null });
    }
    await persist('the run', async () => db?.putRun(get().runs.list.find((m) => m.id === meta.id) ?? meta));
    // What the worker streams is saved in the order it came, one write after another, and the
    // final meta only after them all: worker messages can arrive faster than a transaction commits,
    // and a step's meta saved late would turn a finished run back into 'running' on disk.
    let saves: Promise<void> = Promise.resolve();
    const save = (what: string, f: () => Promise<void>): void => {
      saves = saves.then(() => persist(what, f));
    };
    let stepped = false;
    const latest = (): RunMeta => get().runs.list.find((x) => x.id === meta.id) ?? meta;
    try {
      const result = await engineClient().train(
        { config, runId: meta.id, runName: meta.name, start, ...(resume ? { resume } : {}) },
        {
          signal: (runAbort = new AbortController()).signal,
          onProgress: (p) => {
            const active = get().runs.active;
            if (active)
              patch({
                active: {
                  ...active,
                  progress: {
                    done: p.done,
                    total: p.total,
                    message: p.message,
                    ...(p.etaMs !== undefined ? { etaMs: p.etaMs } : {}),
                  },
                },
              });
            if (p.trainRecord) {
              const rec = p.trainRecord;
              const first = !stepped;
              stepped = true;
              set((s) => ({
                runs: { ...s.runs, records: { ...s.runs.records, [meta.id]: [...(s.runs.records[meta.id] ?? []), rec] } },
              }));
              patchMeta(meta.id, { steps: rec.step + 1 });
              save('a step record', async () => {
                if (first && resume) await db?.truncateRecords(meta.id, resume.step);
                await db?.appendRecords(meta.id, [rec]);
                await db?.putRun(latest()); // as it is now: with the checkpoint step saved before it
              });
            }
            if (p.trainEval) {
              const ev = p.trainEval;
              patchMeta(meta.id, { evals: [...latest().evals, ev] });
              save('an evaluation', async () => db?.putRun(latest()));
            }
            if (p.trainCheckpoint) {
              const cp = p.trainCheckpoint;
              // Offered for resume only once it is on disk.
              save('a checkpoint', async () => {
                if (!db) return;
                await db.putCheckpoint(meta.id, cp);
                patchMeta(meta.id, { checkpointStep: cp.step });
              });
            }
          },
        },
      );
      const m = patchMeta(meta.id, {
        status: result.stopped ? 'stopped' : 'done',
        message: result.stopped?.message ?? (result.skipped ? `all steps ran; skipped ${result.skipped}` : null),
        evals: result.evals,
        phaseMs: result.phaseMs,
        start: result.start,
      });
      await saves;
      await persist('the run', async () => db?.putRun({ ...m, checkpointStep: latest().checkpointStep }));
      patch({ models: result.models, modelsName: result.models.from === 'run' ? meta.name : null });
      // The retriever trained: the worker reopens its index when next needed (the Index cell says so).
      if (result.indexMoved) movedIndex();
    } catch (err) {
      await saves;
      const e = err as Error;
      const code = failureCode(err);
      const field = failureField(err);
      const refused = code === 'config' || code === 'not-ready' || code === 'resume-refused';
      if (!stepped && resume) {
        // A refused resume (other runs trained the models, another config): the run stays as it was.
        set((s) => ({
          runs: {
            ...s.runs,
            list: s.runs.list.map((x) => (x.id === meta.id ? before.meta : x)),
            records: { ...s.runs.records, [meta.id]: before.records },
          },
        }));
        await persist('the run', async () => db?.putRun(before.meta));
      } else if (!stepped && refused) {
        // Refused before its first step (models or index missing, a bad field): no run to keep.
        set((s) => ({ runs: { ...s.runs, list: s.runs.list.filter((x) => x.id !== meta.id) } }));
        await persist('the run', async () => db?.deleteRun(meta.id));
      } else {
        const m = patchMeta(meta.id, { status: 'error', message: e.message });
        await persist('the run', async () => db?.putRun(m));
      }
      setError(meta.cellId, e.message, field, code);
      // A run that failed after it started leaves the models as it left them, and a retriever that
      // may have moved: the worker reopens its index when next needed.
      // Refusals come before the models move; anything later on a run from the checkpoints found them reset.
      if (!stepped && !refused && code !== 'crashed' && start.from === 'loaded' && get().runs.models.from === 'run') {
        patch({ models: { from: 'loaded' }, modelsName: null, trainedBy: null });
        movedIndex();
      }
      if (stepped && code !== 'crashed') {
        patch({ models: { from: 'run', runId: meta.id, step: latest().steps }, modelsName: meta.name });
        if (config.schedule !== 'frozen-retriever') movedIndex();
      }
    } finally {
      // Any step taken trained the loaded models: an evaluation now measures this run's models,
      // and token matches cached for the retriever as it was are stale.
      if (stepped) {
        patch({ trainedBy: meta.id });
        get().clearTexts('maxsim');
      }
      patch({ active: null });
      void get().refreshUsage();
    }
  };

  /** The index no longer matches the retriever's weights: shown as such until a request reopens it. */
  const movedIndex = (): void =>
    set((s) =>
      s.data.index.status === 'ready' ? { data: { ...s.data, hits: null, index: { ...s.data.index, status: 'moved' } } } : {},
    );

  /** Claim the one run slot now (before any await), or say why not. */
  const claim = (meta: Pick<RunMeta, 'id' | 'cellId'>, totalSteps: number): boolean => {
    if (get().runs.active) return false;
    patch({
      active: { id: meta.id, cellId: meta.cellId, startedAt: performance.now(), totalSteps, progress: null },
      saveError: null,
    });
    setError(meta.cellId, null);
    return true;
  };

  return {
    runs: {
      list: [],
      records: {},
      active: null,
      errors: {},
      saveError: null,
      evaluating: null,
      usage: null,
      trainedBy: null,
      models: { from: 'loaded' },
      modelsName: null,
      reset: { busy: false, error: null },
      imports: {},
      elsewhere: [],
      bundles: {},
    },

    loadRuns: async (notebookId) => {
      const db = await notebookDb();
      const list = await db.listRuns(notebookId);
      const elsewhere = list.filter((m) => m.status === 'running' && db.elsewhere.includes(m.id)).map((m) => m.id);
      patch({ list, records: {}, elsewhere });
      void get().refreshUsage();
      // When the other tab lets go of a run (finished, stopped, or closed), show it as it is on disk.
      for (const id of elsewhere)
        void whenRunReleased(id)
          .then(() => db.settleRun(id))
          .then((m) => {
            set((s) => ({
              runs: {
                ...s.runs,
                elsewhere: s.runs.elsewhere.filter((x) => x !== id),
                list: m ? s.runs.list.map((x) => (x.id === id ? m : x)) : s.runs.list.filter((x) => x.id !== id),
                records: Object.fromEntries(Object.entries(s.runs.records).filter(([k]) => k !== id)),
              },
            }));
          })
          .catch(() => undefined);
    },

    startRun: async (cellId, start = { from: 'loaded' }) => {
      const cell = get().notebook.doc.cells.find((c): c is TrainCell => c.id === cellId && c.kind === 'train');
      const id = newRunId();
      if (!cell || !claim({ id, cellId }, 0)) return;
      let config: TrainConfig;
      try {
        config = await runConfigOf(cell);
      } catch (err) {
        const e = err as Error;
        patch({ active: null });
        setError(cellId, e.message, e instanceof ConfigError ? e.field || null : null);
        return;
      }
      const nb = get().notebook.doc;
      const models = nb.cells.find((c) => c.kind === 'models');
      const data = nb.cells.find((c) => c.kind === 'data');
      // Named by what it runs: 'PDist #2' is this cell's second PDist run.
      const method = methodName(config);
      const n = get().runs.list.filter((m) => m.cellId === cellId && m.name.startsWith(`${method} #`)).length + 1;
      const now = Date.now();
      const meta: RunMeta = {
        id,
        notebookId: nb.id,
        cellId,
        name: `${method} #${n}`,
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
        // As asked; the worker's answer (with the continued run's step) replaces it at the end.
        start: start.from === 'run' ? { from: 'run', runId: start.runId, step: stepOf(get().runs.models) } : { from: 'loaded' },
      };
      set((s) => ({
        runs: {
          ...s.runs,
          list: [...s.runs.list, meta],
          records: { ...s.runs.records, [meta.id]: [] },
          active: s.runs.active && { ...s.runs.active, totalSteps: config.steps },
        },
      }));
      await drive(meta, config, null, start);
    },

    resetModels: async () => {
      if (get().runs.active || get().runs.reset.busy) return;
      patch({ reset: { busy: true, error: null } });
      try {
        const models = await engineClient().resetModels({});
        const moved = get().runs.models.from === 'run';
        patch({ models, modelsName: null, trainedBy: null, reset: { busy: false, error: null } });
        if (moved) movedIndex();
        get().clearTexts('maxsim');
      } catch (err) {
        patch({ reset: { busy: false, error: (err as Error).message } });
      }
    },

    resumeRun: async (runId) => {
      const meta = get().runs.list.find((m) => m.id === runId);
      if (!meta || meta.checkpointStep === null || !claim(meta, meta.config.steps)) return;
      let checkpoint: RunCheckpoint | null = null;
      try {
        checkpoint = get().notebook.storageProblem ? null : await (await notebookDb()).getCheckpoint(runId);
      } catch {
        // unreadable: said below
      }
      if (!checkpoint) {
        patch({ active: null });
        setError(meta.cellId, `${meta.name} has no readable checkpoint in this browser: it cannot resume (run it again instead)`);
        return;
      }
      // From the start its run had (runs saved before starts were recorded started as loaded).
      const start: StartRequest = meta.start ?? { from: 'loaded' };
      await drive(meta, meta.config, checkpoint, start);
    },

    stopRun: () => runAbort?.abort(),

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
        const result = await engineClient().evaluate(
          { split: cell.split, limit: cell.limit },
          {
            signal: (evalAbort = new AbortController()).signal,
            onProgress: (p) => patch({ evaluating: { cellId, progress: { done: p.done, total: p.total, message: p.message } } }),
          },
        );
        // What it measured: the models as the last run left them, or as loaded.
        get().updateCell(cellId, { last: { at: Date.now(), runId: get().runs.trainedBy, result } });
      } catch (err) {
        setError(cellId, (err as Error).message, null, failureCode(err));
      } finally {
        patch({ evaluating: null });
      }
    },
    cancelEvaluate: () => evalAbort?.abort(),

    exportWeights: async (role) => {
      const { fileName, bytes } = await engineClient().exportWeights({ role });
      return { fileName, blob: new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }) };
    },

    importResults: async (cellId, blob, fileName, as) => {
      const name = fileName ?? (blob as Blob & { name?: string }).name ?? 'results.json';
      const report = (error: string | null, message: string | null = null): void =>
        set((s) => ({ runs: { ...s.runs, imports: { ...s.runs.imports, [cellId]: { error, message } } } }));
      const nb = get().notebook.doc;
      const asking = nb.cells.find((c) => c.id === cellId);
      const owner =
        asking?.kind === 'train' ? asking : asking?.kind === 'compare' ? nb.cells.find((c) => c.kind === 'train') : null;
      if (!owner) {
        if (asking?.kind === 'compare')
          report('not imported: an imported run belongs to a Train cell; add one to the notebook first');
        return null;
      }
      report(null);
      let file;
      try {
        checkResultsFileSize(blob.size); // before reading it
        file = parseResultsFile(await blob.text());
      } catch (err) {
        report(`not imported: ${name}: ${(err as Error).message}`);
        return null;
      }
      const base = `${file.config.name} (${file.adapter})`;
      const same = get().runs.list.filter((m) => m.name === base || m.name.startsWith(`${base} #`)).length;
      const now = Date.now();
      const { meta, records } = resultsToRun(file, {
        id: newRunId(),
        notebookId: nb.id,
        cellId: owner.id,
        name: as ?? (same ? `${base} #${same + 1}` : base),
        fileName: name,
        now,
      });
      let unsaved: string | null = get().notebook.storageProblem;
      if (!unsaved)
        try {
          await (await notebookDb()).importRun(meta, records);
        } catch (err) {
          unsaved = (err as Error).message;
        }
      set((s) => ({
        runs: { ...s.runs, list: [...s.runs.list, meta], records: { ...s.runs.records, [meta.id]: records } },
      }));
      const what =
        `imported “${meta.name}” from ${name}: ${records.length} step${records.length === 1 ? '' : 's'}, ` +
        `${meta.evals.length} evaluation${meta.evals.length === 1 ? '' : 's'}, trained on ${file.adapter}`;
      if (unsaved) report(`${what}, for this session only (not saved: ${unsaved})`, null);
      else report(null, what);
      const compare = get().notebook.doc.cells.find((c) => c.id === cellId);
      if (compare?.kind === 'compare') get().updateCell(cellId, { runIds: [...compare.runIds, meta.id] });
      void get().refreshUsage();
      return meta.id;
    },

    exportBundle: async (cellId) => {
      const cell = get().notebook.doc.cells.find((c): c is TrainCell => c.id === cellId && c.kind === 'train');
      if (!cell || get().runs.bundles[cellId]?.busy) return null;
      const state = (p: Partial<RunsSlice['runs']['bundles'][string]>): void =>
        set((s) => {
          const was = s.runs.bundles[cellId] ?? { busy: false, progress: null, error: null, message: null };
          return { runs: { ...s.runs, bundles: { ...s.runs.bundles, [cellId]: { ...was, ...p } } } };
        });
      state({ busy: true, progress: null, error: null, message: null });
      try {
        const config = await runConfigOf(cell);
        const data = get().notebook.doc.cells.find((c) => c.kind === 'data');
        const bundle = await engineClient().exportBundle(
          { config, source: dataLabel(data?.kind === 'data' ? data.source : null) },
          { onProgress: (p) => state({ progress: { done: p.done, total: p.total, message: p.message } }) },
        );
        const zip = zipBundle(bundle);
        const fileName = `${config.name.replace(/[^A-Za-z0-9._-]+/g, '-') || 'experiment'}-bundle.zip`;
        const n = Object.keys(bundle.files).length + 1;
        state({
          busy: false,
          progress: null,
          message:
            `${fileName}: ${n} files, ${(zip.byteLength / 2 ** 20).toFixed(1)} MB. On the cluster: unzip it into a folder, then ` +
            '`python -m medrank_torch.train FOLDER --out results.json`; import results.json here with "Import results…"',
        });
        return { fileName, blob: new Blob([zip as Uint8Array<ArrayBuffer>], { type: 'application/zip' }) };
      } catch (err) {
        state({ busy: false, progress: null, error: (err as Error).message });
        return null;
      }
    },
  };
};
