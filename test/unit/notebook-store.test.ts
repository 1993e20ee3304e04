// The zustand store's notebook and runs slices end to end in Node: fake-indexeddb (a fresh factory
// per test) as the notebook database, a fake engine in place of the worker, presets read from
// public/presets/. Restore and autosave, a run streamed and saved, an interrupted run resumed from
// its checkpoint, refused and failing runs, a full quota mid-run, export/import, delete, evaluate.

import 'fake-indexeddb/auto'; // IDBKeyRange and the IDB* globals that idb's wrappers test against
import { serializeNotebookFile, toNotebookFile } from '../../src/notebook/file';
import { IDBFactory } from 'fake-indexeddb';
import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useStore } from '../../src/store';
import { setEngineClient } from '../../src/store/engine';
import { setNotebookDb } from '../../src/store/notebookDb';
import { EngineError } from '../../src/worker/client';
import { errorResponse } from '../../src/worker/errors';
import { openNotebookDb, StorageFullError, type NotebookDb } from '../../src/notebook/db';
import { demoNotebook } from '../../src/notebook/demo';
import type { Cell, CompareCell, EvaluateCell, InspectCell, RunCheckpoint, TrainCell } from '../../src/notebook/schema';
import { ConfigError, type TrainConfig } from '../../src/training/config';
import { PHASES, type Phase } from '../../src/training/step';
import type {
  DatasetSummary,
  EngineApi,
  EvalEntry,
  EvalResult,
  ExportedBundle,
  ExportedWeights,
  GenerateResult,
  GpuInfo,
  IndexSummary,
  LookupResult,
  MaxSimExplanation,
  ModelSummary,
  PayloadOf,
  ProgressCallback,
  CallOptions,
  RetrieveResult,
  SearchHit,
  SelfTestResult,
  RunStart,
  TrainResult,
  TrainRunOptions,
} from '../../src/worker/protocol';
import { canResume, runWaitingFor } from '../../src/components/runStatus';
import { checkpoint, evalResult, runMeta, stepRecord } from './notebook-fixtures';

// ---- the fake engine ---------------------------------------------------------------------------

type TrainFn = (
  config: Partial<TrainConfig>,
  onProgress: ProgressCallback,
  run: TrainRunOptions | undefined,
) => Promise<TrainResult>;

const unused = (what: string): Promise<never> => Promise.reject(new Error(`the fake engine has no ${what}`));

/** The engine the store talks to: train and evaluate are set per test; calls and cancels are recorded. */
class FakeEngine implements EngineApi {
  trainCalls: { config: Partial<TrainConfig>; run: TrainRunOptions | undefined }[] = [];
  evaluateCalls: PayloadOf<'evaluate'>[] = [];
  /** The kinds whose signal was aborted, in order. */
  cancelled: string[] = [];
  trainImpl: TrainFn = () => unused('train');
  evaluateImpl: (p: PayloadOf<'evaluate'>, onProgress: ProgressCallback) => Promise<EvalResult> = () => unused('evaluate');

  private watch(kind: string, o?: CallOptions): void {
    o?.signal?.addEventListener('abort', () => this.cancelled.push(kind), { once: true });
  }
  init(): Promise<GpuInfo> {
    return unused('init');
  }
  selftest(): Promise<SelfTestResult[]> {
    return unused('selftest');
  }
  dispose(): Promise<null> {
    return Promise.resolve(null);
  }
  loadModel(): Promise<ModelSummary> {
    return unused('loadModel');
  }
  generate(): Promise<GenerateResult> {
    return unused('generate');
  }
  retrieve(): Promise<RetrieveResult> {
    return unused('retrieve');
  }
  loadDataset(): Promise<DatasetSummary> {
    return unused('loadDataset');
  }
  buildIndex(): Promise<IndexSummary> {
    return unused('buildIndex');
  }
  search(): Promise<SearchHit[]> {
    return unused('search');
  }
  train({ config, ...run }: PayloadOf<'train'>, o?: CallOptions): Promise<TrainResult> {
    this.watch('train', o);
    const r = Object.keys(run).length ? run : undefined;
    this.trainCalls.push({ config, run: r });
    return this.trainImpl(config, o?.onProgress ?? (() => {}), r);
  }
  lookupCalls: PayloadOf<'lookup'>[] = [];
  lookup(p: PayloadOf<'lookup'>): Promise<LookupResult> {
    this.lookupCalls.push(p);
    return Promise.resolve({ questions: [], docs: [], missing: [...p.questionIds, ...p.docIds] });
  }
  maxsim(): Promise<MaxSimExplanation> {
    return unused('maxsim');
  }
  evaluate(p: PayloadOf<'evaluate'>, o?: CallOptions): Promise<EvalResult> {
    this.watch('evaluate', o);
    this.evaluateCalls.push(p);
    return this.evaluateImpl(p, o?.onProgress ?? (() => {}));
  }
  exportWeights(): Promise<ExportedWeights> {
    return unused('exportWeights');
  }
  exportBundle(): Promise<ExportedBundle> {
    return unused('exportBundle');
  }
  resets = 0;
  resetModels(): Promise<RunStart> {
    this.resets++;
    return Promise.resolve({ from: 'loaded' });
  }
}

/** A macrotask: lets fake-indexeddb (which schedules with setImmediate) finish what is queued. */
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

async function waitFor<T>(
  f: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  what: string,
): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await f();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The rest of a TrainResult: a run from the checkpoints that trained the retriever (so its index moved). */
const ran = (runId = 'run', step = 0) => ({
  skipped: null,
  start: { from: 'loaded' as const },
  models: { from: 'run' as const, runId, step },
  indexMoved: true,
});

const phaseMs = Object.fromEntries(PHASES.map((p, i) => [p, i + 0.5])) as Record<Phase, number>;
const trainEval: EvalEntry = { step: 3, split: 'validation', result: evalResult({ mrr10: 0.55 }) };

/** A checkpoint as the worker sends one: small arrays, the run's own config. */
function cp(step: number, config: Partial<TrainConfig>, seed = 1): RunCheckpoint {
  return { ...checkpoint(step, seed), config: config as TrainConfig, records: [], evals: [] };
}

/**
 * What the worker streams for a run of `steps` steps starting at `from`: each step's record (with a
 * message per step, a macrotask apart as postMessage delivers them), a checkpoint every 2 steps
 * taken, one evaluation at the end, then the result right after the last message.
 */
