// What a training run writes, declared once as schemas (src/core/schema.ts): a step's record (its
// questions, their candidates), an evaluation and a checkpoint's data. The types the trainer,
// the evaluation and the run use are S.Infer of these (step.ts, evaluate.ts and run.ts re-export
// them); the notebook's store, its files and the results files of `npm run experiment --out` and
// the PyTorch twin are read through them (src/notebook/file.ts, src/notebook/schema.ts). A field
// added, removed or retyped here changes a saved shape: bump the notebook file's and the results
// file's versions with a migration (src/notebook/file.ts) and the store's (src/notebook/db.ts)
// where it holds the shape, and update test/unit/schemas.test.ts, which pins every field.

import { SPLITS } from '../data/datasets';
import * as S from '../core/schema';
import type { AdamW } from '../tensor';
import { ConfigError, MAX_STEPS, resolveConfig, TRAIN_CONFIG, type TrainConfig } from './config';

/** Longest id a dataset brings (questions, passages): as long as the file had them, up to this. */
export const MAX_DATA_ID = 4096;
/** Most evaluations one run may carry. */
export const MAX_RUN_EVALS = 10_000;
/** Most questions one evaluation's per-question lists may hold. */
export const MAX_EVAL_QUESTIONS = 100_000;
/** Most values of k one recall map may hold (recall@1, @5, @10 ...). */
export const MAX_RECALL_KS = 100;

/** An id of a dataset's question or passage. */
export const DATA_ID = S.str({ max: MAX_DATA_ID, hint: `an id (a string of at most ${MAX_DATA_ID} characters)` });
/** A step index (0 is the first step) or a count of steps. */
export const STEP = S.int({ min: 0, max: MAX_STEPS });
/** Milliseconds (or seconds): not negative. */
export const DURATION = S.num({ min: 0 });
const MAYBE_NUMBER = S.nullable(S.num());

/** Recall of gold passages among the top k, by k (the JSON object's keys are the k). */
export const RECALL = S.record(S.intKey({ max: 9999, hint: 'a k (1, 5, 10...)' }), S.num(), { max: MAX_RECALL_KS });

/**
 * A config as a run saved it: every field it has checked by TRAIN_CONFIG, the ones added since it
 * was saved at their defaults (a config field comes with its default, not with a file version),
 * then the rules between fields (validateConfig), whose ConfigError becomes a SchemaError at the path.
 */
export const SAVED_CONFIG: S.Schema<TrainConfig> = {
  expects: TRAIN_CONFIG.expects,
  parse: (v, path = '') => {
    const fields = TRAIN_CONFIG.partial().parse(v, path);
    try {
      return resolveConfig(fields);
    } catch (err) {
      if (err instanceof ConfigError) throw new S.SchemaError(err.field ? S.at(path, err.field) : path, err.problem);
      throw err;
    }
  },
};

// ---- a step ------------------------------------------------------------------------------

export const CANDIDATE_RECORD = S.object(
  {
    docId: DATA_ID,
    /** Raw retriever score (MaxSim). */
    score: S.num(),
    /**
     * The retriever's score of this candidate right after this step's update (same candidates, same
     * document vectors and dropout masks as `score`, no gradient): set when the retriever trained this step and
     * config.recordScoresAfter is on, else null. score -> scoreAfter is how the update moved it.
     * Added in notebook file version 3, results file version 2, store version 2 (older ones migrate to null).
     */
    scoreAfter: MAYBE_NUMBER,
    /** Probability of being drawn first (softmax of the min-max scaled scores). */
    prob: S.num(),
    sampled: S.bool(),
    /** Mean answer NLL given this document alone (null where the loss did not need it). */
    utility: MAYBE_NUMBER,
    gold: S.bool(),
  },
  'a candidate',
);
export type CandidateRecord = S.Infer<typeof CANDIDATE_RECORD>;

export const PHASES = [
  'refresh',
  'retrieve',
  'retrieverForward',
  'utility',
  'retrieverLoss',
  'generatorForward',
  'backward',
  'update',
] as const;
export type Phase = (typeof PHASES)[number];

