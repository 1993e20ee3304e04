// A training run: evaluate, then step after step with checkpoints, evaluating on schedule and at
// the end. The same function runs in the app's worker and in the headless runner. A NaN or
// infinite loss stops the run with NonFiniteLossError's message and the last good checkpoint kept;
// resuming from a checkpoint gives the same records as an uninterrupted run (tested).

import type { Passage, Question, QuestionSplit } from '../data/datasets';
import type { Retriever } from '../models/retriever';
import type { Generator } from '../models/generator';
import type { ColbertIndex } from '../retrieval/index';
import { mulberry32, type Tensor } from '../tensor';
import type { TrainConfig } from './config';
import { remainingMs, type RunCosts } from './eta';
import { evaluate, EvaluationCancelledError } from './evaluate';
import { Probe } from './probe';
import type { EvalEntry, RunCheckpoint } from './records';
import { NonFiniteLossError, PHASES, stepSeed, Trainer, type Phase, type StepRecord } from './step';

// The checkpoint's and the evaluation entry's shapes are declared once, as schemas, in records.ts.
export type { EvalEntry, RunCheckpoint } from './records';

export interface RunResult {
  config: TrainConfig;
  records: StepRecord[];
  evals: EvalEntry[];
  /** Set when the run stopped early (NaN loss, abort): what happened; the checkpoint is the last good one. */
  stopped: { step: number; message: string } | null;
  /** Set when every step ran but a stop came before an evaluation still to come: which one was skipped. */
  skipped: string | null;
  /** Mean milliseconds per step of each phase. */
  phaseMs: Record<Phase, number>;
  /** What one evaluation question cost in this run (ms; null: it evaluated nothing), for the next run's ETA. */
  evalQuestionMs: number | null;
  wallMs: number;
  /**
   * The index at the end of the run, owned by the caller. runTraining owns the index it was given:
   * a run that re-encodes documents replaces (and frees) it on schedule.
   */
  index: ColbertIndex;
}

/** What a run is doing between steps: each shows as a phase of its progress line. */
export type RunPhase =
  { kind: 'evaluate'; split: QuestionSplit; done: number; total: number; step: number } | { kind: 'checkpoint'; step: number };

export interface RunHooks {
  /** A step's record, with the run's milliseconds left (eta.ts: every phase still to come; null before any measure). */
  onStep?: (r: StepRecord, etaMs: number | null) => void;
  onEval?: (e: EvalEntry) => void;
  /** An evaluation's progress (questions done) or a checkpoint being taken, with the milliseconds left. */
  onPhase?: (p: RunPhase, etaMs: number | null) => void;
  /** What one evaluation question cost before this run (ms), for the ETA until this run has measured its own. */
  evalQuestionMs?: number | null;
  saveCheckpoint?: (c: RunCheckpoint) => Promise<void>;
  /**
   * Called once the run is configured and before anything changes a weight, with the tensors it
   * will train: the last moment to keep their values (models/baseline.ts). A run refused before
   * it (a bad batch size, a context too long) never calls it: the models are as they were.
   */
  onStart?: (trainables: Tensor[]) => Promise<void>;
  /**
   * Stop: the step in flight finishes (or the evaluation in flight is dropped), then the run ends
   * with its checkpoint (when one can be resumed from). After the last step nothing is stopped:
   * the run is done, and only an evaluation still to come is skipped.
   */
  signal?: AbortSignal;
  /** Stop after this many steps (a test's simulated interruption); the run stays resumable. */
  stopAfter?: number;
}

export interface RunParts {
  retriever: Retriever;
  generator: Generator;
  passages: Passage[];
  questions: Question[];
  /** An index built with the retriever's initial weights. */
  index: ColbertIndex;
}

/**
 * The split of each question: the file's own where it has one, else a seeded 70/15/15 split
 * (stable for a dataset and seed: a question keeps its split when others are added).
 */
export function splitOf(q: Question, seed = 0): QuestionSplit {
  if (q.split) return q.split;
  let h = stepSeed(seed, 0, 11);
  for (let i = 0; i < q.id.length; i++) h = Math.imul(h ^ q.id.charCodeAt(i), 0x01000193) >>> 0;
  const u = mulberry32(h)();
  return u < 0.7 ? 'train' : u < 0.85 ? 'validation' : 'test';
}

