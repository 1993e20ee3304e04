// The app shell (connected): connects to the GPU on load, shows the adapter or the help for
// missing WebGPU, and the kernel self-test (also run on load when the URL has ?selftest=1).

import { useEffect } from 'react';
import { useStore } from '../store';
import { AdapterPanel } from './AdapterPanel';
import { NoWebGpu } from './NoWebGpu';
import { DataPanel } from './DataPanel';
import { ModelsPanel } from './ModelsPanel';
import { SelfTestPanel } from './SelfTestPanel';
import { TrainPanel } from './TrainPanel';

const NO_WEBGPU = new Set(['WebGpuUnavailableError', 'AdapterUnavailableError']);

export function App() {
  const gpu = useStore((s) => s.gpu);
  const selftest = useStore((s) => s.selftest);
  const connectGpu = useStore((s) => s.connectGpu);
  const runSelfTest = useStore((s) => s.runSelfTest);

  useEffect(() => {
    void connectGpu();
  }, [connectGpu]);

  const autoSelfTest = new URLSearchParams(window.location.search).get('selftest') === '1';
  const ranOnce = selftest.running || selftest.results.length > 0 || selftest.error !== null;
  useEffect(() => {
    if (autoSelfTest && gpu.status === 'ready' && !ranOnce) void runSelfTest();
  }, [autoSelfTest, gpu.status, ranOnce, runSelfTest]);

  return (
    <div className="app" data-testid="app">
      <header>
        <h1>MedRank</h1>
        <p className="muted">Retrieval + generation for medical QA, trained in your browser on WebGPU.</p>
        <p className="status" role="status" data-testid="gpu-status" data-status={gpu.status}>
          GPU: {STATUS_TEXT[gpu.status]}
        </p>
      </header>
      <main>
        {gpu.status === 'error' && NO_WEBGPU.has(gpu.errorClass ?? '') && (
          <NoWebGpu errorClass={gpu.errorClass} message={gpu.error} />
        )}
        {gpu.status === 'error' && !NO_WEBGPU.has(gpu.errorClass ?? '') && (
          <section className="panel" role="alert" data-testid="gpu-error">
            <h2>Could not start the GPU engine</h2>
            <p className="error">{gpu.error}</p>
          </section>
        )}
        {gpu.info && <AdapterPanel info={gpu.info} />}
        {gpu.status === 'ready' && <ModelsPanel />}
        {gpu.status === 'ready' && <DataPanel />}
        {gpu.status === 'ready' && <TrainPanel />}
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
