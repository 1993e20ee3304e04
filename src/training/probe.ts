// The probe set: a few training questions, chosen once per run by its seed, scored every
// probeEvery steps without an update, so a question can be followed through a run that trains on
// it only now and then (the inspector's bump chart: each candidate's retriever rank against its
// utility rank, step by step). A probe is the step's own scoring, from the Trainer's pieces: top-K
// retrieval from the run's index, the retriever's scores (Trainer.scoreCandidates, no gradient, no
// dropout), the generator's answer NLL given each candidate alone (the step's prompts), the gold
// passage's rank in the whole index and the NLL with no document (Trainer.baselineJob), those two
// in one nllMany call (Trainer.scoreAll), and the step's record of them (Trainer.makeRecord). It
// differs from a step in three ways, each so that the numbers follow the models rather than the
// step's randomness: nothing is drawn (every one of the K candidates is judged, so each has a
// utility rank), dropout is off, and the candidates are the plain top K for every loss (InfoNCE's
// step puts the gold passage first).
// It reads the models and writes nothing: no gradient, no optimizer, no random stream of the run's
// (the choice has its own seed salt), so a run's step records are the same with probes or without.
// B = probe questions scored together (the run's batch size at most), K = candidates.

import type { Question } from '../data/datasets';
import { ForwardContext } from '../models/lora';
import { searchIndex } from '../retrieval/index';
import { mulberry32 } from '../tensor';
import { ConfigError, phaseAt, type TrainConfig } from './config';
import { PHASES, type Phase, type QuestionRecord } from './records';
import { samplingProbs } from './sampler';
import { stepSeed, type Trainer } from './step';

/** The salt of the probe set's choice in the run's seed stream (step.ts uses 1-3 and 7, run.ts 11). */
const CHOICE_SALT = 13;

/**
 * The probe set of a run: `c.probeQuestions` of the training questions, a seeded choice (the same
 * for a seed and a training set, whatever the steps or batch size; a smaller probe set is a subset
 * of a larger one), in the training set's order. Training questions, not validation ones: the probe
 * follows what the retriever loss pushes on the questions it trains on (the evaluations measure the
 * held-out transfer), and the Trainer holds only training questions.
 */
export function probeSet(train: readonly Question[], c: Pick<TrainConfig, 'seed' | 'probeQuestions'>): Question[] {
  const n = c.probeQuestions;
  if (n === 0) return [];
  if (n > train.length)
    throw new ConfigError('probeQuestions', `${n} probe questions, but the run has ${train.length} training questions: lower it`);
  const rand = mulberry32(stepSeed(c.seed, 0, CHOICE_SALT));
  const order = train.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order
    .slice(0, n)
    .sort((a, b) => a - b)
    .map((i) => train[i]!);
}

/** Does the probe run before step t's update: every probeEvery steps from the first, and before the last step. */
export function probeDue(c: Pick<TrainConfig, 'probeQuestions' | 'probeEvery' | 'steps'>, t: number): boolean {
  return c.probeQuestions > 0 && (t % c.probeEvery === 0 || t === c.steps - 1);
}

/** Score questions as a step would, without an update: their records, every candidate judged, none drawn. */
export async function scoreProbe(trainer: Trainer, questions: readonly Question[]): Promise<QuestionRecord[]> {
  const c: TrainConfig = trainer.config,
    e = trainer.e;
  const { retriever } = trainer.parts;
  const out: QuestionRecord[] = [];
  // In batches of the run's size: the step scores that many questions' candidates at once.
  for (let at = 0; at < questions.length; at += c.batchSize) {
    const qs = questions.slice(at, at + c.batchSize);
    const search = await searchIndex(
      trainer.index,
      retriever,
      qs.map((q) => q.question),
      c.candidates,
      { targets: qs.map((q) => q.goldDocIds) },
    );
    const found = { ids: search.ids, scores: search.scores, gold: search.targets! };
    const records = await e.scopeAsync(async () => {
      const B = qs.length,
        K = found.ids[0]?.length ?? 0;
      const t = e.noGrad(() => trainer.scoreCandidates(qs, found.ids, new ForwardContext(false)));
      const all = await t.read(); // [B, B*K]
      const scores = qs.map((_, b) => Float64Array.from(all.subarray(b * B * K + b * K, b * B * K + (b + 1) * K)));
      const every = Array.from({ length: K }, (_, i) => i);
      const samples = scores.map((s) => ({ probs: samplingProbs(s, c.samplingTemperature), drawn: every }));
      // Every question's candidates alone, and the gold passage's rank in the whole index and the
      // answer NLL with no document as a step records them: one nllMany call for all of them.
      const examples = qs.flatMap((q, b) => found.ids[b]!.map((d) => trainer.prompts.example(q, [d])));
      const [utility, baseline] = await trainer.scoreAll([
        {
          examples,
          read: (r) =>
            qs.map((_, b) => {
              const [s0, s1] = [b * K, (b + 1) * K];
              return { nllMean: r.mean.slice(s0, s1), nllSum: r.sum.slice(s0, s1), perToken: r.perToken.slice(s0, s1) };
            }),
        },
        trainer.baselineJob(qs, found, samples),
      ]);
      const ms = Object.fromEntries(PHASES.map((p) => [p, 0])) as Record<Phase, number>;
      const t0 = trainer.stepIndex;
      return trainer.makeRecord(t0, phaseAt(c, t0), qs, found.ids, scores, null, samples, utility, null, null, ms, {
        gold: found.gold,
        baseline,
      }).questions;
    });
    // Judged, not drawn: `sampled` stays what a step's draw means.
    out.push(...records.map((q) => ({ ...q, candidates: q.candidates.map((x) => ({ ...x, sampled: false })) })));
  }
  return out;
}

/** A run's probe: its set, chosen once, scored before the steps it is due at. */
export class Probe {
  readonly questions: Question[];
  constructor(private readonly trainer: Trainer) {
    this.questions = probeSet(trainer.parts.train, trainer.config);
  }
  /** The probe set's records before step t's update, or null when the probe is not due then. */
  async before(t: number): Promise<QuestionRecord[] | null> {
    return probeDue(this.trainer.config, t) ? scoreProbe(this.trainer, this.questions) : null;
  }
}
