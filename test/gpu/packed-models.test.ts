// The tiny models with their frozen matrices packed as f16 (frozenDtype 'f16', weights.ts) against
// the PyTorch goldens of test/gpu/models.test.ts, within a tolerance derived from f16's rounding,
// and the memory plan (memory.ts) against the bytes the buffer pool really holds, f32 and packed.
//
// Tolerance: f16 rounding moves each weight by at most eps = 2^-11 of itself, so one linear's
// output moves by at most eps * sum_k |x_k W_jk|; along a path of c packed matmuls these compound
// to about c * eps relative. We allow |got - want| <= 1e-5 + c * eps * max|want| with c = the
// packed matmuls on the longest path (embedding, then per layer attention in, attention out, MLP in,
// MLP out, then the head). The measured differences (printed) sit well inside it; a kernel that
// read the wrong half or row would be off by O(max|want|).
import { afterAll, describe, expect, it } from 'vitest';
import { loadGenerator, loadColbert } from '../../src/models/load';
import { planMemory } from '../../src/models/memory';
import { bucketSize } from '../../src/gpu/buffers';
import { ForwardContext, type Linear } from '../../src/models/lora';
import { ModelConfigError } from '../../src/models/errors';
import type { Weights } from '../../src/models/weights';
import { mul, type Engine } from '../../src/tensor';
import { destroyEngine, expectClose, getEngine, maxDiff } from './helpers';
import { fixtureFiles, golden, type FixtureName, type Golden } from './fixtures';

afterAll(destroyEngine);

const EPS = 2 ** -11;

function expectWithin(got: Float32Array, want: Float32Array, c: number, label: string): void {
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  const d = maxDiff(got, want);
  console.log(
    `${label}: max abs diff ${d.abs.toExponential(2)} = ${(d.abs / scale).toExponential(2)} of max|want| ${scale.toExponential(2)}; allowed ${(c * EPS).toExponential(2)}`,
  );
  expectClose(got, want, { atol: 1e-5 + c * EPS * scale }, label);
}

/** The pool's bytes for these weights: each buffer is its stored bytes rounded up to its bucket. */
function pooledBytes(w: Weights): { stored: number; pooled: number; buffers: number } {
  let stored = 0,
    pooled = 0,
    buffers = 0;
  for (const n of w.names())
    for (const t of w.rows(n)) {
      stored += t.bytes;
      pooled += bucketSize(Math.max(4, t.bytes));
      buffers++;
    }
  return { stored, pooled, buffers };
}

function useGoldenAdapters(e: Engine, linears: Linear[], g: Golden): Linear[] {
  const adapters = linears.filter((l) => l.lora);
  for (const l of adapters)
    for (const k of ['A', 'B'] as const) e.gpu.write(l.lora![k].buffer, g.get(`lora.${l.name}.${k}`).data as Float32Array);
  return adapters;
}

/** 64 rows of a packed 32-wide table (16 words a row): the 330-row tables become 6 shards. */
const SPLIT = 64 * 16 * 4;

const LLAMA_TRAIN = (n: string): boolean =>
  n === 'model.embed_tokens.weight' || n.endsWith('norm.weight') || n === 'lm_head.weight';

