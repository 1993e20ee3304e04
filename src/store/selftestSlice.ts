// The `selftest` slice: running the kernel self-test in the worker and its streamed results.

import type { StateCreator } from 'zustand';
import type { SelfTestResult } from '../worker/protocol';
import { engineClient } from './engine';
import type { AppState } from './index';

export interface SelfTestSlice {
  selftest: {
    running: boolean;
    results: SelfTestResult[];
    /** Cases in the current run (known from the first progress message). */
    total: number | null;
    timings: { startedAt: number | null; totalMs: number | null };
    error: string | null;
  };
  /** Run the self-test (needs a ready GPU). A no-op while one is running. */
  runSelfTest: () => Promise<void>;
}

export const createSelfTestSlice: StateCreator<AppState, [], [], SelfTestSlice> = (set, get) => ({
  selftest: { running: false, results: [], total: null, timings: { startedAt: null, totalMs: null }, error: null },
  runSelfTest: async () => {
    if (get().selftest.running || get().gpu.status !== 'ready') return;
    const startedAt = performance.now();
    set({ selftest: { running: true, results: [], total: null, timings: { startedAt, totalMs: null }, error: null } });
    const patch = (p: Partial<SelfTestSlice['selftest']>): void => set((st) => ({ selftest: { ...st.selftest, ...p } }));
    try {
      const results = await engineClient().selftest(
        {},
        {
          onProgress: (p) => {
            const r = p.case;
            patch({ total: p.total, ...(r ? { results: [...get().selftest.results, r] } : {}) });
          },
        },
      );
      patch({ running: false, results, total: results.length, timings: { startedAt, totalMs: performance.now() - startedAt } });
    } catch (err) {
      patch({
        running: false,
        error: (err as Error).message ?? String(err),
        timings: { startedAt, totalMs: performance.now() - startedAt },
      });
    }
  },
});
