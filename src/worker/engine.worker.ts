// The engine worker: owns the WebGPU device and everything on it, and answers EngineRequests.
// Keeping the GPU here keeps long kernels and readbacks off the page's main thread. Errors,
// typed ones from the GPU layer included, go back as `error` responses carrying their class name.

import { acquireGpu, type Gpu, type GpuInfo } from '../gpu/device';
import { viteKernels } from '../gpu/kernels-vite';
import { Engine } from '../tensor/tensor';
import { runSelfTest, type SelfTestResult } from '../tensor/selftest';
import { formatBytes, MedRankError } from '../gpu/errors';
import type { Weights } from '../models/weights';
import { parseDataset, type Dataset } from '../data/datasets';
import { readText } from '../data/jsonl';
import { buildIndex, openIndex, searchIndex, type ColbertIndex } from '../retrieval/index';
import { resolveConfig, type TrainConfig } from '../training/config';
import { runTraining, type RunResult } from '../training/run';
import type { ColbertRetriever } from '../models/colbert';
import type { Generator } from '../models/generator';
import { loadGenerator, loadRetriever } from '../models/load';
import { folderFiles, hubFiles, urlFiles, type ModelFiles, type ReadAllProgress } from '../models/sources';
import {
  errorResponse,
  type EngineApi,
  type EngineRequest,
  type EngineResponse,
  type DatasetSourceSpec,
  type DatasetSummary,
  type GenerateResult,
  type IndexSummary,
  type SearchHit,
  type TrainResult,
  type ModelRole,
  type ModelSourceSpec,
  type ModelSummary,
  type PayloadOf,
  type ProgressCallback,
  type RetrieveResult,
} from './protocol';

function filesOf(source: ModelSourceSpec): ModelFiles {
  switch (source.kind) {
    case 'hub':
      return hubFiles(source.repo, { revision: source.revision, endpoint: source.endpoint, token: source.token || undefined });
    case 'url':
      // The app's own files (the demo models) are not copied into the Cache API: the server has
      // them, and a copy would outlive a regeneration of the files.
      return urlFiles(source.url, { cache: new URL(source.url, self.location.href).origin !== self.location.origin });
    case 'folder':
      return folderFiles(source.entries, { label: source.label });
  }
}

function progressMessage(p: ReadAllProgress): string {
  if (p.fromCache && p.done) return `${p.filesTotal} weight file(s) from the browser cache`;
  const of = p.total !== null ? ` of ${formatBytes(p.total)}` : '';
  const eta = p.etaSeconds !== null && !p.done ? `, ${Math.ceil(p.etaSeconds)} s left` : '';
  return `${p.file}: ${formatBytes(p.loaded)}${of}${eta} (${p.filesDone}/${p.filesTotal} files)`;
}

/** A cancellable request (dataset read, index build) stopped by a cancel request. */
class RequestCancelledError extends MedRankError {
  override name = 'RequestCancelledError';
}

/** The files of a dataset source, read with combined byte progress. */
async function readDatasetFiles(
  source: DatasetSourceSpec,
  signal: AbortSignal,
  onProgress?: ProgressCallback,
): Promise<Record<string, string>> {
  const entries: [string, () => Promise<{ body: ReadableStream<Uint8Array>; size: number | null }>][] = [];
  const fromUrl = (url: string) => async () => {
    const res = await fetch(url, { signal });
    if (!res.ok || !res.body)
      throw new MedRankError(`${url} answered HTTP ${res.status}; check the address (the server must allow this origin)`);
    const len = Number(res.headers.get('Content-Length'));
    return { body: res.body, size: res.headers.get('Content-Encoding') || !len ? null : len };
  };
  if (source.kind === 'demo') {
    const base = new URL('/demo/', self.location.origin);
    entries.push(
      ['questions', fromUrl(new URL('questions.jsonl', base).href)],
      ['corpus', fromUrl(new URL('corpus.jsonl', base).href)],
    );
  } else if (source.kind === 'url') {
    for (const [key, url] of Object.entries(source.urls)) entries.push([key, fromUrl(url)]);
  } else {
    for (const [key, blob] of Object.entries(source.files))
      entries.push([key, async () => ({ body: blob.stream(), size: blob.size })]);
  }
  const out: Record<string, string> = {};
  let before = 0;
  for (const [i, [key, open]] of entries.entries()) {
    const { body, size } = await open();
    let read = 0;
    out[key] = await readText(body, {
      total: size ?? undefined,
      signal,
      onProgress: (p) => {
        read = p.loaded;
        onProgress?.({
          done: before + p.loaded,
          total: before + (p.total ?? p.loaded),
          message: `${key} (${i + 1}/${entries.length}): ${formatBytes(p.loaded)}${p.total ? ` of ${formatBytes(p.total)}` : ''}`,
        });
      },
    });
    before += read;
  }
  return out;
}

