// CPU twin of AdamW with global-norm clipping (torch.optim.AdamW + clip_grad_norm_ semantics).

export interface AdamWCpuOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  maxGradNorm: number;
}

export function gradNormCpu(grads: Float32Array[]): number {
  let s = 0;
  for (const g of grads) for (const x of g) s += x * x;
  return Math.sqrt(s);
}

/** Updates params, m and v in place for step t (1-based). */
export function adamwStepCpu(
  params: Float32Array[],
  grads: Float32Array[],
  m: Float32Array[],
  v: Float32Array[],
  t: number,
  o: AdamWCpuOptions,
): void {
  const norm = gradNormCpu(grads);
  const clip = o.maxGradNorm > 0 && norm > o.maxGradNorm ? o.maxGradNorm / (norm + 1e-6) : 1;
  const [b1, b2] = o.betas;
  const bc1 = 1 - b1 ** t,
    bc2 = 1 - b2 ** t;
  params.forEach((p, k) => {
    const g = grads[k]!,
      mk = m[k]!,
      vk = v[k]!;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! * clip;
      mk[i] = b1 * mk[i]! + (1 - b1) * gi;
      vk[i] = b2 * vk[i]! + (1 - b2) * gi * gi;
      p[i] = p[i]! * (1 - o.lr * o.weightDecay) - (o.lr * (mk[i]! / bc1)) / (Math.sqrt(vk[i]! / bc2) + o.eps);
    }
  });
}