export async function runTraining(
  parts: RunParts,
  config: TrainConfig,
  hooks: RunHooks = {},
  resume: RunCheckpoint | null = null,
): Promise<RunResult> {
  const t0 = performance.now();
  const train = parts.questions.filter((q) => splitOf(q, config.seed) === 'train');
  const heldOut = (split: QuestionSplit): Question[] => {
    const qs = parts.questions.filter((q) => splitOf(q, config.seed) === split);
    return config.evalLimit > 0 ? qs.slice(0, config.evalLimit) : qs;
  };
  const evalSets: [QuestionSplit, Question[]][] = [[config.evalSplit, heldOut(config.evalSplit)]];
  if (config.reportTest && config.evalSplit !== 'test') evalSets.push(['test', heldOut('test')]);
  const trainer = new Trainer({ ...parts, train }, config);
  const records: StepRecord[] = [];
  const evals: EvalEntry[] = [];
  let stopped: RunResult['stopped'] = null;
  let skipped: string | null = null;
  // What each phase has cost so far, for the ETA of everything still to come.
  const costs: RunCosts = { step: null, evalQuestion: hooks.evalQuestionMs ?? null, checkpoint: null };
  const evalSizes = Object.fromEntries(evalSets.map(([split, qs]) => [split, qs.length]));
  const eta = (inEval = 0): number | null => remainingMs(config, trainer.stepIndex, costs, evalSizes, inEval);
  const mean = (old: number | null, n: number, x: number): number => (old === null || n <= 1 ? x : old + (x - old) / n);
  let stepsTimed = 0,
    evalsTimed = 0,
    savesTimed = 0;
  // The step of the last checkpoint handed to saveCheckpoint (a resumed run starts at its checkpoint's).
  let savedAt = resume ? resume.step : -1;
  const save = async (): Promise<void> => {
    if (!hooks.saveCheckpoint || savedAt === trainer.stepIndex) return;
    savedAt = trainer.stepIndex;
    hooks.onPhase?.({ kind: 'checkpoint', step: trainer.stepIndex }, eta());
    const t1 = performance.now();
    await hooks.saveCheckpoint(await snapshot(trainer, records, evals));
    costs.checkpoint = mean(costs.checkpoint, ++savesTimed, performance.now() - t1);
  };
  const userStop = (): RunResult['stopped'] => ({
    step: trainer.stepIndex,
    message: `stopped by the user after step ${trainer.stepIndex} of ${config.steps}; resume from the last checkpoint`,
  });
  /** The evaluations due now; false when a stop dropped one (nothing of it is kept). */
  const runEval = async (final = false): Promise<boolean> => {
    for (const [split, qs] of evalSets) {
      if (qs.length === 0 || (split === 'test' && split !== config.evalSplit && !final && trainer.stepIndex > 0)) continue;
      const step = trainer.stepIndex;
      let result;
      const t1 = performance.now();
      hooks.onPhase?.({ kind: 'evaluate', split, done: 0, total: qs.length, step }, eta(qs.length));
      try {
        result = await evaluate(parts.retriever, trainer.index, trainer.prompts, qs, {
          topM: config.topM,
          alignmentCandidates: config.evalAlignmentCandidates,
          signal: hooks.signal,
          onProgress: (done, total) => hooks.onPhase?.({ kind: 'evaluate', split, done, total, step }, eta(total - done)),
        });
      } catch (err) {
        if (err instanceof EvaluationCancelledError) return false;
        throw err;
      }
      costs.evalQuestion = mean(costs.evalQuestion, ++evalsTimed, (performance.now() - t1) / qs.length);
      const entry = { step, split, result };
      evals.push(entry);
      hooks.onEval?.(entry);
    }
    return true;
  };
  try {
    const probe = new Probe(trainer);
    await hooks.onStart?.(trainables(trainer));
    if (resume) {
      await restore(trainer, resume);
      records.push(...resume.records);
      evals.push(...resume.evals);
    }
    if (!resume && config.evalAtStart && !(await runEval())) stopped = userStop();
    while (!stopped && trainer.stepIndex < config.steps) {
      if (hooks.signal?.aborted) {
        stopped = userStop();
        break;
      }
      if (hooks.stopAfter !== undefined && trainer.stepIndex >= hooks.stopAfter) {
        stopped = { step: trainer.stepIndex, message: `stopped after ${hooks.stopAfter} steps as asked` };
        break;
      }
      const probes = await probe.before(trainer.stepIndex);
      let rec: StepRecord;
      try {
        rec = await trainer.step();
      } catch (err) {
        if (err instanceof NonFiniteLossError) {
          stopped = { step: trainer.stepIndex, message: err.message };
          break;
        }
        throw err;
      }
      if (probes) rec.probes = probes;
      records.push(rec);
      costs.step = mean(
        costs.step,
        ++stepsTimed,
        PHASES.reduce((a, p) => a + rec.ms[p], 0),
      );
      hooks.onStep?.(rec, eta());
      const t = trainer.stepIndex;
      const last = t === config.steps;
      if (hooks.signal?.aborted) {
        // The step in flight finished; nothing more runs. After the last step the run is done.
        if (last) skipped = 'the final evaluation (stopped after the last step)';
        else stopped = userStop();
        break;
      }
      if (config.evalEvery > 0 && t % config.evalEvery === 0 && !last && !(await runEval())) {
        stopped = userStop();
        break;
      }
      if (last && !(await runEval(true))) skipped = 'the final evaluation (stopped during it)';
      if ((config.checkpointEvery > 0 && t % config.checkpointEvery === 0) || last) await save();
    }
    // A run that stopped early (the user, stopAfter, a non-finite loss: that step never updated)
    // keeps its state at the stop, so it can resume from there rather than from the last multiple
    // of checkpointEvery; unless the index was rebuilt since the last multiple of
    // refreshIndexEvery: a resumed run searches the index built from the weights it loads, so it
    // resumes exactly only from a refresh step (checkpointEvery is a multiple of it).
    if ((stopped || skipped) && trainer.stepIndex > 0 && resumableAt(config, trainer.stepIndex)) await save();
  } finally {
    trainer.dispose();
  }
  const phaseMs = Object.fromEntries(
    PHASES.map((p) => [p, records.length ? records.reduce((a, r) => a + r.ms[p], 0) / records.length : 0]),
  ) as Record<Phase, number>;
  return {
    config,
    records,
    evals,
    stopped,
    skipped,
    phaseMs,
    evalQuestionMs: evalsTimed > 0 ? costs.evalQuestion : null,
    wallMs: performance.now() - t0,
    index: trainer.index,
  };
}

