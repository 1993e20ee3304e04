// Every kernel in kernels/ compiles on this adapter without errors or warnings, with its
// default override constants.
import { afterAll, expect, it } from 'vitest';
import { viteKernels } from '../../src/gpu/kernels-vite';
import { destroyEngine, getEngine } from './helpers';

afterAll(destroyEngine);

it('every kernel compiles cleanly', async () => {
  const e = await getEngine();
  const names = Object.keys(viteKernels).sort();
  expect(names.length).toBeGreaterThan(20);
  const problems: string[] = [];
  for (const name of names) {
    const module = e.gpu.device.createShaderModule({ code: viteKernels[name]!, label: name });
    const info = await module.getCompilationInfo();
    for (const m of info.messages) if (m.type !== 'info') problems.push(`${name}:${m.lineNum}: ${m.type}: ${m.message}`);
  }
  expect(problems).toEqual([]);
});
