// The engine worker: owns the WebGPU device and everything on it, and answers EngineRequests.
// Keeping the GPU here keeps long kernels and readbacks off the page's main thread. Errors,
// typed ones from the GPU layer included, go back as `error` responses carrying their class name.

import { acquireGpu, type Gpu, type GpuInfo } from '../gpu/device';
import { viteKernels } from '../gpu/kernels-vite';
import { Engine } from '../tensor/tensor';
import { runSelfTest, type SelfTestResult } from '../tensor/selftest';
import { errorResponse, type EngineApi, type EngineRequest, type EngineResponse, type ProgressCallback } from './protocol';

class GpuEngine implements EngineApi {
  private gpu: Gpu | null = null;
  private engine: Engine | null = null;
  private acquiring: Promise<Engine> | null = null;

  /** The tensor engine on a live device; a lost device is replaced by a fresh one. */
  private async ready(): Promise<Engine> {
    if (this.engine && this.gpu && !this.gpu.isLost) return this.engine;
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

  async dispose(): Promise<null> {
    this.gpu?.destroy();
    this.gpu = null;
    this.engine = null;
    return null;
  }
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
      default: {
        const unknown: never = req;
        throw new Error(`unknown request ${JSON.stringify(unknown)}`);
      }
    }
  } catch (err) {
    post(errorResponse(req.id, err));
  }
}