for (const name of ['tiny-llama', 'tiny-qwen2'] as FixtureName[])
  describe(`${name} with frozen weights in f16`, () => {
    it('memory: the plan counts 2 bytes per packed value and matches the pool, f32 and f16', async () => {
      const e = await getEngine();
      const files = await fixtureFiles(name);
      for (const frozenDtype of ['f32', 'f16'] as const) {
        const before = e.gpu.pool.inUseBytes;
        const gen = await loadGenerator(e, files, { frozenDtype, trainable: () => false });
        const measured = e.gpu.pool.inUseBytes - before;
        const specs = gen.model.weights.names().map((n) => ({ name: n, shape: gen.model.weights.shape(n) }));
        const plan = planMemory(specs, () => false, { frozenDtype });
        const p = pooledBytes(gen.model.weights);
        console.log(
          `${name} ${frozenDtype}: plan ${plan.paramBytes} B, stored ${p.stored} B, pool ${measured} B over ${p.buffers} buffers ` +
            `(${((measured / plan.paramBytes - 1) * 100).toFixed(1)}% bucket rounding); packed values ${plan.packedParams} of ${plan.totalParams}`,
        );
        expect(p.stored).toBe(plan.paramBytes);
        expect(measured).toBe(p.pooled);
        // Stated margin: the pool rounds each buffer up to 256 B (under 64 KiB) or an eighth of a power of two.
        expect(measured).toBeGreaterThanOrEqual(plan.paramBytes);
        expect(measured).toBeLessThanOrEqual(plan.paramBytes * 1.125 + 256 * p.buffers);
        if (frozenDtype === 'f16') {
          const full = planMemory(specs, () => false);
          expect(plan.packedParams).toBeGreaterThan(0.9 * plan.totalParams);
          expect(plan.paramBytes).toBeLessThan(0.55 * full.paramBytes);
        }
        gen.model.dispose();
      }
    });

    it('logits match PyTorch within the f16 tolerance, whole and with the vocab tables in packed 64-row shards', async () => {
      const e = await getEngine();
      const g = await golden(name);
      for (const split of [undefined, SPLIT]) {
        const gen = await loadGenerator(e, await fixtureFiles(name), { frozenDtype: 'f16', splitAboveBytes: split });
        const w = gen.model.weights;
        if (split) expect(w.shards.get('model.embed_tokens.weight')!.length).toBe(6);
        expect(w.get('model.layers.0.self_attn.q_proj.weight').dtype).toBe('f16');
        expect(w.get('model.layers.0.input_layernorm.weight').dtype).toBe('f32');
        expect(w.rows('model.embed_tokens.weight')[0]!.dtype).toBe('f16');
        const c = gen.model.config;
        const [B, T] = g.get('input_ids').shape as [number, number];
        const ids = g.get('input_ids').data as Int32Array;
        const logits = e.noGrad(() => gen.model.logits(gen.model.forward(ids, B, T).reshape([B * T, c.hiddenSize])));
        expectWithin(
          await logits.read(),
          g.get('logits').data as Float32Array,
          2 + 4 * c.numLayers,
          `${name} logits${split ? ' (shards)' : ''}`,
        );
        gen.model.dispose();
      }
    });

    it('LoRA over the packed base (embeddings, norms, head trained in f32): loss and every gradient', async () => {
      const e = await getEngine();
      const g = await golden(name);
      const gen = await loadGenerator(e, await fixtureFiles(name), { frozenDtype: 'f16', trainable: LLAMA_TRAIN });
      const m = gen.model;
      expect(m.layers[0]!.q!.weight.dtype).toBe('f16');
      expect(m.weights.rows('model.embed_tokens.weight')[0]!.dtype).toBe('f32');
      // A packed weight cannot become trainable.
      expect(() => m.weights.setTrainable(() => true)).toThrow(ModelConfigError);
      m.addLora({ r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] }, 1);
      m.weights.setTrainable(LLAMA_TRAIN);
      const adapters = useGoldenAdapters(e, m.linears(), g);
      const [B, T] = g.get('input_ids').shape as [number, number];
      const ids = g.get('input_ids').data as Int32Array;
      const lengths = g.get('lengths').data as Int32Array;
      const P = g.get('prompt_lengths').data as Int32Array;
      const examples = Array.from({ length: B }, (_, b) => ({
        prompt: Array.from(ids.slice(b * T, b * T + P[b]!)),
        answer: Array.from(ids.slice(b * T + P[b]!, b * T + lengths[b]!)),
      }));
      const loss = gen.meanAnswerLoss(examples, { ctx: new ForwardContext(true) });
      e.backward(loss);
      const c = 2 + 4 * m.config.numLayers;
      expectWithin(Float32Array.of(await loss.item()), g.get('loss_lora').data as Float32Array, c, `${name} loss`);
      // Gradients run the path twice (forward and back).
      let worst = 0;
      for (const l of adapters)
        for (const k of ['A', 'B'] as const) {
          const got = await l.lora![k].grad!.read();
          const want = g.get(`grad.lora.${l.name}.${k}`).data as Float32Array;
          let scale = 0;
          for (const v of want) scale = Math.max(scale, Math.abs(v));
          worst = Math.max(worst, maxDiff(got, want).abs / scale);
          expectClose(got, want, { atol: 1e-6 + 2 * c * EPS * scale }, `grad ${l.name} ${k}`);
        }
      for (const n of g.names.filter((x) => x.startsWith('grad.model.') || x === 'grad.lm_head.weight')) {
        const got = (await m.weights.readGrad(n.slice('grad.'.length)))!;
        const want = g.get(n).data as Float32Array;
        let scale = 0;
        for (const v of want) scale = Math.max(scale, Math.abs(v));
        worst = Math.max(worst, maxDiff(got, want).abs / scale);
        expectClose(got, want, { atol: 1e-6 + 2 * c * EPS * scale }, n);
      }
      console.log(
        `${name} LoRA gradients: worst max abs diff ${worst.toExponential(2)} of max|want|; allowed ${(2 * c * EPS).toExponential(2)}`,
      );
      expect(m.layers[0]!.q!.weight.grad).toBeNull();
      m.dispose();
    });
  });