/** generate / retrieve without a model on the GPU (never loaded, or lost with the device). */
class ModelNotLoadedError extends MedRankError {
  override name = 'ModelNotLoadedError';
}

/** A training run asked for before its parts (models, dataset, index) are there. */
class TrainingNotReadyError extends MedRankError {
  override name = 'TrainingNotReadyError';
}

const indexSummary = (index: ColbertIndex): IndexSummary => ({
  docs: index.stats.docs,
  tokens: index.stats.tokens,
  fromCache: index.stats.fromCache,
  buildMs: index.stats.buildMs,
  saveError: index.stats.saveError?.message ?? null,
});

class GpuEngine implements EngineApi {
  private gpu: Gpu | null = null;
  private engine: Engine | null = null;
  private acquiring: Promise<Engine> | null = null;
  private retriever: ColbertRetriever | null = null;
  private generator: Generator | null = null;
  private dataset: Dataset | null = null;
  private index: ColbertIndex | null = null;
  /** The retriever `index` was built with: an index from another retriever cannot seed training. */
  private indexRetriever: ColbertRetriever | null = null;
  /** The last run's full step records (every candidate), kept here rather than sent to the page. */
  lastRun: RunResult | null = null;
  /** AbortControllers of the running cancellable requests, by request id. */
  readonly aborts = new Map<number, AbortController>();

  private modelsLost = false;

  private notLoaded(role: ModelRole): ModelNotLoadedError {
    return new ModelNotLoadedError(
      this.modelsLost
        ? `the GPU device was lost and the ${role} with it: load it again`
        : `no ${role} is loaded: load one (hub id, URL or folder) first`,
    );
  }

  /** The tensor engine on a live device; a lost device is replaced by a fresh one (models must be reloaded). */
  private async ready(): Promise<Engine> {
    if (this.engine && this.gpu && !this.gpu.isLost) return this.engine;
    if (this.engine && (this.retriever || this.generator)) {
      // Their tensors lived on the lost device: keeping them would run ops on a dead GPU.
      this.retriever = null;
      this.generator = null;
      this.modelsLost = true;
    }
    this.acquiring ??= acquireGpu({ kernels: viteKernels })
      .then((gpu) => {
        this.gpu = gpu;
        this.engine = new Engine(gpu);
        return this.engine;
      })
      .finally(() => {
        this.acquiring = null;
      });
    return this.acquiring;
  }

  async init(): Promise<GpuInfo> {
    return (await this.ready()).gpu.info;
  }

  async selftest(onProgress?: ProgressCallback): Promise<SelfTestResult[]> {
    const e = await this.ready();
    return runSelfTest(e, ({ done, total, result }) =>
      onProgress?.({
        done,
        total,
        message: `${result.name}: ${result.pass ? 'pass' : 'FAIL'} (max abs diff ${result.maxAbsDiff.toExponential(2)})`,
        case: result,
      }),
    );
  }

