// What the training loop and the app call on the models, on the tiny fixtures: generation with
// a KV cache (equal to recomputing from scratch), chunked cached forwards, label-subset logits,
// per-example NLL, option scoring, S2-Attn in training, the dense retriever, ColBERT's query and
// document encoding, load errors, the memory check, and PEFT / merged-weight export.
import { afterAll, describe, expect, it } from 'vitest';
import { ColbertRetriever } from '../../src/models/colbert';
import { DenseRetriever } from '../../src/models/dense';
import { exportMergedWeights, exportPeftAdapter } from '../../src/models/export';
import { CheckpointMismatchError, ModelTooLargeError, UnsupportedArchitectureError } from '../../src/models/errors';
import { KvCache } from '../../src/models/decoder';
import { loadGenerator, loadColbert } from '../../src/models/load';
import { ForwardContext } from '../../src/models/lora';
import { AdamW, add, crossEntropy, embedding, sumAll } from '../../src/tensor';
import { parseSafetensors, SafetensorsError } from '../../src/tensor/safetensors';
import { destroyEngine, expectClose, getEngine } from './helpers';
import { fixtureBytes, fixtureFiles } from './fixtures';

afterAll(destroyEngine);

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

async function lastLogits(gen: Awaited<ReturnType<typeof loadGenerator>>, ids: number[]): Promise<Float32Array> {
  const e = gen.model.engine;
  return e
    .noGrad(() => {
      const h = gen.model.forward(Int32Array.from(ids), 1, ids.length);
      return gen.model.logits(embedding(h.reshape([ids.length, gen.model.config.hiddenSize]), [ids.length - 1]));
    })
    .read();
}

