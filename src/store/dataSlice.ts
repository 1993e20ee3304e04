// The `data` slice: the dataset loaded in the worker (the built-in demo, files, or URLs), the
// ColBERT index over its passages, and search results; with progress and cancel for both reads.

import type { StateCreator } from 'zustand';
import type { DatasetSourceSpec, DatasetSummary, IndexSummary, SearchHit } from '../worker/protocol';
import type { DataRef } from '../notebook/schema';
import { engineClient, onIndexChanged } from './engine';
import type { AppState } from './index';

export interface Progress {
  done: number;
  total: number;
  message: string;
  /** The worker's own estimate of the milliseconds left (a run counts every phase still to come). */
  etaMs?: number;
}

export interface DataSlice {
  data: {
    status: 'empty' | 'loading' | 'ready' | 'error';
    progress: Progress | null;
    summary: DatasetSummary | null;
    error: string | null;
    index: {
      /** moved: the retriever trained (or was reset) since the index was built; the worker reopens it when next used. */
      status: 'none' | 'building' | 'ready' | 'moved' | 'error';
      progress: Progress | null;
      summary: IndexSummary | null;
      error: string | null;
    };
    hits: SearchHit[] | null;
    searchError: string | null;
  };
  loadDataset: (source: DatasetSourceSpec) => Promise<void>;
  buildIndex: () => Promise<void>;
  cancelData: (what: 'loadDataset' | 'buildIndex') => void;
  search: (query: string, k?: number) => Promise<void>;
}

/** The source a remembered dataset reloads from; null for local files (they must be chosen again). */
export function dataSource(ref: DataRef): DatasetSourceSpec | null {
  if (ref.kind === 'demo') return { kind: 'demo' };
  if (ref.kind === 'url') return { kind: 'url', format: ref.format, urls: { ...ref.urls } };
  return null;
}

/** How the notebook remembers a dataset source (local files by their names only). */
export function dataRef(source: DatasetSourceSpec): DataRef {
  if (source.kind === 'demo') return { kind: 'demo' };
  if (source.kind === 'url') return { kind: 'url', format: source.format, urls: { ...source.urls } };
  const names = Object.fromEntries(Object.entries(source.files).map(([k, f]) => [k, f instanceof File ? f.name : k]));
  return { kind: 'files', format: source.format, names };
}

/** Whether an index is there for a run, an evaluation or a search (a moved one is reopened on the way). */
export const indexUsable = (status: DataSlice['data']['index']['status']): boolean => status === 'ready' || status === 'moved';

export const createDataSlice: StateCreator<AppState, [], [], DataSlice> = (set, get) => {
  const patch = (p: Partial<DataSlice['data']>): void => set((s) => ({ data: { ...s.data, ...p } }));
  const patchIndex = (p: Partial<DataSlice['data']['index']>): void =>
    set((s) => ({ data: { ...s.data, index: { ...s.data.index, ...p } } }));
  // Whichever request reopened the index after the retriever moved, the Index cell shows it.
  onIndexChanged((summary) => patchIndex({ status: 'ready', summary, error: null, progress: null }));
  /** The signal of the running read or build, which cancelData aborts. */
  const aborts: Partial<Record<'loadDataset' | 'buildIndex', AbortController>> = {};
  const abortFor = (what: 'loadDataset' | 'buildIndex'): AbortSignal => (aborts[what] = new AbortController()).signal;
  return {
    data: {
      status: 'empty',
      progress: null,
      summary: null,
      error: null,
      index: { status: 'none', progress: null, summary: null, error: null },
      hits: null,
      searchError: null,
    },
    loadDataset: async (source) => {
      if (get().data.status === 'loading') return;
      patch({ status: 'loading', progress: null, error: null });
      try {
        const summary = await engineClient().loadDataset(
          { source },
          { onProgress: (p) => patch({ progress: p }), signal: abortFor('loadDataset') },
        );
        // A new corpus: the old index and results no longer apply.
        patch({ status: 'ready', summary, hits: null });
        get().rememberData(dataRef(source));
        get().clearTexts('all'); // another corpus: ids may mean other texts now
        patchIndex({ status: 'none', progress: null, summary: null, error: null });
      } catch (err) {
        // The worker keeps the previous dataset when a read fails or is cancelled.
        patch({ status: get().data.summary ? 'ready' : 'error', error: (err as Error).message });
      }
    },
    buildIndex: async () => {
      if (get().data.index.status === 'building') return;
      patchIndex({ status: 'building', progress: null, error: null });
      try {
        const summary = await engineClient().buildIndex(
          {},
          { onProgress: (p) => patchIndex({ progress: p }), signal: abortFor('buildIndex') },
        );
        patchIndex({ status: 'ready', summary });
      } catch (err) {
        patchIndex({ status: 'error', error: (err as Error).message });
      }
    },
    cancelData: (what) => aborts[what]?.abort(),
    search: async (query, k = 5) => {
      patch({ searchError: null });
      try {
        patch({ hits: await engineClient().search({ query, k }) });
      } catch (err) {
        patch({ searchError: (err as Error).message });
      }
    },
  };
};