function streamingTrain(opts: { from?: number; steps: number; hang?: boolean; recordOver?: { gpuBytes: number } }): TrainFn {
  return async (config, onProgress) => {
    const from = opts.from ?? 0;
    for (let s = from; s < opts.steps; s++) {
      await tick();
      onProgress({ done: s + 1, total: opts.steps, message: `step ${s + 1}`, trainRecord: stepRecord(s, opts.recordOver) });
      if ((s + 1) % 2 === 0) {
        await tick();
        onProgress({ done: s + 1, total: opts.steps, message: 'checkpoint', trainCheckpoint: cp(s + 1, config) });
      }
    }
    if (opts.hang) return new Promise<TrainResult>(() => {}); // the tab closes mid-run
    await tick();
    onProgress({ done: opts.steps, total: opts.steps, message: 'evaluated', trainEval });
    return { evals: [trainEval], stopped: null, phaseMs, steps: opts.steps - from, ...ran() };
  };
}

// ---- setup ---------------------------------------------------------------------------------------

const initial = useStore.getState();
const st = useStore.getState;
let factory: IDBFactory;
let db: NotebookDb;
let engine: FakeEngine;

/** Open the notebook database on `f` (the same factory: a page reload) and make it the store's. */
async function openDb(f: IDBFactory = factory): Promise<NotebookDb> {
  const p = openNotebookDb({ idbFactory: f });
  setNotebookDb(p);
  db = await p;
  return db;
}

/** A reload: fresh store state, the same IndexedDB reopened, the notebook restored. */
async function reload(): Promise<void> {
  useStore.setState(initial, true);
  await openDb();
  await st().openNotebook();
}

async function presetFetch(input: string | URL | Request): Promise<Response> {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.pathname : new URL(input.url).pathname;
  const m = /^\/presets\/([\w-]+)\.json$/.exec(url);
  if (!m) return new Response('not found', { status: 404 });
  const text = await readFile(new URL(`../../public/presets/${m[1]}.json`, import.meta.url), 'utf8');
  return new Response(text, { status: 200, headers: { 'content-type': 'application/json' } });
}

beforeEach(async () => {
  useStore.setState(initial, true);
  factory = new IDBFactory();
  await openDb();
  engine = new FakeEngine();
  setEngineClient(engine);
  vi.stubGlobal('fetch', presetFetch);
});

afterEach(async () => {
  // No autosave timer or pending usage refresh may reach into the next test's database.
  await st().flushSave();
  await tick();
  vi.unstubAllGlobals();
  setEngineClient(null);
});

const cell = <T>(id: string): T => st().notebook.doc.cells.find((c) => c.id === id) as T;
const steps = (rs: { step: number }[] | undefined): number[] | undefined => rs?.map((r) => r.step);

/** Open the demo notebook and run its Train cell (c5) with `train` to the end; the run's id. */
async function runDemo(train: TrainFn = streamingTrain({ steps: 3 })): Promise<string> {
  await st().openNotebook();
  engine.trainImpl = train;
  await st().startRun('c5');
  const run = st().runs.list.at(-1);
  if (!run) throw new Error('no run was started');
  return run.id;
}

/** Start a run of c5 that goes on until `finish` is called; resolves once the worker has the request. */
async function startHeldRun(): Promise<{ id: string; finish: (r: TrainResult) => Promise<void> }> {
  let resolve: ((r: TrainResult) => void) | null = null;
  engine.trainImpl = () => new Promise((r) => (resolve = r));
  const running = st().startRun('c5');
  await waitFor(() => resolve !== null, 'the train request');
  const id = st().runs.active!.id;
  return {
    id,
    finish: async (r) => {
      resolve!(r);
      await running;
    },
  };
}

// ---- tests -------------------------------------------------------------------------------------

describe('notebook store: restore and autosave', () => {
  it('an edit the page could not save before it went away comes back from the pagehide stash', async () => {
    const items = new Map<string, string>();
    vi.stubGlobal('localStorage', {
      getItem: (k: string) => items.get(k) ?? null,
      setItem: (k: string, v: string) => void items.set(k, v),
      removeItem: (k: string) => void items.delete(k),
    });
    await st().openNotebook();
    const saved = st().notebook.doc;
    // What pagehide writes when the 400 ms autosave had not run yet: a newer copy of the notebook.
    items.set(
      'medrank-notebook-unsaved',
      JSON.stringify({ ...saved, title: 'typed just before reload', updatedAt: saved.updatedAt + 1 }),
    );
    await reload();
    expect(st().notebook.doc.title).toBe('typed just before reload');
    expect(items.has('medrank-notebook-unsaved')).toBe(false);
    expect((await db.loadCurrentNotebook())?.title).toBe('typed just before reload'); // now in IndexedDB
    // An older stash (the save landed after all) is ignored; a malformed one too.
    items.set('medrank-notebook-unsaved', JSON.stringify({ ...saved, title: 'stale', updatedAt: 1 }));
    await reload();
    expect(st().notebook.doc.title).toBe('typed just before reload');
    items.set('medrank-notebook-unsaved', '{"id": 5}');
    await reload();
    expect(st().notebook.doc.title).toBe('typed just before reload');
    vi.unstubAllGlobals();
  });

  it('a fresh demo opens with the recorded runs once, even when opened twice at once; a reload does not add them again', async () => {
    vi.stubGlobal('document', { baseURI: 'http://medrank.test/' });
    vi.stubGlobal('fetch', async (input: string | URL | Request) => {
      const url = new URL(
        typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
        'http://medrank.test/',
      );
      const m = /^\/demo\/runs\/([\w.-]+\.json)$/.exec(url.pathname);
      if (!m) return presetFetch(input);
      return new Response(await readFile(new URL(`../../public/demo/runs/${m[1]}`, import.meta.url)), { status: 200 });
    });
    await Promise.all([st().openNotebook(), st().openNotebook()]); // React's strict mode does this
    const names = st().runs.list.map((m) => m.name);
    expect(names).toEqual([
      expect.stringMatching(/^recorded: JMLR LLM-Rank/),
      expect.stringMatching(/^recorded: frozen-retriever RAG/),
    ]);
    const ids = st().runs.list.map((m) => m.id);
    expect(st().runs.list.every((m) => m.imported?.adapter === 'pytorch/cpu' && m.evals.length === 5)).toBe(true);
    expect(cell<CompareCell>('c8').runIds).toEqual(ids);
    expect(cell<InspectCell>('c7').runId).toBe(ids[0]);
    await st().flushSave();
    await reload();
    expect(st().runs.list.map((m) => m.id)).toEqual(ids); // from the database, not imported again
    expect(st().runs.list[0]!.evals[4]!.result.perQuestion?.ids).toHaveLength(1200);
  });

  it('opens the demo notebook on an empty database and saves it', async () => {
    expect(st().notebook.restored).toBe(false);
    await st().openNotebook();
    const nb = st().notebook;
    expect(nb.restored).toBe(true);
    expect(nb.storageProblem).toBeNull();
    expect(nb.doc).toEqual(demoNotebook());
    expect(await db.loadCurrentNotebook()).toEqual(demoNotebook());
    expect(st().runs.list).toEqual([]);
  });

  it('saves edits (update, add, move, remove, title) and restores them after a reload', async () => {
    await st().openNotebook();
    // kind and id cannot be changed through updateCell.
    st().updateCell('c1', { text: 'edited', kind: 'data', id: 'zz' } as unknown as Partial<Cell>);
    st().addCell('markdown', 'note'); // c9 after the Note
    st().moveCell('c9', 1); // c9 after c2
    st().moveCell('c1', -1); // at the top already: no change
    st().removeCell('c4');
    st().addCell('compare', null); // c10 at the end (ids go by the highest cN)
    st().setTitle('My notebook');
    st().updateCell('c5', { overrides: { steps: 7 } });
    const edited = st().notebook.doc;
    expect(edited.cells.map((c) => c.id)).toEqual(['c1', 'note', 'c2', 'c9', 'c3', 'c5', 'c6', 'c7', 'c8', 'c10']);
    expect(edited.cells[0]).toMatchObject({ id: 'c1', kind: 'markdown', text: 'edited' });
    expect(edited.cells[3]).toEqual({ id: 'c9', kind: 'markdown', text: '' });
    expect(edited.cells[9]).toEqual({ id: 'c10', kind: 'compare', runIds: [] });
    expect(edited.updatedAt).toBeGreaterThan(0);

    await st().flushSave();
    expect(st().notebook.save).toMatchObject({ state: 'saved', error: null });
    expect(await db.loadCurrentNotebook()).toEqual(edited);

    await reload();
    expect(st().notebook.doc).toEqual(edited);
    expect(st().notebook.doc.title).toBe('My notebook');
    expect(cell<TrainCell>('c5').overrides).toEqual({ steps: 7 });
  });

  it('autosaves a moment after an edit without flushSave', async () => {
    await st().openNotebook();
    st().setTitle('autosaved');
    expect((await db.loadCurrentNotebook())?.title).not.toBe('autosaved');
    const saved = await waitFor(async () => (await db.loadCurrentNotebook())?.title === 'autosaved', 'the autosave');
    expect(saved).toBe(true);
  });
});

