// The app's one zustand store, built from typed slices. Middleware, if any, goes here only.

import { create } from 'zustand';
import { createGpuSlice, type GpuSlice } from './gpuSlice';
import { createDataSlice, type DataSlice } from './dataSlice';
import { createModelsSlice, type ModelsSlice } from './modelsSlice';
import { createSelfTestSlice, type SelfTestSlice } from './selftestSlice';
import { createNotebookSlice, type NotebookSlice } from './notebookSlice';
import { createRunsSlice, type RunsSlice } from './runsSlice';
import { createTextsSlice, type TextsSlice } from './textsSlice';

export type AppState = GpuSlice & SelfTestSlice & ModelsSlice & DataSlice & NotebookSlice & RunsSlice & TextsSlice;

export const useStore = create<AppState>()((...a) => ({
  ...createGpuSlice(...a),
  ...createSelfTestSlice(...a),
  ...createModelsSlice(...a),
  ...createDataSlice(...a),
  ...createNotebookSlice(...a),
  ...createRunsSlice(...a),
  ...createTextsSlice(...a),
}));

export type { GpuStatus } from './gpuSlice';
