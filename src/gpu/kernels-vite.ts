// Kernel sources for code bundled by Vite (the app, its worker, browser tests): every
// kernels/*.wgsl file imported as a string at build time.

import type { KernelSource } from './pipelines';

const files = import.meta.glob('../../kernels/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<
  string,
  string
>;

export const viteKernels: KernelSource = Object.fromEntries(
  Object.entries(files).map(([path, code]) => [path.slice(path.lastIndexOf('/') + 1, -'.wgsl'.length), code]),
);
