// The worker's session: the WebGPU device and what lives on it (the loaded models, the dataset,
// the index), implementing EngineApi by handing each request to the layer that does it (model
// loading and summaries: models; dataset files: data; the index's lifecycle: index-slot.ts;
// evaluation requests and lookups: training). engine.worker.ts wraps it in the message protocol;
// tests build one directly on their own device. What it throws crosses as errors.ts says.

import { acquireGpu, type Gpu, type GpuInfo } from '../gpu/device';
import { viteKernels } from '../gpu/kernels-vite';
import { Engine, runSelfTest, type SelfTestResult } from '../tensor';
import { MedRankError } from '../core/errors';
import type { Weights } from '../models/weights';
import { parseDataset, type Dataset } from '../data/datasets';
import { datasetFileNames, readDatasetFiles } from '../data/sources';
import { docText, openIndex, searchIndex, type ColbertIndex } from '../retrieval/index';
import { explainMaxSim, type MaxSimExplanation } from '../retrieval/explain';
import { exportMergedWeights } from '../models/export';
import { resolveConfig } from '../training/config';
import { evaluate, EVAL_CHUNK, type EvalResult } from '../training/evaluate';
import { planEvaluation } from '../training/eval-request';
import { DatasetTables } from '../training/lookup';
import { PromptBuilder } from '../training/prompts';
import { ModelNotLoadedError, ResumeRefusedError, TrainingNotReadyError } from './errors';
import { Baseline } from '../models/baseline';
import type { RunStart } from '../training/records';
import { frozenWeightsProblem, trainerProblem } from '../training/step';
import { checkpointConfigDiff, runTraining, splitOf, type RunResult } from '../training/run';
import type { Generator } from '../models/generator';
import { loadGenerator, loadRetriever, type LoadedRetriever } from '../models/load';
import { downloadMessage, modelFilesOf, type ModelFiles, type ReadAllProgress } from '../models/sources';
import { generatorSummary, paramCount, retrieverSummary } from '../models/summary';
import { padIdOf } from '../models/decoder';
import { clusterBundle, type BundleModel } from './bundle-export';
import { IndexSlot } from './index-slot';
import { version as MEDRANK_VERSION } from '../../package.json';
import {
  type CallOptions,
  type EngineApi,
  type ProgressCallback,
  type Payloads,
  type DatasetSummary,
  type ExportedBundle,
  type ExportedWeights,
  type GenerateResult,
  type IndexSummary,
  type LookupResult,
  type SearchHit,
  type TrainResult,
  type ModelRole,
  type ModelSourceSpec,
  type ModelSummary,
  type RetrieveResult,
} from './protocol';

const indexSummary = (index: ColbertIndex): IndexSummary => ({
  docs: index.stats.docs,
  tokens: index.stats.tokens,
  fromCache: index.stats.fromCache,
  buildMs: index.stats.buildMs,
  saveError: index.stats.saveError?.message ?? null,
});

export class GpuEngine implements EngineApi {
  private gpu: Gpu | null = null;
  private engine: Engine | null = null;
  /** False when the device was handed in (tests): dispose() leaves it to its owner. */
  private readonly ownsGpu: boolean;
  private acquiring: Promise<Engine> | null = null;
  private retriever: LoadedRetriever | null = null;
  private generator: Generator | null = null;
  private dataset: Dataset | null = null;
  /** The index and its lifecycle (index-slot.ts). */
  private readonly slot = new IndexSlot();
  /**
   * Where the loaded models are: as loaded, or as run `runId` left them after `step` steps (the
   * only state a new run may continue from; a resume starts from its run's own start).
   */
  models: RunStart = { from: 'loaded' };
  /** The name of the run the models are at (for messages). */
  private modelsRunName = '';
  /** Each loaded model's checkpoint values of what runs changed, to start from them again (models/baseline.ts). */
  private readonly baselines: Partial<Record<ModelRole, Baseline>> = {};
  /** What one evaluation question cost last (ms), for a run's ETA until it has measured its own. */
  private evalQuestionMs: number | null = null;
  private unnamedRuns = 0;

