// The engine worker: the message loop around GpuEngine (engine.ts), which owns the WebGPU device
// and everything on it. Keeping the GPU here keeps long kernels and readbacks off the page's main
// thread. Requests run one at a time, each with its own AbortSignal; `cancel` is handled on
// arrival and aborts its target. Every request kind goes through one path (the engine's method of
// that name, `(payload, { onProgress, signal })`); errors go back as error responses with their
// code (errors.ts). Large arrays (checkpoint tensors, exported weights) are transferred, not
// copied: the engine keeps no reference to them after handing them over.

import { GpuEngine } from './engine';
import { errorResponse, RequestCancelledError } from './errors';
import type { CallKind, EngineRequest, EngineResponse, Payloads, ProgressCallback, ProgressResponse, ResultOf } from './protocol';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const engine = new GpuEngine();
const post = (m: EngineResponse, transfer: Transferable[] = []): void => scope.postMessage(m, transfer);

/** The buffers of a checkpoint's tensors and optimizer moments: fresh GPU readbacks that runTraining does not keep. */
function checkpointBuffers(p: Omit<ProgressResponse, 'kind' | 'id'>): Transferable[] {
  const c = p.trainCheckpoint;
  if (!c) return [];
  const arrays = [...c.params];
  for (const o of [c.optimizers.retriever, c.optimizers.generator])
    for (const mv of o?.moments ?? []) if (mv) arrays.push(mv.m, mv.v);
  return wholeBuffers(arrays);
}

/** Each buffer once (a transfer list may not repeat one), and only whole buffers no one else views. */
const wholeBuffers = (arrays: ArrayBufferView[]): ArrayBuffer[] => [
  ...new Set(
    arrays.filter((a) => a.byteOffset === 0 && a.byteLength === a.buffer.byteLength).map((a) => a.buffer as ArrayBuffer),
  ),
];

/** What a result hands over instead of copying: fresh arrays the engine keeps no reference to. */
const TRANSFER: { [K in CallKind]?: (v: ResultOf[K]) => Transferable[] } = {
  exportWeights: (v) => wholeBuffers([v.bytes]),
  exportBundle: (v) => wholeBuffers(Object.values(v.files)),
};

const progressTo =
  (id: number): ProgressCallback =>
  (p) =>
    post({ kind: 'progress', id, ...p }, checkpointBuffers(p));

/** The running requests' abort controllers, by request id. */
const aborts = new Map<number, AbortController>();

// Requests run one at a time: the GPU queue is serial anyway, and ordering keeps results simple.
let queue: Promise<void> = Promise.resolve();

scope.addEventListener('message', (ev: MessageEvent<EngineRequest>) => {
  const req = ev.data;
  if (req.kind === 'cancel') {
    // Not queued: it must reach the request that is running (or waiting) now.
    const a = aborts.get(req.target);
    a?.abort(new RequestCancelledError('cancelled by the user'));
    post({ kind: 'result', id: req.id, request: 'cancel', value: a !== undefined });
    return;
  }
  aborts.set(req.id, new AbortController());
  queue = queue.then(() => handle(req));
});

async function handle<K extends CallKind>(req: { kind: K; id: number } & Payloads[K]): Promise<void> {
  const { kind, id, ...payload } = req;
  const signal = aborts.get(id)!.signal;
  try {
    if (signal.aborted) throw new RequestCancelledError('cancelled by the user before it started');
    const method = engine[kind] as (
      p: Payloads[K],
      o: { onProgress: ProgressCallback; signal: AbortSignal },
    ) => Promise<ResultOf[K]>;
    const value = await method.call(engine, payload as unknown as Payloads[K], { onProgress: progressTo(id), signal });
    post({ kind: 'result', id, request: kind, value } as EngineResponse, TRANSFER[kind]?.(value) ?? []);
  } catch (err) {
    post(errorResponse(id, err));
  } finally {
    aborts.delete(id);
  }
}