  async loadModel(role: ModelRole, source: ModelSourceSpec, onProgress?: ProgressCallback): Promise<ModelSummary> {
    const e = await this.ready();
    const files = filesOf(source);
    const t0 = performance.now();
    const opts = {
      onProgress: (p: ReadAllProgress) => onProgress?.({ done: p.loaded, total: p.total ?? 0, message: progressMessage(p) }),
    };
    if (role === 'retriever') {
      const r = await loadRetriever(e, files, opts);
      this.retriever?.encoder.dispose();
      this.retriever = r;
      const c = r.encoder.config;
      return summary(
        role,
        files.label,
        'bert + ColBERT head',
        r.tokenizer.className,
        c.numLayers,
        c.hiddenSize,
        c.numHeads,
        c.numHeads,
        c.vocabSize,
        r.encoder.weights,
        t0,
      );
    }
    const g = await loadGenerator(e, files, opts);
    this.generator?.model.dispose();
    this.generator = g;
    const c = g.model.config;
    return summary(
      role,
      files.label,
      c.family,
      g.tokenizer.className,
      c.numLayers,
      c.hiddenSize,
      c.numHeads,
      c.numKvHeads,
      c.vocabSize,
      g.model.weights,
      t0,
    );
  }

  async generate(p: PayloadOf<'generate'>): Promise<GenerateResult> {
    const g = this.generator;
    if (!g) throw this.notLoaded('generator');
    const t0 = performance.now();
    const ids = await g.generate(g.encodePrompt(p.prompt), {
      maxNewTokens: p.maxNewTokens,
      temperature: p.temperature,
      seed: p.seed,
    });
    return { text: g.tokenizer.decode(ids, { skipSpecialTokens: true }), tokens: ids.length, ms: performance.now() - t0 };
  }

  async retrieve(p: PayloadOf<'retrieve'>): Promise<RetrieveResult> {
    const r = this.retriever;
    if (!r) throw this.notLoaded('retriever');
    const e = await this.ready();
    const t0 = performance.now();
    const scores = e.scope(() => e.noGrad(() => r.score(r.encodeQueries([p.query]), r.encodeDocs(p.docs))));
    const values = Array.from(await scores.read());
    scores.dispose();
    return { docs: p.docs, scores: values, ms: performance.now() - t0 };
  }

  async loadDataset(source: DatasetSourceSpec, onProgress?: ProgressCallback, id = 0): Promise<DatasetSummary> {
    const t0 = performance.now();
    const abort = new AbortController();
    this.aborts.set(id, abort);
    try {
      const files = await readDatasetFiles(source, abort.signal, onProgress);
      const format = source.kind === 'demo' ? 'jsonl' : source.format;
      const ds = parseDataset(format, files, source.kind === 'demo' ? 'demo' : undefined);
      this.dataset = ds;
      this.index?.dispose(); // an index belongs to one corpus
      this.index = null;
      const kinds: Record<string, number> = {};
      for (const q of ds.questions) kinds[q.kind] = (kinds[q.kind] ?? 0) + 1;
      return {
        name: ds.name,
        format,
        questions: ds.questions.length,
        passages: ds.passages.length,
        withGold: ds.questions.filter((q) => q.goldDocIds.length > 0).length,
        kinds,
        loadMs: performance.now() - t0,
      };
    } finally {
      this.aborts.delete(id);
    }
  }

  async buildIndex(onProgress?: ProgressCallback, id = 0): Promise<IndexSummary> {
    const r = this.retriever;
    if (!r) throw this.notLoaded('retriever');
    const ds = this.dataset;
    if (!ds) throw new ModelNotLoadedError('no dataset is loaded: load the demo set or a dataset first');
    if (ds.passages.length === 0) throw new MedRankError(`${ds.name} has no passages to index (MedQA has none)`);
    const abort = new AbortController();
    this.aborts.set(id, abort);
    try {
      const index = await openIndex(r, ds.passages, {
        batchSize: 64, // fewer, larger batches: each waits for the GPU once
        signal: abort.signal,
        onProgress: (p) =>
          onProgress?.({ done: p.done, total: p.total, message: `${p.done} of ${p.total} passages, ${p.tokens} vectors` }),
      });
      this.index?.dispose();
      this.index = index;
      this.indexRetriever = r;
      return indexSummary(index);
    } finally {
      this.aborts.delete(id);
    }
  }

  /** Free the index (idempotent: a refresh inside a run may have freed it already). */
  private dropIndex(): void {
    this.index?.dispose();
    this.index = null;
    this.indexRetriever = null;
  }

