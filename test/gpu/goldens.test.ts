// MaxSim and S2-Attn against goldens from an independent PyTorch implementation
// (scripts/goldens/make_kernel_goldens.py; see test/goldens/README.md). Each golden file holds a
// case's inputs and the reference outputs and gradients under the kernel runner's names.
import { afterAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '../../src/tensor/safetensors';
import { runOp } from '../../scripts/kernel/run-op';
import type { RunnerOp } from '../../scripts/kernel/ops';
import { RUNNER_OPS } from '../../scripts/kernel/ops';
import { destroyEngine, expectClose, getEngine } from './helpers';

afterAll(destroyEngine);

const files = import.meta.glob('../goldens/*.safetensors', { query: '?url', import: 'default', eager: true }) as Record<
  string,
  string
>;

describe('goldens from PyTorch', () => {
  it('exist for both ops', () => {
    const names = Object.keys(files).map((f) => f.slice(f.lastIndexOf('/') + 1));
    expect(names.filter((n) => n.startsWith('maxsim_')).length).toBeGreaterThanOrEqual(2);
    expect(names.filter((n) => n.startsWith('s2attn_')).length).toBeGreaterThanOrEqual(4);
  });

  for (const [path, url] of Object.entries(files)) {
    const name = path.slice(path.lastIndexOf('/') + 1, -'.safetensors'.length);
    const op = name.split('_')[0] as RunnerOp;
    it(`${name}: outputs and gradients match within 1e-4 relative`, async () => {
      const e = await getEngine();
      const { tensors, metadata } = parseSafetensors(await (await fetch(url)).arrayBuffer());
      const ratio = Number(metadata?.ratio ?? 1);
      const shift = (metadata?.shift ?? 'roll') as 'roll' | 'split' | 'none';
      const out = await runOp(e, op, tensors, { ratio, shift });
      for (const key of RUNNER_OPS[op].outputs) {
        const want = tensors.get(key);
        expect(want, `golden ${name} has no "${key}"`).toBeDefined();
        expect(out[key]!.shape).toEqual(want!.shape);
        expectClose(out[key]!.data, want!.data as Float32Array, { atol: 1e-5, rtol: 1e-4 }, `${name} ${key}`);
      }
    });
  }
});
