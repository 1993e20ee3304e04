// The joint training step and run on the tiny fixture models (ColBERT + Llama): one full step
// against a PyTorch golden of the same step (scripts/goldens/make_step_golden.py), every peer loss
// and schedule running, an interrupted run resuming to the same records as an uninterrupted one,
// and a diverging run stopping on its NaN with the last good checkpoint kept.

import { afterAll, describe, expect, it } from 'vitest';
import { parseJsonlQA, type Question } from '../../src/data/datasets';
import { loadGenerator, loadRetriever } from '../../src/models/load';
import { buildIndex } from '../../src/retrieval/index';
import { resolveConfig, type TrainConfig } from '../../src/training/config';
import { runTraining, type RunCheckpoint } from '../../src/training/run';
import { Trainer } from '../../src/training/step';
import { evaluate } from '../../src/training/evaluate';
import { infoNceLoss } from '../../src/training/losses';
import stepGolden from '../goldens/step.json';
import corpusJsonl from '../fixtures/tiny-qa/corpus.jsonl?raw';
import questionsJsonl from '../fixtures/tiny-qa/questions.jsonl?raw';
import { fixtureFiles } from './fixtures';
import { destroyEngine, getEngine } from './helpers';

afterAll(destroyEngine);

// Six passages and four questions the tiny fixtures' vocabularies cover (also used by the CLI test).
const { passages: PASSAGES, questions: QUESTIONS } = parseJsonlQA({ questions: questionsJsonl, corpus: corpusJsonl });

const BASE: Partial<TrainConfig> = {
  name: 'tiny',
  seed: 3,
  steps: 4,
  batchSize: 2,
  candidates: 4,
  sampled: 3,
  topM: 2,
  docMaxTokens: 12,
  retrieverSide: 'both',
  refreshIndexEvery: 2,
  checkpointEvery: 2,
  lrRetriever: 1e-3,
  lrGenerator: 1e-3,
  generatorLora: { r: 2, alpha: 4, dropout: 0.1, targetModules: ['q_proj', 'v_proj'] },
  s2attn: { ratio: 0.25, shift: 'roll' },
  evalAlignmentCandidates: 3,
};

async function parts() {
  const e = await getEngine();
  const retriever = await loadRetriever(e, await fixtureFiles('tiny-colbert'));
  const generator = await loadGenerator(e, await fixtureFiles('tiny-llama'));
  const index = await buildIndex(retriever, PASSAGES);
  return { e, retriever, generator, passages: PASSAGES, questions: QUESTIONS, index };
}

const losses = (rs: { loss: { retriever: number | null; generator: number | null } }[]) =>
  rs.map((r) => [r.loss.retriever, r.loss.generator]);