/** How long a step record's lists may be: a run's batch size and candidates, and where each bound comes from. */
export interface RecordLimits {
  questions: number;
  candidates: number;
  /** Probe questions per step record (config.probeQuestions). */
  probes: number;
  why: { questions: string; candidates: string; probes: string };
}
/** The bounds of any run: the most questions per step and candidates per question validateConfig allows. */
export const ANY_RUN: RecordLimits = {
  questions: TRAIN_CONFIG.shape.batchSize.max,
  candidates: TRAIN_CONFIG.shape.candidates.max,
  probes: TRAIN_CONFIG.shape.probeQuestions.max,
  why: {
    questions: 'the largest batchSize',
    candidates: 'the most candidates a run takes',
    probes: 'the largest probeQuestions',
  },
};
/** The bounds of one run's records: its own batch size and candidates. */
export const limitsOf = (c: TrainConfig): RecordLimits => ({
  questions: c.batchSize,
  candidates: c.candidates,
  probes: c.probeQuestions,
  why: {
    questions: "the run's config.batchSize",
    candidates: "the run's config.candidates",
    probes: "the run's config.probeQuestions",
  },
});

/**
 * Where a question's gold passage ranked in the step's search over the whole index (the search
 * that picked the K candidates, without dropout), so a view can say "gold at rank 37 of 480" when
 * it is not among the candidates. With several gold passages, the best-ranked one.
 */
export const GOLD_RANK_FIELDS = S.object(
  {
    docId: DATA_ID,
    /** 1-based: higher score first, equal scores in the index's order. */
    rank: S.int({ min: 1 }),
    /** Documents in the index. */
    of: S.int({ min: 1 }),
    /** Its MaxSim score in that search (the index's vectors, no dropout). */
    score: S.num(),
    /**
     * The generator's mean answer NLL given this passage alone (as a candidate's utility): its
     * candidate's utility when it was judged, else scored for the record (no gradient); null
     * when the step computed no utilities.
     */
    utility: MAYBE_NUMBER,
  },
  "a gold passage's rank",
);
export const GOLD_RANK = S.refine(GOLD_RANK_FIELDS, (g) => g.rank <= g.of, "a gold passage's rank (rank at most of)");
export type GoldRank = S.Infer<typeof GOLD_RANK>;

/** A question's record with its lists bounded by `lim` (QUESTION_RECORD: any run's bounds). */
export function questionRecordSchema(lim: RecordLimits) {
  return S.object(
    {
      id: DATA_ID,
      candidates: S.list(CANDIDATE_RECORD, { max: lim.candidates, why: lim.why.candidates }),
      /** Rank correlation of retriever score and -utility over the documents with a utility. */
      spearman: MAYBE_NUMBER,
      kendall: MAYBE_NUMBER,
      /**
       * The gold passage's rank in the step's search over the whole index; null when the question
       * has no gold passage in the index. Absent in records saved before it was recorded (and in
       * the PyTorch twin's): not recorded.
       */
      goldRank: S.optional(S.nullable(GOLD_RANK)),
      /**
       * The generator's mean answer NLL with no document (no gradient), the baseline a candidate's
       * utility is read against: nllNoDoc - utility is how much the document helps. Null when the
       * step computed no utilities; absent where not recorded (older records, the PyTorch twin).
       */
      nllNoDoc: S.optional(MAYBE_NUMBER),
    },
    'a question record',
  );
}
export const QUESTION_RECORD = questionRecordSchema(ANY_RUN);
export type QuestionRecord = S.Infer<typeof QUESTION_RECORD>;

