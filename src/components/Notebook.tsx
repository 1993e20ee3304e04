// The notebook (connected): its title and save state, the toolbar (run the setup cells, export and
// import the notebook, export results and weights), the cells in order, a way to add one, and the
// storage the notebook's runs use, with delete. It shows without WebGPU too: saved runs, charts
// and the inspector need no GPU; cells that do say so.

import { useRef, useState, type ChangeEvent } from 'react';
import { evalsToCsv, recordsToCsv, resultsJson } from '../notebook/csv';
import { CELL_KINDS, type Cell, type CellKind } from '../notebook/schema';
import { useStore } from '../store';
import { dataSource } from '../store/dataSlice';
import { modelSource } from '../store/modelsSlice';
import { formatBytes } from '../core/format';
import { CELL_TITLES } from './cells/CellFrame';
import { download } from './download';
import { CompareCell } from './cells/CompareCell';
import { DataCell } from './cells/DataCell';
import { EvaluateCell } from './cells/EvaluateCell';
import { IndexCell } from './cells/IndexCell';
import { InspectCell } from './cells/InspectCell';
import { MarkdownCell } from './cells/MarkdownCell';
import { ModelsCell } from './cells/ModelsCell';
import { TrainCell } from './cells/TrainCell';

const slug = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-|-$/g, '') || 'notebook';

function CellView({ cell, index, count }: { cell: Cell; index: number; count: number }) {
  const p = { index, count };
  switch (cell.kind) {
    case 'markdown':
      return <MarkdownCell cell={cell} {...p} />;
    case 'data':
      return <DataCell cell={cell} {...p} />;
    case 'models':
      return <ModelsCell cell={cell} {...p} />;
    case 'index':
      return <IndexCell cell={cell} {...p} />;
    case 'train':
      return <TrainCell cell={cell} {...p} />;
    case 'evaluate':
      return <EvaluateCell cell={cell} {...p} />;
    case 'inspect':
      return <InspectCell cell={cell} {...p} />;
    case 'compare':
      return <CompareCell cell={cell} {...p} />;
  }
}

