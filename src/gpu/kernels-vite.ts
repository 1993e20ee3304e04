// Kernel sources for code bundled by Vite (the app, its worker, browser tests): every
// kernels/*.wgsl file imported as a string at build time.

import type { KernelSource } from './pipelines';

const files = import.meta.glob('../../kernels/**/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<
  string,
  string
>;

// Names are paths under kernels/ without .wgsl: 'matmul_forward', 'lib/erf'.
export const viteKernels: KernelSource = Object.fromEntries(
  Object.entries(files).map(([path, code]) => [path.slice(path.indexOf('kernels/') + 'kernels/'.length, -'.wgsl'.length), code]),
);
