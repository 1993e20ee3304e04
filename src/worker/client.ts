// The page side of the engine worker: EngineClient implements EngineApi with promises, matching
// responses to requests by id. If the worker dies (script error, crash, unreadable message) every
// pending request is rejected with WorkerCrashedError, and so is every later one: never a hang.

import { MedRankError } from '../core/errors';
import type {
  CancellableKind,
  EngineApi,
  EngineRequest,
  EngineResponse,
  DatasetSourceSpec,
  DatasetSummary,
  EvalResult,
  ExportedBundle,
  ExportedWeights,
  GenerateResult,
  GpuInfo,
  IndexSummary,
  LookupResult,
  MaxSimExplanation,
  ModelRole,
  ModelSourceSpec,
  ModelSummary,
  PayloadOf,
  ProgressCallback,
  RequestKind,
  ResultOf,
  RetrieveResult,
  SearchHit,
  SelfTestResult,
  TrainConfig,
  TrainResult,
  TrainRunOptions,
} from './protocol';

/** An error thrown inside the worker, re-raised on the page with the worker-side class name. */
export class EngineError extends MedRankError {
  constructor(
    readonly errorClass: string,
    message: string,
  ) {
    super(message);
    // Keep the original class name so callers can branch on it (e.g. 'WebGpuUnavailableError').
    this.name = errorClass;
  }
}

/** The worker stopped answering: it failed to load or crashed. */
export class WorkerCrashedError extends MedRankError {
  constructor(detail: string) {
    super(
      `The GPU engine worker stopped (${detail}). Reload the page to start a new one; ` +
        'if it happens again, open the browser console for the cause and report it.',
    );
  }
}

interface Pending {
  kind: RequestKind;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: ProgressCallback;
}

export class EngineClient implements EngineApi {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private dead: WorkerCrashedError | null = null;

  constructor(private readonly worker: Worker) {
    worker.addEventListener('message', (ev: MessageEvent<EngineResponse>) => this.onMessage(ev.data));
    worker.addEventListener('error', (ev: ErrorEvent) => {
      ev.preventDefault();
      this.die(ev.message || 'the worker script failed to load or threw');
    });
    worker.addEventListener('messageerror', () => this.die('a message from the worker could not be read'));
  }

  /** A client on a fresh engine worker bundled by Vite. */
  static create(): EngineClient {
    return new EngineClient(
      new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'medrank-engine' }),
    );
  }

  init(): Promise<GpuInfo> {
    return this.request('init');
  }

  selftest(onProgress?: ProgressCallback): Promise<SelfTestResult[]> {
    return this.request('selftest', onProgress);
  }

  dispose(): Promise<null> {
    return this.request('dispose');
  }

  loadModel(role: ModelRole, source: ModelSourceSpec, onProgress?: ProgressCallback): Promise<ModelSummary> {
    return this.request('loadModel', onProgress, { role, source });
  }

  generate(p: PayloadOf<'generate'>): Promise<GenerateResult> {
    return this.request('generate', undefined, p);
  }

  retrieve(p: PayloadOf<'retrieve'>): Promise<RetrieveResult> {
    return this.request('retrieve', undefined, p);
  }

  loadDataset(source: DatasetSourceSpec, onProgress?: ProgressCallback): Promise<DatasetSummary> {
    return this.request('loadDataset', onProgress, { source });
  }

  buildIndex(onProgress?: ProgressCallback): Promise<IndexSummary> {
    return this.request('buildIndex', onProgress, {});
  }

  search(query: string, k: number): Promise<SearchHit[]> {
    return this.request('search', undefined, { query, k });
  }

  train(config: Partial<TrainConfig>, onProgress?: ProgressCallback, run: TrainRunOptions = {}): Promise<TrainResult> {
    const payload: PayloadOf<'train'> = { config };
    if (run.runId !== undefined) payload.runId = run.runId;
    if (run.resume !== undefined) payload.resume = run.resume;
    return this.request('train', onProgress, payload);
  }

  lookup(p: PayloadOf<'lookup'>): Promise<LookupResult> {
    return this.request('lookup', undefined, p);
  }

  maxsim(p: PayloadOf<'maxsim'>): Promise<MaxSimExplanation> {
    return this.request('maxsim', undefined, p);
  }

  evaluate(p: PayloadOf<'evaluate'>, onProgress?: ProgressCallback): Promise<EvalResult> {
    return this.request('evaluate', onProgress, p);
  }

  exportWeights(p: PayloadOf<'exportWeights'>): Promise<ExportedWeights> {
    return this.request('exportWeights', undefined, p);
  }

  exportBundle(p: PayloadOf<'exportBundle'>, onProgress?: ProgressCallback): Promise<ExportedBundle> {
    return this.request('exportBundle', onProgress, p);
  }

  /**
   * Ask the worker to abort every pending request of this kind: a read, build or evaluation
   * rejects with a cancel error; a training run stops after its current step and resolves with
   * `stopped` set (and its state at the stop sent as a trainCheckpoint).
   */
  cancel(kind: CancellableKind): void {
    for (const [target, p] of this.pending)
      if (p.kind === kind) this.worker.postMessage({ kind: 'cancel', id: this.nextId++, target } satisfies EngineRequest);
  }

  /** Stop the worker; pending requests reject. */
  terminate(): void {
    this.worker.terminate();
    this.die('terminated by the page');
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  private request<K extends RequestKind>(kind: K, onProgress?: ProgressCallback, payload?: PayloadOf<K>): Promise<ResultOf[K]> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<ResultOf[K]>((resolve, reject) => {
      this.pending.set(id, { kind, resolve: resolve as (v: unknown) => void, reject, onProgress });
      this.worker.postMessage({ ...payload, kind, id } as EngineRequest);
    });
  }

  private onMessage(msg: EngineResponse): void {
    const p = this.pending.get(msg.id);
    if (!p) return; // a reply to a request that already failed: nothing waits for it
    switch (msg.kind) {
      case 'progress': {
        // Every field but kind and id, so a field added to ProgressResponse reaches the caller.
        const { kind: _kind, id: _id, ...progress } = msg;
        p.onProgress?.(progress);
        return;
      }
      case 'result':
        this.pending.delete(msg.id);
        p.resolve(msg.value);
        return;
      case 'error':
        this.pending.delete(msg.id);
        p.reject(new EngineError(msg.errorClass, msg.message));
        return;
    }
  }

  private die(detail: string): void {
    this.dead ??= new WorkerCrashedError(detail);
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(this.dead);
  }
}