export function Notebook({ gpuReady }: { gpuReady: boolean }) {
  const nb = useStore((s) => s.notebook);
  const { setTitle, addCell } = useStore.getState();
  const [kind, setKind] = useState<CellKind>('markdown');
  const cells = nb.doc.cells;
  return (
    <div className="notebook" data-testid="notebook" data-notebook-id={nb.doc.id} data-restored={nb.restored}>
      <div className="notebook-head">
        <label className="visually-hidden" htmlFor="notebook-title">
          Notebook title
        </label>
        <input id="notebook-title" className="title-input" value={nb.doc.title} onChange={(e) => setTitle(e.target.value)} />
        <SaveState />
      </div>
      {nb.storageProblem && (
        <p className="help panel" role="alert" data-testid="storage-problem">
          This notebook is not being saved in this browser: {nb.storageProblem} Export it (below) to keep your work.
        </p>
      )}
      <Toolbar gpuReady={gpuReady} />
      {cells.map((c, i) => (
        // Keyed by notebook too: a cell's local state (text being typed) never outlives its notebook.
        <CellView key={`${nb.doc.id}:${c.id}`} cell={c} index={i} count={cells.length} />
      ))}
      <div className="panel row add-cell">
        <label>
          Add a cell{' '}
          <select value={kind} onChange={(e) => setKind(e.target.value as CellKind)} aria-label="kind of cell to add">
            {CELL_KINDS.map((k) => (
              <option key={k} value={k}>
                {CELL_TITLES[k]}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => addCell(kind, null)}>
          Add
        </button>
      </div>
      <StoragePanel />
    </div>
  );
}

function SaveState() {
  const save = useStore((s) => s.notebook.save);
  const text =
    save.state === 'pending' || save.state === 'saving'
      ? 'saving…'
      : save.state === 'saved'
        ? `saved ${new Date(save.at!).toLocaleTimeString()}`
        : save.state === 'error'
          ? `not saved: ${save.error}`
          : '';
  return (
    <span className={save.state === 'error' ? 'error' : 'muted'} role="status" data-testid="save-state" data-state={save.state}>
      {text}
    </span>
  );
}

function Toolbar({ gpuReady }: { gpuReady: boolean }) {
  const nb = useStore((s) => s.notebook);
  const runs = useStore((s) => s.runs);
  const models = useStore((s) => s.models);
  const { exportNotebook, importNotebook, exportWeights, loadRecords, resetToDemo } = useStore.getState();
  const fileInput = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | null>(null);

  const doExport = async (): Promise<void> => {
    setBusy(true);
    try {
      download(await exportNotebook(), `${slug(nb.doc.title)}.medrank.json`);
    } finally {
      setBusy(false);
    }
  };
  const exportResults = async (format: 'json' | 'csv'): Promise<void> => {
    const withRecords = await Promise.all(runs.list.map(async (meta) => ({ meta, records: await loadRecords(meta.id) })));
    if (format === 'json')
      download(new Blob([resultsJson(withRecords)], { type: 'application/json' }), `${slug(nb.doc.title)}-results.json`);
    else {
      download(new Blob([recordsToCsv(withRecords)], { type: 'text/csv' }), `${slug(nb.doc.title)}-steps.csv`);
      download(new Blob([evalsToCsv(runs.list)], { type: 'text/csv' }), `${slug(nb.doc.title)}-evals.csv`);
    }
  };
  const doWeights = async (role: 'retriever' | 'generator'): Promise<void> => {
    setMessage(null);
    try {
      const { fileName, blob } = await exportWeights(role);
      download(blob, `${role}-${fileName}`);
    } catch (err) {
      setMessage((err as Error).message);
    }
  };
  const onImport = async (e: ChangeEvent<HTMLInputElement>): Promise<void> => {
    const f = e.target.files?.[0];
    e.target.value = '';
    if (f) await importNotebook(f);
  };

  return (
    <div className="panel toolbar notebook-toolbar" role="toolbar" aria-label="Notebook">
      <SetupButton gpuReady={gpuReady} />
      <button type="button" disabled={busy} onClick={() => void doExport()} data-testid="export-notebook">
        Export notebook
      </button>
      <button type="button" onClick={() => fileInput.current?.click()} data-testid="import-notebook">
        Import notebook
      </button>
      <input
        ref={fileInput}
        type="file"
        accept=".json,application/json"
        className="visually-hidden"
        aria-label="notebook file to import"
        data-testid="import-file"
        tabIndex={-1}
        onChange={(e) => void onImport(e)}
      />
      <button type="button" disabled={!runs.list.length} onClick={() => void exportResults('json')}>
        Results as JSON
      </button>
      <button type="button" disabled={!runs.list.length} onClick={() => void exportResults('csv')}>
        Results as CSV
      </button>
      <button type="button" disabled={models.retriever.status !== 'ready'} onClick={() => void doWeights('retriever')}>
        Retriever weights
      </button>
      <button type="button" disabled={models.generator.status !== 'ready'} onClick={() => void doWeights('generator')}>
        Generator weights
      </button>
      <button
        type="button"
        disabled={Boolean(runs.active)}
        onClick={() => {
          if (confirm('Open a fresh demo notebook? This one stays saved: open it again under Storage.')) resetToDemo();
        }}
      >
        New demo notebook
      </button>
      {nb.importError && (
        <p className="error" role="alert" data-testid="import-error">
          Could not import: {nb.importError}
        </p>
      )}
      {nb.importMessage && (
        <p className="ok" role="status" data-testid="import-message">
          {nb.importMessage}
        </p>
      )}
      {nb.openMessage && (
        <p className="muted" role="status" data-testid="open-message">
          {nb.openMessage}{' '}
          <button type="button" className="link" onClick={() => useStore.getState().dismissOpenMessage()}>
            OK
          </button>
        </p>
      )}
      {message && (
        <p className="error" role="alert">
          {message}
        </p>
      )}
    </div>
  );
}

/** Run the setup cells in order: data, models, then the index (the demo's first minute, one click). */
function SetupButton({ gpuReady }: { gpuReady: boolean }) {
  const cells = useStore((s) => s.notebook.doc.cells);
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (): Promise<void> => {
    const s = useStore.getState();
    setRunning(true);
    setError(null);
    try {
      const data = cells.find((c) => c.kind === 'data');
      if (data?.kind === 'data') {
        const source = dataSource(data.source);
        if (!source) throw new Error('the Data cell reads local files: choose them again in the Data cell');
        await s.loadDataset(source);
        if (useStore.getState().data.status !== 'ready')
          throw new Error(useStore.getState().data.error ?? 'the dataset did not load');
      }
      const models = cells.find((c) => c.kind === 'models');
      if (models?.kind === 'models') {
        const roles = ['retriever', 'generator'] as const;
        const sources = roles.map((r) => modelSource(r, models[r]));
        if (sources.some((x) => !x)) throw new Error('a model comes from a local folder: pick it again in the Models cell');
        await Promise.all(roles.map((r, i) => s.loadModel(r, sources[i]!, models[r].frozenDtype)));
        const m = useStore.getState().models;
        if (m.retriever.status !== 'ready' || m.generator.status !== 'ready')
          throw new Error(m.retriever.error ?? m.generator.error ?? 'the models did not load');
      }
      if (cells.some((c) => c.kind === 'index')) {
        await useStore.getState().buildIndex();
        if (useStore.getState().data.index.status !== 'ready')
          throw new Error(useStore.getState().data.index.error ?? 'the index was not built');
      }
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setRunning(false);
    }
  };
  return (
    <>
      <button type="button" disabled={!gpuReady || running} onClick={() => void run()} data-testid="run-setup">
        {running ? 'Setting up…' : 'Run setup (data, models, index)'}
      </button>
      {error && (
        <p className="error" role="alert" data-testid="setup-error">
          {error}
        </p>
      )}
    </>
  );
}

function StoragePanel() {
  const runs = useStore((s) => s.runs);
  const notebooks = useStore((s) => s.notebook.list);
  const openId = useStore((s) => s.notebook.doc.id);
  const { deleteRun, refreshUsage, switchNotebook, deleteNotebook } = useStore.getState();
  const u = runs.usage;
  return (
    <section className="panel" aria-labelledby="storage-title" data-testid="storage-panel">
      <h2 id="storage-title">Storage</h2>
      <p className="muted">
        Runs are saved in this browser (IndexedDB) as they go: their settings, every step&apos;s record, evaluations and the last
        checkpoint.{' '}
        {u && (
          <span data-testid="storage-total">
            This notebook&apos;s runs: {formatBytes(u.totalBytes)}
            {u.usage !== null && u.quota !== null
              ? `; the site uses ${formatBytes(u.usage)} of ${formatBytes(u.quota)} allowed`
              : ''}
            .
          </span>
        )}{' '}
        <button type="button" className="link" onClick={() => void refreshUsage()}>
          Refresh
        </button>
      </p>
      {runs.saveError && !runs.active && (
        <p className="error" role="alert" data-testid="storage-save-error">
          {runs.saveError}
        </p>
      )}
      {notebooks.length > 1 && (
        <table data-testid="storage-notebooks">
          <caption>Notebooks in this browser</caption>
          <thead>
            <tr>
              <th scope="col">Notebook</th>
              <th scope="col" className="num">
                Runs
              </th>
              <th scope="col">Changed</th>
              <th scope="col">
                <span className="visually-hidden">Open or delete</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {notebooks.map((n) => (
              <tr key={n.id} data-testid="storage-notebook-row" aria-current={n.id === openId || undefined}>
                <th scope="row">
                  {n.title}
                  {n.id === openId ? ' (open)' : ''}
                </th>
                <td className="num">{n.runs}</td>
                <td>{new Date(n.updatedAt).toLocaleString()}</td>
                <td>
                  {n.id !== openId && (
                    <>
                      <button type="button" disabled={Boolean(runs.active)} onClick={() => void switchNotebook(n.id)}>
                        Open
                      </button>{' '}
                      <button
                        type="button"
                        aria-label={`Delete notebook ${n.title}`}
                        onClick={() => {
                          if (confirm(`Delete the notebook “${n.title}” and its ${n.runs} runs? This cannot be undone.`))
                            void deleteNotebook(n.id);
                        }}
                      >
                        Delete
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {u && u.runs.length > 0 && (
        <table data-testid="storage-runs">
          <caption>Runs of this notebook</caption>
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col" className="num">
                Size
              </th>
              <th scope="col">
                <span className="visually-hidden">Delete</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {u.runs.map((r) => (
              <tr key={r.id} data-testid="storage-run-row">
                <th scope="row">{r.name}</th>
                <td className="num">{formatBytes(r.bytes)}</td>
                <td>
                  <button
                    type="button"
                    disabled={runs.active?.id === r.id}
                    aria-label={`Delete ${r.name}`}
                    onClick={() => {
                      if (confirm(`Delete ${r.name} with its records and checkpoint? This cannot be undone.`))
                        void deleteRun(r.id);
                    }}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
