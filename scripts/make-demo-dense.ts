// `npm run make-demo-dense`: the built-in demo's dense retriever (BMRetriever style), made by MedRank
// from the demo generator, so one small LM serves both roles as BMRetriever's LLM backbones do.
// 1. The demo generator's folder (public/demo/models/generator: config, tokenizer, weights) is the
//    starting point.
// 2. The pairs: the demo ColBERT's sentence-passage pairs (each sentence of a passage against its
//    whole passage, the sentence kept in, as scripts/lib/demo-curriculum.ts ictTensors makes them), tokenized by MedRank's DenseTokenizer as
//    the retriever will read them (BMRetriever's query instruction and passage template, EOS last).
// 3. The PyTorch twin trains it (python -m medrank_torch.pretrain, settings.dense: in-batch InfoNCE
//    over last-token dot products, every weight), and the folder goes to
//    public/demo/models/dense-retriever with the generator's config and tokenizer and a log.
// Deterministic for a seed on one machine. `npm run eval-retrieval -- --data public/demo --format
// jsonl --model public/demo/models/dense-retriever --split test` measures it.

import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseJsonlQA } from '../src/data/datasets';
import { parseConfig, type DecoderConfig } from '../src/models/config';
import { DenseTokenizer, type Pooling } from '../src/models/dense';
import { Tokenizer } from '../src/models/tokenizer';
import { docText } from '../src/retrieval/index';
import { writeSafetensors } from '../src/tensor/safetensors';
import { i32, ragged } from './lib/demo-curriculum';
import { log, ROOT } from './lib/browser-session';

const DEMO = path.join(ROOT, 'public/demo');
const FROM = path.join(DEMO, 'models/generator');
const OUT = path.join(DEMO, 'models/dense-retriever');

export const DENSE_SETTINGS = {
  seed: 20261204,
  threads: 2,
  retriever: { steps: 0 },
  generator: { steps: 0 },
  dense: { steps: 400, batch: 32, lr: 1e-3, tau: 1, warmup: 20, pooling: 'mean' as Pooling },
};

function main(): void {
  // MEDRANK_DEMO_STEPS, MEDRANK_DEMO_POOLING, MEDRANK_DEMO_LR, MEDRANK_DEMO_TAU: a trial with other
  // settings (chosen on the validation split); MEDRANK_DEMO_OUT=DIR: write there instead.
  const env = process.env;
  const d = DENSE_SETTINGS.dense;
  const dense = {
    ...d,
    steps: env.MEDRANK_DEMO_STEPS ? Number(env.MEDRANK_DEMO_STEPS) : d.steps,
    pooling: (env.MEDRANK_DEMO_POOLING ?? d.pooling) as Pooling,
    lr: env.MEDRANK_DEMO_LR ? Number(env.MEDRANK_DEMO_LR) : d.lr,
    tau: env.MEDRANK_DEMO_TAU ? Number(env.MEDRANK_DEMO_TAU) : d.tau,
  };
  const settings = { ...DENSE_SETTINGS, dense };
  const out = path.resolve(process.env.MEDRANK_DEMO_OUT ?? OUT);
  const read = (f: string): string => readFileSync(path.join(DEMO, f), 'utf8');
  const ds = parseJsonlQA({ questions: read('questions.jsonl'), corpus: read('corpus.jsonl') });
  const json = (f: string): object => JSON.parse(readFileSync(path.join(FROM, f), 'utf8')) as object;
  const config = parseConfig(json('config.json')) as DecoderConfig;
  const tok = new DenseTokenizer(config, Tokenizer.fromJson(json('tokenizer.json'), json('tokenizer_config.json')), {
    pooling: dense.pooling,
  });
  // The demo ColBERT's pairs: each sentence of a passage against its whole passage.
  const queries: number[][] = [],
    positive: number[] = [];
  ds.passages.forEach((p, i) => {
    for (const sentence of p.text.split(/(?<=\.)\s+/)) {
      queries.push(tok.queryIds(sentence));
      positive.push(i);
    }
  });
  const docs = ds.passages.map((p) => tok.docIds(docText(p)));
  log(
    `${queries.length} inverse-cloze pairs over ${docs.length} passages; longest document ${Math.max(...docs.map((d) => d.length))} tokens`,
  );

  const work = mkdtempSync(path.join(os.tmpdir(), 'medrank-dense-'));
  try {
    mkdirSync(path.join(work, 'init/dense'), { recursive: true });
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'])
      copyFileSync(path.join(FROM, f), path.join(work, 'init/dense', f));
    writeFileSync(
      path.join(work, 'pretrain.safetensors'),
      writeSafetensors({ ...ragged('dense.query', queries), ...ragged('dense.doc', docs), 'dense.positive': i32(positive) }),
    );
    const r = spawnSync(
      'sh',
      [path.join(ROOT, 'scripts/py.sh'), '-m', 'medrank_torch.pretrain', work, '--settings', JSON.stringify(settings)],
      { cwd: ROOT, stdio: 'inherit' },
    );
    if (r.status !== 0) throw new Error(`python -m medrank_torch.pretrain exited ${r.status}`);
    const trained = JSON.parse(readFileSync(path.join(work, 'out/log.json'), 'utf8')) as {
      torch: string;
      threads: number;
      dense: { seconds: number; infoNce: number[] };
    };
    mkdirSync(out, { recursive: true });
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json'])
      copyFileSync(path.join(FROM, f), path.join(out, f));
    // The pooling, where loadRetriever reads it (sentence-transformers' file).
    mkdirSync(path.join(out, '1_Pooling'), { recursive: true });
    writeFileSync(
      path.join(out, '1_Pooling/config.json'),
      `${JSON.stringify({ word_embedding_dimension: config.hiddenSize, pooling_mode_lasttoken: dense.pooling === 'last', pooling_mode_mean_tokens: dense.pooling === 'mean' }, null, 2)}
`,
    );
    copyFileSync(path.join(work, 'out/dense/model.safetensors'), path.join(out, 'model.safetensors'));
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const loss = trained.dense.infoNce;
    const summary = {
      settings,
      from: 'public/demo/models/generator',
      pairs: queries.length,
      dense: {
        queryTemplate: tok.opts.queryTemplate,
        docTemplate: tok.opts.docTemplate,
        pooling: tok.opts.pooling,
        maxLen: tok.opts.maxLen,
      },
      torch: trained.torch,
      threads: trained.threads,
      seconds: trained.dense.seconds,
      infoNce: { first20: +mean(loss.slice(0, 20)).toFixed(4), last20: +mean(loss.slice(-20)).toFixed(4) },
    };
    writeFileSync(path.join(out, 'training-log.json'), `${JSON.stringify(summary, null, 1)}\n`);
    log(`wrote ${out}: InfoNCE ${summary.infoNce.first20} -> ${summary.infoNce.last20} in ${summary.seconds} s`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
