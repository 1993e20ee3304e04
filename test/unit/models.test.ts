// Model-side logic that needs no GPU: config parsing and its errors, RoPE scaling against the
// PyTorch golden's inverse frequencies, checkpoint verification messages, the memory plan, and
// the tokenizers (through @huggingface/transformers) against independently computed ids.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Checkpoint } from '../../src/models/checkpoint';
import { CONFIG_LIMITS, parseConfig, ropeInvFreq, type DecoderConfig } from '../../src/models/config';
import {
  CheckpointMismatchError,
  ModelConfigError,
  ModelTooLargeError,
  UnsupportedArchitectureError,
} from '../../src/models/errors';
import { decoderSpecs } from '../../src/models/decoder';
import { loadGenerator, readModelConfig, readModelTokenizer } from '../../src/models/load';
import { checkFits, planMemory } from '../../src/models/memory';
import { ModelFileMissingError, type ModelFiles } from '../../src/models/sources';
import { BERT_TOKENIZER_DEFAULTS, Tokenizer, wordPieceTokenizerJson } from '../../src/models/tokenizer';
import type { Engine } from '../../src/tensor';
import { parseSafetensors, SafetensorsError, writeSafetensors } from '../../src/tensor/safetensors';
import { deep } from './fuzz/hostile';
import { LARGE_CONFIGS, LLAMA_32_1B, QWEN25_05B, SMOLLM2_135M, BERT_BASE } from './model-config-fixtures';

const fixture = (name: string, file: string): Buffer => readFileSync(`test/fixtures/models/${name}/${file}`);
const json = (name: string, file: string): Record<string, unknown> =>
  JSON.parse(fixture(name, file).toString()) as Record<string, unknown>;

describe('parseConfig', () => {
  it('reads the three fixture families with HF defaults', () => {
    const bert = parseConfig(json('tiny-colbert', 'config.json'));
    expect(bert).toMatchObject({ kind: 'bert', hiddenSize: 32, numHeads: 4, colbertDim: 16, hiddenAct: 'gelu' });
    const llama = parseConfig(json('tiny-llama', 'config.json')) as DecoderConfig;
    expect(llama).toMatchObject({
      kind: 'decoder',
      family: 'llama',
      numKvHeads: 2,
      headDim: 8,
      tieWordEmbeddings: false,
      attentionBias: false,
    });
    expect(llama.ropeScaling.type).toBe('llama3');
    const qwen = parseConfig(json('tiny-qwen2', 'config.json')) as DecoderConfig;
    expect(qwen).toMatchObject({
      family: 'qwen2',
      numKvHeads: 1,
      headDim: 8,
      tieWordEmbeddings: true,
      attentionBias: true,
      ropeTheta: 1e6,
    });
  });

  it('RoPE inverse frequencies (llama3 scaling, plain theta) equal the golden bit for bit', () => {
    for (const name of ['tiny-llama', 'tiny-qwen2']) {
      const g = parseSafetensors(readFileSync(`test/goldens/models/${name}.safetensors`));
      const want = g.tensors.get('rope_inv_freq')!.data as Float32Array;
      expect(Array.from(ropeInvFreq(parseConfig(json(name, 'config.json')) as DecoderConfig))).toEqual(Array.from(want));
    }
  });

  it('refuses unknown architectures and bad settings with what to do', () => {
    expect(() => parseConfig({ model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] })).toThrow(UnsupportedArchitectureError);
    expect(() => parseConfig({ model_type: 'gpt2' })).toThrow(/bert.*llama, qwen2/);
    expect(() => parseConfig('{not json')).toThrow(ModelConfigError);
    expect(() => parseConfig({ vocab_size: 3 })).toThrow(/model_type/);
    const base = json('tiny-llama', 'config.json');
    expect(() => parseConfig({ ...base, hidden_act: 'gelu' })).toThrow(/SwiGLU/);
    expect(() => parseConfig({ ...base, rope_scaling: { rope_type: 'yarn', factor: 4 } })).toThrow(/yarn.*not supported/);
    expect(() => parseConfig({ ...base, num_key_value_heads: 3 })).toThrow(/multiple of num_key_value_heads/);
    expect(() => parseConfig({ ...base, vocab_size: undefined })).toThrow(/lacks "vocab_size"/);
    // Sliding windows: Qwen2's is off unless use_sliding_window; Mistral's is on when given.
    const qwen = json('tiny-qwen2', 'config.json');
    expect((parseConfig({ ...qwen, sliding_window: 32 }) as DecoderConfig).slidingWindow).toBeNull();
    expect((parseConfig({ ...qwen, sliding_window: 32, use_sliding_window: true }) as DecoderConfig).slidingWindow).toBe(32);
    expect((parseConfig({ ...base, model_type: 'mistral', sliding_window: 4096 }) as DecoderConfig).slidingWindow).toBe(4096);
    expect(() => parseConfig({ ...json('tiny-colbert', 'config.json'), position_embedding_type: 'relative_key' })).toThrow(
      /absolute/,
    );
  });
});