describe('generator', () => {
  it('greedy generation with the KV cache equals recomputing every step from scratch', async () => {
    const e = await getEngine();
    const gen = await loadGenerator(e, await fixtureFiles('tiny-llama'));
    const prompt = gen.encodePrompt('Question: What is insulin?\nAnswer:');
    await gen.generate(prompt, { maxNewTokens: 2, stopAtEos: false }); // RoPE tables, pipelines
    const live = e.gpu.pool.liveCount;
    const cached = await gen.generate(prompt, { maxNewTokens: 6, stopAtEos: false });
    expect(e.gpu.pool.liveCount, 'generate leaves no buffers behind').toBe(live);
    const ref: number[] = [];
    for (let i = 0; i < 6; i++) {
      const l = await lastLogits(gen, [...prompt, ...ref]);
      ref.push(l.indexOf(Math.max(...l)));
    }
    expect(cached).toEqual(ref);
    // Temperature sampling is reproducible by seed and differs across seeds for a random model.
    const a = await gen.generate(prompt, { maxNewTokens: 6, temperature: 1.5, seed: 7, stopAtEos: false });
    expect(await gen.generate(prompt, { maxNewTokens: 6, temperature: 1.5, seed: 7, stopAtEos: false })).toEqual(a);
    const others = await Promise.all(
      [1, 2, 3].map((seed) => gen.generate(prompt, { maxNewTokens: 6, temperature: 1.5, seed, stopAtEos: false })),
    );
    expect(others.some((o) => o.join() !== a.join())).toBe(true);
    gen.model.dispose();
  });

  it('a cached forward in chunks (prefill, then 3 tokens, then 1) equals one full forward', async () => {
    const e = await getEngine();
    const gen = await loadGenerator(e, await fixtureFiles('tiny-qwen2'));
    const m = gen.model;
    const D = m.config.hiddenSize;
    const ids = gen.encodePrompt('Question: What causes diabetes and fever?');
    const T = ids.length;
    const full = await e.noGrad(() => m.forward(Int32Array.from(ids), 1, T)).read();
    const cache = new KvCache(e, m.config, 1, T);
    const parts = [ids.slice(0, T - 4), ids.slice(T - 4, T - 1), ids.slice(T - 1)];
    const got: number[] = [];
    for (const p of parts) got.push(...(await e.noGrad(() => m.forward(Int32Array.from(p), 1, p.length, { cache })).read()));
    expect(cache.length).toBe(T);
    expectClose(Float32Array.from(got), full, { atol: 2e-5, rtol: 1e-4 }, 'chunked vs full');
    expect(() => m.forward(Int32Array.from([1]), 1, 1, { cache })).toThrow(/capacity/);
    cache.dispose();
    expect(full.length).toBe(T * D);
    m.dispose();
  });

  it('label logits, per-example NLL and option scores agree with the plain forward', async () => {
    const e = await getEngine();
    const gen = await loadGenerator(e, await fixtureFiles('tiny-llama'));
    const prompts = [gen.encodePrompt('Question: fever?\nAnswer:'), gen.encodePrompt('Is insulin a drug?')];
    const labels = [5, 17, 42];
    const ll = await e.noGrad(() => gen.labelLogits(prompts, labels)).read();
    for (const [b, p] of prompts.entries()) {
      const full = await lastLogits(gen, p);
      expectClose(
        ll.slice(b * 3, b * 3 + 3),
        Float32Array.from(labels, (l) => full[l]!),
        { atol: 2e-5, rtol: 1e-4 },
        `label logits ${b}`,
      );
    }
    const examples = [
      { prompt: prompts[0]!, answer: gen.encodeAnswer(' flu.') },
      { prompt: prompts[1]!, answer: gen.encodeAnswer(' yes') },
    ];
    const nll = await gen.answerNll(examples);
    expect(nll.perToken[0]!.length).toBe(examples[0]!.answer.length);
    expectClose(await e.noGrad(() => gen.exampleNll(examples)).read(), nll.sum, { atol: 1e-5, rtol: 1e-5 }, 'exampleNll sum');
    expectClose(
      await e.noGrad(() => gen.exampleNll(examples, { mean: true })).read(),
      nll.mean,
      { atol: 1e-5, rtol: 1e-5 },
      'mean',
    );
    const opts = ['yes', 'no', 'maybe'].map((o) => gen.encodeAnswer(' ' + o));
    const s = await gen.scoreOptions(prompts[1]!, opts);
    expect(s.best).toBe(Array.from(s.mean).indexOf(Math.min(...s.mean)));
    const direct = await gen.answerNll(opts.map((answer) => ({ prompt: prompts[1]!, answer })));
    expectClose(s.sum, direct.sum, { atol: 0 }, 'option sums');
    gen.model.dispose();
  });

  it('trains with S2-Attn: padded to the group size, finite loss, gradients reach LoRA; ratio 1 equals full attention', async () => {
    const e = await getEngine();
    const gen = await loadGenerator(e, await fixtureFiles('tiny-llama'));
    const m = gen.model;
    m.addLora({ r: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'v_proj'] }, 3);
    m.weights.setTrainable(() => false);
    const ex = [
      { prompt: gen.encodePrompt('Question: What is the cause of chest pain?\nAnswer:'), answer: gen.encodeAnswer(' heart.') },
    ];
    const full = await e.noGrad(() => gen.meanAnswerLoss(ex)).item();
    const r1 = await e.noGrad(() => gen.meanAnswerLoss(ex, { attention: { ratio: 1, shift: 'roll' } })).item();
    expect(r1).toBeCloseTo(full, 5);
    for (const shift of ['roll', 'split'] as const) {
      const loss = gen.meanAnswerLoss(ex, { ctx: new ForwardContext(true, 5), attention: { ratio: 0.25, shift } });
      e.backward(loss);
      const v = await loss.item();
      expect(Number.isFinite(v)).toBe(true);
      expect(v).not.toBeCloseTo(full, 3); // sparse attention sees less context
    }
    const A = m.layers[0]!.q!.lora!.A;
    const gA = await A.grad!.read();
    expect(gA.some((x) => x !== 0)).toBe(false); // B starts at zero, so dL/dA = 0 ...
    const gB = await m.layers[0]!.q!.lora!.B.grad!.read();
    expect(gB.some((x) => x !== 0)).toBe(true); // ... and dL/dB does not
    m.dispose();
  });
});

