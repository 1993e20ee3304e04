// The engine worker: owns the WebGPU device and everything on it, and answers EngineRequests.
// Keeping the GPU here keeps long kernels and readbacks off the page's main thread. Errors,
// typed ones from the GPU layer included, go back as `error` responses carrying their class name.

import { acquireGpu, type Gpu, type GpuInfo } from '../gpu/device';
import { viteKernels } from '../gpu/kernels-vite';
import { Engine } from '../tensor/tensor';
import { runSelfTest, type SelfTestResult } from '../tensor/selftest';
import { formatBytes, MedRankError } from '../gpu/errors';
import type { Weights } from '../models/weights';
import type { ColbertRetriever } from '../models/colbert';
import type { Generator } from '../models/generator';
import { loadGenerator, loadRetriever } from '../models/load';
import { folderFiles, hubFiles, urlFiles, type ModelFiles, type ReadAllProgress } from '../models/sources';
import {
  errorResponse,
  type EngineApi,
  type EngineRequest,
  type EngineResponse,
  type GenerateResult,
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
      return urlFiles(source.url);
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

/** generate / retrieve without a model on the GPU (never loaded, or lost with the device). */
class ModelNotLoadedError extends MedRankError {
  override name = 'ModelNotLoadedError';
}

class GpuEngine implements EngineApi {
  private gpu: Gpu | null = null;
  private engine: Engine | null = null;
  private acquiring: Promise<Engine> | null = null;
  private retriever: ColbertRetriever | null = null;
  private generator: Generator | null = null;

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

  async dispose(): Promise<null> {
    this.retriever = null;
    this.generator = null;
    this.gpu?.destroy();
    this.gpu = null;
    this.engine = null;
    return null;
  }
}

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
      default: {
        const unknown: never = req;
        throw new Error(`unknown request ${JSON.stringify(unknown)}`);
      }
    }
  } catch (err) {
    post(errorResponse(req.id, err));
  }
}