describe('notebook store: several notebooks', () => {
  it('a new demo notebook keeps the old one, which Storage lists, opens (with its runs) and deletes', async () => {
    await st().openNotebook();
    engine.trainImpl = streamingTrain({ steps: 2 });
    await st().startRun('c5');
    st().setTitle('first');
    await st().flushSave();
    st().resetToDemo();
    await st().flushSave();
    await st().refreshNotebooks();
    const second = st().notebook.doc.id;
    expect(second).not.toBe('demo');
    expect(st().runs.list).toEqual([]);
    // (Both may carry the same updatedAt in a fast test: compare without the order.)
    expect(new Map(st().notebook.list.map((n) => [n.id, n.runs]))).toEqual(
      new Map([
        [second, 0],
        ['demo', 1],
      ]),
    );

    await st().switchNotebook('demo');
    expect(st().notebook.doc.title).toBe('first');
    expect(st().runs.list).toHaveLength(1);
    await reload(); // the switched-to notebook is the current one
    expect(st().notebook.doc.id).toBe('demo');

    const runId = st().runs.list[0]!.id;
    await st().switchNotebook(second);
    await st().deleteNotebook('demo');
    expect(st().notebook.list.map((n) => n.id)).toEqual([second]);
    expect(await db.listRuns('demo')).toEqual([]);
    expect(await db.getRecords(runId)).toEqual([]);
    await st().deleteNotebook(second); // the open one: refused
    expect(await db.loadNotebook(second)).not.toBeNull();
  });
});