describe('tiny-colbert with frozen weights in f16 (F32 checkpoint: every weight really rounds)', () => {
  it('memory plan against the pool, and hidden states and ColBERT vectors within the f16 tolerance', async () => {
    const e = await getEngine();
    const g = await golden('tiny-colbert');
    const files = await fixtureFiles('tiny-colbert');
    const before = e.gpu.pool.inUseBytes;
    const r = await loadColbert(e, files, { frozenDtype: 'f16' }); // a frozen retriever / index encoder
    const measured = e.gpu.pool.inUseBytes - before;
    const w = r.encoder.weights;
    const specs = w.names().map((n) => ({ name: n, shape: w.shape(n) }));
    const plan = planMemory(specs, () => false, { frozenDtype: 'f16' });
    const p = pooledBytes(w);
    console.log(
      `tiny-colbert f16: plan ${plan.paramBytes} B, pool ${measured} B over ${p.buffers} buffers (f32 plan ${planMemory(specs, () => false).paramBytes} B)`,
    );
    expect(p.stored).toBe(plan.paramBytes);
    expect(measured).toBe(p.pooled);
    expect(w.get(w.names().find((n) => n.endsWith('position_embeddings.weight'))!).dtype).toBe('f16');
    const [B, T] = g.get('input_ids').shape as [number, number];
    const inp = {
      ids: g.get('input_ids').data as Int32Array,
      mask: g.get('attention_mask').data as Float32Array,
      tokenTypes: g.get('token_type_ids').data as Int32Array,
      B,
      T,
    };
    const c = 1 + 4 * r.encoder.config.numLayers;
    const hidden = e.noGrad(() => r.encoder.forward(inp));
    expectWithin(await hidden.read(), g.get('hidden').data as Float32Array, c, 'tiny-colbert hidden');
    const vecs = await e.noGrad(() => r.project(hidden)).read();
    expectWithin(vecs, g.get('colbert').data as Float32Array, c + 1, 'tiny-colbert colbert');
    r.encoder.dispose();
  });

  it('LoRA on query/value over the packed encoder, projection trained in f32: vectors and gradients', async () => {
    const e = await getEngine();
    const g = await golden('tiny-colbert');
    const r = await loadColbert(e, await fixtureFiles('tiny-colbert'), {
      frozenDtype: 'f16',
      trainable: (n) => n === 'linear.weight',
    });
    expect(r.projection.dtype).toBe('f32');
    r.encoder.addLora({ r: 4, alpha: 8, dropout: 0, targetModules: ['query', 'value'] }, 1);
    r.encoder.weights.setTrainable((n) => n === 'linear.weight');
    const adapters = useGoldenAdapters(e, r.encoder.linears(), g);
    const [B, T] = g.get('input_ids').shape as [number, number];
    const mask = g.get('attention_mask').data as Float32Array;
    const up = g.get('upstream').data as Float32Array;
    const weighted = Float32Array.from(up, (v, i) => v * mask[Math.floor(i / r.dim)]!);
    const out = r.project(
      r.encoder.forward(
        { ids: g.get('input_ids').data as Int32Array, mask, tokenTypes: g.get('token_type_ids').data as Int32Array, B, T },
        new ForwardContext(false),
      ),
    );
    const c = 2 + 4 * r.encoder.config.numLayers;
    expectWithin(await out.read(), g.get('colbert_lora').data as Float32Array, c, 'tiny-colbert colbert_lora');
    await mul(out, e.tensor(weighted, out.shape)).read();
    e.backward(out, e.tensor(weighted, out.shape));
    expectWithin(
      await r.projection.grad!.read(),
      g.get('grad.linear.weight').data as Float32Array,
      2 * c,
      'tiny-colbert grad linear.weight',
    );
    for (const l of adapters)
      for (const k of ['A', 'B'] as const)
        expectWithin(
          await l.lora![k].grad!.read(),
          g.get(`grad.lora.${l.name}.${k}`).data as Float32Array,
          2 * c,
          `tiny-colbert grad ${l.name} ${k}`,
        );
    r.encoder.dispose();
  });
});
