import { afterAll, describe, expect, it } from 'vitest';
import { AdamW } from '../../src/tensor/optim/adamw';
import { adamwStepCpu, gradNormCpu } from '../../src/tensor/cpu/adamw';
import { destroyEngine, expectClose, getEngine, randn } from './helpers';

afterAll(destroyEngine);

describe('AdamW with global-norm clipping', () => {
  for (const maxGradNorm of [0, 0.5])
    it(`three steps match the CPU twin (maxGradNorm ${maxGradNorm}, two groups, 5000-element param spans chunks)`, async () => {
      const e = await getEngine();
      const sizes = [5000, 7];
      const init = sizes.map((n, i) => randn(n, 50 + i));
      const params = init.map((d, i) => e.param(d, [d.length], `p${i}`));
      const groups = [
        { params: [params[0]!], lr: 1e-2, weightDecay: 0.1 },
        { params: [params[1]!], lr: 3e-3, weightDecay: 0 },
      ];
      const opt = new AdamW(e, groups, { betas: [0.9, 0.99], eps: 1e-8, maxGradNorm });
      const cpuP = init.map((d) => Float32Array.from(d));
      const m = sizes.map((n) => new Float32Array(n)),
        v = sizes.map((n) => new Float32Array(n));
      for (let t = 1; t <= 3; t++) {
        const grads = sizes.map((n, i) => randn(n, 100 * t + i, 0.05));
        opt.zeroGrad();
        params.forEach((p, i) => (p.grad = e.tensor(grads[i]!, [sizes[i]!]).keep()));
        opt.step();
        expect(await opt.lastGradNorm()).toBeCloseTo(gradNormCpu(grads), 3);
        // The CPU twin takes one group at a time; the clip uses the global norm, so scale here.
        const norm = gradNormCpu(grads);
        const clip = maxGradNorm > 0 && norm > maxGradNorm ? maxGradNorm / (norm + 1e-6) : 1;
        groups.forEach((g, k) => {
          adamwStepCpu([cpuP[k]!], [grads[k]!.map((x) => x * clip)], [m[k]!], [v[k]!], t, {
            lr: g.lr,
            betas: [0.9, 0.99],
            eps: 1e-8,
            weightDecay: g.weightDecay,
            maxGradNorm: 0,
          });
        });
      }
      for (let k = 0; k < 2; k++) expectClose(await params[k]!.read(), cpuP[k]!, { atol: 2e-6, rtol: 1e-5 }, `param ${k}`);
      opt.dispose();
    });

  it('skips parameters without a gradient and leaves them unchanged', async () => {
    const e = await getEngine();
    const a = e.param([1, 2, 3], [3], 'a');
    const b = e.param([4, 5, 6], [3], 'b');
    const opt = new AdamW(e, [a, b], { lr: 0.1 });
    a.grad = e.tensor([1, 1, 1], [3]).keep();
    opt.step();
    expectClose(await b.read(), [4, 5, 6], { atol: 0 }, 'b untouched');
    const av = await a.read();
    expect(av[0]).toBeLessThan(1);
  });
});
