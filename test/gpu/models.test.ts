// The models against goldens from an independent PyTorch implementation
// (scripts/goldens/make_model_fixtures.py): BERT hidden states and ColBERT vectors, the decoders'
// (Llama, Qwen2, GPT-NeoX, Gemma) logits and per-token NLL, and LoRA (plus embedding and norm)
// gradients after one backward.
// The fixtures load through the same path as a user's local folder (folderFiles -> loadX).
import { afterAll, describe, expect, inject, it } from 'vitest';
import { loadGenerator, loadColbert } from '../../src/models/load';
import { hubFiles, MODEL_CACHE_NAME, type ReadAllProgress } from '../../src/models/sources';
import type { HubStats } from '../setup/hub-server';
import { ForwardContext, type Linear, type LoraConfig } from '../../src/models/lora';
import { crossEntropy, mul, type Engine, type Tensor } from '../../src/tensor';
import { destroyEngine, expectClose, getEngine } from './helpers';
import { fixtureBytes, fixtureFiles, golden, type FixtureName, type Golden } from './fixtures';

afterAll(destroyEngine);

const TOL = { atol: 1e-5, rtol: 1e-4 };

/** Give the adapters the golden's (nonzero) A and B, so dL/dA is not trivially zero. */
function useGoldenAdapters(e: Engine, linears: Linear[], g: Golden): Linear[] {
  const adapters = linears.filter((l) => l.lora);
  for (const l of adapters)
    for (const k of ['A', 'B'] as const) {
      const data = g.get(`lora.${l.name}.${k}`).data as Float32Array;
      expect(l.lora![k].size).toBe(data.length);
      e.gpu.write(l.lora![k].buffer, data);
    }
  return adapters;
}

/** Gradients are compared relative to the largest reference magnitude (tiny entries are noise). */
function expectGradValues(got: Float32Array, want: Float32Array, label: string): void {
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  expectClose(got, want, { atol: 1e-4 * scale, rtol: 1e-4 }, label);
}

async function expectGrad(t: Tensor, want: Float32Array, label: string): Promise<void> {
  expect(t.grad, `${label} has a gradient`).not.toBeNull();
  expectGradValues(await t.grad!.read(), want, label);
}

describe('BERT + ColBERT (tiny-colbert)', () => {
  it('hidden states and ColBERT vectors match PyTorch', async () => {
    const e = await getEngine();
    const g = await golden('tiny-colbert');
    const r = await loadColbert(e, await fixtureFiles('tiny-colbert'));
    const [B, T] = g.get('input_ids').shape as [number, number];
    const inp = {
      ids: g.get('input_ids').data as Int32Array,
      mask: g.get('attention_mask').data as Float32Array,
      tokenTypes: g.get('token_type_ids').data as Int32Array,
      B,
      T,
    };
    // (No engine.scope here: scopes are synchronous, and these tensors are read after awaits.)
    const hidden = e.noGrad(() => r.encoder.forward(inp));
    expectClose(await hidden.read(), g.get('hidden').data as Float32Array, TOL, 'hidden');
    expectClose(await e.noGrad(() => r.project(hidden)).read(), g.get('colbert').data as Float32Array, TOL, 'colbert');
    r.encoder.dispose();
  });

  it('LoRA on query/value: vectors, loss and gradients of the adapters and the projection', async () => {
    const e = await getEngine();
    const g = await golden('tiny-colbert');
    const r = await loadColbert(e, await fixtureFiles('tiny-colbert'));
    const lora: LoraConfig = { r: 4, alpha: 8, dropout: 0, targetModules: ['query', 'value'] };
    r.encoder.addLora(lora, 1);
    r.encoder.weights.setTrainable((n) => n === 'linear.weight');
    const adapters = useGoldenAdapters(e, r.encoder.linears(), g);
    expect(adapters.length).toBe(4);
    const [B, T] = g.get('input_ids').shape as [number, number];
    const mask = g.get('attention_mask').data as Float32Array;
    const up = g.get('upstream').data as Float32Array;
    const dim = r.dim;
    const weighted = Float32Array.from(up, (v, i) => v * mask[Math.floor(i / dim)]!);
    {
      const out = r.project(
        r.encoder.forward(
          { ids: g.get('input_ids').data as Int32Array, mask, tokenTypes: g.get('token_type_ids').data as Int32Array, B, T },
          new ForwardContext(false), // eval mode (no hidden dropout) as the golden; the tape still records
        ),
      );
      expectClose(await out.read(), g.get('colbert_lora').data as Float32Array, TOL, 'colbert_lora');
      const loss = (await mul(out, e.tensor(weighted, out.shape)).read()).reduce((a, v) => a + v, 0);
      expect(loss).toBeCloseTo((g.get('loss_lora').data as Float32Array)[0]!, 4);
      e.backward(out, e.tensor(weighted, out.shape));
    }
    await expectGrad(r.projection, g.get('grad.linear.weight').data as Float32Array, 'grad linear.weight');
    for (const l of adapters) {
      await expectGrad(l.lora!.A, g.get(`grad.lora.${l.name}.A`).data as Float32Array, `grad ${l.name} A`);
      await expectGrad(l.lora!.B, g.get(`grad.lora.${l.name}.B`).data as Float32Array, `grad ${l.name} B`);
    }
    // Frozen encoder weights get no gradient.
    expect(r.encoder.layers[0]!.q!.weight.grad).toBeNull();
    r.encoder.dispose();
  });
});