describe('notebook store: a training run', () => {
  it('streams records, evaluations and a checkpoint into the database and ends done', async () => {
    const id = await runDemo();

    // The config sent: the jmlr-code preset, the cell's overrides on top, scores after the update.
    expect(engine.trainCalls).toHaveLength(1);
    const { config, run } = engine.trainCalls[0]!;
    const preset = JSON.parse(
      await readFile(new URL('../../public/presets/jmlr-code.json', import.meta.url), 'utf8'),
    ) as Partial<TrainConfig>;
    const overrides = demoNotebook().cells.find((c): c is TrainCell => c.id === 'c5')!.overrides;
    expect(config.recordScoresAfter).toBe(true);
    expect(config).toMatchObject(overrides);
    expect(config).toMatchObject({
      retrieverLoss: preset.retrieverLoss,
      generatorLora: preset.generatorLora,
      generatorEmbeddings: preset.generatorEmbeddings,
      maxGradNorm: preset.maxGradNorm,
      name: 'jmlr-code',
    });
    expect(config.candidates).not.toBe(preset.candidates); // the override won
    // From the loaded checkpoints (the default), named for the worker's messages.
    expect(run).toEqual({ runId: id, runName: 'LLM-Rank #1', start: { from: 'loaded' } });

    // In the store.
    const meta = st().runs.list.find((m) => m.id === id)!;
    expect(meta).toMatchObject({ status: 'done', steps: 3, checkpointStep: 2, cellId: 'c5', name: 'LLM-Rank #1' });
    expect(meta.evals).toEqual([trainEval]);
    expect(meta.phaseMs).toEqual(phaseMs);
    expect(meta.config).toEqual(config);
    expect(meta.models).toEqual({ retriever: { kind: 'demo' }, generator: { kind: 'demo' } });
    expect(meta.data).toEqual({ kind: 'demo' });
    expect(steps(st().runs.records[id])).toEqual([0, 1, 2]);
    expect(st().runs.active).toBeNull();
    expect(st().runs.trainedBy).toBe(id);
    expect(st().runs.errors).toEqual({});
    expect(st().runs.saveError).toBeNull();

    // On disk, as a reload finds it.
    await tick();
    const [saved, ...more] = await db.listRuns('demo');
    expect(more).toEqual([]);
    expect(saved).toMatchObject({ id, status: 'done', steps: 3, checkpointStep: 2, evals: [trainEval] });
    expect(await db.getRecords(id)).toEqual([0, 1, 2].map((s) => stepRecord(s)));
    const savedCp = (await db.getCheckpoint(id))!;
    expect(savedCp.step).toBe(2);
    expect(savedCp.params[0]).toBeInstanceOf(Float32Array);
    expect(savedCp.params).toEqual(cp(2, config).params);

    await reload();
    expect(st().runs.list.map((m) => [m.id, m.status, m.steps, m.checkpointStep])).toEqual([[id, 'done', 3, 2]]);
    expect(steps(await st().loadRecords(id))).toEqual([0, 1, 2]);
  });

  it('saves the final state when the last messages arrive back to back (faster than a transaction commits)', async () => {
    // Queued worker messages can all be delivered before IndexedDB commits the first record's
    // write: no save started by an earlier message may land after the final one.
    const id = await runDemo(async (config, onProgress) => {
      await tick();
      for (let s = 0; s < 4; s++) onProgress({ done: s + 1, total: 4, message: `step ${s + 1}`, trainRecord: stepRecord(s) });
      onProgress({ done: 4, total: 4, message: 'checkpoint', trainCheckpoint: cp(4, config) });
      onProgress({ done: 4, total: 4, message: 'evaluated', trainEval });
      return { evals: [trainEval], stopped: null, phaseMs, steps: 4, ...ran() };
    });
    expect(st().runs.list[0]).toMatchObject({ id, status: 'done', steps: 4, checkpointStep: 4 });
    await reload();
    expect(st().runs.list[0]).toMatchObject({ id, status: 'done', steps: 4, checkpointStep: 4, evals: [trainEval] });
    expect(steps(await db.getRecords(id))).toEqual([0, 1, 2, 3]);
    expect((await db.getCheckpoint(id))?.step).toBe(4);
  });

  it('numbers runs per cell, and a second run does not wait for or mix with the first', async () => {
    const a = await runDemo();
    engine.trainImpl = streamingTrain({ steps: 2 });
    await st().startRun('c5');
    const b = st().runs.list.at(-1)!.id;
    expect(b).not.toBe(a);
    expect(st().runs.list.map((m) => m.name)).toEqual(['LLM-Rank #1', 'LLM-Rank #2']);
    expect(steps(st().runs.records[a])).toEqual([0, 1, 2]);
    expect(steps(st().runs.records[b])).toEqual([0, 1]);
    expect(steps(await db.getRecords(b))).toEqual([0, 1]);
    expect(st().runs.trainedBy).toBe(b);
  });

  it('ignores a second startRun while one is active, and stopRun cancels the training request', async () => {
    await st().openNotebook();
    const held = await startHeldRun();
    await st().startRun('c5');
    expect(engine.trainCalls).toHaveLength(1);
    expect(st().runs.list).toHaveLength(1);
    st().stopRun();
    expect(engine.cancelled).toEqual(['train']);
    await held.finish({ evals: [], stopped: { step: 0, message: 'stopped by the user' }, phaseMs, steps: 0, ...ran() });
    expect(st().runs.list[0]).toMatchObject({ status: 'stopped', message: 'stopped by the user' });
    expect((await db.listRuns('demo'))[0]).toMatchObject({ status: 'stopped', message: 'stopped by the user' });
  });
});

describe('notebook store: interrupted runs', () => {
  it('marks a run left running as interrupted and resumes it from its checkpoint without duplicate records', async () => {
    // A tab that closes mid-run: records 0..2 and the checkpoint at 2 steps are saved, no result.
    await st().openNotebook();
    engine.trainImpl = streamingTrain({ steps: 3, hang: true });
    void st().startRun('c5');
    const id = await waitFor(() => st().runs.list[0]?.id, 'the run');
    await waitFor(async () => (await db.getRecords(id)).length === 3 && (await db.getCheckpoint(id)) !== null, 'the saved steps');
    await waitFor(async () => (await db.listRuns('demo'))[0]?.steps === 3, 'the saved meta');
    const { config } = engine.trainCalls[0]!;
    expect((await db.listRuns('demo'))[0]!.status).toBe('running');

    await reload();
    const meta = st().runs.list[0]!;
    expect(meta).toMatchObject({ id, status: 'interrupted', checkpointStep: 2, steps: 3 });
    expect(st().runs.active).toBeNull();

    // Resume: the checkpoint goes to the worker; the records from its step on leave the screen at
    // once and the disk when the first new one arrives (a refused resume must not lose them).
    const savedCp = (await db.getCheckpoint(id))!;
    let atStart: { memory: number[] | undefined; disk: number[] | undefined } | null = null;
    const resumed = streamingTrain({ from: 2, steps: 4, recordOver: { gpuBytes: 999 } });
    engine.trainImpl = async (c, onProgress, run) => {
      atStart = { memory: steps(st().runs.records[id]), disk: steps(await db.getRecords(id)) };
      expect(st().runs.active?.id).toBe(id);
      return resumed(c, onProgress, run);
    };
    await st().resumeRun(id);

    expect(engine.trainCalls).toHaveLength(2);
    const call = engine.trainCalls[1]!;
    expect(call.run?.runId).toBe(id);
    expect(call.run?.resume).toEqual(savedCp);
    expect(call.run?.resume?.params[0]).toBeInstanceOf(Float32Array);
    expect(call.config).toEqual(config);
    expect(atStart).toEqual({ memory: [0, 1], disk: [0, 1, 2] });

    const expected = [stepRecord(0), stepRecord(1), stepRecord(2, { gpuBytes: 999 }), stepRecord(3, { gpuBytes: 999 })];
    expect(st().runs.records[id]).toEqual(expected);
    expect(st().runs.list[0]).toMatchObject({ id, status: 'done', steps: 4, checkpointStep: 4, message: null });
    await tick();
    expect(await db.getRecords(id)).toEqual(expected);
    expect((await db.listRuns('demo'))[0]).toMatchObject({ status: 'done', steps: 4, checkpointStep: 4 });
    expect((await db.getCheckpoint(id))?.step).toBe(4);
    expect(st().runs.trainedBy).toBe(id);
  });

  it('does nothing for a run without a checkpoint', async () => {
    await st().openNotebook();
    engine.trainImpl = () => Promise.reject(Object.assign(new Error('device lost'), { code: 'device-lost' }));
    await st().startRun('c5');
    const meta = st().runs.list[0]!;
    expect(meta.checkpointStep).toBeNull();
    await st().resumeRun(meta.id);
    expect(engine.trainCalls).toHaveLength(1);
  });
});