/** The error parseConfig throws for `raw` (fails the test when it accepts). */
function refusal(raw: string | object): Error & { field?: string | null } {
  try {
    parseConfig(raw);
  } catch (e) {
    return e as Error & { field?: string | null };
  }
  throw new Error('accepted');
}

/** An in-memory model folder that records what was read. */
function memFiles(contents: Record<string, string | Buffer>, reads: string[] = []): ModelFiles {
  return {
    label: 'mem-model',
    kind: 'folder',
    read: (path) => {
      reads.push(path);
      const v = Object.hasOwn(contents, path) ? contents[path] : undefined;
      if (v === undefined) return Promise.reject(new ModelFileMissingError(path, 'mem-model', `no ${path}`));
      return Promise.resolve(typeof v === 'string' ? new TextEncoder().encode(v) : new Uint8Array(v));
    },
    exists: (path) => Promise.resolve(Object.hasOwn(contents, path)),
  };
}

/** Enough of an Engine for the loader's memory check (default adapter limits); nothing is uploaded. */
const noGpu = { gpu: { info: { limits: {} } } } as unknown as Engine;

describe('config field rules', () => {
  const llama = json('tiny-llama', 'config.json');
  const bert = json('tiny-colbert', 'config.json');

  it('admit real checkpoints of every family up to 405B; the memory plan, not the parser, refuses the large ones', () => {
    for (const [name, raw] of Object.entries({ BERT_BASE, SMOLLM2_135M, LLAMA_32_1B, QWEN25_05B, ...LARGE_CONFIGS }))
      expect(() => parseConfig(raw), name).not.toThrow();
    for (const role of ['retriever', 'generator'])
      expect(() => parseConfig(readFileSync(`public/demo/models/${role}/config.json`, 'utf8')), role).not.toThrow();
    const c = parseConfig(LARGE_CONFIGS['Llama-3.1-70B']!) as DecoderConfig;
    expect(c).toMatchObject({ numLayers: 80, headDim: 128, numKvHeads: 8, eosTokenIds: [128001, 128008, 128009] });
    const nemo = parseConfig(LARGE_CONFIGS['Mistral-Nemo-12B']!) as DecoderConfig;
    expect(nemo).toMatchObject({ hiddenSize: 5120, headDim: 128, slidingWindow: null });
    const plan = planMemory(decoderSpecs(c), () => true);
    expect(plan.totalParams).toBeGreaterThan(69e9);
    expect(plan.totalParams).toBeLessThan(72e9);
    expect(() => checkFits(plan, { maxStorageBufferBindingSize: 2 ** 40, maxBufferSize: 2 ** 40 }, 4 * 2 ** 30, 'x')).toThrow(
      ModelTooLargeError,
    );
  });

  it('num_hidden_layers: 10000000 is refused at once, naming the field, before any tensor list exists', async () => {
    for (const base of [llama, bert]) {
      const t0 = performance.now();
      const e = refusal({ ...base, num_hidden_layers: 10_000_000 });
      expect(performance.now() - t0).toBeLessThan(50);
      expect(e).toBeInstanceOf(ModelConfigError);
      expect(e.field).toBe('num_hidden_layers');
      expect(e.message).toBe('config.json "num_hidden_layers" must be an integer from 1 to 1024, found 10000000');
    }
    // Through the loader: only config.json is read, no weight, no tokenizer.
    const reads: string[] = [];
    const files = memFiles({ 'config.json': JSON.stringify({ ...llama, num_hidden_layers: 10_000_000 }) }, reads);
    await expect(loadGenerator(noGpu, files)).rejects.toThrow(/"num_hidden_layers" must be an integer from 1 to 1024/);
    expect(reads).toEqual(['config.json']);
  });

  it('a config within bounds whose weights cannot fit is refused by the memory plan before any weight is read', async () => {
    const reads: string[] = [];
    const tok = (f: string) => fixture('tiny-llama', f);
    const files = memFiles(
      {
        'config.json': JSON.stringify(LARGE_CONFIGS['Llama-3.1-70B']),
        'tokenizer.json': tok('tokenizer.json'),
        'tokenizer_config.json': tok('tokenizer_config.json'),
        'model.safetensors': tok('model.safetensors'),
      },
      reads,
    );
    await expect(loadGenerator(noGpu, files)).rejects.toThrow(ModelTooLargeError);
    await expect(loadGenerator(noGpu, files, { splitAboveBytes: 1 })).rejects.toThrow(/in one buffer/);
    expect(new Set(reads)).toEqual(new Set(['config.json', 'tokenizer_config.json', 'tokenizer.json']));
    // The weights-only plan says so, without advice about training fewer parameters.
    const weightsOnly = planMemory(decoderSpecs(parseConfig(LARGE_CONFIGS['Llama-3.1-70B']!) as DecoderConfig), () => false);
    expect(() => checkFits(weightsOnly, { maxStorageBufferBindingSize: 2 ** 40, maxBufferSize: 2 ** 40 }, 2 ** 32, 'x')).toThrow(
      /^x: its weights alone need 262\.\d\d GiB \(70,553,706,496 parameters in f32\), above the 4\.00 GiB memory budget/,
    );
  });

  it('sizes are integers within their bounds', () => {
    expect(refusal({ ...llama, vocab_size: CONFIG_LIMITS.vocab + 1 }).message).toMatch(
      /"vocab_size" must be an integer from 1 to 4194304, found 4194305/,
    );
    expect(refusal({ ...llama, hidden_size: 0 }).field).toBe('hidden_size');
    expect(refusal({ ...llama, intermediate_size: 1.5 }).message).toMatch(/"intermediate_size" .* found 1\.5$/);
    expect(refusal({ ...llama, max_position_embeddings: 0 }).field).toBe('max_position_embeddings');
    expect(refusal({ ...llama, sliding_window: 0 }).message).toMatch(/"sliding_window" must be an integer from 1/);
    expect(refusal({ ...bert, type_vocab_size: 0 }).field).toBe('type_vocab_size');
    expect(refusal({ ...bert, dim: -1 }).field).toBe('dim');
    expect(refusal({ ...llama, num_attention_heads: '4' }).message).toMatch(/found "4"$/);
  });

  it('heads must divide: hidden_size by heads (unless head_dim is given), heads by key/value heads; head_dim even', () => {
    expect(refusal({ ...llama, head_dim: undefined, hidden_size: 30 }).message).toBe(
      'config.json: hidden_size 30 is not divisible by num_attention_heads 4 (and no head_dim is given)',
    );
    expect(refusal({ ...bert, hidden_size: 30 }).message).toMatch(/hidden_size 30 is not divisible by num_attention_heads 4/);
    const kv = refusal({ ...llama, num_key_value_heads: 3 });
    expect(kv.message).toBe('config.json: num_attention_heads 4 must be a multiple of num_key_value_heads 3');
    expect(kv.field).toBe('num_key_value_heads');
    expect(refusal({ ...llama, num_key_value_heads: 8 }).field).toBe('num_key_value_heads');
    expect(refusal({ ...llama, head_dim: 7 }).message).toMatch(/head dim 7 must be even \(RoPE rotates pairs/);
    expect(refusal({ ...llama, head_dim: undefined, hidden_size: 36, num_attention_heads: 4 }).message).toMatch(
      /head dim 9 \(hidden_size \/ num_attention_heads\) must be even/,
    );
    // head_dim given: hidden_size need not be heads x head_dim (Mistral-Nemo); null means not given.
    expect((parseConfig({ ...llama, head_dim: 16 }) as DecoderConfig).headDim).toBe(16);
    expect((parseConfig({ ...llama, head_dim: null }) as DecoderConfig).headDim).toBe(8);
    expect((parseConfig({ ...llama, num_key_value_heads: null }) as DecoderConfig).numKvHeads).toBe(4);
  });

  it('RoPE: theta positive and finite, llama3 factors positive with low != high, linear factor positive', () => {
    const text = (over: object) => JSON.stringify({ ...llama, ...over }).replace('"THETA"', '1e999');
    expect(refusal(text({ rope_theta: 'THETA' })).message).toBe(
      'config.json "rope_theta" must be a finite number above 0, found Infinity',
    );
    expect(refusal({ ...llama, rope_theta: 0 }).field).toBe('rope_theta');
    const same = refusal({ ...llama, rope_scaling: { ...(llama.rope_scaling as object), low_freq_factor: 4 } });
    expect(same).toBeInstanceOf(ModelConfigError);
    expect(same.field).toBe('rope_scaling.low_freq_factor');
    expect(same.message).toMatch(/low_freq_factor and high_freq_factor are both 4; llama3 scaling divides by their difference/);
    expect(refusal({ ...llama, rope_scaling: { ...(llama.rope_scaling as object), high_freq_factor: -4 } }).message).toMatch(
      /"rope_scaling\.high_freq_factor" must be a finite number above 0, found -4/,
    );
    expect(refusal({ ...llama, rope_scaling: { rope_type: 'linear', factor: 0 } }).field).toBe('rope_scaling.factor');
    expect((parseConfig({ ...llama, rope_scaling: { type: 'linear', factor: 2 } }) as DecoderConfig).ropeScaling).toEqual({
      type: 'linear',
      factor: 2,
    });
    expect(refusal({ ...llama, rope_scaling: 4 }).message).toMatch(/"rope_scaling" must be an object or null, found 4/);
  });

  it('rope_scaling without a type, or with an unknown one, says what it found, never "undefined"', () => {
    const none = refusal({ ...llama, rope_scaling: { factor: 8 } });
    expect(none).toBeInstanceOf(ModelConfigError);
    expect(none.message).toBe(
      'config.json "rope_scaling" names no "rope_type" (nor "type"); set it to default, linear, dynamic or llama3, or remove rope_scaling',
    );
    expect(refusal({ ...llama, rope_scaling: { rope_type: null, type: null } }).message).toMatch(/names no "rope_type"/);
    expect(refusal({ ...llama, rope_scaling: { type: 3 } }).message).toMatch(/"rope_scaling\.type" must be a string .* found 3$/);
    const yarn = refusal({ ...llama, rope_scaling: { rope_type: 'x'.repeat(5000) } });
    expect(yarn).toBeInstanceOf(UnsupportedArchitectureError);
    expect(yarn.message.length).toBeLessThan(300);
    for (const e of [none, yarn]) expect(e.message).not.toMatch(/undefined/);
  });

  it('eps positive, dropout probabilities in [0, 1)', () => {
    expect(refusal({ ...llama, rms_norm_eps: 0 }).message).toMatch(/"rms_norm_eps" must be a finite number above 0 and below 1/);
    expect(refusal({ ...bert, layer_norm_eps: -1e-12 }).field).toBe('layer_norm_eps');
    expect(refusal({ ...bert, hidden_dropout_prob: 1 }).message).toMatch(/at least 0 and below 1, found 1$/);
    expect(refusal({ ...bert, attention_probs_dropout_prob: -0.1 }).field).toBe('attention_probs_dropout_prob');
    expect(refusal({ ...llama, attention_dropout: 2 }).field).toBe('attention_dropout');
    expect((parseConfig({ ...bert, hidden_dropout_prob: 0 }) as { hiddenDropout: number }).hiddenDropout).toBe(0);
  });

  it('token ids are integers inside [0, vocab_size); eos may be a list', () => {
    const eos = refusal({ ...llama, eos_token_id: 330 });
    expect(eos.field).toBe('eos_token_id');
    expect(eos.message).toBe(
      'config.json "eos_token_id" must be a token id (or a list of them) from 0 to 329 (vocab_size is 330), found 330',
    );
    expect(refusal({ ...llama, eos_token_id: [0, 400] }).message).toMatch(
      /"eos_token_id" entry 1 must be a token id .* found 400$/,
    );
    expect(refusal({ ...llama, eos_token_id: Array(5000).fill(0) }).message).toMatch(/at most 1024 .* found a list of 5000$/);
    expect(refusal({ ...llama, bos_token_id: -1 }).field).toBe('bos_token_id');
    expect(refusal({ ...llama, pad_token_id: 0.5 }).field).toBe('pad_token_id');
    expect(refusal({ ...bert, pad_token_id: 179 }).message).toMatch(/from 0 to 178 \(vocab_size is 179\), found 179/);
    const ok = parseConfig({ ...llama, eos_token_id: [0, 1], bos_token_id: null, pad_token_id: null }) as DecoderConfig;
    expect(ok).toMatchObject({ eosTokenIds: [0, 1], bosTokenId: null, padTokenId: null });
    expect((parseConfig({ ...llama, eos_token_id: null }) as DecoderConfig).eosTokenIds).toEqual([]);
  });

  it('only own keys are read: inherited or __proto__ fields never count', () => {
    expect(refusal(Object.create({ model_type: 'llama' }) as object).message).toMatch(/has no "model_type"/);
    expect(refusal(JSON.parse('{"__proto__": {"model_type": "llama"}}') as object).field).toBe('model_type');
    const inherited = Object.assign(Object.create({ vocab_size: 330 }) as object, { ...llama, vocab_size: undefined });
    expect(refusal(inherited).message).toMatch(/lacks "vocab_size"/);
    expect(refusal(`{"model_type": "llama", "vocab_size": 330, "toString": 1}`).message).toMatch(/lacks "hidden_size"/);
    expect(({} as Record<string, unknown>).model_type).toBeUndefined();
  });

  it('booleans and choices are typed: a string "true" is not true', () => {
    expect(refusal({ ...llama, tie_word_embeddings: 'true' }).message).toMatch(
      /"tie_word_embeddings" must be true or false, found "true"/,
    );
    expect(refusal({ ...llama, hidden_act: 7 }).message).toMatch(/"hidden_act" must be a string \("silu"\), found 7/);
    expect(refusal({ model_type: ['llama'] }).message).toMatch(/"model_type" must be a string .* found a list of 1/);
  });

  it('config.json nested 4,000 levels deep is a ModelConfigError, as text, as an object and through the loader', async () => {
    const nested = `{"model_type": "llama", "x": ${deep(4_000)}}`;
    for (const raw of [nested, deep(4_000, 'object'), JSON.parse(nested) as object]) {
      const e = refusal(raw);
      expect(e).toBeInstanceOf(ModelConfigError);
      expect(e.message).toMatch(/^config\.json: nested deeper than 64 levels/);
    }
    // architectures is printed in the unsupported message: bounded, and never recursed into.
    const archs = refusal({ model_type: 'gpt2', architectures: [JSON.parse(deep(4_000)), 'x'.repeat(1e5), 'B', 'C'] });
    expect(archs).toBeInstanceOf(ModelConfigError);
    const long = refusal({ model_type: 'gpt2', architectures: ['x'.repeat(1e5), 'B', 'C', 'D', 'E'] });
    expect(long.message).toMatch(/^model_type "gpt2" \(x+…, B, C, and 2 more\) is not supported/);
    expect(long.message.length).toBeLessThan(400);
    await expect(readModelConfig(memFiles({ 'config.json': nested }))).rejects.toThrow(
      /^mem-model: config\.json: nested deeper than 64 levels/,
    );
    await expect(readModelConfig(memFiles({ 'config.json': nested }))).rejects.toBeInstanceOf(ModelConfigError);
    await expect(readModelConfig(memFiles({ 'config.json': '{"model_type": "ll' }))).rejects.toThrow(
      /^mem-model: config\.json: not valid JSON \(.*\); re-download it or fix the file$/,
    );
    await expect(readModelConfig(memFiles({ 'config.json': '[1]' }))).rejects.toThrow(
      /config\.json must hold a JSON object, found a list of 1/,
    );
    const folder = (tokCfg: string) =>
      memFiles({
        'config.json': JSON.stringify(llama),
        'tokenizer_config.json': tokCfg,
        'tokenizer.json': fixture('tiny-llama', 'tokenizer.json'),
      });
    for (const tokCfg of [`{"a": ${deep(4_000)}}`, deep(4_000, 'object')]) {
      const e = await readModelTokenizer(folder(tokCfg)).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(ModelConfigError);
      expect((e as Error).message).toMatch(/^mem-model: tokenizer_config\.json: nested deeper than 64 levels/);
    }
    await expect(readModelTokenizer(folder('{"tokenizer_class": 5}'))).rejects.toThrow(
      /tokenizer_config\.json "tokenizer_class" must be a class name .* found 5$/,
    );
    const tokJson = memFiles({ 'config.json': JSON.stringify(llama), 'tokenizer.json': `{"model": ${deep(4_000)}}` });
    await expect(readModelTokenizer(tokJson)).rejects.toThrow(/^mem-model: tokenizer\.json: nested deeper than 64 levels/);
  });
});

describe('Checkpoint', () => {
  const llama = parseConfig(json('tiny-llama', 'config.json')) as DecoderConfig;

  it('verifies the fixture and lists every missing or misshapen tensor in one message', () => {
    const ckpt = new Checkpoint(new Map([['model.safetensors', new Uint8Array(fixture('tiny-llama', 'model.safetensors'))]]));
    expect(() => ckpt.verify(decoderSpecs(llama), 'tiny-llama')).not.toThrow();
    expect(ckpt.info('model.norm.weight')?.dtype).toBe('BF16');
    const wrong = { ...llama, numLayers: 3, vocabSize: 331 };
    let msg = '';
    try {
      ckpt.verify(decoderSpecs(wrong), 'tiny-llama');
    } catch (e) {
      expect(e).toBeInstanceOf(CheckpointMismatchError);
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/9 tensor\(s\) missing: model\.layers\.2\./);
    expect(msg).toMatch(/"model\.embed_tokens\.weight" is \[330,32\] in model\.safetensors, config\.json implies \[331,32\]/);
    expect(msg).toMatch(/same checkpoint/);
  });

  it('reads sharded F16 checkpoints and rejects truncated or overlapping shards', () => {
    const files = new Map(
      ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'].map((f) => [
        f,
        new Uint8Array(fixture('tiny-qwen2', f)),
      ]),
    );
    const ckpt = new Checkpoint(files);
    const qwen = parseConfig(json('tiny-qwen2', 'config.json')) as DecoderConfig;
    expect(() => ckpt.verify(decoderSpecs(qwen), 'tiny-qwen2')).not.toThrow();
    expect(ckpt.read('model.norm.weight')).toBeInstanceOf(Float32Array);
    const first = files.get('model-00001-of-00002.safetensors')!;
    expect(() => new Checkpoint(new Map([['model-00001-of-00002.safetensors', first.slice(0, first.length - 100)]]))).toThrow(
      /model-00001-of-00002\.safetensors: file is truncated/,
    );
    expect(
      () =>
        new Checkpoint(
          new Map([
            ['a', first],
            ['b', first],
          ]),
        ),
    ).toThrow(/in both a and b/);
    const ints = writeSafetensors({ 'model.norm.weight': { dtype: 'I32', shape: [32], data: new Int32Array(32) } });
    const bad = new Checkpoint(new Map([['m', ints]]));
    expect(() => bad.verify([{ name: 'model.norm.weight', shape: [32] }], 'x')).toThrow(/I32, not a float type/);
    expect(() => new Checkpoint(new Map([['m', new Uint8Array([1, 2, 3])]]))).toThrow(SafetensorsError);
  });
});