// Every decoder family: Llama, Qwen2 (q/k/v bias, tied), GPT-NeoX (fused per-head q/k/v, partial
// rotary, LayerNorm with biases, parallel residual, untied embed_out) and Gemma (GeGLU, (1 + w)
// RMSNorm, sqrt(D) embedding scale, 256-wide heads). The Llama, Qwen2 and Gemma cases also run
// with the embedding and LM head split into 64-row shards (as a table above the adapter's binding
// limit would be): same numbers, same gradients.
const SPLIT = 64 * 32 * 4;
for (const [name, split] of [
  ['tiny-llama', undefined],
  ['tiny-qwen2', undefined],
  ['tiny-gptneox', undefined],
  ['tiny-gemma', undefined],
  ['tiny-llama', SPLIT],
  ['tiny-qwen2', SPLIT],
  ['tiny-gemma', SPLIT],
] as [FixtureName, number | undefined][])
  describe(`decoder ${name}${split ? ', vocab tables in row shards' : ''}`, () => {
    it('logits, per-token NLL and answer NLL match PyTorch', async () => {
      const e = await getEngine();
      const g = await golden(name);
      const gen = await loadGenerator(e, await fixtureFiles(name), { splitAboveBytes: split });
      const c = gen.model.config;
      if (split) expect(gen.model.weights.shards.get(gen.model.layout.embed)!.length).toBe(Math.ceil(c.vocabSize / 64));
      const [B, T] = g.get('input_ids').shape as [number, number];
      const ids = g.get('input_ids').data as Int32Array;
      const lengths = g.get('lengths').data as Int32Array;
      const P = g.get('prompt_lengths').data as Int32Array;
      {
        const logits = e.noGrad(() => gen.model.logits(gen.model.forward(ids, B, T).reshape([B * T, c.hiddenSize])));
        expectClose(await logits.read(), g.get('logits').data as Float32Array, TOL, 'logits');
        // Per-token NLL from the same logits (targets shifted by one; padded targets ignored).
        const targets = Array.from({ length: B * T }, (_, i) => {
          const b = Math.floor(i / T),
            t = i % T;
          return t + 1 < lengths[b]! ? ids[b * T + t + 1]! : -100;
        });
        const nll = await e.noGrad(() => crossEntropy(logits, targets, { reduction: 'none' })).read();
        const want = g.get('token_nll').data as Float32Array;
        const got = Float32Array.from({ length: B * (T - 1) }, (_, i) => nll[Math.floor(i / (T - 1)) * T + (i % (T - 1))]!);
        expectClose(got, want, TOL, 'token_nll');
      }
      const examples = Array.from({ length: B }, (_, b) => ({
        prompt: Array.from(ids.slice(b * T, b * T + P[b]!)),
        answer: Array.from(ids.slice(b * T + P[b]!, b * T + lengths[b]!)),
      }));
      const r = await gen.answerNll(examples);
      expectClose(r.sum, g.get('answer_nll_sum').data as Float32Array, TOL, 'answer_nll_sum');
      expectClose(r.mean, g.get('answer_nll_mean').data as Float32Array, TOL, 'answer_nll_mean');
      gen.model.dispose();
    });

    it("LoRA on the golden's targets with trainable embeddings and norms: loss and every gradient", async () => {
      const e = await getEngine();
      const g = await golden(name);
      const gen = await loadGenerator(e, await fixtureFiles(name), { splitAboveBytes: split });
      const m = gen.model;
      if (split) expect(m.weights.shards.get(m.layout.embed)!.length).toBe(Math.ceil(m.config.vocabSize / 64));
      const targets = g.metadata.lora_targets!.split(',').map((t) => t.split('.').at(-1)!);
      m.addLora({ r: 4, alpha: 8, dropout: 0, targetModules: targets }, 1);
      // The golden's full-weight gradients name what trains (embeddings, norms and their biases, an untied head).
      const trained = g.names.filter((n) => n.startsWith('grad.') && !n.startsWith('grad.lora.') && !n.startsWith('grad.dense.'));
      expect(trained.length).toBeGreaterThan(2);
      m.weights.setTrainable((n) => trained.includes(`grad.${n}`));
      const adapters = useGoldenAdapters(e, m.linears(), g);
      expect(adapters.length).toBe(targets.length * m.config.numLayers);
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
      expect(await loss.item()).toBeCloseTo((g.get('loss_lora').data as Float32Array)[0]!, 4);
      for (const l of adapters) {
        await expectGrad(l.lora!.A, g.get(`grad.lora.${l.name}.A`).data as Float32Array, `grad ${l.name} A`);
        await expectGrad(l.lora!.B, g.get(`grad.lora.${l.name}.B`).data as Float32Array, `grad ${l.name} B`);
      }
      for (const n of trained) {
        const got = await m.weights.readGrad(n.slice('grad.'.length));
        expect(got, `${n} has a gradient`).not.toBeNull();
        expectGradValues(got!, g.get(n).data as Float32Array, n);
      }
      expect(m.linears()[0]!.weight.grad).toBeNull();
      m.dispose();
    });
  });