describe('notebook store: resume edge cases', () => {
  it('a refused resume leaves the run, its records and its message as they were', async () => {
    await st().openNotebook();
    engine.trainImpl = streamingTrain({ steps: 3, hang: true });
    void st().startRun('c5');
    const id = await waitFor(() => st().runs.list[0]?.id, 'the run');
    await waitFor(
      async () => (await db.getRecords(id)).length === 3 && (await db.listRuns('demo'))[0]?.checkpointStep === 2,
      'the saved steps',
    );
    await reload();
    const before = st().runs.list[0]!;
    engine.trainImpl = () =>
      Promise.reject(Object.assign(new Error('the loaded models were trained by another run'), { code: 'resume-refused' }));
    await st().resumeRun(id);
    expect(st().runs.list[0]).toEqual(before);
    expect(steps(st().runs.records[id])).toEqual([0, 1, 2]);
    expect(steps(await db.getRecords(id))).toEqual([0, 1, 2]);
    expect((await db.listRuns('demo'))[0]).toMatchObject({ status: 'interrupted', checkpointStep: 2 });
    expect(st().runs.errors.c5?.message).toContain('trained by another run');
    expect(st().runs.active).toBeNull();
  });

  it('a double click on Resume starts one run', async () => {
    await st().openNotebook();
    engine.trainImpl = streamingTrain({ steps: 3, hang: true });
    void st().startRun('c5');
    const id = await waitFor(() => st().runs.list[0]?.id, 'the run');
    await waitFor(
      async () => (await db.getRecords(id)).length === 3 && (await db.listRuns('demo'))[0]?.checkpointStep === 2,
      'the saved steps',
    );
    await reload();
    engine.trainImpl = streamingTrain({ from: 2, steps: 3 });
    await Promise.all([st().resumeRun(id), st().resumeRun(id)]);
    expect(engine.trainCalls).toHaveLength(2); // the first run, then one resume
    expect(steps(st().runs.records[id])).toEqual([0, 1, 2]);
  });
});

describe('notebook store: refused and failing runs', () => {
  it('drops a run the worker refuses before its first step and shows the error on the cell', async () => {
    await st().openNotebook();
    useStore.setState((s) => ({ data: { ...s.data, index: { ...s.data.index, status: 'ready' } } }));
    const refusal = Object.assign(new Error('load both models and build the index first'), { code: 'not-ready' });
    engine.trainImpl = () => Promise.reject(refusal);
    await st().startRun('c5');
    expect(st().runs.list).toEqual([]);
    expect(st().runs.active).toBeNull();
    expect(st().runs.errors.c5).toEqual({
      message: 'load both models and build the index first',
      field: null,
      code: 'not-ready',
    });
    expect(await db.listRuns('demo')).toEqual([]);
    expect(st().data.index.status).toBe('ready'); // nothing trained: the index still holds
  });

  it("names the config field of a worker's ConfigError", async () => {
    await st().openNotebook();
    // As the client raises it: the worker's ConfigError crossed as code 'config' with its field.
    engine.trainImpl = () =>
      Promise.reject(new EngineError(errorResponse(1, new ConfigError('sampled', 'cannot exceed candidates (5 > 3)'))));
    await st().startRun('c5');
    expect(st().runs.errors.c5).toEqual({
      message: 'config.sampled: cannot exceed candidates (5 > 3)',
      field: 'sampled',
      code: 'config',
    });
    expect(st().runs.list).toEqual([]);
    expect(await db.listRuns('demo')).toEqual([]);
  });

  it("names the field of a Train cell's bad override without calling the worker", async () => {
    await st().openNotebook();
    st().updateCell('c5', { overrides: { ...cell<TrainCell>('c5').overrides, sampled: 50 } });
    await st().startRun('c5');
    expect(engine.trainCalls).toEqual([]);
    expect(st().runs.errors.c5?.field).toBe('sampled');
    expect(st().runs.errors.c5?.message).toMatch(/^config\.sampled: /);
    expect(st().runs.list).toEqual([]);
  });

  it('keeps a run that fails after it started, with its records, and clears the error on the next start', async () => {
    await st().openNotebook();
    useStore.setState((s) => ({ data: { ...s.data, index: { ...s.data.index, status: 'ready' } } }));
    engine.trainImpl = async (config, onProgress) => {
      await tick();
      onProgress({ done: 1, total: 4, message: 'step 1', trainRecord: stepRecord(0) });
      await tick();
      throw Object.assign(new Error('the GPU device was lost'), { code: 'device-lost' });
    };
    await st().startRun('c5');
    const meta = st().runs.list[0]!;
    expect(meta).toMatchObject({ status: 'error', message: 'the GPU device was lost', steps: 1 });
    expect(st().runs.errors.c5).toEqual({ message: 'the GPU device was lost', field: null, code: 'device-lost' });
    expect(steps(st().runs.records[meta.id])).toEqual([0]);
    await tick();
    expect((await db.listRuns('demo'))[0]).toMatchObject({ status: 'error', message: 'the GPU device was lost' });
    expect(steps(await db.getRecords(meta.id))).toEqual([0]);
    // The retriever may have moved: the index is marked so (the worker reopens it when next used),
    // and the models are as the failed run left them.
    expect(st().data.index.status).toBe('moved');
    expect(st().runs.models).toEqual({ from: 'run', runId: meta.id, step: 1 });

    engine.trainImpl = streamingTrain({ steps: 1 });
    await st().startRun('c5');
    expect(st().runs.errors).toEqual({});
  });
});

