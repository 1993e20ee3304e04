// The dense retriever (BMRetriever style, here on the tiny GPT-NeoX backbone) through the same
// Trainer as ColBERT: a joint LLM-Rank step, InfoNCE with in-batch negatives (checked against the
// loss recomputed on the CPU from the step's own score grid), and the first stage's title pairs.
import { afterAll, describe, expect, it } from 'vitest';
import { parseJsonlQA } from '../../src/data/datasets';
import type { DenseRetriever } from '../../src/models/dense';
import { loadGenerator, loadRetriever } from '../../src/models/load';
import { ForwardContext } from '../../src/models/lora';
import { buildIndex, docText, openIndex } from '../../src/retrieval/index';
import { add, crossEntropy, scale } from '../../src/tensor';
import { resolveConfig, type TrainConfig } from '../../src/training/config';
import { infoNceLoss } from '../../src/training/losses';
import { Trainer } from '../../src/training/step';
import corpusJsonl from '../fixtures/tiny-qa/corpus.jsonl?raw';
import questionsJsonl from '../fixtures/tiny-qa/questions.jsonl?raw';
import { fixtureFiles } from './fixtures';
import { destroyEngine, expectClose, getEngine } from './helpers';

afterAll(destroyEngine);

const { passages: PASSAGES, questions: QUESTIONS } = parseJsonlQA({ questions: questionsJsonl, corpus: corpusJsonl });
const TRAIN = QUESTIONS.filter((q) => q.split === 'train');

