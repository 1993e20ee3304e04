// CPU twin of swap_axes_forward: [A, X, Y, Z] -> [A, Y, X, Z].

import type { CpuTensor } from './types';

export function swapAxes12Cpu(x: CpuTensor): CpuTensor {
  const [A, X, Y, Z] = x.shape as [number, number, number, number];
  const out = new Float32Array(x.data.length);
  for (let a = 0; a < A; a++)
    for (let i = 0; i < X; i++)
      for (let j = 0; j < Y; j++)
        for (let z = 0; z < Z; z++) out[((a * Y + j) * X + i) * Z + z] = x.data[((a * X + i) * Y + j) * Z + z]!;
  return { data: out, shape: [A, Y, X, Z] };
}
