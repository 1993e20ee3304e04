// One joint training step of the retriever and the generator (JMLR and its peers), top to bottom:
//   refresh the index if due -> top-K candidates by MaxSim -> retriever forward (with gradient) ->
//   sample n documents -> their utility from the generator (no gradient) -> retriever loss and its
//   gradient on the CPU -> generator loss given the top-m documents -> zero grad, backward, update.
// Every step returns a StepRecord: both losses, every candidate (score, sampling probability,
// sampled, utility, gold), alignment, recall of gold among the candidates, time per phase, GPU bytes.
// B = questions per step, K = candidates, n = sampled documents, m = documents in the generator context.

import { aggregate, kendall, questionMetrics, spearman } from '../data/metrics';
import type { Passage, Question } from '../data/datasets';
import { MedRankError } from '../core/errors';
import type { EncodedDocs, Retriever, RetrieverKind } from '../models/retriever';
import type { AnswerExample, Generator } from '../models/generator';
import { ForwardContext } from '../models/lora';
import { buildIndex, docText, indexedDocs, searchIndex, type ColbertIndex, type IndexRank } from '../retrieval/index';
import { AdamW, add, mul, sumAll, type Engine, type Tensor } from '../tensor';
import { mulberry32 } from '../tensor';
import { phaseAt, type TrainConfig } from './config';
import { PHASES, type Phase, type QuestionRecord, type StepRecord } from './records';
import * as L from './losses';
import { pairablePassages, pretrainBatch } from './pretrain';
import { contextBudgetProblem, nllMany, optionsOf, PromptBuilder } from './prompts';
import { sampleDocuments, samplingProbs } from './sampler';

export class NonFiniteLossError extends MedRankError {
  constructor(
    readonly step: number,
    readonly which: string,
  ) {
    super(
      `step ${step}: the ${which} loss is not finite (NaN or infinite). The run stopped and kept its last good checkpoint; ` +
        'lower the learning rates or enable gradient clipping (maxGradNorm), then resume.',
    );
  }
}

// The record's shapes are declared once, as schemas, in records.ts; re-exported here for importers.
export { PHASES } from './records';
export type { CandidateRecord, Phase, QuestionRecord, StepRecord } from './records';

/** A stream of seeds: step t of a run with seed s always draws the same numbers (resume-safe). */
export const stepSeed = (seed: number, step: number, salt = 0): number =>
  (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(step + 1, 0xc2b2ae35) + salt * 0x27d4eb2f) >>> 0;

/** Each question's scores of its own K candidates: the diagonal blocks of a [B, B*K] score grid. */
const ownBlocks = (grid: Float32Array, B: number, K: number): Float64Array[] =>
  Array.from({ length: B }, (_, b) => Float64Array.from(grid.subarray(b * B * K + b * K, b * B * K + (b + 1) * K)));

