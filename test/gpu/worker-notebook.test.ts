// What the notebook asks of the engine, through GpuEngine (the class the worker wraps) on the tiny
// fixtures: step records and checkpoints streamed during train, a stopped run resumed (and the
// resumes refused), scoreAfter against an independent re-scoring, MaxSim explanations that add up
// to search's score, lookup with seeded splits, evaluation by split in merged chunks (and
// cancelled), exported weights that load back to the same scores and logits, and the cluster
// bundle of the loaded data and models.

import { afterAll, describe, expect, it } from 'vitest';
import { parseJsonlQA } from '../../src/data/datasets';
import { loadGenerator, loadRetriever } from '../../src/models/load';
import type { ColbertRetriever } from '../../src/models/colbert';
import { docText } from '../../src/retrieval/index';
import { verifyBundleFiles } from '../../src/training/bundle';
import { DEFAULT_CONFIG, type TrainConfig } from '../../src/training/config';
import { evaluate } from '../../src/training/evaluate';
import { PromptBuilder } from '../../src/training/prompts';
import { splitOf, type RunCheckpoint } from '../../src/training/run';
import type { StepRecord } from '../../src/training/step';
import { GpuEngine } from '../../src/worker/engine';
import type { ModelRole, ProgressResponse } from '../../src/worker/protocol';
import corpusJsonl from '../fixtures/tiny-qa/corpus.jsonl?raw';
import questionsJsonl from '../fixtures/tiny-qa/questions.jsonl?raw';
import { fixtureBytes, fixtureFiles, type FixtureName } from './fixtures';
import { destroyEngine, getEngine } from './helpers';

afterAll(destroyEngine);

const DATA = parseJsonlQA({ questions: questionsJsonl, corpus: corpusJsonl });
const FILES = ['config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json'];
const FIXTURE: Record<ModelRole, FixtureName> = { retriever: 'tiny-colbert', generator: 'tiny-llama' };

/** A fixture model as a folder the user picked (ModelSourceSpec 'folder'). */
async function folder(role: ModelRole) {
  const entries = await Promise.all(
    FILES.map(async (path) => ({ path, file: new Blob([(await fixtureBytes(FIXTURE[role], path)) as Uint8Array<ArrayBuffer>]) })),
  );
  return { kind: 'folder' as const, entries, label: FIXTURE[role] };
}

type Progress = Omit<ProgressResponse, 'kind' | 'id'>;

/** An engine on the test's device with both fixture models, a dataset and (unless told not to) the index. */
async function engineWith(opts: { questions?: string; index?: boolean } = {}): Promise<GpuEngine> {
  const g = new GpuEngine(await getEngine());
  await g.loadModel({ role: 'retriever', source: await folder('retriever') });
  await g.loadModel({ role: 'generator', source: await folder('generator') });
  const files = { questions: new Blob([opts.questions ?? questionsJsonl]), corpus: new Blob([corpusJsonl]) };
  await g.loadDataset({ source: { kind: 'files', format: 'jsonl', files } });
  if (opts.index !== false) await g.buildIndex({});
  return g;
}

