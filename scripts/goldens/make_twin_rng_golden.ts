// Golden for the PyTorch twin's randomness (python/medrank_torch/rng.py and lora.py): the numbers
// the browser's own code draws, written to test/goldens/twin-rng.json. Nothing here re-implements
// a draw: Mulberry32 is src/tensor/random.ts, stepSeed src/training/step.ts, the dropout seeds
// src/models/lora.ts's ForwardContext, the masks src/tensor/cpu/dropout.ts (the kernel's CPU twin)
// and the LoRA A matrices src/models/lora.ts's attachLora (on a stub engine that keeps the arrays).
// The ColBERT head initialisation is ColbertRetriever.load's formula on src/tensor/random.ts's
// draws (load itself needs a GPU).
//
// Run from the repository root: npx tsx scripts/goldens/make_twin_rng_golden.ts
// The output is deterministic (no clock, no Math.random) and already prettier-formatted.

import { writeFileSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';
import { dropoutMaskCpu, dropoutScale, dropoutForwardCpu } from '../../src/tensor/cpu/dropout';
import { writeSafetensors } from '../../src/tensor/safetensors';
import { mulberry32 } from '../../src/tensor/random';
import { attachLora, ForwardContext, Linear, type LoraConfig } from '../../src/models/lora';
import { stepSeed } from '../../src/training/step';
import type { Engine, Tensor } from '../../src/tensor';

const OUT = 'test/goldens/twin-rng.json';

const draws = (seed: number, n: number): number[] => {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => r());
};

const mulberrySeeds = [0, 1, 42, 123456789, 4294967295];
const stepCases: Array<[number, number, number]> = [
  [0, 0, 0],
  [0, 0, 2],
  [0, 4, 3],
  [1, 0, 1],
  [42, 199, 7],
  [123456789, 17, 2],
  [4294967295, 3, 3],
];
const ctxSeeds = [0, 1, stepSeed(0, 0, 2), stepSeed(0, 3, 3), 4294967295];

// A stub engine: attachLora only calls e.param(data, shape, name).
const stub = {
  param: (data: Float32Array, shape: number[], name: string) => ({ data, shape, name, dispose: () => {} }),
} as unknown as Engine;
const weight = (outF: number, inF: number) => ({ shape: [outF, inF] }) as unknown as Tensor;
// A tiny Llama-shaped model's linears in DecoderModel.linears() order: D = 6, q 6, k/v 4, F = 10.
const D = 6,
  Q = 6,
  KV = 4,
  F = 10;
const linears: Linear[] = [];
for (let i = 0; i < 2; i++) {
  const l = `model.layers.${i}.`;
  linears.push(
    new Linear(`${l}self_attn.q_proj`, weight(Q, D)),
    new Linear(`${l}self_attn.k_proj`, weight(KV, D)),
    new Linear(`${l}self_attn.v_proj`, weight(KV, D)),
    new Linear(`${l}self_attn.o_proj`, weight(D, Q)),
    new Linear(`${l}mlp.gate_proj`, weight(F, D)),
    new Linear(`${l}mlp.up_proj`, weight(F, D)),
    new Linear(`${l}mlp.down_proj`, weight(D, F)),
  );
}
const loraCases: Array<{ seed: number; config: LoraConfig }> = [
  { seed: 0, config: { r: 2, alpha: 4, dropout: 0.05, targetModules: ['q_proj', 'v_proj'] } },
  { seed: 7, config: { r: 3, alpha: 6, dropout: 0, targetModules: ['down_proj', 'k_proj', 'o_proj'] } },
];
const lora = loraCases.map(({ seed, config }) => {
  const adapters = attachLora(stub, linears, config, seed);
  return {
    seed,
    config,
    linears: linears.map((l) => ({ name: l.name, shape: [...l.weight.shape] })),
    adapters: adapters.map((a) => ({
      name: (a.A as unknown as { name: string }).name,
      shape: [...a.A.shape],
      A: Array.from((a.A as unknown as { data: Float32Array }).data),
      bShape: [...a.B.shape],
      scaling: a.scaling,
    })),
  };
});

// ColbertRetriever.load without linear.weight: U(-1/sqrt(D), 1/sqrt(D)) from mulberry32(seed), row-major [dim, D].
const colbertHead = [
  { seed: 0, dim: 4, hidden: 6 },
  { seed: 9, dim: 3, hidden: 5 },
  { seed: 3, dim: 16, hidden: 32 }, // test/fixtures/models/tiny-colbert's shape
].map(({ seed, dim, hidden }) => {
  const rand = mulberry32(seed);
  const bound = 1 / Math.sqrt(hidden);
  const init = Float32Array.from({ length: dim * hidden }, () => (2 * rand() - 1) * bound);
  return { seed, dim, hidden, weight: Array.from(init) };
});

const maskString = (m: Uint8Array): string => Array.from(m, (v) => (v ? '1' : '0')).join('');
const dropoutCases: Array<{ seed: number; p: number; n: number }> = [
  { seed: 12345, p: 0.1, n: 320 },
  // The first dropout seed of step 0's retriever forward in a run with seed 0.
  { seed: new ForwardContext(true, stepSeed(0, 0, 2)).nextSeed(), p: 0.1, n: 320 },
  { seed: 12345, p: 0.5, n: 320 },
  { seed: 4294967295, p: 0.25, n: 320 },
];
const x = Float32Array.from({ length: 320 }, (_, i) => Math.fround(Math.sin(i) * 3));
const dropout = dropoutCases.map(({ seed, p, n }) => ({
  seed,
  p,
  n,
  scale: dropoutScale(p),
  keep: maskString(dropoutMaskCpu(n, p, seed)),
  // The kernel's output on x[i] = f32(sin(i) * 3): the kept values scaled in f32.
  out: Array.from(dropoutForwardCpu({ data: x.slice(0, n), shape: [n] }, p, seed).data),
}));

// A small file from the browser's writer, for the twin's save() to match byte for byte (names in
// sorted order, as save() writes them; a non-ASCII metadata entry, kept as UTF-8).
const file = writeSafetensors(
  {
    a: { dtype: 'F32', shape: [2, 3], data: Float32Array.from([0.5, -1.25, 3, 1e-8, -0, 65504.5]) },
    b: { dtype: 'I32', shape: [4], data: Int32Array.from([0, -1, 2147483647, -2147483648]) },
    'z.weight': { dtype: 'F32', shape: [1], data: Float32Array.from([Math.fround(Math.PI)]) },
  },
  { format: 'pt', note: 'café' },
);

const golden = {
  generator: 'scripts/goldens/make_twin_rng_golden.ts',
  mulberry32: mulberrySeeds.map((seed) => ({ seed, draws: draws(seed, 8) })),
  stepSeed: stepCases.map(([seed, step, salt]) => ({ seed, step, salt, value: stepSeed(seed, step, salt) })),
  forwardContext: ctxSeeds.map((seed) => {
    const c = new ForwardContext(true, seed);
    return { seed, nextSeeds: Array.from({ length: 6 }, () => c.nextSeed()) };
  }),
  dropoutInput: Array.from(x),
  dropout,
  safetensorsBase64: Buffer.from(file).toString('base64'),
  lora,
  colbertHead,
};
// Formatted as the repository's prettier config formats JSON, so `prettier --check .` passes.
const options = (await resolveConfig(OUT)) ?? {};
writeFileSync(OUT, await format(JSON.stringify(golden), { ...options, parser: 'json' }));
console.log(`wrote ${OUT}`);