const mean = (xs: number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

export interface TrainerParts {
  retriever: Retriever;
  generator: Generator;
  passages: Passage[];
  /** The training questions (the run never sees validation or test questions here). */
  train: Question[];
  /** An index of `passages` built with the retriever as it is now. */
  index: ColbertIndex;
}

/**
 * Why a run of config `c` cannot start on these training questions, corpus and generator positions
 * ('' when it can). Pretraining pairs (config.pretrainPairs) fill batches from the corpus instead.
 */
export function trainerProblem(
  c: TrainConfig,
  data: { trainQuestions: number; passages: readonly Passage[]; retrieverKind?: RetrieverKind },
  maxPositions: number,
): string {
  if (data.retrieverKind === 'dense' && c.schedule !== 'frozen-retriever' && c.retrieverTraining === 'projection')
    return "a dense retriever has no projection head to train alone: set retriever training to 'lora' or 'full'";
  if (c.pretrainPairs !== 'none') {
    const n = pairablePassages(data.passages, c.pretrainPairs).length;
    const what = c.pretrainPairs === 'title' ? 'have a title' : 'have two sentences or more';
    if (n < c.batchSize)
      return `only ${n} passages ${what} (pretraining pairs '${c.pretrainPairs}'): they cannot fill a batch of ${c.batchSize}`;
  } else if (data.trainQuestions < c.batchSize)
    return `${data.trainQuestions} training questions cannot fill a batch of ${c.batchSize}`;
  if (c.topM > c.candidates) return `topM (${c.topM}) cannot exceed candidates (${c.candidates})`;
  return contextBudgetProblem(c.topM, c.docMaxTokens, maxPositions) ?? '';
}

/**
 * What a run would ask to train of weights loaded as half-size frozen f16 (packed ones cannot
 * train: weights.ts): '' when nothing, else what to change. `packed` says which models hold them;
 * their norms, the retriever's projection and LoRA adapters are f32 either way.
 */
export function frozenWeightsProblem(c: TrainConfig, packed: { retriever: boolean; generator: boolean }): string {
  const reload = (role: string) => `or reload the ${role} without half-size frozen weights (f32)`;
  if (packed.retriever && c.schedule !== 'frozen-retriever' && c.retrieverTraining === 'full')
    return `the retriever was loaded with half-size frozen weights (f16), which cannot train in full: set retriever training to 'projection' or 'lora', ${reload('retriever')}`;
  if (packed.generator && c.schedule !== 'retriever-only' && c.generatorEmbeddings)
    return `the generator was loaded with half-size frozen weights (f16), so its embeddings cannot train: turn off generator embeddings, ${reload('generator')}`;
  return '';
}

export class Trainer {
  readonly e: Engine;
  readonly prompts: PromptBuilder;
  readonly passageById: Map<string, Passage>;
  readonly optR: AdamW | null;
  readonly optG: AdamW | null;
  /** Steps taken; the next step is this one. */
  stepIndex = 0;
  /** Called between backward and the update, with gradients in place (tests, the step explainer). */
  beforeUpdate: ((t: Trainer) => Promise<void>) | null = null;
  /**
   * Called at each sync point of a step, after the GPU drained: a phase's name as it ends, or
   * 'scoresAfter' after the untimed scoring that follows the update. For profiles (bench/step.ts).
   */
  onLap: ((what: Phase | 'scoresAfter') => void) | null = null;
  index: ColbertIndex;
  /** Passages that make pretraining pairs (made on first use). */
  private pretrainPool: Passage[] | null = null;

  constructor(
    readonly parts: TrainerParts,
    readonly config: TrainConfig,
  ) {
    const c = config;
    const { retriever: r, generator: g } = parts;
    this.e = g.model.engine;
    this.index = parts.index;
    this.passageById = new Map(parts.passages.map((p) => [p.id, p]));
    this.prompts = new PromptBuilder(g, this.passageById, c.docMaxTokens);
    const problem = trainerProblem(
      c,
      { trainQuestions: parts.train.length, passages: parts.passages },
      g.model.config.maxPositions,
    );
    if (problem) throw new MedRankError(problem);
    const trainsR = c.schedule !== 'frozen-retriever';
    const trainsG = c.schedule !== 'retriever-only';
    // Retriever LoRA takes the generator's rank and alpha, on the retriever's own query/value projections.
    const pr = trainsR
      ? r.configureTraining(
          c.retrieverTraining,
          c.retrieverTraining === 'lora' ? { ...c.generatorLora, targetModules: [...r.loraTargets] } : undefined,
          c.seed,
        )
      : (r.freeze(), []);
    const pg = trainsG
      ? g.configureTraining({ lora: c.generatorLora, embeddings: c.generatorEmbeddings, norms: c.generatorNorms, seed: c.seed })
      : g.model.weights.setTrainable(() => false);
    const opts = { weightDecay: c.weightDecay, maxGradNorm: c.maxGradNorm };
    this.optR = trainsR && pr.length ? new AdamW(this.e, [{ params: pr, lr: c.lrRetriever }], opts) : null;
    this.optG = trainsG ? new AdamW(this.e, [{ params: pg, lr: c.lrGenerator }], opts) : null;
  }

  /**
   * The questions of step t and what their positives are encoded as: pseudo-queries from the
   * corpus under pretrainPairs (pretrain.ts), else batchAt's questions (positives: the passages).
   */
  stepBatch(t: number): { qs: Question[]; positives: Map<string, string> | null } {
    const c = this.config;
    if (c.pretrainPairs === 'none') return { qs: this.batchAt(t), positives: null };
    this.pretrainPool ??= pairablePassages(this.parts.passages, c.pretrainPairs);
    const b = pretrainBatch(this.pretrainPool, c.pretrainPairs, c.seed, t, c.batchSize);
    return { qs: b.questions, positives: b.positives };
  }

  /** The questions of step t: a seeded permutation of the training set per epoch. */
  batchAt(t: number): Question[] {
    const { train } = this.parts,
      B = this.config.batchSize;
    const perEpoch = Math.floor(train.length / B);
    const epoch = Math.floor(t / perEpoch),
      at = (t % perEpoch) * B;
    const rand = mulberry32(stepSeed(this.config.seed, epoch, 7));
    const order = train.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order.slice(at, at + B).map((i) => train[i]!);
  }

  /** Rebuild the index with the retriever as it is now (document vectors moved). */
  async rebuildIndex(): Promise<void> {
    const fresh = await buildIndex(this.parts.retriever, this.parts.passages, { batchSize: 32 });
    this.index.dispose();
    this.index = fresh;
  }

  async step(): Promise<StepRecord> {
    const c = this.config,
      e = this.e,
      t = this.stepIndex;
    const { generator: g } = this.parts;
    const trains = phaseAt(c, t);
    const ms = Object.fromEntries(PHASES.map((p) => [p, 0])) as Record<Phase, number>;
    let clock = performance.now();
    const lap = async (p: Phase): Promise<void> => {
      await e.gpu.sync();
      const now = performance.now();
      ms[p] += now - clock;
      clock = now;
      this.onLap?.(p);
    };
    const rand = mulberry32(stepSeed(c.seed, t, 1));
    const batch = this.stepBatch(t);
    const qs = batch.qs;
    const positives = batch.positives;
    const B = qs.length,
      K = c.candidates;

    // 0. Index freshness: document vectors that train make the index stale; rebuild on schedule.
    if (trains.retriever && c.retrieverSide === 'both' && c.refreshIndexEvery > 0 && t > 0 && t % c.refreshIndexEvery === 0)
      await this.rebuildIndex();
    await lap('refresh');

    // 1. Top-K candidates per question by exact MaxSim over the index (InfoNCE: the gold passage
    // first, then the K-1 best other passages as hard negatives).
    const found = await this.candidates(qs);
    await lap('retrieve');

    const record = await e.scopeAsync(async () => {
      // 2. Retriever forward with gradient: each question against its own K candidates.
      let scoreTensor: Tensor | null = null;
      let scores: Float64Array[] = found.scores.map((s) => Float64Array.from(s));
      let grid: Float32Array | null = null; // [B, B*K]: every question against every candidate of the batch
      if (trains.retriever) {
        scoreTensor = this.scoreCandidates(qs, found.ids, new ForwardContext(c.dropout, stepSeed(c.seed, t, 2)), positives);
        grid = await scoreTensor.read();
        scores = ownBlocks(grid, B, K);
      }
      await lap('retrieverForward');

      // 3. Which documents the generator judges: n drawn from softmax(s'/temperature), or the top n.
      const samples = scores.map((s) =>
        c.sampling
          ? sampleDocuments(s, c.sampled, rand, c.samplingTemperature)
          : { probs: samplingProbs(s, c.samplingTemperature), drawn: topIndices(s, c.sampled) },
      );

      // 4. Utility: the generator's answer NLL given each judged document, without gradient. With it,
      // for the record (not the loss): the answer NLL with no document and given the gold passage
      // when it was not judged, by the generator as it judged the candidates. Every question's
      // examples of both are scored in one nllMany call (one forward where they fit its token
      // budget, instead of one per question and one more for the baselines), so the utility phase's
      // time includes the baselines'.
      const needsUtility = trains.retriever && c.retrieverLoss !== 'infonce' && c.retrieverLoss !== 'none';
      let utility: Utility[] | null = null,
        baseline: Baselines | null = null;
      if (needsUtility) {
        const drawn = samples.map((s) => s.drawn);
        [utility, baseline] = await this.scoreAll([this.utilityJob(qs, found.ids, drawn), this.baselineJob(qs, found, samples)]);
      }
      await lap('utility');

      // 5. Retriever loss and its gradient d loss / d scores, per question (averaged over the batch).
      let retrieverLoss: number | null = null;
      const gradRows: Float64Array[] = [];
      if (trains.retriever && scoreTensor) {
        let total = 0,
          weight = 0;
        for (let b = 0; b < B; b++) {
          const gold = qs[b]!.goldDocIds[0];
          const hasGold = gold !== undefined && found.ids[b]![0] === gold;
          // In-batch negatives: InfoNCE over the whole row of the grid (length B*K, the positive at
          // b*K); the gold passage met again among other questions' candidates is left out.
          const { loss, grad, w } =
            c.inBatchNegatives && grid
              ? this.inBatchLoss(grid.subarray(b * B * K, (b + 1) * B * K), b, K, found.ids, gold, hasGold)
              : this.retrieverLossOf(scores[b]!, samples[b]!.drawn, utility?.[b], hasGold);
          total += w * loss;
          weight += w;
          gradRows.push(grad.map((v) => v * w));
        }
        const norm = Math.max(weight, 1);
        retrieverLoss = total / norm;
        for (const g of gradRows) for (let i = 0; i < g.length; i++) g[i]! /= norm;
        if (!Number.isFinite(retrieverLoss)) throw new NonFiniteLossError(t, 'retriever');
      }
      await lap('retrieverLoss');

      // 6. Generator loss: answer NLL given the top-m documents (by retriever score), S2-Attn on.
      let lmLoss: Tensor | null = null;
      if (trains.generator) {
        const ctx = new ForwardContext(c.dropout, stepSeed(c.seed, t, 3));
        const attention = c.s2attn ? { ratio: c.s2attn.ratio, shift: c.s2attn.shift } : undefined;
        const examples = qs.flatMap((q, b) => {
          const top = topIndices(scores[b]!, c.topM).map((i) => found.ids[b]![i]!);
          return c.generatorContext === 'concat' ? [this.prompts.example(q, top)] : top.map((d) => this.prompts.example(q, [d]));
        });
        lmLoss = g.meanAnswerLoss(examples, { ctx, attention });
      }
      const generatorLoss = lmLoss ? (await lmLoss.read())[0]! : null;
      if (generatorLoss !== null && !Number.isFinite(generatorLoss)) throw new NonFiniteLossError(t, 'generator');
      await lap('generatorForward');

      // 7. Zero grad, backward through both models, update. The retriever's CPU gradient enters the
      // graph as sum(scores * G): its gradient with respect to the scores is exactly G.
      this.optR?.zeroGrad();
      this.optG?.zeroGrad();
      let objective: Tensor | null = lmLoss;
      if (scoreTensor) {
        const G = new Float32Array(B * B * K);
        gradRows.forEach((g, b) => G.set(g, b * B * K + (g.length === K ? b * K : 0))); // a row's own block, or the whole row
        const surrogate = sumAll(mul(scoreTensor, e.tensor(G, [B, B * K])));
        objective = objective ? add(objective, surrogate) : surrogate;
      }
      if (objective) e.backward(objective);
      await lap('backward');
      await this.beforeUpdate?.(this);
      if (trains.retriever) this.optR?.step();
      if (trains.generator) this.optG?.step();
      this.optR?.zeroGrad();
      this.optG?.zeroGrad();
      await lap('update');

      // Outside the timed phases (no lap after it): the same candidates scored by the updated
      // retriever without gradient, under the same dropout masks as step 2 (the same seeded
      // context), so score -> scoreAfter is the update alone, not dropout noise. It draws nothing
      // from the step's random stream.
      const after = trains.retriever && c.recordScoresAfter ? await this.scoresAfter(qs, found.ids, t, positives) : null;
      if (after) this.onLap?.('scoresAfter');

      return this.makeRecord(t, trains, qs, found.ids, scores, after, samples, utility, retrieverLoss, generatorLoss, ms, {
        gold: found.gold,
        baseline,
      });
    });
    this.stepIndex++;
    return record;
  }

  /**
   * Top-K candidates of each question. For InfoNCE (ColBERT's n-way cross-entropy, positive first,
   * BMRetriever's hard negatives with the positives removed) the question's first gold passage comes
   * first and the K-1 best-scoring other passages follow; a question without gold keeps its top K
   * and weighs 0 in the loss. Scores are the index's (no dropout). The same search says where each
   * question's best-ranked gold passage ranks among all the index's documents (null: none there).
   */
  private async candidates(qs: Question[]): Promise<Found> {
    const K = this.config.candidates;
    const texts = qs.map((q) => q.question);
    const targets = qs.map((q) => q.goldDocIds);
    if (this.config.retrieverLoss !== 'infonce') {
      const r = await searchIndex(this.index, this.parts.retriever, texts, K, { targets });
      return { ids: r.ids, scores: r.scores, gold: r.targets! };
    }
    const extra = Math.max(...qs.map((q) => Math.min(q.goldDocIds.length, 1)));
    const found = await searchIndex(this.index, this.parts.retriever, texts, K + extra, { targets });
    const ids: string[][] = [],
      scores: number[][] = [];
    qs.forEach((q, b) => {
      const gold = q.goldDocIds[0];
      const ri = found.ids[b]!,
        rs = found.scores[b]!;
      if (gold === undefined) {
        ids.push(ri.slice(0, K));
        scores.push(rs.slice(0, K));
        return;
      }
      const rest = ri.flatMap((d, i) => (d === gold ? [] : [i])).slice(0, K - 1);
      const at = ri.indexOf(gold);
      ids.push([gold, ...rest.map((i) => ri[i]!)]);
      scores.push([at >= 0 ? rs[at]! : 0, ...rest.map((i) => rs[i]!)]);
    });
    return { ids, scores, gold: found.targets! };
  }

  /**
   * Per question, the generator's mean answer NLL with no document, and given its best-ranked gold
   * passage alone when that was not among the judged documents (no gradient; not in the loss).
   * (Also the probe's, probe.ts.)
   */
  async baselines(qs: Question[], found: Found, samples: { drawn: number[] }[]): Promise<Baselines> {
    const [b] = await this.scoreAll([this.baselineJob(qs, found, samples)]);
    return b;
  }

  /** baselines() as examples to score and how to read their NLLs (scoreAll runs it with others). */
  baselineJob(qs: Question[], found: Found, samples: { drawn: number[] }[]): NllJob<Baselines> {
    const P = this.prompts;
    const goldAt = qs.map((_, b) => {
      const g = found.gold[b];
      return g ? samples[b]!.drawn.find((i) => found.ids[b]![i] === g.docId) : undefined;
    });
    const extra = qs.flatMap((q, b) => (found.gold[b] && goldAt[b] === undefined ? [b] : []));
    return {
      examples: [...qs.map((q) => P.example(q, [])), ...extra.map((b) => P.example(qs[b]!, [found.gold[b]!.docId]))],
      read: (r) => {
        const noDoc = r.mean.slice(0, qs.length);
        const gold: (number | null)[] = qs.map(() => null);
        extra.forEach((b, j) => (gold[b] = r.mean[qs.length + j]!));
        return { noDoc, gold };
      },
    };
  }

  /**
   * The jobs' examples scored together in one nllMany call (nllMany batches them by its token
   * budget), each job's NLLs handed back to its `read`. An answer's NLL does not depend on the
   * other examples of its batch (right padding, causal attention), so this gives each job what
   * scoring it alone would, to float rounding.
   */
  async scoreAll<T extends unknown[]>(jobs: { [K in keyof T]: NllJob<T[K]> }): Promise<T> {
    const all = jobs.flatMap((j) => j.examples);
    const r = await nllMany(this.parts.generator, all);
    let at = 0;
    return jobs.map((j) => {
      const n = j.examples.length,
        from = at;
      at += n;
      return j.read({
        sum: r.sum.slice(from, from + n),
        mean: r.mean.slice(from, from + n),
        perToken: r.perToken.slice(from, from + n),
      });
    }) as T;
  }

  /**
   * Scores [B, B*K] of each question against every candidate in the batch, differentiable with
   * respect to the query encoder (and the document encoder when retrieverSide is 'both'); only the
   * diagonal blocks (question b against its own K candidates) are used. `positives` (pretraining
   * pairs, stepBatch) replaces the text a passage is encoded as. (Also the probe's scoring, probe.ts.)
   */
  scoreCandidates(qs: Question[], ids: string[][], ctx: ForwardContext, positives: Map<string, string> | null = null): Tensor {
    const r = this.parts.retriever;
    const q = r.encodeQueries(
      qs.map((x) => x.question),
      ctx,
    );
    const flat = ids.flat();
    let docs: EncodedDocs;
    if (this.config.retrieverSide === 'both')
      docs = r.encodeDocs(
        flat.map((id) => positives?.get(id) ?? docText(this.passageById.get(id)!)),
        ctx,
      );
    // Document vectors from the index (fixed): each candidate's rows gathered.
    else docs = indexedDocs(this.index, flat);
    return r.score(q, docs);
  }

  /** Each question's scores of its own candidates by the retriever as it is now (step `step`'s dropout masks, no gradient). */
  private async scoresAfter(
    qs: Question[],
    ids: string[][],
    step: number,
    positives: Map<string, string> | null,
  ): Promise<Float64Array[]> {
    const e = this.e,
      B = qs.length,
      K = ids[0]?.length ?? 0;
    const ctx = new ForwardContext(this.config.dropout, stepSeed(this.config.seed, step, 2));
    const t = e.scope(() => e.noGrad(() => this.scoreCandidates(qs, ids, ctx, positives)));
    try {
      const all = await t.read(); // [B, B*K]
      return ownBlocks(all, B, K);
    } finally {
      t.dispose();
    }
  }

  /**
   * Per question, what the retriever loss needs from the generator, without gradient: the answer
   * NLL given each judged document alone, and for JOMED each option's NLL given each document, for
   * LOOP the NLL given all the judged documents but one. As a job for scoreAll: every question's
   * examples go into one call.
   */
  private utilityJob(qs: Question[], ids: string[][], drawn: number[][]): NllJob<Utility[]> {
    const c = this.config,
      P = this.prompts;
    const examples: AnswerExample[] = [];
    /** Append examples; the range they take in the call. */
    const add = (ex: AnswerExample[]): [number, number] => {
      const from = examples.length;
      examples.push(...ex);
      return [from, examples.length];
    };
    const plans = qs.map((q, b) => {
      const docs = drawn[b]!.map((i) => ids[b]![i]!);
      const single = add(docs.map((d) => P.example(q, [d])));
      let jomed: { at: [number, number]; options: number; gold: number } | null = null;
      if (c.retrieverLoss === 'jomed') {
        const o = optionsOf(q);
        if (!o) throw new MedRankError(`JOMED's loss needs answer options; question ${q.id} is open-ended`);
        const ex = docs.flatMap((d) => o.options.map((opt) => ({ prompt: P.prompt(q, [d]), answer: P.answer(opt) })));
        jomed = { at: add(ex), options: o.options.length, gold: o.gold };
      }
      const without =
        c.retrieverLoss === 'loop'
          ? add(
              docs.map((_, i) =>
                P.example(
                  q,
                  docs.filter((__, j) => j !== i),
                ),
              ),
            )
          : null;
      return { docs, single, jomed, without };
    });
    return {
      examples,
      read: (r) =>
        plans.map(({ docs, single: [s0, s1], jomed, without }) => {
          const u: Utility = { nllMean: r.mean.slice(s0, s1), nllSum: r.sum.slice(s0, s1), perToken: r.perToken.slice(s0, s1) };
          if (jomed) {
            const [j0] = jomed.at,
              L = jomed.options;
            u.labelLogits = docs.map((_, i) => Array.from(r.sum.subarray(j0 + i * L, j0 + (i + 1) * L), (v) => -v));
            u.gold = jomed.gold;
          }
          if (without) u.nllWithout = r.mean.slice(without[0], without[1]);
          return u;
        }),
    };
  }

  /** InfoNCE of question b against every candidate of the batch (row of the [B, B*K] grid): value, d/d row, weight. */
  private inBatchLoss(
    row: Float32Array,
    b: number,
    K: number,
    ids: string[][],
    gold: string | undefined,
    hasGold: boolean,
  ): { loss: number; grad: Float64Array; w: number } {
    const s = Float64Array.from(row);
    ids.flat().forEach((id, j) => {
      if (id === gold && j !== b * K) s[j] = -Infinity; // the positive again: not a negative
    });
    return { ...L.infoNceLoss(s, 1, s.length, [b * K], this.config.infoNceTau), w: hasGold ? 1 : 0 };
  }

  /** The configured retriever loss for one question: value, d/d scores over all K candidates, weight. */
  private retrieverLossOf(
    s: Float64Array,
    drawn: number[],
    u: Utility | undefined,
    hasGold = false,
  ): { loss: number; grad: Float64Array; w: number } {
    const c = this.config;
    const K = s.length;
    // InfoNCE: -log softmax(s / tau)[0] over the question's candidates, the gold passage first.
    if (c.retrieverLoss === 'infonce') return { ...L.infoNceLoss(s, 1, K, [0], c.infoNceTau), w: hasGold ? 1 : 0 };
    if (!u) throw new MedRankError('internal: the retriever loss needs utilities');
    // Losses over the judged documents only: scatter their gradient back to the K candidates.
    const sub = drawn.map((i) => s[i]!);
    const scatter = (r: L.LossGrad, w = 1) => {
      const grad = new Float64Array(K);
      drawn.forEach((i, a) => (grad[i] = r.grad[a]!));
      return { loss: r.loss, grad, w };
    };
    switch (c.retrieverLoss) {
      case 'llm-rank':
        return { ...L.llmRankLoss(s, drawn, u.nllMean, c.llmRankMargin), w: 1 };
      case 'listwise':
        return { ...L.listwiseLoss(s, drawn, u.nllMean, c.tauS, c.tauG), w: 1 };
      case 'jomed': {
        const { g, weight } = L.jomedGold(u.labelLogits!, u.gold!);
        return scatter(L.jomedLoss(sub, g, c.tauS, c.tauG, c.jomedPrior), c.jomedWeighting ? weight : 1);
      }
      case 'pdist':
        return scatter(L.pdistLoss(sub, u.nllMean, c.tauS));
      case 'loop':
        return scatter(L.loopLoss(sub, u.nllWithout!, c.tauS));
      case 'emdr2':
        return scatter(
          L.emdr2Loss(
            sub,
            u.perToken.map((p) => Array.from(p, (v) => -v)),
          ),
        );
      case 'replug':
        return scatter(
          L.replugLoss(
            sub,
            Array.from(u.nllSum, (v) => -v),
            c.tauS,
            c.tauG,
          ),
        );
      case 'rag-marginal':
        return scatter(
          L.ragMarginalLoss(
            sub,
            Array.from(u.nllSum, (v) => -v),
          ),
        );
      case 'none':
        throw new MedRankError(`internal: ${c.retrieverLoss} is not a joint-training loss`);
    }
  }

  /** A step's record from what the step computed (also the probe's questions, probe.ts). */
  makeRecord(
    t: number,
    trains: { retriever: boolean; generator: boolean },
    qs: Question[],
    ids: string[][],
    scores: Float64Array[],
    after: Float64Array[] | null,
    samples: { probs: Float64Array; drawn: number[] }[],
    utility: Utility[] | null,
    retrieverLoss: number | null,
    generatorLoss: number | null,
    ms: Record<Phase, number>,
    /** The gold passages' ranks in the search and the no-document baselines (without: not recorded). */
    extras: RecordExtras | null = null,
  ): StepRecord {
    const questions: QuestionRecord[] = qs.map((q, b) => {
      const drawn = samples[b]!.drawn;
      const util = new Map<number, number>();
      if (utility) drawn.forEach((i, a) => util.set(i, utility[b]!.nllMean[a]!));
      const gold = new Set(q.goldDocIds);
      const candidates = ids[b]!.map((docId, i) => ({
        docId,
        score: scores[b]![i]!,
        scoreAfter: after ? after[b]![i]! : null,
        prob: samples[b]!.probs[i]!,
        sampled: drawn.includes(i),
        utility: util.get(i) ?? null,
        gold: gold.has(docId),
      }));
      const judged = candidates.filter((x) => x.utility !== null);
      const ok = judged.length >= 2;
      const g = extras?.gold[b];
      const goldRank = g && {
        ...g,
        utility: candidates.find((x) => x.docId === g.docId)?.utility ?? extras?.baseline?.gold[b] ?? null,
      };
      return {
        id: q.id,
        candidates,
        spearman: ok
          ? spearman(
              judged.map((x) => x.score),
              judged.map((x) => -x.utility!),
            )
          : null,
        kendall: ok
          ? kendall(
              judged.map((x) => x.score),
              judged.map((x) => -x.utility!),
            )
          : null,
        ...(extras && { goldRank: goldRank ?? null, nllNoDoc: extras.baseline ? extras.baseline.noDoc[b]! : null }),
      };
    });
    // Candidates re-ranked by this step's scores; recall averaged over questions with gold.
    const ks = [1, 5, this.config.candidates];
    const perQ = qs.map((q, b) =>
      questionMetrics(
        topIndices(scores[b]!, scores[b]!.length).map((i) => ids[b]![i]!),
        q.goldDocIds,
        ks,
      ),
    );
    const { recall } = aggregate(
      perQ,
      qs.map((q) => q.goldDocIds),
      ks,
    );
    return {
      step: t,
      trains,
      loss: { retriever: retrieverLoss, generator: generatorLoss },
      questions,
      alignment: {
        spearman: mean(questions.flatMap((q) => (q.spearman === null ? [] : [q.spearman]))),
        kendall: mean(questions.flatMap((q) => (q.kendall === null ? [] : [q.kendall]))),
      },
      recall,
      ms,
      gpuBytes: this.e.gpu.pool.inUseBytes,
    };
  }

  dispose(): void {
    this.optR?.dispose();
    this.optG?.dispose();
  }
}

/** Each question's candidates as the search found them, and where its gold passage ranked in that search. */
interface Found {
  ids: string[][];
  scores: number[][];
  gold: (IndexRank | null)[];
}

/** What a step records besides what its loss used (makeRecord's last argument). */
interface RecordExtras {
  gold: (IndexRank | null)[];
  baseline: Baselines | null;
}
/** Per question, the answer NLL with no document, and given the gold passage when it was not judged (else null). */
interface Baselines {
  noDoc: Float64Array;
  gold: (number | null)[];
}

/** Examples to score without gradient and how to read their NLLs (in the examples' order) into a T. */
export interface NllJob<T> {
  examples: AnswerExample[];
  read(r: { sum: Float64Array; mean: Float64Array; perToken: Float32Array[] }): T;
}

interface Utility {
  nllMean: Float64Array;
  nllSum: Float64Array;
  perToken: Float32Array[];
  labelLogits?: number[][];
  gold?: number;
  nllWithout?: Float64Array;
}

/** Indices of the n largest values, best first (ties: lower index first). */
export function topIndices(s: ArrayLike<number>, n: number): number[] {
  return Array.from(s, (_, i) => i)
    .sort((a, b) => s[b]! - s[a]! || a - b)
    .slice(0, n);
}