describe('decoderSpecs', () => {
  it("Llama's attention_bias covers o_proj; Qwen2's bias is q, k and v only", () => {
    const llama = parseConfig({ ...json('tiny-llama', 'config.json'), attention_bias: true }) as DecoderConfig;
    const names = decoderSpecs(llama).map((s) => s.name);
    expect(names).toContain('model.layers.0.self_attn.o_proj.bias');
    expect(names).toContain('model.layers.1.self_attn.q_proj.bias');
    const qwen = decoderSpecs(parseConfig(json('tiny-qwen2', 'config.json')) as DecoderConfig).map((s) => s.name);
    expect(qwen).toContain('model.layers.0.self_attn.k_proj.bias');
    expect(qwen).not.toContain('model.layers.0.self_attn.o_proj.bias');
    expect(qwen).not.toContain('lm_head.weight'); // tied
  });
});

describe('memory plan', () => {
  it('counts weights, gradients and AdamW state, and refuses what does not fit', () => {
    const llama = parseConfig(json('tiny-llama', 'config.json')) as DecoderConfig;
    const specs = decoderSpecs(llama);
    const all = planMemory(specs, () => true);
    const params = specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
    expect(all.totalParams).toBe(params);
    expect(all.totalBytes).toBe(params * 4 * 4); // weights + grads + two moments
    const normsOnly = planMemory(specs, (n) => n.endsWith('norm.weight'));
    expect(normsOnly.trainableParams).toBe(32 * (2 * 2 + 1));
    // The vocabulary tables (42 KiB) are split into row shards; the MLP weights (8 KiB) cannot be.
    expect(all.largest).toEqual({ name: 'model.layers.0.mlp.gate_proj.weight', bytes: 8192 });
    const limits = { maxStorageBufferBindingSize: 128 << 20, maxBufferSize: 256 << 20 };
    expect(() => checkFits(all, limits, 1 << 30, 'tiny')).not.toThrow();
    expect(() => checkFits(all, limits, 1000, 'tiny')).toThrow(ModelTooLargeError);
    expect(() => checkFits(all, limits, 1000, 'tiny')).toThrow(/memory budget.*LoRA/);
    expect(() => checkFits(all, { maxStorageBufferBindingSize: 8192, maxBufferSize: 1 << 30 }, 1 << 30, 'tiny')).not.toThrow();
    expect(() => checkFits(all, { maxStorageBufferBindingSize: 4096, maxBufferSize: 1 << 30 }, 1 << 30, 'tiny')).toThrow(
      /"model\.layers\.0\.mlp\.gate_proj\.weight" needs 8\.0 KiB in one buffer, above this adapter's limit of 4\.0 KiB/,
    );
  });
});

