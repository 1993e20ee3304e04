// contiguous() of a transposed view runs transpose_forward; its backward transposes the
// gradient back into the base's storage. The CPU twin is transposeLast2.
import { afterAll, expect, it } from 'vitest';
import { contiguous } from '../../src/tensor/ops/common';
import { swapAxes12 } from '../../src/tensor/ops/swap-axes';
import { swapAxes12Cpu } from '../../src/tensor/cpu/swap-axes';
import { add, mul } from '../../src/tensor/ops/binary';
import { transposeLast2 } from '../../src/tensor/tensor';
import { destroyEngine, expectClose, getEngine, randn } from './helpers';
import { gradcheck } from './gradcheck';

afterAll(destroyEngine);

it('contiguous(x.T) over a batch, with edges that are not multiples of the 16x16 tile', async () => {
  const e = await getEngine();
  const d = randn(3 * 37 * 20, 5);
  const x = e.tensor(d, [3, 37, 20], { requiresGrad: true });
  const y = contiguous(x.T);
  expect(y.shape).toEqual([3, 20, 37]);
  // The view's logical data is the transpose of x's: transposeLast2 reads storage [3,37,20] as [3,20,37].
  const ref = transposeLast2(d, [3, 20, 37]);
  expectClose(await y.read(), ref, { atol: 0 }, 'forward');
  const g = randn(y.size, 6);
  e.backward(y, e.tensor(g, y.shape));
  expectClose(await x.grad!.read(), transposeLast2(g, [3, 37, 20]), { atol: 0 }, 'backward');
});

it('elementwise ops on a view go through contiguous, and gradients reach the base', async () => {
  const e = await getEngine();
  await gradcheck(
    e,
    ([a, b]) => mul(add(a!.T, b!), b!),
    [
      { data: randn(12, 7), shape: [4, 3] },
      { data: randn(12, 8), shape: [3, 4] },
    ],
    { label: 'view' },
  );
});

it('swapAxes12 moves heads before tokens and back, with its gradient', async () => {
  const e = await getEngine();
  const shape = [2, 5, 3, 8];
  const d = randn(2 * 5 * 3 * 8, 11);
  const x = e.tensor(d, shape, { requiresGrad: true });
  const y = swapAxes12(x);
  expect(y.shape).toEqual([2, 3, 5, 8]);
  expectClose(await y.read(), swapAxes12Cpu({ data: d, shape }).data, { atol: 0 }, 'forward');
  const g = randn(y.size, 12);
  e.backward(y, e.tensor(g, y.shape));
  expectClose(await x.grad!.read(), swapAxes12Cpu({ data: g, shape: [2, 3, 5, 8] }).data, { atol: 0 }, 'backward');
  await gradcheck(e, ([a]) => mul(swapAxes12(a!), swapAxes12(a!)), [{ data: randn(2 * 3 * 2 * 4, 13), shape: [2, 3, 2, 4] }], {
    label: 'swapAxes12',
  });
});
