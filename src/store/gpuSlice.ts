// The `gpu` slice: connecting to the engine worker's WebGPU device and what the adapter is.

import type { StateCreator } from 'zustand';
import { WebGpuUnavailableError } from '../gpu/errors';
import type { GpuInfo } from '../worker/protocol';
import { engineClient, failureCode, pageHasWebGpu, type FailureCode } from './engine';
import type { AppState } from './index';

export type GpuStatus = 'idle' | 'connecting' | 'ready' | 'error';

export interface GpuSlice {
  gpu: {
    status: GpuStatus;
    info: GpuInfo | null;
    /** Class name of the error (e.g. 'WebGpuUnavailableError'), for choosing the help to show. */
    /** What the failure was, to branch on (store/engine.ts). */
    errorCode: FailureCode | null;
    /** The thrown class's name, for display and bug reports. */
    errorClass: string | null;
    error: string | null;
  };
  /** Acquire the device in the worker. A no-op while connecting or once ready. */
  connectGpu: () => Promise<void>;
}

export const createGpuSlice: StateCreator<AppState, [], [], GpuSlice> = (set, get) => ({
  gpu: { status: 'idle', info: null, errorCode: null, errorClass: null, error: null },
  connectGpu: async () => {
    const s = get().gpu.status;
    if (s === 'connecting' || s === 'ready') return;
    set({ gpu: { status: 'connecting', info: null, errorCode: null, errorClass: null, error: null } });
    try {
      // Checked on the page first: no worker is started for nothing, and the answer is the same.
      if (!pageHasWebGpu()) throw new WebGpuUnavailableError('navigator.gpu is undefined');
      const info = await engineClient().init({});
      set({ gpu: { status: 'ready', info, errorCode: null, errorClass: null, error: null } });
    } catch (err) {
      const e = err as Error;
      set({
        gpu: {
          status: 'error',
          info: null,
          errorCode: failureCode(err),
          errorClass: e.name ?? 'Error',
          error: e.message ?? String(err),
        },
      });
    }
  },
});