describe('retrievers', () => {
  it('ColBERT: [MASK]-augmented queries, marked docs without punctuation, MaxSim scores', async () => {
    const e = await getEngine();
    const r = await loadColbert(e, await fixtureFiles('tiny-colbert'));
    const tok = r.tokenizer;
    const q = r.tokenizeQueries(['What is the cause of fever?']);
    expect(q.T).toBe(32);
    expect(q.ids[0]).toBe(tok.special.cls);
    expect(q.ids[1]).toBe(tok.tokenId('[unused0]'));
    expect(q.ids[31]).toBe(tok.special.mask);
    const len = tok.encode('What is the cause of fever?').length + 1;
    expect(Array.from(q.mask).reduce((a, v) => a + v, 0)).toBe(len); // [MASK] padding not attended
    const docs = ['Fever is a high body temperature.', 'Insulin lowers blood sugar, quickly.'];
    const d = r.tokenizeDocs(docs);
    expect(d.ids[1]).toBe(tok.tokenId('[unused1]'));
    const enc = r.encodeDocs(docs);
    const kept = (s: string): number =>
      tok.encode(s, { addSpecialTokens: false }).filter((id) => !'.,'.includes(tok.idToToken(id)!)).length + 3;
    expect(Array.from(enc.offsets)).toEqual([0, kept(docs[0]!), kept(docs[0]!) + kept(docs[1]!)]);
    const norms = await enc.vectors.read();
    for (let i = 0; i < enc.offsets[2]!; i++) {
      let s = 0;
      for (let k = 0; k < r.dim; k++) s += norms[i * r.dim + k]! ** 2;
      expect(s).toBeCloseTo(1, 5);
    }
    const scores = await r.score(r.encodeQueries(['fever temperature', 'insulin sugar']), enc).read();
    expect(scores.length).toBe(4);
    for (const v of scores) expect(Math.abs(v)).toBeLessThanOrEqual(32 + 1e-4);
    r.encoder.dispose();
  });

  it('ColBERT from a plain BERT checkpoint gets a seeded projection; LoRA and the head train', async () => {
    const e = await getEngine();
    const st = parseSafetensors(await fixtureBytes('tiny-colbert', 'model.safetensors'));
    const { writeSafetensors } = await import('../../src/tensor/safetensors');
    const plain: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
    for (const [n, t] of st.tensors)
      if (n !== 'linear.weight') plain[n.replace(/^bert\./, '')] = { dtype: 'F32', shape: t.shape, data: t.data as Float32Array };
    const files = await fixtureFiles('tiny-colbert', { 'model.safetensors': writeSafetensors(plain) });
    const a = await loadColbert(e, files, { seed: 3 });
    const b = await loadColbert(e, files, { seed: 3 });
    expectClose(await a.projection.read(), await b.projection.read(), { atol: 0 }, 'same seed, same head');
    a.encoder.addLora({ r: 2, alpha: 4, dropout: 0, targetModules: ['query'] }, 1);
    a.encoder.weights.setTrainable((n) => n === 'linear.weight');
    const loss = sumAll(a.encodeQueries(['fever']));
    e.backward(loss);
    expect((await a.projection.grad!.read()).some((x) => x !== 0)).toBe(true);
    expect(a.encoder.layers[0]!.q!.lora!.B.grad).not.toBeNull();
    a.encoder.dispose();
    b.encoder.dispose();
    expect(ColbertRetriever).toBeDefined();
  });

  it('dense retriever (BMRetriever style): last-token embedding, instruction on queries, dot product', async () => {
    const e = await getEngine();
    const gen = await loadGenerator(e, await fixtureFiles('tiny-qwen2'));
    const dense = new DenseRetriever(gen.model, gen.tokenizer, { queryTemplate: 'Find passages: {text}' });
    const docs = ['Insulin lowers blood sugar.', 'Fever is common.'];
    const encoded = e.noGrad(() => dense.encodeDocs(docs));
    expect(Array.from(encoded.offsets)).toEqual([0, 1, 2]);
    const embs = await encoded.vectors.read();
    const D = gen.model.config.hiddenSize;
    expect(embs.length).toBe(2 * D);
    // Row 1 alone (no padding) gives the same embedding as inside the padded batch.
    const alone = await e.noGrad(() => dense.encodeDocs([docs[1]!]).vectors).read();
    expectClose(embs.slice(D), alone, { atol: 2e-5, rtol: 1e-4 }, 'padding does not leak');
    const q = e.noGrad(() => dense.encodeQueries(['blood sugar']));
    expect(q.shape).toEqual([1, 1, D]);
    const s = await e.noGrad(() => dense.score(q, encoded)).read();
    const qv = await q.read();
    for (let n = 0; n < 2; n++)
      expect(s[n]).toBeCloseTo(
        qv.reduce((a, v, k) => a + v * embs[n * D + k]!, 0),
        3,
      );
    // The instruction goes around the question: the query vector is the template's text's.
    const templated = await e.noGrad(() => dense.embed(['Find passages: blood sugar'])).read();
    expectClose(qv, templated, { atol: 0 }, 'query template');
    // Each text ends with EOS (last-token pooling reads the state that has seen it all).
    expect(dense.ids('fever').at(-1)).toBe(gen.tokenizer.special.eos);
    gen.model.dispose();
  });
});

