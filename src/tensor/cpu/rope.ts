// CPU twin of rotary position embedding (HF rotate_half: dim i pairs with i + R/2 over the first
// R dims of each head, R = 2 * cos.shape[1]; dims R .. Dh-1 pass through, GPT-NeoX's partial rotary).
// B = batch, T = tokens, H = heads, Dh = head dim; x: [B, T, H, Dh], cos/sin: [P, R/2],
// positions: [T] or [B, T].

import type { CpuTensor } from './types';

/** Rotate every pair by +angle (or -angle when inverse, which is also the backward). */
export function ropeForwardCpu(
  x: CpuTensor,
  cos: CpuTensor,
  sin: CpuTensor,
  positions: ArrayLike<number>,
  inverse = false,
): CpuTensor {
  const [B, T, H, Dh] = x.shape as [number, number, number, number];
  const half = cos.shape[1]!;
  const batched = positions.length === B * T && B > 1;
  const out = Float32Array.from(x.data); // passed-through dims keep their values
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      const pos = positions[batched ? b * T + t : t]!;
      for (let h = 0; h < H; h++) {
        const base = ((b * T + t) * H + h) * Dh;
        for (let i = 0; i < half; i++) {
          const c = cos.data[pos * half + i]!,
            s = (inverse ? -1 : 1) * sin.data[pos * half + i]!;
          const a = x.data[base + i]!,
            v = x.data[base + i + half]!;
          out[base + i] = a * c - v * s;
          out[base + i + half] = v * c + a * s;
        }
      }
    }
  return { data: out, shape: [...x.shape] };
}

/** dx = R(-angle) g: the transpose of a rotation is its inverse. */
export function ropeBackwardCpu(g: CpuTensor, cos: CpuTensor, sin: CpuTensor, positions: ArrayLike<number>): CpuTensor {
  return ropeForwardCpu(g, cos, sin, positions, true);
}