describe('notebook store: where runs start', () => {
  it('records each start, continues only when asked, resumes from the start its run had, and resets the models', async () => {
    await st().openNotebook();
    useStore.setState((s) => ({ data: { ...s.data, index: { ...s.data.index, status: 'ready' } } }));
    // The worker's answer: the start asked for (with the continued run's step), the models now as this run left them.
    engine.trainImpl = async (config, onProgress, run) => {
      await streamingTrain({ steps: 2 })(config, onProgress, run);
      const start: RunStart = run?.start?.from === 'run' ? { from: 'run', runId: run.start.runId, step: 2 } : { from: 'loaded' };
      return { evals: [], stopped: null, phaseMs, steps: 2, ...ran(run!.runId!, 2), start };
    };
    await st().startRun('c5');
    const first = st().runs.list[0]!;
    expect(first.start).toEqual({ from: 'loaded' });
    expect(st().runs.models).toEqual({ from: 'run', runId: first.id, step: 2 });
    expect(st().data.index.status).toBe('moved');

    // Continuing the run the models are at: asked for by id, recorded with its step.
    await st().startRun('c5', { from: 'run', runId: first.id });
    const second = st().runs.list[1]!;
    expect(engine.trainCalls[1]!.run?.start).toEqual({ from: 'run', runId: first.id });
    expect(second.start).toEqual({ from: 'run', runId: first.id, step: 2 });
    expect((await db.listRuns('demo')).find((m) => m.id === second.id)?.start).toEqual(second.start);

    // A resume of the continuing run asks for the start it had; a run from the checkpoints for those.
    await db.putCheckpoint(second.id, cp(2, second.config));
    useStore.setState((s) => ({ runs: { ...s.runs, list: s.runs.list.map((m) => ({ ...m, checkpointStep: 2 })) } }));
    await st().resumeRun(second.id);
    expect(engine.trainCalls[2]!.run).toMatchObject({ runId: second.id, start: { from: 'run', runId: first.id, step: 2 } });
    await db.putCheckpoint(first.id, cp(2, first.config));
    await st().resumeRun(first.id);
    expect(engine.trainCalls[3]!.run).toMatchObject({ runId: first.id, start: { from: 'loaded' } });

    // One click puts the models back as loaded.
    useStore.setState((s) => ({ data: { ...s.data, index: { ...s.data.index, status: 'ready' } } }));
    await st().resetModels();
    expect(engine.resets).toBe(1);
    expect(st().runs.models).toEqual({ from: 'loaded' });
    expect(st().runs.trainedBy).toBeNull();
    expect(st().data.index.status).toBe('moved');

    // Loading a model puts the pair back as loaded (the worker restores the other one): nothing to continue.
    await st().startRun('c5');
    useStore.setState((s) => ({ data: { ...s.data, index: { ...s.data.index, status: 'ready' } } }));
    expect(st().runs.models.from).toBe('run');
    engine.loadModel = () => Promise.resolve({ label: 'demo generator' } as unknown as ModelSummary);
    await st().loadModel('generator', { kind: 'url', url: 'https://example.org/demo-generator' });
    expect(st().models.generator.status).toBe('ready');
    expect(st().runs.models).toEqual({ from: 'loaded' });
    expect(st().runs.modelsName).toBeNull();
    expect(st().data.index.status).toBe('moved'); // the retriever went back to its checkpoint too
  });
});

describe('notebook store: storage failures', () => {
  it('keeps running when the step records cannot be saved, and says so', async () => {
    await st().openNotebook();
    db.appendRecords = () => Promise.reject(new StorageFullError('the step records'));
    const id = await runDemo();
    expect(st().runs.list[0]).toMatchObject({ id, status: 'done', steps: 3 });
    expect(steps(st().runs.records[id])).toEqual([0, 1, 2]);
    expect(st().runs.saveError).toMatch(/^could not save a step record: Browser storage is full/);
    expect(st().runs.active).toBeNull();
    await tick();
    expect(await db.getRecords(id)).toEqual([]);
    expect((await db.listRuns('demo'))[0]).toMatchObject({ id, status: 'done' });
  });

  it('works unsaved when IndexedDB cannot be opened', async () => {
    setNotebookDb(Promise.reject(new Error('IndexedDB is not available here')));
    await st().openNotebook();
    expect(st().notebook).toMatchObject({ restored: true, storageProblem: 'IndexedDB is not available here' });
    expect(st().notebook.doc).toEqual(demoNotebook());
    engine.trainImpl = streamingTrain({ steps: 2 });
    await st().startRun('c5');
    const meta = st().runs.list[0]!;
    expect(meta.status).toBe('done');
    expect(steps(st().runs.records[meta.id])).toEqual([0, 1]);
    expect(st().runs.saveError).toBeNull();
  });
});

describe('notebook store: texts by id', () => {
  it('ids that name Object.prototype members are looked up like any other, and read as missing', async () => {
    useStore.setState((s) => ({ data: { ...s.data, status: 'ready' } }));
    await st().lookupTexts(['toString', 'q1'], ['constructor', 'hasOwnProperty']);
    expect(engine.lookupCalls).toEqual([{ questionIds: ['toString', 'q1'], docIds: ['constructor', 'hasOwnProperty'] }]);
    const t = st().texts;
    expect(t.questions['toString']).toBeUndefined();
    expect(t.docs['hasOwnProperty']).toBeUndefined();
    expect(t.missing.questions['toString']).toBe(true);
    expect(t.missing.docs['constructor']).toBe(true);
    // Asked again: known missing, no second lookup.
    await st().lookupTexts(['toString'], ['constructor']);
    expect(engine.lookupCalls).toHaveLength(1);
  });
});

