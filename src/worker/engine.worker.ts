// The engine worker: the message loop around GpuEngine (engine.ts), which owns the WebGPU device
// and everything on it. Keeping the GPU here keeps long kernels and readbacks off the page's main
// thread. Requests run one at a time; `cancel` is handled on arrival. Errors go back as `error`
// responses carrying their class name. Large arrays (checkpoint tensors, exported weights) are
// transferred, not copied: the engine keeps no reference to them after handing them over.

import { GpuEngine, RequestCancelledError } from './engine';
import { errorResponse, type EngineRequest, type EngineResponse, type ProgressCallback, type ProgressResponse } from './protocol';

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
  // Each buffer once (a transfer list may not repeat one), and only whole buffers no one else views.
  return [...new Set(arrays.filter((a) => a.byteOffset === 0 && a.byteLength === a.buffer.byteLength).map((a) => a.buffer))];
}

const progressTo =
  (id: number): ProgressCallback =>
  (p) =>
    post({ kind: 'progress', id, ...p }, checkpointBuffers(p));

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
        const value = await engine.selftest(progressTo(req.id));
        post({ kind: 'result', id: req.id, request: 'selftest', value });
        return;
      }
      case 'dispose':
        post({ kind: 'result', id: req.id, request: 'dispose', value: await engine.dispose() });
        return;
      case 'loadModel': {
        const value = await engine.loadModel(req.role, req.source, progressTo(req.id));
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
        const value = await engine.loadDataset(req.source, progressTo(req.id), req.id);
        post({ kind: 'result', id: req.id, request: 'loadDataset', value });
        return;
      }
      case 'buildIndex': {
        const value = await engine.buildIndex(progressTo(req.id), req.id);
        post({ kind: 'result', id: req.id, request: 'buildIndex', value });
        return;
      }
      case 'search':
        post({ kind: 'result', id: req.id, request: 'search', value: await engine.search(req.query, req.k) });
        return;
      case 'train': {
        const run = { runId: req.runId, resume: req.resume };
        const value = await engine.train(req.config, progressTo(req.id), run, req.id);
        post({ kind: 'result', id: req.id, request: 'train', value });
        return;
      }
      case 'lookup':
        post({ kind: 'result', id: req.id, request: 'lookup', value: await engine.lookup(req) });
        return;
      case 'maxsim':
        post({ kind: 'result', id: req.id, request: 'maxsim', value: await engine.maxsim(req) });
        return;
      case 'evaluate': {
        const value = await engine.evaluate(req, progressTo(req.id), req.id);
        post({ kind: 'result', id: req.id, request: 'evaluate', value });
        return;
      }
      case 'exportWeights': {
        const value = await engine.exportWeights(req);
        // A fresh array the engine keeps no reference to: hand its buffer over.
        post({ kind: 'result', id: req.id, request: 'exportWeights', value }, [value.bytes.buffer as ArrayBuffer]);
        return;
      }
      case 'exportBundle': {
        const value = await engine.exportBundle(req, progressTo(req.id));
        // Fresh arrays (the engine copies what it read): hand their buffers over, each once.
        const buffers = new Set(Object.values(value.files).map((b) => b.buffer as ArrayBuffer));
        post({ kind: 'result', id: req.id, request: 'exportBundle', value }, [...buffers]);
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
