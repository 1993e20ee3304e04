// Model-side logic that needs no GPU: config parsing and its errors, RoPE scaling against the
// PyTorch golden's inverse frequencies, checkpoint verification messages, the memory plan, and
// the tokenizers (through @huggingface/transformers) against independently computed ids.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Checkpoint } from '../../src/models/checkpoint';
import { parseConfig, ropeInvFreq, type LlamaConfig } from '../../src/models/config';
import {
  CheckpointMismatchError,
  ModelConfigError,
  ModelTooLargeError,
  UnsupportedArchitectureError,
} from '../../src/models/errors';
import { llamaSpecs } from '../../src/models/llama';
import { checkFits, planMemory } from '../../src/models/memory';
import { BERT_TOKENIZER_DEFAULTS, Tokenizer, wordPieceTokenizerJson } from '../../src/models/tokenizer';
import { parseSafetensors, SafetensorsError, writeSafetensors } from '../../src/tensor/safetensors';

const fixture = (name: string, file: string): Buffer => readFileSync(`test/fixtures/models/${name}/${file}`);
const json = (name: string, file: string): Record<string, unknown> =>
  JSON.parse(fixture(name, file).toString()) as Record<string, unknown>;

describe('parseConfig', () => {
  it('reads the three fixture families with HF defaults', () => {
    const bert = parseConfig(json('tiny-colbert', 'config.json'));
    expect(bert).toMatchObject({ kind: 'bert', hiddenSize: 32, numHeads: 4, colbertDim: 16, hiddenAct: 'gelu' });
    const llama = parseConfig(json('tiny-llama', 'config.json')) as LlamaConfig;
    expect(llama).toMatchObject({
      kind: 'llama',
      family: 'llama',
      numKvHeads: 2,
      headDim: 8,
      tieWordEmbeddings: false,
      attentionBias: false,
    });
    expect(llama.ropeScaling.type).toBe('llama3');
    const qwen = parseConfig(json('tiny-qwen2', 'config.json')) as LlamaConfig;
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
      expect(Array.from(ropeInvFreq(parseConfig(json(name, 'config.json')) as LlamaConfig))).toEqual(Array.from(want));
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
    expect((parseConfig({ ...qwen, sliding_window: 32 }) as LlamaConfig).slidingWindow).toBeNull();
    expect((parseConfig({ ...qwen, sliding_window: 32, use_sliding_window: true }) as LlamaConfig).slidingWindow).toBe(32);
    expect((parseConfig({ ...base, model_type: 'mistral', sliding_window: 4096 }) as LlamaConfig).slidingWindow).toBe(4096);
    expect(() => parseConfig({ ...json('tiny-colbert', 'config.json'), position_embedding_type: 'relative_key' })).toThrow(
      /absolute/,
    );
  });
});

describe('Checkpoint', () => {
  const llama = parseConfig(json('tiny-llama', 'config.json')) as LlamaConfig;

  it('verifies the fixture and lists every missing or misshapen tensor in one message', () => {
    const ckpt = new Checkpoint(new Map([['model.safetensors', new Uint8Array(fixture('tiny-llama', 'model.safetensors'))]]));
    expect(() => ckpt.verify(llamaSpecs(llama), 'tiny-llama')).not.toThrow();
    expect(ckpt.info('model.norm.weight')?.dtype).toBe('BF16');
    const wrong = { ...llama, numLayers: 3, vocabSize: 331 };
    let msg = '';
    try {
      ckpt.verify(llamaSpecs(wrong), 'tiny-llama');
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
    const qwen = parseConfig(json('tiny-qwen2', 'config.json')) as LlamaConfig;
    expect(() => ckpt.verify(llamaSpecs(qwen), 'tiny-qwen2')).not.toThrow();
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

describe('llamaSpecs', () => {
  it("Llama's attention_bias covers o_proj; Qwen2's bias is q, k and v only", () => {
    const llama = parseConfig({ ...json('tiny-llama', 'config.json'), attention_bias: true }) as LlamaConfig;
    const names = llamaSpecs(llama).map((s) => s.name);
    expect(names).toContain('model.layers.0.self_attn.o_proj.bias');
    expect(names).toContain('model.layers.1.self_attn.q_proj.bias');
    const qwen = llamaSpecs(parseConfig(json('tiny-qwen2', 'config.json')) as LlamaConfig).map((s) => s.name);
    expect(qwen).toContain('model.layers.0.self_attn.k_proj.bias');
    expect(qwen).not.toContain('model.layers.0.self_attn.o_proj.bias');
    expect(qwen).not.toContain('lm_head.weight'); // tied
  });
});

describe('memory plan', () => {
  it('counts weights, gradients and AdamW state, and refuses what does not fit', () => {
    const llama = parseConfig(json('tiny-llama', 'config.json')) as LlamaConfig;
    const specs = llamaSpecs(llama);
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
  for (const name of ['tiny-colbert', 'tiny-llama', 'tiny-qwen2'])
    it(`${name}: ids equal the independent reference, and decode round-trips`, () => {
      const tok = Tokenizer.fromJson(json(name, 'tokenizer.json'), json(name, 'tokenizer_config.json'));
      expect(cases[name]!.length).toBeGreaterThanOrEqual(5);
      for (const c of cases[name]!) expect(tok.encode(c.text), c.text).toEqual(c.input_ids);
      if (name !== 'tiny-colbert')
        for (const c of cases[name]!)
          expect(tok.decode(tok.encode(c.text, { addSpecialTokens: false }))).toBe(
            name === 'tiny-qwen2' ? c.text.normalize('NFC') : c.text,
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