describe('notebook store: export and import', () => {
  it("an imported notebook's remote sources wait for the user to confirm them, a hub repo by its address", async () => {
    await st().openNotebook();
    const nb = st().notebook.doc;
    const cells = nb.cells.map((c) =>
      c.kind === 'data'
        ? { ...c, source: { kind: 'url' as const, format: 'pubmedqa' as const, urls: { data: 'http://192.168.1.9/x.json' } } }
        : c.kind === 'models'
          ? {
              ...c,
              retriever: { kind: 'hub' as const, repo: 'someone/colbert' },
              generator: { kind: 'url' as const, url: 'https://t.example/m/' },
            }
          : c,
    );
    const text = serializeNotebookFile(toNotebookFile({ ...nb, id: 'nb-imported', cells }, []));
    expect(st().notebook.unconfirmed).toEqual([]); // the demo notebook fetches nothing remote
    await st().importNotebook(new Blob([text]));
    expect(st().notebook.importError).toBeNull();
    expect(st().notebook.unconfirmed.sort()).toEqual(
      ['http://192.168.1.9/x.json', 'https://huggingface.co/someone/colbert', 'https://t.example/m/'].sort(),
    );
    st().confirmSources(['http://192.168.1.9/x.json']);
    expect(st().notebook.unconfirmed.sort()).toEqual(['https://huggingface.co/someone/colbert', 'https://t.example/m/']);
    st().resetToDemo();
    expect(st().notebook.unconfirmed).toEqual([]);
  });

  it('round-trips the notebook with its runs and records into a fresh database', async () => {
    const id = await runDemo();
    st().setTitle('Exported notebook');
    st().updateCell('c7', { runId: id, questionId: 'q2', step: 1 });
    st().updateCell('c8', { runIds: [id] });
    const doc = st().notebook.doc;
    const meta = st().runs.list[0]!;
    const text = await (await st().exportNotebook()).text();
    const file = JSON.parse(text) as { format: string; runs: { records: unknown[] }[] };
    expect(file.format).toBe('medrank-notebook');
    expect(file.runs.map((r) => r.records.length)).toEqual([3]);

    // Another browser: a fresh store and database.
    useStore.setState(initial, true);
    factory = new IDBFactory();
    await openDb();
    await st().openNotebook();
    await st().importNotebook(new Blob([text], { type: 'application/json' }));
    expect(st().notebook.importError).toBeNull();
    expect(st().notebook.importMessage).toBe('imported “Exported notebook”: 9 cells, 1 run');
    expect(st().notebook.doc.title).toBe('Exported notebook');
    expect(st().notebook.doc.cells).toEqual(doc.cells);
    expect(st().runs.list).toHaveLength(1);
    const imported = st().runs.list[0]!;
    expect(imported).toMatchObject({
      id,
      name: meta.name,
      status: 'done',
      steps: 3,
      evals: meta.evals,
      config: meta.config,
      checkpointStep: null, // a file carries no checkpoint
    });
    expect(await st().loadRecords(id)).toEqual([0, 1, 2].map((s) => stepRecord(s)));

    // Saved, and current after a reload.
    await reload();
    expect(st().notebook.doc.title).toBe('Exported notebook');
    expect(st().notebook.doc.cells).toEqual(doc.cells);
    expect(st().runs.list.map((m) => m.id)).toEqual([id]);
    expect(await db.getRecords(id)).toEqual([0, 1, 2].map((s) => stepRecord(s)));
  });

  it('refuses malformed files, naming the problem, and leaves the notebook as it was', async () => {
    await st().openNotebook();
    st().setTitle('Keep me');
    const before = st().notebook.doc;

    await st().importNotebook(new Blob(['not json']));
    expect(st().notebook.importError).toMatch(/not valid JSON/);
    expect(st().notebook.importMessage).toBeNull();
    expect(st().notebook.doc).toBe(before);

    await st().importNotebook(new Blob(['{"format":"medrank-notebook","version":1}']));
    expect(st().notebook.importError).toMatch(/exportedAt|notebook/);
    expect(st().notebook.doc).toBe(before);

    await st().importNotebook(new Blob(['{"format":"something-else","version":1}']));
    expect(st().notebook.importError).toMatch(/^format: /);
    expect(st().notebook.doc).toBe(before);

    await st().flushSave();
    expect((await db.loadCurrentNotebook())?.title).toBe('Keep me');
  });

  it('refuses an import while a run is active', async () => {
    await st().openNotebook();
    const text = await (await st().exportNotebook()).text();
    st().setTitle('Current');
    const before = st().notebook.doc;
    const held = await startHeldRun();

    await st().importNotebook(new Blob([text]));
    expect(st().notebook.importError).toMatch(/run is in progress/);
    expect(st().notebook.doc).toBe(before);

    await held.finish({ evals: [], stopped: null, phaseMs, steps: 0, ...ran() });
  });
});

describe('notebook store: deleting a run', () => {
  it('removes the run, its records and checkpoint, and the cells that pointed at it', async () => {
    const id = await runDemo();
    st().updateCell('c7', { runId: id, questionId: 'q1', step: 1 });
    st().updateCell('c8', { runIds: ['other', id] });
    await st().deleteRun(id);
    expect(st().runs.list).toEqual([]);
    expect(id in st().runs.records).toBe(false);
    expect(cell<InspectCell>('c7')).toEqual({ id: 'c7', kind: 'inspect', runId: null, questionId: null, step: null });
    expect(cell<CompareCell>('c8').runIds).toEqual(['other']);
    expect(await db.listRuns('demo')).toEqual([]);
    expect(await db.getRecords(id)).toEqual([]);
    expect(await db.getCheckpoint(id)).toBeNull();

    await st().flushSave();
    await reload();
    expect(cell<InspectCell>('c7').runId).toBeNull();
    expect(cell<CompareCell>('c8').runIds).toEqual(['other']);
    expect(st().runs.list).toEqual([]);
  });

  it('does not delete the active run', async () => {
    await st().openNotebook();
    const held = await startHeldRun();
    await st().deleteRun(held.id);
    expect(st().runs.list.map((m) => m.id)).toEqual([held.id]);
    await held.finish({ evals: [], stopped: null, phaseMs, steps: 0, ...ran() });
    expect((await db.listRuns('demo')).map((m) => m.id)).toEqual([held.id]);
  });
});

describe('notebook store: evaluate', () => {
  it('stores the result on the cell, with the run that last trained the models', async () => {
    await st().openNotebook();
    const progress: (number | undefined)[] = [];
    let n = 0;
    engine.evaluateImpl = async (_p, onProgress) => {
      onProgress({ done: 1, total: 2, message: 'half' });
      progress.push(st().runs.evaluating?.progress?.done);
      await tick();
      return evalResult({ questions: 20, mrr10: 0.1 * ++n });
    };

    await st().runEvaluate('c6');
    expect(engine.evaluateCalls).toEqual([{ split: 'validation', limit: 20 }]);
    expect(progress).toEqual([1]);
    expect(st().runs.evaluating).toBeNull();
    const first = cell<EvaluateCell>('c6').last!;
    expect(first.runId).toBeNull();
    expect(first.result).toEqual(evalResult({ questions: 20, mrr10: 0.1 }));

    engine.trainImpl = streamingTrain({ steps: 1 });
    await st().startRun('c5');
    const id = st().runs.list[0]!.id;
    expect(st().runs.trainedBy).toBe(id);
    await st().runEvaluate('c6');
    const second = cell<EvaluateCell>('c6').last!;
    expect(second.runId).toBe(id);
    expect(second.result.mrr10).toBeCloseTo(0.2, 12);
    expect(second.at).toBeGreaterThanOrEqual(first.at);

    await st().flushSave();
    expect((await db.loadCurrentNotebook())?.cells.find((c) => c.id === 'c6')).toEqual(cell<EvaluateCell>('c6'));
  });

  it('shows a failed evaluation on the cell and keeps its last result', async () => {
    await st().openNotebook();
    engine.evaluateImpl = () => Promise.reject(new Error('build the index first'));
    await st().runEvaluate('c6');
    expect(st().runs.errors.c6).toEqual({ message: 'build the index first', field: null, code: 'failed' });
    expect(cell<EvaluateCell>('c6').last).toBeNull();
    expect(st().runs.evaluating).toBeNull();
  });
});

