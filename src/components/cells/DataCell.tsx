// The Data cell (connected): load the built-in demo set, dataset files from this computer, or
// files from URLs (streamed, with progress and Stop) and see what was read. The notebook
// remembers the source (local files by name), so Run reloads it after a reload of the page. The
// Format menu starts at the remembered source's format (the demo set is JSONL QA) and follows it
// when another load changes it; choosing another format drops the files and URLs chosen for the
// one before (their roles differ: BEIR's corpus is not JSONL QA's).

import { useState } from 'react';
import { DATASET_FILES, FORMAT_NAMES, type DatasetFormat } from '../../data/datasets';
import { DATA_REF, type DataCell as DataCellConfig, type DataRef } from '../../notebook/schema';
import { useStore } from '../../store';
import { dataSource } from '../../store/dataSlice';
import { ProgressLine } from './ProgressLine';
import { CellFrame } from './CellFrame';
import { FieldError, schemaProblem } from './FieldError';
import { useConfirmedRun } from './ConfirmSources';

const FORMATS = Object.keys(FORMAT_NAMES) as DatasetFormat[];

/** File keys of a format, as parseDataset names them, with the file a user would pick. */
const FILE_HINTS: Record<string, string> = {
  data: 'the data file',
  corpus: 'corpus.jsonl',
  queries: 'queries.jsonl',
  qrels: 'qrels/test.tsv',
  questions: 'questions.jsonl',
};

/** The format a remembered source is read as (the demo set is JSONL QA: questions and a corpus). */
export const formatOf = (src: DataRef): DatasetFormat => (src.kind === 'demo' ? 'jsonl' : src.format);

/** Why a typed dataset address cannot be kept (the notebook's rule for a URL source), or null (also when nothing is typed). */
export const urlProblem = (format: DatasetFormat, key: string, text: string): string | null =>
  text.trim() ? schemaProblem(DATA_REF, { kind: 'url', format, urls: { [key]: text.trim() } }) : null;

export function DataCell({ cell, index, count }: { cell: DataCellConfig; index: number; count: number }) {
  const data = useStore((s) => s.data);
  const { loadDataset, cancelData } = useStore.getState();
  const src = cell.source;
  const [format, setFormat] = useState<DatasetFormat>(() => formatOf(src));
  const [files, setFiles] = useState<Record<string, File>>({});
  const [urls, setUrls] = useState<Record<string, string>>(() => (src.kind === 'url' ? { ...src.urls } : {}));
  // The source as last seen: a load (here or from Run setup) that changes it moves the menu with it.
  const [seen, setSeen] = useState(src);
  if (seen !== src) {
    setSeen(src);
    if (formatOf(src) !== formatOf(seen) && formatOf(src) !== format) choose(formatOf(src));
  }
  const keys = [...DATASET_FILES[format].required, ...DATASET_FILES[format].optional];
  const loading = data.status === 'loading';
  const s = data.summary;
  const bad = Object.fromEntries(
    keys.map((k) => [k, urlProblem(format, k, urls[k] ?? '')]).filter(([, p]) => p !== null),
  ) as Record<string, string>;
  /** Another format: its files have other roles, so nothing chosen for the one before carries over. */
  function choose(f: DatasetFormat): void {
    setFormat(f);
    setFiles({});
    setUrls({});
  }

  const source = dataSource(src);
  const load = (): void => void (source && loadDataset(source));
  const gate = useConfirmedRun(cell, load);
  const rerun = gate.start;
  return (
    <CellFrame
      id={cell.id}
      kind="data"
      index={index}
      count={count}
      status={
        loading
          ? { text: 'loading…', tone: 'busy' }
          : s
            ? { text: `${s.name}: ${s.questions} questions, ${s.passages} passages`, tone: 'ok' }
            : { text: 'not loaded' }
      }
      actions={
        <button type="button" disabled={loading || !source} onClick={rerun} aria-label="Run the Data cell">
          Run
        </button>
      }
    >
      {gate.panel}
      <p className="muted" data-testid="data-source">
        Source:{' '}
        {src.kind === 'demo'
          ? 'the built-in demo set'
          : src.kind === 'url'
            ? `${FORMAT_NAMES[src.format]} from ${Object.values(src.urls).join(', ')}`
            : `${FORMAT_NAMES[src.format]} files ${Object.values(src.names).join(', ')} (choose them again below to reload)`}
      </p>
      <div className="row">
        <button type="button" disabled={loading} onClick={() => void loadDataset({ kind: 'demo' })}>
          Load the built-in demo set
        </button>
        <span className="muted">1,500 passages and 3,000 questions, written by MedRank (no download)</span>
      </div>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (Object.keys(bad).length) return;
          const chosenFiles = Object.fromEntries(Object.entries(files).filter(([k]) => keys.includes(k)));
          const chosenUrls = Object.fromEntries(
            Object.entries(urls)
              .filter(([k, v]) => keys.includes(k) && v.trim())
              .map(([k, v]) => [k, v.trim()]),
          );
          if (Object.keys(chosenFiles).length) void loadDataset({ kind: 'files', format, files: chosenFiles });
          else if (Object.keys(chosenUrls).length) void loadDataset({ kind: 'url', format, urls: chosenUrls });
        }}
      >
        <label>
          Format
          <select
            value={format}
            onChange={(e) => choose(e.target.value as DatasetFormat)}
            aria-label="dataset format"
            data-testid="dataset-format"
          >
            {FORMATS.map((f) => (
              <option key={f} value={f}>
                {FORMAT_NAMES[f]}
              </option>
            ))}
          </select>
        </label>
        {keys.map((k) => (
          // Keyed by format too: a file input cannot be emptied, only made anew.
          <fieldset key={`${format}:${k}`} className="row">
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
              data-testid={`dataset-url-${k}`}
              value={urls[k] ?? ''}
              aria-invalid={k in bad}
              aria-describedby={k in bad ? `${cell.id}-error-${k}` : undefined}
              onChange={(e) => setUrls((old) => ({ ...old, [k]: e.target.value }))}
            />
            {k in bad && (
              <FieldError id={`${cell.id}-error-${k}`} testId={`dataset-error-${k}`}>
                {bad[k]}
              </FieldError>
            )}
          </fieldset>
        ))}
        <button type="submit" disabled={loading || Object.keys(bad).length > 0}>
          Load dataset
        </button>
      </form>
      {loading && (
        <ProgressLine
          p={data.progress}
          testId="dataset-progress"
          onStop={() => cancelData('loadDataset')}
          label="Reading the dataset"
        />
      )}
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
    </CellFrame>
  );
}
