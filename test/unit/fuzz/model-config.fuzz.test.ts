// Seeded hostile inputs for config.json (parseConfig, and readModelConfig, the loader's door to
// it). Each realistic config (BERT/ColBERT, SmolLM2, Llama 3.2 with llama3 RoPE scaling, Qwen2.5)
// is fed one-place mutations (test/unit/fuzz/hostile.ts) and must be refused with a bounded
// MedRankError, or accepted as a config that passes the numeric rules re-checked here on their
// own: sizes within bounds, heads dividing, ids inside the vocabulary, every number finite.

import { describe, expect, it } from 'vitest';
import { CONFIG_LIMITS as L, parseConfig, ropeInvFreq, type ModelConfig } from '../../../src/models/config';
import { bertSpecs } from '../../../src/models/bert';
import { decoderSpecs } from '../../../src/models/decoder';
import { readModelConfig } from '../../../src/models/load';
import { planMemory } from '../../../src/models/memory';
import { ModelFileMissingError, type ModelFiles } from '../../../src/models/sources';
import { BERT_BASE, LLAMA_32_1B, QWEN25_05B, SMOLLM2_135M } from '../model-config-fixtures';
import { casesOf, fuzz, hostileLeft, report, type Case } from './hostile';

const isInt = (v: number, lo: number, hi: number): boolean => Number.isInteger(v) && v >= lo && v <= hi;
const isId = (v: number | null, vocab: number): boolean => v === null || isInt(v, 0, vocab - 1);

/** What breaks the numeric rules in an accepted config, re-derived here rather than taken from config.ts. */
function configProblem(c: ModelConfig, k: Case): string | null {
  const sizes: [string, number, number][] = [
    ['vocabSize', c.vocabSize, L.vocab],
    ['hiddenSize', c.hiddenSize, L.hidden],
    ['intermediateSize', c.intermediateSize, L.intermediate],
    ['numLayers', c.numLayers, L.layers],
    ['numHeads', c.numHeads, L.heads],
    ['maxPositions', c.maxPositions, L.positions],
  ];
  for (const [name, v, hi] of sizes) if (!isInt(v, 1, hi)) return `${name} ${v} outside [1, ${hi}]`;
  if (c.kind === 'bert') {
    if (c.hiddenSize % c.numHeads) return `hidden ${c.hiddenSize} not divisible by heads ${c.numHeads}`;
    if (!isInt(c.typeVocabSize, 1, L.typeVocab) || !isInt(c.colbertDim, 1, L.hidden)) return 'type vocab or dim out of bounds';
    if (!(c.layerNormEps > 0 && c.layerNormEps < 1)) return `layer_norm_eps ${c.layerNormEps}`;
    for (const p of [c.hiddenDropout, c.attentionDropout]) if (!(p >= 0 && p < 1)) return `dropout ${p}`;
    if (!isId(c.padTokenId, c.vocabSize)) return `pad ${c.padTokenId} outside the vocabulary`;
    const n = bertSpecs(c, '').length;
    if (n !== 5 + 16 * c.numLayers) return `${n} BERT tensors`;
  } else {
    const raw = JSON.parse(k.text) as Record<string, unknown>;
    const given = raw.head_dim !== undefined && raw.head_dim !== null;
    if (!given && c.numHeads * c.headDim !== c.hiddenSize) return `heads ${c.numHeads} x head dim ${c.headDim} != hidden`;
    if (given && raw.head_dim !== c.headDim) return 'head_dim not the one given';
    if (!isInt(c.headDim, 2, L.headDim) || c.headDim % 2) return `head dim ${c.headDim}`;
    if (!isInt(c.numKvHeads, 1, c.numHeads) || c.numHeads % c.numKvHeads) return `kv heads ${c.numKvHeads} of ${c.numHeads}`;
    if (!(Number.isFinite(c.ropeTheta) && c.ropeTheta > 0)) return `rope_theta ${c.ropeTheta}`;
    if (!(c.normEps > 0 && c.normEps < 1)) return `rms_norm_eps ${c.normEps}`;
    if (!isId(c.bosTokenId, c.vocabSize) || !isId(c.padTokenId, c.vocabSize)) return 'bos or pad outside the vocabulary';
    if (c.eosTokenIds.length > L.eosIds || !c.eosTokenIds.every((id) => isId(id, c.vocabSize))) return 'eos ids';
    if (c.slidingWindow !== null && !isInt(c.slidingWindow, 1, L.positions)) return `sliding window ${c.slidingWindow}`;
    const s = c.ropeScaling;
    if (s.type === 'linear' && !(Number.isFinite(s.factor) && s.factor > 0)) return `linear factor ${s.factor}`;
    if (s.type === 'llama3') {
      const fs = [s.factor, s.lowFreqFactor, s.highFreqFactor];
      if (!fs.every((x) => Number.isFinite(x) && x > 0)) return `llama3 factors ${fs.join(', ')}`;
      if (s.lowFreqFactor === s.highFreqFactor) return 'llama3 low == high';
      if (!isInt(s.originalMaxPositions, 1, L.positions)) return `original positions ${s.originalMaxPositions}`;
    }
    if (!ropeInvFreq(c).every(Number.isFinite)) return 'RoPE frequencies not finite';
    const specs = decoderSpecs(c);
    if (specs.length > 1 + 16 * L.layers + 2) return `${specs.length} tensors`;
    if (!Number.isFinite(planMemory(specs, () => true).totalBytes)) return 'memory plan not finite';
  }
  return hostileLeft(c);
}

const SAMPLES = [BERT_BASE, SMOLLM2_135M, LLAMA_32_1B, QWEN25_05B];

const filesOf = (text: string): ModelFiles => ({
  label: 'fuzz-model',
  kind: 'folder',
  read: (path) =>
    path === 'config.json'
      ? Promise.resolve(new TextEncoder().encode(text))
      : Promise.reject(new ModelFileMissingError(path, 'fuzz-model', `no ${path}`)),
  exists: (path) => Promise.resolve(path === 'config.json'),
});

describe('fuzz: model config.json', () => {
  it('the samples themselves are accepted and hold the rules', () => {
    for (const s of SAMPLES) {
      const text = JSON.stringify(s);
      expect(configProblem(parseConfig(text), { seed: 0, what: 'sample', text })).toBeNull();
    }
  });

  // 300 of each sample: most hostile values appear dozens of times per field kind; the 100k-key and
  // 100k-entry values cost ~40 ms each to parse, which bounds how many cases fit in a few seconds.
  const cases = casesOf(SAMPLES, 300, 11);
  // The loader and the object path share parseConfig's rules: a third of the cases exercises their doors.
  const some = cases.filter((_, i) => i % 3 === 0);

  it('1,200 mutations through parseConfig(text): refused with a bounded message, or valid', async () => {
    const out = await fuzz(cases, (c) => parseConfig(c.text), configProblem);
    expect(out, report(out)).toEqual([]);
  });

  it('the same mutations through the loader (readModelConfig) and as parsed objects', async () => {
    const loaded = await fuzz(some, async (c) => (await readModelConfig(filesOf(c.text))).config, configProblem);
    expect(loaded, report(loaded)).toEqual([]);
    // An object handed over (a structured clone, the worker): only texts JSON.parse reads count.
    const parseable = some.filter((c) => {
      try {
        JSON.parse(c.text);
        return true;
      } catch {
        return false;
      }
    });
    expect(parseable.length).toBeGreaterThan(some.length / 2);
    const objects = await fuzz(parseable, (c) => parseConfig(JSON.parse(c.text) as object), configProblem);
    expect(objects, report(objects)).toEqual([]);
  });
});
