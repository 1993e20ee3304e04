// Every kernel in kernels/ compiles on this adapter without errors or warnings, with its
// default override constants and its lib/ includes resolved.
import { afterAll, expect, it } from 'vitest';
import { viteKernels } from '../../src/gpu/kernels-vite';
import { resolveKernel } from '../../src/gpu/pipelines';
import { destroyEngine, getEngine } from './helpers';

afterAll(destroyEngine);

it('every kernel compiles cleanly', async () => {
  const e = await getEngine();
  const names = e.gpu.pipelines.kernelNames();
  expect(names.length).toBeGreaterThan(20);
  const problems: string[] = [];
  for (const name of names) {
    const module = e.gpu.device.createShaderModule({ code: resolveKernel(name, viteKernels), label: name });
    const info = await module.getCompilationInfo();
    for (const m of info.messages) if (m.type !== 'info') problems.push(`${name}:${m.lineNum}: ${m.type}: ${m.message}`);
  }
  expect(problems).toEqual([]);
});