/** A step's record with its lists bounded by `lim` (STEP_RECORD: any run's bounds). */
export function stepRecordSchema(lim: RecordLimits) {
  return S.object(
    {
      step: STEP,
      /** Which models trained this step. */
      trains: S.keyed(['retriever', 'generator'], S.bool()),
      /** Each model's loss (null: it did not train, or the loss has none). */
      loss: S.keyed(['retriever', 'generator'], MAYBE_NUMBER),
      questions: S.list(questionRecordSchema(lim), { max: lim.questions, why: lim.why.questions }),
      alignment: S.keyed(['spearman', 'kendall'], MAYBE_NUMBER),
      /** Recall of gold passages among the top-k candidates, averaged over questions with gold. */
      recall: RECALL,
      /** Milliseconds of each phase. */
      ms: S.keyed(PHASES, DURATION),
      gpuBytes: S.int({ min: 0 }),
      /**
       * The probe set (config.probeQuestions) scored before this step's update, by the models the
       * step used, without gradient or dropout: plain top-K retrieval, every candidate judged
       * (utility for all K), nothing sampled (src/training/probe.ts). Present only at the steps the
       * probe ran; absent in runs without probes and in records saved before probes existed.
       */
      probes: S.optional(S.list(questionRecordSchema(lim), { max: lim.probes, why: lim.why.probes })),
    },
    'a step record',
  );
}
export const STEP_RECORD = stepRecordSchema(ANY_RUN);
export type StepRecord = S.Infer<typeof STEP_RECORD>;

// ---- evaluations -------------------------------------------------------------------------

/**
 * Where a run's models started: the checkpoints as loaded, or the models as run `runId` left them
 * after `step` of its steps (an explicit "continue from"). Runs that started differently answer
 * different questions: Compare says so.
 */
export const RUN_START = S.tagged(
  'from',
  {
    loaded: S.object({ from: S.literal(['loaded']) }, 'a start from the loaded checkpoints'),
    run: S.object(
      { from: S.literal(['run']), runId: S.str({ max: 200, nonEmpty: true }), step: STEP },
      "a start from another run's models",
    ),
  },
  'where the run started (a JSON object)',
);
export type RunStart = S.Infer<typeof RUN_START>;

/** The three conditions an evaluation answers under: no document, the top-m retrieved, the gold ones. */
export const CONDITIONS = ['none', 'retrieved', 'oracle'] as const;

const PER_QUESTION_LIST = { max: MAX_EVAL_QUESTIONS };
const FLAG = S.refine(MAYBE_NUMBER, (x) => x === null || x === 0 || x === 1, '0, 1 or null');
const RATE = S.refine(S.num(), (x) => x >= 0 && x <= 1, 'a number in [0, 1]');

/**
 * One evaluation question by question, each list in `ids` order: whether the answer was right
 * (1, 0; null without options, or for the oracle without gold passages) with no document, the
 * top-m retrieved and the gold ones; recall@k of gold by k; the reciprocal rank of the first gold
 * passage in the top 10 (0: not there); the alignment's Spearman (null when undefined). That every
 * list has one entry per id, and no more ids than the evaluation's questions, is checked after
 * (checkPerQuestion).
 */
export const PER_QUESTION_RESULT = S.object(
  {
    ids: S.list(DATA_ID, PER_QUESTION_LIST),
    correct: S.keyed(CONDITIONS, S.list(FLAG, PER_QUESTION_LIST)),
    recall: S.record(S.str({ max: 4, pattern: /^[1-9]\d{0,3}$/, hint: 'a k (1, 5, 10...)' }), S.list(RATE, PER_QUESTION_LIST), {
      max: MAX_RECALL_KS,
    }),
    rr10: S.list(RATE, PER_QUESTION_LIST),
    spearman: S.list(MAYBE_NUMBER, PER_QUESTION_LIST),
  },
  "an evaluation's per-question results",
);
export type PerQuestionResult = S.Infer<typeof PER_QUESTION_RESULT>;

export const EVAL_RESULT = S.object(
  {
    questions: S.int({ min: 0, max: TRAIN_CONFIG.shape.evalLimit.max }),
    /** Accuracy over questions with options. */
    accuracy: S.keyed(CONDITIONS, S.num()),
    /** Questions with options, and how many had gold passages (the oracle's denominator). */
    scored: S.int({ min: 0, max: TRAIN_CONFIG.shape.evalLimit.max }),
    recall: RECALL,
    mrr10: S.num(),
    alignment: S.keyed(['spearman', 'kendall'], S.num()),
    ms: DURATION,
    /** Each question's outcome (the PyTorch twin writes it with --per-question; this engine does not). */
    perQuestion: S.optional(PER_QUESTION_RESULT),
  },
  'an evaluation result',
);
export type EvalResult = S.Infer<typeof EVAL_RESULT>;