describe('GPT-NeoX without the parallel residual', () => {
  it('use_parallel_residual false: logits match PyTorch (sequential attention then MLP)', async () => {
    const e = await getEngine();
    const g = await golden('tiny-gptneox');
    const cfg = JSON.parse(new TextDecoder().decode(await fixtureBytes('tiny-gptneox', 'config.json'))) as Record<
      string,
      unknown
    >;
    const files = await fixtureFiles('tiny-gptneox', {
      'config.json': new TextEncoder().encode(JSON.stringify({ ...cfg, use_parallel_residual: false })),
    });
    const gen = await loadGenerator(e, files);
    expect(gen.model.config.parallelResidual).toBe(false);
    const [B, T] = g.get('input_ids').shape as [number, number];
    const ids = g.get('input_ids').data as Int32Array;
    const logits = e.noGrad(() => gen.model.logits(gen.model.forward(ids, B, T).reshape([B * T, gen.model.config.hiddenSize])));
    const got = await logits.read();
    expectClose(got, g.get('logits_sequential').data as Float32Array, TOL, 'logits_sequential');
    // And the two residual forms differ on these weights (the test would catch the flag being ignored).
    const parallel = g.get('logits').data as Float32Array;
    expect(got.some((v, i) => Math.abs(v - parallel[i]!) > 1e-2)).toBe(true);
    gen.model.dispose();
  });
});

describe('end to end from the hub', () => {
  it('downloads sharded Qwen2 with progress, loads it, matches the golden; a reload downloads nothing', async () => {
    const hubUrl = inject('hubUrl');
    await caches.delete(MODEL_CACHE_NAME);
    const e = await getEngine();
    const g = await golden('tiny-qwen2');
    const events: ReadAllProgress[] = [];
    const files = hubFiles('medrank-test/tiny-qwen2', { endpoint: hubUrl });
    const gen = await loadGenerator(e, files, { onProgress: (p) => events.push(p) });
    const last = events.at(-1)!;
    expect(last.done).toBe(true);
    expect(last.filesTotal).toBe(2);
    expect(last.loaded).toBe(last.total);
    expect(events.some((p) => !p.fromCache)).toBe(true);
    const [B, T] = g.get('input_ids').shape as [number, number];
    const logits = e.noGrad(() =>
      gen.model.logits(gen.model.forward(g.get('input_ids').data as Int32Array, B, T).reshape([B * T, 32])),
    );
    expectClose(await logits.read(), g.get('logits').data as Float32Array, TOL, 'logits via the hub');
    gen.model.dispose();

    await fetch(`${hubUrl}/__reset`, { method: 'POST' });
    const again: ReadAllProgress[] = [];
    const gen2 = await loadGenerator(e, hubFiles('medrank-test/tiny-qwen2', { endpoint: hubUrl }), {
      onProgress: (p) => again.push(p),
    });
    const stats = (await (await fetch(`${hubUrl}/__stats`, { cache: 'no-store' })).json()) as HubStats;
    expect(again.at(-1)!.fromCache).toBe(true);
    expect(stats.total).toBe(0);
    gen2.model.dispose();
  });
});