const CONFIG: Partial<TrainConfig> = {
  name: 'notebook',
  seed: 1,
  steps: 3,
  batchSize: 2,
  candidates: 4,
  sampled: 3,
  topM: 2,
  docMaxTokens: 12,
  retrieverSide: 'query',
  retrieverTraining: 'full',
  lrRetriever: 1e-3,
  lrGenerator: 1e-3,
  generatorLora: { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'] },
  s2attn: null,
  dropout: false,
  refreshIndexEvery: 0,
  checkpointEvery: 0,
  evalAtStart: false,
  evalLimit: 1,
  evalAlignmentCandidates: 3,
};

const timed = async <T>(label: string, f: () => Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const out = await f();
  console.log(`${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return out;
};

describe('the engine for the notebook', () => {
  it('train streams every step record and checkpoint; a stopped run resumes; foreign resumes are refused', async () => {
    const g = await engineWith();
    const records: StepRecord[] = [];
    const checkpoints: RunCheckpoint[] = [];
    const collect = (p: Progress): void => {
      if (p.trainRecord) {
        expect(p.trainStep?.step).toBe(p.trainRecord.step + 1);
        records.push(p.trainRecord);
      }
      if (p.trainCheckpoint) checkpoints.push(p.trainCheckpoint);
    };
    // Stop after the first step as a cancel does: abort the request's signal.
    const stop = new AbortController();
    const first = await timed('train (stopped after 1 step)', () =>
      g.train(
        { config: CONFIG, runId: 'run-a' },
        {
          signal: stop.signal,
          onProgress: (p) => {
            collect(p);
            if (p.trainRecord) stop.abort();
          },
        },
      ),
    );
    expect(first.stopped?.step).toBe(1);
    expect(records.map((r) => r.step)).toEqual([0]);
    expect(records[0]!.questions[0]!.candidates).toHaveLength(4);
    expect(records[0]!.questions[0]!.candidates[0]!.scoreAfter).toBeNull(); // recordScoresAfter is off
    // checkpointEvery 0 keeps none on schedule: the stop kept one so the run can resume.
    expect(checkpoints.map((c) => c.step)).toEqual([1]);
    const cp = checkpoints[0]!;
    expect(cp.records).toHaveLength(1);
    expect(g.trainedBy).toBe('run-a');

    // A checkpoint of a run that continued another's, once the models are no longer as it left
    // them, and run-a's with another config: refused, nothing changed.
    await expect(
      g.train({ config: CONFIG, runId: 'run-b', resume: cp, start: { from: 'run', runId: 'run-x' } }),
    ).rejects.toMatchObject({
      name: 'ResumeRefusedError',
      field: 'start',
      message: expect.stringMatching(/cannot resume exactly/),
    });
    expect(g.trainedBy).toBe('run-a');
    await expect(g.train({ config: { ...CONFIG, lrGenerator: 0.5 }, runId: 'run-a', resume: cp })).rejects.toMatchObject({
      name: 'ResumeRefusedError',
      field: 'lrGenerator',
      message: expect.stringMatching(/lrGenerator.*checkpoint/),
    });

    // The same run resumes to the end (steps may grow; recordScoresAfter may change).
    const resumed = await timed('train (resumed, 2 steps)', () =>
      g.train({ config: { ...CONFIG, recordScoresAfter: true }, runId: 'run-a', resume: cp }, { onProgress: collect }),
    );
    expect(resumed.stopped).toBeNull();
    expect(resumed.steps).toBe(3);
    expect(records.map((r) => r.step)).toEqual([0, 1, 2]);
    expect(checkpoints.map((c) => c.step)).toEqual([1, 3]); // and the one at the end
    expect(checkpoints[1]!.records.map((r) => r.step)).toEqual([0, 1, 2]);

    // Loading a model puts the pair back as loaded (the other one too).
    await g.loadModel({ role: 'generator', source: await folder('generator') });
    expect(g.trainedBy).toBeNull();
    expect(g.models).toEqual({ from: 'loaded' });
  });

  it('every run starts from the loaded checkpoints unless it continues one; a reset puts the models back', async () => {
    // The retriever trains in full and the generator with LoRA + embeddings: both kinds of change.
    const config: Partial<TrainConfig> = {
      ...CONFIG,
      steps: 2,
      retrieverSide: 'both',
      generatorEmbeddings: true,
      lrRetriever: 5e-2,
      lrGenerator: 5e-2,
    };
    const g = await engineWith();
    const losses = async (runId: string, start?: { from: 'loaded' } | { from: 'run'; runId: string }) => {
      const recs: StepRecord[] = [];
      const cps: RunCheckpoint[] = [];
      const out = await g.train(
        { config, runId, ...(start ? { start } : {}) },
        {
          onProgress: (p) => {
            if (p.trainRecord) recs.push(p.trainRecord);
            if (p.trainCheckpoint) cps.push(p.trainCheckpoint);
          },
        },
      );
      return { out, cps, recs: recs.map((r): [number, number] => [r.loss.retriever!, r.loss.generator!]) };
    };
    const a = await timed('run a (2 steps)', () => losses('run-a'));
    expect(a.out.start).toEqual({ from: 'loaded' });
    expect(a.out.models).toEqual({ from: 'run', runId: 'run-a', step: 2 });
    expect(a.out.indexMoved).toBe(true);
    // The same config from the loaded checkpoints again: the very same numbers (nothing of run a carried over).
    const b = await timed('run b (2 steps, from loaded)', () => losses('run-b'));
    b.recs.forEach((l, i) => {
      expect(l[0]).toBeCloseTo(a.recs[i]![0], 5);
      expect(l[1]).toBeCloseTo(a.recs[i]![1], 5);
    });
    // Continuing run b: its first step starts where b ended, so its losses differ from a's first.
    await expect(losses('run-c', { from: 'run', runId: 'run-a' })).rejects.toMatchObject({ field: 'start' });
    const c = await timed('run c (2 steps, continuing b)', () => losses('run-c', { from: 'run', runId: 'run-b' }));
    expect(c.out.start).toEqual({ from: 'run', runId: 'run-b', step: 2 });
    expect(Math.abs(c.recs[0]![1] - a.recs[0]![1])).toBeGreaterThan(1e-4);
    // Run c resumed from its last checkpoint while the models are as it left them: its start stays run b's.
    const resumedC = await g.train({
      config: { ...config, steps: 3 },
      runId: 'run-c',
      start: { from: 'run', runId: 'run-b', step: 2 },
      resume: c.cps.at(-1)!,
    });
    expect(resumedC.start).toEqual({ from: 'run', runId: 'run-b', step: 2 });
    // One reset: the checkpoints' weights exactly, adapters gone; a run then gives run a's numbers once more.
    const before = await g.exportWeights({ role: 'generator' });
    expect(await g.resetModels({})).toEqual({ from: 'loaded' });
    const reloaded = new GpuEngine(await getEngine());
    await reloaded.loadModel({ role: 'generator', source: await folder('generator') });
    const asLoaded = await reloaded.exportWeights({ role: 'generator' });
    const afterReset = await g.exportWeights({ role: 'generator' });
    const same = (x: Uint8Array, y: Uint8Array): boolean => x.length === y.length && x.every((v, i) => v === y[i]);
    expect(same(afterReset.bytes, asLoaded.bytes)).toBe(true);
    expect(same(before.bytes, asLoaded.bytes)).toBe(false);
    const d = await timed('run d (2 steps, after reset)', () => losses('run-d'));
    d.recs.forEach((l, i) => expect(l[1]).toBeCloseTo(a.recs[i]![1], 5));
  });

  it('half-size frozen weights: about half the bytes, a LoRA run trains near the f32 numbers, a run that would train a packed weight is refused first', async () => {
    const config: Partial<TrainConfig> = { ...CONFIG, steps: 2, retrieverTraining: 'lora', generatorEmbeddings: false };
    const f32 = await engineWith();
    const g = new GpuEngine(await getEngine());
    const r16 = await g.loadModel({ role: 'retriever', source: await folder('retriever'), frozenDtype: 'f16' });
    const g16 = await g.loadModel({ role: 'generator', source: await folder('generator'), frozenDtype: 'f16' });
    expect([r16.weightsDtype, g16.weightsDtype]).toEqual(['f16', 'f16']);
    const r32 = await f32.loadModel({ role: 'retriever', source: await folder('retriever') });
    const g32 = await f32.loadModel({ role: 'generator', source: await folder('generator') });
    expect(r32.weightsDtype).toBe('f32');
    for (const [half, full] of [
      [r16, r32],
      [g16, g32],
    ] as const) {
      expect(half.params).toBe(full.params);
      // Matrices halve; norms, biases and the retriever's projection stay f32.
      expect(half.memory.paramBytes / full.memory.paramBytes).toBeGreaterThan(0.5);
      expect(half.memory.paramBytes / full.memory.paramBytes).toBeLessThan(0.6);
    }
    await f32.buildIndex({});
    const files = { questions: new Blob([questionsJsonl]), corpus: new Blob([corpusJsonl]) };
    await g.loadDataset({ source: { kind: 'files', format: 'jsonl', files } });
    await g.buildIndex({});
    // What would train a packed weight is refused before anything moves, saying what to change.
    await expect(g.train({ config: { ...config, retrieverTraining: 'full' }, runId: 'x' })).rejects.toMatchObject({
      name: 'TrainingNotReadyError',
      message: expect.stringMatching(/retriever was loaded with half-size.*'projection' or 'lora'/),
    });
    await expect(g.train({ config: { ...config, generatorEmbeddings: true }, runId: 'x' })).rejects.toMatchObject({
      name: 'TrainingNotReadyError',
      message: expect.stringMatching(/generator was loaded with half-size.*turn off generator embeddings/),
    });
    expect(g.models).toEqual({ from: 'loaded' });
    const run = async (engine: GpuEngine) => {
      const recs: StepRecord[] = [];
      await engine.train({ config, runId: 'half' }, { onProgress: (p) => void (p.trainRecord && recs.push(p.trainRecord)) });
      return recs.map((r) => [r.loss.retriever!, r.loss.generator!]);
    };
    const [half, full] = [await run(g), await run(f32)];
    expect(half).toHaveLength(2);
    // f16 rounding of tiny-colbert's weights (2^-11 relative) moves the losses by far less than 1%.
    half.flat().forEach((l, i) => {
      expect(Number.isFinite(l)).toBe(true);
      expect(Math.abs(l - full.flat()[i]!)).toBeLessThan(1e-2 * Math.abs(full.flat()[i]!) + 1e-4);
    });
  });

  it('Stop ends a run after the step in flight; after the last step the run is done and only the final evaluation is skipped', async () => {
    const g = await engineWith();
    const seen: Progress[] = [];
    const stop = new AbortController();
    const out = await timed('train (stopped on the last step)', () =>
      g.train(
        { config: { ...CONFIG, steps: 2, evalLimit: 2 }, runId: 'run-s' },
        {
          signal: stop.signal,
          onProgress: (p) => {
            seen.push(p);
            if (p.trainRecord?.step === 1) stop.abort();
          },
        },
      ),
    );
    expect(out.stopped).toBeNull();
    expect(out.steps).toBe(2);
    expect(out.skipped).toMatch(/final evaluation/);
    expect(out.evals).toEqual([]);
    // Nothing ran after the stop but the checkpoint that makes the run resumable.
    const after = seen.slice(seen.findIndex((p) => p.trainRecord?.step === 1) + 1);
    expect(after.map((p) => p.phase)).toEqual(['checkpoint', 'checkpoint']);
    // Every step reported its phase and, from the first on, an ETA.
    const steps = seen.filter((p) => p.phase === 'step');
    expect(steps).toHaveLength(2);
    expect(steps.every((p) => typeof p.etaMs === 'number' && p.etaMs >= 0)).toBe(true);
    // The ETA after step 1 counts step 2 and the final evaluation of 2 questions, more than a step.
    expect(steps[0]!.etaMs!).toBeGreaterThan(steps[0]!.trainStep!.ms);
  });

  it('scoreAfter: the updated retriever re-scores the same candidates, as a fresh scoring after the step does', async () => {
    const config: Partial<TrainConfig> = {
      ...CONFIG,
      steps: 1,
      retrieverSide: 'both',
      lrRetriever: 5e-2,
      maxGradNorm: 0,
      recordScoresAfter: true,
    };
    const g = await engineWith();
    const records: StepRecord[] = [];
    await timed('train (1 step, scoreAfter)', () =>
      g.train({ config }, { onProgress: (p) => p.trainRecord && void records.push(p.trainRecord) }),
    );
    const rec = records[0]!;
    expect(rec.trains.retriever).toBe(true);
    const byId = new Map(DATA.passages.map((p) => [p.id, p]));
    const question = new Map(DATA.questions.map((q) => [q.id, q.question]));
    let moved = 0;
    for (const q of rec.questions) {
      // Independently: the trained retriever (the run had one step) scoring the candidate texts.
      const fresh = await g.retrieve({ query: question.get(q.id)!, docs: q.candidates.map((c) => docText(byId.get(c.docId)!)) });
      q.candidates.forEach((c, i) => {
        expect(c.scoreAfter).not.toBeNull();
        expect(c.scoreAfter!).toBeCloseTo(fresh.scores[i]!, 4);
        moved = Math.max(moved, Math.abs(c.scoreAfter! - c.score));
      });
    }
    console.log(`largest |scoreAfter - score|: ${moved.toExponential(2)}`);
    expect(moved).toBeGreaterThan(1e-3);

    // The same step without recordScoresAfter: scoreAfter null, every draw and number the same.
    const h = await engineWith();
    const plain: StepRecord[] = [];
    await h.train(
      { config: { ...config, recordScoresAfter: false } },
      { onProgress: (p) => p.trainRecord && void plain.push(p.trainRecord) },
    );
    const other = plain[0]!;
    expect(other.loss.retriever).toBeCloseTo(rec.loss.retriever!, 6);
    expect(other.loss.generator).toBeCloseTo(rec.loss.generator!, 6);
    other.questions.forEach((q, b) =>
      q.candidates.forEach((c, i) => {
        const want = rec.questions[b]!.candidates[i]!;
        expect(c.scoreAfter).toBeNull();
        expect([c.docId, c.sampled]).toEqual([want.docId, want.sampled]);
        expect(c.score).toBeCloseTo(want.score, 6);
        if (want.utility === null) expect(c.utility).toBeNull();
        else expect(c.utility!).toBeCloseTo(want.utility, 6);
      }),
    );
  });

  it('scoreAfter with dropout on: the same masks as score, so a step that barely moves the retriever barely moves scoreAfter', async () => {
    // lr 1e-9: AdamW moves each weight by about 1e-9, so score -> scoreAfter is (nearly) zero when
    // both are computed under the same dropout masks; under fresh masks (or none) it is dropout noise.
    const config: Partial<TrainConfig> = { ...CONFIG, steps: 1, dropout: true, lrRetriever: 1e-9, recordScoresAfter: true };
    const records: StepRecord[] = [];
    await (await engineWith()).train({ config }, { onProgress: (p) => p.trainRecord && void records.push(p.trainRecord) });
    const plain: StepRecord[] = [];
    await (
      await engineWith()
    ).train({ config: { ...config, dropout: false } }, { onProgress: (p) => p.trainRecord && void plain.push(p.trainRecord) });
    let noise = 0,
      moved = 0;
    records[0]!.questions.forEach((q, b) =>
      q.candidates.forEach((c, i) => {
        moved = Math.max(moved, Math.abs(c.scoreAfter! - c.score));
        noise = Math.max(noise, Math.abs(c.score - plain[0]!.questions[b]!.candidates[i]!.score));
      }),
    );
    console.log(`dropout noise on a score ${noise.toExponential(2)}; score -> scoreAfter at lr 1e-9 ${moved.toExponential(2)}`);
    expect(noise).toBeGreaterThan(1e-3); // dropout does change the scores of this model
    expect(moved).toBeLessThan(1e-4);
  });

  it("maxsim: per query token the best document token, summing to search's and retrieve's score", async () => {
    const g = await engineWith({ index: false });
    const query = 'what lowers blood sugar?';
    const r = g.loaded.retriever as ColbertRetriever;
    // Without an index: document vectors from encoding the passage.
    const p1 = DATA.passages[0]!;
    const x = await g.maxsim({ query, docId: p1.id });
    const direct = await g.retrieve({ query, docs: [docText(p1)] });
    expect(x.score).toBeCloseTo(direct.scores[0]!, 4);
    expect(x.queryTokens).toHaveLength(r.opts.queryMaxLen);
    expect(x.queryTokens.slice(0, 2)).toEqual(['[CLS]', '[unused0]']);
    expect(x.queryTokens.at(-1)).toBe('[MASK]'); // query augmentation: scored like the rest
    expect(x.docTokens.slice(0, 2)).toEqual(['[CLS]', '[unused1]']);
    expect(x.docTokens.at(-1)).toBe('[SEP]');
    expect(x.docTokens).not.toContain('.'); // punctuation is dropped from the vectors
    expect(x.match).toHaveLength(x.queryTokens.length);
    for (const m of x.match) expect(m >= 0 && m < x.docTokens.length).toBe(true);
    expect(x.sim.reduce((a, b) => a + b, 0)).toBeCloseTo(x.score, 6);

    // With the index: its vectors, and search's scores.
    await g.buildIndex({});
    const hits = await g.search({ query, k: DATA.passages.length });
    for (const hit of hits) {
      const y = await g.maxsim({ query, docId: hit.id });
      expect(Math.abs(y.score - hit.score)).toBeLessThan(1e-4);
    }
    await expect(g.maxsim({ query, docId: 'nope' })).rejects.toThrow(/no passage "nope"/);
  });

  it('lookup: questions with options, answer, gold and their seeded split; passages; what is missing', async () => {
    // Questions without a split of their own: the split comes from splitOf(q, seed).
    const noSplit = questionsJsonl.replace(/,"split":"[a-z]+"/g, '');
    const g = new GpuEngine(await getEngine());
    await expect(g.lookup({ questionIds: ['q1'], docIds: [] })).rejects.toMatchObject({ name: 'ModelNotLoadedError' });
    await g.loadDataset({
      source: { kind: 'files', format: 'jsonl', files: { questions: new Blob([noSplit]), corpus: new Blob([corpusJsonl]) } },
    });
    const qs = parseJsonlQA({ questions: noSplit, corpus: corpusJsonl }).questions;
    for (const seed of [0, 5]) {
      const res = await g.lookup({ questionIds: ['q1', 'q2', 'zz'], docIds: ['p4', 'p0'], seed });
      expect(res.questions.map((q) => q.split)).toEqual(qs.slice(0, 2).map((q) => splitOf(q, seed)));
    }
    const res = await g.lookup({ questionIds: ['q1', 'q2', 'zz'], docIds: ['p4', 'p0'] });
    expect(res.questions[0]).toEqual({
      id: 'q1',
      question: 'what lowers blood sugar?',
      options: ['insulin', 'vaccine'],
      answer: 'insulin',
      goldDocIds: ['p1'],
      split: splitOf(qs[0]!, 0),
    });
    expect(res.questions[1]!.options).toEqual(['yes', 'no', 'maybe']); // yes/no/maybe: scored over those
    expect(res.docs).toEqual([{ id: 'p4', title: 'stroke', text: 'high blood pressure is the most common cause of stroke.' }]);
    expect(res.missing).toEqual(['zz', 'p0']);
  });

  it('evaluate: the questions of a split, in chunks with progress that give what one evaluate() over them gives; cancellable', async () => {
    const g = await engineWith({ index: false });
    await expect(g.evaluate({ split: 'train', limit: 0 })).rejects.toMatchObject({
      name: 'TrainingNotReadyError',
      message: expect.stringMatching(/build the index/),
    });
    await g.buildIndex({});
    const train = DATA.questions.filter((q) => splitOf(q) === 'train');
    expect(train).toHaveLength(3);
    // One question per chunk: progress after each, the same numbers as one chunk of all three.
    g.evalChunk = 1;
    const progress: number[] = [];
    const got = await timed('evaluate train (3 chunks)', () =>
      g.evaluate({ split: 'train', limit: 0, topM: 2, docMaxTokens: 12 }, { onProgress: (p) => progress.push(p.done) }),
    );
    expect(progress).toEqual([1, 2, 3]);
    const { retriever, generator, index } = g.loaded;
    const prompts = new PromptBuilder(generator!, new Map(DATA.passages.map((p) => [p.id, p])), 12);
    const want = await evaluate(retriever!, index!, prompts, train, {
      topM: 2,
      alignmentCandidates: DEFAULT_CONFIG.evalAlignmentCandidates,
      chunk: 100,
    });
    expect(got.questions).toBe(3);
    expect(got.scored).toBe(want.scored);
    expect(got.accuracy).toEqual(want.accuracy);
    for (const k of [1, 5, 10]) expect(got.recall[k]).toBeCloseTo(want.recall[k]!, 9);
    expect(got.mrr10).toBeCloseTo(want.mrr10, 9);
    expect(got.alignment.spearman).toBeCloseTo(want.alignment.spearman, 6);
    expect(got.alignment.kendall).toBeCloseTo(want.alignment.kendall, 6);

    const val = await g.evaluate({ split: 'validation', limit: 0, topM: 2 });
    expect(val.questions).toBe(1);
    expect((await g.evaluate({ split: 'train', limit: 2, topM: 2 })).questions).toBe(2);
    await expect(g.evaluate({ split: 'test', limit: 0 })).rejects.toThrow(/no test questions/);
    // A cancel between chunks rejects the request.
    const stop = new AbortController();
    const cancelled = g.evaluate({ split: 'train', limit: 0, topM: 2 }, { signal: stop.signal, onProgress: () => stop.abort() });
    await expect(cancelled).rejects.toMatchObject({
      name: 'EvaluationCancelledError',
      message: expect.stringMatching(/after 1 of 3/),
    });
  });

  it('exportWeights: trained weights (LoRA merged) load back with the original config to the same scores and logits', async () => {
    const g = await engineWith();
    await timed('train (1 step, both models, LoRA in both)', () =>
      g.train({ config: { ...CONFIG, steps: 1, retrieverTraining: 'lora', lrRetriever: 1e-2, lrGenerator: 1e-2 } }),
    );
    const e = await getEngine();
    const { retriever, generator } = g.loaded;
    expect(generator!.model.linears().some((l) => l.lora)).toBe(true);
    expect(retriever!.linears().some((l) => l.lora)).toBe(true);

    const rw = await g.exportWeights({ role: 'retriever' });
    expect(rw.fileName).toBe('model.safetensors');
    const r2 = await loadRetriever(e, await fixtureFiles('tiny-colbert', { 'model.safetensors': rw.bytes }));
    const query = 'is asthma a lung disease?';
    const docs = DATA.passages.map(docText);
    const before = await g.retrieve({ query, docs });
    const s2 = e.scope(() => e.noGrad(() => r2.score(r2.encodeQueries([query]), r2.encodeDocs(docs))));
    const after = await s2.read();
    s2.dispose();
    let dr = 0;
    before.scores.forEach((s, i) => (dr = Math.max(dr, Math.abs(s - after[i]!))));
    console.log(`retriever round trip: max abs score diff ${dr.toExponential(2)}`);
    expect(dr).toBeLessThan(1e-4);
    // The export is not just the fixture: training moved the scores.
    const r0 = await loadRetriever(e, await fixtureFiles('tiny-colbert'));
    const s0 = e.scope(() => e.noGrad(() => r0.score(r0.encodeQueries([query]), r0.encodeDocs(docs))));
    const untrained = await s0.read();
    s0.dispose();
    expect(Math.max(...before.scores.map((s, i) => Math.abs(s - untrained[i]!)))).toBeGreaterThan(1e-3);

    const gw = await g.exportWeights({ role: 'generator' });
    const g2 = await loadGenerator(e, await fixtureFiles('tiny-llama', { 'model.safetensors': gw.bytes }));
    const ids = Int32Array.from(generator!.encodePrompt('context: insulin lowers blood sugar question: what lowers it? answer:'));
    const logitsOf = async (m: typeof generator): Promise<Float32Array> => {
      const t = e.scope(() =>
        e.noGrad(() => m!.model.logits(m!.model.forward(ids, 1, ids.length).reshape([ids.length, m!.model.config.hiddenSize]))),
      );
      const out = await t.read();
      t.dispose();
      return out;
    };
    const [la, lb] = [await logitsOf(generator), await logitsOf(g2)];
    let dg = 0;
    la.forEach((v, i) => (dg = Math.max(dg, Math.abs(v - lb[i]!))));
    console.log(`generator round trip: max abs logit diff ${dg.toExponential(2)} over ${la.length} logits`);
    expect(dg).toBeLessThan(1e-4);
    r0.dispose();
    r2.dispose();
    g2.model.dispose();
  });

  it('exportBundle: the folders as loaded with the current weights, checked like the twin checks them', async () => {
    const g = await engineWith({ index: false });
    const messages: string[] = [];
    const b = await timed('exportBundle', () =>
      g.exportBundle({ config: CONFIG, source: 'tiny-qa' }, { onProgress: (p) => messages.push(p.message) }),
    );
    expect(b.manifest.models).toEqual({ retriever: { dir: 'retriever' }, generator: { dir: 'generator' } });
    expect(b.manifest.data).toEqual({ passages: DATA.passages.length, questions: DATA.questions.length, source: 'tiny-qa' });
    for (const role of ['retriever', 'generator'] as const) {
      for (const f of FILES.filter((x) => x !== 'model.safetensors'))
        expect(b.files[`${role}/${f}`], `${role}/${f}`).toEqual(await fixtureBytes(FIXTURE[role], f));
      expect(b.files[`${role}/model.safetensors`]).toEqual((await g.exportWeights({ role })).bytes);
    }
    await verifyBundleFiles(b.manifest, async (p) => b.files[p] ?? null);
    expect(messages[0]).toBe('tokenizing the dataset for the bundle');
    await expect(g.exportBundle({ config: { ...CONFIG, batchSize: 64 }, source: 'tiny-qa' })).rejects.toThrow(
      /training questions cannot fill a batch of 64/,
    );
  });
});

describe('the worker with a dense retriever (a decoder folder in the retriever slot)', () => {
  it('loads it as BMRetriever-style, indexes one vector per passage, searches, trains, and says plainly it has no token matches', async () => {
    const entries = await Promise.all(
      FILES.map(async (path) => ({
        path,
        file: new Blob([(await fixtureBytes('tiny-gptneox', path)) as Uint8Array<ArrayBuffer>]),
      })),
    );
    const g = new GpuEngine(await getEngine());
    const summary = await g.loadModel({ role: 'retriever', source: { kind: 'folder', entries, label: 'tiny-gptneox' } });
    expect(summary.architecture).toBe('gpt_neox dense (last pooling)');
    await g.loadModel({ role: 'generator', source: await folder('generator') });
    const files = { questions: new Blob([questionsJsonl]), corpus: new Blob([corpusJsonl]) };
    await g.loadDataset({ source: { kind: 'files', format: 'jsonl', files } });
    const index = await g.buildIndex({});
    expect(index.tokens).toBe(DATA.passages.length); // one vector per passage
    const hits = await g.search({ query: DATA.questions[0]!.question, k: 3 });
    expect(hits).toHaveLength(3);
    await expect(g.maxsim({ query: 'fever', docId: DATA.passages[0]!.id })).rejects.toThrow(
      /a dense retriever scores one pooled vector per text \(q \. d\), so there are no per-token matches/,
    );
    const res = await g.train({
      config: { ...CONFIG, steps: 1, retrieverTraining: 'lora', retrieverSide: 'both' },
      runId: 'dense-run',
    });
    expect(res.stopped).toBeNull();
    const { retriever } = g.loaded;
    expect(retriever!.linears().some((l) => l.lora)).toBe(true);
    await expect(
      g.train({ config: { ...CONFIG, steps: 1, retrieverTraining: 'projection' }, runId: 'dense-proj' }),
    ).rejects.toThrow(/no projection head/);
  });
});