const BASE: Partial<TrainConfig> = {
  name: 'dense',
  seed: 5,
  steps: 2,
  batchSize: 2,
  candidates: 3,
  sampled: 2,
  topM: 1,
  docMaxTokens: 12,
  retrieverSide: 'both',
  retrieverTraining: 'lora',
  refreshIndexEvery: 0,
  lrRetriever: 1e-3,
  lrGenerator: 1e-3,
  dropout: false,
  s2attn: null,
  generatorLora: { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'] },
};

async function parts() {
  const e = await getEngine();
  const retriever = (await loadRetriever(e, await fixtureFiles('tiny-gptneox'), { dense: { maxLen: 48 } })) as DenseRetriever;
  const generator = await loadGenerator(e, await fixtureFiles('tiny-llama'));
  const index = await buildIndex(retriever, PASSAGES);
  return { e, retriever, generator, index };
}

function dispose(p: Awaited<ReturnType<typeof parts>>, trainer: Trainer): void {
  trainer.dispose();
  trainer.index.dispose();
  p.retriever.dispose();
  p.generator.model.dispose();
}

describe('training with the dense retriever', () => {
  it('joint LLM-Rank: one vector per passage in the index; both models train through LoRA; the record is the ColBERT one', async () => {
    const p = await parts();
    expect(p.index.offsets).toEqual(Int32Array.from({ length: PASSAGES.length + 1 }, (_, i) => i));
    expect(p.index.dim).toBe(p.retriever.model.config.hiddenSize);
    const config = resolveConfig({ ...BASE, retrieverLoss: 'llm-rank' });
    const trainer = new Trainer({ ...p, passages: PASSAGES, train: TRAIN }, config);
    const adapters = p.retriever.linears().filter((l) => l.lora);
    expect(adapters.map((l) => l.moduleName)).toEqual(['query_key_value', 'query_key_value']);
    let gradA: Float32Array | null = null;
    trainer.beforeUpdate = async () => {
      gradA = await adapters[0]!.lora!.B.grad!.read();
    };
    const rec = await trainer.step();
    expect(Number.isFinite(rec.loss.retriever)).toBe(true);
    expect(Number.isFinite(rec.loss.generator)).toBe(true);
    expect(gradA!.some((v) => v !== 0)).toBe(true); // the retriever's rank loss reached its adapters
    expect(rec.questions).toHaveLength(2);
    for (const q of rec.questions) {
      expect(q.candidates).toHaveLength(3);
      expect(q.candidates.filter((c) => c.sampled)).toHaveLength(2);
      expect(q.candidates.filter((c) => c.utility !== null)).toHaveLength(2);
    }
    // The step's scores are the index's dot products for the same texts (same weights before the update).
    dispose(p, trainer);
  });

  it("InfoNCE with in-batch negatives: each row of the step's [B, B*K] grid, the positive at b*K, its gold met again left out", async () => {
    const p = await parts();
    const config = resolveConfig({
      ...BASE,
      schedule: 'retriever-only',
      retrieverLoss: 'infonce',
      inBatchNegatives: true,
      sampled: 1,
      infoNceTau: 0.5,
    });
    const trainer = new Trainer({ ...p, passages: PASSAGES, train: TRAIN }, config);
    type InBatch = (
      row: Float32Array,
      b: number,
      K: number,
      ids: string[][],
      gold: string | undefined,
      has: boolean,
    ) => { loss: number };
    const t = trainer as unknown as { inBatchLoss: InBatch };
    const inner = t.inBatchLoss.bind(trainer);
    const calls: { row: number[]; b: number; ids: string[][]; gold: string | undefined; loss: number }[] = [];
    t.inBatchLoss = (row, b, K, ids, gold, has) => {
      const r = inner(row, b, K, ids, gold, has);
      calls.push({ row: Array.from(row), b, ids, gold, loss: r.loss });
      return r;
    };
    const rec = await trainer.step();
    expect(calls).toHaveLength(2);
    const K = 3;
    for (const c of calls) {
      expect(c.row).toHaveLength(2 * K);
      const flat = c.ids.flat();
      expect(flat[c.b * K]).toBe(c.gold); // the gold passage first in its own block
      const masked = c.row.map((v, j) => (flat[j] === c.gold && j !== c.b * K ? -Infinity : v));
      expect(c.loss).toBeCloseTo(infoNceLoss(masked, 1, 2 * K, [c.b * K], 0.5).loss, 6);
      // The other question's candidates add negatives: the in-batch loss exceeds its own block's.
      const own = infoNceLoss(c.row.slice(c.b * K, (c.b + 1) * K), 1, K, [0], 0.5).loss;
      expect(c.loss).toBeGreaterThan(own);
    }
    expect(rec.loss.retriever).toBeCloseTo((calls[0]!.loss + calls[1]!.loss) / 2, 6);
    expect(rec.loss.generator).toBeNull();
    dispose(p, trainer);

    // The whole rows' gradient reaches the weights: the same loss built from GPU ops on a fresh
    // trainer (same seed, so the same LoRA init) gives the step's adapter gradients.
    const q = await parts();
    const twin = new Trainer({ ...q, passages: PASSAGES, train: TRAIN }, config);
    const stepGrads: Float32Array[] = [];
    twin.beforeUpdate = async () => {
      for (const l of q.retriever.linears().filter((x) => x.lora)) stepGrads.push(await l.lora!.B.grad!.read());
    };
    await twin.step();
    const fresh = await parts();
    const ref = new Trainer({ ...fresh, passages: PASSAGES, train: TRAIN }, config);
    const e = fresh.e;
    const ids = calls[0]!.ids;
    const qs = rec.questions.map((x) => TRAIN.find((t) => t.id === x.id)!);
    const grid = ref.scoreCandidates(qs, ids, new ForwardContext(false));
    const flat = ids.flat();
    const mask = new Float32Array(2 * 2 * K);
    qs.forEach((x, b) => flat.forEach((id, j) => (mask[b * 2 * K + j] = id === x.goldDocIds[0] && j !== b * K ? -1e4 : 0)));
    const loss = crossEntropy(add(scale(grid, 1 / 0.5), e.tensor(mask, [2, 2 * K])), [0, K], { reduction: 'mean' });
    e.backward(loss);
    const refGrads = await Promise.all(
      fresh.retriever
        .linears()
        .filter((x) => x.lora)
        .map((l) => l.lora!.B.grad!.read()),
    );
    expect(refGrads).toHaveLength(stepGrads.length);
    refGrads.forEach((g, i) => expectClose(stepGrads[i]!, g, { atol: 1e-5, rtol: 1e-3 }, `adapter ${i} dL/dB`));
    dispose(q, twin);
    dispose(fresh, ref);
  });

  it("the first stage's title pairs: pseudo-queries from the corpus, each passage's text (no title) its positive", async () => {
    const p = await parts();
    const config = resolveConfig({
      ...BASE,
      schedule: 'retriever-only',
      retrieverLoss: 'infonce',
      pretrainPairs: 'title',
      inBatchNegatives: true,
      sampled: 1,
    });
    const trainer = new Trainer({ ...p, passages: PASSAGES, train: [] }, config);
    const encoded: string[] = [];
    const encodeDocs = p.retriever.encodeDocs.bind(p.retriever);
    p.retriever.encodeDocs = (texts, ctx) => {
      encoded.push(...texts);
      return encodeDocs(texts, ctx);
    };
    const rec = await trainer.step();
    expect(rec.questions.map((q) => q.id.split(':')[0])).toEqual(['title', 'title']);
    for (const q of rec.questions) {
      const id = q.id.slice('title:'.length);
      const passage = PASSAGES.find((x) => x.id === id)!;
      expect(q.candidates[0]!.docId).toBe(id); // the passage is the gold, first
      expect(encoded).toContain(passage.text); // encoded as its text alone: the title is the query
    }
    expect(Number.isFinite(rec.loss.retriever)).toBe(true);
    // The positives' texts are that step's alone: scoring outside the step (the probe's) encodes the passages.
    encoded.length = 0;
    const qs = rec.questions.map((q) => ({ ...TRAIN[0]!, id: q.id, question: 'x', goldDocIds: [q.candidates[0]!.docId] }));
    p.e.scope(() =>
      p.e.noGrad(() =>
        trainer.scoreCandidates(
          qs,
          rec.questions.map((q) => q.candidates.map((c) => c.docId)),
          new ForwardContext(false),
        ),
      ),
    );
    const first = PASSAGES.find((x) => x.id === rec.questions[0]!.candidates[0]!.docId)!;
    expect(encoded).toContain(docText(first));
    expect(encoded).not.toContain(first.text);
    dispose(p, trainer);
  });

  it("a dense index is searched exact: 'auto' compression leaves it so, 'always' refuses (the codec wants unit-length vectors)", async () => {
    const p = await parts();
    const auto = await openIndex(p.retriever, PASSAGES, { save: false, compress: 'auto' });
    expect(auto.compressed ?? null).toBeNull();
    auto.dispose();
    await expect(openIndex(p.retriever, PASSAGES, { save: false, compress: 'always' })).rejects.toThrow(
      /a dense retriever's vectors are not normalised: open it with compress 'never' or 'auto'/,
    );
    p.index.dispose();
    p.retriever.dispose();
    p.generator.model.dispose();
  });
});
