// The probe set (src/training/probe.ts) on the tiny fixtures: a probe scores its questions as a
// step would (the index's top K, every candidate judged) and changes no weight; a run with probes
// records them at the due steps and its step records are those of the same run without probes.

import { afterAll, describe, expect, it } from 'vitest';
import { parseJsonlQA } from '../../src/data/datasets';
import { loadGenerator, loadRetriever } from '../../src/models/load';
import { buildIndex, searchIndex } from '../../src/retrieval/index';
import { resolveConfig, type TrainConfig } from '../../src/training/config';
import { probeSet, scoreProbe } from '../../src/training/probe';
import { runTraining } from '../../src/training/run';
import { Trainer, type StepRecord } from '../../src/training/step';
import corpusJsonl from '../fixtures/tiny-qa/corpus.jsonl?raw';
import questionsJsonl from '../fixtures/tiny-qa/questions.jsonl?raw';
import { fixtureFiles } from './fixtures';
import { destroyEngine, getEngine } from './helpers';

afterAll(destroyEngine);

const { passages: PASSAGES, questions: QUESTIONS } = parseJsonlQA({ questions: questionsJsonl, corpus: corpusJsonl });
const TRAIN = QUESTIONS.filter((q) => q.split === 'train');

const BASE: Partial<TrainConfig> = {
  name: 'probe',
  seed: 3,
  steps: 3,
  batchSize: 2,
  candidates: 4,
  sampled: 3,
  topM: 2,
  docMaxTokens: 12,
  retrieverSide: 'both',
  refreshIndexEvery: 0,
  checkpointEvery: 0,
  lrRetriever: 1e-3,
  lrGenerator: 1e-3,
  generatorLora: { r: 2, alpha: 4, dropout: 0.1, targetModules: ['q_proj', 'v_proj'] },
  s2attn: { ratio: 0.25, shift: 'roll' },
  evalAtStart: false,
  evalLimit: 1,
  evalAlignmentCandidates: 3,
};

async function parts() {
  const e = await getEngine();
  const retriever = await loadRetriever(e, await fixtureFiles('tiny-colbert'));
  const generator = await loadGenerator(e, await fixtureFiles('tiny-llama'));
  const index = await buildIndex(retriever, PASSAGES);
  return { e, retriever, generator, passages: PASSAGES, questions: QUESTIONS, index };
}

/** A record without what depends on the clock and the buffer pool. */
const stable = (r: StepRecord) => {
  const { ms: _ms, gpuBytes: _b, probes: _p, ...rest } = r;
  return rest;
};

describe('the probe set', () => {
  it('scores its questions as a step would (top K from the index, every candidate judged) and changes no weight', async () => {
    const p = await parts();
    const config = resolveConfig({ ...BASE, probeQuestions: 2 });
    const trainer = new Trainer({ ...p, train: TRAIN }, config);
    const params = [...trainer.optR!.params, ...trainer.optG!.params];
    const before = await Promise.all(params.map((x) => x.read()));
    const qs = probeSet(TRAIN, config);
    expect(qs).toHaveLength(2);

    const recs = await scoreProbe(trainer, qs);
    const after = await Promise.all(params.map((x) => x.read()));
    let changed = 0;
    before.forEach((b, i) => b.forEach((v, j) => (changed += v === after[i]![j] ? 0 : 1)));
    console.log(
      `probe: ${params.length} trainable tensors, ${before.reduce((a, b) => a + b.length, 0)} values, ${changed} changed`,
    );
    expect(changed).toBe(0);
    expect(trainer.stepIndex).toBe(0);

    // The same candidates as the index's top K; the untrained retriever's re-encoded documents are
    // the index's vectors, so its scores (no dropout) are the index's up to float rounding.
    const found = await searchIndex(
      trainer.index,
      p.retriever,
      qs.map((q) => q.question),
      config.candidates,
      { targets: qs.map((q) => q.goldDocIds) },
    );
    recs.forEach((r, b) => {
      expect(r.id).toBe(qs[b]!.id);
      expect(r.candidates.map((c) => c.docId)).toEqual(found.ids[b]);
      r.candidates.forEach((c, i) => expect(Math.abs(c.score - found.scores[b]![i]!)).toBeLessThan(1e-3));
      expect(r.candidates.every((c) => c.utility !== null && c.utility > 0 && !c.sampled)).toBe(true);
      expect(r.candidates.map((c) => c.gold)).toEqual(r.candidates.map((c) => qs[b]!.goldDocIds.includes(c.docId)));
      expect(r.spearman).not.toBeNull();
      // Where the gold passage ranked in the whole index, and the NLL with no document, as a step records them.
      expect(r.goldRank?.rank).toBe(found.targets![b]!.rank);
      expect(r.goldRank?.of).toBe(PASSAGES.length);
      expect(r.nllNoDoc).toBeGreaterThan(0);
    });
    // Scoring again gives the same numbers: nothing of the first probe stayed behind.
    const again = await scoreProbe(trainer, qs);
    expect(again).toEqual(recs);
    trainer.dispose();
  });

  it('a run records the probe at the due steps, and its steps are those of the run without probes', async () => {
    const plain = await runTraining(await parts(), resolveConfig(BASE));
    const config = resolveConfig({ ...BASE, probeQuestions: 2, probeEvery: 2 });
    const probed = await runTraining(await parts(), config);
    expect(plain.records.every((r) => r.probes === undefined)).toBe(true);
    // Due before steps 0 and 2 (every 2, and the last).
    expect(probed.records.map((r) => r.probes?.length ?? 0)).toEqual([2, 0, 2]);
    expect(probed.records.map(stable)).toEqual(plain.records.map(stable));
    const ids = probeSet(TRAIN, config).map((q) => q.id);
    for (const r of [probed.records[0]!, probed.records[2]!]) expect(r.probes!.map((q) => q.id)).toEqual(ids);
    // The models moved between the probes: the scores at step 2 are not those at step 0.
    const s0 = probed.records[0]!.probes!.flatMap((q) => q.candidates.map((c) => c.score));
    const s2 = probed.records[2]!.probes!.flatMap((q) => q.candidates.map((c) => c.score));
    expect(s2).not.toEqual(s0);
    expect(probed.evals.at(-1)!.result).toEqual({ ...plain.evals.at(-1)!.result, ms: probed.evals.at(-1)!.result.ms });
  });

  it('refuses a probe set larger than the training questions before any step, naming the field', async () => {
    const config = resolveConfig({ ...BASE, probeQuestions: TRAIN.length + 1 });
    await expect(runTraining(await parts(), config)).rejects.toMatchObject({ field: 'probeQuestions' });
  });
});