describe('loading errors', () => {
  it('a wrong shape, a truncated file, an unknown architecture, the wrong model kind, and too little memory', async () => {
    const e = await getEngine();
    const cfg = JSON.parse(new TextDecoder().decode(await fixtureBytes('tiny-llama', 'config.json'))) as Record<string, unknown>;
    const wrongShape = await fixtureFiles('tiny-llama', {
      'config.json': enc(JSON.stringify({ ...cfg, intermediate_size: 48 })),
    });
    await expect(loadGenerator(e, wrongShape)).rejects.toThrow(CheckpointMismatchError);
    await expect(loadGenerator(e, wrongShape)).rejects.toThrow(/mlp\.gate_proj\.weight" is \[64,32\].*implies \[48,32\]/);
    const full = await fixtureBytes('tiny-llama', 'model.safetensors');
    const truncated = await fixtureFiles('tiny-llama', { 'model.safetensors': full.slice(0, full.length - 10) });
    await expect(loadGenerator(e, truncated)).rejects.toThrow(SafetensorsError);
    await expect(loadGenerator(e, truncated)).rejects.toThrow(/model\.safetensors: file is truncated.*re-download/);
    const gpt2 = await fixtureFiles('tiny-llama', { 'config.json': enc(JSON.stringify({ ...cfg, model_type: 'gpt2' })) });
    await expect(loadGenerator(e, gpt2)).rejects.toThrow(UnsupportedArchitectureError);
    await expect(loadColbert(e, await fixtureFiles('tiny-llama'))).rejects.toThrow(/needs a BERT checkpoint/);
    await expect(loadGenerator(e, await fixtureFiles('tiny-colbert'))).rejects.toThrow(
      /the generator needs a decoder \(llama, qwen2, mistral, gpt_neox or gemma\)/,
    );
    await expect(loadGenerator(e, await fixtureFiles('tiny-llama'), { budgetBytes: 100_000 })).rejects.toThrow(
      ModelTooLargeError,
    );
    await expect(loadGenerator(e, await fixtureFiles('tiny-llama', { 'tokenizer.json': null }))).rejects.toThrow(
      /no tokenizer\.json.*save_pretrained/,
    );
    // An older BERT checkpoint with vocab.txt and no tokenizer.json still loads.
    const tj = JSON.parse(new TextDecoder().decode(await fixtureBytes('tiny-colbert', 'tokenizer.json'))) as {
      model: { vocab: Record<string, number> };
    };
    const vocab = Object.entries(tj.model.vocab)
      .sort((a, b) => a[1] - b[1])
      .map(([t]) => t)
      .join('\n');
    const old = await loadColbert(e, await fixtureFiles('tiny-colbert', { 'tokenizer.json': null, 'vocab.txt': enc(vocab) }));
    expect(old.tokenizer.encode('Insulin lowers blood sugar.')).toEqual([4, 128, 166, 74, 124, 126, 7, 5]);
    old.encoder.dispose();
  });
});

describe('export', () => {
  it('PEFT adapter names and config; merged weights reproduce the LoRA model without LoRA', async () => {
    const e = await getEngine();
    const gen = await loadGenerator(e, await fixtureFiles('tiny-llama'));
    const m = gen.model;
    const lora = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'] };
    m.addLora(lora, 2);
    for (const l of m.linears())
      if (l.lora)
        e.gpu.write(
          l.lora.B.buffer,
          Float32Array.from({ length: l.lora.B.size }, (_, i) => Math.sin(i) * 0.2),
        );
    const peft = await exportPeftAdapter(m.linears(), lora, {
      baseModel: 'medrank-test/tiny-llama',
      taskType: 'CAUSAL_LM',
      weights: m.weights,
      modulesToSave: ['embed_tokens', 'norm'],
    });
    const st = parseSafetensors(peft.adapter);
    const names = [...st.tensors.keys()];
    expect(names).toContain('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(st.tensors.get('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight')!.shape).toEqual([16, 4]);
    expect(names).toContain('base_model.model.model.embed_tokens.weight');
    expect(names).toContain('base_model.model.model.layers.0.input_layernorm.weight');
    expect(names).toContain('base_model.model.model.norm.weight');
    expect(names.filter((n) => n.includes('lora_')).length).toBe(2 * 2 * m.config.numLayers);
    const config = JSON.parse(peft.config) as Record<string, unknown>;
    expect(config).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 4,
      lora_alpha: 8,
      target_modules: ['q_proj', 'v_proj'],
    });

    const prompt = gen.encodePrompt('Question: fever?');
    const withLora = await lastLogits(gen, prompt);
    const merged = await exportMergedWeights(m.weights, m.linears());
    const plain = await loadGenerator(e, await fixtureFiles('tiny-llama', { 'model.safetensors': merged }));
    expectClose(await lastLogits(plain, prompt), withLora, { atol: 2e-5, rtol: 1e-4 }, 'merged = base + LoRA');
    expect([...parseSafetensors(merged).tensors.keys()].sort()).toEqual([...m.weights.tensors.keys()].sort());
    m.dispose();
    plain.model.dispose();
  });
});

