// Uploads and pooled-buffer reuse keep program order: a buffer released by one op and handed to
// a new tensor must not have its upload land before the recorded commands that still read it.
import { afterAll, expect, it } from 'vitest';
import { add, scale } from '../../src/tensor/ops/binary';
import { destroyEngine, getEngine } from './helpers';

afterAll(destroyEngine);

it('an upload into a just-released pooled buffer does not corrupt a pending dispatch', async () => {
  const e = await getEngine();
  await e.gpu.sync();
  const a = e.tensor([1, 2, 3, 4], [4]);
  const tmp = e.tensor([10, 20, 30, 40], [4]);
  const out = add(a, tmp); // recorded, not yet submitted
  tmp.dispose(); // its buffer returns to the pool while the add still reads it
  const b = e.tensor([-1, -1, -1, -1], [4]); // likely gets tmp's buffer back
  const c = scale(b, 2);
  expect(Array.from(await out.read())).toEqual([11, 22, 33, 44]);
  expect(Array.from(await c.read())).toEqual([-2, -2, -2, -2]);
});
