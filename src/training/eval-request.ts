// An evaluation asked for on demand (the Evaluate cell, the worker's evaluate request): the
// request checked against its schema, the split's questions under the seed, and the context
// budget the Trainer keeps (topM documents of docMaxTokens and a question fit the generator).

import { MedRankError } from '../core/errors';
import * as S from '../core/schema';
import { SPLITS, type Question } from '../data/datasets';
import { DEFAULT_CONFIG } from './config';
import { contextBudgetProblem, docTokensThatFit } from './prompts';
import { splitOf } from './run';

export const EVAL_REQUEST = S.object(
  {
    split: S.literal(SPLITS),
    /** The first `limit` questions of the split (0: all). */
    limit: S.int({ min: 0, max: 10_000_000 }),
    /** splitOf's seed (default 0). */
    seed: S.optional(S.int({ min: 0, max: 2 ** 32 - 1 })),
    topM: S.optional(S.int({ min: 1, max: 20 })),
    /** Generator tokens per document (default: DEFAULT_CONFIG.docMaxTokens, lowered to fit). */
    docMaxTokens: S.optional(S.int({ min: 1, max: 4096 })),
    alignmentCandidates: S.optional(S.int({ min: 2, max: 100 })),
  },
  'an evaluation request',
);
export type EvalRequest = S.Infer<typeof EVAL_REQUEST>;

export interface EvalPlan {
  questions: Question[];
  topM: number;
  docMaxTokens: number;
  alignmentCandidates: number;
}

/** What an evaluation request evaluates, or a MedRankError saying which field to change. */
export function planEvaluation(
  request: unknown,
  dataset: { name: string; questions: Question[] },
  maxPositions: number,
): EvalPlan {
  let p: EvalRequest;
  try {
    p = EVAL_REQUEST.parse(request);
  } catch (err) {
    if (err instanceof S.SchemaError) throw new MedRankError(`evaluate: ${err.message}`);
    throw err;
  }
  const seed = p.seed ?? 0;
  const topM = p.topM ?? DEFAULT_CONFIG.topM;
  const docMaxTokens = p.docMaxTokens ?? docTokensThatFit(topM, maxPositions, DEFAULT_CONFIG.docMaxTokens);
  const tooLong = contextBudgetProblem(topM, docMaxTokens, maxPositions);
  if (tooLong || docMaxTokens < 1) throw new MedRankError(`evaluate: ${tooLong ?? `topM ${topM} leaves no room for documents`}`);
  let questions = dataset.questions.filter((q) => splitOf(q, seed) === p.split);
  if (p.limit > 0) questions = questions.slice(0, p.limit);
  if (questions.length === 0)
    throw new MedRankError(`${dataset.name} has no ${p.split} questions (split with seed ${seed}): evaluate another split`);
  return {
    questions,
    topM,
    docMaxTokens,
    alignmentCandidates: p.alignmentCandidates ?? DEFAULT_CONFIG.evalAlignmentCandidates,
  };
}
