// The app's one zustand store, built from typed slices. Middleware, if any, goes here only.

import { create } from 'zustand';
import { createGpuSlice, type GpuSlice } from './gpuSlice';
import { createDataSlice, type DataSlice } from './dataSlice';
import { createModelsSlice, type ModelsSlice } from './modelsSlice';
import { createSelfTestSlice, type SelfTestSlice } from './selftestSlice';
import { createTrainingSlice, type TrainingSlice } from './trainingSlice';

export type AppState = GpuSlice & SelfTestSlice & ModelsSlice & DataSlice & TrainingSlice;

export const useStore = create<AppState>()((...a) => ({
  ...createGpuSlice(...a),
  ...createSelfTestSlice(...a),
  ...createModelsSlice(...a),
  ...createDataSlice(...a),
  ...createTrainingSlice(...a),
}));

export type { GpuStatus } from './gpuSlice';