describe('notebook store: opening another notebook, imported notebooks, a run queued behind an evaluation', () => {
  const dataSummary: DatasetSummary = {
    name: 'demo',
    format: 'jsonl',
    questions: 3000,
    passages: 1500,
    withGold: 3000,
    kinds: {},
    loadMs: 1,
  };
  const modelSummary = (label: string): ModelSummary => ({ label }) as ModelSummary;
  /** The dataset and both models as loaded in the worker (the store's view of them). */
  const loaded = (): void =>
    useStore.setState((s) => ({
      data: { ...s.data, status: 'ready', summary: dataSummary },
      models: {
        ...s.models,
        retriever: { ...s.models.retriever, status: 'ready', summary: modelSummary('demo-colbert') },
        generator: { ...s.models.generator, status: 'ready', summary: modelSummary('demo-llama') },
      },
    }));

  it('opening another notebook from Storage keeps the data and models loaded and says so, and where its cells differ', async () => {
    await st().openNotebook();
    st().setTitle('First');
    loaded();
    const before = { data: st().data, models: st().models };
    st().resetToDemo(); // a second notebook, the same cells
    await st().flushSave();
    expect(st().notebook.openMessage).toBe(
      'Still loaded in this tab, as “First” left them: the data set demo, the retriever demo-colbert, the generator demo-llama (and the index, if built).',
    );
    const second = st().notebook.doc.id;
    // The second notebook reads its data from a URL: opening the first again says its Data cell differs.
    st().updateCell('c2', { source: { kind: 'url', format: 'jsonl', urls: { questions: 'https://example.org/q.jsonl' } } });
    await st().flushSave();
    await st().switchNotebook('demo');
    expect(st().notebook.doc.id).toBe('demo');
    expect(st().data).toBe(before.data);
    expect(st().models).toBe(before.models);
    expect(st().notebook.openMessage).toMatch(
      new RegExp(`^Still loaded in this tab, as “${demoNotebook().title.replace(/[+]/g, '\\+')}” left them: the data set demo`),
    );
    expect(st().notebook.openMessage).toContain('This notebook’s Data cell names another data set: run it to load that one.');
    expect(st().notebook.openMessage).not.toContain('Models cell');
    st().dismissOpenMessage();
    expect(st().notebook.openMessage).toBeNull();
    await st().switchNotebook(second);
    expect(st().notebook.openMessage).toContain('Data cell names another data set');
  });

  it('says nothing is kept when nothing was loaded, and names the run the models are at', async () => {
    await st().openNotebook();
    st().resetToDemo();
    expect(st().notebook.openMessage).toBeNull();
    await st().flushSave();
    loaded();
    const id = await runDemo(streamingTrain({ steps: 2 }));
    useStore.setState((s) => ({ runs: { ...s.runs, models: { from: 'run', runId: id, step: 2 } } }));
    const name = st().runs.list.find((m) => m.id === id)!.name;
    await st().switchNotebook('demo');
    expect(st().notebook.openMessage).toContain(
      `The models are as ${name} of “${demoNotebook().title}” left them after step 2; a run here starts from the loaded checkpoints unless told otherwise.`,
    );
  });

  it('an imported notebook gets a title and a time of its own beside the original', async () => {
    await st().openNotebook();
    const original = st().notebook.doc;
    const text = await (await st().exportNotebook()).text();
    const t0 = Date.now();
    await st().importNotebook(new Blob([text]));
    expect(st().notebook.importError).toBeNull();
    expect(st().notebook.doc.title).toBe(`${original.title} (imported)`);
    expect(st().notebook.doc.updatedAt).toBeGreaterThanOrEqual(t0);
    await st().importNotebook(new Blob([text]));
    expect(st().notebook.doc.title).toBe(`${original.title} (imported 2)`);
    await st().refreshNotebooks();
    expect(
      st()
        .notebook.list.map((n) => n.title)
        .sort(),
    ).toEqual([original.title, `${original.title} (imported)`, `${original.title} (imported 2)`].sort());
    expect(new Set(st().notebook.list.map((n) => n.id)).size).toBe(3);
  });

  it('runs of a notebook imported for this session only (storage failed) offer no Resume: their checkpoint did not come along', async () => {
    await st().openNotebook();
    // A file whose run was cut short with a checkpoint in the browser it came from.
    const nb = st().notebook.doc;
    const file = toNotebookFile(nb, [
      {
        meta: runMeta('run-file', nb.id, { status: 'interrupted', steps: 2, checkpointStep: 2 }),
        records: [stepRecord(0), stepRecord(1)],
      },
    ]);
    db.importNotebookFile = () => Promise.reject(new Error('the quota is full'));
    await st().importNotebook(new Blob([serializeNotebookFile(file)]));
    expect(st().notebook.importError).toBe('imported for this session only: the quota is full');
    const run = st().runs.list.find((m) => m.id === 'run-file')!;
    expect(run).toMatchObject({ status: 'interrupted', checkpointStep: null });
    expect(canResume(run)).toBe(false);
  });

  it('a run started during an evaluation waits for it, and says so until the worker starts it', async () => {
    await st().openNotebook();
    let finishEval: ((r: EvalResult) => void) | null = null;
    engine.evaluateImpl = () => new Promise((r) => (finishEval = r));
    const evaluating = st().runEvaluate('c6');
    await waitFor(() => finishEval !== null, 'the evaluate request');
    // The worker runs one request at a time: the train request waits for the evaluation.
    let startTrain: (() => void) | null = null;
    let finishTrain: (() => void) | null = null;
    engine.trainImpl = async (config, onProgress, run) => {
      await new Promise<void>((r) => (startTrain = r));
      onProgress({ done: 0, total: 1, message: 'step 1' });
      await new Promise<void>((r) => (finishTrain = r));
      return streamingTrain({ steps: 1 })(config, onProgress, run);
    };
    const running = st().startRun('c5');
    await waitFor(() => st().runs.active && startTrain !== null, 'the queued run');
    const busy = () => ({ evaluating: Boolean(st().runs.evaluating), exporting: false });
    expect(runWaitingFor(st().runs.active, busy())).toBe('waiting for the evaluation to finish: the GPU runs one job at a time');
    finishEval!(evalResult());
    await evaluating;
    startTrain!();
    await waitFor(() => st().runs.active?.progress, 'the first progress');
    expect(runWaitingFor(st().runs.active, busy())).toBeNull();
    finishTrain!();
    await running;
    expect(st().runs.list.at(-1)!.status).toBe('done');
  });
});
