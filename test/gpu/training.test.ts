// The joint training step and run on the tiny fixture models (ColBERT + Llama): one full step
// against a PyTorch golden of the same step (scripts/goldens/make_step_golden.py), for ColBERT and
// for the dense retriever on the tiny GPT-NeoX (step-losses-dense.json), every peer loss
// and schedule running, an interrupted run resuming to the same records as an uninterrupted one,
// and a diverging run stopping on its NaN with the last good checkpoint kept.

import { afterAll, describe, expect, it } from 'vitest';
import { parseJsonlQA, YES_NO_MAYBE, type Question } from '../../src/data/datasets';
import type { DenseRetriever } from '../../src/models/dense';
import { loadGenerator, loadColbert, loadRetriever } from '../../src/models/load';
import { buildIndex, docText, searchIndex } from '../../src/retrieval/index';
import { RETRIEVER_LOSSES, resolveConfig, type RetrieverLoss, type TrainConfig } from '../../src/training/config';
import { runTraining, type RunCheckpoint } from '../../src/training/run';
import { Trainer } from '../../src/training/step';
import { evaluate } from '../../src/training/evaluate';
import { infoNceLoss } from '../../src/training/losses';
import { nllMany, PromptBuilder } from '../../src/training/prompts';
import stepGolden from '../goldens/step.json';
import denseGolden from '../goldens/step-losses-dense.json';
import lossGolden from '../goldens/step-losses.json';
import evalGolden from '../goldens/eval.json';
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
  const retriever = await loadColbert(e, await fixtureFiles('tiny-colbert'));
  const generator = await loadGenerator(e, await fixtureFiles('tiny-llama'));
  const index = await buildIndex(retriever, PASSAGES);
  return { e, retriever, generator, passages: PASSAGES, questions: QUESTIONS, index };
}

/** One golden case of test/goldens/step-losses.json (scores, utilities and gradients in candidate order). */
interface LossCase {
  loss: string;
  config: Partial<TrainConfig>;
  question: Partial<Question>;
  /** Passage indices (into stepGolden.passages) in candidate order. */
  candidates: number[];
  scores: number[];
  /** Candidate positions the generator judged, in draw order ([] when the loss needs no utility). */
  sampled: number[];
  /** Mean answer NLL given each judged candidate alone (draw order). */
  utility: number[] | null;
  weight: number | null;
  lossRetriever: number | null;
  scoreGrad: number[] | null;
  lossLM: number | null;
  grads: Record<string, number[]>;
}
const LOSS_CASES = lossGolden.cases as unknown as Partial<Record<string, LossCase>>;
const DENSE_CASES = denseGolden.cases as unknown as Partial<Record<string, LossCase>>;