export const EVAL_ENTRY = S.object({ step: STEP, split: S.literal(SPLITS), result: EVAL_RESULT }, 'an evaluation');
export type EvalEntry = S.Infer<typeof EVAL_ENTRY>;

/** A rule of a saved shape that no field's schema can say alone, broken at `path`. */
export interface ShapeProblem {
  path: string;
  problem: string;
}

/**
 * The per-question lists of an evaluation against its question count: no more ids than questions,
 * every list one entry per id. Null when they agree.
 */
export function checkPerQuestion(r: EvalResult, path: string): ShapeProblem | null {
  const pq = r.perQuestion;
  if (!pq) return null;
  const at = S.at(path, 'perQuestion');
  const n = pq.ids.length;
  if (n > r.questions)
    return {
      path: S.at(at, 'ids'),
      problem: `${n} items, more than the ${r.questions} allowed (the evaluation's question count)`,
    };
  const lists: [string, unknown[]][] = [
    ...CONDITIONS.map((c): [string, unknown[]] => [S.at(S.at(at, 'correct'), c), pq.correct[c]]),
    ...Object.entries(pq.recall).map(([k, xs]): [string, unknown[]] => [S.at(S.at(at, 'recall'), k), xs]),
    [S.at(at, 'rr10'), pq.rr10],
    [S.at(at, 'spearman'), pq.spearman],
  ];
  for (const [p, xs] of lists) if (xs.length !== n) return { path: p, problem: `${xs.length} items, expected ${n} (one per id)` };
  return null;
}

// ---- checkpoints -------------------------------------------------------------------------

/** A checkpoint's data besides its tensors: where the run was and what it had recorded. */
export const CHECKPOINT_META = S.object(
  {
    /** Steps taken when it was made. */
    step: STEP,
    config: SAVED_CONFIG,
    records: S.list(STEP_RECORD, { max: MAX_STEPS }),
    evals: S.list(EVAL_ENTRY, { max: MAX_RUN_EVALS }),
  },
  "a checkpoint's data",
);

type OptimizerState = Awaited<ReturnType<AdamW['saveState']>>;

/** A run's checkpoint as IndexedDB holds it: CHECKPOINT_META's fields and the tensors (typed arrays, not JSON). */
export type RunCheckpoint = S.Infer<typeof CHECKPOINT_META> & {
  /** Trainable tensors in optimizer order: retriever's, then generator's. */
  params: Float32Array[];
  optimizers: { retriever: OptimizerState | null; generator: OptimizerState | null };
};

// ---- migrations --------------------------------------------------------------------------

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `v` with own field `key` replaced by f(its value); `v` itself when f changed nothing or `v` has no such field. */
function withField(v: unknown, key: string, f: (x: unknown) => unknown): unknown {
  if (!isObject(v) || !Object.hasOwn(v, key)) return v;
  const x = f(v[key]);
  return x === v[key] ? v : { ...v, [key]: x };
}
/** A list with f applied to each item; the list itself when f changed none (or it is not a list). */
const eachOf =
  (f: (x: unknown) => unknown) =>
  (v: unknown): unknown => {
    if (!Array.isArray(v)) return v;
    const out = v.map(f);
    return out.some((x, i) => x !== v[i]) ? out : v;
  };

/**
 * Step records (as parsed or stored, not yet checked) whose candidates predate scoreAfter, with
 * `scoreAfter: null` where a candidate lacks it: what a step that did not re-score records. The
 * same value when none lacks it. The migration of every store of step records written before the
 * field existed (notebook files, results files, IndexedDB); anything not shaped like records is
 * left as it was, for the schema to refuse.
 */
export const addScoreAfter: (records: unknown) => unknown = eachOf((r) =>
  withField(
    r,
    'questions',
    eachOf((q) =>
      withField(
        q,
        'candidates',
        eachOf((c) => (isObject(c) && !Object.hasOwn(c, 'scoreAfter') ? { ...c, scoreAfter: null } : c)),
      ),
    ),
  ),
);
