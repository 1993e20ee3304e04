// The kernel self-test: a Run button, one row per case (pass/fail, max abs diff, ms), a summary.
// Presentational; App wires it to the store.

import type { SelfTestResult } from '../worker/protocol';

export interface SelfTestPanelProps {
  running: boolean;
  results: SelfTestResult[];
  total: number | null;
  totalMs: number | null;
  error: string | null;
  disabled: boolean;
  onRun: () => void;
}

export function SelfTestPanel({ running, results, total, totalMs, error, disabled, onRun }: SelfTestPanelProps) {
  const passed = results.filter((r) => r.pass).length;
  const done = !running && results.length > 0;
  return (
    <section className="panel" aria-labelledby="selftest-title" data-testid="selftest-panel">
      <h2 id="selftest-title">Kernel self-test</h2>
      <p className="muted">
        Runs each GPU op on small random inputs, forward and backward, and compares it with its CPU reference.
      </p>
      <div className="toolbar">
        <button
          type="button"
          onClick={onRun}
          disabled={disabled || running}
          data-testid="selftest-run"
          aria-describedby="selftest-status"
        >
          {running ? 'Running…' : 'Run self-test'}
        </button>
        <span id="selftest-status" role="status" aria-live="polite" data-testid="selftest-status">
          {running
            ? `Running ${results.length}/${total ?? '?'}…`
            : done && (
                <strong className={passed === results.length ? 'ok' : 'bad'} data-testid="selftest-summary">
                  {passed}/{results.length} passed
                  {totalMs !== null && <span className="muted"> in {(totalMs / 1000).toFixed(1)} s</span>}
                </strong>
              )}
        </span>
      </div>
      {error && (
        <p className="error" role="alert" data-testid="selftest-error">
          {error}
        </p>
      )}
      {results.length > 0 && (
        <table data-testid="selftest-table">
          <caption className="visually-hidden">Self-test results</caption>
          <thead>
            <tr>
              <th scope="col">Case</th>
              <th scope="col">Result</th>
              <th scope="col" className="num">
                Max abs diff
              </th>
              <th scope="col" className="num">
                ms
              </th>
            </tr>
          </thead>
          <tbody>
            {results.map((r) => (
              <tr key={r.name} data-testid="selftest-row" data-pass={r.pass ? 'true' : 'false'}>
                <th scope="row">{r.name}</th>
                <td className={r.pass ? 'ok' : 'bad'} title={r.detail}>
                  {r.pass ? 'pass' : 'FAIL'}
                  {!r.pass && r.detail && <div className="detail">{r.detail}</div>}
                </td>
                <td className="num">{Number.isFinite(r.maxAbsDiff) ? r.maxAbsDiff.toExponential(2) : '∞'}</td>
                <td className="num">{r.ms.toFixed(0)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
