// Data and index (connected): load the built-in demo set, dataset files from this computer, or
// files from URLs (streamed, with progress and cancel); see what was read; index the passages
// with the loaded retriever (saved in the browser, so a reload does not re-encode) and search.

import { useState } from 'react';
import { DATASET_FILES, FORMAT_NAMES, type DatasetFormat } from '../data/datasets';
import { useStore } from '../store';
import type { Progress } from '../store/dataSlice';

const FORMATS = Object.keys(FORMAT_NAMES) as DatasetFormat[];

/** File keys of a format, as parseDataset names them, with the file a user would pick. */
const FILE_HINTS: Record<string, string> = {
  data: 'the data file',
  corpus: 'corpus.jsonl',
  queries: 'queries.jsonl',
  qrels: 'qrels/test.tsv',
  questions: 'questions.jsonl',
};

function ProgressLine({ p, testId, onCancel }: { p: Progress | null; testId: string; onCancel: () => void }) {
  return (
    <div data-testid={testId} className="row">
      <progress value={p?.done ?? 0} max={p?.total || undefined} />
      <span className="muted">{p?.message ?? 'starting…'}</span>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

export function DataPanel() {
  const data = useStore((s) => s.data);
  const retrieverReady = useStore((s) => s.models.retriever.status === 'ready');
  const { loadDataset, buildIndex, cancelData, search } = useStore.getState();
  const [format, setFormat] = useState<DatasetFormat>('pubmedqa');
  const [files, setFiles] = useState<Record<string, File>>({});
  const [urls, setUrls] = useState<Record<string, string>>({});
  const [query, setQuery] = useState('');
  const keys = [...DATASET_FILES[format].required, ...DATASET_FILES[format].optional];
  const loading = data.status === 'loading';
  const s = data.summary;

  return (
    <section className="panel" aria-labelledby="data-title" data-testid="data-panel">
      <h2 id="data-title">Data and index</h2>
      <div className="row">
        <button type="button" disabled={loading} onClick={() => void loadDataset({ kind: 'demo' })}>
          Load the built-in demo set
        </button>
        <span className="muted">480 passages and 500 questions, written by MedRank (no download)</span>
      </div>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const chosenFiles = Object.fromEntries(Object.entries(files).filter(([k]) => keys.includes(k)));
          const chosenUrls = Object.fromEntries(Object.entries(urls).filter(([k, v]) => keys.includes(k) && v.trim()));
          if (Object.keys(chosenFiles).length) void loadDataset({ kind: 'files', format, files: chosenFiles });
          else if (Object.keys(chosenUrls).length) void loadDataset({ kind: 'url', format, urls: chosenUrls });
        }}
      >
        <label>
          Format
          <select value={format} onChange={(e) => setFormat(e.target.value as DatasetFormat)} aria-label="dataset format">
            {FORMATS.map((f) => (
              <option key={f} value={f}>
                {FORMAT_NAMES[f]}
              </option>
            ))}
          </select>
        </label>
        {keys.map((k) => (
          <fieldset key={k} className="row">
            <legend>
              {FILE_HINTS[k] ?? k}
              {DATASET_FILES[format].optional.includes(k) ? ' (optional)' : ''}
            </legend>
            <input
              type="file"
              aria-label={`${k} file`}
              data-testid={`dataset-file-${k}`}
              onChange={(e) => {
                const f = e.target.files?.[0];
                setFiles((old) => {
                  const next = { ...old };
                  if (f) next[k] = f;
                  else delete next[k];
                  return next;
                });
              }}
            />
            <input
              placeholder="or a URL"
              aria-label={`${k} URL`}
              value={urls[k] ?? ''}
              onChange={(e) => setUrls((old) => ({ ...old, [k]: e.target.value }))}
            />
          </fieldset>
        ))}
        <button type="submit" disabled={loading}>
          Load dataset
        </button>
      </form>
      {loading && <ProgressLine p={data.progress} testId="dataset-progress" onCancel={() => cancelData('loadDataset')} />}
      {data.error && (
        <p className="error" role="alert" data-testid="dataset-error">
          {data.error}
        </p>
      )}
      {s && (
        <p data-testid="dataset-summary">
          <strong>{s.name}</strong> ({FORMAT_NAMES[s.format]}): <span data-testid="dataset-questions">{s.questions}</span>{' '}
          questions (
          {Object.entries(s.kinds)
            .map(([k, n]) => `${n} ${k}`)
            .join(', ')}
          ; {s.withGold} with gold passages), <span data-testid="dataset-passages">{s.passages}</span> passages.
        </p>
      )}
      {s && (
        <div className="row">
          <button
            type="button"
            disabled={!retrieverReady || data.index.status === 'building' || s.passages === 0}
            onClick={() => void buildIndex()}
          >
            Build index
          </button>
          {!retrieverReady && <span className="muted">load a retriever above first</span>}
        </div>
      )}
      {data.index.status === 'building' && (
        <ProgressLine p={data.index.progress} testId="index-progress" onCancel={() => cancelData('buildIndex')} />
      )}
      {data.index.error && (
        <p className="error" role="alert" data-testid="index-error">
          {data.index.error}
        </p>
      )}
      {data.index.summary && (
        <p data-testid="index-summary" data-from-cache={String(data.index.summary.fromCache)}>
          Index: {data.index.summary.docs} passages, {data.index.summary.tokens} vectors,{' '}
          {data.index.summary.fromCache
            ? 'loaded from this browser'
            : `built in ${(data.index.summary.buildMs / 1000).toFixed(1)} s`}
          {data.index.summary.saveError ? ` (not saved: ${data.index.summary.saveError})` : ''}
        </p>
      )}
      {data.index.status === 'ready' && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (query.trim()) void search(query.trim());
          }}
        >
          <label>
            Search
            <input value={query} onChange={(e) => setQuery(e.target.value)} aria-label="search query" />
          </label>
          <button type="submit">Search</button>
        </form>
      )}
      {data.searchError && (
        <p className="error" role="alert">
          {data.searchError}
        </p>
      )}
      {data.hits && (
        <ol data-testid="search-hits">
          {data.hits.map((h) => (
            <li key={h.id}>
              <span className="score">{h.score.toFixed(2)}</span> <code>{h.id}</code> {h.text}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
