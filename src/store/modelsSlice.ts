// The `models` slice: the retriever and generator loaded in the worker, their download progress,
// a short summary of each, and a quick try (generate text; score documents) to see they work.

import type { StateCreator } from 'zustand';
import type { FrozenDtype, GenerateResult, ModelRole, ModelSourceSpec, ModelSummary, RetrieveResult } from '../worker/protocol';
import type { ModelRef } from '../notebook/schema';
import { engineClient, failureCode, type FailureCode } from './engine';
import type { AppState } from './index';

export interface ModelState {
  status: 'empty' | 'loading' | 'ready' | 'error';
  progress: { done: number; total: number; message: string } | null;
  summary: ModelSummary | null;
  error: string | null;
  /** What the failure was, to branch on (store/engine.ts). */
  errorCode: FailureCode | null;
  /** The thrown class's name, for display and bug reports. */
  errorClass: string | null;
}

export interface ModelsSlice {
  models: Record<ModelRole, ModelState> & {
    generated: GenerateResult | null;
    retrieved: RetrieveResult | null;
    busy: boolean;
    tryError: string | null;
  };
  /** Load a model; frozenDtype 'f16' stores its frozen matrices as packed halves (half the memory; trains through LoRA). */
  loadModel: (role: ModelRole, source: ModelSourceSpec, frozenDtype?: FrozenDtype) => Promise<void>;
  /** Stop the download or read of `role` under way (the model loaded before stays). */
  stopModel: (role: ModelRole) => void;
  tryGenerate: (prompt: string, maxNewTokens?: number) => Promise<void>;
  tryRetrieve: (query: string, docs: string[]) => Promise<void>;
}

/** The built-in demo models the app serves (public/demo/models/, `npm run make-demo-models`). */
const DEMO_MODELS: Record<ModelRole, string> = {
  retriever: '/demo/models/retriever',
  generator: '/demo/models/generator',
};
/** The demo's dense retriever (`npm run make-demo-dense`), the retriever role's other demo model. */
const DEMO_DENSE = '/demo/models/dense-retriever';

/** The source a remembered model reloads from; null for a local folder (it must be picked again). */
export function modelSource(role: ModelRole, ref: ModelRef): ModelSourceSpec | null {
  switch (ref.kind) {
    case 'demo':
      // Absolute on the page: the worker would resolve a relative URL against its own script URL.
      return {
        kind: 'url',
        url: new URL(ref.model === 'dense-retriever' ? DEMO_DENSE : DEMO_MODELS[role], location.origin).href,
      };
    case 'hub':
      return { kind: 'hub', repo: ref.repo, revision: ref.revision ?? 'main' };
    case 'url':
      return { kind: 'url', url: ref.url };
    case 'folder':
      return null;
  }
}

/** How the notebook remembers a model source (a local folder by its name; the demo by name) and its storage ('f16' only when chosen). */
export function modelRef(source: ModelSourceSpec, frozenDtype: FrozenDtype = 'f32'): ModelRef {
  return withFrozenDtype(sourceRef(source), frozenDtype);
}

/** The reference with this storage ('f16' kept as a field; 'f32', the default, as none). */
export function withFrozenDtype(ref: ModelRef, frozenDtype: FrozenDtype): ModelRef {
  const { frozenDtype: _old, ...rest } = ref;
  return (frozenDtype === 'f16' ? { ...rest, frozenDtype } : rest) as ModelRef;
}

function sourceRef(source: ModelSourceSpec): ModelRef {
  switch (source.kind) {
    case 'hub':
      return { kind: 'hub', repo: source.repo, ...(source.revision ? { revision: source.revision } : {}) };
    case 'url': {
      const m = /\/demo\/models\/(retriever|generator|dense-retriever)\/?$/.exec(new URL(source.url, 'http://x').pathname);
      const here = typeof location === 'undefined' || new URL(source.url, location.href).origin === location.origin;
      if (!m || !here) return { kind: 'url', url: source.url };
      return m[1] === 'dense-retriever' ? { kind: 'demo', model: 'dense-retriever' } : { kind: 'demo' };
    }
    case 'folder':
      return { kind: 'folder', label: source.label ?? 'a local folder' };
  }
}

const EMPTY: ModelState = { status: 'empty', progress: null, summary: null, error: null, errorCode: null, errorClass: null };

export const createModelsSlice: StateCreator<AppState, [], [], ModelsSlice> = (set, get) => {
  const patch = (role: ModelRole, p: Partial<ModelState>): void =>
    set((s) => ({ models: { ...s.models, [role]: { ...s.models[role], ...p } } }));
  const patchTry = (p: Partial<ModelsSlice['models']>): void => set((s) => ({ models: { ...s.models, ...p } }));
  /** A try failed; if the worker no longer has that model (a lost device), show it as gone. */
  const tryFailed = (role: ModelRole, err: unknown): void => {
    const e = err as Error;
    patchTry({ tryError: e.message });
    if (failureCode(err) === 'model-not-loaded')
      patch(role, { ...EMPTY, error: e.message, errorCode: 'model-not-loaded', errorClass: e.name });
  };
  /** The signal of each role's load under way, which stopModel aborts. */
  const aborts: Partial<Record<ModelRole, AbortController>> = {};
  return {
    models: { retriever: EMPTY, generator: EMPTY, generated: null, retrieved: null, busy: false, tryError: null },
    loadModel: async (role, source, frozenDtype = 'f32') => {
      if (get().models[role].status === 'loading') return;
      patch(role, { status: 'loading', progress: null, error: null, errorCode: null, errorClass: null });
      try {
        const summary = await engineClient().loadModel(
          { role, source, frozenDtype },
          { onProgress: (p) => patch(role, { progress: p }), signal: (aborts[role] = new AbortController()).signal },
        );
        patch(role, { status: 'ready', summary });
        // Fresh weights: no run has trained them, and the worker put the other model back as loaded
        // too (a retriever it put back no longer matches the index); the notebook remembers the source.
        set((s) => ({
          runs: { ...s.runs, trainedBy: null, models: { from: 'loaded' }, modelsName: null },
          data:
            role === 'generator' && s.runs.models.from === 'run' && s.data.index.status === 'ready'
              ? { ...s.data, hits: null, index: { ...s.data.index, status: 'moved' } }
              : s.data,
        }));
        if (role === 'retriever') get().clearTexts('maxsim'); // token matches were the old retriever's
        get().rememberModel(role, modelRef(source, frozenDtype));
      } catch (err) {
        const e = err as Error & { errorClass?: string };
        // A failed load keeps the previous model (the worker swaps only on success).
        patch(role, {
          status: get().models[role].summary ? 'ready' : 'error',
          error: e.message,
          errorCode: failureCode(err),
          errorClass: e.errorClass ?? e.name,
        });
      }
    },
    stopModel: (role) => aborts[role]?.abort(),
    tryGenerate: async (prompt, maxNewTokens = 24) => {
      patchTry({ busy: true, tryError: null });
      try {
        patchTry({ generated: await engineClient().generate({ prompt, maxNewTokens, temperature: 0, seed: 0 }) });
      } catch (err) {
        tryFailed('generator', err);
      } finally {
        patchTry({ busy: false });
      }
    },
    tryRetrieve: async (query, docs) => {
      patchTry({ busy: true, tryError: null });
      try {
        patchTry({ retrieved: await engineClient().retrieve({ query, docs }) });
      } catch (err) {
        tryFailed('retriever', err);
      } finally {
        patchTry({ busy: false });
      }
    },
  };
};