/** The same deterministic step for every case: sampling, dropout and S2-Attn off, K 4, n 3, m 2, the whole retriever. */
const GOLDEN_CONFIG: Partial<TrainConfig> = {
  name: 'golden',
  steps: 1,
  batchSize: 1,
  candidates: 4,
  sampled: 3,
  sampling: false,
  topM: 2,
  docMaxTokens: stepGolden.docMaxTokens,
  retrieverSide: 'both',
  retrieverTraining: 'full',
  dropout: false,
  s2attn: null,
  refreshIndexEvery: 0,
  generatorLora: { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'] },
};

/** Element-wise: max |got - want| <= 1e-3 max |want| + 1e-6 (f32 on the GPU against float64). */
function close(name: string, got: ArrayLike<number>, want: readonly number[]): void {
  expect(got.length, name).toBe(want.length);
  let maxAbs = 0,
    scale = 0;
  want.forEach((w, i) => {
    maxAbs = Math.max(maxAbs, Math.abs(got[i]! - w));
    scale = Math.max(scale, Math.abs(w));
  });
  console.log(`${name}: max abs diff ${maxAbs.toExponential(2)} (max |want| ${scale.toExponential(2)})`);
  expect(maxAbs, name).toBeLessThanOrEqual(1e-3 * scale + 1e-6);
}

/** A scalar: within 5e-5 (toBeCloseTo(., 4)), relative for values above 1 (EMDR2's sum over answer tokens). */
function closeScalar(name: string, got: number | null, want: number | null): void {
  if (want === null) return void expect(got, name).toBeNull();
  expect(got, name).not.toBeNull();
  console.log(`${name}: ${got} vs ${want} (diff ${(got! - want).toExponential(2)})`);
  expect(Math.abs(got! - want), name).toBeLessThanOrEqual(5e-5 * Math.max(1, Math.abs(want)));
}

type LossOf = (...args: unknown[]) => { loss: number; grad: Float64Array; w: number };

/**
 * One step of `loss` on the golden question and passages, checked against its case: token ids,
 * candidates and scores, the recorded utilities, both losses, the gradient the step feeds into the
 * scores (read from Trainer.retrieverLossOf, weighted as the step weighs it), and the weight
 * gradients between backward and the update (generator ones against step.json: the retriever loss
 * must not reach the generator).
 */
async function goldenStep(loss: RetrieverLoss, c: LossCase, kind: 'colbert' | 'dense' = 'colbert'): Promise<void> {
  const g = stepGolden;
  expect(c.loss).toBe(loss);
  const p = await parts();
  if (kind === 'dense') {
    p.retriever.dispose();
    p.retriever = (await loadRetriever(p.e, await fixtureFiles('tiny-gptneox'))) as never;
  }
  // The LM's context is the top 2 by the retriever's scores: the dense golden has its own order and generator gradients.
  const lm =
    kind === 'dense'
      ? { order: denseGolden.order, prompt: denseGolden.promptIds.lm, grads: denseGolden.generatorGrads }
      : { order: g.order, prompt: g.promptIds.lm, grads: g.grads };
  const q = {
    id: 'g',
    question: g.question,
    kind: 'open',
    answer: g.answer,
    goldDocIds: [],
    split: 'train',
    ...c.question,
  } as Question;
  const index = await buildIndex(p.retriever, g.passages);
  const config = resolveConfig({ ...GOLDEN_CONFIG, retrieverLoss: loss, ...c.config });
  const trainer = new Trainer({ ...p, passages: g.passages, train: [q], index }, config);
  // Token ids first: a tokenizer or prompt-format difference would show here, not as a loss gap.
  if (kind === 'dense') {
    const r = p.retriever as unknown as DenseRetriever;
    expect(r.tokens.queryIds(g.question)).toEqual(denseGolden.queryIds);
    expect(g.passages.map((x) => r.tokens.docIds(docText(x)))).toEqual(denseGolden.docIds);
  } else expect(Array.from(p.retriever.tokenizeQueries([g.question]).ids)).toEqual(g.queryIds);
  expect(trainer.prompts.example(q, [g.passages[lm.order[0]!]!.id, g.passages[lm.order[1]!]!.id]).prompt).toEqual(lm.prompt);
  expect(trainer.prompts.answer(g.answer)).toEqual(g.answerIds);

  // The per-question loss and d loss / d scores the step computes (a private method, wrapped).
  const t = trainer as unknown as { retrieverLossOf: LossOf };
  const lossOf = t.retrieverLossOf.bind(trainer);
  const seen: ReturnType<LossOf>[] = [];
  t.retrieverLossOf = (...args) => {
    const r = lossOf(...args);
    seen.push(r);
    return r;
  };
  // Gradients of the tensors the goldens hold, read between backward and the update.
  const trainsGenerator = c.lossLM !== null;
  const genKeys = Object.keys(lm.grads).filter((k) => k.startsWith('generator:') && !k.endsWith('_rows'));
  const stepKeys = kind === 'dense' ? [] : Object.keys(g.grads).filter((k) => k.startsWith('retriever:'));
  const frozenKey = kind === 'dense' ? 'retriever:gpt_neox.final_layer_norm.weight' : 'retriever:linear.weight';
  const wanted = new Set([...Object.keys(c.grads), ...stepKeys, ...genKeys, frozenKey, 'generator:lm_head.weight']);
  const grads: Record<string, Float32Array | null> = {};
  trainer.beforeUpdate = async () => {
    for (const k of wanted) {
      const [model, name] = k.split(':') as [string, string];
      const w = model === 'retriever' ? p.retriever.weights : p.generator.model.weights;
      const grad = w.get(name).grad;
      grads[k] = grad ? await grad.read() : null;
    }
  };
  const rec = await trainer.step();
  const qr = rec.questions[0]!;

  expect(qr.candidates.map((x) => x.docId)).toEqual(c.candidates.map((i) => g.passages[i]!.id));
  qr.candidates.forEach((x, i) => expect(x.score).toBeCloseTo(c.scores[i]!, 4));
  // Utilities: the judged candidates' mean answer NLL, null elsewhere (and everywhere for a loss without).
  const judged = new Map(c.sampled.map((i, a) => [i, c.utility![a]!]));
  expect(qr.candidates.map((x) => x.utility)).toEqual(
    c.candidates.map((_, i) => (judged.has(i) ? expect.closeTo(judged.get(i)!, 4) : null)),
  );
  if (c.utility) expect(qr.candidates.map((x) => x.sampled)).toEqual(c.candidates.map((_, i) => judged.has(i)));

  closeScalar(`${loss} retriever loss`, rec.loss.retriever, c.lossRetriever);
  closeScalar(`${loss} generator loss`, rec.loss.generator, c.lossLM);
  if (c.scoreGrad) {
    expect(seen).toHaveLength(1);
    const { grad, w } = seen[0]!;
    expect(w).toBe(c.weight);
    close(
      `${loss} d loss/d scores`,
      grad.map((v) => (v * w) / Math.max(w, 1)),
      c.scoreGrad,
    );
    for (const [k, want] of Object.entries(c.grads)) close(`${loss} ${k}`, grads[k]!, want);
    // LLM-Rank's gradients are also in step.json (the first golden, with the generator's).
    if (loss === 'llm-rank')
      for (const k of stepKeys) close(`step.json ${k}`, grads[k]!, (g.grads as unknown as Record<string, number[]>)[k]!);
  } else {
    expect(seen).toHaveLength(0);
    expect(grads[frozenKey], 'a frozen retriever has no gradient').toBeNull();
  }
  if (trainsGenerator) {
    for (const k of genKeys) close(`${loss} ${k}`, grads[k]!, (lm.grads as unknown as Record<string, number[]>)[k]!);
    const head = lm.grads['generator:lm_head.weight_rows'];
    const D = p.generator.model.config.hiddenSize;
    head.rows.forEach((row: number, i: number) =>
      close(`${loss} lm_head row ${row}`, grads['generator:lm_head.weight']!.subarray(row * D, (row + 1) * D), head.values[i]!),
    );
  } else {
    expect(trainer.optG).toBeNull();
    expect(grads['generator:model.norm.weight'], 'a frozen generator has no gradient').toBeNull();
  }
  trainer.dispose();
  trainer.index.dispose();
}

const losses = (rs: { loss: { retriever: number | null; generator: number | null } }[]) =>
  rs.map((r) => [r.loss.retriever, r.loss.generator]);

describe('joint training on the tiny fixtures', () => {
  it('the step goldens hold a case for every retriever loss and none besides', () => {
    expect(Object.keys(LOSS_CASES).sort()).toEqual([...RETRIEVER_LOSSES].sort());
  });

  // One step per retriever loss against the PyTorch reference: a loss added to RETRIEVER_LOSSES
  // without a case in scripts/goldens/make_step_golden.py fails here.
  for (const loss of RETRIEVER_LOSSES)
    it(`${loss}: one step matches the PyTorch golden (candidates, utilities, both losses, d loss/d scores, gradients)`, async () => {
      const c = LOSS_CASES[loss];
      expect(c, `no golden case for retriever loss '${loss}': add one to scripts/goldens/make_step_golden.py`).toBeDefined();
      await goldenStep(loss, c!);
    });

  // The same step with the dense retriever (BMRetriever style on the tiny GPT-NeoX, full training):
  // its candidates, scores, losses, d loss/d scores and two backbone weights' gradients.
  for (const loss of RETRIEVER_LOSSES)
    it(`${loss} with the dense retriever: one step matches the PyTorch golden`, async () => {
      const c = DENSE_CASES[loss];
      expect(c, `no dense golden case for '${loss}': add one to scripts/goldens/make_step_golden.py`).toBeDefined();
      await goldenStep(loss, c!, 'dense');
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
    // A learning rate of 1e30 overflows the generator's weights within a few steps. The config's
    // schema caps learning rates at 1 (resolveConfig refuses 1e30), so the rate is set after the
    // check: what is tested is the run loop's stop on a non-finite loss, not a config the app takes.
    const config = {
      ...resolveConfig({ ...BASE, retrieverSide: 'query', maxGradNorm: 0, steps: 5, checkpointEvery: 1, evalLimit: 1 }),
      lrGenerator: 1e30,
    };
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

  // Every joint-training loss (infonce and 'none' have their own tests below) on a batch of two
  // with document vectors from the index (retrieverSide 'query').
  for (const loss of RETRIEVER_LOSSES.filter((l) => l !== 'infonce' && l !== 'none'))
    it(`${loss}: a batch-of-two step on the index's document vectors trains the retriever with a finite loss and records utilities`, async () => {
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

  it('the record says where each gold passage ranked in the whole index, its utility, and the NLL with no document', async () => {
    const p = await parts();
    const config = resolveConfig({ ...BASE, retrieverLoss: 'llm-rank', steps: 1, candidates: 3, sampled: 2 });
    const trainer = new Trainer({ ...p, train: QUESTIONS.filter((q) => q.split === 'train') }, config);
    const qs = trainer.batchAt(0);
    // Independently, before the step moves either model: every passage in search order (k = all
    // of them), and the generator's NLL with no document and given each gold passage alone.
    const all = await searchIndex(
      p.index,
      p.retriever,
      qs.map((q) => q.question),
      PASSAGES.length,
    );
    const noDoc = (
      await nllMany(
        p.generator,
        qs.map((q) => trainer.prompts.example(q, [])),
      )
    ).mean;
    const pairs = qs.flatMap((q) => q.goldDocIds.map((d) => ({ q, d })));
    const goldNll = (
      await nllMany(
        p.generator,
        pairs.map(({ q, d }) => trainer.prompts.example(q, [d])),
      )
    ).mean;
    const rec = await trainer.step();
    const seen = { outside: 0, inside: 0 };
    for (const [b, q] of qs.entries()) {
      const r = rec.questions[b]!;
      expect(r.id).toBe(q.id);
      expect(r.nllNoDoc).toBeCloseTo(noDoc[b]!, 4);
      const ranks = q.goldDocIds.map((d) => all.ids[b]!.indexOf(d) + 1).filter((x) => x > 0);
      if (ranks.length === 0) {
        expect(r.goldRank).toBeNull();
        continue;
      }
      const best = Math.min(...ranks);
      const g = r.goldRank!;
      expect([g.docId, g.rank, g.of]).toEqual([all.ids[b]![best - 1], best, PASSAGES.length]);
      expect(g.score).toBeCloseTo(all.scores[b]![best - 1]!, 5);
      const cand = r.candidates.find((c) => c.docId === g.docId);
      seen[cand ? 'inside' : 'outside']++;
      expect(Boolean(cand)).toBe(best <= config.candidates);
      // Judged: its candidate's utility, exactly; else scored for the record by the same generator.
      if (cand?.utility != null) expect(g.utility).toBe(cand.utility);
      const want = goldNll[pairs.findIndex((x) => x.q === q && x.d === g.docId)]!;
      expect(g.utility).toBeCloseTo(want, 4);
    }
    console.log(`gold passages among the candidates: ${seen.inside}, beyond them: ${seen.outside}`);
    expect(seen.inside + seen.outside).toBeGreaterThan(0);
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

  it('evaluation matches the PyTorch reference: accuracy without, with the top m and with gold documents, recall, MRR, alignment', async () => {
    // test/goldens/eval.json (scripts/goldens/make_step_golden.py) computed the same evaluation in
    // float64 with the same fixed models; per question too, since averages can hide a wrong one.
    const ge = evalGolden;
    const p = await parts();
    expect(QUESTIONS.map((q) => [q.id, q.options ?? [...YES_NO_MAYBE], q.answerIndex])).toEqual(
      ge.questions.map((q) => [q.id, q.options, q.answerIndex]),
    );
    const prompts = new PromptBuilder(p.generator, new Map(PASSAGES.map((x) => [x.id, x])), ge.docMaxTokens);
    const opts = { topM: ge.topM, alignmentCandidates: ge.alignmentCandidates, ks: ge.ks };
    const found = await searchIndex(
      p.index,
      p.retriever,
      QUESTIONS.map((q) => q.question),
      ge.questions[0]!.ranked.length,
    );
    expect(found.ids).toEqual(ge.questions.map((q) => q.ranked));
    found.scores.forEach((row, b) => row.forEach((v, i) => expect(v).toBeCloseTo(ge.questions[b]!.scores[i]!, 4)));

    const ev = await evaluate(p.retriever, p.index, prompts, QUESTIONS, opts);
    expect(ev.questions).toBe(QUESTIONS.length);
    expect(ev.scored).toBe(ge.scored);
    expect(ev.accuracy).toEqual(ge.accuracy);
    expect(ev.recall).toEqual(ge.recall);
    expect(ev.mrr10).toBeCloseTo(ge.mrr10, 12);
    expect(ev.alignment.spearman).toBeCloseTo(ge.alignment.spearman, 12);
    expect(ev.alignment.kendall).toBeCloseTo(ge.alignment.kendall, 12);
    for (const [b, q] of QUESTIONS.entries()) {
      const want = ge.questions[b]!;
      const one = await evaluate(p.retriever, p.index, prompts, [q], opts);
      expect(one.accuracy, q.id).toEqual(want.correct);
      expect(one.recall, q.id).toEqual(want.recall);
      expect(one.mrr10, q.id).toBeCloseTo(want.rr10, 12);
      expect(one.alignment.spearman, q.id).toBeCloseTo(want.alignment.spearman, 12);
      expect(one.alignment.kendall, q.id).toBeCloseTo(want.alignment.kendall, 12);
    }
  });
});