describe('training configuration', () => {
  it('LoRA + embeddings + norms on the generator: 20 AdamW steps drive the answer NLL down; frozen weights stay put', async () => {
    const e = await getEngine();
    const gen = await loadGenerator(e, await fixtureFiles('tiny-llama'));
    const params = gen.configureTraining({
      lora: { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] },
      embeddings: true,
      norms: true,
      seed: 1,
    });
    // 2 layers x 4 modules = 8 adapters x (A, B), + embed + lm_head + 5 norms.
    expect(params.length).toBe(16 + 2 + 5);
    expect(() => gen.model.addLora({ r: 2, alpha: 2, dropout: 0, targetModules: ['qproj'] }, 0)).toThrow(
      /qproj match no layer; this model's linear modules are q_proj, k_proj/,
    );
    const frozen = await gen.model.layers[0]!.gate!.weight.read();
    const opt = new AdamW(e, params, { lr: 1e-2, weightDecay: 0 });
    const ex = [{ prompt: gen.encodePrompt('Question: What is insulin?\nAnswer:'), answer: gen.encodeAnswer(' a hormone.') }];
    const losses: number[] = [];
    for (let step = 0; step < 20; step++) {
      const loss = e.scope(() => {
        opt.zeroGrad();
        const l = gen.meanAnswerLoss(ex, { ctx: new ForwardContext(true, step), attention: { ratio: 0.25, shift: 'roll' } });
        e.backward(l);
        opt.step();
        return l;
      });
      losses.push(await loss.item());
      loss.dispose();
    }
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
    // The export names every trained module: the untied LM head too, which PEFT then saves in full.
    const peft = await gen.exportAdapter('medrank-test/tiny-llama');
    const cfg = JSON.parse(peft.config) as { modules_to_save: string[]; target_modules: string[] };
    expect(cfg.modules_to_save).toEqual(['embed_tokens', 'input_layernorm', 'lm_head', 'norm', 'post_attention_layernorm']);
    expect(cfg.target_modules).toEqual(['k_proj', 'o_proj', 'q_proj', 'v_proj']);
    const keys = [...parseSafetensors(peft.adapter).tensors.keys()];
    expect(keys).toContain('base_model.model.lm_head.weight');
    expect(keys.filter((k) => k.includes('.lora_')).length).toBe(16);
    expectClose(await gen.model.layers[0]!.gate!.weight.read(), frozen, { atol: 0 }, 'frozen MLP weight');
    gen.model.dispose();
  });

  it("retriever modes: 'projection' trains the head only, 'lora' adds adapters, 'full' everything", async () => {
    const e = await getEngine();
    const r = await loadColbert(e, await fixtureFiles('tiny-colbert'));
    expect(r.configureTraining('projection')).toEqual([r.projection]);
    const full = r.configureTraining('full');
    expect(full.length).toBe(r.encoder.weights.names().length);
    expect(() => r.configureTraining('lora')).toThrow(/needs a LoRA config/);
    const lora = r.configureTraining('lora', { r: 2, alpha: 4, dropout: 0, targetModules: ['query', 'value'] }, 1);
    expect(lora.length).toBe(1 + 2 * 2 * 2);
    // A few steps of InfoNCE between a query and its passage against a distractor raise the positive's share.
    const opt = new AdamW(e, lora, { lr: 5e-2, weightDecay: 0 });
    const docs = ['Insulin lowers blood sugar.', 'Fever is a high body temperature.'];
    const share = async (): Promise<number> => {
      const s = await e.noGrad(() => r.score(r.encodeQueries(['what lowers sugar']), r.encodeDocs(docs))).read();
      return Math.exp(s[0]!) / (Math.exp(s[0]!) + Math.exp(s[1]!));
    };
    const before = await share();
    for (let step = 0; step < 8; step++)
      e.scope(() => {
        opt.zeroGrad();
        const s = r.score(r.encodeQueries(['what lowers sugar']), r.encodeDocs(docs)); // [1, 2]
        e.backward(crossEntropy(s, [0]));
        opt.step();
      });
    expect(await share()).toBeGreaterThan(before + 0.05);
    r.encoder.dispose();
  });
});