describe('tokenizers through @huggingface/transformers', () => {
  const cases = JSON.parse(readFileSync('test/fixtures/models/tokenizer-cases.json', 'utf8')) as Record<
    string,
    { text: string; input_ids: number[] }[]
  >;
  for (const name of ['tiny-colbert', 'tiny-llama', 'tiny-qwen2', 'tiny-gptneox', 'tiny-gemma'])
    it(`${name}: ids equal the independent reference, and decode round-trips`, () => {
      const tok = Tokenizer.fromJson(json(name, 'tokenizer.json'), json(name, 'tokenizer_config.json'));
      expect(cases[name]!.length).toBeGreaterThanOrEqual(5);
      for (const c of cases[name]!) expect(tok.encode(c.text), c.text).toEqual(c.input_ids);
      if (name !== 'tiny-colbert')
        for (const c of cases[name]!)
          expect(tok.decode(tok.encode(c.text, { addSpecialTokens: false }))).toBe(
            name === 'tiny-qwen2' || name === 'tiny-gptneox' ? c.text.normalize('NFC') : c.text,
          );
      // Qwen2-style configs pad the embedding table beyond the tokenizer's ids.
      expect(tok.vocabSize).toBeLessThanOrEqual((json(name, 'config.json') as { vocab_size: number }).vocab_size);
    });

  it('exposes the special tokens ColBERT and the generator need', () => {
    const bert = Tokenizer.fromJson(json('tiny-colbert', 'tokenizer.json'), json('tiny-colbert', 'tokenizer_config.json'));
    expect(bert.className).toBe('BertTokenizer');
    expect(bert.special).toMatchObject({ pad: 0, cls: 4, sep: 5 });
    expect(bert.tokenId('[unused0]')).toBe(1);
    expect(bert.tokenId('[MASK]')).toBe(bert.special.mask);
    expect(bert.idToToken(4)).toBe('[CLS]');
    const llama = Tokenizer.fromJson(json('tiny-llama', 'tokenizer.json'), json('tiny-llama', 'tokenizer_config.json'));
    expect(llama.encode('fever')[0]).toBe(llama.special.bos);
    expect(() => Tokenizer.fromJson({ version: '1.0' })).toThrow(/no "model" section/);
  });
});