  /** The run that last trained the loaded models (null: as loaded). */
  get trainedBy(): string | null {
    return this.models.from === 'run' ? this.models.runId : null;
  }
  /** The last run's result (every step record; the page gets them streamed as trainRecord). */
  lastRun: RunResult | null = null;
  /** Where each loaded model came from, and whether a run has trained it since (exportBundle). */
  private readonly origins: Partial<Record<ModelRole, { files: ModelFiles; source: ModelSourceSpec; trained: boolean }>> = {};

  private modelsLost = false;
  /** The dataset's questions and passages by id (lookup, maxsim), built on first use. */
  private byId: DatasetTables | null = null;

  /** An engine on its own device (acquired on first use), or on `engine`'s (tests). */
  constructor(engine?: Engine) {
    if (engine) {
      this.engine = engine;
      this.gpu = engine.gpu;
    }
    this.ownsGpu = !engine;
  }

  /** The loaded models and index, for tests (the page reaches them through requests only). */
  get loaded(): { retriever: LoadedRetriever | null; generator: Generator | null; index: ColbertIndex | null } {
    return { retriever: this.retriever, generator: this.generator, index: this.slot.current };
  }

  /** Questions per chunk of an evaluate request (tests lower it to see progress and cancel between chunks). */
  evalChunk = EVAL_CHUNK;

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

  async init(_p: Payloads['init'] = {}): Promise<GpuInfo> {
    return (await this.ready()).gpu.info;
  }

