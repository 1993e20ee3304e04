// Training sanity: a small MLP learns a task no linear model can (three interleaved spirals)
// with the engine's own matmul, bias, gelu, cross-entropy, autograd and AdamW. If any backward
// pass or the optimizer were wrong, the loss would not fall this far.
import { afterAll, expect, it } from 'vitest';
import { linear } from '../../src/tensor/ops/matmul';
import { gelu } from '../../src/tensor/ops/activations';
import { crossEntropy } from '../../src/tensor/ops/cross-entropy';
import { AdamW } from '../../src/tensor/optim/adamw';
import type { Engine, Tensor } from '../../src/tensor/tensor';
import { destroyEngine, getEngine, randn, rng } from './helpers';

afterAll(destroyEngine);

/** Three spiral arms of `perClass` points each, with a little seeded noise. */
function spirals(perClass: number, seed: number): { x: Float32Array; y: Int32Array } {
  const r = rng(seed);
  const n = 3 * perClass;
  const x = new Float32Array(2 * n);
  const y = new Int32Array(n);
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < perClass; i++) {
      const k = c * perClass + i;
      const radius = i / perClass;
      const angle = (c * 2 * Math.PI) / 3 + radius * 4 + (r() - 0.5) * 0.2;
      x[2 * k] = radius * Math.cos(angle);
      x[2 * k + 1] = radius * Math.sin(angle);
      y[k] = c;
    }
  return { x, y };
}

function layer(e: Engine, fanIn: number, fanOut: number, seed: number, name: string): { w: Tensor; b: Tensor } {
  return {
    w: e.param(randn(fanOut * fanIn, seed, Math.sqrt(2 / fanIn)), [fanOut, fanIn], `${name}.weight`),
    b: e.param(new Float32Array(fanOut), [fanOut], `${name}.bias`),
  };
}

it('an MLP trained with AdamW separates three spirals (loss < 0.1, accuracy > 95%)', async () => {
  const e = await getEngine();
  const { x, y } = spirals(100, 7);
  const X = e.tensor(x, [300, 2]).keep();
  const l1 = layer(e, 2, 48, 1, 'l1'),
    l2 = layer(e, 48, 48, 2, 'l2'),
    l3 = layer(e, 48, 3, 3, 'l3');
  const params = [l1, l2, l3].flatMap((l) => [l.w, l.b]);
  const opt = new AdamW(e, params, { lr: 0.02, weightDecay: 1e-4, maxGradNorm: 5 });
  const forward = () => linear(gelu(linear(gelu(linear(X, l1.w, l1.b)), l2.w, l2.b)), l3.w, l3.b);

  const losses: number[] = [];
  for (let step = 0; step < 150; step++) {
    const loss = e.scope(() => {
      const loss = crossEntropy(forward(), y); // forward
      opt.zeroGrad(); // zero grad
      e.backward(loss); // backward
      opt.step(); // update
      return loss;
    });
    if (step % 50 === 0 || step === 149) losses.push(await loss.item());
    loss.dispose();
  }
  const logits = await e.noGrad(forward).read();
  let correct = 0;
  for (let i = 0; i < 300; i++) {
    const row = logits.subarray(3 * i, 3 * i + 3);
    if (row.indexOf(Math.max(...row)) === y[i]) correct++;
  }
  expect(losses[0]).toBeGreaterThan(0.7); // starts near chance (ln 3 = 1.10)
  expect(losses.at(-1)).toBeLessThan(0.1);
  for (let i = 1; i < losses.length; i++) expect(losses[i]!).toBeLessThan(losses[i - 1]!);
  expect(correct / 300).toBeGreaterThan(0.95);
  expect(Number.isFinite(await opt.lastGradNorm())).toBe(true);
});
