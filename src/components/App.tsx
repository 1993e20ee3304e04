// The app shell (connected): restores the notebook from this browser (or opens the demo one),
// connects to the GPU, and shows the notebook. Without WebGPU the notebook still opens (saved runs,
// charts and the inspector need no GPU) under help on how to get WebGPU. A lost device says how to
// go on: the notebook and runs are saved, a reload starts a new device. The adapter and the kernel
// self-test are under "This browser's GPU" (the self-test also runs on load with ?selftest=1).

import { useEffect } from 'react';
import { useStore } from '../store';
import { AdapterPanel } from './AdapterPanel';
import { NoWebGpu } from './NoWebGpu';
import { Notebook } from './Notebook';
import { SelfTestPanel } from './SelfTestPanel';

const NO_WEBGPU = new Set<string | null>(['no-webgpu', 'no-adapter']);

export function App() {
  const gpu = useStore((s) => s.gpu);
  const selftest = useStore((s) => s.selftest);
  const deviceLost = useStore(
    (s) =>
      s.models.retriever.errorCode === 'device-lost' ||
      s.models.generator.errorCode === 'device-lost' ||
      Object.values(s.runs.errors).some((e) => e.code === 'device-lost'),
  );
  const { connectGpu, runSelfTest, openNotebook } = useStore.getState();

  useEffect(() => {
    void openNotebook();
    void connectGpu();
  }, [connectGpu, openNotebook]);

  const autoSelfTest = new URLSearchParams(window.location.search).get('selftest') === '1';
  const ranOnce = selftest.running || selftest.results.length > 0 || selftest.error !== null;
  useEffect(() => {
    if (autoSelfTest && gpu.status === 'ready' && !ranOnce) void runSelfTest();
  }, [autoSelfTest, gpu.status, ranOnce, runSelfTest]);

  return (
    <div className="app" data-testid="app">
      <header>
        <h1>MedRank</h1>
        <p className="muted">
          Train a retriever and a generator together on medical QA, in your browser on WebGPU, and see why it works.
        </p>
        <p className="status" role="status" data-testid="gpu-status" data-status={gpu.status}>
          GPU: {STATUS_TEXT[gpu.status]}
        </p>
      </header>
      <main>
        {gpu.status === 'error' && NO_WEBGPU.has(gpu.errorCode) && (
          <NoWebGpu noAdapter={gpu.errorCode === 'no-adapter'} message={gpu.error} />
        )}
        {gpu.status === 'error' && !NO_WEBGPU.has(gpu.errorCode) && (
          <section className="panel" role="alert" data-testid="gpu-error">
            <h2>Could not start the GPU engine</h2>
            <p className="error">{gpu.error}</p>
            <p>Your notebook and saved runs are below and stay saved; reload the page to try the GPU again.</p>
          </section>
        )}
        {deviceLost && (
          <section className="panel help" role="alert" data-testid="device-lost">
            <h2>The GPU device was lost</h2>
            <p>
              The browser reset the GPU (a driver update, a crash or too much memory). The notebook and every run up to its last
              checkpoint are saved. Reload the page, run the setup cells again, then resume the run from its checkpoint.
            </p>
            <button type="button" onClick={() => location.reload()}>
              Reload the page
            </button>
          </section>
        )}
        <Notebook gpuReady={gpu.status === 'ready'} />
        <details className="panel system" open={autoSelfTest || undefined}>
          <summary>This browser&apos;s GPU</summary>
          {gpu.info && <AdapterPanel info={gpu.info} />}
          {gpu.status === 'ready' && (
            <SelfTestPanel
              running={selftest.running}
              results={selftest.results}
              total={selftest.total}
              totalMs={selftest.timings.totalMs}
              error={selftest.error}
              disabled={gpu.status !== 'ready'}
              onRun={() => void runSelfTest()}
            />
          )}
        </details>
      </main>
    </div>
  );
}

const STATUS_TEXT: Record<string, string> = {
  idle: 'not connected',
  connecting: 'connecting…',
  ready: 'ready',
  error: 'unavailable',
};