  async train(partial: Partial<TrainConfig>, onProgress?: ProgressCallback, id = 0): Promise<TrainResult> {
    const config = resolveConfig(partial); // a bad field fails here, with ConfigError's message
    await this.ready(); // a lost device drops the models: the checks below then say so
    const { retriever, generator, dataset, index } = this;
    const missing = [
      !retriever && (this.modelsLost ? 'the retriever (lost with the GPU device)' : 'a retriever'),
      !generator && (this.modelsLost ? 'the generator (lost with the GPU device)' : 'a generator'),
      !dataset && 'a dataset',
    ].filter((m): m is string => typeof m === 'string');
    if (missing.length)
      throw new TrainingNotReadyError(
        `training needs ${missing.join(', ')}: load ${missing.length > 1 ? 'them' : 'it'} first, then build the index`,
      );
    if (!index || this.indexRetriever !== retriever)
      throw new TrainingNotReadyError(
        index
          ? 'the index was built with another retriever: build the index again with the loaded one first'
          : 'no index: build the index (Data and index) with the loaded retriever first',
      );
    const abort = new AbortController();
    this.aborts.set(id, abort);
    const totalMs = (r: { ms: Record<string, number> }): number => Object.values(r.ms).reduce((a, b) => a + b, 0);
    let result: RunResult;
    try {
      result = await runTraining(
        { retriever: retriever!, generator: generator!, passages: dataset!.passages, questions: dataset!.questions, index },
        config,
        {
          signal: abort.signal,
          onStep: (rec) =>
            onProgress?.({
              done: rec.step + 1,
              total: config.steps,
              message: `step ${rec.step + 1}/${config.steps}: retriever loss ${fmt(rec.loss.retriever)}, generator loss ${fmt(rec.loss.generator)}`,
              trainStep: {
                step: rec.step + 1,
                loss: { ...rec.loss },
                alignment: { spearman: rec.alignment.spearman },
                recall: { ...rec.recall },
                ms: totalMs(rec),
              },
            }),
          onEval: (ev) =>
            onProgress?.({
              done: ev.step,
              total: config.steps,
              message: `evaluated at step ${ev.step}: accuracy ${(ev.result.accuracy.retrieved * 100).toFixed(0)}% with retrieval`,
              trainEval: ev,
            }),
        },
      );
    } catch (err) {
      // Steps before the failure may have moved the retriever, and a refresh frees the index it
      // replaces: this index can no longer be trusted. Search and the next run ask for a new one.
      if (config.schedule !== 'frozen-retriever') this.dropIndex();
      throw err;
    } finally {
      this.aborts.delete(id);
    }
    this.lastRun = result;
    // The index's vectors came from the retriever before the run (and the trainer may have
    // replaced and freed it on a refresh): if the retriever trained, rebuild it now so search and
    // the next run start from the trained retriever. Not cancellable: the old index is gone.
    let rebuilt: IndexSummary | null = null;
    if (result.records.some((r) => r.trains.retriever)) {
      if (result.index !== this.index) result.index.dispose(); // a refresh's index: not ours to keep
      this.dropIndex();
      const fresh = await buildIndex(retriever!, dataset!.passages, {
        batchSize: 64,
        onProgress: (p) =>
          onProgress?.({
            done: p.done,
            total: p.total,
            message: `re-indexing with the trained retriever: ${p.done} of ${p.total} passages`,
          }),
      });
      this.index = fresh;
      this.indexRetriever = retriever;
      rebuilt = indexSummary(fresh);
    }
    return {
      evals: result.evals,
      stopped: result.stopped,
      phaseMs: result.phaseMs,
      steps: result.records.length,
      index: rebuilt,
    };
  }

  async search(query: string, k: number): Promise<SearchHit[]> {
    const r = this.retriever;
    if (!r) throw this.notLoaded('retriever');
    if (!this.index || !this.dataset) throw new ModelNotLoadedError('no index: build the index first');
    if (this.indexRetriever !== r)
      throw new ModelNotLoadedError('the index was built with another retriever: build the index again with the loaded one');
    const { ids, scores } = await searchIndex(this.index, r, [query], k);
    const text = new Map(this.dataset.passages.map((p) => [p.id, p.title ? `${p.title}. ${p.text}` : p.text]));
    return ids[0]!.map((id, i) => ({ id, score: scores[0]![i]!, text: text.get(id) ?? '' }));
  }