describe('BERT checkpoints with only vocab.txt', () => {
  it('get the tokenizer.json that vocab.txt implies, which tokenizes exactly as the fixture tokenizer', () => {
    const json0 = json('tiny-colbert', 'tokenizer.json') as { model: { vocab: Record<string, number> } };
    const vocab = Object.entries(json0.model.vocab)
      .sort((a, b) => a[1] - b[1])
      .map(([t]) => t);
    const built = Tokenizer.fromJson(
      wordPieceTokenizerJson(vocab.join('\n') + '\n', { lowercase: true }),
      BERT_TOKENIZER_DEFAULTS,
    );
    const ref = Tokenizer.fromJson(json0, json('tiny-colbert', 'tokenizer_config.json'));
    const cases = JSON.parse(readFileSync('test/fixtures/models/tokenizer-cases.json', 'utf8')) as Record<
      string,
      { text: string }[]
    >;
    for (const c of cases['tiny-colbert']!) expect(built.encode(c.text), c.text).toEqual(ref.encode(c.text));
    expect(built.special).toMatchObject({ pad: 0, cls: 4, sep: 5, mask: 6 });
    expect(() => wordPieceTokenizerJson('a\nb\n')).toThrow(/no \[UNK\] token/);
  });
});

describe('GPT-NeoX and Gemma configs (BMRetriever backbones)', () => {
  // Pythia-410m's config.json (BMRetriever-410M's backbone), and Gemma-2B's sizes.
  const PYTHIA_410M = {
    architectures: ['GPTNeoXForCausalLM'],
    model_type: 'gpt_neox',
    hidden_size: 1024,
    intermediate_size: 4096,
    num_attention_heads: 16,
    num_hidden_layers: 24,
    hidden_act: 'gelu',
    rotary_pct: 0.25,
    rotary_emb_base: 10000,
    max_position_embeddings: 2048,
    layer_norm_eps: 1e-5,
    use_parallel_residual: true,
    tie_word_embeddings: false,
    bos_token_id: 0,
    eos_token_id: 0,
    vocab_size: 50304,
  };
  const GEMMA_2B = {
    architectures: ['GemmaForCausalLM'],
    model_type: 'gemma',
    hidden_size: 2048,
    intermediate_size: 16384,
    num_attention_heads: 8,
    num_key_value_heads: 1,
    head_dim: 256,
    num_hidden_layers: 18,
    hidden_act: 'gelu',
    max_position_embeddings: 8192,
    vocab_size: 256000,
  };

  it('reads Pythia: LayerNorm, partial rotary (int(Dh * rotary_pct)), parallel residual, untied embed_out', () => {
    const c = parseConfig(PYTHIA_410M) as DecoderConfig;
    expect(c).toMatchObject({ family: 'gpt_neox', norm: 'layer', mlp: 'plain', gelu: 'exact', parallelResidual: true });
    expect(c).toMatchObject({
      headDim: 64,
      rotaryDims: 16,
      numKvHeads: 16,
      normEps: 1e-5,
      ropeTheta: 10000,
      attentionBias: true,
    });
    expect(ropeInvFreq(c).length).toBe(8);
    // The newer name of the base wins; sequential residual; odd rotary dims are refused by field.
    expect((parseConfig({ ...PYTHIA_410M, rope_theta: 500000 }) as DecoderConfig).ropeTheta).toBe(500000);
    expect((parseConfig({ ...PYTHIA_410M, use_parallel_residual: false }) as DecoderConfig).parallelResidual).toBe(false);
    const odd = refusal({ ...PYTHIA_410M, rotary_pct: 0.3 }); // 64 * 0.3 = 19.2 -> 19
    expect(odd.message).toMatch(/rotary dims int\(head dim 64 \* rotary_pct 0\.3\) = 19 must be even/);
    expect(odd.field).toBe('rotary_pct');
    expect(refusal({ ...PYTHIA_410M, hidden_act: 'relu' }).message).toMatch(
      /hidden_act "relu" is not supported for model_type gpt_neox/,
    );
    // Specs: the fused per-head q/k/v, LayerNorm biases, and embed_out only when a head is wanted.
    const names = decoderSpecs(c).map((x) => x.name);
    expect(names).toContain('gpt_neox.layers.0.attention.query_key_value.weight');
    expect(names).toContain('gpt_neox.final_layer_norm.bias');
    expect(names.at(-1)).toBe('embed_out.weight');
    expect(decoderSpecs(c, { head: false }).map((x) => x.name)).not.toContain('embed_out.weight');
  });

  it("reads Gemma: head_dim 256 from config, (1 + w) RMSNorm, GeGLU with HF's tanh default, sqrt(D) in f32, tied head", () => {
    const c = parseConfig(GEMMA_2B) as DecoderConfig;
    expect(c).toMatchObject({ family: 'gemma', norm: 'rms-plus-one', mlp: 'geglu', gelu: 'tanh', tieWordEmbeddings: true });
    expect(c).toMatchObject({ headDim: 256, rotaryDims: 256, numKvHeads: 1, bosTokenId: 2, padTokenId: 0, normEps: 1e-6 });
    expect(c.embedScale).toBe(Math.fround(Math.sqrt(2048)));
    expect(c.embedScale).not.toBe(Math.sqrt(2048));
    expect((parseConfig({ ...GEMMA_2B, hidden_activation: 'gelu' }) as DecoderConfig).gelu).toBe('exact');
    const names = decoderSpecs(c).map((x) => x.name);
    expect(names).not.toContain('lm_head.weight');
    expect(names).toContain('model.layers.17.mlp.gate_proj.weight');
    expect(decoderSpecs(c).find((x) => x.name === 'model.layers.0.self_attn.q_proj.weight')!.shape).toEqual([2048, 2048]);
  });

  it('refuses Gemma 2 and other kin by name, saying what differs and what is supported', () => {
    expect(refusal({ ...GEMMA_2B, model_type: 'gemma2' }).message).toMatch(
      /model_type "gemma2" \(GemmaForCausalLM\) is not supported: Gemma 2 adds logit soft-capping.*Gemma 1 \(model_type gemma\) is supported/,
    );
    expect(refusal({ ...PYTHIA_410M, model_type: 'gpt_neo' }).message).toMatch(/GPT-Neo is not GPT-NeoX/);
    expect(refusal({ ...PYTHIA_410M, model_type: 'phi' }).message).toMatch(
      /model_type "phi".*is not supported\. MedRank runs bert \(ColBERT\) and the decoders llama, qwen2, mistral, gpt_neox \(Pythia\) or gemma/,
    );
  });
});
