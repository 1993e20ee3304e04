// S2-Attn bench page: forward and forward+backward time of shifted sparse attention (LongLoRA,
// group ratio 1/4, shift 'roll') against full causal attention (the same op at ratio 1), both
// causal. B = batch, H = query heads, HKV = kv heads, T = tokens, DH = head dim.

import { acquireGpu } from '../src/gpu/device';
import { viteKernels } from '../src/gpu/kernels-vite';
import { s2attn, type S2AttnOptions } from '../src/tensor/ops/s2attn';
import { Engine, type Tensor } from '../src/tensor/tensor';
import { adapterOf, errorMessage, measure, randomUniform, round, type MeasureOptions } from './common';
import type { BenchRow, PageResult } from './page';

const SIZES = [512, 1024, 2048];
const B = 1;
const H = 4;
const HKV = 4;
const DH = 64;
const IMPLS: Array<[string, S2AttnOptions]> = [
  ['s2attn-r0.25', { ratio: 0.25, shift: 'roll', causal: true }],
  ['full-causal', { ratio: 1, causal: true }],
];
// One untimed warm-up, then timed runs until 20 s have passed or 3 runs: the full-causal
// forward+backward at T = 2048 takes ~16 s a run on a software adapter, so it gets two; the whole
// bench stays around 4 minutes there.
const TIMING: MeasureOptions = { warmup: 1, budgetMs: 20_000, maxIters: 3 };

const log = (msg: string) => console.log(`[bench s2attn] ${msg}`);

function upload(e: Engine, data: Float32Array, shape: number[], requiresGrad = false): Tensor {
  const t = e.empty(shape, 'f32', requiresGrad);
  e.gpu.write(t.buffer, data);
  return t;
}

export async function run(): Promise<PageResult> {
  const gpu = await acquireGpu({ kernels: viteKernels });
  const e = new Engine(gpu);
  log(`adapter ${gpu.info.vendor}/${gpu.info.architecture}, crossOriginIsolated=${self.crossOriginIsolated}`);

  const rows: BenchRow[] = [];
  const speedups: string[] = [];
  try {
    for (const T of SIZES) {
      const qShape = [B, H, T, DH];
      const kvShape = [B, HKV, T, DH];
      const q = upload(e, randomUniform(B * H * T * DH, 1), qShape, true);
      const k = upload(e, randomUniform(B * HKV * T * DH, 2), kvShape, true);
      const v = upload(e, randomUniform(B * HKV * T * DH, 3), kvShape, true);
      const dout = upload(e, randomUniform(B * H * T * DH, 4), qShape);
      const byImpl = new Map<string, { ms: number; fwdMs: number }>();
      try {
        for (const [impl, opts] of IMPLS) {
          try {
            const fwd = await measure(async () => {
              e.noGrad(() => s2attn(q, k, v, opts)).dispose();
              await gpu.sync();
            }, TIMING);
            const both = await measure(async () => {
              // The scope frees the output, its gradient and the saved logsumexp once backward has
              // cleared the tape; the inputs' gradients are dropped so that every run writes them
              // afresh (the same kernel variant as the warm-up, no accumulation).
              e.scope(() => e.backward(s2attn(q, k, v, opts), dout));
              for (const t of [q, k, v]) {
                t.grad?.dispose();
                t.grad = null;
              }
              await gpu.sync();
            }, TIMING);
            const bwdMs = both.ms - fwd.ms;
            byImpl.set(impl, { ms: both.ms, fwdMs: fwd.ms });
            rows.push({
              op: 's2attn',
              T,
              impl,
              ms: round(both.ms, 2),
              fwdMs: round(fwd.ms, 2),
              bwdMs: round(bwdMs, 2),
              iterations: both.iterations,
              fwdIterations: fwd.iterations,
            });
            log(
              `T=${T} ${impl}: fwd+bwd ${both.ms.toFixed(1)} ms x${both.iterations}, fwd ${fwd.ms.toFixed(1)} ms x${fwd.iterations}, bwd ~${bwdMs.toFixed(1)} ms`,
            );
          } catch (err) {
            rows.push({ op: 's2attn', T, impl, error: errorMessage(err) });
            log(`T=${T} ${impl}: failed: ${errorMessage(err)}`);
            e.clearTape();
          }
        }
      } finally {
        for (const t of [q, k, v, dout]) t.dispose();
        gpu.pool.trim();
      }
      const s2 = byImpl.get('s2attn-r0.25');
      const full = byImpl.get('full-causal');
      if (s2 && full)
        speedups.push(
          `T=${T}: s2attn-r0.25 is ${(full.ms / s2.ms).toFixed(2)}x faster than full-causal forward+backward, ${(full.fwdMs / s2.fwdMs).toFixed(2)}x forward.`,
        );
    }
  } finally {
    gpu.destroy();
  }

  return {
    bench: 's2attn',
    adapter: adapterOf(gpu),
    crossOriginIsolated: self.crossOriginIsolated,
    notes: [
      `Shapes: q [B, H, T, Dh], k and v [B, Hkv, T, Dh] with B = ${B}, H = ${H}, Hkv = ${HKV}, Dh = ${DH}; inputs uniform in [-1, 1), dout too.`,
      "s2attn-r0.25: s2attn(q, k, v, { ratio: 0.25, shift: 'roll', causal: true }), groups of T/4 tokens, half the heads shifted by T/8. " +
        'full-causal: the same op with ratio 1 (one group of T tokens: plain causal attention).',
      'fwdMs: forward under engine.noGrad, then gpu.sync(). ms: forward with grad (saves the logsumexp) plus engine.backward(out, dout) ' +
        '(gradients of q, k and v), then gpu.sync(). bwdMs = ms - fwdMs. Inputs stay on the GPU; nothing is read back.',
      `Timing: ${TIMING.warmup} untimed warm-up, then timed runs until ${TIMING.budgetMs! / 1000} s have passed or ${TIMING.maxIters} runs (at least one); ` +
        'iterations counts the forward+backward runs, fwdIterations the forward ones.',
      ...speedups,
      'On a software adapter (SwiftShader) GPU numbers are CPU numbers: compare ratios within one run.',
    ],
    rows,
  };
}