  async dispose(): Promise<null> {
    this.retriever = null;
    this.generator = null;
    this.gpu?.destroy();
    this.gpu = null;
    this.engine = null;
    return null;
  }
}

const fmt = (v: number | null): string => (v === null ? '–' : v.toFixed(4));

function summary(
  role: ModelRole,
  label: string,
  architecture: string,
  tokenizer: string,
  layers: number,
  hidden: number,
  heads: number,
  kvHeads: number,
  vocab: number,
  weights: Weights,
  t0: number,
): ModelSummary {
  let params = 0;
  for (const n of weights.names()) params += weights.shape(n).reduce((a, b) => a * b, 1);
  const memory = { paramBytes: params * 4, gradBytes: params * 4, optimizerBytes: params * 8 };
  return {
    role,
    label,
    architecture,
    tokenizer,
    layers,
    hidden,
    heads,
    kvHeads,
    vocab,
    params,
    memory,
    loadMs: performance.now() - t0,
  };
}

const scope = self as unknown as DedicatedWorkerGlobalScope;
const engine = new GpuEngine();
const post = (m: EngineResponse): void => scope.postMessage(m);

// Requests run one at a time: the GPU queue is serial anyway, and ordering keeps results simple.
let queue: Promise<void> = Promise.resolve();

scope.addEventListener('message', (ev: MessageEvent<EngineRequest>) => {
  const req = ev.data;
  if (req.kind === 'cancel') {
    // Not queued: it must reach the request that is running now.
    const a = engine.aborts.get(req.target);
    a?.abort(new RequestCancelledError('cancelled by the user'));
    post({ kind: 'result', id: req.id, request: 'cancel', value: a !== undefined });
    return;
  }
  queue = queue.then(() => handle(req));
});

async function handle(req: EngineRequest): Promise<void> {
  try {
    switch (req.kind) {
      case 'init':
        post({ kind: 'result', id: req.id, request: 'init', value: await engine.init() });
        return;
      case 'selftest': {
        const value = await engine.selftest((p) => post({ kind: 'progress', id: req.id, ...p }));
        post({ kind: 'result', id: req.id, request: 'selftest', value });
        return;
      }
      case 'dispose':
        post({ kind: 'result', id: req.id, request: 'dispose', value: await engine.dispose() });
        return;
      case 'loadModel': {
        const value = await engine.loadModel(req.role, req.source, (p) => post({ kind: 'progress', id: req.id, ...p }));
        post({ kind: 'result', id: req.id, request: 'loadModel', value });
        return;
      }
      case 'generate':
        post({ kind: 'result', id: req.id, request: 'generate', value: await engine.generate(req) });
        return;
      case 'retrieve':
        post({ kind: 'result', id: req.id, request: 'retrieve', value: await engine.retrieve(req) });
        return;
      case 'loadDataset': {
        const value = await engine.loadDataset(req.source, (p) => post({ kind: 'progress', id: req.id, ...p }), req.id);
        post({ kind: 'result', id: req.id, request: 'loadDataset', value });
        return;
      }
      case 'buildIndex': {
        const value = await engine.buildIndex((p) => post({ kind: 'progress', id: req.id, ...p }), req.id);
        post({ kind: 'result', id: req.id, request: 'buildIndex', value });
        return;
      }
      case 'search':
        post({ kind: 'result', id: req.id, request: 'search', value: await engine.search(req.query, req.k) });
        return;
      case 'train': {
        const value = await engine.train(req.config, (p) => post({ kind: 'progress', id: req.id, ...p }), req.id);
        post({ kind: 'result', id: req.id, request: 'train', value });
        return;
      }
      case 'cancel':
        return; // handled on arrival
      default: {
        const unknown: never = req;
        throw new Error(`unknown request ${JSON.stringify(unknown)}`);
      }
    }
  } catch (err) {
    post(errorResponse(req.id, err));
  }
}
