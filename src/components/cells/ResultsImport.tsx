// "Import results…": a results.json from `npm run experiment --out` or the PyTorch twin
// (docs/cluster.md) as a run, from a Train cell (a run of it) or a Compare cell (a run of the first
// Train cell, added to the comparison). The store validates it before anything changes.

import { useRef } from 'react';
import { useStore } from '../../store';

/** Import a results.json as a run (of this Train cell, or from a Compare cell); says what came in, or where the file is wrong. */
export function ResultsImport({ cellId, onImported }: { cellId: string; onImported?: (runId: string) => void }) {
  const outcome = useStore((s) => s.runs.imports[cellId]);
  const input = useRef<HTMLInputElement>(null);
  const onFile = async (f: File | undefined): Promise<void> => {
    if (!f) return;
    const id = await useStore.getState().importResults(cellId, f, f.name);
    if (id) onImported?.(id);
  };
  return (
    <>
      <button
        type="button"
        onClick={() => input.current?.click()}
        data-testid="import-results"
        title="a results.json from npm run experiment --out or the PyTorch twin (docs/cluster.md)"
      >
        Import results…
      </button>
      <input
        ref={input}
        type="file"
        accept=".json,application/json"
        className="visually-hidden"
        aria-label="results file to import as a run"
        data-testid="import-results-file"
        tabIndex={-1}
        onChange={(e) => {
          const f = e.target.files?.[0];
          e.target.value = '';
          void onFile(f);
        }}
      />
      {outcome?.error && (
        <p className="error" role="alert" data-testid="import-results-error">
          {outcome.error}
        </p>
      )}
      {outcome?.message && (
        <p className="ok" role="status" data-testid="import-results-message">
          {outcome.message}
        </p>
      )}
    </>
  );
}