describe('memory', () => {
  it('dispose() frees weights, LoRA adapters and RoPE tables: a load, train-setup and dispose leaves the pool as it was', async () => {
    const e = await getEngine();
    const files = await fixtureFiles('tiny-qwen2');
    const warm = await loadGenerator(e, files); // compile and fill the pool once
    warm.model.dispose();
    const live = e.gpu.pool.liveCount;
    const gen = await loadGenerator(e, files);
    gen.configureTraining({ lora: { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'] }, norms: true });
    gen.configureTraining({ lora: { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'] } }); // replaces, not stacks
    await gen.answerNll([{ prompt: gen.encodePrompt('fever?'), answer: gen.encodeAnswer(' yes') }]);
    expect(e.gpu.pool.liveCount).toBeGreaterThan(live);
    gen.model.dispose();
    expect(e.gpu.pool.liveCount).toBe(live);
  });
});

describe('edge cases', () => {
  it('a longer second forward before one backward (RoPE tables grow mid-tape) gives the same gradients', async () => {
    const e = await getEngine();
    const files = await fixtureFiles('tiny-llama');
    const short = (g: Awaited<ReturnType<typeof loadGenerator>>) => [
      { prompt: g.encodePrompt('fever?'), answer: g.encodeAnswer(' yes') },
    ];
    const long = (g: Awaited<ReturnType<typeof loadGenerator>>) => [
      {
        prompt: Array.from({ length: 90 }, (_, i) => 3 + (i % 200)),
        answer: g.encodeAnswer(' a hormone that lowers blood sugar'),
      },
    ];
    const grads: Float32Array[] = [];
    for (const pregrow of [true, false]) {
      const g = await loadGenerator(e, files);
      g.configureTraining({ lora: { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'k_proj'] }, seed: 4 });
      for (const l of g.model.linears())
        if (l.lora)
          e.gpu.write(
            l.lora.B.buffer,
            Float32Array.from({ length: l.lora.B.size }, (_, i) => Math.cos(i) * 0.1),
          );
      if (pregrow) await g.answerNll(long(g)); // tables already big: nothing is replaced mid-tape
      const loss = add(sumAll(g.exampleNll(short(g))), g.meanAnswerLoss(long(g)));
      // Fill the pool with fresh allocations, as the next ops of a step would.
      for (let i = 0; i < 8; i++) e.full([64, 4], 7);
      e.backward(loss);
      grads.push(await g.model.layers[0]!.q!.lora!.A.grad!.read());
      g.model.dispose();
    }
    expectClose(grads[1]!, grads[0]!, { atol: 1e-6, rtol: 1e-5 }, 'grad with tables grown mid-tape');
  });

  it('a cased vocabulary without [unused0] is refused before any weight is uploaded', async () => {
    const e = await getEngine();
    const tj = new TextDecoder()
      .decode(await fixtureBytes('tiny-colbert', 'tokenizer.json'))
      .replace('"[unused0]"', '"[unusedX]"');
    const live = e.gpu.pool.liveCount;
    await expect(loadColbert(e, await fixtureFiles('tiny-colbert', { 'tokenizer.json': enc(tj) }))).rejects.toThrow(
      /no \[unused0\] token, which ColBERT uses as its query marker \[Q\].*uncased/,
    );
    expect(e.gpu.pool.liveCount).toBe(live);
  });

  it('only vocabulary tables are split: other tensors above the threshold stay whole and the logits still match', async () => {
    const e = await getEngine();
    const files = await fixtureFiles('tiny-llama');
    const ref = await loadGenerator(e, files);
    const split = await loadGenerator(e, files, { splitAboveBytes: 4096 }); // under the MLP weights' 8 KiB
    expect([...split.model.weights.shards.keys()].sort()).toEqual(['lm_head.weight', 'model.embed_tokens.weight']);
    const ids = Int32Array.from(ref.encodePrompt('Question: What is insulin?'));
    const a = await e.noGrad(() => ref.model.logits(ref.model.forward(ids, 1, ids.length).reshape([ids.length, 32]))).read();
    const b = await e.noGrad(() => split.model.logits(split.model.forward(ids, 1, ids.length).reshape([ids.length, 32]))).read();
    expectClose(b, a, { atol: 1e-5, rtol: 1e-5 }, 'split vs whole');
    ref.model.dispose();
    split.model.dispose();
  });

  it('tied models export the trained table as lm_head too; full + LoRA is refused; reconfiguring drops old adapters', async () => {
    const e = await getEngine();
    const gen = await loadGenerator(e, await fixtureFiles('tiny-qwen2'));
    expect(() => gen.configureTraining({ full: true, lora: { r: 2, alpha: 2, dropout: 0, targetModules: ['q_proj'] } })).toThrow(
      /choose one/,
    );
    gen.configureTraining({ lora: { r: 2, alpha: 2, dropout: 0, targetModules: ['q_proj'] } });
    gen.configureTraining({ lora: { r: 2, alpha: 2, dropout: 0, targetModules: ['v_proj'] }, embeddings: true });
    expect(
      gen.model
        .linears()
        .filter((l) => l.lora)
        .map((l) => l.moduleName),
    ).toEqual(['v_proj', 'v_proj']);
    const peft = await gen.exportAdapter('medrank-test/tiny-qwen2');
    const st = parseSafetensors(peft.adapter);
    expect((JSON.parse(peft.config) as { modules_to_save: string[] }).modules_to_save).toEqual(['embed_tokens', 'lm_head']);
    expect(st.tensors.get('base_model.model.lm_head.weight')!.data).toEqual(
      st.tensors.get('base_model.model.model.embed_tokens.weight')!.data,
    );
    expect([...st.tensors.keys()].some((k) => k.includes('q_proj'))).toBe(false);
    gen.model.dispose();
  });

  it('label logits of one-token prompts; generation stops at a sliding window', async () => {
    const e = await getEngine();
    const gen = await loadGenerator(e, await fixtureFiles('tiny-llama'));
    const bos = gen.tokenizer.special.bos!;
    const ll = await e.noGrad(() => gen.labelLogits([[bos], gen.encodePrompt('fever?')], [5, 6])).read();
    expect(ll.length).toBe(2 * 2);
    const full = await lastLogits(gen, [bos]);
    expectClose(ll.slice(0, 2), Float32Array.from([full[5]!, full[6]!]), { atol: 2e-5, rtol: 1e-4 }, 'one-token prompt');
    gen.model.dispose();
    const cfg = JSON.parse(new TextDecoder().decode(await fixtureBytes('tiny-llama', 'config.json'))) as Record<string, unknown>;
    const windowed = await loadGenerator(
      e,
      await fixtureFiles('tiny-llama', {
        'config.json': enc(JSON.stringify({ ...cfg, model_type: 'mistral', sliding_window: 12 })),
      }),
    );
    const prompt = windowed.encodePrompt('Question: fever?'); // 10 tokens or fewer
    const out = await windowed.generate(prompt, { maxNewTokens: 8, stopAtEos: false });
    // Positions 0..11 fill the window; the token predicted at position 11 is returned, never fed back.
    expect(out.length).toBe(12 - prompt.length + 1);
    windowed.model.dispose();
  });
});