function trainables(trainer: Trainer) {
  return [...(trainer.optR?.params ?? []), ...(trainer.optG?.params ?? [])];
}

async function snapshot(trainer: Trainer, records: StepRecord[], evals: EvalEntry[]): Promise<RunCheckpoint> {
  const params = await Promise.all(trainables(trainer).map((p) => p.read()));
  return {
    step: trainer.stepIndex,
    config: trainer.config,
    params,
    optimizers: {
      retriever: trainer.optR ? await trainer.optR.saveState() : null,
      generator: trainer.optG ? await trainer.optG.saveState() : null,
    },
    records: [...records],
    evals: [...evals],
  };
}

/** Fields that may differ between a checkpoint's config and the run resuming it (no effect on any state or draw). */
const RESUMABLE_CHANGES: readonly (keyof TrainConfig)[] = ['steps', 'recordScoresAfter'];

/** Can a run resume exactly from a checkpoint made after `step` steps (is the index it searched then rebuilt on resume)? */
export function resumableAt(c: TrainConfig, step: number): boolean {
  const refreshes = c.retrieverSide === 'both' && c.refreshIndexEvery > 0 && c.schedule !== 'frozen-retriever';
  return !refreshes || step < c.refreshIndexEvery || step % c.refreshIndexEvery === 0;
}

/** The config fields in which a checkpoint's run and `config` differ, beyond those a resume may change. */
export function checkpointConfigDiff(c: RunCheckpoint, config: TrainConfig): (keyof TrainConfig)[] {
  const keys = new Set([...Object.keys(c.config), ...Object.keys(config)] as (keyof TrainConfig)[]);
  // Under a staged schedule the steps place the phase boundary: they may not change either.
  const free = config.schedule === 'staged' ? RESUMABLE_CHANGES.filter((k) => k !== 'steps') : RESUMABLE_CHANGES;
  return [...keys].filter((k) => !free.includes(k) && JSON.stringify(c.config[k]) !== JSON.stringify(config[k]));
}

async function restore(trainer: Trainer, c: RunCheckpoint): Promise<void> {
  const ps = trainables(trainer);
  const diff = checkpointConfigDiff(c, trainer.config);
  if (diff.length)
    throw new Error(
      `this checkpoint was made by a run with another configuration (${diff.join(', ')} differ; only steps and ` +
        'recordScoresAfter may change on resume); start a new run',
    );
  if (c.params.length !== ps.length) throw new Error(`checkpoint holds ${c.params.length} tensors, this run trains ${ps.length}`);
  ps.forEach((p, i) => {
    if (c.params[i]!.length !== p.size)
      throw new Error(`checkpoint tensor ${i} has ${c.params[i]!.length} values, ${p.name} needs ${p.size}`);
    trainer.e.gpu.write(p.buffer, c.params[i]!);
  });
  if (c.optimizers.retriever && trainer.optR) trainer.optR.loadState(c.optimizers.retriever);
  if (c.optimizers.generator && trainer.optG) trainer.optG.loadState(c.optimizers.generator);
  trainer.stepIndex = c.step;
  await trainer.e.gpu.sync();
}