  async selftest(_p: Payloads['selftest'] = {}, { onProgress }: CallOptions = {}): Promise<SelfTestResult[]> {
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

  async loadModel(
    { role, source, frozenDtype = 'f32' }: Payloads['loadModel'],
    { onProgress, signal }: CallOptions = {},
  ): Promise<ModelSummary> {
    const e = await this.ready();
    const files = modelFilesOf(source, self.location.href);
    const t0 = performance.now();
    const opts = {
      signal,
      onProgress: (p: ReadAllProgress) => onProgress?.({ done: p.loaded, total: p.total ?? 0, message: downloadMessage(p) }),
      frozenDtype,
    };
    if (role === 'retriever') {
      // Half-size frozen weights keep the projection f32: the default 'projection' training still works.
      const r = await loadRetriever(
        e,
        files,
        frozenDtype === 'f16' ? { ...opts, trainable: (n) => n === 'linear.weight' } : opts,
      );
      this.retriever?.dispose();
      this.retriever = r;
      this.baselines.retriever = new Baseline(r.weights, () => r.linears());
      await this.onModelLoaded('retriever');
      this.origins.retriever = { files, source, trained: false };
      return retrieverSummary(r, files.label, performance.now() - t0);
    }
    const g = await loadGenerator(e, files, opts);
    this.generator?.model.dispose();
    this.generator = g;
    this.baselines.generator = new Baseline(g.model.weights, () => g.model.linears());
    await this.onModelLoaded('generator');
    this.origins.generator = { files, source, trained: false };
    return generatorSummary(g, files.label, performance.now() - t0);
  }

  async generate(p: Payloads['generate']): Promise<GenerateResult> {
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

  async retrieve(p: Payloads['retrieve']): Promise<RetrieveResult> {
    const r = this.retriever;
    if (!r) throw this.notLoaded('retriever');
    const e = await this.ready();
    const t0 = performance.now();
    const scores = e.scope(() => e.noGrad(() => r.score(r.encodeQueries([p.query]), r.encodeDocs(p.docs))));
    const values = Array.from(await scores.read());
    scores.dispose();
    return { docs: p.docs, scores: values, ms: performance.now() - t0 };
  }

  async loadDataset({ source }: Payloads['loadDataset'], { onProgress, signal }: CallOptions = {}): Promise<DatasetSummary> {
    const t0 = performance.now();
    {
      const files = await readDatasetFiles(source, signal ?? new AbortController().signal, onProgress);
      const format = source.kind === 'demo' ? 'jsonl' : source.format;
      const ds = parseDataset(format, files, source.kind === 'demo' ? 'demo' : undefined, datasetFileNames(source));
      this.dataset = ds;
      this.slot.onDataset();
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
    }
  }

  async buildIndex(_p: Payloads['buildIndex'] = {}, { onProgress, signal }: CallOptions = {}): Promise<IndexSummary> {
    const r = this.retriever;
    if (!r) throw this.notLoaded('retriever');
    const ds = this.dataset;
    if (!ds) throw new ModelNotLoadedError('no dataset is loaded: load the demo set or a dataset first');
    if (ds.passages.length === 0) throw new MedRankError(`${ds.name} has no passages to index (MedQA has none)`);
    {
      const index = await openIndex(r, ds.passages, {
        batchSize: 64, // fewer, larger batches: each waits for the GPU once
        signal,
        onProgress: (p) =>
          onProgress?.({ done: p.done, total: p.total, message: `${p.done} of ${p.total} passages, ${p.tokens} vectors` }),
      });
      this.slot.set(index, r);
      return indexSummary(index);
    }
  }

  /**
   * A model was loaded in place of another: the pair is "as loaded" again, so the other one goes
   * back to its checkpoint too (a pair half trained by a run is no state a run can start from).
   */
  private async onModelLoaded(role: ModelRole): Promise<void> {
    if (this.models.from === 'run') {
      const other: ModelRole = role === 'retriever' ? 'generator' : 'retriever';
      if (this.baselines[other]?.changed) {
        await this.baselines[other]!.restore();
        if (other === 'retriever') this.slot.retrieverMoved();
      }
    }
    this.models = { from: 'loaded' };
    this.modelsRunName = '';
  }

  /** Both models back as loaded (no-op when they are); the index is reopened when next needed. */
  private async resetToLoaded(): Promise<void> {
    if (this.baselines.generator?.changed) await this.baselines.generator.restore();
    if (this.baselines.retriever?.changed) {
      await this.baselines.retriever.restore();
      this.slot.retrieverMoved();
    }
    for (const o of Object.values(this.origins)) o.trained = false;
    this.models = { from: 'loaded' };
    this.modelsRunName = '';
  }

  async resetModels(_p: Payloads['resetModels'] = {}): Promise<RunStart> {
    await this.ready();
    if (!this.retriever && !this.generator) throw new ModelNotLoadedError('no model is loaded: nothing to reset');
    await this.resetToLoaded();
    return this.models;
  }

  /** Where the models are now, in words: "as loaded", "as LLM-Rank #2 left them". */
  private modelsInWords(): string {
    return this.models.from === 'loaded' ? 'as loaded' : `as ${this.modelsRunName || this.models.runId} left it`;
  }

  /**
   * The index for the loaded retriever: the slot's, or, when the retriever moved since one was
   * built (a run trained it, a reset), reopened for its weights now (IndexedDB when they were
   * indexed before, else encoded; progress says why), or null when none was ever built.
   */
  private async indexFor(r: LoadedRetriever, ds: Dataset, onProgress?: ProgressCallback): Promise<ColbertIndex | null> {
    const have = this.slot.for(r);
    if (have || !this.slot.wanted) return have;
    const why = `the retriever's weights moved since the index was built: re-indexing with the retriever ${this.modelsInWords()}`;
    onProgress?.({ done: 0, total: ds.passages.length, message: why, phase: 'index' });
    const index = await openIndex(r, ds.passages, {
      batchSize: 64,
      onProgress: (p) =>
        onProgress?.({ done: p.done, total: p.total, message: `${why}: ${p.done} of ${p.total} passages`, phase: 'index' }),
    });
    this.slot.set(index, r);
    const summary = indexSummary(index);
    onProgress?.({
      done: ds.passages.length,
      total: ds.passages.length,
      message: summary.fromCache ? 'index reopened from this browser' : 'index rebuilt',
      phase: 'index',
      index: summary,
    });
    return index;
  }

  /** The loaded models and dataset, or what is missing, said for `what`. */
  private async modelsFor(what: 'training' | 'evaluation'): Promise<{
    retriever: LoadedRetriever;
    generator: Generator;
    dataset: Dataset;
  }> {
    await this.ready(); // a lost device drops the models: the checks below then say so
    const { retriever, generator, dataset } = this;
    const missing = [
      !retriever && (this.modelsLost ? 'the retriever (lost with the GPU device)' : 'a retriever'),
      !generator && (this.modelsLost ? 'the generator (lost with the GPU device)' : 'a generator'),
      !dataset && 'a dataset',
    ].filter((m): m is string => typeof m === 'string');
    if (missing.length || !retriever || !generator || !dataset)
      throw new TrainingNotReadyError(
        `${what} needs ${missing.join(', ')}: load ${missing.length > 1 ? 'them' : 'it'} first, then build the index`,
      );
    return { retriever, generator, dataset };
  }

  /** modelsFor, and the index for the retriever as it is (reopened when it moved), or why there is none. */
  private async partsFor(
    what: 'training' | 'evaluation',
    onProgress?: ProgressCallback,
  ): Promise<{ retriever: LoadedRetriever; generator: Generator; dataset: Dataset; index: ColbertIndex }> {
    const parts = await this.modelsFor(what);
    const index = await this.indexFor(parts.retriever, parts.dataset, onProgress);
    if (!index) throw new TrainingNotReadyError(this.slot.missingFor(parts.retriever));
    return { ...parts, index };
  }

  /**
   * Where a run starts, checked before anything changes: a fresh run from the loaded checkpoints
   * or from the models as the run that last trained them left them; a resume from its run's own
   * start (from another run's models only while the models are still as the resumed run left them).
   */
  private startOf(run: Omit<Payloads['train'], 'config'>): RunStart {
    const asked = run.start ?? { from: 'loaded' };
    if (asked.from === 'loaded') return { from: 'loaded' };
    if (run.resume) {
      // The models are as this run left them (built on the run it continued): its start stays its own.
      if (this.models.from === 'run' && this.models.runId === run.runId)
        return { from: 'run', runId: asked.runId, step: asked.step ?? 0 };
      throw new ResumeRefusedError(
        'start: this run continued from the models another run had left, and the loaded models are no longer ' +
          'as this run left them: it cannot resume exactly. Start a new run (from the loaded checkpoints, or continuing another run)',
        'start',
      );
    }
    if (this.models.from === 'run' && this.models.runId === asked.runId) return this.models;
    throw new ResumeRefusedError(
      `start: the loaded models are ${this.models.from === 'loaded' ? 'as loaded' : `as ${this.modelsRunName || this.models.runId} left them`}, ` +
        'not as the run to continue left them (only the last run to train them can be continued): start from the loaded checkpoints',
      'start',
    );
  }

  async train({ config: partial, ...run }: Payloads['train'], { onProgress, signal }: CallOptions = {}): Promise<TrainResult> {
    const config = resolveConfig(partial); // a bad field fails here, with ConfigError's message
    const { retriever, generator, dataset } = await this.modelsFor('training');
    const resume = run.resume ?? null;
    if (resume) {
      const diff = checkpointConfigDiff(resume, config);
      if (diff.length)
        throw new ResumeRefusedError(
          `config.${diff[0]}: the checkpoint's run had another value (${diff.join(', ')} differ${diff.length > 1 ? '' : 's'}). Resume with the ` +
            "checkpoint's configuration (only steps and recordScoresAfter may change) or start a new run",
          diff[0]!,
        );
      if (resume.step > config.steps)
        throw new ResumeRefusedError(
          `config.steps: the checkpoint is at step ${resume.step}: resume with steps >= ${resume.step}`,
          'steps',
        );
    }
    const start = this.startOf(run);
    // What the trainer would refuse (batch, candidates, context) is refused before the models move.
    const problem = trainerProblem(
      config,
      {
        trainQuestions: dataset.questions.filter((q) => splitOf(q, config.seed) === 'train').length,
        passages: dataset.passages,
        retrieverKind: retriever.kind,
      },
      generator.model.config.maxPositions,
    );
    if (problem) throw new TrainingNotReadyError(problem);
    const frozen = frozenWeightsProblem(config, {
      retriever: retriever.weights.hasPacked,
      generator: generator.model.weights.hasPacked,
    });
    if (frozen) throw new TrainingNotReadyError(frozen);
    // No index to be had (never built for this corpus): refused before the models move too.
    if (!this.slot.for(retriever) && !this.slot.wanted) throw new TrainingNotReadyError(this.slot.missingFor(retriever));
    // The models at the start: put back as loaded, or the continued run's adapters folded into
    // their weights (this run's configuration drops adapters; the function stays the same).
    if (start.from === 'loaded') await this.resetToLoaded();
    else for (const b of Object.values(this.baselines)) await b.mergeAdapters();
    const index = await this.indexFor(retriever, dataset, onProgress);
    if (!index) throw new TrainingNotReadyError(this.slot.missingFor(retriever));
    const runId = run.runId ?? `unnamed run ${++this.unnamedRuns}`;
    const trainsRetriever = config.schedule !== 'frozen-retriever';
    let started = false;
    const totalMs = (r: { ms: Record<string, number> }): number => Object.values(r.ms).reduce((a, b) => a + b, 0);
    const eta = (ms: number | null): { etaMs?: number } => (ms === null ? {} : { etaMs: ms });
    let result: RunResult;
    try {
      result = await runTraining(
        { retriever, generator, passages: dataset.passages, questions: dataset.questions, index },
        config,
        {
          signal,
          evalQuestionMs: this.evalQuestionMs,
          onStart: async (trainables) => {
            // The last moment before a weight changes: keep the loaded values of what will train.
            await this.baselines.retriever?.keep(trainables);
            await this.baselines.generator?.keep(trainables);
            started = true;
            this.modelsRunName = run.runName ?? runId;
            // A resume put the checkpoint's weights in; a fresh run changes them at its first update.
            if (resume) this.models = { from: 'run', runId, step: resume.step };
            if (trainsRetriever && this.origins.retriever) this.origins.retriever.trained = true;
            if (config.schedule !== 'retriever-only' && this.origins.generator) this.origins.generator.trained = true;
          },
          onStep: (rec, etaMs) => {
            this.models = { from: 'run', runId, step: rec.step + 1 };
            onProgress?.({
              done: rec.step + 1,
              total: config.steps,
              message: `step ${rec.step + 1}/${config.steps}: retriever loss ${fmt(rec.loss.retriever)}, generator loss ${fmt(rec.loss.generator)}`,
              phase: 'step',
              ...eta(etaMs),
              trainStep: {
                step: rec.step + 1,
                loss: { ...rec.loss },
                alignment: { spearman: rec.alignment.spearman },
                recall: { ...rec.recall },
                ms: totalMs(rec),
              },
              trainRecord: rec,
            });
          },
          onPhase: (p, etaMs) =>
            onProgress?.({
              done: p.kind === 'evaluate' ? p.done : p.step,
              total: p.kind === 'evaluate' ? p.total : config.steps,
              message:
                p.kind === 'evaluate'
                  ? `evaluating on ${p.split} after step ${p.step}: ${p.done} of ${p.total} questions`
                  : `saving the checkpoint at step ${p.step}`,
              phase: p.kind,
              ...eta(etaMs),
            }),
          saveCheckpoint: async (c) =>
            onProgress?.({
              done: c.step,
              total: config.steps,
              message: `checkpoint at step ${c.step}`,
              phase: 'checkpoint',
              trainCheckpoint: c,
            }),
          onEval: (ev) =>
            onProgress?.({
              done: ev.step,
              total: config.steps,
              message: `evaluated at step ${ev.step}: accuracy ${(ev.result.accuracy.retrieved * 100).toFixed(0)}% with retrieval`,
              phase: 'evaluate',
              trainEval: ev,
            }),
        },
        resume,
      );
    } catch (err) {
      // A run refused by the trainer before it started changed nothing; one that failed after it
      // started leaves the models as it left them (a run can start from the checkpoints again),
      // and an index the moved retriever no longer matches, reopened when next needed.
      if (started && trainsRetriever) this.slot.retrieverMoved();
      throw err;
    }
    this.lastRun = result;
    this.evalQuestionMs = result.evalQuestionMs ?? this.evalQuestionMs;
    const indexMoved = result.records.some((r) => r.trains.retriever);
    if (indexMoved) this.slot.retrieverMoved(result.index);
    else if (result.index !== this.slot.current) result.index.dispose();
    return {
      evals: result.evals,
      stopped: result.stopped,
      skipped: result.skipped,
      phaseMs: result.phaseMs,
      steps: result.records.length,
      start,
      models: this.models,
      indexMoved,
    };
  }

  /** The dataset's questions and passages by id, for the dataset loaded now. */
  private lookupTables(): DatasetTables {
    const ds = this.dataset;
    if (!ds) throw new ModelNotLoadedError('no dataset is loaded: load the demo set or a dataset first');
    if (this.byId?.dataset !== ds) this.byId = new DatasetTables(ds);
    return this.byId;
  }

  async lookup(p: Payloads['lookup']): Promise<LookupResult> {
    return this.lookupTables().lookup(p);
  }

  async maxsim(p: Payloads['maxsim']): Promise<MaxSimExplanation> {
    const r = this.retriever;
    if (!r) throw this.notLoaded('retriever');
    const passage = this.lookupTables().passages.get(p.docId);
    if (!passage) throw new ModelNotLoadedError(`the loaded dataset has no passage "${p.docId}"`);
    await this.ready();
    // The index's vectors when it was built by this retriever: the very numbers search ranks by.
    // (An index the retriever has moved away from is not reopened for this: the document is encoded.)
    const index = this.slot.for(r);
    const fromIndex = index ? { index, docId: p.docId } : undefined;
    if (r.kind !== 'colbert')
      throw new MedRankError(
        "token matches are ColBERT's: a dense retriever scores one pooled vector per text (q . d), so there are no per-token matches to show",
      );
    return explainMaxSim(r, p.query, docText(passage), fromIndex);
  }

  async evaluate(p: Payloads['evaluate'], { onProgress, signal }: CallOptions = {}): Promise<EvalResult> {
    const { retriever, generator, dataset, index } = await this.partsFor('evaluation', onProgress);
    const t0 = performance.now();
    const plan = planEvaluation(p, dataset, generator.model.config.maxPositions);
    const prompts = new PromptBuilder(generator, this.lookupTables().passages, plan.docMaxTokens);
    const result = await evaluate(retriever, index, prompts, plan.questions, {
      topM: plan.topM,
      alignmentCandidates: plan.alignmentCandidates,
      chunk: this.evalChunk,
      signal,
      onProgress: (done, total) => onProgress?.({ done, total, message: `evaluated ${done} of ${total} ${p.split} questions` }),
    });
    if (plan.questions.length) this.evalQuestionMs = (performance.now() - t0) / plan.questions.length;
    return result;
  }

  async exportWeights(p: Payloads['exportWeights']): Promise<ExportedWeights> {
    await this.ready(); // a lost device drops the models: notLoaded then says so
    if (p.role === 'retriever') {
      const r = this.retriever;
      if (!r) throw this.notLoaded('retriever');
      // ColBERT's weights hold its head as linear.weight, where the loader looks for it; a dense
      // retriever's are its backbone's, under the checkpoint's names.
      return { fileName: 'model.safetensors', bytes: await exportMergedWeights(r.weights, r.linears()) };
    }
    const g = this.generator;
    if (!g) throw this.notLoaded('generator');
    return { fileName: 'model.safetensors', bytes: await exportMergedWeights(g.model.weights, g.model.linears()) };
  }

  async exportBundle(p: Payloads['exportBundle'], { onProgress }: CallOptions = {}): Promise<ExportedBundle> {
    const config = resolveConfig(p.config); // a bad field fails here, with ConfigError's message
    await this.ready(); // a lost device drops the models: the checks below then say so
    const { retriever: r, generator: g, dataset } = this;
    if (!r) throw this.notLoaded('retriever');
    if (!g) throw this.notLoaded('generator');
    if (!dataset) throw new ModelNotLoadedError('no dataset is loaded: load the demo set or a dataset first');
    if (r.kind !== 'colbert')
      throw new MedRankError(
        'the cluster bundle carries a ColBERT retriever only: the PyTorch twin has no dense retriever yet. Run this experiment in the notebook, or load a ColBERT retriever to export',
      );
    // Stages: tokenizing, then each carried model's files and its weights.
    const stages = 5;
    let done = 0;
    const say = (message: string): void => onProgress?.({ done: Math.min(done++, stages), total: stages, message });
    const model = (role: ModelRole, weights: Weights): BundleModel => {
      const o = this.origins[role];
      if (!o) throw this.notLoaded(role);
      return {
        files: o.files,
        hub: o.source.kind === 'hub' ? { repo: o.source.repo, revision: o.source.revision, endpoint: o.source.endpoint } : null,
        asLoaded: !o.trained,
        weightBytes: 4 * paramCount(weights),
        weights: async () => (await this.exportWeights({ role })).bytes,
      };
    };
    return clusterBundle({
      inputs: {
        config,
        passages: dataset.passages,
        questions: dataset.questions,
        retriever: r.tokens,
        generator: {
          tokenizer: g.tokenizer,
          encodeAnswer: (t) => g.encodeAnswer(t),
          padTokenId: padIdOf(g.model.config, g.tokenizer),
          maxPositions: g.model.config.maxPositions,
        },
        medrankVersion: MEDRANK_VERSION,
        source: p.source,
      },
      models: { retriever: model('retriever', r.weights), generator: model('generator', g.model.weights) },
      onProgress: say,
    });
  }

  async search({ query, k }: Payloads['search'], { onProgress }: CallOptions = {}): Promise<SearchHit[]> {
    const r = this.retriever;
    if (!r) throw this.notLoaded('retriever');
    const index = this.dataset ? await this.indexFor(r, this.dataset, onProgress) : null;
    if (!index || !this.dataset) throw new ModelNotLoadedError(this.slot.missingFor(r) || 'no dataset is loaded: load one first');
    const { ids, scores } = await searchIndex(index, r, [query], k);
    const text = new Map(this.dataset.passages.map((p) => [p.id, p.title ? `${p.title}. ${p.text}` : p.text]));
    return ids[0]!.map((id, i) => ({ id, score: scores[0]![i]!, text: text.get(id) ?? '' }));
  }

  async dispose(_p: Payloads['dispose'] = {}): Promise<null> {
    this.retriever = null;
    this.generator = null;
    this.models = { from: 'loaded' };
    if (this.ownsGpu) this.gpu?.destroy();
    this.gpu = null;
    this.engine = null;
    return null;
  }
}

const fmt = (v: number | null): string => (v === null ? '–' : v.toFixed(4));
