// The Index cell (connected): index the dataset's passages with the loaded retriever (saved in
// the browser, so a reload does not re-encode), then search it to see what the retriever finds.

import { useState } from 'react';
import type { IndexCell as IndexCellConfig } from '../../notebook/schema';
import { useStore } from '../../store';
import { indexUsable } from '../../store/dataSlice';
import { CellFrame } from './CellFrame';
import { ProgressLine } from './ProgressLine';

export function IndexCell({ cell, index, count }: { cell: IndexCellConfig; index: number; count: number }) {
  const data = useStore((s) => s.data);
  const retrieverReady = useStore((s) => s.models.retriever.status === 'ready');
  const { buildIndex, cancelData, search } = useStore.getState();
  const [query, setQuery] = useState('');
  const building = data.index.status === 'building';
  const s = data.summary;
  const blocked = !s
    ? 'load a dataset first'
    : !retrieverReady
      ? 'load a retriever first'
      : s.passages === 0
        ? 'the dataset has no passages'
        : null;
  return (
    <CellFrame
      id={cell.id}
      kind="index"
      index={index}
      count={count}
      status={
        building
          ? { text: 'building…', tone: 'busy' }
          : data.index.status === 'ready'
            ? { text: `${data.index.summary?.docs ?? 0} passages indexed`, tone: 'ok' }
            : data.index.status === 'moved'
              ? { text: 'the retriever moved: reopened when next used' }
              : data.index.status === 'error'
                ? { text: 'failed', tone: 'bad' }
                : { text: blocked ?? 'not built' }
      }
      actions={
        <button type="button" disabled={Boolean(blocked) || building} onClick={() => void buildIndex()}>
          Build index
        </button>
      }
    >
      {blocked && <p className="muted">{blocked[0]!.toUpperCase() + blocked.slice(1)} (cells above).</p>}
      {data.index.status === 'moved' && (
        <p className="muted" data-testid="index-moved">
          A run trained the retriever (or the models were reset) since this index was built, so its document vectors no longer
          match. The next search, evaluation or run reopens it for the retriever as it is then: from this browser when those
          weights were indexed before, else encoded again (its progress says so). Build index does it now.
        </p>
      )}
      {building && (
        <ProgressLine p={data.index.progress} testId="index-progress" onStop={() => cancelData('buildIndex')} label="Indexing" />
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
      {indexUsable(data.index.status) && (
        <form
          className="row"
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
    </CellFrame>
  );
}
