// The page side of the engine worker: EngineClient implements EngineApi with promises, one
// generic call per request kind (table-driven over CALL_KINDS), matching responses to requests
// by id. A call's signal cancels it (a cancel request for its id). If the worker dies (script
// error, crash, unreadable message) every pending request is rejected with WorkerCrashedError,
// and so is every later one: never a hang.

import { MedRankError } from '../core/errors';
import {
  CALL_KINDS,
  type CallKind,
  type CallOptions,
  type EngineApi,
  type EngineRequest,
  type EngineResponse,
  type ErrorCode,
  type ErrorResponse,
  type IndexSummary,
  type Payloads,
  type ProgressCallback,
  type ResultOf,
} from './protocol';

/** An error thrown inside the worker, re-raised on the page with what the page branches on: its code and field. */
export class EngineError extends MedRankError {
  readonly code: ErrorCode;
  /** The config field at fault, when the worker named one. */
  readonly field: string | null;
  /** The worker-side class name (for the console; branch on `code`). */
  readonly errorClass: string;
  constructor(r: Pick<ErrorResponse, 'code' | 'field' | 'errorClass' | 'message'>) {
    super(r.message);
    this.code = r.code;
    this.field = r.field;
    this.errorClass = r.errorClass;
  }
}

/** The worker stopped answering: it failed to load or crashed. */
export class WorkerCrashedError extends MedRankError {
  readonly code = 'crashed';
  constructor(detail: string) {
    super(
      `The GPU engine worker stopped (${detail}). Reload the page to start a new one; ` +
        'if it happens again, open the browser console for the cause and report it.',
    );
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: ProgressCallback;
  /** Detaches the abort listener once the request is answered. */
  done: () => void;
}

// The methods of EngineApi are made from CALL_KINDS in the constructor; the interface gives them their types.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface EngineClient extends EngineApi {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class EngineClient {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private dead: WorkerCrashedError | null = null;
  /** Told whenever any request (re)built or reopened the index: the page's Index cell shows it. */
  onIndex: ((summary: IndexSummary) => void) | null = null;

  constructor(private readonly worker: Worker) {
    worker.addEventListener('message', (ev: MessageEvent<EngineResponse>) => this.onMessage(ev.data));
    worker.addEventListener('error', (ev: ErrorEvent) => {
      ev.preventDefault();
      this.die(ev.message || 'the worker script failed to load or threw');
    });
    worker.addEventListener('messageerror', () => this.die('a message from the worker could not be read'));
    for (const kind of CALL_KINDS)
      (this as unknown as Record<CallKind, unknown>)[kind] = (payload: Payloads[typeof kind], opts?: CallOptions) =>
        this.call(kind, payload, opts);
  }

  /** A client on a fresh engine worker bundled by Vite. */
  static create(): EngineClient {
    return new EngineClient(
      new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'medrank-engine' }),
    );
  }

  /** Stop the worker; pending requests reject. */
  terminate(): void {
    this.worker.terminate();
    this.die('terminated by the page');
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Post request `kind` and resolve with its result; `opts.signal` cancels it. */
  call<K extends CallKind>(kind: K, payload: Payloads[K], opts: CallOptions = {}): Promise<ResultOf[K]> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    const { signal, onProgress } = opts;
    return new Promise<ResultOf[K]>((resolve, reject) => {
      const abort = (): void =>
        this.worker.postMessage({ kind: 'cancel', id: this.nextId++, target: id } satisfies EngineRequest);
      signal?.addEventListener('abort', abort, { once: true });
      const done = (): void => signal?.removeEventListener('abort', abort);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress, done });
      this.worker.postMessage({ ...payload, kind, id } as EngineRequest);
      if (signal?.aborted) abort();
    });
  }

  private onMessage(msg: EngineResponse): void {
    const p = this.pending.get(msg.id);
    if (!p) return; // a reply to a request that already failed, or to a cancel: nothing waits for it
    switch (msg.kind) {
      case 'progress': {
        // Every field but kind and id, so a field added to ProgressResponse reaches the caller.
        const { kind: _kind, id: _id, ...progress } = msg;
        if (progress.index) this.onIndex?.(progress.index);
        p.onProgress?.(progress);
        return;
      }
      case 'result':
        this.pending.delete(msg.id);
        p.done();
        p.resolve(msg.value);
        return;
      case 'error':
        this.pending.delete(msg.id);
        p.done();
        p.reject(new EngineError(msg));
        return;
    }
  }

  private die(detail: string): void {
    this.dead ??= new WorkerCrashedError(detail);
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      p.done();
      p.reject(this.dead);
    }
  }
}