describe('joint training on the tiny fixtures', () => {
  it('one LLM-Rank step matches the PyTorch golden (scores, utilities, both losses, gradients)', async () => {
    const g = stepGolden;
    const p = await parts();
    const q: Question = { id: 'g', question: g.question, kind: 'open', answer: g.answer, goldDocIds: [], split: 'train' };
    const index = await buildIndex(p.retriever, g.passages);
    const config = resolveConfig({
      name: 'golden',
      steps: 1,
      batchSize: 1,
      candidates: 4,
      sampled: 3,
      sampling: false,
      topM: 2,
      docMaxTokens: g.docMaxTokens,
      retrieverSide: 'both',
      retrieverTraining: 'full',
      dropout: false,
      s2attn: null,
      refreshIndexEvery: 0,
      generatorLora: { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'] },
    });
    const trainer = new Trainer({ ...p, passages: g.passages, train: [q], index }, config);
    // Token ids first: a tokenizer or prompt-format difference would show here, not as a loss gap.
    expect(Array.from(p.retriever.tokenizeQueries([g.question]).ids)).toEqual(g.queryIds);
    expect(trainer.prompts.example(q, [g.passages[g.order[0]!]!.id, g.passages[g.order[1]!]!.id]).prompt).toEqual(g.promptIds.lm);
    expect(trainer.prompts.answer(g.answer)).toEqual(g.answerIds);
    // Gradients of the tensors the golden holds, read between backward and the update.
    const wanted = Object.keys(g.grads).filter((k) => !k.endsWith('_rows'));
    const grads: Record<string, Float32Array> = {};
    trainer.beforeUpdate = async () => {
      for (const k of [...wanted, 'generator:lm_head.weight']) {
        const [model, name] = k.split(':') as [string, string];
        const w = model === 'retriever' ? p.retriever.encoder.weights : p.generator.model.weights;
        grads[k] = await w.get(name).grad!.read();
      }
    };
    const rec = await trainer.step();
    const qr = rec.questions[0]!;
    const byId = new Map(qr.candidates.map((c) => [c.docId, c]));
    g.passages.forEach((ps, i) => expect(byId.get(ps.id)!.score).toBeCloseTo(g.scores[i]!, 4));
    expect(qr.candidates.map((c) => c.docId)).toEqual(g.order.map((i) => g.passages[i]!.id));
    expect(qr.candidates.filter((c) => c.sampled).map((c) => c.utility!)).toEqual(g.nllMean.map((v) => expect.closeTo(v, 4)));
    expect(rec.loss.retriever).toBeCloseTo(g.lossRank, 4);
    expect(rec.loss.generator).toBeCloseTo(g.lossLM, 4);
    const close = (name: string, got: ArrayLike<number>, want: number[]) => {
      let maxAbs = 0,
        scale = 0;
      want.forEach((w, i) => {
        maxAbs = Math.max(maxAbs, Math.abs(got[i]! - w));
        scale = Math.max(scale, Math.abs(w));
      });
      console.log(`${name}: max abs diff ${maxAbs.toExponential(2)} (max |grad| ${scale.toExponential(2)})`);
      expect(maxAbs).toBeLessThanOrEqual(1e-3 * scale + 1e-6);
    };
    expect(wanted.length).toBe(4);
    for (const k of wanted) close(k, grads[k]!, (g.grads as unknown as Record<string, number[]>)[k]!);
    const head = g.grads['generator:lm_head.weight_rows'];
    const D = p.generator.model.config.hiddenSize;
    head.rows.forEach((row: number, i: number) =>
      close(`lm_head row ${row}`, grads['generator:lm_head.weight']!.subarray(row * D, (row + 1) * D), head.values[i]!),
    );
    trainer.dispose();
    trainer.index.dispose();
  });

  it('an interrupted run resumes from its checkpoint to the same records as an uninterrupted one', async () => {
    const config = resolveConfig({ ...BASE, retrieverLoss: 'llm-rank' });
    const a = await parts();
    const full = await runTraining(a, config);
    expect(full.records).toHaveLength(4);
    expect(full.stopped).toBeNull();
    // Step 2 rebuilt the index (refreshIndexEvery 2) and both models moved.
    for (const [r, g] of losses(full.records)) {
      expect(Number.isFinite(r)).toBe(true);
      expect(Number.isFinite(g)).toBe(true);
    }

    const b = await parts();
    const saved: RunCheckpoint[] = [];
    const first = await runTraining(b, config, { saveCheckpoint: async (c) => void saved.push(c), stopAfter: 2 });
    expect(first.stopped?.step).toBe(2);
    expect(saved.map((c) => c.step)).toEqual([2]);
    const c = await parts();
    const resumed = await runTraining(c, config, {}, saved[0]!);
    expect(resumed.records).toHaveLength(4);
    const want = losses(full.records),
      got = losses(resumed.records);
    got.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(want[i]![j]!, 5)));
    // The candidates and their sampling after resuming are the uninterrupted run's too.
    expect(resumed.records[3]!.questions.map((q) => q.candidates.map((x) => [x.docId, x.sampled]))).toEqual(
      full.records[3]!.questions.map((q) => q.candidates.map((x) => [x.docId, x.sampled])),
    );
    expect(resumed.evals.at(-1)!.result.accuracy).toEqual(full.evals.at(-1)!.result.accuracy);
    // A checkpoint from another configuration is refused, not half-applied.
    const d = await parts();
    await expect(runTraining(d, { ...config, lrGenerator: 0.5 }, {}, saved[0]!)).rejects.toThrow(/another configuration/);
  });

  it('a diverging run stops on the non-finite loss and keeps the last good checkpoint', async () => {
    const config = resolveConfig({
      ...BASE,
      retrieverSide: 'query',
      lrGenerator: 1e30,
      maxGradNorm: 0,
      steps: 5,
      checkpointEvery: 1,
      evalLimit: 1,
    });
    const p = await parts();
    const saved: number[] = [];
    const res = await runTraining(p, config, { saveCheckpoint: async (c) => void saved.push(c.step) });
    expect(res.stopped).not.toBeNull();
    expect(res.stopped!.message).toMatch(/not finite.*kept its last good checkpoint/);
    expect(res.records.length).toBe(res.stopped!.step);
    expect(res.records.length).toBeLessThan(5);
    expect(saved.at(-1)).toBe(res.records.length);
    for (const r of res.records) expect(Number.isFinite(r.loss.generator)).toBe(true);
  });

  for (const loss of ['listwise', 'jomed', 'pdist', 'loop', 'emdr2', 'replug', 'rag-marginal'] as const)
    it(`${loss}: a step trains the retriever with a finite loss and records utilities`, async () => {
      const p = await parts();
      // (JOMED's weighting would zero a question whose documents all predict the same label, which
      // the untrained fixture does: switched off so the update is visible.)
      const config = resolveConfig({
        ...BASE,
        retrieverLoss: loss,
        steps: 1,
        sampling: false,
        retrieverSide: 'query',
        tauS: 0.5,
        jomedWeighting: false,
      });
      const trainer = new Trainer({ ...p, train: QUESTIONS.filter((q) => q.split === 'train') }, config);
      const before = await p.retriever.projection.read();
      const rec = await trainer.step();
      expect(Number.isFinite(rec.loss.retriever)).toBe(true);
      expect(rec.questions[0]!.candidates.filter((c) => c.utility !== null)).toHaveLength(3);
      const after = await p.retriever.projection.read();
      expect(after.some((v, i) => v !== before[i])).toBe(true);
      trainer.dispose();
    });

  it('infonce (retriever-only): the gold passage first among the candidates, -log softmax(s / tau)[gold] as the loss', async () => {
    const p = await parts();
    const config = resolveConfig({
      ...BASE,
      schedule: 'retriever-only',
      retrieverLoss: 'infonce',
      infoNceTau: 0.5,
      retrieverSide: 'query',
      dropout: false,
      steps: 1,
    });
    const trainer = new Trainer({ ...p, train: QUESTIONS.filter((q) => q.split === 'train') }, config);
    const r0 = await p.retriever.projection.read();
    const rec = await trainer.step();
    let total = 0;
    for (const q of rec.questions) {
      const c = q.candidates;
      const gold = QUESTIONS.find((x) => x.id === q.id)!.goldDocIds[0]!;
      expect(c).toHaveLength(config.candidates);
      expect(c[0]!.docId).toBe(gold);
      expect(c[0]!.gold).toBe(true);
      expect(new Set(c.map((x) => x.docId)).size).toBe(c.length); // the positive is not also a negative
      expect(c.every((x) => x.utility === null)).toBe(true);
      total += infoNceLoss(
        c.map((x) => x.score),
        1,
        c.length,
        [0],
        0.5,
      ).loss;
    }
    expect(rec.loss.retriever).toBeCloseTo(total / rec.questions.length, 10);
    expect(rec.loss.generator).toBeNull();
    expect((await p.retriever.projection.read()).some((v, i) => v !== r0[i])).toBe(true);
    trainer.dispose();
  });

  it('staged (JOMED): the reader trains first with the retriever frozen, then the reverse', async () => {
    const p = await parts();
    const config = resolveConfig({ ...BASE, schedule: 'staged', retrieverLoss: 'jomed', retrieverSide: 'query', steps: 2 });
    const trainer = new Trainer({ ...p, train: QUESTIONS.filter((q) => q.split === 'train') }, config);
    const r0 = await p.retriever.projection.read();
    const s0 = await trainer.step();
    expect(s0.trains).toEqual({ retriever: false, generator: true });
    expect(s0.loss.retriever).toBeNull();
    expect(await p.retriever.projection.read()).toEqual(r0);
    const g1 = await p.generator.model.weights.get('model.norm.weight').read();
    const s1 = await trainer.step();
    expect(s1.trains).toEqual({ retriever: true, generator: false });
    expect(await p.generator.model.weights.get('model.norm.weight').read()).toEqual(g1);
    trainer.dispose();
  });

  it('retriever-only (REPLUG LSR with a frozen LM): the generator does not move', async () => {
    const p = await parts();
    const config = resolveConfig({
      ...BASE,
      schedule: 'retriever-only',
      retrieverLoss: 'replug',
      sampling: false,
      retrieverSide: 'query',
      steps: 1,
    });
    const trainer = new Trainer({ ...p, train: QUESTIONS.filter((q) => q.split === 'train') }, config);
    const g0 = await p.generator.model.weights.get('model.norm.weight').read();
    const r0 = await p.retriever.projection.read();
    const rec = await trainer.step();
    expect(rec.loss.generator).toBeNull();
    expect(Number.isFinite(rec.loss.retriever)).toBe(true);
    expect(await p.generator.model.weights.get('model.norm.weight').read()).toEqual(g0);
    expect((await p.retriever.projection.read()).some((v, i) => v !== r0[i])).toBe(true);
    expect(trainer.optG).toBeNull();
    trainer.dispose();
  });

  it('evaluation reports accuracy without, with and with gold retrieval, recall and alignment', async () => {
    const p = await parts();
    const config = resolveConfig({ ...BASE, steps: 0 });
    const trainer = new Trainer({ ...p, train: QUESTIONS.filter((q) => q.split === 'train') }, config);
    const ev = await evaluate(p.retriever, p.index, trainer.prompts, QUESTIONS, { topM: 2, alignmentCandidates: 3, ks: [1, 5] });
    expect(ev.scored).toBe(4);
    for (const v of Object.values(ev.accuracy)) expect([0, 0.25, 0.5, 0.75, 1]).toContain(v);
    expect(ev.recall[5]).toBeGreaterThanOrEqual(ev.recall[1]!);
    expect(ev.recall[5]).toBeLessThanOrEqual(1);
    expect(Math.abs(ev.alignment.spearman)).toBeLessThanOrEqual(1);
    trainer.dispose();
  });
});
